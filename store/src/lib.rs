//! # mcp-oauth-store
//!
//! Session stores: where a [`Session`] lives between runs, and the small pieces both adapters
//! (`mcp-oauth-tokio`, `mcp-oauth-blocking`) share, so neither adapter depends on the other.
//!
//! Three interchangeable backends behind one blocking trait, [`SessionStore`]:
//!
//! - [`KeychainStore`]: the OS keychain (Secret Service on Linux, Keychain on macOS, Credential
//!   Manager on Windows) via the `keyring-core` family. Preferred: secrets at rest are protected
//!   by the OS, not by file modes.
//! - [`FileStore`]: a 0700 directory of 0600 JSON files with atomic writes, for machines without
//!   a keychain (headless servers, containers, CI).
//! - [`MemoryStore`]: a process-local map for tests and hosts that persist elsewhere.
//!
//! [`open_store`] with [`StoreChoice::Auto`] probes the keychain and falls back to the file store.
//!
//! Keys are canonical MCP server URLs. Every store offers [`SessionStore::lock`]: rotating refresh
//! tokens die when two processes refresh at once (RFC 9700 §4.14.2: a reused refresh token
//! revokes the grant), so a refresh takes the lock, re-reads the session, refreshes, saves, then
//! drops the guard. The wait for the lock is bounded ([`DEFAULT_LOCK_TIMEOUT`]).
//!
//! The store is synchronous on purpose: the tokio adapter calls it through `spawn_blocking`
//! (the zbus keychain store is itself blocking), and it pulls in nothing heavier than the
//! keychain crates and the browser launcher: no HTTP client, no async runtime.
//!
//! Secrets never appear in [`StoreError`] or in any `Debug` output here: errors name the file or
//! keychain entry and the kind of failure, never stored JSON.
//!
//! What both adapters share besides the stores:
//!
//! - [`AdapterError`]: the one error type of both adapters' `Authorizer`s (each re-exports it),
//!   so a host can switch adapters without touching its error handling;
//! - [`BrowserOutcome`] and the `$BROWSER`-aware system launcher ([`launch`]);
//! - [`paste_line`]: bounded reading of a pasted redirect URL from stdin.
//!
//! ```
//! use mcp_oauth_store::{open_store, SessionStore, StoreChoice, StoreKind};
//!
//! // In production `StoreChoice::Auto`: the OS keychain, else a 0600 file store.
//! let store = open_store(StoreChoice::Memory)?;
//! assert_eq!(store.kind(), StoreKind::Memory);
//! let key = "https://mcp.example.com/mcp"; // a canonical MCP server URL
//! {
//!     // A refresh holds the key's lock across load, refresh and save, so a rotating refresh
//!     // token is spent once even when several processes share the store.
//!     let _guard = store.lock(key)?;
//!     assert!(store.load(key)?.is_none()); // nothing stored yet: the adapter logs in
//! }
//! assert!(store.list()?.is_empty());
//! store.delete(key)?; // deleting a missing session succeeds
//! # Ok::<(), mcp_oauth_store::StoreError>(())
//! ```
// Every public item is documented; CI's clippy -D warnings keeps it so.
#![warn(missing_docs)]

mod chunk;
mod file;
mod keychain;
mod lock;
mod memory;
mod paths;

mod error;
pub mod launch;
pub mod paste_line;

use std::path::PathBuf;
use std::time::Duration;

use mcp_oauth_core::session::{SessionDecodeError, SESSION_VERSION};
use mcp_oauth_core::Session;

pub use file::FileStore;
pub use keychain::{KeychainOptions, KeychainStore, DEFAULT_KEYCHAIN_TIMEOUT, KEYCHAIN_SERVICE};
pub use lock::{StoreLock, DEFAULT_LOCK_TIMEOUT};
pub use memory::MemoryStore;
pub use paths::default_state_dir;

pub use error::AdapterError;
pub use launch::BrowserOutcome;

/// Longest accepted key, in bytes. The Windows Credential Manager caps user names at 513
/// characters and chunk entries append `#NNNN`; the same rule applies to every store so a key
/// that works with the file store also works with the keychain.
pub const MAX_KEY_LEN: usize = 480;

/// A persistent home for sessions, keyed by canonical server URL.
///
/// Implementations are blocking and thread-safe. Call them from `spawn_blocking` in async code.
pub trait SessionStore: Send + Sync {
    /// The session stored under `key`, or `Ok(None)` when there is none.
    fn load(&self, key: &str) -> Result<Option<Session>, StoreError>;

    /// Stores `session` under `key`, replacing any previous one. Never leaves a half-written
    /// session readable in place of the previous one.
    fn save(&self, key: &str, session: &Session) -> Result<(), StoreError>;

    /// Removes the session under `key`; removing a missing session succeeds.
    fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// Exclusive lock for `key`, held until the returned guard drops.
    ///
    /// File store: an advisory lock on `<file>.lock`, which also excludes other processes.
    /// Keychain: the same lock file in the state directory when one is configured, plus an
    /// in-process lock. Memory: an in-process lock. Waits while another holder has it, at most
    /// the store's lock timeout ([`DEFAULT_LOCK_TIMEOUT`] unless configured), then fails with
    /// [`StoreError::LockTimeout`]. `save`, `load` and `delete` do not take this lock
    /// themselves, so they may be called while holding it.
    fn lock(&self, key: &str) -> Result<StoreLock, StoreError>;

    /// Keys with a stored session, sorted (for `mcp-oauth status`). Entries that cannot be read
    /// are left out; [`list_entries`](Self::list_entries) reports them.
    fn list(&self) -> Result<Vec<String>, StoreError>;

    /// Everything stored, readable or not, so one bad entry is reported instead of hidden
    /// (`mcp-oauth status`). The default lists [`list`](Self::list)'s keys, for stores whose
    /// listing cannot meet an unreadable entry.
    fn list_entries(&self) -> Result<Vec<StoredEntry>, StoreError> {
        Ok(self.list()?.into_iter().map(StoredEntry::Session).collect())
    }

    /// Moves an unreadable session for `key` out of the way, keeping a copy, so a new login can
    /// store a fresh one (a corrupt session must not block its server forever, and must not be
    /// destroyed either). Returns where the copy now is, or `Ok(None)` when this store cannot
    /// set entries aside; the entry is then left untouched. Call it only after
    /// [`load`](Self::load) reported [`StoreError::Corrupt`], and hold [`lock`](Self::lock).
    fn set_aside(&self, key: &str) -> Result<Option<String>, StoreError> {
        let _ = key;
        Ok(None)
    }

    /// Which backend this is.
    fn kind(&self) -> StoreKind;
}

/// One entry of [`SessionStore::list_entries`].
#[derive(Debug)]
#[non_exhaustive]
pub enum StoredEntry {
    /// A session stored under this key (loading it may still fail, e.g. a newer format).
    Session(String),
    /// An entry that cannot be read: corrupt, a symbolic link, wrong permissions. The session
    /// it holds is unknown, except for its key when that much could be read.
    Unreadable {
        /// The key the entry names, when readable (a truncated file usually still names it).
        key: Option<String>,
        /// Why it cannot be read; names the file or keychain entry.
        error: StoreError,
    },
}

/// The backend behind a [`SessionStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// [`MemoryStore`].
    Memory,
    /// [`FileStore`].
    File,
    /// [`KeychainStore`].
    Keychain,
}

impl StoreKind {
    /// Human-readable name for status output.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::Memory => "memory",
            StoreKind::File => "file",
            StoreKind::Keychain => "keychain",
        }
    }
}

/// Why a store operation failed. Never carries stored JSON or secrets.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A filesystem operation failed.
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        /// What was being done ("read", "write", "lock", ...).
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The stored data is not a readable session. The data is left in place for inspection.
    #[error("stored session at {location} is corrupt: {detail}")]
    Corrupt {
        /// The file path or keychain entry.
        location: String,
        /// What is wrong, without echoing stored content.
        detail: String,
    },
    /// The session was written by a newer version of this library.
    #[error("stored session has format version {0}; this build reads up to {SESSION_VERSION}")]
    UnsupportedVersion(u32),
    /// A session file or the store directory is accessible to other users or owned by another
    /// user; refused like ssh refuses a world-readable key.
    #[error("refusing {}: {reason}", path.display())]
    InsecurePermissions {
        /// The offending file or directory.
        path: PathBuf,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The OS keychain reported an error.
    #[error("keychain: {0}")]
    Keychain(String),
    /// The OS keychain did not answer in time (a locked or hung Secret Service, a pending
    /// unlock prompt).
    #[error("keychain did not answer within {0:?}")]
    Timeout(Duration),
    /// The key cannot be stored (empty, too long, or containing `#` or control characters).
    #[error("invalid store key {key:?}: {reason}")]
    InvalidKey {
        /// The rejected key (a server URL, not a secret).
        key: String,
        /// Why.
        reason: &'static str,
    },
    /// Another holder kept the lock on a store key for longer than the store's lock timeout: a
    /// stopped or stuck `mcp-oauth` process, or another handle of this one.
    #[error("{} holds the session lock{}; gave up after waiting {timeout:?}",
        lock::holder_phrase(*holder_pid),
        path.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default())]
    LockTimeout {
        /// The lock file; `None` for an in-process lock.
        path: Option<PathBuf>,
        /// The holder's process id where known (every holder writes it into the lock file).
        holder_pid: Option<u32>,
        /// The bound that ran out.
        timeout: Duration,
    },
    /// No state directory could be determined (no `XDG_STATE_HOME`, `HOME` or `APPDATA`).
    #[error("no state directory: set XDG_STATE_HOME or HOME (APPDATA on Windows)")]
    NoStateDir,
}

/// Which store [`open_store`] opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChoice {
    /// The keychain when a probe write/read/delete succeeds in time, else the file store in the
    /// default state directory (with a one-line notice on stderr).
    Auto,
    /// The OS keychain, or an error.
    Keychain,
    /// The file store in the given directory, or [`default_state_dir`] when `None`.
    File(Option<PathBuf>),
    /// A fresh [`MemoryStore`].
    Memory,
}

/// Opens the store chosen by `choice`.
pub fn open_store(choice: StoreChoice) -> Result<Box<dyn SessionStore>, StoreError> {
    match choice {
        StoreChoice::Memory => Ok(Box::new(MemoryStore::new())),
        StoreChoice::File(Some(dir)) => Ok(Box::new(FileStore::new(dir)?)),
        StoreChoice::File(None) => Ok(Box::new(FileStore::new(default_state_dir()?)?)),
        StoreChoice::Keychain => {
            let store = KeychainStore::new()?;
            store.probe()?;
            Ok(Box::new(store))
        }
        StoreChoice::Auto => {
            let probed = KeychainStore::new().and_then(|s| s.probe().map(|()| s));
            match probed {
                Ok(store) => Ok(Box::new(store)),
                Err(why) => {
                    let dir = default_state_dir()?;
                    eprintln!(
                        "mcp-oauth: OS keychain unavailable ({why}); storing sessions in {}",
                        dir.display()
                    );
                    Ok(Box::new(FileStore::new(dir)?))
                }
            }
        }
    }
}

/// Rejects keys that cannot be stored uniformly in every backend. `#` is reserved for keychain
/// chunk and bookkeeping entries (canonical server URLs carry no fragment, RFC 8707 §2).
pub(crate) fn validate_key(key: &str) -> Result<(), StoreError> {
    let reason = if key.is_empty() {
        Some("empty")
    } else if key.len() > MAX_KEY_LEN {
        Some("longer than 480 bytes")
    } else if key.contains('#') {
        Some("contains '#'")
    } else if key.chars().any(char::is_control) {
        Some("contains control characters")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(StoreError::InvalidKey {
            key: key.chars().take(80).collect(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Decodes stored session JSON, mapping failures to errors that do not echo the content.
pub(crate) fn decode_session(
    json: &str,
    location: impl Fn() -> String,
) -> Result<Session, StoreError> {
    match Session::from_json(json) {
        Ok(session) => Ok(session),
        Err(SessionDecodeError::UnsupportedVersion(v)) => Err(StoreError::UnsupportedVersion(v)),
        Err(SessionDecodeError::Malformed(_)) => {
            // The core's message may quote stored values (serde "invalid type: string ..."), so
            // re-parse for a position-only description.
            let detail = match serde_json::from_str::<Session>(json) {
                Err(e) => json_error_detail(&e),
                Ok(_) => "not a valid session".to_owned(),
            };
            Err(StoreError::Corrupt {
                location: location(),
                detail,
            })
        }
    }
}

/// Lowercase hex SHA-256: fixed-length, filesystem-safe names for any key, and chunk digests.
pub(crate) fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Describes a JSON error by category and position only (serde messages can quote input).
pub(crate) fn json_error_detail(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "invalid JSON",
        serde_json::error::Category::Data => "unexpected or missing field",
        serde_json::error::Category::Eof => "truncated JSON",
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

#[cfg(test)]
#[path = "lib_tests.rs"]
mod tests;
