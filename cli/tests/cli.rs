//! The real `mcp-oauth` binary against the testbed on loopback: login through `$BROWSER`,
//! `token`, `status`, `call`, `logout`, the exit codes scripts rely on, and that no secret is
//! ever printed where it does not belong.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::sync::mpsc;
use std::thread;

use common::{drain, wait, Env, BOUND};
use mcp_oauth_blocking::{HttpClient, UreqClient};
use mcp_oauth_testbed::headless::{authorization_get, redirect_location};
use mcp_oauth_testbed::testbed::{RequestKind as K, TestbedConfig, ADMIN_TOOL, TEST_TOOL};
use serde_json::Value;

const LOGIN: [K; 5] = [
    K::ResourceMetadata,
    K::ServerMetadata,
    K::Registration,
    K::Authorize,
    K::Token,
];

/// Logs in through the scripted browser and checks the round trips.
#[cfg(unix)]
fn login(env: &Env) {
    let url = env.url();
    let run = env.run(&["login", &url, "--login-timeout", "30"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.contains(&format!("Logged in to {}", env.key())),
        "{}",
        run.stderr
    );
    assert_eq!(env.kinds(), LOGIN);
    assert_eq!(env.violations(), Vec::<String>::new());
    env.clear_log();
}

fn tool_names(result: &Value) -> Vec<&str> {
    result["tools"]
        .as_array()
        .map(|tools| tools.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default()
}

#[cfg(unix)]
#[test]
fn login_token_status_call_logout() {
    let env = Env::new(TestbedConfig::default());
    let url = env.url();
    login(&env);
    let (access, refresh) = env.tokens();
    let refresh = refresh.expect("a refresh token");
    let client_secret = env
        .session()
        .and_then(|s| s.client.client_secret)
        .map(|s| s.expose_secret().to_owned())
        .expect("the testbed's DCR returns a client secret");
    let secrets = [access.as_str(), refresh.as_str(), client_secret.as_str()];

    // `token`: the stored token, nothing else, no request.
    let token = env.run(&["token", &url]);
    assert_eq!(token.code, Some(0), "{token:?}");
    assert_eq!(token.stdout, format!("{access}\n"));
    assert_eq!(token.stderr, "");
    let header = env.run(&["token", "--header", &url]);
    assert_eq!(header.stdout, format!("Bearer {access}\n"));
    assert_eq!(env.kinds(), []);

    // `status --json`: the facts, no secret.
    let status = env.run(&["status", "--json"]);
    assert_eq!(status.code, Some(0), "{status:?}");
    let doc: Value = serde_json::from_str(&status.stdout).expect("status --json is JSON");
    let sessions = doc.as_array().expect("an array");
    assert_eq!(sessions.len(), 1, "{doc}");
    let s = &sessions[0];
    assert_eq!(s["server"], env.key().as_str());
    assert_eq!(s["issuer"], env.server.as_origin());
    assert_eq!(s["client_kind"], "dcr");
    assert_eq!(s["scopes"], serde_json::json!(["mcp:basic", "mcp:write"]));
    assert_eq!(s["token_type"], "Bearer");
    assert_eq!(s["has_refresh_token"], true);
    assert_eq!(s["store"], "file");
    let expires_in = s["expires_in"].as_i64().expect("expires_in");
    assert!((3500..=3600).contains(&expires_in), "{expires_in}");
    assert!(common::leaks_none(&status.stdout, &secrets));
    assert!(common::leaks_none(&status.stderr, &secrets));

    let human = env.run(&["status", &url]);
    assert_eq!(human.code, Some(0), "{human:?}");
    assert!(
        human.stdout.starts_with(&format!("{}\n", env.key())),
        "{}",
        human.stdout
    );
    assert!(human.stdout.contains("client:  dcr ("), "{}", human.stdout);
    assert!(
        human.stdout.contains("scopes:  mcp:basic mcp:write"),
        "{}",
        human.stdout
    );
    assert!(common::leaks_none(&human.stdout, &secrets));

    // `call`: initialize, initialized, tools/list on the stateful wire, with the stored token.
    let call = env.run(&["call", &url, "tools/list"]);
    assert_eq!(call.code, Some(0), "{call:?}");
    let result: Value = serde_json::from_str(&call.stdout).expect("call prints JSON");
    assert_eq!(tool_names(&result), [TEST_TOOL, ADMIN_TOOL]);
    let methods: Vec<Option<String>> = env.server.with_testbed(|t| {
        t.log()
            .iter()
            .map(|r| r.rpc_method().map(str::to_owned))
            .collect()
    });
    assert_eq!(
        methods,
        [
            Some("initialize".to_owned()),
            Some("notifications/initialized".to_owned()),
            Some("tools/list".to_owned())
        ]
    );
    let bearer = format!("Bearer {access}");
    env.server.with_testbed(|t| {
        assert!(t
            .log()
            .iter()
            .all(|r| r.authorization.as_deref() == Some(bearer.as_str())));
    });
    env.clear_log();

    // The stateless wire: one request.
    let call = env.run(&[
        "call",
        "--protocol-version",
        "2026-07-28",
        &url,
        "tools/list",
    ]);
    assert_eq!(call.code, Some(0), "{call:?}");
    let result: Value = serde_json::from_str(&call.stdout).expect("call prints JSON");
    assert_eq!(tool_names(&result), [TEST_TOOL, ADMIN_TOOL]);
    assert_eq!(env.kinds(), [K::Mcp]);
    env.clear_log();

    // `logout`: both tokens revoked, the session gone.
    let logout = env.run(&["logout", &url]);
    assert_eq!(logout.code, Some(0), "{logout:?}");
    assert_eq!(env.kinds(), [K::Revocation, K::Revocation]);
    let revoked: Vec<String> = env.server.with_testbed(|t| {
        t.requests(K::Revocation)
            .iter()
            .filter_map(|r| r.form_value("token").map(str::to_owned))
            .collect()
    });
    assert_eq!(revoked.len(), 2);
    assert!(revoked.contains(&access) && revoked.contains(&refresh));
    assert!(env.session().is_none());
    let status = env.run(&["status", "--json"]);
    assert_eq!((status.code, status.stdout.trim()), (Some(0), "[]"));
    let status = env.run(&["status", &url]);
    assert_eq!(status.code, Some(3), "{status:?}");
    assert_eq!(status.stdout, "");
    assert_eq!(env.violations(), Vec::<String>::new());
}

#[test]
fn token_when_logged_out_exits_3_with_a_one_line_hint() {
    let env = Env::new(TestbedConfig::default());
    let url = env.url();
    let run = env.run(&["token", &url]);
    assert_eq!(run.code, Some(3), "{run:?}");
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        format!(
            "mcp-oauth: not logged in to {url}; run: mcp-oauth login {url}\n",
            url = env.key()
        )
    );
    // Nothing was sent: `token` never discovers or opens a browser.
    assert_eq!(env.kinds(), []);
    // `call --no-login` sends the request without credentials (the server may not need any);
    // its 401 means a login is needed, which it may not do.
    let call = env.run(&["call", "--no-login", &url, "tools/list"]);
    assert_eq!(call.code, Some(3), "{call:?}");
    assert_eq!(call.stdout, "");
    assert!(
        call.stderr.contains("run: mcp-oauth login"),
        "{}",
        call.stderr
    );
    let sent: Vec<(K, u16, bool)> = env.server.with_testbed(|t| {
        t.log()
            .iter()
            .map(|r| (r.kind, r.status, r.authorization.is_some()))
            .collect()
    });
    assert_eq!(sent, [(K::Mcp, 401, false)]);
}

#[cfg(unix)]
#[test]
fn token_refreshes_an_expired_token_once_and_asks_for_login_when_refused() {
    let env = Env::new(TestbedConfig::default());
    let url = env.url();
    login(&env);
    let (access0, refresh0) = env.tokens();
    let expire = || {
        let mut session = env.session().expect("a session");
        if let Some(t) = session.tokens.as_mut() {
            t.expires_at = Some(1);
        }
        env.save(&session);
    };
    expire();
    let run = env.run(&["token", &url]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let (access1, refresh1) = env.tokens();
    assert_ne!(access1, access0);
    assert_ne!(refresh1, refresh0, "the rotated refresh token is stored");
    assert_eq!(run.stdout, format!("{access1}\n"));
    assert_eq!(env.kinds(), [K::Token]);
    let grant: Vec<Option<String>> = env.server.with_testbed(|t| {
        t.requests(K::Token)
            .iter()
            .map(|r| r.form_value("grant_type").map(str::to_owned))
            .collect()
    });
    assert_eq!(grant, [Some("refresh_token".to_owned())]);
    env.clear_log();

    // The authorization server refuses the refresh: login needed (3), no browser opened.
    env.server.with_testbed(|t| t.revoke_all_refresh_tokens());
    expire();
    let run = env.run(&["token", &url]);
    assert_eq!(run.code, Some(3), "{run:?}");
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("run: mcp-oauth login"),
        "{}",
        run.stderr
    );
    assert_eq!(env.kinds(), [K::Token]);
}

#[cfg(unix)]
#[test]
fn call_logs_in_first_and_steps_up_on_403() {
    let env = Env::new(TestbedConfig {
        prm_scopes_supported: Some(vec!["mcp:basic".into()]),
        expected_reauth_scope: Some(vec!["mcp:basic".into(), "mcp:write".into()]),
        ..TestbedConfig::default()
    });
    let url = env.url();
    let params = format!(r#"{{"name":"{ADMIN_TOOL}","arguments":{{}}}}"#);
    let run = env.run(&["call", &url, "tools/call", &params, "--login-timeout", "30"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let result: Value = serde_json::from_str(&run.stdout).expect("JSON result");
    assert_eq!(result["content"][0]["text"], "admin ok");
    // The first request goes without credentials; its 401 starts discovery (RFC 9728 §5.1).
    let mut expected = vec![K::Mcp];
    expected.extend(LOGIN);
    expected.extend([K::Mcp, K::Mcp, K::Mcp, K::Authorize, K::Token, K::Mcp]);
    assert_eq!(env.kinds(), expected);
    let statuses: Vec<u16> = env
        .server
        .with_testbed(|t| t.requests(K::Mcp).iter().map(|r| r.status).collect());
    assert_eq!(statuses, [401, 200, 202, 403, 200]);
    assert_eq!(env.violations(), Vec::<String>::new());
    let scopes = env.session().expect("a session").scopes;
    assert_eq!(scopes, ["mcp:basic", "mcp:write"]);
}

#[cfg(unix)]
#[test]
fn a_json_rpc_error_exits_4() {
    let env = Env::new(TestbedConfig::default());
    let url = env.url();
    login(&env);
    let run = env.run(&["call", &url, "tools/call", r#"{"name":"no-such-tool"}"#]);
    assert_eq!(run.code, Some(4), "{run:?}");
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.contains("JSON-RPC error -32602"),
        "{}",
        run.stderr
    );
}

/// Reads `child`'s stderr line by line on a thread.
fn lines(stderr: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// Receives lines until one satisfies `want`; returns it.
fn wait_for(
    rx: &mpsc::Receiver<String>,
    seen: &mut Vec<String>,
    want: impl Fn(&str) -> bool,
) -> String {
    loop {
        let line = rx
            .recv_timeout(BOUND)
            .unwrap_or_else(|_| panic!("stderr ended or stalled; saw {seen:#?}"));
        seen.push(line.clone());
        if want(&line) {
            return line;
        }
    }
}

#[test]
fn no_browser_login_reads_the_pasted_redirect_url() {
    let env = Env::new(TestbedConfig::default());
    let url = env.url();
    let mut child = env
        .command(&["login", &url, "--no-browser", "--login-timeout", "30"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = drain(child.stdout.take().expect("stdout"));
    let rx = lines(child.stderr.take().expect("stderr"));
    let mut stdin = child.stdin.take().expect("stdin");
    let mut seen = Vec::new();
    let line = wait_for(&rx, &mut seen, |l| {
        l.starts_with("Open this URL to authorize: ")
    });
    let authorization_url = line
        .strip_prefix("Open this URL to authorize: ")
        .expect("prefix")
        .to_owned();
    wait_for(&rx, &mut seen, |l| l.contains("paste the URL"));

    // The user's browser: the authorization server redirects at once.
    let http = UreqClient::default();
    let response = http
        .send(&authorization_get(&authorization_url))
        .expect("GET the authorization URL");
    let location = redirect_location(&authorization_url, &response).expect("a redirect");

    // A redirect URL with another state is refused and the wait goes on.
    let mut forged = url::Url::parse(&location).expect("Location parses");
    let pairs: Vec<(String, String)> = forged
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" {
                "forged".into()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    forged.query_pairs_mut().clear().extend_pairs(pairs);
    writeln!(stdin, "{forged}").expect("paste the forged URL");
    wait_for(&rx, &mut seen, |l| {
        l.contains("ignored an authorization response")
    });

    // A huge paste (2 MiB on one line) is dropped as it streams in, with a notice, and the
    // reading goes on (issue 15: it used to be buffered whole).
    stdin
        .write_all(&vec![b'x'; 2 * 1024 * 1024])
        .and_then(|()| stdin.write_all(b"\n"))
        .expect("paste 2 MiB");
    wait_for(&rx, &mut seen, |l| {
        l.contains("ignored a pasted line longer than 64 KiB")
    });

    writeln!(stdin, "{location}").expect("paste the redirect URL");
    let status = wait(&mut child);
    drop(stdin);
    let rest: Vec<String> = rx.iter().collect();
    seen.extend(rest);
    assert_eq!(status.code(), Some(0), "{seen:#?}");
    assert_eq!(stdout.recv_timeout(BOUND).expect("stdout"), "");
    assert!(
        seen.iter().any(|l| l.starts_with("Logged in to")),
        "{seen:#?}"
    );
    assert!(env.session().is_some());
    assert_eq!(
        env.kinds(),
        LOGIN,
        "one authorization request, one code redemption"
    );
    assert_eq!(env.violations(), Vec::<String>::new());
    let (access, _) = env.tokens();
    assert!(seen.iter().all(|l| !l.contains(&access)));
}
