use super::*;

fn refreshed_tokens(at: &At) -> (String, Option<String>, Option<u64>) {
    let t = at
        .stored_in_last()
        .and_then(|s| s.tokens.clone())
        .expect("stored tokens");
    (
        t.access_token.expose_secret().to_string(),
        t.refresh_token.map(|r| r.expose_secret().to_string()),
        t.expires_at,
    )
}

#[test]
fn response_without_refresh_token_keeps_the_old_one() {
    let mut at = Scenario::new().refreshing();
    let out = at.respond_json(
        200,
        &json!({"access_token": "at-2", "token_type": "Bearer", "expires_in": 1800}),
    );
    assert_eq!(
        describe_all(&out),
        [
            "store-session".to_string(),
            status(AuthStatus::Authorized),
            "authorized".into()
        ]
    );
    assert_eq!(
        refreshed_tokens(&at),
        (
            "at-2".into(),
            Some(REFRESH_TOKEN.into()),
            Some(T0.wall + 1800)
        )
    );
    assert_eq!(
        at.stored_in_last().map(|s| s.scopes.clone()),
        Some(SCOPES.map(String::from).to_vec())
    );
}

#[test]
fn rotated_refresh_token_is_stored() {
    let mut at = Scenario::new().refreshing();
    at.respond_json(
        200,
        &json!({"access_token": "at-2", "token_type": "Bearer", "refresh_token": "rt-2", "scope": "mcp:read"}),
    );
    assert_eq!(
        refreshed_tokens(&at),
        ("at-2".into(), Some("rt-2".into()), None)
    );
    assert_eq!(
        at.stored_in_last().map(|s| s.scopes.clone()),
        Some(vec!["mcp:read".to_string()])
    );
}

#[test]
fn invalid_grant_clears_the_tokens_then_rediscovers() {
    let mut at = Scenario::new().refreshing();
    let out = at.respond_json(400, &json!({"error": "invalid_grant"}));
    assert_eq!(
        describe_all(&out),
        ["store-session".to_string(), get(RM, PRM_PATH_URL)]
    );
    let s = at.stored_in_last().expect("StoreSession");
    assert!(s.tokens.is_none());
    assert_eq!(s.client.client_id, CLIENT_ID);
    assert_eq!(s.client.redirect_uri.as_deref(), Some(REDIRECT_URI));
    assert_eq!(s.issuer, ISSUER);
    assert_eq!(at.header(), "Pending");
    // Cached AS metadata is reused; the stored client keeps its port.
    let out = at.respond_json(200, &prm_doc());
    assert_eq!(describe_all(&out), ["listen Some(49152)"]);
}

#[test]
fn invalid_client_forgets_the_dcr_redirect_so_the_client_registers_again() {
    let mut at = Scenario::new().refreshing();
    at.respond_json(401, &json!({"error": "invalid_client"}));
    let s = at.stored_in_last().expect("StoreSession");
    assert!(s.tokens.is_none());
    assert_eq!(s.client.redirect_uri, None);
    let out = at.respond_json(200, &prm_doc());
    assert_eq!(describe_all(&out), ["listen None"]);
    let out = at.feed(loopback_ready());
    assert_eq!(describe_all(&out), [post(Step::Registration, REGISTER_URL)]);
}

#[test]
fn transport_failure_keeps_the_session_and_tokens() {
    let mut at = Scenario::new().refreshing();
    let before = at.machine.session().map(|s| s.to_json());
    let out = at.fail_fetch(TransportErrorKind::Connect, "connection reset");
    // The access token is still valid: the renewal is only deferred (bad_days.rs has more).
    let err = Error::Transport {
        step: Step::Refresh,
        kind: TransportErrorKind::Connect,
        message: "connection reset".into(),
    };
    assert_eq!(
        describe_all(&out),
        [deferred(err, 30), status(AuthStatus::Authorized)]
    );
    assert_eq!(at.machine.session().map(|s| s.to_json()), before);
    assert!(at.store.as_ref().is_some_and(|s| s.tokens.is_some()));
    assert_eq!(at.header(), format!("Bearer {ACCESS_TOKEN}"));
}

#[test]
fn non_interactive_invalid_grant_clears_tokens_then_requires_login() {
    let session = canned_session(Some(T0.wall + 3600), Some(REFRESH_TOKEN));
    let mut at = Scenario::with_config(|c| c.interactive = false)
        .stored(session)
        .idle();
    at.command(|m, now| m.refresh(now));
    at.answer_load();
    at.expect_fetch(Step::Refresh);
    let out = at.respond_json(400, &json!({"error": "invalid_grant"}));
    let mut expected = vec!["store-session".to_string()];
    expected.extend(fail_lines(
        Error::LoginRequired,
        AuthStatus::AuthorizationRequired {
            server_host: Some(AS_HOST.into()),
        },
    ));
    assert_eq!(describe_all(&out), expected);
    assert!(at.store.as_ref().is_some_and(|s| s.tokens.is_none()));
    assert_eq!(at.header(), "LoginRequired");
}

#[test]
fn server_error_without_oauth_body_keeps_the_session() {
    let mut at = Scenario::new().refreshing();
    let out = at.respond_status(503);
    let err = Error::HttpStatus {
        step: Step::Refresh,
        status: 503,
    };
    assert_eq!(
        describe_all(&out),
        [deferred(err, 30), status(AuthStatus::Authorized)]
    );
    assert!(at.machine.session().is_some_and(|s| s.tokens.is_some()));
}
