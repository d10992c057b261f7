use super::*;

#[test]
fn wrong_or_missing_state_is_rejected_and_the_wait_goes_on() {
    let mut at = Scenario::new().waiting_callback();
    for q in [format!("code={CODE}&state=forged"), format!("code={CODE}")] {
        let out = at.callback(&q);
        assert_eq!(
            describe_all(&out),
            [format!("callback-rejected {:?}", Error::StateMismatch)]
        );
        assert_eq!(at.machine.status(), &waiting());
        assert!(at.machine.poll_timeout().is_some());
    }
    let out = describe_all(&at.callback_ok());
    assert!(
        out.contains(&post(Step::TokenExchange, TOKEN_URL)),
        "{out:?}"
    );
}

#[test]
fn duplicate_parameters_are_rejected_and_the_wait_goes_on() {
    let mut at = Scenario::new().waiting_callback();
    let s = at.state();
    let out = at.callback(&format!("code=a&code=b&state={s}"));
    assert_eq!(
        describe_all(&out),
        [format!(
            "callback-rejected {:?}",
            Error::DuplicateParameter("code".into())
        )]
    );
    let out = at.callback(&format!("code=a&state={s}&state={s}"));
    assert_eq!(
        describe_all(&out),
        [format!(
            "callback-rejected {:?}",
            Error::DuplicateParameter("state".into())
        )]
    );
    assert_eq!(at.machine.status(), &waiting());
    assert_eq!(fetches(&at.outputs), 0);
}

#[test]
fn good_callback_closes_the_listener_then_posts_the_exact_token_form() {
    let mut at = Scenario::new().waiting_callback();
    let url = at.browser_url.clone().expect("OpenBrowser");
    let out = at.callback_ok();
    assert_eq!(
        describe_all(&out),
        [
            "close-loopback".to_string(),
            status(AuthStatus::Working),
            post(Step::TokenExchange, TOKEN_URL)
        ]
    );
    let r = at.expect_fetch(Step::TokenExchange);
    assert_eq!(
        r.headers,
        pairs(&[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Accept", "application/json")
        ])
    );
    let form = r.form_pairs();
    let verifier = form.get(3).map(|(_, v)| v.clone()).unwrap_or_default();
    assert_eq!(
        form,
        pairs(&[
            ("grant_type", "authorization_code"),
            ("code", CODE),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &verifier),
            ("resource", SERVER),
            ("client_id", CLIENT_ID),
        ])
    );
    assert_eq!(verifier.len(), 43);
    assert_eq!(
        Some(challenge_s256(&verifier)),
        param(&url, "code_challenge")
    );
    assert_eq!(at.machine.poll_timeout(), None);
}

#[test]
fn right_state_without_code_or_error_is_malformed() {
    let mut at = Scenario::new().waiting_callback();
    let out = at.callback(&format!("state={}&iss={}", at.state(), enc(ISSUER)));
    let err = Error::Malformed {
        step: Step::Authorization,
        detail: "the authorization response carries neither a code nor an error".into(),
    };
    assert_eq!(
        describe_all(&out),
        close_and_fail(err, auth_required_at_as())
    );
}

#[test]
fn timeout_and_callback_outside_the_browser_step_are_ignored() {
    let mut at = Scenario::new().registering();
    at.advance(Duration::from_secs(3600));
    assert!(at.feed(Input::Timeout).is_empty());
    assert!(at.callback(&format!("code={CODE}&state=x")).is_empty());
    assert_eq!(at.machine.status(), &AuthStatus::Working);
    assert_eq!(at.machine.poll_timeout(), None);
}

#[test]
fn a_pasted_redirect_url_is_accepted() {
    let mut at = Scenario::new().waiting_callback();
    let q = format!(
        "{REDIRECT_URI}?code={CODE}&state={}&iss={}",
        at.state(),
        enc(ISSUER)
    );
    at.callback(&q);
    assert_eq!(
        form(&at, Step::TokenExchange)[1],
        ("code".into(), CODE.into())
    );
}

/// RFC 9207 §2.4 table as MCP 2026-07-28 Authorization, "Authorization Response Validation",
/// applies it, with no normalisation: (advertised, iss) → accepted?
#[test]
fn iss_table() {
    let rows: [(bool, Option<&str>, bool); 8] = [
        (true, Some(ISSUER), true),
        (true, None, false),
        (true, Some("https://evil.example.com"), false),
        (true, Some("https://as.example.com/"), false),
        (false, None, true),
        (false, Some(ISSUER), true),
        (false, Some("https://evil.example.com"), false),
        (false, Some("https://AS.example.com"), false),
    ];
    for (advertised, iss, accepted) in rows {
        let meta = with(
            meta_doc(),
            "authorization_response_iss_parameter_supported",
            json!(advertised),
        );
        let mut at = Scenario::new().meta(meta).waiting_callback();
        let mut q = format!("code={CODE}&state={}", at.state());
        if let Some(iss) = iss {
            q.push_str(&format!("&iss={}", enc(iss)));
        }
        let out = at.callback(&q);
        let expected = if accepted {
            vec![
                "close-loopback".to_string(),
                status(AuthStatus::Working),
                post(Step::TokenExchange, TOKEN_URL),
            ]
        } else {
            close_and_fail(Error::IssMismatch, auth_required_at_as())
        };
        assert_eq!(
            describe_all(&out),
            expected,
            "advertised={advertised} iss={iss:?}"
        );
    }
}

#[test]
fn access_denied_fails_with_the_oauth_error() {
    let mut at = Scenario::new().waiting_callback();
    let q = format!(
        "error=access_denied&error_description=The+user+said+no&state={}&iss={}",
        at.state(),
        enc(ISSUER)
    );
    let out = at.callback(&q);
    let err = Error::OAuth {
        step: Step::Authorization,
        code: "access_denied".into(),
        description: Some("The user said no".into()),
    };
    assert_eq!(
        describe_all(&out),
        close_and_fail(err, auth_required_at_as())
    );
    assert_eq!(at.machine.poll_timeout(), None);
}

#[test]
fn timeout_before_the_deadline_is_ignored_after_it_fails() {
    let mut at = Scenario::new().waiting_callback();
    at.advance(Duration::from_secs(299));
    assert!(at.feed(Input::Timeout).is_empty());
    assert_eq!(at.machine.status(), &waiting());
    at.advance(Duration::from_secs(1));
    let out = at.feed(Input::Timeout);
    assert_eq!(
        describe_all(&out),
        close_and_fail(Error::AuthorizationTimeout, auth_required_at_as())
    );
    assert_eq!(at.machine.poll_timeout(), None);
    assert!(!at.machine.is_busy());
    // A callback after the timeout is ignored.
    assert!(at.callback_ok().is_empty());
}

#[test]
fn status_carries_the_as_host_and_other_inputs_are_ignored() {
    let mut at = Scenario::new().waiting_callback();
    assert_eq!(at.machine.status(), &waiting());
    assert!(at.feed(challenge(401, CHALLENGE)).is_empty());
    at.command(|m, now| m.authorize(now));
    assert!(at.outputs.is_empty());
    assert_eq!(at.header(), "Pending");
}
