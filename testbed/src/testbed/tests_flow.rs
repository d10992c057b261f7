//! Whole flows driven by hand: DCR → browser → token → MCP, on each topology.

use mcp_oauth_core::HttpRequest;
use serde_json::json;

use super::test_support::*;
use super::*;

#[test]
fn default_flow_end_to_end() {
    let mut tb = bed(TestbedConfig::default());
    assert_eq!(tb.mcp_url(), "http://127.0.0.1:1000/mcp");

    // 1. unauthenticated MCP request → 401 naming the path-based PRM.
    let resp = tb.handle(T0, &mcp_post(&tb, None, &rpc(1, "initialize", json!({}))));
    assert_eq!(resp.status, 401);
    assert_eq!(
        www_auth(&resp),
        "Bearer error=\"invalid_token\", error_description=\"Missing Authorization header\", \
         resource_metadata=\"http://127.0.0.1:1000/.well-known/oauth-protected-resource/mcp\""
    );

    // 2. PRM, 3. AS metadata.
    let prm_url = tb.prm_url().unwrap();
    let prm = json_body(&get(&mut tb, &prm_url));
    assert_eq!(
        prm,
        json!({
            "resource": "http://127.0.0.1:1000/mcp",
            "authorization_servers": ["http://127.0.0.1:2000"],
            "scopes_supported": ["mcp:basic", "mcp:write"],
        })
    );
    let meta = json_body(&get(
        &mut tb,
        "http://127.0.0.1:2000/.well-known/oauth-authorization-server",
    ));
    assert_eq!(meta["issuer"], "http://127.0.0.1:2000");
    assert_eq!(
        meta["registration_endpoint"],
        "http://127.0.0.1:2000/register"
    );
    assert_eq!(meta["revocation_endpoint"], "http://127.0.0.1:2000/revoke");

    // 4. DCR.
    let resp = register_at(&mut tb, "http://127.0.0.1:2000/register", &dcr_body());
    assert_eq!(resp.status, 201);
    let reg = json_body(&resp);
    assert_eq!(reg["client_id"], "test-client-id");
    assert_eq!(reg["client_secret"], "test-client-secret");
    assert_eq!(reg["token_endpoint_auth_method"], "none");
    assert_eq!(reg["redirect_uris"], json!([REDIRECT]));
    assert_eq!(reg["application_type"], "native");

    // 5. browser step: 302 with code, state and iss, in that order.
    let url = authorize_url(
        "http://127.0.0.1:2000/authorize",
        &std_authorize(
            "test-client-id",
            Some("http://127.0.0.1:1000/mcp"),
            Some("mcp:basic mcp:write"),
        ),
    );
    let resp = tb.browser_get(T0, &url);
    assert_eq!(resp.status, 302);
    assert_eq!(
        resp.header("location"),
        Some("http://127.0.0.1:5000/callback?code=test-auth-code-2&state=state-123&iss=http%3A%2F%2F127.0.0.1%3A2000")
    );

    // 6. code exchange.
    let resp = post_token(
        &mut tb,
        T0 + 1,
        &exchange_form(
            "test-client-id",
            "test-auth-code-2",
            Some("http://127.0.0.1:1000/mcp"),
        ),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("cache-control"), Some("no-store"));
    assert_eq!(
        json_body(&resp),
        json!({
            "access_token": "test-token-3",
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": "mcp:basic mcp:write",
            "refresh_token": "test-refresh-4",
        })
    );

    // 7. MCP calls with the token (SSE framed).
    let resp = tb.handle(
        T0 + 2,
        &mcp_post(&tb, Some("test-token-3"), &rpc(2, "tools/list", json!({}))),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("text/event-stream"));
    let msg = sse_message(&resp);
    assert_eq!(msg["id"], 2);
    assert_eq!(msg["result"]["tools"][0]["name"], "test-tool");
    assert_eq!(msg["result"]["tools"][1]["name"], "admin-tool");
    let call = rpc(
        3,
        "tools/call",
        json!({ "name": "admin-tool", "arguments": {} }),
    );
    let resp = tb.handle(T0 + 3, &mcp_post(&tb, Some("test-token-3"), &call));
    assert_eq!(
        sse_message(&resp)["result"]["content"][0]["text"],
        "admin ok"
    );

    // The observed facts tests assert on.
    assert!(tb.violations().is_empty(), "{:?}", tb.violations());
    assert_eq!(tb.count(RequestKind::Mcp), 3);
    assert_eq!(tb.count(RequestKind::ResourceMetadata), 1);
    assert_eq!(tb.count(RequestKind::ServerMetadata), 1);
    assert_eq!(tb.count(RequestKind::Registration), 1);
    assert_eq!(tb.count(RequestKind::Authorize), 1);
    assert_eq!(tb.count(RequestKind::Token), 1);
    assert_eq!(tb.log().len(), 8);
    let authz = &tb.authorize_requests()[0];
    assert!(authz.contains(&("resource".into(), "http://127.0.0.1:1000/mcp".into())));
    let tok = &tb.token_requests()[0];
    assert!(tok.contains(&("redirect_uri".into(), REDIRECT.into())));
    assert_eq!(tb.token_request_authorizations(), vec![None]);
    assert_eq!(tb.registration_requests(), vec![dcr_body()]);
    assert_eq!(tb.log()[0].rpc_method(), Some("initialize"));
    assert_eq!(tb.log()[0].status, 401);
    assert_eq!(tb.registered_clients(0), vec!["test-client-id".to_string()]);
    let debug = format!("{tb:?}");
    assert!(
        !debug.contains("test-token-3") && !debug.contains("test-client-secret"),
        "{debug}"
    );
    assert!(debug.contains("http://127.0.0.1:2000"));
    tb.clear_log();
    assert!(tb.log().is_empty());
}

#[test]
fn stateless_wire_after_login() {
    let mut tb = bed(TestbedConfig::default());
    let (_, tok) = login(&mut tb, Some("mcp:basic"));
    let token = access_token(&tok);
    let resp = tb.handle(
        T0,
        &mcp_post_stateless(&tb, Some(&token), 7, "tools/list", json!({})),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    let body = json_body(&resp);
    assert_eq!(body["id"], 7);
    assert_eq!(body["result"]["resultType"], "complete");
    assert_eq!(body["result"]["ttlMs"], 0);
    assert_eq!(body["result"]["cacheScope"], "private");
    assert_eq!(body["result"]["tools"], tools()["tools"]);
    let call = mcp_post_stateless(
        &tb,
        Some(&token),
        8,
        "tools/call",
        json!({ "name": "test-tool" }),
    );
    let body = json_body(&tb.handle(T0, &call));
    assert_eq!(
        body["result"],
        json!({ "content": [{ "type": "text", "text": "test" }], "resultType": "complete" })
    );
    assert!(tb.violations().is_empty(), "{:?}", tb.violations());
}

#[test]
fn legacy_endpoint_fallback_on_the_mcp_origin() {
    let mut tb = preset("auth/2025-03-26-oauth-endpoint-fallback");
    assert_eq!(tb.issuer(), MCP);
    assert_eq!(tb.resource(), None);
    let resp = tb.handle(T0, &mcp_post(&tb, None, &rpc(1, "initialize", json!({}))));
    assert_eq!(
        www_auth(&resp),
        "Bearer error=\"invalid_token\", error_description=\"Missing Authorization header\""
    );
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        assert_eq!(get(&mut tb, &format!("{MCP}{path}")).status, 404, "{path}");
    }
    let resp = register_at(&mut tb, &format!("{MCP}/register"), &dcr_body());
    assert_eq!(resp.status, 201);
    let url = authorize_url(
        &format!("{MCP}/authorize"),
        &std_authorize("test-client-id", None, None),
    );
    let resp = tb.browser_get(T0, &url);
    assert_eq!(location_param(&resp, "iss"), None);
    let code = location_param(&resp, "code").unwrap();
    let resp = post_token(&mut tb, T0, &exchange_form("test-client-id", &code, None));
    let token = access_token(&json_body(&resp));
    assert!(json_body(&resp).get("refresh_token").is_none());
    let resp = tb.handle(
        T0,
        &mcp_post(
            &tb,
            Some(&token),
            &rpc(2, "initialize", json!({ "protocolVersion": "2025-03-26" })),
        ),
    );
    assert_eq!(
        sse_message(&resp)["result"]["protocolVersion"],
        "2025-03-26"
    );
    assert!(tb.violations().is_empty(), "{:?}", tb.violations());
    assert_eq!(tb.count(RequestKind::ResourceMetadata), 2);
    assert_eq!(tb.count(RequestKind::ServerMetadata), 2);
}

#[test]
fn legacy_metadata_backcompat_advertises_oauth_endpoints() {
    let mut tb = preset("2025-03-26-oauth-metadata-backcompat");
    let meta = json_body(&get(
        &mut tb,
        &format!("{MCP}/.well-known/oauth-authorization-server"),
    ));
    assert_eq!(meta["issuer"], MCP);
    assert_eq!(
        meta["authorization_endpoint"],
        format!("{MCP}/oauth/authorize")
    );
    assert_eq!(meta["token_endpoint"], format!("{MCP}/oauth/token"));
    assert_eq!(
        meta["registration_endpoint"],
        format!("{MCP}/oauth/register")
    );
    assert_eq!(
        register_at(&mut tb, &format!("{MCP}/register"), &dcr_body()).status,
        404
    );
    let (_, tok) = login(&mut tb, None);
    assert_eq!(tok["access_token"], "test-token-3");
    assert!(tb.violations().is_empty(), "{:?}", tb.violations());
}

#[test]
fn pre_registration_requires_basic_credentials() {
    let mut tb = preset("auth/pre-registration");
    let meta = json_body(&get(
        &mut tb,
        &format!("{AS}/.well-known/oauth-authorization-server"),
    ));
    assert!(meta.get("registration_endpoint").is_none());
    assert_eq!(
        meta["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic"])
    );
    assert_eq!(
        register_at(&mut tb, &format!("{AS}/register"), &dcr_body()).status,
        404
    );

    let attempt = |tb: &mut Testbed, basic: Option<&str>| {
        let code = authorize(tb, "pre-registered-client", None);
        let mut req = HttpRequest::post_form(
            tb.as_endpoint("token"),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
                ("resource", "http://127.0.0.1:1000/mcp"),
            ],
        );
        if let Some(b) = basic {
            req.headers.push(("Authorization".into(), b.to_string()));
        }
        tb.handle(T0, &req)
    };
    // base64("pre-registered-client:pre-registered-secret")
    let good = "Basic cHJlLXJlZ2lzdGVyZWQtY2xpZW50OnByZS1yZWdpc3RlcmVkLXNlY3JldA==";
    let resp = attempt(&mut tb, Some(good));
    assert_eq!(resp.status, 200);
    assert!(tb.violations().is_empty(), "{:?}", tb.violations());

    // base64("pre-registered-client:wrong")
    let resp = attempt(&mut tb, Some("Basic cHJlLXJlZ2lzdGVyZWQtY2xpZW50Ondyb25n"));
    assert_eq!(resp.status, 401);
    assert_eq!(json_body(&resp)["error"], "invalid_client");
    assert_eq!(www_auth(&resp), "Basic realm=\"testbed\"");
    assert!(tb.has_violation("client-auth-failed"));

    let resp = attempt(&mut tb, None);
    assert_eq!(resp.status, 401);
    assert_eq!(json_body(&resp)["error"], "invalid_client");
    assert!(tb.has_violation("client-auth-missing"));
}

#[test]
fn token_endpoint_auth_basic_and_post_via_dcr() {
    let mut tb = preset("auth/token-endpoint-auth-basic");
    let reg = json_body(&register_at(
        &mut tb,
        &format!("{AS}/register"),
        &dcr_body(),
    ));
    assert_eq!(reg["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(reg["client_secret"], "test-client-secret");
    let code = authorize(&mut tb, "test-client-id", None);
    let mut req = HttpRequest::post_form(
        tb.as_endpoint("token"),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("resource", "http://127.0.0.1:1000/mcp"),
        ],
    );
    // base64("test-client-id:test-client-secret")
    req.headers.push((
        "Authorization".into(),
        "Basic dGVzdC1jbGllbnQtaWQ6dGVzdC1jbGllbnQtc2VjcmV0".into(),
    ));
    assert_eq!(tb.handle(T0, &req).status, 200);
    assert!(tb.violations().is_empty(), "{:?}", tb.violations());

    let mut tb = preset("auth/token-endpoint-auth-post");
    register_at(&mut tb, &format!("{AS}/register"), &dcr_body());
    let code = authorize(&mut tb, "test-client-id", None);
    let mut form = exchange_form("test-client-id", &code, Some("http://127.0.0.1:1000/mcp"));
    form.push(("client_secret", "test-client-secret"));
    assert_eq!(post_token(&mut tb, T0, &form).status, 200);
    assert!(tb.violations().is_empty(), "{:?}", tb.violations());
}

#[test]
fn cimd_client_id_is_accepted_without_registration() {
    let mut tb = preset("auth/basic-cimd");
    let meta = json_body(&get(
        &mut tb,
        &format!("{AS}/.well-known/oauth-authorization-server"),
    ));
    assert_eq!(meta["client_id_metadata_document_supported"], true);
    let code = authorize(&mut tb, CONFORMANCE_CIMD_URL, None);
    let resp = post_token(
        &mut tb,
        T0,
        &exchange_form(
            CONFORMANCE_CIMD_URL,
            &code,
            Some("http://127.0.0.1:1000/mcp"),
        ),
    );
    assert_eq!(resp.status, 200);
    assert!(tb.violations().is_empty(), "{:?}", tb.violations());
    authorize(&mut tb, "https://other.example/client.json", None);
    assert!(tb.has_violation("cimd-client-id"));
}

#[test]
fn denied_consent_redirects_with_access_denied() {
    let mut tb = bed(TestbedConfig {
        consent: Consent::Deny,
        ..TestbedConfig::default()
    });
    let client_id = register(&mut tb);
    let url = authorize_url(
        &tb.as_endpoint("authorize"),
        &std_authorize(&client_id, Some("http://127.0.0.1:1000/mcp"), None),
    );
    let resp = tb.browser_get(T0, &url);
    assert_eq!(resp.status, 302);
    assert_eq!(
        resp.header("location"),
        Some("http://127.0.0.1:5000/callback?error=access_denied&error_description=the+user+denied+the+request&state=state-123&iss=http%3A%2F%2F127.0.0.1%3A2000")
    );
    assert!(tb.violations().is_empty(), "{:?}", tb.violations());
}
