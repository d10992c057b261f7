//! # mcp-oauth-blocking
//!
//! The blocking adapter for [`mcp_oauth_core`]: it interprets the core's outputs with plain
//! threads and `std` IO (DESIGN.md §3). Interpreters, not policy: no OAuth decisions here.
//!
//! - [`store`]: where sessions persist between runs: the OS keychain, a private file store, or
//!   memory. Light and synchronous, so it builds with `default-features = false` and the tokio
//!   adapter reuses it through `spawn_blocking`.

pub mod store;

pub use store::{
    open_store, FileStore, KeychainOptions, KeychainStore, MemoryStore, SessionStore, StoreChoice,
    StoreError, StoreKind, StoreLock,
};
