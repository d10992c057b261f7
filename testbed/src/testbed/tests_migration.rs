//! `auth/authorization-server-migration` (SEP-2352): PRM flips to AS₂ after the first accepted
//! call, AS₁ tokens stop working, and AS₁'s client id must never reach AS₂.

use mcp_oauth_core::HttpRequest;
use serde_json::json;

use super::test_support::*;

#[test]
fn authorization_server_migration() {
    let mut tb = preset("auth/authorization-server-migration");
    assert_eq!(tb.as2_issuer().as_deref(), Some(AS2));
    let init = tb.handle(T0, &mcp_post(&tb, None, &rpc(1, "initialize", json!({}))));
    assert_eq!(init.status, 200);
    let (as1_client, tok) = login(&mut tb, Some("mcp:basic"));
    assert_eq!(as1_client, "as1-client-id-LEAKED-IF-SEEN-AT-AS2");
    let as1_token = access_token(&tok);

    let list = rpc(2, "tools/list", json!({}));
    assert_eq!(
        tb.handle(T0, &mcp_post(&tb, Some(&as1_token), &list))
            .status,
        200
    );
    assert!(tb.migrated());
    assert_eq!(tb.prm_authorization_servers(), [AS2.to_string()]);
    let resp = tb.handle(T0, &mcp_post(&tb, Some(&as1_token), &list));
    assert_eq!(resp.status, 401);
    assert!(www_auth(&resp).contains("error_description=\"authorization server has changed\""));
    let prm_url = tb.prm_url().unwrap();
    assert_eq!(
        json_body(&get(&mut tb, &prm_url))["authorization_servers"],
        json!([AS2])
    );

    // Presenting AS₁'s client id at AS₂ is the leak the scenario looks for.
    let leak = authorize_url(
        &format!("{AS2}/authorize"),
        &std_authorize(&as1_client, Some("http://127.0.0.1:1000/mcp"), None),
    );
    assert_eq!(tb.browser_get(T0, &leak).status, 400);
    assert!(tb.has_violation("cross-as-credentials"));

    let reg = json_body(&register_at(
        &mut tb,
        &format!("{AS2}/register"),
        &dcr_body(),
    ));
    assert_eq!(reg["client_id"], "as2-client-id");
    let url = authorize_url(
        &format!("{AS2}/authorize"),
        &std_authorize(
            "as2-client-id",
            Some("http://127.0.0.1:1000/mcp"),
            Some("mcp:basic"),
        ),
    );
    let resp = tb.browser_get(T0, &url);
    assert_eq!(location_param(&resp, "iss").as_deref(), Some(AS2));
    let code = location_param(&resp, "code").unwrap();
    let req = HttpRequest::post_form(
        format!("{AS2}/token"),
        &exchange_form("as2-client-id", &code, Some("http://127.0.0.1:1000/mcp")),
    );
    let as2_token = access_token(&json_body(&tb.handle(T0, &req)));
    assert!(as2_token.starts_with("test-token-as2-"), "{as2_token}");
    assert_eq!(
        tb.handle(T0, &mcp_post(&tb, Some(&as2_token), &list))
            .status,
        200
    );
    assert_eq!(tb.violations().len(), 1, "{:?}", tb.violations());
}
