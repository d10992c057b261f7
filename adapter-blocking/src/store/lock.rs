//! The [`StoreLock`] guard and its two mechanisms: an advisory file lock (excludes other
//! processes) and an in-process keyed lock (for stores with no file to lock).

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use super::StoreError;

/// An exclusive lock on one store key, released when dropped.
///
/// Take it around "read session, refresh, save": rotating refresh tokens are invalidated when
/// two processes refresh with the same token (ecosystem.md, anomalyco/opencode#49439).
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct StoreLock {
    // Drop order is declaration order: the file lock goes first, then the in-process one, so
    // another thread of this process never wins the in-process lock and then waits on the file.
    file: Option<File>,
    local: Option<LocalGuard>,
}

impl StoreLock {
    pub(crate) fn local(guard: LocalGuard) -> Self {
        StoreLock {
            file: None,
            local: Some(guard),
        }
    }

    pub(crate) fn with_file(local: Option<LocalGuard>, file: File) -> Self {
        StoreLock {
            file: Some(file),
            local,
        }
    }
}

impl std::fmt::Debug for StoreLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreLock")
            .field("file", &self.file.is_some())
            .field("in_process", &self.local.is_some())
            .finish()
    }
}

/// Opens (creating, 0600) `path` and blocks until an exclusive advisory lock is held on it.
///
/// `File::lock` is `flock` on Unix and `LockFileEx` on Windows: both are per open file, so two
/// handles in one process exclude each other as two processes do. The lock file is never
/// deleted: deleting it while another process waits on it would let a third process lock a new
/// file with the same name.
pub(crate) fn lock_file(path: &Path) -> Result<File, StoreError> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path).map_err(|source| StoreError::Io {
        op: "open lock file",
        path: path.to_path_buf(),
        source,
    })?;
    file.lock().map_err(|source| StoreError::Io {
        op: "lock",
        path: path.to_path_buf(),
        source,
    })?;
    Ok(file)
}

/// A set of held keys with a condition variable: an in-process mutex per key without a map
/// that grows forever.
#[derive(Clone, Default)]
pub(crate) struct LocalLocks {
    inner: Arc<(Mutex<HashSet<String>>, Condvar)>,
}

impl LocalLocks {
    /// Blocks until `key` is free in this table, then holds it until the guard drops.
    pub(crate) fn acquire(&self, key: &str) -> LocalGuard {
        let (held, freed) = &*self.inner;
        // The set is only ever mutated by whole insert/remove calls, so a poisoned mutex still
        // holds a consistent set.
        let mut set = held.lock().unwrap_or_else(PoisonError::into_inner);
        while set.contains(key) {
            set = freed.wait(set).unwrap_or_else(PoisonError::into_inner);
        }
        set.insert(key.to_owned());
        LocalGuard {
            locks: self.clone(),
            key: key.to_owned(),
        }
    }
}

/// Holds one key of a [`LocalLocks`] table.
pub(crate) struct LocalGuard {
    locks: LocalLocks,
    key: String,
}

impl Drop for LocalGuard {
    fn drop(&mut self) {
        let (held, freed) = &*self.locks.inner;
        let mut set = held.lock().unwrap_or_else(PoisonError::into_inner);
        set.remove(&self.key);
        drop(set);
        freed.notify_all();
    }
}
