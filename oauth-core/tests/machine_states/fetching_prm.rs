use super::*;

#[test]
fn not_found_tries_the_next_candidate_then_legacy_metadata_at_the_origin() {
    let mut at = Scenario::new().at_prm_fetch();
    assert_eq!(
        describe_all(&at.respond_status(404)),
        [get(RM, PRM_ROOT_URL)]
    );
    // No PRM anywhere: 2025-03-26 servers keep the AS at the server origin (MCP
    // 2025-03-26 Authorization, "Server Metadata Discovery").
    assert_eq!(
        describe_all(&at.respond_status(404)),
        [get(
            SM,
            "https://mcp.example.com/.well-known/oauth-authorization-server"
        )]
    );
    assert_eq!(
        describe_all(&at.respond_status(404)),
        [get(
            SM,
            "https://mcp.example.com/.well-known/openid-configuration"
        )]
    );
    // No metadata either: default endpoints at the origin (MCP 2025-03-26 Authorization,
    // "Fallbacks for Servers without Metadata Discovery").
    assert_eq!(describe_all(&at.respond_status(404)), ["listen None"]);
    let out = at.feed(loopback_ready());
    assert_eq!(
        describe_all(&out),
        [post(Step::Registration, "https://mcp.example.com/register")]
    );
    at.respond_json(201, &dcr_doc());
    let url = at.browser_url.clone().expect("OpenBrowser");
    assert!(
        url.starts_with("https://mcp.example.com/authorize?"),
        "{url}"
    );
    assert_eq!(param(&url, "resource").as_deref(), Some(SERVER));
}

#[test]
fn no_prm_without_legacy_discovery_fails() {
    let mut at = Scenario::with_config(|c| c.legacy_discovery = false).at_prm_fetch();
    at.respond_status(404);
    let out = at.respond_status(404);
    assert_eq!(
        describe_all(&out),
        fail_lines(Error::DiscoveryFailed, auth_required())
    );
}

#[test]
fn resource_mismatch_fails_without_further_fetch() {
    let mut at = Scenario::new().at_prm_fetch();
    let evil = with(prm_doc(), "resource", json!("https://evil.example.com/mcp"));
    let out = at.respond_json(200, &evil);
    let err = Error::ResourceMismatch {
        expected: SERVER.into(),
        found: "https://evil.example.com/mcp".into(),
    };
    assert_eq!(describe_all(&out), fail_lines(err, auth_required()));
    assert!(!at.machine.is_busy());
}

#[test]
fn unknown_and_stale_request_ids_are_ignored() {
    let mut at = Scenario::new().at_prm_fetch();
    let first = at.id.expect("fetch id");
    let out = at.feed(Input::HttpResponse {
        id: RequestId(999),
        response: mcp_oauth_core::HttpResponse::json(200, &prm_doc()),
    });
    assert!(out.is_empty());
    assert_eq!(at.machine.status(), &AuthStatus::Working);
    at.respond_status(404); // path → root
    assert_ne!(at.id, Some(first));
    // A late answer to the first probe: stale, ignored.
    let out = at.feed(Input::HttpResponse {
        id: first,
        response: mcp_oauth_core::HttpResponse::json(200, &prm_doc()),
    });
    assert!(out.is_empty());
    let out = at.feed(Input::HttpFailed {
        id: first,
        error: TransportError::new(TransportErrorKind::Other, "late"),
    });
    assert!(out.is_empty());
    // The current probe still works.
    assert_eq!(
        describe_all(&at.respond_json(200, &prm_doc())),
        [get(SM, META_URL)]
    );
}

#[test]
fn transport_failure_tries_the_next_candidate() {
    let mut at = Scenario::new().at_prm_fetch();
    assert_eq!(
        describe_all(&at.fail_fetch(TransportErrorKind::Connect, "connection refused")),
        [get(RM, PRM_ROOT_URL)]
    );
}

#[test]
fn malformed_document_tries_the_next_candidate() {
    let mut at = Scenario::new().at_prm_fetch();
    let out = at.respond_json(
        200,
        &json!({"resource": SERVER, "authorization_servers": []}),
    );
    assert_eq!(describe_all(&out), [get(RM, PRM_ROOT_URL)]);
}

#[test]
fn accepted_prm_fetches_rfc8414_metadata_of_its_first_issuer() {
    let at = Scenario::new().at_meta_fetch();
    assert_eq!(describe_all(&at.outputs), [get(SM, META_URL)]);
    assert_eq!(
        at.expect_fetch(SM).headers,
        pairs(&[("Accept", "application/json")])
    );
}
