//! [`FileStore`]: one 0600 JSON file per server in a 0700 directory, replaced atomically
//! (ecosystem.md, "File store fallback").

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use mcp_oauth_core::Session;
use serde::{Deserialize, Serialize};

use super::lock::{lock_file, StoreLock};
use super::paths::{check_private_file, prepare_dir};
use super::{decode_session, hex_sha256, json_error_detail, validate_key};
use super::{SessionStore, StoreError, StoreKind};

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
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
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
        Ok(FileStore { dir })
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
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StoreError::Io {
                    op: "open",
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let io = |source| StoreError::Io {
            op: "read",
            path: path.to_path_buf(),
            source,
        };
        // Check the opened file itself (fstat), not the name, so a swap after the check is moot.
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
        serde_json::from_str::<EnvelopeIn>(&text)
            .map(Some)
            .map_err(|e| corrupt(json_error_detail(&e)))
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
            lock_file(&self.lock_path_for(key))?,
        ))
    }

    fn list(&self) -> Result<Vec<String>, StoreError> {
        prepare_dir(&self.dir)?;
        let entries = std::fs::read_dir(&self.dir).map_err(|source| StoreError::Io {
            op: "list",
            path: self.dir.clone(),
            source,
        })?;
        let mut keys = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| StoreError::Io {
                op: "list",
                path: self.dir.clone(),
                source,
            })?;
            let name = entry.file_name();
            let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue; // lock files, temp files, strangers
            };
            if stem.len() != 64 || !stem.bytes().all(|b| b.is_ascii_hexdigit()) {
                continue;
            }
            // Insecure files are refused here too; unreadable JSON is skipped so one bad file
            // does not hide the others from `status`.
            match self.read_envelope(&entry.path()) {
                Ok(Some(env)) if file_stem(&env.key) == stem => keys.push(env.key),
                Ok(_) | Err(StoreError::Corrupt { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        keys.sort();
        Ok(keys)
    }

    fn kind(&self) -> StoreKind {
        StoreKind::File
    }
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
