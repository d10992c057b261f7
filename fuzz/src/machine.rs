//! Drives [`Machine`] with an arbitrary sequence of inputs and commands decoded from the fuzz
//! data (generators in `machine_gen`), draining `poll_output` after each one, and checks the
//! machine's safety invariants on everything it emits:
//!
//! - no panic, ever (also: no panic in `Debug`);
//! - never more than one `Fetch` in flight (a new one only after the previous was answered,
//!   or after `logout`/`cancel`, which drop the flow); request ids strictly increase; idle
//!   after `cancel`;
//! - a `TokenExchange` fetch only in answer to a `Callback` whose `state` is byte-equal to the
//!   last `OpenBrowser` state, at most once per `OpenBrowser` and never after the flow
//!   failed, was cancelled or logged out (single-use state, RFC 6749 §10.12), carrying that
//!   callback's code;
//! - a `Refresh` fetch only in answer to `SessionLoaded` after a `LoadSession` (no rotating
//!   refresh token is spent without re-reading the store);
//! - every fetched and every browser URL passes the configured `UrlPolicy` (ARCHITECTURE.md §7);
//! - `Debug` of every output and of the machine never shows a `state`, PKCE verifier or code;
//! - error texts carry no control characters (remote text is sanitised; see README.md for
//!   the adapter's `HttpFailed` message).

use arbitrary::Unstructured;
use mcp_oauth_core::callback::parse_callback;
use mcp_oauth_core::{
    Config, Event, HeaderState, HttpResponse, Input, Machine, Now, Output, RequestId, SeededRng,
    Session, Step,
};

use crate::machine_gen::{self as gen, Action};

/// Upper bound on decoded actions per input, so one fuzz case stays fast.
const MAX_ACTIONS: usize = 200;

/// Fuzz entry point.
pub fn run(data: &[u8]) {
    run_with_stats(data);
}

/// Which parts of the flow one input reached (the replay example sums these over a corpus to
/// show the fuzzer gets past discovery).
#[derive(Debug, Default, Clone, Copy)]
pub struct Reached {
    /// An `OpenBrowser` was emitted.
    pub browser: bool,
    /// A `TokenExchange` fetch was emitted.
    pub exchange: bool,
    /// `Event::Authorized` was emitted.
    pub authorized: bool,
    /// A `Refresh` fetch was emitted.
    pub refresh: bool,
    /// A `Revocation` fetch was emitted.
    pub revocation: bool,
}

/// [`run`], reporting how far the input got.
pub fn run_with_stats(data: &[u8]) -> Reached {
    let mut u = Unstructured::new(data);
    let Ok(config) = gen::config(&mut u) else {
        return Reached::default();
    };
    let seed = u.arbitrary::<u8>().unwrap_or(0);
    let Ok(machine) = Machine::new(config.clone(), SeededRng::from_seed([seed; 32])) else {
        return Reached::default();
    };
    let mut h = Harness::new(machine, config, data);
    for _ in 0..MAX_ACTIONS {
        if u.is_empty() {
            break;
        }
        let Ok(action) = gen::action(&mut u, &mut h.world) else {
            break;
        };
        h.apply(action);
    }
    h.reached
}

/// What the harness knows about the world it simulates (shared with the generators).
pub(crate) struct World {
    /// The machine's canonical server URL.
    pub server: String,
    /// The clock handed to the machine.
    pub now: Now,
    /// The `Fetch` not answered yet: id, step and URL.
    pub outstanding: Option<(RequestId, Step, String)>,
    /// Ids answered or abandoned (for stale answers).
    pub past_ids: Vec<RequestId>,
    /// `state` of the last `OpenBrowser` not yet redeemed.
    pub open_state: Option<String>,
    /// Issuer strings seen or invented (PRM entries, metadata `issuer`s).
    pub issuers: Vec<String>,
    /// The `issuer` of the last metadata document served with status 200.
    pub last_meta_issuer: Option<String>,
    /// The redirect URI last reported with `LoopbackReady`.
    pub redirect_uri: String,
    /// The last `StoreSession`, as a store would hold it.
    pub stored: Option<Session>,
    /// A `ListenLoopback` not answered yet.
    pub listen_pending: bool,
    /// The deadline from `poll_timeout`, if any.
    pub deadline: Option<std::time::Duration>,
    /// Counter for unique marker values.
    pub counter: u64,
    /// Values that must never show in `Debug`: states, verifiers, codes.
    pub secrets: Vec<String>,
}

impl World {
    /// The world at the start: no fetch, no session, the well-known issuers plus the server's
    /// own origin (the legacy issuer).
    pub(crate) fn new(server: String) -> Self {
        let mut issuers: Vec<String> = gen::ISSUERS.iter().map(|s| s.to_string()).collect();
        issuers.extend(mcp_oauth_core::resource_metadata::origin(&server));
        World {
            server,
            now: Now::new(std::time::Duration::from_secs(1_000), 1_700_000_000),
            outstanding: None,
            past_ids: Vec::new(),
            open_state: None,
            issuers,
            last_meta_issuer: None,
            redirect_uri: "http://127.0.0.1:5555/callback".into(),
            stored: None,
            listen_pending: false,
            deadline: None,
            counter: 0,
            secrets: Vec::new(),
        }
    }
}

/// What caused a drain, for the causal invariants.
enum Cause {
    Callback(String),
    SessionLoaded,
    Logout,
    Cancel,
    Other,
}

struct Harness {
    m: Machine,
    config: Config,
    world: World,
    last_id: Option<RequestId>,
    load_pending: bool,
    reached: Reached,
    /// The fuzz input (see `check_debug`).
    data: Vec<u8>,
    /// `MACHINE_TRACE=1` prints every action and output (for minimising a crash by hand).
    trace: bool,
}

impl Harness {
    fn new(m: Machine, config: Config, data: &[u8]) -> Self {
        let server = m.server().to_string();
        Self {
            m,
            config,
            world: World::new(server),
            last_id: None,
            load_pending: false,
            reached: Reached::default(),
            data: data.to_vec(),
            trace: std::env::var_os("MACHINE_TRACE").is_some(),
        }
    }

    fn apply(&mut self, action: Action) {
        if self.trace {
            eprintln!("> {action:?}");
        }
        let now = self.world.now;
        let cause = match &action {
            Action::Input(Input::Callback { query }) => Cause::Callback(query.clone()),
            Action::Input(Input::SessionLoaded(_)) => Cause::SessionLoaded,
            Action::Logout => Cause::Logout,
            Action::Cancel => Cause::Cancel,
            _ => Cause::Other,
        };
        match action {
            Action::Input(input) => {
                if let Input::HttpResponse { id, .. } | Input::HttpFailed { id, .. } = &input {
                    self.answered(*id);
                }
                if let Input::HttpResponse { response, .. } = &input {
                    self.learn_response(response);
                }
                self.m.handle_input(now, input);
            }
            Action::Authorize => self.m.authorize(now),
            Action::Refresh => self.m.refresh(now),
            Action::Logout => {
                // Logout drops any flow: its fetch is abandoned, a late answer is stale.
                if let Some((id, ..)) = self.world.outstanding.take() {
                    self.world.past_ids.push(id);
                }
                self.m.logout(now);
            }
            Action::Cancel => {
                // Cancel forgets pending requests: their answers become stale.
                if let Some((id, ..)) = self.world.outstanding.take() {
                    self.world.past_ids.push(id);
                }
                self.m.cancel(now);
            }
            Action::Header => {
                // The getter only looks: no output, the same busy state, the same answer twice.
                let busy = self.m.is_busy();
                let looked = format!("{:?}", self.m.header(now));
                assert!(self.m.poll_output().is_none(), "the header getter emitted");
                assert_eq!(
                    self.m.is_busy(),
                    busy,
                    "the header getter changed the state"
                );
                assert_eq!(format!("{:?}", self.m.header(now)), looked);
                let state = self.m.ensure_fresh(now);
                self.check_debug(&format!("{state:?}"));
                if let HeaderState::Ready(h) = &state {
                    assert!(!crate::has_control(h.expose_secret()), "header injection");
                }
            }
            Action::Jump { instant, wall } => {
                self.world.now = Now::new(now.instant + instant, wall);
                return;
            }
        }
        self.drain(&cause);
    }

    fn answered(&mut self, id: RequestId) {
        if self
            .world
            .outstanding
            .as_ref()
            .is_some_and(|(o, ..)| *o == id)
        {
            self.world.outstanding = None;
            self.world.past_ids.push(id);
        }
    }

    /// Remembers issuer strings from served documents so later answers and callbacks can use
    /// them (the generators bias toward values the machine will accept).
    fn learn_response(&mut self, response: &HttpResponse) {
        let Ok(serde_json::Value::Object(doc)) = serde_json::from_slice(&response.body) else {
            return;
        };
        if let Some(serde_json::Value::Array(list)) = doc.get("authorization_servers") {
            for s in list.iter().filter_map(|v| v.as_str()).take(3) {
                if self.world.issuers.len() < 32 && !self.world.issuers.iter().any(|i| i == s) {
                    self.world.issuers.push(s.to_string());
                }
            }
        }
        if let Some(iss) = doc.get("issuer").and_then(|v| v.as_str()) {
            if response.status == 200 {
                self.world.last_meta_issuer = Some(iss.to_string());
            }
        }
    }

    fn drain(&mut self, cause: &Cause) {
        let mut fetches = 0;
        while let Some(out) = self.m.poll_output() {
            if self.trace {
                eprintln!("  < {out:?}");
            }
            match &out {
                Output::Fetch { id, step, request } => {
                    fetches += 1;
                    assert!(fetches <= 1, "two Fetch outputs for one input");
                    if let Some((old, old_step, _)) = &self.world.outstanding {
                        panic!("Fetch {step:?} while {old_step:?} {old:?} is still in flight");
                    }
                    assert!(self.last_id.is_none_or(|l| *id > l), "request id reused");
                    self.last_id = Some(*id);
                    assert!(
                        self.config.url_policy.check(&request.url).is_ok(),
                        "fetch of a URL the policy refuses"
                    );
                    match step {
                        Step::TokenExchange => {
                            self.reached.exchange = true;
                            self.check_token_exchange(cause, request);
                        }
                        Step::Revocation => self.reached.revocation = true,
                        Step::Refresh => {
                            self.reached.refresh = true;
                            assert!(
                                matches!(cause, Cause::SessionLoaded) && self.load_pending,
                                "refresh without re-reading the session store"
                            );
                        }
                        _ => {}
                    }
                    self.world.outstanding = Some((*id, *step, request.url.clone()));
                }
                Output::OpenBrowser(b) => {
                    self.reached.browser = true;
                    assert!(
                        self.config.url_policy.check(&b.url).is_ok(),
                        "browser URL refused"
                    );
                    let state = b.state.expose_secret().to_string();
                    assert!(
                        b.url.contains(&format!("state={state}")),
                        "state not in URL"
                    );
                    self.world.secrets.push(state.clone());
                    self.world.open_state = Some(state);
                }
                Output::LoadSession => self.load_pending = true,
                Output::Event(Event::Authorized) => self.reached.authorized = true,
                Output::ListenLoopback { .. } => self.world.listen_pending = true,
                Output::StoreSession(s) => self.world.stored = Some(s.clone()),
                Output::ClearSession => self.world.stored = None,
                // Remote text is sanitised, and so is the adapter's `HttpFailed` message.
                Output::Event(Event::Failed(e) | Event::CallbackRejected(e)) => {
                    assert!(
                        !crate::has_control(&e.to_string()),
                        "control chars in {e:?}"
                    );
                    if matches!(out, Output::Event(Event::Failed(_))) {
                        // The flow is over: its state must never be redeemed later.
                        self.world.open_state = None;
                    }
                }
                _ => {}
            }
            self.check_debug(&format!("{out:?}"));
        }
        match cause {
            Cause::SessionLoaded => self.load_pending = false,
            Cause::Logout | Cause::Cancel => {
                // Both drop the browser step: its state must never be redeemed later.
                self.world.open_state = None;
                if matches!(cause, Cause::Cancel) {
                    assert!(fetches == 0 && !self.m.is_busy(), "busy after cancel");
                }
            }
            _ => {}
        }
        if self.world.outstanding.is_some() {
            assert!(self.m.is_busy(), "idle machine with a fetch in flight");
        }
        self.world.deadline = self.m.poll_timeout().map(|d| d.at);
        self.check_debug(&format!("{:?}", self.m));
    }

    fn check_token_exchange(&mut self, cause: &Cause, request: &mcp_oauth_core::HttpRequest) {
        let Cause::Callback(query) = cause else {
            panic!("TokenExchange not caused by a callback");
        };
        let open = self
            .world
            .open_state
            .take()
            .expect("TokenExchange without an unredeemed OpenBrowser state");
        let params = parse_callback(query).expect("TokenExchange after an unparseable callback");
        assert_eq!(
            params.state.as_deref(),
            Some(open.as_str()),
            "state not checked"
        );
        let form = request.form_pairs();
        let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let code = params.code.as_ref().map(|c| c.expose_secret().to_string());
        assert_eq!(
            field("code"),
            code,
            "exchanged a code other than the callback's"
        );
        let verifier = field("code_verifier").expect("code_verifier in the exchange");
        assert_eq!(verifier.len(), 43, "RFC 7636 verifier length");
        self.world.secrets.push(verifier);
    }

    fn check_debug(&self, text: &str) {
        for s in &self.world.secrets {
            // libFuzzer learns constants from comparisons in the harness, so it may write a
            // marker into free text (an error message, an `iss`) that the machine then shows
            // legitimately. Only a secret the input does not contain counts as a leak.
            let known = self.data.windows(s.len()).any(|w| w == s.as_bytes());
            assert!(
                known || !text.contains(s.as_str()),
                "a secret leaked into Debug output"
            );
        }
    }
}
