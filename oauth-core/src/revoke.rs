//! Token revocation (RFC 7009 §2), used on logout.
//!
//! MCP does not require it, but a logout that leaves a live refresh token at the AS is not a
//! logout. The request uses the same client authentication as the token endpoint (RFC 7009
//! §2.1), via the token module's helper, so the two can never disagree.

use crate::error::Error;
use crate::http::{HttpRequest, HttpResponse, Step};
use crate::session::ClientRegistration;
use crate::token::{authenticated_form, error_from_response};

/// RFC 7009 §2.1 `token_type_hint`: lets the AS find the token faster; it is only a hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenTypeHint {
    /// `access_token`.
    AccessToken,
    /// `refresh_token` (revoke this first: RFC 7009 §2.1 lets the AS drop the access tokens
    /// issued from it too).
    RefreshToken,
}

impl TokenTypeHint {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenTypeHint::AccessToken => "access_token",
            TokenTypeHint::RefreshToken => "refresh_token",
        }
    }
}

/// The RFC 7009 §2.1 request: form `token`, `token_type_hint`, then the client's token
/// endpoint authentication. `token` is the raw secret; the returned request's `Debug` hides it.
pub fn revocation_request(
    endpoint: &str,
    client: &ClientRegistration,
    token: &str,
    hint: TokenTypeHint,
) -> HttpRequest {
    authenticated_form(
        endpoint,
        vec![("token", token), ("token_type_hint", hint.as_str())],
        client,
    )
}

/// RFC 7009 §2.2: 200 means revoked (or already invalid), and "the content of the response
/// body is ignored by the client". Anything else is an error for the caller to report; on 503
/// the token must be assumed still valid (§2.2.1), which the caller does by keeping it.
pub fn parse_revocation_response(resp: &HttpResponse) -> Result<(), Error> {
    if resp.status == 200 {
        Ok(())
    } else {
        Err(error_from_response(resp, Step::Revocation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::ClientSecret;
    use crate::session::{ClientAuthMethod, ClientKind};
    use serde_json::json;

    fn client(method: ClientAuthMethod, secret: Option<&str>) -> ClientRegistration {
        ClientRegistration {
            kind: ClientKind::Dynamic,
            issuer: "https://as.example".into(),
            client_id: "cid".into(),
            client_secret: secret.map(ClientSecret::new),
            secret_expires_at: None,
            auth_method: method,
            redirect_uri: None,
        }
    }

    #[test]
    fn public_client_body() {
        let r = revocation_request(
            "https://as.example/revoke",
            &client(ClientAuthMethod::None, None),
            "rt-1",
            TokenTypeHint::RefreshToken,
        );
        assert_eq!(r.url, "https://as.example/revoke");
        assert_eq!(r.method, crate::http::Method::Post);
        assert_eq!(
            String::from_utf8(r.body.clone()).unwrap(),
            "token=rt-1&token_type_hint=refresh_token&client_id=cid"
        );
        assert_eq!(r.header("authorization"), None);
        assert!(!format!("{r:?}").contains("rt-1"));
    }

    #[test]
    fn basic_client_body_and_header() {
        let r = revocation_request(
            "https://as.example/revoke",
            &client(ClientAuthMethod::ClientSecretBasic, Some("sec")),
            "at 1",
            TokenTypeHint::AccessToken,
        );
        assert_eq!(
            String::from_utf8(r.body.clone()).unwrap(),
            "token=at+1&token_type_hint=access_token"
        );
        // base64("cid:sec")
        assert_eq!(r.header("Authorization"), Some("Basic Y2lkOnNlYw=="));
    }

    #[test]
    fn post_client_body() {
        let r = revocation_request(
            "https://as.example/revoke",
            &client(ClientAuthMethod::ClientSecretPost, Some("sec")),
            "rt",
            TokenTypeHint::RefreshToken,
        );
        assert_eq!(
            String::from_utf8(r.body.clone()).unwrap(),
            "token=rt&token_type_hint=refresh_token&client_id=cid&client_secret=sec"
        );
        assert_eq!(r.header("Authorization"), None);
    }

    #[test]
    fn ok_on_200_whatever_the_body() {
        assert_eq!(
            parse_revocation_response(&HttpResponse::status(200)),
            Ok(())
        );
        let mut garbage = HttpResponse::status(200);
        garbage.body = b"\xff\x00not json{".to_vec();
        assert_eq!(parse_revocation_response(&garbage), Ok(()));
        let err_body = HttpResponse::json(200, &json!({"error": "whatever"}));
        assert_eq!(parse_revocation_response(&err_body), Ok(()));
    }

    #[test]
    fn errors() {
        let r = HttpResponse::json(
            400,
            &json!({"error": "unsupported_token_type", "error_description": "no\nway"}),
        );
        assert_eq!(
            parse_revocation_response(&r),
            Err(Error::OAuth {
                step: Step::Revocation,
                code: "unsupported_token_type".into(),
                description: Some("noway".into()),
            })
        );
        assert_eq!(
            parse_revocation_response(&HttpResponse::status(503)),
            Err(Error::HttpStatus {
                step: Step::Revocation,
                status: 503
            })
        );
    }
}
