//! Tests for `callback`: parsing, the RFC 9207 §2.4 decision table (as MCP 2026-07-28
//! Authorization, "Authorization Response Validation", applies it) and `state`.

use super::*;

const ISSUER: &str = "http://localhost:3000";

fn state() -> StateToken {
    StateToken::new("expected-state")
}

fn validate(input: &str, advertised: bool) -> Result<AuthorizationCode, Error> {
    validate_callback(parse_callback(input)?, &state(), ISSUER, advertised)
}

#[test]
fn parses_raw_query_question_mark_and_full_url() {
    for input in [
        "code=test-auth-code&state=expected-state&iss=http%3A%2F%2Flocalhost%3A3000",
        "?code=test-auth-code&state=expected-state&iss=http%3A%2F%2Flocalhost%3A3000",
        "http://127.0.0.1:1234/callback?code=test-auth-code&state=expected-state&iss=http%3A%2F%2Flocalhost%3A3000#frag",
    ] {
        let p = parse_callback(input).unwrap();
        assert_eq!(p.code.as_ref().map(|c| c.expose_secret()), Some("test-auth-code"));
        assert_eq!(p.state.as_deref(), Some("expected-state"));
        assert_eq!(p.iss.as_deref(), Some(ISSUER));
        assert_eq!(p.error, None);
        let code = validate(input, true).unwrap();
        assert_eq!(code.expose_secret(), "test-auth-code");
    }
}

#[test]
fn fragment_is_dropped_and_unknown_params_ignored() {
    let p = parse_callback("code=a&foo=1&foo=2&state=s#state=other").unwrap();
    assert_eq!(p.state.as_deref(), Some("s"));
    assert_eq!(p.code.unwrap().expose_secret(), "a");
}

#[test]
fn form_decoding() {
    let p = parse_callback("code=a%2Bb+c&state=x%20y&error_description=Access+denied%21").unwrap();
    assert_eq!(p.code.unwrap().expose_secret(), "a+b c");
    assert_eq!(p.state.as_deref(), Some("x y"));
    assert_eq!(p.error_description.as_deref(), Some("Access denied!"));
}

#[test]
fn duplicate_parameters_rejected() {
    for name in [
        "code",
        "state",
        "iss",
        "error",
        "error_description",
        "error_uri",
    ] {
        let input = format!("{name}=a&x=1&{name}=b");
        assert_eq!(
            parse_callback(&input).unwrap_err(),
            Error::DuplicateParameter(name.into()),
            "{input}"
        );
    }
    assert_eq!(
        parse_callback("?state=a&state=b").unwrap_err(),
        Error::DuplicateParameter("state".into())
    );
}

#[test]
fn debug_hides_code_and_state() {
    let p = parse_callback("code=SECRETCODE&state=SECRETSTATE&iss=x").unwrap();
    let d = format!("{p:?}");
    assert!(
        !d.contains("SECRETCODE") && !d.contains("SECRETSTATE"),
        "{d}"
    );
    assert!(
        d.contains("[redacted]") && d.contains("iss: Some(\"x\")"),
        "{d}"
    );
}

#[test]
fn iss_table() {
    // (a) advertised, correct
    assert_eq!(check_iss(true, ISSUER, Some(ISSUER)), Ok(()));
    // (c) advertised, missing
    assert_eq!(check_iss(true, ISSUER, None), Err(Error::IssMismatch));
    // (d) advertised, wrong
    assert_eq!(
        check_iss(true, ISSUER, Some("https://evil.example.com")),
        Err(Error::IssMismatch)
    );
    // not advertised, correct (compare anyway)
    assert_eq!(check_iss(false, ISSUER, Some(ISSUER)), Ok(()));
    // (e) not advertised, wrong
    assert_eq!(
        check_iss(false, ISSUER, Some("https://evil.example.com")),
        Err(Error::IssMismatch)
    );
    // (b) not advertised, missing
    assert_eq!(check_iss(false, ISSUER, None), Ok(()));
}

#[test]
fn iss_no_normalisation() {
    // No trailing-slash, case, default-port or percent-encoding normalisation.
    for wrong in [
        "http://localhost:3000/",
        "HTTP://localhost:3000",
        "http://LOCALHOST:3000",
        "http://localhost:3000:80",
        "http://localhost%3A3000",
        "",
    ] {
        for advertised in [true, false] {
            assert_eq!(
                check_iss(advertised, ISSUER, Some(wrong)),
                Err(Error::IssMismatch)
            );
        }
    }
    assert_eq!(
        validate(
            "code=c&state=expected-state&iss=http%3A%2F%2Flocalhost%3A3000%2F",
            true
        )
        .unwrap_err(),
        Error::IssMismatch
    );
    assert_eq!(
        check_iss(
            true,
            "https://as.example.com",
            Some("https://as.example.com:443")
        ),
        Err(Error::IssMismatch)
    );
}

#[test]
fn iss_compared_after_percent_decoding() {
    // The encoded form decodes to the issuer exactly: accepted.
    let ok = validate(
        "code=c&state=expected-state&iss=http%3a%2f%2flocalhost%3a3000",
        true,
    );
    assert_eq!(ok.unwrap().expose_secret(), "c");
    // Double-encoded stays encoded after one decode: rejected.
    let bad = validate(
        "code=c&state=expected-state&iss=http%253A%252F%252Flocalhost%253A3000",
        false,
    );
    assert_eq!(bad.unwrap_err(), Error::IssMismatch);
}

#[test]
fn iss_table_through_validate() {
    assert!(validate("code=c&state=expected-state", false).is_ok());
    assert_eq!(
        validate("code=c&state=expected-state", true).unwrap_err(),
        Error::IssMismatch
    );
    assert_eq!(
        validate(
            "code=c&state=expected-state&iss=https://evil.example.com",
            false
        )
        .unwrap_err(),
        Error::IssMismatch
    );
}

#[test]
fn wrong_or_missing_state() {
    for input in [
        "code=c&iss=http%3A%2F%2Flocalhost%3A3000",
        "code=c&state=&iss=http%3A%2F%2Flocalhost%3A3000",
        "code=c&state=expected-stat&iss=http%3A%2F%2Flocalhost%3A3000",
        "code=c&state=expected-statf&iss=http%3A%2F%2Flocalhost%3A3000",
        "code=c&state=EXPECTED-STATE&iss=http%3A%2F%2Flocalhost%3A3000",
    ] {
        assert_eq!(
            validate(input, true).unwrap_err(),
            Error::StateMismatch,
            "{input}"
        );
    }
    // State is checked before iss: wrong state and wrong iss gives StateMismatch.
    assert_eq!(
        validate("code=c&state=nope&iss=https://evil", true).unwrap_err(),
        Error::StateMismatch
    );
}

#[test]
fn error_response_with_right_iss_is_oauth_error() {
    let err = validate(
        "error=access_denied&error_description=User+said+no%0D%0AX-Injected%3A+1%1B%5B31m&state=expected-state&iss=http%3A%2F%2Flocalhost%3A3000",
        true,
    )
    .unwrap_err();
    assert_eq!(
        err,
        Error::OAuth {
            step: Step::Authorization,
            code: "access_denied".into(),
            description: Some("User said noX-Injected: 1[31m".into()),
        }
    );
    assert_eq!(
        validate("error=access_denied&state=expected-state", false).unwrap_err(),
        Error::OAuth {
            step: Step::Authorization,
            code: "access_denied".into(),
            description: None
        }
    );
}

#[test]
fn phishing_error_with_wrong_iss_gives_iss_mismatch_only() {
    // On an `iss` mismatch the error is not displayed: a mix-up attacker's error text must never
    // reach the user.
    let input = "error=access_denied&error_description=Call+%2B1-555-PHISH+to+unlock&error_uri=https%3A%2F%2Fevil.example.com&state=expected-state&iss=https%3A%2F%2Fevil.example.com";
    for advertised in [true, false] {
        let err = validate(input, advertised).unwrap_err();
        assert_eq!(err, Error::IssMismatch);
        assert!(!err.to_string().contains("PHISH"));
        assert!(!format!("{err:?}").contains("PHISH"));
    }
    // Advertised but iss missing on an error response: same.
    let err = validate(
        "error=access_denied&error_description=PHISH&state=expected-state",
        true,
    )
    .unwrap_err();
    assert_eq!(err, Error::IssMismatch);
}

#[test]
fn missing_or_empty_code_is_malformed() {
    for input in ["state=expected-state", "code=&state=expected-state"] {
        let err = validate(input, false).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Malformed {
                    step: Step::Authorization,
                    ..
                }
            ),
            "{input}: {err:?}"
        );
    }
}

#[test]
fn garbage_never_panics() {
    for input in [
        "",
        "?",
        "#",
        "?#",
        "%",
        "code=%ZZ&state=%E9",
        "\u{1F600}?\u{1F600}=\u{e9}",
        "&&&==&",
        "a?b?c=d",
    ] {
        let _ = parse_callback(input);
        let _ = validate(input, true);
    }
    let p = parse_callback("a?b?c=d&state=s").unwrap();
    assert_eq!(p.state.as_deref(), Some("s"));
}
