//! Shared by the rmcp end-to-end tests: the testbed on loopback sockets, a scripted "user's
//! browser" that drives the authorization endpoint and the authorizer's loopback listener over
//! real TCP, an rmcp client built on [`McpOAuthClient`], and reads of the testbed's log.

// Each test binary uses a different subset.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mcp_oauth_core::{BrowserRequest, Config, Session};
use mcp_oauth_rmcp::{McpOAuthClient, StreamableHttpClient};
use mcp_oauth_testbed::serve::{ServeOptions, TestbedServer};
use mcp_oauth_testbed::testbed::{LoggedRequest, RequestKind, TestbedConfig, TEST_TOOL};
use mcp_oauth_tokio::{Authorizer, BrowserOutcome, FnBrowser, Options, SessionStore};
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{RoleClient, ServiceExt};

/// Bound on any single end-to-end operation: turns a hang into a failure, never a timing check.
pub const BOUND: Duration = Duration::from_secs(60);

/// An rmcp client session.
pub type Client = RunningService<RoleClient, ()>;

/// Starts the testbed on 127.0.0.1 ephemeral ports.
pub fn start(config: TestbedConfig) -> TestbedServer {
    TestbedServer::start(config, ServeOptions::default()).expect("start the testbed")
}

/// The user's browser, scripted: GET the authorization URL without following its redirect,
/// then GET the `Location` (the authorizer's loopback callback, RFC 8252 §7.3).
#[derive(Clone, Default)]
pub struct ScriptedBrowser {
    opened: Arc<AtomicU64>,
}

impl ScriptedBrowser {
    /// How many authorization URLs were opened.
    pub fn opened(&self) -> u64 {
        self.opened.load(Ordering::SeqCst)
    }

    async fn browse(&self, url: String) -> Result<(), String> {
        self.opened.fetch_add(1, Ordering::SeqCst);
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        let consent = http.get(&url).send().await.map_err(|e| e.to_string())?;
        let location = consent
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| format!("authorization answered {}", consent.status()))?
            .to_owned();
        let callback = http
            .get(&location)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        match callback.status().is_success() {
            true => Ok(()),
            false => Err(format!("callback answered {}", callback.status())),
        }
    }
}

/// A client configuration for `server`, with the browser wait bounded.
pub fn client_config(server: &TestbedServer) -> Config {
    let mut config = Config::new(server.mcp_url());
    config.authorization_timeout = BOUND;
    config
}

/// An authorizer on `store` whose browser is `browser`.
pub async fn authorizer(
    store: Arc<dyn SessionStore>,
    browser: &ScriptedBrowser,
    config: Config,
) -> Authorizer {
    let browser = browser.clone();
    let mut options = Options::new(store);
    options.browser = Arc::new(FnBrowser(move |req: &BrowserRequest| {
        let (browser, url) = (browser.clone(), req.url.clone());
        async move {
            match browser.browse(url).await {
                Ok(()) => BrowserOutcome::Opened,
                Err(e) => BrowserOutcome::Unavailable(e),
            }
        }
    }));
    options.paste_from_stdin = false;
    Authorizer::new(config, options).await.expect("authorizer")
}

/// rmcp's transport configuration, with room for `concurrent` requests in flight.
pub fn transport_config(url: &str, concurrent: usize) -> StreamableHttpClientTransportConfig {
    let mut config = StreamableHttpClientTransportConfig::with_uri(url.to_owned());
    config.max_concurrent_requests = concurrent.max(16);
    config
}

/// Connects an rmcp client (`initialize`) through `inner` wrapped in [`McpOAuthClient`].
pub async fn connect_with<C>(auth: &Authorizer, inner: C, url: &str, concurrent: usize) -> Client
where
    C: StreamableHttpClient + Sync,
{
    let client = McpOAuthClient::new(auth.clone(), inner);
    let transport =
        StreamableHttpClientTransport::with_client(client, transport_config(url, concurrent));
    tokio::time::timeout(BOUND, ().serve(transport))
        .await
        .expect("initialize in time")
        .expect("initialize succeeded")
}

/// Connects an rmcp client on rmcp's reqwest client (the common case).
pub async fn connect(auth: &Authorizer, url: &str) -> Client {
    let client = McpOAuthClient::with_reqwest(auth.clone()).expect("reqwest client");
    connect_with(auth, client.inner().clone(), url, 16).await
}

/// `tools/list`, asserting the testbed's tool is in it.
pub async fn assert_lists_tools(client: &Client) {
    let tools = tokio::time::timeout(BOUND, client.list_tools(None))
        .await
        .expect("tools/list in time")
        .expect("tools/list succeeded");
    assert!(
        tools.tools.iter().any(|t| t.name == TEST_TOOL),
        "{:?}",
        tools.tools
    );
}

/// The kinds of every request the testbed served, in order.
pub fn kinds(server: &TestbedServer) -> Vec<RequestKind> {
    server.with_testbed(|t| t.log().iter().map(|r| r.kind).collect())
}

/// The logged requests of one kind.
pub fn logged(server: &TestbedServer, kind: RequestKind) -> Vec<LoggedRequest> {
    server.with_testbed(|t| t.requests(kind).into_iter().cloned().collect())
}

/// `grant_type` of every token request, in order.
pub fn grant_types(server: &TestbedServer) -> Vec<String> {
    logged(server, RequestKind::Token)
        .iter()
        .map(|r| r.form_value("grant_type").unwrap_or("").to_owned())
        .collect()
}

/// The `Authorization` scheme of every MCP request (`None` for a request without one).
pub fn mcp_schemes(server: &TestbedServer) -> Vec<Option<String>> {
    logged(server, RequestKind::Mcp)
        .iter()
        .map(|r| {
            let header = r.authorization.as_deref()?;
            header.split(' ').next().map(str::to_owned)
        })
        .collect()
}

/// Asserts the testbed saw no protocol violation (PKCE, state, redirect URI, resource, scope).
pub fn assert_no_violations(server: &TestbedServer) {
    let violations = server.with_testbed(|t| t.violations().to_vec());
    assert!(violations.is_empty(), "testbed violations: {violations:?}");
}

/// The stored session for `key`.
pub fn stored(store: &dyn SessionStore, key: &str) -> Session {
    store
        .load(key)
        .expect("store readable")
        .expect("a stored session")
}
