//! The parity harness: a [`Scenario`] (testbed configuration, stored session, injected fault,
//! operations), the [`Observed`] outcome both runners report, and what they share: the seeded
//! stores, the store that counts writes, the fault injector and the error description.
//!
//! Each runner gets its own testbed on loopback sockets (port 0) and its own store, so the two
//! adapters never share state; the seeding login runs through the blocking adapter for both, and
//! is not part of what is observed (the log and the counters start after it).

pub mod blocking;
pub mod faults;
pub mod seed;
pub mod table;
pub mod tokio_runner;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use mcp_oauth_blocking::store::{SessionStore, StoreError, StoreKind, StoreLock};
use mcp_oauth_blocking::AdapterError;
use mcp_oauth_core::{Session, Step};
use mcp_oauth_tests::serve::TestbedServer;
use mcp_oauth_tests::testbed::TestbedConfig;

pub use faults::Fault;
pub use seed::Setup;

/// One row of the table.
pub struct Scenario {
    /// The item of the list this row covers.
    pub name: &'static str,
    /// The servers' behaviour.
    pub testbed: fn() -> TestbedConfig,
    /// What the store (or the static header) holds before the first operation.
    pub setup: Setup,
    /// What goes wrong on the way, injected into the adapter's HTTP client.
    pub fault: Fault,
    /// The operations, run in order until one fails.
    pub ops: Vec<Op>,
    /// What both adapters must observe.
    pub expected: Observed,
}

/// One operation on the authorizer, through its public API.
#[derive(Debug, Clone, Copy)]
pub enum Op {
    /// `send` of an MCP `tools/list` (needs `mcp:basic` at the testbed).
    ToolsList,
    /// `send` of an MCP `tools/call` of the testbed's `test-tool` (may need more scope).
    CallTestTool,
    /// An explicit `login()`.
    Login,
    /// `header()` from this many concurrent callers released together; succeeds when every
    /// caller got the same header.
    Stampede(usize),
    /// `login()` with a browser that never completes; `cancel()` once `status()` reports
    /// `WaitingForBrowser`.
    LoginThenCancel,
}

/// Which browser the runner installs: the scripted user, or one that never comes back.
pub fn browser_completes(ops: &[Op]) -> bool {
    !ops.iter().any(|op| matches!(op, Op::LoginThenCancel))
}

/// What a session holds, without its secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// An access token is present (expired or not).
    pub access_token: bool,
    /// A refresh token is present.
    pub refresh_token: bool,
}

impl Summary {
    /// Both tokens.
    pub const TOKENS: Option<Summary> = Some(Summary {
        access_token: true,
        refresh_token: true,
    });

    /// The summary of `session`.
    pub fn of(session: Option<&Session>) -> Option<Summary> {
        session.map(|s| Summary {
            access_token: s.tokens.is_some(),
            refresh_token: s.tokens.as_ref().is_some_and(|t| t.refresh_token.is_some()),
        })
    }
}

/// Everything observable about one run, compared between the adapters and with the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Requests the testbed served, by kind, with their statuses in order.
    pub served: BTreeMap<String, Vec<u16>>,
    /// The authorizer's own count of OAuth requests per step (`request_counts()`), including
    /// requests that failed before reaching the testbed.
    pub oauth_requests: BTreeMap<Step, u64>,
    /// `Ok`, or the first failing operation's error: variant name and message.
    pub result: Result<(), String>,
    /// `browser_launches()`.
    pub browser_launches: u64,
    /// `save` calls on the store.
    pub store_saves: usize,
    /// `delete` calls on the store.
    pub store_deletes: usize,
    /// The authorizer's session afterwards (`session()`).
    pub session: Option<Summary>,
    /// The stored session afterwards.
    pub stored: Option<Summary>,
    /// Protocol violations the testbed recorded (PKCE, state, redirect URI, resource, ...).
    pub violations: Vec<String>,
}

/// `served` from `(kind, statuses)` pairs.
pub fn served(pairs: &[(&str, &[u16])]) -> BTreeMap<String, Vec<u16>> {
    pairs
        .iter()
        .map(|(k, s)| ((*k).to_string(), s.to_vec()))
        .collect()
}

/// `oauth_requests` from `(step, count)` pairs.
pub fn steps(pairs: &[(Step, u64)]) -> BTreeMap<Step, u64> {
    pairs.iter().copied().collect()
}

/// The testbed's log, by kind.
pub fn served_by_kind(server: &TestbedServer) -> BTreeMap<String, Vec<u16>> {
    let mut out: BTreeMap<String, Vec<u16>> = BTreeMap::new();
    server.with_testbed(|t| {
        for r in t.log() {
            out.entry(format!("{:?}", r.kind))
                .or_default()
                .push(r.status);
        }
    });
    out
}

/// The testbed saw no protocol violation (PKCE, state, redirect URI, resource, ...).
pub fn violations(server: &TestbedServer) -> Vec<String> {
    server.with_testbed(|t| t.violations().to_vec())
}

/// The outcome of a stampede: `Ok` when every caller got the same header, else the first
/// error (or the number of different headers handed out).
pub fn same_header_for_all(headers: Vec<Result<String, String>>) -> Result<(), String> {
    let headers: Vec<String> = headers.into_iter().collect::<Result<_, _>>()?;
    let mut distinct = headers.clone();
    distinct.sort();
    distinct.dedup();
    match distinct.len() {
        1 => Ok(()),
        n => Err(format!(
            "{n} different headers for {} callers",
            headers.len()
        )),
    }
}

/// `message` with every loopback port replaced by `PORT`: each runner has its own testbed and
/// listener ports, which error messages may name.
pub fn without_ports(message: String) -> String {
    const HOST: &str = "127.0.0.1:";
    let mut out = String::with_capacity(message.len());
    let mut rest = message.as_str();
    while let Some(i) = rest.find(HOST) {
        out.push_str(&rest[..i + HOST.len()]);
        rest = rest[i + HOST.len()..].trim_start_matches(|c: char| c.is_ascii_digit());
        out.push_str("PORT");
    }
    out.push_str(rest);
    out
}

/// An error as the table names it: the variant (with the core's variant inside `Auth`) and
/// the message.
pub fn describe(e: &AdapterError) -> String {
    fn variant(debug: &str) -> &str {
        debug.split(['(', ' ', '{']).next().unwrap_or(debug)
    }
    let name = match e {
        AdapterError::Auth(core) => format!("Auth({})", variant(&format!("{core:?}"))),
        other => variant(&format!("{other:?}")).to_string(),
    };
    format!("{name}: {e}")
}

/// A store that counts `save` and `delete` calls and passes everything to the store inside.
pub struct CountingStore {
    inner: Arc<dyn SessionStore>,
    saves: AtomicUsize,
    deletes: AtomicUsize,
}

impl CountingStore {
    /// Counts writes to `inner`.
    pub fn new(inner: Arc<dyn SessionStore>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            saves: AtomicUsize::new(0),
            deletes: AtomicUsize::new(0),
        })
    }

    /// `(saves, deletes)` so far.
    pub fn writes(&self) -> (usize, usize) {
        (
            self.saves.load(Ordering::SeqCst),
            self.deletes.load(Ordering::SeqCst),
        )
    }

    /// The summary of what is stored under `key`.
    pub fn summary(&self, key: &str) -> Option<Summary> {
        Summary::of(self.inner.load(key).expect("store readable").as_ref())
    }
}

impl SessionStore for CountingStore {
    fn load(&self, key: &str) -> Result<Option<Session>, StoreError> {
        self.inner.load(key)
    }

    fn save(&self, key: &str, session: &Session) -> Result<(), StoreError> {
        self.saves.fetch_add(1, Ordering::SeqCst);
        self.inner.save(key, session)
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.deletes.fetch_add(1, Ordering::SeqCst);
        self.inner.delete(key)
    }

    fn lock(&self, key: &str) -> Result<StoreLock, StoreError> {
        self.inner.lock(key)
    }

    fn list(&self) -> Result<Vec<String>, StoreError> {
        self.inner.list()
    }

    fn kind(&self) -> StoreKind {
        self.inner.kind()
    }
}
