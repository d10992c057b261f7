//! The session store on a bad day, through the real binary (issue 15 items 4 and 8): a
//! truncated session is listed by `status` with its path, `token` asks for a login, and
//! `login` replaces it keeping a `.corrupt` copy; a file with a loose mode or a symbolic link
//! is reported for that file alone; a lock held by another process fails `token` after
//! `--lock-timeout` with a notice naming the holder's pid.

mod common;

use common::Env;
use mcp_oauth_blocking::{FileStore, SessionStore};
use mcp_oauth_core::Session;
use mcp_oauth_testbed::testbed::TestbedConfig;

/// Logs in through the scripted browser.
fn login(env: &Env) {
    let run = env.run(&["login", &env.url(), "--login-timeout", "30"]);
    assert_eq!(run.code, Some(0), "{run:?}");
}

/// A stored session for `server`, written as JSON so the test does not depend on every field.
fn session(server: &str) -> Session {
    let json = serde_json::json!({
        "version": 1,
        "server": server,
        "resource": server,
        "issuer": "https://as.example.com",
        "token_endpoint": "https://as.example.com/token",
        "client": {
            "kind": "dynamic",
            "issuer": "https://as.example.com",
            "client_id": "client-1",
            "auth_method": "none"
        },
        "scopes": ["files:read"]
    });
    Session::from_json(&json.to_string()).expect("a valid session")
}

#[cfg(unix)]
#[test]
fn a_truncated_session_is_listed_asks_for_a_login_and_is_replaced_by_one() {
    let env = Env::new(TestbedConfig::default());
    let url = env.url();
    login(&env);
    let store = FileStore::new(env.state_dir()).expect("file store");
    let path = store.path_for(&env.key());
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open");
    file.set_len(60).expect("truncate");
    drop(file);
    let truncated = std::fs::read(&path).expect("read");
    let shown_path = path.display().to_string();

    let status = env.run(&["status"]);
    assert_eq!(status.code, Some(1), "{status:?}");
    assert!(!status.stderr.contains("No stored sessions"), "{status:?}");
    assert!(
        status
            .stdout
            .contains(&format!("{} (unreadable)", env.key())),
        "{}",
        status.stdout
    );
    assert!(status.stdout.contains(&shown_path), "{}", status.stdout);
    assert!(
        status.stdout.contains("truncated JSON"),
        "{}",
        status.stdout
    );
    assert!(
        status
            .stdout
            .contains(&format!("`mcp-oauth login {}`", env.key())),
        "{}",
        status.stdout
    );

    let json = env.run(&["status", "--json"]);
    assert_eq!(json.code, Some(1), "{json:?}");
    assert_eq!(json.stdout.trim(), "[]");
    assert!(json.stderr.contains(&shown_path), "{}", json.stderr);

    let token = env.run(&["token", &url]);
    assert_eq!(
        token.code,
        Some(3),
        "a corrupt session needs a login: {token:?}"
    );
    assert!(token.stderr.contains("is corrupt"), "{}", token.stderr);
    assert!(
        token.stderr.contains("run: mcp-oauth login"),
        "{}",
        token.stderr
    );

    let relogin = env.run(&["login", &url, "--login-timeout", "30"]);
    assert_eq!(relogin.code, Some(0), "{relogin:?}");
    let copy = format!("{shown_path}.corrupt");
    assert!(
        relogin.stderr.contains(&format!("moved it to {copy}")),
        "{}",
        relogin.stderr
    );
    assert_eq!(std::fs::read(&copy).expect("the copy is kept"), truncated);
    assert!(env.session().is_some(), "a fresh session is stored");
    let status = env.run(&["status"]);
    assert_eq!(status.code, Some(0), "{status:?}");
}

#[cfg(unix)]
#[test]
fn a_loose_mode_or_a_symlink_is_reported_for_that_file_alone() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new(TestbedConfig::default());
    let store = FileStore::new(env.state_dir()).expect("file store");
    let good = "https://good.example.com/mcp";
    let loose = "https://loose.example.com/mcp";
    let linked = "https://linked.example.com/mcp";
    for key in [good, loose] {
        store.save(key, &session(key)).expect("save");
    }
    let loose_path = store.path_for(loose);
    std::fs::set_permissions(&loose_path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    // The link points at a readable session elsewhere; it must not be followed.
    let elsewhere = FileStore::new(env.state_dir().with_file_name("elsewhere")).expect("store");
    elsewhere.save(linked, &session(linked)).expect("save");
    let link = store.path_for(linked);
    std::os::unix::fs::symlink(elsewhere.path_for(linked), &link).expect("symlink");

    let status = env.run(&["status"]);
    assert_eq!(status.code, Some(1), "{status:?}");
    assert!(
        status.stdout.contains(&format!("{good}\n  issuer:")),
        "{}",
        status.stdout
    );
    let loose_block = status
        .stdout
        .split("\n\n")
        .find(|b| b.contains(&loose_path.display().to_string()))
        .unwrap_or_else(|| panic!("the loose file is reported: {}", status.stdout));
    assert!(
        loose_block.contains("mode 0644") && loose_block.contains("chmod 600"),
        "{loose_block}"
    );
    let link_block = status
        .stdout
        .split("\n\n")
        .find(|b| b.contains(&link.display().to_string()))
        .unwrap_or_else(|| panic!("the link is reported: {}", status.stdout));
    assert!(link_block.contains("symbolic link"), "{link_block}");
    assert!(!link_block.contains("chmod"), "{link_block}");
    assert!(
        status
            .stderr
            .contains("2 stored session(s) could not be read"),
        "{status:?}"
    );
}

#[cfg(unix)]
#[test]
fn a_held_lock_fails_token_after_the_timeout_naming_the_holder() {
    let env = Env::new(TestbedConfig::default());
    let url = env.url();
    login(&env);
    // An expired token: `token` must refresh, which it does under the session's lock.
    let mut expired = env.session().expect("stored");
    if let Some(tokens) = expired.tokens.as_mut() {
        tokens.expires_at = Some(1);
    }
    env.save(&expired);
    let store = FileStore::new(env.state_dir()).expect("file store");
    // This test process plays the stuck `mcp-oauth`: it holds the lock, its pid in the file.
    let held = store.lock(&env.key()).expect("lock");
    let token = env.run(&["token", &url, "--lock-timeout", "1"]);
    assert_eq!(token.code, Some(1), "{token:?}");
    let holder = format!(
        "another mcp-oauth process (pid {}) holds the session lock",
        std::process::id()
    );
    assert_eq!(
        token.stderr.matches(&format!("{holder} ")).count(),
        2,
        "one notice while waiting, then the error: {}",
        token.stderr
    );
    assert_eq!(
        token.stderr.matches("waiting up to 1s").count(),
        1,
        "{}",
        token.stderr
    );
    assert!(
        token.stderr.contains("gave up after waiting 1s")
            && token.stderr.contains("--lock-timeout SECONDS"),
        "{}",
        token.stderr
    );
    drop(held);
    // Free again: the same command refreshes.
    let token = env.run(&["token", &url, "--lock-timeout", "1"]);
    assert_eq!(token.code, Some(0), "{token:?}");
}
