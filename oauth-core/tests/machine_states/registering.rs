use super::*;

#[test]
fn registered_opens_the_browser_with_a_complete_authorization_url() {
    let at = Scenario::new().waiting_callback();
    assert_eq!(
        describe_all(&at.outputs),
        ["open-browser".to_string(), status(waiting())]
    );
    let url = at.browser_url.clone().expect("OpenBrowser");
    assert!(url.starts_with(&format!("{AUTHORIZE_URL}?")), "{url}");
    let q = query_pairs(&url);
    let names: Vec<&str> = q.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "response_type",
            "client_id",
            "redirect_uri",
            "scope",
            "state",
            "code_challenge",
            "code_challenge_method",
            "resource"
        ]
    );
    let v = |n: &str| param(&url, n).unwrap_or_default();
    assert_eq!(v("response_type"), "code");
    assert_eq!(v("client_id"), CLIENT_ID);
    assert_eq!(v("redirect_uri"), REDIRECT_URI);
    assert_eq!(v("scope"), "mcp:read mcp:write offline_access");
    assert!(v("state").len() >= 43, "state too short");
    assert_eq!(v("state"), at.state());
    assert_eq!(v("code_challenge").len(), 43);
    assert_eq!(v("code_challenge_method"), "S256");
    assert_eq!(v("resource"), SERVER);
    assert_eq!(
        at.machine.poll_timeout(),
        Some(Deadline {
            at: T0.instant + Duration::from_secs(300),
            reason: DeadlineReason::AuthorizationTimeout
        })
    );
}

#[test]
fn invalid_client_metadata_fails_with_the_oauth_error() {
    let mut at = Scenario::new().registering();
    let out = at.respond_json(
        400,
        &json!({"error": "invalid_client_metadata", "error_description": "bad redirect_uris"}),
    );
    let err = Error::OAuth {
        step: Step::Registration,
        code: "invalid_client_metadata".into(),
        description: Some("bad redirect_uris".into()),
    };
    assert_eq!(
        describe_all(&out),
        close_and_fail(err, auth_required_at_as())
    );
}

#[test]
fn transport_failure_fails_with_the_step() {
    let mut at = Scenario::new().registering();
    let out = at.fail_fetch(TransportErrorKind::Connect, "connection reset");
    let err = Error::Transport {
        step: Step::Registration,
        kind: TransportErrorKind::Connect,
        message: "connection reset".into(),
    };
    assert_eq!(
        describe_all(&out),
        close_and_fail(err, auth_required_at_as())
    );
}
