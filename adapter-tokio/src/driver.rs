//! The drive loop: the single interpreter of the core's [`Output`]s (DESIGN.md §3), and the
//! single-flight gate in front of it.
//!
//! The machine lives in a `std::sync::Mutex` with a `driving` flag. A caller that needs IO
//! (refresh, login, revocation) sets the flag and becomes the one driver; it releases the mutex
//! while it waits on HTTP, the store or the browser, so other callers can see the flag and wait
//! on [`Notify`] instead of starting a second refresh. When the drive ends the driver bumps a
//! generation counter, records the outcome, and wakes every waiter; a waiter whose drive failed
//! gets that failure, otherwise it re-reads the machine. While a drive runs nobody reads a token
//! from the machine, so a rotated token is always in the store before any caller sees it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use mcp_oauth_blocking::store::{SessionStore, StoreLock};
use mcp_oauth_core::{
    AuthStatus, AuthorizationHeader, Config, Input, Machine, Now, Output, SeededRng, Session, Step,
};
use tokio::sync::{watch, Notify};

use crate::browser::Browser;
use crate::http::HttpClient;
use crate::wait::BrowserStep;
use crate::AdapterError;

/// Upper bound on waits and drives in one call: progress is normally made in one or two.
const MAX_ROUNDS: usize = 16;

/// Where an operation stands when it looks at the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Round {
    /// First look.
    Fresh,
    /// This caller's own drive just ended without a failure.
    AfterOwnDrive,
    /// Another caller's drive, which this caller waited for, ended without a failure.
    AfterOtherDrive,
}

/// What an operation wants after looking at the machine.
pub(crate) enum Plan<T> {
    /// Finished with this value.
    Done(T),
    /// Inputs or commands were given to the machine: drain its outputs (drive).
    Drive,
}

/// Everything one `Authorizer` shares between its clones and callers.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) key: String,
    pub(crate) store: Arc<dyn SessionStore>,
    pub(crate) browser: Arc<dyn Browser>,
    pub(crate) http: Arc<dyn HttpClient>,
    pub(crate) paste_from_stdin: bool,
    /// Where pasted lines come from: stdin ([`crate::paste::subscribe`]); tests inject lines.
    pub(crate) paste_source: fn() -> tokio::sync::broadcast::Receiver<String>,
    pub(crate) redirect_port: Option<u16>,
    pub(crate) static_authorization: Option<String>,
    pub(crate) start: Instant,
    pub(crate) inner: Mutex<Inner>,
    pub(crate) drive_done: Notify,
    pub(crate) cancel: Notify,
    pub(crate) status: watch::Sender<AuthStatus>,
}

/// The state behind the mutex.
pub(crate) struct Inner {
    pub(crate) machine: Machine,
    pub(crate) driving: bool,
    generation: u64,
    last_failure: Option<AdapterError>,
    /// The session as the store holds it (what a reset falls back to).
    pub(crate) persisted: Option<Session>,
    pub(crate) counts: BTreeMap<Step, u64>,
    pub(crate) cancel_requested: bool,
}

impl Inner {
    pub(crate) fn new(machine: Machine, persisted: Option<Session>) -> Self {
        Self {
            machine,
            driving: false,
            generation: 0,
            last_failure: None,
            persisted,
            counts: BTreeMap::new(),
            cancel_requested: false,
        }
    }
}

/// How a drive failed, and whether the machine must be rebuilt (the adapter gave up in the
/// middle of a flow, so the machine may be waiting for an input that will never come).
pub(crate) struct Failure {
    pub(crate) error: AdapterError,
    pub(crate) reset: bool,
}

impl Failure {
    pub(crate) fn adapter(error: AdapterError) -> Self {
        Self { error, reset: true }
    }
}

/// Per-drive resources; dropped (listener closed, store lock released) when the drive ends.
#[derive(Default)]
pub(crate) struct DriveCtx {
    pub(crate) store_lock: Option<StoreLock>,
    pub(crate) browser_step: BrowserStep,
    pub(crate) failure: Option<mcp_oauth_core::Error>,
    pub(crate) login_attempted: bool,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every critical section leaves `Inner` consistent, so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The two clocks the core needs (DESIGN.md §2).
    pub(crate) fn now(&self) -> Now {
        now_since(self.start)
    }

    /// Runs an operation under single flight: `plan` looks at the machine (under the mutex) and
    /// either answers or asks for a drive; callers arriving during a drive wait for it.
    pub(crate) async fn operate<T>(
        &self,
        mut plan: impl FnMut(&mut Machine, Now, Round) -> Result<Plan<T>, AdapterError>,
    ) -> Result<T, AdapterError> {
        let mut round = Round::Fresh;
        for _ in 0..MAX_ROUNDS {
            let notified = self.drive_done.notified();
            let mut notified = std::pin::pin!(notified);
            let waiting_on = {
                let mut inner = self.lock();
                if inner.driving {
                    // Registered before the mutex is released, so the wake-up cannot be missed.
                    notified.as_mut().enable();
                    Some(inner.generation)
                } else {
                    let now = self.now();
                    match plan(&mut inner.machine, now, round)? {
                        Plan::Done(value) => return Ok(value),
                        Plan::Drive => {
                            inner.driving = true;
                            inner.cancel_requested = false;
                            None
                        }
                    }
                }
            };
            match waiting_on {
                Some(generation) => {
                    notified.await;
                    let inner = self.lock();
                    if inner.generation != generation {
                        if let Some(e) = &inner.last_failure {
                            return Err(e.duplicate());
                        }
                        round = Round::AfterOtherDrive;
                    }
                }
                None => {
                    self.run_drive().await?;
                    round = Round::AfterOwnDrive;
                }
            }
        }
        Err(AdapterError::LoginRequired)
    }

    /// One drive, from `driving = true` to the wake-up of every waiter. Cancel-safe: dropping
    /// the future resets the machine and hands `Cancelled` to the waiters.
    async fn run_drive(&self) -> Result<(), AdapterError> {
        let mut guard = DriveGuard {
            shared: self,
            finished: false,
        };
        let mut ctx = DriveCtx::default();
        let result = self.drive_loop(&mut ctx).await;
        let login_attempted = ctx.login_attempted;
        // Close the listener, stop the opener and release the store lock before waking anyone.
        drop(ctx);
        let failure = match result {
            Ok(()) => None,
            Err(mut failure) => {
                if login_attempted && !failure.error.is_transient() {
                    failure.reset |= self.discard_stale_session().await;
                }
                Some(failure)
            }
        };
        let outcome = failure.as_ref().map(|f| f.error.duplicate());
        guard.finish(failure);
        outcome.map_or(Ok(()), Err)
    }

    /// Stale session rule: a login failed for a reason other than the network while the stored
    /// session has no usable token, so delete it and start the next attempt clean (a stale
    /// DCR client, a dead refresh token). Returns whether the machine must be rebuilt.
    async fn discard_stale_session(&self) -> bool {
        let stale = {
            let inner = self.lock();
            let wall = self.now().wall;
            inner
                .persisted
                .as_ref()
                .is_some_and(|s| !s.has_usable_token(wall, 0))
        };
        if !stale {
            return false;
        }
        let (store, key) = (Arc::clone(&self.store), self.key.clone());
        if let Ok(Ok(())) = tokio::task::spawn_blocking(move || store.delete(&key)).await {
            self.lock().persisted = None;
            return true;
        }
        false
    }

    /// Interprets outputs until the machine is idle with nothing left to do.
    async fn drive_loop(&self, ctx: &mut DriveCtx) -> Result<(), Failure> {
        loop {
            let (outputs, busy, deadline) = {
                let mut inner = self.lock();
                if inner.cancel_requested {
                    return Err(Failure::adapter(AdapterError::Cancelled));
                }
                let outputs: Vec<Output> =
                    std::iter::from_fn(|| inner.machine.poll_output()).collect();
                (
                    outputs,
                    inner.machine.is_busy(),
                    inner.machine.poll_timeout(),
                )
            };
            if outputs.is_empty() {
                if !busy {
                    return match ctx.failure.take() {
                        None => Ok(()),
                        Some(e) => Err(Failure {
                            error: e.into(),
                            reset: false,
                        }),
                    };
                }
                if !ctx.browser_step.active() {
                    // Busy with no effect pending: nothing can make progress.
                    return Err(Failure::adapter(AdapterError::Auth(
                        mcp_oauth_core::Error::InvalidCall("the flow is waiting for nothing"),
                    )));
                }
                let input = self.wait_for_authorization(ctx, deadline).await?;
                self.feed(vec![input]);
                continue;
            }
            let mut inputs = Vec::new();
            for output in outputs {
                if let Some(input) = self.perform(output, ctx).await? {
                    inputs.push(input);
                }
            }
            self.feed(inputs);
        }
    }

    fn feed(&self, inputs: Vec<Input>) {
        let mut inner = self.lock();
        let now = self.now();
        for input in inputs {
            inner.machine.handle_input(now, input);
        }
    }

    /// Replaces the machine with a fresh one holding the stored session: the way out of a flow
    /// the adapter abandoned (store failure, cancellation). A token that was not stored is
    /// never handed out.
    fn reset_machine(&self, inner: &mut Inner) {
        let Ok(rng) = seeded_rng() else { return };
        let Ok(mut machine) = Machine::new(self.config.clone(), rng) else {
            return;
        };
        machine.handle_input(self.now(), Input::SessionLoaded(inner.persisted.clone()));
        while machine.poll_output().is_some() {}
        // The fresh machine's status may equal its initial one and then emits no event, so
        // publish it explicitly (the watch may still say "waiting for the browser").
        self.status.send_replace(machine.status().clone());
        inner.machine = machine;
    }
}

/// `Now` for a machine whose monotonic origin is `start`.
pub(crate) fn now_since(start: Instant) -> Now {
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Now::new(start.elapsed(), wall)
}

/// A fresh core RNG seeded from the OS (adapter design: one seed per machine).
pub(crate) fn seeded_rng() -> Result<SeededRng, AdapterError> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed)
        .map_err(|e| AdapterError::Io(std::io::Error::other(format!("entropy source: {e}"))))?;
    Ok(SeededRng::from_seed(seed))
}

/// A usable (unexpired) token's header, read without starting a refresh.
pub(crate) fn usable_header(machine: &Machine, now: Now) -> Option<AuthorizationHeader> {
    machine
        .session()?
        .tokens
        .as_ref()
        .filter(|t| !t.expires_within(now.wall, 0))
        .map(|t| t.authorization_header())
}

/// Ends a drive exactly once: on `finish`, or on drop when the driving future was cancelled.
struct DriveGuard<'a> {
    shared: &'a Shared,
    finished: bool,
}

impl DriveGuard<'_> {
    fn finish(&mut self, failure: Option<Failure>) {
        self.finished = true;
        let mut inner = self.shared.lock();
        let error = failure.map(|f| {
            if f.reset {
                self.shared.reset_machine(&mut inner);
            }
            f.error
        });
        inner.driving = false;
        inner.cancel_requested = false;
        inner.generation = inner.generation.wrapping_add(1);
        inner.last_failure = error;
        drop(inner);
        self.shared.drive_done.notify_waiters();
    }
}

impl Drop for DriveGuard<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.finish(Some(Failure::adapter(AdapterError::Cancelled)));
        }
    }
}

#[cfg(test)]
#[path = "driver_tests.rs"]
pub(crate) mod tests;
