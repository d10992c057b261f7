//! `flow_bench_peer <flow> <server-url> <state-dir>`: one flow of the flow benchmark
//! (tests/src/bin/flow-bench.rs, bench/README.md) run by an rmcp 3.11.0 client on
//! [`McpOAuthClient`], speaking the same protocol as `bench/rmcp-client` so the harness can run
//! it as the "rmcp + mcp-oauth" peer: `READY` after a paused flow's warm-up, one stdin line to go
//! on, the JSON report as the last stdout line.
//!
//! Unlike rmcp's own OAuth client, the host code has no recovery here: refresh, re-authorization
//! after a revocation and the step-up all happen inside the transport. The "browser" is the
//! headless one of the other peers (`mcp_oauth_testbed::headless`): one GET of the authorization
//! URL, its `Location` handed to the callback path (`BrowserOutcome::Redirected`). Sessions live
//! in a [`FileStore`] in `<state-dir>`, so a restart flow is a real process restart.
//!
//! ```text
//! cargo build --release -p mcp-oauth-rmcp --example flow_bench_peer
//! ```
use std::sync::Arc;
use std::time::{Duration, Instant};

use mcp_oauth_core::{BrowserRequest, Config};
use mcp_oauth_rmcp::McpOAuthClient;
use mcp_oauth_testbed::headless::{authorization_get, redirect_location};
use mcp_oauth_testbed::testbed::TEST_TOOL;
use mcp_oauth_tokio::{
    Authorizer, BrowserOutcome, FileStore, FnBrowser, HttpClient, Options, ReqwestClient,
};
use rmcp::model::CallToolRequestParams;
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{json, Value};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Client = RunningService<RoleClient, ()>;

/// rmcp's default is 16 POSTs in flight; raised so `concurrent-100` is really concurrent (as in
/// bench/rmcp-client).
const MAX_CONCURRENT_REQUESTS: usize = 128;

async fn authorizer(url: &str, state_dir: &str) -> Result<Authorizer, BoxError> {
    let http: Arc<dyn HttpClient> = Arc::new(ReqwestClient::new(
        Duration::from_secs(10),
        Duration::from_secs(30),
    )?);
    let browser = FnBrowser(move |req: &BrowserRequest| {
        let (http, url) = (Arc::clone(&http), req.url.clone());
        async move {
            let located = match http.send(&authorization_get(&url)).await {
                Ok(resp) => redirect_location(&url, &resp),
                Err(e) => Err(format!("authorization endpoint: {e}")),
            };
            located.map_or_else(BrowserOutcome::Unavailable, BrowserOutcome::Redirected)
        }
    });
    let mut config = Config::new(url);
    config.client.client_name = "mcp-oauth-rmcp flow-bench".into();
    config.authorization_timeout = Duration::from_secs(30);
    let mut options = Options::new(Arc::new(FileStore::new(state_dir)?));
    options.browser = Arc::new(browser);
    options.paste_from_stdin = false; // stdin carries the harness's go line
    Ok(Authorizer::new(config, options).await?)
}

async fn connect(auth: Authorizer, url: &str) -> Result<Client, BoxError> {
    let mut config = StreamableHttpClientTransportConfig::with_uri(url.to_owned());
    config.max_concurrent_requests = MAX_CONCURRENT_REQUESTS;
    let client = McpOAuthClient::with_reqwest(auth)?;
    let transport = StreamableHttpClientTransport::with_client(client, config);
    Ok(().serve(transport).await?)
}

async fn list(client: &Client) -> Result<Value, BoxError> {
    Ok(json!(client.list_tools(None).await?.tools.len()))
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

async fn wait_for_go() -> Result<(), BoxError> {
    println!("READY");
    let line = tokio::task::spawn_blocking(|| std::io::stdin().read_line(&mut String::new()));
    line.await??;
    Ok(())
}

async fn run(flow: &str, url: &str, state_dir: &str) -> Result<Value, BoxError> {
    let start = Instant::now();
    let auth = authorizer(url, state_dir).await?;
    let client = connect(auth, url).await?;
    if flow == "login" || flow == "list" {
        let tools = list(&client).await?;
        return Ok(json!({ "ok": true, "elapsed_ms": ms(start), "tools": tools }));
    }
    list(&client).await?;
    wait_for_go().await?;
    let start = Instant::now();
    if let Some(n) = flow.strip_prefix("concurrent-") {
        let n: usize = n.parse()?;
        let results = futures::future::join_all((0..n).map(|_| list(&client))).await;
        let elapsed = ms(start);
        let errors: Vec<String> = results
            .iter()
            .filter_map(|r| r.as_ref().err().map(ToString::to_string))
            .collect();
        return Ok(json!({
            "ok": errors.is_empty(), "elapsed_ms": elapsed, "succeeded": n - errors.len(),
            "failed": errors.len(), "errors": errors.iter().take(3).collect::<Vec<_>>(),
        }));
    }
    let result = match flow {
        "revoked" => list(&client).await?,
        "stepup" => {
            let result = client
                .call_tool(CallToolRequestParams::new(TEST_TOOL))
                .await?;
            json!(result.is_error.unwrap_or(false))
        }
        other => return Err(format!("unknown flow {other}").into()),
    };
    Ok(json!({ "ok": true, "elapsed_ms": ms(start), "result": result }))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [flow, url, state_dir] = args.as_slice() else {
        eprintln!("usage: flow_bench_peer <flow> <server-url> <state-dir>");
        return std::process::ExitCode::from(2);
    };
    let report = match run(flow, url, state_dir).await {
        Ok(report) => report,
        Err(e) => json!({ "ok": false, "error": e.to_string() }),
    };
    println!("{report}");
    match report["ok"] == json!(true) {
        true => std::process::ExitCode::SUCCESS,
        false => std::process::ExitCode::FAILURE,
    }
}
