//! `conformance-client [--blocking] <server-url>`: the MCP client the official conformance
//! harness runs for each client auth scenario (ARCHITECTURE.md §10;
//! `scripts/conformance.sh` drives it).
//!
//! It reads `MCP_CONFORMANCE_PROTOCOL_VERSION` (which wire to speak), `MCP_CONFORMANCE_CONTEXT`
//! (pre-registered credentials) and `MCP_CONFORMANCE_SCENARIO` (logged only: the client never
//! branches on it, so a pass means the library followed the spec), then runs the MCP
//! conversation through the tokio adapter, or the blocking one with `--blocking`.
//!
//! Exit status: 0 on success; 1 when the flow failed or the library refused an authorization
//! (one line on stderr says why); 2 on a usage error; 3 when the run exceeded its own 25 s
//! deadline (the harness kills at 30 s, and harness kills have been seen to wedge it in CI).
//! Progress goes to stdout, which the harness saves as `stdout.txt`.

use std::process::ExitCode;
use std::time::Duration;

use mcp_oauth_tests::conformance::adapters::{run, Adapter};
use mcp_oauth_tests::conformance::{config_for, one_line, Context, DEFAULT_PROTOCOL_VERSION};

/// The run's own deadline, below the harness's 30 s default.
const OVERALL_TIMEOUT: Duration = Duration::from_secs(25);

const USAGE: &str = "usage: conformance-client [--blocking] <server-url>";

fn main() -> ExitCode {
    let mut adapter = Adapter::Tokio;
    let mut server_url = None;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--blocking" => adapter = Adapter::Blocking,
            "--tokio" => adapter = Adapter::Tokio,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            s if s.starts_with('-') => return usage(&format!("unknown option {s}")),
            _ if server_url.is_some() => return usage("more than one server URL"),
            _ => server_url = Some(arg),
        }
    }
    let Some(server_url) = server_url else {
        return usage("missing the server URL");
    };
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let scenario = env("MCP_CONFORMANCE_SCENARIO").unwrap_or_else(|| "-".into());
    let protocol_version =
        env("MCP_CONFORMANCE_PROTOCOL_VERSION").unwrap_or_else(|| DEFAULT_PROTOCOL_VERSION.into());
    let ctx = match Context::parse(env("MCP_CONFORMANCE_CONTEXT").as_deref()) {
        Ok(ctx) => ctx,
        Err(e) => return usage(&e),
    };
    println!(
        "conformance-client: scenario={scenario} protocol={protocol_version} adapter={} \
         pre-registered={}",
        adapter.as_str(),
        ctx.client_id.is_some()
    );

    // A hang anywhere (a server that never answers, a lost callback) must not wedge the harness.
    std::thread::spawn(|| {
        std::thread::sleep(OVERALL_TIMEOUT);
        eprintln!(
            "conformance-client: gave up after {} s",
            OVERALL_TIMEOUT.as_secs()
        );
        std::process::exit(3);
    });

    match run(
        adapter,
        &server_url,
        &protocol_version,
        config_for(&server_url, &ctx),
    ) {
        Ok(report) => {
            let counts: Vec<String> = report
                .oauth_requests
                .iter()
                .map(|(step, n)| format!("{}={n}", step.as_str()))
                .collect();
            println!(
                "conformance-client: ok wire={:?} steps=[{}] tools=[{}] oauth-requests=[{}]",
                report.conversation.wire,
                report.conversation.steps.join(" "),
                report.conversation.tools.join(" "),
                counts.join(" ")
            );
            ExitCode::SUCCESS
        }
        Err(reason) => {
            eprintln!("conformance-client: {}", one_line(&reason));
            ExitCode::from(1)
        }
    }
}

fn usage(why: &str) -> ExitCode {
    eprintln!("conformance-client: {} ({USAGE})", one_line(why));
    ExitCode::from(2)
}
