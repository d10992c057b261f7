//! [`KeychainStore`]: sessions in the OS keychain via the `keyring-core` family: Secret Service
//! over pure-Rust D-Bus on Linux/FreeBSD, the login Keychain on macOS, the Credential Manager on
//! Windows.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, OnceLock};
use std::time::Duration;

use keyring_core::{CredentialStore, Entry, Error as KeyringError};
use mcp_oauth_core::Session;

use super::chunk::{self, chunk_user, Plan};
use super::lock::{lock_file, LocalLocks, StoreLock, DEFAULT_LOCK_TIMEOUT};
use super::paths::{default_state_dir, prepare_dir};
use super::{decode_session, hex_sha256, json_error_detail, validate_key};
use super::{SessionStore, StoreError, StoreKind};

/// Keychain service name under which every session is stored (user = server URL).
pub const KEYCHAIN_SERVICE: &str = "mcp-oauth";

/// How long one keychain call may take before [`StoreError::Timeout`].
pub const DEFAULT_KEYCHAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Entry listing the stored keys (for `list`). `#` never occurs in a valid key.
const INDEX_USER: &str = "#index";

/// Suffix of the entry an unreadable session is copied to by `set_aside` (`#` never occurs in a
/// valid key, and chunk entries end in `#<digits>`).
const ASIDE_SUFFIX: &str = "#corrupt";

/// Prefix of the entry written, read back and deleted by [`KeychainStore::probe`]; the process
/// id and a counter follow, so concurrent probes (two clients starting at once) never race on
/// one item.
const PROBE_USER: &str = "#probe";

/// Makes probe entries of one process distinct.
static PROBE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// In-process locks shared by every `KeychainStore` of this process, keyed by service and key.
static LOCAL_LOCKS: OnceLock<LocalLocks> = OnceLock::new();

/// Settings for [`KeychainStore::with_options`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeychainOptions {
    /// Keychain service name ([`KEYCHAIN_SERVICE`]); tests use their own to stay apart.
    pub service: String,
    /// Bound on each keychain call ([`DEFAULT_KEYCHAIN_TIMEOUT`]).
    pub timeout: Duration,
    /// Directory for cross-process lock files (`<sha256(key)>.lock`, shared with the file
    /// store). `None`: in-process locking only.
    pub lock_dir: Option<PathBuf>,
}

impl Default for KeychainOptions {
    fn default() -> Self {
        KeychainOptions {
            service: KEYCHAIN_SERVICE.to_owned(),
            timeout: DEFAULT_KEYCHAIN_TIMEOUT,
            lock_dir: None,
        }
    }
}

/// Sessions in the OS keychain.
///
/// Entries: service [`KEYCHAIN_SERVICE`], user = the key, secret = the session JSON. Values over
/// 2560 bytes are chunked (see `chunk.rs`); a missing or mismatched chunk reads as no session.
/// An index entry (`#index`) lists the keys for [`list`](SessionStore::list).
///
/// Every keychain call runs on a helper thread and is abandoned after the timeout with
/// [`StoreError::Timeout`]: a locked keyring waiting on an unlock prompt, or a Secret Service
/// that never answers, must not hang the client.
pub struct KeychainStore {
    backend: Arc<CredentialStore>,
    service: String,
    timeout: Duration,
    lock_dir: Option<PathBuf>,
    lock_timeout: Duration,
}

impl std::fmt::Debug for KeychainStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeychainStore")
            .field("service", &self.service)
            .field("timeout", &self.timeout)
            .field("lock_dir", &self.lock_dir)
            .field("lock_timeout", &self.lock_timeout)
            .finish()
    }
}

impl KeychainStore {
    /// Connects to the platform keychain with the default service and timeout, locking through
    /// lock files in [`default_state_dir`] when it can be created (else in-process only).
    pub fn new() -> Result<Self, StoreError> {
        let lock_dir = default_state_dir()
            .ok()
            .filter(|dir| prepare_dir(dir).is_ok());
        Self::with_options(KeychainOptions {
            lock_dir,
            ..KeychainOptions::default()
        })
    }

    /// Connects to the platform keychain with explicit options. Connecting is itself bounded by
    /// `options.timeout`. A `lock_dir` is created (0700) and checked like the file store's.
    pub fn with_options(options: KeychainOptions) -> Result<Self, StoreError> {
        if let Some(dir) = &options.lock_dir {
            prepare_dir(dir)?;
        }
        let backend = with_timeout(options.timeout, platform_store)?.map_err(keychain_error)?;
        Ok(KeychainStore {
            backend,
            service: options.service,
            timeout: options.timeout,
            lock_dir: options.lock_dir,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        })
    }

    /// How long [`lock`](SessionStore::lock) waits for another holder (in this process or,
    /// through the lock directory, another one) before failing with
    /// [`StoreError::LockTimeout`] (default [`DEFAULT_LOCK_TIMEOUT`]).
    #[must_use]
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// Checks that the keychain works: writes, reads back and deletes a test entry, each call
    /// under the timeout. [`open_store`](super::open_store) uses it to choose a backend.
    pub fn probe(&self) -> Result<(), StoreError> {
        let n = PROBE_COUNTER.fetch_add(1, Ordering::Relaxed);
        let user = format!("{PROBE_USER}-{}-{n}", std::process::id());
        let marker = b"mcp-oauth keychain probe".to_vec();
        self.set_raw(&user, marker.clone())?;
        let read = self.get_raw(&user)?;
        self.del_raw(&user)?;
        if read.as_deref() == Some(marker.as_slice()) {
            Ok(())
        } else {
            Err(StoreError::Keychain(
                "probe entry did not read back as written".to_owned(),
            ))
        }
    }

    /// The keychain service name in use.
    pub fn service(&self) -> &str {
        &self.service
    }

    fn location(&self, user: &str) -> String {
        format!("keychain entry {}/{user}", self.service)
    }

    /// Runs `op` on the entry `user` on a helper thread, bounded by the timeout.
    fn run<T: Send + 'static>(
        &self,
        user: &str,
        op: impl FnOnce(&Entry) -> keyring_core::Result<T> + Send + 'static,
    ) -> Result<keyring_core::Result<T>, StoreError> {
        let backend = Arc::clone(&self.backend);
        let service = self.service.clone();
        let user = user.to_owned();
        with_timeout(self.timeout, move || {
            op(&Entry::new_in_store(&backend, &service, &user)?)
        })
    }

    fn get_raw(&self, user: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self.run(user, |e| e.get_secret())? {
            Ok(bytes) => Ok(Some(bytes)),
            Err(KeyringError::NoEntry) => Ok(None),
            Err(e) => Err(keychain_error(e)),
        }
    }

    fn set_raw(&self, user: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.run(user, move |e| e.set_secret(&bytes))?
            .map_err(keychain_error)
    }

    /// Deletes one entry; `Ok(false)` when it did not exist.
    fn del_raw(&self, user: &str) -> Result<bool, StoreError> {
        match self.run(user, |e| e.delete_credential())? {
            Ok(()) => Ok(true),
            Err(KeyringError::NoEntry) => Ok(false),
            Err(e) => Err(keychain_error(e)),
        }
    }

    /// Chunk count of the manifest currently under `user` (0 when single or absent).
    fn stored_chunks(&self, user: &str) -> Result<usize, StoreError> {
        Ok(self
            .get_raw(user)?
            .and_then(|head| chunk::parse_manifest(&head))
            .map_or(0, |m| m.chunks))
    }

    /// Reads a possibly chunked value; a missing or mismatched chunk reads as absent.
    fn read_blob(&self, user: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(head) = self.get_raw(user)? else {
            return Ok(None);
        };
        let Some(manifest) = chunk::parse_manifest(&head) else {
            return Ok(Some(head));
        };
        let mut parts = Vec::with_capacity(manifest.chunks);
        for i in 0..manifest.chunks {
            match self.get_raw(&chunk_user(user, i))? {
                Some(part) => parts.push(part),
                None => return Ok(None),
            }
        }
        Ok(chunk::assemble(&manifest, &parts))
    }

    /// Writes a value, chunked when large: chunks first, then the manifest that makes them
    /// visible, then removal of chunks the previous value had beyond the new count.
    fn write_blob(&self, user: &str, value: &str) -> Result<(), StoreError> {
        let old_chunks = self.stored_chunks(user)?;
        let new_chunks = match chunk::plan(value) {
            Plan::Single(v) => {
                self.set_raw(user, v.as_bytes().to_vec())?;
                0
            }
            Plan::Chunked { manifest, chunks } => {
                for (i, part) in chunks.iter().enumerate() {
                    self.set_raw(&chunk_user(user, i), part.as_bytes().to_vec())?;
                }
                self.set_raw(user, manifest.into_bytes())?;
                chunks.len()
            }
        };
        for i in new_chunks..old_chunks {
            self.del_raw(&chunk_user(user, i))?;
        }
        Ok(())
    }

    /// Deletes a value and its chunks, including orphans an interrupted save left past the
    /// manifest's count (the sweep stops at the first gap beyond it).
    fn delete_blob(&self, user: &str) -> Result<(), StoreError> {
        let known = self.stored_chunks(user)?;
        self.del_raw(user)?;
        for i in 0..chunk::MAX_CHUNKS {
            let existed = self.del_raw(&chunk_user(user, i))?;
            if !existed && i >= known {
                break;
            }
        }
        Ok(())
    }

    fn read_index(&self) -> Result<BTreeSet<String>, StoreError> {
        match self.read_blob(INDEX_USER)? {
            None => Ok(BTreeSet::new()),
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
                location: self.location(INDEX_USER),
                detail: json_error_detail(&e),
            }),
        }
    }

    /// Read-modify-write of the index under its own lock. A corrupt index is rebuilt from
    /// this change rather than blocking saves: it only feeds `list`.
    fn update_index(
        &self,
        change: impl FnOnce(&mut BTreeSet<String>) -> bool,
    ) -> Result<(), StoreError> {
        let _guard = self.lock_user(INDEX_USER)?;
        let mut index = match self.read_index() {
            Ok(index) => index,
            Err(StoreError::Corrupt { .. }) => BTreeSet::new(),
            Err(e) => return Err(e),
        };
        if change(&mut index) {
            let json = serde_json::to_string(&index).map_err(|e| StoreError::Corrupt {
                location: self.location(INDEX_USER),
                detail: json_error_detail(&e),
            })?;
            self.write_blob(INDEX_USER, &json)?;
        }
        Ok(())
    }

    /// The in-process lock, then the lock file; both waits share one bound.
    fn lock_user(&self, user: &str) -> Result<StoreLock, StoreError> {
        let started = std::time::Instant::now();
        let local = LOCAL_LOCKS
            .get_or_init(LocalLocks::default)
            .acquire(&format!("{}\n{user}", self.service), self.lock_timeout)?;
        match &self.lock_dir {
            None => Ok(StoreLock::local(local)),
            Some(dir) => {
                let path = dir.join(format!("{}.lock", hex_sha256(user.as_bytes())));
                let left = self.lock_timeout.saturating_sub(started.elapsed());
                Ok(StoreLock::with_file(Some(local), lock_file(&path, left)?))
            }
        }
    }
}

impl SessionStore for KeychainStore {
    fn load(&self, key: &str) -> Result<Option<Session>, StoreError> {
        validate_key(key)?;
        let Some(bytes) = self.read_blob(key)? else {
            return Ok(None);
        };
        let json = String::from_utf8(bytes).map_err(|_| StoreError::Corrupt {
            location: self.location(key),
            detail: "not UTF-8".to_owned(),
        })?;
        decode_session(&json, || self.location(key)).map(Some)
    }

    fn save(&self, key: &str, session: &Session) -> Result<(), StoreError> {
        validate_key(key)?;
        self.write_blob(key, &session.to_json())?;
        self.update_index(|index| index.insert(key.to_owned()))
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        validate_key(key)?;
        self.delete_blob(key)?;
        self.update_index(|index| index.remove(key))
    }

    fn lock(&self, key: &str) -> Result<StoreLock, StoreError> {
        validate_key(key)?;
        self.lock_user(key)
    }

    fn list(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.read_index()?.into_iter().collect())
    }

    /// Copies an unreadable session's bytes to the entry `<key>#corrupt` (replacing an older
    /// copy there), then deletes the session. Does nothing to a readable or missing session.
    fn set_aside(&self, key: &str) -> Result<Option<String>, StoreError> {
        match self.load(key) {
            Err(StoreError::Corrupt { .. }) => {}
            Err(other) => return Err(other),
            Ok(_) => return Ok(None),
        }
        let Some(bytes) = self.read_blob(key)? else {
            return Ok(None);
        };
        let aside = format!("{key}{ASIDE_SUFFIX}");
        match String::from_utf8(bytes) {
            Ok(text) => self.write_blob(&aside, &text)?,
            Err(raw) => self.set_raw(&aside, raw.into_bytes())?,
        }
        self.delete(key)?;
        Ok(Some(self.location(&aside)))
    }

    fn kind(&self) -> StoreKind {
        StoreKind::Keychain
    }
}

/// Runs `f` on a fresh thread and waits at most `timeout`. On timeout the thread is abandoned
/// (it finishes or hangs on its own); the caller gets [`StoreError::Timeout`].
fn with_timeout<T: Send + 'static>(
    timeout: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, StoreError> {
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("mcp-oauth-keychain".to_owned())
        .spawn(move || {
            // The receiver is gone after a timeout; nothing to do then.
            let _ = tx.send(f());
        })
        .map_err(|e| StoreError::Keychain(format!("cannot start keychain thread: {e}")))?;
    match rx.recv_timeout(timeout) {
        Ok(value) => Ok(value),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(StoreError::Timeout(timeout)),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Err(StoreError::Keychain("keychain call panicked".to_owned()))
        }
    }
}

/// Maps a keyring error to a message that never includes stored bytes (`BadEncoding` and
/// `BadDataFormat` carry the secret itself).
fn keychain_error(e: KeyringError) -> StoreError {
    StoreError::Keychain(match e {
        KeyringError::BadEncoding(_) => "stored data is not UTF-8".to_owned(),
        KeyringError::BadDataFormat(_, _) => "stored data is malformed".to_owned(),
        KeyringError::Ambiguous(items) => format!("{} keychain items match one entry", items.len()),
        other => other.to_string(),
    })
}

/// The platform's keychain: zbus Secret Service (pure-Rust crypto, no libdbus), Apple Keychain,
/// Windows Credential Manager.
fn platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    #[cfg(any(target_os = "linux", target_os = "freebsd"))]
    {
        let store: Arc<CredentialStore> = zbus_secret_service_keyring_store::Store::new()?;
        Ok(store)
    }
    #[cfg(target_os = "macos")]
    {
        let store: Arc<CredentialStore> = apple_native_keyring_store::keychain::Store::new()?;
        Ok(store)
    }
    #[cfg(target_os = "windows")]
    {
        let store: Arc<CredentialStore> = windows_native_keyring_store::Store::new()?;
        Ok(store)
    }
    #[cfg(not(any(
        target_os = "linux",
        target_os = "freebsd",
        target_os = "macos",
        target_os = "windows"
    )))]
    {
        Err(KeyringError::NotSupportedByStore(
            "no OS keychain support on this platform".to_owned(),
        ))
    }
}
