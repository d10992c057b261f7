//! `rmcp-bench-client <flow> <server-url> <state-dir>`: one benchmark flow with the Rust MCP SDK
//! (`rmcp`) and its OAuth client, driven by `tests/src/bin/flow-bench.rs` (see bench/README.md).
//!
//! The client does what a host application built on rmcp does, using only rmcp's public API:
//! the first request goes out without credentials; its 401 challenge starts
//! `OAuthState::start_authorization(..with_challenge(..))` (discovery, registration), the
//! "browser" GETs the authorization URL without following the redirect and hands the `Location`
//! to `handle_callback_url`, and the MCP session runs through `AuthClient` (which refreshes
//! before expiry and retries once after a 401). Tokens persist between invocations through
//! rmcp's `CredentialStore` trait, implemented here on a JSON file in `<state-dir>` (rmcp ships
//! only an in-memory store), so a restart flow is a real process restart that calls
//! `initialize_from_store()`.
//!
//! Flows: `login` and `list` (connect, `tools/list`; the harness prepares the state), and three
//! that connect, list once, print `READY`, wait for a line on stdin and only then run the measured
//! part: `revoked` (`tools/list`), `stepup` (`tools/call` of `test-tool`), `concurrent-N` (N
//! `tools/list` at once). A 401 or 403 that reaches the application is handled as a host would:
//! re-authorize (401) or `request_scope_upgrade` (403 `insufficient_scope`), then retry once.
//! The last stdout line is a JSON report; the flow's time excludes process start.

use std::path::PathBuf;
use std::time::Instant;

use rmcp::model::CallToolRequestParams;
use rmcp::service::{ClientInitializeError, RunningService, ServiceError};
use rmcp::transport::auth::{
    AuthorizationCallback, OAuthClientConfig, OAuthState, WWWAuthenticateParams,
};
use rmcp::transport::streamable_http_client::{
    StreamableHttpClient, StreamableHttpClientTransportConfig,
};
use rmcp::transport::{
    AuthClient, AuthError, AuthorizationManager, AuthorizationRequest, CredentialStore,
    StoredCredentials, StreamableHttpClientTransport,
};
use rmcp::{RoleClient, ServiceExt};
use serde_json::{json, Value};
use tokio::io::AsyncBufReadExt;

/// Registered and sent as `redirect_uri`; nothing listens there, the "browser" reads the
/// redirect's `Location` instead of following it (as the conformance harness does).
const REDIRECT_URI: &str = "http://127.0.0.1:3000/callback";
/// The testbed tool that needs the `mcp:write` scope in the step-up flow.
const TOOL: &str = "test-tool";
/// rmcp's default is 16 POSTs in flight; raised so `concurrent-100` is really concurrent.
const MAX_CONCURRENT_REQUESTS: usize = 128;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Client = RunningService<RoleClient, ()>;
type Auth = AuthClient<reqwest::Client>;

/// rmcp's `CredentialStore` on one JSON file (`StoredCredentials` is serde-serializable).
#[derive(Clone)]
struct FileCredentialStore {
    path: PathBuf,
}

fn store_error(e: impl std::fmt::Display) -> AuthError {
    AuthError::CredentialStoreError(e.to_string())
}

#[async_trait::async_trait]
impl CredentialStore for FileCredentialStore {
    async fn load(&self) -> Result<Option<StoredCredentials>, AuthError> {
        match tokio::fs::read(&self.path).await {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(store_error),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(store_error(e)),
        }
    }

    async fn save(&self, credentials: StoredCredentials) -> Result<(), AuthError> {
        let bytes = serde_json::to_vec_pretty(&credentials).map_err(store_error)?;
        let tmp = self.path.with_extension("tmp");
        tokio::fs::write(&tmp, bytes).await.map_err(store_error)?;
        tokio::fs::rename(&tmp, &self.path)
            .await
            .map_err(store_error)
    }

    async fn clear(&self) -> Result<(), AuthError> {
        match tokio::fs::remove_file(&self.path).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(store_error(e)),
            _ => Ok(()),
        }
    }
}

/// A connected MCP client and the `AuthClient` whose manager it uses.
struct Session {
    url: String,
    store: FileCredentialStore,
    client: Client,
    auth: Option<Auth>,
}

fn transport_config(url: &str) -> StreamableHttpClientTransportConfig {
    let mut config = StreamableHttpClientTransportConfig::with_uri(url.to_owned());
    config.max_concurrent_requests = MAX_CONCURRENT_REQUESTS;
    config
}

async fn serve<C>(http: C, url: &str) -> Result<Client, ClientInitializeError>
where
    C: StreamableHttpClient + Send + Sync + 'static,
{
    ().serve(StreamableHttpClientTransport::with_client(
        http,
        transport_config(url),
    ))
    .await
}

/// The user's browser, automated: GET the authorization URL, do not follow the redirect, return
/// its `Location` (resolved against the URL when relative).
async fn browse(authorization_url: &str) -> Result<String, BoxError> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let resp = http.get(authorization_url).send().await?;
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            format!(
                "authorization endpoint answered {} without Location",
                resp.status()
            )
        })?;
    Ok(reqwest::Url::parse(authorization_url)?
        .join(location)?
        .to_string())
}

/// A full authorization after a 401 `challenge`: discovery, registration, browser, code
/// exchange (tokens saved to the store by rmcp).
async fn login(url: &str, store: &FileCredentialStore, challenge: &str) -> Result<Auth, BoxError> {
    let mut oauth = OAuthState::new(url, None).await?;
    if let OAuthState::Unauthorized(manager) = &mut oauth {
        manager.set_credential_store(store.clone());
    }
    let request = AuthorizationRequest::new(REDIRECT_URI)
        .with_client_name("rmcp-bench-client")
        .with_challenge(challenge);
    oauth.start_authorization(request).await?;
    let authorization_url = oauth.get_authorization_url().await?;
    let location = browse(&authorization_url).await?;
    oauth.handle_callback_url(&location).await?;
    let manager = oauth
        .into_authorization_manager()
        .ok_or("no authorization manager after the callback")?;
    Ok(AuthClient::new(reqwest::Client::default(), manager))
}

/// Connects as a host does at start: from stored credentials when there are some
/// (`initialize_from_store`), else without; a 401 on `initialize` leads to [`login`].
async fn connect(url: &str, store: FileCredentialStore) -> Result<Session, BoxError> {
    let mut manager = AuthorizationManager::new(url).await?;
    manager.set_credential_store(store.clone());
    let failure = if manager.initialize_from_store().await? {
        // `initialize_from_store` configures the stored client id with the server URL as its
        // redirect URI (StoredCredentials does not keep the registered one), so a later
        // authorization (step-up) would be refused for an unregistered redirect_uri. A host
        // knows its redirect URI and re-applies it.
        if let Some(stored) = store.load().await? {
            manager.configure_client(OAuthClientConfig::new(stored.client_id, REDIRECT_URI))?;
        }
        let auth = AuthClient::new(reqwest::Client::default(), manager);
        match serve(auth.clone(), url).await {
            Ok(client) => {
                let (url, auth) = (url.to_owned(), Some(auth));
                return Ok(Session {
                    url,
                    store,
                    client,
                    auth,
                });
            }
            Err(e) => e,
        }
    } else {
        match serve(reqwest::Client::default(), url).await {
            Ok(client) => {
                let url = url.to_owned();
                return Ok(Session {
                    url,
                    store,
                    client,
                    auth: None,
                });
            }
            Err(e) => e,
        }
    };
    let challenge = failure
        .auth_challenge()
        .ok_or_else(|| format!("initialize failed: {failure}"))?
        .to_owned();
    let auth = login(url, &store, &challenge).await?;
    let client = serve(auth.clone(), url).await?;
    Ok(Session {
        url: url.to_owned(),
        store,
        client,
        auth: Some(auth),
    })
}

/// 403 `insufficient_scope`: rmcp's scope upgrade (union of scopes), browser, code exchange.
async fn step_up(auth: &Auth, scope: &str) -> Result<(), BoxError> {
    let authorization_url = auth
        .auth_manager
        .lock()
        .await
        .request_scope_upgrade(scope)
        .await?;
    let location = browse(&authorization_url).await?;
    let cb = AuthorizationCallback::from_redirect_url(&location)?;
    auth.auth_manager
        .lock()
        .await
        .exchange_code_for_token_with_issuer(&cb.code, &cb.csrf_token, cb.issuer.as_deref())
        .await?;
    Ok(())
}

#[derive(Clone, Copy)]
enum Op {
    List,
    Call,
}

async fn run_op(client: &Client, op: Op) -> Result<Value, ServiceError> {
    match op {
        Op::List => {
            let tools = client.list_tools(None).await?;
            Ok(json!(tools.tools.len()))
        }
        Op::Call => {
            let result = client.call_tool(CallToolRequestParams::new(TOOL)).await?;
            Ok(json!(result.is_error.unwrap_or(false)))
        }
    }
}

/// Runs `op`; when a 401/403 challenge reaches the application, recovers as a host would
/// (401: new authorization and reconnect; 403 `insufficient_scope`: scope upgrade) and retries
/// once.
async fn with_recovery(session: &mut Session, op: Op) -> Result<Value, BoxError> {
    let err = match run_op(&session.client, op).await {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    let Some(challenge) = err.auth_challenge().map(str::to_owned) else {
        return Err(describe(&err).into());
    };
    let params = WWWAuthenticateParams::parse(&challenge, &reqwest::Url::parse(&session.url)?);
    match (&session.auth, params.is_insufficient_scope()) {
        (Some(auth), true) => step_up(auth, params.scope.as_deref().unwrap_or("")).await?,
        _ => {
            let auth = login(&session.url, &session.store, &challenge).await?;
            session.client = serve(auth.clone(), &session.url).await?;
            session.auth = Some(auth);
        }
    }
    run_op(&session.client, op)
        .await
        .map_err(|e| describe(&e).into())
}

/// A request error without the transport's type names; a challenge is shown as such.
fn describe(e: &ServiceError) -> String {
    match e.auth_challenge() {
        Some(challenge) => format!("still refused after recovering once: {challenge}"),
        None => e.to_string(),
    }
}

async fn wait_for_go() -> Result<(), BoxError> {
    println!("READY");
    let mut line = String::new();
    tokio::io::BufReader::new(tokio::io::stdin())
        .read_line(&mut line)
        .await?;
    Ok(())
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

async fn run(flow: &str, url: &str, state_dir: &str) -> Result<Value, BoxError> {
    let store = FileCredentialStore {
        path: PathBuf::from(state_dir).join("rmcp-credentials.json"),
    };
    let start = Instant::now();
    let mut session = connect(url, store).await?;
    if flow == "login" || flow == "list" {
        let tools = with_recovery(&mut session, Op::List).await?;
        return Ok(json!({ "ok": true, "elapsed_ms": ms(start), "tools": tools }));
    }
    with_recovery(&mut session, Op::List).await?;
    wait_for_go().await?;
    let start = Instant::now();
    if let Some(n) = flow.strip_prefix("concurrent-") {
        let n: usize = n.parse()?;
        // The SDK's own handling only (AuthClient refresh-and-retry), as N callers of one
        // client would see it.
        let calls = (0..n).map(|_| run_op(&session.client, Op::List));
        let results = futures::future::join_all(calls).await;
        let elapsed = ms(start);
        let errors: Vec<String> = results
            .iter()
            .filter_map(|r| r.as_ref().err().map(describe))
            .collect();
        return Ok(json!({
            "ok": errors.is_empty(), "elapsed_ms": elapsed, "succeeded": n - errors.len(),
            "failed": errors.len(), "errors": errors.iter().take(3).collect::<Vec<_>>(),
        }));
    }
    let op = match flow {
        "revoked" => Op::List,
        "stepup" => Op::Call,
        other => return Err(format!("unknown flow {other}").into()),
    };
    let result = with_recovery(&mut session, op).await?;
    Ok(json!({ "ok": true, "elapsed_ms": ms(start), "result": result }))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [flow, url, state_dir] = args.as_slice() else {
        eprintln!("usage: rmcp-bench-client <flow> <server-url> <state-dir>");
        return std::process::ExitCode::from(2);
    };
    let report = match run(flow, url, state_dir).await {
        Ok(report) => report,
        Err(e) => json!({ "ok": false, "error": e.to_string() }),
    };
    println!("{report}");
    if report["ok"] == json!(true) {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
