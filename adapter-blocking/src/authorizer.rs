//! [`Authorizer`]: the piece every MCP client needs on each request (DESIGN.md §3): attach the
//! bearer token, refresh before expiry, on 401 refresh once and retry, then re-authorize, on
//! 403 `insufficient_scope` step up; many concurrent callers, one refresh.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mcp_oauth_core::{
    AuthStatus, AuthorizationHeader, Config, HttpRequest, HttpResponse, Input, Session, Step,
};

use crate::browser::{Browser, SystemBrowser};
use crate::driver::{new_machine, now_since, Inner, Settings};
use crate::error::AdapterError;
use crate::http::{HttpClient, UreqClient};
use crate::store::SessionStore;

/// How many times [`Authorizer::send`] retries after a 401/403.
const MAX_RETRIES: usize = 3;

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
    static_header: Option<AuthorizationHeader>,
}

impl std::fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorizer")
            .field("server", &self.server())
            .field("store", &self.inner.settings.store.kind())
            .field("static_header", &self.static_header.is_some())
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

impl Authorizer {
    /// An authorizer for `config.server_url`. Loads the stored session (no network); fails on
    /// an invalid configuration or an unreadable store.
    pub fn new(config: Config, options: Options) -> Result<Self, AdapterError> {
        let start = Instant::now();
        let mut machine = new_machine(&config)?;
        let key = machine.server().to_owned();
        let static_header = options.static_authorization.map(AuthorizationHeader::new);
        if static_header.is_none() {
            let session = options.store.load(&key)?;
            machine.handle_input(now_since(start), Input::SessionLoaded(session));
        }
        let http = match options.http_client {
            Some(client) => client,
            None => Arc::new(UreqClient::with_policy(
                options.connect_timeout,
                options.request_timeout,
                config.url_policy.clone(),
            )),
        };
        let settings = Settings {
            config,
            key,
            store: options.store,
            browser: options.browser,
            http,
            paste: options.paste_from_stdin,
            redirect_port: options.redirect_port,
        };
        Ok(Self {
            inner: Arc::new(Inner::new(settings, machine, start)),
            static_header,
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
    /// with no token, a login runs when `Config::interactive`, else
    /// [`AdapterError::LoginRequired`].
    pub fn header(&self) -> Result<AuthorizationHeader, AdapterError> {
        match &self.static_header {
            Some(h) => Ok(h.clone()),
            None => self.inner.header(),
        }
    }

    /// Runs the authorization flow now (discovery, registration, browser, code exchange), even
    /// when a token exists. Waits for any refresh or login already in flight first.
    pub fn login(&self) -> Result<(), AdapterError> {
        if self.static_header.is_some() {
            return Err(mcp_oauth_core::Error::Config(
                "a static Authorization header is configured; OAuth login is disabled".into(),
            )
            .into());
        }
        self.inner.login()
    }

    /// Feeds the MCP server's answer to a request made with this authorizer's header. For 401
    /// (refresh once, then re-authorize) and 403 (`insufficient_scope`: step up; otherwise
    /// [`mcp_oauth_core::Error::Forbidden`]) it returns `Ok` once a new token is ready: retry
    /// the request. Other statuses are ignored (`Ok`).
    ///
    /// Callers that know which header the failed request carried should prefer
    /// [`send`](Self::send), which skips the refresh when another thread already replaced the
    /// token.
    pub fn handle_response(
        &self,
        status: u16,
        www_authenticate: &[String],
    ) -> Result<(), AdapterError> {
        if self.static_header.is_some() {
            return static_verdict(status);
        }
        self.inner.challenge(None, status, www_authenticate)
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
        if self.static_header.is_some() {
            return static_verdict(status);
        }
        self.inner.challenge(Some(used), status, www_authenticate)
    }

    /// The `DPoP` header for one resource request (RFC 9449 §7) when the token is DPoP-bound
    /// (for hosts that send requests themselves with [`header`](Self::header)).
    pub fn dpop_proof(&self, method: &str, url: &str) -> Option<String> {
        if self.static_header.is_some() {
            return None;
        }
        self.inner.dpop_proof(method, url)
    }

    /// Hands a `DPoP-Nonce` header from the MCP server to the core (RFC 9449 §9).
    pub fn resource_nonce(&self, nonce: &str) {
        if self.static_header.is_none() {
            self.inner.resource_nonce(nonce);
        }
    }

    /// Reports that a request with the current token succeeded (resets the step-up budget and
    /// the refresh-after-401 guard).
    pub fn request_succeeded(&self) {
        if self.static_header.is_none() {
            self.inner.request_succeeded();
        }
    }

    /// Revokes the tokens at the authorization server when it offers revocation (RFC 7009),
    /// then deletes the stored session. A no-op with a static header.
    pub fn logout(&self) -> Result<(), AdapterError> {
        if self.static_header.is_some() {
            return Ok(());
        }
        self.inner.logout()
    }

    /// Sends `request` to the MCP server with the `Authorization` header (replacing any the
    /// request carries; without a token yet it goes out bare so the server's 401 challenge
    /// drives discovery, RFC 9728 §5.1). On 401/403 it lets the machine refresh, step up or re-authorize and
    /// retries, at most three times; a 2xx reports [`request_succeeded`](Self::request_succeeded).
    /// Any other status is returned as is, and so is a 401/403 after the last retry.
    ///
    /// Uses the same [`HttpClient`] as the OAuth steps, so the response body is capped at
    /// [`mcp_oauth_core::MAX_RESPONSE_BYTES`] with the default client: for large or streaming
    /// responses, use [`header`](Self::header) with your own client.
    pub fn send(&self, request: HttpRequest) -> Result<HttpResponse, AdapterError> {
        let mut retries = 0;
        loop {
            // No token yet: send without credentials and let the 401 drive discovery.
            let header = match &self.static_header {
                Some(h) => Some(h.clone()),
                None => self.inner.header_or_login(false)?,
            };
            let mut req = request.clone();
            req.headers
                .retain(|(k, _)| !k.eq_ignore_ascii_case("authorization"));
            req.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("dpop"));
            if let Some(h) = &header {
                req.headers
                    .push(("Authorization".into(), h.expose_secret().to_owned()));
                if self.static_header.is_none() {
                    if let Some(proof) = self.inner.dpop_proof(req.method.as_str(), &req.url) {
                        req.headers.push(("DPoP".into(), proof));
                    }
                }
            }
            let response = self
                .inner
                .settings
                .http
                .send(&req)
                .map_err(AdapterError::Http)?;
            if let Some(nonce) = response.header("dpop-nonce") {
                if self.static_header.is_none() {
                    self.inner.resource_nonce(nonce);
                }
            }
            let status = response.status;
            if status != 401 && status != 403 {
                if response.is_success() && header.is_some() {
                    self.request_succeeded();
                }
                return Ok(response);
            }
            if self.static_header.is_some() {
                return Err(AdapterError::StaticHeaderRejected { status });
            }
            if retries == MAX_RETRIES {
                return Ok(response);
            }
            retries += 1;
            let www: Vec<String> = response
                .header_all("www-authenticate")
                .map(str::to_owned)
                .collect();
            self.inner.challenge(header.as_ref(), status, &www)?;
        }
    }

    /// Stops the running drive at its next step (a login waiting for the browser stops at
    /// once; an HTTP request in flight finishes first, bounded by its timeout): the call
    /// driving it, and every caller waiting for it, get [`AdapterError::Cancelled`], and the
    /// session is kept. Does nothing when no drive is running.
    pub fn cancel(&self) {
        self.inner.cancel();
    }

    /// Where this server stands, for host UIs (updated from the machine's status events;
    /// always `Authorized` with a static header).
    pub fn status(&self) -> AuthStatus {
        if self.static_header.is_some() {
            return AuthStatus::Authorized;
        }
        self.inner.lock().status.clone()
    }

    /// The current session (tokens included: handle with care).
    pub fn session(&self) -> Option<Session> {
        self.inner.lock().machine.session().cloned()
    }

    /// OAuth requests sent so far, per protocol step (round-trip reports, single-flight checks).
    pub fn request_counts(&self) -> BTreeMap<Step, u64> {
        self.inner.lock().counts.clone()
    }
}

/// A static header is the user's choice: a 401/403 is reported, never turned into OAuth.
fn static_verdict(status: u16) -> Result<(), AdapterError> {
    match status {
        401 | 403 => Err(AdapterError::StaticHeaderRejected { status }),
        _ => Ok(()),
    }
}
