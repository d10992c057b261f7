//! The benchmarked flows: the testbed each one runs against, what the harness does before and
//! during it, the physical floor of requests, and the counting of the testbed's request log.

use std::time::Duration;

use mcp_oauth_tests::serve::TestbedServer;
use mcp_oauth_tests::testbed::{ExpectedScope, LoggedRequest, RequestKind, TestbedConfig};

/// Access token lifetime in flow (c): the token really expires on every client's own clock
/// while the harness waits [`REFRESH_WAIT`] after the login, so no client's stored format has to
/// be edited to fake an expiry. Long enough that the token a refresh brings stays outside every
/// client's refresh margin for the rest of the flow (ours: half the lifetime for short tokens;
/// rmcp: the same), so the flow shows one refresh, not an artifact of second boundaries.
pub const SHORT_TOKEN_LIFETIME: u64 = 4;
/// Wait after the setup login of flow (c): past the lifetime of any token issued during it,
/// with slack for the testbed's whole-second clock.
pub const REFRESH_WAIT: Duration = Duration::from_millis(SHORT_TOKEN_LIFETIME * 1000 + 1200);

/// The testbed every flow runs against: the strict default (PRM named in the 401 challenge,
/// RFC 8414 metadata, DCR, PKCE S256, `iss`, rotating refresh tokens, both wires) except that
/// registration gives no `client_secret` to a client registered with auth method `none`, as
/// most authorization servers do. The default's secret (the conformance suite's habit) is a trap
/// rmcp falls into (it then authenticates with it, and the strict testbed answers
/// `invalid_client`); [`strict_probe_config`] keeps it for a separate compatibility check.
pub fn base_config() -> TestbedConfig {
    TestbedConfig {
        dcr_returns_secret: false,
        ..TestbedConfig::default()
    }
}

/// The testbed's unmodified default, for the one-run compatibility probe.
pub fn strict_probe_config() -> TestbedConfig {
    TestbedConfig::default()
}

/// One benchmarked flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// (a) First login, from an empty state directory, to the first successful `tools/list`.
    FirstLogin,
    /// (b) Restart with a valid stored token, to the first successful `tools/list`.
    Restart,
    /// (c) Restart after the access token expired (refresh token valid).
    Refresh,
    /// (d) Mid-session, the server revokes the access token: `tools/list` gets 401, recovers.
    Revoked,
    /// (e) Mid-session `tools/call` needing a scope the token lacks: 403 `insufficient_scope`.
    StepUp,
    /// (e2) The same step-up in a process restarted from the stored session (what a restart
    /// keeps of discovery shows here).
    StepUpAfterRestart,
    /// (f) Mid-session, the access token expires server-side, then N `tools/list` at once.
    Concurrent(usize),
}

/// What the harness does when a paused client reports `READY` (after its warm-up `tools/list`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pause {
    /// Nothing: the client is started and measured in one go.
    None,
    /// Only clear the log.
    Go,
    /// Revoke every access token, then clear the log.
    Revoke,
    /// Expire every access token, then clear the log.
    Expire,
}

/// The least traffic any client can need for a flow (ARCHITECTURE.md §10, request-count floor),
/// per kind.
#[derive(Debug, Clone, Copy, Default)]
pub struct Floor {
    /// MCP requests, counting those a 401/403 rejects and their retries.
    pub mcp: usize,
    /// Protected Resource Metadata fetches.
    pub prm: usize,
    /// Authorization server metadata fetches.
    pub asm: usize,
    /// Registrations.
    pub dcr: usize,
    /// Authorization requests.
    pub authorize: usize,
    /// Token requests.
    pub token: usize,
    /// Refresh-grant token requests (part of `token`).
    pub refresh: usize,
}

impl Floor {
    /// OAuth requests in all.
    pub fn oauth(&self) -> usize {
        self.prm + self.asm + self.dcr + self.authorize + self.token
    }

    /// Whether `c` stays at or below this floor in every kind.
    pub fn holds(&self, c: &Counts) -> bool {
        c.mcp <= self.mcp
            && c.prm <= self.prm
            && c.asm <= self.asm
            && c.dcr <= self.dcr
            && c.authorize <= self.authorize
            && c.token <= self.token
            && c.other == 0
    }
}

impl Flow {
    /// The letter the issue uses.
    pub fn letter(self) -> &'static str {
        match self {
            Flow::FirstLogin => "a",
            Flow::Restart => "b",
            Flow::Refresh => "c",
            Flow::Revoked => "d",
            Flow::StepUp => "e",
            Flow::StepUpAfterRestart => "e2",
            Flow::Concurrent(_) => "f",
        }
    }

    /// The letter, with N for the concurrent flow (`f N=10`), for notes and progress lines.
    pub fn tag(self) -> String {
        match self {
            Flow::Concurrent(n) => format!("f N={n}"),
            other => other.letter().to_string(),
        }
    }

    /// A one-line title.
    pub fn title(self) -> String {
        match self {
            Flow::FirstLogin => "first login to first successful tools/list".into(),
            Flow::Restart => "restart with a valid stored token".into(),
            Flow::Refresh => "restart with an expired access token, valid refresh token".into(),
            Flow::Revoked => "401 on a revoked access token, recovery".into(),
            Flow::StepUp => "step-up on 403 insufficient_scope".into(),
            Flow::StepUpAfterRestart => {
                "step-up on 403 insufficient_scope, in a restarted process".into()
            }
            Flow::Concurrent(n) => format!("{n} concurrent tools/list with an expired token"),
        }
    }

    /// The flow argument of the peer clients.
    pub fn client_arg(self) -> String {
        match self {
            Flow::FirstLogin => "login".into(),
            Flow::Restart | Flow::Refresh => "list".into(),
            Flow::Revoked => "revoked".into(),
            Flow::StepUp | Flow::StepUpAfterRestart => "stepup".into(),
            Flow::Concurrent(n) => format!("concurrent-{n}"),
        }
    }

    /// Whether an (unmeasured) login by the same client, in its own process, fills the state
    /// directory first: the restart flows. The paused flows log in inside the measured process
    /// before their warm-up, so what they measure happens mid-session.
    pub fn needs_login(self) -> bool {
        matches!(
            self,
            Flow::Restart | Flow::Refresh | Flow::StepUpAfterRestart
        )
    }

    /// What happens at the client's `READY`.
    pub fn pause(self) -> Pause {
        match self {
            Flow::FirstLogin | Flow::Restart | Flow::Refresh => Pause::None,
            Flow::Revoked => Pause::Revoke,
            Flow::StepUp | Flow::StepUpAfterRestart => Pause::Go,
            Flow::Concurrent(_) => Pause::Expire,
        }
    }

    /// The testbed: [`base_config`], with short-lived tokens for (c) and a `tools/call` needing
    /// `mcp:write` for (e).
    pub fn config(self) -> TestbedConfig {
        let base = base_config();
        match self {
            Flow::Refresh => TestbedConfig {
                access_token_lifetime: SHORT_TOKEN_LIFETIME,
                ..base
            },
            // PRM lists no scopes: the client starts from the challenge's `mcp:basic` (MCP
            // 2025-11-25 "Scope Selection Strategy"). With `mcp:write` in PRM, rmcp asks for the
            // union of challenge and PRM scopes up front and never steps up, so the flow would not
            // be exercised.
            Flow::StepUp | Flow::StepUpAfterRestart => TestbedConfig {
                prm_scopes_supported: None,
                challenge_scope: Some("mcp:basic".into()),
                call_scopes: vec!["mcp:write".into()],
                expected_first_scope: Some(ExpectedScope::Contains(vec!["mcp:basic".into()])),
                expected_reauth_scope: Some(vec!["mcp:basic".into(), "mcp:write".into()]),
                ..base
            },
            _ => base,
        }
    }

    /// The physical floor. First login: the request the 401 rejects, `initialize`,
    /// `notifications/initialized`, `tools/list`, and 5 OAuth requests with DCR (PRM, AS
    /// metadata, registration, authorize, token). A restart needs no OAuth request; an expired
    /// token one refresh; step-up one authorization and one code exchange (discovery cached);
    /// N concurrent requests on a token the server expired: N rejected, N retried, 1 refresh.
    pub fn floor(self) -> Floor {
        let f = Floor::default();
        match self {
            Flow::FirstLogin => Floor {
                mcp: 4,
                prm: 1,
                asm: 1,
                dcr: 1,
                authorize: 1,
                token: 1,
                ..f
            },
            Flow::Restart => Floor { mcp: 3, ..f },
            Flow::Refresh => Floor {
                mcp: 3,
                token: 1,
                refresh: 1,
                ..f
            },
            Flow::Revoked => Floor {
                mcp: 2,
                token: 1,
                refresh: 1,
                ..f
            },
            Flow::StepUp | Flow::StepUpAfterRestart => Floor {
                mcp: 2,
                authorize: 1,
                token: 1,
                ..f
            },
            Flow::Concurrent(n) => Floor {
                mcp: 2 * n,
                token: 1,
                refresh: 1,
                ..f
            },
        }
    }

    /// The least wall time at `delay` per request: the floor's requests one after another, or
    /// for the concurrent flow the chain 401, refresh, retry.
    pub fn time_floor_ms(self, delay_ms: u64) -> u64 {
        let f = self.floor();
        let chain = match self {
            Flow::Concurrent(_) => 3,
            _ => f.mcp + f.oauth(),
        };
        chain as u64 * delay_ms
    }

    /// The harness's action at `READY`, under the testbed lock.
    pub fn on_ready(self, server: &TestbedServer) {
        server.with_testbed(|t| {
            match self.pause() {
                Pause::Revoke => t.revoke_all_access_tokens(),
                Pause::Expire => t.expire_all_access_tokens(),
                Pause::None | Pause::Go => {}
            }
            t.clear_log();
        });
    }
}

/// Requests of one measured phase, by kind, from the testbed's log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// `/mcp` requests (any method, any status).
    pub mcp: usize,
    /// Protected Resource Metadata fetches (any well-known probe counts).
    pub prm: usize,
    /// Authorization server metadata fetches.
    pub asm: usize,
    /// Dynamic client registrations.
    pub dcr: usize,
    /// Authorization requests (the automated browser's GET).
    pub authorize: usize,
    /// Token requests, any grant.
    pub token: usize,
    /// Token requests with `grant_type=refresh_token`.
    pub refresh: usize,
    /// MCP requests answered 401.
    pub mcp_401: usize,
    /// MCP requests answered 403.
    pub mcp_403: usize,
    /// Anything else (revocation, unknown paths).
    pub other: usize,
}

impl Counts {
    /// Counts a log.
    pub fn of(log: &[LoggedRequest]) -> Self {
        let mut c = Counts::default();
        for r in log {
            match r.kind {
                RequestKind::Mcp => {
                    c.mcp += 1;
                    c.mcp_401 += usize::from(r.status == 401);
                    c.mcp_403 += usize::from(r.status == 403);
                }
                RequestKind::ResourceMetadata => c.prm += 1,
                RequestKind::ServerMetadata => c.asm += 1,
                RequestKind::Registration => c.dcr += 1,
                RequestKind::Authorize => c.authorize += 1,
                RequestKind::Token => {
                    c.token += 1;
                    c.refresh += usize::from(r.form_value("grant_type") == Some("refresh_token"));
                }
                RequestKind::Revocation | RequestKind::Other => c.other += 1,
            }
        }
        c
    }

    /// OAuth requests: PRM + AS metadata + registration + authorize + token.
    pub fn oauth(&self) -> usize {
        self.prm + self.asm + self.dcr + self.authorize + self.token
    }
}

/// What a client reports about one measured flow.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The flow's time as the client measured it: from before it builds its OAuth client (login,
    /// restart flows) or from the harness's go (paused flows), to the last answer. Excludes
    /// process start.
    pub elapsed_ms: f64,
    /// Subprocess peers: spawn to exit, as the harness saw it.
    pub process_ms: Option<f64>,
    /// MCP calls in the measured part that failed (concurrent flow; otherwise a failure is an
    /// error of the whole flow).
    pub failed: usize,
    /// The first few failure messages.
    pub errors: Vec<String>,
}
