//! The persisted session stays small and strict (session.rs, DESIGN.md §2): a typical session
//! serialises under 2000 bytes of JSON so it fits a Windows credential blob (2560 bytes), it
//! round-trips through `Session::from_json`, and unknown versions or garbage are refused rather
//! than half-read.

use mcp_oauth_core::session::SessionDecodeError;
use mcp_oauth_core::{
    AccessToken, ClientAuthMethod, ClientKind, ClientRegistration, ClientSecret, RefreshToken,
    Session, TokenSet, TokenType, SESSION_VERSION,
};

/// Windows `CRED_MAX_CREDENTIAL_BLOB_SIZE` is 2560 bytes; the design budget is 2000.
const BUDGET: usize = 2000;

/// A 900-byte compact JWS (header.payload.signature, base64url alphabet).
fn jwt_900() -> String {
    let header = "eyJhbGciOiJSUzI1NiIsInR5cCI6ImF0K2p3dCIsImtpZCI6IjEyMyJ9";
    let signature: String = "Q".repeat(342);
    let payload_len = 900 - header.len() - signature.len() - 2;
    let payload: String = "eyJzdWIiOiJ1c2VyIn0"
        .chars()
        .cycle()
        .take(payload_len)
        .collect();
    let jwt = format!("{header}.{payload}.{signature}");
    assert_eq!(jwt.len(), 900);
    jwt
}

/// A typical session: DCR client with a 32-char secret, https endpoints, three scopes.
fn typical(access_token: &str) -> Session {
    Session {
        version: SESSION_VERSION,
        server: "https://mcp.example.com/mcp".into(),
        resource: Some("https://mcp.example.com/mcp".into()),
        issuer: "https://auth.example.com".into(),
        token_endpoint: "https://auth.example.com/oauth2/token".into(),
        revocation_endpoint: Some("https://auth.example.com/oauth2/revoke".into()),
        client: ClientRegistration {
            kind: ClientKind::Dynamic,
            issuer: "https://auth.example.com".into(),
            client_id: "6f1d3c2a-9b8e-4f7a-8c5d-2e1b0a9f8e7d".into(),
            client_secret: Some(ClientSecret::new("Zx8vQ2mN4pL6kJ9hG3fD5sA7wE1rT0yU")),
            secret_expires_at: Some(1_900_000_000),
            auth_method: ClientAuthMethod::ClientSecretBasic,
            redirect_uri: Some("http://127.0.0.1:49152/callback".into()),
        },
        tokens: Some(TokenSet {
            access_token: AccessToken::new(access_token),
            token_type: TokenType::Bearer,
            refresh_token: Some(RefreshToken::new(
                "rt.8Jk2Lm4Np6Qr8St0Uv2Wx4Yz6Ab8Cd0Ef2Gh4Ij6Kl8Mn0Op2Qr4",
            )),
            expires_at: Some(1_700_003_600),
            dpop_key: None,
            obtained_at: None,
        }),
        scopes: vec![
            "mcp:read".into(),
            "mcp:write".into(),
            "offline_access".into(),
        ],
        // What a real login persists for restarts without discovery.
        discovery: Some(mcp_oauth_core::session::DiscoveryCache {
            metadata_url: "https://mcp.example.com/.well-known/oauth-protected-resource/mcp".into(),
            authorization_endpoint: "https://auth.example.com/oauth2/authorize".into(),
            registration_endpoint: Some("https://auth.example.com/oauth2/register".into()),
            prm_scopes: Some(vec!["mcp:read".into(), "mcp:write".into()]),
            offline_access: true,
            auth_methods: Some(vec!["none".into(), "client_secret_basic".into()]),
            grant_types: Some(vec!["authorization_code".into(), "refresh_token".into()]),
            dpop_algs: None,
            iss_supported: true,
            cimd_supported: false,
        }),
        settings: Default::default(),
    }
}

#[test]
fn typical_sessions_fit_the_budget() {
    assert_eq!("Zx8vQ2mN4pL6kJ9hG3fD5sA7wE1rT0yU".len(), 32);
    let opaque = "2YotnFZFEjr1zCsicMWpAA2YotnFZFEjr1zCsicMWpA";
    assert_eq!(opaque.len(), 43);
    for (name, token) in [
        ("opaque 43-char token", opaque.to_string()),
        ("900-byte JWT", jwt_900()),
    ] {
        let json = typical(&token).to_json();
        println!("session with {name}: {} bytes of JSON", json.len());
        assert!(
            json.len() < BUDGET,
            "{name}: {} bytes >= {BUDGET}",
            json.len()
        );
    }
}

#[test]
fn from_json_round_trips() {
    let original = typical(&jwt_900());
    let json = original.to_json();
    let back = Session::from_json(&json).expect("round trip");
    assert_eq!(back.to_json(), json);
    assert_eq!(back.version, SESSION_VERSION);
    assert_eq!(back.client.kind, ClientKind::Dynamic);
    assert_eq!(back.client.auth_method, ClientAuthMethod::ClientSecretBasic);
    assert_eq!(
        back.client
            .client_secret
            .as_ref()
            .map(|s| s.expose_secret()),
        Some("Zx8vQ2mN4pL6kJ9hG3fD5sA7wE1rT0yU")
    );
    let t = back.tokens.as_ref().expect("tokens");
    assert_eq!(t.access_token.expose_secret(), jwt_900());
    assert_eq!(t.token_type, TokenType::Bearer);
    assert_eq!(t.expires_at, Some(1_700_003_600));
    assert_eq!(back.scopes, ["mcp:read", "mcp:write", "offline_access"]);
    assert_eq!(back.resource, original.resource);
    assert_eq!(back.revocation_endpoint, original.revocation_endpoint);
}

#[test]
fn optional_members_are_omitted_and_read_back_as_absent() {
    let mut s = typical("at");
    s.resource = None;
    s.revocation_endpoint = None;
    s.tokens = None;
    s.scopes.clear();
    s.client.client_secret = None;
    s.client.secret_expires_at = None;
    s.client.redirect_uri = None;
    s.discovery = None;
    let json = s.to_json();
    for absent in [
        "resource",
        "revocation_endpoint",
        "tokens",
        "scopes",
        "client_secret",
        "secret_expires_at",
        "redirect_uri",
        "discovery",
    ] {
        let key = format!("\"{absent}\":");
        assert!(!json.contains(&key), "{absent} serialised: {json}");
    }
    let back = Session::from_json(&json).expect("round trip");
    assert!(back.tokens.is_none() && back.resource.is_none() && back.scopes.is_empty());
}

#[test]
fn other_versions_are_refused() {
    let json = typical("at").to_json();
    let v1 = format!("\"version\":{SESSION_VERSION}");
    assert!(json.contains(&v1));
    for v in [0u32, SESSION_VERSION + 1, 2, u32::MAX] {
        if v == SESSION_VERSION {
            continue;
        }
        let other = json.replace(&v1, &format!("\"version\":{v}"));
        assert_eq!(
            Session::from_json(&other).map(|_| ()),
            Err(SessionDecodeError::UnsupportedVersion(v)),
            "version {v}"
        );
    }
}

#[test]
fn garbage_is_malformed() {
    let cases = [
        "",
        "not json",
        "null",
        "[]",
        "{}",
        "{\"version\":\"1\"}",
        "{\"version\":1}",
        "{\"version\":-1}",
        "{\"version\":1,\"server\":\"x\"",
        "\u{0}\u{1}\u{2}",
    ];
    for c in cases {
        assert!(
            matches!(Session::from_json(c), Err(SessionDecodeError::Malformed(_))),
            "{c:?} gave {:?}",
            Session::from_json(c).map(|s| s.server)
        );
    }
    // A valid session with a wrongly typed member is malformed too.
    let json = typical("at")
        .to_json()
        .replace("\"token_type\":\"Bearer\"", "\"token_type\":\"Mac\"");
    assert!(matches!(
        Session::from_json(&json),
        Err(SessionDecodeError::Malformed(_))
    ));
}
