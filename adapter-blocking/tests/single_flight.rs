//! Single flight (ARCHITECTURE.md §4): many callers with an expired token cause exactly one refresh
//! request, in one process (threads sharing an `Authorizer`) and across processes sharing a
//! `FileStore` (the store lock plus the core's re-read under it).

#[path = "authorizer_fixture.rs"]
mod fixture;

use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use fixture::*;
use mcp_oauth_blocking::{AdapterError, Authorizer, FileStore, MemoryStore, Options, SessionStore};
use mcp_oauth_core::{HttpRequest, HttpResponse, Step};

fn options(store: Arc<dyn SessionStore>, http: Arc<dyn mcp_oauth_blocking::HttpClient>) -> Options {
    let mut o = Options::new(store);
    o.http_client = Some(http);
    o.paste_from_stdin = false;
    o.browser = Arc::new(mcp_oauth_blocking::NoBrowser);
    o
}

#[test]
fn sixteen_threads_one_refresh_and_the_store_is_ahead_of_every_caller() {
    let store = MemoryStore::new();
    store
        .save(SERVER, &expired_session(TOKEN_ENDPOINT))
        .unwrap();
    let fake_as = RotatingAs::new(Duration::from_millis(50));
    let auth =
        Authorizer::new(config(), options(Arc::new(store.clone()), fake_as.clone())).unwrap();
    let barrier = Arc::new(Barrier::new(16));
    let handles: Vec<_> = (0..16)
        .map(|_| {
            let (auth, barrier, store) = (auth.clone(), Arc::clone(&barrier), store.clone());
            thread::spawn(move || {
                barrier.wait();
                let header = auth.header().unwrap();
                // The rotated refresh token was persisted before this caller got the token.
                let stored = stored_refresh_token(&store);
                (header.expose_secret().to_owned(), stored)
            })
        })
        .collect();
    for h in handles {
        let (header, stored) = h.join().unwrap();
        assert_eq!(header, "Bearer at-1");
        assert_eq!(stored.as_deref(), Some("rt-1"));
    }
    assert_eq!(fake_as.token_requests.load(Ordering::SeqCst), 1);
    assert_eq!(fake_as.invalid_grants.load(Ordering::SeqCst), 0);
    assert_eq!(auth.request_counts().get(&Step::Refresh), Some(&1));
    assert_eq!(auth.request_counts().len(), 1);
    // Hot path afterwards: no further request.
    assert_eq!(auth.header().unwrap().expose_secret(), "Bearer at-1");
    assert_eq!(fake_as.token_requests.load(Ordering::SeqCst), 1);
}

#[test]
fn four_authorizers_in_one_process_share_a_file_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path()).unwrap();
    store
        .save(SERVER, &expired_session(TOKEN_ENDPOINT))
        .unwrap();
    let fake_as = RotatingAs::new(Duration::from_millis(50));
    let barrier = Arc::new(Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            // Each authorizer has its own machine and its own FileStore handle, like a process.
            let store: Arc<dyn SessionStore> = Arc::new(FileStore::new(dir.path()).unwrap());
            let auth = Authorizer::new(config(), options(store, fake_as.clone())).unwrap();
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                auth.header().map(|h| h.expose_secret().to_owned())
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap().unwrap(), "Bearer at-1");
    }
    assert_eq!(fake_as.token_requests.load(Ordering::SeqCst), 1);
    assert_eq!(fake_as.invalid_grants.load(Ordering::SeqCst), 0);
    assert_eq!(stored_refresh_token(&store).as_deref(), Some("rt-1"));
}

/// Environment variables that put this test binary in the child role.
const CHILD_DIR: &str = "MCP_OAUTH_SINGLE_FLIGHT_CHILD_DIR";
const CHILD_GO: &str = "MCP_OAUTH_SINGLE_FLIGHT_CHILD_GO";

/// Child role of `four_processes_share_a_file_store`; a no-op in a normal test run.
#[test]
fn multi_process_child() {
    let (Ok(dir), Ok(go)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_GO)) else {
        return;
    };
    // Start together: wait for the parent's go file.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::path::Path::new(&go).exists() {
        assert!(Instant::now() < deadline, "no go signal");
        thread::sleep(Duration::from_millis(2));
    }
    let store: Arc<dyn SessionStore> = Arc::new(FileStore::new(&dir).unwrap());
    let mut o = Options::new(store);
    o.paste_from_stdin = false;
    o.browser = Arc::new(mcp_oauth_blocking::NoBrowser);
    // The default ureq client, talking to the parent's fake AS on 127.0.0.1.
    let auth = Authorizer::new(config(), o).unwrap();
    match auth.header() {
        // On a line of its own: the harness prints "test multi_process_child ... " first.
        Ok(h) => println!("\nCHILD-RESULT {}", h.expose_secret()),
        Err(e) => println!("\nCHILD-ERROR {e}"),
    }
}

#[test]
fn four_processes_share_a_file_store() {
    if std::env::var(CHILD_DIR).is_ok() {
        return;
    }
    let fake_as = RotatingAs::new(Duration::from_millis(200));
    let served = Arc::clone(&fake_as);
    let base = serve_http(move |req| served.answer(req));
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path()).unwrap();
    store
        .save(SERVER, &expired_session(&format!("{base}/token")))
        .unwrap();
    let go = dir.path().join("go");
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..4)
        .map(|_| {
            let mut cmd = Command::new(&exe);
            cmd.args([
                "--exact",
                "multi_process_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR, dir.path())
            .env(CHILD_GO, &go);
            for proxy in [
                "ALL_PROXY",
                "all_proxy",
                "HTTPS_PROXY",
                "https_proxy",
                "HTTP_PROXY",
                "http_proxy",
            ] {
                cmd.env_remove(proxy);
            }
            cmd.stdout(std::process::Stdio::piped()).spawn().unwrap()
        })
        .collect();
    std::fs::write(&go, b"go").unwrap();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}");
        let line = stdout
            .lines()
            .find(|l| l.starts_with("CHILD-"))
            .unwrap_or_else(|| panic!("no result line: {stdout}"));
        assert_eq!(line, "CHILD-RESULT Bearer at-1");
    }
    assert_eq!(fake_as.token_requests.load(Ordering::SeqCst), 1);
    assert_eq!(fake_as.invalid_grants.load(Ordering::SeqCst), 0);
    assert_eq!(stored_refresh_token(&store).as_deref(), Some("rt-1"));
}

#[test]
fn a_failed_refresh_is_handed_to_every_waiter() {
    let store = MemoryStore::new();
    store
        .save(SERVER, &expired_session(TOKEN_ENDPOINT))
        .unwrap();
    let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&requests);
    let failing = move |_: &HttpRequest| -> Result<HttpResponse, mcp_oauth_core::TransportError> {
        counter.fetch_add(1, Ordering::SeqCst);
        thread::sleep(Duration::from_millis(50));
        Err(mcp_oauth_core::TransportError::new(
            mcp_oauth_core::TransportErrorKind::Connect,
            "connection failed: refused",
        ))
    };
    let auth = Authorizer::new(
        config(),
        options(Arc::new(store.clone()), Arc::new(failing)),
    )
    .unwrap();
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (auth, barrier) = (auth.clone(), Arc::clone(&barrier));
            thread::spawn(move || {
                barrier.wait();
                auth.header()
            })
        })
        .collect();
    for h in handles {
        match h.join().unwrap() {
            Err(AdapterError::Auth(mcp_oauth_core::Error::Transport {
                step,
                kind,
                message,
            })) => {
                assert_eq!(step, Step::Refresh);
                assert_eq!(kind, mcp_oauth_core::TransportErrorKind::Connect);
                assert_eq!(message, "connection failed: refused");
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(requests.load(Ordering::SeqCst), 1);
    // The session survives a transport failure.
    assert_eq!(stored_refresh_token(&store).as_deref(), Some("rt-0"));
}

#[test]
fn concurrent_401s_for_the_same_token_cause_one_refresh() {
    let store = MemoryStore::new();
    // Valid by its expiry, but the MCP server has revoked it.
    store
        .save(
            SERVER,
            &session_with(TOKEN_ENDPOINT, "at-0", Some(4_000_000_000)),
        )
        .unwrap();
    let fake_as = RotatingAs::new(Duration::from_millis(50));
    let mcp_requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (as_handle, counter) = (Arc::clone(&fake_as), Arc::clone(&mcp_requests));
    let client = move |req: &HttpRequest| -> Result<HttpResponse, mcp_oauth_core::TransportError> {
        if req.url == TOKEN_ENDPOINT {
            return Ok(as_handle.answer(req));
        }
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(match req.header("authorization") {
            Some("Bearer at-1") => HttpResponse::json(200, &serde_json::json!({"ok": true})),
            _ => HttpResponse::status(401)
                .with_header("WWW-Authenticate", "Bearer error=\"invalid_token\""),
        })
    };
    let auth = Authorizer::new(config(), options(Arc::new(store), Arc::new(client))).unwrap();
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (auth, barrier) = (auth.clone(), Arc::clone(&barrier));
            thread::spawn(move || {
                barrier.wait();
                auth.send(HttpRequest::post_json(
                    SERVER,
                    &serde_json::json!({"id": 1}),
                ))
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap().unwrap().status, 200);
    }
    assert_eq!(fake_as.token_requests.load(Ordering::SeqCst), 1);
    assert_eq!(fake_as.invalid_grants.load(Ordering::SeqCst), 0);
    assert!(mcp_requests.load(Ordering::SeqCst) <= 16);
}
