//! Fakes shared by the `Authorizer` tests (included with `#[path]`; as a target of its own it
//! holds no tests): sessions, a rotating-refresh-token authorization server usable in process
//! or over loopback HTTP, and a store whose saves can be made to fail.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use mcp_oauth_blocking::{HttpClient, MemoryStore, SessionStore, StoreError, StoreKind, StoreLock};
use mcp_oauth_core::{
    AccessToken, ClientAuthMethod, ClientKind, ClientRegistration, Config, HttpRequest,
    HttpResponse, Method, RefreshToken, Session, TokenSet, TokenType, SESSION_VERSION,
};

/// The MCP server every test talks about (already canonical: the store key).
pub const SERVER: &str = "https://mcp.example.com/mcp";
/// The authorization server's issuer.
pub const ISSUER: &str = "https://auth.example.com";
/// Its token endpoint.
pub const TOKEN_ENDPOINT: &str = "https://auth.example.com/token";

/// A non-interactive configuration: a test that would need a browser fails instead of hanging.
pub fn config() -> Config {
    let mut c = Config::new(SERVER);
    c.interactive = false;
    c
}

/// A session whose access token `at-0` expired long ago, with refresh token `rt-0`.
pub fn expired_session(token_endpoint: &str) -> Session {
    session_with(token_endpoint, "at-0", Some(1))
}

/// A session for [`SERVER`] with access token `access` expiring at `expires_at`.
pub fn session_with(token_endpoint: &str, access: &str, expires_at: Option<u64>) -> Session {
    Session {
        version: SESSION_VERSION,
        server: SERVER.to_owned(),
        resource: Some(SERVER.to_owned()),
        issuer: ISSUER.to_owned(),
        token_endpoint: token_endpoint.to_owned(),
        revocation_endpoint: None,
        client: ClientRegistration {
            kind: ClientKind::Dynamic,
            issuer: ISSUER.to_owned(),
            client_id: "client-1".to_owned(),
            client_secret: None,
            secret_expires_at: None,
            auth_method: ClientAuthMethod::None,
            redirect_uri: Some("http://127.0.0.1:1/callback".to_owned()),
        },
        tokens: Some(TokenSet {
            access_token: AccessToken::new(access),
            token_type: TokenType::Bearer,
            refresh_token: Some(RefreshToken::new("rt-0")),
            expires_at,
            dpop_key: None,
            obtained_at: None,
        }),
        scopes: vec!["mcp".to_owned()],
        discovery: None,
        settings: Default::default(),
    }
}

/// The refresh token currently stored for [`SERVER`].
pub fn stored_refresh_token(store: &dyn SessionStore) -> Option<String> {
    store
        .load(SERVER)
        .unwrap()
        .and_then(|s| s.tokens)
        .and_then(|t| t.refresh_token)
        .map(|r| r.expose_secret().to_owned())
}

/// An authorization server whose refresh tokens rotate: `rt-N` buys `at-(N+1)` and
/// `rt-(N+1)`, and a refresh token used twice is refused with `400 invalid_grant` (as
/// oidc-provider does). It sleeps `delay` before answering to widen races.
pub struct RotatingAs {
    current: Mutex<u32>,
    delay: Duration,
    /// Refresh-grant requests received.
    pub token_requests: AtomicUsize,
    /// Requests refused as a reused refresh token.
    pub invalid_grants: AtomicUsize,
    /// Requests to anything but the token endpoint.
    pub other_requests: AtomicUsize,
}

impl RotatingAs {
    /// A server whose current refresh token is `rt-0`.
    pub fn new(delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            current: Mutex::new(0),
            delay,
            token_requests: AtomicUsize::new(0),
            invalid_grants: AtomicUsize::new(0),
            other_requests: AtomicUsize::new(0),
        })
    }

    /// Answers a refresh grant (the form body decides; the URL is not looked at).
    pub fn answer(&self, req: &HttpRequest) -> HttpResponse {
        let form = req.form_pairs();
        let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        if req.method != Method::Post || field("grant_type").as_deref() != Some("refresh_token") {
            self.other_requests.fetch_add(1, Ordering::SeqCst);
            return HttpResponse::status(404);
        }
        self.token_requests.fetch_add(1, Ordering::SeqCst);
        thread::sleep(self.delay);
        let mut current = self.current.lock().unwrap();
        if field("refresh_token") != Some(format!("rt-{current}")) {
            self.invalid_grants.fetch_add(1, Ordering::SeqCst);
            return HttpResponse::json(400, &serde_json::json!({"error": "invalid_grant"}));
        }
        *current += 1;
        let n = *current;
        HttpResponse::json(
            200,
            &serde_json::json!({
                "access_token": format!("at-{n}"),
                "token_type": "Bearer",
                "expires_in": 3600,
                "refresh_token": format!("rt-{n}"),
            }),
        )
    }
}

impl HttpClient for RotatingAs {
    fn send(&self, req: &HttpRequest) -> Result<HttpResponse, mcp_oauth_core::TransportError> {
        Ok(self.answer(req))
    }
}

/// Serves `handler` over HTTP/1.1 on 127.0.0.1 (one thread per connection, `Connection:
/// close`); returns the base URL. The server lives until the process ends.
pub fn serve_http(
    handler: impl Fn(&HttpRequest) -> HttpResponse + Send + Sync + 'static,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let handler = Arc::new(handler);
    let base_for_thread = base.clone();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let handler = Arc::clone(&handler);
            let base = base_for_thread.clone();
            thread::spawn(move || serve_one(stream, &base, &*handler));
        }
    });
    base
}

fn serve_one(mut stream: TcpStream, base: &str, handler: &dyn Fn(&HttpRequest) -> HttpResponse) {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = if first.next() == Some("POST") {
        Method::Post
    } else {
        Method::Get
    };
    let target = first.next().unwrap_or("/").to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let len = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let request = HttpRequest {
        method,
        url: format!("{base}{target}"),
        headers,
        body: buf[head_end..head_end + len].to_vec(),
    };
    let response = handler(&request);
    let mut out = format!("HTTP/1.1 {} X\r\n", response.status).into_bytes();
    for (k, v) in &response.headers {
        out.extend(format!("{k}: {v}\r\n").into_bytes());
    }
    out.extend(
        format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            response.body.len()
        )
        .into_bytes(),
    );
    out.extend(&response.body);
    let _ = stream.write_all(&out);
}

/// A [`MemoryStore`] whose `save` fails while `fail_saves` is set, and which counts calls.
#[derive(Default)]
pub struct FlakyStore {
    pub inner: MemoryStore,
    pub fail_saves: AtomicBool,
    pub loads: AtomicUsize,
    pub saves: AtomicUsize,
    pub deletes: AtomicUsize,
}

impl SessionStore for FlakyStore {
    fn load(&self, key: &str) -> Result<Option<Session>, StoreError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.load(key)
    }
    fn save(&self, key: &str, session: &Session) -> Result<(), StoreError> {
        self.saves.fetch_add(1, Ordering::SeqCst);
        if self.fail_saves.load(Ordering::SeqCst) {
            return Err(StoreError::Keychain(
                "simulated: the keychain is locked".into(),
            ));
        }
        self.inner.save(key, session)
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.deletes.fetch_add(1, Ordering::SeqCst);
        self.inner.delete(key)
    }
    fn lock(&self, key: &str) -> Result<StoreLock, StoreError> {
        self.inner.lock(key)
    }
    fn list(&self) -> Result<Vec<String>, StoreError> {
        self.inner.list()
    }
    fn kind(&self) -> StoreKind {
        StoreKind::Memory
    }
}

/// A whole authorization server plus protected resource metadata, in process: PRM, RFC 8414
/// metadata, open DCR, the code exchange (`code-1` buys `at-login`/`rt-login`) and revocation.
#[derive(Default)]
pub struct Idp {
    /// `METHOD url` of every request, in order.
    pub log: Mutex<Vec<String>>,
    /// When set, the answer to the code exchange.
    pub token_override: Mutex<Option<Result<HttpResponse, mcp_oauth_core::TransportError>>>,
}

impl Idp {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl HttpClient for Idp {
    fn send(&self, req: &HttpRequest) -> Result<HttpResponse, mcp_oauth_core::TransportError> {
        let method = if req.method == Method::Post {
            "POST"
        } else {
            "GET"
        };
        self.log
            .lock()
            .unwrap()
            .push(format!("{method} {}", req.url));
        let json = |status, v: serde_json::Value| Ok(HttpResponse::json(status, &v));
        match (req.method, req.url.as_str()) {
            (Method::Get, "https://mcp.example.com/.well-known/oauth-protected-resource/mcp") => {
                json(
                    200,
                    serde_json::json!({"resource": SERVER, "authorization_servers": [ISSUER], "scopes_supported": ["mcp"]}),
                )
            }
            (Method::Get, "https://auth.example.com/.well-known/oauth-authorization-server") => {
                json(
                    200,
                    serde_json::json!({
                        "issuer": ISSUER,
                        "authorization_endpoint": format!("{ISSUER}/authorize"),
                        "token_endpoint": TOKEN_ENDPOINT,
                        "registration_endpoint": format!("{ISSUER}/register"),
                        "revocation_endpoint": format!("{ISSUER}/revoke"),
                        "code_challenge_methods_supported": ["S256"],
                        "response_types_supported": ["code"],
                        "token_endpoint_auth_methods_supported": ["none"],
                    }),
                )
            }
            (Method::Post, "https://auth.example.com/register") => json(
                201,
                serde_json::json!({"client_id": "dcr-1", "token_endpoint_auth_method": "none"}),
            ),
            (Method::Post, TOKEN_ENDPOINT) => {
                let form = req.form_pairs();
                let has = |k: &str, v: &str| form.iter().any(|(a, b)| a == k && b == v);
                if has("grant_type", "authorization_code") {
                    if let Some(answer) = self.token_override.lock().unwrap().clone() {
                        return answer;
                    }
                    if !has("code", "code-1") || !form.iter().any(|(k, _)| k == "code_verifier") {
                        return json(400, serde_json::json!({"error": "invalid_grant"}));
                    }
                    return json(
                        200,
                        serde_json::json!({"access_token": "at-login", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "rt-login"}),
                    );
                }
                json(400, serde_json::json!({"error": "unsupported_grant_type"}))
            }
            (Method::Post, "https://auth.example.com/revoke") => Ok(HttpResponse::status(200)),
            _ => Ok(HttpResponse::status(404)),
        }
    }
}

/// The `redirect_uri` and `state` of an authorization URL.
pub fn authorization_params(url: &str) -> (String, String) {
    let url = url::Url::parse(url).unwrap();
    let get = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no {name} in the authorization URL"))
    };
    (get("redirect_uri"), get("state"))
}

/// What a browser does at the end of the flow: GET the redirect URI (on the loopback
/// listener) and return the status code of the page.
pub fn browser_get(url: &str) -> u16 {
    let parsed = url::Url::parse(url).unwrap();
    let mut s = TcpStream::connect(("127.0.0.1", parsed.port().unwrap())).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let target = match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_owned(),
    };
    s.write_all(format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
        .unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0)
}
