//! A headless "user with a browser" for the demo and the tests: GET the authorization URL
//! without following redirects (the demo authorization server approves at once with a 302, as
//! the conformance suite's servers do), read the `Location`, then GET it on
//! the adapter's real loopback listener, exactly as a browser delivers the callback.
//!
//! It only ever sends two GETs, and the second only to a loopback `http` URL: pointed at a real
//! authorization server it would just see a login page (200) and report that.

use std::sync::Arc;
use std::time::Duration;

use mcp_oauth_blocking::{Browser, BrowserOutcome, FnBrowser, HttpClient, UreqClient};
use mcp_oauth_core::{BrowserRequest, HttpRequest, Method};
use mcp_oauth_testbed::headless::{authorization_get, redirect_location};

use crate::exit::one_line;

/// Browses `authorization_url` to the loopback callback; `Ok(location)` once the listener
/// answered 200.
pub fn browse(authorization_url: &str) -> Result<String, String> {
    let http = UreqClient::new(Duration::from_secs(5), Duration::from_secs(15));
    let at_as = http
        .send(&authorization_get(authorization_url))
        .map_err(|e| e.message)?;
    let location = redirect_location(authorization_url, &at_as)?;
    if !is_loopback_http(&location) {
        return Err("the authorization server did not redirect to a loopback http URL".into());
    }
    let callback = HttpRequest {
        method: Method::Get,
        url: location.clone(),
        headers: vec![("Accept".into(), "text/html".into())],
        body: Vec::new(),
    };
    let at_listener = http.send(&callback).map_err(|e| e.message)?;
    if at_listener.status != 200 {
        return Err(format!(
            "the loopback listener answered HTTP {}",
            at_listener.status
        ));
    }
    Ok(location)
}

/// `http://127.0.0.1`, `http://[::1]` or `http://localhost` (RFC 8252 §7.3 redirect targets).
pub fn is_loopback_http(url: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    if parsed.scheme() != "http" {
        return false;
    }
    match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// The headless browser as an adapter [`Browser`]: `Opened` once the callback was delivered
/// to the listener (which completes the login), `Unavailable` with the reason otherwise.
pub fn browser() -> Arc<dyn Browser> {
    Arc::new(FnBrowser(|request: &BrowserRequest| {
        match browse(&request.url) {
            Ok(_) => BrowserOutcome::Opened,
            Err(e) => BrowserOutcome::Unavailable(format!("headless browser: {}", one_line(&e))),
        }
    }))
}

/// `mcp-oauth __headless-browser <url>` (what tests put in `$BROWSER`): exit 0 when the callback
/// was delivered, 1 with a one-line reason on stderr otherwise.
pub fn run(url: &str) -> i32 {
    match browse(url) {
        Ok(_) => crate::exit::OK,
        Err(e) => {
            eprintln!(
                "mcp-oauth __headless-browser: {}",
                crate::term::field(&one_line(&e))
            );
            crate::exit::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_http_redirects_are_followed() {
        assert!(is_loopback_http("http://127.0.0.1:4000/callback?code=c"));
        assert!(is_loopback_http("http://[::1]:4000/callback"));
        assert!(is_loopback_http("http://LOCALHOST:4000/callback"));
        assert!(!is_loopback_http("https://127.0.0.1:4000/callback"));
        assert!(!is_loopback_http("http://evil.example/callback"));
        assert!(!is_loopback_http("http://127.0.0.1.evil.example/"));
        assert!(!is_loopback_http("not a url"));
    }

    #[test]
    fn a_refused_connection_is_a_one_line_error() {
        // Port 1 on loopback: nothing listens there in a test environment.
        let e = browse("http://127.0.0.1:1/authorize?x=1").expect_err("no server");
        assert!(!e.contains('\n'), "{e}");
    }
}
