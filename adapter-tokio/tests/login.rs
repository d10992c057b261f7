//! Whole logins through the public API against the in-memory authorization server: the
//! conformance-style browser (`Redirected`), the real loopback callback, forged callbacks,
//! timeouts, cancellation, the stale session rule and logout.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use mcp_oauth_core::{AuthStatus, BrowserRequest, Config, Error, Step};
use mcp_oauth_store::{MemoryStore, SessionStore};
use mcp_oauth_tokio::{
    AdapterError, Authorizer, Browser, BrowserOutcome, FnBrowser, NoBrowser, Options,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BOUND: Duration = Duration::from_secs(20);

async fn authorizer(
    store: &MemoryStore,
    fake: &Arc<FakeAs>,
    browser: Arc<dyn Browser>,
    config: Config,
) -> Authorizer {
    let mut o = Options::new(Arc::new(store.clone()));
    o.http_client = Some(Arc::new(FakeClient(Arc::clone(fake))));
    o.browser = browser;
    o.paste_from_stdin = false;
    Authorizer::new(config, o).await.unwrap()
}

/// The conformance "browser": the AS's 302 `Location`, returned without following it.
fn redirecting_browser(fake: &Arc<FakeAs>) -> Arc<dyn Browser> {
    let fake = Arc::clone(fake);
    Arc::new(FnBrowser(move |req: &BrowserRequest| {
        let location = fake.authorize(&req.url);
        async move { BrowserOutcome::Redirected(location) }
    }))
}

/// A browser that follows the redirect to the loopback listener with a real HTTP GET.
fn loopback_browser(fake: &Arc<FakeAs>) -> Arc<dyn Browser> {
    let fake = Arc::clone(fake);
    Arc::new(FnBrowser(move |req: &BrowserRequest| {
        let location = fake.authorize(&req.url);
        async move {
            let url = url::Url::parse(&location).unwrap();
            let port = url.port().unwrap();
            let target = format!("{}?{}", url.path(), url.query().unwrap());
            let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .unwrap();
            s.write_all(format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
                .await
                .unwrap();
            let mut page = String::new();
            s.read_to_string(&mut page).await.unwrap();
            assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
            BrowserOutcome::Opened
        }
    }))
}

fn login_counts() -> Vec<(Step, u64)> {
    vec![
        (Step::ResourceMetadata, 1),
        (Step::ServerMetadata, 1),
        (Step::Registration, 1),
        (Step::TokenExchange, 1),
    ]
}

#[tokio::test]
async fn first_header_logs_in_with_a_redirecting_browser() {
    let (store, fake) = (MemoryStore::new(), FakeAs::new());
    let auth = authorizer(
        &store,
        &fake,
        redirecting_browser(&fake),
        Config::new(SERVER),
    )
    .await;
    let mut status = auth.subscribe_status();
    let header = tokio::time::timeout(BOUND, auth.header())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(header.expose_secret(), "Bearer at-2");
    assert_eq!(stored_access_token(&store).as_deref(), Some("at-2"));
    assert_eq!(
        auth.request_counts().into_iter().collect::<Vec<_>>(),
        login_counts()
    );
    assert_eq!(
        fake.log(),
        vec![
            "GET https://mcp.example.com/.well-known/oauth-protected-resource/mcp",
            "GET https://as.example.com/.well-known/oauth-authorization-server",
            "POST https://as.example.com/register",
            "POST https://as.example.com/token",
        ]
    );
    assert_eq!(auth.status(), AuthStatus::Authorized);
    assert_eq!(*status.borrow_and_update(), AuthStatus::Authorized);
    // The DCR client is stored with the loopback redirect URI it was registered with.
    let saved = store.load(SERVER).unwrap().unwrap();
    assert!(saved
        .client
        .redirect_uri
        .unwrap()
        .starts_with("http://127.0.0.1:"));
}

#[tokio::test]
async fn login_completes_through_the_loopback_listener() {
    let (store, fake) = (MemoryStore::new(), FakeAs::new());
    let auth = authorizer(&store, &fake, loopback_browser(&fake), Config::new(SERVER)).await;
    tokio::time::timeout(BOUND, auth.login())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(auth.header().await.unwrap().expose_secret(), "Bearer at-2");
    assert_eq!(stored_access_token(&store).as_deref(), Some("at-2"));
}

#[tokio::test]
async fn a_forged_redirect_is_ignored_and_the_wait_goes_on() {
    let (store, fake) = (MemoryStore::new(), FakeAs::new());
    let real = loopback_browser(&fake);
    // Report a forged redirect at once, and let the real browser hit the loopback later.
    let browser = Arc::new(FnBrowser(move |req: &BrowserRequest| {
        let (real, req) = (Arc::clone(&real), req.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            real.open(&req).await
        });
        async move {
            BrowserOutcome::Redirected("http://127.0.0.1:1/callback?code=evil&state=forged".into())
        }
    }));
    let auth = authorizer(&store, &fake, browser, Config::new(SERVER)).await;
    tokio::time::timeout(BOUND, auth.login())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(auth.header().await.unwrap().expose_secret(), "Bearer at-2");
}

#[tokio::test]
async fn no_callback_times_out() {
    let (store, fake) = (MemoryStore::new(), FakeAs::new());
    let mut config = Config::new(SERVER);
    config.authorization_timeout = Duration::from_millis(200);
    let auth = authorizer(&store, &fake, Arc::new(NoBrowser), config).await;
    let err = tokio::time::timeout(BOUND, auth.header())
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(err, AdapterError::Auth(Error::AuthorizationTimeout)),
        "{err:?}"
    );
    assert!(matches!(
        auth.status(),
        AuthStatus::AuthorizationRequired { .. }
    ));
    // A timeout is no reason to forget the registration-free state: nothing was stored.
    assert!(store.load(SERVER).unwrap().is_none());
}

#[tokio::test]
async fn cancel_stops_a_waiting_login() {
    let (store, fake) = (MemoryStore::new(), FakeAs::new());
    let auth = authorizer(&store, &fake, Arc::new(NoBrowser), Config::new(SERVER)).await;
    let mut status = auth.subscribe_status();
    let login = {
        let auth = auth.clone();
        tokio::spawn(async move { auth.login().await })
    };
    tokio::time::timeout(BOUND, async {
        while !matches!(
            *status.borrow_and_update(),
            AuthStatus::WaitingForBrowser { .. }
        ) {
            status.changed().await.unwrap();
        }
    })
    .await
    .unwrap();
    auth.cancel();
    let err = tokio::time::timeout(BOUND, login)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, AdapterError::Cancelled), "{err:?}");
    assert!(matches!(
        auth.status(),
        AuthStatus::AuthorizationRequired { .. }
    ));
    assert!(matches!(
        *status.borrow_and_update(),
        AuthStatus::AuthorizationRequired { .. }
    ));
    // The authorizer is usable again.
    auth.cancel(); // idle: no effect
    assert!(auth.session().is_none_or(|s| s.tokens.is_none()));
}

#[tokio::test]
async fn a_failed_login_discards_a_stale_session() {
    let store = MemoryStore::new();
    let mut stale = expired_session();
    stale.tokens = None; // a stored registration without tokens
    store.save(SERVER, &stale).unwrap();
    let fake = FakeAs::new();
    *fake.exchange_mode.lock().unwrap() = ExchangeMode::InvalidGrant;
    let auth = authorizer(
        &store,
        &fake,
        redirecting_browser(&fake),
        Config::new(SERVER),
    )
    .await;
    let err = tokio::time::timeout(BOUND, auth.login())
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(&err, AdapterError::Auth(Error::OAuth { code, .. }) if code == "invalid_grant"),
        "{err:?}"
    );
    assert!(
        store.load(SERVER).unwrap().is_none(),
        "stale session deleted"
    );
    assert!(auth.session().is_none());
}

#[tokio::test]
async fn a_transport_failure_keeps_the_stored_session() {
    let store = MemoryStore::new();
    let mut stale = expired_session();
    stale.tokens = None;
    store.save(SERVER, &stale).unwrap();
    let fake = FakeAs::new();
    *fake.exchange_mode.lock().unwrap() = ExchangeMode::NetworkError;
    let auth = authorizer(
        &store,
        &fake,
        redirecting_browser(&fake),
        Config::new(SERVER),
    )
    .await;
    let err = tokio::time::timeout(BOUND, auth.login())
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(
            &err,
            AdapterError::Auth(Error::Transport {
                step: Step::TokenExchange,
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(
        store.load(SERVER).unwrap().unwrap().client.client_id,
        "client-1"
    );
}

#[tokio::test]
async fn logout_revokes_and_clears() {
    let store = MemoryStore::new();
    store.save(SERVER, &valid_session()).unwrap();
    let fake = FakeAs::new();
    let auth = authorizer(&store, &fake, Arc::new(NoBrowser), Config::new(SERVER)).await;
    auth.logout().await.unwrap();
    assert_eq!(
        fake.log(),
        vec![
            "POST https://as.example.com/revoke",
            "POST https://as.example.com/revoke"
        ]
    );
    assert_eq!(auth.request_counts().get(&Step::Revocation), Some(&2));
    assert!(store.load(SERVER).unwrap().is_none());
    assert!(auth.session().is_none());
    assert!(matches!(
        auth.status(),
        AuthStatus::AuthorizationRequired { .. }
    ));
}

#[tokio::test]
async fn non_interactive_without_session_is_login_required_without_requests() {
    let (store, fake) = (MemoryStore::new(), FakeAs::new());
    let mut config = Config::new(SERVER);
    config.interactive = false;
    let auth = authorizer(&store, &fake, Arc::new(NoBrowser), config).await;
    let err = auth.header().await.unwrap_err();
    assert!(matches!(err, AdapterError::LoginRequired), "{err:?}");
    assert!(fake.log().is_empty());
}
