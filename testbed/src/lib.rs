//! # mcp-oauth-testbed
//!
//! The servers the whole MCP authorization flow can be run against without a network: the
//! `mcp-oauth demo` command embeds them, the integration tests and the conformance simulation
//! drive them, and an application embedding `mcp-oauth` can use them for its own tests.
//!
//! - [`testbed`]: an OAuth authorization server and an MCP resource server written as pure
//!   functions `HttpRequest -> HttpResponse` on a virtual clock. It reproduces the mock servers
//!   of every client-auth scenario of the official MCP conformance suite
//!   ([`testbed::TestbedConfig::conformance`]) and also verifies what those servers let slide
//!   (PKCE S256, `state`, `redirect_uri`, single-use codes, client authentication, `resource`),
//!   recording each slip in [`testbed::Testbed::violations`].
//! - [`serve`]: the same testbed on `127.0.0.1` ephemeral ports (one thread per connection).
//! - [`headless`]: a "browser" for authorization endpoints that approve without a user.
//!
//! ```
//! use mcp_oauth_testbed::serve::{ServeOptions, TestbedServer};
//! use mcp_oauth_testbed::testbed::TestbedConfig;
//!
//! let server = TestbedServer::start(TestbedConfig::default(), ServeOptions::default())?;
//! assert!(server.mcp_url().starts_with("http://127.0.0.1:"));
//! # Ok::<(), std::io::Error>(())
//! ```
// Every public item is documented; CI's clippy -D warnings keeps it so.
#![warn(missing_docs)]

pub mod headless;
pub mod serve;
pub mod testbed;
