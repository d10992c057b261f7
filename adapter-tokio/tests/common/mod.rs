//! Test doubles shared by the integration tests: an in-memory authorization server and MCP
//! server behind the public `HttpClient` trait, session builders, and a store that can fail.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mcp_oauth_core::{
    AccessToken, ClientAuthMethod, ClientKind, ClientRegistration, HttpRequest, HttpResponse,
    RefreshToken, Session, TokenSet, TokenType, SESSION_VERSION,
};
use mcp_oauth_store::{MemoryStore, SessionStore, StoreError, StoreKind, StoreLock};
use mcp_oauth_tokio::{BoxFuture, HttpClient};
use serde_json::json;

pub const SERVER: &str = "https://mcp.example.com/mcp";
pub const ISSUER: &str = "https://as.example.com";
pub const TOKEN_ENDPOINT: &str = "https://as.example.com/token";
pub const REVOCATION_ENDPOINT: &str = "https://as.example.com/revoke";

/// How the fake token endpoint answers refresh requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefreshMode {
    /// Rotate: access `at-N`, refresh `rt-N`.
    Rotate,
    /// `Err("connection reset")` (a transport failure).
    NetworkError,
    /// 400 `invalid_grant`.
    InvalidGrant,
}

/// How the fake token endpoint answers code exchanges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExchangeMode {
    Issue,
    InvalidGrant,
    NetworkError,
}

/// An authorization server plus MCP server, answering from memory.
pub struct FakeAs {
    pub refresh_mode: Mutex<RefreshMode>,
    pub exchange_mode: Mutex<ExchangeMode>,
    /// Artificial latency of the refresh grant, to widen races.
    pub refresh_delay: Duration,
    /// Token requests with `grant_type=refresh_token`.
    pub refreshes: AtomicUsize,
    /// Every request, as `METHOD url` (query removed).
    pub log: Mutex<Vec<String>>,
    /// Last issued token number.
    issued: AtomicUsize,
    /// Access tokens the MCP endpoint rejects with 401.
    pub rejected: Mutex<Vec<String>>,
    /// Authorization headers the MCP endpoint saw.
    pub mcp_headers: Mutex<Vec<Option<String>>>,
}

impl FakeAs {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            refresh_mode: Mutex::new(RefreshMode::Rotate),
            exchange_mode: Mutex::new(ExchangeMode::Issue),
            refresh_delay: Duration::from_millis(50),
            refreshes: AtomicUsize::new(0),
            log: Mutex::new(Vec::new()),
            issued: AtomicUsize::new(1),
            rejected: Mutex::new(Vec::new()),
            mcp_headers: Mutex::new(Vec::new()),
        })
    }

    pub fn with_delay(delay: Duration) -> Arc<Self> {
        let mut f = Arc::into_inner(Self::new()).unwrap();
        f.refresh_delay = delay;
        Arc::new(f)
    }

    pub fn refreshes(&self) -> usize {
        self.refreshes.load(Ordering::SeqCst)
    }

    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// What the AS's authorization endpoint would redirect to for this authorization URL:
    /// `<redirect_uri>?code=..&state=..&iss=..` (the conformance "browser" reads it from the
    /// `Location` of a 302).
    pub fn authorize(&self, authorization_url: &str) -> String {
        let url = url::Url::parse(authorization_url).expect("authorization URL");
        let q: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(q.get("response_type").map(String::as_str), Some("code"));
        assert_eq!(
            q.get("code_challenge_method").map(String::as_str),
            Some("S256")
        );
        assert_eq!(q.get("resource").map(String::as_str), Some(SERVER));
        let mut back = url::Url::parse(&q["redirect_uri"]).expect("redirect_uri");
        back.query_pairs_mut()
            .append_pair("code", "code-1")
            .append_pair("state", &q["state"])
            .append_pair("iss", ISSUER);
        back.to_string()
    }

    fn next_tokens(&self) -> HttpResponse {
        let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        HttpResponse::json(
            200,
            &json!({
                "access_token": format!("at-{n}"),
                "token_type": "Bearer",
                "refresh_token": format!("rt-{n}"),
                "expires_in": 3600,
            }),
        )
    }

    async fn answer(
        &self,
        req: &HttpRequest,
    ) -> Result<HttpResponse, mcp_oauth_core::TransportError> {
        let path = req.url.split('?').next().unwrap_or_default().to_owned();
        self.log
            .lock()
            .unwrap()
            .push(format!("{} {path}", req.method.as_str()));
        let form: BTreeMap<String, String> = req.form_pairs().into_iter().collect();
        match path.as_str() {
            "https://mcp.example.com/.well-known/oauth-protected-resource/mcp" => {
                Ok(HttpResponse::json(
                    200,
                    &json!({ "resource": SERVER, "authorization_servers": [ISSUER] }),
                ))
            }
            "https://as.example.com/.well-known/oauth-authorization-server" => {
                Ok(HttpResponse::json(
                    200,
                    &json!({
                        "issuer": ISSUER,
                        "authorization_endpoint": "https://as.example.com/authorize",
                        "token_endpoint": TOKEN_ENDPOINT,
                        "registration_endpoint": "https://as.example.com/register",
                        "revocation_endpoint": REVOCATION_ENDPOINT,
                        "code_challenge_methods_supported": ["S256"],
                        "token_endpoint_auth_methods_supported": ["none"],
                        "authorization_response_iss_parameter_supported": true,
                    }),
                ))
            }
            "https://as.example.com/register" => Ok(HttpResponse::json(
                201,
                &json!({ "client_id": "client-1", "token_endpoint_auth_method": "none" }),
            )),
            TOKEN_ENDPOINT
                if form.get("grant_type").map(String::as_str) == Some("refresh_token") =>
            {
                self.refreshes.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(self.refresh_delay).await;
                assert!(form["refresh_token"].starts_with("rt-"));
                assert_eq!(form.get("resource").map(String::as_str), Some(SERVER));
                let mode = *self.refresh_mode.lock().unwrap();
                match mode {
                    RefreshMode::Rotate => Ok(self.next_tokens()),
                    RefreshMode::NetworkError => Err(mcp_oauth_core::TransportError::new(
                        mcp_oauth_core::TransportErrorKind::Connect,
                        "connection reset",
                    )),
                    RefreshMode::InvalidGrant => Ok(HttpResponse::json(
                        400,
                        &json!({ "error": "invalid_grant" }),
                    )),
                }
            }
            TOKEN_ENDPOINT => {
                assert_eq!(form.get("code").map(String::as_str), Some("code-1"));
                assert!(form.get("code_verifier").is_some_and(|v| v.len() >= 43));
                let mode = *self.exchange_mode.lock().unwrap();
                match mode {
                    ExchangeMode::Issue => Ok(self.next_tokens()),
                    ExchangeMode::InvalidGrant => Ok(HttpResponse::json(
                        400,
                        &json!({ "error": "invalid_grant" }),
                    )),
                    ExchangeMode::NetworkError => Err(mcp_oauth_core::TransportError::new(
                        mcp_oauth_core::TransportErrorKind::Connect,
                        "connection reset",
                    )),
                }
            }
            REVOCATION_ENDPOINT => Ok(HttpResponse::status(200)),
            SERVER => {
                let auth = req.header("authorization").map(str::to_owned);
                self.mcp_headers.lock().unwrap().push(auth.clone());
                let token = auth
                    .as_deref()
                    .and_then(|a| a.strip_prefix("Bearer "))
                    .unwrap_or_default()
                    .to_owned();
                if token.is_empty() || self.rejected.lock().unwrap().contains(&token) {
                    Ok(HttpResponse::status(401).with_header(
                        "WWW-Authenticate",
                        "Bearer resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\"",
                    ))
                } else {
                    Ok(HttpResponse::json(200, &json!({ "ok": token })))
                }
            }
            _ => Ok(HttpResponse::status(404)),
        }
    }
}

/// The public plug-in point: the authorizer sees this fake through `Arc<dyn HttpClient>`.
pub struct FakeClient(pub Arc<FakeAs>);

impl HttpClient for FakeClient {
    fn send<'a>(
        &'a self,
        req: &'a HttpRequest,
    ) -> BoxFuture<'a, Result<HttpResponse, mcp_oauth_core::TransportError>> {
        Box::pin(self.0.answer(req))
    }
}

pub fn wall_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A session for `SERVER` with a DCR client and the given tokens.
pub fn session(access: &str, refresh: Option<&str>, expires_at: Option<u64>) -> Session {
    Session {
        version: SESSION_VERSION,
        server: SERVER.into(),
        resource: Some(SERVER.into()),
        issuer: ISSUER.into(),
        token_endpoint: TOKEN_ENDPOINT.into(),
        revocation_endpoint: Some(REVOCATION_ENDPOINT.into()),
        client: ClientRegistration {
            kind: ClientKind::Dynamic,
            issuer: ISSUER.into(),
            client_id: "client-1".into(),
            client_secret: None,
            secret_expires_at: None,
            auth_method: ClientAuthMethod::None,
            redirect_uri: Some("http://127.0.0.1:1/callback".into()),
        },
        tokens: Some(TokenSet {
            access_token: AccessToken::new(access),
            token_type: TokenType::Bearer,
            refresh_token: refresh.map(RefreshToken::new),
            expires_at,
            dpop_key: None,
            obtained_at: None,
        }),
        scopes: vec![],
        discovery: None,
        settings: Default::default(),
    }
}

/// A session whose access token expired 100 s ago, with refresh token `rt-1`.
pub fn expired_session() -> Session {
    session("at-1", Some("rt-1"), Some(wall_now() - 100))
}

/// A session valid for an hour.
pub fn valid_session() -> Session {
    session("at-1", Some("rt-1"), Some(wall_now() + 3600))
}

pub fn stored_access_token(store: &dyn SessionStore) -> Option<String> {
    store
        .load(SERVER)
        .unwrap()
        .and_then(|s| s.tokens)
        .map(|t| t.access_token.expose_secret().to_owned())
}

/// A memory store whose `save` fails on demand (a locked keychain, a full disk).
pub struct FlakyStore {
    pub inner: MemoryStore,
    pub fail_saves: std::sync::atomic::AtomicBool,
    pub saves: AtomicUsize,
}

impl FlakyStore {
    pub fn new(inner: MemoryStore) -> Self {
        Self {
            inner,
            fail_saves: std::sync::atomic::AtomicBool::new(true),
            saves: AtomicUsize::new(0),
        }
    }
}

impl SessionStore for FlakyStore {
    fn load(&self, key: &str) -> Result<Option<Session>, StoreError> {
        self.inner.load(key)
    }
    fn save(&self, key: &str, session: &Session) -> Result<(), StoreError> {
        self.saves.fetch_add(1, Ordering::SeqCst);
        if self.fail_saves.load(Ordering::SeqCst) {
            return Err(StoreError::Keychain("the keychain is locked".into()));
        }
        self.inner.save(key, session)
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
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
