//! The secret values a flow handled, collected after the fact from every place they pass: the
//! stored session, the testbed's request log, the browser's redirects and, through
//! [`Recording`], every request and response on the client's wire (the testbed does not log
//! `DPoP` proofs or response bodies).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mcp_oauth_blocking::HttpClient;
use mcp_oauth_core::{HttpRequest, HttpResponse, Session};
use serde_json::Value;

/// Shorter values are not searched for: they could occur by chance ("200", a port).
const MIN_LEN: usize = 8;

/// Form and query parameters that carry secrets (RFC 6749 §4.1.2, §4.1.3, §6; RFC 7636 §4;
/// RFC 7009 §2.1; RFC 7523 §2.1; RFC 8693 §2.1), plus `state` and the PKCE challenge of the
/// authorization URL.
const SECRET_PARAMS: [&str; 10] = [
    "code",
    "code_verifier",
    "code_challenge",
    "state",
    "refresh_token",
    "client_secret",
    "client_assertion",
    "token",
    "assertion",
    "subject_token",
];

/// JSON members that carry secrets (token responses, RFC 7591 registration responses, the
/// stored session).
const SECRET_MEMBERS: [&str; 5] = [
    "access_token",
    "refresh_token",
    "client_secret",
    "id_token",
    "dpop_key",
];

/// Everything secret seen so far, by kind (for the report) and value.
#[derive(Debug, Default)]
pub struct Secrets(BTreeSet<(&'static str, String)>);

impl Secrets {
    /// Adds `value` as a secret of `kind` (ignored when too short to search for).
    pub fn add(&mut self, kind: &'static str, value: &str) {
        if value.len() >= MIN_LEN {
            self.0.insert((kind, value.to_owned()));
        }
    }

    /// How many secrets of `kind` were collected.
    pub fn count(&self, kind: &str) -> usize {
        self.0.iter().filter(|(k, _)| *k == kind).count()
    }

    /// Every `(kind, value)`.
    pub fn iter(&self) -> impl Iterator<Item = &(&'static str, String)> {
        self.0.iter()
    }

    /// The tokens, client secret and DPoP key of a session.
    pub fn note_session(&mut self, session: &Session) {
        let json = serde_json::to_value(session).expect("a session serialises");
        self.note_json(&json);
    }

    /// Every secret member anywhere in `json`.
    pub fn note_json(&mut self, json: &Value) {
        match json {
            Value::Object(map) => {
                for (k, v) in map {
                    match (SECRET_MEMBERS.iter().find(|m| *m == k), v) {
                        (Some(kind), Value::String(s)) => self.add(kind, s),
                        _ => self.note_json(v),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| self.note_json(v)),
            _ => {}
        }
    }

    /// Secret parameters of a form body or query string.
    pub fn note_pairs(&mut self, pairs: &[(String, String)]) {
        for (k, v) in pairs {
            if let Some(kind) = SECRET_PARAMS.iter().find(|p| *p == k) {
                self.add(kind, v);
            }
        }
    }

    /// The secret parameters of a URL's query (authorization URLs, callbacks).
    pub fn note_url(&mut self, url: &str) {
        if let Ok(u) = url::Url::parse(url) {
            let pairs: Vec<(String, String)> = u.query_pairs().into_owned().collect();
            self.note_pairs(&pairs);
        }
    }

    /// An `Authorization` or `DPoP` header value: whole, and each of its space- or dot-separated
    /// parts (the credential after the scheme; a proof's signature).
    pub fn note_header(&mut self, kind: &'static str, value: &str) {
        self.add(kind, value);
        for part in value.split([' ', '.']) {
            self.add(kind, part);
        }
    }
}

/// An [`HttpClient`] that notes the secrets of every request and response passing through.
pub struct Recording {
    inner: Arc<dyn HttpClient>,
    seen: Arc<Mutex<Secrets>>,
}

impl Recording {
    /// Wraps `inner`, noting secrets into `seen`.
    pub fn new(inner: Arc<dyn HttpClient>, seen: Arc<Mutex<Secrets>>) -> Self {
        Self { inner, seen }
    }

    fn note(
        &self,
        req: &HttpRequest,
        result: &Result<HttpResponse, mcp_oauth_core::TransportError>,
    ) {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.note_url(&req.url);
        seen.note_pairs(&req.form_pairs());
        for (name, value) in &req.headers {
            if name.eq_ignore_ascii_case("authorization") {
                seen.note_header("authorization header", value);
            } else if name.eq_ignore_ascii_case("dpop") {
                seen.note_header("DPoP proof", value);
            }
        }
        if let Ok(json) = serde_json::from_slice::<Value>(&req.body) {
            seen.note_json(&json);
        }
        if let Ok(response) = result {
            if let Ok(json) = serde_json::from_slice::<Value>(&response.body) {
                seen.note_json(&json);
            }
        }
    }
}

impl HttpClient for Recording {
    fn send(&self, req: &HttpRequest) -> Result<HttpResponse, mcp_oauth_core::TransportError> {
        let result = self.inner.send(req);
        self.note(req, &result);
        result
    }

    fn send_within(
        &self,
        req: &HttpRequest,
        timeout: Duration,
    ) -> Result<HttpResponse, mcp_oauth_core::TransportError> {
        let result = self.inner.send_within(req, timeout);
        self.note(req, &result);
        result
    }
}
