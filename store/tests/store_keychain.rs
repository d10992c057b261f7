//! KeychainStore against a real OS keychain.
//!
//! Gate: without `MCP_OAUTH_KEYCHAIN_TESTS=1` every test returns early (so plain `cargo test`
//! works on a laptop). With it set, as `scripts/keychain-tests.sh` does under a throwaway
//! gnome-keyring, failing to reach the keychain is a test failure, never a skip.

#[path = "store_fixture.rs"]
mod fixture;

use std::time::Duration;

use fixture::{big_session, fingerprint, session};
use mcp_oauth_store::{
    open_store, KeychainOptions, KeychainStore, SessionStore, StoreChoice, StoreError, StoreKind,
};

/// A service of its own, so the tests never touch a developer's real sessions.
const SERVICE: &str = "mcp-oauth-test";

fn enabled() -> bool {
    if std::env::var("MCP_OAUTH_KEYCHAIN_TESTS").as_deref() == Ok("1") {
        return true;
    }
    eprintln!(
        "skipping keychain test: set MCP_OAUTH_KEYCHAIN_TESTS=1 (scripts/keychain-tests.sh runs \
         these under a real Secret Service)"
    );
    false
}

/// The store under test; panics (fails the test) when the keychain cannot be reached.
fn store() -> KeychainStore {
    store_locking_in(None)
}

fn store_locking_in(lock_dir: Option<std::path::PathBuf>) -> KeychainStore {
    let store = KeychainStore::with_options(KeychainOptions {
        service: SERVICE.to_owned(),
        timeout: Duration::from_secs(10),
        lock_dir,
    })
    .unwrap_or_else(|e| panic!("MCP_OAUTH_KEYCHAIN_TESTS=1 but the keychain is unreachable: {e}"));
    store.probe().unwrap_or_else(|e| {
        panic!("MCP_OAUTH_KEYCHAIN_TESTS=1 but the keychain probe failed: {e}")
    });
    store
}

/// Direct access to an entry, bypassing `KeychainStore`, to damage or inspect what it wrote.
fn raw(user: &str) -> keyring_core::Entry {
    #[cfg(any(target_os = "linux", target_os = "freebsd"))]
    let backend = zbus_secret_service_keyring_store::Store::new().expect("raw store");
    #[cfg(target_os = "macos")]
    let backend = apple_native_keyring_store::keychain::Store::new().expect("raw store");
    #[cfg(target_os = "windows")]
    let backend = windows_native_keyring_store::Store::new().expect("raw store");
    let backend: std::sync::Arc<keyring_core::CredentialStore> = backend;
    keyring_core::Entry::new_in_store(&backend, SERVICE, user).expect("raw entry")
}

fn raw_exists(user: &str) -> bool {
    match raw(user).get_secret() {
        Ok(_) => true,
        Err(keyring_core::Error::NoEntry) => false,
        Err(e) => panic!("raw read of {user}: {e}"),
    }
}

/// Starts from nothing, whatever an earlier aborted run left.
fn fresh(store: &KeychainStore, key: &str) {
    store.delete(key).expect("cleanup");
    assert!(store.load(key).expect("load after cleanup").is_none());
}

#[test]
fn roundtrip() {
    if !enabled() {
        return;
    }
    let store = store();
    let key = "https://roundtrip.example/mcp";
    fresh(&store, key);
    assert_eq!(store.kind(), StoreKind::Keychain);
    store.save(key, &session(key)).expect("save");
    let loaded = store.load(key).expect("load").expect("present");
    assert_eq!(fingerprint(&loaded), fingerprint(&session(key)));
    assert!(
        !raw_exists(&format!("{key}#0")),
        "a small session is not chunked"
    );
    store.delete(key).expect("delete");
    assert!(store.load(key).expect("load").is_none());
}

#[test]
fn chunked_roundtrip_with_a_6kb_session() {
    if !enabled() {
        return;
    }
    let store = store();
    let key = "https://chunked.example/mcp";
    fresh(&store, key);
    let big = big_session(key);
    let len = big.to_json().len();
    assert!(len > 6000, "fixture is {len} bytes");
    store.save(key, &big).expect("save");
    // 2560-byte chunks: three of them, and no fourth.
    for i in 0..3 {
        assert!(raw_exists(&format!("{key}#{i}")), "chunk {i} missing");
    }
    assert!(!raw_exists(&format!("{key}#3")));
    let loaded = store.load(key).expect("load").expect("present");
    assert_eq!(fingerprint(&loaded), fingerprint(&big));
    // Shrinking to a single entry removes the chunks it no longer needs.
    store.save(key, &session(key)).expect("save small");
    assert!(!raw_exists(&format!("{key}#0")));
    let loaded = store.load(key).expect("load").expect("present");
    assert_eq!(fingerprint(&loaded), fingerprint(&session(key)));
    store.delete(key).expect("delete");
}

#[test]
fn a_missing_chunk_reads_as_no_session() {
    if !enabled() {
        return;
    }
    let store = store();
    let key = "https://missing-chunk.example/mcp";
    fresh(&store, key);
    store.save(key, &big_session(key)).expect("save");
    raw(&format!("{key}#1"))
        .delete_credential()
        .expect("remove chunk 1");
    assert!(store
        .load(key)
        .expect("a missing chunk is not an error")
        .is_none());
    // A tampered chunk (digest mismatch) reads the same way.
    store.save(key, &big_session(key)).expect("save again");
    raw(&format!("{key}#2"))
        .set_secret(b"tampered")
        .expect("tamper");
    assert!(store
        .load(key)
        .expect("a mismatched chunk is not an error")
        .is_none());
    // Saving again heals it.
    store.save(key, &big_session(key)).expect("save heals");
    assert!(store.load(key).expect("load").is_some());
    store.delete(key).expect("delete");
}

#[test]
fn delete_removes_the_manifest_and_every_chunk() {
    if !enabled() {
        return;
    }
    let store = store();
    let key = "https://delete.example/mcp";
    fresh(&store, key);
    store.save(key, &big_session(key)).expect("save");
    // An orphan past the manifest's count, as an interrupted larger save could leave.
    raw(&format!("{key}#3"))
        .set_secret(b"orphan")
        .expect("orphan");
    store.delete(key).expect("delete");
    assert!(!raw_exists(key));
    for i in 0..4 {
        assert!(!raw_exists(&format!("{key}#{i}")), "chunk {i} left behind");
    }
    assert!(store.load(key).expect("load").is_none());
    assert!(!store.list().expect("list").iter().any(|k| k == key));
}

#[test]
fn list_tracks_saved_keys() {
    if !enabled() {
        return;
    }
    let store = store();
    let keys = ["https://list-a.example/mcp", "https://list-b.example/mcp"];
    for key in keys {
        fresh(&store, key);
        store.save(key, &session(key)).expect("save");
    }
    // Other tests run in parallel on the same index: check membership, not equality.
    let listed = store.list().expect("list");
    for key in keys {
        assert!(listed.iter().any(|k| k == key), "{key} not in {listed:?}");
    }
    assert!(
        listed.windows(2).all(|w| w[0] < w[1]),
        "sorted and unique: {listed:?}"
    );
    assert!(
        !listed.iter().any(|k| k.starts_with('#')),
        "bookkeeping entries leak: {listed:?}"
    );
    store.delete(keys[0]).expect("delete");
    let listed = store.list().expect("list");
    assert!(!listed.iter().any(|k| k == keys[0]));
    assert!(listed.iter().any(|k| k == keys[1]));
    store.delete(keys[1]).expect("delete");
}

#[test]
fn lock_excludes_a_second_locker_until_dropped() {
    if !enabled() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_locking_in(Some(dir.path().to_path_buf()));
    let key = "https://lock.example/mcp";
    let guard = store.lock(key).expect("lock");
    // The cross-process half: a lock file named like the file store's, in the lock dir.
    use sha2::{Digest, Sha256};
    let stem: String = Sha256::digest(key)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(dir.path().join(format!("{stem}.lock")).is_file());
    let (tx, rx) = std::sync::mpsc::channel();
    let contender = store_locking_in(Some(dir.path().to_path_buf()));
    let waiter = std::thread::spawn(move || {
        let _second = contender.lock(key).expect("second lock");
        tx.send(()).expect("send");
    });
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "second locker got in"
    );
    drop(guard);
    rx.recv_timeout(Duration::from_secs(5))
        .expect("second locker proceeds after drop");
    waiter.join().expect("join");
}

#[test]
fn a_corrupt_session_is_set_aside_with_its_bytes() {
    if !enabled() {
        return;
    }
    let store = store();
    let key = "https://corrupt.example/mcp";
    let aside = format!("{key}#corrupt");
    fresh(&store, key);
    store.save(key, &session(key)).expect("save");
    raw(key)
        .set_secret(b"{\"version\":1,\"ser")
        .expect("damage");
    assert!(matches!(store.load(key), Err(StoreError::Corrupt { .. })));
    let _lock = store.lock(key).expect("lock");
    let copy = store.set_aside(key).expect("set aside").expect("moved");
    assert_eq!(copy, format!("keychain entry {SERVICE}/{aside}"));
    assert_eq!(
        raw(&aside).get_secret().expect("the copy"),
        b"{\"version\":1,\"ser"
    );
    assert!(store.load(key).expect("load").is_none());
    assert!(!store.list().expect("list").iter().any(|k| k == key));
    // A readable session is never set aside.
    store.save(key, &session(key)).expect("save");
    assert_eq!(store.set_aside(key).expect("set aside"), None);
    store.delete(key).expect("delete");
    raw(&aside).delete_credential().expect("remove the copy");
}

#[test]
fn a_held_lock_times_out_naming_the_holder() {
    if !enabled() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let key = "https://lock-timeout.example/mcp";
    let _held = store_locking_in(Some(dir.path().to_path_buf()))
        .lock(key)
        .expect("lock");
    let waiter = store_locking_in(Some(dir.path().to_path_buf()))
        .with_lock_timeout(Duration::from_millis(50));
    match waiter.lock(key) {
        // The in-process half is shared by every KeychainStore of this process.
        Err(StoreError::LockTimeout { holder_pid, .. }) => {
            assert_eq!(holder_pid, Some(std::process::id()));
        }
        other => panic!("expected LockTimeout, got {other:?}"),
    }
}

#[test]
fn auto_chooses_a_working_keychain() {
    if !enabled() {
        return;
    }
    let _ = store(); // fails loudly first if the keychain is unreachable
    let chosen = open_store(StoreChoice::Auto).expect("auto");
    assert_eq!(chosen.kind(), StoreKind::Keychain);
    let explicit = open_store(StoreChoice::Keychain).expect("keychain");
    assert_eq!(explicit.kind(), StoreKind::Keychain);
}
