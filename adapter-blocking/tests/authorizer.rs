//! `Authorizer` behaviour outside the browser step: the static header mode, secrets kept out of
//! `Debug`, a failed save, non-interactive mode, 403 handling, `send` retries, short-lived
//! tokens.

#[path = "authorizer_fixture.rs"]
mod fixture;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fixture::*;
use mcp_oauth_blocking::{
    AdapterError, Authorizer, MemoryStore, NoBrowser, Options, SessionStore, StoreError,
};
use mcp_oauth_core::{HttpRequest, HttpResponse, Step};

fn options(store: Arc<dyn SessionStore>, http: Arc<dyn mcp_oauth_blocking::HttpClient>) -> Options {
    let mut o = Options::new(store);
    o.http_client = Some(http);
    o.paste_from_stdin = false;
    o.browser = Arc::new(NoBrowser);
    o
}

/// `(url, Authorization)` of every request a [`recording`] client saw.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// An HTTP client that records every request's `Authorization` and answers with `status`.
fn recording(status: u16) -> (Seen, Arc<dyn mcp_oauth_blocking::HttpClient>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let client = move |req: &HttpRequest| -> Result<HttpResponse, mcp_oauth_core::TransportError> {
        log.lock().unwrap().push((
            req.url.clone(),
            req.header("authorization").map(str::to_owned),
        ));
        Ok(HttpResponse::status(status).with_header("WWW-Authenticate", "Bearer"))
    };
    (seen, Arc::new(client))
}

#[test]
fn a_static_header_never_enters_oauth() {
    let store = MemoryStore::new();
    // A stored OAuth session is ignored in static mode.
    store
        .save(SERVER, &expired_session(TOKEN_ENDPOINT))
        .unwrap();
    let (seen, client) = recording(401);
    let mut o = options(Arc::new(store.clone()), client);
    o.static_authorization = Some("Bearer STATIC-SECRET".into());
    let mut config = config();
    config.interactive = true;
    let auth = Authorizer::new(config, o).unwrap();
    assert_eq!(
        auth.header().unwrap().expose_secret(),
        "Bearer STATIC-SECRET"
    );
    assert!(matches!(
        auth.handle_response(401, &["Bearer error=\"invalid_token\"".into()]),
        Err(AdapterError::StaticHeaderRejected { status: 401 })
    ));
    assert!(matches!(
        auth.handle_response(403, &[]),
        Err(AdapterError::StaticHeaderRejected { status: 403 })
    ));
    assert!(auth.handle_response(500, &[]).is_ok());
    let mut request = HttpRequest::post_json(SERVER, &serde_json::json!({"id": 1}));
    request
        .headers
        .push(("authorization".into(), "Bearer caller-supplied".into()));
    match auth.send(request) {
        Err(e @ AdapterError::StaticHeaderRejected { status: 401 }) => {
            assert!(e
                .to_string()
                .contains("check the configured Authorization header"));
        }
        other => panic!("{other:?}"),
    }
    // One MCP request with the static header replacing the caller's; not one OAuth request.
    assert_eq!(
        *seen.lock().unwrap(),
        vec![(SERVER.to_owned(), Some("Bearer STATIC-SECRET".to_owned()))]
    );
    assert!(auth.request_counts().is_empty());
    assert!(auth.login().is_err());
    assert!(auth.logout().is_ok());
    assert!(
        store.load(SERVER).unwrap().is_some(),
        "logout in static mode touches nothing"
    );
    assert!(!format!("{auth:?}").contains("STATIC-SECRET"));
}

#[test]
fn debug_output_carries_no_secret() {
    let store = MemoryStore::new();
    let mut session = session_with(TOKEN_ENDPOINT, "at-SECRET-ACCESS", Some(4_000_000_000));
    session.tokens.as_mut().unwrap().refresh_token =
        Some(mcp_oauth_core::RefreshToken::new("rt-SECRET-REFRESH"));
    store.save(SERVER, &session).unwrap();
    let mut o = options(Arc::new(store), RotatingAs::new(Duration::ZERO));
    o.static_authorization = None;
    let options_debug = {
        let mut with_static = o.clone();
        with_static.static_authorization = Some("Bearer SECRET-STATIC".into());
        format!("{with_static:?}")
    };
    let auth = Authorizer::new(config(), o).unwrap();
    assert_eq!(
        auth.header().unwrap().expose_secret(),
        "Bearer at-SECRET-ACCESS"
    );
    let errors = [
        AdapterError::Store(StoreError::Keychain("locked".into())),
        AdapterError::Http(mcp_oauth_core::TransportError::new(
            mcp_oauth_core::TransportErrorKind::Connect,
            "connection failed",
        )),
        AdapterError::LoginRequired,
        AdapterError::StaticHeaderRejected { status: 401 },
        AdapterError::Auth(mcp_oauth_core::Error::StateMismatch),
    ];
    let mut all = vec![
        format!("{auth:?}"),
        options_debug.clone(),
        format!("{:?}", auth.status()),
    ];
    all.extend(
        errors
            .iter()
            .flat_map(|e| [format!("{e:?}"), e.to_string()]),
    );
    for text in &all {
        assert!(!text.contains("SECRET"), "{text}");
    }
    assert!(
        options_debug.contains("static_authorization: Some(\"[redacted]\")"),
        "{options_debug}"
    );
    assert!(
        all[0].starts_with("Authorizer { server: \"https://mcp.example.com/mcp\""),
        "{}",
        all[0]
    );
}

#[test]
fn a_failed_save_fails_the_call_and_the_new_token_is_not_handed_out() {
    let store = Arc::new(FlakyStore::default());
    store
        .inner
        .save(SERVER, &expired_session(TOKEN_ENDPOINT))
        .unwrap();
    store.fail_saves.store(true, Ordering::SeqCst);
    let fake_as = RotatingAs::new(Duration::ZERO);
    let auth = Authorizer::new(config(), options(store.clone(), fake_as.clone())).unwrap();
    match auth.header() {
        Err(AdapterError::Store(StoreError::Keychain(m))) => assert!(m.contains("locked")),
        other => panic!("{other:?}"),
    }
    assert_eq!(fake_as.token_requests.load(Ordering::SeqCst), 1);
    // The unsaved token is gone from memory too: only what the store holds remains.
    let tokens = auth.session().unwrap().tokens.unwrap();
    assert_eq!(tokens.access_token.expose_secret(), "at-0");
    // The AS rotated rt-0 away, so the stored session is dead: the honest outcome is a login.
    store.fail_saves.store(false, Ordering::SeqCst);
    assert!(matches!(auth.header(), Err(AdapterError::LoginRequired)));
    assert_eq!(fake_as.invalid_grants.load(Ordering::SeqCst), 1);
}

#[test]
fn non_interactive_without_a_session_needs_a_login_and_sends_nothing() {
    let (seen, client) = recording(200);
    let auth = Authorizer::new(config(), options(Arc::new(MemoryStore::new()), client)).unwrap();
    assert!(matches!(auth.header(), Err(AdapterError::LoginRequired)));
    assert!(matches!(auth.login(), Err(AdapterError::LoginRequired)));
    assert!(seen.lock().unwrap().is_empty());
}

#[test]
fn a_403_without_insufficient_scope_is_forbidden() {
    let store = MemoryStore::new();
    store
        .save(
            SERVER,
            &session_with(TOKEN_ENDPOINT, "at-0", Some(4_000_000_000)),
        )
        .unwrap();
    let (seen, client) = recording(403);
    let auth = Authorizer::new(config(), options(Arc::new(store), client)).unwrap();
    assert!(matches!(
        auth.handle_response(403, &["Bearer error=\"access_denied\"".into()]),
        Err(AdapterError::Auth(mcp_oauth_core::Error::Forbidden))
    ));
    // Other statuses are not challenges.
    assert!(auth.handle_response(404, &[]).is_ok());
    assert!(seen.lock().unwrap().is_empty());
}

#[test]
fn send_retries_at_most_twice() {
    let store = MemoryStore::new();
    store
        .save(
            SERVER,
            &session_with(TOKEN_ENDPOINT, "at-0", Some(4_000_000_000)),
        )
        .unwrap();
    let fake_as = RotatingAs::new(Duration::ZERO);
    let mcp_calls = Arc::new(AtomicUsize::new(0));
    let (as_handle, calls) = (Arc::clone(&fake_as), Arc::clone(&mcp_calls));
    // The MCP server rejects every token.
    let client = move |req: &HttpRequest| -> Result<HttpResponse, mcp_oauth_core::TransportError> {
        if req.url == TOKEN_ENDPOINT {
            return Ok(as_handle.answer(req));
        }
        calls.fetch_add(1, Ordering::SeqCst);
        Ok(HttpResponse::status(401)
            .with_header("WWW-Authenticate", "Bearer error=\"invalid_token\""))
    };
    let auth = Authorizer::new(config(), options(Arc::new(store), Arc::new(client))).unwrap();
    // 401 → refresh → 401 → (refresh already spent after a 401: re-authorization, which the
    // non-interactive config refuses).
    match auth.send(HttpRequest::post_json(SERVER, &serde_json::json!({}))) {
        Err(AdapterError::LoginRequired) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(mcp_calls.load(Ordering::SeqCst), 2);
    assert_eq!(fake_as.token_requests.load(Ordering::SeqCst), 1);
    assert_eq!(auth.request_counts().get(&Step::Refresh), Some(&1));
}

#[test]
fn a_token_shorter_lived_than_the_refresh_margin_does_not_refresh_on_every_call() {
    let store = MemoryStore::new();
    store
        .save(SERVER, &expired_session(TOKEN_ENDPOINT))
        .unwrap();
    let fake_as = RotatingAs::new(Duration::ZERO);
    let mut config = config();
    // The AS issues 3600 s tokens; a margin longer than that makes every new token "expiring".
    config.refresh_margin = Duration::from_secs(7200);
    let auth = Authorizer::new(config, options(Arc::new(store), fake_as.clone())).unwrap();
    assert_eq!(auth.header().unwrap().expose_secret(), "Bearer at-1");
    assert_eq!(fake_as.token_requests.load(Ordering::SeqCst), 1);
}

#[test]
fn authorizer_is_send_sync_and_clone() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<Authorizer>();
    fn send_sync<T: Send + Sync>() {}
    send_sync::<AdapterError>();
}
