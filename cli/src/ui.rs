//! What the user sees on stderr while a command runs: progress lines and a spinner while the
//! browser step waits (only when stderr is a terminal, so piped and captured output stays
//! clean), and `-v` step logging. Stdout is reserved for data (tokens, JSON).
//!
//! The [`Authorizer`] blocks its caller, so [`Ui::run`] runs the operation on a scoped thread
//! and watches [`Authorizer::status`] from this one.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mcp_oauth_blocking::{Authorizer, Browser, BrowserOutcome};
use mcp_oauth_core::{AuthStatus, BrowserRequest};

use crate::exit::CliError;
use crate::term;

/// How often the status is polled (often enough for `-v` to see short phases).
const TICK: Duration = Duration::from_millis(20);
/// The spinner advances every this many ticks.
const TICKS_PER_FRAME: usize = 4;
/// How long the browser wait lasts before the spinner shows.
const SPIN_AFTER: Duration = Duration::from_millis(300);
const SPINNER: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/// Output settings for one command.
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    /// `-v` count: step logging on stderr when > 0.
    pub verbose: u8,
    /// stderr is a terminal: progress lines and the spinner are shown.
    pub tty: bool,
}

impl Ui {
    /// Reads the terminal state of stderr.
    pub fn new(verbose: u8) -> Self {
        Self {
            verbose,
            tty: std::io::stderr().is_terminal(),
        }
    }

    /// A progress line (terminal only).
    pub fn progress(&self, message: &str) {
        if self.tty {
            term::note(message);
        }
    }

    /// A `-v` log line.
    pub fn verbose(&self, message: &str) {
        if self.verbose > 0 {
            term::note(&format!("mcp-oauth: {message}"));
        }
    }

    /// Runs `op` (which drives `auth`) on a helper thread; meanwhile logs status changes with
    /// `-v` and, on a terminal, spins while the browser step is awaited. `browser` tells
    /// whether a browser may be open: when it could not open, the user may be typing a pasted
    /// URL, which a spinner would garble. The spinner starts [`SPIN_AFTER`] into the wait, so
    /// the "Open this URL" line is printed first.
    pub fn run<R: Send>(
        &self,
        auth: &Authorizer,
        browser: Option<&BrowserState>,
        op: impl FnOnce() -> R + Send,
    ) -> R {
        std::thread::scope(|scope| {
            let handle = scope.spawn(op);
            let mut last: Option<AuthStatus> = None;
            let mut frame = 0usize;
            let mut spinning = false;
            let mut waiting_since: Option<Instant> = None;
            while !handle.is_finished() {
                let status = auth.status();
                if last.as_ref() != Some(&status) {
                    self.verbose(&format!("status: {}", describe(&status)));
                    last = Some(status.clone());
                }
                let waiting = matches!(status, AuthStatus::WaitingForBrowser { .. })
                    && browser.is_some_and(BrowserState::may_be_open);
                if !waiting {
                    waiting_since = None;
                } else if waiting_since.is_none() {
                    waiting_since = Some(Instant::now());
                }
                let spin = waiting_since.is_some_and(|t| t.elapsed() >= SPIN_AFTER);
                if self.tty && spin {
                    let host = match &status {
                        AuthStatus::WaitingForBrowser {
                            server_host: Some(h),
                        } => format!(" (authorize at {})", term::field(h)),
                        _ => String::new(),
                    };
                    if frame.is_multiple_of(TICKS_PER_FRAME) {
                        let glyph = SPINNER
                            .get(frame / TICKS_PER_FRAME % SPINNER.len())
                            .copied()
                            .unwrap_or('-');
                        eprint!("\r\x1b[2K{glyph} Waiting for the browser{host}…");
                        let _ = std::io::stderr().flush();
                    }
                    frame = frame.wrapping_add(1);
                    spinning = true;
                } else if spinning {
                    clear_line();
                    spinning = false;
                }
                std::thread::sleep(TICK);
            }
            if spinning {
                clear_line();
            }
            match handle.join() {
                Ok(r) => r,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }
}

/// Writes `text` and a newline to stdout, every terminal control in it escaped
/// ([`term::text`]; JSON stays valid JSON). A closed pipe (`mcp-oauth status | head -1`) or a
/// full disk is an error with exit code 1, never a panic as with `println!`.
pub fn print_line(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", term::text(text))
        .and_then(|()| out.flush())
        .map_err(|e| CliError::failure(format!("cannot write to stdout: {e}")))
}

fn clear_line() {
    eprint!("\r\x1b[2K");
    let _ = std::io::stderr().flush();
}

/// A status as a short phrase for logs.
pub fn describe(status: &AuthStatus) -> String {
    match status {
        AuthStatus::AuthorizationRequired { .. } => "login required".into(),
        AuthStatus::Working => "talking to the authorization server".into(),
        AuthStatus::WaitingForBrowser {
            server_host: Some(h),
        } => format!("waiting for the browser ({})", term::field(h)),
        AuthStatus::WaitingForBrowser { server_host: None } => "waiting for the browser".into(),
        AuthStatus::Authorized => "authorized".into(),
        AuthStatus::Failed { reason } => format!("failed: {}", term::field(reason)),
        other => format!("{other:?}"),
    }
}

/// Whether the wrapped browser opened (shared with [`TrackedBrowser`]).
#[derive(Debug, Clone, Default)]
pub struct BrowserState(Arc<AtomicU8>);

const PENDING: u8 = 0;
const OPENED: u8 = 1;
const NOT_OPENED: u8 = 2;

impl BrowserState {
    /// False once the browser reported it could not open (the paste prompt may follow). An
    /// opener still running counts as open: `$BROWSER` programs and some `xdg-open` setups
    /// return only when the browser exits.
    pub fn may_be_open(&self) -> bool {
        self.0.load(Ordering::SeqCst) != NOT_OPENED
    }
}

/// Wraps a [`Browser`] to record whether it opened (for the spinner).
pub struct TrackedBrowser {
    /// The real opener.
    pub inner: Arc<dyn Browser>,
    /// Where the outcome is recorded.
    pub state: BrowserState,
}

impl Browser for TrackedBrowser {
    fn open(&self, request: &BrowserRequest) -> BrowserOutcome {
        self.state.0.store(PENDING, Ordering::SeqCst);
        let outcome = self.inner.open(request);
        let opened = matches!(outcome, BrowserOutcome::Opened);
        self.state
            .0
            .store(if opened { OPENED } else { NOT_OPENED }, Ordering::SeqCst);
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_oauth_blocking::FnBrowser;
    use mcp_oauth_core::StateToken;

    #[test]
    fn tracked_browser_records_the_outcome() {
        let state = BrowserState::default();
        let request = BrowserRequest {
            url: "https://as.example/authorize".into(),
            state: StateToken::new("s"),
        };
        let opens = TrackedBrowser {
            inner: Arc::new(FnBrowser(|_: &BrowserRequest| BrowserOutcome::Opened)),
            state: state.clone(),
        };
        assert!(state.may_be_open(), "not asked yet");
        assert_eq!(opens.open(&request), BrowserOutcome::Opened);
        assert!(state.may_be_open());
        let fails = TrackedBrowser {
            inner: Arc::new(FnBrowser(|_: &BrowserRequest| {
                BrowserOutcome::Unavailable("none".into())
            })),
            state: state.clone(),
        };
        assert_eq!(
            fails.open(&request),
            BrowserOutcome::Unavailable("none".into())
        );
        assert!(!state.may_be_open());
    }

    #[test]
    fn statuses_read_as_phrases() {
        assert_eq!(describe(&AuthStatus::Authorized), "authorized");
        assert_eq!(
            describe(&AuthStatus::WaitingForBrowser {
                server_host: Some("as.example".into())
            }),
            "waiting for the browser (as.example)"
        );
        assert_eq!(
            describe(&AuthStatus::Failed {
                reason: "denied".into()
            }),
            "failed: denied"
        );
    }
}
