//! The browser effect: show the authorization URL to the user (ARCHITECTURE.md §5).
//!
//! Opening a browser is best effort: headless machines, SSH sessions and containers have none,
//! so the built-in openers always print the URL first, and "could not open" is never fatal
//! (ARCHITECTURE.md §5). [`FnBrowser`] lets hosts and tests supply their own
//! opener; the conformance client's "browser" GETs the URL without following redirects and
//! returns the `Location` as [`BrowserOutcome::Redirected`].
//!
//! The adapter calls [`Browser::open`] on a helper thread while the loopback listener and the
//! authorization deadline keep running, so an opener may block (even drive a whole headless
//! browser that ends up hitting the loopback callback) without delaying anything.

use mcp_oauth_core::BrowserRequest;

pub use crate::launch::BrowserOutcome;
use crate::launch::{launch, print_url};

/// Opens the authorization URL somewhere the user can act on it.
///
/// Called on a helper thread; may block as long as it needs.
pub trait Browser: Send + Sync {
    /// Opens `request.url`; `request.state` is the `state` the callback must carry.
    fn open(&self, request: &BrowserRequest) -> BrowserOutcome;
}

/// The system browser, without a shell: the program named by `$BROWSER` when set (the URL as
/// its only argument), else the `open` crate (`xdg-open`/`gio` and friends, `open` on macOS,
/// the Windows handler, PowerShell on WSL). Prints the URL first.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemBrowser;

impl Browser for SystemBrowser {
    fn open(&self, request: &BrowserRequest) -> BrowserOutcome {
        print_url(&request.url);
        launch(&request.url)
    }
}

/// Never opens anything: the URL is printed and the user pastes the redirect URL (headless
/// machines, SSH sessions).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoBrowser;

impl Browser for NoBrowser {
    fn open(&self, request: &BrowserRequest) -> BrowserOutcome {
        print_url(&request.url);
        BrowserOutcome::Unavailable("no browser configured".into())
    }
}

/// A closure-based opener for hosts and tests. Nothing is printed: the closure decides.
///
/// ```
/// use mcp_oauth_blocking::{Browser, BrowserOutcome, FnBrowser};
/// use mcp_oauth_core::{BrowserRequest, StateToken};
///
/// // A test "browser" that would GET the URL and return the redirect's Location.
/// let browser = FnBrowser(|req: &BrowserRequest| {
///     BrowserOutcome::Redirected(format!("http://127.0.0.1:1/callback?code=c&state=s&seen={}", req.url.len()))
/// });
/// let req = BrowserRequest { url: "https://as.example/a".into(), state: StateToken::new("s") };
/// assert!(matches!(browser.open(&req), BrowserOutcome::Redirected(_)));
/// ```
#[derive(Clone)]
pub struct FnBrowser<F>(pub F);

impl<F> std::fmt::Debug for FnBrowser<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FnBrowser(..)")
    }
}

impl<F> Browser for FnBrowser<F>
where
    F: Fn(&BrowserRequest) -> BrowserOutcome + Send + Sync,
{
    fn open(&self, request: &BrowserRequest) -> BrowserOutcome {
        (self.0)(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_oauth_core::StateToken;

    fn request(url: &str) -> BrowserRequest {
        BrowserRequest {
            url: url.into(),
            state: StateToken::new("s"),
        }
    }

    #[test]
    fn no_browser_is_unavailable() {
        let out = NoBrowser.open(&request("https://as.example/authorize?x=1"));
        assert_eq!(
            out,
            BrowserOutcome::Unavailable("no browser configured".into())
        );
    }

    #[test]
    fn system_browser_refuses_non_http_urls() {
        let out = SystemBrowser.open(&request("file:///etc/passwd"));
        assert_eq!(
            out,
            BrowserOutcome::Unavailable("not an http(s) URL".into())
        );
    }

    #[test]
    fn fn_browser_gets_the_request() {
        let b = FnBrowser(|req: &BrowserRequest| {
            assert!(req.state.matches("s"));
            BrowserOutcome::Redirected(format!("{}&seen=1", req.url))
        });
        assert_eq!(
            b.open(&request("https://as.example/a?q=1")),
            BrowserOutcome::Redirected("https://as.example/a?q=1&seen=1".into())
        );
        assert_eq!(format!("{b:?}"), "FnBrowser(..)");
    }

    #[test]
    fn debug_hides_redirect_query() {
        let d = format!(
            "{:?}",
            BrowserOutcome::Redirected("http://127.0.0.1:1/callback?code=SECRET".into())
        );
        assert!(!d.contains("SECRET"), "{d}");
        assert_eq!(d, "Redirected(\"http://127.0.0.1:1/callback?[redacted]\")");
    }
}
