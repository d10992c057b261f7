//! End to end with a real rmcp 3.11.0 client over real sockets: login through the authorizer's
//! loopback listener, a restart from the file store with no OAuth request at all, and the
//! authorizer's error surfacing through rmcp when no login is allowed.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::*;
use mcp_oauth_core::{AuthStatus, Step};
use mcp_oauth_rmcp::{authorization_error, AdapterError};
use mcp_oauth_testbed::testbed::{RequestKind, TestbedConfig};
use mcp_oauth_tokio::{FileStore, MemoryStore, SessionStore};
use rmcp::service::ClientInitializeError;
use rmcp::transport::streamable_http_client::StreamableHttpError;
use rmcp::ServiceExt;

fn login_counts() -> BTreeMap<Step, u64> {
    [
        (Step::ResourceMetadata, 1),
        (Step::ServerMetadata, 1),
        (Step::Registration, 1),
        (Step::TokenExchange, 1),
    ]
    .into_iter()
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rmcp_logs_in_through_the_loopback_listener_and_lists_tools() {
    let server = start(TestbedConfig::default());
    let store = MemoryStore::new();
    let browser = ScriptedBrowser::default();
    let auth = authorizer(Arc::new(store.clone()), &browser, client_config(&server)).await;

    let client = connect(&auth, &server.mcp_url()).await;
    assert_lists_tools(&client).await;

    assert_eq!(auth.request_counts(), login_counts());
    assert_eq!(browser.opened(), 1);
    assert_eq!(auth.status(), AuthStatus::Authorized);
    let token = stored(&store, auth.server()).tokens.expect("stored tokens");
    assert!(token.refresh_token.is_some());
    // The first request went out bare and its 401 challenge drove discovery (RFC 9728 §5.1);
    // every later MCP request rmcp made (initialize again, the initialized notification,
    // tools/list, any GET for the server's stream) carried the token (MCP "Access Token Usage").
    let schemes = mcp_schemes(&server);
    assert!(schemes.len() >= 4, "{schemes:?}");
    assert_eq!(schemes[0], None);
    assert!(
        schemes[1..].iter().all(|s| s.as_deref() == Some("Bearer")),
        "{schemes:?}"
    );
    let statuses: Vec<u16> = logged(&server, RequestKind::Mcp)
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses[0], 401);
    let first_token = kinds(&server).iter().position(|k| *k == RequestKind::Token);
    assert_eq!(
        first_token.map(|i| kinds(&server)[..i].to_vec()),
        Some(vec![
            RequestKind::Mcp,
            RequestKind::ResourceMetadata,
            RequestKind::ServerMetadata,
            RequestKind::Registration,
            RequestKind::Authorize,
        ])
    );
    assert_eq!(logged(&server, RequestKind::Authorize).len(), 1);
    assert_no_violations(&server);
    client.cancel().await.expect("close the session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restart_from_the_file_store_makes_no_oauth_request() {
    let server = start(TestbedConfig::default());
    let dir = tempfile::tempdir().expect("temp dir");
    let browser = ScriptedBrowser::default();
    let first: Arc<dyn SessionStore> = Arc::new(FileStore::new(dir.path()).expect("file store"));
    let auth = authorizer(first, &browser, client_config(&server)).await;
    let client = connect(&auth, &server.mcp_url()).await;
    assert_lists_tools(&client).await;
    client.cancel().await.expect("close the session");
    let key = auth.server().to_owned();
    drop(auth);
    server.with_testbed(|t| t.clear_log());

    // A new process: a new store object on the same directory, a new authorizer, a new client.
    let again: Arc<dyn SessionStore> = Arc::new(FileStore::new(dir.path()).expect("file store"));
    let auth = authorizer(again, &browser, client_config(&server)).await;
    assert_eq!(auth.server(), key);
    assert_eq!(auth.status(), AuthStatus::Authorized);
    let client = connect(&auth, &server.mcp_url()).await;
    assert_lists_tools(&client).await;
    client.cancel().await.expect("close the session");

    let kinds = kinds(&server);
    assert!(!kinds.is_empty());
    assert!(kinds.iter().all(|k| *k == RequestKind::Mcp), "{kinds:?}");
    assert!(
        auth.request_counts().is_empty(),
        "{:?}",
        auth.request_counts()
    );
    assert_eq!(browser.opened(), 1);
    assert_no_violations(&server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_a_token_and_without_interaction_rmcp_reports_login_required() {
    let server = start(TestbedConfig::default());
    let browser = ScriptedBrowser::default();
    let mut config = client_config(&server);
    config.interactive = false;
    let auth = authorizer(Arc::new(MemoryStore::new()), &browser, config).await;
    let client = mcp_oauth_rmcp::McpOAuthClient::with_reqwest(auth.clone()).expect("client");
    let transport = rmcp::transport::StreamableHttpClientTransport::with_client(
        client,
        transport_config(&server.mcp_url(), 16),
    );

    let error = tokio::time::timeout(BOUND, ().serve(transport))
        .await
        .expect("initialize in time")
        .expect_err("no token, no login: initialize must fail");

    let ClientInitializeError::TransportError { error, .. } = &error else {
        panic!("expected a transport error, got {error}");
    };
    let transport_error = error
        .error
        .downcast_ref::<StreamableHttpError<reqwest::Error>>()
        .expect("the transport's own error type");
    assert!(
        matches!(
            authorization_error(transport_error),
            Some(AdapterError::LoginRequired)
        ),
        "{transport_error}"
    );
    assert_eq!(browser.opened(), 0);
    // Only the bare first request went out: its 401 asked for a login the config forbids.
    assert_eq!(kinds(&server), [RequestKind::Mcp]);
}
