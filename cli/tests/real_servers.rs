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
fn a_server_announcing_dpop_only_in_its_challenge_upgrades_without_a_second_login() {
    // `login` asks no MCP request, so it sees no challenge and gets a Bearer token; the first
    // `call` meets the DPoP-only challenge and a signed refresh brings the bound token.
    let mut config = TestbedConfig::dpop_idp_bearer_server();
    config.challenge_scheme = ChallengeScheme::DPoP;
    config.token_endpoint_auth_methods = vec![mcp_oauth_core::ClientAuthMethod::ClientSecretBasic];
    let env = Env::new(config);
    let url = env.url();
    let login = env.run(&["login", &url, "--login-timeout", "30"]);
    assert_eq!(login.code, Some(0), "{login:?}");
    assert_eq!(
        env.session().and_then(|s| s.tokens).map(|t| t.token_type),
        Some(TokenType::Bearer)
    );
    // The DPoP server refuses the Bearer token once it is bound-only (as RFC 9449 §7.2 allows).
    env.server.with_testbed(|t| t.revoke_all_access_tokens());
    let call = env.run(&["call", &url, "tools/list", "--no-login"]);
    assert_eq!(call.code, Some(0), "{call:?}");
    assert_eq!(env.count(K::Authorize), 1, "no second login");
    let session = env.session().expect("stored");
    assert_eq!(session.tokens.expect("tokens").token_type, TokenType::DPoP);
    assert_eq!(env.violations(), Vec::<String>::new());
}

#[cfg(unix)]
#[test]
fn the_dpop_flag_is_stored_and_reused_without_flags() {
    // A DPoP-capable server: under auto, a DPoP-only challenge for a Bearer token would be
    // answered with a signed refresh for a bound token; `--dpop never`, stored with the
    // session, keeps `call` (given no flag) on a Bearer refresh.
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

/// The authorization requests the testbed saw, as query pairs.
fn authorize_requests(env: &Env) -> Vec<Vec<(String, String)>> {
    env.server.with_testbed(|t| t.authorize_requests())
}

fn value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[cfg(unix)]
#[test]
fn authorize_params_are_sent_stored_and_reused() {
    let env = Env::new(TestbedConfig::default());
    let url = env.url();
    let login = env.run(&[
        "login",
        &url,
        "--authorize-param",
        "audience=https://api.example.com",
        "--authorize-param",
        "prompt=consent",
        "--login-timeout",
        "30",
    ]);
    assert_eq!(login.code, Some(0), "{login:?}");
    let first = authorize_requests(&env)
        .pop()
        .expect("one authorization request");
    assert_eq!(value(&first, "audience"), Some("https://api.example.com"));
    assert_eq!(value(&first, "prompt"), Some("consent"));
    let status = env.run(&["status", "--json"]);
    let doc: Value = serde_json::from_str(&status.stdout).expect("status --json");
    assert_eq!(
        doc[0]["authorize_params"],
        serde_json::json!(["audience", "prompt"])
    );
    assert_eq!(doc[0]["dpop"], "auto");

    // Tokens gone at the server: `call`, given no flag, logs in again with the same parameters.
    env.server.with_testbed(|t| {
        t.revoke_all_access_tokens();
        t.revoke_all_refresh_tokens();
    });
    let call = env.run(&["call", &url, "tools/list", "--login-timeout", "30"]);
    assert_eq!(call.code, Some(0), "{call:?}");
    let second = authorize_requests(&env)
        .pop()
        .expect("a second authorization request");
    assert_eq!(value(&second, "audience"), Some("https://api.example.com"));
    assert_eq!(value(&second, "prompt"), Some("consent"));
    assert_eq!(env.violations(), Vec::<String>::new());
}

#[cfg(unix)]
#[test]
fn parameters_the_client_owns_are_a_usage_error() {
    let env = Env::new(TestbedConfig::default());
    let url = env.url();
    for bad in [
        "state=x",
        "code_challenge=x",
        "resource=https://evil.example",
        "nokey",
    ] {
        let run = env.run(&["login", &url, "--authorize-param", bad]);
        assert_eq!(run.code, Some(2), "{bad}: {run:?}");
        assert!(run.stderr.contains("--authorize-param"), "{}", run.stderr);
    }
    let run = env.run(&["login", &url, "--authorize-param", "scope=admin"]);
    assert!(
        run.stderr.contains("set by the client itself"),
        "{}",
        run.stderr
    );
    assert_eq!(env.kinds(), [], "nothing sent");
}

/// An MCP server that publishes no protected resource metadata, its authorization server on
/// another origin (legacy discovery at the MCP origin finds nothing there).
fn no_prm(as_metadata: bool) -> TestbedConfig {
    let defaults = TestbedConfig::default();
    TestbedConfig {
        prm_location: mcp_oauth_testbed::testbed::PrmLocation::None,
        as_metadata: if as_metadata {
            defaults.as_metadata.clone()
        } else {
            Vec::new()
        },
        ..defaults
    }
}

#[cfg(unix)]
#[test]
fn a_named_authorization_server_replaces_discovery_and_is_reused() {
    let env = Env::new(no_prm(true));
    let url = env.url();
    let issuer = env.server.as_origin().to_owned();
    let login = env.run(&[
        "login",
        &url,
        "--authorization-server",
        &issuer,
        "--login-timeout",
        "30",
    ]);
    assert_eq!(login.code, Some(0), "{login:?}");
    assert_eq!(
        env.kinds(),
        [K::ServerMetadata, K::Registration, K::Authorize, K::Token],
        "no PRM request"
    );
    let session = env.session().expect("stored");
    assert_eq!(session.issuer, issuer);
    assert_eq!(
        session.settings.authorization_server.map(|a| a.issuer),
        Some(issuer.clone())
    );
    // Later commands need no flag.
    env.server.with_testbed(|t| t.revoke_all_access_tokens());
    let call = env.run(&["call", &url, "tools/list"]);
    assert_eq!(call.code, Some(0), "{call:?}");
    assert_eq!(env.count(K::ResourceMetadata), 0);
    let logout = env.run(&["logout", &url]);
    assert_eq!(logout.code, Some(0), "{logout:?}");
    assert_eq!(env.violations(), Vec::<String>::new());
}

#[cfg(unix)]
#[test]
fn explicit_endpoints_for_a_server_without_any_metadata() {
    let env = Env::new(no_prm(false));
    let url = env.url();
    let issuer = env.server.as_origin().to_owned();
    let endpoint = |name: &str| env.server.with_testbed(|t| t.as_endpoint(name));
    let (authorize, token, register) = (
        endpoint("authorize"),
        endpoint("token"),
        endpoint("register"),
    );
    let login = env.run(&[
        "login",
        &url,
        "--authorization-server",
        &issuer,
        "--authorization-endpoint",
        &authorize,
        "--token-endpoint",
        &token,
        "--registration-endpoint",
        &register,
        "--login-timeout",
        "30",
    ]);
    assert_eq!(login.code, Some(0), "{login:?}");
    assert_eq!(
        env.kinds(),
        [K::Registration, K::Authorize, K::Token],
        "no discovery"
    );
    // `token` refreshes through the stored token endpoint, without flags.
    env.server.with_testbed(|t| t.expire_all_access_tokens());
    let mut session = env.session().expect("stored");
    if let Some(t) = session.tokens.as_mut() {
        t.expires_at = Some(1);
    }
    env.save(&session);
    env.clear_log();
    let printed = env.run(&["token", &url]);
    assert_eq!(printed.code, Some(0), "{printed:?}");
    assert_eq!(env.kinds(), [K::Token]);
    let call = env.run(&["call", &url, "tools/list"]);
    assert_eq!(call.code, Some(0), "{call:?}");
    assert_eq!(env.violations(), Vec::<String>::new());
}

#[cfg(unix)]
#[test]
fn explicit_endpoints_pass_the_url_policy_and_need_each_other() {
    let env = Env::new(no_prm(false));
    let url = env.url();
    let issuer = env.server.as_origin().to_owned();
    let run = env.run(&[
        "login",
        &url,
        "--authorization-server",
        &issuer,
        "--authorization-endpoint",
        "http://login.example.com/authorize",
        "--token-endpoint",
        "https://login.example.com/token",
    ]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("login.example.com"), "{}", run.stderr);
    let run = env.run(&[
        "login",
        &url,
        "--authorization-endpoint",
        "https://a.example/x",
    ]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert_eq!(env.kinds(), [], "nothing sent");
}

#[cfg(unix)]
#[test]
fn a_forgotten_registration_heals_itself() {
    // The authorization server lost its dynamically registered clients (a database reset):
    // the refresh is refused with invalid_client, the client registers again once and logs in.
    let env = Env::new(TestbedConfig::default());
    let url = env.url();
    let login = env.run(&["login", &url, "--login-timeout", "30"]);
    assert_eq!(login.code, Some(0), "{login:?}");
    let old_client = env.session().expect("stored").client.client_id;
    env.server.with_testbed(|t| {
        t.forget_registrations();
        t.revoke_all_access_tokens();
    });
    env.clear_log();
    let call = env.run(&["call", &url, "tools/list", "--login-timeout", "30"]);
    assert_eq!(call.code, Some(0), "{call:?}");
    assert_eq!(env.count(K::Registration), 1, "registered once more");
    assert_eq!(env.count(K::Authorize), 1);
    let new_client = env.session().expect("stored").client.client_id;
    assert_ne!(new_client, old_client);
    assert_eq!(env.violations(), Vec::<String>::new());
}
