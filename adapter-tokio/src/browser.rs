//! The browser effect: show the authorization URL to the user (ARCHITECTURE.md §5).
//!
//! Opening a browser is best effort: headless machines, SSH sessions and containers have none,
//! so the built-in openers always print the URL first, and "could not open" is never fatal
//! (ARCHITECTURE.md §5). [`FnBrowser`] lets hosts and tests supply their own
//! opener; the conformance client's "browser" GETs the URL without following redirects and
//! returns the `Location` as [`BrowserOutcome::Redirected`].

use mcp_oauth_core::BrowserRequest;

use crate::http::BoxFuture;
use mcp_oauth_store::launch::{launch, print_url};
pub use mcp_oauth_store::BrowserOutcome;

/// Opens the authorization URL somewhere the user can act on it.
///
/// The future runs concurrently with the loopback listener, so an opener may take as long as
/// it needs (even drive a whole headless browser) without delaying a callback.
pub trait Browser: Send + Sync {
    /// Opens `request.url`; `request.state` is the `state` the callback must carry.
    fn open<'a>(&'a self, request: &'a BrowserRequest) -> BoxFuture<'a, BrowserOutcome>;
}

/// The system browser, without a shell: the program named by `$BROWSER` when set (the URL as
/// its only argument), else the `open` crate (`xdg-open`/`gio` and friends, `open` on macOS,
/// the Windows handler, PowerShell on WSL). Prints the URL first. Same rules as the blocking
/// adapter's `SystemBrowser`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemBrowser;

impl Browser for SystemBrowser {
    fn open<'a>(&'a self, request: &'a BrowserRequest) -> BoxFuture<'a, BrowserOutcome> {
        Box::pin(async move {
            print_url(&request.url);
            let url = request.url.clone();
            // The launcher is a blocking process spawn (it may wait for `xdg-open`).
            match tokio::task::spawn_blocking(move || launch(&url)).await {
                Ok(outcome) => outcome,
                Err(e) => BrowserOutcome::Unavailable(one_line(&e.to_string())),
            }
        })
    }
}

/// Never opens anything: the URL is printed and the user pastes the redirect URL (headless
/// machines, SSH sessions).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoBrowser;

impl Browser for NoBrowser {
    fn open<'a>(&'a self, request: &'a BrowserRequest) -> BoxFuture<'a, BrowserOutcome> {
        Box::pin(async move {
            print_url(&request.url);
            BrowserOutcome::Unavailable("no browser configured".into())
        })
    }
}

/// A closure-based opener for hosts and tests. The closure receives the request and returns a
/// `'static` future (clone what it needs from the request).
///
/// ```
/// use mcp_oauth_core::BrowserRequest;
/// use mcp_oauth_tokio::{BrowserOutcome, FnBrowser};
///
/// // A test "browser" that would GET the URL and return the redirect's Location.
/// let browser = FnBrowser(|req: &BrowserRequest| {
///     let url = req.url.clone();
///     async move { BrowserOutcome::Redirected(format!("{url}#pretend-location")) }
/// });
/// # let _ = browser;
/// ```
#[derive(Clone)]
pub struct FnBrowser<F>(pub F);

impl<F> std::fmt::Debug for FnBrowser<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FnBrowser(..)")
    }
}

impl<F, Fut> Browser for FnBrowser<F>
where
    F: Fn(&BrowserRequest) -> Fut + Send + Sync,
    Fut: std::future::Future<Output = BrowserOutcome> + Send + 'static,
{
    fn open<'a>(&'a self, request: &'a BrowserRequest) -> BoxFuture<'a, BrowserOutcome> {
        Box::pin((self.0)(request))
    }
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
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

    #[tokio::test]
    async fn no_browser_is_unavailable() {
        let out = NoBrowser
            .open(&request("https://as.example/authorize?x=1"))
            .await;
        assert_eq!(
            out,
            BrowserOutcome::Unavailable("no browser configured".into())
        );
    }

    #[tokio::test]
    async fn system_browser_refuses_non_http_urls() {
        let out = SystemBrowser.open(&request("file:///etc/passwd")).await;
        assert_eq!(
            out,
            BrowserOutcome::Unavailable("not an http(s) URL".into())
        );
    }

    #[tokio::test]
    async fn fn_browser_gets_the_request() {
        let b = FnBrowser(|req: &BrowserRequest| {
            let ok = req.state.matches("s");
            let url = req.url.clone();
            async move {
                assert!(ok);
                BrowserOutcome::Redirected(format!("{url}&seen=1"))
            }
        });
        let out = b.open(&request("https://as.example/a?q=1")).await;
        assert_eq!(
            out,
            BrowserOutcome::Redirected("https://as.example/a?q=1&seen=1".into())
        );
    }

    #[test]
    fn debug_hides_redirect_query() {
        let d = format!(
            "{:?}",
            BrowserOutcome::Redirected("http://127.0.0.1:1/callback?code=SECRET".into())
        );
        assert!(!d.contains("SECRET"), "{d}");
        assert!(d.contains("[redacted]"));
    }
}
