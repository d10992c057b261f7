//! Helpers shared by the end-to-end tests of both adapters (`e2e_tokio`, `e2e_blocking`,
//! `e2e_processes`): the testbed on real loopback sockets, a scripted "user's browser" that
//! really drives the authorization server and the adapter's loopback listener over TCP, MCP
//! requests on the stateless wire, and assertions on the testbed's request log.
//!
//! Everything here is synchronous (`std::net`), so the tokio tests call the browser through
//! `spawn_blocking`.

// Each test binary includes this module and uses a different subset of it.
#![allow(dead_code)]

mod asserts;
mod browser;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mcp_oauth_core::{Config, HttpRequest, HttpResponse, Session};
use mcp_oauth_store::SessionStore;
use mcp_oauth_tests::mcp::{McpSession, McpWire, FIRST_STATELESS_VERSION};
use mcp_oauth_tests::serve::{ServeOptions, TestbedServer};
use mcp_oauth_tests::testbed::{LoggedRequest, RequestKind, TestbedConfig, TEST_TOOL};
use serde_json::{json, Value};

// Not every test binary uses every part.
#[allow(unused_imports)]
pub use asserts::*;
#[allow(unused_imports)]
pub use browser::*;

/// Bound on any single end-to-end operation. Generous: it only turns a hang into a failure.
pub const BOUND: Duration = Duration::from_secs(60);

/// Starts the testbed on loopback listeners.
pub fn start(config: TestbedConfig) -> TestbedServer {
    TestbedServer::start(config, ServeOptions::default()).expect("start the testbed server")
}

/// The client configuration for `server`: defaults, except a browser wait bounded well below
/// the test harness's patience, so a broken browser step fails instead of hanging.
pub fn client_config(server: &TestbedServer) -> Config {
    let mut config = Config::new(server.mcp_url());
    config.authorization_timeout = BOUND;
    config
}

/// The login's request kinds in the order the testbed must see them (ARCHITECTURE.md §3: PRM, AS
/// metadata, DCR, the browser's authorization request, code exchange), then the MCP call.
pub const LOGIN_THEN_MCP: [RequestKind; 7] = [
    // `send` goes out without credentials first; the 401's challenge drives discovery.
    RequestKind::Mcp,
    RequestKind::ResourceMetadata,
    RequestKind::ServerMetadata,
    RequestKind::Registration,
    RequestKind::Authorize,
    RequestKind::Token,
    RequestKind::Mcp,
];

// ------------------------------------------------------------------------------------------
// MCP on the stateless wire
// ------------------------------------------------------------------------------------------

/// One MCP JSON-RPC call: the codec that built the request reads its answer.
pub struct Call {
    session: McpSession,
    /// The HTTP request (no `Authorization`; the authorizer adds it).
    pub request: HttpRequest,
}

impl Call {
    /// `method` with `params` on the stateless (2026-07-28) wire.
    pub fn new(mcp_url: &str, method: &str, params: Value) -> Self {
        let mut session = McpSession::new(McpWire::Stateless, FIRST_STATELESS_VERSION);
        let request = session.request(mcp_url, method, params);
        Self { session, request }
    }

    /// `tools/list`.
    pub fn tools_list(mcp_url: &str) -> Self {
        Self::new(mcp_url, "tools/list", Value::Null)
    }

    /// `tools/call` of the testbed's `test-tool`.
    pub fn call_test_tool(mcp_url: &str) -> Self {
        Self::new(
            mcp_url,
            "tools/call",
            json!({ "name": TEST_TOOL, "arguments": {} }),
        )
    }

    /// The JSON-RPC result, panicking with the status and body otherwise.
    pub fn result(mut self, response: &HttpResponse) -> Value {
        match self.session.handle_response(response) {
            Ok(v) => v,
            Err(e) => panic!(
                "MCP call failed: {e} (HTTP {}, body {})",
                response.status,
                String::from_utf8_lossy(&response.body)
            ),
        }
    }
}

/// Asserts a `tools/list` result names the testbed's tools.
pub fn assert_tools(result: &Value) {
    let names: Vec<&str> = result["tools"]
        .as_array()
        .expect("tools array")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(names.contains(&TEST_TOOL), "tools/list result {result}");
}

// ------------------------------------------------------------------------------------------
// The testbed's log
// ------------------------------------------------------------------------------------------

/// The kinds of every request the testbed served, in order.
pub fn kinds(server: &TestbedServer) -> Vec<RequestKind> {
    server.with_testbed(|t| t.log().iter().map(|r| r.kind).collect())
}

/// Every logged request of one kind.
pub fn logged(server: &TestbedServer, kind: RequestKind) -> Vec<LoggedRequest> {
    server.with_testbed(|t| t.requests(kind).into_iter().cloned().collect())
}

/// Forgets the log (grants and violations stay).
pub fn clear_log(server: &TestbedServer) {
    server.with_testbed(|t| t.clear_log());
}

/// Asserts the testbed saw no protocol violation (PKCE, state, redirect URI, resource, ...).
pub fn assert_no_violations(server: &TestbedServer) {
    let violations = server.with_testbed(|t| t.violations().to_vec());
    assert!(violations.is_empty(), "testbed violations: {violations:?}");
}

/// `grant_type` of every token request, in order.
pub fn grant_types(server: &TestbedServer) -> Vec<String> {
    logged(server, RequestKind::Token)
        .iter()
        .map(|r| r.form_value("grant_type").unwrap_or("").to_string())
        .collect()
}

/// The `scope` of every authorization request, each as a sorted list.
pub fn authorize_scopes(server: &TestbedServer) -> Vec<Vec<String>> {
    logged(server, RequestKind::Authorize)
        .iter()
        .map(|r| {
            let mut s: Vec<String> = r
                .query("scope")
                .unwrap_or_default()
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            s.sort();
            s
        })
        .collect()
}

// ------------------------------------------------------------------------------------------
// Sessions
// ------------------------------------------------------------------------------------------

/// Unix seconds now.
pub fn wall_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The stored session for `key`, which must exist.
pub fn stored(store: &dyn SessionStore, key: &str) -> Session {
    store
        .load(key)
        .expect("store readable")
        .expect("a stored session")
}

/// The stored access and refresh tokens (exposed, for comparisons).
pub fn stored_tokens(store: &dyn SessionStore, key: &str) -> (String, Option<String>) {
    let session = stored(store, key);
    let tokens = session.tokens.expect("stored tokens");
    (
        tokens.access_token.expose_secret().to_string(),
        tokens.refresh_token.map(|t| t.expose_secret().to_string()),
    )
}

/// Rewrites the stored session so its access token expired a minute ago (the refresh token
/// stays valid): the next authorizer built on this store must refresh before its first call.
pub fn expire_stored_access_token(store: &dyn SessionStore, key: &str) {
    let mut session = stored(store, key);
    let tokens = session.tokens.as_mut().expect("stored tokens");
    assert!(
        tokens.refresh_token.is_some(),
        "the login must yield a refresh token"
    );
    tokens.expires_at = Some(wall_now().saturating_sub(60));
    store.save(key, &session).expect("store writable");
}
