//! The browser step of a drive: after `OpenBrowser`, wait for the first of the loopback
//! callback, the opener's own answer, a pasted redirect URL, the core's deadline, or a
//! cancellation.
//!
//! The opener runs as its own task so a slow launcher (or a test "browser" that performs the
//! whole authorization request) never delays a callback that is already on the wire.

use std::future::pending;
use std::sync::Arc;

use mcp_oauth_core::{BrowserRequest, Deadline};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::browser::{Browser, BrowserOutcome};
use crate::driver::{DriveCtx, Shared};
use crate::loopback::LoopbackListener;
use crate::paste;

/// The resources of one browser step; dropping it closes the listener and stops the opener.
#[derive(Default)]
pub(crate) struct BrowserStep {
    pub(crate) listener: Option<LoopbackListener>,
    opener: Option<AbortOnDrop>,
    paste: Option<broadcast::Receiver<String>>,
}

impl BrowserStep {
    /// Arms the listener with the expected `state` and starts the opener.
    pub(crate) fn open(&mut self, browser: Arc<dyn Browser>, request: BrowserRequest) {
        if let Some(listener) = &self.listener {
            listener.expect_state(request.state.clone());
        }
        self.opener = Some(AbortOnDrop(tokio::spawn(async move {
            browser.open(&request).await
        })));
    }

    /// `CloseLoopback`: the step is over (success or failure). Returns once the listening
    /// socket is closed, so a next login can bind the same (registered) port again.
    pub(crate) async fn close(&mut self) {
        let listener = self.listener.take();
        *self = Self::default();
        if let Some(listener) = listener {
            listener.close().await;
        }
    }
}

/// A task handle that aborts its task when dropped (a `JoinHandle` would detach it).
struct AbortOnDrop(JoinHandle<BrowserOutcome>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How the wait for the user ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum UserInput {
    /// The authorization response: a callback query, or a redirect URL (pasted or seen by the
    /// opener).
    Callback(String),
    /// The deadline passed.
    Timeout,
    /// [`crate::Authorizer::cancel`] was called.
    Cancelled,
}

enum Wake {
    Callback(Option<String>),
    Opener(BrowserOutcome),
    Pasted(Option<String>),
    Timeout,
    Cancelled,
}

impl Shared {
    /// Waits for the input that ends (or advances) the browser step.
    pub(crate) async fn wait_for_authorization(
        &self,
        ctx: &mut DriveCtx,
        deadline: Option<Deadline>,
    ) -> UserInput {
        let wake_at = deadline.map(|d| tokio::time::Instant::from_std(self.start + d.at));
        loop {
            let cancelled = self.cancel.notified();
            let mut cancelled = std::pin::pin!(cancelled);
            cancelled.as_mut().enable();
            if self.lock().cancel_requested() {
                return UserInput::Cancelled;
            }
            let step = &mut ctx.browser_step;
            let wake = tokio::select! {
                q = next_callback(step.listener.as_mut()) => Wake::Callback(q),
                out = opener_done(step.opener.as_mut()) => Wake::Opener(out),
                line = next_paste(step.paste.as_mut()) => Wake::Pasted(line),
                () = sleep_until(wake_at) => Wake::Timeout,
                () = &mut cancelled => Wake::Cancelled,
            };
            match wake {
                Wake::Callback(Some(query)) => return UserInput::Callback(query),
                Wake::Callback(None) => step.listener = None,
                Wake::Opener(outcome) => {
                    step.opener = None;
                    match outcome {
                        BrowserOutcome::Opened => {}
                        BrowserOutcome::Redirected(url) => return UserInput::Callback(url),
                        BrowserOutcome::Unavailable(why) => {
                            if self.paste_from_stdin && step.paste.is_none() {
                                paste::prompt(&why);
                                step.paste = Some((self.paste_source)());
                            } else {
                                eprintln!("Could not open a browser ({why}); open the URL above.");
                            }
                        }
                    }
                }
                Wake::Pasted(Some(line)) => return UserInput::Callback(line),
                Wake::Pasted(None) => step.paste = None,
                Wake::Timeout => return UserInput::Timeout,
                Wake::Cancelled => return UserInput::Cancelled,
            }
        }
    }
}

async fn next_callback(listener: Option<&mut LoopbackListener>) -> Option<String> {
    match listener {
        Some(l) => l.next_callback().await,
        None => pending().await,
    }
}

async fn opener_done(opener: Option<&mut AbortOnDrop>) -> BrowserOutcome {
    match opener {
        Some(task) => match (&mut task.0).await {
            Ok(outcome) => outcome,
            Err(e) => BrowserOutcome::Unavailable(format!("the browser opener failed: {e}")),
        },
        None => pending().await,
    }
}

async fn next_paste(rx: Option<&mut broadcast::Receiver<String>>) -> Option<String> {
    match rx {
        Some(rx) => paste::next_paste(rx).await,
        None => pending().await,
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => pending().await,
    }
}

#[cfg(test)]
#[path = "wait_tests.rs"]
mod tests;
