//! The pieces of the `conformance-client` binary that the official MCP conformance harness
//! runs (ARCHITECTURE.md §10): what it reads from the harness, how it configures the
//! library, the "browser" that GETs the authorization URL, and the MCP conversation.
//!
//! The client knows nothing about scenarios (it logs `MCP_CONFORMANCE_SCENARIO` and that is
//! all): every scenario must pass because the library follows the specification. The only
//! inputs are the ones a real host would have as configuration: pre-registered credentials and
//! their issuer (from `MCP_CONFORMANCE_CONTEXT`), and the client's Client ID Metadata Document
//! URL ([`CIMD_CLIENT_ID`]).
//!
//! Both adapters run the same conversation ([`converse`]); [`adapters`] builds each one's
//! `Authorizer` and hands [`converse`] a `send` that goes through `Authorizer::send`. Before the
//! first token `send` goes out without `Authorization`, so discovery starts from the server's
//! 401 challenge (its `resource_metadata` and `scope`).

pub mod adapters;

use mcp_oauth_core::config::PreRegisteredClient;
use mcp_oauth_core::secret::ClientSecret;
use mcp_oauth_core::{Config, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use crate::mcp::{McpSession, McpWire};
pub use mcp_oauth_testbed::headless::{authorization_get, redirect_location};

/// The Client ID Metadata Document URL the harness expects (`auth/basic-cimd`,
/// `cimd-client-id-used`, which compares the exact string). Ordinary configuration: the
/// core uses it only when the authorization server advertises CIMD support (MCP 2025-11-25
/// Authorization, "Client Registration Approaches").
pub const CIMD_CLIENT_ID: &str = "https://conformance-test.local/client-metadata.json";

/// The protocol revision spoken when the harness names none (0.1.x harnesses never set
/// `MCP_CONFORMANCE_PROTOCOL_VERSION`).
pub const DEFAULT_PROTOCOL_VERSION: &str = "2025-11-25";

/// How long the library waits for the (automated) browser step.
pub const AUTHORIZATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// The tool every auth scenario's MCP server offers.
pub const TEST_TOOL: &str = "test-tool";

/// What the harness put in `MCP_CONFORMANCE_CONTEXT` (JSON, for the
/// scenarios that need it; ARCHITECTURE.md §10): the
/// credentials a host would have as configuration. Each becomes the matching library setting;
/// the client never looks at which scenario runs.
#[derive(Clone, Default)]
pub struct Context {
    /// A pre-registered `client_id`.
    pub client_id: Option<String>,
    /// Its `client_secret`.
    pub client_secret: Option<ClientSecret>,
    /// The issuer the credentials belong to (new in harness 0.2.0-alpha.12).
    pub issuer: Option<String>,
    /// A PKCS#8 PEM key for `private_key_jwt` (`private_key_pem`).
    pub private_key_pem: Option<mcp_oauth_core::secret::PrivateKeyPem>,
    /// A workload identity JWT for the jwt-bearer grant (`valid_jwt`).
    pub workload_jwt: Option<mcp_oauth_core::secret::Assertion>,
    /// The enterprise IdP's ID token (`idp_id_token`).
    pub idp_id_token: Option<mcp_oauth_core::secret::Assertion>,
    /// The enterprise IdP's token endpoint (`idp_token_endpoint`).
    pub idp_token_endpoint: Option<String>,
    /// The client id at the enterprise IdP (`idp_client_id`).
    pub idp_client_id: Option<String>,
    /// The client secret at the enterprise IdP (`idp_client_secret`).
    pub idp_client_secret: Option<ClientSecret>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("issuer", &self.issuer)
            .field("private_key_pem", &self.private_key_pem)
            .field("workload_jwt", &self.workload_jwt)
            .field("idp_id_token", &self.idp_id_token)
            .field("idp_token_endpoint", &self.idp_token_endpoint)
            .field("idp_client_id", &self.idp_client_id)
            .finish()
    }
}

impl Context {
    /// Parses the context JSON; `None` or an empty string is an empty context. Only string
    /// values count: anything else under a known key is treated as absent.
    pub fn parse(raw: Option<&str>) -> Result<Self, String> {
        let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
            return Ok(Self::default());
        };
        let doc: Value = serde_json::from_str(raw)
            .map_err(|e| format!("MCP_CONFORMANCE_CONTEXT is not JSON: {e}"))?;
        if !doc.is_object() {
            return Err("MCP_CONFORMANCE_CONTEXT is not a JSON object".into());
        }
        let text = |key: &str| {
            doc.get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        Ok(Self {
            client_id: text("client_id"),
            client_secret: text("client_secret").map(ClientSecret::new),
            issuer: text("issuer"),
            private_key_pem: text("private_key_pem")
                .map(mcp_oauth_core::secret::PrivateKeyPem::new),
            workload_jwt: text("valid_jwt").map(mcp_oauth_core::secret::Assertion::new),
            idp_id_token: text("idp_id_token").map(mcp_oauth_core::secret::Assertion::new),
            idp_token_endpoint: text("idp_token_endpoint"),
            idp_client_id: text("idp_client_id"),
            idp_client_secret: text("idp_client_secret").map(ClientSecret::new),
        })
    }
}

/// The library configuration a host would write for this server: the server URL, the CIMD URL,
/// pre-registered credentials bound to their issuer when the context has a `client_id`, and a
/// browser-step timeout of [`AUTHORIZATION_TIMEOUT`]. Everything else is the library default
/// (DCR allowed, scopes discovered, production URL policy: plain http only on loopback).
pub fn config_for(server_url: &str, ctx: &Context) -> Config {
    let mut config = Config::new(server_url);
    config.client.client_name = "mcp-oauth conformance client".into();
    config.client.metadata_document_url = Some(CIMD_CLIENT_ID.into());
    // The browser step is automated: when it yields no redirect, the library's own timeout
    // (a typed error) should fire before the binary's 25 s deadline.
    config.authorization_timeout = AUTHORIZATION_TIMEOUT;
    config.client.pre_registered = ctx.client_id.as_ref().map(|id| PreRegisteredClient {
        client_id: id.clone(),
        client_secret: ctx.client_secret.clone(),
        auth_method: None,
        issuer: ctx.issuer.clone(),
    });
    if let Some(pem) = &ctx.private_key_pem {
        config.client.private_key_jwt = Some(mcp_oauth_core::config::PrivateKeyJwt {
            key_pem: pem.clone(),
            audience: None,
        });
    }
    if let Some(jwt) = &ctx.workload_jwt {
        config.grant = mcp_oauth_core::config::Grant::JwtBearer {
            assertion: jwt.clone(),
        };
    }
    if let (Some(id_token), Some(endpoint)) = (&ctx.idp_id_token, &ctx.idp_token_endpoint) {
        config.grant = mcp_oauth_core::config::Grant::EnterpriseManaged(
            mcp_oauth_core::config::EnterpriseIdp {
                token_endpoint: endpoint.clone(),
                client_id: ctx.idp_client_id.clone(),
                client_secret: ctx.idp_client_secret.clone(),
                id_token: id_token.clone(),
            },
        );
    }
    config
}

/// What the MCP conversation did, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    /// The wire spoken.
    pub wire: McpWire,
    /// The MCP methods that succeeded, in order.
    pub steps: Vec<String>,
    /// Names of the tools `tools/list` returned.
    pub tools: Vec<String>,
}

/// The MCP traffic an authenticated client sends (the conformance scenarios expect it): on the
/// stateful wire `initialize` and `notifications/initialized` first; then `tools/list` and
/// `tools/call` of [`TEST_TOOL`] on both wires (step-up and migration need two authenticated
/// requests). Every request goes through `send`, which is the adapter's `Authorizer::send` (token,
/// 401/403 handling, retries); the first failing step ends the conversation with a one-line reason.
pub fn converse(
    server_url: &str,
    protocol_version: &str,
    send: &mut dyn FnMut(HttpRequest) -> Result<HttpResponse, String>,
) -> Result<Conversation, String> {
    let wire = McpWire::for_protocol_version(protocol_version);
    let mut session = McpSession::new(wire, protocol_version)
        .with_client_info("mcp-oauth-conformance-client", env!("CARGO_PKG_VERSION"));
    let mut steps = Vec::new();
    let mut call = |session: &mut McpSession, name: &str, req: HttpRequest| {
        let resp = send(req).map_err(|e| format!("{name}: {e}"))?;
        let result = session
            .handle_response(&resp)
            .map_err(|e| format!("{name}: {e}"))?;
        steps.push(name.to_owned());
        Ok::<Value, String>(result)
    };
    if session.needs_initialize() {
        let req = session.initialize_request(server_url);
        call(&mut session, "initialize", req)?;
        let req = session.initialized_notification(server_url);
        call(&mut session, "notifications/initialized", req)?;
    }
    let req = session.request(server_url, "tools/list", json!({}));
    let listed = call(&mut session, "tools/list", req)?;
    let tools = listed
        .get("tools")
        .and_then(Value::as_array)
        .map(|ts| {
            ts.iter()
                .filter_map(|t| t.get("name").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let req = session.request(
        server_url,
        "tools/call",
        json!({ "name": TEST_TOOL, "arguments": {} }),
    );
    call(&mut session, "tools/call", req)?;
    Ok(Conversation { wire, steps, tools })
}

/// Makes `text` a single line (the harness shows the client's stderr; one line per reason).
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;
