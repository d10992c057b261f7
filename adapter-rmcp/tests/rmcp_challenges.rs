//! End to end with a real rmcp 3.11.0 client over real sockets: the answers the wrapper handles
//! (401 `invalid_token`: one refresh for many concurrent requests, RFC 6750 §3.1; 403
//! `insufficient_scope`: one step-up authorization, MCP "Scope Challenge Handling") and DPoP
//! (RFC 9449 §7.1: `Authorization: DPoP` and a fresh proof on every request).

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use common::*;
use futures::stream::BoxStream;
use http::{HeaderName, HeaderValue};
use mcp_oauth_core::Step;
use mcp_oauth_rmcp::StreamableHttpClient;
use mcp_oauth_testbed::testbed::{
    ChallengeScheme, ExpectedScope, RequestKind, TestbedConfig, TEST_TOOL,
};
use mcp_oauth_tokio::MemoryStore;
use rmcp::model::{CallToolRequestParams, ClientJsonRpcMessage};
use rmcp::transport::streamable_http_client::{
    SseError, StreamableHttpError, StreamableHttpPostResponse,
};
use sse_stream::Sse;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_after_expiry_share_one_refresh() {
    const TASKS: usize = 32;
    let server = start(TestbedConfig::default());
    let browser = ScriptedBrowser::default();
    let auth = authorizer(
        Arc::new(MemoryStore::new()),
        &browser,
        client_config(&server),
    )
    .await;
    let inner = mcp_oauth_rmcp::McpOAuthClient::with_reqwest(auth.clone()).expect("client");
    let client = connect_with(&auth, inner.inner().clone(), &server.mcp_url(), TASKS).await;
    assert_lists_tools(&client).await;
    server.with_testbed(|t| {
        t.expire_all_access_tokens();
        t.clear_log();
    });

    // Every task sends with the expired token, gets 401, and the authorizer refreshes once.
    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (peer, barrier) = (client.peer().clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                let tools = tokio::time::timeout(BOUND, peer.list_tools(None)).await;
                tools
                    .map_err(|_| "timed out".to_owned())?
                    .map_err(|e| e.to_string())
            })
        })
        .collect();
    for task in tasks {
        let tools = task.await.expect("no panic").expect("tools/list succeeded");
        assert!(tools.tools.iter().any(|t| t.name == TEST_TOOL));
    }

    assert_eq!(grant_types(&server), ["refresh_token"]);
    assert_eq!(auth.request_counts().get(&Step::Refresh), Some(&1));
    assert_eq!(browser.opened(), 1);
    let statuses: Vec<u16> = logged(&server, RequestKind::Mcp)
        .iter()
        .map(|r| r.status)
        .collect();
    assert!(
        statuses.iter().all(|s| [200, 401].contains(s)),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&401),
        "the server refused the expired token"
    );
    assert_no_violations(&server);
    client.cancel().await.expect("close the session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn insufficient_scope_steps_up_once_and_the_call_passes() {
    let server = start(TestbedConfig {
        challenge_scope: Some("mcp:basic".into()),
        call_scopes: vec!["mcp:write".into()],
        expected_first_scope: Some(ExpectedScope::Contains(vec!["mcp:basic".into()])),
        expected_reauth_scope: Some(vec!["mcp:basic".into(), "mcp:write".into()]),
        ..TestbedConfig::default()
    });
    let browser = ScriptedBrowser::default();
    let auth = authorizer(
        Arc::new(MemoryStore::new()),
        &browser,
        client_config(&server),
    )
    .await;
    let client = connect(&auth, &server.mcp_url()).await;
    assert_lists_tools(&client).await;

    // test-tool needs mcp:write: 403 insufficient_scope, step-up, the same call again.
    let result = tokio::time::timeout(
        BOUND,
        client.call_tool(CallToolRequestParams::new(TEST_TOOL)),
    )
    .await
    .expect("tools/call in time")
    .expect("tools/call succeeded after the step-up");
    let result = serde_json::to_value(&result).expect("serializable");
    assert_eq!(result["content"][0]["text"], "test", "{result}");

    let authorizations = logged(&server, RequestKind::Authorize);
    assert_eq!(authorizations.len(), 2);
    let mut second: Vec<String> = authorizations[1]
        .query("scope")
        .unwrap_or_default()
        .split(' ')
        .map(str::to_owned)
        .collect();
    second.sort();
    assert_eq!(second, ["mcp:basic", "mcp:write"]);
    assert_eq!(logged(&server, RequestKind::Registration).len(), 1);
    assert_eq!(browser.opened(), 2);
    let calls = logged(&server, RequestKind::Mcp);
    assert_eq!(calls.iter().filter(|r| r.status == 403).count(), 1);
    assert_no_violations(&server);
    client.cancel().await.expect("close the session");
}

/// What one request handed the inner client: rmcp's `auth_header` argument and the headers.
type Seen = (Option<String>, HashMap<HeaderName, HeaderValue>);

/// rmcp's reqwest client, recording what the wrapper hands it (rmcp's `auth_header` argument
/// and the custom headers), to see the `DPoP` proofs the testbed does not log.
#[derive(Clone, Default)]
struct Recording {
    inner: reqwest::Client,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Recording {
    fn record(&self, auth: &Option<String>, headers: &HashMap<HeaderName, HeaderValue>) {
        let mut seen = self.seen.lock().expect("not poisoned");
        seen.push((auth.clone(), headers.clone()));
    }
}

type Error = StreamableHttpError<reqwest::Error>;

impl StreamableHttpClient for Recording {
    type Error = reqwest::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth: Option<String>,
        headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, Error> {
        self.record(&auth, &headers);
        let inner = &self.inner;
        inner
            .post_message(uri, message, session_id, auth, headers)
            .await
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        auth: Option<String>,
        headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), Error> {
        self.record(&auth, &headers);
        self.inner
            .delete_session(uri, session_id, auth, headers)
            .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth: Option<String>,
        headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, Error> {
        self.record(&auth, &headers);
        let inner = &self.inner;
        inner
            .get_stream(uri, session_id, last_event_id, auth, headers)
            .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dpop_bound_token_goes_as_dpop_with_a_fresh_proof_on_every_request() {
    let mut config = TestbedConfig::dpop_idp_bearer_server();
    config.challenge_scheme = ChallengeScheme::DPoP;
    let server = start(config);
    let browser = ScriptedBrowser::default();
    let auth = authorizer(
        Arc::new(MemoryStore::new()),
        &browser,
        client_config(&server),
    )
    .await;
    let recording = Recording::default();
    let client = connect_with(&auth, recording.clone(), &server.mcp_url(), 16).await;
    assert_lists_tools(&client).await;
    client.cancel().await.expect("close the session");

    // The first request went out bare; its `DPoP` challenge started the login (RFC 9449 §7.1).
    let schemes = mcp_schemes(&server);
    assert!(schemes.len() >= 4, "{schemes:?}");
    assert_eq!(schemes[0], None);
    assert!(
        schemes[1..].iter().all(|s| s.as_deref() == Some("DPoP")),
        "{schemes:?}"
    );
    let seen = recording.seen.lock().expect("not poisoned").clone();
    assert_eq!(seen.len(), schemes.len());
    assert!(!seen[0].1.contains_key(&http::header::AUTHORIZATION));
    let mut proofs = HashSet::new();
    for (auth_header, headers) in &seen[1..] {
        // rmcp would send its own `auth_header` as Bearer: the wrapper never uses it.
        assert_eq!(auth_header, &None);
        let authorization = headers[&http::header::AUTHORIZATION]
            .to_str()
            .expect("ASCII");
        assert!(authorization.starts_with("DPoP "), "{authorization}");
        let proof = headers[&HeaderName::from_static("dpop")]
            .to_str()
            .expect("ASCII");
        assert_eq!(proof.split('.').count(), 3, "a compact JWS: {proof}");
        proofs.insert(proof.to_owned());
    }
    assert_eq!(
        proofs.len(),
        seen.len() - 1,
        "one proof per request (RFC 9449 §4.2 jti)"
    );
    assert_eq!(browser.opened(), 1);
    assert_no_violations(&server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rmcps_own_authorization_settings_are_replaced_and_other_headers_kept() {
    let server = start(TestbedConfig::default());
    let browser = ScriptedBrowser::default();
    let auth = authorizer(
        Arc::new(MemoryStore::new()),
        &browser,
        client_config(&server),
    )
    .await;
    let recording = Recording::default();
    let host = HeaderName::from_static("x-host");
    let stale = HeaderValue::from_static("Bearer stale");
    let mut headers = HashMap::new();
    headers.insert(http::header::AUTHORIZATION, stale.clone());
    headers.insert(host.clone(), HeaderValue::from_static("kept"));
    let config = transport_config(&server.mcp_url(), 16)
        .auth_header("stale")
        .custom_headers(headers);
    let client = mcp_oauth_rmcp::McpOAuthClient::new(auth.clone(), recording.clone());
    let transport = rmcp::transport::StreamableHttpClientTransport::with_client(client, config);
    let client = tokio::time::timeout(BOUND, rmcp::ServiceExt::serve((), transport))
        .await
        .expect("initialize in time")
        .expect("initialize succeeded");
    assert_lists_tools(&client).await;
    client.cancel().await.expect("close the session");

    let seen = recording.seen.lock().expect("not poisoned").clone();
    assert!(seen.len() >= 4, "{}", seen.len());
    for (auth_header, headers) in &seen {
        assert_eq!(auth_header, &None);
        assert_eq!(headers[&host], "kept");
        assert_ne!(headers.get(&http::header::AUTHORIZATION), Some(&stale));
    }
    // The first request went out bare (no token yet), every later one with the real token.
    assert!(!seen[0].1.contains_key(&http::header::AUTHORIZATION));
    let token = auth.header().await.expect("a token");
    for (_, headers) in &seen[1..] {
        assert_eq!(
            headers[&http::header::AUTHORIZATION]
                .to_str()
                .expect("ASCII"),
            token.expose_secret()
        );
    }
    assert_eq!(browser.opened(), 1);
    assert_no_violations(&server);
}
