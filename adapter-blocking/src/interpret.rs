//! The IO of one drive: each [`Effect`] the coordinator hands out, carried out with the mutex
//! released, and its result reported back. No OAuth decisions here: no JSON, no status codes,
//! no URLs of the flow (those are the machine's), no retry or reset rules (the coordinator's).

use std::sync::{mpsc, Arc, PoisonError};
use std::time::Duration;

use mcp_oauth_core::coordinator::Effect;
use mcp_oauth_core::BrowserRequest;

use crate::browser::BrowserOutcome;
use crate::driver::{Guard, Inner, Wake};
use crate::loopback::{LoopbackListener, Sink};
use crate::paste;
use crate::store::StoreLock;
use crate::AdapterError;

/// What one drive holds open; dropping it closes the listener and releases the store lock.
#[derive(Default)]
pub(crate) struct Run {
    store_lock: Option<StoreLock>,
    listener: Option<LoopbackListener>,
    wake: Option<(mpsc::Sender<Wake>, mpsc::Receiver<Wake>)>,
    paste: Option<paste::Subscription>,
}

/// Carries out one effect and reports its result to the coordinator.
pub(crate) fn perform<'a>(
    inner: &'a Inner,
    mut g: Guard<'a>,
    effect: Effect,
    run: &mut Run,
) -> Guard<'a> {
    let s = &inner.settings;
    match effect {
        Effect::Fetch {
            id,
            request,
            timeout,
            ..
        } => {
            drop(g);
            let result = s.http.send_within(&request, timeout);
            g = inner.lock();
            g.fetched(inner.now(), id, result);
        }
        Effect::Listen { preferred_port } => {
            close_browser_step(inner, run);
            let (tx, rx) = mpsc::channel();
            let sink_tx = tx.clone();
            let sink: Sink = Arc::new(move |query| {
                let _ = sink_tx.send(Wake::Callback(query));
            });
            drop(g);
            let bound = LoopbackListener::bind_for(s.redirect_port, preferred_port, sink);
            g = inner.lock();
            let result = match bound {
                Ok(listener) => {
                    let redirect_uri = listener.redirect_uri().to_owned();
                    run.listener = Some(listener);
                    *inner.waker.lock().unwrap_or_else(PoisonError::into_inner) = Some(tx.clone());
                    run.wake = Some((tx, rx));
                    Ok(redirect_uri)
                }
                Err(e) => Err(format!("cannot listen on 127.0.0.1: {e}")),
            };
            g.listening(inner.now(), result);
        }
        Effect::OpenBrowser(request) => open_browser(inner, &mut g, request, run),
        Effect::CloseLoopback => close_browser_step(inner, run),
        Effect::LoadSession { lock } => {
            drop(g);
            let locked = if lock && run.store_lock.is_none() {
                logged_lock(|| s.store.lock(&s.key)).map(|l| run.store_lock = Some(l))
            } else {
                Ok(())
            };
            let loaded = locked.and_then(|()| s.store.load(&s.key));
            g = inner.lock();
            g.session_loaded(inner.now(), loaded.map_err(AdapterError::from));
        }
        Effect::StoreSession(session) => {
            drop(g);
            let saved = s.store.save(&s.key, &session);
            g = inner.lock();
            g.session_stored(saved.map_err(AdapterError::from));
        }
        Effect::ClearSession => {
            drop(g);
            let deleted = s.store.delete(&s.key);
            g = inner.lock();
            g.session_cleared(deleted.map_err(AdapterError::from));
        }
        Effect::WaitForUser { deadline } => g = wait_for_user(inner, g, deadline, run),
        Effect::CallbackRejected(e) => {
            eprintln!("mcp-oauth: ignored an authorization response ({e}); still waiting");
        }
        Effect::Warning(w) => eprintln!("mcp-oauth: warning: {w}"),
        _ => {} // an effect added to the core later: nothing this adapter knows to do
    }
    g
}

/// Blocks (mutex released) until the callback, a pasted line, the opener's answer, the
/// deadline or a cancellation, and reports what came.
fn wait_for_user<'a>(
    inner: &'a Inner,
    mut g: Guard<'a>,
    deadline: Option<mcp_oauth_core::Deadline>,
    run: &mut Run,
) -> Guard<'a> {
    let Some((_, rx)) = &run.wake else {
        // No listener: nothing could deliver a callback.
        let error = std::io::Error::other("the authorization flow stalled (no listener)");
        g.abort_drive(
            inner.now(),
            mcp_oauth_core::coordinator::Failure::Adapter(AdapterError::Io(error)),
        );
        return g;
    };
    drop(g);
    let event = match deadline {
        Some(d) => {
            let left = d.at.saturating_sub(inner.start().elapsed());
            rx.recv_timeout(left.max(Duration::from_millis(1)))
                .map_err(|e| e == mpsc::RecvTimeoutError::Timeout)
        }
        None => rx.recv().map_err(|_| false),
    };
    g = inner.lock();
    let now = inner.now();
    match event {
        Ok(Wake::Callback(query) | Wake::Paste(query)) => g.callback(now, query),
        Ok(Wake::Browser(outcome)) => on_browser(inner, &mut g, outcome, run),
        Ok(Wake::Cancel) => {} // the coordinator holds the request; the next effect acts on it
        Err(true) => g.user_timeout(now),
        Err(false) => {
            let error = std::io::Error::other("the authorization flow stalled (no waker)");
            g.abort_drive(
                now,
                mcp_oauth_core::coordinator::Failure::Adapter(AdapterError::Io(error)),
            );
        }
    }
    g
}

/// Arms the listener with the expected `state` and runs the opener on a helper thread, so the
/// listener, the paste fallback and the deadline keep working while it blocks.
fn open_browser(inner: &Inner, g: &mut Guard<'_>, request: BrowserRequest, run: &mut Run) {
    if let Some(listener) = &run.listener {
        listener.expect_state(request.state.clone());
    }
    let Some((tx, _)) = &run.wake else {
        return; // no listener: the wait reports the stall
    };
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

/// The browser/paste race: a redirect the opener saw is the callback; an opener that could not
/// open anything turns on the paste fallback.
fn on_browser(inner: &Inner, g: &mut Guard<'_>, outcome: BrowserOutcome, run: &mut Run) {
    if run.wake.is_none() {
        return; // a late answer for a browser step that already ended
    }
    match outcome {
        BrowserOutcome::Opened => {}
        BrowserOutcome::Redirected(url) => g.callback(inner.now(), url),
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

/// Takes the store lock, with a diagnostics event when it is asked for and when it is obtained
/// (another process refreshing the same session holds it: ARCHITECTURE.md §6).
fn logged_lock<T, E>(lock: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    tracing::debug!("waiting for the session store lock");
    let asked = std::time::Instant::now();
    let result = lock();
    let waited_ms = u64::try_from(asked.elapsed().as_millis()).unwrap_or(u64::MAX);
    tracing::debug!(waited_ms, obtained = result.is_ok(), "session store lock");
    result
}

/// Stops the listener and the paste subscription; `cancel` has nothing to wake any more.
pub(crate) fn close_browser_step(inner: &Inner, run: &mut Run) {
    run.paste = None;
    if let Some(listener) = run.listener.take() {
        listener.stop();
    }
    run.wake = None;
    *inner.waker.lock().unwrap_or_else(PoisonError::into_inner) = None;
}
