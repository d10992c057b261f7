//! # mcp-oauth-rmcp
//!
//! mcp-oauth for [rmcp](https://docs.rs/rmcp), the Rust MCP SDK: [`McpOAuthClient`] implements
//! rmcp's [`StreamableHttpClient`] by wrapping another one (rmcp's reqwest client by default), so
//! one line plugs mcp-oauth's [`Authorizer`] into rmcp's Streamable HTTP transport:
//!
//! ```no_run
//! # #[cfg(feature = "reqwest")]
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use mcp_oauth_core::Config;
//! use mcp_oauth_rmcp::McpOAuthClient;
//! use mcp_oauth_tokio::{Authorizer, FileStore, Options};
//! use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
//! use rmcp::transport::StreamableHttpClientTransport;
//! use rmcp::ServiceExt;
//!
//! let url = "https://mcp.example.com/mcp";
//! let store = Arc::new(FileStore::new("mcp-sessions")?); // a directory
//! let authorizer = Authorizer::new(Config::new(url), Options::new(store)).await?;
//! let transport = StreamableHttpClientTransport::with_client(
//!     McpOAuthClient::with_reqwest(authorizer)?,
//!     StreamableHttpClientTransportConfig::with_uri(url),
//! );
//! let service = ().serve(transport).await?;
//! let tools = service.list_all_tools().await?;
//! # let _ = tools;
//! # Ok(()) }
//! ```
//!
//! What the wrapper does on each request, and which answers it handles, is on
//! [`McpOAuthClient`]. The login (discovery, registration, browser, code exchange), the session
//! store, refresh before expiry and the one-refresh-for-many-callers rule are the
//! [`Authorizer`]'s, the same as without rmcp (ARCHITECTURE.md §4).
// Every public item is documented; CI's clippy -D warnings keeps it so.
#![warn(missing_docs)]

mod client;

pub use client::McpOAuthClient;
pub use mcp_oauth_tokio::{AdapterError, Authorizer};
pub use rmcp::transport::streamable_http_client::StreamableHttpClient;
use rmcp::transport::streamable_http_client::StreamableHttpError;

/// The authorizer's error inside a transport error from [`McpOAuthClient`], when that is what
/// failed (no token could be had: login refused or cancelled, `LoginRequired` without an
/// interactive configuration, the session store failing). `None` for every other error.
///
/// ```
/// use mcp_oauth_rmcp::{authorization_error, AdapterError};
/// use rmcp::transport::streamable_http_client::StreamableHttpError;
///
/// let e: StreamableHttpError<std::io::Error> =
///     StreamableHttpError::Io(std::io::Error::other(AdapterError::LoginRequired));
/// assert!(matches!(authorization_error(&e), Some(AdapterError::LoginRequired)));
/// assert!(authorization_error(&StreamableHttpError::<std::io::Error>::SessionExpired).is_none());
/// ```
pub fn authorization_error<E>(error: &StreamableHttpError<E>) -> Option<&AdapterError>
where
    E: std::error::Error + Send + Sync + 'static,
{
    match error {
        StreamableHttpError::Io(io) => io.get_ref()?.downcast_ref::<AdapterError>(),
        _ => None,
    }
}

#[cfg(feature = "reqwest")]
impl McpOAuthClient<reqwest::Client> {
    /// With rmcp's own client: reqwest 0.13 on rustls with the `ring` provider (the TLS stack
    /// mcp-oauth-tokio already uses), redirects not followed (MCP 2025-11-25 "Authorization"
    /// forbids sending the token to another origin). Fails only when the TLS backend cannot be
    /// built.
    pub fn with_reqwest(authorizer: Authorizer) -> Result<Self, reqwest::Error> {
        // reqwest is built with `rustls-no-provider`: a process-wide provider must exist. One the
        // host installed first wins (the "already installed" error is ignored).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let inner = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self::new(authorizer, inner))
    }
}
