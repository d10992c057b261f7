//! Commands that are not tied to one state: `cancel`, the header getter against
//! `ensure_fresh`, and the effective refresh margin for short-lived tokens.

mod scenario;

use std::time::Duration;

use mcp_oauth_core::{AuthStatus, Error, Output};
use scenario::*;
use serde_json::json;

#[test]
fn cancel_during_the_browser_step_closes_the_listener_and_keeps_the_session() {
    let mut at = Scenario::new().waiting_callback();
    at.command(|m, now| m.cancel(now));
    let lines = describe_all(&at.outputs);
    assert_eq!(lines.first().map(String::as_str), Some("close-loopback"));
    assert!(lines.iter().any(|l| l.contains("Cancelled")), "{lines:?}");
    assert!(!at.machine.is_busy());
    assert_eq!(at.machine.status(), &auth_required_at_as());
    // A late callback for the abandoned flow is ignored.
    let state = at.state();
    let late = at.callback(&format!("code=late&state={state}"));
    assert!(late.iter().all(|o| !matches!(o, Output::Fetch { .. })));
}

#[test]
fn cancel_when_idle_does_nothing() {
    let mut at = Scenario::new().authorized();
    at.command(|m, now| m.cancel(now));
    assert!(at.outputs.is_empty());
    assert_eq!(at.machine.status(), &AuthStatus::Authorized);
}

#[test]
fn the_header_getter_never_starts_anything_and_ensure_fresh_does() {
    let mut at = Scenario::new().authorized();
    let now = at.now;
    assert_eq!(header_text(&at.machine.header(now)), at.header());
    // Inside the refresh margin: the getter says a renewal is due, and only looks.
    at.advance(Duration::from_secs(EXPIRES_IN - 30));
    let now = at.now;
    for _ in 0..3 {
        assert_eq!(header_text(&at.machine.header(now)), "Pending");
        assert!(at.machine.poll_output().is_none(), "the getter emitted");
        assert!(!at.machine.is_busy(), "the getter started a flow");
    }
    // The command starts the refresh (re-reading the store first).
    assert_eq!(at.header(), "Pending");
    assert!(at.machine.is_busy());
    at.expect(|o| matches!(o, Output::LoadSession), "the refresh starts");
    // While it runs, the getter agrees and still emits nothing.
    assert_eq!(header_text(&at.machine.header(now)), "Pending");
    assert!(at.machine.poll_output().is_none());
}

#[test]
fn a_short_lived_token_is_not_refreshed_on_every_call() {
    // 30-second tokens with the default 60-second margin: refresh only in the last 15 seconds.
    let mut at = Scenario::new()
        .token(with(token_doc(), "expires_in", json!(30)))
        .authorized();
    let before = at.log.len();
    assert!(at.header().starts_with("Bearer "));
    at.advance(Duration::from_secs(10));
    assert!(at.header().starts_with("Bearer "));
    assert!(
        at.log[before..]
            .iter()
            .all(|o| !matches!(o, Output::LoadSession | Output::Fetch { .. })),
        "no refresh while more than half the lifetime is left"
    );
    at.advance(Duration::from_secs(10));
    let _ = at.command(|m, now| m.ensure_fresh(now));
    at.expect(
        |o| matches!(o, Output::LoadSession),
        "refresh starts in the last half",
    );
    let _ = Error::Cancelled;
}

#[test]
fn a_stray_loopback_ready_does_not_disturb_the_flow() {
    // Found by the `machine` fuzz target: LoopbackReady while fetching PRM used to drop the flow.
    let mut at = Scenario::new().at_prm_fetch();
    let pending = at.id;
    let out = at.feed(mcp_oauth_core::Input::LoopbackReady {
        redirect_uri: String::new(),
    });
    assert!(out.is_empty(), "{:?}", describe_all(&out));
    assert!(at.machine.is_busy(), "still fetching PRM");
    at.respond_json(200, &prm_doc());
    assert_ne!(at.id, pending, "the PRM answer moved the flow on");
    at.expect_fetch(mcp_oauth_core::Step::ServerMetadata);
}

#[test]
fn a_short_lived_token_another_process_obtained_is_not_refreshed_at_start() {
    // Found against a real authorization server with 10-second tokens: every new process
    // refreshed the token it loaded, because the lifetime was known only to the process that
    // obtained it. The issue time is stored with the tokens, so the margin is the same for all.
    let mut session = canned_session(Some(T0.wall + 18), Some(REFRESH_TOKEN));
    session.tokens.as_mut().unwrap().obtained_at = Some(T0.wall - 2); // a 20-second token
    let mut at = Scenario::new().stored(session).idle();
    let before = at.log.len();
    assert_eq!(at.header(), format!("Bearer {ACCESS_TOKEN}"));
    assert!(
        at.log[before..]
            .iter()
            .all(|o| !matches!(o, Output::LoadSession | Output::Fetch { .. })),
        "18 s left of 20: no refresh yet"
    );
    at.advance(Duration::from_secs(9));
    let _ = at.command(|m, now| m.ensure_fresh(now));
    at.expect(
        |o| matches!(o, Output::LoadSession),
        "refresh starts in the last half of the lifetime",
    );
}
