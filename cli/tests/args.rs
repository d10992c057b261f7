//! Arguments: usage errors exit 2 with a usage message; client secrets come from stdin or the
//! environment (never only argv) and are never printed.

mod common;

use std::io::Write;
use std::process::Stdio;

use common::{finish, Env, Run};
use mcp_oauth_core::ClientAuthMethod;
use mcp_oauth_testbed::testbed::{PreRegistration, RequestKind as K, TestbedConfig};
use serde_json::Value;

fn run(args: &[&str]) -> Run {
    finish(
        std::process::Command::new(common::BIN)
            .args(args)
            .env_remove("MCP_OAUTH_CLIENT_SECRET")
            .env("MCP_OAUTH_STORE", "memory")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mcp-oauth"),
    )
}

#[test]
fn wrong_arguments_exit_2_with_a_usage_message() {
    let url = "http://127.0.0.1:9/mcp";
    let cases: &[&[&str]] = &[
        &[],
        &["login"],
        &["login", "ftp://example.com/mcp"],
        &["login", "not a url"],
        &["token", url, "--bogus"],
        &["status", "--store", "floppy"],
        &["call", url],
        &["login", url, "--redirect-port", "70000"],
        &[
            "login",
            url,
            "--resource",
            "https://r.example",
            "--no-resource",
        ],
        &["no-such-command"],
    ];
    for args in cases {
        let out = run(args);
        assert_eq!(out.code, Some(2), "{args:?}: {out:?}");
        assert_eq!(out.stdout, "", "{args:?}");
        assert!(
            out.stderr.contains("Usage: mcp-oauth"),
            "{args:?}: {}",
            out.stderr
        );
    }
    let out = run(&["call", url, "tools/list", "[1,"]);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(
        out.stderr.contains("PARAMS_JSON is not valid JSON"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--help"), "{}", out.stderr);
}

#[test]
fn a_secret_on_the_command_line_needs_a_client_id_and_is_not_echoed() {
    let out = run(&[
        "login",
        "http://127.0.0.1:9/mcp",
        "--client-secret",
        "hunter2-secret",
    ]);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("--client-id"), "{}", out.stderr);
    assert!(!out.stderr.contains("hunter2-secret"), "{}", out.stderr);
}

#[test]
fn help_and_version_exit_0_and_document_the_exit_codes() {
    let out = run(&["--help"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    for needle in [
        "login",
        "token",
        "status",
        "logout",
        "call",
        "demo",
        "Exit codes:",
        "3  login needed",
        "MCP_OAUTH_CLIENT_SECRET",
    ] {
        assert!(out.stdout.contains(needle), "{needle}: {}", out.stdout);
    }
    assert!(!out.stdout.contains("__headless-browser"));
    let out = run(&["--version"]);
    assert_eq!(out.code, Some(0));
    assert_eq!(
        out.stdout,
        format!("mcp-oauth {}\n", env!("CARGO_PKG_VERSION"))
    );
}

const CLIENT_ID: &str = "pre-registered-client";
const SECRET: &str = "pre-registered-secret";

fn pre_registered() -> Env {
    Env::new(TestbedConfig {
        registration_endpoint: false,
        pre_registered: Some(PreRegistration {
            client_id: CLIENT_ID.into(),
            client_secret: SECRET.into(),
        }),
        token_endpoint_auth_methods: vec![ClientAuthMethod::ClientSecretBasic],
        ..TestbedConfig::default()
    })
}

#[cfg(unix)]
#[test]
fn the_client_secret_comes_from_stdin_or_the_environment() {
    let env = pre_registered();
    let url = env.url();
    let login = [
        "login",
        &url,
        "--client-id",
        CLIENT_ID,
        "--login-timeout",
        "30",
    ];

    // --client-secret-stdin
    let mut args = login.to_vec();
    args.push("--client-secret-stdin");
    let mut child = env
        .command(&args)
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "{SECRET}").expect("write the secret");
    drop(stdin);
    let out = finish(child);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(
        env.kinds(),
        [
            K::ResourceMetadata,
            K::ServerMetadata,
            K::Authorize,
            K::Token
        ]
    );
    let auth: Vec<Option<String>> = env
        .server
        .with_testbed(|t| t.token_request_authorizations());
    assert!(
        matches!(auth.as_slice(), [Some(basic)] if basic.starts_with("Basic ")),
        "{auth:?}"
    );
    assert_eq!(env.violations(), Vec::<String>::new());

    let status = env.run(&["status", "--json"]);
    let doc: Value = serde_json::from_str(&status.stdout).expect("JSON");
    assert_eq!(doc[0]["client_kind"], "pre-registered");
    assert_eq!(doc[0]["client_id"], CLIENT_ID);
    assert_eq!(doc[0]["has_client_secret"], true);
    assert!(!status.stdout.contains(SECRET));
    env.clear_log();

    // MCP_OAUTH_CLIENT_SECRET
    let out = finish(
        env.command(&login)
            .env("MCP_OAUTH_CLIENT_SECRET", SECRET)
            .spawn()
            .expect("spawn"),
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    let statuses: Vec<u16> = env
        .server
        .with_testbed(|t| t.requests(K::Token).iter().map(|r| r.status).collect());
    assert_eq!(statuses, [200]);
    env.clear_log();

    // A wrong secret: the login fails (exit 1) without echoing it.
    let out = finish(
        env.command(&login)
            .env("MCP_OAUTH_CLIENT_SECRET", "wrong-secret-value")
            .spawn()
            .expect("spawn"),
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("invalid_client"), "{}", out.stderr);
    assert!(!out.stderr.contains("wrong-secret-value"), "{}", out.stderr);
    assert!(!out.stderr.contains(SECRET), "{}", out.stderr);
}
