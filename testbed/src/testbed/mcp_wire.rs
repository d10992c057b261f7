//! The two MCP wires `POST /mcp` speaks once authorization passed (ARCHITECTURE.md §8):
//!
//! - stateful 2025-11-25: `initialize`, `Accept` must name both `application/json` and
//!   `text/event-stream` (406 otherwise), `Content-Type: application/json` (415), responses framed
//!   as SSE `event: message\ndata: {...}\n\n`, notifications 202, optional `Mcp-Session-Id`;
//! - stateless 2026-07-28: every request carries `MCP-Protocol-Version: 2026-07-28` and
//!   `params._meta` with the protocol version and client capabilities (`validateStatelessRequest`
//!   of the conformance mock: 400 with -32020 / -32602 / -32022), no `initialize`, plain JSON
//!   results stamped `resultType: "complete"`.

use std::collections::BTreeSet;

use mcp_oauth_core::{HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::config::WireMode;
use super::util::{has_media, is_json};

/// The stateless revision.
pub const STATELESS_VERSION: &str = "2026-07-28";
/// Revisions the stateful wire accepts in `MCP-Protocol-Version`.
pub const STATEFUL_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26"];
/// The `_meta` keys of the stateless wire, shared with the client codec (`mcp-oauth-mcp`).
pub use mcp_oauth_mcp::{META_CLIENT_CAPABILITIES, META_PROTOCOL_VERSION};
/// Name of the tool every token may call.
pub const TEST_TOOL: &str = "test-tool";
/// Name of the privileged tool (needs `admin_scopes`).
pub const ADMIN_TOOL: &str = "admin-tool";
/// Name of an unlisted tool whose every call fails with [`HOSTILE_ERROR_PREFIX`] plus a 3 KB
/// tail: the JSON-RPC error message of a hostile or careless server, which a client must cap
/// and make inert before showing it.
pub const HOSTILE_TOOL: &str = "hostile-tool";
/// Start of [`HOSTILE_TOOL`]'s error message: an OSC window title, a clear-screen CSI, an
/// 8-bit CSI (U+009B), a bidi override and a line break that would forge a new line.
pub const HOSTILE_ERROR_PREFIX: &str =
    "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31mred\u{202e}desrever\nmcp-oauth: forged line ";

/// Which wire a request is answered on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// 2025-11-25 and older.
    Stateful,
    /// 2026-07-28.
    Stateless,
}

/// Picks the wire: forced by `mode`, else a `MCP-Protocol-Version` header that is not a stateful
/// revision selects the stateless wire.
pub fn select_wire(req: &HttpRequest, mode: WireMode) -> Wire {
    match mode {
        WireMode::Stateful => Wire::Stateful,
        WireMode::Stateless => Wire::Stateless,
        WireMode::Both => match req.header("mcp-protocol-version") {
            Some(v) if !STATEFUL_VERSIONS.contains(&v.trim()) => Wire::Stateless,
            _ => Wire::Stateful,
        },
    }
}

/// One SSE event carrying a JSON-RPC message, as the TS SDK's transport frames it.
pub fn sse_event(message: &Value) -> String {
    format!("event: message\ndata: {message}\n\n")
}

/// The JSON messages of an SSE body (`data:` lines of each event), for tests and clients.
pub fn parse_sse(body: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(body)
        .split("\n\n")
        .filter_map(|event| {
            let data: Vec<&str> = event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect();
            (!data.is_empty()).then(|| serde_json::from_str(&data.join("\n")).ok())?
        })
        .collect()
}

/// The tool list (`test-tool` as in the conformance mock, plus the demo's `admin-tool`).
pub fn tools() -> Value {
    json!({ "tools": [
        { "name": TEST_TOOL, "description": "Answers the text 'test'.", "inputSchema": { "type": "object" } },
        { "name": ADMIN_TOOL, "description": "A privileged tool that needs mcp:write.", "inputSchema": { "type": "object" } },
    ]})
}

/// Stateful sessions handed out by `initialize`.
#[derive(Debug, Default)]
pub(crate) struct McpState {
    sessions: BTreeSet<String>,
    next_session: u64,
}

/// A JSON-RPC error message.
pub fn rpc_error(id: Value, code: i64, message: &str) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } })
}

fn rpc_http(status: u16, message: &Value) -> HttpResponse {
    HttpResponse::json(status, message)
}

/// Methods both wires share. `Err` carries a JSON-RPC error code and message.
fn dispatch(method: &str, params: &Value) -> Result<Value, (i64, String)> {
    match method {
        "ping" => Ok(json!({})),
        "tools/list" => Ok(tools()),
        "tools/call" => match params.get("name").and_then(Value::as_str) {
            Some(TEST_TOOL) => Ok(json!({ "content": [{ "type": "text", "text": "test" }] })),
            Some(ADMIN_TOOL) => Ok(json!({ "content": [{ "type": "text", "text": "admin ok" }] })),
            Some(HOSTILE_TOOL) => Err((
                -32603,
                format!("{HOSTILE_ERROR_PREFIX}{}", "A".repeat(3000)),
            )),
            Some(other) => Err((-32602, format!("Tool {other} not found"))),
            None => Err((-32602, "Invalid params: name is required".to_string())),
        },
        other => Err((-32601, format!("Method not found: {other}"))),
    }
}

/// Answers an authorized `POST /mcp` body on `wire`.
pub(crate) fn serve(
    state: &mut McpState,
    sessions_on: bool,
    wire: Wire,
    req: &HttpRequest,
    body: &Value,
) -> HttpResponse {
    match wire {
        Wire::Stateful => serve_stateful(state, sessions_on, req, body),
        Wire::Stateless => serve_stateless(req, body),
    }
}

fn serve_stateful(
    state: &mut McpState,
    sessions_on: bool,
    req: &HttpRequest,
    body: &Value,
) -> HttpResponse {
    let accept = req.header("accept");
    if !(has_media(accept, "application/json") && has_media(accept, "text/event-stream")) {
        let msg = "Not Acceptable: Client must accept both application/json and text/event-stream";
        return rpc_http(406, &rpc_error(Value::Null, -32000, msg));
    }
    if !is_json(req) {
        let msg = "Unsupported Media Type: Content-Type must be application/json";
        return rpc_http(415, &rpc_error(Value::Null, -32000, msg));
    }
    if req
        .header("mcp-protocol-version")
        .is_some_and(|v| !STATEFUL_VERSIONS.contains(&v.trim()))
    {
        return rpc_http(
            400,
            &rpc_error(
                Value::Null,
                -32000,
                "Bad Request: Unsupported protocol version",
            ),
        );
    }
    let Some(obj) = body.as_object() else {
        let msg = "Invalid Request: expected a single JSON-RPC message";
        return rpc_http(400, &rpc_error(Value::Null, -32600, msg));
    };
    let (Some(method), Some(id)) = (obj.get("method").and_then(Value::as_str), obj.get("id"))
    else {
        return HttpResponse::status(202);
    };
    let params = obj.get("params").cloned().unwrap_or(Value::Null);
    let mut session = None;
    if method == "initialize" {
        if sessions_on {
            state.next_session += 1;
            let sid = format!("testbed-session-{}", state.next_session);
            state.sessions.insert(sid.clone());
            session = Some(sid);
        }
    } else if sessions_on {
        match req.header("mcp-session-id") {
            None => {
                let msg = "Bad Request: Mcp-Session-Id header is required";
                return rpc_http(400, &rpc_error(id.clone(), -32000, msg));
            }
            Some(s) if !state.sessions.contains(s) => {
                return rpc_http(404, &rpc_error(id.clone(), -32001, "Session not found"));
            }
            Some(_) => {}
        }
    }
    let outcome = if method == "initialize" {
        let requested = params.get("protocolVersion").and_then(Value::as_str);
        let version = requested
            .filter(|v| STATEFUL_VERSIONS.contains(v))
            .unwrap_or("2025-11-25");
        Ok(json!({
            "protocolVersion": version,
            "capabilities": { "tools": { "listChanged": false } },
            "serverInfo": { "name": "mcp-oauth-testbed", "version": "0.1.0" },
        }))
    } else {
        dispatch(method, &params)
    };
    let message = match outcome {
        Ok(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
        Err((code, msg)) => rpc_error(id.clone(), code, &msg),
    };
    let mut resp = HttpResponse {
        status: 200,
        headers: vec![
            ("Content-Type".into(), "text/event-stream".into()),
            ("Cache-Control".into(), "no-cache".into()),
        ],
        body: sse_event(&message).into_bytes(),
    };
    if let Some(sid) = session {
        resp = resp.with_header("Mcp-Session-Id", &sid);
    }
    resp
}

fn serve_stateless(req: &HttpRequest, body: &Value) -> HttpResponse {
    let id = body.get("id").cloned().unwrap_or(Value::Null);
    let reject =
        |status: u16, code: i64, msg: &str| rpc_http(status, &rpc_error(id.clone(), code, msg));
    if !is_json(req) {
        return reject(
            415,
            -32000,
            "Unsupported Media Type: Content-Type must be application/json",
        );
    }
    let accept = req.header("accept");
    if !(has_media(accept, "application/json") || has_media(accept, "*/*")) {
        return reject(
            406,
            -32000,
            "Not Acceptable: Client must accept application/json",
        );
    }
    let Some(header) = req.header("mcp-protocol-version") else {
        return reject(400, -32020, "Missing MCP-Protocol-Version header");
    };
    let Some(obj) = body.as_object() else {
        return reject(
            400,
            -32600,
            "Invalid Request: expected a single JSON-RPC message",
        );
    };
    let meta = obj.get("params").and_then(|p| p.get("_meta"));
    let missing: Vec<&str> = [META_PROTOCOL_VERSION, META_CLIENT_CAPABILITIES]
        .into_iter()
        .filter(|k| meta.and_then(|m| m.get(k)).is_none())
        .collect();
    if !missing.is_empty() {
        return reject(
            400,
            -32602,
            &format!("Invalid params: missing _meta keys: {}", missing.join(", ")),
        );
    }
    if meta
        .and_then(|m| m.get(META_PROTOCOL_VERSION))
        .and_then(Value::as_str)
        != Some(header)
    {
        return reject(
            400,
            -32020,
            "MCP-Protocol-Version header does not match _meta.protocolVersion",
        );
    }
    if header != STATELESS_VERSION {
        let error = json!({ "code": -32022, "message": "Unsupported protocol version",
            "data": { "supported": [STATELESS_VERSION], "requested": header } });
        return rpc_http(400, &json!({ "jsonrpc": "2.0", "id": id, "error": error }));
    }
    let (Some(method), true) = (
        obj.get("method").and_then(Value::as_str),
        obj.contains_key("id"),
    ) else {
        return HttpResponse::status(202);
    };
    let params = obj.get("params").cloned().unwrap_or(Value::Null);
    let outcome = match method {
        "server/discover" => Ok(json!({
            "supportedVersions": [STATELESS_VERSION],
            "capabilities": { "tools": {} },
            "_meta": { "io.modelcontextprotocol/serverInfo": { "name": "mcp-oauth-testbed", "version": "0.1.0" } },
        })),
        _ => dispatch(method, &params),
    };
    match outcome {
        Ok(mut result) => {
            if let Some(r) = result.as_object_mut() {
                r.insert("resultType".into(), json!("complete"));
                if matches!(method, "tools/list" | "server/discover") {
                    r.insert("ttlMs".into(), json!(0));
                    r.insert("cacheScope".into(), json!("private"));
                }
            }
            rpc_http(
                200,
                &json!({ "jsonrpc": "2.0", "id": id, "result": result }),
            )
        }
        Err((code, msg)) if code == -32601 => reject(404, code, &msg),
        Err((code, msg)) => reject(200, code, &msg),
    }
}
