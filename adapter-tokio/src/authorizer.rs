//! [`Authorizer`]: the piece every MCP client needs on each request (DESIGN.md §3): attach the
//! token, refresh before expiry, on 401 refresh once and retry, then re-authorize, on 403
//! `insufficient_scope` step up; many concurrent callers cause one refresh.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use mcp_oauth_core::secret::constant_time_eq;
use mcp_oauth_core::{
    AuthStatus, AuthorizationHeader, Config, HeaderState, HttpRequest, HttpResponse, Input,
    Machine, Session, Step,
};
use tokio::sync::{watch, Notify};

use crate::driver::{now_since, seeded_rng, usable_header, Inner, Plan, Round, Shared};
use crate::http::{HttpClient, ReqwestClient};
use crate::options::Options;
use crate::AdapterError;

/// Retries of one [`Authorizer::send`] after a 401/403 (adapter design: at most 2).
const MAX_SEND_RETRIES: u32 = 3;

/// The OAuth client for one MCP server: cheap to clone (an `Arc` inside), `Send + Sync`.
///
/// ```no_run
/// # async fn demo() -> Result<(), mcp_oauth_tokio::AdapterError> {
/// use std::sync::Arc;
/// use mcp_oauth_blocking::store::MemoryStore;
/// use mcp_oauth_core::{Config, HttpRequest};
/// use mcp_oauth_tokio::{Authorizer, Options};
///
/// let auth = Authorizer::new(
///     Config::new("https://mcp.example.com/mcp"),
///     Options::new(Arc::new(MemoryStore::new())),
/// )
/// .await?;
/// // Attach the header yourself...
/// let header = auth.header().await?; // logs in through the browser the first time
/// # let _ = header;
/// // ...or let the authorizer send, retrying after 401/403 with a new token.
/// let response = auth.send(HttpRequest::get_json("https://mcp.example.com/mcp")).await?;
/// println!("{} {:?}", response.status, auth.status());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Authorizer {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = &self.shared;
        f.debug_struct("Authorizer")
            .field("server", &s.key)
            .field("status", &self.status())
            .field("static_authorization", &s.static_authorization.is_some())
            .field("store", &s.store.kind().as_str())
            .finish_non_exhaustive()
    }
}

impl Authorizer {
    /// Builds the authorizer and loads the stored session (zero network requests).
    pub async fn new(config: Config, options: Options) -> Result<Self, AdapterError> {
        let http: Arc<dyn HttpClient> = match options.http_client {
            Some(http) => http,
            None => Arc::new(ReqwestClient::with_policy(
                options.connect_timeout,
                options.request_timeout,
                config.url_policy.clone(),
            )?),
        };
        let start = Instant::now();
        let mut machine = Machine::new(config.clone(), seeded_rng()?)?;
        let key = machine.server().to_owned();
        let persisted = if options.static_authorization.is_some() {
            None // the static header never enters OAuth, so no store access either
        } else {
            let (store, k) = (Arc::clone(&options.store), key.clone());
            tokio::task::spawn_blocking(move || store.load(&k))
                .await
                .map_err(|e| AdapterError::Io(std::io::Error::other(e.to_string())))??
        };
        machine.handle_input(now_since(start), Input::SessionLoaded(persisted.clone()));
        while machine.poll_output().is_some() {}
        let (status, _) = watch::channel(machine.status().clone());
        Ok(Self {
            shared: Arc::new(Shared {
                config,
                key,
                store: options.store,
                browser: options.browser,
                http,
                paste_from_stdin: options.paste_from_stdin,
                paste_source: crate::paste::subscribe,
                redirect_port: options.redirect_port,
                static_authorization: options.static_authorization,
                start,
                inner: Mutex::new(Inner::new(machine, persisted)),
                drive_done: Notify::new(),
                cancel: Notify::new(),
                status,
            }),
        })
    }

    /// The `Authorization` header for the next MCP request.
    ///
    /// A valid token returns at once (one uncontended mutex, no IO). A token near expiry is
    /// refreshed first, by exactly one caller while the others wait for it; with no token a
    /// login runs when `Config::interactive`, else [`AdapterError::LoginRequired`].
    pub async fn header(&self) -> Result<AuthorizationHeader, AdapterError> {
        // A machine-to-machine grant needs no user, so it may run even when not interactive.
        let config = &self.shared.config;
        let may_login = config.interactive || config.grant.is_machine_to_machine();
        match self.header_or_login(may_login).await? {
            Some(h) => Ok(h),
            None => Err(AdapterError::LoginRequired),
        }
    }

    /// The header when a token exists (refreshing first when it is near expiry). With no token:
    /// when `login` is set, run a proactive login; otherwise answer `None` so the caller sends
    /// the request without credentials and lets the server's 401 drive the flow (its
    /// `resource_metadata` and `scope` then shape discovery, RFC 9728 §5.1).
    async fn header_or_login(
        &self,
        login: bool,
    ) -> Result<Option<AuthorizationHeader>, AdapterError> {
        if let Some(h) = &self.shared.static_authorization {
            return Ok(Some(AuthorizationHeader::new(h.as_str())));
        }
        self.shared
            .operate(|m, now, round| {
                if round != Round::Fresh {
                    // After a drive, take what it produced instead of starting another one
                    // (a token shorter-lived than the refresh margin would loop otherwise).
                    if let Some(h) = usable_header(m, now) {
                        return Ok(Plan::Done(Some(h)));
                    }
                    if round == Round::AfterOwnDrive {
                        return if login {
                            Err(AdapterError::LoginRequired)
                        } else {
                            Ok(Plan::Done(None))
                        };
                    }
                }
                match m.authorization_header(now) {
                    HeaderState::Ready(h) => Ok(Plan::Done(Some(h))),
                    HeaderState::Pending => Ok(Plan::Drive),
                    HeaderState::LoginRequired if login => {
                        m.authorize(now);
                        Ok(Plan::Drive)
                    }
                    HeaderState::LoginRequired => Ok(Plan::Done(None)),
                }
            })
            .await
    }

    /// Runs a login now (discovery, registration, browser, code exchange), even when a token
    /// exists. A no-op with a static header.
    pub async fn login(&self) -> Result<(), AdapterError> {
        if self.shared.static_authorization.is_some() {
            return Ok(());
        }
        self.shared
            .operate(|m, now, round| match round {
                Round::AfterOwnDrive if usable_header(m, now).is_some() => Ok(Plan::Done(())),
                Round::AfterOwnDrive => Err(AdapterError::LoginRequired),
                Round::AfterOtherDrive if usable_header(m, now).is_some() => Ok(Plan::Done(())),
                _ => {
                    m.authorize(now);
                    Ok(Plan::Drive)
                }
            })
            .await
    }

    /// Feeds the MCP server's answer to a request made with [`Authorizer::header`]: a 401 or
    /// 403 with all its `WWW-Authenticate` values. `Ok` means a new token is ready (retry the
    /// request); `Err` says why not. Other statuses are not challenges: 2xx counts as
    /// [`Authorizer::request_succeeded`], and both return `Ok` without doing anything else.
    pub async fn handle_response(
        &self,
        status: u16,
        www_authenticate: &[String],
    ) -> Result<(), AdapterError> {
        self.challenge(None, status, www_authenticate).await
    }

    /// Like [`Authorizer::handle_response`], for the request that carried `used` (the value
    /// [`Authorizer::header`] returned). Prefer it when requests run concurrently: when several
    /// requests fail with the same old token, the first one refreshes, and the others see that
    /// the token has changed since and just retry, instead of reporting a second 401 that the
    /// core would answer with a new browser login (refresh once, then re-authorize).
    pub async fn handle_response_for(
        &self,
        used: &AuthorizationHeader,
        status: u16,
        www_authenticate: &[String],
    ) -> Result<(), AdapterError> {
        self.challenge(Some(used), status, www_authenticate).await
    }

    /// `used` is the header the rejected request carried, when known: if the token has been
    /// replaced since (another caller's 401 already refreshed it), just retry.
    async fn challenge(
        &self,
        used: Option<&AuthorizationHeader>,
        status: u16,
        www_authenticate: &[String],
    ) -> Result<(), AdapterError> {
        if !matches!(status, 401 | 403) {
            if (200..300).contains(&status) {
                self.request_succeeded().await;
            }
            return Ok(());
        }
        if self.shared.static_authorization.is_some() {
            return Err(AdapterError::StaticHeaderRejected { status });
        }
        let feed = |m: &mut Machine, now| {
            m.handle_input(
                now,
                Input::Challenge {
                    status,
                    www_authenticate: www_authenticate.to_vec(),
                },
            );
            Ok(Plan::Drive)
        };
        self.shared
            .operate(|m, now, round| {
                let current = usable_header(m, now);
                match round {
                    Round::Fresh => match (used, &current) {
                        (Some(u), Some(c)) if !same_header(u, c) => Ok(Plan::Done(())),
                        _ => feed(m, now),
                    },
                    Round::AfterOtherDrive if current.is_some() => Ok(Plan::Done(())),
                    Round::AfterOtherDrive => feed(m, now),
                    Round::AfterOwnDrive if current.is_some() => Ok(Plan::Done(())),
                    Round::AfterOwnDrive => Err(AdapterError::LoginRequired),
                }
            })
            .await
    }

    /// Reports that a request with the current token succeeded (resets the core's step-up
    /// budget and its refresh-after-401 guard).
    pub async fn request_succeeded(&self) {
        if self.shared.static_authorization.is_none() {
            let mut inner = self.shared.lock();
            let now = self.shared.now();
            inner.machine.handle_input(now, Input::RequestSucceeded);
        }
    }

    /// Revokes the tokens (RFC 7009, when the server has a revocation endpoint) and deletes the
    /// stored session. A no-op with a static header.
    pub async fn logout(&self) -> Result<(), AdapterError> {
        if self.shared.static_authorization.is_some() {
            return Ok(());
        }
        self.shared
            .operate(|m, now, round| match round {
                Round::AfterOwnDrive => Ok(Plan::Done(())),
                _ => {
                    m.logout(now);
                    Ok(Plan::Drive)
                }
            })
            .await
    }

    /// Sends `request` to the MCP server with the `Authorization` header (replacing any the
    /// request carried); on 401/403 hands the challenge to the core and retries with the new
    /// token, at most three times. Returns the last response, whatever its status. Without a
    /// token yet the request goes out bare, so the server's 401 challenge drives discovery
    /// (its `resource_metadata` and `scope`, RFC 9728 §5.1).
    ///
    /// Responses are read through the configured [`HttpClient`], so the default client caps
    /// them at [`mcp_oauth_core::MAX_RESPONSE_BYTES`]; for large or streaming MCP responses use
    /// [`Authorizer::header`] with your own client.
    pub async fn send(&self, request: HttpRequest) -> Result<HttpResponse, AdapterError> {
        let mut retries = 0;
        loop {
            // No token yet: send without credentials and let the 401 drive discovery.
            let header = self.header_or_login(false).await?;
            let mut req = request.clone();
            req.headers
                .retain(|(k, _)| !k.eq_ignore_ascii_case("authorization"));
            req.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("dpop"));
            if let Some(h) = &header {
                req.headers
                    .push(("Authorization".into(), h.expose_secret().to_owned()));
                if let Some(proof) = self.dpop_proof(req.method.as_str(), &req.url) {
                    req.headers.push(("DPoP".into(), proof));
                }
            }
            let response = self
                .shared
                .http
                .send(&req)
                .await
                .map_err(AdapterError::Http)?;
            if let Some(nonce) = response.header("dpop-nonce") {
                self.resource_nonce(nonce);
            }
            let status = response.status;
            if matches!(status, 401 | 403) {
                if self.shared.static_authorization.is_some() {
                    return Err(AdapterError::StaticHeaderRejected { status });
                }
                if retries >= MAX_SEND_RETRIES {
                    return Ok(response);
                }
                retries += 1;
                let www: Vec<String> = response
                    .header_all("www-authenticate")
                    .map(str::to_owned)
                    .collect();
                self.challenge(header.as_ref(), status, &www).await?;
                continue;
            }
            if response.is_success() && header.is_some() {
                self.request_succeeded().await;
            }
            return Ok(response);
        }
    }

    /// The `DPoP` header for one resource request (RFC 9449 §7) when the token is DPoP-bound:
    /// the core signs it (fresh `jti`, `ath`, the server's nonce). `None` for bearer tokens.
    pub fn dpop_proof(&self, method: &str, url: &str) -> Option<String> {
        if self.shared.static_authorization.is_some() {
            return None;
        }
        let now = self.shared.now();
        self.shared.lock().machine.dpop_proof(now, method, url)
    }

    /// Hands a `DPoP-Nonce` header from the MCP server to the core (RFC 9449 §9).
    pub fn resource_nonce(&self, nonce: &str) {
        if self.shared.static_authorization.is_some() {
            return;
        }
        let now = self.shared.now();
        self.shared.lock().machine.handle_input(
            now,
            mcp_oauth_core::Input::ResourceNonce {
                nonce: nonce.to_owned(),
            },
        );
    }

    /// Stops the running drive at its next step (a login waiting for the browser stops at
    /// once): the call driving it, and every caller waiting for it, get
    /// [`AdapterError::Cancelled`], and the authorizer returns to the stored session. Does
    /// nothing when idle.
    pub fn cancel(&self) {
        {
            let mut inner = self.shared.lock();
            if inner.driving {
                inner.cancel_requested = true;
            }
        }
        self.shared.cancel.notify_waiters();
    }

    /// Where this server stands, for host UIs.
    pub fn status(&self) -> AuthStatus {
        if self.shared.static_authorization.is_some() {
            return AuthStatus::Authorized;
        }
        self.shared.lock().machine.status().clone()
    }

    /// Status changes as they happen (a `watch` channel: always holds the latest).
    pub fn subscribe_status(&self) -> watch::Receiver<AuthStatus> {
        self.shared.status.subscribe()
    }

    /// The current session (secrets inside are redacted in `Debug`).
    pub fn session(&self) -> Option<Session> {
        self.shared.lock().machine.session().cloned()
    }

    /// OAuth requests sent so far, per protocol step (for round-trip reports).
    pub fn request_counts(&self) -> BTreeMap<Step, u64> {
        self.shared.lock().counts.clone()
    }

    /// The canonical server URL: the session store key.
    pub fn server(&self) -> &str {
        &self.shared.key
    }
}

fn same_header(a: &AuthorizationHeader, b: &AuthorizationHeader) -> bool {
    constant_time_eq(a.expose_secret().as_bytes(), b.expose_secret().as_bytes())
}
