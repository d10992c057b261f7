//! The drive loop's own guarantees, on a hand-built `Shared` with no network at all.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use mcp_oauth_core::{Config, HttpRequest, HttpResponse, Input, Machine, Output, SeededRng};
use mcp_oauth_store::MemoryStore;
use tokio::sync::{watch, Notify};

use super::*;
use crate::browser::NoBrowser;
use crate::http::BoxFuture;

struct Unreachable;

impl HttpClient for Unreachable {
    fn send<'a>(
        &'a self,
        _req: &'a HttpRequest,
    ) -> BoxFuture<'a, Result<HttpResponse, mcp_oauth_core::TransportError>> {
        Box::pin(async { panic!("no request is expected") })
    }
}

/// A `Shared` around `machine` that must not send any request.
pub(crate) fn shared(machine: Machine) -> Shared {
    let coordinator = Coordinator::new(machine, None, None, Now::default());
    let (status, _) = watch::channel(coordinator.status());
    Shared {
        key: "https://mcp.example.com/mcp".into(),
        store: Arc::new(MemoryStore::new()),
        browser: Arc::new(NoBrowser),
        http: Arc::new(Unreachable),
        paste_from_stdin: false,
        paste_source: crate::paste::subscribe,
        redirect_port: None,
        start: Instant::now(),
        coordinator: Mutex::new(coordinator),
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
async fn without_a_token_a_bare_request_needs_no_drive() {
    let s = shared(machine());
    let got = s.run(Op::Header { login: false }).await.unwrap();
    assert!(got.is_none());
    assert_eq!(s.lock().generation(), 0, "no drive ran");
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
    let err = s.run(Op::Header { login: false }).await.unwrap_err();
    assert!(
        matches!(
            err,
            AdapterError::Auth(mcp_oauth_core::Error::InvalidCall(_))
        ),
        "{err:?}"
    );
    let c = s.lock();
    assert!(!c.is_driving());
    assert_eq!(c.generation(), 1);
    assert!(c.session().is_none());
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
