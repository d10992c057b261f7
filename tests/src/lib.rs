//! # mcp-oauth-tests
//!
//! Test infrastructure for mcp-oauth (ARCHITECTURE.md §10, test layers):
//!
//! - [`testbed`], [`serve`]: re-exported from `mcp-oauth-testbed` (the servers of every
//!   conformance client-auth scenario, on a virtual clock or on loopback sockets); [`mcp`]: the
//!   MCP Streamable HTTP client codec, re-exported from `mcp-oauth-mcp`.
//!
//! - [`sim`]: the deterministic simulation, which drives the core machine against the testbed
//!   in-process.
//!
//! - [`conformance`]: the `conformance-client` binary's pieces (configuration from the
//!   harness's environment, the redirect-reading "browser", the MCP conversation on both wires),
//!   run by `scripts/conformance.sh` under the official MCP conformance harness.
//!
//! The same testbed serves the deterministic simulation (driven in-process), the integration
//! tests (put on a loopback listener) and the `mcp-oauth demo` command.

pub mod conformance;
pub mod sim;

// The servers live in the publishable `mcp-oauth-testbed` (the CLI's demo embeds them), the MCP
// codec in `mcp-oauth-mcp` (the CLI's `call` uses it); re-exported so every test names them
// from one place.
pub use mcp_oauth_mcp as mcp;
pub use mcp_oauth_testbed::{serve, testbed};

/// The README's Rust examples, compiled and run as doctests (the embedding guide must not rot).
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
