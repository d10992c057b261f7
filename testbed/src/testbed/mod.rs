//! Testbed servers: an OAuth authorization server and an MCP resource server as pure functions
//! `HttpRequest -> HttpResponse` on a virtual clock (ARCHITECTURE.md §10, deterministic
//! simulation).
//!
//! One [`Testbed`] holds the MCP server, AS₁ and optionally AS₂ (SEP-2352 migration) and routes
//! each request by URL origin and path, so the AS may share the MCP origin (2025-03-26 legacy).
//! No clock is read and nothing is random: time is the `now_wall` argument, and codes, tokens and
//! client ids come from a counter (`test-auth-code-N`, `test-token-N`, `test-client-id`).
//!
//! It plays the conformance mock servers of every client-auth scenario
//! ([`TestbedConfig::conformance`]) and also checks what they let slide: PKCE S256, `state`,
//! `redirect_uri`, single-use codes, client authentication, `resource`. Each slip is
//! recorded in [`Testbed::violations`] as `kind: message (label)`, the label naming the rule
//! broken (listed in ARCHITECTURE.md §10); a correct client leaves it empty.

mod auth_server;
mod authorize;
mod client_auth;
mod config;
mod hostile;
mod log;
mod mcp_wire;
mod registration;
mod resource_server;
mod scenarios;
mod token_endpoint;
mod tokens;
mod util;

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests_discovery;
#[cfg(test)]
mod tests_flow;
#[cfg(test)]
mod tests_migration;
#[cfg(test)]
mod tests_resource_server;
#[cfg(test)]
mod tests_tokens;
#[cfg(test)]
mod tests_violations;

use mcp_oauth_core::{HttpRequest, HttpResponse};

use auth_server::AuthServer;
use hostile::Hostile;
use resource_server::ResourceServer;
use tokens::{Ctx, Store};
use util::{is_form, is_json, split_url};

pub use config::{
    ChallengeScheme, Consent, ExpectedScope, IssMode, MetadataForm, PreRegistration, PrmLocation,
    TestbedConfig, WireMode,
};
pub use hostile::HostileTarget;
pub use log::{LoggedRequest, RequestKind};
pub use mcp_wire::{
    parse_sse, rpc_error, select_wire, sse_event, tools, Wire, ADMIN_TOOL, HOSTILE_ERROR_PREFIX,
    HOSTILE_TOOL, META_CLIENT_CAPABILITIES, META_PROTOCOL_VERSION, STATEFUL_VERSIONS,
    STATELESS_VERSION, TEST_TOOL,
};
pub use resource_server::{PRM_PATH, PRM_ROOT};
pub use scenarios::{CONFORMANCE_AUTH_SCENARIOS, CONFORMANCE_CIMD_URL};
pub use token_endpoint::CODE_LIFETIME_SECS;

/// The MCP server plus its authorization server(s), answering requests on a virtual clock.
///
/// Its `Debug` shows origins, counts and violations, never the grants it holds.
pub struct Testbed {
    config: TestbedConfig,
    mcp_origin: String,
    rs: ResourceServer,
    as1: AuthServer,
    as2: Option<AuthServer>,
    store: Store,
    violations: Vec<String>,
    log: Vec<LoggedRequest>,
    hostile: Hostile,
}

impl std::fmt::Debug for Testbed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Testbed")
            .field("mcp_origin", &self.mcp_origin)
            .field("issuer", &self.as1.issuer())
            .field("as2_issuer", &self.as2_issuer())
            .field("requests", &self.log.len())
            .field("violations", &self.violations)
            .finish_non_exhaustive()
    }
}

fn trim_origin(origin: &str) -> String {
    origin.trim_end_matches('/').to_string()
}

impl Testbed {
    /// A testbed with the MCP server at `mcp_origin` (its endpoint is `<mcp_origin>/mcp`) and AS₁
    /// at `as_origin` (ignored when `config.as_on_mcp_origin`). Origins look like
    /// `http://127.0.0.1:1000`; a trailing `/` is dropped. AS₂ lives at `config.as2_origin`.
    pub fn new(config: TestbedConfig, mcp_origin: &str, as_origin: &str) -> Self {
        let mcp_origin = trim_origin(mcp_origin);
        let as_origin = if config.as_on_mcp_origin {
            mcp_origin.clone()
        } else {
            trim_origin(as_origin)
        };
        let as2_origin = config.as2_origin.as_deref().map(trim_origin);
        let mut issuers = vec![format!("{as_origin}{}", config.issuer_path)];
        issuers.extend(as2_origin.clone());
        let rs = ResourceServer::new(&config, &mcp_origin, issuers);
        let resource = rs.prm_resource();
        let poisoned = resource.is_some() && resource != rs.natural_resource();
        let as1 = AuthServer::first(&config, &as_origin, resource.clone(), poisoned);
        let as2 = as2_origin.map(|o| AuthServer::second(&config, &o, resource));
        Self {
            config,
            mcp_origin,
            rs,
            as1,
            as2,
            store: Store::default(),
            violations: Vec::new(),
            log: Vec::new(),
            hostile: Hostile::default(),
        }
    }

    /// A testbed playing the mock servers of one conformance client-auth scenario (`auth/` prefix
    /// optional), or `None` for an unknown name. `as2_origin` is used by
    /// `auth/authorization-server-migration` only.
    pub fn conformance(
        scenario: &str,
        mcp_origin: &str,
        as_origin: &str,
        as2_origin: &str,
    ) -> Option<Self> {
        let mut config = TestbedConfig::conformance(scenario)?;
        if config.migrate_after_first_call {
            config.as2_origin = Some(as2_origin.to_string());
        }
        Some(Self::new(config, mcp_origin, as_origin))
    }

    /// Answers one request at virtual time `now_wall` (Unix seconds) and logs it.
    pub fn handle(&mut self, now_wall: u64, req: &HttpRequest) -> HttpResponse {
        let Some(parts) = split_url(&req.url) else {
            let resp = HttpResponse::status(400);
            self.record(req, RequestKind::Other, &resp);
            return resp;
        };
        let custom = match &self.config.prm_location {
            PrmLocation::Custom(p) => Some(p.as_str()),
            _ => None,
        };
        let known = parts.origin == self.mcp_origin
            || parts.origin == self.as1.origin
            || self.as2.as_ref().is_some_and(|a| a.origin == parts.origin);
        let kind = if known {
            RequestKind::classify(parts.origin == self.mcp_origin, parts.path, custom)
        } else {
            RequestKind::Other
        };
        if let Some(resp) = self.hostile.answer(kind, req) {
            self.record(req, kind, &resp);
            return resp;
        }
        let mut ctx = Ctx {
            now: now_wall,
            store: &mut self.store,
            violations: &mut self.violations,
        };
        let mut resp = None;
        if parts.origin == self.rs.origin {
            resp = self.rs.handle(&mut ctx, req, parts.path, parts.query);
        }
        if resp.is_none() && parts.origin == self.as1.origin {
            resp = self
                .as1
                .handle(&mut ctx, req, parts.path, parts.query, self.as2.as_ref());
        }
        if resp.is_none() {
            if let Some(as2) = self.as2.as_mut().filter(|a| a.origin == parts.origin) {
                resp = as2.handle(&mut ctx, req, parts.path, parts.query, Some(&self.as1));
            }
        }
        let resp = resp.unwrap_or_else(util::not_found);
        self.record(req, kind, &resp);
        resp
    }

    fn record(&mut self, req: &HttpRequest, kind: RequestKind, resp: &HttpResponse) {
        self.log.push(LoggedRequest {
            kind,
            method: req.method.as_str().to_string(),
            url: req.url.clone(),
            status: resp.status,
            form: if is_form(req) {
                req.form_pairs()
            } else {
                Vec::new()
            },
            authorization: req.header("authorization").map(str::to_string),
            json: if is_json(req) {
                serde_json::from_slice(&req.body).ok()
            } else {
                None
            },
        });
    }

    /// The simulated browser: a plain GET of the authorization URL, redirects not followed
    /// (ARCHITECTURE.md §10). The AS answers `302` with `Location:
    /// <redirect_uri>?code=..&state=..&iss=..`, or `error=access_denied` when consent is denied.
    pub fn browser_get(&mut self, now_wall: u64, authorization_url: &str) -> HttpResponse {
        let req = HttpRequest {
            method: mcp_oauth_core::Method::Get,
            url: authorization_url.to_string(),
            headers: vec![("Accept".into(), "text/html".into())],
            body: Vec::new(),
        };
        self.handle(now_wall, &req)
    }

    /// The configuration.
    pub fn config(&self) -> &TestbedConfig {
        &self.config
    }

    /// `<mcp_origin>/mcp`.
    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.mcp_origin)
    }

    /// The MCP origin.
    pub fn mcp_origin(&self) -> &str {
        &self.mcp_origin
    }

    /// AS₁'s real issuer (origin + issuer path), as PRM names it.
    pub fn issuer(&self) -> String {
        self.as1.issuer()
    }

    /// AS₂'s issuer, if configured.
    pub fn as2_issuer(&self) -> Option<String> {
        self.as2.as_ref().map(AuthServer::issuer)
    }

    /// AS₁'s endpoint URL (`authorize`, `token`, `register`, `revoke`).
    pub fn as_endpoint(&self, name: &str) -> String {
        self.as1.endpoint(name)
    }

    /// AS₂'s endpoint URL.
    pub fn as2_endpoint(&self, name: &str) -> Option<String> {
        self.as2.as_ref().map(|a| a.endpoint(name))
    }

    /// The PRM URL, if PRM exists.
    pub fn prm_url(&self) -> Option<String> {
        self.rs.prm_url()
    }

    /// The PRM `resource` value (raw string) a client must send as RFC 8707 `resource`.
    pub fn resource(&self) -> Option<String> {
        self.rs.prm_resource()
    }

    /// Current PRM `authorization_servers`.
    pub fn prm_authorization_servers(&self) -> &[String] {
        &self.rs.authorization_servers
    }

    /// Whether the migration flip happened.
    pub fn migrated(&self) -> bool {
        self.rs.migrated
    }

    /// Every request served so far.
    pub fn log(&self) -> &[LoggedRequest] {
        &self.log
    }

    /// Logged requests of one kind.
    pub fn requests(&self, kind: RequestKind) -> Vec<&LoggedRequest> {
        self.log.iter().filter(|r| r.kind == kind).collect()
    }

    /// How many requests of one kind were served.
    pub fn count(&self, kind: RequestKind) -> usize {
        self.log.iter().filter(|r| r.kind == kind).count()
    }

    /// Forgets the log (not the grants nor the violations).
    pub fn clear_log(&mut self) {
        self.log.clear();
    }

    /// Query pairs of every authorization request, in order.
    pub fn authorize_requests(&self) -> Vec<Vec<(String, String)>> {
        self.requests(RequestKind::Authorize)
            .iter()
            .map(|r| r.query_pairs())
            .collect()
    }

    /// Form pairs of every token request, in order.
    pub fn token_requests(&self) -> Vec<Vec<(String, String)>> {
        self.requests(RequestKind::Token)
            .iter()
            .map(|r| r.form.clone())
            .collect()
    }

    /// `Authorization` header of every token request, in order.
    pub fn token_request_authorizations(&self) -> Vec<Option<String>> {
        self.requests(RequestKind::Token)
            .iter()
            .map(|r| r.authorization.clone())
            .collect()
    }

    /// JSON bodies of every registration request, in order.
    pub fn registration_requests(&self) -> Vec<serde_json::Value> {
        self.requests(RequestKind::Registration)
            .iter()
            .filter_map(|r| r.json.clone())
            .collect()
    }

    /// Protocol violations noticed so far, each `"<id>: <detail>"`.
    pub fn violations(&self) -> &[String] {
        &self.violations
    }

    /// Whether a violation with this id (e.g. `pkce-missing`) was recorded.
    pub fn has_violation(&self, id: &str) -> bool {
        self.violations
            .iter()
            .any(|v| v.split(':').next() == Some(id))
    }

    /// Client ids registered by DCR at AS₁ (`as_index` 0) or AS₂ (1).
    pub fn registered_clients(&self, as_index: usize) -> Vec<String> {
        let server = if as_index == 0 {
            Some(&self.as1)
        } else {
            self.as2.as_ref()
        };
        server
            .map(|s| s.clients.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Makes every issued access token expired (test helper: the next MCP call gets 401).
    pub fn expire_all_access_tokens(&mut self) {
        for t in self.store.access.values_mut() {
            t.expires_at = 0;
        }
    }

    /// Revokes every access token (test helper: the next MCP call gets 401 `invalid_token`).
    pub fn revoke_all_access_tokens(&mut self) {
        for t in self.store.access.values_mut() {
            t.revoked = true;
        }
    }

    /// Revokes every refresh token (test helper: the next refresh gets `invalid_grant`).
    pub fn revoke_all_refresh_tokens(&mut self) {
        for t in self.store.refresh.values_mut() {
            t.revoked = true;
        }
    }

    /// Hostile mode: from now on, requests matching `target` get `response` instead of the
    /// testbed's own answer (logged as usual, never reaching the servers, so no grant changes).
    /// Replaces an earlier hostile answer for the same target.
    pub fn answer_hostile(&mut self, target: HostileTarget, response: HttpResponse) {
        self.hostile.set(target, response);
    }

    /// Ends hostile mode: every request is answered by the servers again.
    pub fn calm(&mut self) {
        self.hostile.clear();
    }

    /// Makes AS₁ forget every dynamically registered client (a database reset): their token
    /// requests get `invalid_client` (RFC 6749 §5.2), recorded as no violation.
    pub fn forget_registrations(&mut self) {
        let forgotten = std::mem::take(&mut self.as1.clients);
        self.as1.forgotten.extend(forgotten.into_keys());
    }

    /// Makes the MCP server challenge with (and accept) another scheme from now on: a server
    /// that stopped or started taking DPoP (RFC 9449 §7.1).
    pub fn set_challenge_scheme(&mut self, scheme: ChallengeScheme) {
        self.rs.set_challenge_scheme(scheme);
    }

    /// Points PRM `authorization_servers` at `issuer` (the migration flip, by hand); tokens from
    /// any other issuer then get 401.
    pub fn set_prm_authorization_server(&mut self, issuer: &str) {
        self.rs.set_authorization_server(issuer);
    }
}
