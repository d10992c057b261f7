//! A `Scenario` builder that puts a [`Machine`] in any state by feeding canned responses
//! (ureq-proto style; ARCHITECTURE.md §10).
//!
//! ```text
//! let mut at = Scenario::new().waiting_callback();
//! let out = at.callback(&format!("code=c&state={}", at.state()));
//! ```
//!
//! The world: MCP server [`SERVER`], protected resource metadata naming [`ISSUER`] (RFC 9728),
//! RFC 8414 metadata with S256, a registration endpoint, `iss` support (RFC 9207) and a
//! revocation endpoint; a public DCR client; tokens that live an hour with a refresh token.
//! Every run uses a fixed RNG seed and the virtual clock [`T0`], so runs are reproducible.
//!
//! Each `At` records the outputs of its last step (`outputs`), the id of the latest `Fetch`
//! (`id`), the `state` from the latest `OpenBrowser`, the virtual `now`, every output so far
//! (`log`) and a simulated session store (`store`, updated by `StoreSession` / `ClearSession`).

// Each test binary uses a different subset of this shared module.
#![allow(dead_code)]

use std::time::Duration;

use mcp_oauth_core::{
    AuthStatus, Config, Event, HttpRequest, HttpResponse, Input, Machine, Now, Output, RequestId,
    SeededRng, Session, Step, TransportError, TransportErrorKind,
};
use serde_json::{json, Value};

/// The MCP server (the session key).
pub const SERVER: &str = "https://mcp.example.com/mcp";
/// The authorization server's issuer, exactly as PRM names it.
pub const ISSUER: &str = "https://as.example.com";
/// The AS host shown to users.
pub const AS_HOST: &str = "as.example.com";
/// RFC 9728 §3.1 path-based well-known URL for [`SERVER`].
pub const PRM_PATH_URL: &str = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp";
/// RFC 9728 §3.1 root well-known URL.
pub const PRM_ROOT_URL: &str = "https://mcp.example.com/.well-known/oauth-protected-resource";
/// RFC 8414 §3.1 metadata URL for [`ISSUER`].
pub const META_URL: &str = "https://as.example.com/.well-known/oauth-authorization-server";
/// OIDC Discovery §4 metadata URL for [`ISSUER`].
pub const OIDC_URL: &str = "https://as.example.com/.well-known/openid-configuration";
/// Endpoints from the canned metadata.
pub const AUTHORIZE_URL: &str = "https://as.example.com/authorize";
/// Token endpoint.
pub const TOKEN_URL: &str = "https://as.example.com/token";
/// RFC 7591 registration endpoint.
pub const REGISTER_URL: &str = "https://as.example.com/register";
/// RFC 7009 revocation endpoint.
pub const REVOKE_URL: &str = "https://as.example.com/revoke";
/// What the adapter's loopback listener reports.
pub const REDIRECT_URI: &str = "http://127.0.0.1:49152/callback";
/// The DCR `client_id`.
pub const CLIENT_ID: &str = "client-abc";
/// The authorization code the canned callback carries.
pub const CODE: &str = "code-SplxlOBeZQQYbYS6WxSbIA";
/// Tokens from the canned token response.
pub const ACCESS_TOKEN: &str = "at-1-2YotnFZFEjr1zCsicMWpAA";
/// Refresh token from the canned token response.
pub const REFRESH_TOKEN: &str = "rt-1-tGzv3JOkF0XG5Qx2TlKWIA";
/// Scopes the challenge asks for.
pub const CHALLENGE: &str = r#"Bearer error="invalid_token", scope="mcp:read mcp:write""#;
/// Scopes the authorization request carries: challenge scopes, plus `offline_access` because
/// the AS lists it (MCP 2026-07-28 Authorization, "Refresh Tokens").
pub const SCOPES: [&str; 3] = ["mcp:read", "mcp:write", "offline_access"];
/// Token lifetime in the canned token response.
pub const EXPIRES_IN: u64 = 3600;
/// The fixed RNG seed.
pub const SEED: [u8; 32] = [7; 32];
/// The virtual start time.
pub const T0: Now = Now {
    instant: Duration::from_secs(1_000),
    wall: 1_700_000_000,
};

/// `{"resource":SERVER,"authorization_servers":[ISSUER]}`.
pub fn prm_doc() -> Value {
    json!({"resource": SERVER, "authorization_servers": [ISSUER]})
}

/// RFC 8414 metadata for [`ISSUER`].
pub fn meta_doc() -> Value {
    json!({
        "issuer": ISSUER,
        "authorization_endpoint": AUTHORIZE_URL,
        "token_endpoint": TOKEN_URL,
        "registration_endpoint": REGISTER_URL,
        "revocation_endpoint": REVOKE_URL,
        "scopes_supported": ["mcp:read", "mcp:write", "offline_access"],
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic"],
        "authorization_response_iss_parameter_supported": true
    })
}

/// RFC 7591 §3.2.1 answer for a public client.
pub fn dcr_doc() -> Value {
    json!({
        "client_id": CLIENT_ID,
        "redirect_uris": [REDIRECT_URI],
        "token_endpoint_auth_method": "none"
    })
}

/// RFC 6749 §5.1 answer.
pub fn token_doc() -> Value {
    json!({
        "access_token": ACCESS_TOKEN,
        "token_type": "Bearer",
        "expires_in": EXPIRES_IN,
        "refresh_token": REFRESH_TOKEN,
        "scope": SCOPES.join(" ")
    })
}

/// Sets or removes (`Value::Null`) one member of a JSON object.
pub fn with(mut doc: Value, key: &str, value: Value) -> Value {
    if let Some(obj) = doc.as_object_mut() {
        if value.is_null() {
            obj.remove(key);
        } else {
            obj.insert(key.to_string(), value);
        }
    }
    doc
}

/// How far to drive the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Fresh, with the optional stored session loaded.
    Idle,
    /// After the 401: the first PRM fetch is out.
    PrmFetch,
    /// PRM accepted: the first AS metadata fetch is out.
    MetaFetch,
    /// Metadata accepted: `ListenLoopback` is out.
    Listening,
    /// `LoopbackReady` fed: the DCR POST is out.
    Registering,
    /// DCR answered: `OpenBrowser` is out.
    WaitingCallback,
    /// Good callback fed: the code exchange POST is out.
    ExchangingCode,
    /// Token response accepted.
    Authorized,
    /// `refresh()` called: `LoadSession` is out.
    ReloadingForRefresh,
    /// The store answered: the refresh POST is out.
    Refreshing,
    /// `logout()` called: the first revocation POST is out.
    Revoking,
}

/// The canned world; adjust with the builder methods, then call one of the stage methods.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Machine configuration.
    pub config: Config,
    /// `WWW-Authenticate` values of the first 401.
    pub challenge: Vec<String>,
    /// PRM document (answered to the first PRM fetch).
    pub prm: Value,
    /// AS metadata document (answered to the first metadata fetch).
    pub meta: Value,
    /// DCR answer status and body.
    pub dcr: (u16, Value),
    /// Token exchange answer body (status 200).
    pub token: Value,
    /// What `LoopbackReady` reports.
    pub redirect_uri: String,
    /// A session fed with `SessionLoaded` right after construction.
    pub stored: Option<Session>,
    /// Virtual start time.
    pub now: Now,
}

impl Default for Scenario {
    fn default() -> Self {
        Self::new()
    }
}

impl Scenario {
    /// The default world with [`Config::new`]`(SERVER)`.
    pub fn new() -> Self {
        Self {
            config: Config::new(SERVER),
            challenge: vec![CHALLENGE.to_string()],
            prm: prm_doc(),
            meta: meta_doc(),
            dcr: (201, dcr_doc()),
            token: token_doc(),
            redirect_uri: REDIRECT_URI.to_string(),
            stored: None,
            now: T0,
        }
    }

    /// The default world with a tweaked configuration.
    pub fn with_config(tweak: impl FnOnce(&mut Config)) -> Self {
        let mut s = Self::new();
        tweak(&mut s.config);
        s
    }

    /// Tweaks the configuration.
    pub fn config(mut self, tweak: impl FnOnce(&mut Config)) -> Self {
        tweak(&mut self.config);
        self
    }

    /// Replaces the first 401's `WWW-Authenticate` values.
    pub fn challenge(mut self, values: &[&str]) -> Self {
        self.challenge = values.iter().map(|v| v.to_string()).collect();
        self
    }

    /// Replaces the PRM document.
    pub fn prm(mut self, doc: Value) -> Self {
        self.prm = doc;
        self
    }

    /// Replaces the AS metadata document.
    pub fn meta(mut self, doc: Value) -> Self {
        self.meta = doc;
        self
    }

    /// Replaces the DCR answer.
    pub fn dcr(mut self, status: u16, doc: Value) -> Self {
        self.dcr = (status, doc);
        self
    }

    /// Replaces the token exchange answer.
    pub fn token(mut self, doc: Value) -> Self {
        self.token = doc;
        self
    }

    /// Loads this session at start (before the 401).
    pub fn stored(mut self, session: Session) -> Self {
        self.stored = Some(session);
        self
    }

    /// A fresh machine (stored session loaded, if any).
    pub fn idle(self) -> At {
        self.drive(Stage::Idle)
    }
    /// The first PRM fetch is out.
    pub fn at_prm_fetch(self) -> At {
        self.drive(Stage::PrmFetch)
    }
    /// The first AS metadata fetch is out.
    pub fn at_meta_fetch(self) -> At {
        self.drive(Stage::MetaFetch)
    }
    /// `ListenLoopback` is out.
    pub fn listening(self) -> At {
        self.drive(Stage::Listening)
    }
    /// The DCR POST is out.
    pub fn registering(self) -> At {
        self.drive(Stage::Registering)
    }
    /// `OpenBrowser` is out.
    pub fn waiting_callback(self) -> At {
        self.drive(Stage::WaitingCallback)
    }
    /// The code exchange POST is out.
    pub fn exchanging_code(self) -> At {
        self.drive(Stage::ExchangingCode)
    }
    /// Logged in.
    pub fn authorized(self) -> At {
        self.drive(Stage::Authorized)
    }
    /// `refresh()` called: `LoadSession` is out.
    pub fn reloading_for_refresh(self) -> At {
        self.drive(Stage::ReloadingForRefresh)
    }
    /// The refresh POST is out.
    pub fn refreshing(self) -> At {
        self.drive(Stage::Refreshing)
    }
    /// `logout()` called: the refresh-token revocation POST is out.
    pub fn revoking(self) -> At {
        self.drive(Stage::Revoking)
    }

    /// Drives the machine to `target`, checking each step produced what the next one needs.
    pub fn drive(self, target: Stage) -> At {
        let machine = Machine::new(self.config.clone(), SeededRng::from_seed(SEED))
            .expect("scenario config is valid");
        let mut at = At {
            machine,
            outputs: Vec::new(),
            id: None,
            state: None,
            browser_url: None,
            now: self.now,
            log: Vec::new(),
            store: self.stored.clone(),
            scenario: self.clone(),
        };
        if let Some(s) = self.stored.clone() {
            at.feed(Input::SessionLoaded(Some(s)));
        }
        if target == Stage::Idle {
            return at;
        }
        at.feed(Input::Challenge {
            status: 401,
            www_authenticate: self.challenge.clone(),
        });
        at.expect_fetch(Step::ResourceMetadata);
        if target == Stage::PrmFetch {
            return at;
        }
        at.respond_json(200, &self.prm);
        at.expect_fetch(Step::ServerMetadata);
        if target == Stage::MetaFetch {
            return at;
        }
        at.respond_json(200, &self.meta);
        at.expect(
            |o| matches!(o, Output::ListenLoopback { .. }),
            "ListenLoopback",
        );
        if target == Stage::Listening {
            return at;
        }
        at.feed(Input::LoopbackReady {
            redirect_uri: self.redirect_uri.clone(),
        });
        if at
            .last_fetch()
            .is_some_and(|(_, step, _)| step == Step::Registration)
        {
            if target == Stage::Registering {
                return at;
            }
            at.respond_json(self.dcr.0, &self.dcr.1);
        } else {
            assert!(
                target != Stage::Registering,
                "this scenario does not register: {at:?}"
            );
        }
        at.expect(|o| matches!(o, Output::OpenBrowser(_)), "OpenBrowser");
        if target == Stage::WaitingCallback {
            return at;
        }
        at.callback_ok();
        at.expect_fetch(Step::TokenExchange);
        if target == Stage::ExchangingCode {
            return at;
        }
        at.respond_json(200, &self.token);
        at.expect(
            |o| matches!(o, Output::Event(Event::Authorized)),
            "Authorized",
        );
        match target {
            Stage::ReloadingForRefresh | Stage::Refreshing => {
                at.command(|m, now| m.refresh(now));
                at.expect(|o| matches!(o, Output::LoadSession), "LoadSession");
                if target == Stage::Refreshing {
                    at.answer_load();
                    at.expect_fetch(Step::Refresh);
                }
            }
            Stage::Revoking => {
                at.command(|m, now| m.logout(now));
                at.expect_fetch(Step::Revocation);
            }
            _ => {}
        }
        at
    }
}

/// A machine in some state, with what it last said.
pub struct At {
    /// The machine.
    pub machine: Machine,
    /// Outputs of the last input or command, in order.
    pub outputs: Vec<Output>,
    /// Id of the latest `Fetch` (the one the machine waits for).
    pub id: Option<RequestId>,
    /// `state` of the latest `OpenBrowser`.
    pub state: Option<String>,
    /// URL of the latest `OpenBrowser`.
    pub browser_url: Option<String>,
    /// The virtual clock.
    pub now: Now,
    /// Every output so far.
    pub log: Vec<Output>,
    /// The simulated session store.
    pub store: Option<Session>,
    /// The world this run was built from.
    pub scenario: Scenario,
}

impl std::fmt::Debug for At {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("At")
            .field("status", self.machine.status())
            .field("outputs", &describe_all(&self.outputs))
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl At {
    /// Feeds one input at `self.now` and drains the outputs.
    pub fn feed(&mut self, input: Input) -> Vec<Output> {
        self.machine.handle_input(self.now, input);
        self.drain()
    }

    /// Runs a command (`authorize`, `refresh`, `logout`, `ensure_fresh`...) and drains.
    pub fn command<T>(&mut self, f: impl FnOnce(&mut Machine, Now) -> T) -> T {
        let r = f(&mut self.machine, self.now);
        self.drain();
        r
    }

    /// Drains `poll_output`, records everything, and returns the batch.
    pub fn drain(&mut self) -> Vec<Output> {
        let out: Vec<Output> = std::iter::from_fn(|| self.machine.poll_output()).collect();
        for o in &out {
            match o {
                Output::Fetch { id, .. } => self.id = Some(*id),
                Output::OpenBrowser(b) => {
                    self.state = Some(b.state.expose_secret().to_string());
                    self.browser_url = Some(b.url.clone());
                }
                Output::StoreSession(s) => self.store = Some(s.clone()),
                Output::ClearSession => self.store = None,
                _ => {}
            }
        }
        self.log.extend(out.iter().cloned());
        self.outputs = out.clone();
        out
    }

    /// Answers the pending fetch.
    pub fn respond(&mut self, response: HttpResponse) -> Vec<Output> {
        let id = self.id.expect("a fetch is pending");
        self.feed(Input::HttpResponse { id, response })
    }

    /// Answers the pending fetch with JSON.
    pub fn respond_json(&mut self, status: u16, body: &Value) -> Vec<Output> {
        self.respond(HttpResponse::json(status, body))
    }

    /// Answers the pending fetch with a bare status.
    pub fn respond_status(&mut self, status: u16) -> Vec<Output> {
        self.respond(HttpResponse::status(status))
    }

    /// Fails the pending fetch at the transport level.
    pub fn fail_fetch(&mut self, kind: TransportErrorKind, message: &str) -> Vec<Output> {
        let id = self.id.expect("a fetch is pending");
        self.feed(Input::HttpFailed {
            id,
            error: TransportError::new(kind, message),
        })
    }

    /// Feeds a callback query.
    pub fn callback(&mut self, query: &str) -> Vec<Output> {
        self.feed(Input::Callback {
            query: query.to_string(),
        })
    }

    /// The expected `state` (panics before `OpenBrowser`).
    pub fn state(&self) -> String {
        self.state.clone().expect("OpenBrowser seen")
    }

    /// Feeds the canned good callback: `code`, the right `state`, the right `iss`.
    pub fn callback_ok(&mut self) -> Vec<Output> {
        let q = format!("code={CODE}&state={}&iss={}", self.state(), enc(ISSUER));
        self.callback(&q)
    }

    /// Answers `LoadSession` from the simulated store.
    pub fn answer_load(&mut self) -> Vec<Output> {
        let s = self.store.clone();
        self.feed(Input::SessionLoaded(s))
    }

    /// Moves the virtual clock forward.
    pub fn advance(&mut self, d: Duration) {
        self.now = self.now.advance(d);
    }

    /// The latest `Fetch` in the last batch.
    pub fn last_fetch(&self) -> Option<(RequestId, Step, &HttpRequest)> {
        self.outputs.iter().rev().find_map(|o| match o {
            Output::Fetch { id, step, request } => Some((*id, *step, request)),
            _ => None,
        })
    }

    /// The latest `Fetch` of the last batch, which must be for `step`.
    pub fn expect_fetch(&self, step: Step) -> &HttpRequest {
        match self.last_fetch() {
            Some((_, s, r)) if s == step => r,
            _ => panic!(
                "expected a {step:?} fetch, got {:?}",
                describe_all(&self.outputs)
            ),
        }
    }

    /// Panics unless the last batch has an output matching `pred`.
    pub fn expect(&self, pred: impl Fn(&Output) -> bool, what: &str) {
        assert!(
            self.outputs.iter().any(pred),
            "expected {what}, got {:?}",
            describe_all(&self.outputs)
        );
    }

    /// The `StoreSession` payload in the last batch.
    pub fn stored_in_last(&self) -> Option<&Session> {
        self.outputs.iter().find_map(|o| match o {
            Output::StoreSession(s) => Some(s),
            _ => None,
        })
    }

    /// Status events over the whole run.
    pub fn status_log(&self) -> Vec<AuthStatus> {
        statuses(&self.log)
    }

    /// The `Authorization` header value, or `"Pending"` / `"LoginRequired"`.
    pub fn header(&mut self) -> String {
        let h = self.command(|m, now| m.ensure_fresh(now));
        header_text(&h)
    }
}

/// Form-encodes one value.
pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A `HeaderState` as text (the secret exposed on purpose, for assertions).
pub fn header_text(h: &mcp_oauth_core::HeaderState) -> String {
    match h {
        mcp_oauth_core::HeaderState::Ready(v) => v.expose_secret().to_string(),
        mcp_oauth_core::HeaderState::Pending => "Pending".into(),
        mcp_oauth_core::HeaderState::LoginRequired => "LoginRequired".into(),
    }
}

/// Status events, in order.
pub fn statuses(outputs: &[Output]) -> Vec<AuthStatus> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Event(Event::Status(s)) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

/// One output as a line, for exact order-and-content assertions. Fetches show step, method and
/// URL (bodies are checked separately); events show the error `Debug`.
pub fn describe(o: &Output) -> String {
    match o {
        Output::Fetch { step, request, .. } => {
            format!("fetch {step:?} {} {}", request.method.as_str(), request.url)
        }
        Output::ListenLoopback { preferred_port } => format!("listen {preferred_port:?}"),
        Output::OpenBrowser(_) => "open-browser".into(),
        Output::CloseLoopback => "close-loopback".into(),
        Output::LoadSession => "load-session".into(),
        Output::StoreSession(_) => "store-session".into(),
        Output::ClearSession => "clear-session".into(),
        Output::Event(Event::Status(s)) => format!("status {s:?}"),
        Output::Event(Event::Authorized) => "authorized".into(),
        Output::Event(Event::CallbackRejected(e)) => format!("callback-rejected {e:?}"),
        Output::Event(Event::Failed(e)) => format!("failed {e:?}"),
        Output::Event(Event::LoggedOut) => "logged-out".into(),
        Output::Event(Event::Warning(w)) => format!("warning {w:?}"),
        other => format!("other {other:?}"),
    }
}

/// [`describe`] for a batch.
pub fn describe_all(outputs: &[Output]) -> Vec<String> {
    outputs.iter().map(describe).collect()
}

/// `"fetch <step> GET <url>"`.
pub fn get(step: Step, url: &str) -> String {
    format!("fetch {step:?} GET {url}")
}

/// `"fetch <step> POST <url>"`.
pub fn post(step: Step, url: &str) -> String {
    format!("fetch {step:?} POST {url}")
}

/// `"status <AuthStatus:?>"`.
pub fn status(s: AuthStatus) -> String {
    format!("status {s:?}")
}

/// The "authorization required" status without a known AS host.
pub fn auth_required() -> AuthStatus {
    AuthStatus::AuthorizationRequired { server_host: None }
}

/// The "authorization required" status once discovery named the AS (a failed login still tells
/// the user which server it was talking to).
pub fn auth_required_at_as() -> AuthStatus {
    AuthStatus::AuthorizationRequired {
        server_host: Some(AS_HOST.into()),
    }
}

/// The body of a request as UTF-8.
pub fn body_text(r: &HttpRequest) -> String {
    String::from_utf8(r.body.clone()).expect("utf-8 body")
}

/// The query pairs of a URL, in order.
pub fn query_pairs(url: &str) -> Vec<(String, String)> {
    url::Url::parse(url)
        .expect("absolute URL")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// A session as the canned login stores it, with the given expiry and refresh token (for tests
/// that start from a stored session instead of logging in).
pub fn canned_session(expires_at: Option<u64>, refresh_token: Option<&str>) -> Session {
    use mcp_oauth_core::{
        AccessToken, ClientAuthMethod, ClientKind, ClientRegistration, RefreshToken, TokenSet,
        TokenType, SESSION_VERSION,
    };
    Session {
        version: SESSION_VERSION,
        server: SERVER.into(),
        resource: Some(SERVER.into()),
        issuer: ISSUER.into(),
        token_endpoint: TOKEN_URL.into(),
        revocation_endpoint: Some(REVOKE_URL.into()),
        client: ClientRegistration {
            kind: ClientKind::Dynamic,
            issuer: ISSUER.into(),
            client_id: CLIENT_ID.into(),
            client_secret: None,
            secret_expires_at: None,
            auth_method: ClientAuthMethod::None,
            redirect_uri: Some(REDIRECT_URI.into()),
        },
        tokens: Some(TokenSet {
            access_token: AccessToken::new(ACCESS_TOKEN),
            token_type: TokenType::Bearer,
            refresh_token: refresh_token.map(RefreshToken::new),
            expires_at,
            dpop_key: None,
            obtained_at: None,
        }),
        scopes: SCOPES.iter().map(|s| s.to_string()).collect(),
        discovery: None,
        settings: Default::default(),
    }
}
