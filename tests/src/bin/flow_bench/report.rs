//! Turns the samples into Markdown: one table per flow (requests by kind, wall time, ratio),
//! the concurrency table, the target checks, failures and testbed violations.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::checks;
use super::flows::{Counts, Flow, Outcome, REFRESH_WAIT, SHORT_TOKEN_LIFETIME};
use super::ours::Adapter;

/// One measured run of one client on one flow.
#[derive(Debug)]
pub struct Sample {
    /// What the client reported, or why the run failed.
    pub outcome: Result<Outcome, String>,
    /// The measured phase's requests (setup excluded).
    pub counts: Counts,
    /// Testbed violation ids recorded during the run (setup included).
    pub violations: Vec<String>,
}

/// One first login against the testbed's unmodified default configuration.
#[derive(Debug)]
pub struct Probe {
    /// Row label.
    pub label: String,
    /// Success, or why not.
    pub outcome: Result<(), String>,
    /// Testbed violation ids.
    pub violations: Vec<String>,
}

/// Every run of one client on one flow.
#[derive(Debug)]
pub struct ClientRun {
    /// Row label.
    pub label: String,
    /// Which adapter, for our clients.
    pub ours: Option<Adapter>,
    /// Why the client was not run (not installed).
    pub skipped: Option<String>,
    /// The runs.
    pub samples: Vec<Sample>,
}

/// One flow across clients.
#[derive(Debug)]
pub struct FlowRun {
    /// The flow.
    pub flow: Flow,
    /// One entry per client.
    pub clients: Vec<ClientRun>,
}

impl ClientRun {
    fn times(&self) -> Vec<f64> {
        self.samples
            .iter()
            .filter_map(|s| s.outcome.as_ref().ok())
            .filter(|o| o.failed == 0)
            .map(|o| o.elapsed_ms)
            .collect()
    }

    /// Median time of the fully successful runs.
    pub fn median(&self) -> Option<f64> {
        let mut t = self.times();
        if t.is_empty() {
            return None;
        }
        t.sort_by(f64::total_cmp);
        let mid = t.len() / 2;
        Some(
            match (t.get(mid), mid.checked_sub(1).and_then(|i| t.get(i))) {
                (Some(a), Some(b)) if t.len().is_multiple_of(2) => (a + b) / 2.0,
                (Some(a), _) => *a,
                _ => 0.0,
            },
        )
    }

    fn first_error(&self) -> Option<String> {
        self.samples.iter().find_map(|s| match &s.outcome {
            Err(e) => Some(e.clone()),
            Ok(o) => o.errors.first().cloned(),
        })
    }

    fn span(&self, f: impl Fn(&Sample) -> usize) -> String {
        let values: BTreeSet<usize> = self.samples.iter().map(f).collect();
        match (values.first(), values.last()) {
            (Some(a), Some(b)) if a == b => a.to_string(),
            (Some(a), Some(b)) => format!("{a}–{b}"),
            _ => "—".into(),
        }
    }

    fn time_cell(&self) -> String {
        if let Some(why) = &self.skipped {
            return format!("n/a ({why})");
        }
        let mut t = self.times();
        t.sort_by(f64::total_cmp);
        let (Some(med), Some(lo), Some(hi)) = (self.median(), t.first(), t.last()) else {
            return format!(
                "n/a ({})",
                short(&self.first_error().unwrap_or_default(), 120)
            );
        };
        let failed = self.samples.len() - t.len();
        let mut cell = format!("{med:.0} ({lo:.0}–{hi:.0})");
        if failed > 0 {
            let _ = write!(cell, ", {failed}/{} runs failed", self.samples.len());
        }
        cell
    }
}

/// `127.0.0.1:<port>` as `127.0.0.1:PORT`: every run has its own ports, and messages that differ
/// only there are one message.
fn without_ports(text: &str) -> String {
    const HOST: &str = "127.0.0.1:";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(HOST) {
        let (before, after) = rest.split_at(at + HOST.len());
        out.push_str(before);
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 {
            out.push_str("PORT");
        }
        rest = after.get(digits..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// One line for a table cell or a note: pipes escaped, ports normalized, at most `max` chars.
pub(super) fn short(text: &str, max: usize) -> String {
    let one: String = without_ports(text).replace('|', "\\|").replace('\n', " ");
    if one.chars().count() <= max {
        return one;
    }
    let mut s: String = one.chars().take(max).collect();
    s.push('…');
    s
}

/// `tokio ÷ peer` and `blocking ÷ peer` median times, for a peer row.
fn ratio_cell(flow: &FlowRun, row: &ClientRun) -> String {
    if row.ours.is_some() {
        return String::new();
    }
    let Some(peer) = row.median() else {
        return "—".into();
    };
    let ours = |a: Adapter| {
        flow.clients
            .iter()
            .find(|c| c.ours == Some(a))
            .and_then(ClientRun::median)
            .map_or("—".to_string(), |m| format!("{:.2}", m / peer))
    };
    format!("{} / {}", ours(Adapter::Tokio), ours(Adapter::Blocking))
}

fn flow_table(out: &mut String, run: &FlowRun, delay_ms: u64) {
    let f = run.flow.floor();
    let _ = writeln!(out, "### ({}) {}\n", run.flow.letter(), run.flow.title());
    out.push_str(
        "| client | MCP (401/403) | PRM | AS meta | DCR | authorize | token (refresh) | OAuth total \
         | time, ms: median (min–max) | ours ÷ peer (tokio / blocking) |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    let _ = writeln!(
        out,
        "| **floor** | {} | {} | {} | {} | {} | {} ({}) | **{}** | ≥ {} | |",
        f.mcp,
        f.prm,
        f.asm,
        f.dcr,
        f.authorize,
        f.token,
        f.refresh,
        f.oauth(),
        run.flow.time_floor_ms(delay_ms)
    );
    for c in &run.clients {
        if c.skipped.is_some() {
            let _ = writeln!(out, "| {} | | | | | | | | {} | |", c.label, c.time_cell());
            continue;
        }
        let _ = writeln!(
            out,
            "| {} | {} ({}/{}) | {} | {} | {} | {} | {} ({}) | {} | {} | {} |",
            c.label,
            c.span(|s| s.counts.mcp),
            c.span(|s| s.counts.mcp_401),
            c.span(|s| s.counts.mcp_403),
            c.span(|s| s.counts.prm),
            c.span(|s| s.counts.asm),
            c.span(|s| s.counts.dcr),
            c.span(|s| s.counts.authorize),
            c.span(|s| s.counts.token),
            c.span(|s| s.counts.refresh),
            c.span(|s| s.counts.oauth()),
            c.time_cell(),
            ratio_cell(run, c)
        );
    }
    out.push('\n');
}

fn concurrency_table(out: &mut String, runs: &[&FlowRun], delay_ms: u64) {
    if runs.is_empty() {
        return;
    }
    out.push_str("### (f) N concurrent tools/list after the server expired the access token\n\n");
    out.push_str(
        "| N | client | refresh requests | authorize | PRM + AS meta + DCR | MCP (401) \
         | failed calls | time, ms: median (min–max) | ours ÷ peer (tokio / blocking) |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for run in runs {
        let Flow::Concurrent(n) = run.flow else {
            continue;
        };
        let f = run.flow.floor();
        let _ = writeln!(
            out,
            "| {n} | **floor** | {} | 0 | 0 | {} ({n}) | 0 | ≥ {} | |",
            f.refresh,
            f.mcp,
            run.flow.time_floor_ms(delay_ms)
        );
        for c in &run.clients {
            if c.skipped.is_some() {
                let _ = writeln!(out, "| {n} | {} | | | | | | {} | |", c.label, c.time_cell());
                continue;
            }
            let failed = c.span(|s| s.outcome.as_ref().map_or(n, |o| o.failed));
            let _ = writeln!(
                out,
                "| {n} | {} | {} | {} | {} | {} ({}) | {failed} | {} | {} |",
                c.label,
                c.span(|s| s.counts.refresh),
                c.span(|s| s.counts.authorize),
                c.span(|s| s.counts.prm + s.counts.asm + s.counts.dcr),
                c.span(|s| s.counts.mcp),
                c.span(|s| s.counts.mcp_401),
                c.time_cell(),
                ratio_cell(run, c)
            );
        }
    }
    out.push('\n');
}

/// Peers run as processes: their own flow time excludes process start and module loading;
/// this shows what a restart costs end to end.
fn process_table(out: &mut String, flows: &[FlowRun]) {
    let rows: Vec<String> = flows
        .iter()
        .filter(|r| matches!(r.flow, Flow::FirstLogin | Flow::Restart | Flow::Refresh))
        .flat_map(|r| {
            r.clients.iter().filter_map(move |c| {
                let mut t: Vec<f64> = c
                    .samples
                    .iter()
                    .filter_map(|s| s.outcome.as_ref().ok()?.process_ms)
                    .collect();
                t.sort_by(f64::total_cmp);
                let med = t.get(t.len() / 2)?;
                let flow_ms = c.median().map_or("—".into(), |m| format!("{m:.0}"));
                Some(format!(
                    "| ({}) | {} | {flow_ms} | {med:.0} |",
                    r.flow.letter(),
                    c.label
                ))
            })
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    out.push_str(
        "### Process start, for the subprocess peers\n\n\
         Their times above are measured inside the process; a host that starts a process per \
         session also pays the start-up (median, ms):\n\n\
         | flow | client | flow time | process spawn to exit |\n|---|---|---|---|\n",
    );
    out.push_str(&rows.join("\n"));
    out.push_str("\n\n");
}

/// The results as Markdown (tables, targets, notes).
pub fn render(flows: &[FlowRun], probes: &[Probe], delay_ms: u64) -> String {
    let mut out = String::new();
    let concurrent: Vec<&FlowRun> = flows
        .iter()
        .filter(|r| matches!(r.flow, Flow::Concurrent(_)))
        .collect();
    for run in flows
        .iter()
        .filter(|r| !matches!(r.flow, Flow::Concurrent(_)))
    {
        flow_table(&mut out, run, delay_ms);
    }
    concurrency_table(&mut out, &concurrent, delay_ms);
    process_table(&mut out, flows);
    checks::targets(&mut out, flows);
    checks::notes(&mut out, flows);
    checks::probe_notes(&mut out, probes);
    out
}

/// The method note (Markdown; `{delay_ms}`, `{token_lifetime}` and `{refresh_wait}` filled in).
const METHOD: &str = include_str!("method.md");

/// The whole BENCHMARKS.md: how it was made, the machine, the method, the results.
pub fn document(
    machine: &[(String, String)],
    command: &str,
    delay_ms: u64,
    tables: &str,
) -> String {
    let mut out = String::from("# Benchmarks: MCP OAuth client flows\n\n");
    let _ = writeln!(
        out,
        "Written by the flow benchmark (`scripts/bench.sh`; bench/README.md), run as\n\n\
         ```\n{command}\n```\n\n\
         Regenerate it rather than editing it. The request counts are exact and do not depend \
         on the machine; the times are from the machine below.\n"
    );
    out.push_str("## Machine\n\n| | |\n|---|---|\n");
    for (k, v) in machine {
        let _ = writeln!(out, "| {k} | {} |", short(v, 200));
    }
    out.push_str("\n## Method\n\n");
    let method = METHOD
        .replace("{delay_ms}", &delay_ms.to_string())
        .replace("{token_lifetime}", &SHORT_TOKEN_LIFETIME.to_string())
        .replace(
            "{refresh_wait}",
            &format!("{:.1}", REFRESH_WAIT.as_secs_f64()),
        );
    out.push_str(&method);
    out.push_str("\n## Results\n\n");
    out.push_str(tables);
    out
}
