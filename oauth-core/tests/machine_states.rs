//! Scenario tests, one module per machine state (DESIGN.md §4, ureq-proto style): every input
//! that matters in that state, with the exact outputs (order and content) and the resulting
//! status. The [`scenario`] builder puts the machine in the state; canned documents are in
//! `scenario/mod.rs`.
//!
//! Failures follow one contract (io.rs `Event::Failed`, machine.rs `fail`): `Status(Failed)`,
//! `Event::Failed`, then back to `AuthorizationRequired` (or `Authorized` while a usable token
//! exists), never a dead end. Once the loopback listener is up (`LoopbackReady`), every end of the
//! browser step, success or failure, emits `CloseLoopback` (io.rs: "The browser step is over
//! (success or failure): stop the listener").

mod scenario;

use std::time::Duration;

use mcp_oauth_core::pkce::challenge_s256;
use mcp_oauth_core::{
    AuthStatus, ClientAuthMethod, ClientKind, Deadline, DeadlineReason, Error, Input, Output,
    PreRegisteredClient, RequestId, Step, SESSION_VERSION,
};
use scenario::*;
use serde_json::{json, Value};

const RM: Step = Step::ResourceMetadata;
const SM: Step = Step::ServerMetadata;

/// `Status(Failed)`, `Failed(err)`, then `back_to`.
fn fail_lines(err: Error, back_to: AuthStatus) -> Vec<String> {
    vec![
        status(AuthStatus::Failed {
            reason: err.to_string(),
        }),
        format!("failed {err:?}"),
        status(back_to),
    ]
}

/// `CloseLoopback` followed by [`fail_lines`].
fn close_and_fail(err: Error, back_to: AuthStatus) -> Vec<String> {
    let mut v = vec!["close-loopback".to_string()];
    v.extend(fail_lines(err, back_to));
    v
}

fn waiting() -> AuthStatus {
    AuthStatus::WaitingForBrowser {
        server_host: Some(AS_HOST.into()),
    }
}

fn challenge(status: u16, value: &str) -> Input {
    Input::Challenge {
        status,
        www_authenticate: vec![value.to_string()],
    }
}

fn loopback_ready() -> Input {
    Input::LoopbackReady {
        redirect_uri: REDIRECT_URI.into(),
    }
}

fn fetches(outputs: &[Output]) -> usize {
    outputs
        .iter()
        .filter(|o| matches!(o, Output::Fetch { .. }))
        .count()
}

fn param(url: &str, name: &str) -> Option<String> {
    query_pairs(url)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn form(at: &At, step: Step) -> Vec<(String, String)> {
    at.expect_fetch(step).form_pairs()
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Every `OpenBrowser` must find the listener up: a `ListenLoopback` before it with no
/// `CloseLoopback` in between (the browser is sent to the loopback redirect URI).
fn assert_listener_up_at_every_browser_step(log: &[Output]) {
    let mut open = false;
    for o in log {
        match o {
            Output::ListenLoopback { .. } => open = true,
            Output::CloseLoopback => open = false,
            Output::OpenBrowser(_) => assert!(
                open,
                "OpenBrowser without a live listener: {:?}",
                describe_all(log)
            ),
            _ => {}
        }
    }
}

mod idle {
    use super::*;

    #[test]
    fn challenge_401_with_same_origin_resource_metadata_fetches_only_that_url() {
        let url = "https://mcp.example.com/.well-known/custom-prm";
        let at = Scenario::new()
            .challenge(&[&format!(r#"Bearer resource_metadata="{url}""#)])
            .at_prm_fetch();
        assert_eq!(
            describe_all(&at.outputs),
            [status(AuthStatus::Working), get(RM, url)]
        );
        let r = at.expect_fetch(RM);
        assert_eq!(r.headers, pairs(&[("Accept", "application/json")]));
        assert!(r.body.is_empty());
        assert_eq!(at.machine.status(), &AuthStatus::Working);
        assert!(at.machine.is_busy());
    }

    #[test]
    fn challenge_401_with_relative_resource_metadata_resolves_against_the_server_origin() {
        let at = Scenario::new()
            .challenge(&[r#"Bearer resource_metadata="/.well-known/custom-prm""#])
            .at_prm_fetch();
        assert_eq!(
            describe_all(&at.outputs),
            [
                status(AuthStatus::Working),
                get(RM, "https://mcp.example.com/.well-known/custom-prm")
            ]
        );
    }

    #[test]
    fn challenge_401_with_cross_origin_resource_metadata_probes_path_then_root() {
        let mut at = Scenario::new()
            .challenge(&[r#"Bearer resource_metadata="https://evil.example.com/.well-known/oauth-protected-resource""#])
            .at_prm_fetch();
        assert_eq!(
            describe_all(&at.outputs),
            [status(AuthStatus::Working), get(RM, PRM_PATH_URL)]
        );
        assert_eq!(
            describe_all(&at.respond_status(404)),
            [get(RM, PRM_ROOT_URL)]
        );
        assert!(!describe_all(&at.log).iter().any(|l| l.contains("evil")));
    }

    #[test]
    fn challenge_401_without_resource_metadata_probes_path_then_root() {
        let mut at = Scenario::new().at_prm_fetch();
        assert_eq!(
            describe_all(&at.outputs),
            [status(AuthStatus::Working), get(RM, PRM_PATH_URL)]
        );
        assert_eq!(
            describe_all(&at.respond_status(404)),
            [get(RM, PRM_ROOT_URL)]
        );
    }

    #[test]
    fn proactive_authorize_starts_discovery() {
        let mut at = Scenario::new().idle();
        at.command(|m, now| m.authorize(now));
        assert_eq!(
            describe_all(&at.outputs),
            [status(AuthStatus::Working), get(RM, PRM_PATH_URL)]
        );
    }

    #[test]
    fn forbidden_403_insufficient_scope_without_session_starts_discovery_for_the_challenged_scope()
    {
        let mut at = Scenario::new().idle();
        let out = at.feed(challenge(
            403,
            r#"Bearer error="insufficient_scope", scope="mcp:admin""#,
        ));
        assert_eq!(
            describe_all(&out),
            [status(AuthStatus::Working), get(RM, PRM_PATH_URL)]
        );
        at.respond_json(200, &prm_doc());
        at.respond_json(200, &meta_doc());
        at.feed(loopback_ready());
        at.respond_json(201, &dcr_doc());
        let url = at.browser_url.clone().expect("OpenBrowser");
        assert_eq!(
            param(&url, "scope").as_deref(),
            Some("mcp:admin offline_access")
        );
    }

    #[test]
    fn forbidden_403_without_insufficient_scope_fails_forbidden_without_fetch() {
        let mut at = Scenario::new().idle();
        let out = at.feed(challenge(403, r#"Bearer error="invalid_token""#));
        assert_eq!(
            describe_all(&out),
            [format!("failed {:?}", Error::Forbidden)]
        );
        let out = at.feed(Input::Challenge {
            status: 403,
            www_authenticate: vec![],
        });
        assert_eq!(
            describe_all(&out),
            [format!("failed {:?}", Error::Forbidden)]
        );
        assert_eq!(at.machine.status(), &auth_required());
        assert!(!at.machine.is_busy());
    }

    #[test]
    fn session_loaded_with_tokens_is_authorized_with_zero_fetches() {
        let session = canned_session(Some(T0.wall + 3600), Some(REFRESH_TOKEN));
        let mut at = Scenario::new().stored(session).idle();
        assert_eq!(describe_all(&at.log), [status(AuthStatus::Authorized)]);
        assert_eq!(at.header(), format!("Bearer {ACCESS_TOKEN}"));
        assert!(at.outputs.is_empty());
        assert_eq!(fetches(&at.log), 0);
    }

    #[test]
    fn session_loaded_without_tokens_requires_authorization_and_names_the_as() {
        let mut session = canned_session(None, None);
        session.tokens = None;
        let mut at = Scenario::new().stored(session).idle();
        let host = AuthStatus::AuthorizationRequired {
            server_host: Some(AS_HOST.into()),
        };
        assert_eq!(describe_all(&at.log), [status(host.clone())]);
        assert_eq!(at.machine.status(), &host);
        assert_eq!(at.header(), "LoginRequired");
    }

    #[test]
    fn session_loaded_for_another_server_is_ignored() {
        let mut session = canned_session(Some(T0.wall + 3600), None);
        session.server = "https://other.example.com/mcp".into();
        let mut at = Scenario::new().stored(session).idle();
        assert!(at.log.is_empty());
        assert!(at.machine.session().is_none());
        assert_eq!(at.header(), "LoginRequired");
    }

    /// Only versions `Session::from_json` accepts (1..=SESSION_VERSION) may be used.
    #[test]
    fn session_loaded_with_an_unsupported_version_is_ignored() {
        for version in [SESSION_VERSION + 1, 0] {
            let mut session = canned_session(Some(T0.wall + 3600), None);
            session.version = version;
            let mut at = Scenario::new().stored(session).idle();
            assert!(
                at.log.is_empty(),
                "version {version}: {:?}",
                describe_all(&at.log)
            );
            assert_eq!(at.header(), "LoginRequired", "version {version}");
        }
    }

    #[test]
    fn authorization_header_variants() {
        // No session, idle: login required.
        let mut at = Scenario::new().idle();
        assert_eq!(at.header(), "LoginRequired");
        // No session, login in flight: pending.
        let mut at = Scenario::new().at_prm_fetch();
        assert_eq!(at.header(), "Pending");
        assert!(at.outputs.is_empty());
        // Valid token: ready.
        let fresh = canned_session(Some(T0.wall + 3600), Some(REFRESH_TOKEN));
        let mut at = Scenario::new().stored(fresh).idle();
        assert_eq!(at.header(), format!("Bearer {ACCESS_TOKEN}"));
        // Unknown expiry: ready (valid until a 401).
        let mut at = Scenario::new().stored(canned_session(None, None)).idle();
        assert_eq!(at.header(), format!("Bearer {ACCESS_TOKEN}"));
        // Within the 60 s margin with a refresh token: pending, and the refresh starts.
        let soon = canned_session(Some(T0.wall + 30), Some(REFRESH_TOKEN));
        let mut at = Scenario::new().stored(soon).idle();
        assert_eq!(at.header(), "Pending");
        assert_eq!(
            describe_all(&at.outputs),
            [status(AuthStatus::Working), "load-session".into()]
        );
        // Within the margin, no refresh token, not yet expired: still usable.
        let mut at = Scenario::new()
            .stored(canned_session(Some(T0.wall + 30), None))
            .idle();
        assert_eq!(at.header(), format!("Bearer {ACCESS_TOKEN}"));
        assert!(at.outputs.is_empty());
        // Expired, no refresh token: login required.
        let mut at = Scenario::new()
            .stored(canned_session(Some(T0.wall), None))
            .idle();
        assert_eq!(at.header(), "LoginRequired");
        assert!(at.outputs.is_empty());
    }

    #[test]
    fn non_interactive_reports_login_required_without_any_fetch() {
        let mut at = Scenario::with_config(|c| c.interactive = false).idle();
        let out = at.feed(challenge(401, CHALLENGE));
        assert_eq!(
            describe_all(&out),
            fail_lines(Error::LoginRequired, auth_required())
        );
        at.command(|m, now| m.authorize(now));
        assert_eq!(
            describe_all(&at.outputs),
            fail_lines(Error::LoginRequired, auth_required())
        );
        assert_eq!(fetches(&at.log), 0);
        assert!(!at
            .log
            .iter()
            .any(|o| matches!(o, Output::ListenLoopback { .. })));
        assert_eq!(at.header(), "LoginRequired");
    }

    /// A rejected token without a refresh token, login impossible: the status must not claim
    /// `Authorized` when `authorization_header` answers `LoginRequired`.
    #[test]
    fn non_interactive_401_without_refresh_token_ends_authorization_required() {
        let session = canned_session(Some(T0.wall + 3600), None);
        let mut at = Scenario::with_config(|c| c.interactive = false)
            .stored(session)
            .idle();
        let out = at.feed(challenge(401, CHALLENGE));
        assert_eq!(fetches(&out), 0);
        assert_eq!(at.header(), "LoginRequired");
        assert_eq!(
            at.machine.status(),
            &AuthStatus::AuthorizationRequired {
                server_host: Some(AS_HOST.into())
            },
            "status after a rejected token and a failed login: {:?}",
            describe_all(&out)
        );
    }
}

mod fetching_prm {
    use super::*;

    #[test]
    fn not_found_tries_the_next_candidate_then_legacy_metadata_at_the_origin() {
        let mut at = Scenario::new().at_prm_fetch();
        assert_eq!(
            describe_all(&at.respond_status(404)),
            [get(RM, PRM_ROOT_URL)]
        );
        // No PRM anywhere: 2025-03-26 servers keep the AS at the server origin (L2).
        assert_eq!(
            describe_all(&at.respond_status(404)),
            [get(
                SM,
                "https://mcp.example.com/.well-known/oauth-authorization-server"
            )]
        );
        assert_eq!(
            describe_all(&at.respond_status(404)),
            [get(
                SM,
                "https://mcp.example.com/.well-known/openid-configuration"
            )]
        );
        // No metadata either (L3): default endpoints at the origin.
        assert_eq!(describe_all(&at.respond_status(404)), ["listen None"]);
        let out = at.feed(loopback_ready());
        assert_eq!(
            describe_all(&out),
            [post(Step::Registration, "https://mcp.example.com/register")]
        );
        at.respond_json(201, &dcr_doc());
        let url = at.browser_url.clone().expect("OpenBrowser");
        assert!(
            url.starts_with("https://mcp.example.com/authorize?"),
            "{url}"
        );
        assert_eq!(param(&url, "resource").as_deref(), Some(SERVER));
    }

    #[test]
    fn no_prm_without_legacy_discovery_fails() {
        let mut at = Scenario::with_config(|c| c.legacy_discovery = false).at_prm_fetch();
        at.respond_status(404);
        let out = at.respond_status(404);
        assert_eq!(
            describe_all(&out),
            fail_lines(Error::DiscoveryFailed, auth_required())
        );
    }

    #[test]
    fn resource_mismatch_fails_without_further_fetch() {
        let mut at = Scenario::new().at_prm_fetch();
        let evil = with(prm_doc(), "resource", json!("https://evil.example.com/mcp"));
        let out = at.respond_json(200, &evil);
        let err = Error::ResourceMismatch {
            expected: SERVER.into(),
            found: "https://evil.example.com/mcp".into(),
        };
        assert_eq!(describe_all(&out), fail_lines(err, auth_required()));
        assert!(!at.machine.is_busy());
    }

    #[test]
    fn unknown_and_stale_request_ids_are_ignored() {
        let mut at = Scenario::new().at_prm_fetch();
        let first = at.id.expect("fetch id");
        let out = at.feed(Input::HttpResponse {
            id: RequestId(999),
            response: mcp_oauth_core::HttpResponse::json(200, &prm_doc()),
        });
        assert!(out.is_empty());
        assert_eq!(at.machine.status(), &AuthStatus::Working);
        at.respond_status(404); // path → root
        assert_ne!(at.id, Some(first));
        // A late answer to the first probe: stale, ignored.
        let out = at.feed(Input::HttpResponse {
            id: first,
            response: mcp_oauth_core::HttpResponse::json(200, &prm_doc()),
        });
        assert!(out.is_empty());
        let out = at.feed(Input::HttpFailed {
            id: first,
            error: "late".into(),
        });
        assert!(out.is_empty());
        // The current probe still works.
        assert_eq!(
            describe_all(&at.respond_json(200, &prm_doc())),
            [get(SM, META_URL)]
        );
    }

    #[test]
    fn transport_failure_tries_the_next_candidate() {
        let mut at = Scenario::new().at_prm_fetch();
        assert_eq!(
            describe_all(&at.fail_fetch("connection refused")),
            [get(RM, PRM_ROOT_URL)]
        );
    }

    #[test]
    fn malformed_document_tries_the_next_candidate() {
        let mut at = Scenario::new().at_prm_fetch();
        let out = at.respond_json(
            200,
            &json!({"resource": SERVER, "authorization_servers": []}),
        );
        assert_eq!(describe_all(&out), [get(RM, PRM_ROOT_URL)]);
    }

    #[test]
    fn accepted_prm_fetches_rfc8414_metadata_of_its_first_issuer() {
        let at = Scenario::new().at_meta_fetch();
        assert_eq!(describe_all(&at.outputs), [get(SM, META_URL)]);
        assert_eq!(
            at.expect_fetch(SM).headers,
            pairs(&[("Accept", "application/json")])
        );
    }
}

mod fetching_meta {
    use super::*;

    #[test]
    fn issuer_mismatch_fails_hard_without_trying_the_next_candidate() {
        let mut at = Scenario::new().at_meta_fetch();
        let out = at.respond_json(
            200,
            &with(meta_doc(), "issuer", json!("https://as.example.com/")),
        );
        let err = Error::IssuerMismatch {
            expected: ISSUER.into(),
            found: "https://as.example.com/".into(),
        };
        assert_eq!(describe_all(&out), fail_lines(err, auth_required()));
    }

    #[test]
    fn no_s256_is_pkce_unsupported() {
        for methods in [Value::Null, json!(["plain"])] {
            let mut at = Scenario::new().at_meta_fetch();
            let doc = with(meta_doc(), "code_challenge_methods_supported", methods);
            let out = at.respond_json(200, &doc);
            assert_eq!(
                describe_all(&out),
                fail_lines(Error::PkceUnsupported, auth_required())
            );
        }
    }

    #[test]
    fn no_s256_proceeds_when_not_required_and_still_sends_s256() {
        let doc = with(meta_doc(), "code_challenge_methods_supported", Value::Null);
        let mut at = Scenario::with_config(|c| c.require_pkce_s256 = false)
            .meta(doc)
            .at_meta_fetch();
        let out = at.respond_json(200, &at.scenario.meta.clone());
        assert_eq!(describe_all(&out), ["listen None"]);
        at.feed(loopback_ready());
        at.respond_json(201, &dcr_doc());
        let url = at.browser_url.clone().expect("OpenBrowser");
        assert_eq!(
            param(&url, "code_challenge_method").as_deref(),
            Some("S256")
        );
    }

    #[test]
    fn root_issuer_falls_back_to_oidc_then_fails() {
        let mut at = Scenario::new().at_meta_fetch();
        assert_eq!(describe_all(&at.respond_status(404)), [get(SM, OIDC_URL)]);
        let out = at.respond_status(404);
        assert_eq!(
            describe_all(&out),
            fail_lines(Error::DiscoveryFailed, auth_required())
        );
    }

    #[test]
    fn transport_failure_tries_the_next_candidate() {
        let mut at = Scenario::new().at_meta_fetch();
        assert_eq!(describe_all(&at.fail_fetch("timeout")), [get(SM, OIDC_URL)]);
    }

    #[test]
    fn path_issuer_tries_three_urls_in_order_and_never_the_root() {
        let issuer = "https://as.example.com/tenant1";
        let mut at = Scenario::new()
            .prm(with(prm_doc(), "authorization_servers", json!([issuer])))
            .at_meta_fetch();
        assert_eq!(
            describe_all(&at.outputs),
            [get(
                SM,
                "https://as.example.com/.well-known/oauth-authorization-server/tenant1"
            )]
        );
        assert_eq!(
            describe_all(&at.respond_status(404)),
            [get(
                SM,
                "https://as.example.com/.well-known/openid-configuration/tenant1"
            )]
        );
        assert_eq!(
            describe_all(&at.respond_status(404)),
            [get(
                SM,
                "https://as.example.com/tenant1/.well-known/openid-configuration"
            )]
        );
        let out = at.respond_status(404);
        assert_eq!(
            describe_all(&out),
            fail_lines(Error::DiscoveryFailed, auth_required())
        );
        let log = describe_all(&at.log);
        assert!(!log.contains(&get(SM, META_URL)) && !log.contains(&get(SM, OIDC_URL)));
    }

    #[test]
    fn path_issuer_metadata_from_the_oidc_fallback_is_used() {
        let issuer = "https://as.example.com/tenant1";
        let mut at = Scenario::new()
            .prm(with(prm_doc(), "authorization_servers", json!([issuer])))
            .at_meta_fetch();
        at.respond_status(404);
        let out = at.respond_json(200, &with(meta_doc(), "issuer", json!(issuer)));
        assert_eq!(describe_all(&out), ["listen None"]);
    }

    #[test]
    fn endpoint_failing_the_url_policy_is_insecure_url() {
        let mut at = Scenario::new().at_meta_fetch();
        let doc = with(
            meta_doc(),
            "token_endpoint",
            json!("http://as.example.com/token"),
        );
        let out = at.respond_json(200, &doc);
        let err = Error::InsecureUrl {
            url: "http://as.example.com/token".into(),
            reason: "plain http is only allowed for loopback hosts".into(),
        };
        assert_eq!(describe_all(&out), fail_lines(err, auth_required()));
    }

    #[test]
    fn missing_token_endpoint_is_malformed() {
        let mut at = Scenario::new().at_meta_fetch();
        let out = at.respond_json(200, &with(meta_doc(), "token_endpoint", Value::Null));
        let err = Error::Malformed {
            step: SM,
            detail: "authorization_endpoint and token_endpoint are required".into(),
        };
        assert_eq!(describe_all(&out), fail_lines(err, auth_required()));
    }
}

mod listening {
    use super::*;

    #[test]
    fn metadata_accepted_asks_for_a_listener() {
        let at = Scenario::new().listening();
        assert_eq!(describe_all(&at.outputs), ["listen None"]);
        assert_eq!(at.machine.status(), &AuthStatus::Working);
    }

    #[test]
    fn loopback_ready_posts_a_dcr_request_with_the_exact_json_body() {
        let at = Scenario::new().registering();
        assert_eq!(
            describe_all(&at.outputs),
            [post(Step::Registration, REGISTER_URL)]
        );
        let r = at.expect_fetch(Step::Registration);
        assert_eq!(
            r.headers,
            pairs(&[
                ("Content-Type", "application/json"),
                ("Accept", "application/json")
            ])
        );
        let body: Value = serde_json::from_slice(&r.body).expect("JSON body");
        assert_eq!(
            body,
            json!({
                "client_name": "mcp-oauth",
                "redirect_uris": [REDIRECT_URI],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
                "application_type": "native",
                "scope": "mcp:read mcp:write offline_access"
            })
        );
    }

    #[test]
    fn cimd_when_configured_and_supported_skips_dcr() {
        let cimd = "https://client.example.com/oauth/metadata.json";
        let meta = with(
            meta_doc(),
            "client_id_metadata_document_supported",
            json!(true),
        );
        let at = Scenario::with_config(|c| c.client.metadata_document_url = Some(cimd.into()))
            .meta(meta)
            .waiting_callback();
        assert_eq!(
            describe_all(&at.outputs),
            ["open-browser".to_string(), status(waiting())]
        );
        assert!(!describe_all(&at.log)
            .iter()
            .any(|l| l.contains("Registration")));
        let url = at.browser_url.clone().expect("OpenBrowser");
        assert_eq!(param(&url, "client_id").as_deref(), Some(cimd));
    }

    #[test]
    fn cimd_configured_but_unsupported_falls_back_to_dcr() {
        let cimd = "https://client.example.com/oauth/metadata.json";
        let at = Scenario::with_config(|c| c.client.metadata_document_url = Some(cimd.into()))
            .registering();
        assert_eq!(
            describe_all(&at.outputs),
            [post(Step::Registration, REGISTER_URL)]
        );
    }

    fn pre_registered(issuer: Option<&str>) -> PreRegisteredClient {
        PreRegisteredClient {
            client_id: "pre-client".into(),
            client_secret: Some(mcp_oauth_core::ClientSecret::new("pre-secret")),
            auth_method: None,
            issuer: issuer.map(str::to_string),
        }
    }

    #[test]
    fn pre_registered_client_skips_dcr_and_authenticates_at_the_token_endpoint() {
        let mut at =
            Scenario::with_config(|c| c.client.pre_registered = Some(pre_registered(Some(ISSUER))))
                .waiting_callback();
        assert_eq!(
            describe_all(&at.outputs),
            ["open-browser".to_string(), status(waiting())]
        );
        assert!(!describe_all(&at.log)
            .iter()
            .any(|l| l.contains("Registration")));
        let url = at.browser_url.clone().expect("OpenBrowser");
        assert_eq!(param(&url, "client_id").as_deref(), Some("pre-client"));
        at.callback_ok();
        let r = at.expect_fetch(Step::TokenExchange);
        // base64("pre-client:pre-secret"); the AS lists client_secret_basic (RFC 6749 §2.3.1).
        assert_eq!(
            r.header("Authorization"),
            Some("Basic cHJlLWNsaWVudDpwcmUtc2VjcmV0")
        );
        assert!(!r
            .form_pairs()
            .iter()
            .any(|(k, _)| k == "client_id" || k == "client_secret"));
    }

    #[test]
    fn pre_registered_client_bound_to_another_issuer_fails() {
        let mut at = Scenario::with_config(|c| {
            c.client.pre_registered = Some(pre_registered(Some("https://other-as.example.com")))
        })
        .listening();
        let out = at.feed(loopback_ready());
        let err = Error::PreRegisteredIssuerMismatch {
            configured: "https://other-as.example.com".into(),
            discovered: ISSUER.into(),
        };
        assert_eq!(
            describe_all(&out),
            close_and_fail(err, auth_required_at_as())
        );
    }

    #[test]
    fn no_registration_path_is_registration_unavailable() {
        let mut at = Scenario::new()
            .meta(with(meta_doc(), "registration_endpoint", Value::Null))
            .listening();
        let out = at.feed(loopback_ready());
        assert_eq!(
            describe_all(&out),
            close_and_fail(Error::RegistrationUnavailable, auth_required_at_as())
        );
    }

    #[test]
    fn loopback_failed_fails_with_a_sanitised_message() {
        let mut at = Scenario::new().listening();
        let out = at.feed(Input::LoopbackFailed {
            error: "address in use\n\u{1b}[31m".into(),
        });
        let err = Error::Config("loopback listener: address in use[31m".into());
        assert_eq!(
            describe_all(&out),
            close_and_fail(err, auth_required_at_as())
        );
        assert!(!at.machine.is_busy());
    }

    #[test]
    fn loopback_inputs_outside_listening_are_ignored() {
        let mut at = Scenario::new().at_prm_fetch();
        assert!(at.feed(loopback_ready()).is_empty());
        assert!(at
            .feed(Input::LoopbackFailed { error: "x".into() })
            .is_empty());
        assert_eq!(at.machine.status(), &AuthStatus::Working);
    }
}

mod registering {
    use super::*;

    #[test]
    fn registered_opens_the_browser_with_a_complete_authorization_url() {
        let at = Scenario::new().waiting_callback();
        assert_eq!(
            describe_all(&at.outputs),
            ["open-browser".to_string(), status(waiting())]
        );
        let url = at.browser_url.clone().expect("OpenBrowser");
        assert!(url.starts_with(&format!("{AUTHORIZE_URL}?")), "{url}");
        let q = query_pairs(&url);
        let names: Vec<&str> = q.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "response_type",
                "client_id",
                "redirect_uri",
                "scope",
                "state",
                "code_challenge",
                "code_challenge_method",
                "resource"
            ]
        );
        let v = |n: &str| param(&url, n).unwrap_or_default();
        assert_eq!(v("response_type"), "code");
        assert_eq!(v("client_id"), CLIENT_ID);
        assert_eq!(v("redirect_uri"), REDIRECT_URI);
        assert_eq!(v("scope"), "mcp:read mcp:write offline_access");
        assert!(v("state").len() >= 43, "state too short");
        assert_eq!(v("state"), at.state());
        assert_eq!(v("code_challenge").len(), 43);
        assert_eq!(v("code_challenge_method"), "S256");
        assert_eq!(v("resource"), SERVER);
        assert_eq!(
            at.machine.poll_timeout(),
            Some(Deadline {
                at: T0.instant + Duration::from_secs(300),
                reason: DeadlineReason::AuthorizationTimeout
            })
        );
    }

    #[test]
    fn invalid_client_metadata_fails_with_the_oauth_error() {
        let mut at = Scenario::new().registering();
        let out = at.respond_json(
            400,
            &json!({"error": "invalid_client_metadata", "error_description": "bad redirect_uris"}),
        );
        let err = Error::OAuth {
            step: Step::Registration,
            code: "invalid_client_metadata".into(),
            description: Some("bad redirect_uris".into()),
        };
        assert_eq!(
            describe_all(&out),
            close_and_fail(err, auth_required_at_as())
        );
    }

    #[test]
    fn transport_failure_fails_with_the_step() {
        let mut at = Scenario::new().registering();
        let out = at.fail_fetch("connection reset");
        let err = Error::Transport {
            step: Step::Registration,
            message: "connection reset".into(),
        };
        assert_eq!(
            describe_all(&out),
            close_and_fail(err, auth_required_at_as())
        );
    }
}

mod waiting_callback {
    use super::*;

    #[test]
    fn wrong_or_missing_state_is_rejected_and_the_wait_goes_on() {
        let mut at = Scenario::new().waiting_callback();
        for q in [format!("code={CODE}&state=forged"), format!("code={CODE}")] {
            let out = at.callback(&q);
            assert_eq!(
                describe_all(&out),
                [format!("callback-rejected {:?}", Error::StateMismatch)]
            );
            assert_eq!(at.machine.status(), &waiting());
            assert!(at.machine.poll_timeout().is_some());
        }
        let out = describe_all(&at.callback_ok());
        assert!(
            out.contains(&post(Step::TokenExchange, TOKEN_URL)),
            "{out:?}"
        );
    }

    #[test]
    fn duplicate_parameters_are_rejected_and_the_wait_goes_on() {
        let mut at = Scenario::new().waiting_callback();
        let s = at.state();
        let out = at.callback(&format!("code=a&code=b&state={s}"));
        assert_eq!(
            describe_all(&out),
            [format!(
                "callback-rejected {:?}",
                Error::DuplicateParameter("code".into())
            )]
        );
        let out = at.callback(&format!("code=a&state={s}&state={s}"));
        assert_eq!(
            describe_all(&out),
            [format!(
                "callback-rejected {:?}",
                Error::DuplicateParameter("state".into())
            )]
        );
        assert_eq!(at.machine.status(), &waiting());
        assert_eq!(fetches(&at.outputs), 0);
    }

    #[test]
    fn good_callback_closes_the_listener_then_posts_the_exact_token_form() {
        let mut at = Scenario::new().waiting_callback();
        let url = at.browser_url.clone().expect("OpenBrowser");
        let out = at.callback_ok();
        assert_eq!(
            describe_all(&out),
            [
                "close-loopback".to_string(),
                status(AuthStatus::Working),
                post(Step::TokenExchange, TOKEN_URL)
            ]
        );
        let r = at.expect_fetch(Step::TokenExchange);
        assert_eq!(
            r.headers,
            pairs(&[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Accept", "application/json")
            ])
        );
        let form = r.form_pairs();
        let verifier = form.get(3).map(|(_, v)| v.clone()).unwrap_or_default();
        assert_eq!(
            form,
            pairs(&[
                ("grant_type", "authorization_code"),
                ("code", CODE),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", &verifier),
                ("resource", SERVER),
                ("client_id", CLIENT_ID),
            ])
        );
        assert_eq!(verifier.len(), 43);
        assert_eq!(
            Some(challenge_s256(&verifier)),
            param(&url, "code_challenge")
        );
        assert_eq!(at.machine.poll_timeout(), None);
    }

    #[test]
    fn right_state_without_code_or_error_is_malformed() {
        let mut at = Scenario::new().waiting_callback();
        let out = at.callback(&format!("state={}&iss={}", at.state(), enc(ISSUER)));
        let err = Error::Malformed {
            step: Step::Authorization,
            detail: "the authorization response carries neither a code nor an error".into(),
        };
        assert_eq!(
            describe_all(&out),
            close_and_fail(err, auth_required_at_as())
        );
    }

    #[test]
    fn timeout_and_callback_outside_the_browser_step_are_ignored() {
        let mut at = Scenario::new().registering();
        at.advance(Duration::from_secs(3600));
        assert!(at.feed(Input::Timeout).is_empty());
        assert!(at.callback(&format!("code={CODE}&state=x")).is_empty());
        assert_eq!(at.machine.status(), &AuthStatus::Working);
        assert_eq!(at.machine.poll_timeout(), None);
    }

    #[test]
    fn a_pasted_redirect_url_is_accepted() {
        let mut at = Scenario::new().waiting_callback();
        let q = format!(
            "{REDIRECT_URI}?code={CODE}&state={}&iss={}",
            at.state(),
            enc(ISSUER)
        );
        at.callback(&q);
        assert_eq!(
            form(&at, Step::TokenExchange)[1],
            ("code".into(), CODE.into())
        );
    }

    /// RFC 9207 §2.4 table (spec-checklist I3/I4): (advertised, iss) → accepted?
    #[test]
    fn iss_table() {
        let rows: [(bool, Option<&str>, bool); 8] = [
            (true, Some(ISSUER), true),
            (true, None, false),
            (true, Some("https://evil.example.com"), false),
            (true, Some("https://as.example.com/"), false),
            (false, None, true),
            (false, Some(ISSUER), true),
            (false, Some("https://evil.example.com"), false),
            (false, Some("https://AS.example.com"), false),
        ];
        for (advertised, iss, accepted) in rows {
            let meta = with(
                meta_doc(),
                "authorization_response_iss_parameter_supported",
                json!(advertised),
            );
            let mut at = Scenario::new().meta(meta).waiting_callback();
            let mut q = format!("code={CODE}&state={}", at.state());
            if let Some(iss) = iss {
                q.push_str(&format!("&iss={}", enc(iss)));
            }
            let out = at.callback(&q);
            let expected = if accepted {
                vec![
                    "close-loopback".to_string(),
                    status(AuthStatus::Working),
                    post(Step::TokenExchange, TOKEN_URL),
                ]
            } else {
                close_and_fail(Error::IssMismatch, auth_required_at_as())
            };
            assert_eq!(
                describe_all(&out),
                expected,
                "advertised={advertised} iss={iss:?}"
            );
        }
    }

    #[test]
    fn access_denied_fails_with_the_oauth_error() {
        let mut at = Scenario::new().waiting_callback();
        let q = format!(
            "error=access_denied&error_description=The+user+said+no&state={}&iss={}",
            at.state(),
            enc(ISSUER)
        );
        let out = at.callback(&q);
        let err = Error::OAuth {
            step: Step::Authorization,
            code: "access_denied".into(),
            description: Some("The user said no".into()),
        };
        assert_eq!(
            describe_all(&out),
            close_and_fail(err, auth_required_at_as())
        );
        assert_eq!(at.machine.poll_timeout(), None);
    }

    #[test]
    fn timeout_before_the_deadline_is_ignored_after_it_fails() {
        let mut at = Scenario::new().waiting_callback();
        at.advance(Duration::from_secs(299));
        assert!(at.feed(Input::Timeout).is_empty());
        assert_eq!(at.machine.status(), &waiting());
        at.advance(Duration::from_secs(1));
        let out = at.feed(Input::Timeout);
        assert_eq!(
            describe_all(&out),
            close_and_fail(Error::AuthorizationTimeout, auth_required_at_as())
        );
        assert_eq!(at.machine.poll_timeout(), None);
        assert!(!at.machine.is_busy());
        // A callback after the timeout is ignored.
        assert!(at.callback_ok().is_empty());
    }

    #[test]
    fn status_carries_the_as_host_and_other_inputs_are_ignored() {
        let mut at = Scenario::new().waiting_callback();
        assert_eq!(at.machine.status(), &waiting());
        assert!(at.feed(challenge(401, CHALLENGE)).is_empty());
        at.command(|m, now| m.authorize(now));
        assert!(at.outputs.is_empty());
        assert_eq!(at.header(), "Pending");
    }
}

mod exchanging_code {
    use super::*;

    #[test]
    fn token_stored_before_authorized_with_the_full_session() {
        let mut at = Scenario::new().exchanging_code();
        let out = at.respond_json(200, &token_doc());
        assert_eq!(
            describe_all(&out),
            [
                "store-session".to_string(),
                status(AuthStatus::Authorized),
                "authorized".into()
            ]
        );
        let s = at.stored_in_last().expect("StoreSession").clone();
        assert_eq!(s.version, SESSION_VERSION);
        assert_eq!(s.server, SERVER);
        assert_eq!(s.resource.as_deref(), Some(SERVER));
        assert_eq!(s.issuer, ISSUER);
        assert_eq!(s.token_endpoint, TOKEN_URL);
        assert_eq!(s.revocation_endpoint.as_deref(), Some(REVOKE_URL));
        assert_eq!(s.client.kind, ClientKind::Dynamic);
        assert_eq!(s.client.issuer, ISSUER);
        assert_eq!(s.client.client_id, CLIENT_ID);
        assert!(s.client.client_secret.is_none());
        assert_eq!(s.client.auth_method, ClientAuthMethod::None);
        assert_eq!(s.client.redirect_uri.as_deref(), Some(REDIRECT_URI));
        let t = s.tokens.as_ref().expect("tokens");
        assert_eq!(t.access_token.expose_secret(), ACCESS_TOKEN);
        assert_eq!(
            t.refresh_token.as_ref().map(|r| r.expose_secret()),
            Some(REFRESH_TOKEN)
        );
        assert_eq!(t.expires_at, Some(T0.wall + EXPIRES_IN));
        assert_eq!(s.scopes, SCOPES);
        assert_eq!(at.machine.session().map(|m| m.to_json()), Some(s.to_json()));
        assert_eq!(at.header(), format!("Bearer {ACCESS_TOKEN}"));
        assert!(!at.machine.is_busy());
    }

    #[test]
    fn granted_scope_absent_keeps_the_requested_scopes() {
        let at = Scenario::new()
            .token(with(token_doc(), "scope", Value::Null))
            .authorized();
        assert_eq!(
            at.machine.session().map(|s| s.scopes.clone()),
            Some(SCOPES.map(String::from).to_vec())
        );
    }

    #[test]
    fn confidential_dcr_client_uses_basic_authentication() {
        let dcr = with(dcr_doc(), "client_secret", json!("dcr-secret"));
        let dcr = with(
            dcr,
            "token_endpoint_auth_method",
            json!("client_secret_basic"),
        );
        let at = Scenario::new().dcr(201, dcr).exchanging_code();
        let r = at.expect_fetch(Step::TokenExchange);
        // base64("client-abc:dcr-secret")
        assert_eq!(
            r.header("Authorization"),
            Some("Basic Y2xpZW50LWFiYzpkY3Itc2VjcmV0")
        );
        assert!(!r.form_pairs().iter().any(|(k, _)| k == "client_id"));
    }

    /// Feeds `LoopbackReady` if the machine asked for a listener.
    fn through_listener(at: &mut At) {
        if at
            .outputs
            .iter()
            .any(|o| matches!(o, Output::ListenLoopback { .. }))
        {
            at.feed(loopback_ready());
        }
    }

    #[test]
    fn invalid_client_with_a_reused_dcr_client_re_registers_once() {
        let mut stored = canned_session(None, None);
        stored.tokens = None;
        let mut at = Scenario::new().stored(stored).listening();
        // The stored client's port is requested again so its redirect URI stays valid.
        assert_eq!(describe_all(&at.outputs), ["listen Some(49152)"]);
        let out = at.feed(loopback_ready());
        assert_eq!(
            describe_all(&out),
            ["open-browser".to_string(), status(waiting())]
        );
        at.callback_ok();
        assert_eq!(
            form(&at, Step::TokenExchange)[5],
            ("client_id".into(), CLIENT_ID.into())
        );
        at.respond_json(401, &json!({"error": "invalid_client"}));
        through_listener(&mut at);
        at.expect_fetch(Step::Registration);
        at.respond_json(201, &with(dcr_doc(), "client_id", json!("client-new")));
        at.expect(|o| matches!(o, Output::OpenBrowser(_)), "OpenBrowser");
        assert_listener_up_at_every_browser_step(&at.log);
        at.callback_ok();
        assert_eq!(
            form(&at, Step::TokenExchange)[5],
            ("client_id".into(), "client-new".into())
        );
        // A second invalid_client: no more re-registration.
        let out = at.respond_json(401, &json!({"error": "invalid_client"}));
        let err = Error::OAuth {
            step: Step::TokenExchange,
            code: "invalid_client".into(),
            description: None,
        };
        assert_eq!(
            describe_all(&out),
            fail_lines(
                err,
                AuthStatus::AuthorizationRequired {
                    server_host: Some(AS_HOST.into())
                }
            )
        );
    }

    #[test]
    fn invalid_client_with_a_fresh_dcr_client_fails() {
        let mut at = Scenario::new().exchanging_code();
        let out = at.respond_json(400, &json!({"error": "invalid_client"}));
        let err = Error::OAuth {
            step: Step::TokenExchange,
            code: "invalid_client".into(),
            description: None,
        };
        assert_eq!(describe_all(&out), fail_lines(err, auth_required_at_as()));
    }

    #[test]
    fn invalid_grant_fails_and_returns_to_authorization_required() {
        let mut at = Scenario::new().exchanging_code();
        let out = at.respond_json(
            400,
            &json!({"error": "invalid_grant", "error_description": "code expired"}),
        );
        let err = Error::OAuth {
            step: Step::TokenExchange,
            code: "invalid_grant".into(),
            description: Some("code expired".into()),
        };
        assert_eq!(describe_all(&out), fail_lines(err, auth_required_at_as()));
        assert!(!at.machine.is_busy());
        assert_eq!(at.header(), "LoginRequired");
        // Not a dead end: the next 401 starts over.
        let out = at.feed(challenge(401, CHALLENGE));
        assert_eq!(
            describe_all(&out),
            [status(AuthStatus::Working), get(RM, PRM_PATH_URL)]
        );
    }
}

mod authorized {
    use super::*;

    #[test]
    fn header_is_ready_and_nothing_is_pending() {
        let mut at = Scenario::new().authorized();
        assert_eq!(at.header(), format!("Bearer {ACCESS_TOKEN}"));
        assert!(at.outputs.is_empty());
        assert_eq!(at.machine.status(), &AuthStatus::Authorized);
        assert_eq!(at.machine.poll_timeout(), None);
        assert!(!at.machine.is_busy());
    }

    #[test]
    fn expiring_token_reloads_then_refreshes() {
        let mut at = Scenario::new().authorized();
        at.advance(Duration::from_secs(EXPIRES_IN - 30));
        assert_eq!(at.header(), "Pending");
        assert_eq!(
            describe_all(&at.outputs),
            [status(AuthStatus::Working), "load-session".into()]
        );
        let out = at.answer_load();
        assert_eq!(describe_all(&out), [post(Step::Refresh, TOKEN_URL)]);
        assert_eq!(
            form(&at, Step::Refresh),
            pairs(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", REFRESH_TOKEN),
                ("resource", SERVER),
                ("client_id", CLIENT_ID),
            ])
        );
        let out = at.respond_json(
            200,
            &json!({"access_token": "at-2", "token_type": "Bearer", "expires_in": 3600}),
        );
        assert_eq!(
            describe_all(&out),
            [
                "store-session".to_string(),
                status(AuthStatus::Authorized),
                "authorized".into()
            ]
        );
        assert_eq!(at.header(), "Bearer at-2");
    }

    #[test]
    fn a_401_with_a_refresh_token_refreshes_once_then_rediscovers() {
        let mut at = Scenario::new().authorized();
        let out = at.feed(challenge(401, CHALLENGE));
        assert_eq!(
            describe_all(&out),
            [status(AuthStatus::Working), "load-session".into()]
        );
        assert_eq!(at.header(), "Pending");
        assert_eq!(
            describe_all(&at.answer_load()),
            [post(Step::Refresh, TOKEN_URL)]
        );
        at.respond_json(
            200,
            &json!({"access_token": "at-2", "token_type": "Bearer", "expires_in": 3600}),
        );
        assert_eq!(at.header(), "Bearer at-2");
        // The refreshed token is rejected too: full discovery, not another refresh.
        let out = at.feed(challenge(401, CHALLENGE));
        assert_eq!(
            describe_all(&out),
            [status(AuthStatus::Working), get(RM, PRM_PATH_URL)]
        );
    }

    #[test]
    fn request_succeeded_rearms_the_refresh_after_401() {
        let mut at = Scenario::new().authorized();
        at.feed(challenge(401, CHALLENGE));
        at.answer_load();
        at.respond_json(
            200,
            &json!({"access_token": "at-2", "token_type": "Bearer"}),
        );
        at.feed(Input::RequestSucceeded);
        let out = at.feed(challenge(401, CHALLENGE));
        assert_eq!(
            describe_all(&out),
            [status(AuthStatus::Working), "load-session".into()]
        );
    }

    /// 403 `insufficient_scope` → listener, browser, callback, token.
    fn step_up(at: &mut At, scope: &str) -> Vec<Output> {
        let value = format!(r#"Bearer error="insufficient_scope", scope="{scope}""#);
        at.feed(challenge(403, &value));
        let out = at.feed(loopback_ready());
        if out.iter().any(|o| matches!(o, Output::OpenBrowser(_))) {
            at.callback_ok();
            at.respond_json(200, &with(token_doc(), "scope", Value::Null));
        }
        out
    }

    #[test]
    fn insufficient_scope_reauthorizes_with_the_union_reusing_cached_metadata() {
        let mut at = Scenario::new().authorized();
        let out = at.feed(challenge(
            403,
            r#"Bearer error="insufficient_scope", scope="mcp:admin""#,
        ));
        assert_eq!(
            describe_all(&out),
            [status(AuthStatus::Working), "listen Some(49152)".into()]
        );
        // The stored DCR client is reused with the same redirect URI: no registration.
        let out = at.feed(loopback_ready());
        assert_eq!(
            describe_all(&out),
            ["open-browser".to_string(), status(waiting())]
        );
        let url = at.browser_url.clone().expect("OpenBrowser");
        assert_eq!(
            param(&url, "scope").as_deref(),
            Some("mcp:read mcp:write offline_access mcp:admin")
        );
        assert_eq!(param(&url, "client_id").as_deref(), Some(CLIENT_ID));
        assert_eq!(param(&url, "resource").as_deref(), Some(SERVER));
        assert_eq!(
            fetches(&at.log),
            4,
            "PRM, AS metadata, DCR, token only: {:?}",
            describe_all(&at.log)
        );
        // The old token stays usable while the user consents.
        assert_eq!(at.header(), format!("Bearer {ACCESS_TOKEN}"));
    }

    #[test]
    fn the_fourth_authorization_in_a_chain_is_step_up_limit() {
        let mut at = Scenario::new().authorized();
        step_up(&mut at, "mcp:a");
        step_up(&mut at, "mcp:b");
        // The budget is checked before a listener is started: no loopback, no browser.
        let out = at.feed(challenge(
            403,
            r#"Bearer error="insufficient_scope", scope="mcp:c""#,
        ));
        let back = AuthStatus::Authorized;
        assert_eq!(
            describe_all(&out),
            fail_lines(Error::StepUpLimit { attempts: 3 }, back)
        );
        assert!(!at.machine.is_busy());
    }

    /// A challenge naming other metadata than the cached one means another discovery.
    #[test]
    fn insufficient_scope_naming_other_metadata_rediscovers() {
        let mut at = Scenario::new().authorized();
        let url = "https://mcp.example.com/.well-known/oauth-protected-resource/other";
        let value = format!(
            r#"Bearer error="insufficient_scope", scope="mcp:admin", resource_metadata="{url}""#
        );
        let out = at.feed(challenge(403, &value));
        assert_eq!(
            describe_all(&out),
            [status(AuthStatus::Working), get(RM, url)]
        );
    }

    #[test]
    fn request_succeeded_resets_the_step_up_budget() {
        let mut at = Scenario::new().authorized();
        step_up(&mut at, "mcp:a");
        step_up(&mut at, "mcp:b");
        at.feed(Input::RequestSucceeded);
        let out = step_up(&mut at, "mcp:c");
        assert_eq!(
            describe_all(&out),
            ["open-browser".to_string(), status(waiting())]
        );
        assert_eq!(
            at.machine.session().map(|s| s.scopes.join(" ")).as_deref(),
            Some("mcp:read mcp:write offline_access mcp:a mcp:b mcp:c")
        );
    }
}

mod reloading_for_refresh {
    use super::*;

    #[test]
    fn refresh_command_asks_for_the_stored_session() {
        let at = Scenario::new().reloading_for_refresh();
        assert_eq!(
            describe_all(&at.outputs),
            [status(AuthStatus::Working), "load-session".into()]
        );
        assert!(at.machine.is_busy());
    }

    #[test]
    fn a_newer_valid_token_from_another_process_is_adopted_without_refreshing() {
        let mut at = Scenario::new().reloading_for_refresh();
        let mut theirs = at.store.clone().expect("stored");
        if let Some(t) = theirs.tokens.as_mut() {
            t.access_token = mcp_oauth_core::AccessToken::new("at-from-other-process");
            t.expires_at = Some(T0.wall + 7200);
        }
        let out = at.feed(Input::SessionLoaded(Some(theirs)));
        assert_eq!(
            describe_all(&out),
            [status(AuthStatus::Authorized), "authorized".into()]
        );
        assert_eq!(at.header(), "Bearer at-from-other-process");
        assert!(!at.machine.is_busy());
    }

    #[test]
    fn the_same_token_is_refreshed_with_the_re_read_refresh_token() {
        let mut at = Scenario::new().reloading_for_refresh();
        let mut theirs = at.store.clone().expect("stored");
        if let Some(t) = theirs.tokens.as_mut() {
            t.refresh_token = Some(mcp_oauth_core::RefreshToken::new("rt-re-read"));
        }
        let out = at.feed(Input::SessionLoaded(Some(theirs)));
        assert_eq!(describe_all(&out), [post(Step::Refresh, TOKEN_URL)]);
        assert_eq!(
            form(&at, Step::Refresh)[1],
            ("refresh_token".into(), "rt-re-read".into())
        );
    }
}

mod refreshing {
    use super::*;

    fn refreshed_tokens(at: &At) -> (String, Option<String>, Option<u64>) {
        let t = at
            .stored_in_last()
            .and_then(|s| s.tokens.clone())
            .expect("stored tokens");
        (
            t.access_token.expose_secret().to_string(),
            t.refresh_token.map(|r| r.expose_secret().to_string()),
            t.expires_at,
        )
    }

    #[test]
    fn response_without_refresh_token_keeps_the_old_one() {
        let mut at = Scenario::new().refreshing();
        let out = at.respond_json(
            200,
            &json!({"access_token": "at-2", "token_type": "Bearer", "expires_in": 1800}),
        );
        assert_eq!(
            describe_all(&out),
            [
                "store-session".to_string(),
                status(AuthStatus::Authorized),
                "authorized".into()
            ]
        );
        assert_eq!(
            refreshed_tokens(&at),
            (
                "at-2".into(),
                Some(REFRESH_TOKEN.into()),
                Some(T0.wall + 1800)
            )
        );
        assert_eq!(
            at.stored_in_last().map(|s| s.scopes.clone()),
            Some(SCOPES.map(String::from).to_vec())
        );
    }

    #[test]
    fn rotated_refresh_token_is_stored() {
        let mut at = Scenario::new().refreshing();
        at.respond_json(
            200,
            &json!({"access_token": "at-2", "token_type": "Bearer", "refresh_token": "rt-2", "scope": "mcp:read"}),
        );
        assert_eq!(
            refreshed_tokens(&at),
            ("at-2".into(), Some("rt-2".into()), None)
        );
        assert_eq!(
            at.stored_in_last().map(|s| s.scopes.clone()),
            Some(vec!["mcp:read".to_string()])
        );
    }

    #[test]
    fn invalid_grant_clears_the_tokens_then_rediscovers() {
        let mut at = Scenario::new().refreshing();
        let out = at.respond_json(400, &json!({"error": "invalid_grant"}));
        assert_eq!(
            describe_all(&out),
            ["store-session".to_string(), get(RM, PRM_PATH_URL)]
        );
        let s = at.stored_in_last().expect("StoreSession");
        assert!(s.tokens.is_none());
        assert_eq!(s.client.client_id, CLIENT_ID);
        assert_eq!(s.client.redirect_uri.as_deref(), Some(REDIRECT_URI));
        assert_eq!(s.issuer, ISSUER);
        assert_eq!(at.header(), "Pending");
        // Cached AS metadata is reused; the stored client keeps its port.
        let out = at.respond_json(200, &prm_doc());
        assert_eq!(describe_all(&out), ["listen Some(49152)"]);
    }

    #[test]
    fn invalid_client_forgets_the_dcr_redirect_so_the_client_registers_again() {
        let mut at = Scenario::new().refreshing();
        at.respond_json(401, &json!({"error": "invalid_client"}));
        let s = at.stored_in_last().expect("StoreSession");
        assert!(s.tokens.is_none());
        assert_eq!(s.client.redirect_uri, None);
        let out = at.respond_json(200, &prm_doc());
        assert_eq!(describe_all(&out), ["listen None"]);
        let out = at.feed(loopback_ready());
        assert_eq!(describe_all(&out), [post(Step::Registration, REGISTER_URL)]);
    }

    #[test]
    fn transport_failure_keeps_the_session_and_tokens() {
        let mut at = Scenario::new().refreshing();
        let before = at.machine.session().map(|s| s.to_json());
        let out = at.fail_fetch("connection reset");
        let err = Error::Transport {
            step: Step::Refresh,
            message: "connection reset".into(),
        };
        assert_eq!(describe_all(&out), fail_lines(err, AuthStatus::Authorized));
        assert_eq!(at.machine.session().map(|s| s.to_json()), before);
        assert!(at.store.as_ref().is_some_and(|s| s.tokens.is_some()));
        assert_eq!(at.header(), format!("Bearer {ACCESS_TOKEN}"));
    }

    #[test]
    fn non_interactive_invalid_grant_clears_tokens_then_requires_login() {
        let session = canned_session(Some(T0.wall + 3600), Some(REFRESH_TOKEN));
        let mut at = Scenario::with_config(|c| c.interactive = false)
            .stored(session)
            .idle();
        at.command(|m, now| m.refresh(now));
        at.answer_load();
        at.expect_fetch(Step::Refresh);
        let out = at.respond_json(400, &json!({"error": "invalid_grant"}));
        let mut expected = vec!["store-session".to_string()];
        expected.extend(fail_lines(
            Error::LoginRequired,
            AuthStatus::AuthorizationRequired {
                server_host: Some(AS_HOST.into()),
            },
        ));
        assert_eq!(describe_all(&out), expected);
        assert!(at.store.as_ref().is_some_and(|s| s.tokens.is_none()));
        assert_eq!(at.header(), "LoginRequired");
    }

    #[test]
    fn server_error_without_oauth_body_keeps_the_session() {
        let mut at = Scenario::new().refreshing();
        let out = at.respond_status(503);
        let err = Error::HttpStatus {
            step: Step::Refresh,
            status: 503,
        };
        assert_eq!(describe_all(&out), fail_lines(err, AuthStatus::Authorized));
        assert!(at.machine.session().is_some_and(|s| s.tokens.is_some()));
    }
}

mod revoking {
    use super::*;

    fn done() -> Vec<String> {
        vec![
            "clear-session".into(),
            "logged-out".into(),
            status(auth_required()),
        ]
    }

    #[test]
    fn refresh_token_first_then_access_token_then_clear() {
        let mut at = Scenario::new().revoking();
        assert_eq!(
            describe_all(&at.outputs),
            [post(Step::Revocation, REVOKE_URL)]
        );
        assert_eq!(
            form(&at, Step::Revocation),
            pairs(&[
                ("token", REFRESH_TOKEN),
                ("token_type_hint", "refresh_token"),
                ("client_id", CLIENT_ID)
            ])
        );
        let out = at.respond_status(200);
        assert_eq!(describe_all(&out), [post(Step::Revocation, REVOKE_URL)]);
        assert_eq!(
            form(&at, Step::Revocation),
            pairs(&[
                ("token", ACCESS_TOKEN),
                ("token_type_hint", "access_token"),
                ("client_id", CLIENT_ID)
            ])
        );
        let out = at.respond_status(200);
        assert_eq!(describe_all(&out), done());
        assert!(at.machine.session().is_none());
        assert!(at.store.is_none());
        assert_eq!(at.header(), "LoginRequired");
    }

    #[test]
    fn revocation_errors_still_clear() {
        let mut at = Scenario::new().revoking();
        at.respond_status(503);
        let out = at.fail_fetch("connection reset");
        assert_eq!(describe_all(&out), done());
    }

    #[test]
    fn without_a_revocation_endpoint_logout_clears_at_once() {
        let mut at = Scenario::new()
            .meta(with(meta_doc(), "revocation_endpoint", Value::Null))
            .authorized();
        at.command(|m, now| m.logout(now));
        assert_eq!(describe_all(&at.outputs), done());
    }

    #[test]
    fn logout_during_the_browser_step_closes_the_listener() {
        let mut at = Scenario::new().waiting_callback();
        at.command(|m, now| m.logout(now));
        let mut expected = vec!["close-loopback".to_string()];
        expected.extend(done());
        assert_eq!(describe_all(&at.outputs), expected);
        assert_eq!(at.machine.poll_timeout(), None);
        assert!(at.callback_ok().is_empty());
    }

    #[test]
    fn a_refresh_answer_after_logout_is_stale() {
        let mut at = Scenario::new().refreshing();
        let refresh_id = at.id.expect("refresh id");
        at.command(|m, now| m.logout(now));
        let out = at.feed(Input::HttpResponse {
            id: refresh_id,
            response: mcp_oauth_core::HttpResponse::json(200, &token_doc()),
        });
        assert!(out.is_empty());
    }
}

mod failed_login_status {
    use super::*;

    #[test]
    fn access_denied_status_sequence_ends_authorization_required() {
        let mut at = Scenario::new().waiting_callback();
        let q = format!(
            "error=access_denied&state={}&iss={}",
            at.state(),
            enc(ISSUER)
        );
        at.callback(&q);
        let reason = Error::OAuth {
            step: Step::Authorization,
            code: "access_denied".into(),
            description: None,
        }
        .to_string();
        assert_eq!(
            at.status_log(),
            [
                AuthStatus::Working,
                waiting(),
                AuthStatus::Failed { reason },
                auth_required_at_as()
            ]
        );
        assert_eq!(at.header(), "LoginRequired");
        let out = at.feed(challenge(401, CHALLENGE));
        assert_eq!(
            describe_all(&out),
            [status(AuthStatus::Working), get(RM, PRM_PATH_URL)]
        );
    }

    #[test]
    fn registration_failure_status_sequence_ends_authorization_required() {
        let mut at = Scenario::new().registering();
        at.respond_status(500);
        let reason = Error::HttpStatus {
            step: Step::Registration,
            status: 500,
        }
        .to_string();
        assert_eq!(
            at.status_log(),
            [
                AuthStatus::Working,
                AuthStatus::Failed { reason },
                auth_required_at_as()
            ]
        );
    }

    /// The server rejected the only token (no refresh token), and the new login failed: the
    /// status must say a login is needed, as `authorization_header` does.
    #[test]
    fn rejected_token_then_failed_login_ends_authorization_required() {
        let session = canned_session(Some(T0.wall + 3600), None);
        let mut at = Scenario::new().stored(session).waiting_callback();
        let q = format!(
            "error=access_denied&state={}&iss={}",
            at.state(),
            enc(ISSUER)
        );
        at.callback(&q);
        assert_eq!(at.header(), "LoginRequired");
        assert_eq!(
            at.status_log().last(),
            Some(&AuthStatus::AuthorizationRequired {
                server_host: Some(AS_HOST.into())
            }),
            "{:?}",
            at.status_log()
        );
    }
}
