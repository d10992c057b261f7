use super::*;

fn done() -> Vec<String> {
    vec![
        "clear-session".into(),
        "logged-out".into(),
        status(auth_required()),
    ]
}

#[test]
fn refresh_token_first_then_access_token_then_clear() {
    let mut at = Scenario::new().revoking();
    assert_eq!(
        describe_all(&at.outputs),
        [post(Step::Revocation, REVOKE_URL)]
    );
    assert_eq!(
        form(&at, Step::Revocation),
        pairs(&[
            ("token", REFRESH_TOKEN),
            ("token_type_hint", "refresh_token"),
            ("client_id", CLIENT_ID)
        ])
    );
    let out = at.respond_status(200);
    assert_eq!(describe_all(&out), [post(Step::Revocation, REVOKE_URL)]);
    assert_eq!(
        form(&at, Step::Revocation),
        pairs(&[
            ("token", ACCESS_TOKEN),
            ("token_type_hint", "access_token"),
            ("client_id", CLIENT_ID)
        ])
    );
    let out = at.respond_status(200);
    assert_eq!(describe_all(&out), done());
    assert!(at.machine.session().is_none());
    assert!(at.store.is_none());
    assert_eq!(at.header(), "LoginRequired");
}

#[test]
fn revocation_errors_still_clear() {
    let mut at = Scenario::new().revoking();
    at.respond_status(503);
    let out = at.fail_fetch(TransportErrorKind::Connect, "connection reset");
    assert_eq!(describe_all(&out), done());
}

#[test]
fn without_a_revocation_endpoint_logout_clears_at_once() {
    let mut at = Scenario::new()
        .meta(with(meta_doc(), "revocation_endpoint", Value::Null))
        .authorized();
    at.command(|m, now| m.logout(now));
    assert_eq!(describe_all(&at.outputs), done());
}

#[test]
fn logout_during_the_browser_step_closes_the_listener() {
    let mut at = Scenario::new().waiting_callback();
    at.command(|m, now| m.logout(now));
    let mut expected = vec!["close-loopback".to_string()];
    expected.extend(done());
    assert_eq!(describe_all(&at.outputs), expected);
    assert_eq!(at.machine.poll_timeout(), None);
    assert!(at.callback_ok().is_empty());
}

#[test]
fn a_refresh_answer_after_logout_is_stale() {
    let mut at = Scenario::new().refreshing();
    let refresh_id = at.id.expect("refresh id");
    at.command(|m, now| m.logout(now));
    let out = at.feed(Input::HttpResponse {
        id: refresh_id,
        response: mcp_oauth_core::HttpResponse::json(200, &token_doc()),
    });
    assert!(out.is_empty());
}
