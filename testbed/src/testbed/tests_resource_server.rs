//! The resource server: exact challenges, step-up, retry limit, audience binding and both wires.

use mcp_oauth_core::HttpRequest;
use serde_json::json;

use super::test_support::*;
use super::tokens::AccessGrant;
use super::*;

const PRM_URL: &str = "http://127.0.0.1:1000/.well-known/oauth-protected-resource/mcp";

fn unauthenticated(tb: &mut Testbed) -> mcp_oauth_core::HttpResponse {
    let req = mcp_post(tb, None, &rpc(1, "tools/list", json!({})));
    tb.handle(T0, &req)
}

/// Puts a token straight into the store.
fn plant(tb: &mut Testbed, token: &str, scopes: &[&str], resource: Option<&str>) {
    tb.store.access.insert(
        token.to_string(),
        AccessGrant {
            as_index: 0,
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            resource: resource.map(str::to_string),
            expires_at: T0 + 100,
            revoked: false,
            family: 0,
            dpop_bound: false,
        },
    );
}

#[test]
fn challenges_per_scenario_are_exact() {
    let missing = "error=\"invalid_token\", error_description=\"Missing Authorization header\"";
    let cases = [
        ("metadata-var1", format!("Bearer {missing}")),
        ("metadata-var2", format!("Bearer {missing}")),
        (
            "metadata-var3",
            format!("Bearer {missing}, resource_metadata=\"http://127.0.0.1:1000/custom/metadata/location.json\""),
        ),
        ("scope-from-www-authenticate", format!("Bearer {missing}, scope=\"mcp:basic\", resource_metadata=\"{PRM_URL}\"")),
        ("scope-retry-limit", format!("Bearer {missing}, scope=\"mcp:admin\", resource_metadata=\"{PRM_URL}\"")),
    ];
    for (name, want) in cases {
        let mut tb = preset(name);
        let resp = unauthenticated(&mut tb);
        assert_eq!(resp.status, 401, "{name}");
        assert_eq!(www_auth(&resp), want, "{name}");
        assert_eq!(
            json_body(&resp),
            json!({ "error": "invalid_token", "error_description": "Missing Authorization header" })
        );
    }
    let mut tb = bed(TestbedConfig {
        challenge_scheme: ChallengeScheme::DPoP,
        ..TestbedConfig::default()
    });
    assert_eq!(
        www_auth(&unauthenticated(&mut tb)),
        format!("DPoP resource_metadata=\"{PRM_URL}\"")
    );
    plant(&mut tb, "test-token-x", &["mcp:basic"], None);
    let mut req = mcp_post(&tb, None, &rpc(1, "tools/list", json!({})));
    req.headers
        .push(("Authorization".into(), "DPoP test-token-x".into()));
    assert_eq!(tb.handle(T0, &req).status, 200);
}

#[test]
fn invalid_token_challenge() {
    let mut tb = bed(TestbedConfig::default());
    let req = mcp_post(&tb, Some("forged"), &rpc(1, "tools/list", json!({})));
    let resp = tb.handle(T0, &req);
    assert_eq!(resp.status, 401);
    assert_eq!(
        www_auth(&resp),
        format!("Bearer error=\"invalid_token\", error_description=\"Invalid token\", resource_metadata=\"{PRM_URL}\"")
    );
}

#[test]
fn scope_step_up_scenario() {
    let mut tb = preset("auth/scope-step-up");
    let resp = tb.handle(
        T0,
        &mcp_post(
            &tb,
            None,
            &rpc(1, "initialize", json!({ "protocolVersion": "2025-11-25" })),
        ),
    );
    assert_eq!(resp.status, 200);
    let note = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    assert_eq!(tb.handle(T0, &mcp_post(&tb, None, &note)).status, 202);
    let resp = unauthenticated(&mut tb);
    assert_eq!(www_auth(&resp), format!("Bearer error=\"invalid_token\", error_description=\"Missing Authorization header\", scope=\"mcp:basic\", resource_metadata=\"{PRM_URL}\""));

    let (client_id, tok) = login(&mut tb, Some("mcp:basic"));
    let token = access_token(&tok);
    assert_eq!(
        tb.handle(
            T0,
            &mcp_post(&tb, Some(&token), &rpc(2, "tools/list", json!({})))
        )
        .status,
        200
    );
    let call = rpc(
        3,
        "tools/call",
        json!({ "name": "test-tool", "arguments": {} }),
    );
    let resp = tb.handle(T0, &mcp_post(&tb, Some(&token), &call));
    assert_eq!(resp.status, 403);
    assert_eq!(
        www_auth(&resp),
        format!("Bearer error=\"insufficient_scope\", scope=\"mcp:write\", resource_metadata=\"{PRM_URL}\"")
    );
    assert_eq!(json_body(&resp)["error"], "insufficient_scope");

    let code = authorize(&mut tb, &client_id, Some("mcp:basic mcp:write"));
    let tok = json_body(&post_token(
        &mut tb,
        T0,
        &exchange_form(&client_id, &code, Some("http://127.0.0.1:1000/mcp")),
    ));
    let resp = tb.handle(T0, &mcp_post(&tb, Some(&access_token(&tok)), &call));
    assert_eq!(sse_message(&resp)["result"]["content"][0]["text"], "test");
    assert!(tb.violations().is_empty(), "{:?}", tb.violations());
}

#[test]
fn scope_retry_limit_forbids_every_request_then_410() {
    let mut tb = preset("auth/scope-retry-limit");
    let (_, tok) = login(&mut tb, Some("mcp:admin"));
    let token = access_token(&tok);
    let req = mcp_post(&tb, Some(&token), &rpc(2, "tools/list", json!({})));
    for _ in 0..3 {
        let resp = tb.handle(T0, &req);
        assert_eq!(resp.status, 403);
        assert_eq!(
            www_auth(&resp),
            format!("Bearer error=\"insufficient_scope\", scope=\"mcp:admin\", resource_metadata=\"{PRM_URL}\"")
        );
    }
    let resp = tb.handle(T0, &req);
    assert_eq!(resp.status, 410);
    assert_eq!(json_body(&resp)["error"], "test_complete");
}

#[test]
fn tokens_are_bound_to_the_resource() {
    let mut tb = bed(TestbedConfig::default());
    plant(
        &mut tb,
        "test-token-other",
        &["mcp:basic"],
        Some("http://other.example/mcp"),
    );
    plant(
        &mut tb,
        "test-token-mine",
        &["mcp:basic"],
        Some("http://127.0.0.1:1000/mcp"),
    );
    plant(&mut tb, "test-token-unbound", &["mcp:basic"], None);
    let status = |tb: &mut Testbed, t: &str| {
        let req = mcp_post(tb, Some(t), &rpc(1, "tools/list", json!({})));
        let resp = tb.handle(T0, &req);
        (resp.status, json_body(&resp)["error_description"].clone())
    };
    assert_eq!(
        status(&mut tb, "test-token-other"),
        (401, json!("Token audience mismatch"))
    );
    assert_eq!(status(&mut tb, "test-token-mine").0, 200);
    assert_eq!(status(&mut tb, "test-token-unbound").0, 200);
    tb.set_prm_authorization_server("https://elsewhere.example");
    assert_eq!(
        status(&mut tb, "test-token-mine"),
        (401, json!("authorization server has changed"))
    );
}

#[test]
fn stateful_wire_rules() {
    let mut tb = bed(TestbedConfig::default());
    plant(&mut tb, "t", &["mcp:basic"], None);
    let list = rpc(4, "tools/list", json!({}));

    let resp = tb.handle(T0, &mcp_post(&tb, Some("t"), &list));
    let body = String::from_utf8(resp.body.clone()).unwrap();
    assert!(
        body.starts_with("event: message\ndata: {") && body.ends_with("}\n\n"),
        "{body}"
    );
    assert_eq!(
        parse_sse(&resp.body),
        vec![serde_json::json!({ "jsonrpc": "2.0", "id": 4, "result": tools() })]
    );

    let mut req = mcp_post(&tb, Some("t"), &list);
    req.headers.retain(|(k, _)| k != "Accept");
    req.headers
        .push(("Accept".into(), "application/json".into()));
    let resp = tb.handle(T0, &req);
    assert_eq!(resp.status, 406);
    assert_eq!(json_body(&resp)["error"]["code"], -32000);

    let mut req = mcp_post(&tb, Some("t"), &list);
    req.headers.retain(|(k, _)| k != "Content-Type");
    req.headers
        .push(("Content-Type".into(), "text/plain".into()));
    assert_eq!(tb.handle(T0, &req).status, 415);

    let mut req = mcp_post(&tb, Some("t"), &list);
    req.body = b"{not json".to_vec();
    assert_eq!(json_body(&tb.handle(T0, &req))["error"]["code"], -32700);

    let batch = json!([list.clone()]);
    assert_eq!(tb.handle(T0, &mcp_post(&tb, Some("t"), &batch)).status, 400);

    let unknown = rpc(5, "resources/list", json!({}));
    assert_eq!(
        sse_message(&tb.handle(T0, &mcp_post(&tb, Some("t"), &unknown)))["error"]["code"],
        -32601
    );
    let bad_tool = rpc(6, "tools/call", json!({ "name": "nope" }));
    assert_eq!(
        sse_message(&tb.handle(T0, &mcp_post(&tb, Some("t"), &bad_tool)))["error"]["code"],
        -32602
    );

    let get_req = HttpRequest::get_json(tb.mcp_url());
    let resp = tb.handle(T0, &get_req);
    assert_eq!((resp.status, resp.header("allow")), (405, Some("POST")));
}

#[test]
fn sessions_are_issued_and_required() {
    let mut tb = bed(TestbedConfig {
        sessions: true,
        ..TestbedConfig::default()
    });
    plant(&mut tb, "t", &["mcp:basic"], None);
    let resp = tb.handle(
        T0,
        &mcp_post(&tb, Some("t"), &rpc(1, "initialize", json!({}))),
    );
    assert_eq!(resp.header("mcp-session-id"), Some("testbed-session-1"));
    assert_eq!(
        sse_message(&resp)["result"]["protocolVersion"],
        "2025-11-25"
    );
    let list = rpc(2, "tools/list", json!({}));
    assert_eq!(tb.handle(T0, &mcp_post(&tb, Some("t"), &list)).status, 400);
    let mut req = mcp_post(&tb, Some("t"), &list);
    req.headers
        .push(("Mcp-Session-Id".into(), "testbed-session-9".into()));
    assert_eq!(tb.handle(T0, &req).status, 404);
    let mut req = mcp_post(&tb, Some("t"), &list);
    req.headers
        .push(("Mcp-Session-Id".into(), "testbed-session-1".into()));
    req.headers
        .push(("MCP-Protocol-Version".into(), "2025-11-25".into()));
    assert_eq!(tb.handle(T0, &req).status, 200);
}

#[test]
fn stateless_wire_validation() {
    let mut tb = bed(TestbedConfig {
        wire: WireMode::Stateless,
        ..TestbedConfig::default()
    });
    plant(&mut tb, "t", &["mcp:basic"], None);
    let err = |tb: &mut Testbed, req: &HttpRequest| {
        let resp = tb.handle(T0, req);
        let b = json_body(&resp);
        (
            resp.status,
            b["error"]["code"].clone(),
            b["error"]["message"].clone(),
        )
    };
    let plain = mcp_post(&tb, Some("t"), &rpc(1, "tools/list", json!({})));
    assert_eq!(
        err(&mut tb, &plain),
        (
            400,
            json!(-32020),
            json!("Missing MCP-Protocol-Version header")
        )
    );

    let mut no_meta = plain.clone();
    no_meta
        .headers
        .push(("MCP-Protocol-Version".into(), "2026-07-28".into()));
    let want = "Invalid params: missing _meta keys: io.modelcontextprotocol/protocolVersion, io.modelcontextprotocol/clientCapabilities";
    assert_eq!(err(&mut tb, &no_meta), (400, json!(-32602), json!(want)));

    let mut mismatch = mcp_post_stateless(&tb, Some("t"), 2, "tools/list", json!({}));
    for (k, v) in mismatch.headers.iter_mut() {
        if k == "MCP-Protocol-Version" {
            *v = "2026-01-01".into();
        }
    }
    let want = "MCP-Protocol-Version header does not match _meta.protocolVersion";
    assert_eq!(err(&mut tb, &mismatch), (400, json!(-32020), json!(want)));

    let init = mcp_post_stateless(&tb, Some("t"), 3, "initialize", json!({}));
    assert_eq!(
        err(&mut tb, &init),
        (404, json!(-32601), json!("Method not found: initialize"))
    );

    let discover = mcp_post_stateless(&tb, Some("t"), 4, "server/discover", json!({}));
    let body = json_body(&tb.handle(T0, &discover));
    assert_eq!(body["result"]["supportedVersions"], json!(["2026-07-28"]));
    assert_eq!(body["result"]["resultType"], "complete");
}

#[test]
fn unsupported_stateless_version_lists_the_supported_one() {
    let mut tb = bed(TestbedConfig::default());
    plant(&mut tb, "t", &["mcp:basic"], None);
    let mut req = mcp_post_stateless(&tb, Some("t"), 1, "tools/list", json!({}));
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list",
        "params": { "_meta": { META_PROTOCOL_VERSION: "2099-01-01", META_CLIENT_CAPABILITIES: {} } } });
    req.body = body.to_string().into_bytes();
    for (k, v) in req.headers.iter_mut() {
        if k == "MCP-Protocol-Version" {
            *v = "2099-01-01".into();
        }
    }
    let resp = tb.handle(T0, &req);
    assert_eq!(resp.status, 400);
    assert_eq!(
        json_body(&resp)["error"],
        json!({ "code": -32022, "message": "Unsupported protocol version",
                "data": { "supported": ["2026-07-28"], "requested": "2099-01-01" } })
    );
    assert_eq!(select_wire(&req, WireMode::Both), Wire::Stateless);
    let stateful = mcp_post(&tb, None, &rpc(1, "ping", json!({})));
    assert_eq!(select_wire(&stateful, WireMode::Both), Wire::Stateful);
}
