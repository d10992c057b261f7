//! Bad servers and bad days at the token endpoint: only `invalid_grant` / `invalid_client`
//! forget a refresh token; a 5xx, a 429, a timeout or garbage keeps everything, and a
//! still-valid access token keeps being used while the renewal waits. Token answers with an odd
//! `expires_in`, an unrequested DPoP binding or an oversized token.

use super::*;
use mcp_oauth_core::{ClientSecret, HttpResponse, Session, TokenType, Warning};

/// Seconds the stored access token has left: inside the 60 s refresh margin.
const LEFT: u64 = 50;

/// A stored session whose access token has [`LEFT`] seconds to live; the header call started a
/// refresh and its POST is out.
fn refreshing_near_expiry() -> At {
    let session = canned_session(Some(T0.wall + LEFT), Some(REFRESH_TOKEN));
    let mut at = Scenario::new().stored(session).idle();
    assert_eq!(at.header(), "Pending");
    at.answer_load();
    at.expect_fetch(Step::Refresh);
    at
}

/// One way a token endpoint can fail without saying the refresh token is dead.
enum Bad {
    Answer(HttpResponse),
    Transport(TransportErrorKind, &'static str),
}

fn raw(status: u16, content_type: &str, body: &[u8]) -> HttpResponse {
    let mut r = HttpResponse::status(status).with_header("Content-Type", content_type);
    r.body = body.to_vec();
    r
}

fn bad_days() -> Vec<Bad> {
    let mut v = Vec::new();
    for status in [500u16, 502, 503, 504, 429] {
        v.push(Bad::Answer(HttpResponse::status(status)));
        for body in [
            json!({"error": "temporarily_unavailable"}),
            // Definitive codes mean nothing in a 5xx/429: a proxy or a failing backend.
            json!({"error": "invalid_grant"}),
            json!({"error": "invalid_client", "error_description": "db down"}),
        ] {
            v.push(Bad::Answer(HttpResponse::json(status, &body)));
        }
        v.push(Bad::Answer(raw(
            status,
            "text/html",
            b"<h1>Bad Gateway</h1>",
        )));
    }
    // Garbage with a 200, and 4xx codes that do not condemn the refresh token.
    v.push(Bad::Answer(raw(200, "application/json", b"\xff{not json")));
    v.push(Bad::Answer(HttpResponse::json(
        200,
        &json!({"access_token": 5}),
    )));
    v.push(Bad::Answer(HttpResponse::json(
        200,
        &json!({"access_token": "x", "token_type": "MAC"}),
    )));
    v.push(Bad::Answer(HttpResponse::json(
        400,
        &json!({"error": "temporarily_unavailable"}),
    )));
    v.push(Bad::Answer(HttpResponse::json(
        400,
        &json!({"error": "invalid_request"}),
    )));
    v.push(Bad::Transport(
        TransportErrorKind::Timeout,
        "timed out after 30 s",
    ));
    v.push(Bad::Transport(
        TransportErrorKind::TooLarge,
        "response larger than 262144 bytes",
    ));
    v
}

fn answer(at: &mut At, bad: &Bad) -> Vec<Output> {
    match bad {
        Bad::Answer(r) => at.respond(r.clone()),
        Bad::Transport(kind, msg) => at.fail_fetch(*kind, msg),
    }
}

fn tokens_of(s: Option<&Session>) -> Option<(String, Option<String>, Option<u64>)> {
    let t = s?.tokens.as_ref()?;
    Some((
        t.access_token.expose_secret().to_string(),
        t.refresh_token
            .as_ref()
            .map(|r| r.expose_secret().to_string()),
        t.expires_at,
    ))
}

fn original() -> Option<(String, Option<String>, Option<u64>)> {
    Some((
        ACCESS_TOKEN.into(),
        Some(REFRESH_TOKEN.into()),
        Some(T0.wall + LEFT),
    ))
}

fn is_store_effect(o: &Output) -> bool {
    matches!(o, Output::StoreSession(_) | Output::ClearSession)
}

#[test]
fn a_failed_refresh_keeps_both_tokens_and_the_valid_access_token_stays_in_use() {
    for bad in bad_days() {
        let mut at = refreshing_near_expiry();
        let out = answer(&mut at, &bad);
        let what = describe_all(&out);
        assert_eq!(what.len(), 2, "{what:?}");
        assert!(what[0].starts_with("warning RenewalDeferred"), "{what:?}");
        assert_eq!(what[1], status(AuthStatus::Authorized));
        let Some(Output::Event(mcp_oauth_core::Event::Warning(Warning::RenewalDeferred {
            error,
            retry_after_secs,
        }))) = out.first()
        else {
            panic!("{what:?}");
        };
        assert_eq!(error.oauth_code().filter(|c| *c == "invalid_grant"), None);
        assert_eq!(*retry_after_secs, 30);
        // Nothing was stored or deleted; memory and store still hold both tokens.
        assert!(!at.log.iter().any(is_store_effect), "{what:?}");
        assert_eq!(tokens_of(at.machine.session()), original());
        assert_eq!(tokens_of(at.store.as_ref()), original());
        // The still-valid access token is handed out, without another request.
        assert_eq!(at.header(), format!("Bearer {ACCESS_TOKEN}"));
        assert!(at.outputs.is_empty(), "{:?}", describe_all(&at.outputs));
        assert!(!at.machine.is_busy());
    }
}

#[test]
fn the_renewal_is_tried_again_after_the_wait_and_then_succeeds() {
    let mut at = refreshing_near_expiry();
    at.respond_json(503, &json!({"error": "temporarily_unavailable"}));
    at.advance(Duration::from_secs(29));
    assert_eq!(at.header(), format!("Bearer {ACCESS_TOKEN}"));
    at.advance(Duration::from_secs(1));
    assert_eq!(at.header(), "Pending");
    at.answer_load();
    at.expect_fetch(Step::Refresh);
    at.respond_json(
        200,
        &json!({"access_token": "at-2", "token_type": "Bearer", "expires_in": 3600}),
    );
    assert_eq!(at.header(), "Bearer at-2");
    let stored = tokens_of(at.store.as_ref()).expect("stored");
    assert_eq!(
        (stored.0.as_str(), stored.1.as_deref()),
        ("at-2", Some(REFRESH_TOKEN))
    );
}

#[test]
fn retry_after_sets_the_wait_within_bounds_and_expiry_ends_it() {
    for (value, wait) in [
        ("120", 120),
        ("0", 5),
        ("100000", 300),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 30),
    ] {
        let mut at = refreshing_near_expiry();
        let resp = HttpResponse::status(429).with_header("Retry-After", value);
        let out = at.respond(resp);
        let err = Error::HttpStatus {
            step: Step::Refresh,
            status: 429,
        };
        assert_eq!(describe_all(&out)[0], deferred(err, wait), "{value}");
    }
    // A wait longer than the token's life: once it expires the refresh runs again at once.
    let mut at = refreshing_near_expiry();
    at.respond(HttpResponse::status(503).with_header("Retry-After", "120"));
    at.advance(Duration::from_secs(LEFT - 1));
    assert_eq!(at.header(), format!("Bearer {ACCESS_TOKEN}"));
    at.advance(Duration::from_secs(1));
    assert_eq!(at.header(), "Pending");
}

#[test]
fn an_expired_token_reports_the_failure_and_still_keeps_both_tokens() {
    let session = canned_session(Some(T0.wall - 1), Some(REFRESH_TOKEN));
    let mut at = Scenario::new().stored(session).idle();
    assert_eq!(at.header(), "Pending");
    at.answer_load();
    at.expect_fetch(Step::Refresh);
    let out = at.respond_json(503, &json!({"error": "invalid_grant"}));
    let err = Error::HttpStatus {
        step: Step::Refresh,
        status: 503,
    };
    assert!(err.is_transient());
    assert_eq!(describe_all(&out), fail_lines(err, auth_required_at_as()));
    assert!(!at.log.iter().any(is_store_effect));
    let kept = tokens_of(at.store.as_ref()).expect("tokens kept");
    assert_eq!(kept.1.as_deref(), Some(REFRESH_TOKEN));
    assert_eq!(tokens_of(at.machine.session()), Some(kept));
    // The next call tries the refresh again (no wait without a usable token).
    assert_eq!(at.header(), "Pending");
}

#[test]
fn invalid_grant_still_forgets_the_tokens_even_while_the_access_token_is_valid() {
    for status in [400u16, 403] {
        let mut at = refreshing_near_expiry();
        let out = at.respond_json(status, &json!({"error": "invalid_grant"}));
        assert_eq!(
            describe_all(&out),
            ["store-session".to_string(), get(RM, PRM_PATH_URL)],
            "{status}"
        );
        assert!(at.store.as_ref().is_some_and(|s| s.tokens.is_none()));
        assert!(at.machine.session().is_some_and(|s| s.tokens.is_none()));
    }
}

#[test]
fn a_dpop_token_answering_a_refresh_without_a_proof_is_refused() {
    let mut at = refreshing_near_expiry();
    let out = at.respond_json(
        200,
        &json!({"access_token": "at-2", "token_type": "DPoP", "expires_in": 3600}),
    );
    let err = Error::UnrequestedDpopToken {
        step: Step::Refresh,
    };
    assert_eq!(
        describe_all(&out),
        [deferred(err, 30), status(AuthStatus::Authorized)]
    );
    assert_eq!(tokens_of(at.machine.session()), original());
    assert_eq!(at.header(), format!("Bearer {ACCESS_TOKEN}"));
}

// ------------------------------------------------------------------------ token answers

fn exchanged(doc: Value) -> At {
    let mut at = Scenario::new().exchanging_code();
    at.respond_json(200, &doc);
    at
}

#[test]
fn odd_expires_in_never_fails_the_login() {
    for (value, expires_at, warned) in [
        (json!(0), None, true),
        (json!(-3600), None, true),
        (json!("soon"), None, true),
        (json!(3600.5), Some(T0.wall + 3600), false),
        (json!(1e30), Some(T0.wall + 365 * 24 * 3600), true),
    ] {
        let at = exchanged(with(token_doc(), "expires_in", value.clone()));
        let what = describe_all(&at.outputs);
        assert_eq!(
            what.iter()
                .filter(|l| l.starts_with("warning ExpiresIn"))
                .count(),
            usize::from(warned),
            "{value}: {what:?}"
        );
        assert!(
            what.contains(&"authorized".to_string()),
            "{value}: {what:?}"
        );
        let stored = at.stored_in_last().and_then(|s| s.tokens.clone());
        assert_eq!(stored.and_then(|t| t.expires_at), expires_at, "{value}");
        // The warning comes before the session is stored and announced.
        if warned {
            assert!(what[0].starts_with("warning ExpiresIn"), "{what:?}");
        }
    }
}

#[test]
fn an_unknown_lifetime_token_is_used_until_a_401() {
    let mut at = exchanged(with(token_doc(), "expires_in", json!(0)));
    at.advance(Duration::from_secs(10 * 24 * 3600));
    assert_eq!(at.header(), format!("Bearer {ACCESS_TOKEN}"));
}

#[test]
fn a_dpop_token_to_a_code_exchange_without_a_proof_is_refused() {
    let at = exchanged(with(token_doc(), "token_type", json!("DPoP")));
    let err = Error::UnrequestedDpopToken {
        step: Step::TokenExchange,
    };
    assert_eq!(
        describe_all(&at.outputs),
        fail_lines(err, auth_required_at_as())
    );
    assert!(at.store.is_none(), "nothing stored");
    assert_eq!(at.machine.session().map(|s| s.tokens.is_some()), None);
}

#[test]
fn a_200_kib_access_token_is_refused_at_the_token_endpoint() {
    let huge = "A".repeat(200 * 1024);
    let at = exchanged(with(token_doc(), "access_token", json!(huge)));
    let err = Error::InvalidToken(
        "access_token is 204800 bytes long, more than the 16 KiB this client accepts".into(),
    );
    assert_eq!(
        describe_all(&at.outputs),
        fail_lines(err, auth_required_at_as())
    );
    assert!(at.store.is_none());
}

// ------------------------------------------------------------------- machine grants

fn client_credentials_authorized() -> At {
    let meta = with(
        with(
            meta_doc(),
            "grant_types_supported",
            json!(["client_credentials"]),
        ),
        "token_endpoint_auth_methods_supported",
        json!(["client_secret_basic"]),
    );
    let mut at = Scenario::with_config(|c| {
        c.client.pre_registered = Some(PreRegisteredClient {
            client_id: "svc-client".into(),
            client_secret: Some(ClientSecret::new("s3cret")),
            auth_method: None,
            issuer: None,
        })
    })
    .meta(meta.clone())
    .at_meta_fetch();
    at.respond_json(200, &meta);
    at.expect_fetch(Step::ClientCredentials);
    at.respond_json(
        200,
        &json!({"access_token": "cc-1", "token_type": "Bearer", "expires_in": 600}),
    );
    assert_eq!(at.header(), "Bearer cc-1");
    at
}

#[test]
fn a_failed_regrant_keeps_the_valid_token_in_use_and_a_refusal_is_reported() {
    let mut at = client_credentials_authorized();
    // Inside the 60 s margin: the grant runs again.
    at.advance(Duration::from_secs(600 - 30));
    assert_eq!(at.header(), "Pending");
    at.expect_fetch(Step::ClientCredentials);
    let out = at.respond_json(503, &json!({"error": "invalid_client"}));
    let err = Error::HttpStatus {
        step: Step::ClientCredentials,
        status: 503,
    };
    assert_eq!(
        describe_all(&out),
        [deferred(err, 30), status(AuthStatus::Authorized)]
    );
    assert_eq!(at.header(), "Bearer cc-1");
    // After the wait, an actual refusal is surfaced as it is (no retry, no other grant).
    at.advance(Duration::from_secs(30));
    assert_eq!(at.header(), "Pending");
    let out = at.respond_json(401, &json!({"error": "invalid_client"}));
    // A refused pre-registered client is named as such (it cannot be registered again).
    assert!(
        describe_all(&out)[1].starts_with("failed ClientRejected"),
        "{:?}",
        describe_all(&out)
    );
    assert_eq!(
        at.machine
            .session()
            .and_then(|s| s.tokens.as_ref())
            .map(|t| t.token_type),
        Some(TokenType::Bearer)
    );
}
