//! Adapter parity (project issue 11): one table of scenarios runs through both adapters,
//! `mcp_oauth_blocking::Authorizer` and `mcp_oauth_tokio::Authorizer`, each against its own
//! testbed on loopback sockets, and both must observe the same thing (requests served by kind
//! with their statuses, OAuth requests per step, the error returned, browser launches, store
//! saves and deletes, the session kept in memory and in the store), and that thing must be the
//! one the row expects. One row per item of the issue's list:
//!
//! 1. **static header**: a configured static `Authorization` header is sent as is; no OAuth
//!    request, the store untouched (`oauth-core/src/coordinator/mod.rs`, "Static header").
//! 2. **login under a static header**: an explicit login is a configuration error, the same
//!    variant from both.
//! 3. **stale stored session**: the AS forgot the stored registration and grant (a database
//!    reset): the refresh gets `invalid_client` (RFC 6749 §5.2), the tokens are dropped, the
//!    client registers again (RFC 7591) and the user logs in once.
//! 4. **401 after a refresh**: the MCP server rejects the token (401, RFC 6750 §3.1), one
//!    refresh, and rejects the refreshed token too: the client re-authorizes instead of
//!    refreshing again, then the retry succeeds.
//! 5. **403 step-up**: `insufficient_scope` (MCP authorization spec, "Step-Up Authorization
//!    Flow") re-authorizes with the union of scopes and retries.
//! 6. **concurrent expiry with 100 callers**: one expired token, 100 callers at once, exactly one
//!    refresh request (single flight).
//! 7. **a transport failure during refresh**: the error names the refresh and the transport;
//!    the session keeps its refresh token, nothing is written.
//! 8. **two failures in one drive**: every discovery request fails; callers see the first
//!    failure, the cause, not a later fallback's (`oauth-core/src/coordinator/mod.rs`,
//!    "Failures").
//! 9. **cancellation during the browser wait**: `cancel()` while the login waits for the
//!    browser ends it with `Cancelled` and keeps the session.
//!
//! The harness is in `parity/`: the table's types and the counting store in `parity/mod.rs`,
//! the rows in `parity/table.rs`, the seeding in `parity/seed.rs`, the fault injector in
//! `parity/faults.rs`, one runner per adapter (`parity/blocking.rs`, `parity/tokio_runner.rs`).
//! An observed difference between the adapters fails its row's test by design: the row is
//! never ignored, the assertion stays.

mod e2e_common;
mod parity;

use parity::{blocking, table, tokio_runner, Observed, Scenario};

/// Runs `scenario` through both adapters and checks parity, then the row's expectations.
fn check(scenario: Scenario) {
    let blocking = blocking::run(&scenario);
    let tokio = tokio_runner::run(&scenario);
    assert_eq!(
        blocking, tokio,
        "{}: the adapters differ (left: blocking, right: tokio)",
        scenario.name
    );
    assert_expected(&scenario, &blocking);
}

fn assert_expected(scenario: &Scenario, observed: &Observed) {
    assert_eq!(
        observed, &scenario.expected,
        "{}: both adapters agree, but not with the row (left: observed, right: expected)",
        scenario.name
    );
}

#[test]
fn the_table_covers_the_issue_list_one_row_per_item() {
    let names: Vec<&str> = table::all().iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        [
            "static header",
            "login under a static header",
            "stale stored session",
            "401 after a refresh",
            "403 step-up",
            "concurrent expiry with 100 callers",
            "a transport failure during refresh",
            "two failures in one drive",
            "cancellation during the browser wait",
        ]
    );
}

#[test]
fn static_header() {
    check(table::static_header());
}

#[test]
fn login_under_a_static_header() {
    check(table::login_under_a_static_header());
}

#[test]
fn stale_stored_session() {
    check(table::stale_stored_session());
}

#[test]
fn a_401_after_a_refresh() {
    check(table::a_401_after_a_refresh());
}

#[test]
fn a_403_step_up() {
    check(table::a_403_step_up());
}

#[test]
fn concurrent_expiry_with_100_callers() {
    check(table::concurrent_expiry_with_100_callers());
}

#[test]
fn a_transport_failure_during_refresh() {
    check(table::a_transport_failure_during_refresh());
}

#[test]
fn two_failures_in_one_drive() {
    check(table::two_failures_in_one_drive());
}

#[test]
fn cancellation_during_the_browser_wait() {
    check(table::cancellation_during_the_browser_wait());
}
