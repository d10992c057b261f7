//! Single flight: many concurrent callers with an expired token cause exactly one refresh
//! request, all get the same new token, and that token is in the store before anyone gets it.
//! Failures and cancellations of the one drive reach every waiter.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use mcp_oauth_core::{AuthStatus, Config, Error, HttpRequest, Step};
use mcp_oauth_store::{MemoryStore, SessionStore, StoreError};
use mcp_oauth_tokio::{AdapterError, Authorizer, NoBrowser, Options};
use tokio::sync::Barrier;

/// Generous bound: every test here finishes in well under a second.
const BOUND: Duration = Duration::from_secs(20);

fn options(store: Arc<dyn SessionStore>, fake: &Arc<FakeAs>) -> Options {
    let mut o = Options::new(store);
    o.http_client = Some(Arc::new(FakeClient(Arc::clone(fake))));
    o.browser = Arc::new(NoBrowser);
    o.paste_from_stdin = false;
    o
}

fn non_interactive() -> Config {
    let mut c = Config::new(SERVER);
    c.interactive = false;
    c
}

async fn authorizer_with(
    session: mcp_oauth_core::Session,
) -> (Authorizer, MemoryStore, Arc<FakeAs>) {
    let store = MemoryStore::new();
    store.save(SERVER, &session).unwrap();
    let fake = FakeAs::new();
    let auth = Authorizer::new(non_interactive(), options(Arc::new(store.clone()), &fake))
        .await
        .unwrap();
    (auth, store, fake)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_concurrent_callers_cause_one_refresh() {
    let (auth, store, fake) = authorizer_with(expired_session()).await;
    assert_eq!(fake.refreshes(), 0, "construction makes no request");
    let barrier = Arc::new(Barrier::new(100));
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (auth, store, barrier) = (auth.clone(), store.clone(), Arc::clone(&barrier));
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let header = auth.header().await.expect("header");
            // The rotated token must already be stored when a caller receives it.
            let stored = stored_access_token(&store);
            (header.expose_secret().to_owned(), stored)
        }));
    }
    let results = tokio::time::timeout(BOUND, async {
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    })
    .await
    .expect("no stall");
    assert_eq!(fake.refreshes(), 1, "exactly one refresh request");
    for (header, stored) in &results {
        assert_eq!(header, "Bearer at-2");
        assert_eq!(stored.as_deref(), Some("at-2"));
    }
    let saved = store.load(SERVER).unwrap().unwrap();
    let tokens = saved.tokens.unwrap();
    assert_eq!(tokens.refresh_token.unwrap().expose_secret(), "rt-2");
    assert_eq!(auth.request_counts().get(&Step::Refresh), Some(&1));
    assert_eq!(auth.request_counts().len(), 1);
    assert_eq!(auth.status(), AuthStatus::Authorized);
    assert_eq!(fake.log(), vec!["POST https://as.example.com/token"]);
}

#[tokio::test]
async fn valid_token_needs_no_request() {
    let (auth, _store, fake) = authorizer_with(valid_session()).await;
    for _ in 0..3 {
        assert_eq!(auth.header().await.unwrap().expose_secret(), "Bearer at-1");
    }
    assert!(fake.log().is_empty());
    assert!(auth.request_counts().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_refresh_reaches_every_waiter_once() {
    let (auth, _store, fake) = authorizer_with(expired_session()).await;
    *fake.refresh_mode.lock().unwrap() = RefreshMode::NetworkError;
    let barrier = Arc::new(Barrier::new(20));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (auth, barrier) = (auth.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                auth.header().await
            })
        })
        .collect();
    for t in tasks {
        let err = tokio::time::timeout(BOUND, t)
            .await
            .unwrap()
            .unwrap()
            .unwrap_err();
        match err {
            AdapterError::Auth(Error::Transport {
                step,
                kind,
                message,
            }) => {
                assert_eq!(step, Step::Refresh);
                assert_eq!(kind, mcp_oauth_core::TransportErrorKind::Connect);
                assert_eq!(message, "connection reset");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(fake.refreshes(), 1, "the waiters share the one failure");
    // The next call is a new drive: it refreshes again and succeeds.
    *fake.refresh_mode.lock().unwrap() = RefreshMode::Rotate;
    assert_eq!(auth.header().await.unwrap().expose_secret(), "Bearer at-2");
    assert_eq!(fake.refreshes(), 2);
}

#[tokio::test]
async fn store_failure_fails_and_never_hands_out_the_new_token() {
    let memory = MemoryStore::new();
    memory.save(SERVER, &expired_session()).unwrap();
    let flaky = Arc::new(FlakyStore::new(memory.clone()));
    let fake = FakeAs::new();
    let auth = Authorizer::new(non_interactive(), options(flaky.clone(), &fake))
        .await
        .unwrap();
    let err = auth.header().await.unwrap_err();
    assert!(
        matches!(&err, AdapterError::Store(StoreError::Keychain(m)) if m == "the keychain is locked"),
        "{err:?}"
    );
    assert_eq!(fake.refreshes(), 1);
    assert_eq!(flaky.saves.load(Ordering::SeqCst), 1);
    // Neither memory nor the store holds the unsaved token.
    let in_memory = auth.session().unwrap().tokens.unwrap();
    assert_eq!(in_memory.access_token.expose_secret(), "at-1");
    assert_eq!(stored_access_token(&memory).as_deref(), Some("at-1"));
    // Once the store works again, the next call refreshes and stores.
    flaky.fail_saves.store(false, Ordering::SeqCst);
    assert_eq!(auth.header().await.unwrap().expose_secret(), "Bearer at-3");
    assert_eq!(stored_access_token(&memory).as_deref(), Some("at-3"));
}

#[tokio::test]
async fn invalid_grant_without_interaction_is_login_required() {
    let (auth, store, fake) = authorizer_with(expired_session()).await;
    *fake.refresh_mode.lock().unwrap() = RefreshMode::InvalidGrant;
    let err = auth.header().await.unwrap_err();
    assert!(matches!(err, AdapterError::LoginRequired), "{err:?}");
    // The dead tokens were dropped from the store; the client registration stays.
    let saved = store.load(SERVER).unwrap().unwrap();
    assert!(saved.tokens.is_none());
    assert_eq!(saved.client.client_id, "client-1");
    assert!(matches!(
        auth.status(),
        AuthStatus::AuthorizationRequired { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dropping_the_driver_cancels_its_waiters_and_recovers() {
    let store = MemoryStore::new();
    store.save(SERVER, &expired_session()).unwrap();
    let fake = FakeAs::with_delay(Duration::from_millis(300));
    let auth = Authorizer::new(non_interactive(), options(Arc::new(store.clone()), &fake))
        .await
        .unwrap();
    // The driver gives up after 100 ms, in the middle of the refresh request.
    let driver = {
        let auth = auth.clone();
        tokio::spawn(async move {
            tokio::time::timeout(Duration::from_millis(100), auth.header()).await
        })
    };
    while fake.refreshes() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let waiters: Vec<_> = (0..5)
        .map(|_| {
            let auth = auth.clone();
            tokio::spawn(async move { auth.header().await })
        })
        .collect();
    assert!(driver.await.unwrap().is_err(), "the driver timed out");
    for w in waiters {
        let err = tokio::time::timeout(BOUND, w)
            .await
            .unwrap()
            .unwrap()
            .unwrap_err();
        assert!(matches!(err, AdapterError::Cancelled), "{err:?}");
    }
    // The machine was reset to the stored session: a new call refreshes normally. (The
    // abandoned request never got its answer, so the fake issued nothing for it.)
    assert_eq!(auth.header().await.unwrap().expose_secret(), "Bearer at-2");
    assert_eq!(fake.refreshes(), 2);
    assert_eq!(stored_access_token(&store).as_deref(), Some("at-2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_401s_cause_one_refresh_and_every_request_is_retried() {
    let (auth, _store, fake) = authorizer_with(valid_session()).await;
    // The MCP server revoked at-1 early: every request with it gets 401.
    fake.rejected.lock().unwrap().push("at-1".into());
    let barrier = Arc::new(Barrier::new(10));
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (auth, barrier) = (auth.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                auth.send(HttpRequest::get_json(SERVER)).await
            })
        })
        .collect();
    for t in tasks {
        let resp = tokio::time::timeout(BOUND, t)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(resp.body, br#"{"ok":"at-2"}"#);
    }
    assert_eq!(fake.refreshes(), 1);
    let seen = fake.mcp_headers.lock().unwrap().clone();
    assert!(seen
        .iter()
        .all(|h| matches!(h.as_deref(), Some("Bearer at-1" | "Bearer at-2"))));
    assert_eq!(
        seen.iter()
            .filter(|h| h.as_deref() == Some("Bearer at-2"))
            .count(),
        10
    );
}

#[tokio::test]
async fn handle_response_refreshes_after_401_and_reports_ok() {
    let (auth, _store, fake) = authorizer_with(valid_session()).await;
    let www = vec!["Bearer error=\"invalid_token\"".to_owned()];
    auth.handle_response(401, &www).await.unwrap();
    assert_eq!(fake.refreshes(), 1);
    assert_eq!(auth.header().await.unwrap().expose_secret(), "Bearer at-2");
    // A 403 without insufficient_scope is the server's refusal, not a token problem.
    let err = auth.handle_response(403, &[]).await.unwrap_err();
    assert!(
        matches!(err, AdapterError::Auth(Error::Forbidden)),
        "{err:?}"
    );
    // Non-challenges do nothing.
    auth.handle_response(200, &[]).await.unwrap();
    auth.handle_response(500, &[]).await.unwrap();
    assert_eq!(fake.refreshes(), 1);
}

#[tokio::test]
async fn a_late_401_for_an_already_replaced_token_just_retries() {
    let (auth, _store, fake) = authorizer_with(valid_session()).await;
    let old = auth.header().await.unwrap();
    let www = vec!["Bearer error=\"invalid_token\"".to_owned()];
    // Two requests carried the old token; their 401s are handled one after the other.
    auth.handle_response_for(&old, 401, &www).await.unwrap();
    auth.handle_response_for(&old, 401, &www).await.unwrap();
    assert_eq!(
        fake.refreshes(),
        1,
        "the second 401 was for a token already replaced"
    );
    assert_eq!(auth.header().await.unwrap().expose_secret(), "Bearer at-2");
    // Without the header, a second 401 means "the refreshed token was rejected too": the core
    // re-authorizes, which this non-interactive configuration refuses.
    let err = auth.handle_response(401, &www).await.unwrap_err();
    assert!(matches!(err, AdapterError::LoginRequired), "{err:?}");
    assert_eq!(fake.refreshes(), 1);
}
