//! Deterministic simulation of every client-auth scenario of the official MCP conformance suite
//! (`testbed/src/testbed/scenarios.rs`) against the testbed, plus the restart / refresh / logout
//! round-trip floor (issue: first login 5 with DCR, 4 with CIMD or pre-registration, restart 0,
//! refresh 1).
//!
//! Each scenario asserts the outcome, the exact order of OAuth requests, and that the testbed
//! (which checks more than the conformance servers do) saw no protocol violation.

use mcp_oauth_core::{Error, Step};
use mcp_oauth_tests::sim::{Sim, Wire};
use mcp_oauth_tests::testbed::{RequestKind, CONFORMANCE_AUTH_SCENARIOS};
use serde_json::json;

use RequestKind::{
    Authorize as Az, Registration as Reg, ResourceMetadata as Prm, ServerMetadata as Meta,
    Token as Tok,
};

/// What a scenario must end in.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    /// Both MCP calls succeed.
    Ok,
    /// The client refuses before any authorization request.
    RefusedBeforeAuthorize,
    /// The client reaches /authorize and then refuses to redeem the code.
    RefusedAfterAuthorize,
    /// The client gives up on repeated step-up (≤ 3 authorization requests).
    StepUpLimit,
}

struct Case {
    scenario: &'static str,
    outcome: Outcome,
    /// OAuth requests (everything but MCP) in order, for the whole scenario.
    oauth: &'static [RequestKind],
}

const CASES: &[Case] = &[
    Case {
        scenario: "auth/metadata-default",
        outcome: Outcome::Ok,
        oauth: &[Prm, Meta, Reg, Az, Tok],
    },
    Case {
        scenario: "auth/metadata-var1",
        outcome: Outcome::Ok,
        oauth: &[Prm, Meta, Meta, Reg, Az, Tok],
    },
    Case {
        scenario: "auth/metadata-var2",
        outcome: Outcome::Ok,
        oauth: &[Prm, Prm, Meta, Reg, Az, Tok],
    },
    Case {
        scenario: "auth/metadata-var3",
        outcome: Outcome::Ok,
        oauth: &[Prm, Meta, Meta, Meta, Reg, Az, Tok],
    },
    Case {
        scenario: "auth/basic-cimd",
        outcome: Outcome::Ok,
        oauth: &[Prm, Meta, Az, Tok],
    },
    Case {
        scenario: "auth/scope-from-www-authenticate",
        outcome: Outcome::Ok,
        oauth: &[Prm, Meta, Reg, Az, Tok],
    },
    Case {
        scenario: "auth/scope-from-scopes-supported",
        outcome: Outcome::Ok,
        oauth: &[Prm, Meta, Reg, Az, Tok],
    },
    Case {
        scenario: "auth/scope-omitted-when-undefined",
        outcome: Outcome::Ok,
        oauth: &[Prm, Meta, Reg, Az, Tok],
    },
    // Step-up reuses the cached PRM, AS metadata and DCR client: only authorize + token again.
    Case {
        scenario: "auth/scope-step-up",
        outcome: Outcome::Ok,
        oauth: &[Prm, Meta, Reg, Az, Tok, Az, Tok],
    },
    Case {
        scenario: "auth/scope-retry-limit",
        outcome: Outcome::StepUpLimit,
        oauth: &[Prm, Meta, Reg, Az, Tok, Az, Tok, Az, Tok],
    },
    Case {
        scenario: "auth/token-endpoint-auth-basic",
        outcome: Outcome::Ok,
        oauth: &[Prm, Meta, Reg, Az, Tok],
    },
    Case {
        scenario: "auth/token-endpoint-auth-post",
        outcome: Outcome::Ok,
        oauth: &[Prm, Meta, Reg, Az, Tok],
    },
    Case {
        scenario: "auth/token-endpoint-auth-none",
        outcome: Outcome::Ok,
        oauth: &[Prm, Meta, Reg, Az, Tok],
    },
    Case {
        scenario: "auth/pre-registration",
        outcome: Outcome::Ok,
        oauth: &[Prm, Meta, Az, Tok],
    },
    Case {
        scenario: "auth/2025-03-26-oauth-metadata-backcompat",
        outcome: Outcome::Ok,
        oauth: &[Prm, Prm, Meta, Reg, Az, Tok],
    },
    Case {
        scenario: "auth/2025-03-26-oauth-endpoint-fallback",
        outcome: Outcome::Ok,
        oauth: &[Prm, Prm, Meta, Meta, Reg, Az, Tok],
    },
    Case {
        scenario: "auth/resource-mismatch",
        outcome: Outcome::RefusedBeforeAuthorize,
        oauth: &[Prm],
    },
    Case {
        scenario: "auth/offline-access-scope",
        outcome: Outcome::Ok,
        oauth: &[Prm, Meta, Az, Tok],
    },
    Case {
        scenario: "auth/offline-access-not-supported",
        outcome: Outcome::Ok,
        oauth: &[Prm, Meta, Reg, Az, Tok],
    },
    // AS₁ login, then PRM flips: re-discover PRM, fetch AS₂ metadata, register at AS₂.
    Case {
        scenario: "auth/authorization-server-migration",
        outcome: Outcome::Ok,
        oauth: &[Prm, Meta, Reg, Az, Tok, Prm, Meta, Reg, Az, Tok],
    },
    Case {
        scenario: "auth/iss-supported",
        outcome: Outcome::Ok,
        oauth: &[Prm, Meta, Reg, Az, Tok],
    },
    Case {
        scenario: "auth/iss-not-advertised",
        outcome: Outcome::Ok,
        oauth: &[Prm, Meta, Reg, Az, Tok],
    },
    Case {
        scenario: "auth/iss-supported-missing",
        outcome: Outcome::RefusedAfterAuthorize,
        oauth: &[Prm, Meta, Reg, Az],
    },
    Case {
        scenario: "auth/iss-wrong-issuer",
        outcome: Outcome::RefusedAfterAuthorize,
        oauth: &[Prm, Meta, Reg, Az],
    },
    Case {
        scenario: "auth/iss-unexpected",
        outcome: Outcome::RefusedAfterAuthorize,
        oauth: &[Prm, Meta, Reg, Az],
    },
    Case {
        scenario: "auth/iss-normalized",
        outcome: Outcome::RefusedAfterAuthorize,
        oauth: &[Prm, Meta, Reg, Az],
    },
    Case {
        scenario: "auth/metadata-issuer-mismatch",
        outcome: Outcome::RefusedBeforeAuthorize,
        oauth: &[Prm, Meta],
    },
];

fn oauth_kinds(sim: &Sim) -> Vec<RequestKind> {
    sim.testbed
        .log()
        .iter()
        .map(|r| r.kind)
        .filter(|k| !matches!(k, RequestKind::Mcp | RequestKind::Other))
        .collect()
}

fn run(case: &Case, wire: Wire) {
    let mut sim = Sim::conformance(case.scenario, wire).expect("known scenario");
    let list = sim.call("tools/list", json!({}));
    let call = list
        .clone()
        .and_then(|_| sim.call("tools/call", json!({"name": "test-tool", "arguments": {}})));
    let label = format!("{} ({wire:?})", case.scenario);
    match case.outcome {
        Outcome::Ok => {
            assert!(list.is_ok(), "{label}: tools/list failed: {list:?}");
            assert!(call.is_ok(), "{label}: tools/call failed: {call:?}");
        }
        Outcome::RefusedBeforeAuthorize | Outcome::RefusedAfterAuthorize => {
            assert!(list.is_err(), "{label}: expected a refusal");
            assert_eq!(
                sim.count(RequestKind::Token),
                0,
                "{label}: no token request"
            );
        }
        Outcome::StepUpLimit => {
            let err = call.expect_err("step-up must give up");
            assert!(
                matches!(err, Error::StepUpLimit { attempts: 3 }),
                "{label}: {err:?}"
            );
            assert!(sim.count(RequestKind::Authorize) <= 3);
        }
    }
    if case.outcome == Outcome::RefusedBeforeAuthorize {
        assert_eq!(sim.count(RequestKind::Authorize), 0, "{label}");
    }
    assert_eq!(
        oauth_kinds(&sim),
        case.oauth,
        "{label}: OAuth request order"
    );
    assert!(
        sim.testbed.violations().is_empty(),
        "{label}: testbed saw violations: {:?}",
        sim.testbed.violations()
    );
    println!(
        "{:<48} {:<9} oauth round trips {:>2}  total http {:>2}",
        case.scenario,
        format!("{wire:?}"),
        sim.oauth_round_trips(),
        sim.testbed.log().len()
    );
}

#[test]
fn every_conformance_scenario_is_covered() {
    for s in CONFORMANCE_AUTH_SCENARIOS {
        assert!(
            CASES.iter().any(|c| c.scenario == *s),
            "no simulation case for {s}"
        );
    }
    assert_eq!(CASES.len(), 27);
}

#[test]
fn conformance_scenarios_stateless_wire() {
    for case in CASES {
        run(case, Wire::Stateless);
    }
}

#[test]
fn conformance_scenarios_stateful_wire() {
    for case in CASES {
        run(case, Wire::Stateful);
    }
}

#[test]
fn iss_mismatch_never_surfaces_the_error_text() {
    let mut sim = Sim::conformance("auth/iss-wrong-issuer", Wire::Stateless).unwrap();
    let err = sim.call("tools/list", json!({})).unwrap_err();
    assert_eq!(err, Error::IssMismatch);
}

#[test]
fn round_trip_floor_login_restart_refresh_logout() {
    use mcp_oauth_tests::testbed::TestbedConfig;
    let mut sim = Sim::new(TestbedConfig::default(), |_| {});
    sim.call("tools/list", json!({})).expect("login");
    assert_eq!(sim.oauth_round_trips(), 5, "first login with DCR");
    assert!(sim.store.is_some(), "session stored");

    // Restart with a valid stored token: zero OAuth requests.
    sim.testbed.clear_log();
    sim.restart(|_| {});
    sim.call("tools/list", json!({})).expect("after restart");
    assert_eq!(sim.oauth_round_trips(), 0, "restart with a valid token");
    assert_eq!(sim.count(RequestKind::Mcp), 1, "no 401 either");

    // Expiry: exactly one refresh request, before the MCP request (proactive).
    sim.testbed.clear_log();
    sim.advance(std::time::Duration::from_secs(3600));
    sim.call("tools/list", json!({})).expect("after expiry");
    assert_eq!(oauth_kinds(&sim), vec![RequestKind::Token], "one refresh");
    assert_eq!(sim.count(RequestKind::Mcp), 1);

    // Restart with an expired token and a valid refresh token: one refresh, no discovery.
    sim.testbed.clear_log();
    sim.advance(std::time::Duration::from_secs(7200));
    sim.restart(|_| {});
    sim.call("tools/list", json!({})).expect("expired restart");
    assert_eq!(oauth_kinds(&sim), vec![RequestKind::Token]);

    // A revoked access token: 401 → one refresh → retry.
    sim.testbed.clear_log();
    sim.testbed.revoke_all_access_tokens();
    sim.call("tools/list", json!({})).expect("401 recovery");
    assert_eq!(oauth_kinds(&sim), vec![RequestKind::Token]);
    assert_eq!(sim.count(RequestKind::Mcp), 2, "401 then retry");

    // Logout: refresh token revoked, then access token, then the session is gone.
    sim.testbed.clear_log();
    let now = sim.now;
    sim.machine.logout(now);
    sim.drain();
    assert_eq!(
        oauth_kinds(&sim),
        vec![RequestKind::Revocation, RequestKind::Revocation]
    );
    let revoked: Vec<_> = sim
        .testbed
        .requests(RequestKind::Revocation)
        .iter()
        .map(|r| {
            r.form_value("token_type_hint")
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(revoked, ["refresh_token", "access_token"]);
    assert!(sim.store.is_none());
    assert!(
        sim.testbed.violations().is_empty(),
        "{:?}",
        sim.testbed.violations()
    );
}

#[test]
fn dead_refresh_token_falls_back_to_full_authorization() {
    use mcp_oauth_tests::testbed::TestbedConfig;
    let mut sim = Sim::new(TestbedConfig::default(), |_| {});
    sim.call("tools/list", json!({})).expect("login");
    sim.testbed.revoke_all_refresh_tokens();
    sim.testbed.clear_log();
    sim.advance(std::time::Duration::from_secs(4000));
    sim.call("tools/list", json!({})).expect("re-login");
    // invalid_grant → PRM again (AS change check), cached AS metadata, stored DCR client reused.
    assert_eq!(oauth_kinds(&sim), vec![Tok, Prm, Az, Tok]);
    assert!(
        sim.testbed.violations().is_empty(),
        "{:?}",
        sim.testbed.violations()
    );
}

#[test]
fn non_interactive_reports_login_required() {
    use mcp_oauth_tests::testbed::TestbedConfig;
    let mut sim = Sim::new(TestbedConfig::default(), |c| c.interactive = false);
    let err = sim.call("tools/list", json!({})).unwrap_err();
    assert_eq!(err, Error::LoginRequired);
    assert_eq!(sim.oauth_round_trips(), 0);
    assert!(sim.fetches.iter().all(|s| *s != Step::TokenExchange));
}

#[test]
fn step_up_after_a_restart_needs_no_discovery() {
    use mcp_oauth_tests::testbed::{TestbedConfig, ADMIN_TOOL};
    let config = TestbedConfig {
        prm_scopes_supported: Some(vec!["mcp:basic".into()]),
        ..TestbedConfig::default()
    };
    let mut sim = Sim::new(config, |_| {});
    sim.call("tools/list", json!({})).expect("login");
    assert!(
        sim.store.as_ref().is_some_and(|s| s.discovery.is_some()),
        "discovery persisted"
    );

    sim.testbed.clear_log();
    sim.restart(|_| {});
    sim.call("tools/call", json!({"name": ADMIN_TOOL, "arguments": {}}))
        .expect("step-up");
    // The stored discovery and DCR client are reused: only the browser step and the code
    // exchange go over the wire.
    assert_eq!(oauth_kinds(&sim), vec![Az, Tok]);
    let last = sim
        .testbed
        .authorize_requests()
        .last()
        .cloned()
        .unwrap_or_default();
    let scope = last
        .iter()
        .find(|(k, _)| k == "scope")
        .map(|(_, v)| v.clone());
    assert_eq!(
        scope.as_deref(),
        Some("mcp:basic mcp:write"),
        "union of scopes"
    );
    assert!(
        sim.testbed.violations().is_empty(),
        "{:?}",
        sim.testbed.violations()
    );
}
