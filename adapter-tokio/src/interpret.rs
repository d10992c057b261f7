//! Carrying out one core [`Output`] (adapter design, "Output handling"): the only place that
//! maps an effect to IO and the IO's result back to an [`Input`]. No OAuth decision is made
//! here: statuses and bodies go back to the core untouched.

use std::sync::Arc;

use mcp_oauth_blocking::store::{SessionStore, StoreError};
use mcp_oauth_core::{Event, Input, Output, Step};

use crate::driver::{DriveCtx, Failure, Shared};
use crate::loopback::LoopbackListener;
use crate::AdapterError;

impl Shared {
    /// Carries out one output; returns the input that reports its result, if any.
    pub(crate) async fn perform(
        &self,
        output: Output,
        ctx: &mut DriveCtx,
    ) -> Result<Option<Input>, Failure> {
        match output {
            Output::Fetch { id, step, request } => {
                *self.lock().counts.entry(step).or_insert(0) += 1;
                if !matches!(step, Step::Refresh | Step::Revocation) {
                    ctx.login_attempted = true;
                }
                Ok(Some(match self.http.send(&request).await {
                    Ok(response) => Input::HttpResponse { id, response },
                    Err(error) => Input::HttpFailed { id, error },
                }))
            }
            Output::ListenLoopback { preferred_port } => {
                ctx.login_attempted = true;
                Ok(Some(
                    match LoopbackListener::bind_for(self.redirect_port, preferred_port).await {
                        Ok(listener) => {
                            let redirect_uri = listener.redirect_uri().to_owned();
                            ctx.browser_step.listener = Some(listener);
                            Input::LoopbackReady { redirect_uri }
                        }
                        Err(e) => Input::LoopbackFailed {
                            error: e.to_string(),
                        },
                    },
                ))
            }
            Output::OpenBrowser(request) => {
                ctx.browser_step.open(Arc::clone(&self.browser), request);
                Ok(None)
            }
            Output::CloseLoopback => {
                ctx.browser_step.close().await;
                Ok(None)
            }
            Output::LoadSession => {
                if ctx.store_lock.is_none() {
                    let lock = self.blocking_store(|s, k| s.lock(k)).await?;
                    ctx.store_lock = Some(lock);
                }
                let loaded = self.blocking_store(|s, k| s.load(k)).await?;
                self.lock().persisted = loaded.clone();
                Ok(Some(Input::SessionLoaded(loaded)))
            }
            Output::StoreSession(session) => {
                let copy = session.clone();
                self.blocking_store(move |s, k| s.save(k, &copy)).await?;
                self.lock().persisted = Some(session);
                Ok(None)
            }
            Output::ClearSession => {
                self.blocking_store(|s, k| s.delete(k)).await?;
                self.lock().persisted = None;
                Ok(None)
            }
            Output::Event(event) => {
                match event {
                    Event::Status(status) => {
                        self.status.send_replace(status);
                    }
                    Event::Failed(e) => {
                        ctx.failure.get_or_insert(e);
                    }
                    Event::CallbackRejected(e) => {
                        eprintln!("mcp-oauth: ignored an authorization response: {e}");
                    }
                    _ => {}
                }
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    /// Runs a store call on the blocking pool (keychains block on D-Bus or the OS).
    pub(crate) async fn blocking_store<T: Send + 'static>(
        &self,
        call: impl FnOnce(&dyn SessionStore, &str) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, Failure> {
        let (store, key) = (Arc::clone(&self.store), self.key.clone());
        match tokio::task::spawn_blocking(move || call(&*store, &key)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(Failure::adapter(AdapterError::Store(e))),
            Err(join) => Err(Failure::adapter(AdapterError::Io(std::io::Error::other(
                format!("session store task failed: {join}"),
            )))),
        }
    }
}
