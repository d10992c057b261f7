//! End to end, tokio adapter: `mcp_oauth_tokio::Authorizer` with its real reqwest client and
//! its real loopback listener, against the testbed served on loopback sockets with its strict
//! default configuration (DCR, S256, `iss`, rotating refresh tokens, RFC 7009 revocation). The
//! "user" is a scripted browser that GETs the authorization URL and then the loopback callback.
//!
//! Issue "Adapters", "Tests that must exist and pass": login, restart without discovery,
//! refresh on expiry, 401 recovery, step-up, logout with revocation, the refresh stampede.

mod e2e_common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use e2e_common::*;
use mcp_oauth_core::{AuthStatus, BrowserRequest, Config, HttpRequest, HttpResponse, Step};
use mcp_oauth_store::{FileStore, MemoryStore, SessionStore};
use mcp_oauth_tests::serve::TestbedServer;
use mcp_oauth_tests::testbed::{RequestKind, TestbedConfig};
use mcp_oauth_tokio::{
    Authorizer, Browser, BrowserOutcome, FnBrowser, HttpClient, Options, ReqwestClient,
};
use serde_json::Value;

/// The scripted browser as the tokio adapter's opener (the TCP work runs on a blocking thread).
fn opener(browser: &ScriptedBrowser) -> Arc<dyn Browser> {
    let browser = browser.clone();
    Arc::new(FnBrowser(move |req: &BrowserRequest| {
        let (browser, url) = (browser.clone(), req.url.clone());
        async move {
            match tokio::task::spawn_blocking(move || browser.browse(&url)).await {
                Ok(true) => BrowserOutcome::Opened,
                Ok(false) => BrowserOutcome::Unavailable("scripted browser failed".into()),
                Err(e) => BrowserOutcome::Unavailable(e.to_string()),
            }
        }
    }))
}

async fn authorizer(
    store: Arc<dyn SessionStore>,
    browser: &ScriptedBrowser,
    config: Config,
) -> Authorizer {
    let mut options = Options::new(store);
    options.browser = opener(browser);
    options.paste_from_stdin = false;
    Authorizer::new(config, options)
        .await
        .expect("build the authorizer")
}

async fn send(auth: &Authorizer, request: HttpRequest) -> HttpResponse {
    tokio::time::timeout(BOUND, auth.send(request))
        .await
        .expect("send finished in time")
        .expect("send succeeded")
}

async fn list_tools(auth: &Authorizer, server_url: &str) -> Value {
    let call = Call::tools_list(server_url);
    let response = send(auth, call.request.clone()).await;
    call.result(&response)
}

/// A plain client for requests made without the authorizer (probes, replays).
fn plain_client() -> ReqwestClient {
    ReqwestClient::new(Duration::from_secs(10), Duration::from_secs(30)).expect("reqwest client")
}

fn counts(pairs: &[(Step, u64)]) -> BTreeMap<Step, u64> {
    pairs.iter().copied().collect()
}

fn login_counts() -> BTreeMap<Step, u64> {
    counts(&[
        (Step::ResourceMetadata, 1),
        (Step::ServerMetadata, 1),
        (Step::Registration, 1),
        (Step::TokenExchange, 1),
    ])
}

/// Logs in on `store` through the scripted browser and lists the tools once.
async fn logged_in(
    server: &TestbedServer,
    store: Arc<dyn SessionStore>,
    browser: &ScriptedBrowser,
) -> Authorizer {
    let auth = authorizer(store, browser, client_config(server)).await;
    assert_tools(&list_tools(&auth, &server.mcp_url()).await);
    assert_eq!(browser.failures(), Vec::<String>::new());
    auth
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn login_through_the_loopback_listener_then_tools_list() {
    let server = start(TestbedConfig::default());
    let store = MemoryStore::new();
    let browser = ScriptedBrowser::new();
    let auth = authorizer(Arc::new(store.clone()), &browser, client_config(&server)).await;

    assert_tools(&list_tools(&auth, &server.mcp_url()).await);

    let (access, refresh) = stored_tokens(&store, auth.server());
    assert!(refresh.is_some());
    assert_first_login(&server, &browser, &access);
    assert_eq!(auth.request_counts(), login_counts());
    assert_eq!(auth.status(), AuthStatus::Authorized);
    assert_no_violations(&server);
}

/// Logs in with one authorizer, then builds a new one on `restarted` (the same sessions) and
/// checks it calls the MCP server with no OAuth request at all.
async fn restart_makes_no_oauth_request(
    first: Arc<dyn SessionStore>,
    restarted: Arc<dyn SessionStore>,
) {
    let server = start(TestbedConfig::default());
    let browser = ScriptedBrowser::new();
    let key = logged_in(&server, first, &browser)
        .await
        .server()
        .to_string();
    clear_log(&server);

    let auth = authorizer(restarted, &browser, client_config(&server)).await;
    assert_eq!(auth.server(), key);
    assert_eq!(auth.status(), AuthStatus::Authorized);
    assert_tools(&list_tools(&auth, &server.mcp_url()).await);

    assert_eq!(kinds(&server), [RequestKind::Mcp]);
    assert!(
        auth.request_counts().is_empty(),
        "{:?}",
        auth.request_counts()
    );
    assert_eq!(browser.opened(), 1);
    assert_no_violations(&server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restart_from_the_memory_store_makes_no_oauth_request() {
    let store = MemoryStore::new();
    restart_makes_no_oauth_request(Arc::new(store.clone()), Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restart_from_the_file_store_makes_no_oauth_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = FileStore::new(dir.path()).expect("file store");
    let restarted = FileStore::new(dir.path()).expect("file store, reopened");
    restart_makes_no_oauth_request(Arc::new(first), Arc::new(restarted)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_stored_token_is_refreshed_once_and_the_rotation_stored() {
    let server = start(TestbedConfig::default());
    let store = MemoryStore::new();
    let browser = ScriptedBrowser::new();
    let key = logged_in(&server, Arc::new(store.clone()), &browser)
        .await
        .server()
        .to_string();
    let (access0, refresh0) = stored_tokens(&store, &key);
    expire_stored_access_token(&store, &key);
    clear_log(&server);

    let auth = authorizer(Arc::new(store.clone()), &browser, client_config(&server)).await;
    assert_tools(&list_tools(&auth, &server.mcp_url()).await);

    assert_eq!(kinds(&server), [RequestKind::Token, RequestKind::Mcp]);
    assert_eq!(grant_types(&server), ["refresh_token"]);
    let token = logged(&server, RequestKind::Token);
    assert_eq!(token[0].form_value("refresh_token"), refresh0.as_deref());
    let (access1, refresh1) = stored_tokens(&store, &key);
    assert_ne!(access1, access0);
    assert!(
        refresh1.is_some() && refresh1 != refresh0,
        "rotated refresh token stored"
    );
    let mcp = logged(&server, RequestKind::Mcp);
    assert_eq!(mcp[0].authorization, Some(format!("Bearer {access1}")));
    assert_eq!(auth.request_counts(), counts(&[(Step::Refresh, 1)]));
    drop(auth);

    // The stored rotated token is the live one: the next refresh spends it successfully (the
    // testbed would answer invalid_grant to the spent one and revoke the grant).
    expire_stored_access_token(&store, &key);
    clear_log(&server);
    let auth = authorizer(Arc::new(store.clone()), &browser, client_config(&server)).await;
    assert_tools(&list_tools(&auth, &server.mcp_url()).await);
    let token = logged(&server, RequestKind::Token);
    assert_eq!(token.len(), 1);
    assert_eq!(token[0].form_value("refresh_token"), refresh1.as_deref());
    assert_eq!(token[0].status, 200);
    assert_eq!(browser.opened(), 1);
    assert_no_violations(&server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_short_lived_token_is_refreshed_on_the_real_clock() {
    let server = start(TestbedConfig {
        access_token_lifetime: 10,
        ..TestbedConfig::default()
    });
    let mut config = client_config(&server);
    config.refresh_margin = Duration::from_secs(5);
    let store = MemoryStore::new();
    let browser = ScriptedBrowser::new();
    let auth = authorizer(Arc::new(store.clone()), &browser, config).await;
    assert_tools(&list_tools(&auth, &server.mcp_url()).await);
    let expires_at = auth
        .session()
        .and_then(|s| s.tokens)
        .and_then(|t| t.expires_at)
        .expect("expires_at from expires_in");
    // Wait until the token is within the refresh margin (5 s before its expiry).
    while wall_now() < expires_at - 5 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    clear_log(&server);

    assert_tools(&list_tools(&auth, &server.mcp_url()).await);
    assert_eq!(kinds(&server), [RequestKind::Token, RequestKind::Mcp]);
    assert_eq!(grant_types(&server), ["refresh_token"]);
    assert_eq!(auth.request_counts().get(&Step::Refresh), Some(&1));
    assert_no_violations(&server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_401_is_answered_by_one_refresh_and_a_retry() {
    let server = start(TestbedConfig::default());
    let browser = ScriptedBrowser::new();
    let auth = logged_in(&server, Arc::new(MemoryStore::new()), &browser).await;
    clear_log(&server);
    server.with_testbed(|t| t.revoke_all_access_tokens());

    assert_tools(&list_tools(&auth, &server.mcp_url()).await);

    assert_eq!(
        kinds(&server),
        [RequestKind::Mcp, RequestKind::Token, RequestKind::Mcp]
    );
    let statuses: Vec<u16> = server.with_testbed(|t| t.log().iter().map(|r| r.status).collect());
    assert_eq!(statuses, [401, 200, 200]);
    assert_eq!(grant_types(&server), ["refresh_token"]);
    assert_eq!(browser.opened(), 1);
    assert_no_violations(&server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn insufficient_scope_steps_up_with_the_union_of_scopes() {
    let server = start(step_up_config());
    let store = MemoryStore::new();
    let browser = ScriptedBrowser::new();
    let auth = authorizer(Arc::new(store.clone()), &browser, client_config(&server)).await;

    // An MCP client's first request goes out without a token; its 401 starts the login.
    let probe = Call::tools_list(&server.mcp_url());
    let challenge = plain_client().send(&probe.request).await.expect("probe");
    assert_eq!(challenge.status, 401);
    let www: Vec<String> = challenge
        .header_all("www-authenticate")
        .map(str::to_owned)
        .collect();
    tokio::time::timeout(BOUND, auth.handle_response(401, &www))
        .await
        .expect("in time")
        .expect("login after the challenge");
    assert_tools(&list_tools(&auth, &server.mcp_url()).await);

    // test-tool needs mcp:write: 403 insufficient_scope, step up, retry.
    let call = Call::call_test_tool(&server.mcp_url());
    let response = send(&auth, call.request.clone()).await;
    assert_eq!(call.result(&response)["content"][0]["text"], "test");

    assert_step_up(&server, &browser, &stored(&store, auth.server()).scopes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn logout_revokes_the_refresh_token_first_and_empties_the_store() {
    let server = start(TestbedConfig::default());
    let store = MemoryStore::new();
    let browser = ScriptedBrowser::new();
    let auth = logged_in(&server, Arc::new(store.clone()), &browser).await;
    let key = auth.server().to_string();
    let (access, refresh) = stored_tokens(&store, &key);
    clear_log(&server);

    tokio::time::timeout(BOUND, auth.logout())
        .await
        .expect("in time")
        .expect("logout");

    assert_logout(&server, &store, &key, (&access, refresh.as_deref()));
    assert!(
        matches!(auth.status(), AuthStatus::AuthorizationRequired { .. }),
        "{:?}",
        auth.status()
    );

    // The server agrees: the old access token is dead.
    let replay = tools_list_with(&server.mcp_url(), &access);
    assert_eq!(
        plain_client().send(&replay).await.expect("replay").status,
        401
    );
    assert_no_violations(&server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_calls_share_one_refresh() {
    let server = start(TestbedConfig::default());
    let store = MemoryStore::new();
    let browser = ScriptedBrowser::new();
    let key = logged_in(&server, Arc::new(store.clone()), &browser)
        .await
        .server()
        .to_string();
    expire_stored_access_token(&store, &key);
    clear_log(&server);
    let auth = authorizer(Arc::new(store.clone()), &browser, client_config(&server)).await;

    // All tasks start together, so they all find the token expired.
    let barrier = Arc::new(tokio::sync::Barrier::new(100));
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (auth, url, barrier) = (auth.clone(), server.mcp_url(), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                let call = Call::tools_list(&url);
                let response = tokio::time::timeout(BOUND, auth.send(call.request.clone()))
                    .await
                    .map_err(|_| "timed out".to_string())?
                    .map_err(|e| e.to_string())?;
                assert_tools(&call.result(&response));
                Ok::<(), String>(())
            })
        })
        .collect();
    for task in tasks {
        task.await
            .expect("task did not panic")
            .expect("call succeeded");
    }

    assert_one_refresh_for_all(&server, &store, &key, 100);
    assert_eq!(auth.request_counts(), counts(&[(Step::Refresh, 1)]));
    assert_eq!(browser.opened(), 1);
    assert_no_violations(&server);
}
