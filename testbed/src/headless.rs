//! A headless "browser" for authorization endpoints that approve without a user (the
//! testbed's consent, the conformance harness's mock AS): one GET of the authorization URL,
//! never following the redirect, whose `Location` is handed to the library's callback path.
//! Used by the `mcp-oauth demo` command, the conformance client and the flow benchmark.

use mcp_oauth_core::{HttpRequest, HttpResponse};

/// The browser step of the conformance harness (ARCHITECTURE.md §10): the authorization endpoint
/// answers the GET with a 302 whose `Location` is the redirect URI carrying `code`, `state` and
/// `iss`. Returns that URL (resolved against `authorization_url` when relative), never following
/// it: nothing listens on the redirect URI's port in every setup, and the library's callback
/// path checks `state` and `iss` itself.
pub fn redirect_location(authorization_url: &str, resp: &HttpResponse) -> Result<String, String> {
    if !(300..400).contains(&resp.status) {
        return Err(format!(
            "authorization endpoint answered HTTP {} instead of a redirect",
            resp.status
        ));
    }
    let location = resp
        .header("location")
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| format!("HTTP {} redirect without a Location", resp.status))?;
    let base = url::Url::parse(authorization_url)
        .map_err(|e| format!("authorization URL does not parse: {e}"))?;
    // An absolute Location is returned verbatim (no re-serialization); only a relative one
    // needs the base.
    if url::Url::parse(location).is_ok() {
        return Ok(location.to_owned());
    }
    base.join(location)
        .map(String::from)
        .map_err(|e| format!("Location does not resolve: {e}"))
}

/// The GET the "browser" sends: no `Accept: application/json`, as a browser would.
pub fn authorization_get(url: &str) -> HttpRequest {
    HttpRequest {
        method: mcp_oauth_core::Method::Get,
        url: url.to_owned(),
        headers: vec![("Accept".into(), "text/html, */*".into())],
        body: Vec::new(),
    }
}
