//! Token endpoint responses: `token::parse_token_response` for both grants, with the
//! response's own content type and with JSON and form forced (RFC 6749 §5.1).

use mcp_oauth_core::token::{error_from_response, parse_token_response};
use mcp_oauth_core::{AccessToken, HttpResponse, RefreshToken, Step};

/// Bytes 0-1 choose status and content type; the rest is the body. The body is then also
/// parsed as a 200 with JSON and with form content type.
pub fn run(data: &[u8]) {
    let own = crate::response_from(data);
    let forced = |ct: &str| HttpResponse {
        status: 200,
        headers: vec![("Content-Type".into(), ct.into())],
        body: own.body.clone(),
    };
    for resp in [
        own.clone(),
        forced("application/json"),
        forced("application/x-www-form-urlencoded"),
    ] {
        for step in [Step::TokenExchange, Step::Refresh] {
            check(&resp, step);
        }
    }
}

fn check(resp: &HttpResponse, step: Step) {
    match parse_token_response(resp, step) {
        Ok(t) => {
            assert_eq!(resp.status, 200);
            let at = t.access_token.expose_secret();
            // It goes verbatim into the Authorization header: visible ASCII only.
            assert!(!at.is_empty() && at.bytes().all(|b| (0x21..=0x7e).contains(&b)));
            if let Some(rt) = &t.refresh_token {
                assert!(!rt.expose_secret().is_empty());
            }
            let mut blank = t.clone();
            blank.access_token = AccessToken::new("x");
            blank.refresh_token = t.refresh_token.as_ref().map(|_| RefreshToken::new("y"));
            assert_eq!(format!("{t:?}"), format!("{blank:?}"), "token in Debug");
            let set = t.clone().into_token_set(u64::MAX - 5, None);
            let header = set.authorization_header();
            assert!(header.expose_secret().ends_with(at));
            assert!(!crate::has_control(header.expose_secret()));
        }
        Err(e) => {
            assert!(
                !crate::has_control(&e.to_string()),
                "unsanitised error text"
            );
        }
    }
    let e = error_from_response(resp, step);
    assert!(!crate::has_control(&e.to_string()));
}
