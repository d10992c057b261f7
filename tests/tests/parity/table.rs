//! The rows: one per item of issue 11's list, each with what both adapters must observe.

use mcp_oauth_core::Step;
use mcp_oauth_tests::testbed::TestbedConfig;

use super::{served, steps, Fault, Observed, Op, Scenario, Setup, Summary};
use crate::e2e_common::step_up_config;

/// Every row, in the order.
pub fn all() -> Vec<Scenario> {
    vec![
        static_header(),
        login_under_a_static_header(),
        stale_stored_session(),
        a_401_after_a_refresh(),
        a_403_step_up(),
        concurrent_expiry_with_100_callers(),
        a_transport_failure_during_refresh(),
        two_failures_in_one_drive(),
        cancellation_during_the_browser_wait(),
    ]
}

/// Nothing happened: no request, no error, no write, nothing stored.
fn nothing() -> Observed {
    Observed {
        served: served(&[]),
        oauth_requests: steps(&[]),
        result: Ok(()),
        browser_launches: 0,
        store_saves: 0,
        store_deletes: 0,
        session: None,
        stored: None,
        violations: Vec::new(),
    }
}

/// Row 1: Two `tools/list` calls with a static header the testbed accepts: two MCP requests, no
/// OAuth request, the store never written (nor read: it stays empty).
pub fn static_header() -> Scenario {
    Scenario {
        name: "static header",
        testbed: TestbedConfig::default,
        setup: Setup::StaticHeader,
        fault: Fault::None,
        ops: vec![Op::ToolsList, Op::ToolsList],
        expected: Observed {
            served: served(&[("Mcp", &[200, 200])]),
            ..nothing()
        },
    }
}

/// Row 2: `login()` under a static header: refused before any IO, as a configuration error.
pub fn login_under_a_static_header() -> Scenario {
    Scenario {
        name: "login under a static header",
        testbed: TestbedConfig::default,
        setup: Setup::StaticHeader,
        fault: Fault::None,
        ops: vec![Op::Login],
        expected: Observed {
            result: Err(
                "Auth(Config): configuration: a static Authorization header is \
                         configured; OAuth login is disabled"
                    .into(),
            ),
            ..nothing()
        },
    }
}

/// Row 3: The AS forgot the registration: the refresh gets 401 `invalid_client` (RFC 6749 §5.2),
/// the dead tokens are dropped (first save), the re-authorization re-reads the PRM (RFC 9728;
/// the AS metadata comes from the session's discovery cache), registers afresh (RFC 7591),
/// and the new tokens are stored (second save) before the call goes out.
pub fn stale_stored_session() -> Scenario {
    Scenario {
        name: "stale stored session",
        testbed: TestbedConfig::default,
        setup: Setup::Stale,
        fault: Fault::None,
        ops: vec![Op::ToolsList],
        expected: Observed {
            served: served(&[
                ("ResourceMetadata", &[200]),
                ("Registration", &[201]),
                ("Authorize", &[302]),
                ("Token", &[401, 200]),
                ("Mcp", &[200]),
            ]),
            oauth_requests: steps(&[
                (Step::ResourceMetadata, 1),
                (Step::Refresh, 1),
                (Step::Registration, 1),
                (Step::TokenExchange, 1),
            ]),
            browser_launches: 1,
            store_saves: 2,
            session: Summary::TOKENS,
            stored: Summary::TOKENS,
            ..nothing()
        },
    }
}

/// Row 4: 401, refresh, and 401 again for the refreshed token: one refresh only, then a
/// re-authorization through the browser (PRM re-read, code exchange), and the third MCP
/// request succeeds. One save per new token.
pub fn a_401_after_a_refresh() -> Scenario {
    Scenario {
        name: "401 after a refresh",
        testbed: TestbedConfig::default,
        setup: Setup::Revoked,
        fault: Fault::RevokeAfterFirstRefresh,
        ops: vec![Op::ToolsList],
        expected: Observed {
            served: served(&[
                ("ResourceMetadata", &[200]),
                ("Authorize", &[302]),
                ("Token", &[200, 200]),
                ("Mcp", &[401, 401, 200]),
            ]),
            oauth_requests: steps(&[
                (Step::ResourceMetadata, 1),
                (Step::Refresh, 1),
                (Step::TokenExchange, 1),
            ]),
            browser_launches: 1,
            store_saves: 2,
            session: Summary::TOKENS,
            stored: Summary::TOKENS,
            ..nothing()
        },
    }
}

/// Row 5: `tools/call` needs `mcp:write`: 403 `insufficient_scope`, one authorization request for
/// the union of scopes (the testbed checks it: no violation), code exchange, retry.
pub fn a_403_step_up() -> Scenario {
    Scenario {
        name: "403 step-up",
        testbed: step_up_config,
        setup: Setup::LoggedIn,
        fault: Fault::None,
        ops: vec![Op::CallTestTool],
        expected: Observed {
            served: served(&[
                ("Authorize", &[302]),
                ("Token", &[200]),
                ("Mcp", &[403, 200]),
            ]),
            oauth_requests: steps(&[(Step::TokenExchange, 1)]),
            browser_launches: 1,
            store_saves: 1,
            session: Summary::TOKENS,
            stored: Summary::TOKENS,
            ..nothing()
        },
    }
}

/// Row 6: 100 callers released together on an expired token: exactly one refresh request, one
/// save, every caller gets the same new header.
pub fn concurrent_expiry_with_100_callers() -> Scenario {
    Scenario {
        name: "concurrent expiry with 100 callers",
        testbed: TestbedConfig::default,
        setup: Setup::Expired,
        fault: Fault::None,
        ops: vec![Op::Stampede(100)],
        expected: Observed {
            served: served(&[("Token", &[200])]),
            oauth_requests: steps(&[(Step::Refresh, 1)]),
            store_saves: 1,
            session: Summary::TOKENS,
            stored: Summary::TOKENS,
            ..nothing()
        },
    }
}

/// Row 7: The refresh request fails in transport: the error names the step and the cause, nothing
/// reaches the testbed, nothing is written, and both tokens are kept in memory and in the store.
pub fn a_transport_failure_during_refresh() -> Scenario {
    Scenario {
        name: "a transport failure during refresh",
        testbed: TestbedConfig::default,
        setup: Setup::Expired,
        fault: Fault::RefreshTransport,
        ops: vec![Op::ToolsList],
        expected: Observed {
            oauth_requests: steps(&[(Step::Refresh, 1)]),
            result: Err(
                "Auth(Transport): Refresh: transport failed (connect): connection reset".into(),
            ),
            session: Summary::TOKENS,
            stored: Summary::TOKENS,
            ..nothing()
        },
    }
}

/// Row 8: Both PRM requests of the login (RFC 9728 §3 path insertion, then the root URL) fail,
/// "timed out (1)" then "timed out (2)": the caller gets the first failure, and the drive stops
/// there (no AS metadata request).
pub fn two_failures_in_one_drive() -> Scenario {
    Scenario {
        name: "two failures in one drive",
        testbed: TestbedConfig::default,
        setup: Setup::Empty,
        fault: Fault::DiscoveryTransport,
        ops: vec![Op::Login],
        expected: Observed {
            oauth_requests: steps(&[(Step::ResourceMetadata, 2)]),
            result: Err("Auth(Discovery): the protected-resource metadata at \
                         http://127.0.0.1:PORT/.well-known/oauth-protected-resource/mcp could \
                         not be fetched: timed out (1)"
                .into()),
            ..nothing()
        },
    }
}

/// Row 9: `login()` over a valid session with a browser that never comes back, cancelled once the
/// status is `WaitingForBrowser`: `Cancelled`, one launch, the session kept, nothing written.
pub fn cancellation_during_the_browser_wait() -> Scenario {
    Scenario {
        name: "cancellation during the browser wait",
        testbed: TestbedConfig::default,
        setup: Setup::LoggedIn,
        fault: Fault::None,
        ops: vec![Op::LoginThenCancel],
        expected: Observed {
            served: served(&[("ResourceMetadata", &[200])]),
            oauth_requests: steps(&[(Step::ResourceMetadata, 1)]),
            result: Err("Cancelled: cancelled".into()),
            browser_launches: 1,
            session: Summary::TOKENS,
            stored: Summary::TOKENS,
            ..nothing()
        },
    }
}
