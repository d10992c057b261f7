//! Hand-built requests for the testbed's unit tests: a careful client written out request by
//! request, so each test can deviate from it in exactly one place.

use mcp_oauth_core::{HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::{parse_sse, Testbed, TestbedConfig, META_CLIENT_CAPABILITIES, META_PROTOCOL_VERSION};

pub(crate) const MCP: &str = "http://127.0.0.1:1000";
pub(crate) const AS: &str = "http://127.0.0.1:2000";
pub(crate) const AS2: &str = "http://127.0.0.1:3000";
pub(crate) const REDIRECT: &str = "http://127.0.0.1:5000/callback";
/// RFC 7636 Appendix B.
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub(crate) const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
pub(crate) const T0: u64 = 1_700_000_000;
pub(crate) const STATE: &str = "state-123";

pub(crate) fn bed(cfg: TestbedConfig) -> Testbed {
    Testbed::new(cfg, MCP, AS)
}

pub(crate) fn preset(name: &str) -> Testbed {
    Testbed::conformance(name, MCP, AS, AS2).expect("known scenario")
}

pub(crate) fn json_body(resp: &HttpResponse) -> Value {
    serde_json::from_slice(&resp.body).unwrap_or(Value::Null)
}

pub(crate) fn www_auth(resp: &HttpResponse) -> &str {
    resp.header("www-authenticate").unwrap_or("")
}

pub(crate) fn get(tb: &mut Testbed, url: &str) -> HttpResponse {
    tb.handle(T0, &HttpRequest::get_json(url))
}

/// A DCR body as the library sends it (public native client with refresh grant).
pub(crate) fn dcr_body() -> Value {
    json!({
        "client_name": "mcp-oauth test",
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "application_type": "native",
    })
}

pub(crate) fn register_at(tb: &mut Testbed, endpoint: &str, body: &Value) -> HttpResponse {
    tb.handle(T0, &HttpRequest::post_json(endpoint, body))
}

/// Registers at AS₁ and returns the `client_id`.
pub(crate) fn register(tb: &mut Testbed) -> String {
    let resp = register_at(tb, &tb.as_endpoint("register"), &dcr_body());
    assert_eq!(resp.status, 201, "{}", String::from_utf8_lossy(&resp.body));
    json_body(&resp)["client_id"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// An authorization URL with `extra` pairs after the standard ones.
pub(crate) fn authorize_url(endpoint: &str, pairs: &[(&str, &str)]) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        ser.append_pair(k, v);
    }
    format!("{endpoint}?{}", ser.finish())
}

/// The standard authorization parameters (PKCE S256, state, resource, optional scope).
pub(crate) fn std_authorize<'a>(
    client_id: &'a str,
    resource: Option<&'a str>,
    scope: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    let mut p = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("state", STATE),
    ];
    if let Some(s) = scope {
        p.push(("scope", s));
    }
    if let Some(r) = resource {
        p.push(("resource", r));
    }
    p
}

/// Decoded query pairs of the `Location` header.
pub(crate) fn location_pairs(resp: &HttpResponse) -> Vec<(String, String)> {
    let loc = resp.header("location").unwrap_or("");
    let query = loc.split_once('?').map_or("", |(_, q)| q);
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub(crate) fn location_param(resp: &HttpResponse, name: &str) -> Option<String> {
    location_pairs(resp)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// Runs the browser step with the standard parameters and returns the code.
pub(crate) fn authorize(tb: &mut Testbed, client_id: &str, scope: Option<&str>) -> String {
    let resource = tb.resource();
    let url = authorize_url(
        &tb.as_endpoint("authorize"),
        &std_authorize(client_id, resource.as_deref(), scope),
    );
    let resp = tb.browser_get(T0, &url);
    assert_eq!(resp.status, 302, "{}", String::from_utf8_lossy(&resp.body));
    location_param(&resp, "code").expect("code in Location")
}

/// The standard code exchange form for a public client.
pub(crate) fn exchange_form<'a>(
    client_id: &'a str,
    code: &'a str,
    resource: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    let mut p = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
        ("client_id", client_id),
    ];
    if let Some(r) = resource {
        p.push(("resource", r));
    }
    p
}

pub(crate) fn post_token(tb: &mut Testbed, now: u64, pairs: &[(&str, &str)]) -> HttpResponse {
    let req = HttpRequest::post_form(tb.as_endpoint("token"), pairs);
    tb.handle(now, &req)
}

/// DCR, browser step and code exchange; returns `(client_id, token response JSON)`.
pub(crate) fn login(tb: &mut Testbed, scope: Option<&str>) -> (String, Value) {
    let client_id = register(tb);
    let code = authorize(tb, &client_id, scope);
    let resource = tb.resource();
    let resp = post_token(
        tb,
        T0,
        &exchange_form(&client_id, &code, resource.as_deref()),
    );
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    (client_id, json_body(&resp))
}

pub(crate) fn rpc(id: u64, method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params })
}

/// A stateful-wire POST /mcp.
pub(crate) fn mcp_post(tb: &Testbed, token: Option<&str>, body: &Value) -> HttpRequest {
    let mut req = HttpRequest::post_json(tb.mcp_url(), body);
    req.headers = vec![
        ("Content-Type".into(), "application/json".into()),
        (
            "Accept".into(),
            "application/json, text/event-stream".into(),
        ),
    ];
    if let Some(t) = token {
        req.headers
            .push(("Authorization".into(), format!("Bearer {t}")));
    }
    req
}

/// A stateless-wire (2026-07-28) POST /mcp with header and `_meta`.
pub(crate) fn mcp_post_stateless(
    tb: &Testbed,
    token: Option<&str>,
    id: u64,
    method: &str,
    mut params: Value,
) -> HttpRequest {
    if let Some(p) = params.as_object_mut() {
        p.insert(
            "_meta".into(),
            json!({ META_PROTOCOL_VERSION: "2026-07-28", META_CLIENT_CAPABILITIES: {} }),
        );
    }
    let mut req = mcp_post(tb, token, &rpc(id, method, params));
    req.headers
        .push(("MCP-Protocol-Version".into(), "2026-07-28".into()));
    req
}

/// The single JSON-RPC message of an SSE response.
pub(crate) fn sse_message(resp: &HttpResponse) -> Value {
    let msgs = parse_sse(&resp.body);
    assert_eq!(msgs.len(), 1, "{}", String::from_utf8_lossy(&resp.body));
    msgs.into_iter().next().unwrap_or(Value::Null)
}

pub(crate) fn access_token(token_json: &Value) -> String {
    token_json["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}
