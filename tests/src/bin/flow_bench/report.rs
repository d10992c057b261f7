//! Turns the samples into Markdown: one table per flow (requests by kind, wall time, ratio),
//! the concurrency table, the target checks, failures and testbed violations.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::flows::{Counts, Flow, Outcome};
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
        Some(match (t.get(mid), mid.checked_sub(1).and_then(|i| t.get(i))) {
            (Some(a), Some(b)) if t.len() % 2 == 0 => (a + b) / 2.0,
            (Some(a), _) => *a,
            _ => 0.0,
        })
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
            return format!("n/a ({})", short(&self.first_error().unwrap_or_default(), 120));
        };
        let failed = self.samples.len() - t.len();
        let mut cell = format!("{med:.0} ({lo:.0}–{hi:.0})");
        if failed > 0 {
            let _ = write!(cell, ", {failed}/{} runs failed", self.samples.len());
        }
        cell
    }
}

fn short(text: &str, max: usize) -> String {
    let one: String = text.replace('|', "\\|").replace('\n', " ");
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

fn flow_table(out: &mut String, run: &FlowRun) {
    let f = run.flow.floor();
    let _ = writeln!(out, "### ({}) {}\n", run.flow.letter(), run.flow.title());
    out.push_str(
        "| client | MCP (401/403) | PRM | AS meta | DCR | authorize | token (refresh) | OAuth total \
         | time, ms: median (min–max) | ours ÷ peer (tokio / blocking) |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    let _ = writeln!(
        out,
        "| **floor** | {} | {} | {} | {} | {} | {} ({}) | **{}** | | |",
        f.mcp,
        f.prm,
        f.asm,
        f.dcr,
        f.authorize,
        f.token,
        f.refresh,
        f.oauth()
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

fn concurrency_table(out: &mut String, runs: &[&FlowRun]) {
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
            "| {n} | **floor** | {} | 0 | 0 | {} ({n}) | 0 | | |",
            f.refresh, f.mcp
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

/// Failures and violations, per flow and client.
fn notes(out: &mut String, flows: &[FlowRun]) {
    let mut lines = Vec::new();
    for run in flows {
        for c in &run.clients {
            let errors: BTreeSet<String> = c
                .samples
                .iter()
                .flat_map(|s| match &s.outcome {
                    Err(e) => vec![e.clone()],
                    Ok(o) => o.errors.clone(),
                })
                .map(|e| short(&e, 300))
                .collect();
            for e in errors {
                lines.push(format!("- ({}) {}: {e}", run.flow.letter(), c.label));
            }
            let violations: BTreeSet<&str> = c
                .samples
                .iter()
                .flat_map(|s| s.violations.iter())
                .map(|v| v.split(':').next().unwrap_or(v))
                .collect();
            if !violations.is_empty() {
                let ids: Vec<&str> = violations.into_iter().collect();
                lines.push(format!(
                    "- ({}) {}: testbed violations: {}",
                    run.flow.letter(),
                    c.label,
                    ids.join(", ")
                ));
            }
        }
    }
    out.push_str("### Failures and testbed violations\n\n");
    if lines.is_empty() {
        out.push_str("None.\n\n");
    } else {
        out.push_str(&lines.join("\n"));
        out.push_str("\n\n");
    }
}

fn mark(ok: bool) -> &'static str {
    if ok {
        "✅"
    } else {
        "❌"
    }
}

/// The targets, checked on the data.
fn targets(out: &mut String, flows: &[FlowRun]) {
    out.push_str("### Targets\n\n");
    for run in flows {
        for c in run.clients.iter().filter(|c| c.ours.is_some()) {
            let floor = run.flow.floor();
            let all_ok = !c.samples.is_empty()
                && c.samples.iter().all(|s| {
                    floor.holds(&s.counts) && s.outcome.as_ref().is_ok_and(|o| o.failed == 0)
                });
            let _ = writeln!(
                out,
                "- {} ({}) {}: at or below the floor in every run (and every call succeeded)",
                mark(all_ok),
                run.flow.letter(),
                c.label
            );
        }
        let tokio = run
            .clients
            .iter()
            .find(|c| c.ours == Some(Adapter::Tokio))
            .and_then(ClientRun::median);
        for peer in run.clients.iter().filter(|c| c.ours.is_none()) {
            let line = match (tokio, peer.median()) {
                (Some(o), Some(p)) => format!(
                    "{} ({}) faster than {}: tokio {o:.0} ms vs {p:.0} ms",
                    mark(o < p),
                    run.flow.letter(),
                    peer.label
                ),
                _ => format!(
                    "({}) {}: no comparison (the peer did not complete the flow)",
                    run.flow.letter(),
                    peer.label
                ),
            };
            let _ = writeln!(out, "- {line}");
        }
    }
    let single: Vec<String> = flows
        .iter()
        .filter_map(|r| match r.flow {
            Flow::Concurrent(n) => Some((n, r)),
            _ => None,
        })
        .flat_map(|(n, r)| {
            r.clients.iter().filter(|c| c.ours.is_some()).map(move |c| {
                let one = !c.samples.is_empty()
                    && c.samples
                        .iter()
                        .all(|s| s.counts.refresh == 1 && s.counts.authorize == 0);
                format!("{} N={n} {}", mark(one), c.label)
            })
        })
        .collect();
    if !single.is_empty() {
        let _ = writeln!(
            out,
            "- exactly one refresh request (and no authorization) at every N: {}",
            single.join(", ")
        );
    }
    out.push('\n');
}

/// The results as Markdown (tables, targets, notes).
pub fn render(flows: &[FlowRun]) -> String {
    let mut out = String::new();
    let concurrent: Vec<&FlowRun> = flows
        .iter()
        .filter(|r| matches!(r.flow, Flow::Concurrent(_)))
        .collect();
    for run in flows.iter().filter(|r| !matches!(r.flow, Flow::Concurrent(_))) {
        flow_table(&mut out, run);
    }
    concurrency_table(&mut out, &concurrent);
    targets(&mut out, flows);
    notes(&mut out, flows);
    out
}
