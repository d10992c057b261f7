//! End to end across OS processes: four processes share one `FileStore` and one testbed whose
//! refresh tokens rotate (a reused one gets `invalid_grant` and revokes the whole grant, OAuth
//! 2.1 §4.3.1). Each process holds a session whose access token has expired, and all of them
//! refresh at the same moment. Exactly one refresh request may reach the server: the file
//! store's cross-process lock, and the core re-reading the session under it (`LoadSession`
//! before a refresh), make the others adopt the token the first one stored
//! (ARCHITECTURE.md §6).
//!
//! The test binary re-executes itself: [`child_process_entry_point`] does nothing unless
//! [`ROLE_VAR`] is set, in which case it plays one child.

mod e2e_common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use e2e_common::*;
use mcp_oauth_blocking::store::FileStore;
use mcp_oauth_blocking::{Authorizer, BrowserOutcome, FnBrowser, Options};
use mcp_oauth_core::{BrowserRequest, Config, Step};
use mcp_oauth_tests::testbed::{RequestKind, TestbedConfig};

/// Set (to the child's index) in child processes.
const ROLE_VAR: &str = "MCP_OAUTH_E2E_CHILD";
/// The MCP server URL the children call.
const SERVER_VAR: &str = "MCP_OAUTH_E2E_SERVER";
/// The shared file store directory.
const STORE_VAR: &str = "MCP_OAUTH_E2E_STORE";
/// A directory for the start handshake: each child writes `ready-<i>` once its authorizer has
/// loaded the expired session, and waits for `go`.
const SYNC_VAR: &str = "MCP_OAUTH_E2E_SYNC";
/// What a child prints before its own refresh count (the test harness may put its own
/// progress text before it on the same line).
const REPORT: &str = "e2e-child-report refreshes=";

const CHILDREN: usize = 4;

/// Waits until `path` exists.
fn wait_for(path: &Path) -> Result<(), String> {
    let deadline = Instant::now() + BOUND;
    while !path.exists() {
        if Instant::now() > deadline {
            return Err(format!("{} never appeared", path.display()));
        }
        thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// The entry point of a child process (a no-op in the parent's own test run).
#[test]
fn child_process_entry_point() {
    let Ok(index) = std::env::var(ROLE_VAR) else {
        return;
    };
    let var = |name| std::env::var(name).unwrap_or_else(|_| panic!("{name} not set"));
    let (server_url, sync) = (var(SERVER_VAR), PathBuf::from(var(SYNC_VAR)));
    let store = FileStore::new(var(STORE_VAR)).expect("open the shared file store");
    let mut config = Config::new(server_url.clone());
    config.interactive = false; // a child must never start a login
    let mut options = Options::new(Arc::new(store));
    options.browser = Arc::new(FnBrowser(|_: &BrowserRequest| {
        BrowserOutcome::Unavailable("children never log in".into())
    }));
    options.paste_from_stdin = false;
    let auth = Authorizer::new(config, options).expect("build the authorizer");
    let session = auth.session().expect("the pre-seeded session");
    assert!(
        !session.has_usable_token(wall_now(), 60),
        "the loaded access token must be expired"
    );

    std::fs::write(sync.join(format!("ready-{index}")), b"").expect("write ready marker");
    wait_for(&sync.join("go")).expect("go signal");

    let header = auth.header().expect("header after a refresh");
    assert!(header.expose_secret().starts_with("Bearer "));
    let call = Call::tools_list(&server_url);
    let response = auth.send(call.request.clone()).expect("send");
    assert_tools(&call.result(&response));
    let refreshes = auth
        .request_counts()
        .get(&Step::Refresh)
        .copied()
        .unwrap_or(0);
    println!("{REPORT}{refreshes}");
}

fn spawn_child(index: usize, server_url: &str, store: &Path, sync: &Path) -> Child {
    let exe = std::env::current_exe().expect("current test binary");
    Command::new(exe)
        .args([
            "--exact",
            "child_process_entry_point",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE_VAR, index.to_string())
        .env(SERVER_VAR, server_url)
        .env(STORE_VAR, store)
        .env(SYNC_VAR, sync)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn a child process")
}

/// Kills the children this test started (by handle) when the handshake fails.
fn kill_all(children: &mut [Child]) {
    for child in children {
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn report(output: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn four_processes_sharing_a_file_store_refresh_once() {
    if std::env::var(ROLE_VAR).is_ok() {
        return; // a child runs only its entry point (`--exact`), but be sure
    }
    let server = start(TestbedConfig::default());
    let store_dir = tempfile::tempdir().expect("store tempdir");
    let sync_dir = tempfile::tempdir().expect("sync tempdir");
    let store = FileStore::new(store_dir.path()).expect("file store");

    // Pre-seed: a real login, then the access token expires (the refresh token stays valid).
    let browser = ScriptedBrowser::new();
    let mut options = Options::new(Arc::new(store.clone()));
    let scripted = browser.clone();
    options.browser = Arc::new(FnBrowser(move |req: &BrowserRequest| {
        if scripted.browse(&req.url) {
            BrowserOutcome::Opened
        } else {
            BrowserOutcome::Unavailable("scripted browser failed".into())
        }
    }));
    options.paste_from_stdin = false;
    let auth = Authorizer::new(client_config(&server), options).expect("authorizer");
    let key = auth.server().to_string();
    auth.header().expect("login");
    drop(auth);
    assert_eq!(browser.opened(), 1, "{:?}", browser.failures());
    let (_, refresh0) = stored_tokens(&store, &key);
    expire_stored_access_token(&store, &key);
    clear_log(&server);

    let mut children: Vec<Child> = (0..CHILDREN)
        .map(|i| spawn_child(i, &server.mcp_url(), store_dir.path(), sync_dir.path()))
        .collect();
    for i in 0..CHILDREN {
        if let Err(e) = wait_for(&sync_dir.path().join(format!("ready-{i}"))) {
            kill_all(&mut children);
            panic!("child {i} did not get ready: {e}");
        }
    }
    std::fs::write(sync_dir.path().join("go"), b"").expect("go signal");

    let mut refreshes = 0;
    for (i, child) in children.into_iter().enumerate() {
        let output = child.wait_with_output().expect("wait for a child");
        assert!(
            output.status.success(),
            "child {i} failed: {}",
            report(&output)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        let line = stdout
            .lines()
            .find_map(|l| l.split_once(REPORT).map(|(_, n)| n))
            .unwrap_or_else(|| panic!("child {i} did not report: {}", report(&output)));
        refreshes += line.trim().parse::<u64>().expect("refresh count");
    }

    assert_eq!(
        grant_types(&server),
        ["refresh_token"],
        "exactly one refresh"
    );
    let token = logged(&server, RequestKind::Token);
    assert_eq!(token[0].form_value("refresh_token"), refresh0.as_deref());
    let rejected = token.iter().filter(|r| r.status == 400).count();
    assert_eq!(rejected, 0, "no invalid_grant");
    assert_eq!(
        refreshes, 1,
        "one child refreshed, the others adopted its token"
    );
    let mcp = logged(&server, RequestKind::Mcp);
    assert_eq!(mcp.len(), CHILDREN);
    let (access, refresh) = stored_tokens(&store, &key);
    assert!(
        refresh.is_some() && refresh != refresh0,
        "rotated refresh token stored"
    );
    let bearer = format!("Bearer {access}");
    assert!(mcp
        .iter()
        .all(|r| r.status == 200 && r.authorization.as_deref() == Some(bearer.as_str())));
    assert_eq!(
        kinds(&server)
            .iter()
            .filter(|k| **k != RequestKind::Mcp && **k != RequestKind::Token)
            .count(),
        0,
        "no discovery or login in any child"
    );
    assert_no_violations(&server);
}
