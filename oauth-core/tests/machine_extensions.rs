//! Machine-to-machine grants and DPoP through the machine (MCP authorization
//! extensions SEP-1046, SEP-1933, SEP-990; RFC 9449):
//! client credentials, workload-identity jwt-bearer, enterprise-managed authorization, DPoP
//! proofs on token and resource requests, AS and RS nonces, and the DPoP key surviving a
//! restart.

// The signing paths (DPoP, private_key_jwt) exist only with the `extensions` feature.
#![cfg(feature = "extensions")]

mod scenario;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use mcp_oauth_core::config::{EnterpriseIdp, Grant};
use mcp_oauth_core::secret::Assertion;
use mcp_oauth_core::{
    ClientSecret, DpopMode, Error, HttpRequest, HttpResponse, Input, Output, PreRegisteredClient,
    Step, TokenType,
};
use scenario::*;
use serde_json::{json, Value};

/// Header and claims of a compact JWS.
fn jwt_parts(jwt: &str) -> (Value, Value) {
    let mut it = jwt.split('.');
    let mut part = || -> Value {
        let bytes = URL_SAFE_NO_PAD
            .decode(it.next().expect("segment"))
            .expect("base64url");
        serde_json::from_slice(&bytes).expect("json")
    };
    let header = part();
    let claims = part();
    (header, claims)
}

fn form(r: &HttpRequest) -> Vec<(String, String)> {
    r.form_pairs()
}

fn form_value(r: &HttpRequest, name: &str) -> Option<String> {
    form(r).into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

fn dpop_meta() -> Value {
    with(
        meta_doc(),
        "dpop_signing_alg_values_supported",
        json!(["ES256"]),
    )
}

/// The first 401 of a resource server that takes DPoP (RFC 9449 §7.1), as the conformance
/// DPoP scenarios send it.
const DPOP_CHALLENGE: &str =
    r#"DPoP resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp""#;

/// A DPoP-capable resource server in front of an AS offering ES256.
fn dpop_scenario() -> Scenario {
    Scenario::new()
        .meta(dpop_meta())
        .challenge(&[DPOP_CHALLENGE])
}

fn cc_meta() -> Value {
    let m = with(
        meta_doc(),
        "grant_types_supported",
        json!(["client_credentials"]),
    );
    with(
        m,
        "token_endpoint_auth_methods_supported",
        json!(["client_secret_basic"]),
    )
}

fn pre_registered(secret: Option<&str>) -> PreRegisteredClient {
    PreRegisteredClient {
        client_id: "svc-client".into(),
        client_secret: secret.map(ClientSecret::new),
        auth_method: None,
        issuer: None,
    }
}

fn dpop_token_doc() -> Value {
    with(token_doc(), "token_type", json!("DPoP"))
}

// ------------------------------------------------------------------------------------- DPoP

#[test]
fn dpop_proof_on_the_token_request_then_as_nonce_retry_once() {
    let mut at = dpop_scenario().waiting_callback();
    at.callback_ok();
    let first = at.expect_fetch(Step::TokenExchange).clone();
    let proof = first
        .header("DPoP")
        .expect("DPoP proof on the token request");
    let (header, claims) = jwt_parts(proof);
    assert_eq!(header["typ"], "dpop+jwt");
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["jwk"]["kty"], "EC");
    assert!(
        header["jwk"].get("d").is_none(),
        "no private key in the proof"
    );
    assert_eq!(claims["htm"], "POST");
    assert_eq!(claims["htu"], TOKEN_URL);
    assert!(claims.get("nonce").is_none());
    assert!(claims.get("ath").is_none(), "no ath at the token endpoint");

    // RFC 9449 §8: 400 use_dpop_nonce + DPoP-Nonce → the same request again, with the nonce.
    let nonce_answer = HttpResponse::json(400, &json!({"error": "use_dpop_nonce"}))
        .with_header("DPoP-Nonce", "as-nonce-1");
    at.respond(nonce_answer.clone());
    let retry = at.expect_fetch(Step::TokenExchange).clone();
    assert_eq!(form(&retry), form(&first), "same grant parameters");
    let (_, retry_claims) = jwt_parts(retry.header("DPoP").expect("proof"));
    assert_eq!(retry_claims["nonce"], "as-nonce-1");
    assert_ne!(retry_claims["jti"], claims["jti"], "fresh jti");

    // A second nonce challenge is not retried again: the flow fails with the AS error.
    at.respond(nonce_answer);
    assert!(at
        .outputs
        .iter()
        .all(|o| !matches!(o, Output::Fetch { .. })));
    assert!(at.machine.session().is_none());
}

#[test]
fn dpop_bound_token_gets_resource_proofs_with_ath_and_rs_nonce() {
    let mut at = dpop_scenario().token(dpop_token_doc()).authorized();
    assert_eq!(at.header(), format!("DPoP {ACCESS_TOKEN}"));
    let tokens = at.machine.session().unwrap().tokens.clone().unwrap();
    assert_eq!(tokens.token_type, TokenType::DPoP);
    assert!(tokens.dpop_key.is_some(), "key stored with the tokens");
    let stored = at.store.clone().expect("stored");
    assert!(stored.tokens.unwrap().dpop_key.is_some(), "key persisted");

    let now = at.now;
    let p1 = at
        .machine
        .dpop_proof(now, "POST", "https://mcp.example.com/mcp?x=1")
        .unwrap();
    let p2 = at
        .machine
        .dpop_proof(now, "POST", "https://mcp.example.com/mcp")
        .unwrap();
    let (h1, c1) = jwt_parts(&p1);
    let (_, c2) = jwt_parts(&p2);
    assert_eq!(c1["htu"], "https://mcp.example.com/mcp", "no query in htu");
    assert_ne!(c1["jti"], c2["jti"], "a fresh proof per request");
    let ath = URL_SAFE_NO_PAD.encode(<sha2::Sha256 as sha2::Digest>::digest(ACCESS_TOKEN));
    assert_eq!(c1["ath"], ath.as_str());
    assert!(c1.get("nonce").is_none());

    // RFC 9449 §9: the RS nonce goes into the next proofs; the use_dpop_nonce 401 is not a
    // token problem, so no refresh or login starts.
    at.feed(Input::ResourceNonce {
        nonce: "rs-nonce-1".into(),
    });
    let out = at.feed(Input::Challenge {
        status: 401,
        www_authenticate: vec![r#"DPoP error="use_dpop_nonce", resource_metadata="x""#.into()],
    });
    assert!(out.is_empty(), "{:?}", describe_all(&out));
    assert_eq!(at.header(), format!("DPoP {ACCESS_TOKEN}"));
    let (h3, c3) = jwt_parts(&at.machine.dpop_proof(now, "POST", SERVER).unwrap());
    assert_eq!(c3["nonce"], "rs-nonce-1");
    assert_eq!(h3["jwk"], h1["jwk"], "same key");
}

#[test]
fn dpop_key_survives_a_restart_and_signs_the_refresh() {
    let at = dpop_scenario().token(dpop_token_doc()).authorized();
    let stored = at.store.clone().unwrap();
    let now = at.now;
    let mut first = at;
    let (before, _) = jwt_parts(&first.machine.dpop_proof(now, "GET", SERVER).unwrap());

    // A new process: same proofs' key from the stored session, refresh signed with it.
    let json = stored.to_json();
    let reloaded = mcp_oauth_core::Session::from_json(&json).unwrap();
    let mut at = Scenario::new().stored(reloaded).idle();
    let (after, _) = jwt_parts(&at.machine.dpop_proof(now, "GET", SERVER).unwrap());
    assert_eq!(before["jwk"], after["jwk"]);
    at.advance(std::time::Duration::from_secs(EXPIRES_IN));
    at.command(|m, now| m.refresh(now));
    at.answer_load();
    let refresh = at.expect_fetch(Step::Refresh).clone();
    let (h, c) = jwt_parts(refresh.header("DPoP").expect("refresh carries a proof"));
    assert_eq!(h["jwk"], before["jwk"], "refresh bound to the same key");
    assert_eq!(c["htu"], TOKEN_URL);
}

#[test]
fn no_dpop_when_the_as_does_not_advertise_it_or_the_caller_declines() {
    let mut at = Scenario::new().waiting_callback();
    at.callback_ok();
    assert!(at
        .expect_fetch(Step::TokenExchange)
        .header("DPoP")
        .is_none());
    let mut at = dpop_scenario()
        .config(|c| c.dpop = DpopMode::Never)
        .waiting_callback();
    at.callback_ok();
    assert!(at
        .expect_fetch(Step::TokenExchange)
        .header("DPoP")
        .is_none());
}

#[test]
fn the_nonce_retry_re_points_the_token_call_and_the_first_request_goes_stale() {
    let mut at = dpop_scenario().waiting_callback();
    at.callback_ok();
    let first = at.id.expect("the code exchange is in flight");
    let nonce_answer = HttpResponse::json(400, &json!({"error": "use_dpop_nonce"}))
        .with_header("DPoP-Nonce", "as-nonce-1");
    at.respond(nonce_answer);
    let retry = at.id.expect("the retry is in flight");
    assert_ne!(retry, first, "the retry is a new request");
    // A late second answer to the first request is stale: nothing happens.
    let late = at.feed(Input::HttpResponse {
        id: first,
        response: HttpResponse::json(200, &dpop_token_doc()),
    });
    assert!(late.is_empty(), "{:?}", describe_all(&late));
    assert!(at.machine.is_busy());
    // The retry's answer is the one taken, bound to the key the proof was signed with.
    at.respond_json(200, &dpop_token_doc());
    assert!(at.header().starts_with("DPoP "), "{}", at.header());
    let tokens = at.machine.session().and_then(|s| s.tokens.as_ref());
    assert!(tokens.is_some_and(|t| t.dpop_key.is_some()));
}

#[test]
fn a_nonce_answer_to_a_request_without_a_proof_is_not_re_sent() {
    // The IdP's RFC 8693 exchange carries no proof: a nonce answer there is just a failure.
    let mut at = Scenario::with_config(|c| {
        c.client.pre_registered = Some(pre_registered(Some("xaa-secret")));
        c.grant = Grant::EnterpriseManaged(EnterpriseIdp {
            token_endpoint: "https://idp.example.com/token".into(),
            client_id: Some("idp-client".into()),
            client_secret: None,
            id_token: Assertion::new("eyJ.id.token"),
        });
    })
    .at_meta_fetch();
    at.respond_json(200, &meta_doc());
    at.expect_fetch(Step::AssertionExchange);
    let out = at.respond(
        HttpResponse::json(400, &json!({"error": "use_dpop_nonce"})).with_header("DPoP-Nonce", "n"),
    );
    assert!(
        out.iter().all(|o| !matches!(o, Output::Fetch { .. })),
        "{:?}",
        describe_all(&out)
    );
    assert!(!at.machine.is_busy());
}

// ------------------------------------------------------------------------- client credentials

#[test]
fn client_credentials_when_the_as_offers_only_that_grant() {
    let mut at =
        Scenario::with_config(|c| c.client.pre_registered = Some(pre_registered(Some("s3cret"))))
            .meta(cc_meta())
            .at_meta_fetch();
    at.respond_json(200, &cc_meta());
    assert!(
        at.outputs
            .iter()
            .all(|o| !matches!(o, Output::ListenLoopback { .. } | Output::OpenBrowser(_))),
        "no browser for client credentials"
    );
    let req = at.expect_fetch(Step::ClientCredentials).clone();
    assert_eq!(req.url, TOKEN_URL);
    assert_eq!(
        form_value(&req, "grant_type").as_deref(),
        Some("client_credentials")
    );
    assert_eq!(form_value(&req, "resource").as_deref(), Some(SERVER));
    assert_eq!(
        form_value(&req, "scope").as_deref(),
        Some("mcp:read mcp:write")
    );
    let basic = URL_SAFE_NO_PAD.encode("unused");
    let _ = basic;
    assert!(req.header("authorization").unwrap().starts_with("Basic "));
    assert!(form_value(&req, "client_secret").is_none());

    at.respond_json(
        200,
        &json!({"access_token": "cc-1", "token_type": "Bearer", "expires_in": 60}),
    );
    assert_eq!(at.header(), "Bearer cc-1");

    // Expiry: no refresh token, so the grant runs again, without discovery.
    at.advance(std::time::Duration::from_secs(61));
    let _ = at.command(|m, now| m.ensure_fresh(now));
    let again = at.expect_fetch(Step::ClientCredentials).clone();
    assert_eq!(
        form_value(&again, "grant_type").as_deref(),
        Some("client_credentials")
    );
    at.respond_json(
        200,
        &json!({"access_token": "cc-2", "token_type": "Bearer", "expires_in": 60}),
    );
    assert_eq!(at.header(), "Bearer cc-2");
}

#[test]
fn workload_identity_jwt_bearer_surfaces_errors_without_retrying() {
    let mut at = Scenario::with_config(|c| {
        c.client.pre_registered = Some(pre_registered(None));
        c.grant = Grant::JwtBearer {
            assertion: Assertion::new("eyJ.workload.jwt"),
        };
        c.interactive = false; // no user anywhere: still allowed
    })
    .at_meta_fetch();
    at.respond_json(200, &meta_doc());
    let req = at.expect_fetch(Step::JwtBearer).clone();
    assert_eq!(
        form_value(&req, "grant_type").as_deref(),
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    );
    assert_eq!(
        form_value(&req, "assertion").as_deref(),
        Some("eyJ.workload.jwt")
    );
    assert_eq!(form_value(&req, "client_id").as_deref(), Some("svc-client"));
    let out = at.respond_json(
        400,
        &json!({"error": "invalid_grant", "error_description": "expired"}),
    );
    assert!(
        out.iter().all(|o| !matches!(o, Output::Fetch { .. })),
        "no retry, no other grant"
    );
    let failed = out.iter().find_map(|o| match o {
        Output::Event(mcp_oauth_core::Event::Failed(e)) => Some(e.clone()),
        _ => None,
    });
    // The refusal names the grant that was refused, not the code exchange.
    assert!(
        matches!(
            &failed,
            Some(mcp_oauth_core::Error::OAuth {
                step: Step::JwtBearer,
                ..
            })
        ),
        "{failed:?}"
    );
    assert_eq!(
        failed
            .and_then(|e| e.oauth_code().map(str::to_string))
            .as_deref(),
        Some("invalid_grant")
    );
}

#[test]
fn enterprise_managed_exchanges_the_id_token_then_presents_the_id_jag() {
    let mut at = Scenario::with_config(|c| {
        c.client.pre_registered = Some(pre_registered(Some("xaa-secret")));
        c.grant = Grant::EnterpriseManaged(EnterpriseIdp {
            token_endpoint: "https://idp.example.com/token".into(),
            client_id: Some("idp-client".into()),
            client_secret: None,
            id_token: Assertion::new("eyJ.id.token"),
        });
    })
    .at_meta_fetch();
    let meta = with(
        meta_doc(),
        "token_endpoint_auth_methods_supported",
        json!(["client_secret_basic"]),
    );
    at.respond_json(200, &meta);
    let exchange = at.expect_fetch(Step::AssertionExchange).clone();
    assert_eq!(exchange.url, "https://idp.example.com/token");
    assert_eq!(
        form_value(&exchange, "grant_type").as_deref(),
        Some("urn:ietf:params:oauth:grant-type:token-exchange")
    );
    assert_eq!(
        form_value(&exchange, "subject_token").as_deref(),
        Some("eyJ.id.token")
    );
    assert_eq!(
        form_value(&exchange, "requested_token_type").as_deref(),
        Some("urn:ietf:params:oauth:token-type:id-jag")
    );
    assert_eq!(form_value(&exchange, "audience").as_deref(), Some(ISSUER));
    assert_eq!(form_value(&exchange, "resource").as_deref(), Some(SERVER));
    at.respond_json(
        200,
        &json!({"access_token": "eyJ.id.jag", "issued_token_type": "urn:ietf:params:oauth:token-type:id-jag", "token_type": "N_A"}),
    );
    let grant = at.expect_fetch(Step::JwtBearer).clone();
    assert_eq!(grant.url, TOKEN_URL);
    assert_eq!(
        form_value(&grant, "assertion").as_deref(),
        Some("eyJ.id.jag")
    );
    assert!(grant.header("authorization").unwrap().starts_with("Basic "));
    at.respond_json(
        200,
        &json!({"access_token": "ema-1", "token_type": "Bearer"}),
    );
    assert_eq!(at.header(), "Bearer ema-1");
    let _ = Error::Cancelled;
}
