//! The coordinator: everything an adapter used to decide besides waiting and IO, written once.
//!
//! A [`Machine`] runs one flow at a time and knows nothing of callers. Real hosts have many
//! callers per server (threads, tasks, concurrent MCP requests) and one store shared with other
//! processes. The coordinator owns the machine and adds the rules that sit between the two:
//!
//! - **Single flight.** At most one *drive* (a refresh, login, challenge answer or logout run to
//!   its end) is in flight. A caller that needs IO while one runs is told to [`Plan::Wait`] for
//!   the drive generation to change and then takes that drive's outcome: its failure (duplicated
//!   for each waiter) or a fresh look at the machine. Callers never read a token while a drive
//!   runs, so a rotated token is in the store before anyone uses it.
//! - **Retry limits.** An operation drives at most [`MAX_OWN_DRIVES`] times and waits for
//!   others at most [`MAX_WAITS`] times; [`send`](Coordinator::send_verdict) retries a request at
//!   most [`MAX_SEND_RETRIES`] times (401 → one refresh → one re-authorization; 403 → step-up
//!   within the machine's attempt budget).
//! - **Failures.** The *first* failure of a drive is the one its callers see (it is the cause;
//!   later ones are consequences, such as a fallback that failed after the real error).
//! - **Stale session.** A login that failed with a definitive answer (the server said no, or
//!   broke the protocol) while the stored session holds neither a usable access token nor a
//!   refresh token deletes that session, so the next attempt registers afresh. A transient
//!   failure (network, 5xx, 429, timeout), a cancellation or "login required" never deletes
//!   anything, and a refresh token is never deleted by this rule.
//! - **Reset.** A drive that ends with the machine still mid-flow (cancelled, a store error, a
//!   stalled flow) or with a token the store refused leaves the machine rebuilt from what the
//!   store holds: a token that was not stored is never handed out.
//! - **Static header.** A configured static `Authorization` header never enters OAuth: it is
//!   returned as is, a 401/403 is [`Failure::StaticHeaderRejected`], an explicit login is a
//!   configuration error, logout does nothing, and the store is never touched.
//! - **Unattended operation.** A login may start from [`Op::Header`] only when the configuration
//!   is interactive or the grant needs no user (machine to machine).
//! - **Bookkeeping.** Requests per step and browser launches are counted here; "the request
//!   succeeded" is ignored while a drive runs (the counters it resets belong to that flow).
//! - **Diagnostics.** Each drive is a `tracing` span (`drive`: operation, server host,
//!   generation) holding an event per OAuth request (step, host, path, status, duration) and
//!   per decision (`trace.rs`; README "Diagnostics"). No secret is ever a field.
//!
//! The adapter's side of the contract is small: keep the coordinator behind a mutex, wait on
//! its own primitive (a `Condvar`, a `Notify`) when told to, and during a drive carry out each
//! [`Effect`] from [`Coordinator::next_effect`] and report its result. See
//! `ARCHITECTURE.md` for the layers and `oauth-core/tests/coordinator.rs` for the rules as tests.

mod drive;
mod send;
mod trace;

pub use drive::Effect;
pub use send::SendVerdict;

use std::collections::BTreeMap;

use crate::config::Config;
use crate::error::Error;
use crate::http::Step;
use crate::io::{AuthStatus, Event, HeaderState, Input, Output};
use crate::machine::Machine;
use crate::secret::{constant_time_eq, AuthorizationHeader};
use crate::session::Session;
use crate::time::Now;

/// The most drives one operation starts itself. Two covers a refresh whose new token is already
/// within the margin, followed by one more attempt; more would only repeat a failing exchange.
pub const MAX_OWN_DRIVES: u32 = 2;
/// The most drives of other callers one operation waits for before giving up with the token it
/// can see (or "login required").
pub const MAX_WAITS: u32 = 8;
/// Retries of one request after a 401/403 answer: refresh, re-authorize, step up.
pub const MAX_SEND_RETRIES: u32 = 3;

/// An adapter's own failures (store, IO): the coordinator hands one drive's failure to every
/// caller that waited for it, so it must be able to copy it.
pub trait AdapterFailure: Sized {
    /// An equal failure for another caller.
    fn duplicate(&self) -> Self;
}

/// Why an operation failed: the core's error, the adapter's, or a coordinator rule.
#[derive(Debug)]
pub enum Failure<E> {
    /// The flow failed (the machine's error; `LoginRequired` and `Cancelled` included).
    Core(Error),
    /// The adapter's IO failed (store, listener, entropy).
    Adapter(E),
    /// The server answered 401/403 to the configured static header.
    StaticHeaderRejected {
        /// 401 or 403.
        status: u16,
    },
}

impl<E: AdapterFailure> Failure<E> {
    /// A copy for another caller.
    pub fn duplicate(&self) -> Self {
        match self {
            Failure::Core(e) => Failure::Core(e.clone()),
            Failure::Adapter(e) => Failure::Adapter(e.duplicate()),
            Failure::StaticHeaderRejected { status } => {
                Failure::StaticHeaderRejected { status: *status }
            }
        }
    }
}

impl<E> Failure<E> {
    /// True for an answer that says the stored registration or grant is no good: the server
    /// refused (an OAuth error code other than a "try later" one) or broke the protocol.
    /// Network faults, 5xx and 429 statuses, cancellation and "login required" are not.
    pub fn is_definitive(&self) -> bool {
        let Failure::Core(e) = self else { return false };
        match e {
            Error::LoginRequired | Error::Cancelled => false,
            Error::HttpStatus { status, .. } => !(*status >= 500 || *status == 429),
            Error::OAuth { code, .. } => {
                !matches!(code.as_str(), "temporarily_unavailable" | "server_error")
            }
            other => matches!(
                other.fault(),
                crate::error::Fault::ServerRefused | crate::error::Fault::Protocol
            ),
        }
    }
}

/// What a caller asks for.
#[derive(Debug, Clone)]
pub enum Op {
    /// The `Authorization` header for the next request.
    Header {
        /// Start a login when there is no token and the configuration allows one unattended
        /// ([`Coordinator::may_login`]); otherwise answer `None` so the request goes out bare
        /// and the server's 401 drives discovery (RFC 9728 §5.1).
        login: bool,
    },
    /// A login now, even when a token exists.
    Login,
    /// The server answered `status` to a request that carried `used` (when known).
    Challenge {
        /// The header the rejected request carried.
        used: Option<AuthorizationHeader>,
        /// The HTTP status.
        status: u16,
        /// Every `WWW-Authenticate` value.
        www_authenticate: Vec<String>,
    },
    /// Revocation (where offered) and deletion of the stored session.
    Logout,
}

/// One caller's progress through an [`Op`]: create with [`Coordinator::begin`], pass to
/// [`Coordinator::poll`] until it answers `Done` or `Fail`.
#[derive(Debug)]
pub struct Ticket {
    op: Op,
    round: Round,
    own_drives: u32,
    waits: u32,
    /// The generation this caller waited on (its outcome is read on the next poll).
    waited_on: Option<u64>,
    /// The generation of the drive this caller ran (its outcome is read on the next poll).
    drove: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Round {
    Fresh,
    AfterOwnDrive,
    AfterOtherDrive,
}

/// What a caller does next.
#[derive(Debug)]
pub enum Plan<E> {
    /// Finished: the header (for [`Op::Header`]; `None` = send without credentials), or
    /// `None` for the other operations.
    Done(Option<AuthorizationHeader>),
    /// Finished with this failure.
    Fail(Failure<E>),
    /// Another caller's drive runs: wait until [`Coordinator::generation`] differs from this
    /// value, then poll again.
    Wait {
        /// The generation to wait past.
        generation: u64,
    },
    /// This caller is now the driver: carry out [`Coordinator::next_effect`] until it answers
    /// [`Effect::Done`], wake the waiters, then poll again.
    Drive,
}

/// The drive in flight.
#[derive(Debug)]
struct DriveState<E> {
    /// A login step ran (discovery, registration, the browser, the code exchange).
    login_attempted: bool,
    /// The first failure of this drive.
    failure: Option<Failure<E>>,
    /// An adapter effect failed: stop at once and clean up.
    aborted: bool,
    /// A `StoreSession` failed: the machine holds a session the store does not.
    unsaved: bool,
    /// The session of the `StoreSession` in flight (becomes `persisted` once stored).
    storing: Option<Session>,
    /// The store lock is held (taken at the first `LoadSession`).
    locked: bool,
    /// Between `OpenBrowser` and `CloseLoopback`.
    browser_open: bool,
    /// The end-of-drive clean-up has started.
    ending: Option<drive::Ending>,
    /// When the drive started (`Now::instant`), for the network budget.
    started: std::time::Duration,
    /// When the current wait for the user started.
    waiting_since: Option<std::time::Duration>,
    /// Time spent waiting for the user (not charged to the budget).
    user_wait: std::time::Duration,
    /// The drive's diagnostics span (`trace::drive_span`).
    span: tracing::Span,
    /// The status of the answer that started the drive (`Op::Challenge`), for its decisions.
    challenged: Option<u16>,
    /// The session held tokens when the drive started (a login is then a re-authorization).
    had_tokens: bool,
    /// What the drive is doing (`trace::Phase`), to log each decision once.
    phase: Option<trace::Phase>,
    /// OAuth requests in flight, logged when answered.
    sent: Vec<trace::Sent>,
}

impl<E> Default for DriveState<E> {
    fn default() -> Self {
        Self {
            login_attempted: false,
            failure: None,
            aborted: false,
            unsaved: false,
            storing: None,
            locked: false,
            browser_open: false,
            ending: None,
            started: std::time::Duration::ZERO,
            waiting_since: None,
            user_wait: std::time::Duration::ZERO,
            span: tracing::Span::none(),
            challenged: None,
            had_tokens: false,
            phase: None,
            sent: Vec::new(),
        }
    }
}

/// The sans-IO coordinator for one MCP server. See the module docs for its rules.
///
/// ```
/// use mcp_oauth_core::coordinator::{Coordinator, Op, Plan};
/// use mcp_oauth_core::{Config, Machine, Now, SeededRng};
///
/// struct NoAdapterFailure;
/// impl mcp_oauth_core::coordinator::AdapterFailure for NoAdapterFailure {
///     fn duplicate(&self) -> Self { NoAdapterFailure }
/// }
///
/// let machine = Machine::new(Config::new("https://mcp.example.com/mcp"), SeededRng::from_seed([1; 32]))?;
/// let mut c: Coordinator<NoAdapterFailure> = Coordinator::new(machine, None, None, Now::default());
/// // No token and no interactive login allowed for requests: send bare, let the 401 drive.
/// let mut ticket = c.begin(Op::Header { login: false });
/// assert!(matches!(c.poll(&mut ticket, Now::default()), Plan::Done(None)));
/// # Ok::<(), mcp_oauth_core::Error>(())
/// ```
pub struct Coordinator<E> {
    machine: Machine,
    static_header: Option<AuthorizationHeader>,
    /// The session as the store holds it: what a reset falls back to.
    persisted: Option<Session>,
    drive: Option<DriveState<E>>,
    generation: u64,
    /// The failure of drive number `.0`, when it failed.
    last_failure: Option<(u64, Failure<E>)>,
    cancel_requested: bool,
    counts: BTreeMap<Step, u64>,
    browser_launches: u64,
    status: AuthStatus,
    /// Outputs the machine emitted outside a drive (none today); carried out by the next drive.
    backlog: Vec<Output>,
}

impl<E> std::fmt::Debug for Coordinator<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coordinator")
            .field("server", &self.machine.server())
            .field("static_header", &self.static_header.is_some())
            .field("driving", &self.drive.is_some())
            .field("generation", &self.generation)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl<E: AdapterFailure> Coordinator<E> {
    /// Wraps `machine` (fresh) with the session the store holds (`persisted`), or a static
    /// header that replaces OAuth altogether (the session is then ignored).
    pub fn new(
        mut machine: Machine,
        persisted: Option<Session>,
        static_header: Option<AuthorizationHeader>,
        now: Now,
    ) -> Self {
        let persisted = if static_header.is_some() {
            None
        } else {
            persisted
        };
        if persisted.is_some() {
            machine.handle_input(now, Input::SessionLoaded(persisted.clone()));
        }
        let mut c = Self {
            status: machine.status().clone(),
            machine,
            static_header,
            persisted,
            drive: None,
            generation: 0,
            last_failure: None,
            cancel_requested: false,
            counts: BTreeMap::new(),
            browser_launches: 0,
            backlog: Vec::new(),
        };
        c.drain_idle_outputs();
        c
    }

    // ---------------------------------------------------------------- getters

    /// The canonical server URL (the store key).
    pub fn server(&self) -> &str {
        self.machine.server()
    }

    /// The machine's configuration.
    pub fn config(&self) -> &Config {
        self.machine.config()
    }

    /// True when a static header replaces OAuth.
    pub fn has_static_header(&self) -> bool {
        self.static_header.is_some()
    }

    /// Where this server stands, for host UIs (`Authorized` with a static header).
    pub fn status(&self) -> AuthStatus {
        if self.static_header.is_some() {
            return AuthStatus::Authorized;
        }
        self.status.clone()
    }

    /// The machine's current session (secrets redacted in `Debug`).
    pub fn session(&self) -> Option<&Session> {
        self.machine.session()
    }

    /// Completed drives so far; a waiter waits until this changes.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// True when [`Coordinator::cancel`] was called and the drive has not acted on it yet (an
    /// adapter checks it before it starts waiting for the user).
    pub fn cancel_requested(&self) -> bool {
        self.cancel_requested
    }

    /// True while a drive runs.
    pub fn is_driving(&self) -> bool {
        self.drive.is_some()
    }

    /// The `tracing` span of the drive in flight (disabled when none runs). The adapter enters
    /// it while it carries out the drive's effects, so its own events (store lock waits) sit
    /// in the drive; the coordinator's events name it as their parent anyway.
    pub fn drive_span(&self) -> tracing::Span {
        self.drive
            .as_ref()
            .map_or_else(tracing::Span::none, |d| d.span.clone())
    }

    /// OAuth requests sent so far, per step.
    pub fn request_counts(&self) -> BTreeMap<Step, u64> {
        self.counts.clone()
    }

    /// How many times the browser was sent to the authorization server.
    pub fn browser_launches(&self) -> u64 {
        self.browser_launches
    }

    /// Whether a login may start without an explicit [`Op::Login`]: the configuration is
    /// interactive, or the grant needs no user (client credentials, jwt-bearer).
    pub fn may_login(&self) -> bool {
        let config = self.machine.config();
        config.interactive || config.grant.is_machine_to_machine()
    }

    // ---------------------------------------------------------------- operations

    /// Starts an operation.
    pub fn begin(&self, op: Op) -> Ticket {
        Ticket {
            op,
            round: Round::Fresh,
            own_drives: 0,
            waits: 0,
            waited_on: None,
            drove: None,
        }
    }

    /// Advances `ticket`: see [`Plan`].
    pub fn poll(&mut self, ticket: &mut Ticket, now: Now) -> Plan<E> {
        if let Some(plan) = self.static_plan(&ticket.op) {
            return plan;
        }
        if let Some(generation) = ticket.waited_on.take() {
            if let Some(f) = self.failure_of(generation + 1) {
                return Plan::Fail(f);
            }
            ticket.round = Round::AfterOtherDrive;
        }
        if let Some(generation) = ticket.drove.take() {
            if let Some(f) = self.failure_of(generation) {
                return Plan::Fail(f);
            }
            ticket.round = Round::AfterOwnDrive;
        }
        if self.drive.is_some() {
            if ticket.waits >= MAX_WAITS {
                return self.give_up(ticket, now);
            }
            ticket.waits += 1;
            trace::waiting_for_drive(self.generation, ticket.waits);
            ticket.waited_on = Some(self.generation);
            return Plan::Wait {
                generation: self.generation,
            };
        }
        if ticket.own_drives >= MAX_OWN_DRIVES && ticket.round == Round::AfterOwnDrive {
            return self.give_up(ticket, now);
        }
        let decision = match ticket.op.clone() {
            Op::Header { login } => self.plan_header(ticket.round, login, now),
            Op::Login => self.plan_login(ticket.round, now),
            Op::Challenge {
                used,
                status,
                www_authenticate,
            } => self.plan_challenge(ticket.round, used, status, www_authenticate, now),
            Op::Logout => self.plan_logout(ticket.round, now),
        };
        match decision {
            Decision::Done(h) => Plan::Done(h),
            Decision::Fail(e) => Plan::Fail(Failure::Core(e)),
            Decision::Drive => {
                ticket.own_drives += 1;
                ticket.drove = Some(self.generation + 1);
                self.start_drive(now, &ticket.op);
                Plan::Drive
            }
        }
    }

    /// Reports that a request with the current token succeeded: resets the machine's step-up
    /// budget and its refresh-after-401 guard. Ignored while a drive runs or with a static
    /// header.
    pub fn request_succeeded(&mut self, now: Now) {
        if self.static_header.is_some() || self.drive.is_some() {
            return;
        }
        self.machine.handle_input(now, Input::RequestSucceeded);
        self.drain_idle_outputs();
    }

    /// Asks the drive in flight to stop at its next step. Returns true when a drive runs, so the
    /// adapter should wake its browser wait.
    pub fn cancel(&mut self) -> bool {
        if self.drive.is_some() {
            trace::cancel_requested();
            self.cancel_requested = true;
        }
        self.drive.is_some()
    }

    /// Hands a `DPoP-Nonce` from the MCP server to the machine (RFC 9449 §9).
    pub fn resource_nonce(&mut self, now: Now, nonce: &str) {
        if self.static_header.is_none() {
            self.machine.handle_input(
                now,
                Input::ResourceNonce {
                    nonce: nonce.to_owned(),
                },
            );
        }
    }

    /// The `DPoP` proof for one resource request when the token is DPoP-bound (RFC 9449 §7).
    pub fn dpop_proof(&mut self, now: Now, method: &str, url: &str) -> Option<String> {
        if self.static_header.is_some() {
            return None;
        }
        self.machine.dpop_proof(now, method, url)
    }

    // ---------------------------------------------------------------- rules

    fn static_plan(&mut self, op: &Op) -> Option<Plan<E>> {
        let header = self.static_header.clone()?;
        Some(match op {
            Op::Header { .. } => Plan::Done(Some(header)),
            Op::Login => Plan::Fail(Failure::Core(Error::Config(
                "a static Authorization header is configured; OAuth login is disabled".into(),
            ))),
            Op::Challenge { status, .. } if matches!(status, 401 | 403) => {
                Plan::Fail(Failure::StaticHeaderRejected { status: *status })
            }
            Op::Challenge { .. } | Op::Logout => Plan::Done(None),
        })
    }

    fn plan_header(&mut self, round: Round, login: bool, now: Now) -> Decision {
        let login = login && self.may_login();
        if round != Round::Fresh {
            // After a drive, take what it produced instead of starting another one (a token
            // shorter-lived than the refresh margin would loop otherwise).
            if let Some(h) = self.usable_header(now) {
                return Decision::Done(Some(h));
            }
            if round == Round::AfterOwnDrive {
                return if login {
                    Decision::Fail(Error::LoginRequired)
                } else {
                    Decision::Done(None)
                };
            }
        }
        match self.machine.ensure_fresh(now) {
            HeaderState::Ready(h) => Decision::Done(Some(h)),
            HeaderState::Pending => Decision::Drive,
            HeaderState::LoginRequired if login => {
                self.machine.authorize(now);
                Decision::Drive
            }
            HeaderState::LoginRequired => Decision::Done(None),
        }
    }

    fn plan_login(&mut self, round: Round, now: Now) -> Decision {
        match round {
            Round::AfterOwnDrive | Round::AfterOtherDrive if self.usable_header(now).is_some() => {
                Decision::Done(None)
            }
            Round::AfterOwnDrive => Decision::Fail(Error::LoginRequired),
            _ => {
                self.machine.authorize(now);
                Decision::Drive
            }
        }
    }

    fn plan_challenge(
        &mut self,
        round: Round,
        used: Option<AuthorizationHeader>,
        status: u16,
        www_authenticate: Vec<String>,
        now: Now,
    ) -> Decision {
        if !matches!(status, 401 | 403) {
            if (200..300).contains(&status) {
                self.request_succeeded(now);
            }
            return Decision::Done(None);
        }
        let current = self.usable_header(now);
        let replaced = match (&used, &current) {
            (Some(u), Some(c)) => !same_header(u, c),
            _ => false,
        };
        match round {
            // The token was replaced since the request left (another caller refreshed): retry.
            Round::Fresh if replaced => {
                trace::token_replaced(status);
                Decision::Done(None)
            }
            Round::AfterOtherDrive | Round::AfterOwnDrive if current.is_some() => {
                Decision::Done(None)
            }
            Round::AfterOwnDrive => Decision::Fail(Error::LoginRequired),
            _ => {
                self.machine.handle_input(
                    now,
                    Input::Challenge {
                        status,
                        www_authenticate,
                    },
                );
                Decision::Drive
            }
        }
    }

    fn plan_logout(&mut self, round: Round, now: Now) -> Decision {
        match round {
            Round::AfterOwnDrive => Decision::Done(None),
            _ => {
                self.machine.logout(now);
                Decision::Drive
            }
        }
    }

    /// Out of rounds: the token a finished drive left, if any, else "login required".
    fn give_up(&mut self, ticket: &Ticket, now: Now) -> Plan<E> {
        trace::gave_up(ticket.own_drives, ticket.waits);
        match (&ticket.op, self.drive.is_none()) {
            (Op::Header { .. }, true) => match self.usable_header(now) {
                Some(h) => Plan::Done(Some(h)),
                None => Plan::Fail(Failure::Core(Error::LoginRequired)),
            },
            (_, true) if self.usable_header(now).is_some() => Plan::Done(None),
            _ => Plan::Fail(Failure::Core(Error::LoginRequired)),
        }
    }

    fn failure_of(&self, generation: u64) -> Option<Failure<E>> {
        match &self.last_failure {
            Some((n, f)) if *n == generation => Some(f.duplicate()),
            _ => None,
        }
    }

    /// The header of the machine's token if it has not expired (no refresh margin). Never read
    /// while a drive runs: its new token may not be stored yet.
    fn usable_header(&self, now: Now) -> Option<AuthorizationHeader> {
        if self.drive.is_some() {
            return None;
        }
        self.machine
            .session()?
            .tokens
            .as_ref()
            .filter(|t| !t.expires_within(now.wall, 0))
            .map(|t| t.authorization_header())
    }

    /// Applies the status events the machine emits outside a drive; keeps any effect for the
    /// next drive.
    fn drain_idle_outputs(&mut self) {
        while let Some(output) = self.machine.poll_output() {
            match output {
                Output::Event(Event::Status(s)) => self.status = s,
                Output::Event(_) => {}
                effect => self.backlog.push(effect),
            }
        }
    }
}

enum Decision {
    Done(Option<AuthorizationHeader>),
    Fail(Error),
    Drive,
}

/// Compares two header values in constant time (they are secrets).
fn same_header(a: &AuthorizationHeader, b: &AuthorizationHeader) -> bool {
    constant_time_eq(a.expose_secret().as_bytes(), b.expose_secret().as_bytes())
}
