//! One error type for the whole core, sorted by who is at fault.
//!
//! [`Error::fault`] tells a host whether to blame the authorization server's decision, a remote
//! that broke the protocol, the network (or a remote that is down for now), or its own
//! configuration; [`Error::is_transient`] says whether trying again later may help, which is
//! never a reason to forget a token or a session. No variant carries a secret;
//! authorization-server text is only kept where the spec allows it to be shown (never after an
//! `iss` mismatch, RFC 9207 §2.4).

use crate::http::Step;

/// Who caused an [`Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The authorization or resource server refused (an RFC 6749 error code).
    ServerRefused,
    /// A remote violated the protocol (bad JSON, wrong issuer, missing PKCE support, ...).
    Protocol,
    /// The adapter could not move the bytes (connection, timeout, size cap), or the remote is
    /// unavailable for now (HTTP 5xx or 429, RFC 9110 §15.6, RFC 6585 §4): retry later.
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
    /// The resource server answered 403 without `insufficient_scope` (RFC 6750 §3.1).
    #[error("the MCP server refused access (HTTP 403) without asking for more scopes")]
    Forbidden,
    /// The step-up budget of authorization requests is spent (`Config::max_authorization_attempts`).
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
    /// A response had an unexpected status and no usable OAuth error body. A 5xx or 429 is
    /// always this variant, whatever its body says (an OAuth error code is only definitive in a
    /// 4xx answer, RFC 6749 §5.2), and counts as transient ([`Error::is_transient`]).
    #[error("{}", status_message(*.step, *.status))]
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
    /// Discovery found no protected resource metadata and no authorization server, and no
    /// metadata URL failed for a reason worth naming (every one answered 404).
    #[error("could not discover the authorization server for this MCP server")]
    DiscoveryFailed,
    /// A metadata document (RFC 9728 protected-resource or RFC 8414 authorization-server
    /// metadata) could not be used, and that ended discovery: the first real cause, with the URL
    /// it came from. Transient when `cause` is (a 5xx, 429, transport failure or over-size
    /// answer), which never falls back to the 2025-03-26 legacy endpoints.
    #[error("{}", discovery_message(*.step, .url, .cause))]
    Discovery {
        /// [`Step::ResourceMetadata`] or [`Step::ServerMetadata`].
        step: Step,
        /// The metadata URL (sanitised; discovery URLs carry no secrets).
        url: String,
        /// What went wrong there.
        cause: Box<Error>,
    },
    /// PRM `resource` does not identify this server (RFC 9728 §3.3).
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
    /// The AS does not advertise PKCE `S256` (RFC 8414 §2, RFC 7636 §4.2).
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
    /// A pre-registered client is bound to another issuer (`PreRegisteredClient::issuer`).
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
    /// dropped: it came from an unverified sender (RFC 9207 §2.4).
    #[error("authorization response rejected: issuer (iss) missing or wrong")]
    IssMismatch,
    /// A parameter appeared twice in the callback (OAuth 2.1 §3.1).
    #[error("authorization response rejected: parameter {0:?} repeated")]
    DuplicateParameter(String),
    /// The token response carried an unusable token (control characters, unknown type, empty,
    /// longer than [`crate::token::MAX_TOKEN_BYTES`]).
    #[error("token response rejected: {0}")]
    InvalidToken(String),
    /// The token endpoint issued a DPoP-bound token (`token_type` `DPoP`) to a request that
    /// carried no DPoP proof. Using it would send `Authorization: DPoP` without a proof, which
    /// every resource server refuses (RFC 9449 §7.1); the token is not stored.
    #[error("token response rejected: the authorization server issued a DPoP-bound token, but this client sent no DPoP proof (RFC 9449 §5)")]
    UnrequestedDpopToken {
        /// The step whose answer it was.
        step: Step,
    },
    /// A response exceeded [`crate::http::MAX_RESPONSE_BYTES`].
    #[error("{step:?}: response too large")]
    ResponseTooLarge {
        /// The step.
        step: Step,
    },

    // ---- the transport failed ----
    /// The adapter reported that no response arrived ([`crate::TransportError`]); an
    /// over-size answer is [`Error::ResponseTooLarge`] instead.
    #[error("{step:?}: transport failed ({}): {message}", .kind.as_str())]
    Transport {
        /// The step.
        step: Step,
        /// What kind of failure (a timeout, a refused connection, ...).
        kind: crate::http::TransportErrorKind,
        /// The adapter's message (printable ASCII, no secret).
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
    /// The error for a request of `step` that got no response: [`Error::ResponseTooLarge`] for
    /// an over-size body, else [`Error::Transport`] with the failure's kind.
    ///
    /// ```
    /// use mcp_oauth_core::{Error, Step, TransportError, TransportErrorKind};
    ///
    /// let e = Error::from_transport(Step::Refresh, TransportError::new(TransportErrorKind::Timeout, "timed out"));
    /// assert!(matches!(e, Error::Transport { kind: TransportErrorKind::Timeout, .. }));
    /// assert!(e.is_transient());
    /// assert_eq!(
    ///     Error::from_transport(Step::Refresh, TransportError::too_large()),
    ///     Error::ResponseTooLarge { step: Step::Refresh }
    /// );
    /// ```
    pub fn from_transport(step: Step, error: crate::http::TransportError) -> Self {
        match error.kind {
            crate::http::TransportErrorKind::TooLarge => Error::ResponseTooLarge { step },
            kind => Error::Transport {
                step,
                kind,
                message: error.message,
            },
        }
    }

    /// Who is at fault.
    pub fn fault(&self) -> Fault {
        match self {
            Error::OAuth { .. }
            | Error::Forbidden
            | Error::StepUpLimit { .. }
            | Error::LoginRequired => Fault::ServerRefused,
            Error::Transport { .. }
            | Error::AuthorizationTimeout
            | Error::ResponseTooLarge { .. } => Fault::Transport,
            Error::HttpStatus { status, .. } if is_transient_status(*status) => Fault::Transport,
            Error::Discovery { cause, .. } => cause.fault(),
            Error::Config(_)
            | Error::InvalidCall(_)
            | Error::PreRegisteredIssuerMismatch { .. }
            | Error::NoServerMetadata { .. }
            | Error::ClientRejected { .. } => Fault::Caller,
            _ => Fault::Protocol,
        }
    }

    /// True when trying again later may succeed: a transport failure, an over-size answer, an
    /// HTTP 5xx or 429 (whatever its body says), or a discovery failure caused by one of these.
    /// A transient failure never deletes a token or a session.
    pub fn is_transient(&self) -> bool {
        self.fault() == Fault::Transport
    }

    /// The OAuth error code, if this is an OAuth error response.
    pub fn oauth_code(&self) -> Option<&str> {
        match self {
            Error::OAuth { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// Something that went wrong without ending the flow, surfaced as
/// [`Event::Warning`](crate::Event::Warning) for the host to show or log. Its text is safe to
/// print: remote values pass through [`sanitize_remote_text`] and no secret is ever included.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Warning {
    /// A token response's `expires_in` (RFC 6749 §5.1: the lifetime in seconds) was zero,
    /// negative, not a number or absurdly large. The token is kept, with an unknown lifetime
    /// (used until the resource server answers 401) or a capped one; a fraction is truncated
    /// without a warning.
    #[error("{step:?}: expires_in {detail}")]
    ExpiresIn {
        /// The step whose answer it was.
        step: Step,
        /// What was wrong and what was done about it.
        detail: String,
    },
    /// A refresh (or a machine-to-machine grant run again) failed without invalidating anything
    /// (no `invalid_grant`): the tokens are kept, the current access token, still valid, keeps
    /// being used, and the next attempt waits `retry_after_secs` (or until it expires).
    #[error("could not renew the access token ({error}); the current one is still valid and stays in use, next attempt in {retry_after_secs} s")]
    RenewalDeferred {
        /// Why the renewal failed.
        error: Error,
        /// Seconds until the next attempt (bounded; a `Retry-After` answer is honoured).
        retry_after_secs: u64,
    },
}

/// HTTP statuses that say "not now" rather than "no": 5xx (RFC 9110 §15.6) and 429 Too Many
/// Requests (RFC 6585 §4). An answer with one of them is transient whatever its body says.
pub(crate) fn is_transient_status(status: u16) -> bool {
    status == 429 || (500..=599).contains(&status)
}

fn status_message(step: Step, status: u16) -> String {
    if is_transient_status(status) {
        format!("{step:?}: the server is unavailable for now (HTTP {status}); try again later")
    } else {
        format!("{step:?}: unexpected HTTP status {status}")
    }
}

fn discovery_message(step: Step, url: &str, cause: &Error) -> String {
    let document = match step {
        Step::ResourceMetadata => "protected-resource metadata",
        Step::ServerMetadata => "authorization-server metadata",
        _ => "metadata",
    };
    let what = match cause {
        Error::HttpStatus { status, .. } if is_transient_status(*status) => {
            format!("answered HTTP {status} (unavailable for now; try again later)")
        }
        Error::HttpStatus { status, .. } => format!("answered HTTP {status}"),
        Error::Transport { message, .. } => format!("could not be fetched: {message}"),
        Error::ResponseTooLarge { .. } => format!(
            "is larger than {} KiB",
            crate::http::MAX_RESPONSE_BYTES / 1024
        ),
        Error::Malformed { detail, .. } => format!("is malformed: {detail}"),
        other => format!("could not be used: {other}"),
    };
    format!("the {document} at {url} {what}")
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
