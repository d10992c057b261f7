//! Fuzz target bodies for `mcp-oauth-core` (ARCHITECTURE.md §10: fuzz targets for every parser
//! and for the machine fed arbitrary input sequences).
//!
//! Each module has `run(&[u8])`, called by the libFuzzer binary of the same name in
//! `fuzz_targets/`. Keeping the bodies in a library lets `cargo test` (stable, no libFuzzer)
//! replay the checked-in regression inputs and a few seeds through exactly the same code.
//!
//! Every body asserts the parser's documented contract on top of "does not panic": a crash
//! is either a panic inside the core or a broken promise, and both are bugs to report.

pub mod callback_query;
pub mod callback_request_line;
pub mod dcr_response;
pub mod machine;
mod machine_docs;
mod machine_gen;
pub mod resource_metadata;
pub mod server_metadata;
pub mod token_response;
pub mod www_authenticate;

use mcp_oauth_core::HttpResponse;

/// The input as text: lossy, so every byte string reaches the parser.
pub(crate) fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// Status codes a real server sends in OAuth flows (success, redirects the adapter does not
/// follow, client and server errors).
pub(crate) const STATUSES: &[u16] = &[200, 201, 204, 301, 302, 307, 400, 401, 403, 404, 500, 503];

/// `Content-Type` values the token/registration readers must tell apart.
pub(crate) const CONTENT_TYPES: &[Option<&str>] = &[
    Some("application/json"),
    Some("application/x-www-form-urlencoded"),
    None,
    Some("application/json; charset=utf-8"),
    Some("Application/X-WWW-Form-Urlencoded ; charset=utf-8"),
    Some("text/html"),
];

/// Splits `data` into (status, content type, body) using its first two bytes, so the fuzzer
/// reaches every status/content-type branch of the response readers.
pub(crate) fn response_from(data: &[u8]) -> HttpResponse {
    let (head, body) = data.split_at(data.len().min(2));
    let status = match head.first() {
        Some(&b) if usize::from(b) < STATUSES.len() * 16 => {
            STATUSES[usize::from(b) % STATUSES.len()]
        }
        Some(&b) => u16::from(b) * 3,
        None => 200,
    };
    let ct = head
        .get(1)
        .map(|&b| CONTENT_TYPES[usize::from(b) % CONTENT_TYPES.len()])
        .unwrap_or(Some("application/json"));
    HttpResponse {
        status,
        headers: ct
            .map(|c| vec![("Content-Type".to_string(), c.to_string())])
            .unwrap_or_default(),
        body: body.to_vec(),
    }
}

/// True when `s` holds a control character (error texts must be sanitised, ARCHITECTURE.md §7).
pub(crate) fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

#[cfg(test)]
mod tests;
