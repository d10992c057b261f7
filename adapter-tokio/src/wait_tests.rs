//! The browser step's wake-ups, one at a time: a pasted URL after the opener gave up, a
//! `Redirected` answer, the deadline, and a cancellation.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use mcp_oauth_core::{BrowserRequest, Deadline, DeadlineReason, StateToken};
use tokio::sync::broadcast;

use super::*;
use crate::browser::{FnBrowser, NoBrowser};
use crate::driver::tests::{machine, shared};
use crate::driver::DriveCtx;

fn pasted_lines() -> &'static broadcast::Sender<String> {
    static LINES: OnceLock<broadcast::Sender<String>> = OnceLock::new();
    LINES.get_or_init(|| broadcast::channel(8).0)
}

fn test_paste_source() -> broadcast::Receiver<String> {
    pasted_lines().subscribe()
}

fn request() -> BrowserRequest {
    BrowserRequest {
        url: "https://as.example.com/authorize?state=s".into(),
        state: StateToken::new("s"),
    }
}

fn query(input: UserInput) -> String {
    match input {
        UserInput::Callback(query) => query,
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn unavailable_browser_falls_back_to_a_pasted_url() {
    let mut s = shared(machine());
    s.paste_from_stdin = true;
    s.paste_source = test_paste_source;
    let mut ctx = DriveCtx::default();
    ctx.browser_step.open(Arc::new(NoBrowser), request());
    let url = "http://127.0.0.1:9/callback?code=c&state=s";
    let typist = tokio::spawn(async move {
        // Lines typed before the prompt are dropped; keep typing until someone listens.
        loop {
            let _ = pasted_lines().send(format!("  {url}  "));
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    let input = tokio::time::timeout(
        Duration::from_secs(5),
        s.wait_for_authorization(&mut ctx, None),
    )
    .await
    .expect("woken by the paste");
    typist.abort();
    assert_eq!(query(input), url);
}

#[tokio::test]
async fn without_paste_an_unavailable_browser_waits_for_the_deadline() {
    let s = shared(machine());
    let mut ctx = DriveCtx::default();
    ctx.browser_step.open(Arc::new(NoBrowser), request());
    let deadline = Deadline {
        at: s.start.elapsed() + Duration::from_millis(100),
        reason: DeadlineReason::AuthorizationTimeout,
    };
    let input = tokio::time::timeout(
        Duration::from_secs(5),
        s.wait_for_authorization(&mut ctx, Some(deadline)),
    )
    .await
    .expect("deadline fires");
    assert_eq!(input, UserInput::Timeout);
}

#[tokio::test]
async fn a_redirected_browser_is_the_callback() {
    let s = shared(machine());
    let mut ctx = DriveCtx::default();
    let browser = FnBrowser(|req: &BrowserRequest| {
        let ok = req.state.matches("s");
        async move {
            assert!(ok);
            BrowserOutcome::Redirected("http://127.0.0.1:9/callback?code=c&state=s".into())
        }
    });
    ctx.browser_step.open(Arc::new(browser), request());
    let input = s.wait_for_authorization(&mut ctx, None).await;
    assert_eq!(query(input), "http://127.0.0.1:9/callback?code=c&state=s");
}

#[tokio::test]
async fn cancel_wakes_the_wait() {
    let s = Arc::new(shared(machine()));
    let mut ctx = DriveCtx::default();
    ctx.browser_step.open(Arc::new(NoBrowser), request());
    let canceller = {
        let s = Arc::clone(&s);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            s.cancel.notify_waiters();
        })
    };
    let out = tokio::time::timeout(
        Duration::from_secs(5),
        s.wait_for_authorization(&mut ctx, None),
    )
    .await
    .expect("woken by cancel");
    canceller.await.unwrap();
    assert_eq!(out, UserInput::Cancelled);
}
