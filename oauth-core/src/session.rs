//! The persisted session: everything a restart needs with zero discovery (DESIGN.md §2).
//!
//! Versioned serde JSON, keyed by the canonical server URL. It holds the raw `resource` and issuer
//! strings (never re-serialized through `url::Url`, DESIGN.md §5), the token and revocation
//! endpoints, the client registration bound to that issuer (SD-reg L181-191, spec-checklist R10),
//! and tokens with an absolute wall-clock expiry. A typical session stays under 2000 bytes of JSON
//! so it fits a Windows credential (2560 bytes).

use serde::{Deserialize, Serialize};

use crate::config::{DpopMode, KnownAuthorizationServer};

use crate::secret::{AccessToken, AuthorizationHeader, ClientSecret, DpopPrivateKey, RefreshToken};

/// Current session format version. Readers refuse newer versions.
pub const SESSION_VERSION: u32 = 1;

/// How the client identified itself to the authorization server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientKind {
    /// Credentials configured by the user or host.
    PreRegistered,
    /// A Client ID Metadata Document URL used as `client_id`.
    MetadataDocument,
    /// RFC 7591 dynamic registration.
    Dynamic,
}

impl ClientKind {
    /// Human-readable name for status output.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientKind::PreRegistered => "pre-registered",
            ClientKind::MetadataDocument => "cimd",
            ClientKind::Dynamic => "dcr",
        }
    }
}

/// Token endpoint client authentication (RFC 8414 §2 `token_endpoint_auth_methods_supported`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMethod {
    /// Public client: `client_id` in the form, no secret.
    None,
    /// HTTP Basic with form-encoded id and secret (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
}

impl ClientAuthMethod {
    /// The RFC 8414 / RFC 7591 name.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuthMethod::None => "none",
            ClientAuthMethod::ClientSecretBasic => "client_secret_basic",
            ClientAuthMethod::ClientSecretPost => "client_secret_post",
        }
    }

    /// Parses an RFC 8414 method name; unknown names give `None`.
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "none" => Some(ClientAuthMethod::None),
            "client_secret_basic" => Some(ClientAuthMethod::ClientSecretBasic),
            "client_secret_post" => Some(ClientAuthMethod::ClientSecretPost),
            _ => None,
        }
    }
}

/// A client identity bound to one authorization server (by its exact issuer string).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientRegistration {
    /// How it was obtained.
    pub kind: ClientKind,
    /// The issuer it belongs to; never presented to another issuer.
    pub issuer: String,
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<ClientSecret>,
    /// `client_secret_expires_at` (Unix seconds; `None` or 0 = never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_expires_at: Option<u64>,
    /// Method chosen for the token endpoint.
    pub auth_method: ClientAuthMethod,
    /// The redirect URI a DCR client was registered with (reused only with the same URI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
}

/// The kind of access token (RFC 6749 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenType {
    /// RFC 6750.
    Bearer,
    /// RFC 9449.
    DPoP,
}

impl TokenType {
    /// The `Authorization` scheme.
    pub fn scheme(self) -> &'static str {
        match self {
            TokenType::Bearer => "Bearer",
            TokenType::DPoP => "DPoP",
        }
    }
}

/// Tokens with an absolute expiry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenSet {
    /// The access token.
    pub access_token: AccessToken,
    /// Its type.
    pub token_type: TokenType,
    /// The refresh token, if the AS issued one (never assumed, SD-idx L309).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<RefreshToken>,
    /// Wall-clock expiry in Unix seconds; `None` = unknown (treated as valid until a 401).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// The DPoP key these tokens are bound to (RFC 9449 §5: refresh tokens of public clients
    /// are bound too), kept with them so a restart can still present them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_key: Option<DpopPrivateKey>,
    /// Wall-clock time (Unix seconds) the tokens were issued to this client. With `expires_at`
    /// it gives the lifetime, so every process sharing the store computes the same refresh
    /// margin for a short-lived token (at most half its lifetime) instead of refreshing it at
    /// each start. `None` in sessions stored before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub obtained_at: Option<u64>,
}

impl TokenSet {
    /// True when the token is expired or expires within `margin_secs` of `wall`.
    pub fn expires_within(&self, wall: u64, margin_secs: u64) -> bool {
        matches!(self.expires_at, Some(at) if at <= wall.saturating_add(margin_secs))
    }

    /// The `Authorization` header value for this token.
    pub fn authorization_header(&self) -> AuthorizationHeader {
        AuthorizationHeader::new(format!(
            "{} {}",
            self.token_type.scheme(),
            self.access_token.expose_secret()
        ))
    }
}

/// Discovery results kept with the session, so a restarted client can step up or log in again
/// without fetching the protected resource and authorization server metadata again (both are
/// cacheable documents, RFC 9728 §3, RFC 8414 §3). Only what the machine uses is kept; a new
/// challenge naming other metadata, or a PRM naming another issuer, still triggers discovery.
/// Keys are short: the whole session should fit a Windows credential (2560 bytes) even with a
/// large JWT access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveryCache {
    /// The PRM URL the metadata came from (compared with a challenge's `resource_metadata`).
    #[serde(rename = "prm")]
    pub metadata_url: String,
    /// `authorization_endpoint`.
    #[serde(rename = "authz")]
    pub authorization_endpoint: String,
    /// `registration_endpoint`.
    #[serde(rename = "reg", default, skip_serializing_if = "Option::is_none")]
    pub registration_endpoint: Option<String>,
    /// PRM `scopes_supported`.
    #[serde(rename = "scopes", default, skip_serializing_if = "Option::is_none")]
    pub prm_scopes: Option<Vec<String>>,
    /// The AS lists `offline_access` in `scopes_supported` (SD-idx L308).
    #[serde(
        rename = "offline",
        default,
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub offline_access: bool,
    /// `token_endpoint_auth_methods_supported`.
    #[serde(rename = "auth", default, skip_serializing_if = "Option::is_none")]
    pub auth_methods: Option<Vec<String>>,
    /// `grant_types_supported`.
    #[serde(rename = "grants", default, skip_serializing_if = "Option::is_none")]
    pub grant_types: Option<Vec<String>>,
    /// `dpop_signing_alg_values_supported`.
    #[serde(rename = "dpop", default, skip_serializing_if = "Option::is_none")]
    pub dpop_algs: Option<Vec<String>>,
    /// `authorization_response_iss_parameter_supported`.
    #[serde(rename = "iss", default, skip_serializing_if = "std::ops::Not::not")]
    pub iss_supported: bool,
    /// `client_id_metadata_document_supported`.
    #[serde(rename = "cimd", default, skip_serializing_if = "std::ops::Not::not")]
    pub cimd_supported: bool,
}

/// Choices that outlive one process: how the session was configured, and what the servers taught
/// the client. Stored with the session so `token`, `call`, `logout` and a restart reuse them
/// without being told again ([`crate::Config::apply_session_settings`] puts them back into a
/// configuration). Every field defaults, so sessions written before it existed still load.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionSettings {
    /// The DPoP choice the session was made with ([`crate::Config::dpop`]).
    #[serde(default, skip_serializing_if = "DpopMode::is_auto")]
    pub dpop: DpopMode,
    /// The resource server refused a DPoP-bound token with a challenge offering only `Bearer`
    /// (RFC 9449 §7.1): [`DpopMode::Auto`] asks for unbound tokens from then on.
    #[serde(
        rename = "bearer_only",
        default,
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub resource_refuses_dpop: bool,
    /// Extra authorization request parameters ([`crate::Config::authorize_params`]).
    #[serde(rename = "params", default, skip_serializing_if = "Vec::is_empty")]
    pub authorize_params: Vec<(String, String)>,
    /// The authorization server named instead of discovered
    /// ([`crate::Config::authorization_server`]).
    #[serde(rename = "as", default, skip_serializing_if = "Option::is_none")]
    pub authorization_server: Option<KnownAuthorizationServer>,
}

impl SessionSettings {
    /// True when every field has its default (the session then stores none of them).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// Everything persisted for one MCP server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// Format version ([`SESSION_VERSION`]).
    pub version: u32,
    /// The canonical server URL this session is stored under.
    pub server: String,
    /// The RFC 8707 `resource` value sent (raw PRM string), or `None` if omitted by config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The authorization server's issuer (raw string).
    pub issuer: String,
    /// Token endpoint for refresh.
    pub token_endpoint: String,
    /// RFC 7009 revocation endpoint, if advertised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<String>,
    /// The client registration, bound to `issuer`.
    pub client: ClientRegistration,
    /// Current tokens (`None` after `invalid_grant` or logout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<TokenSet>,
    /// Scopes granted (or requested, when the AS did not say), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// Discovery results for a restart without metadata fetches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery: Option<DiscoveryCache>,
    /// Configuration choices and server preferences to reuse (absent in older sessions).
    #[serde(default, skip_serializing_if = "SessionSettings::is_default")]
    pub settings: SessionSettings,
}

/// Why a stored session could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionDecodeError {
    /// Not JSON, or not a session.
    #[error("stored session is not valid JSON: {0}")]
    Malformed(String),
    /// Written by a newer version of this library.
    #[error("stored session has version {0}, this build reads up to {SESSION_VERSION}")]
    UnsupportedVersion(u32),
}

impl Session {
    /// Serializes to compact JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("session serialization cannot fail")
    }

    /// Parses stored JSON, refusing unknown versions.
    pub fn from_json(s: &str) -> Result<Self, SessionDecodeError> {
        #[derive(Deserialize)]
        struct VersionOnly {
            version: u32,
        }
        let v: VersionOnly =
            serde_json::from_str(s).map_err(|e| SessionDecodeError::Malformed(e.to_string()))?;
        if v.version == 0 || v.version > SESSION_VERSION {
            return Err(SessionDecodeError::UnsupportedVersion(v.version));
        }
        serde_json::from_str(s).map_err(|e| SessionDecodeError::Malformed(e.to_string()))
    }

    /// Whether the access token can be used at `wall` without refreshing first.
    pub fn has_usable_token(&self, wall: u64, margin_secs: u64) -> bool {
        matches!(&self.tokens, Some(t) if !t.expires_within(wall, margin_secs))
    }
}
