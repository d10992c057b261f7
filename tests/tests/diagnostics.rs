//! Diagnostics (README "Diagnostics"; ARCHITECTURE.md §7 "No secret in `Debug`, logs or
//! errors"): full flows on both adapters against the testbed on loopback sockets, login,
//! step-up, refresh after a 401 and on expiry, logout with revocation, and a DPoP-bound session
//! with a confidential client, with every `tracing` span and event captured at TRACE level.
//!
//! Afterwards every secret the flows handled (tokens, codes, PKCE verifiers and challenges,
//! `state`, the client secret, the DPoP key and every DPoP proof, gathered from the stored
//! sessions, the testbed's log, the browser's redirects and the client's wire) is searched for
//! in every field and message of the library's events, and the events a user needs to see
//! what happened must be there.

mod e2e_common;
mod trace_capture;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use e2e_common::*;
use mcp_oauth_blocking::store::{MemoryStore, SessionStore};
use mcp_oauth_core::{BrowserRequest, ClientAuthMethod, Config, TokenType};
use mcp_oauth_tests::serve::TestbedServer;
use mcp_oauth_tests::testbed::{ChallengeScheme, TestbedConfig};
use trace_capture::secrets::{Recording, Secrets};
use trace_capture::Record;

type Seen = Arc<Mutex<Secrets>>;

fn note(seen: &Seen) -> std::sync::MutexGuard<'_, Secrets> {
    seen.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The testbed's log and the browser's redirects: what the client sent and received there.
fn note_server(seen: &Seen, server: &TestbedServer, browser: &ScriptedBrowser) {
    let log = server.with_testbed(|t| t.log().to_vec());
    let mut s = note(seen);
    for r in &log {
        s.note_url(&r.url);
        s.note_pairs(&r.form);
        if let Some(h) = &r.authorization {
            s.note_header("authorization header", h);
        }
    }
    for location in browser.locations() {
        s.note_url(&location);
    }
}

mod blocking {
    use super::*;
    use mcp_oauth_blocking::{Authorizer, BrowserOutcome, FnBrowser, Options, UreqClient};

    pub fn authorizer(
        store: Arc<dyn SessionStore>,
        browser: &ScriptedBrowser,
        config: Config,
        seen: &Seen,
    ) -> Authorizer {
        let b = browser.clone();
        let mut options = Options::new(store);
        options.browser = Arc::new(FnBrowser(move |req: &BrowserRequest| {
            if b.browse(&req.url) {
                BrowserOutcome::Opened
            } else {
                BrowserOutcome::Unavailable("scripted browser failed".into())
            }
        }));
        options.paste_from_stdin = false;
        let ureq = UreqClient::new(Duration::from_secs(10), Duration::from_secs(30));
        options.http_client = Some(Arc::new(Recording::new(Arc::new(ureq), Arc::clone(seen))));
        Authorizer::new(config, options).expect("authorizer")
    }

    pub fn list_tools(auth: &Authorizer, url: &str) {
        let call = Call::tools_list(url);
        let response = auth.send(call.request.clone()).expect("send succeeded");
        assert_tools(&call.result(&response));
    }

    /// Login (from a bare request's 401), step-up, refresh after a 401, refresh on expiry by a
    /// restarted authorizer (under the store lock), logout.
    pub fn full_flow(seen: &Seen) {
        let server = start(step_up_config());
        let store = MemoryStore::new();
        let browser = ScriptedBrowser::new();
        let url = server.mcp_url();
        let auth = authorizer(
            Arc::new(store.clone()),
            &browser,
            client_config(&server),
            seen,
        );
        list_tools(&auth, &url);

        let call = Call::call_test_tool(&url);
        let response = auth.send(call.request.clone()).expect("step-up");
        assert_eq!(call.result(&response)["content"][0]["text"], "test");

        server.with_testbed(|t| t.revoke_all_access_tokens());
        list_tools(&auth, &url);
        note(seen).note_session(&auth.session().expect("session"));
        let key = auth.server().to_owned();
        drop(auth);

        expire_stored_access_token(&store, &key);
        let auth = authorizer(
            Arc::new(store.clone()),
            &browser,
            client_config(&server),
            seen,
        );
        list_tools(&auth, &url);
        note(seen).note_session(&auth.session().expect("session"));
        auth.logout().expect("logout");
        assert!(store.load(&key).expect("store").is_none(), "logged out");
        assert_eq!(browser.opened(), 2, "login and step-up");
        note_server(seen, &server, &browser);
        assert_no_violations(&server);
    }

    /// A confidential client (`client_secret_basic`) with a DPoP-bound token, then the server
    /// stops taking DPoP: one unbound refresh (RFC 9449 §7.1), then logout.
    pub fn dpop_flow(seen: &Seen) {
        let mut config = TestbedConfig::dpop_idp_bearer_server();
        config.challenge_scheme = ChallengeScheme::DPoP;
        config.token_endpoint_auth_methods = vec![ClientAuthMethod::ClientSecretBasic];
        let server = start(config);
        let browser = ScriptedBrowser::new();
        let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
        let url = server.mcp_url();
        let auth = authorizer(store, &browser, client_config(&server), seen);
        list_tools(&auth, &url);
        list_tools(&auth, &url);
        let session = auth.session().expect("session");
        let tokens = session.tokens.as_ref().expect("tokens");
        assert_eq!(tokens.token_type, TokenType::DPoP);
        assert!(tokens.dpop_key.is_some(), "bound to a key");
        assert!(session.client.client_secret.is_some(), "confidential");
        note(seen).note_session(&session);

        server.with_testbed(|t| t.set_challenge_scheme(ChallengeScheme::Bearer));
        list_tools(&auth, &url);
        note(seen).note_session(&auth.session().expect("session"));
        auth.logout().expect("logout");
        note_server(seen, &server, &browser);
        assert_no_violations(&server);
    }
}

mod tokio_adapter {
    use super::*;
    use mcp_oauth_tokio::{Authorizer, BrowserOutcome, FnBrowser, Options};

    async fn list_tools(auth: &Authorizer, url: &str) {
        let call = Call::tools_list(url);
        let response = tokio::time::timeout(BOUND, auth.send(call.request.clone()))
            .await
            .expect("in time")
            .expect("send succeeded");
        assert_tools(&call.result(&response));
    }

    /// Login, refresh after a 401 (under the store lock), logout.
    pub fn flow(seen: &Seen) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let server = start(TestbedConfig::default());
            let browser = ScriptedBrowser::new();
            let b = browser.clone();
            let mut options = Options::new(Arc::new(MemoryStore::new()));
            options.browser = Arc::new(FnBrowser(move |req: &BrowserRequest| {
                let (b, url) = (b.clone(), req.url.clone());
                async move {
                    match tokio::task::spawn_blocking(move || b.browse(&url)).await {
                        Ok(true) => BrowserOutcome::Opened,
                        _ => BrowserOutcome::Unavailable("scripted browser failed".into()),
                    }
                }
            }));
            options.paste_from_stdin = false;
            let auth = Authorizer::new(client_config(&server), options)
                .await
                .expect("authorizer");
            let url = server.mcp_url();
            list_tools(&auth, &url).await;
            server.with_testbed(|t| t.revoke_all_access_tokens());
            list_tools(&auth, &url).await;
            note(seen).note_session(&auth.session().expect("session"));
            auth.logout().await.expect("logout");
            note_server(seen, &server, &browser);
            assert_no_violations(&server);
        });
    }
}

/// The library's events and spans (other crates' events, such as the HTTP stack's, are not
/// this library's to vouch for).
fn ours(records: &[Record]) -> Vec<&Record> {
    records
        .iter()
        .filter(|r| r.target.starts_with("mcp_oauth"))
        .collect()
}

fn events<'a>(records: &[&'a Record], message: &str) -> Vec<&'a Record> {
    records
        .iter()
        .copied()
        .filter(|r| r.kind == "event" && r.message() == message)
        .collect()
}

#[test]
fn diagnostics_explain_the_flows_and_carry_no_secret() {
    trace_capture::install();
    let seen: Seen = Arc::default();
    blocking::full_flow(&seen);
    blocking::dpop_flow(&seen);
    tokio_adapter::flow(&seen);
    let all = trace_capture::captured();
    let records = ours(&all);
    let secrets = note(&seen);

    // The search is only as good as what it looks for: every kind of secret was collected.
    for kind in [
        "access_token",
        "refresh_token",
        "client_secret",
        "dpop_key",
        "DPoP proof",
        "authorization header",
        "code",
        "code_verifier",
        "code_challenge",
        "state",
        "token",
    ] {
        assert!(secrets.count(kind) > 0, "no {kind} was collected");
    }

    // No secret in any field or message of any span or event.
    let mut leaks = Vec::new();
    for record in &records {
        let text = record.text();
        for (kind, value) in secrets.iter() {
            if text.contains(value.as_str()) {
                leaks.push(format!("{kind} in {text}"));
            }
        }
        assert!(
            !text.contains("code_challenge=") && !text.contains("state="),
            "a query string was logged: {text}"
        );
    }
    assert!(
        leaks.is_empty(),
        "secrets in diagnostics:\n{}",
        leaks.join("\n")
    );

    // One event per OAuth request: step, host, path (no query), status, duration.
    let requests = events(&records, "OAuth request");
    for step in [
        "resource-metadata",
        "server-metadata",
        "registration",
        "token",
        "refresh",
        "revocation",
    ] {
        assert!(
            requests.iter().any(|r| r.field("step") == Some(step)),
            "no request event for {step}"
        );
    }
    for r in &requests {
        let host = r.field("host").unwrap_or("");
        let path = r.field("path").unwrap_or("?");
        assert!(host.starts_with("127.0.0.1:"), "{}", r.text());
        assert!(path.starts_with('/') && !path.contains('?'), "{}", r.text());
        assert!(r.field("status").is_some() && r.field("duration_ms").is_some());
    }
    assert!(
        requests.iter().any(|r| r.field("dpop") == Some("true")),
        "the DPoP flow's token requests say they carried a proof"
    );

    // Every decision of these flows, with why.
    let decisions: BTreeSet<&str> = records.iter().filter_map(|r| r.field("decision")).collect();
    for d in ["login", "step-up", "refresh", "logout"] {
        assert!(decisions.contains(d), "no {d} decision in {decisions:?}");
    }
    let refresh_reasons: Vec<&str> = records
        .iter()
        .filter(|r| r.field("decision") == Some("refresh"))
        .filter_map(|r| r.field("reason"))
        .collect();
    assert!(refresh_reasons.iter().any(|r| r.contains("401")));
    assert!(refresh_reasons.iter().any(|r| r.contains("expir")));
    let browser = events(&records, "sending the browser to the authorization server");
    assert!(browser
        .iter()
        .all(|r| r.field("path") == Some("/authorize")));
    assert!(browser.len() >= 4, "every browser step is logged");

    // Both adapters report the store lock they waited for.
    for adapter in ["mcp_oauth_blocking", "mcp_oauth_tokio"] {
        assert!(
            events(&records, "session store lock")
                .iter()
                .any(|r| r.target.starts_with(adapter) && r.field("obtained") == Some("true")),
            "{adapter} logged no store lock"
        );
    }

    // One span per drive: operation, server host, generation.
    let drives: Vec<&&Record> = records
        .iter()
        .filter(|r| r.kind == "span" && r.name == "drive")
        .collect();
    let ops: BTreeSet<&str> = drives.iter().filter_map(|r| r.field("op")).collect();
    assert_eq!(ops, BTreeSet::from(["challenge", "header", "logout"]));
    assert!(drives.iter().all(|r| r.field("generation").is_some()
        && r.field("server")
            .is_some_and(|s| s.starts_with("127.0.0.1:"))));
}
