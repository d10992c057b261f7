//! The peer clients as subprocesses, one per flow: `node bench/ts-client/client.mjs` and
//! `bench/rmcp-client/target/release/rmcp-bench-client`, each called as
//! `<flow> <server-url> <state-dir>` (bench/README.md).
//!
//! Protocol on the child's stdio: a line `READY` means a paused flow finished its warm-up; the
//! harness then acts on the testbed and writes one line to the child's stdin. The last stdout
//! line starting with `{` is the JSON report (`ok`, `elapsed_ms`, and for the concurrent flow
//! `failed` and `errors`; `error` when the flow failed).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::flows::Outcome;

/// A peer flow taking longer than this is killed and reported as failed.
const PEER_TIMEOUT: Duration = Duration::from_secs(90);

/// A peer implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// The official TypeScript SDK.
    Ts,
    /// rmcp, the Rust SDK.
    Rmcp,
}

/// How to start a peer.
#[derive(Debug, Clone)]
pub struct PeerCommand {
    program: PathBuf,
    prefix: Vec<String>,
}

impl Peer {
    /// The command under the repository `root`, or why the peer is not installed.
    pub fn command(self, root: &Path, node: &str) -> Result<PeerCommand, String> {
        match self {
            Peer::Ts => {
                let dir = root.join("bench/ts-client");
                if !dir.join("node_modules/@modelcontextprotocol/sdk").is_dir() {
                    return Err(
                        "not installed (npm ci in bench/ts-client; scripts/bench.sh)".into(),
                    );
                }
                Ok(PeerCommand {
                    program: PathBuf::from(node),
                    prefix: vec![dir.join("client.mjs").display().to_string()],
                })
            }
            Peer::Rmcp => {
                let bin = root.join("bench/rmcp-client/target/release/rmcp-bench-client");
                if !bin.is_file() {
                    return Err(
                        "not built (cargo build --release in bench/rmcp-client; scripts/bench.sh)"
                            .into(),
                    );
                }
                Ok(PeerCommand {
                    program: bin,
                    prefix: Vec::new(),
                })
            }
        }
    }
}

/// The last `max` characters of `text` on one line (error context from the child's stderr).
fn tail(text: &str, max: usize) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let skip = line.chars().count().saturating_sub(max);
    line.chars().skip(skip).collect()
}

/// Runs one flow in a child process; `on_ready` runs when it prints `READY`.
pub fn run(
    cmd: &PeerCommand,
    flow_arg: &str,
    url: &str,
    state: &Path,
    on_ready: &mut dyn FnMut(),
) -> Result<Outcome, String> {
    let started = Instant::now();
    let mut child = Command::new(&cmd.program)
        .args(&cmd.prefix)
        .arg(flow_arg)
        .arg(url)
        .arg(state)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", cmd.program.display()))?;
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().ok_or("no stdout pipe")?;
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut stderr = child.stderr.take().ok_or("no stderr pipe")?;
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = started + PEER_TIMEOUT;
    let mut report = None;
    let mut timed_out = false;
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) if line.trim() == "READY" => {
                on_ready();
                let go = child
                    .stdin
                    .as_mut()
                    .map(|s| s.write_all(b"go\n").and(s.flush()));
                if !matches!(go, Some(Ok(()))) {
                    break;
                }
            }
            Ok(line) if line.trim_start().starts_with('{') => report = Some(line),
            Ok(_) => {}
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {
                timed_out = true;
                let _ = child.kill();
                break;
            }
        }
    }
    let _ = child.wait();
    let process_ms = started.elapsed().as_secs_f64() * 1000.0;
    let _ = reader.join();
    let stderr = errors.join().unwrap_or_default();
    if timed_out {
        return Err(format!(
            "timed out after {} s; stderr: {}",
            PEER_TIMEOUT.as_secs(),
            tail(&stderr, 300)
        ));
    }
    let report: Value = report
        .and_then(|r| serde_json::from_str(&r).ok())
        .ok_or_else(|| format!("no JSON report; stderr: {}", tail(&stderr, 300)))?;
    if let Some(error) = report.get("error").and_then(Value::as_str) {
        return Err(tail(error, 400));
    }
    let elapsed_ms = report
        .get("elapsed_ms")
        .and_then(Value::as_f64)
        .ok_or("report without elapsed_ms")?;
    let failed = report
        .get("failed")
        .and_then(Value::as_u64)
        .map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let errors = report
        .get("errors")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|e| tail(e, 200))
                .collect()
        })
        .unwrap_or_default();
    Ok(Outcome {
        elapsed_ms,
        process_ms: Some(process_ms),
        failed,
        errors,
    })
}
