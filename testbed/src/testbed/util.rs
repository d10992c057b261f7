//! Small pure helpers the testbed servers share: URL splitting without normalization
//! (ARCHITECTURE.md §8: identifiers stay raw strings), query parsing, PKCE S256, HTTP Basic
//! decoding and canned responses.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use mcp_oauth_core::{HttpRequest, HttpResponse, Method};
use sha2::{Digest, Sha256};

/// A URL cut into raw pieces; nothing is re-serialized, so `http://h:1` stays without `/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UrlParts<'a> {
    /// `scheme://authority`, byte for byte.
    pub origin: &'a str,
    /// The path (`/` when empty).
    pub path: &'a str,
    /// The raw query without `?` (`""` when absent).
    pub query: &'a str,
}

/// Splits an absolute URL; `None` when it has no `scheme://authority`. The fragment is dropped.
pub(crate) fn split_url(url: &str) -> Option<UrlParts<'_>> {
    let url = url.split_once('#').map_or(url, |(u, _)| u);
    let host_start = url.find("://")? + 3;
    let rest = url.get(host_start..)?;
    let origin_end = rest.find(['/', '?']).map_or(url.len(), |i| host_start + i);
    if origin_end == host_start {
        return None;
    }
    let origin = url.get(..origin_end)?;
    let tail = url.get(origin_end..)?;
    let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
    Some(UrlParts {
        origin,
        path: if path.is_empty() { "/" } else { path },
        query,
    })
}

/// Decodes an `application/x-www-form-urlencoded` string (a query or a form body).
pub(crate) fn parse_query(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The first value of `name` in decoded pairs.
pub(crate) fn first<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `BASE64URL(SHA256(verifier))` (RFC 7636 §4.2).
pub(crate) fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// RFC 7636 §4.1: 43 to 128 characters of `[A-Za-z0-9-._~]`.
pub(crate) fn valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// Decodes `Basic base64(urlenc(id):urlenc(secret))` (RFC 6749 §2.3.1). `None` when the scheme
/// is not Basic or the value is malformed.
pub(crate) fn decode_basic(header: &str) -> Option<(String, String)> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = STANDARD.decode(rest.trim()).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((percent_decode(id)?, percent_decode(secret)?))
}

/// Form-style percent decoding (`+` is a space); `None` on a bad escape or invalid UTF-8.
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
    }
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = hex(bytes.next()?)?;
                let lo = hex(bytes.next()?)?;
                out.push((hi << 4) | lo);
            }
            _ => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}

/// The token of an `Authorization: <scheme> <token>` header when the scheme is accepted.
pub(crate) fn auth_token<'a>(header: &'a str, schemes: &[&str]) -> Option<&'a str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (schemes.iter().any(|s| s.eq_ignore_ascii_case(scheme)) && !token.is_empty()).then_some(token)
}

/// Whether a header listing media types (`Accept`, `Content-Type`) names `media`.
pub(crate) fn has_media(header: Option<&str>, media: &str) -> bool {
    header.is_some_and(|h| {
        h.split(',').any(|part| {
            part.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case(media))
        })
    })
}

/// Whether the request body is form-encoded.
pub(crate) fn is_form(req: &HttpRequest) -> bool {
    has_media(
        req.header("content-type"),
        "application/x-www-form-urlencoded",
    )
}

/// Whether the request body is JSON.
pub(crate) fn is_json(req: &HttpRequest) -> bool {
    has_media(req.header("content-type"), "application/json")
}

/// An RFC 6749 §5.2 error body, never cached.
pub(crate) fn oauth_error(status: u16, error: &str, description: &str) -> HttpResponse {
    HttpResponse::json(
        status,
        &serde_json::json!({ "error": error, "error_description": description }),
    )
    .with_header("Cache-Control", "no-store")
}

/// A JSON 404 for unknown paths and unserved metadata.
pub(crate) fn not_found() -> HttpResponse {
    HttpResponse::json(
        404,
        &serde_json::json!({ "error": "not_found", "error_description": "Not Found" }),
    )
}

/// 405 with the allowed method.
pub(crate) fn method_not_allowed(allow: Method) -> HttpResponse {
    HttpResponse::status(405).with_header("Allow", allow.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_without_normalizing() {
        let p = split_url("http://127.0.0.1:1/a/b?x=1#frag").unwrap();
        assert_eq!(
            (p.origin, p.path, p.query),
            ("http://127.0.0.1:1", "/a/b", "x=1")
        );
        let p = split_url("http://localhost:9").unwrap();
        assert_eq!((p.origin, p.path, p.query), ("http://localhost:9", "/", ""));
        let p = split_url("http://h?q").unwrap();
        assert_eq!((p.origin, p.path, p.query), ("http://h", "/", "q"));
        assert!(split_url("no-scheme/path").is_none());
        assert!(split_url("http:///path").is_none());
    }

    #[test]
    fn pkce_appendix_b_vector() {
        let v = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(s256(v), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert!(valid_verifier(v));
        assert!(!valid_verifier("short"));
        assert!(!valid_verifier(&"a+".repeat(30)));
    }

    #[test]
    fn basic_decoding() {
        let h = format!("Basic {}", STANDARD.encode("my%3Aid:s+e%25c"));
        assert_eq!(
            decode_basic(&h),
            Some(("my:id".to_string(), "s e%c".to_string()))
        );
        assert_eq!(decode_basic("basic !!!"), None);
        assert_eq!(decode_basic("Bearer abc"), None);
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%C3%A9"), Some("é".to_string()));
    }

    #[test]
    fn media_and_tokens() {
        assert!(has_media(
            Some("application/json, text/event-stream;q=0.9"),
            "text/event-stream"
        ));
        assert!(!has_media(Some("application/jsonx"), "application/json"));
        assert!(!has_media(None, "application/json"));
        assert_eq!(auth_token("bearer  tok ", &["Bearer"]), Some("tok"));
        assert_eq!(auth_token("DPoP tok", &["Bearer"]), None);
        assert_eq!(auth_token("Bearer", &["Bearer"]), None);
    }
}
