//! Issue 15 item 5: idle connections held open to the redirect port must not starve the real
//! callback. Before the fix the listener refused every connection past its cap of 128, so 128
//! idle connections left the browser's callback closed unanswered and the login timed out; now
//! the core's `ConnectionTable` gives a new connection the slot of the oldest idle one.
//!
//! Each test holds 500 client sockets (plus up to 128 accepted ones and their clones on the
//! listener side), so the tests raise the soft `RLIMIT_NOFILE` where it is lower than that needs
//! and run one at a time.

#[path = "authorizer_fixture.rs"]
mod fixture;

use std::io::Read;
use std::net::TcpStream;
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use fixture::*;
use mcp_oauth_blocking::{
    Authorizer, BrowserOutcome, FnBrowser, LoopbackListener, MemoryStore, Options,
};
use mcp_oauth_core::{BrowserRequest, Config, StateToken};

const IDLE: usize = 500;

/// One flood at a time: two would double the file descriptors.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

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
fn idle_connections(port: u16) -> Vec<TcpStream> {
    (0..IDLE)
        .map(|i| {
            TcpStream::connect(("127.0.0.1", port))
                .unwrap_or_else(|e| panic!("idle connection {i}: {e}"))
        })
        .collect()
}

#[test]
fn a_login_completes_while_500_idle_connections_hold_the_redirect_port() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    enough_file_descriptors();
    let idp = Idp::new();
    let held = Arc::new(Mutex::new(Vec::new()));
    let (page_tx, page_rx) = mpsc::channel();
    let browser_held = Arc::clone(&held);
    let browser = FnBrowser(move |req: &BrowserRequest| {
        let (redirect_uri, state) = authorization_params(&req.url);
        let port = url::Url::parse(&redirect_uri)
            .ok()
            .and_then(|u| u.port())
            .expect("a redirect port");
        let (held, page_tx) = (Arc::clone(&browser_held), page_tx.clone());
        // The "user" acts on its own thread, as a real browser would: the login may end
        // before the page has been read.
        thread::spawn(move || {
            // The flood arrives first and stays open for the rest of the login.
            let idle = idle_connections(port);
            held.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend(idle);
            let _ = page_tx.send(browser_get(&format!(
                "{redirect_uri}?code=code-1&state={state}"
            )));
        });
        BrowserOutcome::Opened
    });
    let mut config = Config::new(SERVER);
    // A starved callback ends the login with this timeout instead of hanging the test.
    config.authorization_timeout = Duration::from_secs(30);
    let mut options = Options::new(Arc::new(MemoryStore::new()));
    options.http_client = Some(idp.clone());
    options.browser = Arc::new(browser);
    options.paste_from_stdin = false;
    let auth = Authorizer::new(config, options).expect("authorizer");
    auth.login().expect("the login completes despite the flood");
    assert_eq!(
        page_rx.recv_timeout(Duration::from_secs(30)),
        Ok(200),
        "the callback was answered"
    );
    assert_eq!(
        auth.header().expect("header").expose_secret(),
        "Bearer at-login"
    );
    assert_eq!(held.lock().unwrap().len(), IDLE);
}

#[test]
fn the_oldest_idle_connections_make_room_and_the_callback_is_served() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    enough_file_descriptors();
    let listener = LoopbackListener::bind(0).expect("bind");
    listener.expect_state(StateToken::new("st"));
    let port = listener.port();
    let mut idle = idle_connections(port);
    assert_eq!(
        browser_get(&format!("http://127.0.0.1:{port}/callback?code=c&state=st")),
        200
    );
    assert_eq!(
        listener.recv_callback(Duration::from_secs(10)).as_deref(),
        Some("code=c&state=st")
    );
    // The first idle connection was evicted long ago: the listener closed it unanswered.
    let oldest = idle.first_mut().expect("idle connections");
    oldest
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut byte = [0u8; 1];
    match oldest.read(&mut byte) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("the oldest idle connection is still held: {other:?}"),
    }
}
