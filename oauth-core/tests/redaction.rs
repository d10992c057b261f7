//! `{:?}` of every public type that holds a secret shows no secret (ARCHITECTURE.md §7): tokens,
//! client secrets, codes, PKCE verifiers and `state` (RFC 6749 §10.3, §10.5, §10.12; RFC 7636
//! §4.1). Also: after an `iss` mismatch the authorization server's error text is not surfaced at
//! all (RFC 9207 §2.4; MCP 2026-07-28 Authorization, "Authorization Response Validation").

mod scenario;

use mcp_oauth_core::callback::parse_callback;
use mcp_oauth_core::loopback::{route, Route};
use mcp_oauth_core::token::{code_exchange_request, parse_token_response};
use mcp_oauth_core::{
    pkce, AccessToken, AuthorizationCode, AuthorizationHeader, BrowserRequest, ClientAuthMethod,
    ClientSecret, Event, HeaderState, HttpRequest, HttpResponse, Input, Output, PkceVerifier,
    RefreshToken, StateToken, Step,
};
use scenario::*;
use serde_json::json;

const CLIENT_SECRET: &str = "cs-9f8e7d6c5b4a39281706f5e4d3c2b1a0";
/// base64("client-abc:cs-9f8e7d6c5b4a39281706f5e4d3c2b1a0"), the Basic credential.
const BASIC: &str = "Y2xpZW50LWFiYzpjcy05ZjhlN2Q2YzViNGEzOTI4MTcwNmY1ZTRkM2MyYjFhMA==";

/// Panics if `shown` contains any of `secrets`.
fn assert_clean(what: &str, shown: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!s.is_empty());
        assert!(!shown.contains(s), "{what} leaks {s:?}: {shown}");
    }
}

fn static_secrets() -> Vec<&'static str> {
    vec![ACCESS_TOKEN, REFRESH_TOKEN, CODE, CLIENT_SECRET, BASIC]
}

/// A confidential DCR client (secret, `client_secret_basic`), run to `stage`.
fn confidential(stage: Stage) -> At {
    let dcr = with(dcr_doc(), "client_secret", json!(CLIENT_SECRET));
    let dcr = with(
        dcr,
        "token_endpoint_auth_method",
        json!("client_secret_basic"),
    );
    Scenario::new().dcr(201, dcr).drive(stage)
}

#[test]
fn secret_newtypes_print_only_their_name() {
    let v = "s3cr3t-value-0123456789";
    let shown = [
        (
            format!("{:?}", AccessToken::new(v)),
            "AccessToken([redacted])",
        ),
        (
            format!("{:?}", RefreshToken::new(v)),
            "RefreshToken([redacted])",
        ),
        (
            format!("{:?}", ClientSecret::new(v)),
            "ClientSecret([redacted])",
        ),
        (
            format!("{:?}", AuthorizationCode::new(v)),
            "AuthorizationCode([redacted])",
        ),
        (
            format!("{:?}", PkceVerifier::new(v)),
            "PkceVerifier([redacted])",
        ),
        (
            format!("{:?}", StateToken::new(v)),
            "StateToken([redacted])",
        ),
        (
            format!("{:?}", AuthorizationHeader::new(format!("Bearer {v}"))),
            "AuthorizationHeader([redacted])",
        ),
        (
            format!("{:#?}", AccessToken::new(v)),
            "AccessToken([redacted])",
        ),
    ];
    for (got, want) in shown {
        assert_eq!(got, want);
    }
}

#[test]
fn session_token_set_and_client_registration_hide_their_secrets() {
    let mut session = canned_session(Some(T0.wall + 3600), Some(REFRESH_TOKEN));
    session.client.client_secret = Some(ClientSecret::new(CLIENT_SECRET));
    session.client.auth_method = ClientAuthMethod::ClientSecretBasic;
    let tokens = session.tokens.clone().expect("tokens");
    for (what, shown) in [
        ("Session", format!("{session:?}")),
        ("Session (alternate)", format!("{session:#?}")),
        ("TokenSet", format!("{tokens:?}")),
        ("ClientRegistration", format!("{:?}", session.client)),
        (
            "AuthorizationHeader",
            format!("{:?}", tokens.authorization_header()),
        ),
        (
            "HeaderState",
            format!("{:?}", HeaderState::Ready(tokens.authorization_header())),
        ),
        (
            "Input::SessionLoaded",
            format!("{:?}", Input::SessionLoaded(Some(session.clone()))),
        ),
    ] {
        assert_clean(what, &shown, &static_secrets());
    }
    // Non-secret fields stay visible, so the output is still useful.
    let shown = format!("{session:?}");
    assert!(
        shown.contains(CLIENT_ID) && shown.contains(ISSUER),
        "{shown}"
    );
}

#[test]
fn http_request_hides_body_and_authorization() {
    let session = {
        let mut s = canned_session(None, None);
        s.client.client_secret = Some(ClientSecret::new(CLIENT_SECRET));
        s.client.auth_method = ClientAuthMethod::ClientSecretBasic;
        s
    };
    let verifier = PkceVerifier::new("verifier-abcdefghijklmnopqrstuvwxyz0123456789");
    let r = code_exchange_request(
        TOKEN_URL,
        &session.client,
        &AuthorizationCode::new(CODE),
        REDIRECT_URI,
        &verifier,
        Some(SERVER),
    );
    assert_eq!(
        r.header("Authorization"),
        Some(format!("Basic {BASIC}").as_str())
    );
    let mut with_dpop: HttpRequest = r.clone();
    with_dpop
        .headers
        .push(("DPoP".into(), "eyJ-dpop-proof-secret".into()));
    let shown = format!("{with_dpop:?}");
    let mut secrets = static_secrets();
    secrets.extend([verifier.expose_secret(), "eyJ-dpop-proof-secret"]);
    assert_clean("HttpRequest", &shown, &secrets);
    assert!(
        shown.contains("[redacted]") && shown.contains(TOKEN_URL),
        "{shown}"
    );
    // A URL query (e.g. a GET carrying a code) is hidden too.
    let get = HttpRequest::get_json(format!("{TOKEN_URL}?code={CODE}"));
    assert_clean("HttpRequest URL", &format!("{get:?}"), &[CODE]);
}

#[test]
fn http_response_hides_the_body() {
    let r = HttpResponse::json(
        200,
        &json!({"access_token": ACCESS_TOKEN, "refresh_token": REFRESH_TOKEN}),
    );
    assert_clean("HttpResponse", &format!("{r:?}"), &static_secrets());
    let input = Input::HttpResponse {
        id: mcp_oauth_core::RequestId(1),
        response: r,
    };
    assert_clean(
        "Input::HttpResponse",
        &format!("{input:?}"),
        &static_secrets(),
    );
}

/// The callback query carries the code and `state`; adapters log inputs.
#[test]
fn input_callback_hides_code_and_state() {
    let state = "state-QmFzZTY0VXJsU2FmZVN0YXRlVmFsdWUxMjM0";
    let input = Input::Callback {
        query: format!("code={CODE}&state={state}&iss={}", enc(ISSUER)),
    };
    assert_clean("Input::Callback", &format!("{input:?}"), &[CODE, state]);
}

#[test]
fn browser_request_hides_state_and_query() {
    let state = StateToken::new("state-QmFzZTY0VXJsU2FmZVN0YXRlVmFsdWUxMjM0");
    let b = BrowserRequest {
        url: format!(
            "{AUTHORIZE_URL}?response_type=code&state={}",
            state.expose_secret()
        ),
        state: state.clone(),
    };
    let shown = format!("{b:?}");
    assert_clean("BrowserRequest", &shown, &[state.expose_secret()]);
    assert!(shown.contains(AUTHORIZE_URL), "{shown}");
    assert_clean(
        "Output::OpenBrowser",
        &format!("{:?}", Output::OpenBrowser(b)),
        &[state.expose_secret()],
    );
}

/// Every output of a whole confidential-client run (fetches with Basic credentials and codes,
/// the browser step, the stored session, events) and the machine itself, at each stage.
#[test]
fn outputs_events_and_machine_of_a_full_run_hide_every_secret() {
    let mut at = confidential(Stage::ExchangingCode);
    let state = at.state();
    let token_req = at.expect_fetch(Step::TokenExchange).clone();
    let verifier = token_req
        .form_pairs()
        .into_iter()
        .find(|(k, _)| k == "code_verifier")
        .map(|(_, v)| v)
        .expect("code_verifier");
    assert_eq!(
        token_req.header("Authorization"),
        Some(format!("Basic {BASIC}").as_str())
    );
    let shown_waiting = format!("{:?}", confidential(Stage::WaitingCallback).machine);
    at.respond_json(200, &token_doc());
    at.expect(|o| matches!(o, Output::StoreSession(_)), "StoreSession");
    at.command(|m, now| m.logout(now));
    at.respond_status(200);
    at.respond_status(200);
    let mut secrets = static_secrets();
    secrets.extend([state.as_str(), verifier.as_str()]);
    for o in &at.log {
        assert_clean("Output", &format!("{o:?}"), &secrets);
        if let Output::Event(e) = o {
            assert_clean("Event", &format!("{e:?}"), &secrets);
        }
    }
    for kind in [
        "Fetch",
        "OpenBrowser",
        "StoreSession",
        "ClearSession",
        "Event",
    ] {
        assert!(
            at.log.iter().any(|o| format!("{o:?}").starts_with(kind)),
            "no {kind} in the run"
        );
    }
    assert_clean("Machine (waiting)", &shown_waiting, &secrets);
    let authorized = confidential(Stage::Authorized);
    assert_clean(
        "Machine (authorized)",
        &format!("{:?}", authorized.machine),
        &secrets,
    );
    assert_clean(
        "Machine (authorized, alternate)",
        &format!("{:#?}", authorized.machine),
        &secrets,
    );
}

#[test]
fn callback_params_pkce_token_response_and_route_hide_secrets() {
    let state = StateToken::new("state-QmFzZTY0VXJsU2FmZVN0YXRlVmFsdWUxMjM0");
    let query = format!(
        "code={CODE}&state={}&iss={}",
        state.expose_secret(),
        enc(ISSUER)
    );
    let params = parse_callback(&query).expect("parses");
    assert_clean(
        "CallbackParams",
        &format!("{params:?}"),
        &[CODE, state.expose_secret()],
    );

    let p = pkce::generate(&mut mcp_oauth_core::SeededRng::from_seed(SEED));
    assert_clean("Pkce", &format!("{p:?}"), &[p.verifier.expose_secret()]);

    let resp = HttpResponse::json(200, &token_doc());
    let t = parse_token_response(&resp, Step::TokenExchange).expect("parses");
    assert_clean("TokenResponse", &format!("{t:?}"), &static_secrets());

    let head = format!("GET /callback?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    let r = route(head.as_bytes(), "/callback", &state);
    assert!(matches!(&r, Route::Callback { query: q } if *q == query));
    assert_clean("Route", &format!("{r:?}"), &[CODE, state.expose_secret()]);
}

/// RFC 9207 §2.4 and MCP 2026-07-28 "Authorization Response Validation": a response from the wrong
/// issuer is answered with `IssMismatch` only; a phishing `error_description` never reaches the
/// user.
#[test]
fn iss_mismatch_drops_a_phishing_error_description() {
    let mut at = Scenario::new().waiting_callback();
    let q = format!(
        "error=access_denied&error_description={}&error_uri={}&iss={}&state={}",
        enc("Your account is locked. Call +1-555-0100 or visit https://evil.example/unlock"),
        enc("https://evil.example/help"),
        enc("https://evil.example"),
        at.state()
    );
    let out = at.callback(&q);
    let err = out
        .iter()
        .find_map(|o| match o {
            Output::Event(Event::Failed(e)) => Some(e.clone()),
            _ => None,
        })
        .expect("Failed event");
    assert_eq!(err, mcp_oauth_core::Error::IssMismatch);
    let phishing = ["evil", "locked", "555-0100", "unlock", "access_denied"];
    assert_clean("Error Display", &err.to_string(), &phishing);
    assert_clean("Error Debug", &format!("{err:?}"), &phishing);
    for o in &at.log {
        assert_clean("Output", &format!("{o:?}"), &phishing);
    }
    assert_clean("status", &format!("{:?}", at.machine.status()), &phishing);
}
