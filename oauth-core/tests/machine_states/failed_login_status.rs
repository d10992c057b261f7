use super::*;

#[test]
fn access_denied_status_sequence_ends_authorization_required() {
    let mut at = Scenario::new().waiting_callback();
    let q = format!(
        "error=access_denied&state={}&iss={}",
        at.state(),
        enc(ISSUER)
    );
    at.callback(&q);
    let reason = Error::OAuth {
        step: Step::Authorization,
        code: "access_denied".into(),
        description: None,
    }
    .to_string();
    assert_eq!(
        at.status_log(),
        [
            AuthStatus::Working,
            waiting(),
            AuthStatus::Failed { reason },
            auth_required_at_as()
        ]
    );
    assert_eq!(at.header(), "LoginRequired");
    let out = at.feed(challenge(401, CHALLENGE));
    assert_eq!(
        describe_all(&out),
        [status(AuthStatus::Working), get(RM, PRM_PATH_URL)]
    );
}

#[test]
fn registration_failure_status_sequence_ends_authorization_required() {
    let mut at = Scenario::new().registering();
    at.respond_status(500);
    let reason = Error::HttpStatus {
        step: Step::Registration,
        status: 500,
    }
    .to_string();
    assert_eq!(
        at.status_log(),
        [
            AuthStatus::Working,
            AuthStatus::Failed { reason },
            auth_required_at_as()
        ]
    );
}

/// The server rejected the only token (no refresh token), and the new login failed: the
/// status must say a login is needed, as `authorization_header` does.
#[test]
fn rejected_token_then_failed_login_ends_authorization_required() {
    let session = canned_session(Some(T0.wall + 3600), None);
    let mut at = Scenario::new().stored(session).waiting_callback();
    let q = format!(
        "error=access_denied&state={}&iss={}",
        at.state(),
        enc(ISSUER)
    );
    at.callback(&q);
    assert_eq!(at.header(), "LoginRequired");
    assert_eq!(
        at.status_log().last(),
        Some(&AuthStatus::AuthorizationRequired {
            server_host: Some(AS_HOST.into())
        }),
        "{:?}",
        at.status_log()
    );
}
