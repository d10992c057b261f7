//! `Authorizer::send` against an MCP server that answers 401/403: step-up on
//! `insufficient_scope` (previous ∪ challenged scopes, then retry) and the bound of two retries.

#[path = "authorizer_fixture.rs"]
mod fixture;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use fixture::*;
use mcp_oauth_blocking::{
    Authorizer, Browser, BrowserOutcome, FnBrowser, HttpClient, MemoryStore, Options, SessionStore,
};
use mcp_oauth_core::{BrowserRequest, Config, HttpRequest, HttpResponse};

fn interactive() -> Config {
    let mut c = Config::new(SERVER);
    c.interactive = true;
    c
}

fn options(
    store: Arc<dyn SessionStore>,
    client: Arc<dyn HttpClient>,
    browser: Arc<dyn Browser>,
) -> Options {
    let mut o = Options::new(store);
    o.http_client = Some(client);
    o.browser = browser;
    o.paste_from_stdin = false;
    o
}

fn redirecting_browser() -> Arc<dyn Browser> {
    Arc::new(FnBrowser(|req: &BrowserRequest| {
        let (redirect_uri, state) = authorization_params(&req.url);
        BrowserOutcome::Redirected(format!("{redirect_uri}?code=code-1&state={state}"))
    }))
}

/// An HTTP client that is the IdP for OAuth URLs and an MCP server answering `mcp` otherwise.
fn idp_and_mcp(
    idp: &Arc<Idp>,
    mcp: impl Fn(Option<&str>) -> HttpResponse + Send + Sync + 'static,
    mcp_calls: &Arc<AtomicUsize>,
) -> Arc<dyn HttpClient> {
    let (idp, calls) = (Arc::clone(idp), Arc::clone(mcp_calls));
    Arc::new(move |req: &HttpRequest| {
        if req.url == SERVER {
            calls.fetch_add(1, Ordering::SeqCst);
            return Ok(mcp(req.header("authorization")));
        }
        idp.send(req)
    })
}

#[test]
fn step_up_on_403_insufficient_scope_then_retry() {
    let store = MemoryStore::new();
    store
        .save(
            SERVER,
            &session_with(TOKEN_ENDPOINT, "at-0", Some(4_000_000_000)),
        )
        .unwrap();
    let idp = Idp::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let client = idp_and_mcp(
        &idp,
        |auth| match auth {
            Some("Bearer at-login") => HttpResponse::status(200),
            _ => HttpResponse::status(403).with_header(
                "WWW-Authenticate",
                "Bearer error=\"insufficient_scope\", scope=\"mcp admin\"",
            ),
        },
        &calls,
    );
    let scopes = Arc::new(Mutex::new(String::new()));
    let seen = Arc::clone(&scopes);
    let browser = FnBrowser(move |req: &BrowserRequest| {
        let url = url::Url::parse(&req.url).unwrap();
        *seen.lock().unwrap() = url
            .query_pairs()
            .find(|(k, _)| k == "scope")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        let (redirect_uri, state) = authorization_params(&req.url);
        BrowserOutcome::Redirected(format!("{redirect_uri}?code=code-1&state={state}"))
    });
    let o = options(Arc::new(store), client, Arc::new(browser));
    let auth = Authorizer::new(interactive(), o).unwrap();
    let response = auth
        .send(HttpRequest::post_json(
            SERVER,
            &serde_json::json!({"id": 1}),
        ))
        .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // Previous scopes ∪ challenged scopes.
    let requested: Vec<String> = scopes
        .lock()
        .unwrap()
        .split(' ')
        .map(str::to_owned)
        .collect();
    assert!(
        requested.contains(&"mcp".to_owned()) && requested.contains(&"admin".to_owned()),
        "{requested:?}"
    );
}

#[test]
fn send_gives_up_once_a_login_did_not_help_and_returns_the_last_answer() {
    let store = MemoryStore::new();
    store
        .save(
            SERVER,
            &session_with(TOKEN_ENDPOINT, "at-0", Some(4_000_000_000)),
        )
        .unwrap();
    let idp = Idp::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let client = idp_and_mcp(
        &idp,
        |_| {
            HttpResponse::status(401)
                .with_header("WWW-Authenticate", "Bearer error=\"invalid_token\"")
        },
        &calls,
    );
    let o = options(Arc::new(store), client, redirecting_browser());
    let auth = Authorizer::new(interactive(), o).unwrap();
    let response = auth
        .send(HttpRequest::post_json(
            SERVER,
            &serde_json::json!({"id": 1}),
        ))
        .unwrap();
    assert_eq!(response.status, 401);
    // 401 → a login; the brand-new token is refused too, so no second browser login for the
    // same request (the coordinator's send rule): the first try plus one retry.
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(auth.browser_launches(), 1);
}
