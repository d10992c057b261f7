//! Token-endpoint answers from bad servers and bad days: the HTTP status decides whether an
//! error is definitive, `expires_in` never fails a login, DPoP-bound tokens need a proof, and
//! tokens have a size cap.

use super::*;
use crate::error::Fault;
use proptest::prelude::*;
use serde_json::json;

fn refresh_answer(resp: &HttpResponse) -> Result<TokenResponse, Error> {
    parse_token_response(resp, Step::Refresh)
}

fn with_expires_in(v: serde_json::Value) -> TokenResponse {
    let resp = HttpResponse::json(
        200,
        &json!({"access_token": "a", "token_type": "Bearer", "expires_in": v}),
    );
    parse_token_response(&resp, Step::TokenExchange).expect("expires_in never fails an answer")
}

#[test]
fn a_5xx_or_429_is_transient_whatever_its_body_says() {
    let bodies = [
        json!({"error": "temporarily_unavailable"}),
        json!({"error": "invalid_grant", "error_description": "from a failing backend"}),
        json!({"error": "invalid_client"}),
        json!({"message": "upstream timed out"}),
    ];
    for status in [500u16, 502, 503, 504, 429] {
        for body in &bodies {
            let err = refresh_answer(&HttpResponse::json(status, body)).unwrap_err();
            assert_eq!(
                err,
                Error::HttpStatus {
                    step: Step::Refresh,
                    status
                },
                "{status} {body}"
            );
            assert!(err.is_transient(), "{status} {body}");
            assert_eq!(err.fault(), Fault::Transport);
            assert_eq!(err.oauth_code(), None, "a 5xx/429 code is never definitive");
        }
        // No body, an HTML error page, garbage bytes.
        let mut page = HttpResponse::status(status).with_header("Content-Type", "text/html");
        page.body = b"<html>Service Unavailable</html>".to_vec();
        for resp in [HttpResponse::status(status), page] {
            let err = refresh_answer(&resp).unwrap_err();
            assert!(err.is_transient(), "{status}");
        }
    }
    let text = Error::HttpStatus {
        step: Step::Refresh,
        status: 503,
    }
    .to_string();
    assert_eq!(
        text,
        "Refresh: the server is unavailable for now (HTTP 503); try again later"
    );
}

#[test]
fn a_4xx_oauth_error_stays_definitive() {
    for (status, code) in [
        (400u16, "invalid_grant"),
        (401, "invalid_client"),
        (403, "invalid_grant"), // Auth0 answers a revoked refresh token with 403
    ] {
        let err = refresh_answer(&HttpResponse::json(status, &json!({"error": code}))).unwrap_err();
        assert_eq!(err.oauth_code(), Some(code), "{status}");
        assert!(!err.is_transient());
        assert_eq!(err.fault(), Fault::ServerRefused);
    }
    // A bare 400 or 404 is a protocol failure, not a transient one.
    for status in [400u16, 404] {
        let err = refresh_answer(&HttpResponse::status(status)).unwrap_err();
        assert!(!err.is_transient(), "{status}");
    }
}

#[test]
fn garbage_success_bodies_are_errors_without_a_code() {
    let mut r = HttpResponse::status(200);
    r.body = b"\xff\xfe<html>".to_vec();
    let err = refresh_answer(&r).unwrap_err();
    assert_eq!(err.oauth_code(), None);
    let mut big = HttpResponse::status(200);
    big.body = vec![b' '; MAX_RESPONSE_BYTES + 1];
    let err = refresh_answer(&big).unwrap_err();
    assert_eq!(
        err,
        Error::ResponseTooLarge {
            step: Step::Refresh
        }
    );
    assert!(
        err.is_transient(),
        "an over-size answer is treated like a size-capped read"
    );
}

#[test]
fn unusable_expires_in_is_unknown_or_capped_with_a_warning() {
    for v in [
        json!(0),
        json!(-3600),
        json!(-1),
        json!(0.5),
        json!(-0.5),
        json!("3600abc"),
        json!(""),
        json!("-5"),
        json!("NaN"),
        json!("inf"),
        json!(true),
        json!([1]),
        json!({"s": 1}),
    ] {
        let t = with_expires_in(v.clone());
        assert_eq!(t.expires_in, None, "{v}");
        assert_eq!(t.warnings.len(), 1, "{v}");
        let Warning::ExpiresIn { step, detail } = &t.warnings[0] else {
            panic!("{v}: {:?}", t.warnings);
        };
        assert_eq!(*step, Step::TokenExchange);
        assert!(
            detail.ends_with("the token lifetime is treated as unknown"),
            "{detail}"
        );
    }
    for v in [
        json!(1e30),
        json!(u64::MAX),
        json!("99999999999999999999999"),
        json!(MAX_EXPIRES_IN_SECS + 1),
    ] {
        let t = with_expires_in(v.clone());
        assert_eq!(t.expires_in, Some(MAX_EXPIRES_IN_SECS), "{v}");
        assert_eq!(t.warnings.len(), 1, "{v}");
        assert!(t.warnings[0].to_string().contains("capped"), "{v}");
    }
    let t = with_expires_in(json!(MAX_EXPIRES_IN_SECS));
    assert_eq!(
        (t.expires_in, t.warnings.len()),
        (Some(MAX_EXPIRES_IN_SECS), 0)
    );
    assert_eq!(
        with_expires_in(json!(0)).warnings[0].to_string(),
        "TokenExchange: expires_in is zero; the token lifetime is treated as unknown"
    );
}

#[test]
fn tokens_longer_than_16_kib_are_refused() {
    let at = |len: usize| "a".repeat(len);
    let answer = |access: String, refresh: Option<String>| {
        let mut doc = json!({"access_token": access, "token_type": "Bearer"});
        if let Some(r) = refresh {
            doc["refresh_token"] = json!(r);
        }
        parse_token_response(&HttpResponse::json(200, &doc), Step::TokenExchange)
    };
    assert!(answer(at(MAX_TOKEN_BYTES), Some(at(MAX_TOKEN_BYTES))).is_ok());
    let err = answer(at(200 * 1024), None).unwrap_err();
    assert_eq!(
        err,
        Error::InvalidToken(
            "access_token is 204800 bytes long, more than the 16 KiB this client accepts".into()
        )
    );
    assert!(!err.is_transient());
    let err = answer(at(10), Some(at(MAX_TOKEN_BYTES + 1))).unwrap_err();
    assert_eq!(
        err,
        Error::InvalidToken(
            "refresh_token is 16385 bytes long, more than the 16 KiB this client accepts".into()
        )
    );
    // The message names the field and the size, never the token.
    assert!(!err.to_string().contains("aaaa"));
}

#[test]
fn a_dpop_token_needs_a_proof() {
    let answer = |token_type: &str| {
        parse_token_response(
            &HttpResponse::json(200, &json!({"access_token": "a", "token_type": token_type})),
            Step::Refresh,
        )
        .expect("parses")
    };
    let dpop = answer("DPoP");
    assert_eq!(
        dpop.check_binding(Step::Refresh, false),
        Err(Error::UnrequestedDpopToken {
            step: Step::Refresh
        })
    );
    assert_eq!(dpop.check_binding(Step::Refresh, true), Ok(()));
    // A Bearer answer to a request with a proof: the AS does not do DPoP (RFC 9449 §5).
    assert_eq!(answer("Bearer").check_binding(Step::Refresh, true), Ok(()));
    assert_eq!(answer("Bearer").check_binding(Step::Refresh, false), Ok(()));
    let text = Error::UnrequestedDpopToken {
        step: Step::TokenExchange,
    }
    .to_string();
    assert!(text.contains("no DPoP proof"), "{text}");
}

#[test]
fn discovery_errors_name_the_url_and_the_cause() {
    let url = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp";
    let named = |step: Step, cause: Error| Error::Discovery {
        step,
        url: url.into(),
        cause: Box::new(cause),
    };
    let rm = Step::ResourceMetadata;
    let unavailable = named(
        rm,
        Error::HttpStatus {
            step: rm,
            status: 503,
        },
    );
    assert_eq!(
        unavailable.to_string(),
        format!(
            "the protected-resource metadata at {url} answered HTTP 503 (unavailable for now; \
             try again later)"
        )
    );
    assert!(unavailable.is_transient());
    let transport = named(
        Step::ServerMetadata,
        Error::Transport {
            step: Step::ServerMetadata,
            kind: crate::http::TransportErrorKind::Connect,
            message: "connection refused".into(),
        },
    );
    assert_eq!(
        transport.to_string(),
        format!(
            "the authorization-server metadata at {url} could not be fetched: connection refused"
        )
    );
    assert!(transport.is_transient());
    let big = named(rm, Error::ResponseTooLarge { step: rm });
    assert_eq!(
        big.to_string(),
        format!("the protected-resource metadata at {url} is larger than 256 KiB")
    );
    assert!(big.is_transient());
    let garbage = named(
        rm,
        Error::Malformed {
            step: rm,
            detail: "expected a JSON object".into(),
        },
    );
    assert!(garbage
        .to_string()
        .ends_with("is malformed: expected a JSON object"));
    assert!(!garbage.is_transient());
    let forbidden = named(
        rm,
        Error::HttpStatus {
            step: rm,
            status: 403,
        },
    );
    assert!(forbidden.to_string().ends_with("answered HTTP 403"));
    assert!(!forbidden.is_transient());
}

proptest! {
    /// Whatever `expires_in` holds, the answer parses and the lifetime is unknown or within
    /// 1 s ..= 365 days; anything not taken as sent comes with exactly one warning.
    #[test]
    fn expires_in_is_always_a_sane_lifetime(
        number in proptest::num::f64::ANY,
        integer in any::<i64>(),
        text in "[ -~]{0,24}",
    ) {
        let number = serde_json::Number::from_f64(number).map_or(json!(null), |n| json!(n));
        for v in [number, json!(integer), json!(text)] {
            let t = with_expires_in(v.clone());
            if let Some(e) = t.expires_in {
                prop_assert!((1..=MAX_EXPIRES_IN_SECS).contains(&e), "{v}");
            }
            prop_assert!(t.warnings.len() <= 1, "{v}");
        }
    }
}
