//! The knobs real identity providers need (project issue 10): extra authorization parameters
//! (Auth0 `audience`, Google `access_type` / `prompt`), an authorization server named instead of
//! discovered, with explicit endpoints when it publishes no metadata, the choices stored with the
//! session, and a stale dynamic registration that heals itself.

mod scenario;

use mcp_oauth_core::config::{KnownAuthorizationServer, ServerEndpoints};
use mcp_oauth_core::{
    ClientKind, Config, Error, Event, Input, Machine, Output, PreRegisteredClient, SeededRng, Step,
};
use scenario::*;
use serde_json::json;

const NAMED_ISSUER: &str = "https://login.example.org";
const NAMED_AUTHORIZE: &str = "https://login.example.org/oauth2/v1/authorize";
const NAMED_TOKEN: &str = "https://login.example.org/oauth2/v1/token";
const NAMED_REGISTER: &str = "https://login.example.org/oauth2/v1/clients";

fn failure(outputs: &[Output]) -> Option<Error> {
    outputs.iter().find_map(|o| match o {
        Output::Event(Event::Failed(e)) => Some(e.clone()),
        _ => None,
    })
}

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn challenge(at: &mut At) -> Vec<Output> {
    at.feed(Input::Challenge {
        status: 401,
        www_authenticate: vec![CHALLENGE.into()],
    })
}

#[test]
fn extra_authorization_parameters_follow_the_clients_own() {
    let extra = params(&[
        ("audience", "https://api.example.com"),
        ("access_type", "offline"),
        ("prompt", "consent"),
    ]);
    let at = Scenario::with_config(|c| c.authorize_params = extra.clone()).waiting_callback();
    let pairs = query_pairs(at.browser_url.as_deref().expect("browser URL"));
    let tail: Vec<(String, String)> = pairs[pairs.len() - 3..].to_vec();
    assert_eq!(tail, extra);
    assert_eq!(pairs.iter().filter(|(k, _)| k == "state").count(), 1);
    let mut at = at;
    at.callback_ok();
    at.respond_json(200, &token_doc());
    let stored = at.store.clone().expect("stored");
    assert_eq!(
        stored.settings.authorize_params, extra,
        "kept for later commands"
    );
}

#[test]
fn parameters_the_client_owns_are_refused_at_configuration() {
    for owned in [
        "state",
        "code_challenge",
        "redirect_uri",
        "client_id",
        "Resource",
        "scope",
    ] {
        let mut config = Config::new(SERVER);
        config.authorize_params = params(&[(owned, "x")]);
        let e = Machine::new(config, SeededRng::from_seed(SEED)).expect_err(owned);
        assert!(matches!(e, Error::Config(_)), "{e:?}");
        assert!(e.to_string().contains("set by the client itself"), "{e}");
    }
}

fn named(endpoints: bool) -> KnownAuthorizationServer {
    KnownAuthorizationServer {
        issuer: NAMED_ISSUER.into(),
        endpoints: endpoints.then(|| ServerEndpoints {
            authorization_endpoint: NAMED_AUTHORIZE.into(),
            token_endpoint: NAMED_TOKEN.into(),
            registration_endpoint: Some(NAMED_REGISTER.into()),
        }),
    }
}

#[test]
fn explicit_endpoints_skip_every_discovery_request() {
    let mut at = Scenario::with_config(|c| c.authorization_server = Some(named(true))).idle();
    let out = challenge(&mut at);
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::ListenLoopback { .. })),
        "no PRM or metadata fetch: {:?}",
        describe_all(&out)
    );
    at.feed(Input::LoopbackReady {
        redirect_uri: REDIRECT_URI.into(),
    });
    assert_eq!(at.expect_fetch(Step::Registration).url, NAMED_REGISTER);
    at.respond_json(201, &dcr_doc());
    let url = at.browser_url.clone().expect("browser");
    assert!(url.starts_with(&format!("{NAMED_AUTHORIZE}?")), "{url}");
    // No `iss` advertised (no metadata): a callback without one is accepted.
    at.callback(&format!("code={CODE}&state={}", at.state()));
    assert_eq!(at.expect_fetch(Step::TokenExchange).url, NAMED_TOKEN);
    at.respond_json(200, &token_doc());
    let stored = at.store.clone().expect("stored");
    assert_eq!(stored.issuer, NAMED_ISSUER);
    assert_eq!(stored.token_endpoint, NAMED_TOKEN);
    assert_eq!(stored.client.issuer, NAMED_ISSUER);
    assert_eq!(stored.settings.authorization_server, Some(named(true)));
}

#[test]
fn a_named_issuer_is_asked_for_its_metadata_and_no_prm_is_fetched() {
    let mut at = Scenario::with_config(|c| c.authorization_server = Some(named(false))).idle();
    challenge(&mut at);
    let first = at.expect_fetch(Step::ServerMetadata).url.clone();
    assert!(first.starts_with(NAMED_ISSUER), "{first}");
    let meta = json!({
        "issuer": NAMED_ISSUER,
        "authorization_endpoint": NAMED_AUTHORIZE,
        "token_endpoint": NAMED_TOKEN,
        "code_challenge_methods_supported": ["S256"],
        "registration_endpoint": NAMED_REGISTER,
    });
    at.respond_json(200, &meta);
    at.expect(|o| matches!(o, Output::ListenLoopback { .. }), "listen");
    assert!(at.log.iter().all(|o| !matches!(
        o,
        Output::Fetch {
            step: Step::ResourceMetadata,
            ..
        }
    )));
}

#[test]
fn a_named_issuer_without_metadata_asks_for_its_endpoints() {
    let mut at = Scenario::with_config(|c| c.authorization_server = Some(named(false))).idle();
    challenge(&mut at);
    let mut last = Vec::new();
    while at
        .last_fetch()
        .is_some_and(|(_, step, _)| step == Step::ServerMetadata)
    {
        last = at.respond_status(404);
    }
    let e = failure(&last).expect("failed");
    assert!(matches!(e, Error::NoServerMetadata { .. }), "{e:?}");
    assert!(e.to_string().contains("give its endpoints"), "{e}");
}

#[test]
fn named_urls_pass_the_url_policy() {
    for (issuer, authz) in [
        ("http://login.example.org", NAMED_AUTHORIZE),
        (NAMED_ISSUER, "http://login.example.org/authorize"),
        (NAMED_ISSUER, "https://169.254.169.254/authorize"),
    ] {
        let mut config = Config::new(SERVER);
        config.authorization_server = Some(KnownAuthorizationServer {
            issuer: issuer.into(),
            endpoints: Some(ServerEndpoints {
                authorization_endpoint: authz.into(),
                token_endpoint: NAMED_TOKEN.into(),
                registration_endpoint: None,
            }),
        });
        let e = Machine::new(config, SeededRng::from_seed(SEED)).expect_err(authz);
        assert!(matches!(e, Error::InsecureUrl { .. }), "{e:?}");
    }
}

#[test]
fn stored_choices_come_back_into_a_bare_configuration() {
    let extra = params(&[("audience", "api")]);
    let mut stored = canned_session(Some(T0.wall + 60), Some(REFRESH_TOKEN));
    stored.settings.authorize_params = extra.clone();
    stored.settings.authorization_server = Some(named(true));
    let reloaded = mcp_oauth_core::Session::from_json(&stored.to_json()).expect("loads");
    let mut config = Config::new(SERVER);
    config.apply_session_settings(&reloaded.settings);
    assert_eq!(config.authorize_params, extra);
    assert_eq!(config.authorization_server, Some(named(true)));
}

#[test]
fn a_stale_dcr_client_refused_as_unauthorized_client_registers_again_once() {
    let mut stored = canned_session(None, None);
    stored.tokens = None;
    let mut at = Scenario::new().stored(stored).listening();
    at.feed(Input::LoopbackReady {
        redirect_uri: REDIRECT_URI.into(),
    });
    at.callback_ok();
    at.respond_json(400, &json!({"error": "unauthorized_client"}));
    at.expect(
        |o| matches!(o, Output::ListenLoopback { .. }),
        "a fresh listener",
    );
    at.feed(Input::LoopbackReady {
        redirect_uri: REDIRECT_URI.into(),
    });
    at.expect_fetch(Step::Registration);
    at.respond_json(201, &with(dcr_doc(), "client_id", json!("client-new")));
    at.callback_ok();
    at.respond_json(200, &token_doc());
    let session = at.store.clone().expect("stored");
    assert_eq!(session.client.client_id, "client-new");
    assert_eq!(session.client.kind, ClientKind::Dynamic);
}

#[test]
fn a_refused_pre_registered_client_gets_a_clear_message() {
    let mut at = Scenario::with_config(|c| {
        c.client.pre_registered = Some(PreRegisteredClient {
            client_id: "my-app".into(),
            client_secret: None,
            auth_method: None,
            issuer: None,
        })
    })
    .exchanging_code();
    let out = at.respond_json(401, &json!({"error": "invalid_client"}));
    let e = failure(&out).expect("failed");
    assert_eq!(
        e,
        Error::ClientRejected {
            client_id: "my-app".into(),
            code: "invalid_client".into()
        }
    );
    assert!(
        e.to_string().contains("check the client id and secret"),
        "{e}"
    );
    assert!(out
        .iter()
        .all(|o| !matches!(o, Output::Fetch { .. } | Output::ListenLoopback { .. })));
}
