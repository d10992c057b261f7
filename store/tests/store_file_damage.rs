//! FileStore on a bad day: truncated files, wrong permissions and symbolic links are reported
//! per file (never hiding the other sessions), a corrupt session is set aside with a copy kept,
//! links are refused without being followed, and a held lock fails after a bounded wait.

#[path = "store_fixture.rs"]
mod fixture;

use std::path::{Path, PathBuf};
use std::time::Duration;

use fixture::session;
use mcp_oauth_store::{FileStore, SessionStore, StoreError, StoredEntry};

const KEY: &str = "https://mcp.example.com/mcp";
const OTHER: &str = "https://other.example.com/mcp";

fn store() -> (tempfile::TempDir, FileStore) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = FileStore::new(tmp.path().join("mcp-oauth")).expect("open store");
    (tmp, store)
}

/// The first `len` bytes of the file, as a crash or a full disk during a copy leaves it.
fn truncate(path: &Path, len: u64) {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open");
    file.set_len(len).expect("truncate");
}

/// `(key, error)` of every unreadable entry.
fn unreadable(store: &FileStore) -> Vec<(Option<String>, StoreError)> {
    store
        .list_entries()
        .expect("list_entries")
        .into_iter()
        .filter_map(|e| match e {
            StoredEntry::Unreadable { key, error } => Some((key, error)),
            _ => None,
        })
        .collect()
}

fn sessions(store: &FileStore) -> Vec<String> {
    store
        .list_entries()
        .expect("list_entries")
        .into_iter()
        .filter_map(|e| match e {
            StoredEntry::Session(key) => Some(key),
            _ => None,
        })
        .collect()
}

#[test]
fn a_truncated_file_is_listed_with_its_key_and_set_aside_with_a_copy() {
    let (_tmp, store) = store();
    store.save(KEY, &session(KEY)).expect("save");
    store.save(OTHER, &session(OTHER)).expect("save");
    let path = store.path_for(KEY);
    let original = std::fs::read(&path).expect("read");
    truncate(&path, 60);
    let truncated = std::fs::read(&path).expect("read");

    assert_eq!(sessions(&store), [OTHER]);
    let bad = unreadable(&store);
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert_eq!(
        bad[0].0.as_deref(),
        Some(KEY),
        "the key survives truncation"
    );
    match &bad[0].1 {
        StoreError::Corrupt { location, detail } => {
            assert_eq!(location, &path.display().to_string());
            assert!(detail.starts_with("truncated JSON"), "{detail}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert_eq!(store.list().expect("list"), [OTHER]);

    let _lock = store.lock(KEY).expect("lock");
    let copy = store
        .set_aside(KEY)
        .expect("set aside")
        .expect("the file store sets aside");
    assert_eq!(copy, format!("{}.corrupt", path.display()));
    assert_eq!(std::fs::read(&copy).expect("the copy"), truncated);
    assert!(!path.exists());
    assert!(store.load(KEY).expect("load").is_none());
    assert!(unreadable(&store).is_empty());

    // A second corrupt file never overwrites the first copy.
    std::fs::write(&path, &original[..10]).expect("write");
    #[cfg(unix)]
    set_mode(&path, 0o600);
    let second = store.set_aside(KEY).expect("set aside").expect("moved");
    assert_eq!(second, format!("{}.corrupt.1", path.display()));
    assert_eq!(std::fs::read(&copy).expect("first copy"), truncated);
    // A readable session is never set aside.
    store.save(KEY, &session(KEY)).expect("save");
    assert_eq!(store.set_aside(KEY).expect("set aside"), None);
    assert!(store.load(KEY).expect("load").is_some());
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[cfg(unix)]
#[test]
fn one_file_with_loose_permissions_is_reported_alone() {
    let (_tmp, store) = store();
    store.save(KEY, &session(KEY)).expect("save");
    store.save(OTHER, &session(OTHER)).expect("save");
    let path = store.path_for(KEY);
    set_mode(&path, 0o644);
    assert_eq!(store.list().expect("list"), [OTHER]);
    let bad = unreadable(&store);
    assert_eq!(bad.len(), 1, "{bad:?}");
    match &bad[0].1 {
        StoreError::InsecurePermissions { path: p, reason } => {
            assert_eq!(p, &path);
            assert!(reason.contains("chmod 600"), "{reason}");
        }
        other => panic!("expected InsecurePermissions, got {other:?}"),
    }
    // Never set aside: the file is fine, only its mode is wrong.
    assert!(matches!(
        store.set_aside(KEY),
        Err(StoreError::InsecurePermissions { .. })
    ));
    assert!(path.exists());
}

#[cfg(unix)]
fn link_error(err: &StoreError, link: &PathBuf) {
    match err {
        StoreError::InsecurePermissions { path, reason } => {
            assert_eq!(path, link);
            assert!(reason.contains("symbolic link"), "{reason}");
            assert!(
                !reason.contains("chmod"),
                "never advise chmod on a link: {reason}"
            );
        }
        other => panic!("expected a refused link, got {other:?}"),
    }
}

#[cfg(unix)]
#[test]
fn a_symlinked_session_file_is_refused_without_following_it() {
    let (tmp, store) = store();
    // The target is a readable, valid session file, but group-readable: following the link
    // would either read it or advise `chmod 600` on it.
    let elsewhere = tmp.path().join("elsewhere");
    let target_store = FileStore::new(&elsewhere).expect("second store");
    target_store.save(KEY, &session(KEY)).expect("save");
    let target = target_store.path_for(KEY);
    set_mode(&target, 0o644);
    let link = store.path_for(KEY);
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    store.save(OTHER, &session(OTHER)).expect("save");

    link_error(&store.load(KEY).expect_err("a link is refused"), &link);
    assert_eq!(store.list().expect("list"), [OTHER]);
    let bad = unreadable(&store);
    assert_eq!(bad.len(), 1, "{bad:?}");
    link_error(&bad[0].1, &link);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&target)
        .expect("target")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644, "the target is untouched");
}

#[cfg(unix)]
#[test]
fn a_symlinked_lock_file_is_refused_and_its_target_never_written() {
    let (tmp, store) = store();
    let target = tmp.path().join("precious");
    std::fs::write(&target, "do not overwrite").expect("write");
    let lock_path = store.path_for(KEY).with_extension("lock");
    std::os::unix::fs::symlink(&target, &lock_path).expect("symlink");
    link_error(&store.lock(KEY).expect_err("a link is refused"), &lock_path);
    assert_eq!(
        std::fs::read_to_string(&target).expect("target"),
        "do not overwrite"
    );
}

#[test]
fn a_held_lock_fails_after_the_configured_wait_naming_the_holder() {
    let (_tmp, store) = store();
    let _held = store.lock(KEY).expect("lock");
    // A second handle, as another process would open the directory.
    let waiter = FileStore::new(store.dir())
        .expect("second handle")
        .with_lock_timeout(Duration::from_millis(50));
    let err = waiter.lock(KEY).expect_err("the lock is held");
    match &err {
        StoreError::LockTimeout {
            path,
            holder_pid,
            timeout,
        } => {
            assert_eq!(
                path.as_deref(),
                Some(&*store.path_for(KEY).with_extension("lock"))
            );
            // The holder wrote its pid into the lock file.
            assert_eq!(*holder_pid, Some(std::process::id()));
            assert_eq!(*timeout, Duration::from_millis(50));
        }
        other => panic!("expected LockTimeout, got {other:?}"),
    }
    let shown = err.to_string();
    assert!(shown.contains("holds the session lock"), "{shown}");
    assert!(shown.contains("gave up after waiting 50ms"), "{shown}");
    // Other keys are independent.
    let _other = waiter.lock(OTHER).expect("another key");
}
