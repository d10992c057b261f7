//! `flow-bench`: the side-by-side OAuth flow benchmark (issue "Performance evidence").
//!
//! ```text
//! cargo run --release -p mcp-oauth-tests --bin flow-bench -- \
//!     [--delay-ms 25] [--runs 5] [--peers ts,rmcp] [--flows a,b,c,d,e,f] \
//!     [--concurrency 1,10,100] [--node node] [--markdown BENCHMARKS.md]
//! ```
//!
//! Serves the testbed ([`TestbedServer`]) on loopback with an injected delay per request (a
//! stand-in for a network round trip) and, for each client and flow, counts the requests in the
//! testbed's log by kind and takes the flow's wall time: (a) first login to the first successful
//! `tools/list`; (b) restart with a valid stored token; (c) restart after the access token
//! expired, refresh token valid; (d) 401 on a revoked token and recovery; (e) step-up on 403
//! `insufficient_scope`; (f) N concurrent requests after the token expired. Clients: ours (tokio
//! and blocking adapters, in-process), the official TypeScript SDK and rmcp (subprocesses from
//! `bench/`, installed by `scripts/bench.sh`). Every run gets a fresh testbed and state
//! directory; setup (the login before flows b-f) is not measured. Prints Markdown tables with the
//! physical floor beside them and, with `--markdown`, writes the whole report (machine, method,
//! tables, target checks). Not run by CI: see bench/README.md.

#[path = "flow_bench/flows.rs"]
mod flows;
#[path = "flow_bench/ours.rs"]
mod ours;
#[path = "flow_bench/peer.rs"]
mod peer;
#[path = "flow_bench/report.rs"]
mod report;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mcp_oauth_tests::serve::{ServeOptions, TestbedServer};

use flows::{Counts, Flow, Outcome, REFRESH_WAIT};
use ours::Adapter;
use peer::{Peer, PeerCommand};
use report::{ClientRun, FlowRun, Sample};

const USAGE: &str = "usage: flow-bench [--delay-ms 25] [--runs 5] [--peers ts,rmcp] \
                     [--flows a,b,c,d,e,f] [--concurrency 1,10,100] [--node node] \
                     [--markdown FILE]";

/// Command-line settings.
#[derive(Debug, Clone)]
struct Args {
    delay_ms: u64,
    runs: usize,
    peers: Vec<Peer>,
    flows: Vec<Flow>,
    node: String,
    markdown: Option<PathBuf>,
}

fn list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        delay_ms: 25,
        runs: 5,
        peers: vec![Peer::Ts, Peer::Rmcp],
        flows: Vec::new(),
        node: "node".into(),
        markdown: None,
    };
    let (mut letters, mut ns) = ("a,b,c,d,e,f".to_string(), vec![1, 10, 100]);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |v: &str| v.parse::<usize>().map_err(|_| format!("{flag}: not a number: {v}"));
        match flag.as_str() {
            "--delay-ms" => args.delay_ms = number(&value)? as u64,
            "--runs" => args.runs = number(&value)?.max(1),
            "--peers" => {
                args.peers = list(&value)
                    .filter(|p| *p != "none")
                    .map(|p| match p {
                        "ts" => Ok(Peer::Ts),
                        "rmcp" => Ok(Peer::Rmcp),
                        other => Err(format!("unknown peer {other} (ts, rmcp, none)")),
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--flows" => letters = value,
            "--concurrency" => ns = list(&value).map(number).collect::<Result<_, _>>()?,
            "--node" => args.node = value,
            "--markdown" => args.markdown = Some(PathBuf::from(value)),
            other => return Err(format!("unknown option {other}")),
        }
    }
    for letter in list(&letters) {
        match letter {
            "a" => args.flows.push(Flow::FirstLogin),
            "b" => args.flows.push(Flow::Restart),
            "c" => args.flows.push(Flow::Refresh),
            "d" => args.flows.push(Flow::Revoked),
            "e" => args.flows.push(Flow::StepUp),
            "f" => args
                .flows
                .extend(ns.iter().filter(|n| **n > 0).map(|n| Flow::Concurrent(*n))),
            other => return Err(format!("unknown flow {other} (a-f)")),
        }
    }
    Ok(args)
}

/// A client under test.
#[derive(Debug, Clone)]
enum Client {
    Ours(Adapter),
    Peer(PeerCommand),
}

impl Client {
    fn run(
        &self,
        flow: Flow,
        url: &str,
        state: &Path,
        on_ready: &mut dyn FnMut(),
    ) -> Result<Outcome, String> {
        match self {
            Client::Ours(adapter) => ours::run(*adapter, flow, url, state, on_ready),
            Client::Peer(cmd) => peer::run(cmd, &flow.client_arg(), url, state, on_ready),
        }
    }
}

static NEXT_DIR: AtomicUsize = AtomicUsize::new(0);

/// A new, empty state directory (0700) under the system temp dir.
fn fresh_dir() -> Result<PathBuf, String> {
    let n = NEXT_DIR.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("mcp-oauth-flow-bench-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .recursive(true)
        .create(&dir)
        .map_err(|e| format!("state dir {}: {e}", dir.display()))?;
    Ok(dir)
}

/// One run: a fresh testbed and state directory, the setup login when the flow needs one, then
/// the measured flow with the log cleared first.
fn measure(client: &Client, flow: Flow, delay: Duration) -> Sample {
    let failed = |why: String| Sample {
        outcome: Err(why),
        counts: Counts::default(),
        violations: Vec::new(),
    };
    let options = ServeOptions {
        delay,
        second_as: false,
    };
    let server = match TestbedServer::start(flow.config(), options) {
        Ok(s) => s,
        Err(e) => return failed(format!("testbed: {e}")),
    };
    let state = match fresh_dir() {
        Ok(d) => d,
        Err(e) => return failed(e),
    };
    let url = server.mcp_url();
    let mut outcome = Ok(());
    if flow.needs_login() {
        outcome = client
            .run(Flow::FirstLogin, &url, &state, &mut || {})
            .map(drop)
            .map_err(|e| format!("setup login: {e}"));
        if flow == Flow::Refresh {
            std::thread::sleep(REFRESH_WAIT);
        }
    }
    server.with_testbed(|t| t.clear_log());
    let outcome = outcome.and_then(|()| client.run(flow, &url, &state, &mut || flow.on_ready(&server)));
    let (counts, violations) =
        server.with_testbed(|t| (Counts::of(t.log()), t.violations().to_vec()));
    let _ = std::fs::remove_dir_all(&state);
    Sample {
        outcome,
        counts,
        violations,
    }
}

/// The repository root (the tests crate's parent).
fn root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

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

/// `version` of `name` in a Cargo.lock or a package.json (simple line scans, no parsing crate).
fn peer_version(peer: Peer, root: &Path) -> String {
    match peer {
        Peer::Ts => {
            let path = root.join("bench/ts-client/node_modules/@modelcontextprotocol/sdk/package.json");
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

fn peer_label(peer: Peer, root: &Path) -> String {
    match peer {
        Peer::Ts => format!("TypeScript SDK {}", peer_version(peer, root)),
        Peer::Rmcp => format!("rmcp {}", peer_version(peer, root)),
    }
}

/// Machine and toolchain facts for the report.
fn machine(args: &Args, root: &Path) -> Vec<(String, String)> {
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
        .map_or("?".to_string(), |kb| format!("{:.1} GiB", kb as f64 / 1_048_576.0));
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let commit = first_line_of("git", &["-C", &root.display().to_string(), "rev-parse", "--short", "HEAD"]);
    vec![
        ("date".into(), first_line_of("date", &["-u", "+%Y-%m-%d %H:%M UTC"])),
        ("nproc".into(), nproc.to_string()),
        ("CPU".into(), cpu),
        ("memory".into(), mem),
        ("OS".into(), first_line_of("uname", &["-sr"])),
        ("rustc".into(), first_line_of("rustc", &["--version"])),
        ("node".into(), first_line_of(&args.node, &["--version"])),
        ("mcp-oauth".into(), format!("{} (commit {commit}, release build)", env!("CARGO_PKG_VERSION"))),
        ("delay per request".into(), format!("{} ms", args.delay_ms)),
        ("runs per client and flow".into(), args.runs.to_string()),
    ]
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("flow-bench: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let root = root();
    let mut clients: Vec<(String, Option<Adapter>, Result<Client, String>)> = vec![
        ("mcp-oauth (tokio)".into(), Some(Adapter::Tokio), Ok(Client::Ours(Adapter::Tokio))),
        ("mcp-oauth (blocking)".into(), Some(Adapter::Blocking), Ok(Client::Ours(Adapter::Blocking))),
    ];
    for p in &args.peers {
        let cmd = p.command(&root, &args.node).map(Client::Peer);
        clients.push((peer_label(*p, &root), None, cmd));
    }
    let delay = Duration::from_millis(args.delay_ms);
    let mut results = Vec::new();
    for &flow in &args.flows {
        let mut runs = Vec::new();
        for (label, ours, client) in &clients {
            let mut run = ClientRun {
                label: label.clone(),
                ours: *ours,
                skipped: client.as_ref().err().cloned(),
                samples: Vec::new(),
            };
            if let Ok(client) = client {
                for i in 1..=args.runs {
                    let sample = measure(client, flow, delay);
                    let shown = match &sample.outcome {
                        Ok(o) if o.failed == 0 => format!("{:.0} ms", o.elapsed_ms),
                        Ok(o) => format!("{:.0} ms, {} calls failed", o.elapsed_ms, o.failed),
                        Err(e) => format!("failed: {}", e.chars().take(160).collect::<String>()),
                    };
                    eprintln!("({}) {label} run {i}/{}: {shown}", flow.letter(), args.runs);
                    run.samples.push(sample);
                }
            }
            runs.push(run);
        }
        results.push(FlowRun { flow, clients: runs });
    }
    let tables = report::render(&results);
    println!("{tables}");
    if let Some(path) = &args.markdown {
        let doc = report::document(&machine(&args, &root), &args_line(&args), args.delay_ms, &tables);
        if let Err(e) = std::fs::write(path, doc) {
            eprintln!("flow-bench: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        eprintln!("flow-bench: wrote {}", path.display());
    }
    ExitCode::SUCCESS
}

/// The command line that reproduces this run.
fn args_line(args: &Args) -> String {
    let peers: Vec<&str> = args
        .peers
        .iter()
        .map(|p| match p {
            Peer::Ts => "ts",
            Peer::Rmcp => "rmcp",
        })
        .collect();
    format!(
        "cargo run --release -p mcp-oauth-tests --bin flow-bench -- --delay-ms {} --runs {} --peers {}",
        args.delay_ms,
        args.runs,
        if peers.is_empty() { "none".into() } else { peers.join(",") }
    )
}
