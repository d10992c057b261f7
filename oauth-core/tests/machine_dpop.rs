//! When the machine asks for DPoP-bound tokens (RFC 9449) and when it gives them up: only where
//! the resource server signals DPoP (a `DPoP` challenge, RFC 9449 §7.1, or DPoP fields in its
//! protected resource metadata, RFC 9728 §2) and the authorization server offers ES256; a bound
//! token refused with a `Bearer`-only challenge is replaced by an unbound one once, and the
//! preference is kept in the session.

// DPoP proofs exist only with the `extensions` feature.
#![cfg(feature = "extensions")]

mod scenario;

use mcp_oauth_core::{DpopMode, Error, Event, Input, Output, Session, Step, TokenType};
use scenario::*;
use serde_json::{json, Value};

/// An OpenID provider advertising DPoP, as oidc-provider, Keycloak and Okta do.
fn dpop_meta() -> Value {
    with(
        meta_doc(),
        "dpop_signing_alg_values_supported",
        json!(["ES256", "PS256"]),
    )
}

const DPOP_CHALLENGE: &str =
    r#"DPoP resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp""#;
const BEARER_REFUSAL: &str =
    r#"Bearer error="invalid_token", error_description="unsupported scheme""#;

fn dpop_token() -> Value {
    with(token_doc(), "token_type", json!("DPoP"))
}

fn proof_on_exchange(scenario: Scenario) -> bool {
    let mut at = scenario.waiting_callback();
    at.callback_ok();
    at.expect_fetch(Step::TokenExchange)
        .header("DPoP")
        .is_some()
}

fn failure(at: &At) -> Option<Error> {
    at.outputs.iter().find_map(|o| match o {
        Output::Event(Event::Failed(e)) => Some(e.clone()),
        _ => None,
    })
}

fn challenge(at: &mut At, value: &str) -> Vec<Output> {
    at.feed(Input::Challenge {
        status: 401,
        www_authenticate: vec![value.into()],
    })
}

#[test]
fn a_bearer_only_resource_server_gets_bearer_tokens_although_the_as_offers_dpop() {
    // The issue's failure: the AS advertises ES256, the MCP server says nothing about DPoP.
    assert!(!proof_on_exchange(Scenario::new().meta(dpop_meta())));
}

#[test]
fn a_dpop_challenge_or_dpop_metadata_asks_for_a_bound_token() {
    assert!(proof_on_exchange(
        Scenario::new()
            .meta(dpop_meta())
            .challenge(&[DPOP_CHALLENGE])
    ));
    let prm = with(
        prm_doc(),
        "dpop_signing_alg_values_supported",
        json!(["ES256"]),
    );
    assert!(proof_on_exchange(
        Scenario::new().meta(dpop_meta()).prm(prm)
    ));
    let required = with(prm_doc(), "dpop_bound_access_tokens_required", json!(true));
    assert!(proof_on_exchange(
        Scenario::new().meta(dpop_meta()).prm(required)
    ));
    // The resource server signals DPoP but the AS offers none: Bearer.
    assert!(!proof_on_exchange(
        Scenario::new().challenge(&[DPOP_CHALLENGE])
    ));
    // The challenge lists algorithms without ES256: nothing this client can sign.
    let other_algs = r#"DPoP algs="EdDSA", resource_metadata="x""#;
    assert!(!proof_on_exchange(
        Scenario::new().meta(dpop_meta()).challenge(&[other_algs])
    ));
}

#[test]
fn always_and_never_override_the_signals() {
    assert!(proof_on_exchange(
        Scenario::with_config(|c| c.dpop = DpopMode::Always).meta(dpop_meta())
    ));
    assert!(!proof_on_exchange(
        Scenario::with_config(|c| c.dpop = DpopMode::Never)
            .meta(dpop_meta())
            .challenge(&[DPOP_CHALLENGE])
    ));
}

#[test]
fn required_bound_tokens_without_an_as_algorithm_are_a_clear_error() {
    let required = with(prm_doc(), "dpop_bound_access_tokens_required", json!(true));
    let mut at = Scenario::new().prm(required).at_meta_fetch();
    at.respond_json(200, &meta_doc());
    let e = failure(&at).expect("the flow fails before the browser");
    assert!(matches!(e, Error::DpopRequired(_)), "{e:?}");
    assert!(
        e.to_string()
            .contains("authorization server offers no DPoP"),
        "{e}"
    );
    assert!(at
        .outputs
        .iter()
        .all(|o| !matches!(o, Output::ListenLoopback { .. } | Output::OpenBrowser(_))));
}

/// Logged in with a DPoP-bound token from a resource server that announced DPoP.
fn bound() -> At {
    let mut at = Scenario::new()
        .meta(dpop_meta())
        .challenge(&[DPOP_CHALLENGE])
        .token(dpop_token())
        .authorized();
    assert_eq!(at.header(), format!("DPoP {ACCESS_TOKEN}"));
    at
}

#[test]
fn a_bound_token_refused_with_a_bearer_challenge_is_refreshed_unbound_once() {
    let mut at = bound();
    challenge(&mut at, BEARER_REFUSAL);
    at.expect(|o| matches!(o, Output::LoadSession), "LoadSession");
    at.answer_load();
    let refresh = at.expect_fetch(Step::Refresh);
    assert!(refresh.header("DPoP").is_none(), "refresh without a proof");
    at.respond_json(200, &token_doc());
    assert_eq!(at.header(), format!("Bearer {ACCESS_TOKEN}"));
    let stored = at.store.clone().expect("stored");
    assert!(
        stored.settings.resource_refuses_dpop,
        "preference persisted"
    );
    let tokens = stored.tokens.expect("tokens");
    assert_eq!(tokens.token_type, TokenType::Bearer);
    assert!(tokens.dpop_key.is_none());
    assert!(at.machine.dpop_proof(at.now, "POST", SERVER).is_none());

    // Refused again: the usual path (no second unbound refresh; the guard sends it to a
    // re-authorization), and that re-authorization asks for no bound token.
    challenge(&mut at, BEARER_REFUSAL);
    at.expect_fetch(Step::ResourceMetadata);
    at.respond_json(200, &prm_doc());
    at.expect(
        |o| matches!(o, Output::ListenLoopback { .. }),
        "cached metadata reused",
    );
}

#[test]
fn when_the_as_insists_on_the_proof_one_re_authorization_gets_a_bearer_token() {
    let mut at = bound();
    challenge(&mut at, BEARER_REFUSAL);
    at.answer_load();
    at.expect_fetch(Step::Refresh);
    // RFC 9449 §5: a public client's refresh token is bound; without a proof the AS says no.
    at.respond_json(400, &json!({"error": "invalid_dpop_proof"}));
    at.expect_fetch(Step::ResourceMetadata);
    at.respond_json(200, &prm_doc());
    at.expect(|o| matches!(o, Output::ListenLoopback { .. }), "listen");
    at.feed(Input::LoopbackReady {
        redirect_uri: REDIRECT_URI.into(),
    });
    at.expect(|o| matches!(o, Output::OpenBrowser(_)), "browser");
    at.callback_ok();
    let exchange = at.expect_fetch(Step::TokenExchange);
    assert!(
        exchange.header("DPoP").is_none(),
        "an unbound token this time"
    );
    at.respond_json(200, &token_doc());
    assert_eq!(at.header(), format!("Bearer {ACCESS_TOKEN}"));
    assert!(at.store.clone().unwrap().settings.resource_refuses_dpop);
}

#[test]
fn the_recorded_preference_survives_a_restart() {
    let mut at = bound();
    challenge(&mut at, BEARER_REFUSAL);
    at.answer_load();
    at.respond_json(200, &token_doc());
    let json = at.store.clone().expect("stored").to_json();
    let mut reloaded = Session::from_json(&json).expect("loads");
    assert!(reloaded.settings.resource_refuses_dpop);
    // A new process whose tokens are gone: the resource server now challenges with DPoP, but
    // Auto remembers the refusal and asks for a Bearer token again (no back and forth).
    reloaded.tokens = None;
    let mut at = Scenario::new().stored(reloaded).idle();
    challenge(&mut at, DPOP_CHALLENGE);
    at.expect_fetch(Step::ResourceMetadata);
    at.respond_json(200, &prm_doc());
    at.expect(
        |o| matches!(o, Output::ListenLoopback { .. }),
        "cached metadata",
    );
    at.feed(Input::LoopbackReady {
        redirect_uri: REDIRECT_URI.into(),
    });
    at.callback_ok();
    assert!(at
        .expect_fetch(Step::TokenExchange)
        .header("DPoP")
        .is_none());
}

#[test]
fn always_keeps_the_bound_token_when_refused() {
    let mut at = Scenario::with_config(|c| c.dpop = DpopMode::Always)
        .meta(dpop_meta())
        .token(dpop_token())
        .authorized();
    challenge(&mut at, BEARER_REFUSAL);
    at.answer_load();
    let refresh = at.expect_fetch(Step::Refresh);
    assert!(
        refresh.header("DPoP").is_some(),
        "Always: the refresh stays bound"
    );
}

#[test]
fn a_dpop_only_challenge_for_a_bearer_token_upgrades_it_with_a_signed_refresh() {
    // Logged in before the server said anything about DPoP (a proactive login), then the server
    // refuses the Bearer token and offers only DPoP: the refresh carries a proof with a new key.
    let mut at = Scenario::new().meta(dpop_meta()).authorized();
    assert_eq!(at.header(), format!("Bearer {ACCESS_TOKEN}"));
    challenge(&mut at, DPOP_CHALLENGE);
    at.answer_load();
    let refresh = at.expect_fetch(Step::Refresh);
    assert!(refresh.header("DPoP").is_some(), "a signed refresh");
    at.respond_json(200, &dpop_token());
    assert_eq!(at.header(), format!("DPoP {ACCESS_TOKEN}"));
    let stored = at.store.clone().expect("stored");
    assert!(
        stored.tokens.expect("tokens").dpop_key.is_some(),
        "bound to the new key"
    );
    assert!(at.machine.dpop_proof(at.now, "POST", SERVER).is_some());
}

#[test]
fn an_as_refusing_the_signed_refresh_costs_one_re_authorization_with_dpop() {
    let mut at = Scenario::new().meta(dpop_meta()).authorized();
    challenge(&mut at, DPOP_CHALLENGE);
    at.answer_load();
    at.expect_fetch(Step::Refresh);
    at.respond_json(400, &json!({"error": "invalid_grant"}));
    at.expect_fetch(Step::ResourceMetadata);
    at.respond_json(200, &prm_doc());
    at.expect(|o| matches!(o, Output::ListenLoopback { .. }), "listen");
    at.feed(Input::LoopbackReady {
        redirect_uri: REDIRECT_URI.into(),
    });
    at.callback_ok();
    assert!(at
        .expect_fetch(Step::TokenExchange)
        .header("DPoP")
        .is_some());
}

#[test]
fn sessions_without_settings_still_load_and_settings_round_trip() {
    let old = canned_session(Some(T0.wall + 3600), Some(REFRESH_TOKEN)).to_json();
    assert!(!old.contains("settings"), "defaults are not written: {old}");
    let loaded = Session::from_json(&old).expect("an older session loads");
    assert_eq!(loaded.settings, Default::default());
    let mut s = loaded;
    s.settings.dpop = DpopMode::Never;
    s.settings.resource_refuses_dpop = true;
    let back = Session::from_json(&s.to_json()).expect("round trip");
    assert_eq!(back.settings, s.settings);
}

#[test]
fn the_dpop_choice_is_stored_with_the_session() {
    let at = Scenario::with_config(|c| c.dpop = DpopMode::Never).authorized();
    let stored = at.store.clone().expect("stored");
    assert_eq!(stored.settings.dpop, DpopMode::Never);
    let mut config = mcp_oauth_core::Config::new(SERVER);
    config.apply_session_settings(&stored.settings);
    assert_eq!(config.dpop, DpopMode::Never);
}
