//! Scenario tests, one module per machine state (ARCHITECTURE.md §10, ureq-proto style): every
//! input that matters in that state, with the exact outputs (order and content) and the resulting
//! status. The [`scenario`] builder puts the machine in the state; canned documents are in
//! `scenario/mod.rs`.
//!
//! Failures follow one contract (io.rs `Event::Failed`, machine.rs `fail`): `Status(Failed)`,
//! `Event::Failed`, then back to `AuthorizationRequired` (or `Authorized` while a usable token
//! exists), never a dead end. Once the loopback listener is up (`LoopbackReady`), every end of the
//! browser step, success or failure, emits `CloseLoopback` (io.rs: "The browser step is over
//! (success or failure): stop the listener").

#[path = "../scenario/mod.rs"]
mod scenario;

use std::time::Duration;

use mcp_oauth_core::pkce::challenge_s256;
use mcp_oauth_core::{
    AuthStatus, ClientAuthMethod, ClientKind, Deadline, DeadlineReason, Error, Input, Output,
    PreRegisteredClient, RequestId, Step, TransportError, TransportErrorKind, SESSION_VERSION,
};
use scenario::*;
use serde_json::{json, Value};

pub(crate) const RM: Step = Step::ResourceMetadata;
pub(crate) const SM: Step = Step::ServerMetadata;

/// `Status(Failed)`, `Failed(err)`, then `back_to`.
pub(crate) fn fail_lines(err: Error, back_to: AuthStatus) -> Vec<String> {
    vec![
        status(AuthStatus::Failed {
            reason: err.to_string(),
        }),
        format!("failed {err:?}"),
        status(back_to),
    ]
}

/// The warning of a renewal deferred after `err`, the next attempt in `secs` seconds.
pub(crate) fn deferred(err: Error, secs: u64) -> String {
    format!(
        "warning {:?}",
        mcp_oauth_core::Warning::RenewalDeferred {
            error: err,
            retry_after_secs: secs,
        }
    )
}

/// `CloseLoopback` followed by [`fail_lines`].
pub(crate) fn close_and_fail(err: Error, back_to: AuthStatus) -> Vec<String> {
    let mut v = vec!["close-loopback".to_string()];
    v.extend(fail_lines(err, back_to));
    v
}

pub(crate) fn waiting() -> AuthStatus {
    AuthStatus::WaitingForBrowser {
        server_host: Some(AS_HOST.into()),
    }
}

pub(crate) fn challenge(status: u16, value: &str) -> Input {
    Input::Challenge {
        status,
        www_authenticate: vec![value.to_string()],
    }
}

pub(crate) fn loopback_ready() -> Input {
    Input::LoopbackReady {
        redirect_uri: REDIRECT_URI.into(),
    }
}

pub(crate) fn fetches(outputs: &[Output]) -> usize {
    outputs
        .iter()
        .filter(|o| matches!(o, Output::Fetch { .. }))
        .count()
}

pub(crate) fn param(url: &str, name: &str) -> Option<String> {
    query_pairs(url)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

pub(crate) fn form(at: &At, step: Step) -> Vec<(String, String)> {
    at.expect_fetch(step).form_pairs()
}

pub(crate) fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Every `OpenBrowser` must find the listener up: a `ListenLoopback` before it with no
/// `CloseLoopback` in between (the browser is sent to the loopback redirect URI).
pub(crate) fn assert_listener_up_at_every_browser_step(log: &[Output]) {
    let mut open = false;
    for o in log {
        match o {
            Output::ListenLoopback { .. } => open = true,
            Output::CloseLoopback => open = false,
            Output::OpenBrowser(_) => assert!(
                open,
                "OpenBrowser without a live listener: {:?}",
                describe_all(log)
            ),
            _ => {}
        }
    }
}

mod authorized;
mod bad_days;
mod bad_discovery;
mod exchanging_code;
mod failed_login_status;
mod fetching_meta;
mod fetching_prm;
mod idle;
mod listening;
mod refreshing;
mod registering;
mod reloading_for_refresh;
mod revoking;
mod waiting_callback;
