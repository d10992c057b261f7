//! [`Authorizer`]: the piece every MCP client needs on each request: attach the
//! bearer token, refresh before expiry, on 401 refresh once and retry, then re-authorize, on
//! 403 `insufficient_scope` step up; many concurrent callers, one refresh.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mcp_oauth_core::coordinator::{Op, SendVerdict};
use mcp_oauth_core::{
    AuthStatus, AuthorizationHeader, Config, HttpRequest, HttpResponse, Session, Step,
};

use crate::browser::{Browser, SystemBrowser};
use crate::driver::{new_machine, now_since, Inner, Settings};
use crate::http::{HttpClient, UreqClient};
use crate::store::SessionStore;
use crate::AdapterError;

/// How an [`Authorizer`] does its IO. Build with [`Options::new`] and adjust fields.
#[derive(Clone)]
pub struct Options {
    /// Where sessions persist (see [`crate::store`]).
    pub store: Arc<dyn SessionStore>,
    /// Opens the authorization URL ([`SystemBrowser`] by default).
    pub browser: Arc<dyn Browser>,
    /// Accept a redirect URL pasted on stdin when the browser reports it could not open
    /// (default `true`; turn off in hosts that speak a protocol on stdin).
    pub paste_from_stdin: bool,
    /// A fixed loopback port (e.g. one registered with a pre-registered client); `None` reuses
    /// a stored registration's port when free, else an ephemeral one.
    pub redirect_port: Option<u16>,
    /// A configured static `Authorization` header value: returned as is, OAuth is never
    /// entered, and a 401/403 is [`AdapterError::StaticHeaderRejected`].
    pub static_authorization: Option<String>,
    /// TCP connect timeout of the default HTTP client (10 s).
    pub connect_timeout: Duration,
    /// Overall per-request timeout of the default HTTP client (30 s).
    pub request_timeout: Duration,
    /// A host-supplied HTTP client; `None` builds a [`UreqClient`] with the timeouts above,
    /// screening resolved addresses by the configuration's `url_policy`.
    pub http_client: Option<Arc<dyn HttpClient>>,
}

impl Options {
    /// Defaults: [`SystemBrowser`], pasting on fallback, ephemeral port, 10 s / 30 s timeouts,
    /// the ureq client.
    pub fn new(store: Arc<dyn SessionStore>) -> Self {
        Self {
            store,
            browser: Arc::new(SystemBrowser),
            paste_from_stdin: true,
            redirect_port: None,
            static_authorization: None,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            http_client: None,
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("store", &self.store.kind())
            .field("paste_from_stdin", &self.paste_from_stdin)
            .field("redirect_port", &self.redirect_port)
            .field(
                "static_authorization",
                &self.static_authorization.as_ref().map(|_| "[redacted]"),
            )
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("custom_http_client", &self.http_client.is_some())
            .finish_non_exhaustive()
    }
}

/// The MCP authorization client for one MCP server, blocking flavour.
///
/// Cheap to clone (an `Arc` inside) and `Send + Sync`: share one per server across threads.
/// Any number of threads may call [`header`](Self::header) at once; when the token needs a
/// refresh or a login, exactly one of them does the IO and the others wait for its result
/// (single flight). Processes sharing a store coordinate through the store's lock, so a
/// rotating refresh token is spent once.
///
/// ```no_run
/// use std::sync::Arc;
/// use mcp_oauth_blocking::{Authorizer, FileStore, Options};
/// use mcp_oauth_core::{Config, HttpRequest};
///
/// let store = Arc::new(FileStore::new("/tmp/mcp-oauth-sessions")?);
/// let auth = Authorizer::new(Config::new("https://mcp.example.com/mcp"), Options::new(store))?;
/// // Logs in through the browser the first time, then refreshes silently.
/// let request = HttpRequest::post_json(
///     "https://mcp.example.com/mcp",
///     &serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
/// );
/// let response = auth.send(request)?;
/// println!("{} ({:?})", response.status, auth.status());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// A static header never enters OAuth:
///
/// ```
/// use std::sync::Arc;
/// use mcp_oauth_blocking::{AdapterError, Authorizer, MemoryStore, Options};
/// use mcp_oauth_core::Config;
///
/// let mut options = Options::new(Arc::new(MemoryStore::new()));
/// options.static_authorization = Some("Bearer my-api-key".into());
/// let auth = Authorizer::new(Config::new("https://mcp.example.com/mcp"), options)?;
/// assert_eq!(auth.header()?.expose_secret(), "Bearer my-api-key");
/// assert!(matches!(
///     auth.handle_response(401, &[]),
///     Err(AdapterError::StaticHeaderRejected { status: 401 })
/// ));
/// assert!(auth.request_counts().is_empty());
/// # Ok::<(), AdapterError>(())
/// ```
#[derive(Clone)]
pub struct Authorizer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // One lock, released before `finish`: the mutex is not reentrant.
        let (static_header, status) = {
            let c = self.inner.lock();
            (c.has_static_header(), c.status())
        };
        f.debug_struct("Authorizer")
            .field("server", &self.server())
            .field("store", &self.inner.settings.store.kind())
            .field("static_header", &static_header)
            .field("status", &status)
            .finish_non_exhaustive()
    }
}

impl Authorizer {
    /// An authorizer for `config.server_url`. Loads the stored session (no network); fails on
    /// an invalid configuration or an unreadable store.
    pub fn new(config: Config, options: Options) -> Result<Self, AdapterError> {
        let start = Instant::now();
        let machine = new_machine(config)?;
        let key = machine.server().to_owned();
        let url_policy = machine.config().url_policy.clone();
        let static_header = options.static_authorization.map(AuthorizationHeader::new);
        // The static header never enters OAuth, so the store is not read either.
        let persisted = match static_header {
            Some(_) => None,
            None => options.store.load(&key)?,
        };
        let coordinator = mcp_oauth_core::coordinator::Coordinator::new(
            machine,
            persisted,
            static_header,
            now_since(start),
        );
        let http = match options.http_client {
            Some(client) => client,
            None => Arc::new(UreqClient::with_policy(
                options.connect_timeout,
                options.request_timeout,
                url_policy,
            )),
        };
        let settings = Settings {
            key,
            store: options.store,
            browser: options.browser,
            http,
            paste: options.paste_from_stdin,
            redirect_port: options.redirect_port,
        };
        Ok(Self {
            inner: Arc::new(Inner::new(settings, coordinator, start)),
        })
    }

    /// The canonical server URL: the key of this server's session in the store.
    pub fn server(&self) -> &str {
        &self.inner.settings.key
    }

    /// The `Authorization` header value for the next MCP request.
    ///
    /// Hot path (a valid token): one mutex lock, two clock reads and the header string; no IO.
    /// A token within the refresh margin is refreshed first (one refresh however many callers);
    /// with no token, a login runs when `Config::interactive` (or the grant needs no user),
    /// else [`AdapterError::LoginRequired`].
    pub fn header(&self) -> Result<AuthorizationHeader, AdapterError> {
        self.inner
            .run(Op::Header { login: true })?
            .ok_or(AdapterError::LoginRequired)
    }

    /// Runs the authorization flow now (discovery, registration, browser, code exchange), even
    /// when a token exists. Waits for any refresh or login already in flight first, and takes
    /// its token when it produced one. An error with a static header.
    pub fn login(&self) -> Result<(), AdapterError> {
        self.inner.run(Op::Login).map(drop)
    }

    /// Feeds the MCP server's answer to a request made with this authorizer's header. For 401
    /// (refresh once, then re-authorize) and 403 (`insufficient_scope`: step up; otherwise
    /// [`mcp_oauth_core::Error::Forbidden`]) it returns `Ok` once a new token is ready: retry
    /// the request. Other statuses are not challenges (`Ok`; a 2xx counts as
    /// [`request_succeeded`](Self::request_succeeded)).
    ///
    /// Callers that know which header the failed request carried should prefer
    /// [`handle_response_for`](Self::handle_response_for) or [`send`](Self::send).
    pub fn handle_response(
        &self,
        status: u16,
        www_authenticate: &[String],
    ) -> Result<(), AdapterError> {
        self.challenge(None, status, www_authenticate)
    }

    /// Like [`handle_response`](Self::handle_response), for the request that carried `used`
    /// (the value [`header`](Self::header) returned). When several threads fail with the same
    /// old token, the first one refreshes and the others see the token has changed and just
    /// retry, instead of reporting a second 401 that the core answers with a new login.
    pub fn handle_response_for(
        &self,
        used: &AuthorizationHeader,
        status: u16,
        www_authenticate: &[String],
    ) -> Result<(), AdapterError> {
        self.challenge(Some(used), status, www_authenticate)
    }

    fn challenge(
        &self,
        used: Option<&AuthorizationHeader>,
        status: u16,
        www_authenticate: &[String],
    ) -> Result<(), AdapterError> {
        self.inner
            .run(Op::Challenge {
                used: used.cloned(),
                status,
                www_authenticate: www_authenticate.to_vec(),
            })
            .map(drop)
    }

    /// The `DPoP` header for one resource request (RFC 9449 §7) when the token is DPoP-bound
    /// (for hosts that send requests themselves with [`header`](Self::header)).
    pub fn dpop_proof(&self, method: &str, url: &str) -> Option<String> {
        let now = self.inner.now();
        self.inner.lock().dpop_proof(now, method, url)
    }

    /// Hands a `DPoP-Nonce` header from the MCP server to the core (RFC 9449 §9).
    pub fn resource_nonce(&self, nonce: &str) {
        let now = self.inner.now();
        self.inner.lock().resource_nonce(now, nonce);
    }

    /// Reports that a request with the current token succeeded (resets the step-up budget and
    /// the refresh-after-401 guard). Ignored while a refresh or login runs.
    pub fn request_succeeded(&self) {
        let now = self.inner.now();
        self.inner.lock().request_succeeded(now);
    }

    /// Revokes the tokens at the authorization server when it offers revocation (RFC 7009),
    /// then deletes the stored session. A no-op with a static header.
    pub fn logout(&self) -> Result<(), AdapterError> {
        self.inner.run(Op::Logout).map(drop)
    }

    /// Sends `request` to the MCP server with the `Authorization` header (replacing any the
    /// request carries; without a token yet it goes out bare so the server's 401 challenge
    /// drives discovery, RFC 9728 §5.1). On 401/403 it lets the machine refresh, step up or
    /// re-authorize and retries, at most
    /// [`MAX_SEND_RETRIES`](mcp_oauth_core::coordinator::MAX_SEND_RETRIES) times; a 2xx reports
    /// [`request_succeeded`](Self::request_succeeded). Any other status is returned as is, and
    /// so is a 401/403 after the last retry.
    ///
    /// Uses the same [`HttpClient`] as the OAuth steps, so the response body is capped at
    /// [`mcp_oauth_core::MAX_RESPONSE_BYTES`] with the default client: for large or streaming
    /// responses, use [`header`](Self::header) with your own client.
    pub fn send(&self, request: HttpRequest) -> Result<HttpResponse, AdapterError> {
        let mut retries = 0;
        let launches_before = self.browser_launches();
        loop {
            let header = self.inner.run(Op::Header { login: false })?;
            let mut req = request.clone();
            self.inner
                .lock()
                .attach(self.inner.now(), &mut req, header.as_ref());
            let response = self
                .inner
                .settings
                .http
                .send(&req)
                .map_err(AdapterError::Http)?;
            let verdict = self.inner.lock().send_verdict(
                self.inner.now(),
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
                    self.challenge(header.as_ref(), status, &www_authenticate)?;
                }
                SendVerdict::Fail(failure) => return Err(failure.into()),
                _ => return Ok(response),
            }
        }
    }

    /// Stops the running drive at its next step (a login waiting for the browser stops at
    /// once; an HTTP request in flight finishes first, bounded by its timeout): the call
    /// driving it, and every caller waiting for it, get [`AdapterError::Cancelled`], and the
    /// session is kept. Does nothing when no drive is running.
    pub fn cancel(&self) {
        self.inner.cancel();
    }

    /// Where this server stands, for host UIs (always `Authorized` with a static header).
    pub fn status(&self) -> AuthStatus {
        self.inner.lock().status()
    }

    /// The current session (tokens included: handle with care).
    pub fn session(&self) -> Option<Session> {
        self.inner.lock().session().cloned()
    }

    /// OAuth requests sent so far, per protocol step (round-trip reports, single-flight checks).
    pub fn request_counts(&self) -> BTreeMap<Step, u64> {
        self.inner.lock().request_counts()
    }

    /// How many times the browser was sent to the authorization server by this authorizer.
    pub fn browser_launches(&self) -> u64 {
        self.inner.lock().browser_launches()
    }
}
