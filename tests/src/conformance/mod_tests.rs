//! Unit tests of the conformance client's pieces: context parsing, configuration, the
//! redirect-reading browser step and the MCP conversation on both wires.

use super::*;
use mcp_oauth_core::Method;

#[test]
fn empty_context_is_empty() {
    for raw in [None, Some(""), Some("   ")] {
        let ctx = Context::parse(raw).expect("empty context");
        assert!(ctx.client_id.is_none() && ctx.client_secret.is_none() && ctx.issuer.is_none());
    }
}

#[test]
fn context_reads_pre_registration_and_ignores_extension_keys() {
    let raw = r#"{"name":"auth/pre-registration","client_id":"pre-registered-client",
        "client_secret":"pre-registered-secret","issuer":"http://localhost:4100",
        "private_key_pem":"-----BEGIN PRIVATE KEY-----","idp_issuer":"http://localhost:1"}"#;
    let ctx = Context::parse(Some(raw)).expect("context");
    assert_eq!(ctx.client_id.as_deref(), Some("pre-registered-client"));
    assert_eq!(
        ctx.client_secret.as_ref().map(|s| s.expose_secret()),
        Some("pre-registered-secret")
    );
    assert_eq!(ctx.issuer.as_deref(), Some("http://localhost:4100"));
    let debug = format!("{ctx:?}");
    assert!(!debug.contains("pre-registered-secret"), "{debug}");
    assert!(debug.contains("[redacted]"), "{debug}");
}

#[test]
fn context_ignores_non_string_and_empty_values() {
    let ctx = Context::parse(Some(r#"{"client_id":42,"client_secret":"","issuer":null}"#))
        .expect("context");
    assert!(ctx.client_id.is_none() && ctx.client_secret.is_none() && ctx.issuer.is_none());
}

#[test]
fn bad_context_is_an_error_without_echoing_it() {
    let err = Context::parse(Some("{\"client_secret\": \"s3cret\"")).expect_err("truncated");
    assert!(
        err.starts_with("MCP_CONFORMANCE_CONTEXT is not JSON"),
        "{err}"
    );
    assert!(!err.contains("s3cret"), "{err}");
    assert_eq!(
        Context::parse(Some("[1]")).expect_err("array"),
        "MCP_CONFORMANCE_CONTEXT is not a JSON object"
    );
}

#[test]
fn config_without_context_uses_cimd_url_and_dcr() {
    let config = config_for("http://localhost:3000/mcp", &Context::default());
    assert_eq!(config.server_url, "http://localhost:3000/mcp");
    assert_eq!(
        config.client.metadata_document_url.as_deref(),
        Some("https://conformance-test.local/client-metadata.json")
    );
    assert!(config.client.pre_registered.is_none());
    assert!(config.client.allow_dynamic_registration);
    assert!(config.interactive);
    assert_eq!(config.authorization_timeout.as_secs(), 15);
    assert_eq!(config.client.application_type, "native");
}

#[test]
fn config_binds_pre_registered_credentials_to_their_issuer() {
    let ctx = Context {
        client_id: Some("pre-registered-client".into()),
        client_secret: Some(ClientSecret::new("pre-registered-secret")),
        issuer: Some("http://localhost:4100".into()),
        ..Context::default()
    };
    let config = config_for("http://localhost:3000/mcp", &ctx);
    let pre = config.client.pre_registered.expect("pre-registered");
    assert_eq!(pre.client_id, "pre-registered-client");
    assert_eq!(
        pre.client_secret.as_ref().map(|s| s.expose_secret()),
        Some("pre-registered-secret")
    );
    assert_eq!(pre.issuer.as_deref(), Some("http://localhost:4100"));
    // The method follows the AS metadata (ARCHITECTURE.md §8), never forced here.
    assert!(pre.auth_method.is_none());
}

fn redirect(status: u16, location: Option<&str>) -> HttpResponse {
    let resp = HttpResponse::status(status);
    match location {
        Some(l) => resp.with_header("Location", l),
        None => resp,
    }
}

#[test]
fn location_of_a_302_is_returned_verbatim() {
    // `iss` is a bare origin: it must survive byte for byte (ARCHITECTURE.md §8, no URL
    // re-serialization).
    let loc = "http://127.0.0.1:41769/callback?code=test-auth-code&state=abc&iss=http%3A%2F%2Flocalhost%3A45349";
    assert_eq!(
        redirect_location(
            "http://localhost:45349/authorize?x=1",
            &redirect(302, Some(loc))
        ),
        Ok(loc.to_string())
    );
    assert_eq!(
        redirect_location(
            "http://localhost:1/authorize",
            &redirect(303, Some(" http://h/cb?a=1 "))
        ),
        Ok("http://h/cb?a=1".to_string())
    );
}

#[test]
fn relative_location_resolves_against_the_authorization_url() {
    assert_eq!(
        redirect_location(
            "http://localhost:4100/oauth/authorize?client_id=c",
            &redirect(302, Some("/callback?code=c&state=s"))
        ),
        Ok("http://localhost:4100/callback?code=c&state=s".to_string())
    );
}

#[test]
fn a_page_instead_of_a_redirect_is_an_error() {
    assert_eq!(
        redirect_location("http://localhost:1/authorize", &redirect(200, None)),
        Err("authorization endpoint answered HTTP 200 instead of a redirect".to_string())
    );
    assert_eq!(
        redirect_location("http://localhost:1/authorize", &redirect(302, None)),
        Err("HTTP 302 redirect without a Location".to_string())
    );
    assert_eq!(
        redirect_location("http://localhost:1/authorize", &redirect(302, Some("  "))),
        Err("HTTP 302 redirect without a Location".to_string())
    );
}

#[test]
fn authorization_get_is_a_plain_browser_get() {
    let req = authorization_get("http://localhost:1/authorize?a=b");
    assert_eq!(req.method, Method::Get);
    assert_eq!(req.url, "http://localhost:1/authorize?a=b");
    assert_eq!(
        req.headers,
        vec![("Accept".to_string(), "text/html, */*".to_string())]
    );
    assert!(req.body.is_empty());
}

fn sse(id: u64, result: Value) -> HttpResponse {
    let msg = json!({"jsonrpc": "2.0", "id": id, "result": result});
    let mut resp = HttpResponse::status(200);
    resp.headers
        .push(("Content-Type".into(), "text/event-stream".into()));
    resp.body = format!("event: message\ndata: {msg}\n\n").into_bytes();
    resp
}

fn body(req: &HttpRequest) -> Value {
    serde_json::from_slice(&req.body).expect("JSON body")
}

#[test]
fn stateful_conversation_initializes_then_lists_and_calls() {
    let mut seen = Vec::new();
    let convo = converse("http://localhost:9/mcp", "2025-11-25", &mut |req| {
        let b = body(&req);
        seen.push((b["method"].as_str().unwrap_or("").to_string(), req.clone()));
        Ok(match b["method"].as_str() {
            Some("initialize") => sse(1, json!({"protocolVersion": "2025-11-25"})),
            Some("notifications/initialized") => HttpResponse::status(202),
            Some("tools/list") => sse(2, json!({"tools": [{"name": "test-tool"}]})),
            Some("tools/call") => sse(3, json!({"content": [{"type": "text", "text": "test"}]})),
            _ => HttpResponse::status(400),
        })
    })
    .expect("conversation");
    let methods: Vec<&str> = seen.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(
        methods,
        [
            "initialize",
            "notifications/initialized",
            "tools/list",
            "tools/call"
        ]
    );
    assert_eq!(convo.steps, methods);
    assert_eq!(convo.wire, McpWire::Stateful);
    assert_eq!(convo.tools, ["test-tool"]);
    let (_, init) = &seen[0];
    assert_eq!(init.url, "http://localhost:9/mcp");
    assert_eq!(
        init.header("accept"),
        Some("application/json, text/event-stream")
    );
    assert_eq!(init.header("mcp-protocol-version"), None);
    assert_eq!(body(init)["params"]["protocolVersion"], "2025-11-25");
    let (_, call) = &seen[3];
    assert_eq!(call.header("mcp-protocol-version"), Some("2025-11-25"));
    assert_eq!(
        body(call)["params"],
        json!({"name": "test-tool", "arguments": {}})
    );
}

#[test]
fn stateless_conversation_skips_initialize() {
    let mut seen = Vec::new();
    let convo = converse("http://localhost:9/mcp", "2026-07-28", &mut |req| {
        let b = body(&req);
        seen.push(req.clone());
        let id = b["id"].as_u64().unwrap_or(0);
        Ok(HttpResponse::json(
            200,
            &json!({"jsonrpc": "2.0", "id": id, "result": {"resultType": "complete", "tools": []}}),
        ))
    })
    .expect("conversation");
    assert_eq!(convo.wire, McpWire::Stateless);
    assert_eq!(convo.steps, ["tools/list", "tools/call"]);
    assert!(convo.tools.is_empty());
    for req in &seen {
        assert_eq!(req.header("mcp-protocol-version"), Some("2026-07-28"));
        let meta = &body(req)["params"]["_meta"];
        assert_eq!(
            meta["io.modelcontextprotocol/protocolVersion"],
            "2026-07-28"
        );
        assert_eq!(
            meta["io.modelcontextprotocol/clientCapabilities"],
            json!({})
        );
    }
    assert_eq!(body(&seen[1])["params"]["name"], "test-tool");
}

#[test]
fn a_failing_step_names_itself() {
    let err = converse("http://localhost:9/mcp", "2026-07-28", &mut |_| {
        Ok(HttpResponse::status(403))
    })
    .expect_err("403");
    assert_eq!(err, "tools/list: MCP server answered HTTP 403");
    let err = converse("http://localhost:9/mcp", "2025-11-25", &mut |_| {
        Err("authorization response rejected: issuer (iss) missing or wrong".into())
    })
    .expect_err("refused");
    assert_eq!(
        err,
        "initialize: authorization response rejected: issuer (iss) missing or wrong"
    );
}

#[test]
fn one_line_collapses_whitespace() {
    assert_eq!(one_line(" a\nb\r\n\tc  "), "a b c");
    assert_eq!(one_line(""), "");
}

#[test]
fn extension_context_keys_become_library_settings() {
    use mcp_oauth_core::config::Grant;
    let ctx = Context::parse(Some(
        r#"{"client_id":"c","private_key_pem":"-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----",
            "idp_id_token":"eyJ.id","idp_token_endpoint":"http://localhost:9/token","idp_client_id":"idp"}"#,
    ))
    .unwrap();
    let config = config_for("http://localhost:3000/mcp", &ctx);
    assert!(config.client.private_key_jwt.is_some());
    match &config.grant {
        Grant::EnterpriseManaged(idp) => {
            assert_eq!(idp.token_endpoint, "http://localhost:9/token");
            assert_eq!(idp.client_id.as_deref(), Some("idp"));
        }
        other => panic!("expected enterprise-managed, got {other:?}"),
    }
    let wif = Context::parse(Some(r#"{"client_id":"w","valid_jwt":"eyJ.w"}"#)).unwrap();
    assert!(matches!(
        config_for("http://localhost:3000/mcp", &wif).grant,
        Grant::JwtBearer { .. }
    ));
    assert!(
        !format!("{wif:?}").contains("eyJ.w"),
        "assertions are redacted"
    );
}
