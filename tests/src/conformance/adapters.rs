//! One runner per adapter: builds the `Authorizer` (memory store, no stdin paste, the
//! redirect-reading "browser"), runs [`converse`] through `Authorizer::send`, and reports the
//! OAuth requests the adapter counted.
//!
//! The "browser" GETs the authorization URL with the adapter's own [`HttpClient`] (which never
//! follows redirects, ARCHITECTURE.md §5) and returns the `Location` as
//! `BrowserOutcome::Redirected`, so the code, `state` and `iss` enter the library through its
//! ordinary callback path (ARCHITECTURE.md §10: the harness's browser step).
//!
//! [`HttpClient`]: mcp_oauth_tokio::HttpClient

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use mcp_oauth_core::{BrowserRequest, Config, Step};
use mcp_oauth_store::MemoryStore;

use super::{authorization_get, converse, one_line, redirect_location, Conversation};

/// Connect timeout of the adapters' HTTP clients (adapter design default).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Per-request timeout; the binary's own 25 s deadline bounds the whole run anyway.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Which adapter drives the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adapter {
    /// `mcp-oauth-tokio`.
    Tokio,
    /// `mcp-oauth-blocking`.
    Blocking,
}

impl Adapter {
    /// The name used in logs and the conformance summary.
    pub fn as_str(self) -> &'static str {
        match self {
            Adapter::Tokio => "tokio",
            Adapter::Blocking => "blocking",
        }
    }
}

/// A successful run: the MCP conversation and the OAuth requests per step.
#[derive(Debug, Clone)]
pub struct Report {
    /// What the MCP conversation did.
    pub conversation: Conversation,
    /// OAuth requests per protocol step, as counted by the adapter.
    pub oauth_requests: BTreeMap<Step, u64>,
}

/// Runs the conversation with `adapter`. `Err` is a one-line reason.
pub fn run(
    adapter: Adapter,
    server_url: &str,
    protocol_version: &str,
    config: Config,
) -> Result<Report, String> {
    match adapter {
        Adapter::Tokio => run_tokio(server_url, protocol_version, config),
        Adapter::Blocking => run_blocking(server_url, protocol_version, config),
    }
}

fn run_tokio(server_url: &str, protocol_version: &str, config: Config) -> Result<Report, String> {
    use mcp_oauth_tokio::{
        Authorizer, BrowserOutcome, FnBrowser, HttpClient, Options, ReqwestClient,
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let http: Arc<dyn HttpClient> =
        Arc::new(ReqwestClient::new(CONNECT_TIMEOUT, REQUEST_TIMEOUT).map_err(|e| e.to_string())?);
    let browser_http = Arc::clone(&http);
    let browser = FnBrowser(move |req: &BrowserRequest| {
        let http = Arc::clone(&browser_http);
        let url = req.url.clone();
        async move {
            let located = match http.send(&authorization_get(&url)).await {
                Ok(resp) => redirect_location(&url, &resp),
                Err(e) => Err(format!("authorization endpoint: {e}")),
            };
            match located {
                Ok(location) => BrowserOutcome::Redirected(location),
                Err(why) => BrowserOutcome::Unavailable(why),
            }
        }
    });
    let mut options = Options::new(Arc::new(MemoryStore::new()));
    options.browser = Arc::new(browser);
    options.http_client = Some(http);
    options.paste_from_stdin = false;
    let auth = runtime
        .block_on(Authorizer::new(config, options))
        .map_err(|e| e.to_string())?;
    let conversation = converse(server_url, protocol_version, &mut |req| {
        // `send` sends without credentials until a token exists, so the server's 401 (its
        // `resource_metadata` and `scope`) drives discovery.
        runtime.block_on(async { auth.send(req).await.map_err(|e| e.to_string()) })
    })
    .map_err(|e| one_line(&e))?;
    Ok(Report {
        conversation,
        oauth_requests: auth.request_counts(),
    })
}

fn run_blocking(
    server_url: &str,
    protocol_version: &str,
    config: Config,
) -> Result<Report, String> {
    use mcp_oauth_blocking::{
        Authorizer, BrowserOutcome, FnBrowser, HttpClient, Options, UreqClient,
    };

    let http: Arc<dyn HttpClient> = Arc::new(UreqClient::new(CONNECT_TIMEOUT, REQUEST_TIMEOUT));
    let browser_http = Arc::clone(&http);
    let browser = FnBrowser(move |req: &BrowserRequest| {
        let located = match browser_http.send(&authorization_get(&req.url)) {
            Ok(resp) => redirect_location(&req.url, &resp),
            Err(e) => Err(format!("authorization endpoint: {e}")),
        };
        match located {
            Ok(location) => BrowserOutcome::Redirected(location),
            Err(why) => BrowserOutcome::Unavailable(why),
        }
    });
    let mut options = Options::new(Arc::new(MemoryStore::new()));
    options.browser = Arc::new(browser);
    options.http_client = Some(http);
    options.paste_from_stdin = false;
    let auth = Authorizer::new(config, options).map_err(|e| e.to_string())?;
    let conversation = converse(server_url, protocol_version, &mut |req| {
        auth.send(req).map_err(|e| e.to_string())
    })
    .map_err(|e| one_line(&e))?;
    Ok(Report {
        conversation,
        oauth_requests: auth.request_counts(),
    })
}
