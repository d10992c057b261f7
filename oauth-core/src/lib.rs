//! # mcp-oauth-core
//!
//! A pure, **sans-IO** state machine for the MCP authorization flow: from "the server answered
//! 401" to "authorized, stored, refreshed, stepped up, logged out", for MCP revisions 2025-03-26
//! through 2026-07-28.
//!
//! The core never performs IO, never reads a clock, never draws entropy and never reads the
//! environment or files. Time comes in with every input ([`Now`]); randomness comes from an
//! injected RNG ([`SeededRng`] or any `rand_core::CryptoRng`). Adapters (`mcp-oauth-tokio`,
//! `mcp-oauth-blocking`) interpret the [`Output`]s.
//!
//! **Drain order: after every input or command, call [`Machine::poll_output`] until it returns
//! `None` before waiting on IO; then wait for IO or until [`Machine::poll_timeout`].**
//!
//! The API is sorted as in quinn-proto: getters, which never change the machine
//! ([`Machine::status`], [`Machine::header`]), `handle_input`, commands ([`Machine::authorize`],
//! [`Machine::ensure_fresh`], [`Machine::refresh`], [`Machine::logout`]), then `poll_output` /
//! `poll_timeout`.
//!
//! One module per protocol step, each a pair of pure functions (request builder, response
//! parser): [`challenge`], [`resource_metadata`], [`server_metadata`], [`registration`],
//! [`authorize`], [`callback`], [`token`], [`revoke`]; [`machine`] only sequences them.
//!
//! The repository's `ARCHITECTURE.md` draws the machine's state graph and states the
//! coordinator's rules, the security invariants and the specification sections each module
//! implements.
// Every public item is documented; CI's clippy -D warnings keeps it so.
#![warn(missing_docs)]

pub mod authorize;
pub mod callback;
pub mod challenge;
pub mod config;
pub mod coordinator;
#[cfg(feature = "extensions")]
pub mod dpop;
pub mod error;
pub mod grants;
pub mod http;
pub mod io;
#[cfg(feature = "extensions")]
pub mod jwt;
pub mod loopback;
pub mod machine;
pub mod pkce;
pub mod registration;
pub mod resource_metadata;
pub mod revoke;
pub mod rng;
pub mod scope;
pub mod secret;
pub mod server_metadata;
pub mod session;
pub mod time;
pub mod token;
pub mod uri;
pub mod url_policy;

pub use config::{
    ClientConfig, Config, DpopMode, EnterpriseIdp, Grant, KnownAuthorizationServer,
    PreRegisteredClient, PrivateKeyJwt, ResourceMatch, ResourceParameter, ServerEndpoints,
};
pub use error::{Error, Fault, Result, Warning};
pub use http::{
    HttpRequest, HttpResponse, Method, RequestId, Step, TransportError, TransportErrorKind,
    MAX_RESPONSE_BYTES,
};
pub use io::{AuthStatus, BrowserRequest, Event, HeaderState, Input, Output};
pub use machine::Machine;
pub use rng::SeededRng;
pub use secret::{
    AccessToken, AuthorizationCode, AuthorizationHeader, ClientSecret, PkceVerifier, RefreshToken,
    StateToken,
};
pub use session::{
    ClientAuthMethod, ClientKind, ClientRegistration, Session, SessionSettings, TokenSet,
    TokenType, SESSION_VERSION,
};
pub use time::{Deadline, DeadlineReason, Now};
pub use url_policy::UrlPolicy;
