//! Runs the real `mcp-oauth` binary against the testbed served on loopback sockets, with a
//! file store in a temporary directory and `$BROWSER` pointing at a script that performs the
//! headless browser dance (`mcp-oauth __headless-browser <url>`).

// Each test binary uses a different subset.
#![allow(dead_code)]

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use mcp_oauth_blocking::{FileStore, SessionStore};
use mcp_oauth_core::resource_metadata::canonical_server_url;
use mcp_oauth_core::Session;
use mcp_oauth_testbed::serve::{ServeOptions, TestbedServer};
use mcp_oauth_testbed::testbed::{RequestKind, TestbedConfig};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_mcp-oauth");

/// Bound on one command: turns a hang into a failure.
pub const BOUND: Duration = Duration::from_secs(60);

/// What a finished command printed.
#[derive(Debug)]
pub struct Run {
    /// Exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// Everything on stdout.
    pub stdout: String,
    /// Everything on stderr.
    pub stderr: String,
}

/// A testbed plus a private state directory and browser script.
pub struct Env {
    /// The servers.
    pub server: TestbedServer,
    dir: tempfile::TempDir,
}

impl Env {
    /// Starts the testbed with `config`.
    pub fn new(config: TestbedConfig) -> Self {
        let server =
            TestbedServer::start(config, ServeOptions::default()).expect("start the testbed");
        let dir = tempfile::tempdir().expect("tempdir");
        let env = Self { server, dir };
        env.write_browser_script();
        env
    }

    /// The MCP endpoint.
    pub fn url(&self) -> String {
        self.server.mcp_url()
    }

    /// The store key of [`Self::url`].
    pub fn key(&self) -> String {
        canonical_server_url(&self.url()).expect("canonical URL")
    }

    /// The file store's directory.
    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn browser_script(&self) -> PathBuf {
        self.dir.path().join("browser.sh")
    }

    /// `$BROWSER` names one program (the adapter runs it with the URL as its only argument),
    /// so the hidden subcommand is wrapped in a script.
    fn write_browser_script(&self) {
        let path = self.browser_script();
        std::fs::write(
            &path,
            format!("#!/bin/sh\nexec '{BIN}' __headless-browser \"$1\"\n"),
        )
        .expect("write the browser script");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .expect("chmod the browser script");
        }
    }

    /// The command with the file store in the temporary directory, the scripted browser,
    /// no inherited client secret or `RUST_LOG`, and stdin closed.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env("MCP_OAUTH_STORE", "file")
            .env("MCP_OAUTH_STATE_DIR", self.state_dir())
            .env("BROWSER", self.browser_script())
            .env_remove("MCP_OAUTH_CLIENT_SECRET")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Runs the command to completion.
    pub fn run(&self, args: &[&str]) -> Run {
        finish(self.command(args).spawn().expect("spawn mcp-oauth"))
    }

    /// The stored session of [`Self::url`].
    pub fn session(&self) -> Option<Session> {
        FileStore::new(self.state_dir())
            .expect("open the file store")
            .load(&self.key())
            .expect("read the file store")
    }

    /// Saves `session` under [`Self::url`].
    pub fn save(&self, session: &Session) {
        FileStore::new(self.state_dir())
            .expect("open the file store")
            .save(&self.key(), session)
            .expect("write the file store")
    }

    /// Requests of `kind` the testbed served so far.
    pub fn count(&self, kind: RequestKind) -> usize {
        self.server.with_testbed(|t| t.count(kind))
    }

    /// Kinds of every request served so far, in order.
    pub fn kinds(&self) -> Vec<RequestKind> {
        self.server
            .with_testbed(|t| t.log().iter().map(|r| r.kind).collect())
    }

    /// Forgets the request log.
    pub fn clear_log(&self) {
        self.server.with_testbed(|t| t.clear_log());
    }

    /// Protocol violations the testbed recorded.
    pub fn violations(&self) -> Vec<String> {
        self.server.with_testbed(|t| t.violations().to_vec())
    }

    /// The stored access and refresh tokens.
    pub fn tokens(&self) -> (String, Option<String>) {
        let tokens = self
            .session()
            .and_then(|s| s.tokens)
            .expect("a stored token");
        (
            tokens.access_token.expose_secret().to_owned(),
            tokens.refresh_token.map(|r| r.expose_secret().to_owned()),
        )
    }
}

/// Reads a pipe to the end on a thread.
pub fn drain(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
    });
    rx
}

/// Waits for `child` (killing it after [`BOUND`]) and collects its output.
pub fn finish(mut child: Child) -> Run {
    let stdout = child.stdout.take().map(drain);
    let stderr = child.stderr.take().map(drain);
    let status = wait(&mut child);
    let collect = |rx: Option<mpsc::Receiver<String>>| {
        rx.and_then(|rx| rx.recv_timeout(BOUND).ok())
            .unwrap_or_default()
    };
    Run {
        code: status.code(),
        stdout: collect(stdout),
        stderr: collect(stderr),
    }
}

/// Waits for the exit, killing the child after [`BOUND`].
pub fn wait(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + BOUND;
    loop {
        if let Some(status) = child.try_wait().expect("wait for mcp-oauth") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("mcp-oauth did not finish within {BOUND:?}");
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// True when `text` contains none of `secrets`.
pub fn leaks_none(text: &str, secrets: &[&str]) -> bool {
    secrets.iter().all(|s| !text.contains(s))
}
