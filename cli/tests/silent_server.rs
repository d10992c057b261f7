//! The real binary against a server that accepts connections and never answers (issue 15 item
//! 7): one operation costs one network budget (`--timeout`), not one request timeout per
//! discovery fallback, and the error names the first real cause, not the last fallback.

mod common;

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::Env;
use mcp_oauth_testbed::testbed::TestbedConfig;

/// A listener on 127.0.0.1 that accepts every connection, holds it open and never writes.
fn silent_server() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(stream); // never answered, never closed while the test runs
        }
    });
    (format!("http://127.0.0.1:{port}/mcp"), accepted)
}

#[cfg(unix)]
#[test]
fn login_against_a_silent_server_spends_one_budget_and_names_the_first_cause() {
    let env = Env::new(TestbedConfig::default()); // only for the store and browser script
    let (url, accepted) = silent_server();
    let run = env.run(&["login", &url, "--timeout", "2", "--no-browser"]);
    assert_ne!(run.code, Some(0), "{run:?}");
    let err = run.stderr.to_lowercase();
    assert!(
        err.contains("timed out") || err.contains("no answer") || err.contains("budget"),
        "the error names the silent server: {run:?}"
    );
    assert!(
        !err.contains("registration"),
        "the last fallback is not blamed: {run:?}"
    );
    // The protected-resource metadata request waits out the budget; no fallback URL follows.
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "{run:?}");
}
