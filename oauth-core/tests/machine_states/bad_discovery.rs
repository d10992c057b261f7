//! Discovery on a bad day: a transient miss (5xx, 429, transport failure, over-size answer) of
//! protected-resource or authorization-server metadata never falls back to the 2025-03-26
//! legacy endpoints, and the final error names the first real cause and its URL. Plain 404s
//! keep the legacy fallback.

use super::*;
use mcp_oauth_core::{HttpResponse, MAX_RESPONSE_BYTES};

const LEGACY_META_URL: &str = "https://mcp.example.com/.well-known/oauth-authorization-server";
const LEGACY_OIDC_URL: &str = "https://mcp.example.com/.well-known/openid-configuration";

fn discovery(step: Step, url: &str, cause: Error) -> Error {
    Error::Discovery {
        step,
        url: url.into(),
        cause: Box::new(cause),
    }
}

fn oversize() -> HttpResponse {
    let mut r = HttpResponse::status(200).with_header("Content-Type", "application/json");
    r.body = vec![b' '; MAX_RESPONSE_BYTES + 1];
    r
}

/// Answers the pending fetch with `resp`, or fails it at the transport level when `None`.
fn miss(at: &mut At, resp: Option<HttpResponse>) -> Vec<Output> {
    match resp {
        Some(r) => at.respond(r),
        None => at.fail_fetch(TransportErrorKind::Connect, "connection refused"),
    }
}

#[test]
fn a_transient_prm_miss_fails_with_its_cause_instead_of_the_legacy_guess() {
    let cases: Vec<(Option<HttpResponse>, Error)> = vec![
        (
            Some(HttpResponse::status(503)),
            Error::HttpStatus {
                step: RM,
                status: 503,
            },
        ),
        (
            Some(HttpResponse::json(
                503,
                &json!({"error": "temporarily_unavailable"}),
            )),
            Error::HttpStatus {
                step: RM,
                status: 503,
            },
        ),
        (
            Some(HttpResponse::status(429).with_header("Retry-After", "5")),
            Error::HttpStatus {
                step: RM,
                status: 429,
            },
        ),
        (Some(oversize()), Error::ResponseTooLarge { step: RM }),
        (
            None,
            Error::Transport {
                step: RM,
                kind: TransportErrorKind::Connect,
                message: "connection refused".into(),
            },
        ),
    ];
    for (first, cause) in cases {
        let mut at = Scenario::new().at_prm_fetch();
        // The root well-known URI may still have the document.
        assert_eq!(describe_all(&miss(&mut at, first)), [get(RM, PRM_ROOT_URL)]);
        let out = at.respond_status(404);
        let err = discovery(RM, PRM_PATH_URL, cause);
        assert!(err.is_transient(), "{err}");
        assert_eq!(describe_all(&out), fail_lines(err, auth_required()));
        let log = describe_all(&at.log);
        assert!(!log.contains(&get(SM, LEGACY_META_URL)), "{log:?}");
        assert!(!at.machine.is_busy());
    }
}

#[test]
fn the_message_names_the_url_and_the_status() {
    let mut at = Scenario::new().at_prm_fetch();
    at.respond_json(503, &json!({"error": "temporarily_unavailable"}));
    at.respond_status(404);
    let Some(Output::Event(mcp_oauth_core::Event::Failed(err))) = at.outputs.get(1) else {
        panic!("{:?}", describe_all(&at.outputs));
    };
    assert_eq!(
        err.to_string(),
        format!(
            "the protected-resource metadata at {PRM_PATH_URL} answered HTTP 503 (unavailable \
             for now; try again later)"
        )
    );
}

#[test]
fn a_later_candidate_still_wins_over_an_earlier_transient_miss() {
    let mut at = Scenario::new().at_prm_fetch();
    at.respond_status(502);
    let out = at.respond_json(
        200,
        &with(prm_doc(), "resource", json!("https://mcp.example.com")),
    );
    assert_eq!(describe_all(&out), [get(SM, META_URL)]);
    // Metadata 404s afterwards: the earlier PRM miss is not blamed.
    at.respond_status(404);
    let out = at.respond_status(404);
    assert_eq!(
        describe_all(&out),
        fail_lines(Error::DiscoveryFailed, auth_required())
    );
}

#[test]
fn plain_404s_and_garbage_still_take_the_legacy_fallback() {
    let mut at = Scenario::new().at_prm_fetch();
    let mut html = HttpResponse::status(200).with_header("Content-Type", "text/html");
    html.body = b"<!doctype html><title>SPA</title>".to_vec();
    assert_eq!(describe_all(&at.respond(html)), [get(RM, PRM_ROOT_URL)]);
    assert_eq!(
        describe_all(&at.respond_status(404)),
        [get(SM, LEGACY_META_URL)]
    );
    assert_eq!(
        describe_all(&at.respond_status(404)),
        [get(SM, LEGACY_OIDC_URL)]
    );
    assert_eq!(describe_all(&at.respond_status(404)), ["listen None"]);
}

#[test]
fn a_transient_legacy_metadata_miss_never_falls_back_to_default_endpoints() {
    let mut at = Scenario::new().at_prm_fetch();
    at.respond_status(404);
    at.respond_status(404);
    assert_eq!(
        describe_all(&at.respond_status(500)),
        [get(SM, LEGACY_OIDC_URL)]
    );
    let out = at.respond_status(404);
    let err = discovery(
        SM,
        LEGACY_META_URL,
        Error::HttpStatus {
            step: SM,
            status: 500,
        },
    );
    assert_eq!(describe_all(&out), fail_lines(err, auth_required()));
    assert!(!describe_all(&at.log).contains(&"listen None".to_string()));
}

#[test]
fn without_legacy_discovery_the_first_real_cause_is_named() {
    let mut at = Scenario::with_config(|c| c.legacy_discovery = false).at_prm_fetch();
    at.respond_json(200, &json!({"resource": SERVER}));
    let out = at.respond_status(404);
    let err = discovery(
        RM,
        PRM_PATH_URL,
        Error::Malformed {
            step: RM,
            detail: "`authorization_servers` missing, empty or not an array".into(),
        },
    );
    assert!(!err.is_transient());
    assert_eq!(describe_all(&out), fail_lines(err, auth_required()));
}

#[test]
fn a_transient_miss_wins_over_an_earlier_non_transient_one() {
    let mut at = Scenario::new().at_prm_fetch();
    at.respond_status(403);
    let out = at.fail_fetch(TransportErrorKind::Timeout, "timed out");
    let err = discovery(
        RM,
        PRM_ROOT_URL,
        Error::Transport {
            step: RM,
            kind: TransportErrorKind::Timeout,
            message: "timed out".into(),
        },
    );
    assert_eq!(describe_all(&out), fail_lines(err, auth_required()));
}

#[test]
fn authorization_server_metadata_misses_are_named_too() {
    let mut at = Scenario::new().at_meta_fetch();
    assert_eq!(describe_all(&at.respond(oversize())), [get(SM, OIDC_URL)]);
    let out = at.respond_status(404);
    let err = discovery(SM, META_URL, Error::ResponseTooLarge { step: SM });
    assert!(err.is_transient());
    assert_eq!(describe_all(&out), fail_lines(err, auth_required()));
}
