//! The runner for `mcp_oauth_blocking::Authorizer`: plain threads, the real `UreqClient` behind
//! the fault injector, the real loopback listener.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use mcp_oauth_blocking::{
    Authorizer, Browser, BrowserOutcome, FnBrowser, HttpClient, Options, UreqClient,
};
use mcp_oauth_core::{AuthStatus, BrowserRequest, HttpRequest, HttpResponse, TransportError};

use super::faults::{transport_error, Injector};
use super::seed::seed;
use super::{
    browser_completes, describe, served_by_kind, violations, CountingStore, Observed, Op, Scenario,
    Summary,
};
use crate::e2e_common::{client_config, Call, ScriptedBrowser, BOUND};

/// The real client, with the injector in front.
struct Faulty {
    inner: UreqClient,
    injector: Arc<Injector>,
}

impl HttpClient for Faulty {
    fn send(&self, req: &HttpRequest) -> Result<HttpResponse, TransportError> {
        self.send_within(req, BOUND)
    }

    fn send_within(
        &self,
        req: &HttpRequest,
        timeout: Duration,
    ) -> Result<HttpResponse, TransportError> {
        if let Some(message) = self.injector.before(req) {
            return Err(transport_error(&message));
        }
        let result = self.inner.send_within(req, timeout);
        self.injector.after(req);
        result
    }
}

/// The scripted user (GETs the authorization URL, then the loopback callback), or a browser
/// that reports it opened and never comes back.
fn browser(completes: bool) -> Arc<dyn Browser> {
    if !completes {
        return Arc::new(FnBrowser(|_: &BrowserRequest| BrowserOutcome::Opened));
    }
    let user = ScriptedBrowser::new();
    Arc::new(FnBrowser(move |req: &BrowserRequest| {
        if user.browse(&req.url) {
            BrowserOutcome::Opened
        } else {
            BrowserOutcome::Unavailable(format!("scripted browser failed: {:?}", user.failures()))
        }
    }))
}

/// Runs `scenario` through the blocking adapter.
pub fn run(scenario: &Scenario) -> Observed {
    let seeded = seed((scenario.testbed)(), scenario.setup);
    let server = Arc::clone(&seeded.server);
    let store = CountingStore::new(Arc::new(seeded.store.clone()));
    let mut options = Options::new(store.clone());
    options.browser = browser(browser_completes(&scenario.ops));
    options.paste_from_stdin = false;
    options.static_authorization = seeded.static_header.clone();
    options.http_client = Some(Arc::new(Faulty {
        inner: UreqClient::new(Duration::from_secs(10), Duration::from_secs(30)),
        injector: Injector::new(scenario.fault, Arc::clone(&server)),
    }));
    let auth = Authorizer::new(client_config(&server), options).expect("blocking authorizer");

    let mcp_url = server.mcp_url();
    let result = scenario
        .ops
        .iter()
        .try_for_each(|op| run_op(&auth, &mcp_url, *op));

    let (store_saves, store_deletes) = store.writes();
    Observed {
        served: served_by_kind(&server),
        oauth_requests: auth.request_counts(),
        result: result.map_err(super::without_ports),
        browser_launches: auth.browser_launches(),
        store_saves,
        store_deletes,
        session: Summary::of(auth.session().as_ref()),
        stored: store.summary(auth.server()),
        violations: violations(&server),
    }
}

fn run_op(auth: &Authorizer, mcp_url: &str, op: Op) -> Result<(), String> {
    match op {
        Op::ToolsList => send(auth, Call::tools_list(mcp_url)),
        Op::CallTestTool => send(auth, Call::call_test_tool(mcp_url)),
        Op::Login => auth.login().map_err(|e| describe(&e)),
        Op::Stampede(callers) => stampede(auth, callers),
        Op::LoginThenCancel => login_then_cancel(auth),
    }
}

fn send(auth: &Authorizer, call: Call) -> Result<(), String> {
    let response = auth.send(call.request).map_err(|e| describe(&e))?;
    match response.status {
        200 => Ok(()),
        status => Err(format!("HTTP {status}")),
    }
}

/// `callers` threads released together by a barrier, each asking for the header once.
fn stampede(auth: &Authorizer, callers: usize) -> Result<(), String> {
    let barrier = Arc::new(Barrier::new(callers));
    let threads: Vec<_> = (0..callers)
        .map(|_| {
            let (auth, barrier) = (auth.clone(), Arc::clone(&barrier));
            thread::spawn(move || {
                barrier.wait();
                auth.header()
                    .map(|h| h.expose_secret().to_owned())
                    .map_err(|e| describe(&e))
            })
        })
        .collect();
    let headers: Vec<Result<String, String>> = threads
        .into_iter()
        .map(|t| t.join().expect("caller thread did not panic"))
        .collect();
    super::same_header_for_all(headers)
}

/// `login()` on a thread; `cancel()` once the status says it waits for the browser.
fn login_then_cancel(auth: &Authorizer) -> Result<(), String> {
    let login = {
        let auth = auth.clone();
        thread::spawn(move || auth.login())
    };
    let deadline = Instant::now() + BOUND;
    let mut waiting = false;
    while Instant::now() < deadline && !login.is_finished() {
        if matches!(auth.status(), AuthStatus::WaitingForBrowser { .. }) {
            waiting = true;
            break;
        }
        thread::sleep(Duration::from_millis(5));
    }
    auth.cancel();
    let result = login
        .join()
        .expect("login thread did not panic")
        .map_err(|e| describe(&e));
    match waiting {
        true => result,
        false => Err(format!("never waited for the browser: {result:?}")),
    }
}
