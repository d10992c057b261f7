//! # mcp-oauth-tokio
//!
//! The tokio adapter for [`mcp_oauth_core`]: it interprets the core's outputs
//! with real IO — HTTP through [`HttpClient`] (default [`ReqwestClient`]: rustls on `ring`, no
//! redirects, timeouts, a response size cap), the loopback callback listener
//! ([`LoopbackListener`]), the browser ([`Browser`]), a pasted redirect URL on stdin, and the
//! session stores of [`mcp_oauth_store`] (called through `spawn_blocking`, since
//! keychains block).
//!
//! [`Authorizer`] is what an MCP client holds per server: [`Authorizer::header`] returns a valid
//! `Authorization` header (refreshing or logging in first when needed), and
//! [`Authorizer::send`] / [`Authorizer::handle_response`] handle 401 and 403 challenges. Many
//! concurrent callers with an expired token cause exactly one refresh request; a rotated token
//! is stored before any caller receives it.
//!
//! ```no_run
//! use std::sync::Arc;
//! use mcp_oauth_store::MemoryStore;
//! use mcp_oauth_core::{Config, HttpRequest};
//! use mcp_oauth_tokio::{Authorizer, Options};
//!
//! # async fn demo() -> Result<(), mcp_oauth_tokio::AdapterError> {
//! let auth = Authorizer::new(
//!     Config::new("https://mcp.example.com/mcp"),
//!     Options::new(Arc::new(MemoryStore::new())),
//! )
//! .await?;
//! let mut request = HttpRequest::get_json("https://mcp.example.com/mcp");
//! request.headers.push(("MCP-Protocol-Version".into(), "2025-11-25".into()));
//! let response = auth.send(request).await?;
//! println!("HTTP {}", response.status);
//! # Ok(()) }
//! ```
//!
//! Tests and hosts can replace every effect: a custom [`HttpClient`] (an in-memory
//! authorization server), an [`FnBrowser`] that returns [`BrowserOutcome::Redirected`], and a
//! `MemoryStore`.
// Every public item is documented; CI's clippy -D warnings keeps it so.
#![warn(missing_docs)]

mod authorizer;
mod browser;
mod driver;
mod http;
mod interpret;
mod loopback;
mod options;
mod paste;
mod resolve;
mod wait;

pub use authorizer::Authorizer;
pub use browser::{Browser, BrowserOutcome, FnBrowser, NoBrowser, SystemBrowser};
pub use http::{BoxFuture, HttpClient, ReqwestClient};
pub use loopback::{LoopbackListener, CALLBACK_PATH};
/// The session stores, from `mcp-oauth-store`, under the same names as in the blocking adapter
/// (`mcp_oauth_tokio::MemoryStore` is `mcp_oauth_store::MemoryStore`).
pub use mcp_oauth_store as store;
/// The same error type as the blocking adapter (one error vocabulary for both), from
/// `mcp-oauth-store`.
pub use mcp_oauth_store::AdapterError;
pub use mcp_oauth_store::{
    open_store, FileStore, KeychainOptions, KeychainStore, MemoryStore, SessionStore, StoreChoice,
    StoreError, StoreKind, StoreLock, StoredEntry,
};
pub use options::Options;
