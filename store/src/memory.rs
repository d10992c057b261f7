//! [`MemoryStore`]: sessions in a process-local map.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mcp_oauth_core::Session;

use super::lock::{LocalLocks, StoreLock, DEFAULT_LOCK_TIMEOUT};
use super::{decode_session, validate_key, SessionStore, StoreError, StoreKind};

/// Sessions held in memory for the life of the process.
///
/// A cheap cloneable handle: clones share the same map and locks, so a test can hand one clone
/// to the code under test and inspect another. Sessions are kept as JSON and decoded on load,
/// so the memory store round-trips exactly like the persistent ones (version checks included).
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
    lock_timeout: Duration,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore {
            inner: Arc::default(),
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        }
    }
}

#[derive(Default)]
struct Inner {
    sessions: Mutex<BTreeMap<String, String>>,
    locks: LocalLocks,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How long [`lock`](SessionStore::lock) waits for another holder in this process before
    /// failing with [`StoreError::LockTimeout`] (default [`DEFAULT_LOCK_TIMEOUT`]). Clones made
    /// before this call keep their own bound.
    #[must_use]
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, String>> {
        // Every mutation is a single insert/remove, so a poisoned map is still consistent.
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Only the count: the map holds tokens.
        f.debug_struct("MemoryStore")
            .field("sessions", &self.sessions().len())
            .finish()
    }
}

impl SessionStore for MemoryStore {
    fn load(&self, key: &str) -> Result<Option<Session>, StoreError> {
        validate_key(key)?;
        let json = self.sessions().get(key).cloned();
        match json {
            None => Ok(None),
            Some(json) => decode_session(&json, || format!("memory:{key}")).map(Some),
        }
    }

    fn save(&self, key: &str, session: &Session) -> Result<(), StoreError> {
        validate_key(key)?;
        let json = session.to_json();
        self.sessions().insert(key.to_owned(), json);
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        validate_key(key)?;
        self.sessions().remove(key);
        Ok(())
    }

    fn lock(&self, key: &str) -> Result<StoreLock, StoreError> {
        validate_key(key)?;
        Ok(StoreLock::local(
            self.inner.locks.acquire(key, self.lock_timeout)?,
        ))
    }

    fn list(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.sessions().keys().cloned().collect())
    }

    fn kind(&self) -> StoreKind {
        StoreKind::Memory
    }
}
