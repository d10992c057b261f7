use super::*;

#[test]
fn token_stored_before_authorized_with_the_full_session() {
    let mut at = Scenario::new().exchanging_code();
    let out = at.respond_json(200, &token_doc());
    assert_eq!(
        describe_all(&out),
        [
            "store-session".to_string(),
            status(AuthStatus::Authorized),
            "authorized".into()
        ]
    );
    let s = at.stored_in_last().expect("StoreSession").clone();
    assert_eq!(s.version, SESSION_VERSION);
    assert_eq!(s.server, SERVER);
    assert_eq!(s.resource.as_deref(), Some(SERVER));
    assert_eq!(s.issuer, ISSUER);
    assert_eq!(s.token_endpoint, TOKEN_URL);
    assert_eq!(s.revocation_endpoint.as_deref(), Some(REVOKE_URL));
    assert_eq!(s.client.kind, ClientKind::Dynamic);
    assert_eq!(s.client.issuer, ISSUER);
    assert_eq!(s.client.client_id, CLIENT_ID);
    assert!(s.client.client_secret.is_none());
    assert_eq!(s.client.auth_method, ClientAuthMethod::None);
    assert_eq!(s.client.redirect_uri.as_deref(), Some(REDIRECT_URI));
    let t = s.tokens.as_ref().expect("tokens");
    assert_eq!(t.access_token.expose_secret(), ACCESS_TOKEN);
    assert_eq!(
        t.refresh_token.as_ref().map(|r| r.expose_secret()),
        Some(REFRESH_TOKEN)
    );
    assert_eq!(t.expires_at, Some(T0.wall + EXPIRES_IN));
    assert_eq!(s.scopes, SCOPES);
    assert_eq!(at.machine.session().map(|m| m.to_json()), Some(s.to_json()));
    assert_eq!(at.header(), format!("Bearer {ACCESS_TOKEN}"));
    assert!(!at.machine.is_busy());
}

#[test]
fn granted_scope_absent_keeps_the_requested_scopes() {
    let at = Scenario::new()
        .token(with(token_doc(), "scope", Value::Null))
        .authorized();
    assert_eq!(
        at.machine.session().map(|s| s.scopes.clone()),
        Some(SCOPES.map(String::from).to_vec())
    );
}

#[test]
fn confidential_dcr_client_uses_basic_authentication() {
    let dcr = with(dcr_doc(), "client_secret", json!("dcr-secret"));
    let dcr = with(
        dcr,
        "token_endpoint_auth_method",
        json!("client_secret_basic"),
    );
    let at = Scenario::new().dcr(201, dcr).exchanging_code();
    let r = at.expect_fetch(Step::TokenExchange);
    // base64("client-abc:dcr-secret")
    assert_eq!(
        r.header("Authorization"),
        Some("Basic Y2xpZW50LWFiYzpkY3Itc2VjcmV0")
    );
    assert!(!r.form_pairs().iter().any(|(k, _)| k == "client_id"));
}

/// Feeds `LoopbackReady` if the machine asked for a listener.
fn through_listener(at: &mut At) {
    if at
        .outputs
        .iter()
        .any(|o| matches!(o, Output::ListenLoopback { .. }))
    {
        at.feed(loopback_ready());
    }
}

#[test]
fn invalid_client_with_a_reused_dcr_client_re_registers_once() {
    let mut stored = canned_session(None, None);
    stored.tokens = None;
    let mut at = Scenario::new().stored(stored).listening();
    // The stored client's port is requested again so its redirect URI stays valid.
    assert_eq!(describe_all(&at.outputs), ["listen Some(49152)"]);
    let out = at.feed(loopback_ready());
    assert_eq!(
        describe_all(&out),
        ["open-browser".to_string(), status(waiting())]
    );
    at.callback_ok();
    assert_eq!(
        form(&at, Step::TokenExchange)[5],
        ("client_id".into(), CLIENT_ID.into())
    );
    at.respond_json(401, &json!({"error": "invalid_client"}));
    through_listener(&mut at);
    at.expect_fetch(Step::Registration);
    at.respond_json(201, &with(dcr_doc(), "client_id", json!("client-new")));
    at.expect(|o| matches!(o, Output::OpenBrowser(_)), "OpenBrowser");
    assert_listener_up_at_every_browser_step(&at.log);
    at.callback_ok();
    assert_eq!(
        form(&at, Step::TokenExchange)[5],
        ("client_id".into(), "client-new".into())
    );
    // A second invalid_client: no more re-registration.
    let out = at.respond_json(401, &json!({"error": "invalid_client"}));
    let err = Error::OAuth {
        step: Step::TokenExchange,
        code: "invalid_client".into(),
        description: None,
    };
    assert_eq!(
        describe_all(&out),
        fail_lines(
            err,
            AuthStatus::AuthorizationRequired {
                server_host: Some(AS_HOST.into())
            }
        )
    );
}

#[test]
fn invalid_client_with_a_fresh_dcr_client_fails() {
    let mut at = Scenario::new().exchanging_code();
    let out = at.respond_json(400, &json!({"error": "invalid_client"}));
    let err = Error::OAuth {
        step: Step::TokenExchange,
        code: "invalid_client".into(),
        description: None,
    };
    assert_eq!(describe_all(&out), fail_lines(err, auth_required_at_as()));
}

#[test]
fn invalid_grant_fails_and_returns_to_authorization_required() {
    let mut at = Scenario::new().exchanging_code();
    let out = at.respond_json(
        400,
        &json!({"error": "invalid_grant", "error_description": "code expired"}),
    );
    let err = Error::OAuth {
        step: Step::TokenExchange,
        code: "invalid_grant".into(),
        description: Some("code expired".into()),
    };
    assert_eq!(describe_all(&out), fail_lines(err, auth_required_at_as()));
    assert!(!at.machine.is_busy());
    assert_eq!(at.header(), "LoginRequired");
    // Not a dead end: the next 401 starts over.
    let out = at.feed(challenge(401, CHALLENGE));
    assert_eq!(
        describe_all(&out),
        [status(AuthStatus::Working), get(RM, PRM_PATH_URL)]
    );
}

#[test]
fn a_transport_failure_keeps_its_kind_and_its_message_is_sanitised() {
    for (kind, expected) in [
        (
            TransportErrorKind::Timeout,
            Error::Transport {
                step: Step::TokenExchange,
                kind: TransportErrorKind::Timeout,
                message: "timed out after 30 s".into(),
            },
        ),
        (
            TransportErrorKind::Refused,
            Error::Transport {
                step: Step::TokenExchange,
                kind: TransportErrorKind::Refused,
                message: "timed out after 30 s".into(),
            },
        ),
        (
            TransportErrorKind::TooLarge,
            Error::ResponseTooLarge {
                step: Step::TokenExchange,
            },
        ),
    ] {
        let mut at = Scenario::new().exchanging_code();
        let id = at.last_fetch().expect("the code exchange").0;
        // Public fields: an adapter may put anything there; the machine sanitises it.
        let out = at.feed(Input::HttpFailed {
            id,
            error: TransportError {
                kind,
                message: "timed out\r\n after 30 s\u{1b}".into(),
            },
        });
        assert_eq!(
            describe_all(&out),
            fail_lines(expected, auth_required_at_as())
        );
    }
}
