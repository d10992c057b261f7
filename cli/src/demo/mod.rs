//! `mcp-oauth demo`: the whole MCP authorization flow, end to end, on this machine.
//!
//! It starts the project's testbed on 127.0.0.1 ephemeral ports (`TestbedServer`: an
//! authorization server with DCR, consent, rotating refresh tokens and RFC 7009 revocation, and
//! an MCP server whose `tools/list` needs `mcp:basic` and whose `admin-tool` needs `mcp:write`),
//! then drives the real blocking adapter against it with a file store in a temporary directory:
//! login, the MCP handshake, `tools/list`, step-up on 403, refresh after expiry, a restart from
//! the store with zero discovery, logout, and `token` refusing afterwards ([`steps`]).
//!
//! Every step prints one line with what went over the wire, counted from the testbed's request
//! log, and each step asserts its exact counts: a wrong count is a failed step, because the
//! counts are the point (a restart needs zero discovery; one refresh, not two).

mod steps;

use std::collections::BTreeMap;
use std::time::Instant;

use mcp_oauth_testbed::testbed::{LoggedRequest, RequestKind};
use serde_json::{json, Value};

use crate::args::DemoArgs;
use crate::exit;
use crate::ui::{print_line, Ui};
use steps::{Demo, Step};

/// Request kinds in the order a flow uses them, with their labels in the step lines.
const KINDS: [(RequestKind, &str); 8] = [
    (RequestKind::ResourceMetadata, "PRM"),
    (RequestKind::ServerMetadata, "AS"),
    (RequestKind::Registration, "DCR"),
    (RequestKind::Authorize, "authorize"),
    (RequestKind::Token, "token"),
    (RequestKind::Revocation, "revoke"),
    (RequestKind::Mcp, "MCP"),
    (RequestKind::Other, "other"),
];

/// Request counts per kind; zero counts are left out so maps compare as sets of facts.
pub type Counts = BTreeMap<&'static str, usize>;

/// Counts `log` by kind.
pub fn count(log: &[LoggedRequest]) -> Counts {
    let mut counts = Counts::new();
    for (kind, label) in KINDS {
        let n = log.iter().filter(|r| r.kind == kind).count();
        if n > 0 {
            counts.insert(label, n);
        }
    }
    counts
}

/// `PRM 1 · AS 1 · MCP 2` in flow order, `—` when nothing was sent. `mcp_statuses`, when
/// given, follows the MCP count (`MCP 2 (403 → 200)`) so a challenge shows in the line.
pub fn wire_line(counts: &Counts, mcp_statuses: &[u16]) -> String {
    let parts: Vec<String> = KINDS
        .iter()
        .filter_map(|(_, label)| {
            let n = counts.get(label)?;
            if *label == "MCP" && !mcp_statuses.is_empty() {
                let statuses: Vec<String> = mcp_statuses.iter().map(u16::to_string).collect();
                return Some(format!("{label} {n} ({})", statuses.join(" → ")));
            }
            Some(format!("{label} {n}"))
        })
        .collect();
    if parts.is_empty() {
        "—".to_owned()
    } else {
        parts.join(" · ")
    }
}

/// What one step did.
#[derive(Debug, Clone)]
struct Outcome {
    name: &'static str,
    error: Option<String>,
    counts: Counts,
    /// MCP statuses, kept only when one was a challenge (401/403).
    challenged: Vec<u16>,
    ms: u128,
}

impl Outcome {
    fn line(&self, index: usize) -> String {
        let verdict = if self.error.is_some() { "FAILED" } else { "ok" };
        let mut line = format!(
            "{index:>2}. {:<20} {verdict:<6}  {:<50} {:>5} ms",
            self.name,
            wire_line(&self.counts, &self.challenged),
            self.ms
        );
        if let Some(e) = &self.error {
            line.push_str("  ← ");
            line.push_str(e);
        }
        line
    }

    fn json(&self) -> Value {
        json!({
            "step": self.name,
            "ok": self.error.is_none(),
            "wire": self.counts,
            "ms": u64::try_from(self.ms).unwrap_or(u64::MAX),
            "error": self.error,
        })
    }
}

/// Lets `127.0.0.1` bypass a proxy named in the environment: the demo's servers are local,
/// and a corporate proxy would answer for them. Called before any thread exists.
fn bypass_proxy_for_loopback() {
    const PROXIES: [&str; 6] = [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ];
    if !PROXIES.iter().any(|v| std::env::var_os(v).is_some()) {
        return;
    }
    let current = std::env::var("NO_PROXY")
        .or_else(|_| std::env::var("no_proxy"))
        .unwrap_or_default();
    let joined = if current.trim().is_empty() {
        "127.0.0.1,localhost".to_owned()
    } else {
        format!("{current},127.0.0.1,localhost")
    };
    std::env::set_var("NO_PROXY", &joined);
    std::env::set_var("no_proxy", &joined);
}

/// Runs the demo; the exit code is 0 only when every step succeeded.
pub fn run(args: &DemoArgs, ui: &Ui, json: bool) -> i32 {
    bypass_proxy_for_loopback();
    let started = Instant::now();
    let mut demo = match Demo::start(args) {
        Ok(demo) => demo,
        Err(e) => {
            crate::term::note(&format!(
                "mcp-oauth demo: cannot start the embedded servers: {e}"
            ));
            return exit::FAILURE;
        }
    };
    if !json {
        let _ = print_line(&demo.banner());
    }
    let plan = demo.plan();
    let mut outcomes: Vec<Outcome> = Vec::new();
    let mut failed = false;
    for (i, step) in plan.iter().enumerate() {
        if failed {
            if !json {
                let _ = print_line(&format!("{:>2}. {:<20} skipped", i + 1, step.name));
            }
            continue;
        }
        ui.verbose(&format!("step {}: {}", i + 1, step.name));
        let outcome = run_step(&mut demo, step);
        failed = outcome.error.is_some();
        if !json {
            let _ = print_line(&outcome.line(i + 1));
        }
        outcomes.push(outcome);
    }
    let total = started.elapsed().as_millis();
    let ok = !failed && outcomes.len() == plan.len();
    if json {
        let report = json!({
            "ok": ok,
            "mcp_server": demo.server.mcp_url(),
            "authorization_server": demo.server.as_origin(),
            "protocol_version": demo.protocol_version,
            "steps": outcomes.iter().map(Outcome::json).collect::<Vec<_>>(),
            "total_ms": u64::try_from(total).unwrap_or(u64::MAX),
        });
        let _ = print_line(&report.to_string());
    } else if ok {
        let _ = print_line(&format!("demo ok: {} steps in {total} ms", plan.len()));
    } else {
        let _ = print_line(&format!("demo FAILED after {total} ms"));
    }
    if ok {
        exit::OK
    } else {
        exit::FAILURE
    }
}

/// Runs one step, then compares the testbed's log with the step's expected counts and checks
/// the testbed noticed no protocol violation.
fn run_step(demo: &mut Demo, step: &Step) -> Outcome {
    let violations_before = demo.violations().len();
    let started = Instant::now();
    let result = (step.action)(demo);
    let ms = started.elapsed().as_millis();
    let log = demo.take_log();
    let counts = count(&log);
    let statuses: Vec<u16> = log
        .iter()
        .filter(|r| r.kind == RequestKind::Mcp)
        .map(|r| r.status)
        .collect();
    let challenged = if statuses.iter().any(|s| *s == 401 || *s == 403) {
        statuses
    } else {
        Vec::new()
    };
    let expected: Counts = step.expected.iter().copied().collect();
    let violations = demo.violations();
    let error = match result {
        Err(e) => Some(exit::one_line(&e)),
        Ok(()) if counts != expected => Some(format!(
            "expected {}, saw {}",
            wire_line(&expected, &[]),
            wire_line(&counts, &[])
        )),
        Ok(()) if violations.len() > violations_before => Some(format!(
            "the testbed saw a protocol violation: {}",
            violations
                .get(violations_before..)
                .unwrap_or_default()
                .join("; ")
        )),
        Ok(()) => None,
    };
    Outcome {
        name: step.name,
        error,
        counts,
        challenged,
        ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_lines_follow_the_flow_order() {
        let counts: Counts = [("MCP", 2), ("PRM", 1), ("token", 1), ("AS", 1)]
            .into_iter()
            .collect();
        assert_eq!(wire_line(&counts, &[]), "PRM 1 · AS 1 · token 1 · MCP 2");
        assert_eq!(
            wire_line(&counts, &[403, 200]),
            "PRM 1 · AS 1 · token 1 · MCP 2 (403 → 200)"
        );
        assert_eq!(wire_line(&Counts::new(), &[]), "—");
    }

    #[test]
    fn a_failed_step_is_one_line_with_its_reason() {
        let outcome = Outcome {
            name: "refresh",
            error: Some("expected token 1 · MCP 2, saw token 2 · MCP 2".into()),
            counts: [("token", 2), ("MCP", 2)].into_iter().collect(),
            challenged: Vec::new(),
            ms: 12,
        };
        let line = outcome.line(5);
        assert!(!line.contains('\n'));
        assert!(
            line.starts_with(" 5. refresh              FAILED  token 2 · MCP 2"),
            "{line}"
        );
        assert!(
            line.ends_with("12 ms  ← expected token 1 · MCP 2, saw token 2 · MCP 2"),
            "{line}"
        );
        assert_eq!(outcome.json()["ok"], json!(false));
        assert_eq!(outcome.json()["wire"], json!({"MCP": 2, "token": 2}));
    }
}
