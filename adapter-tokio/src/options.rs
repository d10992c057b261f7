//! [`Options`]: what the host chooses about IO (the core's [`Config`](mcp_oauth_core::Config)
//! holds the protocol choices).

use std::sync::Arc;
use std::time::Duration;

use mcp_oauth_store::SessionStore;

use crate::browser::{Browser, SystemBrowser};
use crate::http::HttpClient;

/// Adapter settings for one [`Authorizer`](crate::Authorizer).
///
/// ```
/// use std::sync::Arc;
/// use mcp_oauth_store::MemoryStore;
/// use mcp_oauth_tokio::{NoBrowser, Options};
///
/// let mut options = Options::new(Arc::new(MemoryStore::new()));
/// options.browser = Arc::new(NoBrowser); // headless: print the URL, accept a pasted redirect
/// options.redirect_port = Some(33418);   // a port registered with a pre-registered client
/// assert!(format!("{options:?}").contains("memory"));
/// ```
#[derive(Clone)]
pub struct Options {
    /// Where sessions live (keychain, file, memory), from `mcp_oauth_store`.
    pub store: Arc<dyn SessionStore>,
    /// Who shows the authorization URL.
    pub browser: Arc<dyn Browser>,
    /// The client for OAuth requests and [`Authorizer::send`](crate::Authorizer::send); `None`
    /// builds a [`ReqwestClient`](crate::ReqwestClient) with the timeouts below, screening
    /// resolved addresses by the configuration's `url_policy`.
    pub http_client: Option<Arc<dyn HttpClient>>,
    /// Accept a pasted redirect URL on stdin when the browser reports
    /// [`Unavailable`](crate::BrowserOutcome::Unavailable) (default `true`). Hosts that speak a
    /// protocol on their own stdin (stdio MCP proxies) must set `false`.
    pub paste_from_stdin: bool,
    /// A fixed loopback port (for clients pre-registered with an exact redirect URI); `None`
    /// reuses the port of a stored dynamic registration when free, else an ephemeral port.
    pub redirect_port: Option<u16>,
    /// A configured static `Authorization` header value: sent as is, and a 401/403 becomes
    /// [`AdapterError::StaticHeaderRejected`](crate::AdapterError::StaticHeaderRejected);
    /// OAuth is never entered.
    pub static_authorization: Option<String>,
    /// TCP+TLS connect timeout of the default HTTP client (10 s).
    pub connect_timeout: Duration,
    /// Overall per-request timeout of the default HTTP client, body included (30 s).
    pub request_timeout: Duration,
}

impl Options {
    /// Defaults: the system browser, paste on fallback, default HTTP client, ephemeral port.
    pub fn new(store: Arc<dyn SessionStore>) -> Self {
        Self {
            store,
            browser: Arc::new(SystemBrowser),
            http_client: None,
            paste_from_stdin: true,
            redirect_port: None,
            static_authorization: None,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("store", &self.store.kind().as_str())
            .field("custom_http_client", &self.http_client.is_some())
            .field("paste_from_stdin", &self.paste_from_stdin)
            .field("redirect_port", &self.redirect_port)
            .field(
                "static_authorization",
                &self.static_authorization.as_ref().map(|_| "[redacted]"),
            )
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}
