//! The MCP resource server: RFC 9728 Protected Resource Metadata, the bearer gate with its
//! `WWW-Authenticate` challenges (RFC 6750 §3, RFC 9728 §5.1), scope step-up (403
//! `insufficient_scope`, MCP 2025-11-25 "Scope Challenge Handling") and the SEP-2352 migration
//! flip. Past the gate, `mcp_wire` answers the JSON-RPC.
//!
//! Challenge format (the TypeScript SDK's `requireBearerAuth`, which the conformance
//! suite's MCP server uses):
//! `Bearer error="invalid_token", error_description="...", scope="..."`, then
//! `resource_metadata="..."` when configured; 403 is
//! `Bearer error="insufficient_scope", scope="<missing scopes>", resource_metadata="..."`.

use mcp_oauth_core::{HttpRequest, HttpResponse, Method};
use serde_json::{json, Value};

use super::config::{ChallengeScheme, PrmLocation, TestbedConfig};
use super::mcp_wire::{self, rpc_error, select_wire, McpState, ADMIN_TOOL};
use super::tokens::Ctx;
use super::util::{auth_token, method_not_allowed, not_found, parse_query};

/// Path of the path-based PRM for `/mcp` (RFC 9728 §3).
pub const PRM_PATH: &str = "/.well-known/oauth-protected-resource/mcp";
/// Path of the root PRM.
pub const PRM_ROOT: &str = "/.well-known/oauth-protected-resource";

/// The MCP server.
#[derive(Debug)]
pub(crate) struct ResourceServer {
    /// `scheme://host:port`.
    pub origin: String,
    cfg: TestbedConfig,
    /// Current PRM `authorization_servers` (flipped by migration).
    pub authorization_servers: Vec<String>,
    /// Real issuer per AS index, to know who issued a token.
    issuers: Vec<String>,
    prm_path_fetched: bool,
    /// The migration flip happened.
    pub migrated: bool,
    forbidden_answers: usize,
    mcp: McpState,
}

impl ResourceServer {
    pub fn new(cfg: &TestbedConfig, origin: &str, issuers: Vec<String>) -> Self {
        let authorization_servers = cfg
            .prm_authorization_servers
            .clone()
            .unwrap_or_else(|| issuers.iter().take(1).cloned().collect());
        Self {
            origin: origin.to_string(),
            cfg: cfg.clone(),
            authorization_servers,
            issuers,
            prm_path_fetched: false,
            migrated: false,
            forbidden_answers: 0,
            mcp: McpState::default(),
        }
    }

    /// The identifier this server really has (RFC 9728 §1.2): the `/mcp` URL, or the bare origin
    /// when PRM is at the root (`metadata-var2`); `None` without PRM.
    pub fn natural_resource(&self) -> Option<String> {
        match &self.cfg.prm_location {
            PrmLocation::PathBased | PrmLocation::Custom(_) => Some(format!("{}/mcp", self.origin)),
            PrmLocation::Root => Some(self.origin.clone()),
            PrmLocation::None => None,
        }
    }

    /// The PRM `resource` served (raw string, override included).
    pub fn prm_resource(&self) -> Option<String> {
        self.natural_resource()
            .map(|natural| self.cfg.prm_resource.clone().unwrap_or(natural))
    }

    /// The PRM path served, if any.
    fn prm_path(&self) -> Option<&str> {
        match &self.cfg.prm_location {
            PrmLocation::PathBased => Some(PRM_PATH),
            PrmLocation::Root => Some(PRM_ROOT),
            PrmLocation::Custom(p) => Some(p),
            PrmLocation::None => None,
        }
    }

    /// Absolute PRM URL, if PRM exists.
    pub fn prm_url(&self) -> Option<String> {
        self.prm_path().map(|p| format!("{}{p}", self.origin))
    }

    /// Serves `/mcp` and PRM paths; `None` for anything else.
    pub fn handle(
        &mut self,
        ctx: &mut Ctx<'_>,
        req: &HttpRequest,
        path: &str,
        query: &str,
    ) -> Option<HttpResponse> {
        if path == "/mcp" {
            return Some(self.mcp(ctx, req, query));
        }
        let custom = matches!(&self.cfg.prm_location, PrmLocation::Custom(p) if p == path);
        (path.starts_with(PRM_ROOT) || custom).then(|| self.prm(ctx, req, path))
    }

    fn prm(&mut self, ctx: &mut Ctx<'_>, req: &HttpRequest, path: &str) -> HttpResponse {
        if req.method != Method::Get {
            return method_not_allowed(Method::Get);
        }
        if self.prm_path() == Some(path) {
            if path == PRM_PATH {
                self.prm_path_fetched = true;
            }
            let mut doc = json!({
                "resource": self.prm_resource(),
                "authorization_servers": self.authorization_servers,
            });
            if let (Some(obj), Some(scopes)) = (doc.as_object_mut(), &self.cfg.prm_scopes_supported)
            {
                obj.insert("scopes_supported".into(), json!(scopes));
            }
            return HttpResponse::json(200, &doc);
        }
        let named = self.cfg.prm_in_challenge;
        match &self.cfg.prm_location {
            PrmLocation::PathBased if path == PRM_ROOT && named => ctx.violation(
                "prm-priority-order",
                "root PRM fetched although the challenge named the path-based PRM (P3)",
            ),
            PrmLocation::PathBased if path == PRM_ROOT && !self.prm_path_fetched => ctx.violation(
                "prm-priority-order",
                "root PRM fetched before the path-based PRM (P4)",
            ),
            PrmLocation::Custom(p) if named => ctx.violation(
                "prm-ignored-challenge",
                format!("probed {path} although the challenge named {p} (P3)"),
            ),
            _ => {}
        }
        not_found()
    }

    fn mcp(&mut self, ctx: &mut Ctx<'_>, req: &HttpRequest, query: &str) -> HttpResponse {
        if parse_query(query).iter().any(|(k, _)| k == "access_token") {
            ctx.violation("token-in-query", "access_token in the MCP URL query (U3)");
        }
        if req.method == Method::Get {
            return method_not_allowed(Method::Post);
        }
        let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
            return HttpResponse::json(400, &rpc_error(Value::Null, -32700, "Parse error"));
        };
        let method = body.get("method").and_then(Value::as_str).unwrap_or("");
        let exempt = self.cfg.initialize_unauthenticated
            && (method == "initialize" || method.starts_with("notifications/"));
        if !exempt {
            let tool = body
                .get("params")
                .and_then(|p| p.get("name"))
                .and_then(Value::as_str);
            if let Err(resp) = self.authenticate(ctx, req, method, tool) {
                return resp;
            }
        }
        let wire = select_wire(req, self.cfg.wire);
        mcp_wire::serve(&mut self.mcp, self.cfg.sessions, wire, req, &body)
    }

    /// The bearer gate: token known, live, from a trusted AS, for this resource, with the scopes
    /// `method` needs.
    fn authenticate(
        &mut self,
        ctx: &mut Ctx<'_>,
        req: &HttpRequest,
        method: &str,
        tool: Option<&str>,
    ) -> Result<(), HttpResponse> {
        let schemes: &[&str] = match self.cfg.challenge_scheme {
            ChallengeScheme::Bearer => &["Bearer"],
            ChallengeScheme::DPoP => &["Bearer", "DPoP"],
        };
        let header = req.header("authorization");
        let Some(token) = header.and_then(|h| auth_token(h, schemes)) else {
            // A Bearer-only server refuses the `DPoP` scheme (RFC 9449 §7.1): its challenge
            // offers `Bearer` alone.
            let problem = header.map(|_| "Unsupported authorization scheme");
            return Err(self.unauthorized(problem));
        };
        let Some(grant) = ctx.store.access.get(token).cloned() else {
            return Err(self.unauthorized(Some("Invalid token")));
        };
        if grant.revoked {
            return Err(self.unauthorized(Some("Token has been revoked")));
        }
        let as_bearer = header.is_some_and(|h| auth_token(h, &["Bearer"]).is_some());
        if grant.dpop_bound && as_bearer && self.cfg.challenge_scheme == ChallengeScheme::DPoP {
            // RFC 9449 §7.2: a server that knows DPoP refuses a bound token sent as Bearer.
            return Err(self.unauthorized(Some("DPoP-bound token presented as Bearer")));
        }
        if ctx.now >= grant.expires_at {
            return Err(self.unauthorized(Some("Token expired")));
        }
        let trusted = self.natural_resource().is_none()
            || self
                .issuers
                .get(grant.as_index)
                .is_some_and(|i| self.authorization_servers.contains(i));
        if !trusted {
            return Err(self.unauthorized(Some("authorization server has changed")));
        }
        if let (Some(aud), Some(me)) = (&grant.resource, self.natural_resource()) {
            if *aud != me {
                return Err(self.unauthorized(Some("Token audience mismatch")));
            }
        }
        if let Some(scope) = self.cfg.always_forbidden_scope.clone() {
            self.forbidden_answers += 1;
            if self.forbidden_answers > 3 {
                let body = json!({ "error": "test_complete", "error_description": "client exceeded maximum retry attempts" });
                return Err(HttpResponse::json(410, &body));
            }
            return Err(self.forbidden(&scope));
        }
        let mut required = self.cfg.list_scopes.clone();
        if method == "tools/call" {
            let extra = if tool == Some(ADMIN_TOOL) {
                &self.cfg.admin_scopes
            } else {
                &self.cfg.call_scopes
            };
            required.extend(extra.iter().cloned());
        }
        let missing: Vec<String> = required
            .into_iter()
            .filter(|s| !grant.scopes.contains(s))
            .collect();
        if !missing.is_empty() {
            return Err(self.forbidden(&missing.join(" ")));
        }
        if self.cfg.migrate_after_first_call && !self.migrated && method != "initialize" {
            if let Some(as2) = self.issuers.get(1) {
                self.authorization_servers = vec![as2.clone()];
                self.migrated = true;
            }
        }
        Ok(())
    }

    fn scheme(&self) -> &'static str {
        match self.cfg.challenge_scheme {
            ChallengeScheme::Bearer => "Bearer",
            ChallengeScheme::DPoP => "DPoP",
        }
    }

    fn challenge_value(&self, params: Vec<String>) -> String {
        let mut params = params;
        if self.cfg.prm_in_challenge {
            if let Some(url) = self.prm_url() {
                params.push(format!("resource_metadata=\"{url}\""));
            }
        }
        if params.is_empty() {
            self.scheme().to_string()
        } else {
            format!("{} {}", self.scheme(), params.join(", "))
        }
    }

    /// The 401 answer. For a request without a token (`problem` is `None`) Bearer still says
    /// `error="invalid_token", error_description="Missing Authorization header"` as the TS SDK
    /// does, while DPoP says only `resource_metadata` as the conformance DPoP scenarios do.
    fn unauthorized(&self, problem: Option<&str>) -> HttpResponse {
        let description = problem.unwrap_or("Missing Authorization header");
        let mut params = Vec::new();
        if problem.is_some() || self.cfg.challenge_scheme == ChallengeScheme::Bearer {
            params.push("error=\"invalid_token\"".to_string());
            params.push(format!("error_description=\"{description}\""));
        }
        if let Some(scope) = &self.cfg.challenge_scope {
            params.push(format!("scope=\"{scope}\""));
        }
        let body = json!({ "error": "invalid_token", "error_description": description });
        HttpResponse::json(401, &body)
            .with_header("WWW-Authenticate", &self.challenge_value(params))
    }

    /// 403 `insufficient_scope` naming the scopes the request lacks (RFC 6750 §3.1; MCP
    /// 2025-11-25 Authorization, "Scope Challenge Handling").
    fn forbidden(&self, scope: &str) -> HttpResponse {
        let params = vec![
            "error=\"insufficient_scope\"".to_string(),
            format!("scope=\"{scope}\""),
        ];
        let body =
            json!({ "error": "insufficient_scope", "error_description": "Insufficient scope" });
        HttpResponse::json(403, &body)
            .with_header("WWW-Authenticate", &self.challenge_value(params))
    }

    /// Switches the challenge scheme (test helper: a server that changed what it takes).
    pub fn set_challenge_scheme(&mut self, scheme: ChallengeScheme) {
        self.cfg.challenge_scheme = scheme;
    }

    /// Points PRM `authorization_servers` at one issuer (test helper for migration).
    pub fn set_authorization_server(&mut self, issuer: &str) {
        self.authorization_servers = vec![issuer.to_string()];
    }
}
