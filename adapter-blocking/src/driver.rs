//! The blocking side of the coordinator's contract (`mcp_oauth_core::coordinator`): a mutex
//! around the [`Coordinator`], a condvar to wait on, and the loop that runs one drive.
//!
//! Every rule (single flight, retries, stale session, resets, which failure callers see) is the
//! coordinator's; this file only waits when told to and hands each drive's effects to
//! [`crate::interpret`], which does the IO with the mutex released.

use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use mcp_oauth_core::coordinator::{Coordinator, Effect, Failure, Op, Plan};
use mcp_oauth_core::{AuthorizationHeader, Config, Machine, Now, SeededRng};

use crate::browser::{Browser, BrowserOutcome};
use crate::http::HttpClient;
use crate::store::SessionStore;
use crate::AdapterError;

/// What wakes a driver waiting for the browser step.
pub(crate) enum Wake {
    /// A loopback callback carrying the expected `state` (its raw query).
    Callback(String),
    /// A line pasted on stdin.
    Paste(String),
    /// The browser opener finished.
    Browser(BrowserOutcome),
    /// [`crate::Authorizer::cancel`] (wakes the browser wait; the flag is in the coordinator).
    Cancel,
}

/// The fixed parts of an authorizer.
pub(crate) struct Settings {
    pub(crate) key: String,
    pub(crate) store: Arc<dyn SessionStore>,
    pub(crate) browser: Arc<dyn Browser>,
    pub(crate) http: Arc<dyn HttpClient>,
    pub(crate) paste: bool,
    pub(crate) redirect_port: Option<u16>,
}

pub(crate) type Guard<'a> = MutexGuard<'a, Coordinator<AdapterError>>;

/// The state shared by all clones of an [`Authorizer`](crate::Authorizer).
pub(crate) struct Inner {
    pub(crate) settings: Settings,
    coordinator: Mutex<Coordinator<AdapterError>>,
    changed: Condvar,
    start: Instant,
    /// The current browser wait's channel, for `cancel`.
    pub(crate) waker: Mutex<Option<mpsc::Sender<Wake>>>,
}

impl Inner {
    pub(crate) fn new(
        settings: Settings,
        coordinator: Coordinator<AdapterError>,
        start: Instant,
    ) -> Self {
        Self {
            settings,
            coordinator: Mutex::new(coordinator),
            changed: Condvar::new(),
            start,
            waker: Mutex::new(None),
        }
    }

    /// Both clocks, as the core wants them.
    pub(crate) fn now(&self) -> Now {
        now_since(self.start)
    }

    pub(crate) fn start(&self) -> Instant {
        self.start
    }

    /// The mutex. A panic in a driver poisons it, but the drive's guard ends the drive through
    /// the coordinator first, so the poison is ignored.
    pub(crate) fn lock(&self) -> Guard<'_> {
        self.coordinator
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs one operation to its end: waits, drives, or answers, as the coordinator says.
    pub(crate) fn run(&self, op: Op) -> Result<Option<AuthorizationHeader>, AdapterError> {
        let mut g = self.lock();
        let mut ticket = g.begin(op);
        loop {
            let now = self.now();
            match g.poll(&mut ticket, now) {
                Plan::Done(header) => return Ok(header),
                Plan::Fail(failure) => return Err(failure.into()),
                Plan::Wait { generation } => {
                    g = self
                        .changed
                        .wait_while(g, |c| c.generation() == generation)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                Plan::Drive => g = self.drive(g),
            }
        }
    }

    /// Carries out the drive's effects until the coordinator ends it, then wakes the waiters.
    fn drive<'a>(&'a self, g: Guard<'a>) -> Guard<'a> {
        // The coordinator's span for this drive: the adapter's own events (lock waits) join it.
        let span = g.drive_span();
        let _in_drive = span.enter();
        let mut bell = EndOfDrive {
            inner: self,
            guard: Some(g),
        };
        let mut run = crate::interpret::Run::default();
        loop {
            let mut g = bell.guard.take().unwrap_or_else(|| self.lock());
            let now = self.now();
            match g.next_effect(now) {
                Effect::Done => {
                    bell.guard = Some(g);
                    break;
                }
                effect => bell.guard = Some(crate::interpret::perform(self, g, effect, &mut run)),
            }
        }
        // Close the listener and release the store lock before anyone is woken.
        crate::interpret::close_browser_step(self, &mut run);
        drop(run);
        let g = bell.guard.take().unwrap_or_else(|| self.lock());
        std::mem::forget(bell);
        self.changed.notify_all();
        g
    }

    /// Asks the drive in flight to stop at its next step; wakes a browser wait at once.
    pub(crate) fn cancel(&self) {
        if !self.lock().cancel() {
            return;
        }
        let waker = self.waker.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(tx) = waker.as_ref() {
            let _ = tx.send(Wake::Cancel);
        }
    }
}

/// Ends a drive that unwound (a panicking `HttpClient`, `SessionStore` or bug), so waiters wake
/// with an error instead of sleeping forever; the machine returns to what the store holds.
struct EndOfDrive<'a> {
    inner: &'a Inner,
    guard: Option<Guard<'a>>,
}

impl Drop for EndOfDrive<'_> {
    fn drop(&mut self) {
        let mut g = self.guard.take().unwrap_or_else(|| self.inner.lock());
        let error = std::io::Error::other("the authorization flow panicked");
        g.abort_drive(self.inner.now(), Failure::Adapter(AdapterError::Io(error)));
        drop(g);
        self.inner.changed.notify_all();
    }
}

/// A machine for `config`, seeded with 32 bytes from the OS (once per machine).
pub(crate) fn new_machine(config: Config) -> Result<Machine, AdapterError> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed)
        .map_err(|e| AdapterError::Io(std::io::Error::other(format!("entropy source: {e}"))))?;
    Ok(Machine::new(config, SeededRng::from_seed(seed))?)
}

/// `Now` with `instant` measured from `start`.
pub(crate) fn now_since(start: Instant) -> Now {
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Now::new(start.elapsed(), wall)
}
