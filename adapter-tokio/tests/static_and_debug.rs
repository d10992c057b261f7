//! A configured static `Authorization` header never enters OAuth, and no `Debug` output of the
//! public types shows a secret.

mod common;

use std::sync::Arc;

use common::*;
use mcp_oauth_core::{AuthStatus, Config, HttpRequest};
use mcp_oauth_store::{MemoryStore, SessionStore, StoreError};
use mcp_oauth_tokio::{AdapterError, Authorizer, NoBrowser, Options};

const STATIC: &str = "Bearer static-SECRET-value";

async fn static_authorizer() -> (Authorizer, MemoryStore, Arc<FakeAs>) {
    let store = MemoryStore::new();
    // A stored OAuth session exists, but the static header must win and never touch it.
    store.save(SERVER, &expired_session()).unwrap();
    let fake = FakeAs::new();
    let mut o = Options::new(Arc::new(store.clone()));
    o.http_client = Some(Arc::new(FakeClient(Arc::clone(&fake))));
    o.browser = Arc::new(NoBrowser);
    o.static_authorization = Some(STATIC.into());
    let auth = Authorizer::new(Config::new(SERVER), o).await.unwrap();
    (auth, store, fake)
}

#[tokio::test]
async fn static_header_is_returned_as_is() {
    let (auth, store, fake) = static_authorizer().await;
    assert_eq!(auth.header().await.unwrap().expose_secret(), STATIC);
    assert_eq!(auth.status(), AuthStatus::Authorized);
    // An explicit login cannot happen in this mode: say so rather than pretend (both adapters).
    assert!(matches!(
        auth.login().await,
        Err(mcp_oauth_tokio::AdapterError::Auth(
            mcp_oauth_core::Error::Config(_)
        ))
    ));
    auth.logout().await.unwrap();
    assert!(fake.log().is_empty(), "no OAuth request: {:?}", fake.log());
    assert!(auth.request_counts().is_empty());
    assert_eq!(
        stored_access_token(&store).as_deref(),
        Some("at-1"),
        "store untouched"
    );
}

#[tokio::test]
async fn static_header_rejection_is_reported_never_refreshed() {
    let (auth, _store, fake) = static_authorizer().await;
    for status in [401u16, 403] {
        let err = auth
            .handle_response(status, &["Bearer error=\"invalid_token\"".into()])
            .await
            .unwrap_err();
        assert!(
            matches!(err, AdapterError::StaticHeaderRejected { status: s } if s == status),
            "{err:?}"
        );
    }
    // `send` attaches the header; the fake MCP server rejects it (unknown token).
    fake.rejected
        .lock()
        .unwrap()
        .push("static-SECRET-value".into());
    let err = auth.send(HttpRequest::get_json(SERVER)).await.unwrap_err();
    assert!(
        matches!(err, AdapterError::StaticHeaderRejected { status: 401 }),
        "{err:?}"
    );
    assert!(err
        .to_string()
        .contains("check the configured Authorization header"));
    assert_eq!(
        fake.mcp_headers.lock().unwrap().clone(),
        vec![Some(STATIC.to_owned())],
        "sent once, never retried"
    );
    assert_eq!(fake.log(), vec!["GET https://mcp.example.com/mcp"]);
}

#[tokio::test]
async fn debug_output_shows_no_secret() {
    let (auth, _store, _fake) = static_authorizer().await;
    let mut o = Options::new(Arc::new(MemoryStore::new()));
    o.static_authorization = Some(STATIC.into());
    let oauth = {
        let store = MemoryStore::new();
        store
            .save(
                SERVER,
                &session("at-SECRET", Some("rt-SECRET"), Some(wall_now() + 3600)),
            )
            .unwrap();
        let mut o = Options::new(Arc::new(store));
        o.http_client = Some(Arc::new(FakeClient(FakeAs::new())));
        Authorizer::new(Config::new(SERVER), o).await.unwrap()
    };
    let header = oauth.header().await.unwrap();
    let errors = [
        AdapterError::StaticHeaderRejected { status: 401 },
        AdapterError::LoginRequired,
        AdapterError::Store(StoreError::Keychain("locked".into())),
        AdapterError::Http(mcp_oauth_core::TransportError::new(
            mcp_oauth_core::TransportErrorKind::Connect,
            "connection refused",
        )),
    ];
    let mut shown = vec![
        format!("{auth:?}"),
        format!("{oauth:?}"),
        format!("{o:?}"),
        format!("{header:?}"),
        format!("{:?}", oauth.session()),
    ];
    shown.extend(errors.iter().map(|e| format!("{e:?} / {e}")));
    for s in &shown {
        assert!(!s.contains("SECRET"), "secret leaked: {s}");
    }
    assert!(format!("{o:?}").contains("static_authorization: Some(\"[redacted]\")"));
    assert!(format!("{oauth:?}").contains("https://mcp.example.com/mcp"));
}

/// Hosts spawn these futures on multi-thread runtimes and share the authorizer across tasks.
#[test]
fn public_futures_are_send_and_the_authorizer_is_shareable() {
    fn send<T: Send>(_: &T) {}
    fn shareable<T: Send + Sync + Clone + 'static>() {}
    shareable::<Authorizer>();
    shareable::<Options>();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let auth = rt.block_on(async {
        let mut o = Options::new(Arc::new(MemoryStore::new()));
        o.http_client = Some(Arc::new(FakeClient(FakeAs::new())));
        Authorizer::new(Config::new(SERVER), o).await.unwrap()
    });
    let used = mcp_oauth_core::AuthorizationHeader::new("Bearer x");
    send(&auth.header());
    send(&auth.login());
    send(&auth.logout());
    send(&auth.handle_response(401, &[]));
    send(&auth.handle_response_for(&used, 401, &[]));
    send(&auth.request_succeeded());
    send(&auth.send(HttpRequest::get_json(SERVER)));
    send(&Authorizer::new(
        Config::new(SERVER),
        Options::new(Arc::new(MemoryStore::new())),
    ));
}
