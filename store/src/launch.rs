//! The parts of the browser effect both adapters share (ARCHITECTURE.md §5): what an opener
//! reports, the line printed before any built-in opener runs, and the system launcher. Both
//! adapters re-export [`BrowserOutcome`]; the blocking adapter runs [`launch`] on a helper
//! thread, the tokio adapter on a blocking task.
//!
//! ```
//! use mcp_oauth_store::launch::launch;
//! use mcp_oauth_store::BrowserOutcome;
//!
//! // Only http(s) URLs ever reach a launcher.
//! assert_eq!(
//!     launch("file:///etc/passwd"),
//!     BrowserOutcome::Unavailable("not an http(s) URL".into())
//! );
//! ```

/// What happened when the browser was asked to open the authorization URL.
#[derive(Clone, PartialEq, Eq)]
pub enum BrowserOutcome {
    /// A browser was launched; wait for the loopback callback.
    Opened,
    /// No browser could be launched (the reason is shown to the user); when pasting is enabled
    /// the user can paste the redirect URL on stdin.
    Unavailable(String),
    /// The opener already has the final redirect URL (e.g. the `Location` of the authorization
    /// server's 302): it is fed to the core as the callback directly.
    Redirected(String),
}

impl std::fmt::Debug for BrowserOutcome {
    /// The redirect URL carries the authorization code and `state`, so its query is hidden.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BrowserOutcome::Opened => f.write_str("Opened"),
            BrowserOutcome::Unavailable(why) => f.debug_tuple("Unavailable").field(why).finish(),
            BrowserOutcome::Redirected(url) => f
                .debug_tuple("Redirected")
                .field(&mcp_oauth_core::http::redact_query(url))
                .finish(),
        }
    }
}

/// The line printed before a built-in opener runs, so the user can always open the URL by hand.
pub fn print_url(url: &str) {
    eprintln!("Open this URL to authorize: {url}");
}

/// Launches the system browser without a shell: the program named by `$BROWSER` when set (the
/// URL as its only argument), else the `open` crate (`xdg-open`/`gio` and friends, `open` on
/// macOS, the Windows handler, PowerShell on WSL). Blocks until the launcher returns.
pub fn launch(url: &str) -> BrowserOutcome {
    // The core's URL policy already allows only http(s); check again before handing the
    // string to a launcher, which would also accept `file:` or app schemes.
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return BrowserOutcome::Unavailable("not an http(s) URL".into());
    }
    // `open` only honours $BROWSER through xdg-open, which minimal systems lack; test setups
    // and headless users point $BROWSER at a script, so run it directly.
    let env_browser = std::env::var("BROWSER")
        .ok()
        .and_then(|b| b.split(':').next().map(str::trim).map(str::to_owned))
        .filter(|b| !b.is_empty() && !b.contains("%s"));
    let result = match env_browser {
        Some(program) => open::with(url, program),
        None => open::that(url),
    };
    match result {
        Ok(()) => BrowserOutcome::Opened,
        Err(e) => BrowserOutcome::Unavailable(one_line(&e.to_string())),
    }
}

/// Control characters replaced, so a launcher's message stays one line.
pub(crate) fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}
