//! The runner for `mcp_oauth_tokio::Authorizer`: a multi-thread runtime built here, the real
//! `ReqwestClient` behind the fault injector, the real loopback listener. The scripted user is
//! synchronous (`std::net`), so it runs on `spawn_blocking`.

use std::sync::Arc;
use std::time::Duration;

use mcp_oauth_core::{AuthStatus, BrowserRequest, HttpRequest, HttpResponse, TransportError};
use mcp_oauth_tokio::{
    Authorizer, BoxFuture, Browser, BrowserOutcome, FnBrowser, HttpClient, Options, ReqwestClient,
};
use tokio::sync::Barrier;

use super::faults::{transport_error, Injector};
use super::seed::seed;
use super::{
    browser_completes, describe, served_by_kind, violations, CountingStore, Observed, Op, Scenario,
    Summary,
};
use crate::e2e_common::{client_config, Call, ScriptedBrowser, BOUND};

/// The real client, with the injector in front.
struct Faulty {
    inner: ReqwestClient,
    injector: Arc<Injector>,
}

impl HttpClient for Faulty {
    fn send<'a>(
        &'a self,
        req: &'a HttpRequest,
    ) -> BoxFuture<'a, Result<HttpResponse, TransportError>> {
        Box::pin(async move {
            if let Some(message) = self.injector.before(req) {
                return Err(transport_error(&message));
            }
            let result = self.inner.send(req).await;
            self.injector.after(req);
            result
        })
    }
}

/// The scripted user (GETs the authorization URL, then the loopback callback), or a browser
/// that reports it opened and never comes back.
fn browser(completes: bool) -> Arc<dyn Browser> {
    if !completes {
        return Arc::new(FnBrowser(|_: &BrowserRequest| async {
            BrowserOutcome::Opened
        }));
    }
    let user = ScriptedBrowser::new();
    Arc::new(FnBrowser(move |req: &BrowserRequest| {
        let (user, url) = (user.clone(), req.url.clone());
        async move {
            let browsed = {
                let user = user.clone();
                tokio::task::spawn_blocking(move || user.browse(&url)).await
            };
            match browsed {
                Ok(true) => BrowserOutcome::Opened,
                Ok(false) => BrowserOutcome::Unavailable(format!(
                    "scripted browser failed: {:?}",
                    user.failures()
                )),
                Err(e) => BrowserOutcome::Unavailable(e.to_string()),
            }
        }
    }))
}

/// Runs `scenario` through the tokio adapter on a runtime of its own.
pub fn run(scenario: &Scenario) -> Observed {
    let seeded = seed((scenario.testbed)(), scenario.setup);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let server = Arc::clone(&seeded.server);
        let store = CountingStore::new(Arc::new(seeded.store.clone()));
        let mut options = Options::new(store.clone());
        options.browser = browser(browser_completes(&scenario.ops));
        options.paste_from_stdin = false;
        options.static_authorization = seeded.static_header.clone();
        options.http_client = Some(Arc::new(Faulty {
            inner: ReqwestClient::new(Duration::from_secs(10), Duration::from_secs(30))
                .expect("reqwest client"),
            injector: Injector::new(scenario.fault, Arc::clone(&server)),
        }));
        let auth = Authorizer::new(client_config(&server), options)
            .await
            .expect("tokio authorizer");

        let mcp_url = server.mcp_url();
        let mut result = Ok(());
        for op in &scenario.ops {
            result = run_op(&auth, &mcp_url, *op).await;
            if result.is_err() {
                break;
            }
        }

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
    })
}

async fn run_op(auth: &Authorizer, mcp_url: &str, op: Op) -> Result<(), String> {
    match op {
        Op::ToolsList => send(auth, Call::tools_list(mcp_url)).await,
        Op::CallTestTool => send(auth, Call::call_test_tool(mcp_url)).await,
        Op::Login => bounded(auth.login()).await,
        Op::Stampede(callers) => stampede(auth, callers).await,
        Op::LoginThenCancel => login_then_cancel(auth).await,
    }
}

/// Turns a hang into a failure (the bound is far above any run).
async fn bounded<T>(
    f: impl std::future::Future<Output = Result<T, mcp_oauth_tokio::AdapterError>>,
) -> Result<(), String> {
    match tokio::time::timeout(BOUND, f).await {
        Ok(result) => result.map(drop).map_err(|e| describe(&e)),
        Err(_) => Err("no answer within the bound".into()),
    }
}

async fn send(auth: &Authorizer, call: Call) -> Result<(), String> {
    let response = tokio::time::timeout(BOUND, auth.send(call.request))
        .await
        .map_err(|_| "no answer within the bound".to_string())?
        .map_err(|e| describe(&e))?;
    match response.status {
        200 => Ok(()),
        status => Err(format!("HTTP {status}")),
    }
}

/// `callers` tasks released together by a barrier, each asking for the header once.
async fn stampede(auth: &Authorizer, callers: usize) -> Result<(), String> {
    let barrier = Arc::new(Barrier::new(callers));
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let (auth, barrier) = (auth.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                auth.header()
                    .await
                    .map(|h| h.expose_secret().to_owned())
                    .map_err(|e| describe(&e))
            })
        })
        .collect();
    let mut headers = Vec::new();
    for task in tasks {
        let header = tokio::time::timeout(BOUND, task)
            .await
            .map_err(|_| "a caller got no answer within the bound".to_string())?
            .expect("caller task did not panic");
        headers.push(header);
    }
    super::same_header_for_all(headers)
}

/// `login()` on a task; `cancel()` once the status says it waits for the browser.
async fn login_then_cancel(auth: &Authorizer) -> Result<(), String> {
    let login = {
        let auth = auth.clone();
        tokio::spawn(async move { auth.login().await })
    };
    let deadline = tokio::time::Instant::now() + BOUND;
    let mut waiting = false;
    while tokio::time::Instant::now() < deadline && !login.is_finished() {
        if matches!(auth.status(), AuthStatus::WaitingForBrowser { .. }) {
            waiting = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    auth.cancel();
    let result = tokio::time::timeout(BOUND, login)
        .await
        .map_err(|_| "login did not end after cancel()".to_string())?
        .expect("login task did not panic")
        .map_err(|e| describe(&e));
    match waiting {
        true => result,
        false => Err(format!("never waited for the browser: {result:?}")),
    }
}
