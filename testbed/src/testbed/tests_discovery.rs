//! Discovery: PRM and AS metadata locations of each scenario, the wrong-path and priority traps,
//! and the presets.

use serde_json::json;

use super::test_support::*;
use super::*;

#[test]
fn every_listed_scenario_has_a_preset() {
    for name in CONFORMANCE_AUTH_SCENARIOS {
        let cfg = TestbedConfig::conformance(name).unwrap_or_else(|| panic!("{name}"));
        assert_eq!(
            TestbedConfig::conformance(name.trim_start_matches("auth/")),
            Some(cfg)
        );
    }
    assert_eq!(CONFORMANCE_AUTH_SCENARIOS.len(), 27);
    assert!(TestbedConfig::conformance("auth/dpop").is_none());
    assert!(Testbed::conformance("nope", MCP, AS, AS2).is_none());
}

#[test]
fn default_metadata_document() {
    let mut tb = bed(TestbedConfig::default());
    let resp = get(
        &mut tb,
        &format!("{AS}/.well-known/oauth-authorization-server"),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(
        json_body(&resp),
        json!({
            "issuer": AS,
            "authorization_endpoint": format!("{AS}/authorize"),
            "token_endpoint": format!("{AS}/token"),
            "registration_endpoint": format!("{AS}/register"),
            "revocation_endpoint": format!("{AS}/revoke"),
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_methods_supported": ["none"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["mcp:basic", "mcp:write"],
            "authorization_response_iss_parameter_supported": true,
        })
    );
    assert_eq!(
        get(&mut tb, &format!("{AS}/.well-known/openid-configuration")).status,
        404
    );
    assert!(
        tb.violations().is_empty(),
        "no issuer path: probing OIDC is fine"
    );
}

#[test]
fn metadata_var1_serves_only_root_oidc() {
    let mut tb = preset("auth/metadata-var1");
    assert_eq!(
        get(
            &mut tb,
            &format!("{AS}/.well-known/oauth-authorization-server")
        )
        .status,
        404
    );
    let meta = json_body(&get(
        &mut tb,
        &format!("{AS}/.well-known/openid-configuration"),
    ));
    assert_eq!(meta["issuer"], AS);
    assert_eq!(meta["jwks_uri"], format!("{AS}/.well-known/jwks.json"));
    assert_eq!(meta["subject_types_supported"], json!(["public"]));
    assert!(meta.get("revocation_endpoint").is_none());
    assert!(meta.get("scopes_supported").is_none());
    let prm = get(
        &mut tb,
        &format!("{MCP}/.well-known/oauth-protected-resource/mcp"),
    );
    assert_eq!(prm.status, 200);
    assert!(tb.violations().is_empty(), "{:?}", tb.violations());
}

#[test]
fn metadata_var2_root_prm_and_path_issuer() {
    let mut tb = preset("auth/metadata-var2");
    assert_eq!(tb.issuer(), "http://127.0.0.1:2000/tenant1");
    assert_eq!(tb.resource().as_deref(), Some(MCP));
    assert_eq!(
        get(
            &mut tb,
            &format!("{MCP}/.well-known/oauth-protected-resource/mcp")
        )
        .status,
        404
    );
    let prm = json_body(&get(
        &mut tb,
        &format!("{MCP}/.well-known/oauth-protected-resource"),
    ));
    assert_eq!(
        prm,
        json!({ "resource": MCP, "authorization_servers": ["http://127.0.0.1:2000/tenant1"] })
    );
    let meta = json_body(&get(
        &mut tb,
        &format!("{AS}/.well-known/oauth-authorization-server/tenant1"),
    ));
    assert_eq!(meta["issuer"], "http://127.0.0.1:2000/tenant1");
    assert_eq!(
        meta["authorization_endpoint"],
        "http://127.0.0.1:2000/tenant1/authorize"
    );
    assert!(tb.violations().is_empty(), "{:?}", tb.violations());

    assert_eq!(
        get(
            &mut tb,
            &format!("{AS}/.well-known/oauth-authorization-server")
        )
        .status,
        404
    );
    assert!(tb.has_violation("as-metadata-wrong-path"));

    // The bare-origin resource must travel unchanged: a trailing slash is refused.
    let mut tb = preset("auth/metadata-var2");
    let (_, tok) = login(&mut tb, None);
    assert_eq!(tok["access_token"], "test-token-3");
    assert!(tb.violations().is_empty(), "{:?}", tb.violations());
    let url = authorize_url(
        &tb.as_endpoint("authorize"),
        &std_authorize("test-client-id", Some("http://127.0.0.1:1000/"), None),
    );
    let resp = tb.browser_get(T0, &url);
    assert_eq!(
        location_param(&resp, "error").as_deref(),
        Some("invalid_target")
    );
    assert!(tb.has_violation("resource-mismatch"));
}

#[test]
fn metadata_var3_custom_prm_and_oidc_append() {
    let mut tb = preset("auth/metadata-var3");
    for path in [
        "/.well-known/oauth-authorization-server/tenant1",
        "/.well-known/openid-configuration/tenant1",
    ] {
        assert_eq!(get(&mut tb, &format!("{AS}{path}")).status, 404, "{path}");
    }
    let meta = json_body(&get(
        &mut tb,
        &format!("{AS}/tenant1/.well-known/openid-configuration"),
    ));
    assert_eq!(meta["issuer"], "http://127.0.0.1:2000/tenant1");
    let prm = get(&mut tb, &format!("{MCP}/custom/metadata/location.json"));
    assert_eq!(json_body(&prm)["resource"], "http://127.0.0.1:1000/mcp");
    assert_eq!(tb.count(RequestKind::ResourceMetadata), 1);
    assert_eq!(tb.count(RequestKind::ServerMetadata), 3);
    assert!(tb.violations().is_empty(), "{:?}", tb.violations());

    get(
        &mut tb,
        &format!("{MCP}/.well-known/oauth-protected-resource/mcp"),
    );
    assert!(tb.has_violation("prm-ignored-challenge"));
}

#[test]
fn prm_priority_order() {
    // The challenge named the path-based PRM: any root fetch is the metadata-default trap.
    let mut tb = preset("auth/metadata-default");
    get(
        &mut tb,
        &format!("{MCP}/.well-known/oauth-protected-resource/mcp"),
    );
    assert!(tb.violations().is_empty());
    get(
        &mut tb,
        &format!("{MCP}/.well-known/oauth-protected-resource"),
    );
    assert!(tb.has_violation("prm-priority-order"));

    // No header: root before path-based breaks the RFC 9728 §3.1 order (path-based
    // first); after it, it does not.
    let mut tb = preset("auth/metadata-var1");
    get(
        &mut tb,
        &format!("{MCP}/.well-known/oauth-protected-resource"),
    );
    assert!(tb.has_violation("prm-priority-order"));
    let mut tb = preset("auth/metadata-var1");
    get(
        &mut tb,
        &format!("{MCP}/.well-known/oauth-protected-resource/mcp"),
    );
    get(
        &mut tb,
        &format!("{MCP}/.well-known/oauth-protected-resource"),
    );
    assert!(tb.violations().is_empty(), "{:?}", tb.violations());
}

#[test]
fn metadata_issuer_mismatch_endpoints_are_traps() {
    let mut tb = preset("auth/metadata-issuer-mismatch");
    let meta = json_body(&get(
        &mut tb,
        &format!("{AS}/.well-known/oauth-authorization-server"),
    ));
    assert_eq!(meta["issuer"], "https://attacker.example.com");
    assert_eq!(
        meta["registration_endpoint"],
        format!("{AS}/mismatched-as/register")
    );
    assert!(tb.violations().is_empty());
    register_at(
        &mut tb,
        &format!("{AS}/mismatched-as/register"),
        &dcr_body(),
    );
    assert!(tb.has_violation("issuer-mismatch-ignored"));
}

#[test]
fn resource_mismatch_prm_must_stop_the_client() {
    let mut tb = preset("auth/resource-mismatch");
    let prm = json_body(&get(
        &mut tb,
        &format!("{MCP}/.well-known/oauth-protected-resource/mcp"),
    ));
    assert_eq!(prm["resource"], "https://evil.example.com/mcp");
    assert!(tb.violations().is_empty());
    let client_id = register(&mut tb);
    authorize(&mut tb, &client_id, None);
    assert!(tb.has_violation("resource-mismatch-ignored"));
}

#[test]
fn iss_modes_and_advertisement() {
    let cases: [(&str, Option<&str>, Option<bool>); 6] = [
        ("iss-supported", Some(AS), Some(true)),
        ("iss-not-advertised", None, None),
        ("iss-supported-missing", None, Some(true)),
        (
            "iss-wrong-issuer",
            Some("https://evil.example.com"),
            Some(true),
        ),
        ("iss-unexpected", Some("https://evil.example.com"), None),
        ("iss-normalized", Some("http://127.0.0.1:2000/"), Some(true)),
    ];
    for (name, iss, advertised) in cases {
        let mut tb = preset(name);
        let meta = json_body(&get(
            &mut tb,
            &format!("{AS}/.well-known/oauth-authorization-server"),
        ));
        assert_eq!(
            meta.get("authorization_response_iss_parameter_supported")
                .and_then(|v| v.as_bool()),
            advertised,
            "{name}"
        );
        let client_id = register(&mut tb);
        let url = authorize_url(
            &tb.as_endpoint("authorize"),
            &std_authorize(&client_id, Some("http://127.0.0.1:1000/mcp"), None),
        );
        let resp = tb.browser_get(T0, &url);
        assert_eq!(location_param(&resp, "iss").as_deref(), iss, "{name}");
        let code = location_param(&resp, "code").unwrap();
        post_token(
            &mut tb,
            T0,
            &exchange_form(&client_id, &code, Some("http://127.0.0.1:1000/mcp")),
        );
        let bad = !matches!(name, "iss-supported" | "iss-not-advertised");
        assert_eq!(tb.has_violation("iss-ignored"), bad, "{name}");
    }
}
