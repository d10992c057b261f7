//! [`FileStore`]: one 0600 JSON file per server in a 0700 directory, replaced atomically, for
//! machines without an OS keychain (headless servers, containers, CI).

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mcp_oauth_core::Session;
use serde::{Deserialize, Serialize};

use super::lock::{lock_file, StoreLock, DEFAULT_LOCK_TIMEOUT};
use super::paths::{check_private_file, no_follow, prepare_dir, refuse_link};
use super::{decode_session, hex_sha256, json_error_detail, validate_key};
use super::{SessionStore, StoreError, StoreKind, StoredEntry};

/// Session files larger than this are refused as corrupt rather than read into memory.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Distinguishes temp files of concurrent saves within one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Sessions as files in a private directory, for machines without a keychain.
///
/// Layout: `<dir>/<sha256(key) in hex>.json` holds `{"key": ..., "session": ...}` (the key is
/// kept for [`list`](SessionStore::list); hashing makes any URL a safe file name), and
/// `<dir>/<hash>.lock` is the advisory lock file. Writes go to a 0600 temp file in the same
/// directory, are synced, renamed over the target and the directory is synced: a crash leaves
/// either the old or the new session, never a torn one. A leftover temp file is ignored.
///
/// Session and lock files are opened with `O_NOFOLLOW`: a symbolic link in their place is
/// refused, never followed. An unreadable session is set aside as `<hash>.json.corrupt` by
/// [`set_aside`](SessionStore::set_aside), never deleted.
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
    lock_timeout: Duration,
}

#[derive(Serialize)]
struct EnvelopeOut<'a> {
    key: &'a str,
    session: &'a Session,
}

#[derive(Deserialize)]
struct EnvelopeIn {
    key: String,
    session: serde_json::Value,
}

impl FileStore {
    /// Opens (creating with mode 0700) the store directory `dir`. A directory owned by another
    /// user is refused; group/other access bits on it are removed.
    pub fn new(dir: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let dir = dir.into();
        prepare_dir(&dir)?;
        Ok(FileStore {
            dir,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        })
    }

    /// How long [`lock`](SessionStore::lock) waits for another holder before failing with
    /// [`StoreError::LockTimeout`] (default [`DEFAULT_LOCK_TIMEOUT`]).
    #[must_use]
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file that holds (or would hold) the session for `key`.
    pub fn path_for(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{}.json", file_stem(key)))
    }

    fn lock_path_for(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{}.lock", file_stem(key)))
    }

    /// Reads and checks one session file; `Ok(None)` when it does not exist.
    fn read_envelope(&self, path: &Path) -> Result<Option<EnvelopeIn>, StoreError> {
        match read_text(path)? {
            None => Ok(None),
            Some(text) => parse_envelope(&text, path).map(Some),
        }
    }

    /// Writes `bytes` to a fresh 0600 temp file beside `target`, syncs it and renames it over
    /// `target`, then syncs the directory so the rename itself is durable.
    fn replace_atomically(&self, target: &Path, bytes: &[u8]) -> Result<(), StoreError> {
        let (tmp, mut file) = self.create_temp(target)?;
        let result = file
            .write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(|source| StoreError::Io {
                op: "write",
                path: tmp.clone(),
                source,
            })
            .and_then(|()| {
                drop(file);
                std::fs::rename(&tmp, target).map_err(|source| StoreError::Io {
                    op: "rename into place",
                    path: target.to_path_buf(),
                    source,
                })
            });
        if result.is_err() {
            // Best effort: a leftover temp file is harmless (ignored by load and list).
            let _ = std::fs::remove_file(&tmp);
        }
        result?;
        sync_dir(&self.dir)
    }

    fn create_temp(&self, target: &Path) -> Result<(PathBuf, File), StoreError> {
        let mut last_err = None;
        for _ in 0..16 {
            let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
            let mut name = target.as_os_str().to_owned();
            name.push(format!(".tmp.{}.{n}", std::process::id()));
            let tmp = PathBuf::from(name);
            let mut options = OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                // 0600 from creation: the file is never readable by others, not even briefly.
                options.mode(0o600);
            }
            match options.open(&tmp) {
                Ok(file) => return Ok((tmp, file)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last_err = Some(e),
                Err(source) => {
                    return Err(StoreError::Io {
                        op: "create",
                        path: tmp,
                        source,
                    })
                }
            }
        }
        Err(StoreError::Io {
            op: "create temp file for",
            path: target.to_path_buf(),
            source: last_err.unwrap_or_else(|| std::io::ErrorKind::AlreadyExists.into()),
        })
    }
}

impl SessionStore for FileStore {
    fn load(&self, key: &str) -> Result<Option<Session>, StoreError> {
        validate_key(key)?;
        prepare_dir(&self.dir)?;
        let path = self.path_for(key);
        let Some(envelope) = self.read_envelope(&path)? else {
            return Ok(None);
        };
        let location = || path.display().to_string();
        if envelope.key != key {
            return Err(StoreError::Corrupt {
                location: location(),
                detail: "file holds a session for a different key".to_owned(),
            });
        }
        decode_session(&envelope.session.to_string(), location).map(Some)
    }

    fn save(&self, key: &str, session: &Session) -> Result<(), StoreError> {
        validate_key(key)?;
        prepare_dir(&self.dir)?;
        let json =
            serde_json::to_vec(&EnvelopeOut { key, session }).map_err(|e| StoreError::Corrupt {
                location: self.path_for(key).display().to_string(),
                detail: format!("cannot serialize session: {}", json_error_detail(&e)),
            })?;
        self.replace_atomically(&self.path_for(key), &json)
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        validate_key(key)?;
        let path = self.path_for(key);
        match std::fs::remove_file(&path) {
            Ok(()) => sync_dir(&self.dir),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StoreError::Io {
                op: "delete",
                path,
                source,
            }),
        }
    }

    fn lock(&self, key: &str) -> Result<StoreLock, StoreError> {
        validate_key(key)?;
        prepare_dir(&self.dir)?;
        Ok(StoreLock::with_file(
            None,
            lock_file(&self.lock_path_for(key), self.lock_timeout)?,
        ))
    }

    fn list(&self) -> Result<Vec<String>, StoreError> {
        Ok(self
            .list_entries()?
            .into_iter()
            .filter_map(|entry| match entry {
                StoredEntry::Session(key) => Some(key),
                _ => None,
            })
            .collect())
    }

    /// Every `<64 hex>.json` file: its key when the envelope reads, else the failure (a corrupt
    /// or truncated file, wrong permissions, a symbolic link) for that file alone, so one bad
    /// file never hides the others. Sorted by key; unreadable entries last, by path.
    fn list_entries(&self) -> Result<Vec<StoredEntry>, StoreError> {
        prepare_dir(&self.dir)?;
        let list_error = |source| StoreError::Io {
            op: "list",
            path: self.dir.clone(),
            source,
        };
        let mut keys = Vec::new();
        let mut unreadable = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(list_error)? {
            let path = entry.map_err(list_error)?.path();
            let Some(stem) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".json"))
                .map(str::to_owned)
            else {
                continue; // lock files, temp files, set-aside copies, strangers
            };
            if stem.len() != 64 || !stem.bytes().all(|b| b.is_ascii_hexdigit()) {
                continue;
            }
            let text = match read_text(&path) {
                Ok(Some(text)) => text,
                Ok(None) => continue, // deleted meanwhile
                Err(error) => {
                    unreadable.push((path, None, error));
                    continue;
                }
            };
            match parse_envelope(&text, &path) {
                Ok(env) if file_stem(&env.key) == stem => keys.push(env.key),
                Ok(_) => unreadable.push((
                    path.clone(),
                    None,
                    StoreError::Corrupt {
                        location: path.display().to_string(),
                        detail: "file name does not match the key it holds".to_owned(),
                    },
                )),
                Err(error) => {
                    let key = salvage_key(&text).filter(|k| file_stem(k) == stem);
                    unreadable.push((path, key, error));
                }
            }
        }
        keys.sort();
        unreadable.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(keys
            .into_iter()
            .map(StoredEntry::Session)
            .chain(
                unreadable
                    .into_iter()
                    .map(|(_, key, error)| StoredEntry::Unreadable { key, error }),
            )
            .collect())
    }

    /// Renames a corrupt `<hash>.json` to `<hash>.json.corrupt` (or `.corrupt.1`, `.corrupt.2`,
    /// ... when earlier copies exist, so none is overwritten). Does nothing to a readable or
    /// missing session; other failures (permissions, a symbolic link) are returned untouched.
    fn set_aside(&self, key: &str) -> Result<Option<String>, StoreError> {
        match self.load(key) {
            Err(StoreError::Corrupt { .. }) => {}
            Err(other) => return Err(other),
            Ok(_) => return Ok(None),
        }
        let path = self.path_for(key);
        for n in 0..1000u32 {
            let mut name = path.as_os_str().to_owned();
            name.push(if n == 0 {
                ".corrupt".to_owned()
            } else {
                format!(".corrupt.{n}")
            });
            let copy = PathBuf::from(name);
            if std::fs::symlink_metadata(&copy).is_ok() {
                continue;
            }
            // The caller holds the key's lock, so no other store call races this check.
            std::fs::rename(&path, &copy).map_err(|source| StoreError::Io {
                op: "set aside",
                path: path.clone(),
                source,
            })?;
            sync_dir(&self.dir)?;
            return Ok(Some(copy.display().to_string()));
        }
        Err(StoreError::Corrupt {
            location: path.display().to_string(),
            detail: "cannot set it aside: 1000 earlier copies exist".to_owned(),
        })
    }

    fn kind(&self) -> StoreKind {
        StoreKind::File
    }
}

/// Reads one session file as text; `Ok(None)` when it does not exist. Opened without following
/// a symbolic link, then checked through the open handle (fstat), so a swap after the check is
/// moot; oversized and non-UTF-8 files are corrupt.
fn read_text(path: &Path) -> Result<Option<String>, StoreError> {
    let mut options = OpenOptions::new();
    options.read(true);
    no_follow(&mut options);
    let mut file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(refuse_link(path).unwrap_or_else(|| StoreError::Io {
                op: "open",
                path: path.to_path_buf(),
                source,
            }))
        }
    };
    let io = |source| StoreError::Io {
        op: "read",
        path: path.to_path_buf(),
        source,
    };
    let meta = file.metadata().map_err(io)?;
    check_private_file(&meta, path)?;
    let corrupt = |detail: String| StoreError::Corrupt {
        location: path.display().to_string(),
        detail,
    };
    if meta.len() > MAX_FILE_BYTES {
        return Err(corrupt(format!("larger than {MAX_FILE_BYTES} bytes")));
    }
    let mut text = String::new();
    (&mut file)
        .take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => corrupt("not UTF-8".to_owned()),
            _ => io(e),
        })?;
    Ok(Some(text))
}

fn parse_envelope(text: &str, path: &Path) -> Result<EnvelopeIn, StoreError> {
    serde_json::from_str::<EnvelopeIn>(text).map_err(|e| StoreError::Corrupt {
        location: path.display().to_string(),
        detail: json_error_detail(&e),
    })
}

/// The key a damaged envelope still names: every writer puts `{"key":"<url>",` first, so a
/// truncated file usually keeps it. Only a valid store key is returned; the caller also checks
/// that it hashes to the file's name.
fn salvage_key(text: &str) -> Option<String> {
    let rest = text.trim_start().strip_prefix('{')?.trim_start();
    let rest = rest
        .strip_prefix("\"key\"")?
        .trim_start()
        .strip_prefix(':')?;
    let key = serde_json::Deserializer::from_str(rest)
        .into_iter::<String>()
        .next()?
        .ok()?;
    validate_key(&key).ok().map(|()| key)
}

/// Lowercase hex SHA-256 of the key: a fixed-length, filesystem-safe name for any URL.
fn file_stem(key: &str) -> String {
    hex_sha256(key.as_bytes())
}

/// Makes a rename in `dir` durable (POSIX needs an fsync of the directory). Windows cannot open
/// a directory as a file; its rename is already journaled by NTFS.
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|source| StoreError::Io {
                op: "sync directory",
                path: dir.to_path_buf(),
                source,
            })?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
