//! Micro-benchmarks of the sans-IO core (issue "Performance evidence", part 2).
//!
//! Why these: every MCP request goes through [`Machine::authorization_header`], so it is the
//! one hot path (target: well under 1 µs); everything else runs once per login or refresh, and
//! is measured to show the core's CPU cost is negligible next to the network round trips it
//! drives (a few µs against tens of ms). Inputs are the canned documents of the integration
//! tests' `Scenario` (included with `#[path]`, benches cannot import test modules), so the
//! numbers describe realistic, not minimal, documents.
//!
//! Run: `cargo bench -p mcp-oauth-core --bench core` (about 30 s; short measurement windows on
//! purpose: these are orders of magnitude, not a regression gate).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

use mcp_oauth_core::authorize::{authorization_url, AuthorizationParams};
use mcp_oauth_core::challenge::{auth_challenge, parse_www_authenticate};
use mcp_oauth_core::token::parse_token_response;
use mcp_oauth_core::{
    pkce, resource_metadata, server_metadata, HeaderState, HttpResponse, Input, Output, RequestId,
    SeededRng, StateToken, Step,
};

#[path = "../tests/scenario/mod.rs"]
mod scenario;

use scenario::{Scenario, AUTHORIZE_URL, CLIENT_ID, ISSUER, REDIRECT_URI, SERVER};

/// The 401 challenge the conformance suite's bearer middleware (the TypeScript SDK's
/// `requireBearerAuth`) sends, with the `scope` of the scope scenarios.
const CONFORMANCE_CHALLENGE: &str = concat!(
    r#"Bearer error="invalid_token", error_description="Missing Authorization header", "#,
    r#"scope="mcp:read mcp:write", "#,
    r#"resource_metadata="http://localhost:3001/.well-known/oauth-protected-resource/mcp""#,
);

/// Three challenges in one field value (RFC 9110 §11.6.1): a token68 scheme, a parameter
/// scheme, then the Bearer one the machine acts on, so the parser walks the whole value.
const THREE_CHALLENGES: &str = concat!(
    r#"Negotiate YIIJvwYGKwYBBQUCoIIJszCCCa+gJDAiBgkqhkiC9xIBAgIGCSqGSIb3EgECAgYKKwYBBAGCNwICCg==, "#,
    r#"Basic realm="mcp", charset="UTF-8", "#,
    r#"Bearer realm="mcp", error="insufficient_scope", scope="files:read files:write", "#,
    r#"resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp""#,
);

/// Short windows: the whole run stays around 30 s.
fn configured() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

fn parsers(c: &mut Criterion) {
    c.bench_function("www_authenticate/conformance_auth_challenge", |b| {
        b.iter(|| auth_challenge(black_box(&[CONFORMANCE_CHALLENGE])))
    });
    c.bench_function("www_authenticate/three_challenges_parse", |b| {
        b.iter(|| parse_www_authenticate(black_box(&[THREE_CHALLENGES])))
    });
    c.bench_function("www_authenticate/three_challenges_auth_challenge", |b| {
        b.iter(|| auth_challenge(black_box(&[THREE_CHALLENGES])))
    });

    let prm = HttpResponse::json(200, &scenario::prm_doc());
    c.bench_function("prm/parse", |b| {
        b.iter(|| resource_metadata::parse(black_box(&prm)))
    });

    let meta = HttpResponse::json(200, &scenario::meta_doc());
    c.bench_function("as_metadata/parse_with_issuer_check", |b| {
        b.iter(|| server_metadata::parse(black_box(&meta), black_box(ISSUER)))
    });

    let token = HttpResponse::json(200, &scenario::token_doc());
    c.bench_function("token/parse_response", |b| {
        b.iter(|| parse_token_response(black_box(&token), Step::TokenExchange))
    });
}

fn builders(c: &mut Criterion) {
    let state = StateToken::new("V1StGXR8_Z5jdHi6B-myTQdKq3H8u0Lk");
    let challenge = pkce::challenge_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    c.bench_function("authorize/build_url", |b| {
        b.iter(|| {
            authorization_url(black_box(&AuthorizationParams {
                authorization_endpoint: AUTHORIZE_URL,
                client_id: CLIENT_ID,
                redirect_uri: REDIRECT_URI,
                scope: Some("mcp:read mcp:write offline_access"),
                state: &state,
                code_challenge: &challenge,
                resource: Some(SERVER),
                extra: &[],
            }))
        })
    });

    // Verifier + S256 challenge (SHA-256, base64url) from a seeded RNG: once per login.
    let mut rng = SeededRng::from_seed([7; 32]);
    c.bench_function("pkce/generate", |b| b.iter(|| pkce::generate(&mut rng)));
}

fn machine(c: &mut Criterion) {
    // One transition: the AS metadata response fed to a machine waiting for it. The machine is
    // rebuilt per batch (setup is not timed); the routine includes draining the outputs, which
    // is what an adapter does after every input.
    let meta = HttpResponse::json(200, &scenario::meta_doc());
    let waiting = || {
        let at = Scenario::new().at_meta_fetch();
        let id = at.id.expect("the metadata fetch is pending");
        (at, id)
    };
    let step = |(mut at, id): (scenario::At, RequestId)| {
        at.machine.handle_input(
            at.now,
            Input::HttpResponse {
                id,
                response: meta.clone(),
            },
        );
        let outputs: Vec<Output> = std::iter::from_fn(|| at.machine.poll_output()).collect();
        (at, outputs)
    };
    // Check once that the step is the real transition (the next output asks for a loopback
    // listener), so the figure is not that of an ignored stale response.
    let (_, outputs) = step(waiting());
    assert!(
        outputs
            .iter()
            .any(|o| matches!(o, Output::ListenLoopback { .. })),
        "the metadata response moves the machine on"
    );
    c.bench_function("machine/step_as_metadata_response", |b| {
        b.iter_batched(waiting, step, BatchSize::SmallInput)
    });

    // The hot path: a valid token, no refresh due. Runs before every MCP request.
    let mut at = Scenario::new().authorized();
    let now = at.now;
    assert!(
        matches!(at.machine.ensure_fresh(now), HeaderState::Ready(_)),
        "the canned login yields a usable token"
    );
    c.bench_function("machine/ensure_fresh_valid_token", |b| {
        b.iter(|| at.machine.ensure_fresh(black_box(now)))
    });
    c.bench_function("machine/header_getter_valid_token", |b| {
        b.iter(|| at.machine.header(black_box(now)))
    });

    // Context for the numbers above: a whole in-memory login (401 -> PRM -> AS metadata ->
    // loopback -> DCR -> browser -> callback -> token), canned answers, no IO.
    c.bench_function("machine/full_login_in_memory", |b| {
        b.iter(|| Scenario::new().authorized())
    });
}

criterion_group! {
    name = benches;
    config = configured();
    targets = parsers, builders, machine
}
criterion_main!(benches);
