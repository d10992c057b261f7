//! The testbed on real loopback sockets (`mcp_oauth_tests::serve`), exercised with a plain
//! `std::net::TcpStream` client writing raw HTTP/1.1: routing by listener, keep-alive, framing
//! errors, concurrency, shutdown, and a whole OAuth flow done by hand over the wire.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use mcp_oauth_tests::serve::{ServeOptions, TestbedServer};
use mcp_oauth_tests::testbed::{RequestKind, TestbedConfig};
use serde_json::{json, Value};

/// One response as read off the wire.
#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// A raw HTTP/1.1 client on one connection.
struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    fn connect(origin: &str) -> Self {
        let addr = origin.strip_prefix("http://").expect("http origin");
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        Self {
            reader: BufReader::new(stream),
        }
    }

    fn send_raw(&mut self, raw: &[u8]) -> Resp {
        self.reader.get_mut().write_all(raw).expect("write");
        self.read_response()
    }

    fn read_response(&mut self) -> Resp {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("status line");
        let mut parts = line.trim_end().splitn(3, ' ');
        assert_eq!(parts.next(), Some("HTTP/1.1"), "status line {line:?}");
        let status: u16 = parts.next().expect("status").parse().expect("number");
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            self.reader.read_line(&mut h).expect("header line");
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').expect("header colon");
            headers.push((k.to_string(), v.trim().to_string()));
        }
        let mut resp = Resp {
            status,
            headers,
            body: Vec::new(),
        };
        if let Some(len) = resp.header("content-length") {
            let mut body = vec![0; len.parse().expect("length")];
            self.reader.read_exact(&mut body).expect("body");
            resp.body = body;
        }
        resp
    }

    fn get(&mut self, path: &str) -> Resp {
        self.send_raw(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
    }

    fn post(&mut self, path: &str, content_type: &str, extra: &str, body: &str) -> Resp {
        let raw = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n{extra}Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.send_raw(raw.as_bytes())
    }

    /// True when the server closed the connection (EOF on the next read).
    fn is_closed(&mut self) -> bool {
        let mut buf = [0u8; 1];
        matches!(self.reader.read(&mut buf), Ok(0))
    }
}

const MCP_HEADERS: &str = "Accept: application/json, text/event-stream\r\n";

fn start(config: TestbedConfig) -> TestbedServer {
    TestbedServer::start(config, ServeOptions::default()).expect("start")
}

#[test]
fn serves_prm_with_real_origins() {
    let server = start(TestbedConfig::default());
    assert!(server.mcp_url().starts_with("http://127.0.0.1:"));
    assert_eq!(server.mcp_url(), format!("{}/mcp", server.mcp_origin()));
    assert_ne!(server.mcp_origin(), server.as_origin());
    assert_eq!(server.as2_origin(), None);
    let mut c = Client::connect(server.mcp_origin());
    let r = c.get("/.well-known/oauth-protected-resource/mcp");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("connection"), Some("keep-alive"));
    assert_eq!(
        r.json(),
        json!({
            "resource": server.mcp_url(),
            "authorization_servers": [server.as_origin()],
            "scopes_supported": ["mcp:basic", "mcp:write"],
        })
    );
    let logged = server.with_testbed(|t| t.log().first().map(|l| (l.kind, l.url.clone())));
    assert_eq!(
        logged,
        Some((
            RequestKind::ResourceMetadata,
            format!(
                "{}/.well-known/oauth-protected-resource/mcp",
                server.mcp_origin()
            )
        ))
    );
}

#[test]
fn unauthenticated_mcp_post_gets_401_challenge() {
    let server = start(TestbedConfig::default());
    let mut c = Client::connect(server.mcp_origin());
    let r = c.post(
        "/mcp",
        "application/json",
        MCP_HEADERS,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#,
    );
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        Some(
            format!(
                "Bearer error=\"invalid_token\", error_description=\"Missing Authorization header\", resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
                server.mcp_origin()
            )
            .as_str()
        )
    );
    assert_eq!(r.json()["error"], "invalid_token");
}

#[test]
fn keep_alive_then_close() {
    let server = start(TestbedConfig::default());
    let mut c = Client::connect(server.as_origin());
    let first = c.get("/.well-known/oauth-authorization-server");
    assert_eq!(first.status, 200);
    assert_eq!(first.json()["issuer"], server.as_origin());
    assert_eq!(first.header("connection"), Some("keep-alive"));
    let second = c.send_raw(
        b"GET /.well-known/oauth-authorization-server HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(second.status, 200);
    assert_eq!(second.header("connection"), Some("close"));
    assert!(c.is_closed());
    assert_eq!(
        server.with_testbed(|t| t.count(RequestKind::ServerMetadata)),
        2
    );
}

#[test]
fn http10_closes_and_pipelined_requests_are_answered_in_order() {
    let server = start(TestbedConfig::default());
    let mut c = Client::connect(server.mcp_origin());
    let raw = b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /.well-known/oauth-protected-resource/mcp HTTP/1.1\r\nHost: x\r\n\r\n";
    let first = c.send_raw(raw);
    assert_eq!(first.status, 404);
    assert_eq!(c.read_response().status, 200);
    let old = c.send_raw(b"GET /nope HTTP/1.0\r\n\r\n");
    assert_eq!(old.status, 404);
    assert_eq!(old.header("connection"), Some("close"));
    assert!(c.is_closed());
}

#[test]
fn unknown_path_and_unsupported_method() {
    let server = start(TestbedConfig::default());
    let mut c = Client::connect(server.mcp_origin());
    let r = c.get("/nope");
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json(),
        json!({"error": "not_found", "error_description": "Not Found"})
    );
    let r = c.send_raw(b"DELETE /mcp HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, POST"));
    assert_eq!(r.header("content-length"), Some("0"));
}

#[test]
fn malformed_requests_get_4xx_and_close() {
    let server = start(TestbedConfig::default());
    let mut c = Client::connect(server.mcp_origin());
    assert_eq!(c.send_raw(b"garbage\r\n\r\n").status, 400);
    assert!(c.is_closed());
    let mut c = Client::connect(server.mcp_origin());
    let r = c.send_raw(b"POST /mcp HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n");
    assert_eq!(r.status, 413);
    assert!(c.is_closed());
    let mut c = Client::connect(server.mcp_origin());
    assert_eq!(c.send_raw(b"GET / HTTP/2.0\r\n\r\n").status, 505);
    let mut c = Client::connect(server.mcp_origin());
    assert_eq!(
        c.send_raw(b"GET / HTTP/1.1\r\n bad fold\r\n\r\n").status,
        400
    );
    assert_eq!(server.with_testbed(|t| t.log().len()), 0);
}

#[test]
fn chunked_body_and_expect_continue() {
    let server = start(TestbedConfig::default());
    let mut c = Client::connect(server.as_origin());
    let body = r#"{"redirect_uris":["http://127.0.0.1:9/callback"],"application_type":"native","grant_types":["authorization_code","refresh_token"],"token_endpoint_auth_method":"none"}"#;
    let (a, b) = body.split_at(20);
    let raw = format!(
        "POST /register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n{:x};ext=1\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\nTrailer: t\r\n\r\n",
        a.len(),
        b.len()
    );
    let interim = c.send_raw(raw.as_bytes());
    assert_eq!(interim.status, 100);
    let r = c.read_response();
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["client_id"], "test-client-id");
    assert_eq!(
        server.with_testbed(|t| t.registration_requests()),
        vec![serde_json::from_str::<Value>(body).expect("json")]
    );
}

#[test]
fn concurrent_connections_with_delay_are_not_serialized() {
    let delay = Duration::from_millis(300);
    let server = TestbedServer::start(
        TestbedConfig::default(),
        ServeOptions {
            delay,
            ..ServeOptions::default()
        },
    )
    .expect("start");
    let origin = server.mcp_origin().to_string();
    let started = Instant::now();
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let origin = origin.clone();
            std::thread::spawn(move || {
                Client::connect(&origin)
                    .get("/.well-known/oauth-protected-resource/mcp")
                    .status
            })
        })
        .collect();
    let statuses: Vec<u16> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    let elapsed = started.elapsed();
    assert_eq!(statuses, vec![200; 8]);
    assert!(elapsed >= delay, "{elapsed:?}");
    // Serialized, 8 delays would take 2.4 s; the delay is slept outside the testbed lock.
    assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
    assert_eq!(
        server.with_testbed(|t| t.count(RequestKind::ResourceMetadata)),
        8
    );
}

#[test]
fn as_on_mcp_origin_and_second_as() {
    let legacy = start(TestbedConfig {
        as_on_mcp_origin: true,
        ..TestbedConfig::default()
    });
    assert_eq!(legacy.as_origin(), legacy.mcp_origin());
    let r = Client::connect(legacy.mcp_origin()).get("/.well-known/oauth-authorization-server");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["issuer"], legacy.mcp_origin());

    let two = TestbedServer::start(
        TestbedConfig::default(),
        ServeOptions {
            second_as: true,
            ..ServeOptions::default()
        },
    )
    .expect("start");
    let as2 = two.as2_origin().expect("AS2").to_string();
    assert!(as2 != two.as_origin() && as2 != two.mcp_origin());
    assert_eq!(two.with_testbed(|t| t.as2_issuer()), Some(as2.clone()));
    let r = Client::connect(&as2).get("/.well-known/oauth-authorization-server");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["issuer"], as2);
}

#[test]
fn shutdown_closes_idle_keep_alive_connections_promptly() {
    let server = start(TestbedConfig::default());
    let origin = server.mcp_origin().to_string();
    let mut idle = Client::connect(&origin);
    assert_eq!(idle.get("/nope").status, 404);
    let started = Instant::now();
    server.shutdown();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(idle.is_closed());
    let addr = origin.trim_start_matches("http://");
    assert!(TcpStream::connect(addr).is_err());
}

/// `BASE64URL(SHA256(verifier))` of the RFC 7636 Appendix B verifier.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

#[test]
fn whole_oauth_flow_by_hand_over_the_wire() {
    let server = start(TestbedConfig::default());
    let resource = server.mcp_url();
    let redirect = "http://127.0.0.1:9/callback";
    let mut as_conn = Client::connect(server.as_origin());
    let reg = as_conn.post(
        "/register",
        "application/json",
        "",
        &json!({"redirect_uris": [redirect], "application_type": "native",
                "grant_types": ["authorization_code", "refresh_token"],
                "token_endpoint_auth_method": "none"})
        .to_string(),
    );
    assert_eq!(reg.status, 201);
    let client_id = reg.json()["client_id"].as_str().expect("id").to_string();
    let query = form(&[
        ("response_type", "code"),
        ("client_id", &client_id),
        ("redirect_uri", redirect),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("state", "st-1"),
        ("resource", &resource),
        ("scope", "mcp:basic mcp:write"),
    ]);
    let az = as_conn.get(&format!("/authorize?{query}"));
    assert_eq!(az.status, 302);
    let location = url::Url::parse(az.header("location").expect("location")).expect("url");
    let q: Vec<(String, String)> = location.query_pairs().into_owned().collect();
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("state").as_deref(), Some("st-1"));
    assert_eq!(get("iss").as_deref(), Some(server.as_origin()));
    let code = get("code").expect("code");
    let tok = as_conn.post(
        "/token",
        "application/x-www-form-urlencoded",
        "",
        &form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("code_verifier", VERIFIER),
            ("client_id", &client_id),
            ("resource", &resource),
        ]),
    );
    assert_eq!(tok.status, 200);
    let access = tok.json()["access_token"]
        .as_str()
        .expect("token")
        .to_string();

    let mut mcp = Client::connect(server.mcp_origin());
    let auth = format!(
        "{MCP_HEADERS}Authorization: Bearer {access}\r\nMCP-Protocol-Version: 2025-11-25\r\n"
    );
    let body = r#"{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{}}"#;
    let r = mcp.post("/mcp", "application/json", &auth, body);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    let text = String::from_utf8(r.body).expect("utf8");
    assert!(text.starts_with("event: message\ndata: {"), "{text}");
    assert!(
        text.contains("\"id\":7") && text.contains("test-tool"),
        "{text}"
    );

    server.with_testbed(|t| t.expire_all_access_tokens());
    let r = mcp.post("/mcp", "application/json", &auth, body);
    assert_eq!(r.status, 401);
    assert!(r
        .header("www-authenticate")
        .is_some_and(|h| h.contains("error_description=\"Token expired\"")));
    assert_eq!(
        server.with_testbed(|t| t.violations().to_vec()),
        Vec::<String>::new()
    );
}
