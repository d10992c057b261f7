//! Our two clients, in-process: `mcp_oauth_tokio::Authorizer` and `mcp_oauth_blocking::Authorizer`
//! with their default HTTP clients, a 0600 [`FileStore`] in the state directory (so a restart is
//! a new `Authorizer` loading what the previous one stored), and the redirect-reading "browser"
//! of the conformance client (`BrowserOutcome::Redirected`, the code enters through the library's
//! ordinary callback path). The MCP conversation is [`McpSession`] on the stateful 2025-11-25
//! wire, every request through `Authorizer::send`: the same wire the peers speak.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mcp_oauth_core::{BrowserRequest, Config, HttpRequest, HttpResponse};
use mcp_oauth_store::FileStore;
use mcp_oauth_tests::conformance::{authorization_get, redirect_location, TEST_TOOL};
use mcp_oauth_tests::mcp::{McpSession, McpWire};
use serde_json::json;

use super::flows::{Flow, Outcome};

/// The protocol revision every client speaks (the TypeScript SDK's latest; rmcp's latest with
/// `initialize`).
pub const PROTOCOL_VERSION: &str = "2025-11-25";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Which of our adapters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adapter {
    /// `mcp-oauth-tokio`.
    Tokio,
    /// `mcp-oauth-blocking`.
    Blocking,
}

/// One adapter's `Authorizer::send`, alone and fanned out.
trait Sender: Sync {
    fn send(&self, req: HttpRequest) -> Result<HttpResponse, String>;
    /// Sends all at once (tokio tasks, or one thread each) and waits for every answer.
    fn send_all(&self, reqs: Vec<HttpRequest>) -> Vec<Result<HttpResponse, String>>;
}

struct TokioSender {
    rt: tokio::runtime::Runtime,
    auth: mcp_oauth_tokio::Authorizer,
}

impl Sender for TokioSender {
    fn send(&self, req: HttpRequest) -> Result<HttpResponse, String> {
        self.rt
            .block_on(self.auth.send(req))
            .map_err(|e| e.to_string())
    }

    fn send_all(&self, reqs: Vec<HttpRequest>) -> Vec<Result<HttpResponse, String>> {
        self.rt.block_on(async {
            let tasks: Vec<_> = reqs
                .into_iter()
                .map(|req| {
                    let auth = self.auth.clone();
                    tokio::spawn(async move { auth.send(req).await.map_err(|e| e.to_string()) })
                })
                .collect();
            let mut out = Vec::with_capacity(tasks.len());
            for task in tasks {
                out.push(task.await.unwrap_or_else(|e| Err(e.to_string())));
            }
            out
        })
    }
}

struct BlockingSender {
    auth: mcp_oauth_blocking::Authorizer,
}

impl Sender for BlockingSender {
    fn send(&self, req: HttpRequest) -> Result<HttpResponse, String> {
        self.auth.send(req).map_err(|e| e.to_string())
    }

    fn send_all(&self, reqs: Vec<HttpRequest>) -> Vec<Result<HttpResponse, String>> {
        std::thread::scope(|s| {
            let handles: Vec<_> = reqs
                .into_iter()
                .map(|req| s.spawn(|| self.send(req)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err("thread panicked".into())))
                .collect()
        })
    }
}

fn config(url: &str) -> Config {
    let mut config = Config::new(url);
    config.client.client_name = "mcp-oauth flow-bench".into();
    config.authorization_timeout = Duration::from_secs(30);
    config
}

fn store(state: &Path) -> Result<Arc<FileStore>, String> {
    FileStore::new(state)
        .map(Arc::new)
        .map_err(|e| format!("file store: {e}"))
}

/// Runs `flow` with `adapter` against `url`, keeping the session in `state`; `on_ready` is the
/// harness's action between the warm-up and the measured part of a paused flow.
pub fn run(
    adapter: Adapter,
    flow: Flow,
    url: &str,
    state: &Path,
    on_ready: &mut dyn FnMut(),
) -> Result<Outcome, String> {
    match adapter {
        Adapter::Tokio => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| format!("tokio runtime: {e}"))?;
            let start = Instant::now();
            let auth = rt.block_on(tokio_authorizer(url, state))?;
            converse(&TokioSender { rt, auth }, flow, url, start, on_ready)
        }
        Adapter::Blocking => {
            let start = Instant::now();
            let auth = blocking_authorizer(url, state)?;
            converse(&BlockingSender { auth }, flow, url, start, on_ready)
        }
    }
}

async fn tokio_authorizer(url: &str, state: &Path) -> Result<mcp_oauth_tokio::Authorizer, String> {
    use mcp_oauth_tokio::{Authorizer, BrowserOutcome, FnBrowser, HttpClient, Options};

    let http: Arc<dyn HttpClient> = Arc::new(
        mcp_oauth_tokio::ReqwestClient::new(CONNECT_TIMEOUT, REQUEST_TIMEOUT)
            .map_err(|e| e.to_string())?,
    );
    let browser_http = Arc::clone(&http);
    let browser = FnBrowser(move |req: &BrowserRequest| {
        let (http, url) = (Arc::clone(&browser_http), req.url.clone());
        async move {
            let located = match http.send(&authorization_get(&url)).await {
                Ok(resp) => redirect_location(&url, &resp),
                Err(e) => Err(format!("authorization endpoint: {e}")),
            };
            located.map_or_else(BrowserOutcome::Unavailable, BrowserOutcome::Redirected)
        }
    });
    let mut options = Options::new(store(state)?);
    options.browser = Arc::new(browser);
    options.http_client = Some(http);
    options.paste_from_stdin = false;
    Authorizer::new(config(url), options)
        .await
        .map_err(|e| e.to_string())
}

fn blocking_authorizer(url: &str, state: &Path) -> Result<mcp_oauth_blocking::Authorizer, String> {
    use mcp_oauth_blocking::{Authorizer, BrowserOutcome, FnBrowser, HttpClient, Options};

    let http: Arc<dyn HttpClient> = Arc::new(mcp_oauth_blocking::UreqClient::new(
        CONNECT_TIMEOUT,
        REQUEST_TIMEOUT,
    ));
    let browser_http = Arc::clone(&http);
    let browser = FnBrowser(move |req: &BrowserRequest| {
        let located = match browser_http.send(&authorization_get(&req.url)) {
            Ok(resp) => redirect_location(&req.url, &resp),
            Err(e) => Err(format!("authorization endpoint: {e}")),
        };
        located.map_or_else(BrowserOutcome::Unavailable, BrowserOutcome::Redirected)
    });
    let mut options = Options::new(store(state)?);
    options.browser = Arc::new(browser);
    options.http_client = Some(http);
    options.paste_from_stdin = false;
    Authorizer::new(config(url), options).map_err(|e| e.to_string())
}

/// One MCP call through the authorizer, read by the session that built it.
fn call(
    sender: &dyn Sender,
    session: &mut McpSession,
    what: &str,
    req: HttpRequest,
) -> Result<(), String> {
    let resp = sender.send(req).map_err(|e| format!("{what}: {e}"))?;
    session
        .handle_response(&resp)
        .map(drop)
        .map_err(|e| format!("{what}: {e}"))
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// Connect (`initialize`, `notifications/initialized`), then `tools/list`; for paused flows a
/// warm-up `tools/list`, the harness's action, then the measured part.
fn converse(
    sender: &dyn Sender,
    flow: Flow,
    url: &str,
    start: Instant,
    on_ready: &mut dyn FnMut(),
) -> Result<Outcome, String> {
    let mut mcp = McpSession::new(McpWire::Stateful, PROTOCOL_VERSION)
        .with_client_info("mcp-oauth-flow-bench", env!("CARGO_PKG_VERSION"));
    let req = mcp.initialize_request(url);
    call(sender, &mut mcp, "initialize", req)?;
    let req = mcp.initialized_notification(url);
    call(sender, &mut mcp, "notifications/initialized", req)?;
    let req = mcp.request(url, "tools/list", json!({}));
    call(sender, &mut mcp, "tools/list", req)?;
    if matches!(flow, Flow::FirstLogin | Flow::Restart | Flow::Refresh) {
        return Ok(Outcome {
            elapsed_ms: ms(start),
            ..Outcome::default()
        });
    }
    on_ready();
    let start = Instant::now();
    match flow {
        Flow::Concurrent(n) => {
            let mut sessions: Vec<McpSession> = (0..n).map(|_| mcp.clone()).collect();
            let reqs = sessions
                .iter_mut()
                .map(|s| s.request(url, "tools/list", json!({})))
                .collect();
            let answers = sender.send_all(reqs);
            let elapsed_ms = ms(start);
            let errors: Vec<String> = sessions
                .iter_mut()
                .zip(answers)
                .filter_map(|(s, answer)| match answer {
                    Ok(resp) => s.handle_response(&resp).err().map(|e| e.to_string()),
                    Err(e) => Some(e),
                })
                .collect();
            Ok(Outcome {
                elapsed_ms,
                process_ms: None,
                failed: errors.len(),
                errors: errors.into_iter().take(3).collect(),
            })
        }
        Flow::StepUp | Flow::StepUpAfterRestart => {
            let req = mcp.request(
                url,
                "tools/call",
                json!({ "name": TEST_TOOL, "arguments": {} }),
            );
            call(sender, &mut mcp, "tools/call", req)?;
            Ok(Outcome {
                elapsed_ms: ms(start),
                ..Outcome::default()
            })
        }
        _ => {
            let req = mcp.request(url, "tools/list", json!({}));
            call(sender, &mut mcp, "tools/list", req)?;
            Ok(Outcome {
                elapsed_ms: ms(start),
                ..Outcome::default()
            })
        }
    }
}
