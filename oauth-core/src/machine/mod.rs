//! The authorization state machine: one private `State` enum, all transitions in `machine/`
//! (h11 style; the state graph is drawn in ARCHITECTURE.md §3).
//!
//! The machine only sequences the step modules; each step's request builder and response parser
//! lives in its own module. All inputs carry a [`Now`]; all effects leave through
//! [`Machine::poll_output`]. See the crate docs for the drain order.
//!
//! The `impl` is split by phase so each file stays readable: `discovery` (challenge, PRM, AS
//! metadata, scopes), `login` (registration, browser step, code exchange), `grant` (the
//! machine-to-machine grants) and `refresh` (refresh and logout). All state lives in one private
//! `State` enum here.

mod discovery;
mod dpop_choice;
mod grant;
mod login;
mod refresh;

use grant::GrantKind;

use std::collections::VecDeque;

use rand_core::CryptoRngCore;

use crate::authorize::{authorization_url, AuthorizationParams};
use crate::callback::{parse_callback, validate_callback};
use crate::challenge::{auth_challenge, AuthChallenge};
use crate::config::{Config, ResourceParameter};
use crate::error::{sanitize_remote_text, Error};
use crate::http::{HttpRequest, HttpResponse, RequestId, Step, TransportError};
use crate::io::{AuthStatus, BrowserRequest, Event, HeaderState, Input, Output};
use crate::resource_metadata::{self as prm, PrmCandidate, ProtectedResourceMetadata};
use crate::revoke::{self, TokenTypeHint};
use crate::secret::{PkceVerifier, StateToken};
use crate::server_metadata::{self as asm, AuthorizationServerMetadata};
use crate::session::{ClientKind, ClientRegistration, Session, SESSION_VERSION};
use crate::time::{Deadline, DeadlineReason, Now};
use crate::{pkce, registration, scope, token};

/// The MCP authorization client for one MCP server.
///
/// ```
/// use mcp_oauth_core::{Config, Input, Machine, Now, Output, SeededRng};
///
/// let mut m = Machine::new(Config::new("https://mcp.example.com/mcp"), SeededRng::from_seed([1; 32]))
///     .expect("valid config");
/// let now = Now::default();
/// m.handle_input(now, Input::Challenge { status: 401, www_authenticate: vec![] });
/// // First request: the path-based protected resource metadata (RFC 9728 §3.1).
/// let first_fetch = std::iter::from_fn(|| m.poll_output()).find_map(|out| match out {
///     Output::Fetch { request, .. } => Some(request.url),
///     _ => None, // status events
/// });
/// assert_eq!(
///     first_fetch.as_deref(),
///     Some("https://mcp.example.com/.well-known/oauth-protected-resource/mcp")
/// );
/// ```
pub struct Machine {
    config: Config,
    server: String,
    rng: Box<dyn CryptoRngCore + Send>,
    state: State,
    session: Option<Session>,
    outputs: VecDeque<Output>,
    next_id: u64,
    status: AuthStatus,
    /// Discovery results kept for step-up and re-authorization (no second fetch unless the
    /// challenge or PRM names a different authorization server).
    cached_prm: Option<ProtectedResourceMetadata>,
    cached_meta: Option<AuthorizationServerMetadata>,
    cached_prm_url: Option<String>,
    /// Authorization requests in the current chain, bounded by `max_authorization_attempts` (MCP
    /// 2025-11-25 Authorization, "Step-Up Authorization Flow": retry limits).
    attempts: u32,
    /// Set when a refresh was done because of a 401; a second 401 then re-authorizes.
    refreshed_after_401: bool,
    /// Wall time the current tokens were obtained by this machine (for the effective margin).
    tokens_obtained_at: Option<u64>,
    /// DPoP nonces from the authorization server (§8) and the resource server (§9).
    as_nonce: Option<String>,
    rs_nonce: Option<String>,
    /// The grant the current tokens came from (machine-to-machine grants are re-run on expiry).
    last_grant: Option<GrantKind>,
    /// The issuer of the latest flow, so a failed login can still name the AS host.
    last_issuer: Option<String>,
    /// Wall time before which no renewal is tried again: a refresh or machine grant failed
    /// without invalidating anything while the access token was still valid (refresh.rs
    /// `renewal_failed`), so that token keeps being handed out until then.
    renewal_not_before: Option<u64>,
    /// A challenge from the resource server offered the `DPoP` scheme (RFC 9449 §7.1), or the
    /// loaded session's tokens are DPoP-bound: re-authorizations keep asking for bound tokens.
    rs_dpop_seen: bool,
    /// The resource server refused a DPoP-bound token with a `Bearer`-only challenge (persisted
    /// in [`crate::session::SessionSettings`]).
    rs_refuses_dpop: bool,
    /// The next refresh asks for a bound token with a new key: the resource server refused a
    /// Bearer token with a `DPoP`-only challenge.
    upgrade_to_dpop: bool,
}

/// What the header getters decide: an answer, or a renewal to start first.
enum HeaderPlan {
    Answer(HeaderState),
    Refresh,
    Regrant,
}

/// The answer to one `Fetch`: a response (any status), or why none came.
type Fetched = Result<HttpResponse, TransportError>;

/// The in-progress login: what discovery found so far.
#[derive(Debug, Clone, Default)]
struct Flow {
    challenge: AuthChallenge,
    resource: Option<String>,
    issuer: String,
    legacy: bool,
    meta: Option<AuthorizationServerMetadata>,
    scopes: Vec<String>,
    redirect_uri: String,
    registration: Option<ClientRegistration>,
    reregistered: bool,
    /// The registration came from the store (so `invalid_client` may mean it was forgotten).
    reused_registration: bool,
    /// The DPoP key for the tokens this flow obtains (RFC 9449), when DPoP is in use.
    dpop_key: Option<crate::secret::DpopPrivateKey>,
    /// Why a metadata URL gave nothing, other than 404 (discovery.rs `note_miss`): the first
    /// transient cause, else the first other one. Reported when discovery ends without a
    /// document; a transient one also rules out the 2025-03-26 legacy fallback.
    discovery_cause: Option<Error>,
}

/// What the browser step must verify (the issuer is stored with `state` and
/// the verifier: MCP 2026-07-28 Authorization, "Authorization Response Validation"), and
/// what it holds open.
struct Pending {
    flow: Flow,
    state: StateToken,
    verifier: PkceVerifier,
    /// When the user's time is up (`Input::Timeout` after it fails the flow).
    deadline: Deadline,
    listener: Listener,
}

/// The loopback listener is open: `ListenLoopback` was emitted and `CloseLoopback` not yet.
/// Only [`Machine::listen`] makes one and only [`Machine::close_listener`] consumes one; it is
/// not `Clone`, so exactly one state of the browser step (`Listening`, `Registering`,
/// `WaitingCallback`) holds it and every way out of them closes the listener.
#[must_use = "an open listener must be closed with Machine::close_listener"]
struct Listener(());

/// A token-endpoint request in flight (the code exchange, a refresh or a machine grant), with
/// what the one DPoP nonce retry needs (RFC 9449 §8).
struct TokenCall {
    id: RequestId,
    step: Step,
    /// The key the request's proof was signed with: the tokens it brings are bound to it
    /// (`None`: sent without a proof, the tokens are Bearer tokens).
    dpop_key: Option<crate::secret::DpopPrivateKey>,
    /// The request without its proof, kept for the nonce retry while it has not been made.
    retry: Option<HttpRequest>,
}

enum State {
    Idle,
    FetchingPrm {
        id: RequestId,
        flow: Flow,
        candidates: Vec<PrmCandidate>,
        index: usize,
    },
    FetchingMeta {
        id: RequestId,
        flow: Flow,
        candidates: Vec<String>,
        index: usize,
    },
    Listening {
        flow: Flow,
        listener: Listener,
    },
    Registering {
        id: RequestId,
        flow: Flow,
        listener: Listener,
    },
    WaitingCallback(Box<Pending>),
    ExchangingCode {
        call: TokenCall,
        flow: Flow,
    },
    ReloadingForRefresh,
    /// A machine-to-machine grant at the token endpoint (client credentials, jwt-bearer).
    Granting {
        /// Its step is [`Step::ClientCredentials`] or [`Step::JwtBearer`].
        call: TokenCall,
        flow: Flow,
    },
    /// SEP-990 step one: RFC 8693 token exchange at the enterprise IdP.
    ExchangingAssertion {
        id: RequestId,
        flow: Flow,
    },
    Refreshing {
        call: TokenCall,
    },
    Revoking {
        id: RequestId,
        remaining: Vec<HttpRequest>,
    },
}

impl State {
    fn request_id(&self) -> Option<RequestId> {
        match self {
            State::FetchingPrm { id, .. }
            | State::FetchingMeta { id, .. }
            | State::Registering { id, .. }
            | State::ExchangingAssertion { id, .. }
            | State::Revoking { id, .. } => Some(*id),
            State::ExchangingCode { call, .. }
            | State::Refreshing { call }
            | State::Granting { call, .. } => Some(call.id),
            _ => None,
        }
    }

    /// The token-endpoint request this state waits for, if it waits for one: the only
    /// requests a DPoP nonce answer may re-send.
    fn token_call_mut(&mut self) -> Option<&mut TokenCall> {
        match self {
            State::ExchangingCode { call, .. }
            | State::Refreshing { call }
            | State::Granting { call, .. } => Some(call),
            _ => None,
        }
    }

    /// The open loopback listener this state holds, given up with the state.
    fn into_listener(self) -> Option<Listener> {
        match self {
            State::Listening { listener, .. } | State::Registering { listener, .. } => {
                Some(listener)
            }
            State::WaitingCallback(pending) => Some(pending.listener),
            _ => None,
        }
    }

    fn is_idle(&self) -> bool {
        matches!(self, State::Idle)
    }
}

impl Machine {
    /// A machine for `config.server_url`, drawing `state` and PKCE verifiers from `rng`.
    pub fn new(config: Config, rng: impl CryptoRngCore + Send + 'static) -> Result<Self, Error> {
        let server = prm::canonical_server_url(&config.server_url)?;
        config.url_policy.check(&server)?;
        if let Some(url) = &config.client.metadata_document_url {
            registration::validate_client_id_url(url)?;
        }
        config.validate()?;
        Ok(Self::fresh(config, server, Box::new(rng)))
    }

    /// A machine in its initial state (no session, no cached discovery).
    fn fresh(config: Config, server: String, rng: Box<dyn CryptoRngCore + Send>) -> Self {
        Self {
            config,
            server,
            rng,
            state: State::Idle,
            session: None,
            outputs: VecDeque::new(),
            next_id: 0,
            status: AuthStatus::AuthorizationRequired { server_host: None },
            cached_prm: None,
            cached_meta: None,
            cached_prm_url: None,
            attempts: 0,
            refreshed_after_401: false,
            last_issuer: None,
            tokens_obtained_at: None,
            as_nonce: None,
            rs_nonce: None,
            last_grant: None,
            renewal_not_before: None,
            rs_dpop_seen: false,
            rs_refuses_dpop: false,
            upgrade_to_dpop: false,
        }
    }

    /// Returns to the initial state holding `session` (what the store holds), keeping the
    /// configuration, the RNG and the request-id counter: the way out of a flow its driver
    /// abandoned (a cancelled or failed drive, an unsaved token). Cached discovery is lost; any
    /// answer to a request of the old flow is then ignored as stale.
    pub fn reset(&mut self, now: Now, session: Option<Session>) {
        let placeholder: Box<dyn CryptoRngCore + Send> =
            Box::new(crate::rng::SeededRng::from_seed([0; 32]));
        let rng = std::mem::replace(&mut self.rng, placeholder);
        let next_id = self.next_id;
        let (config, server) = (self.config.clone(), self.server.clone());
        *self = Self::fresh(config, server, rng);
        self.next_id = next_id;
        if session.is_some() {
            self.handle_input(now, Input::SessionLoaded(session));
        }
    }

    // ---------------------------------------------------------------- getters

    /// The canonical server URL (the session store key).
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The configuration this machine was built with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where this server stands, for host UIs.
    pub fn status(&self) -> &AuthStatus {
        &self.status
    }

    /// The current session, if any.
    pub fn session(&self) -> Option<&Session> {
        self.session.as_ref()
    }

    /// True while a login, refresh or logout is in flight.
    pub fn is_busy(&self) -> bool {
        !self.state.is_idle()
    }

    /// The `Authorization` header for the next MCP request, as things stand: never starts
    /// anything and never emits an output. `Pending` means a refresh, machine grant or login is
    /// in flight, or a renewal is due that [`Machine::ensure_fresh`] would start now.
    ///
    /// ```
    /// use mcp_oauth_core::{Config, HeaderState, Machine, Now, SeededRng};
    ///
    /// let m = Machine::new(Config::new("https://mcp.example.com/mcp"), SeededRng::from_seed([1; 32]))?;
    /// // No session: a login is needed, and asking changed nothing.
    /// assert!(matches!(m.header(Now::default()), HeaderState::LoginRequired));
    /// assert!(!m.is_busy());
    /// # Ok::<(), mcp_oauth_core::Error>(())
    /// ```
    pub fn header(&self, now: Now) -> HeaderState {
        match self.header_plan(now) {
            HeaderPlan::Answer(state) => state,
            HeaderPlan::Refresh | HeaderPlan::Regrant => HeaderState::Pending,
        }
    }

    /// What [`Machine::header`] answers and [`Machine::ensure_fresh`] does.
    fn header_plan(&self, now: Now) -> HeaderPlan {
        let Some(tokens) = self.session.as_ref().and_then(|s| s.tokens.as_ref()) else {
            return HeaderPlan::Answer(if self.state.is_idle() {
                HeaderState::LoginRequired
            } else {
                HeaderState::Pending
            });
        };
        let ready = || HeaderPlan::Answer(HeaderState::Ready(tokens.authorization_header()));
        if !tokens.expires_within(now.wall, self.effective_margin(tokens)) {
            return ready();
        }
        if !self.state.is_idle() {
            return HeaderPlan::Answer(HeaderState::Pending);
        }
        let expired = tokens.expires_within(now.wall, 0);
        if !expired && self.renewal_not_before.is_some_and(|at| now.wall < at) {
            // The last renewal failed for a passing reason: use the still-valid token.
            return ready();
        }
        if tokens.refresh_token.is_some() {
            HeaderPlan::Refresh
        } else if self.regrants_silently() {
            HeaderPlan::Regrant
        } else if !expired {
            ready()
        } else {
            HeaderPlan::Answer(HeaderState::LoginRequired)
        }
    }

    /// The refresh margin, but never more than half the lifetime of a token this machine
    /// obtained (a 30-second token must not be refreshed on every call with a 60-second margin).
    fn effective_margin(&self, tokens: &crate::session::TokenSet) -> u64 {
        let margin = self.config.refresh_margin.as_secs();
        // The stored issue time first: another process may have obtained these tokens.
        match (
            tokens.obtained_at.or(self.tokens_obtained_at),
            tokens.expires_at,
        ) {
            (Some(obtained), Some(expires)) if expires > obtained => {
                margin.min((expires - obtained) / 2)
            }
            _ => margin,
        }
    }

    // ---------------------------------------------------------------- inputs

    /// Feeds one fact to the machine. Drain [`Machine::poll_output`] afterwards.
    pub fn handle_input(&mut self, now: Now, input: Input) {
        match input {
            Input::HttpResponse { id, response } => self.on_http(now, id, Ok(response)),
            Input::HttpFailed { id, error } => {
                // Adapter text ends up in errors shown to users: printable ASCII only.
                self.on_http(now, id, Err(error.sanitized()))
            }
            Input::LoopbackReady { redirect_uri } => self.on_loopback_ready(now, redirect_uri),
            Input::LoopbackFailed { error } => {
                if matches!(self.state, State::Listening { .. }) {
                    self.fail(
                        now,
                        Error::Config(format!(
                            "loopback listener: {}",
                            sanitize_remote_text(&error)
                        )),
                    );
                }
            }
            Input::Callback { query } => self.on_callback(now, &query),
            Input::Challenge {
                status,
                www_authenticate,
            } => self.on_challenge(now, status, &www_authenticate),
            Input::RequestSucceeded => {
                self.attempts = 0;
                self.refreshed_after_401 = false;
                self.upgrade_to_dpop = false;
            }
            Input::SessionLoaded(session) => self.on_session_loaded(now, session),
            Input::ResourceNonce { nonce } => self.rs_nonce = Some(nonce),
            Input::Timeout => {
                if self.poll_timeout().is_some_and(|d| now.instant >= d.at) {
                    self.fail(now, Error::AuthorizationTimeout);
                }
            }
        }
    }

    // ---------------------------------------------------------------- commands

    /// The `Authorization` header for the next MCP request, starting a renewal when the token
    /// is within the refresh margin of expiry and none runs yet: a refresh (with a refresh
    /// token) or the machine-to-machine grant again. Returns `Pending` then; drain
    /// [`Machine::poll_output`] and ask again when the flow finishes. A renewal that failed for
    /// a passing reason is not retried before its back-off ends; the still-valid token is
    /// returned meanwhile.
    pub fn ensure_fresh(&mut self, now: Now) -> HeaderState {
        match self.header_plan(now) {
            HeaderPlan::Answer(state) => state,
            HeaderPlan::Refresh => {
                self.start_refresh(false);
                HeaderState::Pending
            }
            HeaderPlan::Regrant => {
                // Machine-to-machine grants issue no refresh token: run the grant again.
                self.regrant(now);
                HeaderState::Pending
            }
        }
    }

    /// Starts a login proactively (no 401 seen yet). No-op while another flow runs.
    pub fn authorize(&mut self, now: Now) {
        if self.state.is_idle() {
            self.attempts = 0;
            self.begin_discovery(now, AuthChallenge::default(), Vec::new());
        }
    }

    /// Refreshes now if a refresh token exists (e.g. a host-driven timer). No-op while busy.
    pub fn refresh(&mut self, _now: Now) {
        let has_rt = self
            .session
            .as_ref()
            .and_then(|s| s.tokens.as_ref())
            .is_some_and(|t| t.refresh_token.is_some());
        if self.state.is_idle() && has_rt {
            self.start_refresh(false);
        }
    }

    /// Revokes the tokens at the AS when it has a revocation endpoint (RFC 7009: refresh token
    /// first, then access token), then clears the stored session. Any in-flight flow is dropped.
    pub fn logout(&mut self, _now: Now) {
        self.drop_flow();
        let mut requests = Vec::new();
        if let Some(s) = &self.session {
            if let (Some(endpoint), Some(tokens)) = (&s.revocation_endpoint, &s.tokens) {
                if self.config.url_policy.check(endpoint).is_ok() {
                    if let Some(rt) = &tokens.refresh_token {
                        requests.push(revoke::revocation_request(
                            endpoint,
                            &s.client,
                            rt.expose_secret(),
                            TokenTypeHint::RefreshToken,
                        ));
                    }
                    requests.push(revoke::revocation_request(
                        endpoint,
                        &s.client,
                        tokens.access_token.expose_secret(),
                        TokenTypeHint::AccessToken,
                    ));
                }
            }
        }
        requests.reverse();
        self.next_revocation(requests);
    }

    /// Abandons a login or refresh in flight (the user closed the dialog, the host shuts down):
    /// closes the listener, forgets pending requests (their answers become stale) and keeps the
    /// session and the cached discovery results.
    pub fn cancel(&mut self, now: Now) {
        if self.state.is_idle() {
            return;
        }
        self.fail(now, Error::Cancelled);
    }

    // ---------------------------------------------------------------- polling

    /// The next effect to carry out, in order. Drain to `None` after every input or command.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When to deliver `Input::Timeout` (if ever).
    pub fn poll_timeout(&self) -> Option<Deadline> {
        match &self.state {
            State::WaitingCallback(pending) => Some(pending.deadline),
            _ => None,
        }
    }

    // ================================================================ transitions

    fn on_http(&mut self, now: Now, id: RequestId, result: Fetched) {
        if self.state.request_id() != Some(id) {
            return; // unknown or stale id: ignored (ARCHITECTURE.md §2)
        }
        let mut state = std::mem::replace(&mut self.state, State::Idle);
        if let (Ok(resp), Some(call)) = (&result, state.token_call_mut()) {
            if self.retry_with_dpop_nonce(now, call, resp) {
                self.state = state;
                return;
            }
        }
        match state {
            State::FetchingPrm {
                flow,
                candidates,
                index,
                ..
            } => self.on_prm(now, flow, candidates, index, result),
            State::FetchingMeta {
                flow,
                candidates,
                index,
                ..
            } => self.on_meta(now, flow, candidates, index, result),
            State::Registering { flow, listener, .. } => {
                self.on_registered(now, flow, listener, result)
            }
            State::ExchangingCode { flow, call } => self.on_code_exchanged(now, flow, call, result),
            State::Refreshing { call } => self.on_refreshed(now, call, result),
            State::Granting { flow, call } => self.on_granted(now, flow, call, result),
            State::ExchangingAssertion { flow, .. } => {
                self.on_assertion_exchanged(now, flow, result)
            }
            State::Revoking { remaining, .. } => self.next_revocation(remaining),
            other => self.state = other,
        }
    }

    // ---------------------------------------------------------------- helpers

    fn resource_for(&self, doc: Option<&ProtectedResourceMetadata>) -> Option<String> {
        match &self.config.resource_parameter {
            ResourceParameter::Omit => None,
            ResourceParameter::Fixed(r) => Some(r.clone()),
            ResourceParameter::Discovered => Some(
                doc.map(|d| d.resource.clone())
                    .unwrap_or_else(|| self.server.clone()),
            ),
        }
    }

    fn fetch(&mut self, step: Step, request: HttpRequest) -> RequestId {
        self.next_id += 1;
        let id = RequestId(self.next_id);
        self.emit(Output::Fetch { id, step, request });
        id
    }

    fn emit(&mut self, output: Output) {
        self.outputs.push_back(output);
    }

    fn set_status(&mut self, status: AuthStatus) {
        if self.status != status {
            self.status = status.clone();
            self.emit(Output::Event(Event::Status(status)));
        }
    }

    /// The cached discovery results for `issuer`, in the persisted form.
    fn discovery_cache(&self, issuer: &str) -> Option<crate::session::DiscoveryCache> {
        let (prm, meta, url) = (
            self.cached_prm.as_ref()?,
            self.cached_meta.as_ref()?,
            self.cached_prm_url.as_ref()?,
        );
        if meta.issuer != issuer || prm.authorization_servers.first() != Some(&meta.issuer) {
            return None;
        }
        Some(crate::session::DiscoveryCache {
            metadata_url: url.clone(),
            authorization_endpoint: meta.authorization_endpoint.clone()?,
            registration_endpoint: meta.registration_endpoint.clone(),
            prm_scopes: prm.scopes_supported.clone(),
            offline_access: meta.lists_scope(crate::scope::OFFLINE_ACCESS),
            auth_methods: meta.token_endpoint_auth_methods_supported.clone(),
            grant_types: meta.grant_types_supported.clone(),
            dpop_algs: meta.dpop_signing_alg_values_supported.clone(),
            iss_supported: meta.authorization_response_iss_parameter_supported,
            cimd_supported: meta.client_id_metadata_document_supported,
        })
    }

    /// Rebuilds the in-memory discovery cache from a stored session (restart without fetches).
    /// The metadata passed every check when it was first fetched (issuer identity, S256, URL
    /// policy); the URL policy is applied again here since the store is outside the core.
    fn restore_discovery(&mut self, s: &Session) {
        let Some(d) = &s.discovery else {
            return;
        };
        let urls = [Some(&d.authorization_endpoint), Some(&s.token_endpoint)];
        if urls
            .into_iter()
            .flatten()
            .any(|u| self.config.url_policy.check(u).is_err())
        {
            return;
        }
        self.cached_prm = Some(ProtectedResourceMetadata {
            resource: s.resource.clone().unwrap_or_else(|| self.server.clone()),
            authorization_servers: vec![s.issuer.clone()],
            scopes_supported: d.prm_scopes.clone(),
            resource_name: None,
            bearer_methods_supported: None,
            dpop_bound_access_tokens_required: false,
            dpop_signing_alg_values_supported: None,
        });
        self.cached_meta = Some(AuthorizationServerMetadata {
            issuer: s.issuer.clone(),
            authorization_endpoint: Some(d.authorization_endpoint.clone()),
            token_endpoint: Some(s.token_endpoint.clone()),
            registration_endpoint: d.registration_endpoint.clone(),
            revocation_endpoint: s.revocation_endpoint.clone(),
            scopes_supported: d
                .offline_access
                .then(|| vec![crate::scope::OFFLINE_ACCESS.to_string()]),
            response_types_supported: Some(vec!["code".into()]),
            grant_types_supported: d.grant_types.clone(),
            code_challenge_methods_supported: Some(vec!["S256".into()]),
            token_endpoint_auth_methods_supported: d.auth_methods.clone(),
            client_id_metadata_document_supported: d.cimd_supported,
            authorization_response_iss_parameter_supported: d.iss_supported,
            dpop_signing_alg_values_supported: d.dpop_algs.clone(),
        });
        self.cached_prm_url = Some(d.metadata_url.clone());
    }

    /// Asks the adapter for a loopback listener; the [`Listener`] travels with the flow's
    /// states until [`Machine::close_listener`].
    fn listen(&mut self, flow: Flow) {
        let preferred_port = self
            .session
            .as_ref()
            .map(|s| &s.client)
            .filter(|c| c.kind == ClientKind::Dynamic && c.issuer == flow.issuer)
            .and_then(|c| c.redirect_uri.as_deref())
            .and_then(port_of);
        self.emit(Output::ListenLoopback { preferred_port });
        self.state = State::Listening {
            flow,
            listener: Listener(()),
        };
    }

    /// The browser step is over: stop the listener.
    fn close_listener(&mut self, listener: Listener) {
        let Listener(()) = listener;
        self.emit(Output::CloseLoopback);
    }

    /// Drops the flow in progress, closing its listener if it holds one.
    fn drop_flow(&mut self) {
        let old = std::mem::replace(&mut self.state, State::Idle);
        if let Some(listener) = old.into_listener() {
            self.close_listener(listener);
        }
    }

    /// [`Machine::fail`] for a flow taken out of its state that still holds the listener.
    fn fail_open(&mut self, now: Now, listener: Listener, error: Error) {
        self.close_listener(listener);
        self.fail(now, error);
    }

    /// Ends the flow: report, then return to "authorization required" (or "authorized" when a
    /// still-usable session exists) so the user can retry, never a dead end.
    fn fail(&mut self, now: Now, error: Error) {
        self.drop_flow();
        self.set_status(AuthStatus::Failed {
            reason: error.to_string(),
        });
        self.emit(Output::Event(Event::Failed(error)));
        let authorized = self
            .session
            .as_ref()
            .is_some_and(|s| s.has_usable_token(now.wall, 0));
        let host = self
            .session
            .as_ref()
            .map(|s| s.issuer.as_str())
            .or(self.last_issuer.as_deref())
            .and_then(host_of);
        self.set_status(if authorized {
            AuthStatus::Authorized
        } else {
            AuthStatus::AuthorizationRequired { server_host: host }
        });
    }
}

impl std::fmt::Debug for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Machine")
            .field("server", &self.server)
            .field("status", &self.status)
            .field("busy", &self.is_busy())
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

/// The host for status display (lowercased, IPv6 in brackets); never used as an identifier.
fn host_of(url: &str) -> Option<String> {
    Some(
        crate::uri::parse(url)
            .ok()?
            .host_text()
            .to_ascii_lowercase(),
    )
}

/// The explicit non-default port of a redirect URI, to ask for the same loopback port again.
fn port_of(url: &str) -> Option<u16> {
    crate::uri::parse(url).ok()?.non_default_port()
}
