//! # mcp-oauth-tests
//!
//! Test infrastructure for mcp-oauth (DESIGN.md §4, test layers):
//!
//! - [`testbed`]: an OAuth authorization server and an MCP resource server written as pure
//!   functions `HttpRequest -> HttpResponse` on a virtual clock. It reproduces the mock servers
//!   of every client-auth scenario of the official MCP conformance suite
//!   ([`testbed::TestbedConfig::conformance`]) and also verifies what those servers let slide
//!   (PKCE S256, `state`, `redirect_uri`, single-use codes, client authentication, `resource`),
//!   recording each slip in [`testbed::Testbed::violations`].
//!
//! - [`conformance`]: the `conformance-client` binary's pieces (configuration from the
//!   harness's environment, the redirect-reading "browser", the MCP conversation on both wires),
//!   run by `scripts/conformance.sh` under the official MCP conformance harness.
//!
//! The same testbed serves the deterministic simulation (driven in-process), the integration
//! tests (put on a loopback listener) and the `mcp-oauth demo` command.

pub mod conformance;
pub mod sim;

// The servers and the MCP codec live in the publishable `mcp-oauth-testbed` (the CLI's demo
// embeds them); re-exported so every test names them from one place.
pub use mcp_oauth_testbed::{mcp, serve, testbed};

/// The README's Rust examples, compiled and run as doctests (the embedding guide must not rot).
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
