//! `-v`, `-vv` and `RUST_LOG` (README "Diagnostics"): the library's tracing events on stderr,
//! next to the `-v` lines the CLI always printed, with nothing secret in them and nothing on
//! stdout.

mod common;

use common::{finish, leaks_none, Env, Run};
use mcp_oauth_testbed::testbed::TestbedConfig;

fn run_with(env: &Env, args: &[&str], rust_log: Option<&str>) -> Run {
    let mut cmd = env.command(args);
    if let Some(filter) = rust_log {
        cmd.env("RUST_LOG", filter);
    }
    finish(cmd.spawn().expect("spawn mcp-oauth"))
}

/// Every secret of the stored session.
fn secrets(env: &Env) -> Vec<String> {
    let (access, refresh) = env.tokens();
    let session = env.session().expect("a session");
    let secret = session
        .client
        .client_secret
        .map(|s| s.expose_secret().to_owned());
    [Some(access), refresh, secret]
        .into_iter()
        .flatten()
        .collect()
}

#[cfg(unix)]
#[test]
fn verbosity_and_rust_log_choose_the_events() {
    let env = Env::new(TestbedConfig::default());
    let url = env.url();

    // -v: the CLI's own lines and the decisions, not every request.
    let login = run_with(&env, &["-v", "login", &url, "--login-timeout", "30"], None);
    assert_eq!(login.code, Some(0), "{login:?}");
    assert_eq!(login.stdout, "");
    assert!(
        login.stderr.contains("mcp-oauth: OAuth requests:"),
        "{}",
        login.stderr
    );
    assert!(login.stderr.contains("logging in"), "{}", login.stderr);
    assert!(
        login.stderr.contains("drive{"),
        "decisions sit in the drive span"
    );
    assert!(!login.stderr.contains("OAuth request "), "{}", login.stderr);
    let first = secrets(&env);

    // RUST_LOG alone (no -v) selects by crate: every request of the core, nothing else.
    let logout = run_with(&env, &["logout", &url], Some("mcp_oauth_core=debug"));
    assert_eq!(logout.code, Some(0), "{logout:?}");
    assert!(logout.stderr.contains("OAuth request"), "{}", logout.stderr);
    assert!(logout.stderr.contains("revocation"), "{}", logout.stderr);
    assert!(
        !logout.stderr.contains("mcp-oauth: OAuth requests:"),
        "no -v lines"
    );

    // -vv: every request with its step, path and status; the store lock is the adapter's.
    let again = run_with(&env, &["-vv", "login", &url, "--login-timeout", "30"], None);
    assert_eq!(again.code, Some(0), "{again:?}");
    for step in [
        "resource-metadata",
        "server-metadata",
        "registration",
        "token",
    ] {
        assert!(again.stderr.contains(step), "no {step} in {}", again.stderr);
    }
    assert!(again.stderr.contains("/authorize"), "{}", again.stderr);
    assert!(again.stderr.contains("status=200"), "{}", again.stderr);
    // The CLI prints the authorization URL for the user; the events never carry its query.
    let events = again.stderr.lines().filter(|l| l.contains(" mcp_oauth_"));
    assert!(events.clone().count() > 5, "{}", again.stderr);
    assert!(events
        .clone()
        .all(|l| !l.contains("code_challenge=") && !l.contains("state=")));

    let all: Vec<String> = first.into_iter().chain(secrets(&env)).collect();
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    for run in [&login, &logout, &again] {
        assert!(
            leaks_none(&run.stderr, &all),
            "a secret on stderr: {}",
            run.stderr
        );
    }
}
