//! One drive: interpret the machine's outputs until it is idle (DESIGN.md §3, adapter design
//! "Output handling"). `Output -> IO -> Input`, nothing else: no JSON, no OAuth status codes, no
//! OAuth URLs here.
//!
//! The mutex guard is dropped around every blocking operation (HTTP, the store and its lock,
//! binding the listener, the browser wait) and re-taken to feed the answer; the `driving` flag
//! (see [`crate::driver`]) keeps other callers off the machine meanwhile.

use std::sync::{mpsc, Arc, PoisonError};

use mcp_oauth_core::{BrowserRequest, Event, Input, Output, Step};

use crate::browser::BrowserOutcome;
use crate::driver::{Guard, Inner, Wake};
use crate::error::AdapterError;
use crate::loopback::{LoopbackListener, Sink};
use crate::paste;
use crate::store::StoreLock;

/// What one drive holds open.
#[derive(Default)]
struct Run {
    /// Taken at the first `LoadSession`, held until the drive ends (cross-process single
    /// flight: another process re-reads the session only after this one saved).
    store_lock: Option<StoreLock>,
    listener: Option<LoopbackListener>,
    wake: Option<(mpsc::Sender<Wake>, mpsc::Receiver<Wake>)>,
    /// Between `OpenBrowser` and `CloseLoopback`: the machine waits for outside input.
    browser_open: bool,
    paste: Option<paste::Subscription>,
    /// The last `Event::Failed`.
    failed: Option<AdapterError>,
    /// A login (discovery, registration, browser, code exchange) ran in this drive.
    login: bool,
    /// A `StoreSession` failed: the machine's in-memory session must not be handed out.
    unsaved: bool,
}

type Performed<'a> = Result<Guard<'a>, (Guard<'a>, AdapterError)>;

/// Runs one drive to its end and cleans up; the caller publishes the outcome.
pub(crate) fn run<'a>(
    inner: &'a Inner,
    g: Guard<'a>,
    first: Option<Output>,
) -> (Guard<'a>, Result<(), AdapterError>) {
    let mut run = Run::default();
    let (g, result) = drive_loop(inner, g, first, &mut run);
    finish(inner, g, run, result)
}

fn drive_loop<'a>(
    inner: &'a Inner,
    mut g: Guard<'a>,
    mut first: Option<Output>,
    run: &mut Run,
) -> (Guard<'a>, Result<(), AdapterError>) {
    loop {
        while let Some(output) = first.take().or_else(|| g.machine.poll_output()) {
            if g.cancel_requested && waits_outside(&output) && g.machine.is_busy() {
                // Stop before the next step that waits on the outside world. The core closes
                // the browser step, drops the flow (this output's answer would be stale) and
                // keeps the session; its `Failed(Cancelled)` becomes this drive's error.
                g.cancel_requested = false;
                let now = inner.now();
                g.machine.cancel(now);
                continue;
            }
            g = match perform(inner, g, output, run) {
                Ok(g) => g,
                Err((g, e)) => return (g, Err(e)),
            };
        }
        if !g.machine.is_busy() {
            return (g, run.failed.take().map_or(Ok(()), Err));
        }
        // Busy with nothing to do: only the browser step waits on outside input.
        let rx = match (&run.wake, run.browser_open) {
            (Some((_, rx)), true) => rx,
            _ => return (g, Err(stalled())),
        };
        let deadline = g.machine.poll_timeout().map(|d| d.at);
        drop(g);
        // `Err(true)`: the deadline passed; `Err(false)`: every sender is gone (cannot happen
        // while `run.wake` holds one, but never wait on a dead channel).
        let event = match deadline {
            Some(at) => {
                let left = at.saturating_sub(inner.start().elapsed());
                rx.recv_timeout(left)
                    .map_err(|e| e == mpsc::RecvTimeoutError::Timeout)
            }
            None => rx.recv().map_err(|_| false),
        };
        g = inner.lock();
        let now = inner.now();
        match event {
            Ok(Wake::Callback(query) | Wake::Paste(query)) => {
                g.machine.handle_input(now, Input::Callback { query });
            }
            Ok(Wake::Browser(outcome)) => on_browser(inner, &mut g, outcome, run),
            Ok(Wake::Cancel) => {
                if g.cancel_requested {
                    g.cancel_requested = false;
                    g.machine.cancel(now);
                }
            }
            Err(true) => g.machine.handle_input(now, Input::Timeout),
            Err(false) => return (g, Err(stalled())),
        }
    }
}

/// Carries out one output.
fn perform<'a>(inner: &'a Inner, mut g: Guard<'a>, output: Output, run: &mut Run) -> Performed<'a> {
    let s = &inner.settings;
    match output {
        Output::Fetch { id, step, request } => {
            *g.counts.entry(step).or_insert(0) += 1;
            run.login |= matches!(
                step,
                Step::ResourceMetadata
                    | Step::ServerMetadata
                    | Step::Registration
                    | Step::TokenExchange
            );
            drop(g);
            let result = s.http.send(&request);
            g = inner.lock();
            let input = match result {
                Ok(response) => Input::HttpResponse { id, response },
                Err(error) => Input::HttpFailed { id, error },
            };
            g.machine.handle_input(inner.now(), input);
        }
        Output::ListenLoopback { preferred_port } => {
            run.login = true;
            close_browser_step(inner, run);
            let (tx, rx) = mpsc::channel();
            let sink_tx = tx.clone();
            let sink: Sink = Arc::new(move |query| {
                let _ = sink_tx.send(Wake::Callback(query));
            });
            drop(g);
            let bound = LoopbackListener::bind_for(s.redirect_port, preferred_port, sink);
            g = inner.lock();
            let input = match bound {
                Ok(listener) => {
                    let redirect_uri = listener.redirect_uri().to_owned();
                    run.listener = Some(listener);
                    *inner.waker.lock().unwrap_or_else(PoisonError::into_inner) = Some(tx.clone());
                    run.wake = Some((tx, rx));
                    Input::LoopbackReady { redirect_uri }
                }
                Err(e) => Input::LoopbackFailed {
                    error: format!("cannot listen on 127.0.0.1: {e}"),
                },
            };
            g.machine.handle_input(inner.now(), input);
        }
        Output::OpenBrowser(request) => open_browser(inner, &mut g, request, run),
        Output::CloseLoopback => close_browser_step(inner, run),
        Output::LoadSession => {
            let need_lock = run.store_lock.is_none();
            drop(g);
            let locked = if need_lock {
                s.store.lock(&s.key).map(Some)
            } else {
                Ok(None)
            };
            let loaded = locked.and_then(|lock| {
                if lock.is_some() {
                    run.store_lock = lock;
                }
                s.store.load(&s.key)
            });
            g = inner.lock();
            match loaded {
                Ok(session) => g
                    .machine
                    .handle_input(inner.now(), Input::SessionLoaded(session)),
                Err(e) => return Err((g, e.into())),
            }
        }
        Output::StoreSession(session) => {
            drop(g);
            let saved = s.store.save(&s.key, &session);
            g = inner.lock();
            if let Err(e) = saved {
                run.unsaved = true;
                return Err((g, e.into()));
            }
        }
        Output::ClearSession => {
            drop(g);
            let deleted = s.store.delete(&s.key);
            g = inner.lock();
            if let Err(e) = deleted {
                return Err((g, e.into()));
            }
        }
        Output::Event(event) => match event {
            Event::Failed(e) => run.failed = Some(e.into()),
            Event::Status(status) => g.status = status,
            Event::CallbackRejected(e) => {
                eprintln!("mcp-oauth: ignored an authorization response ({e}); still waiting");
            }
            _ => {}
        },
        _ => {} // an effect added to the core later: nothing this adapter knows to do
    }
    Ok(g)
}

/// Arms the listener with the expected `state` and runs the opener on a helper thread, so the
/// listener, the paste fallback and the deadline keep working while it blocks.
fn open_browser(inner: &Inner, g: &mut Guard<'_>, request: BrowserRequest, run: &mut Run) {
    if let Some(listener) = &run.listener {
        listener.expect_state(request.state.clone());
    }
    let Some((tx, _)) = &run.wake else {
        // No listener (it is always bound before the browser step): nothing could deliver a
        // callback, so let the deadline end the wait.
        return;
    };
    run.browser_open = true;
    let tx = tx.clone();
    let browser = Arc::clone(&inner.settings.browser);
    let spawned = std::thread::Builder::new()
        .name("mcp-oauth-browser".into())
        .spawn(move || {
            let outcome = browser.open(&request);
            let _ = tx.send(Wake::Browser(outcome));
        });
    if let Err(e) = spawned {
        on_browser(inner, g, BrowserOutcome::Unavailable(e.to_string()), run);
    }
}

fn on_browser(inner: &Inner, g: &mut Guard<'_>, outcome: BrowserOutcome, run: &mut Run) {
    if !run.browser_open {
        return; // a late answer for a browser step that already ended
    }
    match outcome {
        BrowserOutcome::Opened => {}
        BrowserOutcome::Redirected(url) => {
            g.machine
                .handle_input(inner.now(), Input::Callback { query: url });
        }
        BrowserOutcome::Unavailable(reason) => match &run.wake {
            Some((tx, _)) if inner.settings.paste && run.paste.is_none() => {
                let tx = tx.clone();
                run.paste = Some(paste::subscribe_stdin(move |line| {
                    let _ = tx.send(Wake::Paste(line));
                }));
                // Only now: a line pasted right after the prompt must find the subscription.
                paste::prompt(&reason);
            }
            _ => eprintln!(
                "mcp-oauth: could not open a browser ({reason}); waiting for the authorization response"
            ),
        },
    }
}

/// Stops the listener and the paste subscription; `cancel` has nothing to wake any more.
fn close_browser_step(inner: &Inner, run: &mut Run) {
    run.browser_open = false;
    run.paste = None;
    if let Some(listener) = run.listener.take() {
        listener.stop();
    }
    run.wake = None;
    *inner.waker.lock().unwrap_or_else(PoisonError::into_inner) = None;
}

/// After the loop: close the browser step, apply the stale-session rule, replace a machine that
/// was abandoned mid-flow or holds an unsaved session, then release the store lock.
fn finish<'a>(
    inner: &'a Inner,
    mut g: Guard<'a>,
    mut run: Run,
    result: Result<(), AdapterError>,
) -> (Guard<'a>, Result<(), AdapterError>) {
    close_browser_step(inner, &mut run);
    let s = &inner.settings;
    let now = inner.now();
    // Stale session rule: a login that failed for a reason other than the network, while the
    // stored session has no usable token, deletes it so the next attempt starts clean (a DCR
    // client the AS forgot, a registration for another redirect URI, ...).
    let stale = match &result {
        Err(e) => {
            run.login
                && !e.is_transient()
                && !matches!(e, AdapterError::LoginRequired)
                && g.machine
                    .session()
                    .is_some_and(|sess| !sess.has_usable_token(now.wall, 0))
        }
        Ok(()) => false,
    };
    let mut result = result;
    if stale || run.unsaved {
        drop(g);
        let replacement = if stale {
            if let Err(e) = s.store.delete(&s.key) {
                eprintln!("mcp-oauth: could not delete the stale session: {e}");
            }
            None
        } else {
            // Only what the store holds may be used (the new token could not be saved).
            s.store.load(&s.key).ok().flatten()
        };
        g = inner.lock();
        if let Err(e) = inner.reset_machine(&mut g, replacement) {
            result = result.and(Err(e));
        }
    } else if g.machine.is_busy() {
        // Cancelled, a store error mid-flow, or stalled: the flow cannot continue.
        let session = g.machine.session().cloned();
        if let Err(e) = inner.reset_machine(&mut g, session) {
            result = result.and(Err(e));
        }
    }
    drop(run.store_lock.take());
    (g, result)
}

/// Outputs after which the drive blocks on something outside the process. Saving, deleting and
/// events are never skipped: a session the machine already installed must reach the store.
fn waits_outside(output: &Output) -> bool {
    matches!(
        output,
        Output::Fetch { .. }
            | Output::ListenLoopback { .. }
            | Output::LoadSession
            | Output::OpenBrowser(_)
    )
}

fn stalled() -> AdapterError {
    AdapterError::Io(std::io::Error::other(
        "the authorization flow stalled (no effect to wait for)",
    ))
}
