//! The state a row starts from: a fresh testbed on loopback sockets and a `MemoryStore`,
//! seeded by a real login through the blocking adapter (the same seeding for both runners, so
//! only the operations under test differ), then the testbed's log is cleared.

use std::sync::Arc;

use mcp_oauth_blocking::store::{MemoryStore, SessionStore};
use mcp_oauth_blocking::{Authorizer, BrowserOutcome, FnBrowser, Options};
use mcp_oauth_core::BrowserRequest;
use mcp_oauth_tests::serve::TestbedServer;
use mcp_oauth_tests::testbed::TestbedConfig;

use crate::e2e_common::{
    assert_tools, clear_log, client_config, expire_stored_access_token, start, stored_tokens, Call,
    ScriptedBrowser,
};

/// What the store (or the configuration) holds before the first operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// Nothing stored.
    Empty,
    /// A session from a real login (DCR client, valid access token, refresh token).
    LoggedIn,
    /// A logged-in session whose stored access token expired a minute ago.
    Expired,
    /// An expired session the authorization server no longer knows: the AS "reset its
    /// database" (forgot every dynamically registered client), so the stored registration and
    /// refresh token are stale.
    Stale,
    /// A logged-in session whose access token the server has revoked (the next MCP call gets
    /// 401 `invalid_token`, RFC 6750 §3.1).
    Revoked,
    /// An empty store and a static `Authorization` header carrying a token the testbed accepts
    /// (taken from a login whose session is then thrown away).
    StaticHeader,
}

/// A seeded starting point.
pub struct Seeded {
    /// The testbed, shared with the fault injector.
    pub server: Arc<TestbedServer>,
    /// The store the runner wraps in a counting store.
    pub store: MemoryStore,
    /// The configured static header, if any.
    pub static_header: Option<String>,
}

/// Starts a testbed with `config` and seeds it and a store as `setup` says.
pub fn seed(config: TestbedConfig, setup: Setup) -> Seeded {
    let server = Arc::new(start(config));
    let store = MemoryStore::new();
    let mut static_header = None;
    if setup != Setup::Empty {
        let key = log_in(&server, &store);
        match setup {
            Setup::Expired | Setup::Stale => expire_stored_access_token(&store, &key),
            _ => {}
        }
        match setup {
            Setup::Stale => server.with_testbed(|t| t.forget_registrations()),
            Setup::Revoked => server.with_testbed(|t| t.revoke_all_access_tokens()),
            Setup::StaticHeader => {
                let (access, _) = stored_tokens(&store, &key);
                static_header = Some(format!("Bearer {access}"));
                store.delete(&key).expect("store writable");
            }
            _ => {}
        }
    }
    clear_log(&server);
    Seeded {
        server,
        store,
        static_header,
    }
}

/// Logs in through the blocking adapter and the scripted browser, lists the tools once, and
/// returns the session's key.
fn log_in(server: &TestbedServer, store: &MemoryStore) -> String {
    let browser = ScriptedBrowser::new();
    let opener = browser.clone();
    let mut options = Options::new(Arc::new(store.clone()));
    options.browser = Arc::new(FnBrowser(move |req: &BrowserRequest| {
        if opener.browse(&req.url) {
            BrowserOutcome::Opened
        } else {
            BrowserOutcome::Unavailable("scripted browser failed".into())
        }
    }));
    options.paste_from_stdin = false;
    let auth = Authorizer::new(client_config(server), options).expect("seeding authorizer");
    let call = Call::tools_list(&server.mcp_url());
    let response = auth.send(call.request.clone()).expect("seeding login");
    assert_tools(&call.result(&response));
    assert_eq!(browser.failures(), Vec::<String>::new());
    auth.server().to_string()
}
