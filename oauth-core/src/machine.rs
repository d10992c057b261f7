//! The authorization state machine: every transition in one place (h11 style, DESIGN.md §2).
//!
//! The machine only sequences the step modules; each step's request builder and response parser
//! lives in its own module. All inputs carry a [`Now`]; all effects leave through
//! [`Machine::poll_output`]. See the crate docs for the drain order.

use std::collections::VecDeque;

use rand_core::CryptoRngCore;

use crate::authorize::{authorization_url, AuthorizationParams};
use crate::callback::{parse_callback, validate_callback};
use crate::challenge::{auth_challenge, AuthChallenge};
use crate::config::{Config, ResourceParameter};
use crate::error::{sanitize_remote_text, Error};
use crate::http::{HttpRequest, HttpResponse, RequestId, Step};
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
    deadline: Option<Deadline>,
    /// Discovery results kept for step-up and re-authorization (no second fetch unless the
    /// challenge or PRM names a different authorization server).
    cached_prm: Option<ProtectedResourceMetadata>,
    cached_meta: Option<AuthorizationServerMetadata>,
    cached_prm_url: Option<String>,
    /// Authorization requests in the current chain (spec-checklist SC6).
    attempts: u32,
    /// Set when a refresh was done because of a 401; a second 401 then re-authorizes.
    refreshed_after_401: bool,
}

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
}

/// What the browser step must verify (spec-checklist I1: issuer stored with state and verifier).
struct Pending {
    flow: Flow,
    state: StateToken,
    verifier: PkceVerifier,
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
    },
    Registering {
        id: RequestId,
        flow: Flow,
    },
    WaitingCallback(Box<Pending>),
    ExchangingCode {
        id: RequestId,
        flow: Flow,
    },
    ReloadingForRefresh,
    Refreshing {
        id: RequestId,
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
            | State::ExchangingCode { id, .. }
            | State::Refreshing { id }
            | State::Revoking { id, .. } => Some(*id),
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
        Ok(Self {
            config,
            server,
            rng: Box::new(rng),
            state: State::Idle,
            session: None,
            outputs: VecDeque::new(),
            next_id: 0,
            status: AuthStatus::AuthorizationRequired { server_host: None },
            deadline: None,
            cached_prm: None,
            cached_meta: None,
            cached_prm_url: None,
            attempts: 0,
            refreshed_after_401: false,
        })
    }

    // ---------------------------------------------------------------- getters

    /// The canonical server URL (the session store key).
    pub fn server(&self) -> &str {
        &self.server
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

    /// The `Authorization` header for the next MCP request. Starts a refresh when the token is
    /// within the refresh margin of expiry (then returns `Pending`; drain outputs and ask again).
    pub fn authorization_header(&mut self, now: Now) -> HeaderState {
        let margin = self.config.refresh_margin.as_secs();
        let Some(tokens) = self.session.as_ref().and_then(|s| s.tokens.as_ref()) else {
            return if self.state.is_idle() {
                HeaderState::LoginRequired
            } else {
                HeaderState::Pending
            };
        };
        if !tokens.expires_within(now.wall, margin) {
            return HeaderState::Ready(tokens.authorization_header());
        }
        if !self.state.is_idle() {
            return HeaderState::Pending;
        }
        let expired = tokens.expires_within(now.wall, 0);
        if tokens.refresh_token.is_some() {
            self.start_refresh(now, false);
            HeaderState::Pending
        } else if !expired {
            HeaderState::Ready(tokens.authorization_header())
        } else {
            HeaderState::LoginRequired
        }
    }

    // ---------------------------------------------------------------- inputs

    /// Feeds one fact to the machine. Drain [`Machine::poll_output`] afterwards.
    pub fn handle_input(&mut self, now: Now, input: Input) {
        match input {
            Input::HttpResponse { id, response } => self.on_http(now, id, Ok(response)),
            Input::HttpFailed { id, error } => self.on_http(now, id, Err(error)),
            Input::LoopbackReady { redirect_uri } => self.on_loopback_ready(now, redirect_uri),
            Input::LoopbackFailed { error } => {
                if matches!(self.state, State::Listening { .. }) {
                    self.fail(Error::Config(format!(
                        "loopback listener: {}",
                        sanitize_remote_text(&error)
                    )));
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
            }
            Input::SessionLoaded(session) => self.on_session_loaded(now, session),
            Input::Timeout => {
                if let Some(d) = self.deadline {
                    if now.instant >= d.at && matches!(self.state, State::WaitingCallback(_)) {
                        self.fail(Error::AuthorizationTimeout);
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------- commands

    /// Starts a login proactively (no 401 seen yet). No-op while another flow runs.
    pub fn authorize(&mut self, now: Now) {
        if self.state.is_idle() {
            self.attempts = 0;
            self.begin_discovery(now, AuthChallenge::default(), Vec::new());
        }
    }

    /// Refreshes now if a refresh token exists (e.g. a host-driven timer). No-op while busy.
    pub fn refresh(&mut self, now: Now) {
        let has_rt = self
            .session
            .as_ref()
            .and_then(|s| s.tokens.as_ref())
            .is_some_and(|t| t.refresh_token.is_some());
        if self.state.is_idle() && has_rt {
            self.start_refresh(now, false);
        }
    }

    /// Revokes the tokens at the AS when it has a revocation endpoint (RFC 7009: refresh token
    /// first, then access token), then clears the stored session. Any in-flight flow is dropped.
    pub fn logout(&mut self, _now: Now) {
        self.close_browser_step();
        self.state = State::Idle;
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

    // ---------------------------------------------------------------- polling

    /// The next effect to carry out, in order. Drain to `None` after every input or command.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When to deliver `Input::Timeout` (if ever).
    pub fn poll_timeout(&self) -> Option<Deadline> {
        self.deadline
    }

    // ================================================================ transitions

    fn on_http(&mut self, now: Now, id: RequestId, result: Result<HttpResponse, String>) {
        if self.state.request_id() != Some(id) {
            return; // unknown or stale id: ignored (DESIGN.md §2)
        }
        match std::mem::replace(&mut self.state, State::Idle) {
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
            State::Registering { flow, .. } => self.on_registered(now, flow, result),
            State::ExchangingCode { flow, .. } => self.on_code_exchanged(now, flow, result),
            State::Refreshing { .. } => self.on_refreshed(now, result),
            State::Revoking { remaining, .. } => self.next_revocation(remaining),
            other => self.state = other,
        }
    }

    fn on_challenge(&mut self, now: Now, status: u16, values: &[String]) {
        if !self.state.is_idle() {
            return; // the running flow will produce the token this request needs
        }
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let challenge = auth_challenge(&refs);
        if status == 403 {
            if challenge.error.as_deref() == Some("insufficient_scope") {
                self.step_up(now, challenge);
            } else {
                self.emit(Output::Event(Event::Failed(Error::Forbidden)));
            }
            return;
        }
        // The server rejected the token: never hand it out again (in memory only; the store
        // keeps its copy until a new token replaces it).
        if let Some(t) = self.session.as_mut().and_then(|s| s.tokens.as_mut()) {
            t.expires_at = Some(t.expires_at.map_or(now.wall, |at| at.min(now.wall)));
        }
        let has_rt = self
            .session
            .as_ref()
            .and_then(|s| s.tokens.as_ref())
            .is_some_and(|t| t.refresh_token.is_some());
        if has_rt && !self.refreshed_after_401 {
            self.start_refresh(now, true);
        } else {
            let previous = self.previous_scopes();
            self.begin_discovery(now, challenge, previous);
        }
    }

    /// 403 `insufficient_scope`: re-authorize with previous ∪ challenged scopes, reusing cached
    /// metadata (SD-idx L389-397).
    fn step_up(&mut self, now: Now, challenge: AuthChallenge) {
        let previous = self.previous_scopes();
        let wanted = scope::union(&previous, challenge.scope.as_deref().unwrap_or(&[]));
        // Reuse cached discovery unless the challenge points at different metadata.
        let same_prm = match (&challenge.resource_metadata, &self.cached_prm_url) {
            (None, _) => true,
            (Some(named), Some(cached)) => named == cached,
            (Some(_), None) => false,
        };
        match (&self.cached_prm, &self.cached_meta, same_prm) {
            (Some(p), Some(meta), true) if p.authorization_servers.first() == Some(&meta.issuer) => {
                let flow = Flow {
                    resource: self.resource_for(Some(p)),
                    issuer: meta.issuer.clone(),
                    meta: Some(meta.clone()),
                    scopes: wanted,
                    challenge,
                    ..Flow::default()
                };
                self.after_metadata(now, flow);
            }
            _ => self.begin_discovery(now, challenge, wanted),
        }
    }

    fn previous_scopes(&self) -> Vec<String> {
        self.session
            .as_ref()
            .map(|s| s.scopes.clone())
            .unwrap_or_default()
    }

    fn begin_discovery(&mut self, now: Now, challenge: AuthChallenge, scopes: Vec<String>) {
        if !self.config.interactive {
            self.fail(Error::LoginRequired);
            return;
        }
        self.set_status(AuthStatus::Working);
        let candidates = prm::candidates(&self.server, challenge.resource_metadata.as_deref());
        let flow = Flow {
            challenge,
            scopes,
            ..Flow::default()
        };
        self.fetch_prm(now, flow, candidates, 0);
    }

    fn fetch_prm(&mut self, now: Now, flow: Flow, candidates: Vec<PrmCandidate>, index: usize) {
        let Some(c) = candidates.get(index) else {
            return self.no_prm(now, flow);
        };
        if let Err(e) = self.config.url_policy.check(&c.url) {
            return self.fail(e);
        }
        let id = self.fetch(Step::ResourceMetadata, prm::request(&c.url));
        self.state = State::FetchingPrm {
            id,
            flow,
            candidates,
            index,
        };
    }

    fn on_prm(
        &mut self,
        now: Now,
        mut flow: Flow,
        candidates: Vec<PrmCandidate>,
        index: usize,
        result: Result<HttpResponse, String>,
    ) {
        let parsed = match result {
            Ok(resp) => prm::parse(&resp),
            Err(_) => Err(Error::DiscoveryFailed),
        };
        let doc = match parsed {
            Ok(doc) => doc,
            // 404, other statuses, bad bodies, network errors: try the next well-known URI (P4).
            Err(_) => return self.fetch_prm(now, flow, candidates, index + 1),
        };
        let source = candidates.get(index).map(|c| c.source);
        if let Some(source) = source {
            if let Err(e) =
                prm::validate_resource(&doc, &self.server, source, self.config.resource_match)
            {
                return self.fail(e);
            }
        }
        let Some(issuer) = doc.authorization_servers.first().cloned() else {
            return self.fail(Error::DiscoveryFailed);
        };
        flow.resource = self.resource_for(Some(&doc));
        flow.issuer = issuer.clone();
        self.cached_prm = Some(doc);
        self.cached_prm_url = candidates.get(index).map(|c| c.url.clone());
        match self.cached_meta.clone() {
            Some(meta) if meta.issuer == issuer => {
                flow.meta = Some(meta);
                self.after_metadata(now, flow);
            }
            _ => {
                let candidates = asm::candidates(&issuer);
                self.fetch_meta(now, flow, candidates, 0);
            }
        }
    }

    /// No PRM anywhere: 2025-03-26 servers put the AS at the server origin (spec-checklist L2).
    fn no_prm(&mut self, now: Now, mut flow: Flow) {
        if !self.config.legacy_discovery {
            return self.fail(Error::DiscoveryFailed);
        }
        let Some(origin) = prm::origin(&self.server) else {
            return self.fail(Error::DiscoveryFailed);
        };
        flow.legacy = true;
        flow.issuer = origin.clone();
        flow.resource = self.resource_for(None);
        self.cached_prm = None;
        self.fetch_meta(now, flow, asm::candidates(&origin), 0);
    }

    fn fetch_meta(&mut self, now: Now, flow: Flow, candidates: Vec<String>, index: usize) {
        let Some(url) = candidates.get(index) else {
            if flow.legacy {
                // L3: no metadata at all → default endpoints at the origin.
                let meta = asm::legacy_defaults(&flow.issuer);
                let mut flow = flow;
                flow.meta = Some(meta);
                return self.after_metadata(now, flow);
            }
            return self.fail(Error::DiscoveryFailed);
        };
        if let Err(e) = self.config.url_policy.check(url) {
            return self.fail(e);
        }
        let id = self.fetch(Step::ServerMetadata, asm::request(url));
        self.state = State::FetchingMeta {
            id,
            flow,
            candidates,
            index,
        };
    }

    fn on_meta(
        &mut self,
        now: Now,
        mut flow: Flow,
        candidates: Vec<String>,
        index: usize,
        result: Result<HttpResponse, String>,
    ) {
        let parsed = match result {
            Ok(resp) => asm::parse(&resp, &flow.issuer),
            Err(_) => Err(Error::DiscoveryFailed),
        };
        let meta = match parsed {
            Ok(meta) => meta,
            // An issuer mismatch is a hard failure for this issuer (RFC 8414 §3.3).
            Err(e @ Error::IssuerMismatch { .. }) => return self.fail(e),
            Err(_) => return self.fetch_meta(now, flow, candidates, index + 1),
        };
        if let Err(e) = self.check_metadata(&meta) {
            return self.fail(e);
        }
        self.cached_meta = Some(meta.clone());
        flow.meta = Some(meta);
        self.after_metadata(now, flow);
    }

    fn check_metadata(&self, meta: &AuthorizationServerMetadata) -> Result<(), Error> {
        asm::check_pkce(meta, self.config.require_pkce_s256)?;
        let (Some(authz), Some(tok)) = (&meta.authorization_endpoint, &meta.token_endpoint) else {
            return Err(Error::Malformed {
                step: Step::ServerMetadata,
                detail: "authorization_endpoint and token_endpoint are required".into(),
            });
        };
        self.config.url_policy.check(authz)?;
        self.config.url_policy.check(tok)?;
        for url in [&meta.registration_endpoint, &meta.revocation_endpoint]
            .into_iter()
            .flatten()
        {
            self.config.url_policy.check(url)?;
        }
        Ok(())
    }

    /// Metadata known: choose scopes, then get a redirect URI from the adapter.
    fn after_metadata(&mut self, _now: Now, mut flow: Flow) {
        let Some(meta) = flow.meta.as_ref() else {
            return self.fail(Error::DiscoveryFailed);
        };
        let challenged = flow.challenge.scope.clone().unwrap_or_default();
        flow.scopes = if flow.scopes.is_empty() {
            let prm_scopes = self.cached_prm.as_ref().and_then(|p| p.scopes_supported.clone());
            scope::initial_scopes(
                self.config.scopes.as_deref(),
                Some(&challenged),
                prm_scopes.as_deref(),
            )
        } else {
            // Re-authorization: previous ∪ challenged (SD-idx L109-112).
            scope::union(&flow.scopes, &challenged)
        };
        flow.scopes = scope::with_offline_access(
            std::mem::take(&mut flow.scopes),
            meta.lists_scope(scope::OFFLINE_ACCESS),
        );
        let preferred_port = self
            .session
            .as_ref()
            .map(|s| &s.client)
            .filter(|c| c.kind == ClientKind::Dynamic && c.issuer == flow.issuer)
            .and_then(|c| c.redirect_uri.as_deref())
            .and_then(port_of);
        self.set_status(AuthStatus::Working);
        self.emit(Output::ListenLoopback { preferred_port });
        self.state = State::Listening { flow };
    }

    fn on_loopback_ready(&mut self, now: Now, redirect_uri: String) {
        let State::Listening { mut flow } = std::mem::replace(&mut self.state, State::Idle) else {
            return;
        };
        flow.redirect_uri = redirect_uri;
        self.register_or_authorize(now, flow);
    }

    /// Registration priority (spec-checklist R2): pre-registered > CIMD > stored DCR client for
    /// this issuer and redirect URI > new DCR registration.
    fn register_or_authorize(&mut self, now: Now, mut flow: Flow) {
        let Some(meta) = flow.meta.clone() else {
            return self.fail(Error::DiscoveryFailed);
        };
        let supported = meta.auth_methods();
        if let Some(pre) = &self.config.client.pre_registered {
            if let Some(bound) = &pre.issuer {
                if *bound != flow.issuer {
                    return self.fail(Error::PreRegisteredIssuerMismatch {
                        configured: bound.clone(),
                        discovered: flow.issuer.clone(),
                    });
                }
            }
            let method = pre.auth_method.unwrap_or_else(|| {
                registration::choose_auth_method(pre.client_secret.is_some(), None, &supported)
            });
            flow.registration = Some(ClientRegistration {
                kind: ClientKind::PreRegistered,
                issuer: flow.issuer.clone(),
                client_id: pre.client_id.clone(),
                client_secret: pre.client_secret.clone(),
                secret_expires_at: None,
                auth_method: method,
                redirect_uri: None,
            });
            return self.send_authorization(now, flow);
        }
        if let Some(url) = &self.config.client.metadata_document_url {
            if meta.client_id_metadata_document_supported {
                flow.registration = Some(ClientRegistration {
                    kind: ClientKind::MetadataDocument,
                    issuer: flow.issuer.clone(),
                    client_id: url.clone(),
                    client_secret: None,
                    secret_expires_at: None,
                    auth_method: crate::session::ClientAuthMethod::None,
                    redirect_uri: None,
                });
                return self.send_authorization(now, flow);
            }
        }
        let stored = self.session.as_ref().map(|s| &s.client).filter(|c| {
            c.kind == ClientKind::Dynamic
                && c.issuer == flow.issuer
                && c.redirect_uri.as_deref() == Some(flow.redirect_uri.as_str())
                && c.secret_expires_at.is_none_or(|t| t > now.wall)
        });
        if let (Some(client), false) = (stored, flow.reregistered) {
            flow.registration = Some(client.clone());
            return self.send_authorization(now, flow);
        }
        match (&meta.registration_endpoint, self.config.client.allow_dynamic_registration) {
            (Some(endpoint), true) => {
                let scope = scope::join(&flow.scopes);
                let c = &self.config.client;
                let request = registration::dcr_request(
                    endpoint,
                    &registration::DcrParams {
                        client_name: &c.client_name,
                        redirect_uri: &flow.redirect_uri,
                        scope: scope.as_deref(),
                        application_type: &c.application_type,
                        software_id: c.software_id.as_deref(),
                        software_version: c.software_version.as_deref(),
                    },
                );
                let id = self.fetch(Step::Registration, request);
                self.state = State::Registering { id, flow };
            }
            _ => self.fail(Error::RegistrationUnavailable),
        }
    }

    fn on_registered(&mut self, now: Now, mut flow: Flow, result: Result<HttpResponse, String>) {
        let supported = flow.meta.as_ref().map(|m| m.auth_methods()).unwrap_or_default();
        let parsed = result
            .map_err(|message| Error::Transport {
                step: Step::Registration,
                message,
            })
            .and_then(|resp| {
                registration::parse_dcr_response(&resp, &flow.issuer, &flow.redirect_uri, &supported)
            });
        match parsed {
            Ok(client) => {
                flow.registration = Some(client);
                self.send_authorization(now, flow);
            }
            Err(e) => self.fail(e),
        }
    }

    fn send_authorization(&mut self, now: Now, flow: Flow) {
        if self.attempts >= self.config.max_authorization_attempts {
            return self.fail(Error::StepUpLimit {
                attempts: self.attempts,
            });
        }
        let (Some(meta), Some(client)) = (&flow.meta, &flow.registration) else {
            return self.fail(Error::DiscoveryFailed);
        };
        let Some(endpoint) = meta.authorization_endpoint.as_deref() else {
            return self.fail(Error::DiscoveryFailed);
        };
        self.attempts += 1;
        let pkce = pkce::generate(&mut *self.rng);
        let state = pkce::random_state(&mut *self.rng);
        let scope = scope::join(&flow.scopes);
        let url = authorization_url(&AuthorizationParams {
            authorization_endpoint: endpoint,
            client_id: &client.client_id,
            redirect_uri: &flow.redirect_uri,
            scope: scope.as_deref(),
            state: &state,
            code_challenge: &pkce.challenge,
            resource: flow.resource.as_deref(),
        });
        if let Err(e) = self.config.url_policy.check(&url) {
            return self.fail(e);
        }
        let host = host_of(&flow.issuer);
        self.emit(Output::OpenBrowser(BrowserRequest {
            url,
            state: state.clone(),
        }));
        self.set_status(AuthStatus::WaitingForBrowser { server_host: host });
        self.deadline = Some(Deadline {
            at: now.instant + self.config.authorization_timeout,
            reason: DeadlineReason::AuthorizationTimeout,
        });
        self.state = State::WaitingCallback(Box::new(Pending {
            flow,
            state,
            verifier: pkce.verifier,
        }));
    }

    fn on_callback(&mut self, _now: Now, query: &str) {
        let State::WaitingCallback(pending) = &self.state else {
            return;
        };
        let params = match parse_callback(query) {
            Ok(p) => p,
            Err(e) => {
                self.emit(Output::Event(Event::CallbackRejected(e)));
                return;
            }
        };
        let state_ok = params
            .state
            .as_deref()
            .is_some_and(|s| pending.state.matches(s));
        if !state_ok {
            // Forged or stale callback: discard it and keep waiting (RFC 6749 §10.12).
            self.emit(Output::Event(Event::CallbackRejected(Error::StateMismatch)));
            return;
        }
        let State::WaitingCallback(pending) = std::mem::replace(&mut self.state, State::Idle)
        else {
            return;
        };
        let Pending {
            flow,
            state,
            verifier,
        } = *pending;
        self.close_browser_step();
        let iss_advertised = flow
            .meta
            .as_ref()
            .is_some_and(|m| m.authorization_response_iss_parameter_supported);
        let code = match validate_callback(params, &state, &flow.issuer, iss_advertised) {
            Ok(code) => code,
            Err(e) => return self.fail(e),
        };
        let (Some(meta), Some(client)) = (&flow.meta, &flow.registration) else {
            return self.fail(Error::DiscoveryFailed);
        };
        let Some(token_endpoint) = meta.token_endpoint.as_deref() else {
            return self.fail(Error::DiscoveryFailed);
        };
        self.set_status(AuthStatus::Working);
        let request = token::code_exchange_request(
            token_endpoint,
            client,
            &code,
            &flow.redirect_uri,
            &verifier,
            flow.resource.as_deref(),
        );
        let id = self.fetch(Step::TokenExchange, request);
        self.state = State::ExchangingCode { id, flow };
    }

    fn on_code_exchanged(&mut self, now: Now, mut flow: Flow, result: Result<HttpResponse, String>) {
        let parsed = result
            .map_err(|message| Error::Transport {
                step: Step::TokenExchange,
                message,
            })
            .and_then(|resp| token::parse_token_response(&resp, Step::TokenExchange));
        let response = match parsed {
            Ok(r) => r,
            Err(e) => {
                let reused_dcr = flow
                    .registration
                    .as_ref()
                    .is_some_and(|c| c.kind == ClientKind::Dynamic)
                    && !flow.reregistered;
                if e.oauth_code() == Some("invalid_client") && reused_dcr {
                    // A stored DCR client the AS no longer knows: register again, once.
                    flow.reregistered = true;
                    flow.registration = None;
                    if let Some(s) = self.session.as_mut() {
                        s.tokens = None;
                    }
                    return self.register_or_authorize(now, flow);
                }
                return self.fail(e);
            }
        };
        let (Some(meta), Some(client)) = (flow.meta, flow.registration) else {
            return self.fail(Error::DiscoveryFailed);
        };
        let granted = response
            .scope
            .as_deref()
            .map(scope::split)
            .unwrap_or_else(|| flow.scopes.clone());
        let session = Session {
            version: SESSION_VERSION,
            server: self.server.clone(),
            resource: flow.resource,
            issuer: flow.issuer,
            token_endpoint: meta.token_endpoint.clone().unwrap_or_default(),
            revocation_endpoint: meta.revocation_endpoint.clone(),
            client,
            tokens: Some(response.into_token_set(now.wall, None)),
            scopes: granted,
        };
        self.install_session(session);
    }

    /// Persist first, then announce: a token is never used before it is stored.
    fn install_session(&mut self, session: Session) {
        self.emit(Output::StoreSession(session.clone()));
        self.session = Some(session);
        self.state = State::Idle;
        self.set_status(AuthStatus::Authorized);
        self.emit(Output::Event(Event::Authorized));
    }

    // ---------------------------------------------------------------- refresh

    fn start_refresh(&mut self, _now: Now, after_401: bool) {
        self.refreshed_after_401 |= after_401;
        self.set_status(AuthStatus::Working);
        self.emit(Output::LoadSession);
        self.state = State::ReloadingForRefresh;
    }

    fn on_session_loaded(&mut self, now: Now, loaded: Option<Session>) {
        let loaded = loaded.filter(|s| s.server == self.server && s.version <= SESSION_VERSION);
        match self.state {
            State::Idle => {
                if let Some(s) = loaded {
                    let authorized = s.tokens.is_some();
                    let host = host_of(&s.issuer);
                    self.session = Some(s);
                    self.set_status(if authorized {
                        AuthStatus::Authorized
                    } else {
                        AuthStatus::AuthorizationRequired { server_host: host }
                    });
                }
            }
            State::ReloadingForRefresh => self.refresh_with(now, loaded),
            _ => {}
        }
    }

    /// Under the store lock: if another process already refreshed, adopt its token; otherwise
    /// spend the (freshly re-read) refresh token.
    fn refresh_with(&mut self, now: Now, loaded: Option<Session>) {
        let margin = self.config.refresh_margin.as_secs();
        let ours = self
            .session
            .as_ref()
            .and_then(|s| s.tokens.as_ref())
            .map(|t| t.access_token.expose_secret().to_string());
        if let Some(s) = loaded {
            let theirs = s.tokens.as_ref().map(|t| t.access_token.expose_secret());
            if s.has_usable_token(now.wall, margin) && theirs != ours.as_deref() {
                self.session = Some(s);
                self.state = State::Idle;
                self.set_status(AuthStatus::Authorized);
                self.emit(Output::Event(Event::Authorized));
                return;
            }
            self.session = Some(s);
        }
        let Some(s) = &self.session else {
            self.state = State::Idle;
            return self.begin_discovery(now, AuthChallenge::default(), Vec::new());
        };
        let Some(rt) = s.tokens.as_ref().and_then(|t| t.refresh_token.clone()) else {
            self.state = State::Idle;
            let previous = self.previous_scopes();
            return self.begin_discovery(now, AuthChallenge::default(), previous);
        };
        if let Err(e) = self.config.url_policy.check(&s.token_endpoint) {
            self.state = State::Idle;
            return self.fail(e);
        }
        let request = token::refresh_request(&s.token_endpoint, &s.client, &rt, s.resource.as_deref(), None);
        let id = self.fetch(Step::Refresh, request);
        self.state = State::Refreshing { id };
    }

    fn on_refreshed(&mut self, now: Now, result: Result<HttpResponse, String>) {
        let Some(mut session) = self.session.clone() else {
            return;
        };
        let parsed = result
            .map_err(|message| Error::Transport {
                step: Step::Refresh,
                message,
            })
            .and_then(|resp| token::parse_token_response(&resp, Step::Refresh));
        match parsed {
            Ok(response) => {
                let previous_rt = session.tokens.as_ref().and_then(|t| t.refresh_token.clone());
                if let Some(s) = response.scope.as_deref() {
                    session.scopes = scope::split(s);
                }
                session.tokens = Some(response.into_token_set(now.wall, previous_rt));
                self.install_session(session);
            }
            Err(e) if e.oauth_code().is_some() => {
                // invalid_grant and friends: the refresh token is dead. Drop the tokens (and a DCR
                // client the AS no longer knows), keep the rest, and log in again.
                session.tokens = None;
                if e.oauth_code() == Some("invalid_client") && session.client.kind == ClientKind::Dynamic {
                    session.client.redirect_uri = None;
                }
                self.emit(Output::StoreSession(session.clone()));
                let previous = session.scopes.clone();
                self.session = Some(session);
                self.begin_discovery(now, AuthChallenge::default(), previous);
            }
            Err(e) => {
                // Network or protocol trouble: keep the session intact and report.
                self.fail(e);
            }
        }
    }

    // ---------------------------------------------------------------- logout

    fn next_revocation(&mut self, mut remaining: Vec<HttpRequest>) {
        if let Some(request) = remaining.pop() {
            let id = self.fetch(Step::Revocation, request);
            self.state = State::Revoking { id, remaining };
            return;
        }
        self.state = State::Idle;
        self.session = None;
        self.attempts = 0;
        self.emit(Output::ClearSession);
        self.emit(Output::Event(Event::LoggedOut));
        self.set_status(AuthStatus::AuthorizationRequired { server_host: None });
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

    fn close_browser_step(&mut self) {
        if matches!(self.state, State::WaitingCallback(_) | State::Listening { .. }) {
            self.emit(Output::CloseLoopback);
        }
        self.deadline = None;
    }

    /// Ends the flow: report, then return to "authorization required" (or "authorized" when a
    /// still-usable session exists) so the user can retry, never a dead end.
    fn fail(&mut self, error: Error) {
        self.close_browser_step();
        self.state = State::Idle;
        self.set_status(AuthStatus::Failed {
            reason: error.to_string(),
        });
        self.emit(Output::Event(Event::Failed(error)));
        let authorized = self.session.as_ref().is_some_and(|s| s.tokens.is_some());
        let host = self.session.as_ref().and_then(|s| host_of(&s.issuer));
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

fn host_of(url: &str) -> Option<String> {
    url::Url::parse(url).ok()?.host_str().map(str::to_string)
}

fn port_of(url: &str) -> Option<u16> {
    url::Url::parse(url).ok()?.port()
}

