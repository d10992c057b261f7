//! `mcp-oauth token` for machine clients (the MCP client-credentials extension): no browser,
//! no stored login needed, the grant runs again when the token expires.

mod common;

use common::Env;
use mcp_oauth_core::ClientAuthMethod;
use mcp_oauth_testbed::testbed::{PreRegistration, RequestKind, TestbedConfig};

fn machine_testbed() -> TestbedConfig {
    TestbedConfig {
        client_credentials_only: true,
        registration_endpoint: false,
        token_endpoint_auth_methods: vec![ClientAuthMethod::ClientSecretBasic],
        pre_registered: Some(PreRegistration {
            client_id: "svc".into(),
            client_secret: "svc-secret".into(),
        }),
        ..TestbedConfig::default()
    }
}

#[test]
fn token_with_client_credentials_prints_a_token_without_a_browser() {
    let env = Env::new(machine_testbed());
    let url = env.url();
    let run = common::finish(
        env.command(&["token", &url, "--client-id", "svc", "--client-credentials"])
            .env("MCP_OAUTH_CLIENT_SECRET", "svc-secret")
            .spawn()
            .expect("spawn"),
    );
    assert_eq!(run.code, Some(0), "stderr: {}", run.stderr);
    let (stored, _) = env.tokens();
    assert_eq!(
        run.stdout.trim(),
        stored,
        "the printed token is the stored one"
    );
    assert_eq!(env.count(RequestKind::Authorize), 0, "no browser step");
    assert_eq!(env.count(RequestKind::Registration), 0);
    assert_eq!(env.count(RequestKind::Token), 1);
    let form = env
        .server
        .with_testbed(|t| t.token_requests().first().cloned().unwrap_or_default());
    assert!(form.contains(&("grant_type".into(), "client_credentials".into())));
    assert!(!run.stderr.contains("svc-secret") && !run.stdout.contains("svc-secret"));
    assert!(env.violations().is_empty(), "{:?}", env.violations());
}

#[test]
fn client_credentials_without_a_client_id_is_a_usage_error() {
    let env = Env::new(machine_testbed());
    let url = env.url();
    let run = env.run(&["token", &url, "--client-credentials"]);
    assert_eq!(run.code, Some(2), "stderr: {}", run.stderr);
    assert!(run.stdout.is_empty());
}

#[test]
fn a_wrong_secret_fails_without_echoing_it() {
    let env = Env::new(machine_testbed());
    let url = env.url();
    let run = common::finish(
        env.command(&["token", &url, "--client-id", "svc", "--client-credentials"])
            .env("MCP_OAUTH_CLIENT_SECRET", "not-the-secret")
            .spawn()
            .expect("spawn"),
    );
    assert_ne!(run.code, Some(0));
    assert!(run.stdout.is_empty());
    assert!(!run.stderr.contains("not-the-secret"));
}
