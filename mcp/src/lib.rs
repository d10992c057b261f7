//! # mcp-oauth-mcp
//!
//! The MCP client side of JSON-RPC over Streamable HTTP (MCP specification, "Transports",
//! "Streamable HTTP"), sans-IO: it builds [`HttpRequest`]s and reads [`HttpResponse`]s, the
//! caller moves them. Used by the `mcp-oauth call` command, the conformance client and the
//! integration tests; the testbed's MCP server is its counterpart.
//!
//! Two wires:
//! - **stateful** (2025-11-25 and earlier): `initialize`, then `notifications/initialized`, then
//!   requests carrying the negotiated `MCP-Protocol-Version` and any `Mcp-Session-Id`; answers may
//!   be SSE (`text/event-stream`) or JSON;
//! - **stateless** (2026-07-28): no `initialize`; every request carries the
//!   `MCP-Protocol-Version` header and `params._meta` with the protocol version and the client
//!   capabilities; answers are JSON.
//!
//! No authorization here: the caller attaches the `Authorization` header (the adapters'
//! `Authorizer::send` does) and feeds 401/403 challenges to the OAuth machine.
//!
//! ```
//! use mcp_oauth_core::HttpResponse;
//! use mcp_oauth_mcp::{McpSession, McpWire};
//!
//! let url = "https://mcp.example.com/mcp";
//! let mut mcp = McpSession::new(McpWire::for_protocol_version("2026-07-28"), "2026-07-28");
//! assert!(!mcp.needs_initialize()); // the stateless wire has no handshake
//! let request = mcp.request(url, "tools/list", serde_json::json!({}));
//! assert_eq!(request.header("MCP-Protocol-Version"), Some("2026-07-28"));
//! // ...send `request` (with an Authorization header), then read the answer:
//! let answer = HttpResponse::json(200, &serde_json::json!({
//!     "jsonrpc": "2.0", "id": 1, "result": { "tools": [] }
//! }));
//! let result = mcp.handle_response(&answer)?;
//! assert_eq!(result["tools"], serde_json::json!([]));
//! # Ok::<(), mcp_oauth_mcp::McpError>(())
//! ```
// Every public item is documented; CI's clippy -D warnings keeps it so.
#![warn(missing_docs)]

pub mod sse;

use mcp_oauth_core::{HttpRequest, HttpResponse, Method};
use serde_json::{json, Map, Value};

/// The first revision of the stateless wire.
pub const FIRST_STATELESS_VERSION: &str = "2026-07-28";
/// `params._meta` key of the protocol version (stateless wire).
pub const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
/// `params._meta` key of the client capabilities (stateless wire).
pub const META_CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";

/// Which Streamable HTTP wire a session speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum McpWire {
    /// 2025-11-25 and earlier: `initialize` handshake, optional sessions, SSE answers.
    Stateful,
    /// 2026-07-28 and later: per-request version header and `_meta`, JSON answers.
    Stateless,
}

fn is_date(v: &str) -> bool {
    v.len() == 10
        && v.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        })
}

impl McpWire {
    /// The wire of a protocol revision: `2026-07-28` or a later date, or `draft`, is stateless;
    /// anything else (older dates, unknown names) stateful. Dates compare as text since
    /// `YYYY-MM-DD` sorts chronologically.
    pub fn for_protocol_version(v: &str) -> Self {
        let v = v.trim();
        let draft = v.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("draft"));
        if draft || (is_date(v) && v >= FIRST_STATELESS_VERSION) {
            McpWire::Stateless
        } else {
            McpWire::Stateful
        }
    }
}

/// Why an MCP call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum McpError {
    /// A non-2xx HTTP status (401/403 are the caller's cue to consult the OAuth machine).
    #[error("MCP server answered HTTP {0}")]
    Status(u16),
    /// A JSON-RPC error object answering our request.
    #[error("JSON-RPC error {code}: {message}")]
    Rpc {
        /// The JSON-RPC error code.
        code: i64,
        /// The server's message.
        message: String,
    },
    /// The body is not a JSON-RPC answer to the request.
    #[error("malformed MCP response: {0}")]
    Malformed(String),
}

/// What the last built request awaits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pending {
    Nothing,
    Initialize(u64),
    Request(u64),
    Notification,
}

/// One client's MCP conversation with one server. [`McpSession::handle_response`] reads the
/// answer to the most recently built request, so requests go one at a time.
///
/// `Debug` does not show the `Mcp-Session-Id`: whoever holds it can act in the session.
#[derive(Clone)]
pub struct McpSession {
    wire: McpWire,
    protocol_version: String,
    session_id: Option<String>,
    next_id: u64,
    initialized: bool,
    client_name: String,
    client_version: String,
    pending: Pending,
}

impl std::fmt::Debug for McpSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpSession")
            .field("wire", &self.wire)
            .field("protocol_version", &self.protocol_version)
            .field("session_id", &self.session_id.as_ref().map(|_| "[set]"))
            .field("next_id", &self.next_id)
            .field("initialized", &self.initialized)
            .finish_non_exhaustive()
    }
}

impl McpSession {
    /// A session speaking `wire` at `protocol_version` (sent verbatim). Client info defaults to
    /// `mcp-oauth` and this crate's version.
    pub fn new(wire: McpWire, protocol_version: &str) -> Self {
        Self {
            wire,
            protocol_version: protocol_version.to_string(),
            session_id: None,
            next_id: 1,
            initialized: false,
            client_name: "mcp-oauth".into(),
            client_version: env!("CARGO_PKG_VERSION").into(),
            pending: Pending::Nothing,
        }
    }

    /// Sets the `clientInfo` sent in `initialize` (builder style).
    pub fn with_client_info(mut self, name: &str, version: &str) -> Self {
        self.client_name = name.to_string();
        self.client_version = version.to_string();
        self
    }

    /// The wire.
    pub fn wire(&self) -> McpWire {
        self.wire
    }

    /// The protocol version: as given, or as negotiated by `initialize`.
    pub fn protocol_version(&self) -> &str {
        &self.protocol_version
    }

    /// The `Mcp-Session-Id` the server assigned, if any.
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// Whether `initialize` succeeded.
    pub fn is_initialized(&self) -> bool {
        self.initialized
    }

    /// Stateful and not yet initialized: send [`Self::initialize_request`] and
    /// [`Self::initialized_notification`] first.
    pub fn needs_initialize(&self) -> bool {
        self.wire == McpWire::Stateful && !self.initialized
    }

    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id = self.next_id.saturating_add(1);
        id
    }

    /// A POST of `body` with the Streamable HTTP headers. The version header goes on every
    /// stateless request and on stateful ones after `initialize` (MCP 2025-06-18 transports,
    /// "Protocol Version Header").
    fn post(&self, url: &str, body: &Value) -> HttpRequest {
        let mut headers = vec![
            ("Content-Type".to_string(), "application/json".to_string()),
            (
                "Accept".to_string(),
                "application/json, text/event-stream".to_string(),
            ),
        ];
        if self.wire == McpWire::Stateless || self.initialized {
            headers.push(("MCP-Protocol-Version".into(), self.protocol_version.clone()));
        }
        if let Some(sid) = &self.session_id {
            headers.push(("Mcp-Session-Id".into(), sid.clone()));
        }
        HttpRequest {
            method: Method::Post,
            url: url.to_string(),
            headers,
            body: body.to_string().into_bytes(),
        }
    }

    /// The stateful `initialize` request (protocol version, empty capabilities, client info).
    pub fn initialize_request(&mut self, url: &str) -> HttpRequest {
        let id = self.take_id();
        self.pending = Pending::Initialize(id);
        let body = json!({ "jsonrpc": "2.0", "id": id, "method": "initialize", "params": {
            "protocolVersion": self.protocol_version,
            "capabilities": {},
            "clientInfo": { "name": self.client_name, "version": self.client_version },
        }});
        self.post(url, &body)
    }

    /// `notifications/initialized`, sent after a successful `initialize`; its answer (202) reads
    /// as `Ok(Value::Null)`.
    pub fn initialized_notification(&mut self, url: &str) -> HttpRequest {
        self.pending = Pending::Notification;
        let body = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
        self.post(url, &body)
    }

    /// A JSON-RPC request. On the stateless wire `params._meta` gains the protocol version and
    /// the (empty) client capabilities, keeping any `_meta` keys the caller set; `null` params
    /// become an object.
    pub fn request(&mut self, url: &str, method: &str, params: Value) -> HttpRequest {
        let id = self.take_id();
        self.pending = Pending::Request(id);
        let mut params = params;
        if self.wire == McpWire::Stateless {
            if params.is_null() {
                params = Value::Object(Map::new());
            }
            if let Some(obj) = params.as_object_mut() {
                let meta = obj
                    .entry("_meta")
                    .or_insert_with(|| Value::Object(Map::new()));
                if !meta.is_object() {
                    *meta = Value::Object(Map::new());
                }
                if let Some(meta) = meta.as_object_mut() {
                    meta.insert(
                        META_PROTOCOL_VERSION.into(),
                        json!(self.protocol_version.clone()),
                    );
                    meta.insert(META_CLIENT_CAPABILITIES.into(), json!({}));
                }
            }
        }
        let body = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        self.post(url, &body)
    }

    /// Reads the answer to the last built request: the JSON-RPC `result`, or why there is none.
    ///
    /// Captures `Mcp-Session-Id`; after a successful `initialize`, marks the session initialized
    /// and adopts the server's `protocolVersion`. A 404 while holding a session id means the
    /// server ended the session (Streamable HTTP, "Session Management"), so it is forgotten and
    /// [`Self::needs_initialize`] is true again.
    pub fn handle_response(&mut self, resp: &HttpResponse) -> Result<Value, McpError> {
        let pending = std::mem::replace(&mut self.pending, Pending::Nothing);
        if !resp.is_success() {
            if resp.status == 404 && self.session_id.is_some() {
                self.session_id = None;
                self.initialized = false;
            }
            return Err(McpError::Status(resp.status));
        }
        if let Some(sid) = resp.header("mcp-session-id").map(str::trim) {
            // The spec limits session ids to visible ASCII (0x21-0x7E).
            if !sid.is_empty() && sid.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
                self.session_id = Some(sid.to_string());
            }
        }
        let id = match pending {
            Pending::Notification => return Ok(Value::Null),
            Pending::Nothing => {
                return Err(McpError::Malformed("no request awaits a response".into()))
            }
            Pending::Initialize(id) | Pending::Request(id) => id,
        };
        let result = result_of(&find_message(resp, id)?)?;
        if matches!(pending, Pending::Initialize(_)) {
            self.initialized = true;
            if let Some(v) = result.get("protocolVersion").and_then(Value::as_str) {
                self.protocol_version = v.to_string();
            }
        }
        Ok(result)
    }
}

/// Whether `msg` answers request `id`: a response (no `method`) with that id.
fn answers(msg: &Value, id: u64) -> bool {
    msg.get("method").is_none() && msg.get("id").and_then(Value::as_u64) == Some(id)
}

/// The message answering `id` in a JSON or SSE body; batches (arrays) are searched too.
/// Notifications and server requests in an event stream are skipped.
fn find_message(resp: &HttpResponse, id: u64) -> Result<Value, McpError> {
    let text = std::str::from_utf8(&resp.body)
        .map_err(|_| McpError::Malformed("body is not UTF-8".into()))?;
    let is_sse = resp.header("content-type").is_some_and(|c| {
        c.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/event-stream"))
    });
    let candidates: Vec<Value> = if is_sse {
        sse::parse_events(text)
            .into_iter()
            .filter(|e| e.event == "message")
            .filter_map(|e| serde_json::from_str::<Value>(&e.data).ok())
            .collect()
    } else {
        if text.trim().is_empty() {
            return Err(McpError::Malformed(format!(
                "HTTP {} with an empty body",
                resp.status
            )));
        }
        let doc = serde_json::from_str::<Value>(text)
            .map_err(|e| McpError::Malformed(format!("body is not JSON: {e}")))?;
        vec![doc]
    };
    candidates
        .into_iter()
        .flat_map(|v| match v {
            Value::Array(items) => items,
            other => vec![other],
        })
        .find(|m| answers(m, id))
        .ok_or_else(|| McpError::Malformed(format!("no JSON-RPC response with id {id}")))
}

/// The `result` of a response, or its `error` as [`McpError::Rpc`].
fn result_of(msg: &Value) -> Result<Value, McpError> {
    if let Some(err) = msg.get("error") {
        let code = err
            .get("code")
            .and_then(Value::as_i64)
            .ok_or_else(|| McpError::Malformed("JSON-RPC error without a code".into()))?;
        let message = err
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        return Err(McpError::Rpc { code, message });
    }
    msg.get("result")
        .cloned()
        .ok_or_else(|| McpError::Malformed("JSON-RPC response without result or error".into()))
}
