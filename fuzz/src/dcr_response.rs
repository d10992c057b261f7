//! RFC 7591 registration responses: `registration::parse_dcr_response` (bound to the issuer; the
//! auth method follows the AS metadata).

use mcp_oauth_core::registration::{
    choose_auth_method, parse_dcr_response, supported_auth_methods,
};
use mcp_oauth_core::{ClientAuthMethod, ClientKind, ClientSecret};

const ISSUER: &str = "https://as.example.com";
const REDIRECT: &str = "http://127.0.0.1:5555/callback";

/// Byte 0: status, byte 1: content type, byte 2: the AS's supported auth methods (bit set),
/// the rest: body.
pub fn run(data: &[u8]) {
    let bits = data.get(2).copied().unwrap_or(0);
    let resp = crate::response_from(&data[..data.len().min(2)]);
    let resp = mcp_oauth_core::HttpResponse {
        body: data.get(3..).unwrap_or_default().to_vec(),
        ..resp
    };
    let all = [
        ClientAuthMethod::None,
        ClientAuthMethod::ClientSecretBasic,
        ClientAuthMethod::ClientSecretPost,
    ];
    let supported: Vec<ClientAuthMethod> = if bits & 0x80 != 0 {
        supported_auth_methods(None)
    } else {
        all.iter()
            .enumerate()
            .filter(|(i, _)| bits & (1 << i) != 0)
            .map(|(_, m)| *m)
            .collect()
    };
    match parse_dcr_response(&resp, ISSUER, REDIRECT, &supported) {
        Ok(client) => {
            assert!(resp.status == 200 || resp.status == 201);
            assert!(!client.client_id.is_empty() && !crate::has_control(&client.client_id));
            assert_eq!(client.kind, ClientKind::Dynamic);
            assert_eq!(client.issuer, ISSUER);
            assert_eq!(client.redirect_uri.as_deref(), Some(REDIRECT));
            assert_ne!(client.secret_expires_at, Some(0));
            if client.auth_method != ClientAuthMethod::None {
                // A secret is only used with a method the AS supports.
                assert!(client.client_secret.is_some() && supported.contains(&client.auth_method));
            }
            // Debug must not depend on the secret's value.
            let mut blank = client.clone();
            blank.client_secret = client
                .client_secret
                .as_ref()
                .map(|_| ClientSecret::new("x"));
            assert_eq!(
                format!("{client:?}"),
                format!("{blank:?}"),
                "client_secret in Debug"
            );
            let again = choose_auth_method(client.client_secret.is_some(), None, &supported);
            assert!(again == ClientAuthMethod::None || supported.contains(&again));
        }
        Err(e) => assert!(
            !crate::has_control(&e.to_string()),
            "unsanitised error text"
        ),
    }
}
