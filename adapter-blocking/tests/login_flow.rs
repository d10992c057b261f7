//! The browser step through the real driver: discovery, DCR, the loopback listener, the
//! browser (a `FnBrowser` that redirects or hits the listener like a real browser), the paste
//! fallback on stdin (in a child process), cancellation, the authorization deadline, logout and
//! the stale-session rule.

#[path = "authorizer_fixture.rs"]
mod fixture;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use fixture::*;
use mcp_oauth_blocking::{
    AdapterError, Authorizer, Browser, BrowserOutcome, FnBrowser, MemoryStore, NoBrowser, Options,
    SessionStore,
};
use mcp_oauth_core::{AuthStatus, BrowserRequest, Config, Step};

fn interactive() -> Config {
    let mut c = Config::new(SERVER);
    c.interactive = true;
    c
}

fn options(store: Arc<dyn SessionStore>, idp: &Arc<Idp>, browser: Arc<dyn Browser>) -> Options {
    let mut o = Options::new(store);
    o.http_client = Some(idp.clone());
    o.browser = browser;
    o.paste_from_stdin = false;
    o
}

/// The conformance-suite "browser": answers with the redirect the AS would send.
fn redirecting_browser() -> Arc<dyn Browser> {
    Arc::new(FnBrowser(|req: &BrowserRequest| {
        let (redirect_uri, state) = authorization_params(&req.url);
        BrowserOutcome::Redirected(format!("{redirect_uri}?code=code-1&state={state}"))
    }))
}

#[test]
fn login_with_a_redirecting_browser_stores_the_token_first() {
    let store = MemoryStore::new();
    let idp = Idp::new();
    let auth = Authorizer::new(
        interactive(),
        options(Arc::new(store.clone()), &idp, redirecting_browser()),
    )
    .unwrap();
    assert_eq!(auth.header().unwrap().expose_secret(), "Bearer at-login");
    let stored = store.load(SERVER).unwrap().unwrap();
    assert_eq!(
        stored
            .tokens
            .unwrap()
            .refresh_token
            .unwrap()
            .expose_secret(),
        "rt-login"
    );
    assert_eq!(stored.client.client_id, "dcr-1");
    let port = url::Url::parse(stored.client.redirect_uri.as_deref().unwrap())
        .unwrap()
        .port()
        .unwrap();
    assert_eq!(
        stored.client.redirect_uri.as_deref(),
        Some(format!("http://127.0.0.1:{port}/callback").as_str())
    );
    assert_eq!(
        idp.requests(),
        vec![
            "GET https://mcp.example.com/.well-known/oauth-protected-resource/mcp".to_owned(),
            "GET https://auth.example.com/.well-known/oauth-authorization-server".to_owned(),
            "POST https://auth.example.com/register".to_owned(),
            format!("POST {TOKEN_ENDPOINT}"),
        ]
    );
    let counts = auth.request_counts();
    assert_eq!(counts.get(&Step::Registration), Some(&1));
    assert_eq!(counts.get(&Step::TokenExchange), Some(&1));
    assert_eq!(auth.status(), AuthStatus::Authorized);
    // The listener is gone once the browser step ends (its accept thread exits on the stop).
    let deadline = Instant::now() + Duration::from_secs(2);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(Instant::now() < deadline, "listener still accepting");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn login_through_the_loopback_listener_like_a_real_browser() {
    let idp = Idp::new();
    let pages = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&pages);
    let browser = FnBrowser(move |req: &BrowserRequest| {
        let (redirect_uri, state) = authorization_params(&req.url);
        let mut seen = seen.lock().unwrap();
        // A forged callback first (refused by the listener, never reaches the flow)...
        seen.push(browser_get(&format!(
            "{redirect_uri}?code=evil&state=forged"
        )));
        // ...then the real one.
        seen.push(browser_get(&format!(
            "{redirect_uri}?code=code-1&state={state}"
        )));
        BrowserOutcome::Opened
    });
    let auth = Authorizer::new(
        interactive(),
        options(Arc::new(MemoryStore::new()), &idp, Arc::new(browser)),
    )
    .unwrap();
    auth.login().unwrap();
    assert_eq!(*pages.lock().unwrap(), vec![400, 200]);
    assert_eq!(auth.header().unwrap().expose_secret(), "Bearer at-login");
}

#[test]
fn a_redirect_with_the_wrong_state_is_reported_and_the_wait_continues() {
    let idp = Idp::new();
    let browser = FnBrowser(|req: &BrowserRequest| {
        let (redirect_uri, state) = authorization_params(&req.url);
        let good = format!("{redirect_uri}?code=code-1&state={state}");
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(100));
            assert_eq!(browser_get(&good), 200);
        });
        BrowserOutcome::Redirected(format!("{redirect_uri}?code=evil&state=forged"))
    });
    let auth = Authorizer::new(
        interactive(),
        options(Arc::new(MemoryStore::new()), &idp, Arc::new(browser)),
    )
    .unwrap();
    auth.login().unwrap();
    assert_eq!(auth.header().unwrap().expose_secret(), "Bearer at-login");
    assert_eq!(auth.request_counts().get(&Step::TokenExchange), Some(&1));
}

#[test]
fn cancel_ends_the_browser_wait_and_keeps_the_stored_session() {
    let store = MemoryStore::new();
    store
        .save(
            SERVER,
            &session_with(TOKEN_ENDPOINT, "at-old", Some(4_000_000_000)),
        )
        .unwrap();
    let idp = Idp::new();
    let auth = Authorizer::new(
        interactive(),
        options(
            Arc::new(store.clone()),
            &idp,
            Arc::new(FnBrowser(|_: &BrowserRequest| BrowserOutcome::Opened)),
        ),
    )
    .unwrap();
    let canceller = auth.clone();
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(200));
        canceller.cancel();
    });
    let started = Instant::now();
    assert!(matches!(auth.login(), Err(AdapterError::Cancelled)));
    assert!(started.elapsed() < Duration::from_secs(5));
    t.join().unwrap();
    // Nothing was lost; the old token still works and the next login can run.
    assert_eq!(auth.header().unwrap().expose_secret(), "Bearer at-old");
    assert_eq!(auth.status(), AuthStatus::Authorized);
    assert!(store.load(SERVER).unwrap().is_some());
}

#[test]
fn the_authorization_deadline_ends_the_wait() {
    let mut config = interactive();
    config.authorization_timeout = Duration::from_millis(300);
    let idp = Idp::new();
    let auth = Authorizer::new(
        config,
        options(
            Arc::new(MemoryStore::new()),
            &idp,
            Arc::new(FnBrowser(|_: &BrowserRequest| BrowserOutcome::Opened)),
        ),
    )
    .unwrap();
    let started = Instant::now();
    match auth.header() {
        Err(AdapterError::Auth(mcp_oauth_core::Error::AuthorizationTimeout)) => {}
        other => panic!("{other:?}"),
    }
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
}

#[test]
fn a_failed_login_deletes_a_stale_session_but_a_network_failure_does_not() {
    for (answer, deleted) in [
        (
            Ok(mcp_oauth_core::HttpResponse::json(
                400,
                &serde_json::json!({"error": "invalid_grant"}),
            )),
            true,
        ),
        (
            Err(mcp_oauth_core::TransportError::new(
                mcp_oauth_core::TransportErrorKind::Connect,
                "connection failed: reset",
            )),
            false,
        ),
    ] {
        let store = Arc::new(FlakyStore::default());
        let mut stale = session_with(TOKEN_ENDPOINT, "unused", None);
        stale.tokens = None;
        store.inner.save(SERVER, &stale).unwrap();
        let idp = Idp::new();
        *idp.token_override.lock().unwrap() = Some(answer);
        let auth = Authorizer::new(
            interactive(),
            options(store.clone(), &idp, redirecting_browser()),
        )
        .unwrap();
        let err = auth.login().unwrap_err();
        assert!(matches!(err, AdapterError::Auth(_)), "{err:?}");
        assert_eq!(
            store.inner.load(SERVER).unwrap().is_none(),
            deleted,
            "{err}"
        );
        assert_eq!(store.deletes.load(Ordering::SeqCst), usize::from(deleted));
        assert_eq!(auth.session().is_none(), deleted);
    }
}

#[test]
fn logout_revokes_both_tokens_and_deletes_the_session() {
    let store = MemoryStore::new();
    let mut session = session_with(TOKEN_ENDPOINT, "at-live", Some(4_000_000_000));
    session.revocation_endpoint = Some(format!("{ISSUER}/revoke"));
    store.save(SERVER, &session).unwrap();
    let idp = Idp::new();
    let auth = Authorizer::new(
        interactive(),
        options(Arc::new(store.clone()), &idp, Arc::new(NoBrowser)),
    )
    .unwrap();
    auth.logout().unwrap();
    assert_eq!(
        idp.requests(),
        vec![
            format!("POST {ISSUER}/revoke"),
            format!("POST {ISSUER}/revoke")
        ]
    );
    assert!(store.load(SERVER).unwrap().is_none());
    assert!(auth.session().is_none());
    assert!(matches!(
        auth.status(),
        AuthStatus::AuthorizationRequired { .. }
    ));
}

/// Child role of `a_pasted_redirect_url_completes_the_login` (no-op in a normal run).
#[test]
fn paste_child() {
    if std::env::var("MCP_OAUTH_PASTE_CHILD").is_err() {
        return;
    }
    let idp = Idp::new();
    let mut o = Options::new(Arc::new(MemoryStore::new()));
    o.http_client = Some(idp);
    o.browser = Arc::new(NoBrowser);
    o.paste_from_stdin = true;
    // Bounds the test if a paste is ever lost.
    let mut config = interactive();
    config.authorization_timeout = Duration::from_secs(20);
    let auth = Authorizer::new(config, o).unwrap();
    match auth.header() {
        Ok(h) => println!("\nCHILD-RESULT {}", h.expose_secret()),
        Err(e) => println!("\nCHILD-ERROR {e}"),
    }
}

#[test]
fn a_pasted_redirect_url_completes_the_login() {
    if std::env::var("MCP_OAUTH_PASTE_CHILD").is_ok() {
        return;
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "paste_child", "--nocapture", "--test-threads=1"])
        .env("MCP_OAUTH_PASTE_CHILD", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut printed = Vec::new();
    let url = loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "child ended: {printed:?}"
        );
        printed.push(line.clone());
        if let Some(url) = line.trim().strip_prefix("Open this URL to authorize: ") {
            break url.to_owned();
        }
    };
    // The prompt follows the URL.
    let mut prompt = String::new();
    stderr.read_line(&mut prompt).unwrap();
    assert!(
        prompt.starts_with("Could not open a browser (no browser configured)"),
        "{prompt}"
    );
    let (redirect_uri, state) = authorization_params(&url);
    // A wrong paste is reported and the wait continues; then the right one completes it.
    writeln!(stdin, "{redirect_uri}?code=code-1&state=not-it").unwrap();
    let mut rejected = String::new();
    stderr.read_line(&mut rejected).unwrap();
    assert_eq!(
        rejected.trim(),
        "mcp-oauth: ignored an authorization response (authorization response rejected: state missing or wrong); still waiting"
    );
    writeln!(stdin, "  {redirect_uri}?code=code-1&state={state}  ").unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.lines().any(|l| l == "CHILD-RESULT Bearer at-login"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn cancel_stops_a_login_before_its_next_request_and_every_waiter_gets_it() {
    let idp = Idp::new();
    let slow_idp = Arc::clone(&idp);
    // Discovery's first answer takes 300 ms; cancel arrives meanwhile.
    let client = move |req: &mcp_oauth_core::HttpRequest| {
        if req.url.contains("oauth-protected-resource") {
            thread::sleep(Duration::from_millis(300));
        }
        mcp_oauth_blocking::HttpClient::send(&*slow_idp, req)
    };
    let mut o = options(Arc::new(MemoryStore::new()), &idp, redirecting_browser());
    o.http_client = Some(Arc::new(client));
    let auth = Authorizer::new(interactive(), o).unwrap();
    let waiter = {
        let auth = auth.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(100));
            auth.header()
        })
    };
    let canceller = {
        let auth = auth.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(150));
            auth.cancel();
        })
    };
    assert!(matches!(auth.login(), Err(AdapterError::Cancelled)));
    assert!(matches!(
        waiter.join().unwrap(),
        Err(AdapterError::Cancelled)
    ));
    canceller.join().unwrap();
    // The metadata request that would have come next was never sent.
    assert_eq!(
        idp.requests(),
        vec!["GET https://mcp.example.com/.well-known/oauth-protected-resource/mcp".to_owned()]
    );
    // Cancel with no drive running does nothing; the next login works.
    auth.cancel();
    auth.login().unwrap();
    assert_eq!(auth.header().unwrap().expose_secret(), "Bearer at-login");
}
