//! What the host tells the machine up front.

use std::time::Duration;

use crate::secret::ClientSecret;
use crate::session::ClientAuthMethod;
use crate::url_policy::UrlPolicy;

/// How strictly PRM `resource` must match the server URL (RFC 9728 §3.3, spec-checklist P6 and
/// §7 item 1). Cross-origin resources are refused in every mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResourceMatch {
    /// Same origin and the PRM path is a prefix of the server path on a `/` boundary (what the
    /// TypeScript SDK accepts; real deployments need it).
    #[default]
    SameOriginPrefix,
    /// RFC 9728 identity with the identifier the metadata URL was built from.
    Strict,
}

/// Which RFC 8707 `resource` value to send.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ResourceParameter {
    /// The PRM `resource` (raw string), or the canonical server URL when there is no PRM.
    #[default]
    Discovered,
    /// A fixed value (`--resource`).
    Fixed(String),
    /// Omit it (`--no-resource`, for servers such as Entra ID that reject RFC 8707).
    Omit,
}

/// Credentials the user or host registered with the authorization server beforehand.
#[derive(Debug, Clone)]
pub struct PreRegisteredClient {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`, if confidential.
    pub client_secret: Option<ClientSecret>,
    /// Forced token endpoint auth method; `None` chooses from AS metadata.
    pub auth_method: Option<ClientAuthMethod>,
    /// The issuer these credentials belong to; `None` accepts whichever issuer PRM names.
    pub issuer: Option<String>,
}

/// How the client gets a `client_id` (spec-checklist R2 order: pre-registered > CIMD > DCR).
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `client_name` for DCR.
    pub client_name: String,
    /// Pre-registered credentials.
    pub pre_registered: Option<PreRegisteredClient>,
    /// An https Client ID Metadata Document URL, used when the AS advertises support.
    pub metadata_document_url: Option<String>,
    /// Whether RFC 7591 dynamic registration may be used.
    pub allow_dynamic_registration: bool,
    /// DCR `application_type` (`native` for CLIs and desktop apps, SD-reg L160-179).
    pub application_type: String,
    /// DCR `software_id`.
    pub software_id: Option<String>,
    /// DCR `software_version`.
    pub software_version: Option<String>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            client_name: "mcp-oauth".into(),
            pre_registered: None,
            metadata_document_url: None,
            allow_dynamic_registration: true,
            application_type: "native".into(),
            software_id: None,
            software_version: None,
        }
    }
}

/// Machine configuration. Build with [`Config::new`] and adjust fields.
#[derive(Debug, Clone)]
pub struct Config {
    /// The MCP server URL (as the user gave it).
    pub server_url: String,
    /// Client identity.
    pub client: ClientConfig,
    /// Resource check mode.
    pub resource_match: ResourceMatch,
    /// Which `resource` to send.
    pub resource_parameter: ResourceParameter,
    /// Scopes forced by the caller (`--scope`); replace the discovered ones when set.
    pub scopes: Option<Vec<String>>,
    /// Refuse authorization servers that do not list `S256` (turn off only for legacy servers).
    pub require_pkce_s256: bool,
    /// Allow the 2025-03-26 fallback (AS at the server origin, default endpoints).
    pub legacy_discovery: bool,
    /// URL rules for every OAuth URL.
    pub url_policy: UrlPolicy,
    /// Refresh this long before expiry.
    pub refresh_margin: Duration,
    /// Give up waiting for the browser after this long.
    pub authorization_timeout: Duration,
    /// Maximum authorization requests in one step-up chain (spec-checklist SC6).
    pub max_authorization_attempts: u32,
    /// When false, the machine never starts a browser flow: it reports `LoginRequired` instead
    /// (for `mcp-oauth token` and background jobs).
    pub interactive: bool,
}

impl Config {
    /// Defaults for a server URL.
    pub fn new(server_url: impl Into<String>) -> Self {
        Self {
            server_url: server_url.into(),
            client: ClientConfig::default(),
            resource_match: ResourceMatch::default(),
            resource_parameter: ResourceParameter::default(),
            scopes: None,
            require_pkce_s256: true,
            legacy_discovery: true,
            url_policy: UrlPolicy::default(),
            refresh_margin: Duration::from_secs(60),
            authorization_timeout: Duration::from_secs(300),
            max_authorization_attempts: 3,
            interactive: true,
        }
    }
}
