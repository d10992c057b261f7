//! The sans-IO MCP client codec (`mcp_oauth_tests::mcp`): exact requests on both wires
//! (ARCHITECTURE.md §8, two MCP wires), SSE parsing, session ids, error mapping, and end-to-end
//! calls against the in-process testbed with a token the core machine obtained.

use mcp_oauth_core::{HeaderState, HttpRequest, HttpResponse, Method};
use mcp_oauth_tests::mcp::sse::{parse_events, SseEvent};
use mcp_oauth_tests::mcp::{McpError, McpSession, McpWire};
use mcp_oauth_tests::sim::Sim;
use mcp_oauth_tests::testbed::TestbedConfig;
use serde_json::{json, Value};

const URL: &str = "http://127.0.0.1:3000/mcp";

fn headers(req: &HttpRequest) -> Vec<(&str, &str)> {
    req.headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

fn body(req: &HttpRequest) -> Value {
    serde_json::from_slice(&req.body).expect("JSON body")
}

fn sse(status: u16, text: &str) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![("Content-Type".into(), "text/event-stream".into())],
        body: text.as_bytes().to_vec(),
    }
}

#[test]
fn wire_for_protocol_version() {
    use McpWire::{Stateful, Stateless};
    for (v, wire) in [
        ("2026-07-28", Stateless),
        ("2027-01-01", Stateless),
        ("draft", Stateless),
        ("DRAFT-2026-v1", Stateless),
        (" 2026-07-28 ", Stateless),
        ("2025-11-25", Stateful),
        ("2025-06-18", Stateful),
        ("2025-03-26", Stateful),
        ("2026-07-2", Stateful),
        ("", Stateful),
        ("latest", Stateful),
    ] {
        assert_eq!(McpWire::for_protocol_version(v), wire, "{v:?}");
    }
}

#[test]
fn stateful_handshake_requests_are_exact() {
    let mut s = McpSession::new(McpWire::Stateful, "2025-11-25").with_client_info("cli", "9.9");
    assert!(s.needs_initialize());
    let init = s.initialize_request(URL);
    assert_eq!(init.method, Method::Post);
    assert_eq!(init.url, URL);
    assert_eq!(
        headers(&init),
        vec![
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
        ]
    );
    assert_eq!(
        body(&init),
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "cli", "version": "9.9"}}})
    );
    let answer = sse(
        200,
        "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{}}}\n\n",
    )
    .with_header("Mcp-Session-Id", "sess-42");
    let result = s.handle_response(&answer).expect("initialize");
    assert_eq!(result["protocolVersion"], "2025-06-18");
    assert!(s.is_initialized() && !s.needs_initialize());
    assert_eq!(s.session_id(), Some("sess-42"));
    assert_eq!(s.protocol_version(), "2025-06-18");

    let note = s.initialized_notification(URL);
    assert_eq!(
        headers(&note),
        vec![
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
            ("MCP-Protocol-Version", "2025-06-18"),
            ("Mcp-Session-Id", "sess-42"),
        ]
    );
    assert_eq!(
        body(&note),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
    );
    assert_eq!(
        s.handle_response(&HttpResponse::status(202)),
        Ok(Value::Null)
    );

    let list = s.request(URL, "tools/list", json!({}));
    assert_eq!(headers(&list), headers(&note));
    assert_eq!(
        body(&list),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}})
    );
    let dbg = format!("{s:?}");
    assert!(!dbg.contains("sess-42") && dbg.contains("[set]"), "{dbg}");
}

#[test]
fn stateless_requests_carry_header_and_meta() {
    let mut s = McpSession::new(McpWire::Stateless, "2026-07-28");
    assert!(!s.needs_initialize());
    let req = s.request(
        URL,
        "tools/call",
        json!({"name": "test-tool", "arguments": {}, "_meta": {"progressToken": 5}}),
    );
    assert_eq!(
        headers(&req),
        vec![
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
            ("MCP-Protocol-Version", "2026-07-28"),
        ]
    );
    assert_eq!(
        body(&req),
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
            "name": "test-tool", "arguments": {},
            "_meta": {"progressToken": 5,
                      "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}}}})
    );
    let req = s.request(URL, "tools/list", Value::Null);
    assert_eq!(
        body(&req)["params"],
        json!({"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                         "io.modelcontextprotocol/clientCapabilities": {}}})
    );
    assert_eq!(body(&req)["id"], 2);
    let ok = HttpResponse::json(
        200,
        &json!({"jsonrpc": "2.0", "id": 2, "result": {"tools": [], "resultType": "complete"}}),
    );
    assert_eq!(
        s.handle_response(&ok),
        Ok(json!({"tools": [], "resultType": "complete"}))
    );
}

#[test]
fn sse_parser_follows_the_event_stream_rules() {
    let text = "\u{feff}: comment\r\nevent: message\r\ndata: {\"a\":\r\ndata:1}\r\n\r\nevent: ping\rdata: x\r\rdata\n\nid: 7\nretry: 10\n\ndata: tail";
    assert_eq!(
        parse_events(text),
        vec![
            SseEvent {
                event: "message".into(),
                data: "{\"a\":\n1}".into()
            },
            SseEvent {
                event: "ping".into(),
                data: "x".into()
            },
            SseEvent {
                event: "message".into(),
                data: String::new()
            },
            SseEvent {
                event: "message".into(),
                data: "tail".into()
            },
        ]
    );
    assert_eq!(parse_events(""), vec![]);
}

#[test]
fn sse_response_picks_the_message_with_our_id() {
    let mut s = McpSession::new(McpWire::Stateful, "2025-11-25");
    let _ = s.request(URL, "tools/call", json!({"name": "x"}));
    let stream = concat!(
        "event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{}}\r\n\r\n",
        "event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"sampling/createMessage\",\"params\":{}}\r\n\r\n",
        "event: other\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"wrong event type\"}\r\n\r\n",
        "event: message\r\ndata: not json\r\n\r\n",
        "event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":9,\"result\":\"other id\"}\r\n\r\n",
        "event: message\r\ndata: {\"jsonrpc\":\"2.0\",\r\ndata:  \"id\":1,\"result\":{\"ok\":true}}\r\n\r\n",
    );
    assert_eq!(
        s.handle_response(&sse(200, stream)),
        Ok(json!({"ok": true}))
    );

    let _ = s.request(URL, "ping", json!({}));
    let resp = sse(
        200,
        "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\"}\n\n",
    );
    assert_eq!(
        s.handle_response(&resp),
        Err(McpError::Malformed("no JSON-RPC response with id 2".into()))
    );
}

#[test]
fn errors_map_to_variants() {
    let mut s = McpSession::new(McpWire::Stateless, "2026-07-28");
    let _ = s.request(URL, "nope", json!({}));
    let rpc = HttpResponse::json(
        200,
        &json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -32601, "message": "Method not found"}}),
    );
    assert_eq!(
        s.handle_response(&rpc),
        Err(McpError::Rpc {
            code: -32601,
            message: "Method not found".into()
        })
    );
    let _ = s.request(URL, "tools/list", json!({}));
    assert_eq!(
        s.handle_response(&HttpResponse::json(401, &json!({"error": "invalid_token"}))),
        Err(McpError::Status(401))
    );
    let cases = [
        (
            HttpResponse::status(200),
            "HTTP 200 with an empty body".to_string(),
        ),
        (
            HttpResponse::json(200, &json!({"jsonrpc": "2.0", "id": 4})),
            "JSON-RPC response without result or error".to_string(),
        ),
        (
            HttpResponse::json(200, &json!({"jsonrpc": "2.0", "id": 5, "error": {}})),
            "JSON-RPC error without a code".to_string(),
        ),
    ];
    for (resp, detail) in cases {
        let _ = s.request(URL, "tools/list", json!({}));
        assert_eq!(s.handle_response(&resp), Err(McpError::Malformed(detail)));
    }
    let _ = s.request(URL, "tools/list", json!({}));
    let bad = HttpResponse {
        status: 200,
        headers: vec![],
        body: vec![0xff, 0xfe],
    };
    assert_eq!(
        s.handle_response(&bad),
        Err(McpError::Malformed("body is not UTF-8".into()))
    );
    assert_eq!(
        s.handle_response(&HttpResponse::json(200, &json!({}))),
        Err(McpError::Malformed("no request awaits a response".into()))
    );
    assert_eq!(
        McpError::Rpc {
            code: -1,
            message: "m".into()
        }
        .to_string(),
        "JSON-RPC error -1: m"
    );
}

#[test]
fn a_404_ends_the_stateful_session() {
    let mut s = McpSession::new(McpWire::Stateful, "2025-11-25");
    let _ = s.initialize_request(URL);
    let ok = HttpResponse::json(200, &json!({"jsonrpc": "2.0", "id": 1, "result": {}}))
        .with_header("mcp-session-id", "abc");
    assert_eq!(s.handle_response(&ok), Ok(json!({})));
    assert_eq!(s.protocol_version(), "2025-11-25");
    let _ = s.request(URL, "tools/list", json!({}));
    assert_eq!(
        s.handle_response(&HttpResponse::status(404)),
        Err(McpError::Status(404))
    );
    assert_eq!(s.session_id(), None);
    assert!(s.needs_initialize());
    let again = s.initialize_request(URL);
    assert_eq!(again.header("mcp-session-id"), None);
    assert_eq!(again.header("mcp-protocol-version"), None);
    assert_eq!(body(&again)["id"], 3);
}

/// A token obtained by the core machine driving the testbed (DCR, authorize, token).
fn authorized_sim(config: TestbedConfig) -> (Sim, String) {
    let mut sim = Sim::new(config, |_| {});
    sim.call("tools/list", json!({})).expect("first login");
    let HeaderState::Ready(h) = sim.machine.ensure_fresh(sim.now) else {
        panic!("no header after login");
    };
    let header = h.expose_secret().to_string();
    assert!(header.starts_with("Bearer test-token-"), "{header:?}");
    (sim, header)
}

fn send(sim: &mut Sim, mut req: HttpRequest, auth: Option<&str>) -> HttpResponse {
    if let Some(a) = auth {
        req.headers.push(("Authorization".into(), a.to_string()));
    }
    sim.testbed.handle(sim.now.wall, &req)
}

#[test]
fn end_to_end_stateful_wire_with_sessions() {
    let (mut sim, auth) = authorized_sim(TestbedConfig {
        sessions: true,
        ..TestbedConfig::default()
    });
    let url = sim.testbed.mcp_url();
    let mut s = McpSession::new(McpWire::Stateful, "2025-11-25");

    let req = s.initialize_request(&url);
    let resp = send(&mut sim, req, None);
    assert_eq!(s.handle_response(&resp), Err(McpError::Status(401)));
    assert!(resp
        .header("www-authenticate")
        .is_some_and(|h| h.starts_with("Bearer error=\"invalid_token\"")));
    assert!(s.needs_initialize());

    let req = s.initialize_request(&url);
    let resp = send(&mut sim, req, Some(&auth));
    assert_eq!(resp.header("content-type"), Some("text/event-stream"));
    let init = s.handle_response(&resp).expect("initialize");
    assert_eq!(init["serverInfo"]["name"], "mcp-oauth-testbed");
    assert_eq!(s.session_id(), Some("testbed-session-1"));

    let req = s.initialized_notification(&url);
    let resp = send(&mut sim, req, Some(&auth));
    assert_eq!(resp.status, 202);
    assert_eq!(s.handle_response(&resp), Ok(Value::Null));

    let req = s.request(&url, "tools/list", json!({}));
    assert_eq!(req.header("mcp-session-id"), Some("testbed-session-1"));
    let tools = s
        .handle_response(&send(&mut sim, req, Some(&auth)))
        .expect("tools/list");
    assert_eq!(tools["tools"][0]["name"], "test-tool");

    let req = s.request(
        &url,
        "tools/call",
        json!({"name": "test-tool", "arguments": {}}),
    );
    let out = s
        .handle_response(&send(&mut sim, req, Some(&auth)))
        .expect("tools/call");
    assert_eq!(out, json!({"content": [{"type": "text", "text": "test"}]}));

    let req = s.request(&url, "no/such", json!({}));
    assert!(matches!(
        s.handle_response(&send(&mut sim, req, Some(&auth))),
        Err(McpError::Rpc { code: -32601, .. })
    ));
    assert_eq!(sim.testbed.violations(), &[] as &[String]);
}

#[test]
fn end_to_end_stateless_wire() {
    let (mut sim, auth) = authorized_sim(TestbedConfig::default());
    let url = sim.testbed.mcp_url();
    let mut s = McpSession::new(McpWire::for_protocol_version("2026-07-28"), "2026-07-28");

    let req = s.request(&url, "tools/list", json!({}));
    let resp = send(&mut sim, req, None);
    assert_eq!(s.handle_response(&resp), Err(McpError::Status(401)));

    let req = s.request(&url, "tools/list", json!({}));
    let resp = send(&mut sim, req, Some(&auth));
    assert_eq!(resp.header("content-type"), Some("application/json"));
    let tools = s.handle_response(&resp).expect("tools/list");
    assert_eq!(tools["resultType"], "complete");
    assert_eq!(tools["tools"][1]["name"], "admin-tool");

    let req = s.request(
        &url,
        "tools/call",
        json!({"name": "test-tool", "arguments": {}}),
    );
    let out = s
        .handle_response(&send(&mut sim, req, Some(&auth)))
        .expect("tools/call");
    assert_eq!(out["content"][0]["text"], "test");

    let req = s.request(&url, "tools/call", json!({"name": "missing"}));
    assert_eq!(
        s.handle_response(&send(&mut sim, req, Some(&auth))),
        Err(McpError::Rpc {
            code: -32602,
            message: "Tool missing not found".into()
        })
    );

    sim.testbed.expire_all_access_tokens();
    let req = s.request(&url, "tools/list", json!({}));
    assert_eq!(
        s.handle_response(&send(&mut sim, req, Some(&auth))),
        Err(McpError::Status(401))
    );
    assert_eq!(sim.testbed.violations(), &[] as &[String]);
}
