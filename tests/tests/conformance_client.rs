//! The conformance client's runner (`mcp_oauth_tests::conformance::adapters::run`) against the
//! testbed on loopback sockets, for both adapters and both MCP wires: the same code path the
//! official harness exercises through the `conformance-client` binary, without Node.
//!
//! Each case asserts the outcome, the OAuth requests the testbed saw (per kind, plus the
//! adapter's own counts) and that the testbed, which checks more than the harness does (PKCE,
//! `state`, `redirect_uri`, client authentication), recorded no protocol violation.

use mcp_oauth_core::secret::ClientSecret;
use mcp_oauth_core::Step;
use mcp_oauth_tests::conformance::adapters::{run, Adapter, Report};
use mcp_oauth_tests::conformance::{config_for, Context};
use mcp_oauth_tests::serve::{ServeOptions, TestbedServer};
use mcp_oauth_tests::testbed::{RequestKind, TestbedConfig};

const ADAPTERS: [Adapter; 2] = [Adapter::Tokio, Adapter::Blocking];
const STATEFUL: &str = "2025-11-25";
const STATELESS: &str = "2026-07-28";

/// What the testbed saw, per kind: (PRM, AS metadata, registration, authorize, token, MCP).
type Seen = (usize, usize, usize, usize, usize, usize);

struct Run {
    result: Result<Report, String>,
    seen: Seen,
    violations: Vec<String>,
    server: TestbedServer,
}

/// Runs one scenario; the context carries the pre-registered credentials when the testbed has
/// some, bound to AS₁'s issuer (as the harness's `MCP_CONFORMANCE_CONTEXT` does).
fn run_scenario(scenario: &str, adapter: Adapter, version: &str) -> Run {
    let config = TestbedConfig::conformance(scenario).expect("known scenario");
    let pre = config.pre_registered.clone();
    let server = TestbedServer::start(config, ServeOptions::default()).expect("testbed");
    let ctx = match pre {
        Some(p) => Context {
            client_id: Some(p.client_id),
            client_secret: Some(ClientSecret::new(p.client_secret)),
            issuer: Some(server.with_testbed(|t| t.issuer())),
            ..Context::default()
        },
        None => Context::default(),
    };
    let url = server.mcp_url();
    let result = run(adapter, &url, version, config_for(&url, &ctx));
    let (seen, violations) = server.with_testbed(|t| {
        let c = |k| t.count(k);
        (
            (
                c(RequestKind::ResourceMetadata),
                c(RequestKind::ServerMetadata),
                c(RequestKind::Registration),
                c(RequestKind::Authorize),
                c(RequestKind::Token),
                c(RequestKind::Mcp),
            ),
            t.violations().to_vec(),
        )
    });
    Run {
        result,
        seen,
        violations,
        server,
    }
}

fn ok(run: &Run, what: &str) -> Report {
    assert!(run.violations.is_empty(), "{what}: {:?}", run.violations);
    run.result
        .clone()
        .unwrap_or_else(|e| panic!("{what}: failed: {e}"))
}

fn step(report: &Report, s: Step) -> u64 {
    report.oauth_requests.get(&s).copied().unwrap_or(0)
}

#[test]
fn prm_named_only_in_the_challenge_is_found() {
    // metadata-var3: PRM at a custom path that only the 401 names; an unauthenticated first
    // request is the only way to learn it.
    for adapter in ADAPTERS {
        for (version, mcp) in [(STATEFUL, 5), (STATELESS, 3)] {
            let what = format!("metadata-var3 {} {version}", adapter.as_str());
            let r = run_scenario("auth/metadata-var3", adapter, version);
            let report = ok(&r, &what);
            // 1 PRM, 3 AS metadata probes (RFC 8414 path-insert, OIDC path-insert, OIDC
            // path-append), DCR, authorize, token; one rejected MCP request.
            assert_eq!(r.seen, (1, 3, 1, 1, 1, mcp), "{what}");
            assert_eq!(step(&report, Step::ResourceMetadata), 1, "{what}");
            assert_eq!(step(&report, Step::ServerMetadata), 3, "{what}");
            assert_eq!(step(&report, Step::TokenExchange), 1, "{what}");
            assert_eq!(
                report.conversation.steps.last().map(String::as_str),
                Some("tools/call")
            );
        }
    }
}

#[test]
fn step_up_reuses_discovery_and_unions_scopes() {
    for adapter in ADAPTERS {
        for (version, mcp) in [(STATEFUL, 6), (STATELESS, 4)] {
            let what = format!("scope-step-up {} {version}", adapter.as_str());
            let r = run_scenario("auth/scope-step-up", adapter, version);
            ok(&r, &what);
            assert_eq!(r.seen, (1, 1, 1, 2, 2, mcp), "{what}");
            let scopes: Vec<Option<String>> = r.server.with_testbed(|t| {
                t.authorize_requests()
                    .iter()
                    .map(|q| q.iter().find(|(k, _)| k == "scope").map(|(_, v)| v.clone()))
                    .collect()
            });
            assert_eq!(
                scopes,
                [Some("mcp:basic".into()), Some("mcp:basic mcp:write".into())],
                "{what}"
            );
        }
    }
}

#[test]
fn pre_registered_and_cimd_clients_skip_registration() {
    for adapter in ADAPTERS {
        for scenario in ["auth/pre-registration", "auth/basic-cimd"] {
            let what = format!("{scenario} {}", adapter.as_str());
            let r = run_scenario(scenario, adapter, STATELESS);
            let report = ok(&r, &what);
            assert_eq!(r.seen, (1, 1, 0, 1, 1, 3), "{what}");
            assert_eq!(step(&report, Step::Registration), 0, "{what}");
        }
        let r = run_scenario("auth/basic-cimd", adapter, STATELESS);
        let client_ids: Vec<String> = r.server.with_testbed(|t| {
            t.authorize_requests()
                .iter()
                .filter_map(|q| {
                    q.iter()
                        .find(|(k, _)| k == "client_id")
                        .map(|(_, v)| v.clone())
                })
                .collect()
        });
        assert_eq!(
            client_ids,
            ["https://conformance-test.local/client-metadata.json"]
        );
    }
}

#[test]
fn migration_registers_again_at_the_new_server() {
    for adapter in ADAPTERS {
        let what = format!("authorization-server-migration {}", adapter.as_str());
        let r = run_scenario("auth/authorization-server-migration", adapter, STATELESS);
        ok(&r, &what);
        assert_eq!(r.seen, (2, 2, 2, 2, 2, 4), "{what}");
        assert_eq!(
            r.server.with_testbed(|t| t.registered_clients(1).len()),
            1,
            "{what}"
        );
    }
}

#[test]
fn refusals_are_one_line_and_stop_before_the_token() {
    let cases = [
        ("auth/iss-wrong-issuer", "issuer (iss) missing or wrong", 1),
        ("auth/iss-normalized", "issuer (iss) missing or wrong", 1),
        (
            "auth/resource-mismatch",
            "protected resource metadata is for",
            0,
        ),
        ("auth/metadata-issuer-mismatch", "names issuer", 0),
    ];
    for adapter in ADAPTERS {
        for (scenario, needle, authorizations) in cases {
            let what = format!("{scenario} {}", adapter.as_str());
            let r = run_scenario(scenario, adapter, STATELESS);
            let err = r
                .result
                .as_ref()
                .err()
                .unwrap_or_else(|| panic!("{what}: accepted"));
            assert!(err.starts_with("tools/list: "), "{what}: {err}");
            assert!(err.contains(needle), "{what}: {err}");
            assert!(!err.contains('\n'), "{what}: {err}");
            assert_eq!(r.seen.3, authorizations, "{what}: authorize requests");
            assert_eq!(r.seen.4, 0, "{what}: token requests");
        }
    }
}
