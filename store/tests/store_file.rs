//! FileStore: permissions, atomic replacement, corruption handling, listing, locking.

#[path = "store_fixture.rs"]
mod fixture;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use fixture::{big_session, fingerprint, session, ACCESS_TOKEN};
use mcp_oauth_store::{FileStore, SessionStore, StoreError, StoreKind};

const KEY: &str = "https://mcp.example.com/mcp";

fn store() -> (tempfile::TempDir, FileStore) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = FileStore::new(tmp.path().join("mcp-oauth")).expect("open store");
    (tmp, store)
}

/// Writes `contents` to `path` with mode 0600, as if a (possibly older) writer had left it.
fn write_private(path: &Path, contents: &str) {
    std::fs::write(path, contents).expect("write");
    set_mode(path, 0o600);
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) {}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn roundtrip() {
    let (_tmp, store) = store();
    assert_eq!(store.kind(), StoreKind::File);
    assert!(store.load(KEY).expect("load missing").is_none());
    store.save(KEY, &session(KEY)).expect("save");
    let loaded = store.load(KEY).expect("load").expect("present");
    assert_eq!(fingerprint(&loaded), fingerprint(&session(KEY)));
    // Large sessions need no chunking on disk.
    store.save(KEY, &big_session(KEY)).expect("save big");
    let loaded = store.load(KEY).expect("load big").expect("present");
    assert_eq!(fingerprint(&loaded), fingerprint(&big_session(KEY)));
}

#[test]
fn file_is_named_by_key_hash_and_holds_the_key() {
    let (_tmp, store) = store();
    store.save(KEY, &session(KEY)).expect("save");
    let path = store.path_for(KEY);
    let name = path.file_name().and_then(|n| n.to_str()).expect("name");
    // sha256("https://mcp.example.com/mcp"), computed independently with sha2.
    use sha2::{Digest, Sha256};
    let expected: String = Sha256::digest(KEY)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(name, format!("{expected}.json"));
    let text = std::fs::read_to_string(&path).expect("read");
    let json: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(json["key"], KEY);
    assert_eq!(json["session"]["version"], 1);
}

#[cfg(unix)]
#[test]
fn permissions_are_0600_file_and_0700_dir() {
    let (_tmp, store) = store();
    assert_eq!(mode(store.dir()), 0o700);
    store.save(KEY, &session(KEY)).expect("save");
    assert_eq!(mode(&store.path_for(KEY)), 0o600);
    let _guard = store.lock(KEY).expect("lock");
    let lock = store.dir().join(format!(
        "{}.lock",
        store
            .path_for(KEY)
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("stem")
    ));
    assert_eq!(mode(&lock), 0o600);
}

#[cfg(unix)]
#[test]
fn a_group_readable_file_is_refused_and_kept() {
    let (_tmp, store) = store();
    store.save(KEY, &session(KEY)).expect("save");
    let path = store.path_for(KEY);
    set_mode(&path, 0o644);
    match store.load(KEY) {
        Err(StoreError::InsecurePermissions { path: p, reason }) => {
            assert_eq!(p, path);
            assert!(reason.contains("0644"), "{reason}");
        }
        other => panic!("expected InsecurePermissions, got {other:?}"),
    }
    // Listing reports it for that file alone (see store_file_damage.rs) instead of failing.
    assert_eq!(store.list().expect("list"), Vec::<String>::new());
    assert!(path.exists());
}

#[cfg(unix)]
#[test]
fn a_loose_directory_is_repaired() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("state");
    std::fs::create_dir(&dir).expect("mkdir");
    set_mode(&dir, 0o755);
    let store = FileStore::new(&dir).expect("open");
    assert_eq!(mode(&dir), 0o700);
    set_mode(&dir, 0o777);
    store.save(KEY, &session(KEY)).expect("save repairs again");
    assert_eq!(mode(&dir), 0o700);
}

#[cfg(unix)]
#[test]
fn a_file_owned_by_another_user_is_refused() {
    // Only root can give a file away; elsewhere this check is exercised by code review only.
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipping: chown needs root");
        return;
    }
    let (_tmp, store) = store();
    store.save(KEY, &session(KEY)).expect("save");
    let path = store.path_for(KEY);
    std::os::unix::fs::chown(&path, Some(65534), None).expect("chown");
    match store.load(KEY) {
        Err(StoreError::InsecurePermissions { reason, .. }) => {
            assert!(reason.contains("owned by uid 65534"), "{reason}")
        }
        other => panic!("expected InsecurePermissions, got {other:?}"),
    }
}

#[test]
fn save_replaces_the_file_never_writes_in_place() {
    let (_tmp, store) = store();
    store.save(KEY, &session(KEY)).expect("save");
    let path = store.path_for(KEY);
    // Hold the old file open: an in-place write would change what this handle reads.
    let old = std::fs::read_to_string(&path).expect("read");
    let held = std::fs::File::open(&path).expect("open");
    store.save(KEY, &big_session(KEY)).expect("save again");
    let mut via_old_handle = String::new();
    std::io::Read::read_to_string(&mut &held, &mut via_old_handle).expect("read old");
    assert_eq!(via_old_handle, old);
    assert_ne!(std::fs::read_to_string(&path).expect("read new"), old);
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let held_ino = held.metadata().expect("meta").ino();
        assert_ne!(std::fs::metadata(&path).expect("meta").ino(), held_ino);
    }
}

#[test]
fn a_leftover_temp_file_is_ignored() {
    let (_tmp, store) = store();
    store.save(KEY, &session(KEY)).expect("save");
    // A crash between write and rename leaves a torn temp file next to the session.
    let mut tmp_name = store.path_for(KEY).into_os_string();
    tmp_name.push(".tmp.4242.0");
    let tmp_path = PathBuf::from(tmp_name);
    write_private(&tmp_path, "{\"key\":\"https://mcp.example.com/mcp\",\"sess");
    let loaded = store
        .load(KEY)
        .expect("load")
        .expect("previous session readable");
    assert_eq!(fingerprint(&loaded), fingerprint(&session(KEY)));
    assert_eq!(store.list().expect("list"), vec![KEY]);
    store
        .save(KEY, &big_session(KEY))
        .expect("later saves still work");
    let loaded = store.load(KEY).expect("load").expect("present");
    assert_eq!(fingerprint(&loaded), fingerprint(&big_session(KEY)));
}

#[test]
fn corrupt_json_is_a_typed_error_and_the_file_stays() {
    let (_tmp, store) = store();
    let path = store.path_for(KEY);
    write_private(
        &path,
        &format!("{{\"key\":\"{KEY}\",\"session\":{{\"version\":1,\"tok"),
    );
    match store.load(KEY) {
        Err(StoreError::Corrupt { location, detail }) => {
            assert_eq!(location, path.display().to_string());
            assert!(detail.starts_with("truncated JSON"), "{detail}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert!(path.exists(), "a corrupt session must not be deleted");
    // list skips the unreadable file rather than failing.
    assert_eq!(store.list().expect("list"), Vec::<String>::new());
}

#[test]
fn corrupt_errors_do_not_echo_secrets() {
    let (_tmp, store) = store();
    let mut json: serde_json::Value =
        serde_json::from_str(&session(KEY).to_json()).expect("session json");
    json["tokens"]["expires_at"] = serde_json::Value::String(ACCESS_TOKEN.to_owned());
    let envelope = serde_json::json!({ "key": KEY, "session": json });
    write_private(&store.path_for(KEY), &envelope.to_string());
    let err = store.load(KEY).expect_err("wrong type must fail");
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    let shown = format!("{err} / {err:?}");
    assert!(!shown.contains(ACCESS_TOKEN), "{shown}");
}

#[test]
fn unsupported_version_is_typed() {
    let (_tmp, store) = store();
    let mut json: serde_json::Value =
        serde_json::from_str(&session(KEY).to_json()).expect("session json");
    json["version"] = serde_json::json!(99);
    let envelope = serde_json::json!({ "key": KEY, "session": json });
    write_private(&store.path_for(KEY), &envelope.to_string());
    assert!(matches!(
        store.load(KEY),
        Err(StoreError::UnsupportedVersion(99))
    ));
}

#[test]
fn a_file_for_another_key_is_corrupt() {
    let (_tmp, store) = store();
    let envelope = serde_json::json!({
        "key": "https://other.example/mcp",
        "session": serde_json::from_str::<serde_json::Value>(&session(KEY).to_json()).expect("json"),
    });
    write_private(&store.path_for(KEY), &envelope.to_string());
    assert!(matches!(store.load(KEY), Err(StoreError::Corrupt { .. })));
}

#[test]
fn list_returns_sorted_keys() {
    let (_tmp, store) = store();
    assert!(store.list().expect("empty list").is_empty());
    for key in [
        "https://z.example/mcp",
        "https://a.example/mcp",
        "http://localhost:3000/mcp",
    ] {
        store.save(key, &session(key)).expect("save");
    }
    let _guard = store
        .lock("https://a.example/mcp")
        .expect("lock files are not listed");
    assert_eq!(
        store.list().expect("list"),
        vec![
            "http://localhost:3000/mcp",
            "https://a.example/mcp",
            "https://z.example/mcp"
        ]
    );
}

#[test]
fn delete_removes() {
    let (_tmp, store) = store();
    store.save(KEY, &session(KEY)).expect("save");
    store.delete(KEY).expect("delete");
    assert!(!store.path_for(KEY).exists());
    assert!(store.load(KEY).expect("load").is_none());
    assert!(store.list().expect("list").is_empty());
    store
        .delete(KEY)
        .expect("deleting a missing session succeeds");
}

#[test]
fn lock_excludes_a_second_locker_until_dropped() {
    let (_tmp, store) = store();
    let guard = store.lock(KEY).expect("lock");
    let (tx, rx) = mpsc::channel();
    // A second store on the same directory, as another process would open it.
    let contender = FileStore::new(store.dir()).expect("second handle");
    let waiter = std::thread::spawn(move || {
        let second = contender.lock(KEY).expect("second lock");
        tx.send(()).expect("send");
        drop(second);
    });
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(300)),
        Err(mpsc::RecvTimeoutError::Timeout),
        "second locker got in while the first guard was held"
    );
    let _other = store
        .lock("https://other.example/mcp")
        .expect("other keys are independent");
    drop(guard);
    rx.recv_timeout(Duration::from_secs(5))
        .expect("second locker proceeds after drop");
    waiter.join().expect("join");
}

#[test]
fn invalid_keys_are_refused() {
    let (_tmp, store) = store();
    assert!(matches!(
        store.load(""),
        Err(StoreError::InvalidKey {
            reason: "empty",
            ..
        })
    ));
}
