use super::*;

#[test]
fn header_is_ready_and_nothing_is_pending() {
    let mut at = Scenario::new().authorized();
    assert_eq!(at.header(), format!("Bearer {ACCESS_TOKEN}"));
    assert!(at.outputs.is_empty());
    assert_eq!(at.machine.status(), &AuthStatus::Authorized);
    assert_eq!(at.machine.poll_timeout(), None);
    assert!(!at.machine.is_busy());
}

#[test]
fn expiring_token_reloads_then_refreshes() {
    let mut at = Scenario::new().authorized();
    at.advance(Duration::from_secs(EXPIRES_IN - 30));
    assert_eq!(at.header(), "Pending");
    assert_eq!(
        describe_all(&at.outputs),
        [status(AuthStatus::Working), "load-session".into()]
    );
    let out = at.answer_load();
    assert_eq!(describe_all(&out), [post(Step::Refresh, TOKEN_URL)]);
    assert_eq!(
        form(&at, Step::Refresh),
        pairs(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", REFRESH_TOKEN),
            ("resource", SERVER),
            ("client_id", CLIENT_ID),
        ])
    );
    let out = at.respond_json(
        200,
        &json!({"access_token": "at-2", "token_type": "Bearer", "expires_in": 3600}),
    );
    assert_eq!(
        describe_all(&out),
        [
            "store-session".to_string(),
            status(AuthStatus::Authorized),
            "authorized".into()
        ]
    );
    assert_eq!(at.header(), "Bearer at-2");
}

#[test]
fn a_401_with_a_refresh_token_refreshes_once_then_rediscovers() {
    let mut at = Scenario::new().authorized();
    let out = at.feed(challenge(401, CHALLENGE));
    assert_eq!(
        describe_all(&out),
        [status(AuthStatus::Working), "load-session".into()]
    );
    assert_eq!(at.header(), "Pending");
    assert_eq!(
        describe_all(&at.answer_load()),
        [post(Step::Refresh, TOKEN_URL)]
    );
    at.respond_json(
        200,
        &json!({"access_token": "at-2", "token_type": "Bearer", "expires_in": 3600}),
    );
    assert_eq!(at.header(), "Bearer at-2");
    // The refreshed token is rejected too: full discovery, not another refresh.
    let out = at.feed(challenge(401, CHALLENGE));
    assert_eq!(
        describe_all(&out),
        [status(AuthStatus::Working), get(RM, PRM_PATH_URL)]
    );
}

#[test]
fn request_succeeded_rearms_the_refresh_after_401() {
    let mut at = Scenario::new().authorized();
    at.feed(challenge(401, CHALLENGE));
    at.answer_load();
    at.respond_json(
        200,
        &json!({"access_token": "at-2", "token_type": "Bearer"}),
    );
    at.feed(Input::RequestSucceeded);
    let out = at.feed(challenge(401, CHALLENGE));
    assert_eq!(
        describe_all(&out),
        [status(AuthStatus::Working), "load-session".into()]
    );
}

/// 403 `insufficient_scope` → listener, browser, callback, token.
fn step_up(at: &mut At, scope: &str) -> Vec<Output> {
    let value = format!(r#"Bearer error="insufficient_scope", scope="{scope}""#);
    at.feed(challenge(403, &value));
    let out = at.feed(loopback_ready());
    if out.iter().any(|o| matches!(o, Output::OpenBrowser(_))) {
        at.callback_ok();
        at.respond_json(200, &with(token_doc(), "scope", Value::Null));
    }
    out
}

#[test]
fn insufficient_scope_reauthorizes_with_the_union_reusing_cached_metadata() {
    let mut at = Scenario::new().authorized();
    let out = at.feed(challenge(
        403,
        r#"Bearer error="insufficient_scope", scope="mcp:admin""#,
    ));
    assert_eq!(
        describe_all(&out),
        [status(AuthStatus::Working), "listen Some(49152)".into()]
    );
    // The stored DCR client is reused with the same redirect URI: no registration.
    let out = at.feed(loopback_ready());
    assert_eq!(
        describe_all(&out),
        ["open-browser".to_string(), status(waiting())]
    );
    let url = at.browser_url.clone().expect("OpenBrowser");
    assert_eq!(
        param(&url, "scope").as_deref(),
        Some("mcp:read mcp:write offline_access mcp:admin")
    );
    assert_eq!(param(&url, "client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(param(&url, "resource").as_deref(), Some(SERVER));
    assert_eq!(
        fetches(&at.log),
        4,
        "PRM, AS metadata, DCR, token only: {:?}",
        describe_all(&at.log)
    );
    // The old token stays usable while the user consents.
    assert_eq!(at.header(), format!("Bearer {ACCESS_TOKEN}"));
}

#[test]
fn the_fourth_authorization_in_a_chain_is_step_up_limit() {
    let mut at = Scenario::new().authorized();
    step_up(&mut at, "mcp:a");
    step_up(&mut at, "mcp:b");
    // The budget is checked before a listener is started: no loopback, no browser.
    let out = at.feed(challenge(
        403,
        r#"Bearer error="insufficient_scope", scope="mcp:c""#,
    ));
    let back = AuthStatus::Authorized;
    assert_eq!(
        describe_all(&out),
        fail_lines(Error::StepUpLimit { attempts: 3 }, back)
    );
    assert!(!at.machine.is_busy());
}

/// A challenge naming other metadata than the cached one means another discovery.
#[test]
fn insufficient_scope_naming_other_metadata_rediscovers() {
    let mut at = Scenario::new().authorized();
    let url = "https://mcp.example.com/.well-known/oauth-protected-resource/other";
    let value = format!(
        r#"Bearer error="insufficient_scope", scope="mcp:admin", resource_metadata="{url}""#
    );
    let out = at.feed(challenge(403, &value));
    assert_eq!(
        describe_all(&out),
        [status(AuthStatus::Working), get(RM, url)]
    );
}

#[test]
fn request_succeeded_resets_the_step_up_budget() {
    let mut at = Scenario::new().authorized();
    step_up(&mut at, "mcp:a");
    step_up(&mut at, "mcp:b");
    at.feed(Input::RequestSucceeded);
    let out = step_up(&mut at, "mcp:c");
    assert_eq!(
        describe_all(&out),
        ["open-browser".to_string(), status(waiting())]
    );
    assert_eq!(
        at.machine.session().map(|s| s.scopes.join(" ")).as_deref(),
        Some("mcp:read mcp:write offline_access mcp:a mcp:b mcp:c")
    );
}
