//! The tokio side of the coordinator's contract (`mcp_oauth_core::coordinator`): a mutex around
//! the [`Coordinator`], a [`Notify`] to wait on, and the loop that runs one drive.
//!
//! Every rule (single flight, retries, stale session, resets, which failure callers see) is the
//! coordinator's. The mutex is a `std` one, held only for pure coordinator calls and never
//! across an `.await`; the drive's IO ([`crate::interpret`]) runs with it released.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use mcp_oauth_core::coordinator::{Coordinator, Effect, Failure, Op, Plan};
use mcp_oauth_core::{AuthStatus, AuthorizationHeader, Machine, Now, SeededRng};
use mcp_oauth_store::{SessionStore, StoreLock};
use tokio::sync::{watch, Notify};
use tracing::Instrument;

use crate::browser::Browser;
use crate::http::HttpClient;
use crate::wait::BrowserStep;
use crate::AdapterError;

/// Everything one `Authorizer` shares between its clones and callers.
pub(crate) struct Shared {
    pub(crate) key: String,
    pub(crate) store: Arc<dyn SessionStore>,
    pub(crate) browser: Arc<dyn Browser>,
    pub(crate) http: Arc<dyn HttpClient>,
    pub(crate) paste_from_stdin: bool,
    /// Where pasted lines come from: stdin ([`crate::paste::subscribe`]); tests inject lines.
    pub(crate) paste_source: fn() -> tokio::sync::broadcast::Receiver<String>,
    pub(crate) redirect_port: Option<u16>,
    pub(crate) start: Instant,
    pub(crate) coordinator: Mutex<Coordinator<AdapterError>>,
    pub(crate) drive_done: Notify,
    pub(crate) cancel: Notify,
    pub(crate) status: watch::Sender<AuthStatus>,
}

/// Per-drive resources; dropped (listener closed, store lock released) when the drive ends.
#[derive(Default)]
pub(crate) struct DriveCtx {
    pub(crate) store_lock: Option<StoreLock>,
    pub(crate) browser_step: BrowserStep,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Coordinator<AdapterError>> {
        // Every coordinator call leaves it consistent, so a poisoned lock is still usable.
        self.coordinator
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The two clocks the core needs.
    pub(crate) fn now(&self) -> Now {
        now_since(self.start)
    }

    /// Publishes the coordinator's status to subscribers when it changed.
    pub(crate) fn publish_status(&self) {
        let status = self.lock().status();
        self.status.send_if_modified(|current| {
            let changed = *current != status;
            if changed {
                *current = status;
            }
            changed
        });
    }

    /// Runs one operation to its end: waits, drives, or answers, as the coordinator says.
    pub(crate) async fn run(&self, op: Op) -> Result<Option<AuthorizationHeader>, AdapterError> {
        let mut ticket = self.lock().begin(op);
        loop {
            let notified = self.drive_done.notified();
            let mut notified = std::pin::pin!(notified);
            let plan = {
                let mut c = self.lock();
                let plan = c.poll(&mut ticket, self.now());
                if matches!(plan, Plan::Wait { .. }) {
                    // Registered before the mutex is released, so the wake-up cannot be missed.
                    notified.as_mut().enable();
                }
                plan
            };
            match plan {
                Plan::Done(header) => return Ok(header),
                Plan::Fail(failure) => return Err(failure.into()),
                Plan::Wait { .. } => notified.await,
                Plan::Drive => {
                    // The coordinator's span for this drive, carried across its `.await`s.
                    let span = self.lock().drive_span();
                    self.run_drive().instrument(span).await
                }
            }
        }
    }

    /// One drive, from [`Plan::Drive`] to the wake-up of every waiter. Cancel-safe: dropping
    /// the future ends the drive with `Cancelled` for the waiters.
    async fn run_drive(&self) {
        let mut guard = DriveGuard {
            shared: self,
            finished: false,
        };
        let mut ctx = DriveCtx::default();
        loop {
            let effect = self.lock().next_effect(self.now());
            self.publish_status();
            match effect {
                Effect::Done => break,
                effect => self.perform(effect, &mut ctx).await,
            }
        }
        // Close the listener, stop the opener and release the store lock before waking anyone.
        ctx.browser_step.close().await;
        drop(ctx);
        guard.finished = true;
        self.drive_done.notify_waiters();
    }

    /// Asks the drive in flight to stop at its next step; wakes a browser wait at once.
    pub(crate) fn cancel(&self) {
        if self.lock().cancel() {
            self.cancel.notify_waiters();
        }
    }
}

/// Ends a drive whose future was dropped (the caller was cancelled): the coordinator returns
/// the machine to what the store holds and hands `Cancelled` to the waiters.
struct DriveGuard<'a> {
    shared: &'a Shared,
    finished: bool,
}

impl Drop for DriveGuard<'_> {
    fn drop(&mut self) {
        if !self.finished {
            let now = self.shared.now();
            self.shared
                .lock()
                .abort_drive(now, Failure::Core(mcp_oauth_core::Error::Cancelled));
            self.shared.publish_status();
            self.shared.drive_done.notify_waiters();
        }
    }
}

/// `Now` for a machine whose monotonic origin is `start`.
pub(crate) fn now_since(start: Instant) -> Now {
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Now::new(start.elapsed(), wall)
}

/// A machine for `config`, seeded with 32 bytes from the OS (once per machine).
pub(crate) fn new_machine(config: mcp_oauth_core::Config) -> Result<Machine, AdapterError> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed)
        .map_err(|e| AdapterError::Io(std::io::Error::other(format!("entropy source: {e}"))))?;
    Ok(Machine::new(config, SeededRng::from_seed(seed))?)
}

#[cfg(test)]
#[path = "driver_tests.rs"]
pub(crate) mod tests;
