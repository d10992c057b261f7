//! The testbed authorization server: metadata (RFC 8414 / OIDC Discovery), dynamic registration
//! routing. Registration (RFC 7591) lives in `registration.rs`, the authorization endpoint in
//! `authorize.rs`, client authentication in `client_auth.rs`, the token and revocation endpoints
//! in `token_endpoint.rs`.
//!
//! It answers like the conformance mock AS (`createAuthServer.ts` in the harness) but
//! verifies what that AS does not, recording each slip as a violation.

use std::collections::BTreeMap;

use mcp_oauth_core::{ClientAuthMethod, HttpRequest, HttpResponse, Method};
use serde_json::{json, Value};

use super::config::{IssMode, MetadataForm, TestbedConfig};
use super::tokens::Ctx;
use super::util::{method_not_allowed, not_found};

/// A client the AS knows.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    /// `client_id`.
    pub client_id: String,
    /// Its secret, if one was issued or pre-registered.
    pub secret: Option<String>,
    /// The token endpoint auth method it must use.
    pub auth_method: ClientAuthMethod,
    /// Registered redirect URIs; `None` accepts any (CIMD and pre-registered clients).
    pub redirect_uris: Option<Vec<String>>,
    /// Whether refresh tokens may be issued to it (DCR `grant_types` ∋ `refresh_token`).
    pub refresh_allowed: bool,
}

/// One authorization server (AS₁, or AS₂ for migration).
#[derive(Debug)]
pub(crate) struct AuthServer {
    /// 0 = AS₁, 1 = AS₂.
    pub index: usize,
    /// `scheme://host:port`, no trailing slash.
    pub origin: String,
    /// Behaviour (AS₂ gets a plain copy, see [`AuthServer::second`]).
    pub cfg: TestbedConfig,
    /// The PRM `resource` tokens are for; `None` without PRM (legacy).
    pub resource: Option<String>,
    /// PRM `resource` does not identify the MCP server (`auth/resource-mismatch`).
    pub resource_poisoned: bool,
    /// `client_id` and secret stems for DCR.
    pub id_stems: (&'static str, &'static str),
    /// Dynamically registered clients.
    pub clients: BTreeMap<String, Client>,
    /// Dynamically registered clients this AS has since forgotten (a database reset): a client
    /// presenting one is not at fault, so it is refused without a violation.
    pub forgotten: std::collections::BTreeSet<String>,
    /// Registrations so far (numbers the DCR client ids).
    pub registrations: u64,
    /// Authorization requests seen.
    pub authorize_count: usize,
}

impl AuthServer {
    /// AS₁ with the testbed's configuration.
    pub fn first(
        cfg: &TestbedConfig,
        origin: &str,
        resource: Option<String>,
        poisoned: bool,
    ) -> Self {
        let stems = if cfg.as2_origin.is_some() {
            ("as1-client-id-LEAKED-IF-SEEN-AT-AS2", "as1-client-secret")
        } else {
            ("test-client-id", "test-client-secret")
        };
        Self::build(0, cfg.clone(), origin, resource, poisoned, stems)
    }

    /// AS₂: the default conformance AS (root issuer, RFC 8414 metadata, DCR, `none`), sharing only
    /// token and consent behaviour with AS₁.
    pub fn second(cfg: &TestbedConfig, origin: &str, resource: Option<String>) -> Self {
        let mut c = cfg.clone();
        c.issuer_path = String::new();
        c.as_metadata = vec![MetadataForm::Rfc8414];
        c.issuer_override = None;
        c.endpoint_prefix = None;
        c.registration_endpoint = true;
        c.pre_registered = None;
        c.expected_cimd_client_id = None;
        c.expected_first_scope = None;
        c.expected_reauth_scope = None;
        c.iss_in_redirect = IssMode::Correct;
        c.max_authorization_requests = None;
        Self::build(
            1,
            c,
            origin,
            resource,
            false,
            ("as2-client-id", "as2-client-secret"),
        )
    }

    fn build(
        index: usize,
        cfg: TestbedConfig,
        origin: &str,
        resource: Option<String>,
        resource_poisoned: bool,
        id_stems: (&'static str, &'static str),
    ) -> Self {
        Self {
            index,
            origin: origin.to_string(),
            cfg,
            resource,
            resource_poisoned,
            id_stems,
            clients: BTreeMap::new(),
            forgotten: std::collections::BTreeSet::new(),
            registrations: 0,
            authorize_count: 0,
        }
    }

    /// The real issuer identifier: origin + issuer path (what PRM names).
    pub fn issuer(&self) -> String {
        format!("{}{}", self.origin, self.cfg.issuer_path)
    }

    /// The `issuer` the metadata claims (differs under `issuer_override`).
    pub fn advertised_issuer(&self) -> String {
        self.cfg
            .issuer_override
            .clone()
            .unwrap_or_else(|| self.issuer())
    }

    fn prefix(&self) -> &str {
        self.cfg
            .endpoint_prefix
            .as_deref()
            .unwrap_or(&self.cfg.issuer_path)
    }

    /// Absolute URL of an endpoint (`authorize`, `token`, `register`, `revoke`).
    pub fn endpoint(&self, name: &str) -> String {
        format!("{}{}/{name}", self.origin, self.prefix())
    }

    /// Whether the redirect's `iss` makes redeeming the code a mistake (RFC 9207 §2.4 as MCP
    /// 2026-07-28 "Authorization Response Validation" applies it).
    pub fn iss_is_bad(&self) -> bool {
        match &self.cfg.iss_in_redirect {
            IssMode::Correct => false,
            IssMode::Omit => self.cfg.iss_parameter_supported == Some(true),
            IssMode::Wrong(_) | IssMode::Normalized => true,
        }
    }

    /// The client behind `client_id`: registered, pre-registered, or a CIMD URL when supported.
    pub fn lookup_client(&self, client_id: &str) -> Option<Client> {
        if let Some(c) = self.clients.get(client_id) {
            return Some(c.clone());
        }
        if let Some(pre) = self
            .cfg
            .pre_registered
            .as_ref()
            .filter(|p| p.client_id == client_id)
        {
            return Some(Client {
                client_id: pre.client_id.clone(),
                secret: Some(pre.client_secret.clone()),
                auth_method: self
                    .cfg
                    .token_endpoint_auth_methods
                    .first()
                    .copied()
                    .unwrap_or(ClientAuthMethod::ClientSecretBasic),
                redirect_uris: None,
                refresh_allowed: true,
            });
        }
        let cimd = self.cfg.client_id_metadata_document_supported == Some(true)
            && client_id
                .strip_prefix("https://")
                .is_some_and(|rest| rest.find('/').is_some_and(|i| i + 1 < rest.len()));
        cimd.then(|| Client {
            client_id: client_id.to_string(),
            secret: None,
            auth_method: ClientAuthMethod::None,
            redirect_uris: None,
            refresh_allowed: true,
        })
    }

    /// Records the violation of a client that found this AS's endpoints through metadata whose
    /// `issuer` did not match (RFC 8414 §3.3, `metadata-issuer-mismatch`).
    pub fn note_endpoint_use(&self, ctx: &mut Ctx<'_>, endpoint: &str) {
        if let Some(bad) = &self.cfg.issuer_override {
            ctx.violation(
                "issuer-mismatch-ignored",
                format!("{endpoint} used although metadata claimed issuer {bad} (RFC 8414 §3.3)"),
            );
        }
    }

    /// Serves `path` when it belongs to this AS; `None` lets the caller answer 404.
    pub fn handle(
        &mut self,
        ctx: &mut Ctx<'_>,
        req: &HttpRequest,
        path: &str,
        query: &str,
        other: Option<&AuthServer>,
    ) -> Option<HttpResponse> {
        let issuer_path = self.cfg.issuer_path.clone();
        if let Some(form) = self
            .cfg
            .as_metadata
            .iter()
            .copied()
            .find(|f| f.path(&issuer_path) == path)
        {
            return Some(match req.method {
                Method::Get => HttpResponse::json(200, &self.metadata_document(form)),
                Method::Post => method_not_allowed(Method::Get),
            });
        }
        if path.contains("/.well-known/oauth-authorization-server")
            || path.contains("/.well-known/openid-configuration")
        {
            let root = path == "/.well-known/oauth-authorization-server"
                || path == "/.well-known/openid-configuration";
            if root && !issuer_path.is_empty() {
                ctx.violation(
                    "as-metadata-wrong-path",
                    format!("GET {path} for issuer {} with a path (A3)", self.issuer()),
                );
            }
            return Some(not_found());
        }
        let endpoint = path.strip_prefix(self.prefix())?;
        let allowed = match endpoint {
            "/authorize" => Method::Get,
            "/token" => Method::Post,
            "/register" if self.cfg.registration_endpoint => Method::Post,
            "/revoke" if self.cfg.revocation_endpoint => Method::Post,
            _ => return None,
        };
        if req.method != allowed {
            return Some(method_not_allowed(allowed));
        }
        Some(match endpoint {
            "/authorize" => self.authorize(ctx, query, other),
            "/token" => self.token(ctx, req, other),
            "/register" => self.register(ctx, req),
            _ => self.revoke(ctx, req, other),
        })
    }

    /// The metadata document (RFC 8414 §2; OIDC Discovery §3 fields added for OIDC forms).
    pub fn metadata_document(&self, form: MetadataForm) -> Value {
        let c = &self.cfg;
        let mut m = json!({
            "issuer": self.advertised_issuer(),
            "authorization_endpoint": self.endpoint("authorize"),
            "token_endpoint": self.endpoint("token"),
            "response_types_supported": ["code"],
            "grant_types_supported": if c.client_credentials_only {
                json!(["client_credentials"])
            } else {
                json!(["authorization_code", "refresh_token"])
            },
            "token_endpoint_auth_methods_supported":
                c.token_endpoint_auth_methods.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
        });
        let Some(obj) = m.as_object_mut() else {
            return m;
        };
        if c.registration_endpoint {
            obj.insert(
                "registration_endpoint".into(),
                json!(self.endpoint("register")),
            );
        }
        if c.revocation_endpoint {
            obj.insert("revocation_endpoint".into(), json!(self.endpoint("revoke")));
        }
        if let Some(methods) = &c.code_challenge_methods_supported {
            obj.insert("code_challenge_methods_supported".into(), json!(methods));
        }
        if let Some(scopes) = &c.as_scopes_supported {
            obj.insert("scopes_supported".into(), json!(scopes));
        }
        if let Some(cimd) = c.client_id_metadata_document_supported {
            obj.insert("client_id_metadata_document_supported".into(), json!(cimd));
        }
        if let Some(iss) = c.iss_parameter_supported {
            obj.insert(
                "authorization_response_iss_parameter_supported".into(),
                json!(iss),
            );
        }
        if let Some(algs) = &c.as_dpop_algs {
            obj.insert("dpop_signing_alg_values_supported".into(), json!(algs));
        }
        if form.is_oidc() {
            obj.insert(
                "jwks_uri".into(),
                json!(format!("{}/.well-known/jwks.json", self.origin)),
            );
            obj.insert("subject_types_supported".into(), json!(["public"]));
            obj.insert(
                "id_token_signing_alg_values_supported".into(),
                json!(["RS256"]),
            );
        }
        m
    }
}
