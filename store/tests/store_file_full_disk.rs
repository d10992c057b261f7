//! FileStore on a disk that fills up mid-write: the save fails with a typed `StoreError::Io`
//! naming the step, the temp file is removed, and the session stored before stays readable
//! (ARCHITECTURE.md §6: a store failure is a typed error and never damages the stored session).
//!
//! A full disk is reproduced without root or a size-limited mount: the test re-runs itself in
//! a child process under `ulimit -f` (the file-size limit) with `SIGXFSZ` ignored, so a write
//! past the limit fails with `EFBIG` the way one fails with `ENOSPC` on a full disk: after a
//! partial write, at an arbitrary byte. Its own test binary, so the child runs one test only.
#![cfg(unix)]

#[path = "store_fixture.rs"]
mod fixture;

use std::path::Path;
use std::process::Command;

use fixture::{big_session, fingerprint, session};
use mcp_oauth_store::{FileStore, SessionStore, StoreError};

const KEY: &str = "https://mcp.example.com/mcp";
const CHILD_DIR: &str = "MCP_OAUTH_TEST_FULL_DISK_DIR";
const TEST_NAME: &str = "a_write_that_fills_the_disk_keeps_the_stored_session";

#[test]
fn a_write_that_fills_the_disk_keeps_the_stored_session() {
    if let Some(dir) = std::env::var_os(CHILD_DIR) {
        save_past_the_limit(Path::new(&dir));
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("mcp-oauth");
    let store = FileStore::new(&dir).expect("open store");
    store
        .save(KEY, &session(KEY))
        .expect("first save, no limit");

    // 2 blocks (1 KiB under dash, 2 KiB under bash): the stored session (about 700 bytes) was
    // written before the limit; the 6.6 KB session cannot fit.
    let exe = std::env::current_exe().expect("test binary");
    let output = Command::new("/bin/sh")
        .arg("-c")
        .arg(r#"trap '' XFSZ; ulimit -f 2 && exec "$0" --exact "$1" --nocapture --test-threads=1"#)
        .arg(&exe)
        .arg(TEST_NAME)
        .env(CHILD_DIR, &dir)
        .output()
        .expect("run the child under ulimit -f");
    assert!(
        output.status.success(),
        "child failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("1 passed"),
        "the child ran no test: {stdout}"
    );

    let kept = store.load(KEY).expect("load after the failed save");
    assert_eq!(
        kept.as_ref().map(fingerprint),
        Some(fingerprint(&session(KEY))),
        "the session stored before the full disk must be intact"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .expect("read store dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(".tmp."))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temp files left behind: {leftovers:?}"
    );
}

/// In the child, under the file-size limit: the big save must fail at the write step with a
/// typed error that names the temp file and shows no secret.
fn save_past_the_limit(dir: &Path) {
    let store = FileStore::new(dir).expect("open store in child");
    let big = big_session(KEY);
    let err = store
        .save(KEY, &big)
        .expect_err("a 6.6 KB save must not fit under ulimit -f 2");
    match &err {
        StoreError::Io { op, path, source } => {
            assert_eq!(*op, "write", "{err}");
            assert!(path.to_string_lossy().contains(".tmp."), "{err}");
            assert_eq!(source.raw_os_error(), Some(27), "EFBIG expected: {err}");
        }
        other => panic!("expected StoreError::Io, got {other:?}"),
    }
    let shown = format!("{err} {err:?}");
    for secret in ["rt-SECRET", "cs-SECRET", "aé€aé€"] {
        assert!(!shown.contains(secret), "secret in error: {shown}");
    }
}
