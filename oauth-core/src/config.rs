//! What the host tells the machine up front.

use std::time::Duration;

use crate::secret::{Assertion, ClientSecret, PrivateKeyPem};
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

/// When to ask for DPoP-bound tokens (RFC 9449).
///
/// A DPoP-bound token is only useful at a resource server that checks proofs: a Bearer-only MCP
/// server refuses the `DPoP` authorization scheme, so asking every authorization server that
/// offers DPoP for bound tokens breaks ordinary servers (OpenID providers such as Keycloak and
/// Okta advertise `dpop_signing_alg_values_supported` whatever the resource server does).
///
/// ```
/// use mcp_oauth_core::{Config, DpopMode};
///
/// let mut config = Config::new("https://mcp.example.com/mcp");
/// assert_eq!(config.dpop, DpopMode::Auto);
/// config.dpop = DpopMode::Never; // `mcp-oauth login --dpop never`
/// assert_eq!("never".parse::<DpopMode>(), Ok(DpopMode::Never));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DpopMode {
    /// Only where the resource server signals DPoP (a `DPoP` challenge, RFC 9449 §7.1, or
    /// `dpop_signing_alg_values_supported` / `dpop_bound_access_tokens_required` in its protected
    /// resource metadata, RFC 9728 §2) and the authorization server offers `ES256` (RFC 9449
    /// §5.1). A resource server that then refuses the bound token with a `Bearer`-only challenge
    /// gets unbound tokens from then on (recorded in the session).
    #[default]
    Auto,
    /// Whenever the authorization server offers `ES256`, whatever the resource server says (for
    /// servers that take DPoP without announcing it).
    Always,
    /// Never: Bearer tokens only (RFC 6750).
    Never,
}

impl DpopMode {
    /// The CLI and session spelling: `auto`, `always` or `never`.
    pub fn as_str(self) -> &'static str {
        match self {
            DpopMode::Auto => "auto",
            DpopMode::Always => "always",
            DpopMode::Never => "never",
        }
    }

    /// True for the default ([`DpopMode::Auto`]); sessions leave the default out.
    pub fn is_auto(&self) -> bool {
        *self == DpopMode::Auto
    }
}

impl std::str::FromStr for DpopMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(DpopMode::Auto),
            "always" => Ok(DpopMode::Always),
            "never" => Ok(DpopMode::Never),
            other => Err(format!(
                "unknown DPoP mode {other:?} (expected auto, always or never)"
            )),
        }
    }
}

/// An authorization server named by the caller instead of discovered, for MCP servers that
/// publish no protected resource metadata (RFC 9728). Its endpoints come from its RFC 8414 / OIDC
/// metadata, or, for an issuer that publishes none either, from `endpoints`. Every URL still
/// passes the [`UrlPolicy`].
///
/// ```
/// use mcp_oauth_core::config::{KnownAuthorizationServer, ServerEndpoints};
/// use mcp_oauth_core::Config;
///
/// let mut config = Config::new("https://mcp.example.com/mcp");
/// config.authorization_server = Some(KnownAuthorizationServer {
///     issuer: "https://login.example.com".into(),
///     endpoints: Some(ServerEndpoints {
///         authorization_endpoint: "https://login.example.com/oauth2/authorize".into(),
///         token_endpoint: "https://login.example.com/oauth2/token".into(),
///         registration_endpoint: None,
///     }),
/// });
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KnownAuthorizationServer {
    /// The issuer: registrations are bound to it and an RFC 9207 `iss` is compared with it.
    pub issuer: String,
    /// Explicit endpoints; `None` reads them from the issuer's metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<ServerEndpoints>,
}

/// The endpoints of an authorization server that publishes no metadata.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServerEndpoints {
    /// `authorization_endpoint` (RFC 6749 §3.1).
    pub authorization_endpoint: String,
    /// `token_endpoint` (RFC 6749 §3.2).
    pub token_endpoint: String,
    /// RFC 7591 `registration_endpoint`, when the server offers dynamic registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_endpoint: Option<String>,
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

/// `private_key_jwt` client authentication for the pre-registered client (RFC 7523 §2.2,
/// OIDC Core §9; spec-checklist §4.12).
#[derive(Debug, Clone)]
pub struct PrivateKeyJwt {
    /// The PKCS#8 PEM P-256 key (ES256).
    pub key_pem: PrivateKeyPem,
    /// The assertion's `aud`; `None` uses the AS `issuer` (rfc7523bis; what the conformance
    /// suite verifies).
    pub audience: Option<String>,
}

/// The enterprise identity provider for SEP-990 (enterprise-managed authorization).
#[derive(Debug, Clone)]
pub struct EnterpriseIdp {
    /// The IdP token endpoint (RFC 8693 token exchange).
    pub token_endpoint: String,
    /// The client id at the IdP, when the IdP wants one.
    pub client_id: Option<String>,
    /// The client secret at the IdP (HTTP Basic), when it wants one.
    pub client_secret: Option<ClientSecret>,
    /// The user's ID token from the IdP (the RFC 8693 `subject_token`).
    pub id_token: Assertion,
}

/// How the client obtains tokens (spec-checklist §2.12).
#[derive(Debug, Clone, Default)]
pub enum Grant {
    /// Authorization code with PKCE (a browser) unless the AS metadata offers only
    /// `client_credentials` and a confidential pre-registered client is configured.
    #[default]
    Auto,
    /// Always the authorization code grant.
    AuthorizationCode,
    /// OAuth client credentials (`io.modelcontextprotocol/oauth-client-credentials`).
    ClientCredentials,
    /// RFC 7523 §2.1 jwt-bearer grant with a caller-provided assertion (workload identity,
    /// SEP-1933). Errors are surfaced, never retried with another grant.
    JwtBearer {
        /// The workload JWT.
        assertion: Assertion,
    },
    /// SEP-990: RFC 8693 exchange of the IdP ID token for an ID-JAG, then the jwt-bearer grant.
    EnterpriseManaged(EnterpriseIdp),
}

impl Grant {
    /// True for grants that never need a browser.
    pub fn is_machine_to_machine(&self) -> bool {
        !matches!(self, Grant::Auto | Grant::AuthorizationCode)
    }
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
    /// Authenticate the pre-registered client with a signed JWT instead of a secret.
    pub private_key_jwt: Option<PrivateKeyJwt>,
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
            private_key_jwt: None,
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
    /// The network budget of one operation (a refresh, a login, a logout): every request it
    /// makes, together, gets this long, not counting the wait for the user in the browser. A
    /// server that accepts connections and never answers then costs one budget, not one request
    /// timeout per fallback URL (the coordinator enforces it, `oauth-core/src/coordinator`).
    pub operation_timeout: Duration,
    /// Maximum authorization requests in one step-up chain (spec-checklist SC6).
    pub max_authorization_attempts: u32,
    /// How tokens are obtained.
    pub grant: Grant,
    /// When to ask for DPoP-bound tokens (RFC 9449; needs the `extensions` feature, without it
    /// every token is a Bearer token).
    pub dpop: DpopMode,
    /// Extra authorization request parameters (RFC 6749 §3.1 lets servers define their own), in
    /// order: Auth0's `audience`, Google's `access_type=offline` and `prompt=consent`. The
    /// parameters the client sets itself are refused ([`crate::authorize::check_extra_param`]).
    pub authorize_params: Vec<(String, String)>,
    /// Use this authorization server instead of discovering one through the MCP server's
    /// protected resource metadata.
    pub authorization_server: Option<KnownAuthorizationServer>,
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
            operation_timeout: Duration::from_secs(30),
            max_authorization_attempts: 3,
            interactive: true,
            grant: Grant::Auto,
            dpop: DpopMode::Auto,
            authorize_params: Vec::new(),
            authorization_server: None,
        }
    }

    /// Puts the choices a stored session was made with back into this configuration, so a
    /// command given only the server URL (`mcp-oauth token`, `call`, `logout`, a restarted
    /// host) behaves like the login that made the session. Call it first, then apply the
    /// choices the user gave explicitly this time.
    ///
    /// ```
    /// use mcp_oauth_core::{Config, DpopMode, SessionSettings};
    ///
    /// let stored = SessionSettings { dpop: DpopMode::Never, ..SessionSettings::default() };
    /// let mut config = Config::new("https://mcp.example.com/mcp");
    /// config.apply_session_settings(&stored);
    /// assert_eq!(config.dpop, DpopMode::Never);
    /// ```
    pub fn apply_session_settings(&mut self, settings: &crate::session::SessionSettings) {
        self.dpop = settings.dpop;
        self.authorize_params = settings.authorize_params.clone();
        self.authorization_server = settings.authorization_server.clone();
    }

    /// Checks what [`crate::Machine::new`] cannot leave to the flow: every extra authorization
    /// parameter is one the client does not own, and a named authorization server's URLs pass
    /// the URL policy.
    ///
    /// ```
    /// use mcp_oauth_core::Config;
    ///
    /// let mut config = Config::new("https://mcp.example.com/mcp");
    /// config.authorize_params = vec![("audience".into(), "https://api.example.com".into())];
    /// assert!(config.validate().is_ok());
    /// config.authorize_params.push(("state".into(), "chosen-by-me".into()));
    /// assert!(config.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), crate::Error> {
        for (name, _) in &self.authorize_params {
            crate::authorize::check_extra_param(name)?;
        }
        if let Some(known) = &self.authorization_server {
            self.url_policy.check(&known.issuer)?;
            if let Some(e) = &known.endpoints {
                let urls = [Some(&e.authorization_endpoint), Some(&e.token_endpoint)];
                for url in urls
                    .into_iter()
                    .chain([e.registration_endpoint.as_ref()])
                    .flatten()
                {
                    self.url_policy.check(url)?;
                }
            }
        }
        Ok(())
    }

    /// The settings a session made with this configuration records (see
    /// [`Config::apply_session_settings`]); server preferences start unknown.
    pub fn session_settings(&self) -> crate::session::SessionSettings {
        crate::session::SessionSettings {
            dpop: self.dpop,
            authorize_params: self.authorize_params.clone(),
            authorization_server: self.authorization_server.clone(),
            ..Default::default()
        }
    }
}
