//! Every behaviour knob of the testbed, each tied to the conformance scenario that needs it
//! (`scenarios.rs`). [`TestbedConfig::default`] is a strict, full-featured AS + RS;
//! [`TestbedConfig::conformance`](super::TestbedConfig::conformance) gives the mock servers of one
//! conformance scenario.

use mcp_oauth_core::ClientAuthMethod;

/// Where the resource server publishes its RFC 9728 Protected Resource Metadata (PRM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrmLocation {
    /// `/.well-known/oauth-protected-resource/mcp` (RFC 9728 §3 path insertion), PRM
    /// `resource` = `<mcp_origin>/mcp`. `auth/metadata-default`, `auth/metadata-var1` and most
    /// other scenarios.
    PathBased,
    /// Only the root `/.well-known/oauth-protected-resource`, PRM `resource` = the bare origin
    /// `http://host:port` (no trailing slash). `auth/metadata-var2`.
    Root,
    /// Only this path on the MCP origin, findable only through the challenge's
    /// `resource_metadata`. `auth/metadata-var3` uses `/custom/metadata/location.json`.
    Custom(String),
    /// No PRM at all (every PRM URL answers 404): 2025-03-26 servers,
    /// `auth/2025-03-26-oauth-metadata-backcompat` and `-endpoint-fallback`.
    None,
}

/// One well-known URL form under which the AS serves its metadata (RFC 8414 §3.1, OIDC Discovery
/// §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataForm {
    /// RFC 8414 §3 path insertion: `/.well-known/oauth-authorization-server<issuer path>`.
    /// `auth/metadata-default` (no path) and `auth/metadata-var2` (`/tenant1`).
    Rfc8414,
    /// OIDC with path insertion: `/.well-known/openid-configuration<issuer path>`.
    OidcInsert,
    /// OIDC Discovery §4 path append: `<issuer path>/.well-known/openid-configuration`.
    /// `auth/metadata-var1` (root) and `auth/metadata-var3` (`/tenant1`).
    OidcAppend,
}

impl MetadataForm {
    /// The path this form gives for an issuer path such as `""` or `"/tenant1"`.
    pub fn path(self, issuer_path: &str) -> String {
        match self {
            MetadataForm::Rfc8414 => {
                format!("/.well-known/oauth-authorization-server{issuer_path}")
            }
            MetadataForm::OidcInsert => format!("/.well-known/openid-configuration{issuer_path}"),
            MetadataForm::OidcAppend => format!("{issuer_path}/.well-known/openid-configuration"),
        }
    }

    /// Whether the document is an OpenID Provider configuration (adds the OIDC-required fields).
    pub fn is_oidc(self) -> bool {
        !matches!(self, MetadataForm::Rfc8414)
    }
}

/// The RFC 9207 `iss` the authorization redirect carries (RFC 9207 §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssMode {
    /// The issuer, byte for byte (`auth/iss-supported`).
    Correct,
    /// No `iss` (`auth/iss-not-advertised`, `auth/iss-supported-missing`).
    Omit,
    /// Another issuer (`auth/iss-wrong-issuer`, `auth/iss-unexpected`:
    /// `https://evil.example.com`).
    Wrong(String),
    /// The issuer plus `/`, equivalent under RFC 3986 but not byte-equal (`auth/iss-normalized`).
    Normalized,
}

/// What the simulated user answers on the consent screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    /// Redirect at once with a code (what every conformance AS does).
    Approve,
    /// Redirect with `error=access_denied` (RFC 6749 §4.1.2.1), `state` and `iss`.
    Deny,
}

/// The scheme of the resource server's `WWW-Authenticate` challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeScheme {
    /// `Bearer ...` (RFC 6750 §3), every scenario but DPoP.
    Bearer,
    /// `DPoP resource_metadata="..."` (RFC 9449 §7.1), `auth/dpop`: the client must read
    /// `resource_metadata` whatever the scheme (RFC 9728 §5.1). The RS then also takes
    /// `Authorization: DPoP <token>`; proofs are not simulated.
    DPoP,
}

/// Which MCP wire(s) `POST /mcp` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireMode {
    /// Per request: a `MCP-Protocol-Version` header naming a 2026 (or unknown) revision selects the
    /// stateless wire, anything else the stateful one.
    Both,
    /// Only the stateful 2025-11-25 wire (`initialize`, SSE responses).
    Stateful,
    /// Only the stateless 2026-07-28 wire (a request without the header gets 400 / -32020, as the
    /// conformance mock does at that revision).
    Stateless,
}

/// A client registered with the AS out of band (`auth/pre-registration`; MCP 2025-11-25
/// Authorization, "Client Registration Approaches").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreRegistration {
    /// `client_id` (conformance: `pre-registered-client`).
    pub client_id: String,
    /// `client_secret` (conformance: `pre-registered-secret`); authenticated with the first
    /// method of `token_endpoint_auth_methods`.
    pub client_secret: String,
}

/// What the first authorization request's `scope` must look like (MCP 2025-11-25
/// Authorization, "Scope Selection Strategy").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpectedScope {
    /// It must contain every one of these (`auth/scope-from-www-authenticate`: `mcp:basic`;
    /// `auth/scope-from-scopes-supported`: `mcp:basic mcp:read mcp:write`;
    /// `auth/scope-step-up`: `mcp:basic`).
    Contains(Vec<String>),
    /// There must be no (or an empty) `scope` (`auth/scope-omitted-when-undefined`).
    Omitted,
}

/// Behaviour of the testbed's authorization server(s) and MCP resource server.
///
/// Field docs name the conformance scenario each knob reproduces. Whatever the knobs say, the AS
/// also verifies what the conformance ASes do not (PKCE S256, `state`, `redirect_uri`, single-use
/// codes, client authentication, `resource`) and records each slip in
/// [`Testbed::violations`](super::Testbed::violations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestbedConfig {
    // ---- resource server: PRM (RFC 9728) ----
    /// Where PRM lives (`metadata-default` / `-var2` / `-var3`, backcompat).
    pub prm_location: PrmLocation,
    /// Whether the 401 challenge carries `resource_metadata` (metadata-default and var3 yes,
    /// var1 and var2 no). Ignored with [`PrmLocation::None`].
    pub prm_in_challenge: bool,
    /// Overrides PRM `resource` (`auth/resource-mismatch`: `https://evil.example.com/mcp`). An
    /// authorization request after such a PRM is a violation (RFC 9728 §3.3).
    pub prm_resource: Option<String>,
    /// PRM `scopes_supported` (`scope-from-scopes-supported`: `mcp:basic mcp:read mcp:write`;
    /// `scope-step-up`: the decoy `mcp:profile`; `None` omits it).
    pub prm_scopes_supported: Option<Vec<String>>,
    /// PRM `authorization_servers`; `None` = `[<as_origin><issuer_path>]`.
    pub prm_authorization_servers: Option<Vec<String>>,
    // ---- resource server: challenges and tools ----
    /// Challenge scheme (`auth/dpop` uses DPoP).
    pub challenge_scheme: ChallengeScheme,
    /// `scope` in the 401 challenge (`scope-from-www-authenticate` and `scope-step-up`:
    /// `mcp:basic`; `scope-retry-limit`: `mcp:admin`).
    pub challenge_scope: Option<String>,
    /// Scopes every authenticated MCP request needs (`tools/list`); missing ones give 403.
    pub list_scopes: Vec<String>,
    /// Extra scopes `tools/call` of `test-tool` needs (`scope-step-up`: `mcp:write`).
    pub call_scopes: Vec<String>,
    /// Extra scopes `tools/call` of `admin-tool` needs (the demo's privileged tool).
    pub admin_scopes: Vec<String>,
    /// Every authenticated request gets 403 `insufficient_scope` with this scope
    /// (`scope-retry-limit`: `mcp:admin`); after 3 such answers the RS says 410, as the harness.
    pub always_forbidden_scope: Option<String>,
    /// `initialize` and notifications need no token (`scope-step-up`, `scope-retry-limit`,
    /// `authorization-server-migration`).
    pub initialize_unauthenticated: bool,
    /// Which MCP wire(s) are accepted.
    pub wire: WireMode,
    /// Stateful wire: `initialize` returns `Mcp-Session-Id`, later requests must echo it.
    pub sessions: bool,
    // ---- migration (auth/authorization-server-migration, SEP-2352) ----
    /// Origin of the second AS. Its client ids differ, and AS₁'s DCR then answers
    /// `as1-client-id-LEAKED-IF-SEEN-AT-AS2`.
    pub as2_origin: Option<String>,
    /// After the first accepted authenticated non-`initialize` request, PRM names AS₂ and AS₁
    /// tokens get 401. Needs `as2_origin`.
    pub migrate_after_first_call: bool,
    // ---- authorization server ----
    /// The AS lives on the MCP origin (2025-03-26 legacy: `auth/2025-03-26-*`); the `as_origin`
    /// given to [`Testbed::new`](super::Testbed::new) is then ignored.
    pub as_on_mcp_origin: bool,
    /// Issuer path, e.g. `/tenant1` (`metadata-var2`, `metadata-var3`); `""` for none.
    pub issuer_path: String,
    /// Metadata URL forms served (empty = none: `2025-03-26-oauth-endpoint-fallback`). For an
    /// issuer with a path, a GET of root metadata is a violation
    /// (`authorization-server-metadata-wrong-path`).
    pub as_metadata: Vec<MetadataForm>,
    /// Overrides metadata `issuer` (`auth/metadata-issuer-mismatch`:
    /// `https://attacker.example.com`); any use of the advertised endpoints is then a violation.
    pub issuer_override: Option<String>,
    /// Path prefix of the endpoints; `None` = the issuer path. `/oauth` in
    /// `2025-03-26-oauth-metadata-backcompat`, `/mismatched-as` in `metadata-issuer-mismatch`.
    pub endpoint_prefix: Option<String>,
    /// Serve and advertise `registration_endpoint` (off in `auth/pre-registration`).
    pub registration_endpoint: bool,
    /// Metadata `client_id_metadata_document_supported` (`auth/basic-cimd`,
    /// `auth/offline-access-scope`); `None` omits it. When true, https URL client ids are public
    /// clients accepted with any redirect URI.
    pub client_id_metadata_document_supported: Option<bool>,
    /// The CIMD URL the client must use (`auth/basic-cimd`:
    /// `https://conformance-test.local/client-metadata.json`); another client id is a violation.
    pub expected_cimd_client_id: Option<String>,
    /// `token_endpoint_auth_methods_supported`; DCR registers the requested method if listed, else
    /// the first (`token-endpoint-auth-basic` / `-post` / `-none`).
    pub token_endpoint_auth_methods: Vec<ClientAuthMethod>,
    /// DCR returns a `client_secret` even for method `none` (the conformance default: a
    /// client must still authenticate as the AS metadata says). Methods basic and post always get a
    /// secret.
    pub dcr_returns_secret: bool,
    /// DCR echoes `token_endpoint_auth_method` (`token-endpoint-auth-*` do; the default conformance
    /// AS does not).
    pub dcr_echoes_auth_method: bool,
    /// Record a violation when a DCR body lacks `application_type` (`sep-837-application-type-present`)
    /// or `grant_types` ∌ `refresh_token` (`sep-2207-client-metadata-grant-types`).
    pub strict_dcr_metadata: bool,
    /// A pre-registered client (`auth/pre-registration`: wrong or missing credentials give 401
    /// `invalid_client`).
    pub pre_registered: Option<PreRegistration>,
    /// `code_challenge_methods_supported`; `None` omits it (the client must then refuse:
    /// MCP 2025-11-25 Authorization, "Authorization Code Protection").
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// AS `scopes_supported` (`offline-access-scope`: `mcp:basic offline_access`;
    /// `offline-access-not-supported`: `mcp:basic mcp:read`). Asking for `offline_access` when a
    /// list is given without it is a violation (MCP 2026-07-28 "Refresh Tokens").
    pub as_scopes_supported: Option<Vec<String>>,
    /// Check on the first authorization request's `scope` (`scope-from-*`, `scope-step-up`).
    pub expected_first_scope: Option<ExpectedScope>,
    /// Scopes the second authorization request must contain: prior ∪ challenged
    /// (`scope-step-up`: `mcp:basic mcp:write`, `sep-2350-scope-union-on-reauth`).
    pub expected_reauth_scope: Option<Vec<String>>,
    /// Metadata `authorization_response_iss_parameter_supported` (`None` omits it:
    /// `iss-not-advertised`, `iss-unexpected`).
    pub iss_parameter_supported: Option<bool>,
    /// The `iss` in the redirect (`iss-*` scenarios). Redeeming a code after a missing (when
    /// advertised), wrong or normalized `iss` is a violation (RFC 9207 §2.4).
    pub iss_in_redirect: IssMode,
    /// The simulated user's answer.
    pub consent: Consent,
    /// Access token lifetime in seconds (`expires_in`).
    pub access_token_lifetime: u64,
    /// Issue refresh tokens (to DCR clients only when they registered the `refresh_token` grant).
    pub issue_refresh_tokens: bool,
    /// Rotate refresh tokens; a reused one gets `invalid_grant` and revokes its whole grant.
    pub rotate_refresh_tokens: bool,
    /// Serve and advertise an RFC 7009 `revocation_endpoint`.
    pub revocation_endpoint: bool,
    /// More authorization requests than this (per AS) is a violation (`scope-retry-limit`: 3).
    pub max_authorization_requests: Option<usize>,
    /// A machine-to-machine AS (`auth/client-credentials-*`): advertises only the
    /// `client_credentials` grant and issues tokens to authenticated confidential clients.
    pub client_credentials_only: bool,
    /// Metadata `dpop_signing_alg_values_supported` (RFC 9449 §5.1); `None` omits it. OpenID
    /// providers (oidc-provider, Keycloak, Okta) advertise it whatever the resource server
    /// takes. With it, a token request carrying a `DPoP` proof gets a DPoP-bound token, and a
    /// public client's refresh token is bound too: refreshing it without a proof is refused.
    pub as_dpop_algs: Option<Vec<String>>,
    // ---- hostile servers ----
    /// Replaces the `scope` of every token response, verbatim (a hostile AS: terminal escape
    /// sequences in `scope`, RFC 6749 §3.3 allows none); `Some("")` omits the member, so the
    /// client falls back to the scopes it asked for. `None`: the granted scopes.
    pub token_scope: Option<String>,
}

/// `&[&str]` to owned strings (config literals).
pub(crate) fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_string()).collect()
}

impl Default for TestbedConfig {
    /// A strict, full-featured AS + RS: path-based PRM named in the challenge, DCR, S256,
    /// auth method `none`, scopes `mcp:basic mcp:write`, `iss` advertised and sent, rotating
    /// refresh tokens, revocation, both MCP wires.
    fn default() -> Self {
        Self {
            prm_location: PrmLocation::PathBased,
            prm_in_challenge: true,
            prm_resource: None,
            prm_scopes_supported: Some(strings(&["mcp:basic", "mcp:write"])),
            prm_authorization_servers: None,
            challenge_scheme: ChallengeScheme::Bearer,
            challenge_scope: None,
            list_scopes: strings(&["mcp:basic"]),
            call_scopes: Vec::new(),
            admin_scopes: strings(&["mcp:write"]),
            always_forbidden_scope: None,
            initialize_unauthenticated: false,
            wire: WireMode::Both,
            sessions: false,
            as2_origin: None,
            migrate_after_first_call: false,
            as_on_mcp_origin: false,
            issuer_path: String::new(),
            as_metadata: vec![MetadataForm::Rfc8414],
            issuer_override: None,
            endpoint_prefix: None,
            registration_endpoint: true,
            client_id_metadata_document_supported: None,
            expected_cimd_client_id: None,
            token_endpoint_auth_methods: vec![ClientAuthMethod::None],
            dcr_returns_secret: true,
            dcr_echoes_auth_method: true,
            strict_dcr_metadata: true,
            pre_registered: None,
            code_challenge_methods_supported: Some(strings(&["S256"])),
            as_scopes_supported: Some(strings(&["mcp:basic", "mcp:write"])),
            expected_first_scope: None,
            expected_reauth_scope: None,
            iss_parameter_supported: Some(true),
            iss_in_redirect: IssMode::Correct,
            consent: Consent::Approve,
            access_token_lifetime: 3600,
            issue_refresh_tokens: true,
            rotate_refresh_tokens: true,
            revocation_endpoint: true,
            max_authorization_requests: None,
            client_credentials_only: false,
            token_scope: None,
            as_dpop_algs: None,
        }
    }
}

impl TestbedConfig {
    /// An OpenID provider advertising DPoP (`ES256`) in front of an ordinary Bearer-only MCP
    /// server: PRM says nothing about DPoP, the challenge is `Bearer`, and the `DPoP`
    /// authorization scheme is refused. A client that asks for bound tokens here can log in but
    /// never call a tool.
    pub fn dpop_idp_bearer_server() -> Self {
        Self {
            as_metadata: vec![MetadataForm::OidcAppend],
            as_dpop_algs: Some(strings(&["ES256", "PS256"])),
            ..Self::default()
        }
    }
}
