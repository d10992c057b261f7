//! Issue 15 item 5: idle connections held open to the redirect port must not starve the real
//! callback. The core's `ConnectionTable` bounds the listener at 128 connections and gives a new
//! connection the slot of the oldest idle one, so 500 idle connections neither exhaust the
//! process nor keep the browser's callback out.
//!
//! Each test holds 500 client sockets (plus up to 128 accepted ones), so the tests raise the
//! soft `RLIMIT_NOFILE` where it is lower than that needs and run one at a time.

mod common;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use common::*;
use mcp_oauth_core::{BrowserRequest, Config, StateToken};
use mcp_oauth_store::MemoryStore;
use mcp_oauth_tokio::{Authorizer, BrowserOutcome, FnBrowser, LoopbackListener, Options};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const IDLE: usize = 500;
const BOUND: Duration = Duration::from_secs(60);

/// One flood at a time: two would double the file descriptors.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Raises the soft open-files limit to what a flood needs (up to the hard limit).
fn enough_file_descriptors() {
    #[cfg(unix)]
    {
        let need: libc::rlim_t = 2048;
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit only read and write the struct passed in.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < need {
                lim.rlim_cur = need.min(lim.rlim_max);
                libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            }
        }
    }
}

/// `IDLE` connections to `port` that never send a byte.
async fn idle_connections(port: u16) -> Vec<TcpStream> {
    let mut idle = Vec::with_capacity(IDLE);
    for i in 0..IDLE {
        let s = TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap_or_else(|e| panic!("idle connection {i}: {e}"));
        idle.push(s);
    }
    idle
}

/// GETs `target` on the listener like a browser and returns the whole answer.
async fn browser_get(port: u16, target: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    s.write_all(format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut page = String::new();
    let _ = s.read_to_string(&mut page).await;
    page
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_completes_while_500_idle_connections_hold_the_redirect_port() {
    let _one = ONE_AT_A_TIME.lock().await;
    enough_file_descriptors();
    let (store, fake) = (MemoryStore::new(), FakeAs::new());
    let held = Arc::new(Mutex::new(Vec::new()));
    let (page_tx, mut page_rx) = tokio::sync::mpsc::channel(4);
    let (browser_fake, browser_held) = (Arc::clone(&fake), Arc::clone(&held));
    let browser = FnBrowser(move |req: &BrowserRequest| {
        let location = browser_fake.authorize(&req.url);
        let (held, page_tx) = (Arc::clone(&browser_held), page_tx.clone());
        // The "user" acts on its own task, as a real browser would: the login may end (and
        // drop the browser future) before the page has been read.
        tokio::spawn(async move {
            let url = url::Url::parse(&location).expect("redirect");
            let port = url.port().expect("a redirect port");
            // The flood arrives first and stays open for the rest of the login.
            let idle = idle_connections(port).await;
            held.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend(idle);
            let target = format!("{}?{}", url.path(), url.query().unwrap_or_default());
            let _ = page_tx.send(browser_get(port, &target).await).await;
        });
        async { BrowserOutcome::Opened }
    });
    let mut config = Config::new(SERVER);
    // A starved callback ends the login with this timeout instead of hanging the test.
    config.authorization_timeout = Duration::from_secs(30);
    let mut options = Options::new(Arc::new(store.clone()));
    options.http_client = Some(Arc::new(FakeClient(Arc::clone(&fake))));
    options.browser = Arc::new(browser);
    options.paste_from_stdin = false;
    let auth = Authorizer::new(config, options).await.expect("authorizer");
    tokio::time::timeout(BOUND, auth.login())
        .await
        .expect("bounded")
        .expect("the login completes despite the flood");
    let page = tokio::time::timeout(BOUND, page_rx.recv())
        .await
        .expect("bounded")
        .expect("the browser read its page");
    assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
    assert_eq!(stored_access_token(&store).as_deref(), Some("at-2"));
    assert_eq!(
        held.lock().unwrap_or_else(PoisonError::into_inner).len(),
        IDLE
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_oldest_idle_connections_make_room_and_the_callback_is_served() {
    let _one = ONE_AT_A_TIME.lock().await;
    enough_file_descriptors();
    let mut listener = LoopbackListener::bind(0).await.expect("bind");
    listener.expect_state(StateToken::new("st"));
    let port = listener.port();
    let mut idle = idle_connections(port).await;
    let page = browser_get(port, "/callback?code=c&state=st").await;
    assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
    let query = tokio::time::timeout(BOUND, listener.next_callback())
        .await
        .expect("bounded");
    assert_eq!(query.as_deref(), Some("code=c&state=st"));
    // The first idle connection was evicted long ago: the listener closed it unanswered.
    let oldest = idle.first_mut().expect("idle connections");
    let mut byte = [0u8; 1];
    match tokio::time::timeout(BOUND, oldest.read(&mut byte))
        .await
        .expect("bounded")
    {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("the oldest idle connection is still held: {other:?}"),
    }
}
