//! The verdicts under the tables: the targets checked on the data, failures and testbed
//! violations per flow and client, and the compatibility probe.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::flows::Flow;
use super::ours::Adapter;
use super::report::{short, ClientRun, FlowRun, Probe};

/// Failures and violations, per flow and client.
pub fn notes(out: &mut String, flows: &[FlowRun]) {
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
                lines.push(format!("- ({}) {}: {e}", run.flow.tag(), c.label));
            }
            let violations: BTreeSet<String> = c
                .samples
                .iter()
                .flat_map(|s| s.violations.iter())
                .map(|v| short(v, 200))
                .collect();
            for v in violations {
                lines.push(format!(
                    "- ({}) {}: testbed violation {v}",
                    run.flow.tag(),
                    c.label
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

/// The requests of a client's runs, when every run made the same number (MCP + OAuth).
fn total_requests(c: &ClientRun) -> Option<usize> {
    let totals: BTreeSet<usize> = c
        .samples
        .iter()
        .map(|s| s.counts.mcp + s.counts.oauth())
        .collect();
    (totals.len() == 1)
        .then(|| totals.first().copied())
        .flatten()
}

/// The targets, checked on the data: ours at or below the floor on every flow; faster
/// than each peer where the peer's traffic differs (with equal traffic the times are the same
/// delays, and the comparison is shown without a verdict); one refresh request at every N.
pub fn targets(out: &mut String, flows: &[FlowRun]) {
    out.push_str("### Targets\n\n");
    for run in flows {
        let letter = run.flow.tag();
        let floor = run.flow.floor();
        for c in run.clients.iter().filter(|c| c.ours.is_some()) {
            let worst = c
                .samples
                .iter()
                .map(|s| s.counts.mcp + s.counts.oauth())
                .max();
            let all_ok = !c.samples.is_empty()
                && c.samples.iter().all(|s| {
                    floor.holds(&s.counts) && s.outcome.as_ref().is_ok_and(|o| o.failed == 0)
                });
            let _ = writeln!(
                out,
                "- {} ({letter}) {} at or below the floor ({} requests) in every run, every call \
                 succeeding: worst run {} requests",
                mark(all_ok),
                c.label,
                floor.mcp + floor.oauth(),
                worst.map_or("—".into(), |w| w.to_string())
            );
        }
        let tokio = run.clients.iter().find(|c| c.ours == Some(Adapter::Tokio));
        let Some(tokio) = tokio else { continue };
        for peer in run.clients.iter().filter(|c| c.ours.is_none()) {
            let line = match (tokio.median(), peer.median()) {
                (Some(o), Some(p)) => {
                    let same = total_requests(tokio).is_some()
                        && total_requests(tokio) == total_requests(peer)
                        && tokio.samples.first().map(|s| s.counts)
                            == peer.samples.first().map(|s| s.counts);
                    if same {
                        format!(
                            "= ({letter}) same requests as {}: tokio {o:.0} ms vs {p:.0} ms \
                             (no verdict: equal traffic, equal delays)",
                            peer.label
                        )
                    } else {
                        format!(
                            "{} ({letter}) faster than {}: tokio {o:.0} ms vs {p:.0} ms",
                            mark(o < p),
                            peer.label
                        )
                    }
                }
                _ => format!(
                    "– ({letter}) {}: no comparison (the peer did not complete the flow)",
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
            "- exactly one refresh request (and no authorization) at every N, in every run: {}",
            single.join(", ")
        );
    }
    out.push('\n');
}

/// The compatibility probe's results.
pub fn probe_notes(out: &mut String, probes: &[Probe]) {
    if probes.is_empty() {
        return;
    }
    out.push_str(
        "### Compatibility: first login against the testbed's unmodified default\n\n\
         The flows above run with registration giving no `client_secret` to a client that \
         registered auth method `none`. The testbed's default returns one anyway (as the \
         conformance suite's server does) and then insists the client authenticates as it \
         registered (RFC 6749 §2.3.1; the method follows the AS metadata). One first login per \
         client against that default:\n\n",
    );
    for p in probes {
        let found: BTreeSet<String> = p.violations.iter().map(|v| short(v, 200)).collect();
        let violations = if found.is_empty() {
            String::new()
        } else {
            format!(
                "; testbed violation {}",
                found.into_iter().collect::<Vec<_>>().join("; ")
            )
        };
        let verdict = match &p.outcome {
            Ok(()) => format!("{} succeeded", mark(true)),
            Err(e) => format!("{} failed: {}", mark(false), short(e, 200)),
        };
        let _ = writeln!(out, "- {}: {verdict}{violations}", p.label);
    }
    out.push('\n');
}
