//! The IO of one drive: each [`Effect`] the coordinator hands out, carried out and reported
//! back. No OAuth decision is made here: statuses and bodies go back to the core untouched,
//! and retry or reset rules are the coordinator's.

use std::sync::Arc;

use mcp_oauth_core::coordinator::Effect;
use mcp_oauth_core::{TransportError, TransportErrorKind};
use mcp_oauth_store::{SessionStore, StoreError};

use crate::driver::{DriveCtx, Shared};
use crate::loopback::LoopbackListener;
use crate::wait::UserInput;
use crate::AdapterError;

impl Shared {
    /// Carries out one effect and reports its result to the coordinator.
    pub(crate) async fn perform(&self, effect: Effect, ctx: &mut DriveCtx) {
        match effect {
            Effect::Fetch {
                id,
                request,
                timeout,
                ..
            } => {
                let result = tokio::time::timeout(timeout, self.http.send(&request))
                    .await
                    .unwrap_or_else(|_| {
                        Err(TransportError::new(
                            TransportErrorKind::Timeout,
                            format!(
                                "no answer within {} s (the operation's network budget)",
                                timeout.as_secs_f32().ceil()
                            ),
                        ))
                    });
                self.lock().fetched(self.now(), id, result);
            }
            Effect::Listen { preferred_port } => {
                let result =
                    match LoopbackListener::bind_for(self.redirect_port, preferred_port).await {
                        Ok(listener) => {
                            let redirect_uri = listener.redirect_uri().to_owned();
                            ctx.browser_step.listener = Some(listener);
                            Ok(redirect_uri)
                        }
                        Err(e) => Err(e.to_string()),
                    };
                self.lock().listening(self.now(), result);
            }
            Effect::OpenBrowser(request) => {
                ctx.browser_step.open(Arc::clone(&self.browser), request);
            }
            Effect::CloseLoopback => ctx.browser_step.close().await,
            Effect::LoadSession { lock } => {
                let mut result = Ok(());
                if lock && ctx.store_lock.is_none() {
                    result = logged_lock(self.blocking_store(|s, k| s.lock(k)))
                        .await
                        .map(|l| ctx.store_lock = Some(l));
                }
                let loaded = match result {
                    Ok(()) => self.blocking_store(|s, k| s.load(k)).await,
                    Err(e) => Err(e),
                };
                self.lock().session_loaded(self.now(), loaded);
            }
            Effect::StoreSession(session) => {
                let saved = self.blocking_store(move |s, k| s.save(k, &session)).await;
                self.lock().session_stored(saved);
            }
            Effect::ClearSession => {
                let deleted = self.blocking_store(|s, k| s.delete(k)).await;
                self.lock().session_cleared(deleted);
            }
            Effect::WaitForUser { deadline } => {
                match self.wait_for_authorization(ctx, deadline).await {
                    UserInput::Callback(query) => self.lock().callback(self.now(), query),
                    UserInput::Timeout => self.lock().user_timeout(self.now()),
                    // The coordinator holds the request; the next effect acts on it.
                    UserInput::Cancelled => {}
                }
            }
            Effect::CallbackRejected(e) => {
                eprintln!("mcp-oauth: ignored an authorization response: {e}");
            }
            Effect::Warning(w) => eprintln!("mcp-oauth: warning: {w}"),
            _ => {} // an effect added to the core later: nothing this adapter knows to do
        }
    }

    /// Runs a store call on the blocking pool (keychains block on D-Bus or the OS).
    pub(crate) async fn blocking_store<T: Send + 'static>(
        &self,
        call: impl FnOnce(&dyn SessionStore, &str) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, AdapterError> {
        let (store, key) = (Arc::clone(&self.store), self.key.clone());
        match tokio::task::spawn_blocking(move || call(&*store, &key)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(AdapterError::Store(e)),
            Err(join) => Err(AdapterError::Io(std::io::Error::other(format!(
                "session store task failed: {join}"
            )))),
        }
    }
}

/// Takes the store lock, with a diagnostics event when it is asked for and when it is obtained
/// (another process refreshing the same session holds it: ARCHITECTURE.md §6).
async fn logged_lock<T, E>(lock: impl std::future::Future<Output = Result<T, E>>) -> Result<T, E> {
    tracing::debug!("waiting for the session store lock");
    let asked = std::time::Instant::now();
    let result = lock.await;
    let waited_ms = u64::try_from(asked.elapsed().as_millis()).unwrap_or(u64::MAX);
    tracing::debug!(waited_ms, obtained = result.is_ok(), "session store lock");
    result
}
