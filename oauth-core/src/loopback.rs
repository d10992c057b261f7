//! The loopback callback listener's HTTP logic, shared by both adapters (RFC 8252 §7.3, §8.3).
//!
//! Adapters own the socket: they read bytes until [`head_progress`] says the request head is
//! complete (or too large, or [`HEAD_READ_TIMEOUT`] passes), ask [`route`] what the request is,
//! write [`response`] and close. Only a `GET` of the exact callback path with the right `state`
//! completes the flow; favicon requests, probes, TLS handshakes and forged callbacks get an error
//! page and the listener keeps waiting (RFC 8252 §8.3). Pages never echo the request, so nothing
//! from the URL can be reflected into HTML. Which connections to keep when too many are open is
//! [`ConnectionTable`]'s decision.
//!
//! Public on purpose, though no embedder calls it: the listeners of `mcp-oauth-tokio` and
//! `mcp-oauth-blocking` are thin socket loops around these functions (one set of rules for both,
//! fuzzed once in `fuzz/`), and an adapter for another runtime reuses them the same way.

use std::time::Duration;

use crate::callback::parse_callback;
use crate::secret::StateToken;

#[path = "loopback_slots.rs"]
mod slots;
pub use slots::{Admission, ConnectionId, ConnectionTable, Phase, MAX_CONNECTIONS};

/// The largest request head accepted, terminator included. A browser's callback GET is far
/// smaller; a bigger head is an attack or a mistake and gets `431`.
pub const MAX_HEAD_BYTES: usize = 8192;

/// How long an adapter waits for one connection's request head before dropping it, so an idle
/// connection (a browser's speculative preconnect, a port scanner) does not hold its slot for
/// long; many of them at once are handled by [`ConnectionTable`] evicting the oldest.
pub const HEAD_READ_TIMEOUT: Duration = Duration::from_secs(3);

/// Whether the bytes read so far hold a whole request head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadProgress {
    /// No terminator yet: read more.
    Incomplete,
    /// The head is `buf[..head_len]`, terminator included.
    Complete {
        /// Length of the head in bytes.
        head_len: usize,
    },
    /// [`MAX_HEAD_BYTES`] read without a terminator: answer `431` ([`Route::HeadTooLarge`]).
    TooLarge,
}

/// Looks for the end of the request head: `\r\n\r\n`, or a bare `\n\n` (RFC 9112 §2.2 lets a
/// recipient accept a lone LF as a line terminator).
///
/// Only the first [`MAX_HEAD_BYTES`] bytes are searched, so an adapter never needs a bigger
/// buffer: once it holds that many bytes the answer is `Complete` or `TooLarge`.
pub fn head_progress(buf: &[u8]) -> HeadProgress {
    let window = buf.get(..MAX_HEAD_BYTES).unwrap_or(buf);
    let crlf = find(window, b"\r\n\r\n").map(|i| i + 4);
    let lf = find(window, b"\n\n").map(|i| i + 2);
    let end = match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    match end {
        Some(head_len) => HeadProgress::Complete { head_len },
        None if buf.len() >= MAX_HEAD_BYTES => HeadProgress::TooLarge,
        None => HeadProgress::Incomplete,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// What the listener does with one request.
#[derive(Clone, PartialEq, Eq)]
pub enum Route {
    /// The callback, with the right `state`: answer 200, feed `query` to the machine
    /// (`Input::Callback`) and stop listening. An authorization *error* response with the right
    /// `state` lands here too; the machine judges it.
    Callback {
        /// The raw query string (without `?`), as sent.
        query: String,
    },
    /// The callback path, but `state` missing or wrong or a parameter repeated: a forged or stale
    /// response (RFC 6749 §10.12). Answer 400 and keep listening.
    WrongState,
    /// Another path (`/favicon.ico`, probes): 404.
    NotFound,
    /// The callback path with a method other than `GET`: 405.
    MethodNotAllowed,
    /// Not an HTTP/1.x request (TLS handshake, binary, malformed request line): 400.
    BadRequest,
    /// [`head_progress`] said [`HeadProgress::TooLarge`]: 431.
    HeadTooLarge,
}

impl std::fmt::Debug for Route {
    /// The callback query carries the code and `state`, so `Debug` hides it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Route::Callback { .. } => f.write_str("Callback { query: [redacted] }"),
            Route::WrongState => f.write_str("WrongState"),
            Route::NotFound => f.write_str("NotFound"),
            Route::MethodNotAllowed => f.write_str("MethodNotAllowed"),
            Route::BadRequest => f.write_str("BadRequest"),
            Route::HeadTooLarge => f.write_str("HeadTooLarge"),
        }
    }
}

/// Decides what a complete request head (`buf[..head_len]` from [`head_progress`]) is.
///
/// Parses the request line `METHOD SP request-target SP HTTP/1.x` (RFC 9112 §3); the path is
/// compared byte for byte with `callback_path` before the method is looked at, so any request
/// elsewhere is `NotFound`. Headers are not needed and not read.
pub fn route(head: &[u8], callback_path: &str, expected_state: &StateToken) -> Route {
    let Ok(text) = std::str::from_utf8(head) else {
        return Route::BadRequest;
    };
    let line = text.split('\n').next().unwrap_or_default();
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Route::BadRequest;
    };
    // RFC 9110 §9.1: a method is a case-sensitive token.
    let method_ok = !method.is_empty()
        && method
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    let version_ok = matches!(version, "HTTP/1.0" | "HTTP/1.1");
    let target_ok = !target.is_empty() && target.bytes().all(|b| b.is_ascii_graphic());
    if !method_ok || !version_ok || !target_ok {
        return Route::BadRequest;
    }
    let Some(target) = origin_form(target) else {
        return Route::BadRequest;
    };
    let target = target.split('#').next().unwrap_or_default();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path != callback_path {
        return Route::NotFound;
    }
    if method != "GET" {
        return Route::MethodNotAllowed;
    }
    match parse_callback(query) {
        Ok(p)
            if p.state
                .as_deref()
                .is_some_and(|s| expected_state.matches(s)) =>
        {
            Route::Callback {
                query: query.to_owned(),
            }
        }
        _ => Route::WrongState,
    }
}

/// The origin-form part (`/path?query`) of a request target. Absolute-form
/// (`http://127.0.0.1:5555/callback?..`) must be accepted by servers (RFC 9112 §3.2.2), so its
/// path is taken; `*` and authority-form are not valid here.
fn origin_form(target: &str) -> Option<&str> {
    if target.starts_with('/') {
        return Some(target);
    }
    let lower = target.get(..7).map(str::to_ascii_lowercase);
    if lower.as_deref() != Some("http://") {
        return None;
    }
    let rest = target.get(7..)?;
    match rest.find(['/', '?']) {
        Some(i) if rest.get(i..)?.starts_with('/') => rest.get(i..),
        _ => None,
    }
}

/// Whether the bytes so far can still start an HTTP/1.x request: the request line (up to the
/// first LF) must be printable ASCII, spaces and a trailing CR only (RFC 9112 §3). Listeners use
/// it to drop TLS handshakes and binary garbage early, before the head is complete.
pub fn could_be_http(buf: &[u8]) -> bool {
    let line_end = buf.iter().position(|&b| b == b'\n').unwrap_or(buf.len());
    let line = buf.get(..line_end).unwrap_or(buf);
    line.iter()
        .enumerate()
        .all(|(i, &b)| (0x20..0x7f).contains(&b) || (b == b'\r' && i + 1 == line_end))
}

/// [`route`] for a listener that may not know the expected `state` yet (it starts before the
/// authorization request exists): requests are still classified, but no callback is accepted
/// until the state is known.
pub fn route_pending(
    head: &[u8],
    callback_path: &str,
    expected_state: Option<&StateToken>,
) -> Route {
    match expected_state {
        Some(token) => route(head, callback_path, token),
        None => match route(head, callback_path, &StateToken::new("")) {
            Route::Callback { .. } => Route::WrongState,
            other => other,
        },
    }
}

/// The full HTTP/1.1 response for a route: a fixed page (never echoing input), with headers that
/// stop caching, sniffing, framing and referrer leaks of the callback URL, and `Connection:
/// close` because each connection serves one request.
pub fn response(route: &Route) -> Vec<u8> {
    let (status, title, message) = match route {
        Route::Callback { .. } => (
            "200 OK",
            "Authorization received",
            "Authorization received. You can close this window.",
        ),
        Route::WrongState => (
            "400 Bad Request",
            "Authorization response rejected",
            "This authorization response was not expected (state missing or wrong). \
             Return to the application and try again.",
        ),
        Route::BadRequest => ("400 Bad Request", "Bad request", "Bad request."),
        Route::NotFound => ("404 Not Found", "Not found", "Not found."),
        Route::MethodNotAllowed => (
            "405 Method Not Allowed",
            "Method not allowed",
            "Method not allowed.",
        ),
        Route::HeadTooLarge => (
            "431 Request Header Fields Too Large",
            "Request too large",
            "Request header fields too large.",
        ),
    };
    let body = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><p>{message}</p></body></html>\n"
    );
    let allow = if matches!(route, Route::MethodNotAllowed) {
        "Allow: GET\r\n"
    } else {
        ""
    };
    format!(
        "HTTP/1.1 {status}\r\n\
         Content-Type: text/html; charset=utf-8\r\n\
         Content-Length: {len}\r\n\
         {allow}\
         Connection: close\r\n\
         Cache-Control: no-store\r\n\
         X-Content-Type-Options: nosniff\r\n\
         Content-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\n\
         Referrer-Policy: no-referrer\r\n\
         \r\n\
         {body}",
        len = body.len(),
    )
    .into_bytes()
}

/// The path the listener must serve for `redirect_uri` (e.g. `/callback` for
/// `http://127.0.0.1:5555/callback`), as a browser will request it: the WHATWG path rules the
/// browser applies to the redirect (`/` for an empty path, dot segments resolved, see
/// [`crate::uri::Uri::request_path`]). `None` if `redirect_uri` is not an absolute
/// `http`/`https` URL with a host.
pub fn callback_path(redirect_uri: &str) -> Option<String> {
    let url = crate::uri::parse(redirect_uri).ok()?;
    url.is_http().then(|| url.request_path())
}

#[cfg(test)]
#[path = "loopback_tests.rs"]
mod tests;
