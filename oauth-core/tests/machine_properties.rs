//! Property tests of the machine's safety invariants (ARCHITECTURE.md §10): tokens only go to the
//! discovered issuer's token endpoint; `resource` always sent; `state` always checked; no
//! panics.
//!
//! A self-contained fake world (one MCP server, two authorization servers with random issuers,
//! endpoint hosts, auth methods, registration and `iss` support) answers every effect the
//! machine asks for. A per-case script of choice bytes makes individual answers hostile: 3xx,
//! 5xx, malformed bodies, issuer mismatches (RFC 8414 §3.3), a PRM `resource` on another origin
//! (RFC 9728 §3.3), token responses with control characters, forged or mis-issued callbacks
//! (RFC 6749 §10.12, RFC 9207 §2.4). Byte 0 is always the benign answer, so shrinking walks
//! toward the happy path and the smallest hostile deviation. Properties (a)-(f) are listed at
//! `machine_safety_invariants`. Deterministic: fixed proptest seed, fixed `SeededRng` seed,
//! virtual clock, nothing persisted.

use std::collections::VecDeque;
use std::time::Duration;

use mcp_oauth_core::{
    BrowserRequest, ClientSecret, Config, Error, Event, HttpRequest, HttpResponse, Input, Machine,
    Now, Output, PreRegisteredClient, ResourceParameter, SeededRng, Session, Step,
};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, RngSeed};
use serde_json::{json, Value};

const SERVERS: &[&str] = &[
    "https://mcp.example.com/mcp",
    "http://localhost:3000/mcp",
    "https://mcp.example.com",
];
const AS_HOSTS: &[&str] = &[
    "https://as.example.com",
    "https://auth.example.org",
    "http://localhost:9000",
];
const ISS_PATHS: &[&str] = &["", "/", "/tenant", "/tenant/", "/realms/a/b"];
const ENDPOINT_HOSTS: &[&str] = &["", "https://login.example.net", "https://tokens.example.io"];
const METHODS: &[&str] = &["none", "client_secret_basic", "client_secret_post"];
const EVIL: &str = "https://evil.example";
const FIXED_RESOURCE: &str = "https://mcp.example.com/fixed-resource";

/// One authorization server of the fake world.
#[derive(Debug, Clone)]
struct AsSpec {
    issuer: String,
    endpoint_host: usize,
    /// Which of its well-known URLs serves the document (the others answer 404).
    meta_index: usize,
    registration: bool,
    methods: u8,
    iss_advertised: bool,
    dcr_secret: bool,
}

#[derive(Debug, Clone)]
struct World {
    server: &'static str,
    resource_variant: usize,
    header_prm: bool,
    prm_at_root: bool,
    first_as: usize,
    ases: [AsSpec; 2],
    resource_param: u8,
    pre_registered: bool,
    tag: u64,
    /// Choice bytes, consumed at each decision; 0 (and exhaustion) is benign.
    script: Vec<u8>,
    /// Host stimuli after the flow settles: 401, 403 step-up, authorize, logout, clock jump.
    rounds: Vec<u8>,
}

fn as_spec() -> impl Strategy<Value = AsSpec> {
    (
        0..AS_HOSTS.len(),
        0..ISS_PATHS.len(),
        0..ENDPOINT_HOSTS.len(),
        0..3usize,
        any::<[bool; 3]>(),
        0u8..8,
    )
        .prop_map(
            |(
                h,
                p,
                endpoint_host,
                meta_index,
                [registration, iss_advertised, dcr_secret],
                methods,
            )| AsSpec {
                issuer: format!("{}{}", AS_HOSTS[h], ISS_PATHS[p]),
                endpoint_host,
                meta_index,
                registration: registration || methods >= 4,
                methods,
                iss_advertised,
                dcr_secret,
            },
        )
}

fn world() -> impl Strategy<Value = World> {
    let shape = (0..SERVERS.len(), 0..4usize, any::<[bool; 4]>(), 0u8..10);
    let rest = (
        as_spec(),
        as_spec(),
        any::<u64>(),
        prop::collection::vec(any::<u8>(), 0..48),
        prop::collection::vec(0u8..6, 0..4),
    );
    (shape, rest).prop_map(
        |(
            (s, resource_variant, [header_prm, prm_at_root, second, pre], resource_param),
            (a, b, tag, script, rounds),
        )| World {
            server: SERVERS[s],
            resource_variant,
            header_prm,
            prm_at_root,
            first_as: usize::from(second),
            ases: [a, b],
            resource_param,
            pre_registered: pre,
            tag,
            script,
            rounds,
        },
    )
}

/// RFC 8414 §3.1 / OIDC Discovery §4 URLs for an issuer, written independently of the core.
fn well_known(issuer: &str) -> Vec<String> {
    let (scheme, rest) = issuer.split_once("://").unwrap_or(("", issuer));
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (origin, path) = (format!("{scheme}://{host}"), path.trim_end_matches('/'));
    let (oauth, oidc) = (
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    );
    if path.is_empty() {
        vec![format!("{origin}{oauth}"), format!("{origin}{oidc}")]
    } else {
        vec![
            format!("{origin}{oauth}{path}"),
            format!("{origin}{oidc}{path}"),
            format!("{origin}{path}{oidc}"),
        ]
    }
}

fn origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    format!("{scheme}://{}", rest.split('/').next().unwrap_or(rest))
}

/// A metadata document the fake served with status 200.
struct Served {
    url: String,
    issuer: String,
    authz: String,
    token: String,
    iss_advertised: bool,
}

struct Driver<'w> {
    w: &'w World,
    m: Machine,
    now: Now,
    script: VecDeque<u8>,
    pending: VecDeque<Input>,
    browser: Option<BrowserRequest>,
    stored: Option<Session>,
    served_meta: Vec<Served>,
    prm_first: Vec<String>,
    resource: String,
    secrets: Vec<String>,
    transcript: Vec<String>,
    counter: u32,
    stats: Stats,
}

/// How far a case got: the coverage test checks the generator is not vacuous.
#[derive(Debug, Default, Clone, Copy)]
struct Stats {
    browsers: usize,
    forged: usize,
    iss_mismatches: usize,
    exchanges: usize,
    refreshes: usize,
    authorized: usize,
}

impl<'w> Driver<'w> {
    fn new(w: &'w World) -> Self {
        let mut config = Config::new(w.server);
        config.legacy_discovery = false; // property (b) is about PRM-named issuers only
        config.resource_parameter = match w.resource_param {
            8 => ResourceParameter::Omit,
            9 => ResourceParameter::Fixed(FIXED_RESOURCE.into()),
            _ => ResourceParameter::Discovered,
        };
        let mut secrets = Vec::new();
        if w.pre_registered {
            let secret = format!("pre-secret-{:016x}", w.tag);
            secrets.push(secret.clone());
            config.client.pre_registered = Some(PreRegisteredClient {
                client_id: "pre-client".into(),
                client_secret: Some(ClientSecret::new(secret)),
                auth_method: None,
                issuer: None,
            });
        }
        let m = Machine::new(config, SeededRng::from_seed([42; 32])).expect("valid config");
        let o = origin(m.server());
        let resource = [
            m.server().to_string(),
            format!("{}/", m.server()),
            o.clone(),
            format!("{o}/"),
        ][w.resource_variant]
            .clone();
        Self {
            w,
            m,
            now: Now::new(Duration::from_secs(100), 1_700_000_000),
            script: w.script.iter().copied().collect(),
            pending: VecDeque::new(),
            browser: None,
            stored: None,
            served_meta: Vec::new(),
            prm_first: Vec::new(),
            resource,
            secrets,
            transcript: Vec::new(),
            counter: 0,
            stats: Stats::default(),
        }
    }

    fn choice(&mut self, n: u8) -> u8 {
        self.script.pop_front().unwrap_or(0) % n
    }

    fn marker(&mut self, kind: &str) -> String {
        self.counter += 1;
        let s = format!("{kind}-{:016x}-{}", self.w.tag, self.counter);
        self.secrets.push(s.clone());
        s
    }

    fn fail(&self, what: String) -> TestCaseError {
        TestCaseError::fail(format!(
            "{what}\n--- transcript ---\n{}",
            self.transcript.join("\n")
        ))
    }

    fn run(mut self) -> Result<Stats, TestCaseError> {
        let prm_header = format!("{}/custom/prm", origin(self.m.server()));
        let values = match (self.w.header_prm, self.choice(4)) {
            (_, 1) => vec![format!("Bearer resource_metadata=\"{EVIL}/prm\"")],
            (true, _) => vec![format!("Bearer resource_metadata=\"{prm_header}\"")],
            (false, _) => vec![],
        };
        self.feed(Input::Challenge {
            status: 401,
            www_authenticate: values,
        })?;
        let mut rounds = self.w.rounds.iter();
        for _ in 0..400 {
            if let Some(input) = self.pending.pop_front() {
                self.feed(input)?;
            } else if let Some(b) = self.browser.take() {
                self.answer_browser(b)?;
            } else {
                let Some(&round) = rounds.next() else { break };
                match round {
                    0 => drop(self.feed(Input::Challenge {
                        status: 401,
                        www_authenticate: vec![],
                    })?),
                    1 => drop(self.feed(Input::Challenge {
                        status: 403,
                        www_authenticate: vec![
                            "Bearer error=\"insufficient_scope\", scope=\"mcp:admin\"".into(),
                        ],
                    })?),
                    2 => drop(self.command(|m, now| m.authorize(now))?),
                    3 => drop(self.command(|m, now| m.logout(now))?),
                    _ => {
                        self.now = self.now.advance(Duration::from_secs(7_200));
                        self.command(|m, now| drop(m.ensure_fresh(now)))?;
                    }
                }
            }
        }
        let machine = format!("{:?}", self.m);
        self.check_secrets(&machine)?;
        Ok(self.stats)
    }

    fn command(&mut self, f: impl FnOnce(&mut Machine, Now)) -> Result<Vec<Output>, TestCaseError> {
        self.transcript.push("> command".into());
        f(&mut self.m, self.now);
        self.drain()
    }

    fn feed(&mut self, input: Input) -> Result<Vec<Output>, TestCaseError> {
        self.transcript.push(format!("> {input:?}"));
        self.m.handle_input(self.now, input);
        self.drain()
    }

    /// (e): no Debug output shows a secret the fake handed out, a state or a verifier.
    fn check_secrets(&self, text: &str) -> Result<(), TestCaseError> {
        match self.secrets.iter().find(|s| text.contains(s.as_str())) {
            Some(s) => Err(self.fail(format!("(e) secret {s:?} in Debug output {text}"))),
            None => Ok(()),
        }
    }

    fn drain(&mut self) -> Result<Vec<Output>, TestCaseError> {
        let mut outs = Vec::new();
        while let Some(out) = self.m.poll_output() {
            let dbg = format!("{out:?}");
            self.transcript.push(format!("  < {dbg}"));
            match &out {
                Output::Fetch { id, step, request } => {
                    self.check_fetch(*step, request)?;
                    let response = self.serve(*step, request);
                    self.transcript.push(format!(
                        "    = {} {}",
                        response.status,
                        String::from_utf8_lossy(&response.body)
                    ));
                    self.pending
                        .push_back(Input::HttpResponse { id: *id, response });
                }
                Output::ListenLoopback { preferred_port } => {
                    let redirect_uri = format!(
                        "http://127.0.0.1:{}/callback",
                        preferred_port.unwrap_or(5555)
                    );
                    self.pending
                        .push_back(Input::LoopbackReady { redirect_uri });
                }
                Output::OpenBrowser(b) => {
                    self.stats.browsers += 1;
                    self.secrets.push(b.state.expose_secret().to_string());
                    self.check_resource("authorization URL", &query_values(&b.url, "resource"))?;
                    self.doc_for(&b.url)?;
                    self.browser = Some(b.clone());
                }
                Output::LoadSession => self
                    .pending
                    .push_back(Input::SessionLoaded(self.stored.clone())),
                Output::StoreSession(s) => self.stored = Some(s.clone()),
                Output::Event(Event::Authorized) => self.stats.authorized += 1,
                Output::ClearSession => self.stored = None,
                Output::Event(Event::Failed(e) | Event::CallbackRejected(e)) => {
                    self.check_secrets(&e.to_string())?
                }
                _ => {}
            }
            self.check_secrets(&dbg)?;
            outs.push(out);
        }
        Ok(outs)
    }

    /// (b) and (c) on token requests; no request ever goes to the hostile host.
    fn check_fetch(&mut self, step: Step, request: &HttpRequest) -> Result<(), TestCaseError> {
        if request.url.contains("evil.example") {
            return Err(self.fail(format!("fetched the hostile host: {}", request.url)));
        }
        match step {
            Step::TokenExchange => self.stats.exchanges += 1,
            Step::Refresh => self.stats.refreshes += 1,
            _ => return Ok(()),
        }
        let allowed = self.served_meta.iter().any(|d| {
            d.token == request.url
                && self.prm_first.contains(&d.issuer)
                && well_known(&d.issuer).contains(&d.url)
        });
        if !allowed {
            return Err(self.fail(format!("(b) {step:?} to {} is not the token_endpoint of metadata fetched for a PRM-named issuer", request.url)));
        }
        let form = request.form_pairs();
        if let Some((_, v)) = form.iter().find(|(k, _)| k == "code_verifier") {
            self.secrets.push(v.clone());
        }
        let resources: Vec<String> = form
            .into_iter()
            .filter(|(k, _)| k == "resource")
            .map(|(_, v)| v)
            .collect();
        self.check_resource("token request", &resources)
    }

    /// (c): exactly the PRM `resource` (raw), the fixed value, or nothing under `Omit`.
    fn check_resource(&self, place: &str, found: &[String]) -> Result<(), TestCaseError> {
        let expected: Vec<String> = match self.w.resource_param {
            8 => vec![],
            9 => vec![FIXED_RESOURCE.to_string()],
            _ => vec![self.resource.clone()],
        };
        if found != expected.as_slice() {
            return Err(self.fail(format!(
                "(c) {place} carries resource {found:?}, expected {expected:?}"
            )));
        }
        Ok(())
    }

    /// The served metadata whose authorization endpoint the browser is sent to.
    fn doc_for(&self, url: &str) -> Result<(String, bool), TestCaseError> {
        let base = url.split('?').next().unwrap_or(url);
        match self
            .served_meta
            .iter()
            .find(|d| d.authz == base && self.prm_first.contains(&d.issuer))
        {
            Some(d) => Ok((d.issuer.clone(), d.iss_advertised)),
            None => Err(self.fail(format!(
                "browser sent to {base}, not a discovered authorization_endpoint"
            ))),
        }
    }

    fn serve(&mut self, step: Step, req: &HttpRequest) -> HttpResponse {
        // About one answer in six is hostile, so most flows still get far.
        let hostile = match self.choice(40) {
            h @ 1..=7 => h,
            _ => 0,
        };
        match (hostile, step) {
            (1, _) => {
                return HttpResponse::status(302).with_header("Location", &format!("{EVIL}/x"))
            }
            (2, _) => return HttpResponse::status(503),
            (3, _) => {
                // Not a secret: the AS's own words may be shown (but never after an iss mismatch).
                let desc = format!("as-error-text-{}", self.counter);
                let code = if self.counter & 1 == 0 {
                    "invalid_grant"
                } else {
                    "invalid_client"
                };
                return HttpResponse::json(400, &json!({"error": code, "error_description": desc}));
            }
            (4, _) => {
                return HttpResponse {
                    status: 200,
                    headers: vec![],
                    body: b"{\"resource\": [".to_vec(),
                }
            }
            _ => {}
        }
        match step {
            Step::ResourceMetadata => self.serve_prm(req, hostile),
            Step::ServerMetadata => self.serve_meta(req, hostile),
            Step::Registration => {
                let mut doc =
                    json!({"client_id": if hostile == 5 { "ctl\u{7}id" } else { "client-1" }});
                let spec = self.as_for_endpoint(&req.url);
                if spec.is_some_and(|s| s.dcr_secret) {
                    doc["client_secret"] = Value::String(self.marker("dcr-secret"));
                }
                HttpResponse::json(201, &doc)
            }
            Step::TokenExchange | Step::Refresh => {
                let (at, rt) = (self.marker("at"), self.marker("rt"));
                let access_token = if hostile == 5 {
                    format!("{at}\r\nX-Evil: 1")
                } else {
                    at
                };
                let token_type = if hostile == 6 { "mac" } else { "Bearer" };
                HttpResponse::json(
                    200,
                    &json!({"access_token": access_token, "token_type": token_type,
                    "refresh_token": rt, "expires_in": 3600}),
                )
            }
            _ => HttpResponse::status(200),
        }
    }

    fn serve_prm(&mut self, req: &HttpRequest, hostile: u8) -> HttpResponse {
        let o = origin(self.m.server());
        let path = self.m.server().strip_prefix(&o).unwrap_or("");
        let url = req.url.as_str();
        let legit = url == format!("{o}/custom/prm")
            || url == format!("{o}/.well-known/oauth-protected-resource")
            || (url == format!("{o}/.well-known/oauth-protected-resource{path}")
                && !self.w.prm_at_root);
        if !legit {
            return HttpResponse::status(404);
        }
        // Variant 5: a resource on another origin; 7: same origin, but not a prefix of the
        // server path (RFC 9728 §3.3). Both must be refused.
        if hostile == 5 || hostile == 7 {
            let resource = if hostile == 5 {
                format!("{EVIL}/mcp")
            } else {
                format!("{o}/other")
            };
            return HttpResponse::json(
                200,
                &json!({"resource": resource, "authorization_servers": [EVIL]}),
            );
        }
        // Variant 6: the PRM now names the other AS first (an AS switch between flows).
        let first_as = if hostile == 6 {
            1 - self.w.first_as
        } else {
            self.w.first_as
        };
        let first = self.w.ases[first_as].issuer.clone();
        let second = self.w.ases[1 - first_as].issuer.clone();
        self.prm_first.push(first.clone());
        HttpResponse::json(
            200,
            &json!({"resource": self.resource, "authorization_servers": [first, second],
            "scopes_supported": ["mcp:read", "mcp:write"]}),
        )
    }

    fn endpoint_base(&self, i: usize) -> String {
        let spec = &self.w.ases[i];
        match ENDPOINT_HOSTS[spec.endpoint_host] {
            "" => format!("{}/as{i}", spec.issuer.trim_end_matches('/')),
            host => format!("{host}/as{i}"),
        }
    }

    fn as_for_endpoint(&self, url: &str) -> Option<&AsSpec> {
        (0..2)
            .find(|&i| url.starts_with(&self.endpoint_base(i)))
            .map(|i| &self.w.ases[i])
    }

    fn serve_meta(&mut self, req: &HttpRequest, hostile: u8) -> HttpResponse {
        let Some(i) = (0..2).find(|&i| {
            let urls = well_known(&self.w.ases[i].issuer);
            urls.get(self.w.ases[i].meta_index.min(urls.len() - 1)) == Some(&req.url)
        }) else {
            return HttpResponse::status(404);
        };
        let spec = self.w.ases[i].clone();
        let base = if hostile == 5 || hostile == 6 {
            EVIL.to_string()
        } else {
            self.endpoint_base(i)
        };
        let issuer = match hostile {
            5 if spec.issuer.ends_with('/') => spec.issuer.trim_end_matches('/').to_string(),
            5 => format!("{}/", spec.issuer),
            6 => EVIL.to_string(),
            _ => spec.issuer.clone(),
        };
        let mut doc = json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{base}/authorize"),
            "token_endpoint": format!("{base}/token"),
            "code_challenge_methods_supported": if hostile == 7 { json!(["plain"]) } else { json!(["S256"]) },
            "authorization_response_iss_parameter_supported": spec.iss_advertised,
            "scopes_supported": ["mcp:read", "mcp:write", "mcp:admin", "offline_access"],
        });
        if spec.registration {
            doc["registration_endpoint"] = Value::String(format!("{base}/register"));
        }
        if spec.methods != 0 {
            let methods: Vec<&str> = (0..3)
                .filter(|b| spec.methods & (1 << b) != 0)
                .map(|b| METHODS[b])
                .collect();
            doc["token_endpoint_auth_methods_supported"] = json!(methods);
        }
        self.served_meta.push(Served {
            url: req.url.clone(),
            issuer,
            authz: format!("{base}/authorize"),
            token: format!("{base}/token"),
            iss_advertised: spec.iss_advertised,
        });
        HttpResponse::json(200, &doc)
    }

    /// Answers the browser step; checks (d) and (f) on the machine's reaction.
    fn answer_browser(&mut self, b: BrowserRequest) -> Result<(), TestCaseError> {
        let (issuer, advertised) = self.doc_for(&b.url)?;
        let state = b.state.expose_secret().to_string();
        let code = self.marker("code");
        let desc = format!("as-says-{:016x}", self.w.tag);
        let other_iss = if issuer.ends_with('/') {
            issuer.trim_end_matches('/').to_string()
        } else {
            format!("{issuer}/")
        };
        let kind = match self.choice(15) {
            k @ 1..=8 => k,
            _ => 0,
        };
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        match kind {
            1 => q.append_pair("state", "forged-state"),
            2 => &mut q,
            6 | 8 => {
                // The browser step ends without a callback (timeout, or the user cancels);
                // the right callback arriving afterwards must be ignored.
                let (outs, expected) = if kind == 6 {
                    self.now = self.now.advance(Duration::from_secs(301));
                    (self.feed(Input::Timeout)?, Error::AuthorizationTimeout)
                } else {
                    (self.command(|m, now| m.cancel(now))?, Error::Cancelled)
                };
                let ended = outs
                    .iter()
                    .any(|o| matches!(o, Output::Event(Event::Failed(e)) if *e == expected));
                let closed = outs.iter().any(|o| matches!(o, Output::CloseLoopback));
                if !ended || !closed || self.m.is_busy() {
                    return Err(self.fail(format!("(d) no clean end by {expected:?}")));
                }
                q.append_pair("state", &state).append_pair("code", &code);
                let late = format!("http://127.0.0.1:5555/callback?{}", q.finish());
                let outs = self.feed(Input::Callback { query: late })?;
                if outs.iter().any(|o| matches!(o, Output::Fetch { .. })) {
                    return Err(
                        self.fail("(d) a callback after the flow ended was redeemed".into())
                    );
                }
                return Ok(());
            }
            _ => q.append_pair("state", &state),
        };
        q.append_pair("code", &code);
        let iss = match kind {
            3 => Some(other_iss),
            4 => None,
            7 => Some(format!("{EVIL}/")),
            _ => (advertised || self.choice(2) == 1).then(|| issuer.clone()),
        };
        if let Some(iss) = &iss {
            q.append_pair("iss", iss);
        }
        if matches!(kind, 3 | 4 | 5 | 7) {
            q.append_pair("error", "access_denied")
                .append_pair("error_description", &desc);
        }
        let query = format!("http://127.0.0.1:5555/callback?{}", q.finish());
        let outs = self.feed(Input::Callback { query })?;
        let exchanged = outs.iter().any(|o| {
            matches!(
                o,
                Output::Fetch {
                    step: Step::TokenExchange,
                    ..
                }
            )
        });
        if matches!(kind, 1 | 2) {
            // (d): a forged or state-less callback is discarded and the machine keeps waiting.
            let waiting = matches!(
                self.m.status(),
                mcp_oauth_core::AuthStatus::WaitingForBrowser { .. }
            );
            if exchanged || !waiting || !self.m.is_busy() {
                return Err(
                    self.fail("(d) callback with wrong/missing state was not discarded".into())
                );
            }
            self.stats.forged += 1;
            self.browser = Some(b);
            return Ok(());
        }
        let mismatch = match &iss {
            Some(i) => *i != issuer,
            None => advertised,
        };
        if mismatch {
            self.stats.iss_mismatches += 1;
            // (f): no token request, `IssMismatch`, and the AS's text is never shown.
            let iss_failed = outs
                .iter()
                .any(|o| matches!(o, Output::Event(Event::Failed(Error::IssMismatch))));
            let leaked = outs.iter().any(|o| {
                format!("{o:?}").contains(&desc)
                    || matches!(o, Output::Event(Event::Failed(e)) if e.to_string().contains(&desc))
            });
            if exchanged || !iss_failed || leaked {
                return Err(self.fail(format!("(f) iss mismatch: exchanged={exchanged} iss_failed={iss_failed} leaked={leaked}")));
            }
        }
        Ok(())
    }
}

/// Values of one query parameter of a URL (form-decoded).
fn query_values(url: &str, name: &str) -> Vec<String> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    url::form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .collect()
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0x6d63_702d_6f61_7574),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// (a) no input sequence panics; (b) every TokenExchange/Refresh goes to the
    /// `token_endpoint` of AS metadata fetched at one of the issuer's well-known URLs for the
    /// issuer named first in a PRM, whose `issuer` equals it byte for byte; (c) `resource`
    /// on every authorization URL and token request equals the PRM `resource` (raw), the fixed
    /// value, or is absent under `Omit`; (d) a wrong or missing `state` never leads to a token
    /// request and the machine keeps waiting, and after a timeout or `cancel` even the right
    /// callback is ignored (single-use state); (e) no `Debug` output shows a token, code, client
    /// secret, state or verifier; (f) an `iss` mismatch never leads to a token request and the
    /// error never shows the AS's `error_description`. Also: the hostile host is never fetched
    /// and the browser only goes to a discovered `authorization_endpoint`.
    #[test]
    fn machine_safety_invariants(w in world()) {
        Driver::new(&w).run()?;
    }
}

/// The same 256 worlds reach every part of the flow the properties talk about, so a change in
/// the fake (or the machine) cannot make them pass vacuously.
#[test]
fn generated_worlds_cover_the_flow() {
    let total = std::cell::RefCell::new(Vec::new());
    let mut runner = proptest::test_runner::TestRunner::new(config());
    runner
        .run(&world(), |w| {
            total.borrow_mut().push(Driver::new(&w).run()?);
            Ok(())
        })
        .expect("properties hold");
    let cases = total.into_inner();
    let count = |f: fn(&Stats) -> usize| cases.iter().filter(|s| f(s) > 0).count();
    let (browsers, exchanges) = (count(|s| s.browsers), count(|s| s.exchanges));
    let (authorized, refreshes) = (count(|s| s.authorized), count(|s| s.refreshes));
    let (forged, mismatches) = (count(|s| s.forged), count(|s| s.iss_mismatches));
    eprintln!(
        "{} cases: browser {browsers}, token exchange {exchanges}, authorized {authorized}, \
         refresh {refreshes}, forged callback {forged}, iss mismatch {mismatches}",
        cases.len()
    );
    assert_eq!(cases.len(), 256);
    assert!(
        browsers >= 100 && exchanges >= 80 && authorized >= 50,
        "flow rarely completes"
    );
    assert!(
        refreshes >= 10 && forged >= 20 && mismatches >= 20,
        "hostile paths rarely hit"
    );
}
