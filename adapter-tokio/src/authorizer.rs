//! [`Authorizer`]: the piece every MCP client needs on each request: attach the
//! token, refresh before expiry, on 401 refresh once and retry, then re-authorize, on 403
//! `insufficient_scope` step up; many concurrent callers cause one refresh.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use mcp_oauth_core::coordinator::{Coordinator, Op, SendVerdict};
use mcp_oauth_core::{
    AuthStatus, AuthorizationHeader, Config, HttpRequest, HttpResponse, Session, Step,
};
use tokio::sync::{watch, Notify};

use crate::driver::{new_machine, now_since, Shared};
use crate::http::{HttpClient, ReqwestClient};
use crate::options::Options;
use crate::AdapterError;

/// The OAuth client for one MCP server: cheap to clone (an `Arc` inside), `Send + Sync`.
///
/// ```no_run
/// # async fn demo() -> Result<(), mcp_oauth_tokio::AdapterError> {
/// use std::sync::Arc;
/// use mcp_oauth_store::MemoryStore;
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
        // One lock, released before `finish`: the mutex is not reentrant.
        let (static_header, status) = {
            let c = s.lock();
            (c.has_static_header(), c.status())
        };
        f.debug_struct("Authorizer")
            .field("server", &s.key)
            .field("status", &status)
            .field("static_authorization", &static_header)
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
        let machine = new_machine(config)?;
        let key = machine.server().to_owned();
        let static_header = options.static_authorization.map(AuthorizationHeader::new);
        let persisted = if static_header.is_some() {
            None // the static header never enters OAuth, so no store access either
        } else {
            let (store, k) = (Arc::clone(&options.store), key.clone());
            tokio::task::spawn_blocking(move || store.load(&k))
                .await
                .map_err(|e| AdapterError::Io(std::io::Error::other(e.to_string())))??
        };
        let coordinator = Coordinator::new(machine, persisted, static_header, now_since(start));
        let (status, _) = watch::channel(coordinator.status());
        Ok(Self {
            shared: Arc::new(Shared {
                key,
                store: options.store,
                browser: options.browser,
                http,
                paste_from_stdin: options.paste_from_stdin,
                paste_source: crate::paste::subscribe,
                redirect_port: options.redirect_port,
                start,
                coordinator: Mutex::new(coordinator),
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
    /// login runs when `Config::interactive` (or the grant needs no user), else
    /// [`AdapterError::LoginRequired`].
    pub async fn header(&self) -> Result<AuthorizationHeader, AdapterError> {
        self.shared
            .run(Op::Header { login: true })
            .await?
            .ok_or(AdapterError::LoginRequired)
    }

    /// Runs a login now (discovery, registration, browser, code exchange), even when a token
    /// exists; a login already in flight is joined instead. An error with a static header.
    pub async fn login(&self) -> Result<(), AdapterError> {
        self.shared.run(Op::Login).await.map(drop)
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

    async fn challenge(
        &self,
        used: Option<&AuthorizationHeader>,
        status: u16,
        www_authenticate: &[String],
    ) -> Result<(), AdapterError> {
        self.shared
            .run(Op::Challenge {
                used: used.cloned(),
                status,
                www_authenticate: www_authenticate.to_vec(),
            })
            .await
            .map(drop)
    }

    /// Reports that a request with the current token succeeded (resets the core's step-up
    /// budget and its refresh-after-401 guard). Ignored while a refresh or login runs.
    pub async fn request_succeeded(&self) {
        let now = self.shared.now();
        self.shared.lock().request_succeeded(now);
    }

    /// Revokes the tokens (RFC 7009, when the server has a revocation endpoint) and deletes the
    /// stored session. A no-op with a static header.
    pub async fn logout(&self) -> Result<(), AdapterError> {
        self.shared.run(Op::Logout).await.map(drop)
    }

    /// Sends `request` to the MCP server with the `Authorization` header (replacing any the
    /// request carried); on 401/403 hands the challenge to the core and retries with the new
    /// token, at most [`MAX_SEND_RETRIES`](mcp_oauth_core::coordinator::MAX_SEND_RETRIES)
    /// times. Returns the last response, whatever its status. Without a token yet the request
    /// goes out bare, so the server's 401 challenge drives discovery (its `resource_metadata`
    /// and `scope`, RFC 9728 §5.1).
    ///
    /// Responses are read through the configured [`HttpClient`], so the default client caps
    /// them at [`mcp_oauth_core::MAX_RESPONSE_BYTES`]; for large or streaming MCP responses use
    /// [`Authorizer::header`] with your own client.
    pub async fn send(&self, request: HttpRequest) -> Result<HttpResponse, AdapterError> {
        let mut retries = 0;
        let launches_before = self.browser_launches();
        loop {
            let header = self.shared.run(Op::Header { login: false }).await?;
            let mut req = request.clone();
            let now = self.shared.now();
            self.shared.lock().attach(now, &mut req, header.as_ref());
            let response = self
                .shared
                .http
                .send(&req)
                .await
                .map_err(AdapterError::Http)?;
            let now = self.shared.now();
            let verdict = self.shared.lock().send_verdict(
                now,
                &response,
                header.is_some(),
                retries,
                launches_before,
            );
            match verdict {
                SendVerdict::Retry {
                    status,
                    www_authenticate,
                } => {
                    retries += 1;
                    self.challenge(header.as_ref(), status, &www_authenticate)
                        .await?;
                }
                SendVerdict::Fail(failure) => return Err(failure.into()),
                _ => return Ok(response),
            }
        }
    }

    /// The `DPoP` header for one resource request (RFC 9449 §7) when the token is DPoP-bound:
    /// the core signs it (fresh `jti`, `ath`, the server's nonce). `None` for bearer tokens.
    pub fn dpop_proof(&self, method: &str, url: &str) -> Option<String> {
        let now = self.shared.now();
        self.shared.lock().dpop_proof(now, method, url)
    }

    /// Hands a `DPoP-Nonce` header from the MCP server to the core (RFC 9449 §9).
    pub fn resource_nonce(&self, nonce: &str) {
        let now = self.shared.now();
        self.shared.lock().resource_nonce(now, nonce);
    }

    /// Stops the running drive at its next step (a login waiting for the browser stops at
    /// once): the call driving it, and every caller waiting for it, get
    /// [`AdapterError::Cancelled`], and the authorizer returns to the stored session. Does
    /// nothing when idle.
    pub fn cancel(&self) {
        self.shared.cancel();
    }

    /// Where this server stands, for host UIs.
    pub fn status(&self) -> AuthStatus {
        self.shared.lock().status()
    }

    /// Status changes as they happen (a `watch` channel: always holds the latest).
    pub fn subscribe_status(&self) -> watch::Receiver<AuthStatus> {
        self.shared.status.subscribe()
    }

    /// The current session (secrets inside are redacted in `Debug`).
    pub fn session(&self) -> Option<Session> {
        self.shared.lock().session().cloned()
    }

    /// OAuth requests sent so far, per protocol step (for round-trip reports).
    pub fn request_counts(&self) -> BTreeMap<Step, u64> {
        self.shared.lock().request_counts()
    }

    /// How many times the browser was sent to the authorization server by this authorizer.
    pub fn browser_launches(&self) -> u64 {
        self.shared.lock().browser_launches()
    }

    /// The canonical server URL: the session store key.
    pub fn server(&self) -> &str {
        &self.shared.key
    }
}
