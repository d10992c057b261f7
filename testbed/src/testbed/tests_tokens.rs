//! Token lifecycle: single-use codes, refresh rotation and reuse detection, revocation, expiry on
//! the virtual clock, and the test helpers.

use mcp_oauth_core::HttpRequest;
use serde_json::json;

use super::test_support::*;
use super::*;

const RES: &str = "http://127.0.0.1:1000/mcp";

fn refresh(
    tb: &mut Testbed,
    client_id: &str,
    rt: &str,
    extra: &[(&str, &str)],
) -> mcp_oauth_core::HttpResponse {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", rt),
        ("client_id", client_id),
        ("resource", RES),
    ];
    form.extend_from_slice(extra);
    post_token(tb, T0 + 10, &form)
}

fn list_status(tb: &mut Testbed, now: u64, token: &str) -> u16 {
    let req = mcp_post(tb, Some(token), &rpc(9, "tools/list", json!({})));
    tb.handle(now, &req).status
}

#[test]
fn refresh_rotates_and_reuse_revokes_the_family() {
    let mut tb = bed(TestbedConfig::default());
    let (client_id, tok) = login(&mut tb, Some("mcp:basic mcp:write"));
    let rt1 = tok["refresh_token"].as_str().unwrap().to_string();

    let resp = refresh(&mut tb, &client_id, &rt1, &[]);
    assert_eq!(resp.status, 200);
    let body = json_body(&resp);
    assert_eq!(
        body,
        json!({
            "access_token": "test-token-5",
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": "mcp:basic mcp:write",
            "refresh_token": "test-refresh-6",
        })
    );
    assert!(tb.violations().is_empty(), "{:?}", tb.violations());
    assert_eq!(list_status(&mut tb, T0 + 11, "test-token-5"), 200);

    // The rotated token again: invalid_grant, and the whole grant dies.
    let resp = refresh(&mut tb, &client_id, &rt1, &[]);
    assert_eq!(resp.status, 400);
    assert_eq!(json_body(&resp)["error"], "invalid_grant");
    assert!(tb.has_violation("refresh-reuse"));
    assert_eq!(list_status(&mut tb, T0 + 12, "test-token-5"), 401);
    let resp = refresh(&mut tb, &client_id, "test-refresh-6", &[]);
    assert_eq!(json_body(&resp)["error"], "invalid_grant");
}

#[test]
fn refresh_without_rotation_keeps_the_token() {
    let mut tb = bed(TestbedConfig {
        rotate_refresh_tokens: false,
        ..TestbedConfig::default()
    });
    let (client_id, tok) = login(&mut tb, Some("mcp:basic"));
    let rt = tok["refresh_token"].as_str().unwrap().to_string();
    for _ in 0..2 {
        let body = json_body(&refresh(&mut tb, &client_id, &rt, &[]));
        assert!(body.get("refresh_token").is_none(), "{body}");
        assert!(body["access_token"]
            .as_str()
            .unwrap()
            .starts_with("test-token-"));
    }
    assert!(tb.violations().is_empty(), "{:?}", tb.violations());
}

#[test]
fn refresh_checks_scope_resource_and_client() {
    let mut tb = bed(TestbedConfig::default());
    let (client_id, tok) = login(&mut tb, Some("mcp:basic"));
    let rt = tok["refresh_token"].as_str().unwrap().to_string();

    let resp = refresh(
        &mut tb,
        &client_id,
        &rt,
        &[("scope", "mcp:basic mcp:write")],
    );
    assert_eq!(json_body(&resp)["error"], "invalid_scope");
    assert!(tb.has_violation("refresh-scope-widened"));

    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt.as_str()),
        ("client_id", client_id.as_str()),
        ("resource", "http://127.0.0.1:1000/"),
    ];
    assert_eq!(
        json_body(&post_token(&mut tb, T0, &form))["error"],
        "invalid_target"
    );
    assert!(tb.has_violation("resource-inconsistent"));

    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt.as_str()),
        ("client_id", client_id.as_str()),
    ];
    assert_eq!(post_token(&mut tb, T0, &form).status, 200);
    assert!(tb.has_violation("resource-missing"));

    let resp = refresh(&mut tb, &client_id, "test-refresh-999", &[]);
    assert_eq!(json_body(&resp)["error"], "invalid_grant");
}

#[test]
fn narrower_refresh_scope_is_granted() {
    let mut tb = bed(TestbedConfig::default());
    let (client_id, tok) = login(&mut tb, Some("mcp:basic mcp:write"));
    let rt = tok["refresh_token"].as_str().unwrap().to_string();
    let body = json_body(&refresh(
        &mut tb,
        &client_id,
        &rt,
        &[("scope", "mcp:basic")],
    ));
    assert_eq!(body["scope"], "mcp:basic");
    let call = rpc(1, "tools/call", json!({ "name": "admin-tool" }));
    let token = access_token(&body);
    let resp = tb.handle(T0, &mcp_post(&tb, Some(&token), &call));
    assert_eq!(resp.status, 403);
    assert!(tb.violations().is_empty(), "{:?}", tb.violations());
}

#[test]
fn codes_are_single_use_and_expire() {
    let mut tb = bed(TestbedConfig::default());
    let client_id = register(&mut tb);
    let code = authorize(&mut tb, &client_id, None);
    let form = exchange_form(&client_id, &code, Some(RES));
    let first = json_body(&post_token(&mut tb, T0, &form));
    let token = access_token(&first);
    assert_eq!(
        list_status(&mut tb, T0, &token),
        403,
        "no scope granted, tools/list needs mcp:basic"
    );

    let resp = post_token(&mut tb, T0, &form);
    assert_eq!(resp.status, 400);
    assert_eq!(json_body(&resp)["error"], "invalid_grant");
    assert!(tb.has_violation("code-reused"));
    assert_eq!(
        list_status(&mut tb, T0, &token),
        401,
        "reuse revokes tokens of the code"
    );

    let code = authorize(&mut tb, &client_id, None);
    let late = T0 + CODE_LIFETIME_SECS + 1;
    let resp = post_token(&mut tb, late, &exchange_form(&client_id, &code, Some(RES)));
    assert_eq!(json_body(&resp)["error_description"], "code expired");
}

#[test]
fn no_refresh_token_without_the_refresh_grant() {
    let mut tb = bed(TestbedConfig::default());
    let mut body = dcr_body();
    body["grant_types"] = json!(["authorization_code"]);
    let endpoint = tb.as_endpoint("register");
    let reg = json_body(&register_at(&mut tb, &endpoint, &body));
    assert!(tb.has_violation("dcr-grant-types"));
    let client_id = reg["client_id"].as_str().unwrap().to_string();
    let code = authorize(&mut tb, &client_id, Some("mcp:basic"));
    let tok = json_body(&post_token(
        &mut tb,
        T0,
        &exchange_form(&client_id, &code, Some(RES)),
    ));
    assert!(tok.get("refresh_token").is_none(), "{tok}");
}

#[test]
fn expiry_follows_the_virtual_clock() {
    let mut tb = bed(TestbedConfig {
        access_token_lifetime: 60,
        ..TestbedConfig::default()
    });
    let (_, tok) = login(&mut tb, Some("mcp:basic"));
    assert_eq!(tok["expires_in"], 60);
    let token = access_token(&tok);
    assert_eq!(list_status(&mut tb, T0 + 59, &token), 200);
    let req = mcp_post(&tb, Some(&token), &rpc(1, "tools/list", json!({})));
    let resp = tb.handle(T0 + 60, &req);
    assert_eq!(resp.status, 401);
    assert!(www_auth(&resp)
        .starts_with("Bearer error=\"invalid_token\", error_description=\"Token expired\""));
}

#[test]
fn test_helpers_expire_and_revoke() {
    let mut tb = bed(TestbedConfig::default());
    let (client_id, tok) = login(&mut tb, Some("mcp:basic"));
    let token = access_token(&tok);
    tb.expire_all_access_tokens();
    let req = mcp_post(&tb, Some(&token), &rpc(1, "tools/list", json!({})));
    assert_eq!(
        json_body(&tb.handle(T0, &req))["error_description"],
        "Token expired"
    );

    let rt = tok["refresh_token"].as_str().unwrap().to_string();
    let fresh = access_token(&json_body(&refresh(&mut tb, &client_id, &rt, &[])));
    tb.revoke_all_access_tokens();
    let req = mcp_post(&tb, Some(&fresh), &rpc(1, "tools/list", json!({})));
    let resp = tb.handle(T0, &req);
    assert_eq!(resp.status, 401);
    assert_eq!(
        json_body(&resp)["error_description"],
        "Token has been revoked"
    );

    tb.revoke_all_refresh_tokens();
    let resp = refresh(&mut tb, &client_id, "test-refresh-6", &[]);
    assert_eq!(
        json_body(&resp)["error_description"],
        "refresh token revoked"
    );
    assert!(tb.violations().is_empty(), "{:?}", tb.violations());
}

#[test]
fn revocation_endpoint() {
    let mut tb = bed(TestbedConfig::default());
    let (client_id, tok) = login(&mut tb, Some("mcp:basic"));
    let token = access_token(&tok);
    let rt = tok["refresh_token"].as_str().unwrap().to_string();
    let revoke = |tb: &mut Testbed, pairs: &[(&str, &str)]| {
        let req = HttpRequest::post_form(tb.as_endpoint("revoke"), pairs);
        tb.handle(T0, &req)
    };
    let resp = revoke(
        &mut tb,
        &[("token", "unknown"), ("client_id", client_id.as_str())],
    );
    assert_eq!((resp.status, resp.body.len()), (200, 0));
    assert_eq!(list_status(&mut tb, T0, &token), 200);

    let resp = revoke(
        &mut tb,
        &[
            ("token", rt.as_str()),
            ("token_type_hint", "refresh_token"),
            ("client_id", client_id.as_str()),
        ],
    );
    assert_eq!(resp.status, 200);
    assert_eq!(
        list_status(&mut tb, T0, &token),
        401,
        "RFC 7009 §2.1: the grant's access tokens go too"
    );
    assert_eq!(
        json_body(&refresh(&mut tb, &client_id, &rt, &[]))["error"],
        "invalid_grant"
    );
    assert_eq!(
        revoke(&mut tb, &[("client_id", client_id.as_str())]).status,
        400
    );
    assert_eq!(tb.count(RequestKind::Revocation), 3);
    assert!(tb.violations().is_empty(), "{:?}", tb.violations());
}
