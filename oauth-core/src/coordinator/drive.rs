//! One drive, as effects for the adapter: the machine's outputs, filtered and annotated, then
//! the end-of-drive rules (stale session, reset, publishing the outcome).
//!
//! The adapter's loop is `loop { match next_effect(now) { effect => do the IO, report it } }`
//! until [`Effect::Done`]; every report method below answers exactly one effect.

use crate::error::Error;
use crate::http::{HttpRequest, HttpResponse, RequestId, Step, TransportError, TransportErrorKind};
use crate::io::{BrowserRequest, Event, Input, Output};
use crate::session::Session;
use crate::time::{Deadline, Now};
use std::time::Duration;

use super::{trace, AdapterFailure, Coordinator, DriveState, Failure, Op};

/// What the driving adapter does next.
#[allow(clippy::large_enum_variant)] // moved once per step, like the machine's `Output`
#[derive(Debug)]
#[non_exhaustive]
pub enum Effect {
    /// Send the request (no redirects followed); report with [`Coordinator::fetched`]. Give up
    /// after `timeout` (what is left of the operation's budget, `Config::operation_timeout`)
    /// and report a failure naming it.
    Fetch {
        /// Correlates the answer.
        id: RequestId,
        /// The protocol step (for logs).
        step: Step,
        /// The request.
        request: HttpRequest,
        /// At most this long for this request.
        timeout: Duration,
    },
    /// Bind the loopback listener (on `preferred_port` when free); report with
    /// [`Coordinator::listening`].
    Listen {
        /// The port of a stored registration's redirect URI.
        preferred_port: Option<u16>,
    },
    /// Arm the listener with the request's `state` and open the browser (no report: the
    /// browser step ends in [`Effect::WaitForUser`]).
    OpenBrowser(BrowserRequest),
    /// The browser step is over: close the listener and stop reading pasted lines.
    CloseLoopback,
    /// Read the stored session, first taking the store's lock when `lock` (held until the
    /// drive ends, so processes sharing the store refresh one at a time); report with
    /// [`Coordinator::session_loaded`].
    LoadSession {
        /// Take the store lock before reading.
        lock: bool,
    },
    /// Save the session; report with [`Coordinator::session_stored`].
    StoreSession(Session),
    /// Delete the stored session; report with [`Coordinator::session_cleared`].
    ClearSession,
    /// Wait for the user: the first of a loopback callback ([`Coordinator::callback`]), the
    /// browser opener's answer, a pasted redirect URL, the deadline
    /// ([`Coordinator::user_timeout`]) or a cancellation (just ask for the next effect).
    WaitForUser {
        /// When to give up waiting (`Now::instant` scale).
        deadline: Option<Deadline>,
    },
    /// A callback was refused (forged or wrong `state`); still waiting. Tell the user.
    CallbackRejected(Error),
    /// Something went wrong without ending the flow (a deferred renewal, an odd `expires_in`);
    /// its text is safe to print. Tell the user or log it.
    Warning(crate::error::Warning),
    /// The drive is over: release the store lock and wake every waiter, then poll the ticket.
    Done,
}

/// The end-of-drive clean-up in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ending {
    /// The stale session is being deleted.
    Clearing,
    /// The store is re-read after a failed save.
    Reloading,
}

impl<E: AdapterFailure> Coordinator<E> {
    pub(super) fn start_drive(&mut self, now: Now, op: &Op) {
        let generation = self.generation.wrapping_add(1);
        self.drive = Some(DriveState {
            started: now.instant,
            span: trace::drive_span(op, self.machine.server(), generation),
            challenged: trace::challenged(op),
            had_tokens: self.machine.session().is_some_and(|s| s.tokens.is_some()),
            ..DriveState::default()
        });
        self.cancel_requested = false;
    }

    /// What is left of the operation's network budget: time spent waiting for the user does
    /// not count.
    fn budget_left(&mut self, now: Now) -> Duration {
        let budget = self.machine.config().operation_timeout;
        let drive = self.drive_mut();
        if let Some(since) = drive.waiting_since.take() {
            drive.user_wait += now.instant.saturating_sub(since);
        }
        let spent = now
            .instant
            .saturating_sub(drive.started)
            .saturating_sub(drive.user_wait);
        budget.saturating_sub(spent)
    }

    /// The next effect of the drive in flight ([`Effect::Done`] when there is none).
    pub fn next_effect(&mut self, now: Now) -> Effect {
        let Some(drive) = self.drive.as_mut() else {
            return Effect::Done;
        };
        if drive.ending.is_some() {
            return self.finish(now, None);
        }
        let mut budget = self.budget_left(now);
        loop {
            if self.drive.as_ref().is_some_and(|d| d.aborted) {
                return self.begin_ending(now);
            }
            let output = if self.backlog.is_empty() {
                self.machine.poll_output()
            } else {
                Some(self.backlog.remove(0))
            };
            let Some(output) = output else {
                if !self.machine.is_busy() {
                    return self.begin_ending(now);
                }
                if self.cancel_requested {
                    self.cancel_requested = false;
                    trace::cancelled(&self.drive_span());
                    self.machine.cancel(now);
                    continue;
                }
                if self.drive_mut().browser_open {
                    self.drive_mut().waiting_since = Some(now.instant);
                    let deadline = self.machine.poll_timeout();
                    let left = deadline.map(|d| d.at.saturating_sub(now.instant));
                    trace::waiting_for_user(&self.drive_span(), left);
                    return Effect::WaitForUser { deadline };
                }
                self.record(Failure::Core(Error::InvalidCall(
                    "the authorization flow stalled (no effect to wait for)",
                )));
                return self.begin_ending(now);
            };
            if self.cancel_requested && waits_outside(&output) && self.machine.is_busy() {
                // Stop before the next step that waits on the outside world: the machine closes
                // the browser step, drops the flow and keeps the session.
                self.cancel_requested = false;
                trace::cancelled(&self.drive_span());
                self.machine.cancel(now);
                continue;
            }
            if let Output::Fetch { id, step, .. } = &output {
                if budget.is_zero() {
                    // Out of budget: fail the request without sending it, so the machine
                    // reports the first real cause instead of trying every fallback.
                    let timeout = self.machine.config().operation_timeout;
                    trace::budget_spent(&self.drive_span(), *step, timeout);
                    let error = TransportError::new(
                        TransportErrorKind::Timeout,
                        format!(
                            "not sent: the operation's {} s network budget is spent",
                            timeout.as_secs()
                        ),
                    );
                    let id = *id;
                    self.machine
                        .handle_input(now, Input::HttpFailed { id, error });
                    budget = Duration::ZERO;
                    continue;
                }
            }
            if let Some(effect) = self.effect_of(output, budget, now) {
                return effect;
            }
        }
    }

    fn effect_of(&mut self, output: Output, budget: Duration, now: Now) -> Option<Effect> {
        let machine_to_machine = self.machine.config().grant.is_machine_to_machine();
        let drive = self.drive.as_mut()?;
        if let Some(phase) =
            trace::phase_of(&output, drive.phase).filter(|p| drive.phase != Some(*p))
        {
            trace::decision(
                &drive.span,
                drive.challenged,
                drive.had_tokens,
                drive.phase,
                phase,
                machine_to_machine,
            );
            drive.phase = Some(phase);
        }
        Some(match output {
            Output::Fetch { id, step, request } => {
                *self.counts.entry(step).or_insert(0) += 1;
                let sent = trace::sending(&drive.span, id, step, &request, now);
                drive.sent.push(sent);
                drive.login_attempted |= matches!(
                    step,
                    Step::ResourceMetadata
                        | Step::ServerMetadata
                        | Step::Registration
                        | Step::TokenExchange
                        | Step::ClientCredentials
                        | Step::JwtBearer
                        | Step::AssertionExchange
                );
                Effect::Fetch {
                    id,
                    step,
                    request,
                    timeout: budget,
                }
            }
            Output::ListenLoopback { preferred_port } => {
                drive.login_attempted = true;
                Effect::Listen { preferred_port }
            }
            Output::OpenBrowser(request) => {
                trace::browser(&drive.span, &request.url);
                drive.browser_open = true;
                self.browser_launches += 1;
                Effect::OpenBrowser(request)
            }
            Output::CloseLoopback => {
                drive.browser_open = false;
                Effect::CloseLoopback
            }
            Output::LoadSession => {
                let lock = !drive.locked;
                drive.locked = true;
                Effect::LoadSession { lock }
            }
            Output::StoreSession(session) => {
                drive.storing = Some(session.clone());
                Effect::StoreSession(session)
            }
            Output::ClearSession => Effect::ClearSession,
            Output::Event(Event::Failed(e)) => {
                self.record(Failure::Core(e));
                return None;
            }
            Output::Event(Event::Status(s)) => {
                self.status = s;
                return None;
            }
            Output::Event(Event::CallbackRejected(e)) => {
                trace::callback_rejected(&drive.span, &e);
                Effect::CallbackRejected(e)
            }
            Output::Event(Event::Warning(w)) => {
                trace::warning(&drive.span, &w);
                Effect::Warning(w)
            }
            _ => return None, // other events; effects added to the machine later
        })
    }

    // ---------------------------------------------------------------- reports

    /// The answer to [`Effect::Fetch`]: the response, or why none came (its message sanitised
    /// by the machine before it reaches an error, its kind kept).
    pub fn fetched(
        &mut self,
        now: Now,
        id: RequestId,
        result: Result<HttpResponse, TransportError>,
    ) {
        if let Some(drive) = self.drive.as_mut() {
            let outcome = result
                .as_ref()
                .map(|r| r.status)
                .map_err(|e| e.message.as_str());
            trace::answered(&drive.span, &mut drive.sent, id, now, outcome);
        }
        let input = match result {
            Ok(response) => Input::HttpResponse { id, response },
            Err(error) => Input::HttpFailed { id, error },
        };
        self.machine.handle_input(now, input);
    }

    /// The answer to [`Effect::Listen`]: the exact redirect URI, or why binding failed.
    pub fn listening(&mut self, now: Now, result: Result<String, String>) {
        let shown = result.as_deref().map_err(String::as_str);
        trace::listening(&self.drive_span(), shown);
        let input = match result {
            Ok(redirect_uri) => Input::LoopbackReady { redirect_uri },
            Err(error) => Input::LoopbackFailed { error },
        };
        self.machine.handle_input(now, input);
    }

    /// The authorization response (loopback callback query, or a pasted/redirected URL).
    pub fn callback(&mut self, now: Now, query: String) {
        trace::callback(&self.drive_span());
        self.machine.handle_input(now, Input::Callback { query });
    }

    /// The [`Effect::WaitForUser`] deadline passed.
    pub fn user_timeout(&mut self, now: Now) {
        trace::user_timeout(&self.drive_span());
        self.machine.handle_input(now, Input::Timeout);
    }

    /// The answer to [`Effect::LoadSession`].
    pub fn session_loaded(&mut self, now: Now, result: Result<Option<Session>, E>) {
        let ending = self.drive.as_ref().and_then(|d| d.ending);
        match &result {
            Ok(s) => {
                let refresh = s.as_ref().and_then(|s| s.tokens.as_ref());
                let refresh = refresh.is_some_and(|t| t.refresh_token.is_some());
                trace::loaded(&self.drive_span(), s.is_some(), refresh);
            }
            Err(_) => trace::store(&self.drive_span(), "load", false),
        }
        match (result, ending) {
            (Ok(session), Some(Ending::Reloading)) => self.persisted = session,
            (Err(_), Some(Ending::Reloading)) => self.persisted = None,
            (Ok(session), _) => {
                self.persisted = session.clone();
                self.machine
                    .handle_input(now, Input::SessionLoaded(session));
            }
            (Err(e), _) => self.abort_with(Failure::Adapter(e)),
        }
    }

    /// The answer to [`Effect::StoreSession`].
    pub fn session_stored(&mut self, result: Result<(), E>) {
        let Some(drive) = self.drive.as_mut() else {
            return;
        };
        let stored = drive.storing.take();
        trace::store(&drive.span, "save", result.is_ok());
        match result {
            Ok(()) => self.persisted = stored,
            Err(e) => {
                drive.unsaved = true;
                self.abort_with(Failure::Adapter(e));
            }
        }
    }

    /// The answer to [`Effect::ClearSession`].
    pub fn session_cleared(&mut self, result: Result<(), E>) {
        trace::store(&self.drive_span(), "delete", result.is_ok());
        let ending = self.drive.as_ref().and_then(|d| d.ending);
        match (result, ending) {
            (Ok(()), _) => self.persisted = None,
            // A stale session the store would not delete: it is still not worth keeping here.
            (Err(_), Some(Ending::Clearing)) => self.persisted = None,
            (Err(e), _) => self.abort_with(Failure::Adapter(e)),
        }
    }

    /// Ends the drive in flight at once with `failure` (the driving future was dropped, the
    /// driver panicked): the machine returns to what the store holds and the waiters get the
    /// failure. The adapter releases the store lock and wakes the waiters afterwards.
    pub fn abort_drive(&mut self, now: Now, failure: Failure<E>) {
        let Some(drive) = self.drive.as_ref() else {
            return;
        };
        trace::aborted(&drive.span);
        trace::reset(&drive.span, "the drive was aborted");
        let persisted = self.persisted.clone();
        self.machine.reset(now, persisted);
        self.finish(now, Some(failure));
    }

    // ---------------------------------------------------------------- end of drive

    fn drive_mut(&mut self) -> &mut DriveState<E> {
        self.drive.get_or_insert_with(DriveState::default)
    }

    /// Keeps the first failure of the drive: it is the cause, later ones its consequences.
    fn record(&mut self, failure: Failure<E>) {
        let drive = self.drive_mut();
        if drive.failure.is_none() {
            drive.failure = Some(failure);
        }
    }

    fn abort_with(&mut self, failure: Failure<E>) {
        self.record(failure);
        self.drive_mut().aborted = true;
    }

    /// The machine is idle (or the drive was aborted): apply the stale-session rule, re-read
    /// the store after a failed save, or finish.
    fn begin_ending(&mut self, now: Now) -> Effect {
        let wall = now.wall;
        let persisted_is_husk = self.persisted.as_ref().is_some_and(|s| {
            !s.has_usable_token(wall, 0)
                && s.tokens.as_ref().is_none_or(|t| t.refresh_token.is_none())
        });
        let drive = self.drive_mut();
        let stale = drive.login_attempted
            && drive.failure.as_ref().is_some_and(Failure::is_definitive)
            && persisted_is_husk;
        if stale {
            trace::stale_session(&drive.span);
            drive.ending = Some(Ending::Clearing);
            return Effect::ClearSession;
        }
        if drive.unsaved {
            trace::reloading(&drive.span);
            drive.ending = Some(Ending::Reloading);
            return Effect::LoadSession { lock: false };
        }
        self.finish(now, None)
    }

    /// Rebuilds the machine where the drive left it unusable, publishes the outcome and ends
    /// the drive.
    fn finish(&mut self, now: Now, forced: Option<Failure<E>>) -> Effect {
        let drive = self.drive.take().unwrap_or_default();
        let rebuild = drive.ending.is_some() || drive.aborted || self.machine.is_busy();
        if rebuild && forced.is_none() {
            let reason = match (drive.ending, drive.aborted) {
                (Some(Ending::Clearing), _) => "the stale session was deleted",
                (Some(Ending::Reloading), _) => "the session could not be saved",
                (None, true) => "an adapter effect failed",
                (None, false) => "the flow did not finish (cancelled or stalled)",
            };
            trace::reset(&drive.span, reason);
            let persisted = self.persisted.clone();
            self.machine.reset(now, persisted);
        }
        self.status = self.machine.status().clone();
        self.drain_idle_outputs();
        self.generation = self.generation.wrapping_add(1);
        self.cancel_requested = false;
        let failure = forced.or(drive.failure);
        trace::finished(&drive.span, failure.as_ref());
        self.last_failure = failure.map(|f| (self.generation, f));
        Effect::Done
    }
}

/// Outputs after which the drive blocks on something outside the process. Saving, deleting and
/// events are never skipped: a session the machine already installed must reach the store.
fn waits_outside(output: &Output) -> bool {
    matches!(
        output,
        Output::Fetch { .. }
            | Output::ListenLoopback { .. }
            | Output::LoadSession
            | Output::OpenBrowser(_)
    )
}
