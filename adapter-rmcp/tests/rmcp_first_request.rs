//! The wrapper called directly as rmcp's transport calls it, with no token yet: concurrent
//! requests go out without `Authorization` and their 401 challenges cause one login and no
//! refresh. (Here the challenges arrive while the login runs and join it; a challenge answered
//! after the login finished takes the wrapper's other branch, retrying with the new token, which
//! this test does not force.)

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use common::*;
use mcp_oauth_rmcp::{McpOAuthClient, StreamableHttpClient};
use mcp_oauth_testbed::testbed::{RequestKind, TestbedConfig};
use mcp_oauth_tokio::MemoryStore;
use rmcp::model::ClientJsonRpcMessage;
use rmcp::transport::streamable_http_client::StreamableHttpResponseLimits;
use serde_json::json;

/// An MCP `initialize` request (MCP 2025-11-25 "Lifecycle").
fn initialize(id: u64) -> ClientJsonRpcMessage {
    serde_json::from_value(json!({
        "jsonrpc": "2.0",
        "id": id,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": { "name": "mcp-oauth-rmcp-test", "version": "0" }
        }
    }))
    .expect("a valid initialize request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_requests_cause_one_login_and_no_refresh() {
    const TASKS: u64 = 8;
    let server = start(TestbedConfig::default());
    let browser = ScriptedBrowser::default();
    let auth = authorizer(
        Arc::new(MemoryStore::new()),
        &browser,
        client_config(&server),
    )
    .await;
    let client = McpOAuthClient::with_reqwest(auth.clone()).expect("client");
    let uri: Arc<str> = server.mcp_url().into();

    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS as usize));
    let tasks: Vec<_> = (0..TASKS)
        .map(|id| {
            let (client, uri, barrier) = (client.clone(), uri.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                let limits = StreamableHttpResponseLimits::default();
                let sent = client.post_message_with_response_limits(
                    uri,
                    initialize(id),
                    None,
                    None,
                    HashMap::new(),
                    limits,
                );
                let answer = tokio::time::timeout(BOUND, sent).await;
                answer
                    .map_err(|_| "timed out".to_owned())?
                    .map_err(|e| e.to_string())
            })
        })
        .collect();
    for task in tasks {
        let answer = task.await.expect("no panic").expect("initialize succeeded");
        answer
            .expect_initialized::<reqwest::Error>()
            .await
            .expect("an initialize result");
    }

    assert_eq!(browser.opened(), 1);
    assert_eq!(grant_types(&server), ["authorization_code"]);
    assert_eq!(logged(&server, RequestKind::Registration).len(), 1);
    let statuses: Vec<u16> = logged(&server, RequestKind::Mcp)
        .iter()
        .map(|r| r.status)
        .collect();
    assert!(statuses.contains(&401), "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 200).count() as u64, TASKS);
    assert_no_violations(&server);
}
