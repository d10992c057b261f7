//! A locked keychain (ARCHITECTURE.md §6: a store failure is a typed error and never damages the
//! stored session), against a real gnome-keyring: the test stores a session,
//! locks the collection over D-Bus (`org.freedesktop.Secret.Service.Lock`), and then every
//! store call must fail fast with a typed error, the `Authorizer` must refuse to start a login
//! that would replace the session, and the item must still be in the keychain.
//!
//! Locking affects the whole collection, so this is a test binary of its own that
//! `scripts/keychain-tests.sh` runs in a D-Bus session of its own. Gate as in `store_keychain`:
//! without `MCP_OAUTH_KEYCHAIN_TESTS=1` it returns early; with it, an unreachable keychain fails.
#![cfg(target_os = "linux")]

#[path = "authorizer_fixture.rs"]
mod fixture;

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mcp_oauth_blocking::store::{KeychainOptions, KeychainStore, SessionStore, StoreError};
use mcp_oauth_blocking::{AdapterError, Authorizer, HttpClient, Options};
use mcp_oauth_core::{Config, HttpRequest, HttpResponse};

/// The access token of the stored session; it must never show in an error.
const ACCESS_TOKEN: &str = "at-SECRET-0123456789";

/// A session for `KEY` (the fixture's `SERVER`) that is still valid.
fn session(key: &str) -> mcp_oauth_core::Session {
    assert_eq!(key, fixture::SERVER);
    fixture::session_with(fixture::TOKEN_ENDPOINT, ACCESS_TOKEN, Some(1_900_000_000))
}

const SERVICE: &str = "mcp-oauth-test-locked";
const KEY: &str = "https://mcp.example.com/mcp";
const TIMEOUT: Duration = Duration::from_secs(3);
const COLLECTION: &str = "/org/freedesktop/secrets/collection/login";

fn enabled() -> bool {
    let on = std::env::var("MCP_OAUTH_KEYCHAIN_TESTS").as_deref() == Ok("1");
    if !on {
        eprintln!("skipping: set MCP_OAUTH_KEYCHAIN_TESTS=1 (scripts/keychain-tests.sh)");
    }
    on
}

fn lock_collection() {
    let status = Command::new("dbus-send")
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.secrets",
            "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service.Lock",
            &format!("array:objpath:{COLLECTION}"),
        ])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("dbus-send (package dbus) must be installed");
    assert!(status.success(), "locking {COLLECTION} failed: {status}");
}

/// The item's attributes are readable while locked (`secret-tool search` needs no unlock).
fn item_still_there() -> bool {
    let out = Command::new("secret-tool")
        .args(["search", "--all", "service", SERVICE])
        .output()
        .expect("secret-tool (package libsecret-tools) must be installed");
    String::from_utf8_lossy(&out.stdout).contains(KEY)
}

/// The typed errors a locked collection may give: the backend's refusal, or our timeout when
/// the backend waits for an unlock prompt that never comes.
fn assert_locked_error(what: &str, err: &StoreError, took: Duration) {
    assert!(
        matches!(err, StoreError::Keychain(_) | StoreError::Timeout(_)),
        "{what}: expected a keychain error, got {err:?}"
    );
    assert!(
        took < TIMEOUT + Duration::from_secs(2),
        "{what} took {took:?}"
    );
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(ACCESS_TOKEN), "{what}: secret in {shown}");
}

#[test]
fn a_locked_keychain_is_a_typed_error_and_the_session_stays() {
    if !enabled() {
        return;
    }
    let store = KeychainStore::with_options(KeychainOptions {
        service: SERVICE.to_owned(),
        timeout: TIMEOUT,
        lock_dir: None,
    })
    .unwrap_or_else(|e| panic!("MCP_OAUTH_KEYCHAIN_TESTS=1 but the keychain is unreachable: {e}"));
    store.save(KEY, &session(KEY)).expect("save while unlocked");
    assert!(
        item_still_there(),
        "secret-tool does not see the saved item"
    );

    lock_collection();

    let started = Instant::now();
    let err = store.load(KEY).expect_err("load from a locked keychain");
    assert_locked_error("load", &err, started.elapsed());

    let started = Instant::now();
    let err = store
        .save(KEY, &session(KEY))
        .expect_err("save to a locked keychain");
    assert_locked_error("save", &err, started.elapsed());

    // The Authorizer must surface the store error, not take "no session" for an answer and
    // start a login whose result would replace the stored session.
    let requests = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&requests);
    let http: Arc<dyn HttpClient> = Arc::new(move |_: &HttpRequest| {
        counted.fetch_add(1, Ordering::SeqCst);
        Ok(HttpResponse {
            status: 500,
            headers: Vec::new(),
            body: Vec::new(),
        })
    });
    let mut options = Options::new(Arc::new(store));
    options.http_client = Some(http);
    options.paste_from_stdin = false;
    // `Authorizer::new` reads the stored session, so the error may come from it already.
    let outcome = Authorizer::new(Config::new(KEY), options).and_then(|auth| auth.header());
    match outcome {
        Err(AdapterError::Store(err)) => assert_locked_error("authorizer", &err, Duration::ZERO),
        other => panic!("expected a store error, got {other:?}"),
    }
    assert_eq!(requests.load(Ordering::SeqCst), 0, "no request may go out");

    assert!(item_still_there(), "the stored session must survive");
}
