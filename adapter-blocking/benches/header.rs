//! `cargo bench -p mcp-oauth-blocking --bench header`: a plain binary printing figures.
//!
//! 1. ns per `Authorizer::header()` with a valid token (the hot path every MCP request takes;
//!    target well under 1 µs), single-threaded and with 4 threads sharing one authorizer.
//! 2. Token requests caused by 1, 10, 100 and 1000 threads calling `header()` at once with an
//!    expired token (target: 1 each), against a rotating fake AS that sleeps 50 ms per request.

#[path = "../tests/authorizer_fixture.rs"]
mod fixture;

use std::hint::black_box;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use fixture::*;
use mcp_oauth_blocking::{Authorizer, MemoryStore, NoBrowser, Options, SessionStore};

fn authorizer(session: mcp_oauth_core::Session, fake_as: Arc<RotatingAs>) -> Authorizer {
    let store = MemoryStore::new();
    store.save(SERVER, &session).unwrap();
    let mut o = Options::new(Arc::new(store));
    o.http_client = Some(fake_as);
    o.browser = Arc::new(NoBrowser);
    o.paste_from_stdin = false;
    Authorizer::new(config(), o).unwrap()
}

fn hot_path() {
    let auth = authorizer(
        session_with(
            TOKEN_ENDPOINT,
            "at-valid-0123456789abcdef",
            Some(4_000_000_000),
        ),
        RotatingAs::new(Duration::ZERO),
    );
    for _ in 0..10_000 {
        black_box(auth.header().unwrap());
    }
    let n = 2_000_000u32;
    let started = Instant::now();
    for _ in 0..n {
        black_box(auth.header().unwrap());
    }
    let per_call = started.elapsed().as_nanos() as f64 / f64::from(n);
    println!("header() valid token, 1 thread : {per_call:7.1} ns/call ({n} calls)");

    let threads = 4;
    let per_thread = 500_000u32;
    let barrier = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (auth, barrier) = (auth.clone(), Arc::clone(&barrier));
            thread::spawn(move || {
                barrier.wait();
                for _ in 0..per_thread {
                    black_box(auth.header().unwrap());
                }
            })
        })
        .collect();
    barrier.wait();
    let started = Instant::now();
    for h in handles {
        h.join().unwrap();
    }
    let total = f64::from(per_thread) * threads as f64;
    let per_call = started.elapsed().as_nanos() as f64 / total;
    println!(
        "header() valid token, {threads} threads: {per_call:7.1} ns/call wall-clock per call ({total} calls, one shared authorizer)"
    );
}

fn expired_token_stampede(threads: usize) {
    let fake_as = RotatingAs::new(Duration::from_millis(50));
    let auth = authorizer(expired_session(TOKEN_ENDPOINT), fake_as.clone());
    let barrier = Arc::new(Barrier::new(threads));
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (auth, barrier) = (auth.clone(), Arc::clone(&barrier));
            thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || {
                    barrier.wait();
                    auth.header().map(|h| h.expose_secret() == "Bearer at-1")
                })
                .unwrap()
        })
        .collect();
    let all_same = handles
        .into_iter()
        .all(|h| matches!(h.join(), Ok(Ok(true))));
    println!(
        "expired token, {threads:4} threads: {} token request(s), {} invalid_grant, all got the new token: {all_same}, {:.0} ms",
        fake_as.token_requests.load(Ordering::SeqCst),
        fake_as.invalid_grants.load(Ordering::SeqCst),
        started.elapsed().as_secs_f64() * 1000.0,
    );
}

fn main() {
    // `cargo test --benches` runs bench binaries with `--bench` absent; keep that quick.
    let quick = !std::env::args().any(|a| a == "--bench");
    if quick {
        expired_token_stampede(10);
        return;
    }
    hot_path();
    for threads in [1, 10, 100, 1000] {
        expired_token_stampede(threads);
    }
}
