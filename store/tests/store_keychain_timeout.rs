//! A keychain that never answers must not hang the client, and `StoreChoice::Auto` must fall
//! back to the file store when there is no keychain. Runs everywhere on Linux, without a real
//! Secret Service: the "bus" here is a socket we control.
#![cfg(target_os = "linux")]

use std::os::unix::net::UnixListener;
use std::sync::Mutex;
use std::time::Duration;

use mcp_oauth_store::{
    open_store, KeychainOptions, KeychainStore, StoreChoice, StoreError, StoreKind,
};

/// The tests change process environment; run them one at a time.
static ENV: Mutex<()> = Mutex::new(());

#[test]
fn a_silent_session_bus_times_out() {
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("bus");
    // Accepts connections and never says a word: a hung D-Bus daemon.
    let listener = UnixListener::bind(&socket).expect("bind");
    let _acceptor = std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    std::env::set_var(
        "DBUS_SESSION_BUS_ADDRESS",
        format!("unix:path={}", socket.display()),
    );
    let timeout = Duration::from_millis(300);
    let result = KeychainStore::with_options(KeychainOptions {
        service: "mcp-oauth-test".to_owned(),
        timeout,
        lock_dir: None,
    });
    match result {
        Err(StoreError::Timeout(after)) => assert_eq!(after, timeout),
        other => panic!("expected Timeout, got {other:?}"),
    }
}

#[test]
fn auto_falls_back_to_the_file_store_without_a_bus() {
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    std::env::set_var(
        "DBUS_SESSION_BUS_ADDRESS",
        format!("unix:path={}", dir.path().join("no-such-bus").display()),
    );
    std::env::set_var("XDG_STATE_HOME", &state);
    assert!(matches!(
        open_store(StoreChoice::Keychain),
        Err(StoreError::Keychain(_))
    ));
    let store = open_store(StoreChoice::Auto).expect("auto");
    assert_eq!(store.kind(), StoreKind::File);
    assert!(state.join("mcp-oauth").is_dir());
}
