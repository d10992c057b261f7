//! The [`StoreLock`] guard and its two mechanisms: an advisory file lock (excludes other
//! processes) and an in-process keyed lock (for stores with no file to lock). Both waits are
//! bounded ([`DEFAULT_LOCK_TIMEOUT`], configurable per store): a holder that is stopped or stuck
//! makes the waiter fail with [`StoreError::LockTimeout`] instead of hanging silently.

use std::collections::HashSet;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::paths::{no_follow, refuse_link};
use super::StoreError;

/// How long [`SessionStore::lock`](super::SessionStore::lock) waits for another holder by
/// default. A refresh holds the lock for one token request (bounded by the HTTP timeouts), so
/// a wait longer than this means the holder is stopped or stuck.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest pause between two attempts on a contended lock file.
const MAX_POLL: Duration = Duration::from_millis(100);

/// After this long (or half the timeout, when shorter) the waiter says on stderr who holds the
/// lock; a lock released within a moment, the common case, stays silent.
const NOTICE_AFTER: Duration = Duration::from_secs(1);

/// An exclusive lock on one store key, released when dropped.
///
/// Take it around "read session, refresh, save": rotating refresh tokens are invalidated when
/// two processes refresh with the same token (RFC 9700 §4.14.2: a reused refresh token revokes
/// the grant).
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

/// Opens (creating, 0600, never through a symbolic link) `path` and waits at most `timeout` for
/// an exclusive advisory lock on it. The holder writes its process id into the file, so a
/// waiter can name it.
///
/// `File::try_lock` is `flock` on Unix and `LockFileEx` on Windows: both are per open file, so
/// two handles in one process exclude each other as two processes do. The lock file is never
/// deleted: deleting it while another process waits on it would let a third process lock a new
/// file with the same name.
pub(crate) fn lock_file(path: &Path, timeout: Duration) -> Result<File, StoreError> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    no_follow(&mut options);
    let file = options.open(path).map_err(|source| {
        refuse_link(path).unwrap_or_else(|| StoreError::Io {
            op: "open lock file",
            path: path.to_path_buf(),
            source,
        })
    })?;
    let started = Instant::now();
    let notice_after = NOTICE_AFTER.min(timeout / 2);
    let mut noticed = false;
    let mut pause = Duration::from_millis(5);
    loop {
        match file.try_lock() {
            Ok(()) => {
                record_holder(&file);
                return Ok(file);
            }
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(source)) => {
                return Err(StoreError::Io {
                    op: "lock",
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
        let waited = started.elapsed();
        if waited >= timeout {
            return Err(StoreError::LockTimeout {
                path: Some(path.to_path_buf()),
                holder_pid: holder_pid(&file),
                timeout,
            });
        }
        if !noticed && waited >= notice_after {
            noticed = true;
            eprintln!(
                "mcp-oauth: {} holds the session lock {}; waiting up to {timeout:?}",
                holder_phrase(holder_pid(&file)),
                path.display()
            );
        }
        std::thread::sleep(pause.min(timeout - waited));
        pause = (pause * 2).min(MAX_POLL);
    }
}

/// "another mcp-oauth process (pid N)", or without the pid when the lock file does not name one.
pub(crate) fn holder_phrase(pid: Option<u32>) -> String {
    match pid {
        Some(pid) if pid == std::process::id() => "another handle in this process".to_owned(),
        Some(pid) => format!("another mcp-oauth process (pid {pid})"),
        None => "another mcp-oauth process".to_owned(),
    }
}

/// Best effort: the pid is only a hint for a waiter's message, so a failed write is ignored.
fn record_holder(mut file: &File) {
    let _ = file
        .set_len(0)
        .and_then(|()| file.seek(SeekFrom::Start(0)))
        .and_then(|_| writeln!(file, "{}", std::process::id()));
}

/// The pid the current holder wrote, when it reads as one (a holder that has not written yet,
/// or a platform that forbids reading a locked file, gives `None`).
fn holder_pid(mut file: &File) -> Option<u32> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.take(32).read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

/// A set of held keys with a condition variable: an in-process mutex per key without a map
/// that grows forever.
#[derive(Clone, Default)]
pub(crate) struct LocalLocks {
    inner: Arc<(Mutex<HashSet<String>>, Condvar)>,
}

impl LocalLocks {
    /// Waits at most `timeout` until `key` is free in this table, then holds it until the guard
    /// drops.
    pub(crate) fn acquire(&self, key: &str, timeout: Duration) -> Result<LocalGuard, StoreError> {
        let (held, freed) = &*self.inner;
        let started = Instant::now();
        // The set is only ever mutated by whole insert/remove calls, so a poisoned mutex still
        // holds a consistent set.
        let mut set = held.lock().unwrap_or_else(PoisonError::into_inner);
        while set.contains(key) {
            let waited = started.elapsed();
            if waited >= timeout {
                return Err(StoreError::LockTimeout {
                    path: None,
                    holder_pid: Some(std::process::id()),
                    timeout,
                });
            }
            set = freed
                .wait_timeout(set, timeout - waited)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        set.insert(key.to_owned());
        Ok(LocalGuard {
            locks: self.clone(),
            key: key.to_owned(),
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_local_lock_times_out_with_a_typed_error() {
        let locks = LocalLocks::default();
        let held = locks.acquire("k", Duration::ZERO).expect("free");
        match locks.acquire("k", Duration::from_millis(20)) {
            Err(StoreError::LockTimeout {
                path: None,
                holder_pid,
                ..
            }) => assert_eq!(holder_pid, Some(std::process::id())),
            Err(other) => panic!("expected LockTimeout, got {other:?}"),
            Ok(_) => panic!("a held key was acquired twice"),
        }
        let _other = locks.acquire("other", Duration::ZERO).expect("independent");
        drop(held);
        let _again = locks.acquire("k", Duration::ZERO).expect("freed");
    }

    #[test]
    fn holders_are_named() {
        assert_eq!(holder_phrase(Some(1)), "another mcp-oauth process (pid 1)");
        assert_eq!(holder_phrase(None), "another mcp-oauth process");
        assert_eq!(
            holder_phrase(Some(std::process::id())),
            "another handle in this process"
        );
    }
}
