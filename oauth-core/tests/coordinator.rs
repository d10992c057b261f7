//! The coordinator's rules, one test each, driven by hand without threads: callers are tickets,
//! the "adapter" is the test answering each effect (see `oauth-core/src/coordinator/mod.rs`).

mod scenario;

use mcp_oauth_core::coordinator::{
    AdapterFailure, Coordinator, Effect, Failure, Op, Plan, SendVerdict, MAX_SEND_RETRIES,
};
use mcp_oauth_core::{
    AuthorizationHeader, Error, Fault, HttpRequest, HttpResponse, Machine, Now, SeededRng, Session,
    Step, TransportError, TransportErrorKind,
};
use scenario::*;
use serde_json::json;

/// The adapter's own failure in these tests (a store error).
#[derive(Debug, PartialEq)]
struct StoreDown;

impl AdapterFailure for StoreDown {
    fn duplicate(&self) -> Self {
        StoreDown
    }
}

type C = Coordinator<StoreDown>;

fn coordinator(stored: Option<Session>) -> C {
    let machine = Machine::new(Config::new(SERVER), SeededRng::from_seed(SEED)).unwrap();
    Coordinator::new(machine, stored, None, T0)
}

use mcp_oauth_core::Config;

/// A session whose access token expired at T0 - 10 s, with a refresh token.
fn expired_with_refresh() -> Session {
    canned_session(Some(T0.wall - 10), Some(REFRESH_TOKEN))
}

/// What the fake adapter did during one drive.
#[derive(Debug, Default)]
struct Log {
    fetches: Vec<Step>,
    stored: usize,
    cleared: usize,
    loads: Vec<bool>,
    browser: usize,
}

/// Answers every effect of the drive in flight: fetches from `answer`, the store from
/// `store_ok`, until `Done`.
fn drive(
    c: &mut C,
    now: Now,
    mut answer: impl FnMut(Step, &HttpRequest) -> Result<HttpResponse, TransportError>,
    store: &mut Option<Session>,
    store_ok: bool,
) -> Log {
    let mut log = Log::default();
    let mut state = String::new();
    for _ in 0..100 {
        match c.next_effect(now) {
            Effect::Done => return log,
            Effect::Fetch {
                id, step, request, ..
            } => {
                log.fetches.push(step);
                let r = answer(step, &request);
                c.fetched(now, id, r);
            }
            Effect::LoadSession { lock } => {
                log.loads.push(lock);
                c.session_loaded(now, Ok(store.clone()));
            }
            Effect::StoreSession(s) => {
                log.stored += 1;
                if store_ok {
                    *store = Some(s);
                    c.session_stored(Ok(()));
                } else {
                    c.session_stored(Err(StoreDown));
                }
            }
            Effect::ClearSession => {
                log.cleared += 1;
                *store = None;
                c.session_cleared(Ok(()));
            }
            Effect::Listen { .. } => c.listening(now, Ok(REDIRECT_URI.into())),
            Effect::OpenBrowser(b) => {
                log.browser += 1;
                state = b.state.expose_secret().to_string();
            }
            // The user approves at once: the canned good callback.
            Effect::WaitForUser { .. } => c.callback(
                now,
                format!("code={CODE}&state={state}&iss={}", enc(ISSUER)),
            ),
            _ => {}
        }
    }
    panic!("the drive did not end: {log:?}");
}

fn fresh_tokens(_: Step, _: &HttpRequest) -> Result<HttpResponse, TransportError> {
    Ok(HttpResponse::json(
        200,
        &with(token_doc(), "access_token", json!("at-2")),
    ))
}

fn header_of(plan: Plan<StoreDown>) -> Option<AuthorizationHeader> {
    match plan {
        Plan::Done(h) => h,
        other => panic!("expected Done, got {other:?}"),
    }
}

#[test]
fn a_static_header_never_enters_oauth() {
    let machine = Machine::new(Config::new(SERVER), SeededRng::from_seed(SEED)).unwrap();
    let stat = AuthorizationHeader::new("Bearer api-key");
    let mut c: C = Coordinator::new(
        machine,
        Some(expired_with_refresh()),
        Some(stat.clone()),
        T0,
    );
    let mut t = c.begin(Op::Header { login: true });
    assert_eq!(
        header_of(c.poll(&mut t, T0)).unwrap().expose_secret(),
        "Bearer api-key"
    );
    let mut t = c.begin(Op::Login);
    assert!(matches!(
        c.poll(&mut t, T0),
        Plan::Fail(Failure::Core(Error::Config(_)))
    ));
    let mut t = c.begin(Op::Challenge {
        used: Some(stat),
        status: 401,
        www_authenticate: vec![],
    });
    assert!(matches!(
        c.poll(&mut t, T0),
        Plan::Fail(Failure::StaticHeaderRejected { status: 401 })
    ));
    let mut t = c.begin(Op::Logout);
    assert!(matches!(c.poll(&mut t, T0), Plan::Done(None)));
    assert!(c.session().is_none(), "the stored session is ignored");
    assert_eq!(c.generation(), 0, "no drive, so no store access");
}

#[test]
fn concurrent_callers_wait_for_one_refresh_and_all_get_the_new_token() {
    let mut store = Some(expired_with_refresh());
    let mut c = coordinator(store.clone());
    let mut first = c.begin(Op::Header { login: true });
    assert!(matches!(c.poll(&mut first, T0), Plan::Drive));
    let mut others: Vec<_> = (0..100)
        .map(|_| c.begin(Op::Header { login: true }))
        .collect();
    for t in &mut others {
        assert!(matches!(c.poll(t, T0), Plan::Wait { generation: 0 }));
    }
    assert!(c.session().is_some());
    let log = drive(&mut c, T0, fresh_tokens, &mut store, true);
    assert_eq!(log.fetches, vec![Step::Refresh]);
    assert_eq!(log.loads, vec![true], "re-read under the store lock");
    assert_eq!(c.generation(), 1);
    for t in others.iter_mut().chain(std::iter::once(&mut first)) {
        let h = header_of(c.poll(t, T0)).unwrap();
        assert_eq!(h.expose_secret(), "Bearer at-2");
    }
    assert_eq!(c.request_counts().get(&Step::Refresh), Some(&1));
}

#[test]
fn a_transient_refresh_failure_reaches_every_waiter_and_keeps_the_session() {
    let mut store = Some(expired_with_refresh());
    let mut c = coordinator(store.clone());
    let mut first = c.begin(Op::Header { login: true });
    assert!(matches!(c.poll(&mut first, T0), Plan::Drive));
    let mut waiter = c.begin(Op::Header { login: true });
    assert!(matches!(c.poll(&mut waiter, T0), Plan::Wait { .. }));
    let log = drive(
        &mut c,
        T0,
        |_, _| {
            Err(TransportError::new(
                TransportErrorKind::Connect,
                "connection refused",
            ))
        },
        &mut store,
        true,
    );
    assert_eq!(log.cleared, 0);
    for t in [&mut first, &mut waiter] {
        match c.poll(t, T0) {
            Plan::Fail(Failure::Core(e)) => assert_eq!(e.fault(), Fault::Transport, "{e:?}"),
            other => panic!("{other:?}"),
        }
    }
    let kept = store.unwrap().tokens.unwrap();
    assert_eq!(
        kept.refresh_token.unwrap().expose_secret(),
        REFRESH_TOKEN,
        "the refresh token survives"
    );
}

#[test]
fn a_5xx_during_rediscovery_after_a_refresh_never_deletes_the_session() {
    // Issue: `call` lost the whole session when the MCP server answered 401 right after a
    // refresh and the metadata endpoints answered 503.
    let mut store = Some(expired_with_refresh());
    let mut c = coordinator(store.clone());
    let mut t = c.begin(Op::Header { login: true });
    assert!(matches!(c.poll(&mut t, T0), Plan::Drive));
    drive(&mut c, T0, fresh_tokens, &mut store, true);
    let used = header_of(c.poll(&mut t, T0)).unwrap();
    for _ in 0..2 {
        let mut ch = c.begin(Op::Challenge {
            used: Some(used.clone()),
            status: 401,
            www_authenticate: vec![CHALLENGE.into()],
        });
        if let Plan::Drive = c.poll(&mut ch, T0) {
            let log = drive(
                &mut c,
                T0,
                |step, _| match step {
                    Step::Refresh => fresh_tokens(step, &HttpRequest::get_json(SERVER)),
                    _ => Ok(HttpResponse::json(503, &json!({"error": "unavailable"}))),
                },
                &mut store,
                true,
            );
            assert_eq!(log.cleared, 0, "{log:?}");
        }
        let _ = c.poll(&mut ch, T0);
    }
    assert!(store.is_some_and(|s| s.tokens.is_some_and(|t| t.refresh_token.is_some())));
}

#[test]
fn a_definitive_login_failure_deletes_a_session_that_holds_only_a_registration() {
    let mut husk = canned_session(None, None);
    husk.tokens = None;
    let mut store = Some(husk);
    let mut c = coordinator(store.clone());
    let mut t = c.begin(Op::Login);
    assert!(matches!(c.poll(&mut t, T0), Plan::Drive));
    let log = drive(
        &mut c,
        T0,
        |step, _| match step {
            Step::ResourceMetadata => Ok(HttpResponse::json(200, &prm_doc())),
            Step::ServerMetadata => Ok(HttpResponse::json(200, &meta_doc())),
            // The authorization server forgot the stored client.
            _ => Ok(HttpResponse::json(400, &json!({"error": "invalid_client"}))),
        },
        &mut store,
        true,
    );
    assert!(matches!(c.poll(&mut t, T0), Plan::Fail(Failure::Core(_))));
    assert_eq!(log.browser, 1, "{log:?}");
    assert!(log.cleared >= 1 && store.is_none(), "{log:?}");
    assert!(c.session().is_none() || c.session().unwrap().tokens.is_none());
}

#[test]
fn a_failed_login_never_deletes_a_refresh_token() {
    let mut store = Some(expired_with_refresh());
    let mut c = coordinator(store.clone());
    let mut t = c.begin(Op::Login);
    assert!(matches!(c.poll(&mut t, T0), Plan::Drive));
    let log = drive(
        &mut c,
        T0,
        |_, _| {
            Ok(HttpResponse::json(
                400,
                &json!({"error": "invalid_request"}),
            ))
        },
        &mut store,
        true,
    );
    assert_eq!(log.cleared, 0);
    assert!(matches!(c.poll(&mut t, T0), Plan::Fail(_)));
    assert!(store.unwrap().tokens.unwrap().refresh_token.is_some());
}

#[test]
fn a_token_the_store_refused_is_never_handed_out() {
    let mut store = Some(expired_with_refresh());
    let mut c = coordinator(store.clone());
    let mut t = c.begin(Op::Header { login: true });
    assert!(matches!(c.poll(&mut t, T0), Plan::Drive));
    let log = drive(&mut c, T0, fresh_tokens, &mut store, false);
    assert_eq!(
        log.loads,
        vec![true, false],
        "re-read after the failed save"
    );
    assert!(matches!(
        c.poll(&mut t, T0),
        Plan::Fail(Failure::Adapter(StoreDown))
    ));
    let held = c.session().and_then(|s| s.tokens.clone()).unwrap();
    assert_eq!(
        held.access_token.expose_secret(),
        ACCESS_TOKEN,
        "the old one"
    );
}

#[test]
fn a_challenge_for_a_replaced_token_just_retries() {
    let mut c = coordinator(Some(canned_session(Some(T0.wall + 3600), None)));
    let mut t = c.begin(Op::Challenge {
        used: Some(AuthorizationHeader::new("Bearer an-older-token")),
        status: 401,
        www_authenticate: vec![],
    });
    assert!(matches!(c.poll(&mut t, T0), Plan::Done(None)));
    assert_eq!(c.generation(), 0);
}

#[test]
fn request_success_is_ignored_while_a_drive_runs() {
    let mut store = Some(expired_with_refresh());
    let mut c = coordinator(store.clone());
    let mut t = c.begin(Op::Header { login: true });
    assert!(matches!(c.poll(&mut t, T0), Plan::Drive));
    c.request_succeeded(T0); // must not touch the machine mid-flow
    let log = drive(&mut c, T0, fresh_tokens, &mut store, true);
    assert_eq!(log.fetches, vec![Step::Refresh]);
    assert!(header_of(c.poll(&mut t, T0)).is_some());
}

#[test]
fn the_first_failure_of_a_drive_is_the_one_callers_see() {
    let mut store = None;
    let mut c = coordinator(None);
    let mut t = c.begin(Op::Login);
    assert!(matches!(c.poll(&mut t, T0), Plan::Drive));
    // Every discovery URL times out: the error names that, not a later fallback.
    drive(
        &mut c,
        T0,
        |_, _| {
            Err(TransportError::new(
                TransportErrorKind::Timeout,
                "timed out",
            ))
        },
        &mut store,
        true,
    );
    match c.poll(&mut t, T0) {
        Plan::Fail(Failure::Core(e)) => {
            assert_eq!(e.fault(), Fault::Transport, "{e:?}");
            assert!(e.to_string().contains("timed out"), "{e}");
            // The adapter's kind survives into the error: a timeout is reported as one.
            let Error::Discovery { cause, .. } = &e else {
                panic!("{e:?}")
            };
            assert!(
                matches!(
                    **cause,
                    Error::Transport {
                        kind: TransportErrorKind::Timeout,
                        ..
                    }
                ),
                "{cause:?}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn without_interaction_a_header_request_never_starts_a_login() {
    let mut config = Config::new(SERVER);
    config.interactive = false;
    let machine = Machine::new(config, SeededRng::from_seed(SEED)).unwrap();
    let mut c: C = Coordinator::new(machine, None, None, T0);
    assert!(!c.may_login());
    let mut t = c.begin(Op::Header { login: true });
    assert!(matches!(c.poll(&mut t, T0), Plan::Done(None)));
    assert_eq!(c.browser_launches(), 0);
}

#[test]
fn cancel_during_the_browser_wait_keeps_the_session() {
    let mut c = coordinator(Some(expired_with_refresh()));
    let mut t = c.begin(Op::Login);
    assert!(matches!(c.poll(&mut t, T0), Plan::Drive));
    let mut waited = false;
    loop {
        match c.next_effect(T0) {
            Effect::Done => break,
            Effect::Fetch { id, step, .. } => {
                let doc = match step {
                    Step::ResourceMetadata => prm_doc(),
                    Step::ServerMetadata => meta_doc(),
                    _ => dcr_doc(),
                };
                let status = if step == Step::Registration { 201 } else { 200 };
                c.fetched(T0, id, Ok(HttpResponse::json(status, &doc)));
            }
            Effect::Listen { .. } => c.listening(T0, Ok(REDIRECT_URI.into())),
            Effect::WaitForUser { .. } => {
                waited = true;
                assert!(c.cancel(), "a drive runs");
            }
            _ => {}
        }
    }
    assert!(waited);
    assert_eq!(c.browser_launches(), 1);
    assert!(matches!(
        c.poll(&mut t, T0),
        Plan::Fail(Failure::Core(Error::Cancelled))
    ));
    let kept = c.session().and_then(|s| s.tokens.as_ref());
    assert!(kept.is_some_and(|t| t.refresh_token.is_some()));
}

#[test]
fn an_abandoned_drive_hands_its_failure_to_the_waiters() {
    let mut c = coordinator(Some(expired_with_refresh()));
    let mut t = c.begin(Op::Header { login: true });
    assert!(matches!(c.poll(&mut t, T0), Plan::Drive));
    let mut w = c.begin(Op::Header { login: true });
    assert!(matches!(c.poll(&mut w, T0), Plan::Wait { .. }));
    let _ = c.next_effect(T0); // LoadSession, never answered: the driver's future was dropped
    c.abort_drive(T0, Failure::Core(Error::Cancelled));
    assert!(!c.is_driving());
    assert!(matches!(
        c.poll(&mut w, T0),
        Plan::Fail(Failure::Core(Error::Cancelled))
    ));
    assert!(c.session().is_some(), "back to what the store holds");
}

#[test]
fn send_verdicts_follow_the_retry_budget() {
    let mut c = coordinator(Some(canned_session(Some(T0.wall + 3600), None)));
    let mut req = HttpRequest::get_json(SERVER);
    req.headers
        .push(("authorization".into(), "Bearer stale".into()));
    req.headers.push(("DPoP".into(), "stale-proof".into()));
    let h = AuthorizationHeader::new(format!("Bearer {ACCESS_TOKEN}"));
    c.attach(T0, &mut req, Some(&h));
    let auth: Vec<_> = req
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("authorization") || k == "DPoP")
        .collect();
    assert_eq!(auth.len(), 1, "old credentials replaced: {auth:?}");
    let mut unauthorized = HttpResponse::json(401, &json!({}));
    unauthorized
        .headers
        .push(("WWW-Authenticate".into(), CHALLENGE.into()));
    assert!(matches!(
        c.send_verdict(T0, &unauthorized, true, 0, 0),
        SendVerdict::Retry { status: 401, ref www_authenticate } if www_authenticate.len() == 1
    ));
    assert!(matches!(
        c.send_verdict(T0, &unauthorized, true, MAX_SEND_RETRIES, 0),
        SendVerdict::Return
    ));
    assert!(matches!(
        c.send_verdict(T0, &HttpResponse::json(200, &json!({})), true, 0, 0),
        SendVerdict::Return
    ));
}

#[test]
fn a_silent_server_costs_one_network_budget_not_one_timeout_per_fallback() {
    let mut c = coordinator(None);
    let mut t = c.begin(Op::Login);
    assert!(matches!(c.poll(&mut t, T0), Plan::Drive));
    let budget = Config::new(SERVER).operation_timeout;
    let mut sent = 0;
    let mut now = T0;
    loop {
        match c.next_effect(now) {
            Effect::Done => break,
            Effect::Fetch { id, timeout, .. } => {
                sent += 1;
                assert!(timeout <= budget);
                // The server accepts the connection and never answers: the whole budget goes.
                now = Now::new(now.instant + timeout, now.wall + timeout.as_secs());
                c.fetched(
                    now,
                    id,
                    Err(TransportError::new(
                        TransportErrorKind::Timeout,
                        "timed out",
                    )),
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        sent, 1,
        "the fallback URLs are not tried once the budget is spent"
    );
    match c.poll(&mut t, now) {
        Plan::Fail(Failure::Core(e)) => {
            assert_eq!(e.fault(), Fault::Transport);
            assert!(e.to_string().contains("timed out"), "the first cause: {e}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn after_a_login_a_request_is_retried_for_a_nonce_but_not_for_another_refusal() {
    let mut store = None;
    let mut c = coordinator(None);
    let mut t = c.begin(Op::Login);
    assert!(matches!(c.poll(&mut t, T0), Plan::Drive));
    let log = drive(
        &mut c,
        T0,
        |step, _| match step {
            Step::ResourceMetadata => Ok(HttpResponse::json(200, &prm_doc())),
            Step::ServerMetadata => Ok(HttpResponse::json(200, &meta_doc())),
            Step::Registration => Ok(HttpResponse::json(201, &dcr_doc())),
            _ => Ok(HttpResponse::json(200, &token_doc())),
        },
        &mut store,
        true,
    );
    assert_eq!(log.browser, 1);
    let refused = |value: &str| {
        let mut r = HttpResponse::json(401, &json!({}));
        r.headers.push(("WWW-Authenticate".into(), value.into()));
        r
    };
    // The login ran for this request (launches were 0 when it was first sent).
    let plain = refused(r#"Bearer error="invalid_token""#);
    assert!(matches!(
        c.send_verdict(T0, &plain, true, 1, 0),
        SendVerdict::Return
    ));
    let nonce = refused(r#"DPoP error="use_dpop_nonce""#);
    assert!(matches!(
        c.send_verdict(T0, &nonce, true, 1, 0),
        SendVerdict::Retry { .. }
    ));
}

#[test]
fn a_client_credentials_grant_is_counted_under_its_own_step() {
    let mut config = Config::new(SERVER);
    config.grant = mcp_oauth_core::Grant::ClientCredentials;
    config.client.pre_registered = Some(mcp_oauth_core::PreRegisteredClient {
        client_id: "svc-client".into(),
        client_secret: Some(mcp_oauth_core::ClientSecret::new("s3cret")),
        auth_method: None,
        issuer: None,
    });
    let machine = Machine::new(config, SeededRng::from_seed(SEED)).unwrap();
    let mut c: C = Coordinator::new(machine, None, None, T0);
    let mut store = None;
    let mut t = c.begin(Op::Header { login: true });
    assert!(matches!(c.poll(&mut t, T0), Plan::Drive));
    let log = drive(
        &mut c,
        T0,
        |step, _| {
            Ok(match step {
                Step::ResourceMetadata => HttpResponse::json(200, &prm_doc()),
                Step::ServerMetadata => HttpResponse::json(200, &meta_doc()),
                _ => HttpResponse::json(200, &token_doc()),
            })
        },
        &mut store,
        true,
    );
    assert_eq!(
        log.fetches,
        [
            Step::ResourceMetadata,
            Step::ServerMetadata,
            Step::ClientCredentials
        ]
    );
    assert!(header_of(c.poll(&mut t, T0)).is_some());
    let counts = c.request_counts();
    assert_eq!(counts.get(&Step::ClientCredentials), Some(&1));
    assert_eq!(counts.get(&Step::TokenExchange), None, "{counts:?}");
    assert_eq!(counts.values().sum::<u64>(), 3);
}
