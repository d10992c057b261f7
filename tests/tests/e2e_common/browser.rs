//! The user's browser, scripted over raw HTTP/1.1 on std TCP: it GETs the authorization URL
//! without following the redirect, then GETs the `Location` on the adapter's loopback listener.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// One response read off the wire.
#[derive(Debug)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// Header fields, in order.
    pub headers: Vec<(String, String)>,
    /// The body (everything after the head; the request asked for `Connection: close`).
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// `GET url` with `Connection: close` on a fresh TCP connection, redirects not followed.
pub fn raw_get(url: &str) -> Result<RawResponse, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("bad URL: {e}"))?;
    if parsed.scheme() != "http" || parsed.host_str() != Some("127.0.0.1") {
        return Err(format!(
            "not a loopback http URL: {}",
            parsed.origin().ascii_serialization()
        ));
    }
    let port = parsed.port().ok_or("URL without a port")?;
    let target = match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_string(),
    };
    let mut stream =
        TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let head = format!(
        "GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/html\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(head.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(|e| format!("read: {e}"))?;
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Result<RawResponse, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no complete response head")?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| "head is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Ok(RawResponse {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    })
}

// ------------------------------------------------------------------------------------------
// The scripted browser
// ------------------------------------------------------------------------------------------

/// What a real user's browser does, scripted: GET the authorization URL (the testbed's AS
/// approves at once with a 302), then follow the `Location` to the adapter's loopback listener
/// with a real HTTP GET. Records every redirect it followed, and every failure.
///
/// The adapter may finish its login as soon as the listener has routed the callback, before
/// this browser has read the listener's page, so everything a test asserts on is recorded
/// *before* the callback is delivered.
#[derive(Clone, Default)]
pub struct ScriptedBrowser {
    opened: Arc<Mutex<usize>>,
    locations: Arc<Mutex<Vec<String>>>,
    failures: Arc<Mutex<Vec<String>>>,
}

impl ScriptedBrowser {
    /// A browser that has not been opened yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Browses `authorization_url` to the end; `true` when the loopback listener accepted the
    /// callback (answered 200). Failures are recorded (see [`Self::failures`]).
    pub fn browse(&self, authorization_url: &str) -> bool {
        *lock(&self.opened) += 1;
        let delivered = follow(authorization_url, |location| {
            lock(&self.locations).push(location.to_string());
        });
        match delivered {
            Ok(()) => true,
            Err(e) => {
                eprintln!("scripted browser failed: {e}");
                lock(&self.failures).push(e);
                false
            }
        }
    }

    /// How many times the adapter opened the browser.
    pub fn opened(&self) -> usize {
        *lock(&self.opened)
    }

    /// The redirect URLs (with code, state, iss) it took to the loopback listener.
    pub fn locations(&self) -> Vec<String> {
        lock(&self.locations).clone()
    }

    /// Why any browse failed (should be empty).
    pub fn failures(&self) -> Vec<String> {
        lock(&self.failures).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// GET the authorization URL without following the redirect, check the 302 points at the
/// loopback listener's `/callback` with `code`, `state` and `iss`, hand the `Location` to
/// `seen`, then GET it.
fn follow(authorization_url: &str, seen: impl FnOnce(&str)) -> Result<(), String> {
    let at_as = raw_get(authorization_url)?;
    if at_as.status != 302 {
        return Err(format!("authorization endpoint answered {}", at_as.status));
    }
    let location = at_as
        .header("location")
        .ok_or("302 without Location")?
        .to_string();
    let target = url::Url::parse(&location).map_err(|e| format!("bad Location: {e}"))?;
    let names: Vec<String> = target.query_pairs().map(|(k, _)| k.into_owned()).collect();
    if target.path() != "/callback"
        || !["code", "state", "iss"]
            .iter()
            .all(|n| names.iter().any(|k| k == n))
    {
        return Err(format!(
            "unexpected redirect to {} with {names:?}",
            target.path()
        ));
    }
    seen(&location);
    let at_listener = raw_get(&location)?;
    if at_listener.status != 200 {
        return Err(format!("loopback listener answered {}", at_listener.status));
    }
    Ok(())
}
