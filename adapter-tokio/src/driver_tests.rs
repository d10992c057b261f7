//! The drive loop's own guarantees, on a hand-built `Shared` with no network at all.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use mcp_oauth_blocking::store::MemoryStore;
use mcp_oauth_core::{Config, HttpRequest, HttpResponse, Input, Machine, Output, SeededRng};
use tokio::sync::{watch, Notify};

use super::*;
use crate::browser::NoBrowser;
use crate::http::BoxFuture;

struct Unreachable;

impl HttpClient for Unreachable {
    fn send<'a>(&'a self, _req: &'a HttpRequest) -> BoxFuture<'a, Result<HttpResponse, String>> {
        Box::pin(async { panic!("no request is expected") })
    }
}

/// A `Shared` around `machine` that must not send any request.
pub(crate) fn shared(machine: Machine) -> Shared {
    let (status, _) = watch::channel(machine.status().clone());
    Shared {
        config: Config::new("https://mcp.example.com/mcp"),
        key: "https://mcp.example.com/mcp".into(),
        store: Arc::new(MemoryStore::new()),
        browser: Arc::new(NoBrowser),
        http: Arc::new(Unreachable),
        paste_from_stdin: false,
        paste_source: crate::paste::subscribe,
        redirect_port: None,
        static_authorization: None,
        start: Instant::now(),
        inner: Mutex::new(Inner::new(machine, None)),
        drive_done: Notify::new(),
        cancel: Notify::new(),
        status,
    }
}

/// A fresh machine for the test server.
pub(crate) fn machine() -> Machine {
    Machine::new(
        Config::new("https://mcp.example.com/mcp"),
        SeededRng::from_seed([3; 32]),
    )
    .unwrap()
}

#[tokio::test]
async fn a_plan_that_is_done_never_drives() {
    let s = shared(machine());
    let got = s
        .operate(|m, _, round| {
            assert_eq!(round, Round::Fresh);
            assert!(!m.is_busy());
            Ok(Plan::Done(7))
        })
        .await
        .unwrap();
    assert_eq!(got, 7);
    let inner = s.lock();
    assert!(!inner.driving);
    assert_eq!(inner.generation, 0);
}

#[tokio::test]
async fn a_machine_stuck_waiting_for_nothing_is_reset_not_hung() {
    let mut m = machine();
    m.handle_input(
        Now::default(),
        Input::Challenge {
            status: 401,
            www_authenticate: vec![],
        },
    );
    // Lose the PRM fetch: the machine now waits for an answer that can never come.
    while let Some(o) = m.poll_output() {
        assert!(!matches!(o, Output::OpenBrowser(_)));
    }
    assert!(m.is_busy());
    let s = shared(m);
    let err = s
        .operate(|_, _, round| match round {
            Round::Fresh => Ok(Plan::Drive::<()>),
            _ => unreachable!("a failed drive ends the operation"),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AdapterError::Auth(mcp_oauth_core::Error::InvalidCall(_))
        ),
        "{err:?}"
    );
    let inner = s.lock();
    assert!(!inner.machine.is_busy(), "reset to an idle machine");
    assert!(!inner.driving);
    assert_eq!(inner.generation, 1);
    assert!(inner.last_failure.is_some());
}

#[test]
fn usable_header_never_starts_a_refresh() {
    let mut m = machine();
    let expired = mcp_oauth_core::Session {
        version: mcp_oauth_core::SESSION_VERSION,
        server: "https://mcp.example.com/mcp".into(),
        resource: None,
        issuer: "https://as.example.com".into(),
        token_endpoint: "https://as.example.com/token".into(),
        revocation_endpoint: None,
        client: mcp_oauth_core::ClientRegistration {
            kind: mcp_oauth_core::ClientKind::Dynamic,
            issuer: "https://as.example.com".into(),
            client_id: "c".into(),
            client_secret: None,
            secret_expires_at: None,
            auth_method: mcp_oauth_core::ClientAuthMethod::None,
            redirect_uri: None,
        },
        tokens: Some(mcp_oauth_core::TokenSet {
            access_token: mcp_oauth_core::AccessToken::new("at"),
            token_type: mcp_oauth_core::TokenType::Bearer,
            refresh_token: Some(mcp_oauth_core::RefreshToken::new("rt")),
            expires_at: Some(1_000),
            dpop_key: None,
        }),
        scopes: vec![],
        discovery: None,
        settings: Default::default(),
    };
    let now = Now::new(std::time::Duration::ZERO, 2_000);
    m.handle_input(now, Input::SessionLoaded(Some(expired)));
    while m.poll_output().is_some() {}
    assert!(usable_header(&m, now).is_none());
    assert!(!m.is_busy());
    assert!(m.poll_output().is_none());
    let earlier = Now::new(std::time::Duration::ZERO, 500);
    assert_eq!(
        usable_header(&m, earlier).unwrap().expose_secret(),
        "Bearer at"
    );
}

#[test]
fn now_reads_both_clocks() {
    let start = Instant::now();
    let now = now_since(start);
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(wall.abs_diff(now.wall) <= 1);
    assert!(now.instant < std::time::Duration::from_secs(1));
}
