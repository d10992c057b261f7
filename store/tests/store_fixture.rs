//! Sessions shared by the `store_*` tests (included with `#[path]`; as a target of its own it
//! holds no tests).
#![allow(dead_code)]

use mcp_oauth_core::{
    AccessToken, ClientAuthMethod, ClientKind, ClientRegistration, ClientSecret, RefreshToken,
    Session, TokenSet, TokenType, SESSION_VERSION,
};

/// The access token inside [`session`]; tests assert it never shows in errors.
pub const ACCESS_TOKEN: &str = "at-SECRET-0123456789";

/// A typical session for `server`, well under the 2560-byte keychain entry limit.
pub fn session(server: &str) -> Session {
    session_with_token(server, ACCESS_TOKEN)
}

/// A session whose access token is `token`.
pub fn session_with_token(server: &str, token: &str) -> Session {
    Session {
        version: SESSION_VERSION,
        server: server.to_owned(),
        resource: Some(server.to_owned()),
        issuer: "https://auth.example.com".to_owned(),
        token_endpoint: "https://auth.example.com/token".to_owned(),
        revocation_endpoint: Some("https://auth.example.com/revoke".to_owned()),
        client: ClientRegistration {
            kind: ClientKind::Dynamic,
            issuer: "https://auth.example.com".to_owned(),
            client_id: "client-123".to_owned(),
            client_secret: Some(ClientSecret::new("cs-SECRET")),
            secret_expires_at: None,
            auth_method: ClientAuthMethod::ClientSecretPost,
            redirect_uri: Some("http://127.0.0.1:33418/callback".to_owned()),
        },
        tokens: Some(TokenSet {
            access_token: AccessToken::new(token),
            token_type: TokenType::Bearer,
            refresh_token: Some(RefreshToken::new("rt-SECRET")),
            expires_at: Some(1_900_000_000),
            dpop_key: None,
            obtained_at: None,
        }),
        scopes: vec!["mcp:read".to_owned(), "mcp:write".to_owned()],
        discovery: None,
        settings: Default::default(),
    }
}

/// A session of about 6.6 KB of JSON: a long JWT-like access token with multi-byte characters,
/// so chunk boundaries fall inside UTF-8 sequences unless the splitter respects them.
pub fn big_session(server: &str) -> Session {
    let token: String = (0..3000).map(|i| ["a", "é", "€"][i % 3]).collect();
    session_with_token(server, &token)
}

/// The fields that must survive a round trip, as comparable values.
pub fn fingerprint(s: &Session) -> (String, String, Option<String>, Option<String>, Vec<String>) {
    let tokens = s.tokens.as_ref();
    (
        s.server.clone(),
        s.client.client_id.clone(),
        tokens.map(|t| t.access_token.expose_secret().to_owned()),
        tokens.and_then(|t| {
            t.refresh_token
                .as_ref()
                .map(|r| r.expose_secret().to_owned())
        }),
        s.scopes.clone(),
    )
}
