//! One error type for the whole core, sorted by who is at fault (DESIGN.md §2, h11 style).
//!
//! [`Error::fault`] tells a host whether to blame the authorization server's decision, a remote
//! that broke the protocol, the network, or its own configuration. No variant carries a secret;
//! authorization-server text is only kept where the spec allows it to be shown (never after an
//! `iss` mismatch, RFC 9207 §2.4 / spec-checklist I5).

use crate::http::Step;

/// Who caused an [`Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The authorization or resource server refused (an RFC 6749 error code).
    ServerRefused,
    /// A remote violated the protocol (bad JSON, wrong issuer, missing PKCE support, ...).
    Protocol,
    /// The adapter could not move the bytes.
    Transport,
    /// The caller's configuration or call sequence is wrong.
    Caller,
}

/// Everything that can go wrong in the authorization flow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- the server said no ----
    /// An OAuth error response (RFC 6749 §5.2 / §4.1.2.1, RFC 7591 §3.2.2).
    #[error("{step:?} refused: {code}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    OAuth {
        /// The step that failed.
        step: Step,
        /// The `error` code, e.g. `invalid_grant`.
        code: String,
        /// `error_description`, already sanitised to printable ASCII.
        description: Option<String>,
    },
    /// The resource server answered 403 without `insufficient_scope` (spec-checklist SC7).
    #[error("the MCP server refused access (HTTP 403) without asking for more scopes")]
    Forbidden,
    /// The step-up budget of authorization requests is spent (spec-checklist SC6).
    #[error(
        "gave up after {attempts} authorization requests: the server keeps asking for more scope"
    )]
    StepUpLimit {
        /// Authorization requests made in this chain.
        attempts: u32,
    },
    /// A stored session exists but cannot be used without a new login, and the caller disallowed
    /// interactive authorization.
    #[error("login required: run the authorization flow (e.g. `mcp-oauth login`)")]
    LoginRequired,

    // ---- the remote broke the protocol ----
    /// A response had an unexpected status and no OAuth error body.
    #[error("{step:?}: unexpected HTTP status {status}")]
    HttpStatus {
        /// The step.
        step: Step,
        /// The status code.
        status: u16,
    },
    /// A body was not the JSON (or form) document the step expects.
    #[error("{step:?}: malformed response: {detail}")]
    Malformed {
        /// The step.
        step: Step,
        /// What was wrong (never contains secret values).
        detail: String,
    },
    /// Discovery found no protected resource metadata and no authorization server.
    #[error("could not discover the authorization server for this MCP server")]
    DiscoveryFailed,
    /// PRM `resource` does not identify this server (RFC 9728 §3.3, spec-checklist P6).
    #[error("protected resource metadata is for {found:?}, not for {expected:?}")]
    ResourceMismatch {
        /// The identifier the client expected.
        expected: String,
        /// What the metadata said.
        found: String,
    },
    /// AS metadata `issuer` differs from the issuer it was fetched for (RFC 8414 §3.3).
    #[error("authorization server metadata names issuer {found:?}, expected {expected:?}")]
    IssuerMismatch {
        /// The raw issuer from PRM.
        expected: String,
        /// The metadata's `issuer`.
        found: String,
    },
    /// The AS does not advertise PKCE `S256` (spec-checklist A7 / C2).
    #[error("the authorization server does not support PKCE S256")]
    PkceUnsupported,
    /// A URL failed the [`crate::UrlPolicy`].
    #[error("refusing URL {url:?}: {reason}")]
    InsecureUrl {
        /// The URL (query removed).
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// No registration path: no pre-registered client, no usable CIMD, no registration endpoint.
    #[error("the authorization server offers no way to register this client")]
    RegistrationUnavailable,
    /// The MCP server requires DPoP-bound tokens (RFC 9728 §2
    /// `dpop_bound_access_tokens_required`) and none can be had; the reason says why.
    #[error("the MCP server requires DPoP-bound tokens (RFC 9449), but {0}")]
    DpopRequired(String),
    /// The authorization server named in the configuration publishes no RFC 8414 or OIDC
    /// metadata, and no endpoints were given for it.
    #[error("the authorization server {issuer} publishes no metadata (RFC 8414 / OpenID Connect Discovery); give its endpoints (authorization and token endpoint)")]
    NoServerMetadata {
        /// The configured issuer.
        issuer: String,
    },
    /// The token endpoint refused a client the user configured (`invalid_client` or
    /// `unauthorized_client`, RFC 6749 §5.2): unlike a dynamically registered client, it cannot
    /// be registered again.
    #[error("the authorization server refused the configured client {client_id:?} ({code}): check the client id and secret, and that the client may use this grant")]
    ClientRejected {
        /// The configured `client_id`.
        client_id: String,
        /// `invalid_client` or `unauthorized_client`.
        code: String,
    },
    /// A pre-registered client is bound to another issuer (spec-checklist R11).
    #[error("the pre-registered client is for issuer {configured:?}, but the server uses {discovered:?}")]
    PreRegisteredIssuerMismatch {
        /// The configured issuer.
        configured: String,
        /// The discovered issuer.
        discovered: String,
    },
    /// The callback `state` was missing or wrong; the response was discarded (RFC 6749 §10.12).
    #[error("authorization response rejected: state missing or wrong")]
    StateMismatch,
    /// The callback `iss` failed the RFC 9207 §2.4 check. The AS's error text is deliberately
    /// dropped (spec-checklist I5).
    #[error("authorization response rejected: issuer (iss) missing or wrong")]
    IssMismatch,
    /// A parameter appeared twice in the callback (OAuth 2.1 §3.1).
    #[error("authorization response rejected: parameter {0:?} repeated")]
    DuplicateParameter(String),
    /// The token response carried an unusable token (control characters, unknown type, empty).
    #[error("token response rejected: {0}")]
    InvalidToken(String),
    /// A response exceeded [`crate::http::MAX_RESPONSE_BYTES`].
    #[error("{step:?}: response too large")]
    ResponseTooLarge {
        /// The step.
        step: Step,
    },

    // ---- the transport failed ----
    /// The adapter reported a network failure.
    #[error("{step:?}: transport failed: {message}")]
    Transport {
        /// The step.
        step: Step,
        /// The adapter's message.
        message: String,
    },
    /// The user did not complete the browser step in time.
    #[error("timed out waiting for the browser authorization")]
    AuthorizationTimeout,

    // ---- the caller got it wrong ----
    /// Invalid configuration.
    #[error("configuration: {0}")]
    Config(String),
    /// The caller abandoned the flow.
    #[error("cancelled")]
    Cancelled,
    /// A command that does not fit the machine's current state.
    #[error("not possible now: {0}")]
    InvalidCall(&'static str),
}

impl Error {
    /// Who is at fault.
    pub fn fault(&self) -> Fault {
        match self {
            Error::OAuth { .. }
            | Error::Forbidden
            | Error::StepUpLimit { .. }
            | Error::LoginRequired => Fault::ServerRefused,
            Error::Transport { .. } | Error::AuthorizationTimeout => Fault::Transport,
            Error::Config(_)
            | Error::InvalidCall(_)
            | Error::PreRegisteredIssuerMismatch { .. }
            | Error::NoServerMetadata { .. }
            | Error::ClientRejected { .. } => Fault::Caller,
            _ => Fault::Protocol,
        }
    }

    /// The OAuth error code, if this is an OAuth error response.
    pub fn oauth_code(&self) -> Option<&str> {
        match self {
            Error::OAuth { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// Keeps only printable ASCII (RFC 6750 §3 `error_description` charset) and caps the length, so
/// remote text cannot forge log lines or terminal escapes.
pub fn sanitize_remote_text(s: &str) -> String {
    s.chars()
        .filter(|c| (' '..='~').contains(c))
        .take(200)
        .collect()
}

/// Result alias for the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;
