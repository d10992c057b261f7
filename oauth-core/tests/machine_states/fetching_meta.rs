use super::*;

#[test]
fn issuer_mismatch_fails_hard_without_trying_the_next_candidate() {
    let mut at = Scenario::new().at_meta_fetch();
    let out = at.respond_json(
        200,
        &with(meta_doc(), "issuer", json!("https://as.example.com/")),
    );
    let err = Error::IssuerMismatch {
        expected: ISSUER.into(),
        found: "https://as.example.com/".into(),
    };
    assert_eq!(describe_all(&out), fail_lines(err, auth_required()));
}

#[test]
fn no_s256_is_pkce_unsupported() {
    for methods in [Value::Null, json!(["plain"])] {
        let mut at = Scenario::new().at_meta_fetch();
        let doc = with(meta_doc(), "code_challenge_methods_supported", methods);
        let out = at.respond_json(200, &doc);
        assert_eq!(
            describe_all(&out),
            fail_lines(Error::PkceUnsupported, auth_required())
        );
    }
}

#[test]
fn no_s256_proceeds_when_not_required_and_still_sends_s256() {
    let doc = with(meta_doc(), "code_challenge_methods_supported", Value::Null);
    let mut at = Scenario::with_config(|c| c.require_pkce_s256 = false)
        .meta(doc)
        .at_meta_fetch();
    let out = at.respond_json(200, &at.scenario.meta.clone());
    assert_eq!(describe_all(&out), ["listen None"]);
    at.feed(loopback_ready());
    at.respond_json(201, &dcr_doc());
    let url = at.browser_url.clone().expect("OpenBrowser");
    assert_eq!(
        param(&url, "code_challenge_method").as_deref(),
        Some("S256")
    );
}

#[test]
fn root_issuer_falls_back_to_oidc_then_fails() {
    let mut at = Scenario::new().at_meta_fetch();
    assert_eq!(describe_all(&at.respond_status(404)), [get(SM, OIDC_URL)]);
    let out = at.respond_status(404);
    assert_eq!(
        describe_all(&out),
        fail_lines(Error::DiscoveryFailed, auth_required())
    );
}

#[test]
fn transport_failure_tries_the_next_candidate() {
    let mut at = Scenario::new().at_meta_fetch();
    assert_eq!(
        describe_all(&at.fail_fetch(TransportErrorKind::Timeout, "timeout")),
        [get(SM, OIDC_URL)]
    );
}

#[test]
fn path_issuer_tries_three_urls_in_order_and_never_the_root() {
    let issuer = "https://as.example.com/tenant1";
    let mut at = Scenario::new()
        .prm(with(prm_doc(), "authorization_servers", json!([issuer])))
        .at_meta_fetch();
    assert_eq!(
        describe_all(&at.outputs),
        [get(
            SM,
            "https://as.example.com/.well-known/oauth-authorization-server/tenant1"
        )]
    );
    assert_eq!(
        describe_all(&at.respond_status(404)),
        [get(
            SM,
            "https://as.example.com/.well-known/openid-configuration/tenant1"
        )]
    );
    assert_eq!(
        describe_all(&at.respond_status(404)),
        [get(
            SM,
            "https://as.example.com/tenant1/.well-known/openid-configuration"
        )]
    );
    let out = at.respond_status(404);
    assert_eq!(
        describe_all(&out),
        fail_lines(Error::DiscoveryFailed, auth_required())
    );
    let log = describe_all(&at.log);
    assert!(!log.contains(&get(SM, META_URL)) && !log.contains(&get(SM, OIDC_URL)));
}

#[test]
fn path_issuer_metadata_from_the_oidc_fallback_is_used() {
    let issuer = "https://as.example.com/tenant1";
    let mut at = Scenario::new()
        .prm(with(prm_doc(), "authorization_servers", json!([issuer])))
        .at_meta_fetch();
    at.respond_status(404);
    let out = at.respond_json(200, &with(meta_doc(), "issuer", json!(issuer)));
    assert_eq!(describe_all(&out), ["listen None"]);
}

#[test]
fn endpoint_failing_the_url_policy_is_insecure_url() {
    let mut at = Scenario::new().at_meta_fetch();
    let doc = with(
        meta_doc(),
        "token_endpoint",
        json!("http://as.example.com/token"),
    );
    let out = at.respond_json(200, &doc);
    let err = Error::InsecureUrl {
        url: "http://as.example.com/token".into(),
        reason: "plain http is only allowed for loopback hosts".into(),
    };
    assert_eq!(describe_all(&out), fail_lines(err, auth_required()));
}

#[test]
fn missing_token_endpoint_is_malformed() {
    let mut at = Scenario::new().at_meta_fetch();
    let out = at.respond_json(200, &with(meta_doc(), "token_endpoint", Value::Null));
    let err = Error::Malformed {
        step: SM,
        detail: "authorization_endpoint and token_endpoint are required".into(),
    };
    assert_eq!(describe_all(&out), fail_lines(err, auth_required()));
}
