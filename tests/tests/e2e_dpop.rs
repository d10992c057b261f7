//! End to end, both adapters: DPoP only where the resource server takes it (RFC 9449).
//!
//! The failure this reproduces: an OpenID provider advertising `ES256` in
//! `dpop_signing_alg_values_supported` in front of an ordinary Bearer-only MCP server. A client
//! that asks for a bound token there logs in but every call ends with "the MCP server still
//! refuses the token". Also: a server that took DPoP and stopped (the bound token is refused with
//! a `Bearer` challenge) gets an unbound token once, by an unbound refresh or one
//! re-authorization, and the preference is stored with the session.

mod e2e_common;

use std::sync::Arc;

use e2e_common::*;
use mcp_oauth_blocking::store::{MemoryStore, SessionStore};
use mcp_oauth_core::{
    BrowserRequest, ClientAuthMethod, Config, HttpRequest, HttpResponse, Step, TokenType,
};
use mcp_oauth_tests::serve::TestbedServer;
use mcp_oauth_tests::testbed::{ChallengeScheme, RequestKind, TestbedConfig};
use serde_json::Value;

/// The `Authorization` schemes of the MCP requests that carried one.
fn mcp_schemes(server: &TestbedServer) -> Vec<String> {
    logged(server, RequestKind::Mcp)
        .iter()
        .filter_map(|r| r.authorization.as_deref())
        .filter_map(|h| h.split(' ').next().map(str::to_owned))
        .collect()
}

/// A DPoP-capable MCP server in front of the DPoP-advertising provider; `confidential`
/// registers clients with `client_secret_basic`, whose refresh tokens are not bound (RFC 9449
/// §5), else public clients, whose are.
fn dpop_server(confidential: bool) -> TestbedServer {
    let mut config = TestbedConfig::dpop_idp_bearer_server();
    config.challenge_scheme = ChallengeScheme::DPoP;
    if confidential {
        config.token_endpoint_auth_methods = vec![ClientAuthMethod::ClientSecretBasic];
    }
    start(config)
}

mod tokio_adapter {
    use super::*;
    use mcp_oauth_tokio::{Authorizer, Browser, BrowserOutcome, FnBrowser, Options};

    fn opener(browser: &ScriptedBrowser) -> Arc<dyn Browser> {
        let browser = browser.clone();
        Arc::new(FnBrowser(move |req: &BrowserRequest| {
            let (browser, url) = (browser.clone(), req.url.clone());
            async move {
                match tokio::task::spawn_blocking(move || browser.browse(&url)).await {
                    Ok(true) => BrowserOutcome::Opened,
                    _ => BrowserOutcome::Unavailable("scripted browser failed".into()),
                }
            }
        }))
    }

    async fn authorizer(
        store: Arc<dyn SessionStore>,
        b: &ScriptedBrowser,
        c: Config,
    ) -> Authorizer {
        let mut options = Options::new(store);
        options.browser = opener(b);
        options.paste_from_stdin = false;
        Authorizer::new(c, options).await.expect("authorizer")
    }

    async fn list_tools(auth: &Authorizer, url: &str) -> Value {
        let call = Call::tools_list(url);
        let response: HttpResponse =
            tokio::time::timeout(BOUND, auth.send(call.request.clone() as HttpRequest))
                .await
                .expect("in time")
                .expect("send succeeded");
        call.result(&response)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bearer_only_server_behind_a_dpop_provider() {
        let server = start(TestbedConfig::dpop_idp_bearer_server());
        let browser = ScriptedBrowser::new();
        let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
        let auth = authorizer(Arc::clone(&store), &browser, client_config(&server)).await;
        assert_tools(&list_tools(&auth, &server.mcp_url()).await);
        assert_tools(&list_tools(&auth, &server.mcp_url()).await);
        let session = auth.session().expect("session");
        assert_eq!(
            session.tokens.expect("tokens").token_type,
            TokenType::Bearer
        );
        assert_eq!(mcp_schemes(&server), ["Bearer", "Bearer"]);
        assert_eq!(browser.opened(), 1);
        assert_no_violations(&server);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_server_that_stops_taking_dpop_gets_an_unbound_refresh_once() {
        let server = dpop_server(true);
        let browser = ScriptedBrowser::new();
        let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
        let auth = authorizer(Arc::clone(&store), &browser, client_config(&server)).await;
        assert_tools(&list_tools(&auth, &server.mcp_url()).await);
        assert_eq!(mcp_schemes(&server), ["DPoP"]);
        clear_log(&server);

        server.with_testbed(|t| t.set_challenge_scheme(ChallengeScheme::Bearer));
        assert_tools(&list_tools(&auth, &server.mcp_url()).await);
        assert_eq!(
            kinds(&server),
            [RequestKind::Mcp, RequestKind::Token, RequestKind::Mcp],
            "refused, one refresh without a proof, accepted"
        );
        assert_eq!(mcp_schemes(&server), ["DPoP", "Bearer"]);
        assert_eq!(auth.request_counts().get(&Step::Refresh), Some(&1));
        let stored = stored(&*store, &server.mcp_url());
        assert!(stored.settings.resource_refuses_dpop, "preference stored");
        assert_eq!(stored.tokens.expect("tokens").token_type, TokenType::Bearer);
        assert_eq!(browser.opened(), 1, "no second login");
        assert_no_violations(&server);
    }
}

mod blocking_adapter {
    use super::*;
    use mcp_oauth_blocking::{Authorizer, Browser, BrowserOutcome, FnBrowser, Options};

    fn authorizer(store: Arc<dyn SessionStore>, b: &ScriptedBrowser, c: Config) -> Authorizer {
        let browser = b.clone();
        let mut options = Options::new(store);
        options.browser = Arc::new(FnBrowser(move |req: &BrowserRequest| {
            if browser.browse(&req.url) {
                BrowserOutcome::Opened
            } else {
                BrowserOutcome::Unavailable("scripted browser failed".into())
            }
        })) as Arc<dyn Browser>;
        options.paste_from_stdin = false;
        Authorizer::new(c, options).expect("authorizer")
    }

    fn list_tools(auth: &Authorizer, url: &str) -> Value {
        let call = Call::tools_list(url);
        let response = auth.send(call.request.clone()).expect("send succeeded");
        call.result(&response)
    }

    #[test]
    fn bearer_only_server_behind_a_dpop_provider() {
        let server = start(TestbedConfig::dpop_idp_bearer_server());
        let browser = ScriptedBrowser::new();
        let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
        let auth = authorizer(Arc::clone(&store), &browser, client_config(&server));
        assert_tools(&list_tools(&auth, &server.mcp_url()));
        assert_tools(&list_tools(&auth, &server.mcp_url()));
        let session = auth.session().expect("session");
        assert_eq!(
            session.tokens.expect("tokens").token_type,
            TokenType::Bearer
        );
        assert_eq!(mcp_schemes(&server), ["Bearer", "Bearer"]);
        assert_no_violations(&server);
    }

    #[test]
    fn a_bound_refresh_token_costs_one_re_authorization_then_never_again() {
        // Public client: its refresh token is bound, so the unbound refresh is refused and one
        // re-authorization brings the Bearer token.
        let server = dpop_server(false);
        let browser = ScriptedBrowser::new();
        let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
        let auth = authorizer(Arc::clone(&store), &browser, client_config(&server));
        assert_tools(&list_tools(&auth, &server.mcp_url()));
        assert_eq!(mcp_schemes(&server), ["DPoP"]);
        clear_log(&server);

        server.with_testbed(|t| t.set_challenge_scheme(ChallengeScheme::Bearer));
        assert_tools(&list_tools(&auth, &server.mcp_url()));
        assert_eq!(browser.opened(), 2, "one re-authorization");
        assert_eq!(
            mcp_schemes(&server).last().map(String::as_str),
            Some("Bearer")
        );
        assert!(
            stored(&*store, &server.mcp_url())
                .settings
                .resource_refuses_dpop
        );

        // A restart with the stored session: Bearer from the start, no login.
        clear_log(&server);
        let again = authorizer(Arc::clone(&store), &browser, client_config(&server));
        assert_tools(&list_tools(&again, &server.mcp_url()));
        assert_eq!(kinds(&server), [RequestKind::Mcp]);
        assert_eq!(browser.opened(), 2);
        assert_no_violations(&server);
    }
}
