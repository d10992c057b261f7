use super::*;

#[test]
fn metadata_accepted_asks_for_a_listener() {
    let at = Scenario::new().listening();
    assert_eq!(describe_all(&at.outputs), ["listen None"]);
    assert_eq!(at.machine.status(), &AuthStatus::Working);
}

#[test]
fn loopback_ready_posts_a_dcr_request_with_the_exact_json_body() {
    let at = Scenario::new().registering();
    assert_eq!(
        describe_all(&at.outputs),
        [post(Step::Registration, REGISTER_URL)]
    );
    let r = at.expect_fetch(Step::Registration);
    assert_eq!(
        r.headers,
        pairs(&[
            ("Content-Type", "application/json"),
            ("Accept", "application/json")
        ])
    );
    let body: Value = serde_json::from_slice(&r.body).expect("JSON body");
    assert_eq!(
        body,
        json!({
            "client_name": "mcp-oauth",
            "redirect_uris": [REDIRECT_URI],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "application_type": "native",
            "scope": "mcp:read mcp:write offline_access"
        })
    );
}

#[test]
fn cimd_when_configured_and_supported_skips_dcr() {
    let cimd = "https://client.example.com/oauth/metadata.json";
    let meta = with(
        meta_doc(),
        "client_id_metadata_document_supported",
        json!(true),
    );
    let at = Scenario::with_config(|c| c.client.metadata_document_url = Some(cimd.into()))
        .meta(meta)
        .waiting_callback();
    assert_eq!(
        describe_all(&at.outputs),
        ["open-browser".to_string(), status(waiting())]
    );
    assert!(!describe_all(&at.log)
        .iter()
        .any(|l| l.contains("Registration")));
    let url = at.browser_url.clone().expect("OpenBrowser");
    assert_eq!(param(&url, "client_id").as_deref(), Some(cimd));
}

#[test]
fn cimd_configured_but_unsupported_falls_back_to_dcr() {
    let cimd = "https://client.example.com/oauth/metadata.json";
    let at =
        Scenario::with_config(|c| c.client.metadata_document_url = Some(cimd.into())).registering();
    assert_eq!(
        describe_all(&at.outputs),
        [post(Step::Registration, REGISTER_URL)]
    );
}

fn pre_registered(issuer: Option<&str>) -> PreRegisteredClient {
    PreRegisteredClient {
        client_id: "pre-client".into(),
        client_secret: Some(mcp_oauth_core::ClientSecret::new("pre-secret")),
        auth_method: None,
        issuer: issuer.map(str::to_string),
    }
}

#[test]
fn pre_registered_client_skips_dcr_and_authenticates_at_the_token_endpoint() {
    let mut at =
        Scenario::with_config(|c| c.client.pre_registered = Some(pre_registered(Some(ISSUER))))
            .waiting_callback();
    assert_eq!(
        describe_all(&at.outputs),
        ["open-browser".to_string(), status(waiting())]
    );
    assert!(!describe_all(&at.log)
        .iter()
        .any(|l| l.contains("Registration")));
    let url = at.browser_url.clone().expect("OpenBrowser");
    assert_eq!(param(&url, "client_id").as_deref(), Some("pre-client"));
    at.callback_ok();
    let r = at.expect_fetch(Step::TokenExchange);
    // base64("pre-client:pre-secret"); the AS lists client_secret_basic (RFC 6749 §2.3.1).
    assert_eq!(
        r.header("Authorization"),
        Some("Basic cHJlLWNsaWVudDpwcmUtc2VjcmV0")
    );
    assert!(!r
        .form_pairs()
        .iter()
        .any(|(k, _)| k == "client_id" || k == "client_secret"));
}

#[test]
fn pre_registered_client_bound_to_another_issuer_fails() {
    let mut at = Scenario::with_config(|c| {
        c.client.pre_registered = Some(pre_registered(Some("https://other-as.example.com")))
    })
    .listening();
    let out = at.feed(loopback_ready());
    let err = Error::PreRegisteredIssuerMismatch {
        configured: "https://other-as.example.com".into(),
        discovered: ISSUER.into(),
    };
    assert_eq!(
        describe_all(&out),
        close_and_fail(err, auth_required_at_as())
    );
}

#[test]
fn no_registration_path_is_registration_unavailable() {
    let mut at = Scenario::new()
        .meta(with(meta_doc(), "registration_endpoint", Value::Null))
        .listening();
    let out = at.feed(loopback_ready());
    assert_eq!(
        describe_all(&out),
        close_and_fail(Error::RegistrationUnavailable, auth_required_at_as())
    );
}

#[test]
fn loopback_failed_fails_with_a_sanitised_message() {
    let mut at = Scenario::new().listening();
    let out = at.feed(Input::LoopbackFailed {
        error: "address in use\n\u{1b}[31m".into(),
    });
    let err = Error::Config("loopback listener: address in use[31m".into());
    assert_eq!(
        describe_all(&out),
        close_and_fail(err, auth_required_at_as())
    );
    assert!(!at.machine.is_busy());
}

#[test]
fn loopback_inputs_outside_listening_are_ignored() {
    let mut at = Scenario::new().at_prm_fetch();
    assert!(at.feed(loopback_ready()).is_empty());
    assert!(at
        .feed(Input::LoopbackFailed { error: "x".into() })
        .is_empty());
    assert_eq!(at.machine.status(), &AuthStatus::Working);
}

/// `ListenLoopback` and `CloseLoopback` in `log`, in that order, each listener closed once.
fn listeners_opened_and_closed(log: &[Output]) -> (usize, usize) {
    let (mut opened, mut closed) = (0, 0);
    for o in log {
        match o {
            Output::ListenLoopback { .. } => opened += 1,
            Output::CloseLoopback => {
                closed += 1;
                assert!(
                    closed <= opened,
                    "closed more than opened: {:?}",
                    describe_all(log)
                );
            }
            _ => {}
        }
    }
    (opened, closed)
}

/// A named way out of the browser step: where it starts, what it does.
type Exit = (&'static str, fn() -> At, fn(&mut At));

#[test]
fn every_way_out_of_the_browser_step_closes_its_listener_once() {
    let exits: Vec<Exit> = vec![
        (
            "listener failed",
            || Scenario::new().listening(),
            |at| {
                at.feed(Input::LoopbackFailed {
                    error: "port in use".into(),
                });
            },
        ),
        (
            "cancel while listening",
            || Scenario::new().listening(),
            |at| {
                at.command(|m, now| m.cancel(now));
            },
        ),
        (
            "logout while registering",
            || Scenario::new().registering(),
            |at| {
                at.command(|m, now| m.logout(now));
            },
        ),
        (
            "registration refused",
            || Scenario::new().registering(),
            |at| {
                at.respond_status(500);
            },
        ),
        (
            "timeout",
            || Scenario::new().waiting_callback(),
            |at| {
                at.advance(std::time::Duration::from_secs(24 * 3600));
                at.feed(Input::Timeout);
            },
        ),
        (
            "callback",
            || Scenario::new().waiting_callback(),
            |at| {
                at.callback_ok();
            },
        ),
        (
            "reset",
            || Scenario::new().waiting_callback(),
            |at| {
                // A reset forgets the flow without an output: the driver closes its listener.
                at.command(|m, now| m.reset(now, None));
                at.log.push(Output::CloseLoopback);
            },
        ),
    ];
    for (what, start, exit) in exits {
        let mut at = start();
        assert_eq!(listeners_opened_and_closed(&at.log), (1, 0), "{what}");
        exit(&mut at);
        assert_eq!(listeners_opened_and_closed(&at.log), (1, 1), "{what}");
        assert!(
            at.machine.poll_timeout().is_none(),
            "{what}: a deadline outlived the wait"
        );
    }
}

#[test]
fn the_deadline_exists_only_while_waiting_for_the_callback() {
    let mut at = Scenario::new().listening();
    assert!(at.machine.poll_timeout().is_none());
    let mut at_wait = Scenario::new().waiting_callback();
    let deadline = at_wait
        .machine
        .poll_timeout()
        .expect("waiting for the user");
    assert_eq!(deadline.reason, DeadlineReason::AuthorizationTimeout);
    // Before the deadline, a Timeout input changes nothing.
    assert!(at_wait.feed(Input::Timeout).is_empty());
    at_wait.callback_ok();
    assert!(at_wait.machine.poll_timeout().is_none());
    at.command(|m, now| m.cancel(now));
    assert!(at.machine.poll_timeout().is_none());
}
