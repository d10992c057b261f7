//! Diagnostics: the `tracing` span of one drive and the events of the coordinator's decisions
//! (README "Diagnostics", ARCHITECTURE.md §4 "Diagnostics").
//!
//! `tracing` is a facade: nothing is recorded unless the host installs a subscriber, and no IO
//! happens here. Every event's target is its module path, so all start with `mcp_oauth_`.
//!
//! No secret reaches a field or a message. A request is named by its step, method, host and
//! path: never its query (authorization URLs carry `state` and `code_challenge`), body or
//! headers. Server-supplied text (paths, error descriptions inside an [`Error`]) goes through
//! [`sanitize_remote_text`] and is cut short. Durations are differences of the adapter's
//! [`Now::instant`] readings, the only clock the core has.

use std::time::Duration;

use tracing::{debug, info, trace, warn, Span};

use crate::error::{sanitize_remote_text, Error};
use crate::http::{HttpRequest, RequestId, Step};
use crate::io::Output;
use crate::time::Now;

use super::Op;

/// The longest path logged (server-supplied; anything beyond is cut).
const MAX_PATH: usize = 80;

/// What a drive turned out to do, read from the first output of each kind the machine emits
/// (ARCHITECTURE.md §3: a refresh starts with `LoadSession`, a login with discovery or the
/// loopback listener, a machine-to-machine grant with its token request, a logout with
/// revocation or `ClearSession`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Refresh,
    Login,
    Grant,
    Logout,
}

/// An OAuth request in flight: what is logged when its answer comes.
#[derive(Debug)]
pub(super) struct Sent {
    id: RequestId,
    step: Step,
    method: &'static str,
    host: String,
    path: String,
    /// A DPoP proof went with it (RFC 9449 §5): whether, never the proof.
    dpop: bool,
    at: Duration,
}

/// The operation's name in the drive span.
fn op_kind(op: &Op) -> &'static str {
    match op {
        Op::Header { .. } => "header",
        Op::Login => "login",
        Op::Challenge { .. } => "challenge",
        Op::Logout => "logout",
    }
}

/// `host[:port]` and the path of `url`, both safe to log (no userinfo, query or fragment).
pub(super) fn host_and_path(url: &str) -> (String, String) {
    match crate::uri::parse(url) {
        Ok(u) => {
            let host = match u.non_default_port() {
                Some(port) => format!("{}:{port}", u.host_text()),
                None => u.host_text().to_owned(),
            };
            let path: String = sanitize_remote_text(u.path())
                .chars()
                .take(MAX_PATH)
                .collect();
            (host, path)
        }
        Err(_) => ("(unparsable URL)".to_owned(), String::new()),
    }
}

/// A short, sanitised rendering of an error for a field (its `Display` is already meant for
/// users; this also bounds it).
fn error_text(e: &Error) -> String {
    sanitize_remote_text(&e.to_string())
}

/// The span of one drive: the operation, the MCP server's host, and the generation the drive
/// will have once finished (`Coordinator::generation` after it).
pub(super) fn drive_span(op: &Op, server: &str, generation: u64) -> Span {
    let (host, _) = host_and_path(server);
    let status = challenged(op);
    tracing::info_span!("drive", op = op_kind(op), status, server = %host, generation)
}

/// The status of the answer an [`Op::Challenge`] reports.
pub(super) fn challenged(op: &Op) -> Option<u16> {
    match op {
        Op::Challenge { status, .. } => Some(*status),
        _ => None,
    }
}

/// The phase `output` starts, given the phase the drive is in.
pub(super) fn phase_of(output: &Output, current: Option<Phase>) -> Option<Phase> {
    match output {
        Output::LoadSession
        | Output::Fetch {
            step: Step::Refresh,
            ..
        } => Some(Phase::Refresh),
        Output::Fetch {
            step: Step::ResourceMetadata | Step::ServerMetadata | Step::Registration,
            ..
        }
        | Output::ListenLoopback { .. }
        | Output::OpenBrowser(_) => Some(Phase::Login),
        // A code exchange belongs to its login; a token request of its own is a grant.
        Output::Fetch {
            step: Step::TokenExchange,
            ..
        } if current != Some(Phase::Login) => Some(Phase::Grant),
        Output::Fetch {
            step: Step::Revocation,
            ..
        }
        | Output::ClearSession => Some(Phase::Logout),
        _ => None,
    }
}

/// The decision a new phase stands for, logged once per phase change.
/// `challenged` is the status of the answer that started the drive ([`Op::Challenge`]);
/// `had_tokens` tells whether the session held tokens when it started.
pub(super) fn decision(
    span: &Span,
    challenged: Option<u16>,
    had_tokens: bool,
    previous: Option<Phase>,
    phase: Phase,
    machine_to_machine: bool,
) {
    match phase {
        Phase::Refresh => {
            let reason = match challenged {
                Some(_) => "the server refused the access token (401)",
                None => "the access token is expired or near expiry",
            };
            info!(parent: span, decision = "refresh", reason, "refreshing the access token");
        }
        Phase::Logout => info!(parent: span, decision = "logout", "logging out"),
        Phase::Grant => info!(
            parent: span,
            decision = "grant",
            "requesting a token with the machine-to-machine grant"
        ),
        Phase::Login if machine_to_machine => info!(
            parent: span,
            decision = "grant",
            "discovering the authorization server for the machine-to-machine grant"
        ),
        Phase::Login if previous == Some(Phase::Refresh) => info!(
            parent: span,
            decision = "re-authorization",
            reason = "the refresh was refused or could not help",
            "re-authorizing"
        ),
        Phase::Login if challenged == Some(403) => info!(
            parent: span,
            decision = "step-up",
            reason = "insufficient_scope (403)",
            "re-authorizing with more scopes"
        ),
        Phase::Login if challenged.is_some() && had_tokens => info!(
            parent: span,
            decision = "re-authorization",
            reason = "the server refused the token (401) and no refresh applies",
            "re-authorizing"
        ),
        Phase::Login => info!(parent: span, decision = "login", "logging in"),
    }
}

/// A request leaves: remembered until its answer, logged at TRACE.
pub(super) fn sending(
    span: &Span,
    id: RequestId,
    step: Step,
    request: &HttpRequest,
    now: Now,
) -> Sent {
    let (host, path) = host_and_path(&request.url);
    let method = request.method.as_str();
    let dpop = request.header("dpop").is_some();
    trace!(parent: span, step = step.as_str(), method, host, path, dpop, "sending OAuth request");
    Sent {
        id,
        step,
        method,
        host,
        path,
        dpop,
        at: now.instant,
    }
}

/// The answer to the request `id` among `sent`: one event per OAuth request.
pub(super) fn answered(
    span: &Span,
    sent: &mut Vec<Sent>,
    id: RequestId,
    now: Now,
    outcome: Result<u16, &str>,
) {
    let Some(i) = sent.iter().position(|s| s.id == id) else {
        debug!(parent: span, request = id.0, "answer to a request no longer awaited");
        return;
    };
    let s = sent.swap_remove(i);
    let duration_ms = now.instant.saturating_sub(s.at).as_millis() as u64;
    let (step, method, dpop) = (s.step.as_str(), s.method, s.dpop);
    match outcome {
        Ok(status) => debug!(
            parent: span,
            step, method, host = s.host, path = s.path, dpop, status, duration_ms,
            "OAuth request"
        ),
        Err(error) => debug!(
            parent: span,
            step, method, host = s.host, path = s.path, dpop, duration_ms,
            error = sanitize_remote_text(error),
            "OAuth request failed"
        ),
    }
}

/// The operation's network budget is spent: the request is failed without being sent.
pub(super) fn budget_spent(span: &Span, step: Step, budget: Duration) {
    warn!(
        parent: span,
        step = step.as_str(),
        budget_s = budget.as_secs(),
        "network budget spent: request not sent"
    );
}

/// The browser is sent to the authorization endpoint (host and path only: the query carries
/// `state` and the PKCE challenge).
pub(super) fn browser(span: &Span, url: &str) {
    let (host, path) = host_and_path(url);
    info!(parent: span, host, path, "sending the browser to the authorization server");
}

/// The loopback listener is ready (its redirect URI is not secret, but only its origin and
/// path are logged, like every URL).
pub(super) fn listening(span: &Span, result: Result<&str, &str>) {
    match result {
        Ok(uri) => {
            let (host, path) = host_and_path(uri);
            debug!(parent: span, host, path, "loopback listener ready");
        }
        Err(e) => warn!(parent: span, error = sanitize_remote_text(e), "loopback listener failed"),
    }
}

/// An authorization response arrived (its content is never logged: it carries the code).
pub(super) fn callback(span: &Span) {
    debug!(parent: span, "authorization response received");
}

/// The drive waits for the user (browser, loopback callback, pasted URL).
pub(super) fn waiting_for_user(span: &Span, deadline_in: Option<Duration>) {
    let deadline_s = deadline_in.map(|d| d.as_secs());
    debug!(parent: span, deadline_s, "waiting for the user to authorize");
}

/// The user took too long.
pub(super) fn user_timeout(span: &Span) {
    info!(parent: span, "gave up waiting for the authorization response");
}

/// A store effect's result.
pub(super) fn store(span: &Span, what: &'static str, ok: bool) {
    if ok {
        debug!(parent: span, what, "session store");
    } else {
        warn!(parent: span, what, "session store failed");
    }
}

/// The session read from the store (whether one was there, never its content).
pub(super) fn loaded(span: &Span, found: bool, refresh_token: bool) {
    debug!(parent: span, found, refresh_token, "session loaded");
}

/// The machine's warning (its text is meant for users; bounded here).
pub(super) fn warning(span: &Span, w: &crate::error::Warning) {
    warn!(parent: span, warning = sanitize_remote_text(&w.to_string()), "warning");
}

/// A callback was refused (forged or stale `state`, bad `iss`): the flow keeps waiting.
pub(super) fn callback_rejected(span: &Span, e: &Error) {
    warn!(parent: span, error = error_text(e), "authorization response rejected");
}

/// Cancellation: asked for (outside the drive span), or carried out.
pub(super) fn cancel_requested() {
    info!("cancellation requested");
}

/// The drive stops its flow because of a cancellation.
pub(super) fn cancelled(span: &Span) {
    info!(parent: span, "drive cancelled");
}

/// A failed login left a session with nothing usable: it is deleted (ARCHITECTURE.md §4).
pub(super) fn stale_session(span: &Span) {
    info!(parent: span, "deleting the stale session so the next login registers afresh");
}

/// A save failed: the store is read again before the machine is rebuilt from it.
pub(super) fn reloading(span: &Span) {
    info!(parent: span, "session not saved: reading the store again");
}

/// The machine is rebuilt from what the store holds.
pub(super) fn reset(span: &Span, reason: &'static str) {
    info!(parent: span, reason, "machine reset to the stored session");
}

/// The driver went away (future dropped, panic).
pub(super) fn aborted(span: &Span) {
    warn!(parent: span, "drive aborted by the adapter");
}

/// The drive's end: its outcome.
pub(super) fn finished<E>(span: &Span, failure: Option<&super::Failure<E>>) {
    match failure {
        None => debug!(parent: span, outcome = "ok", "drive finished"),
        Some(super::Failure::Core(e)) => info!(
            parent: span,
            outcome = "failed",
            error = error_text(e),
            "drive finished"
        ),
        Some(super::Failure::Adapter(_)) => info!(
            parent: span,
            outcome = "failed",
            error = "the adapter failed (store or IO)",
            "drive finished"
        ),
        Some(super::Failure::StaticHeaderRejected { status }) => info!(
            parent: span,
            outcome = "failed",
            status,
            "drive finished"
        ),
    }
}

/// A caller waits for another caller's drive.
pub(super) fn waiting_for_drive(generation: u64, waits: u32) {
    debug!(generation, waits, "waiting for another caller's drive");
}

/// The token changed since the refused request left: retry with the new one.
pub(super) fn token_replaced(status: u16) {
    debug!(
        status,
        "the token was replaced since the request left: retrying with it"
    );
}

/// An operation ran out of drives or waits (`MAX_OWN_DRIVES`, `MAX_WAITS`).
pub(super) fn gave_up(own_drives: u32, waits: u32) {
    warn!(own_drives, waits, "retry limit reached: giving up");
}
