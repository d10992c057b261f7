//! `flow-bench`: the side-by-side OAuth flow benchmark (issue "Performance evidence").
//!
//! ```text
//! cargo run --release -p mcp-oauth-tests --bin flow-bench -- \
//!     [--delay-ms 25] [--runs 5] [--peers ts,rmcp] [--flows a,b,c,d,e,e2,f] \
//!     [--concurrency 1,10,100] [--node node] [--markdown BENCHMARKS.md]
//! ```
//!
//! Serves the testbed ([`TestbedServer`]) on loopback with an injected delay per request (a
//! stand-in for a network round trip) and, for each client and flow, counts the requests in the
//! testbed's log by kind and takes the flow's wall time: (a) first login to the first successful
//! `tools/list`; (b) restart with a valid stored token; (c) restart after the access token
//! expired, refresh token valid; (d) 401 on a revoked token mid-session and recovery; (e) step-up
//! on 403 `insufficient_scope` mid-session, and (e2) after a restart; (f) N concurrent requests
//! after the server expired the token. Clients: ours (tokio and blocking adapters, in-process),
//! the official TypeScript SDK and rmcp (subprocesses from `bench/`, installed by
//! `scripts/bench.sh`). Every run gets a fresh testbed and state directory; setup (the login
//! before a restart, the login and warm-up before a mid-session flow) is not measured. Prints
//! Markdown tables with the physical floor beside them and, with `--markdown`, writes the whole
//! report (machine, method from `flow_bench/method.md`, tables, target checks). Not run by CI:
//! see bench/README.md.

#[path = "flow_bench/checks.rs"]
mod checks;
#[path = "flow_bench/flows.rs"]
mod flows;
#[path = "flow_bench/machine.rs"]
mod machine;
#[path = "flow_bench/ours.rs"]
mod ours;
#[path = "flow_bench/peer.rs"]
mod peer;
#[path = "flow_bench/report.rs"]
mod report;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mcp_oauth_tests::serve::{ServeOptions, TestbedServer};
use mcp_oauth_tests::testbed::TestbedConfig;

use flows::{strict_probe_config, Counts, Flow, Outcome, REFRESH_WAIT};
use ours::Adapter;
use peer::{Peer, PeerCommand};
use report::{ClientRun, FlowRun, Probe, Sample};

const USAGE: &str = "usage: flow-bench [--delay-ms 25] [--runs 5] [--peers ts,rmcp] \
                     [--flows a,b,c,d,e,e2,f] [--concurrency 1,10,100] [--node node] \
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
    let (mut letters, mut ns) = ("a,b,c,d,e,e2,f".to_string(), vec![1, 10, 100]);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |v: &str| {
            v.parse::<usize>()
                .map_err(|_| format!("{flag}: not a number: {v}"))
        };
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
            "e2" => args.flows.push(Flow::StepUpAfterRestart),
            "f" => args
                .flows
                .extend(ns.iter().filter(|n| **n > 0).map(|n| Flow::Concurrent(*n))),
            other => return Err(format!("unknown flow {other} (a, b, c, d, e, e2, f)")),
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
fn measure(client: &Client, flow: Flow, config: TestbedConfig, delay: Duration) -> Sample {
    let failed = |why: String| Sample {
        outcome: Err(why),
        counts: Counts::default(),
        violations: Vec::new(),
    };
    let options = ServeOptions {
        delay,
        second_as: false,
    };
    let server = match TestbedServer::start(config, options) {
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
    let outcome =
        outcome.and_then(|()| client.run(flow, &url, &state, &mut || flow.on_ready(&server)));
    let (counts, violations) =
        server.with_testbed(|t| (Counts::of(t.log()), t.violations().to_vec()));
    // Diagnosis: FLOW_BENCH_DEBUG=1 prints the measured phase's requests of failed runs, `all`
    // of every run (secrets redacted by LoggedRequest's Debug).
    let debug = std::env::var("FLOW_BENCH_DEBUG").unwrap_or_default();
    let failed_calls = outcome.as_ref().map_or(true, |o| o.failed > 0);
    if debug == "all" || (failed_calls && !debug.is_empty()) {
        eprintln!("--- {}: {:?}", flow.tag(), outcome);
        server.with_testbed(|t| t.log().iter().for_each(|r| eprintln!("    {r:?}")));
        eprintln!("    violations: {violations:?}");
    }
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
        (
            "mcp-oauth (tokio)".into(),
            Some(Adapter::Tokio),
            Ok(Client::Ours(Adapter::Tokio)),
        ),
        (
            "mcp-oauth (blocking)".into(),
            Some(Adapter::Blocking),
            Ok(Client::Ours(Adapter::Blocking)),
        ),
    ];
    for p in &args.peers {
        let cmd = p.command(&root, &args.node).map(Client::Peer);
        clients.push((machine::peer_label(*p, &root), None, cmd));
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
                    let sample = measure(client, flow, flow.config(), delay);
                    let shown = match &sample.outcome {
                        Ok(o) if o.failed == 0 => format!("{:.0} ms", o.elapsed_ms),
                        Ok(o) => format!("{:.0} ms, {} calls failed", o.elapsed_ms, o.failed),
                        Err(e) => format!("failed: {}", e.chars().take(160).collect::<String>()),
                    };
                    eprintln!("({}) {label} run {i}/{}: {shown}", flow.tag(), args.runs);
                    run.samples.push(sample);
                }
            }
            runs.push(run);
        }
        results.push(FlowRun {
            flow,
            clients: runs,
        });
    }
    // One first login per client against the testbed's unmodified default (see
    // `flows::base_config`), reported as a compatibility note.
    let mut probes = Vec::new();
    for (label, _, client) in &clients {
        if let Ok(client) = client {
            let sample = measure(
                client,
                Flow::FirstLogin,
                strict_probe_config(),
                Duration::ZERO,
            );
            eprintln!(
                "(strict probe) {label}: {}",
                if sample.outcome.is_ok() {
                    "ok"
                } else {
                    "failed"
                }
            );
            probes.push(Probe {
                label: label.clone(),
                outcome: sample.outcome.map(drop),
                violations: sample.violations,
            });
        }
    }
    let tables = report::render(&results, &probes, args.delay_ms);
    println!("{tables}");
    if let Some(path) = &args.markdown {
        let doc = report::document(
            &machine::describe(&args.node, args.delay_ms, args.runs, &root),
            &args_line(),
            args.delay_ms,
            &tables,
        );
        if let Err(e) = std::fs::write(path, doc) {
            eprintln!("flow-bench: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        eprintln!("flow-bench: wrote {}", path.display());
    }
    ExitCode::SUCCESS
}

/// The command line of this run, as given.
fn args_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!(
        "cargo run --release -p mcp-oauth-tests --bin flow-bench -- {}",
        args.join(" ")
    )
}
