use super::*;

#[test]
fn challenge_401_with_same_origin_resource_metadata_fetches_only_that_url() {
    let url = "https://mcp.example.com/.well-known/custom-prm";
    let at = Scenario::new()
        .challenge(&[&format!(r#"Bearer resource_metadata="{url}""#)])
        .at_prm_fetch();
    assert_eq!(
        describe_all(&at.outputs),
        [status(AuthStatus::Working), get(RM, url)]
    );
    let r = at.expect_fetch(RM);
    assert_eq!(r.headers, pairs(&[("Accept", "application/json")]));
    assert!(r.body.is_empty());
    assert_eq!(at.machine.status(), &AuthStatus::Working);
    assert!(at.machine.is_busy());
}

#[test]
fn challenge_401_with_relative_resource_metadata_resolves_against_the_server_origin() {
    let at = Scenario::new()
        .challenge(&[r#"Bearer resource_metadata="/.well-known/custom-prm""#])
        .at_prm_fetch();
    assert_eq!(
        describe_all(&at.outputs),
        [
            status(AuthStatus::Working),
            get(RM, "https://mcp.example.com/.well-known/custom-prm")
        ]
    );
}

#[test]
fn challenge_401_with_cross_origin_resource_metadata_probes_path_then_root() {
    let mut at = Scenario::new()
        .challenge(&[r#"Bearer resource_metadata="https://evil.example.com/.well-known/oauth-protected-resource""#])
        .at_prm_fetch();
    assert_eq!(
        describe_all(&at.outputs),
        [status(AuthStatus::Working), get(RM, PRM_PATH_URL)]
    );
    assert_eq!(
        describe_all(&at.respond_status(404)),
        [get(RM, PRM_ROOT_URL)]
    );
    assert!(!describe_all(&at.log).iter().any(|l| l.contains("evil")));
}

#[test]
fn challenge_401_without_resource_metadata_probes_path_then_root() {
    let mut at = Scenario::new().at_prm_fetch();
    assert_eq!(
        describe_all(&at.outputs),
        [status(AuthStatus::Working), get(RM, PRM_PATH_URL)]
    );
    assert_eq!(
        describe_all(&at.respond_status(404)),
        [get(RM, PRM_ROOT_URL)]
    );
}

#[test]
fn proactive_authorize_starts_discovery() {
    let mut at = Scenario::new().idle();
    at.command(|m, now| m.authorize(now));
    assert_eq!(
        describe_all(&at.outputs),
        [status(AuthStatus::Working), get(RM, PRM_PATH_URL)]
    );
}

#[test]
fn forbidden_403_insufficient_scope_without_session_starts_discovery_for_the_challenged_scope() {
    let mut at = Scenario::new().idle();
    let out = at.feed(challenge(
        403,
        r#"Bearer error="insufficient_scope", scope="mcp:admin""#,
    ));
    assert_eq!(
        describe_all(&out),
        [status(AuthStatus::Working), get(RM, PRM_PATH_URL)]
    );
    at.respond_json(200, &prm_doc());
    at.respond_json(200, &meta_doc());
    at.feed(loopback_ready());
    at.respond_json(201, &dcr_doc());
    let url = at.browser_url.clone().expect("OpenBrowser");
    assert_eq!(
        param(&url, "scope").as_deref(),
        Some("mcp:admin offline_access")
    );
}

#[test]
fn forbidden_403_without_insufficient_scope_fails_forbidden_without_fetch() {
    let mut at = Scenario::new().idle();
    let out = at.feed(challenge(403, r#"Bearer error="invalid_token""#));
    assert_eq!(
        describe_all(&out),
        [format!("failed {:?}", Error::Forbidden)]
    );
    let out = at.feed(Input::Challenge {
        status: 403,
        www_authenticate: vec![],
    });
    assert_eq!(
        describe_all(&out),
        [format!("failed {:?}", Error::Forbidden)]
    );
    assert_eq!(at.machine.status(), &auth_required());
    assert!(!at.machine.is_busy());
}

#[test]
fn session_loaded_with_tokens_is_authorized_with_zero_fetches() {
    let session = canned_session(Some(T0.wall + 3600), Some(REFRESH_TOKEN));
    let mut at = Scenario::new().stored(session).idle();
    assert_eq!(describe_all(&at.log), [status(AuthStatus::Authorized)]);
    assert_eq!(at.header(), format!("Bearer {ACCESS_TOKEN}"));
    assert!(at.outputs.is_empty());
    assert_eq!(fetches(&at.log), 0);
}

#[test]
fn session_loaded_without_tokens_requires_authorization_and_names_the_as() {
    let mut session = canned_session(None, None);
    session.tokens = None;
    let mut at = Scenario::new().stored(session).idle();
    let host = AuthStatus::AuthorizationRequired {
        server_host: Some(AS_HOST.into()),
    };
    assert_eq!(describe_all(&at.log), [status(host.clone())]);
    assert_eq!(at.machine.status(), &host);
    assert_eq!(at.header(), "LoginRequired");
}

#[test]
fn session_loaded_for_another_server_is_ignored() {
    let mut session = canned_session(Some(T0.wall + 3600), None);
    session.server = "https://other.example.com/mcp".into();
    let mut at = Scenario::new().stored(session).idle();
    assert!(at.log.is_empty());
    assert!(at.machine.session().is_none());
    assert_eq!(at.header(), "LoginRequired");
}

/// Only versions `Session::from_json` accepts (1..=SESSION_VERSION) may be used.
#[test]
fn session_loaded_with_an_unsupported_version_is_ignored() {
    for version in [SESSION_VERSION + 1, 0] {
        let mut session = canned_session(Some(T0.wall + 3600), None);
        session.version = version;
        let mut at = Scenario::new().stored(session).idle();
        assert!(
            at.log.is_empty(),
            "version {version}: {:?}",
            describe_all(&at.log)
        );
        assert_eq!(at.header(), "LoginRequired", "version {version}");
    }
}

#[test]
fn authorization_header_variants() {
    // No session, idle: login required.
    let mut at = Scenario::new().idle();
    assert_eq!(at.header(), "LoginRequired");
    // No session, login in flight: pending.
    let mut at = Scenario::new().at_prm_fetch();
    assert_eq!(at.header(), "Pending");
    assert!(at.outputs.is_empty());
    // Valid token: ready.
    let fresh = canned_session(Some(T0.wall + 3600), Some(REFRESH_TOKEN));
    let mut at = Scenario::new().stored(fresh).idle();
    assert_eq!(at.header(), format!("Bearer {ACCESS_TOKEN}"));
    // Unknown expiry: ready (valid until a 401).
    let mut at = Scenario::new().stored(canned_session(None, None)).idle();
    assert_eq!(at.header(), format!("Bearer {ACCESS_TOKEN}"));
    // Within the 60 s margin with a refresh token: pending, and the refresh starts.
    let soon = canned_session(Some(T0.wall + 30), Some(REFRESH_TOKEN));
    let mut at = Scenario::new().stored(soon).idle();
    assert_eq!(at.header(), "Pending");
    assert_eq!(
        describe_all(&at.outputs),
        [status(AuthStatus::Working), "load-session".into()]
    );
    // Within the margin, no refresh token, not yet expired: still usable.
    let mut at = Scenario::new()
        .stored(canned_session(Some(T0.wall + 30), None))
        .idle();
    assert_eq!(at.header(), format!("Bearer {ACCESS_TOKEN}"));
    assert!(at.outputs.is_empty());
    // Expired, no refresh token: login required.
    let mut at = Scenario::new()
        .stored(canned_session(Some(T0.wall), None))
        .idle();
    assert_eq!(at.header(), "LoginRequired");
    assert!(at.outputs.is_empty());
}

#[test]
fn non_interactive_reports_login_required_without_any_fetch() {
    let mut at = Scenario::with_config(|c| c.interactive = false).idle();
    let out = at.feed(challenge(401, CHALLENGE));
    assert_eq!(
        describe_all(&out),
        fail_lines(Error::LoginRequired, auth_required())
    );
    at.command(|m, now| m.authorize(now));
    assert_eq!(
        describe_all(&at.outputs),
        fail_lines(Error::LoginRequired, auth_required())
    );
    assert_eq!(fetches(&at.log), 0);
    assert!(!at
        .log
        .iter()
        .any(|o| matches!(o, Output::ListenLoopback { .. })));
    assert_eq!(at.header(), "LoginRequired");
}

/// A rejected token without a refresh token, login impossible: the status must not claim
/// `Authorized` when `authorization_header` answers `LoginRequired`.
#[test]
fn non_interactive_401_without_refresh_token_ends_authorization_required() {
    let session = canned_session(Some(T0.wall + 3600), None);
    let mut at = Scenario::with_config(|c| c.interactive = false)
        .stored(session)
        .idle();
    let out = at.feed(challenge(401, CHALLENGE));
    assert_eq!(fetches(&out), 0);
    assert_eq!(at.header(), "LoginRequired");
    assert_eq!(
        at.machine.status(),
        &AuthStatus::AuthorizationRequired {
            server_host: Some(AS_HOST.into())
        },
        "status after a rejected token and a failed login: {:?}",
        describe_all(&out)
    );
}
