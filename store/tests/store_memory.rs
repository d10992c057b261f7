//! MemoryStore: round trip, shared handles, delete, list, lock exclusion.

#[path = "store_fixture.rs"]
mod fixture;

use std::sync::mpsc;
use std::time::Duration;

use fixture::{fingerprint, session};
use mcp_oauth_store::{MemoryStore, SessionStore, StoreError, StoreKind};

const KEY: &str = "https://mcp.example.com/mcp";

#[test]
fn roundtrip_through_a_shared_handle() {
    let store = MemoryStore::new();
    let other = store.clone();
    assert!(store.load(KEY).expect("load").is_none());
    store.save(KEY, &session(KEY)).expect("save");
    let loaded = other.load(KEY).expect("load").expect("present");
    assert_eq!(fingerprint(&loaded), fingerprint(&session(KEY)));
    assert_eq!(store.kind(), StoreKind::Memory);
}

#[test]
fn list_and_delete() {
    let store = MemoryStore::new();
    store
        .save("https://b.example/mcp", &session("https://b.example/mcp"))
        .expect("save");
    store
        .save("https://a.example/mcp", &session("https://a.example/mcp"))
        .expect("save");
    assert_eq!(
        store.list().expect("list"),
        vec!["https://a.example/mcp", "https://b.example/mcp"]
    );
    store.delete("https://a.example/mcp").expect("delete");
    store
        .delete("https://a.example/mcp")
        .expect("deleting twice is fine");
    assert!(store.load("https://a.example/mcp").expect("load").is_none());
    assert_eq!(store.list().expect("list"), vec!["https://b.example/mcp"]);
}

#[test]
fn debug_shows_no_tokens() {
    let store = MemoryStore::new();
    store.save(KEY, &session(KEY)).expect("save");
    let debug = format!("{store:?}");
    assert_eq!(debug, "MemoryStore { sessions: 1 }");
}

#[test]
fn invalid_keys_are_refused() {
    let store = MemoryStore::new();
    assert!(matches!(
        store.save("https://e.com/#x", &session(KEY)),
        Err(StoreError::InvalidKey { .. })
    ));
}

#[test]
fn lock_excludes_a_second_locker_until_dropped() {
    let store = MemoryStore::new();
    let guard = store.lock(KEY).expect("lock");
    let (tx, rx) = mpsc::channel();
    let contender = store.clone();
    let waiter = std::thread::spawn(move || {
        let _second = contender.lock(KEY).expect("second lock");
        tx.send(()).expect("send");
    });
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(200)),
        Err(mpsc::RecvTimeoutError::Timeout),
        "second locker got in while the first guard was held"
    );
    // A different key is independent.
    let _other = store.lock("https://other.example/mcp").expect("other key");
    drop(guard);
    rx.recv_timeout(Duration::from_secs(5))
        .expect("second locker proceeds after drop");
    waiter.join().expect("join");
}
