//! One command never sends the user to the browser twice (issue 10 §2): a server that refuses
//! even a brand-new token ends `call` with a message naming the likely causes after exactly one
//! login, and `token`, `status` and `call --no-login` never open a browser. Browser launches are
//! counted as authorization requests at the testbed (the scripted browser makes one each).

mod common;

use common::Env;
use mcp_oauth_core::HttpResponse;
use mcp_oauth_testbed::testbed::{HostileTarget, RequestKind as K, TestbedConfig};
use serde_json::json;

fn authorizations(env: &Env) -> usize {
    env.kinds().iter().filter(|k| **k == K::Authorize).count()
}

#[cfg(unix)]
#[test]
fn a_server_refusing_every_token_costs_one_browser_login_per_command_at_most() {
    let env = Env::new(TestbedConfig::default());
    let url = env.url();
    let run = env.run(&["login", &url, "--login-timeout", "30"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    env.clear_log();
    // From now on the MCP server refuses every token (an audience or token type it rejects).
    let mut refusal = HttpResponse::json(401, &json!({}));
    refusal.headers.push((
        "WWW-Authenticate".into(),
        r#"Bearer error="invalid_token""#.into(),
    ));
    env.server
        .with_testbed(|t| t.answer_hostile(HostileTarget::Kind(K::Mcp), refusal));

    let run = env.run(&["call", &url, "tools/list", "--login-timeout", "30"]);
    assert_ne!(run.code, Some(0), "{run:?}");
    assert!(run.stderr.contains("still refuses"), "{run:?}");
    assert!(
        run.stderr.contains("audience"),
        "names the likely causes: {run:?}"
    );
    assert_eq!(
        authorizations(&env),
        1,
        "one login, then the clear error: {run:?}"
    );

    for args in [
        vec!["call", url.as_str(), "tools/list", "--no-login"],
        vec!["token", url.as_str()],
        vec!["status"],
    ] {
        env.clear_log();
        let run = env.run(&args);
        assert_eq!(
            authorizations(&env),
            0,
            "{args:?} opened a browser: {run:?}"
        );
    }
}
