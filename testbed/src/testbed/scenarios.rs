//! Presets reproducing the mock servers of each official conformance client-auth scenario
//! (harness 0.2.0-alpha.12). The base mirrors the defaults of the
//! harness's `createAuthServer` / `createServer`: path-based PRM named in the challenge, RFC 8414
//! root metadata, DCR returning `test-client-secret`, method `none`, no refresh tokens, `iss`
//! advertised and sent, no scope enforcement unless the scenario enforces it.

use mcp_oauth_core::ClientAuthMethod;

use super::config::{
    strings, ExpectedScope, IssMode, MetadataForm, PreRegistration, PrmLocation, TestbedConfig,
};

/// Every client-auth scenario [`TestbedConfig::conformance`] knows: the 14 `auth` suite
/// scenarios, the 2 backcompat ones and the 11 draft (2026-07-28) ones.
pub const CONFORMANCE_AUTH_SCENARIOS: &[&str] = &[
    "auth/metadata-default",
    "auth/metadata-var1",
    "auth/metadata-var2",
    "auth/metadata-var3",
    "auth/basic-cimd",
    "auth/scope-from-www-authenticate",
    "auth/scope-from-scopes-supported",
    "auth/scope-omitted-when-undefined",
    "auth/scope-step-up",
    "auth/scope-retry-limit",
    "auth/token-endpoint-auth-basic",
    "auth/token-endpoint-auth-post",
    "auth/token-endpoint-auth-none",
    "auth/pre-registration",
    "auth/2025-03-26-oauth-metadata-backcompat",
    "auth/2025-03-26-oauth-endpoint-fallback",
    "auth/resource-mismatch",
    "auth/offline-access-scope",
    "auth/offline-access-not-supported",
    "auth/authorization-server-migration",
    "auth/iss-supported",
    "auth/iss-not-advertised",
    "auth/iss-supported-missing",
    "auth/iss-wrong-issuer",
    "auth/iss-unexpected",
    "auth/iss-normalized",
    "auth/metadata-issuer-mismatch",
];

/// The CIMD URL `auth/basic-cimd` expects (an exact string comparison).
pub const CONFORMANCE_CIMD_URL: &str = "https://conformance-test.local/client-metadata.json";

impl TestbedConfig {
    /// The harness's default mock servers (the base of every preset).
    pub fn conformance_base() -> Self {
        Self {
            prm_scopes_supported: None,
            list_scopes: Vec::new(),
            admin_scopes: Vec::new(),
            dcr_echoes_auth_method: false,
            as_scopes_supported: None,
            issue_refresh_tokens: false,
            revocation_endpoint: false,
            ..Self::default()
        }
    }

    /// The mock servers of one conformance client-auth scenario (`auth/` prefix optional), or
    /// `None` for an unknown name. `auth/authorization-server-migration` needs `as2_origin` set
    /// before [`Testbed::new`](super::Testbed::new) (or use
    /// [`Testbed::conformance`](super::Testbed::conformance)).
    pub fn conformance(scenario: &str) -> Option<Self> {
        let name = scenario.strip_prefix("auth/").unwrap_or(scenario);
        let base = Self::conformance_base();
        let evil = "https://evil.example.com".to_string();
        let c = match name {
            "metadata-default" | "iss-supported" => base,
            "metadata-var1" => Self {
                prm_in_challenge: false,
                as_metadata: vec![MetadataForm::OidcAppend],
                ..base
            },
            "metadata-var2" => Self {
                prm_location: PrmLocation::Root,
                prm_in_challenge: false,
                issuer_path: "/tenant1".into(),
                ..base
            },
            "metadata-var3" => Self {
                prm_location: PrmLocation::Custom("/custom/metadata/location.json".into()),
                issuer_path: "/tenant1".into(),
                as_metadata: vec![MetadataForm::OidcAppend],
                ..base
            },
            "basic-cimd" => Self {
                client_id_metadata_document_supported: Some(true),
                expected_cimd_client_id: Some(CONFORMANCE_CIMD_URL.into()),
                ..base
            },
            "scope-from-www-authenticate" => Self {
                challenge_scope: Some("mcp:basic".into()),
                list_scopes: strings(&["mcp:basic"]),
                prm_scopes_supported: Some(strings(&["mcp:basic"])),
                expected_first_scope: Some(ExpectedScope::Contains(strings(&["mcp:basic"]))),
                ..base
            },
            "scope-from-scopes-supported" => {
                let all = strings(&["mcp:basic", "mcp:read", "mcp:write"]);
                Self {
                    prm_scopes_supported: Some(all.clone()),
                    expected_first_scope: Some(ExpectedScope::Contains(all)),
                    ..base
                }
            }
            "scope-omitted-when-undefined" => Self {
                expected_first_scope: Some(ExpectedScope::Omitted),
                ..base
            },
            "scope-step-up" => Self {
                initialize_unauthenticated: true,
                challenge_scope: Some("mcp:basic".into()),
                list_scopes: strings(&["mcp:basic"]),
                call_scopes: strings(&["mcp:write"]),
                prm_scopes_supported: Some(strings(&["mcp:profile"])),
                expected_first_scope: Some(ExpectedScope::Contains(strings(&["mcp:basic"]))),
                expected_reauth_scope: Some(strings(&["mcp:basic", "mcp:write"])),
                ..base
            },
            "scope-retry-limit" => Self {
                initialize_unauthenticated: true,
                challenge_scope: Some("mcp:admin".into()),
                prm_scopes_supported: Some(strings(&["mcp:admin"])),
                always_forbidden_scope: Some("mcp:admin".into()),
                max_authorization_requests: Some(3),
                ..base
            },
            "token-endpoint-auth-basic" => auth_method(base, ClientAuthMethod::ClientSecretBasic),
            "token-endpoint-auth-post" => auth_method(base, ClientAuthMethod::ClientSecretPost),
            "token-endpoint-auth-none" => Self {
                dcr_returns_secret: false,
                ..auth_method(base, ClientAuthMethod::None)
            },
            "pre-registration" => Self {
                registration_endpoint: false,
                token_endpoint_auth_methods: vec![ClientAuthMethod::ClientSecretBasic],
                pre_registered: Some(PreRegistration {
                    client_id: "pre-registered-client".into(),
                    client_secret: "pre-registered-secret".into(),
                }),
                ..base
            },
            "2025-03-26-oauth-metadata-backcompat" => Self {
                prm_location: PrmLocation::None,
                as_on_mcp_origin: true,
                endpoint_prefix: Some("/oauth".into()),
                ..base
            },
            "2025-03-26-oauth-endpoint-fallback" => Self {
                prm_location: PrmLocation::None,
                as_on_mcp_origin: true,
                as_metadata: Vec::new(),
                iss_parameter_supported: None,
                iss_in_redirect: IssMode::Omit,
                ..base
            },
            "resource-mismatch" => Self {
                prm_resource: Some("https://evil.example.com/mcp".into()),
                ..base
            },
            "offline-access-scope" => Self {
                as_scopes_supported: Some(strings(&["mcp:basic", "offline_access"])),
                client_id_metadata_document_supported: Some(true),
                prm_scopes_supported: Some(strings(&["mcp:basic"])),
                issue_refresh_tokens: true,
                ..base
            },
            "offline-access-not-supported" => Self {
                as_scopes_supported: Some(strings(&["mcp:basic", "mcp:read"])),
                prm_scopes_supported: Some(strings(&["mcp:basic", "mcp:read"])),
                ..base
            },
            "authorization-server-migration" => Self {
                initialize_unauthenticated: true,
                challenge_scope: Some("mcp:basic".into()),
                migrate_after_first_call: true,
                ..base
            },
            "iss-not-advertised" => iss(base, None, IssMode::Omit),
            "iss-supported-missing" => iss(base, Some(true), IssMode::Omit),
            "iss-wrong-issuer" => iss(base, Some(true), IssMode::Wrong(evil)),
            "iss-unexpected" => iss(base, None, IssMode::Wrong(evil)),
            "iss-normalized" => iss(base, Some(true), IssMode::Normalized),
            "metadata-issuer-mismatch" => Self {
                issuer_override: Some("https://attacker.example.com".into()),
                endpoint_prefix: Some("/mismatched-as".into()),
                ..base
            },
            _ => return None,
        };
        Some(c)
    }
}

fn auth_method(base: TestbedConfig, method: ClientAuthMethod) -> TestbedConfig {
    TestbedConfig {
        token_endpoint_auth_methods: vec![method],
        dcr_echoes_auth_method: true,
        ..base
    }
}

fn iss(base: TestbedConfig, advertised: Option<bool>, mode: IssMode) -> TestbedConfig {
    TestbedConfig {
        iss_parameter_supported: advertised,
        iss_in_redirect: mode,
        ..base
    }
}
