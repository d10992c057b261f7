//! The real `mcp-oauth` binary against testbed servers shaped like real deployments (project
//! issue 10): an OpenID provider advertising DPoP in front of a Bearer-only MCP server, and the
//! flags real identity providers need. Each choice is stored with the session, so later commands
//! reuse it without flags.

mod common;

use common::Env;
use mcp_oauth_core::{DpopMode, TokenType};
use mcp_oauth_testbed::testbed::{ChallengeScheme, RequestKind as K, TestbedConfig};
use serde_json::Value;

fn tool_names(stdout: &str) -> Vec<String> {
    let result: Value = serde_json::from_str(stdout).expect("call prints JSON");
    result["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .filter_map(|t| t["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(unix)]
#[test]
fn login_then_call_works_behind_a_provider_that_advertises_dpop() {
    // The issue's failure: login succeeded, then every call ended with "the MCP server still
    // refuses the token (HTTP 401) after re-authorizing".
    let env = Env::new(TestbedConfig::dpop_idp_bearer_server());
    let url = env.url();
    let login = env.run(&["login", &url, "--login-timeout", "30"]);
    assert_eq!(login.code, Some(0), "{login:?}");
    let call = env.run(&["call", &url, "tools/list"]);
    assert_eq!(call.code, Some(0), "{call:?}");
    assert!(!tool_names(&call.stdout).is_empty(), "{}", call.stdout);
    let session = env.session().expect("stored");
    assert_eq!(
        session.tokens.expect("tokens").token_type,
        TokenType::Bearer
    );
    assert_eq!(env.count(K::Authorize), 1, "no second login");
    let header = env.run(&["token", "--header", &url]);
    assert!(header.stdout.starts_with("Bearer "), "{header:?}");
    assert_eq!(env.violations(), Vec::<String>::new());
}

#[cfg(unix)]
#[test]
fn the_dpop_flag_is_stored_and_reused_without_flags() {
    // A DPoP-capable server: under auto, a DPoP-only challenge for a Bearer token would send
    // the client back to the browser for a bound token; `--dpop never`, stored with the
    // session, keeps `call` (given no flag) on a silent Bearer refresh.
    let mut config = TestbedConfig::dpop_idp_bearer_server();
    config.challenge_scheme = ChallengeScheme::DPoP;
    let env = Env::new(config);
    let url = env.url();
    let login = env.run(&["login", &url, "--dpop", "never", "--login-timeout", "30"]);
    assert_eq!(login.code, Some(0), "{login:?}");
    assert_eq!(
        env.session().expect("stored").settings.dpop,
        DpopMode::Never
    );
    env.server.with_testbed(|t| t.revoke_all_access_tokens());
    env.clear_log();
    let call = env.run(&["call", &url, "tools/list"]);
    assert_eq!(call.code, Some(0), "{call:?}");
    assert_eq!(env.count(K::Authorize), 0, "refreshed, no new login");
    assert_eq!(env.count(K::Token), 1);
    let session = env.session().expect("stored");
    assert_eq!(session.settings.dpop, DpopMode::Never, "still stored");
    assert_eq!(
        session.tokens.expect("tokens").token_type,
        TokenType::Bearer
    );

    // `--dpop always` given this time overrides the stored choice and is stored in turn.
    let login = env.run(&["login", &url, "--dpop", "always", "--login-timeout", "30"]);
    assert_eq!(login.code, Some(0), "{login:?}");
    let session = env.session().expect("stored");
    assert_eq!(session.settings.dpop, DpopMode::Always);
    assert_eq!(session.tokens.expect("tokens").token_type, TokenType::DPoP);
    let header = env.run(&["token", "--header", &url]);
    assert!(header.stdout.starts_with("DPoP "), "{header:?}");
    assert_eq!(env.violations(), Vec::<String>::new());
}
