//! Where state lives and who may read it: the default state directory, the ssh-style
//! ownership and mode checks, and the refusal to follow symbolic links to session or lock
//! files (a link planted in the state directory must not make us read, or write, its target).

use std::fs::{Metadata, OpenOptions};
use std::path::{Path, PathBuf};

use super::StoreError;

/// Name of this library's directory inside the platform state directory.
const APP_DIR: &str = "mcp-oauth";

/// The default directory for session files and lock files.
///
/// `$XDG_STATE_HOME/mcp-oauth` (when set and absolute, per the XDG Base Directory spec), else
/// `$HOME/.local/state/mcp-oauth`; on Windows `%APPDATA%\mcp-oauth`. Sessions are state, not
/// configuration or cache: losing them means logging in again, but they should not be synced or
/// backed up like config.
pub fn default_state_dir() -> Result<PathBuf, StoreError> {
    #[cfg(windows)]
    {
        match std::env::var_os("APPDATA") {
            Some(appdata) if !appdata.is_empty() => Ok(PathBuf::from(appdata).join(APP_DIR)),
            _ => Err(StoreError::NoStateDir),
        }
    }
    #[cfg(not(windows))]
    {
        if let Some(state) = std::env::var_os("XDG_STATE_HOME") {
            let state = PathBuf::from(state);
            if state.is_absolute() {
                return Ok(state.join(APP_DIR));
            }
        }
        match std::env::var_os("HOME") {
            Some(home) if !home.is_empty() => Ok(PathBuf::from(home)
                .join(".local")
                .join("state")
                .join(APP_DIR)),
            _ => Err(StoreError::NoStateDir),
        }
    }
}

/// Creates `dir` (0700) if missing, then checks it: it must be a directory owned by us; group or
/// other access bits are removed (repaired) rather than refused, since a freshly created parent
/// under a loose umask is the common cause.
pub(crate) fn prepare_dir(dir: &Path) -> Result<(), StoreError> {
    let io = |op: &'static str| {
        move |source| StoreError::Io {
            op,
            path: dir.to_path_buf(),
            source,
        }
    };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(io("create directory"))?;
    let meta = std::fs::metadata(dir).map_err(io("inspect directory"))?;
    if !meta.is_dir() {
        return Err(StoreError::InsecurePermissions {
            path: dir.to_path_buf(),
            reason: "not a directory".to_owned(),
        });
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        check_owner(&meta, dir)?;
        if meta.mode() & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(io("restrict permissions of"))?;
        }
    }
    Ok(())
}

/// Refuses a session file that another user owns or that group/others can access (like ssh with
/// a private key). Windows: files under `%APPDATA%` inherit a per-user ACL; nothing to check.
pub(crate) fn check_private_file(meta: &Metadata, path: &Path) -> Result<(), StoreError> {
    if !meta.is_file() {
        return Err(StoreError::InsecurePermissions {
            path: path.to_path_buf(),
            reason: "not a regular file".to_owned(),
        });
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        check_owner(meta, path)?;
        let mode = meta.mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(StoreError::InsecurePermissions {
                path: path.to_path_buf(),
                reason: format!(
                    "mode {mode:04o} lets group or others access it; run `chmod 600` on it"
                ),
            });
        }
    }
    Ok(())
}

#[cfg(unix)]
fn check_owner(meta: &Metadata, path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(StoreError::InsecurePermissions {
            path: path.to_path_buf(),
            reason: format!("owned by uid {}, not by this user (uid {me})", meta.uid()),
        });
    }
    Ok(())
}

/// Makes `options` refuse to open a symbolic link (`O_NOFOLLOW`): the final path component is
/// never followed, so checks and writes apply to the file in the store directory itself.
/// Windows has no such flag; its store directory lives under the per-user `%APPDATA%`.
pub(crate) fn no_follow(options: &mut OpenOptions) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    #[cfg(not(unix))]
    let _ = options;
}

/// The error for an open that failed because `path` is a symbolic link (`ELOOP` under
/// `O_NOFOLLOW`; BSDs say `EMLINK`, so the link itself is inspected). `None` when it is not a
/// link. The message advises removing the link, never changing its target's mode.
pub(crate) fn refuse_link(path: &Path) -> Option<StoreError> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    meta.file_type()
        .is_symlink()
        .then(|| StoreError::InsecurePermissions {
            path: path.to_path_buf(),
            reason: "is a symbolic link, which is never followed; remove the link (the store \
                     writes its own regular files)"
                .to_owned(),
        })
}
