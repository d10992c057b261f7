//! Single flight: one machine per server, many callers, exactly one of them doing IO at a time
//! (DESIGN.md §3: many concurrent callers with an expired token cause exactly one refresh).
//!
//! The [`Machine`] lives in a mutex together with a `driving` flag, a drive `generation`
//! counter and the last drive's outcome. A caller that needs IO (a refresh, a login, a
//! challenge) becomes the driver: it sets `driving`, and runs the drive loop
//! ([`crate::interpret`]), which releases the mutex around every blocking operation (HTTP, the
//! store lock, the browser wait). Every other caller that arrives while `driving` is set waits
//! on the condvar until the generation changes, then takes that drive's outcome: its error
//! (duplicated), or success and a fresh look at the machine. Callers never read the machine
//! while a drive is in flight, so no caller sees a token before the store holds it (the driver
//! saves before it ends the drive; a failed save ends the drive with an error and the unsaved
//! session is discarded).

use std::collections::BTreeMap;
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use mcp_oauth_core::{
    AuthStatus, AuthorizationHeader, Config, Event, HeaderState, Input, Machine, Now, Output,
    SeededRng, Session, Step,
};

use crate::browser::{Browser, BrowserOutcome};
use crate::error::AdapterError;
use crate::http::HttpClient;
use crate::store::SessionStore;

/// Upper bound on wait/drive rounds in one `header` call, so neither a sequence of concurrent
/// events nor an authorization server issuing already-expired tokens can spin a caller (or
/// make it refresh) more than a few times.
const MAX_TURNS: usize = 3;

/// What wakes a driver waiting for the browser step.
pub(crate) enum Wake {
    /// A loopback callback carrying the expected `state` (its raw query).
    Callback(String),
    /// A line pasted on stdin.
    Paste(String),
    /// The browser opener finished.
    Browser(BrowserOutcome),
    /// [`crate::Authorizer::cancel`] (wakes the browser wait; the flag is in [`Shared`]).
    Cancel,
}

/// The fixed parts of an authorizer.
pub(crate) struct Settings {
    pub(crate) config: Config,
    pub(crate) key: String,
    pub(crate) store: Arc<dyn SessionStore>,
    pub(crate) browser: Arc<dyn Browser>,
    pub(crate) http: Arc<dyn HttpClient>,
    pub(crate) paste: bool,
    pub(crate) redirect_port: Option<u16>,
}

/// Everything behind the mutex.
pub(crate) struct Shared {
    pub(crate) machine: Machine,
    pub(crate) driving: bool,
    /// Completed drives.
    pub(crate) generation: u64,
    /// The outcome of drive number `.0` (the most recent one).
    pub(crate) last: Option<(u64, Result<(), AdapterError>)>,
    pub(crate) status: AuthStatus,
    pub(crate) counts: BTreeMap<Step, u64>,
    /// [`crate::Authorizer::cancel`] was called during the current drive.
    pub(crate) cancel_requested: bool,
}

pub(crate) type Guard<'a> = MutexGuard<'a, Shared>;

/// The state shared by all clones of an [`Authorizer`](crate::Authorizer).
pub(crate) struct Inner {
    pub(crate) settings: Settings,
    shared: Mutex<Shared>,
    changed: Condvar,
    start: Instant,
    /// The current browser wait's channel, for `cancel`.
    pub(crate) waker: Mutex<Option<mpsc::Sender<Wake>>>,
}

impl Inner {
    /// Wraps a machine that already holds the stored session.
    pub(crate) fn new(settings: Settings, machine: Machine, start: Instant) -> Self {
        let mut shared = Shared {
            status: machine.status().clone(),
            machine,
            driving: false,
            generation: 0,
            last: None,
            counts: BTreeMap::new(),
            cancel_requested: false,
        };
        drain_events(&mut shared);
        Self {
            settings,
            shared: Mutex::new(shared),
            changed: Condvar::new(),
            start,
            waker: Mutex::new(None),
        }
    }

    /// Both clocks, as the core wants them (DESIGN.md §2).
    pub(crate) fn now(&self) -> Now {
        now_since(self.start)
    }

    /// The `DPoP` header for one resource request (RFC 9449 §7) when the token is DPoP-bound:
    /// the core signs it (fresh `jti`, `ath`, the server's nonce).
    pub(crate) fn dpop_proof(&self, method: &str, url: &str) -> Option<String> {
        let now = self.now();
        self.lock().machine.dpop_proof(now, method, url)
    }

    /// Hands a `DPoP-Nonce` from the MCP server to the core (RFC 9449 §9).
    pub(crate) fn resource_nonce(&self, nonce: &str) {
        let now = self.now();
        self.lock().machine.handle_input(
            now,
            mcp_oauth_core::Input::ResourceNonce {
                nonce: nonce.to_owned(),
            },
        );
    }

    pub(crate) fn start(&self) -> Instant {
        self.start
    }

    /// The mutex. A panic in a driver poisons it, but every mutation leaves `Shared` consistent
    /// (the drive's panic guard ends the drive), so the poison is ignored.
    pub(crate) fn lock(&self) -> Guard<'_> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    // ------------------------------------------------------------------ single flight

    /// Waits until the drive in flight ends; its outcome (errors duplicated for each waiter).
    pub(crate) fn wait_for_drive<'a>(
        &'a self,
        g: Guard<'a>,
    ) -> (Guard<'a>, Result<(), AdapterError>) {
        let gen = g.generation;
        let g = self
            .changed
            .wait_while(g, |s| s.driving && s.generation == gen)
            .unwrap_or_else(PoisonError::into_inner);
        let outcome = match &g.last {
            Some((n, Err(e))) if *n == gen + 1 => Err(e.duplicate()),
            _ => Ok(()),
        };
        (g, outcome)
    }

    /// Drives the machine's pending outputs (and `first`, an output already taken from it)
    /// to completion as the one driver, then publishes the outcome to the waiters.
    pub(crate) fn drive<'a>(
        &'a self,
        mut g: Guard<'a>,
        first: Option<Output>,
    ) -> (Guard<'a>, Result<(), AdapterError>) {
        g.driving = true;
        g.cancel_requested = false;
        let mut bell = EndOfDrive {
            inner: self,
            armed: true,
        };
        let (mut g, result) = crate::interpret::run(self, g, first);
        g.driving = false;
        g.cancel_requested = false;
        g.generation += 1;
        let copy = match &result {
            Ok(()) => Ok(()),
            Err(e) => Err(e.duplicate()),
        };
        g.last = Some((g.generation, copy));
        bell.armed = false;
        self.changed.notify_all();
        (g, result)
    }

    /// Replaces the machine with a fresh one holding `session` (after a cancel, an aborted or
    /// stalled flow, a failed save, or the stale-session rule). Loses only cached discovery.
    pub(crate) fn reset_machine(
        &self,
        g: &mut Shared,
        session: Option<Session>,
    ) -> Result<(), AdapterError> {
        let mut machine = new_machine(&self.settings.config)?;
        if session.is_some() {
            machine.handle_input(self.now(), Input::SessionLoaded(session));
        }
        g.status = machine.status().clone();
        g.machine = machine;
        drain_events(g);
        Ok(())
    }

    // ------------------------------------------------------------------ operations

    /// The `Authorization` header: at once when the token is good, else after the one refresh
    /// or login in flight (see the module docs).
    pub(crate) fn header(&self) -> Result<AuthorizationHeader, AdapterError> {
        // A machine-to-machine grant needs no user, so it may run even when not interactive.
        let config = &self.settings.config;
        self.header_or_login(config.interactive || config.grant.is_machine_to_machine())?
            .ok_or(AdapterError::LoginRequired)
    }

    /// The header when a token exists (refreshing first when it is near expiry). With no token:
    /// when `login` is set, run a proactive login; otherwise `None`, so the caller sends the
    /// request without credentials and the server's 401 (its `resource_metadata` and `scope`,
    /// RFC 9728 §5.1) drives discovery.
    pub(crate) fn header_or_login(
        &self,
        login: bool,
    ) -> Result<Option<AuthorizationHeader>, AdapterError> {
        let mut g = self.lock();
        // Set once a drive (ours or awaited) succeeded: a token it produced is used even when it
        // expires within the refresh margin, so a token lifetime shorter than the margin cannot
        // make every call refresh again.
        let mut settled = false;
        for _ in 0..MAX_TURNS {
            if g.driving {
                let (next, outcome) = self.wait_for_drive(g);
                g = next;
                outcome?;
                settled = true;
                continue;
            }
            let now = self.now();
            if settled {
                if let Some(h) = current_header(&g.machine, now) {
                    return Ok(Some(h));
                }
            }
            match g.machine.authorization_header(now) {
                HeaderState::Ready(h) => return Ok(Some(h)),
                HeaderState::Pending => {}
                HeaderState::LoginRequired => {
                    if !login {
                        return Ok(None);
                    }
                    if settled {
                        return Err(AdapterError::LoginRequired);
                    }
                    g.machine.authorize(now);
                }
            }
            let (next, outcome) = self.drive(g, None);
            g = next;
            outcome?;
            settled = true;
        }
        // Out of rounds (drives kept starting under us): a token from the last success, if any.
        // Never read while a drive is in flight: its new token may not be saved yet.
        match (g.driving, current_header(&g.machine, self.now())) {
            (false, Some(h)) => Ok(Some(h)),
            _ => Err(AdapterError::LoginRequired),
        }
    }

    /// A 401/403 from the MCP server for a request sent with `used` (when known).
    pub(crate) fn challenge(
        &self,
        used: Option<&AuthorizationHeader>,
        status: u16,
        www_authenticate: &[String],
    ) -> Result<(), AdapterError> {
        if status != 401 && status != 403 {
            return Ok(());
        }
        let mut g = self.lock();
        if g.driving {
            // Someone is already getting a new token: its result answers this challenge too.
            let (g, outcome) = self.wait_for_drive(g);
            outcome?;
            return token_ready(&g.machine, self.now());
        }
        if let Some(used) = used {
            let current = g
                .machine
                .session()
                .and_then(|s| s.tokens.as_ref())
                .map(|t| t.authorization_header());
            if current.is_some_and(|c| c.expose_secret() != used.expose_secret()) {
                // The token was replaced since this request left: just retry.
                return Ok(());
            }
        }
        let now = self.now();
        g.machine.handle_input(
            now,
            Input::Challenge {
                status,
                www_authenticate: www_authenticate.to_vec(),
            },
        );
        let (g, outcome) = self.drive(g, None);
        outcome?;
        token_ready(&g.machine, self.now())
    }

    /// An explicit login (even when authorized): waits out any drive in flight, then drives a
    /// fresh authorization.
    pub(crate) fn login(&self) -> Result<(), AdapterError> {
        let mut g = self.idle_lock();
        g.machine.authorize(self.now());
        let (g, outcome) = self.drive(g, None);
        outcome?;
        token_ready(&g.machine, self.now())
    }

    /// Revocation (when the AS offers it) and deletion of the stored session.
    pub(crate) fn logout(&self) -> Result<(), AdapterError> {
        let mut g = self.idle_lock();
        g.machine.logout(self.now());
        self.drive(g, None).1
    }

    /// Asks the drive in flight to stop at its next step; wakes a browser wait at once.
    pub(crate) fn cancel(&self) {
        let mut g = self.lock();
        if !g.driving {
            return;
        }
        g.cancel_requested = true;
        drop(g);
        let waker = self.waker.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(tx) = waker.as_ref() {
            let _ = tx.send(Wake::Cancel);
        }
    }

    /// Tells the machine the token worked. Skipped while a drive is in flight (the machine is
    /// mid-flow and the counters it resets belong to that flow).
    pub(crate) fn request_succeeded(&self) {
        let mut g = self.lock();
        if g.driving {
            return;
        }
        g.machine.handle_input(self.now(), Input::RequestSucceeded);
        // The core emits no effect for this input today; if it ever does, drive it.
        while let Some(output) = g.machine.poll_output() {
            match output {
                Output::Event(Event::Status(s)) => g.status = s,
                Output::Event(_) => {}
                other => {
                    let _ = self.drive(g, Some(other));
                    return;
                }
            }
        }
    }

    /// The mutex once no drive is in flight.
    fn idle_lock(&self) -> Guard<'_> {
        let mut g = self.lock();
        while g.driving {
            g = self.wait_for_drive(g).0;
        }
        g
    }
}

/// Ends a drive that unwound (a panicking `HttpClient`, `SessionStore` or bug), so waiters wake
/// with an error instead of sleeping forever. The next drive resets the abandoned machine.
struct EndOfDrive<'a> {
    inner: &'a Inner,
    armed: bool,
}

impl Drop for EndOfDrive<'_> {
    fn drop(&mut self) {
        if self.armed {
            let mut g = self.inner.lock();
            g.driving = false;
            g.generation += 1;
            let error = std::io::Error::other("the authorization flow panicked");
            g.last = Some((g.generation, Err(AdapterError::Io(error))));
            self.inner.changed.notify_all();
        }
    }
}

/// A machine for `config`, seeded with 32 bytes from the OS (adapter design: once per machine).
pub(crate) fn new_machine(config: &Config) -> Result<Machine, AdapterError> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed)
        .map_err(|e| AdapterError::Io(std::io::Error::other(format!("entropy source: {e}"))))?;
    Ok(Machine::new(config.clone(), SeededRng::from_seed(seed))?)
}

/// `Now` with `instant` measured from `start`.
pub(crate) fn now_since(start: Instant) -> Now {
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Now::new(start.elapsed(), wall)
}

/// Applies the status events a machine emits outside a flow (after `SessionLoaded`).
pub(crate) fn drain_events(g: &mut Shared) {
    while let Some(output) = g.machine.poll_output() {
        if let Output::Event(Event::Status(s)) = output {
            g.status = s;
        }
    }
}

/// The header of the machine's token if it has not expired (no refresh margin).
fn current_header(machine: &Machine, now: Now) -> Option<AuthorizationHeader> {
    machine
        .session()?
        .tokens
        .as_ref()
        .filter(|t| !t.expires_within(now.wall, 0))
        .map(|t| t.authorization_header())
}

/// `Ok` when a drive left a token to retry with.
fn token_ready(machine: &Machine, now: Now) -> Result<(), AdapterError> {
    current_header(machine, now)
        .map(|_| ())
        .ok_or(AdapterError::LoginRequired)
}
