//! Facts for the report's machine section and the peers' row labels: CPU, memory, toolchains,
//! the commit, and the pinned peer versions as installed.

use std::path::Path;
use std::process::Command;

use super::peer::Peer;

/// The first line a command prints, or `?`.
fn first_line_of(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(str::trim).map(str::to_owned))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "?".into())
}

/// The installed version of a peer: the SDK's `package.json`, or rmcp's entry in the peer's
/// `Cargo.lock` (a line scan: no TOML parser for one value).
fn peer_version(peer: Peer, root: &Path) -> String {
    match peer {
        Peer::Ts => {
            let path =
                root.join("bench/ts-client/node_modules/@modelcontextprotocol/sdk/package.json");
            std::fs::read_to_string(path)
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .and_then(|v| v.get("version")?.as_str().map(str::to_owned))
                .unwrap_or_else(|| "?".into())
        }
        Peer::Rmcp => {
            let lock = std::fs::read_to_string(root.join("bench/rmcp-client/Cargo.lock"))
                .unwrap_or_default();
            let mut lines = lock.lines();
            while let Some(line) = lines.next() {
                if line.trim() == "name = \"rmcp\"" {
                    if let Some(v) = lines.next().and_then(|l| l.split('"').nth(1)) {
                        return v.to_owned();
                    }
                }
            }
            "?".into()
        }
    }
}

/// A peer's row label, with its installed version.
pub fn peer_label(peer: Peer, root: &Path) -> String {
    match peer {
        Peer::Ts => format!("TypeScript SDK {}", peer_version(peer, root)),
        Peer::Rmcp => format!("rmcp {}", peer_version(peer, root)),
    }
}

/// Machine and toolchain facts for the report.
pub fn describe(node: &str, delay_ms: u64, runs: usize, root: &Path) -> Vec<(String, String)> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or("?".to_string(), |m| m.trim().to_owned());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or("?".to_string(), |kb| {
            format!("{:.1} GiB", kb as f64 / 1_048_576.0)
        });
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let git = |args: &[&str]| {
        let mut all = vec!["-C", root.to_str().unwrap_or(".")];
        all.extend_from_slice(args);
        first_line_of("git", &all)
    };
    let mut commit = git(&["rev-parse", "--short", "HEAD"]);
    if git(&["status", "--porcelain", "--untracked-files=no"]) != "?" {
        commit.push_str(" plus uncommitted changes");
    }
    vec![
        (
            "date".into(),
            first_line_of("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        ),
        ("nproc".into(), nproc.to_string()),
        ("CPU".into(), cpu),
        ("memory".into(), mem),
        ("OS".into(), first_line_of("uname", &["-sr"])),
        ("rustc".into(), first_line_of("rustc", &["--version"])),
        ("node".into(), first_line_of(node, &["--version"])),
        (
            "mcp-oauth".into(),
            format!(
                "{} (commit {commit}, release build)",
                env!("CARGO_PKG_VERSION")
            ),
        ),
        ("delay per request".into(), format!("{} ms", delay_ms)),
        ("runs per client and flow".into(), runs.to_string()),
    ]
}
