//! A lax client fails here: each test sends one sloppy request and checks the answer and the
//! recorded violation.

use serde_json::json;

use super::test_support::*;
use super::*;

const RES: &str = "http://127.0.0.1:1000/mcp";

/// Browser step with `pairs`, on a default testbed with a registered client.
fn authorize_with(pairs: &[(&str, &str)]) -> (Testbed, mcp_oauth_core::HttpResponse) {
    let mut tb = bed(TestbedConfig::default());
    register(&mut tb);
    let url = authorize_url(&tb.as_endpoint("authorize"), pairs);
    let resp = tb.browser_get(T0, &url);
    (tb, resp)
}

fn without<'a>(pairs: Vec<(&'a str, &'a str)>, key: &str) -> Vec<(&'a str, &'a str)> {
    pairs.into_iter().filter(|(k, _)| *k != key).collect()
}

#[test]
fn authorization_request_slips() {
    let std = || std_authorize("test-client-id", Some(RES), None);

    let (tb, resp) = authorize_with(&without(std(), "code_challenge"));
    assert_eq!(
        location_param(&resp, "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(location_param(&resp, "state").as_deref(), Some(STATE));
    assert_eq!(tb.violations(), ["pkce-missing: no code_challenge (C1)"]);

    let mut plain = without(std(), "code_challenge_method");
    plain.push(("code_challenge_method", "plain"));
    let (tb, resp) = authorize_with(&plain);
    assert_eq!(
        location_param(&resp, "error").as_deref(),
        Some("invalid_request")
    );
    assert!(tb.has_violation("pkce-method"));

    let (tb, resp) = authorize_with(&without(std(), "state"));
    assert!(
        location_param(&resp, "code").is_some(),
        "still answered, as real ASes do"
    );
    assert_eq!(location_param(&resp, "state"), None);
    assert!(tb.has_violation("state-missing"));

    let (tb, resp) = authorize_with(&without(std(), "resource"));
    assert!(location_param(&resp, "code").is_some());
    assert!(tb.has_violation("resource-missing"));

    let mut other = without(std(), "redirect_uri");
    other.push(("redirect_uri", "http://127.0.0.1:6000/callback"));
    let (tb, resp) = authorize_with(&other);
    assert_eq!((resp.status, resp.header("location")), (400, None));
    assert!(tb.has_violation("redirect-uri-unregistered"));

    let mut token_type = without(std(), "response_type");
    token_type.push(("response_type", "token"));
    let (tb, resp) = authorize_with(&token_type);
    assert_eq!(
        location_param(&resp, "error").as_deref(),
        Some("unsupported_response_type")
    );
    assert!(tb.has_violation("response-type"));

    let mut stranger = without(std(), "client_id");
    stranger.push(("client_id", "who-am-i"));
    let (tb, resp) = authorize_with(&stranger);
    assert_eq!(resp.status, 400);
    assert!(tb.has_violation("unknown-client"));

    let mut offline = std();
    offline.push(("scope", "mcp:basic offline_access"));
    let (tb, resp) = authorize_with(&offline);
    assert_eq!(
        location_param(&resp, "error").as_deref(),
        Some("invalid_scope")
    );
    assert!(tb.has_violation("offline-access-unsupported"));
}

#[test]
fn offline_access_is_fine_when_listed() {
    let mut tb = preset("auth/offline-access-scope");
    let (_, tok) = login(&mut tb, Some("mcp:basic offline_access"));
    assert_eq!(tok["scope"], "mcp:basic offline_access");
    assert!(tok["refresh_token"].is_string());
    assert!(tb.violations().is_empty(), "{:?}", tb.violations());
}

#[test]
fn token_request_slips() {
    let setup = || {
        let mut tb = bed(TestbedConfig::default());
        let client_id = register(&mut tb);
        let code = authorize(&mut tb, &client_id, Some("mcp:basic"));
        (tb, client_id, code)
    };
    let check = |form: Vec<(&str, &str)>, tb: &mut Testbed, error: &str, violation: &str| {
        let resp = post_token(tb, T0, &form);
        assert_eq!(json_body(&resp)["error"], error, "{violation}");
        assert!(tb.has_violation(violation), "{:?}", tb.violations());
    };

    let wrong_verifier = "x".repeat(43);
    let (mut tb, id, code) = setup();
    let mut f = without(exchange_form(&id, &code, Some(RES)), "code_verifier");
    f.push(("code_verifier", &wrong_verifier));
    check(f, &mut tb, "invalid_grant", "pkce-mismatch");

    let (mut tb, id, code) = setup();
    check(
        without(exchange_form(&id, &code, Some(RES)), "code_verifier"),
        &mut tb,
        "invalid_grant",
        "pkce-verifier-missing",
    );

    let (mut tb, id, code) = setup();
    let mut f = without(exchange_form(&id, &code, Some(RES)), "redirect_uri");
    f.push(("redirect_uri", "http://127.0.0.1:5000/other"));
    check(f, &mut tb, "invalid_grant", "redirect-uri-mismatch");

    let (mut tb, id, code) = setup();
    check(
        exchange_form(&id, &code, Some("http://127.0.0.1:1000/mcp/")),
        &mut tb,
        "invalid_target",
        "resource-inconsistent",
    );

    let (mut tb, id, code) = setup();
    let resp = post_token(&mut tb, T0, &exchange_form(&id, &code, None));
    assert_eq!(
        resp.status, 200,
        "missing resource is recorded, not refused"
    );
    assert!(tb.has_violation("resource-missing"));

    // The default AS hands a public client a secret it must not use (the method follows the AS
    // metadata).
    let (mut tb, id, code) = setup();
    let mut f = exchange_form(&id, &code, Some(RES));
    f.push(("client_secret", "test-client-secret"));
    let resp = post_token(&mut tb, T0, &f);
    assert_eq!(
        (resp.status, json_body(&resp)["error"].clone()),
        (401, json!("invalid_client"))
    );
    assert!(tb.has_violation("client-auth-method"));

    let (mut tb, id, code) = setup();
    let mut f = without(exchange_form(&id, &code, Some(RES)), "client_id");
    f.push(("client_id", "someone-else"));
    check(f, &mut tb, "invalid_client", "unknown-client");
}

#[test]
fn registration_slips() {
    let mut tb = bed(TestbedConfig::default());
    let body = json!({ "client_name": "lax", "redirect_uris": [REDIRECT] });
    let endpoint = tb.as_endpoint("register");
    let resp = register_at(&mut tb, &endpoint, &body);
    assert_eq!(resp.status, 201);
    let reg = json_body(&resp);
    assert_eq!(
        reg["token_endpoint_auth_method"], "none",
        "unsupported default basic falls back to the AS's method"
    );
    assert_eq!(reg["grant_types"], json!(["authorization_code"]));
    assert!(tb.has_violation("dcr-application-type"));
    assert!(tb.has_violation("dcr-grant-types"));

    let resp = register_at(&mut tb, &endpoint, &json!({ "redirect_uris": [] }));
    assert_eq!(json_body(&resp)["error"], "invalid_redirect_uri");
    let req = mcp_oauth_core::HttpRequest::post_form(tb.as_endpoint("register"), &[("a", "b")]);
    assert_eq!(
        json_body(&tb.handle(T0, &req))["error"],
        "invalid_client_metadata"
    );
    assert_eq!(tb.registered_clients(0), vec!["test-client-id".to_string()]);
}

#[test]
fn scope_selection_checks() {
    let mut tb = preset("auth/scope-from-scopes-supported");
    let client_id = register(&mut tb);
    authorize(&mut tb, &client_id, Some("mcp:basic"));
    assert!(tb.has_violation("scope-selection"));

    let mut tb = preset("auth/scope-from-scopes-supported");
    let client_id = register(&mut tb);
    authorize(&mut tb, &client_id, Some("mcp:basic mcp:read mcp:write"));
    assert!(tb.violations().is_empty(), "{:?}", tb.violations());

    // Step-up must ask for the union (MCP 2026-07-28 "Step-Up Authorization Flow"), not just the
    // challenged scope.
    let mut tb = preset("auth/scope-step-up");
    let client_id = register(&mut tb);
    authorize(&mut tb, &client_id, Some("mcp:basic"));
    authorize(&mut tb, &client_id, Some("mcp:write"));
    assert_eq!(
        tb.violations(),
        ["scope-union: re-authorization scope [\"mcp:write\"] lacks [\"mcp:basic\"] (SC5)"]
    );

    let mut tb = preset("auth/scope-omitted-when-undefined");
    let client_id = register(&mut tb);
    authorize(&mut tb, &client_id, Some("mcp:basic"));
    assert!(tb.has_violation("scope-selection"));
}

#[test]
fn retry_limit_counts_authorizations() {
    let mut tb = preset("auth/scope-retry-limit");
    let client_id = register(&mut tb);
    for _ in 0..3 {
        authorize(&mut tb, &client_id, Some("mcp:admin"));
    }
    assert!(tb.violations().is_empty(), "{:?}", tb.violations());
    authorize(&mut tb, &client_id, Some("mcp:admin"));
    assert_eq!(
        tb.violations(),
        ["too-many-authorizations: authorization request #4 (limit 3, SC6)"]
    );
}

#[test]
fn token_in_query_and_unknown_paths() {
    let mut tb = bed(TestbedConfig::default());
    let mut req = mcp_post(&tb, None, &rpc(1, "ping", json!({})));
    req.url = format!("{}?access_token=leak", tb.mcp_url());
    assert_eq!(tb.handle(T0, &req).status, 401);
    assert!(tb.has_violation("token-in-query"));
    assert_eq!(get(&mut tb, "http://127.0.0.1:9999/mcp").status, 404);
    assert_eq!(get(&mut tb, "http://127.0.0.1:9999/token").status, 404);
    assert_eq!(tb.log().last().map(|r| r.kind), Some(RequestKind::Other));
    assert_eq!(get(&mut tb, "not a url").status, 400);
    assert_eq!(tb.log().last().map(|r| r.kind), Some(RequestKind::Other));
    let req = mcp_oauth_core::HttpRequest::get_json(tb.as_endpoint("token"));
    assert_eq!(tb.handle(T0, &req).status, 405);
}
