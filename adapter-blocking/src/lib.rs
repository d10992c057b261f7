//! # mcp-oauth-blocking
//!
//! The blocking adapter for [`mcp_oauth_core`]: it interprets the core's outputs with plain
//! threads and `std` IO. Interpreters, not policy: no OAuth decisions here.
//!
//! - [`Authorizer`] (one per MCP server) and its effects: [`HttpClient`] / [`UreqClient`] (no
//!   redirects, timeouts, 256 KiB cap), the [`LoopbackListener`] on `127.0.0.1`, [`Browser`]
//!   openers and the paste-the-redirect-URL fallback on stdin.
//! - [`store`]: where sessions persist between runs (the OS keychain, a private file store, or
//!   memory), re-exported from `mcp-oauth-store` together with [`AdapterError`] and
//!   [`BrowserOutcome`], which the tokio adapter shares.
//!
//! **Single flight.** Any number of threads may call [`Authorizer::header`] at once: a valid
//! token comes back at once (no IO); when it must be refreshed, exactly one caller sends the
//! refresh request while the others wait for its result, and processes sharing a store
//! serialize through the store's lock, so a rotating refresh token is spent exactly once.
//!
//! ```no_run
//! use std::sync::Arc;
//! use mcp_oauth_blocking::{open_store, Authorizer, Options, StoreChoice};
//! use mcp_oauth_core::{Config, HttpRequest};
//!
//! let store = open_store(StoreChoice::Auto)?; // keychain, else a 0600 file store
//! let auth = Authorizer::new(
//!     Config::new("https://mcp.example.com/mcp"),
//!     Options::new(Arc::from(store)),
//! )?;
//! // Attach the token yourself...
//! let header = auth.header()?; // logs in through the browser the first time
//! # let _ = header;
//! // ...or let the authorizer send, refresh on 401 and retry.
//! let response = auth.send(HttpRequest::post_json(
//!     "https://mcp.example.com/mcp",
//!     &serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
//! ))?;
//! println!("HTTP {}", response.status);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
// Every public item is documented; CI's clippy -D warnings keeps it so.
#![warn(missing_docs)]

mod authorizer;
mod browser;
mod driver;
mod http;
mod interpret;
mod loopback;
mod paste;
mod resolve;

/// The session stores, from `mcp-oauth-store` (`mcp_oauth_blocking::store::FileStore` and
/// `mcp_oauth_blocking::FileStore` both keep working).
pub use mcp_oauth_store as store;
/// The browser launcher both adapters share, from `mcp-oauth-store`.
pub use mcp_oauth_store::launch;
/// Bounded reading of pasted lines, from `mcp-oauth-store`.
pub use mcp_oauth_store::paste_line;
pub use mcp_oauth_store::{
    open_store, AdapterError, FileStore, KeychainOptions, KeychainStore, MemoryStore, SessionStore,
    StoreChoice, StoreError, StoreKind, StoreLock, StoredEntry,
};

pub use authorizer::{Authorizer, Options};
pub use browser::{Browser, BrowserOutcome, FnBrowser, NoBrowser, SystemBrowser};
pub use http::{HttpClient, UreqClient};
pub use loopback::{LoopbackListener, CALLBACK_PATH};
