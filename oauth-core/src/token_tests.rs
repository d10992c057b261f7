use super::*;
use crate::secret::ClientSecret;
use crate::session::ClientKind;
use proptest::prelude::*;
use serde_json::json;

const TOKEN_URL: &str = "https://as.example/token";

fn client(id: &str, method: ClientAuthMethod, secret: Option<&str>) -> ClientRegistration {
    ClientRegistration {
        kind: ClientKind::Dynamic,
        issuer: "https://as.example".into(),
        client_id: id.into(),
        client_secret: secret.map(ClientSecret::new),
        secret_expires_at: None,
        auth_method: method,
        redirect_uri: None,
    }
}

fn exchange(c: &ClientRegistration, resource: Option<&str>) -> HttpRequest {
    code_exchange_request(
        TOKEN_URL,
        c,
        &AuthorizationCode::new("the code"),
        "http://127.0.0.1:4242/callback",
        &PkceVerifier::new("verif-123"),
        resource,
    )
}

fn body(r: &HttpRequest) -> String {
    String::from_utf8(r.body.clone()).unwrap()
}

const EXCHANGE_PREFIX: &str = "grant_type=authorization_code&code=the+code\
&redirect_uri=http%3A%2F%2F127.0.0.1%3A4242%2Fcallback&code_verifier=verif-123\
&resource=http%3A%2F%2Flocalhost%3A3000%2Fmcp";

#[test]
fn exchange_public_client() {
    let r = exchange(
        &client("test-client-id", ClientAuthMethod::None, None),
        Some("http://localhost:3000/mcp"),
    );
    assert_eq!(r.url, TOKEN_URL);
    assert_eq!(r.method, crate::http::Method::Post);
    assert_eq!(
        r.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(r.header("accept"), Some("application/json"));
    assert_eq!(r.header("authorization"), None);
    assert_eq!(
        body(&r),
        format!("{EXCHANGE_PREFIX}&client_id=test-client-id")
    );
}

#[test]
fn exchange_basic_client_encodes_before_base64() {
    let r = exchange(
        &client(
            "my:client id%",
            ClientAuthMethod::ClientSecretBasic,
            Some("s:e c%ret"),
        ),
        Some("http://localhost:3000/mcp"),
    );
    // base64("my%3Aclient+id%25:s%3Ae+c%25ret")
    assert_eq!(
        r.header("Authorization"),
        Some("Basic bXklM0FjbGllbnQraWQlMjU6cyUzQWUrYyUyNXJldA==")
    );
    assert_eq!(body(&r), EXCHANGE_PREFIX);
    assert!(!body(&r).contains("client_id"));
    assert!(!body(&r).contains("client_secret"));
    let dbg = format!("{r:?}");
    assert!(!dbg.contains("bXkl") && !dbg.contains("verif-123"));
}

#[test]
fn exchange_basic_conformance_credentials() {
    let r = exchange(
        &client(
            "test-client-id",
            ClientAuthMethod::ClientSecretBasic,
            Some("test-client-secret"),
        ),
        None,
    );
    assert_eq!(
        r.header("Authorization"),
        Some("Basic dGVzdC1jbGllbnQtaWQ6dGVzdC1jbGllbnQtc2VjcmV0")
    );
    assert_eq!(
        body(&r),
        "grant_type=authorization_code&code=the+code\
&redirect_uri=http%3A%2F%2F127.0.0.1%3A4242%2Fcallback&code_verifier=verif-123"
    );
}

#[test]
fn exchange_post_client() {
    let r = exchange(
        &client("cid", ClientAuthMethod::ClientSecretPost, Some("s&c=t")),
        Some("http://localhost:3000/mcp"),
    );
    assert_eq!(r.header("authorization"), None);
    assert_eq!(
        body(&r),
        format!("{EXCHANGE_PREFIX}&client_id=cid&client_secret=s%26c%3Dt")
    );
}

#[test]
fn secret_method_without_secret_falls_back_to_none() {
    for m in [
        ClientAuthMethod::ClientSecretBasic,
        ClientAuthMethod::ClientSecretPost,
    ] {
        let r = exchange(&client("cid", m, None), None);
        assert_eq!(r.header("authorization"), None);
        assert!(body(&r).ends_with("&client_id=cid"));
        assert!(!body(&r).contains("client_secret"));
    }
}

#[test]
fn none_method_with_secret_sends_no_secret() {
    // Conformance pitfall (the method follows the AS metadata): a secret exists but the AS only
    // supports `none`.
    let r = exchange(&client("cid", ClientAuthMethod::None, Some("sec")), None);
    assert_eq!(r.header("authorization"), None);
    assert!(!body(&r).contains("sec"));
    assert!(body(&r).ends_with("&client_id=cid"));
}

#[test]
fn refresh_bodies() {
    let rt = RefreshToken::new("rt/1");
    let r = refresh_request(
        TOKEN_URL,
        &client("cid", ClientAuthMethod::None, None),
        &rt,
        Some("https://mcp.example/mcp"),
        Some("mcp:read mcp:write"),
    );
    assert_eq!(
        body(&r),
        "grant_type=refresh_token&refresh_token=rt%2F1&resource=https%3A%2F%2Fmcp.example%2Fmcp\
&scope=mcp%3Aread+mcp%3Awrite&client_id=cid"
    );
    let r = refresh_request(
        TOKEN_URL,
        &client("cid", ClientAuthMethod::ClientSecretBasic, Some("sec")),
        &rt,
        None,
        None,
    );
    assert_eq!(body(&r), "grant_type=refresh_token&refresh_token=rt%2F1");
    assert_eq!(r.header("Authorization"), Some("Basic Y2lkOnNlYw=="));
}

fn ok(body: serde_json::Value) -> HttpResponse {
    HttpResponse::json(200, &body)
}

fn parse(resp: &HttpResponse) -> Result<TokenResponse, Error> {
    parse_token_response(resp, Step::TokenExchange)
}

fn malformed(detail: &str) -> Error {
    Error::Malformed {
        step: Step::TokenExchange,
        detail: detail.into(),
    }
}

#[test]
fn parses_full_response() {
    let t = parse(&ok(json!({
        "access_token": "test-token-1", "token_type": "Bearer", "expires_in": 3600,
        "refresh_token": "rt-1", "scope": "mcp:basic", "id_token": "ignored", "x": [1]
    })))
    .unwrap();
    assert_eq!(t.access_token.expose_secret(), "test-token-1");
    assert_eq!(t.token_type, TokenType::Bearer);
    assert_eq!(t.refresh_token.as_ref().unwrap().expose_secret(), "rt-1");
    assert_eq!(t.expires_in, Some(3600));
    assert_eq!(t.scope.as_deref(), Some("mcp:basic"));
    let dbg = format!("{t:?}");
    assert!(
        !dbg.contains("test-token-1") && !dbg.contains("rt-1"),
        "{dbg}"
    );
    assert!(dbg.contains("AccessToken([redacted])"));
}

#[test]
fn token_type_is_case_insensitive_and_known() {
    for (raw, want) in [
        ("bearer", TokenType::Bearer),
        ("BEARER", TokenType::Bearer),
        ("DPoP", TokenType::DPoP),
        ("dpop", TokenType::DPoP),
    ] {
        let t = parse(&ok(json!({"access_token": "a", "token_type": raw}))).unwrap();
        assert_eq!(t.token_type, want);
    }
    assert_eq!(
        parse(&ok(json!({"access_token": "a", "token_type": "mac"}))).unwrap_err(),
        Error::InvalidToken("unsupported token_type \"mac\"".into())
    );
    assert_eq!(
        parse(&ok(json!({"access_token": "a"}))).unwrap_err(),
        Error::InvalidToken("token_type missing".into())
    );
    assert!(matches!(
        parse(&ok(json!({"access_token": "a", "token_type": 1}))),
        Err(Error::InvalidToken(_))
    ));
}

#[test]
fn access_token_checks() {
    for bad in ["", "a\r\nX: y", "a b", "tab\there", "nul\0", "caf\u{e9}"] {
        let err = parse(&ok(json!({"access_token": bad, "token_type": "Bearer"}))).unwrap_err();
        assert!(matches!(err, Error::InvalidToken(_)), "{bad:?}");
        assert!(!err.to_string().contains("X: y"));
    }
    // Printable characters outside b64token are tolerated.
    let t = parse(&ok(
        json!({"access_token": "a.b-c_d~e+f/g=h!*", "token_type": "Bearer"}),
    ));
    assert!(t.is_ok());
    assert_eq!(
        parse(&ok(json!({"token_type": "Bearer"}))).unwrap_err(),
        malformed("access_token missing")
    );
    assert_eq!(
        parse(&ok(json!({"access_token": 5, "token_type": "Bearer"}))).unwrap_err(),
        malformed("access_token is not a string")
    );
}

#[test]
fn expires_in_forms() {
    let with = |v: serde_json::Value| {
        parse(&ok(
            json!({"access_token": "a", "token_type": "Bearer", "expires_in": v}),
        ))
        .expect("expires_in never fails a token response")
    };
    // Usable as sent (fractions truncated, digit strings as Entra ID sends them): no warning.
    for (v, want) in [
        (json!(3600), 3600),
        (json!("5250"), 5250),
        (json!(3600.0), 3600),
        (json!(3600.5), 3600),
        (json!(1.5), 1),
        (json!(" 1"), 1),
        (json!("+5"), 5),
        (json!("3600.9"), 3600),
    ] {
        let t = with(v.clone());
        assert_eq!(t.expires_in, Some(want), "{v}");
        assert!(t.warnings.is_empty(), "{v}");
    }
    assert_eq!(with(json!(null)).expires_in, None);
    assert!(with(json!(null)).warnings.is_empty());
    let absent = parse(&ok(json!({"access_token": "a", "token_type": "Bearer"}))).unwrap();
    assert_eq!(absent.expires_in, None);
    assert!(absent.warnings.is_empty());
}

#[test]
fn optional_fields() {
    let t = parse(&ok(json!({"access_token": "a", "token_type": "Bearer",
        "refresh_token": "", "scope": ["a", "b"]})))
    .unwrap();
    assert!(t.refresh_token.is_none());
    assert_eq!(t.scope.as_deref(), Some("a b"));
    assert_eq!(
        parse(&ok(
            json!({"access_token": "a", "token_type": "Bearer", "refresh_token": 1})
        ))
        .unwrap_err(),
        malformed("refresh_token is not a string")
    );
    assert_eq!(
        parse(&ok(
            json!({"access_token": "a", "token_type": "Bearer", "scope": {}})
        ))
        .unwrap_err(),
        malformed("scope is not a string")
    );
}

#[test]
fn error_member_in_200_is_an_oauth_error() {
    let err = parse(&ok(
        json!({"error": "invalid_grant", "error_description": "expired\u{1b}[31m",
        "access_token": "a", "token_type": "Bearer"}),
    ))
    .unwrap_err();
    assert_eq!(
        err,
        Error::OAuth {
            step: Step::TokenExchange,
            code: "invalid_grant".into(),
            description: Some("expired[31m".into())
        }
    );
    assert_eq!(
        parse(&ok(json!({"error": 3}))).unwrap_err(),
        malformed("error is not a string")
    );
    // `error: null` is not an error.
    assert!(parse(&ok(
        json!({"error": null, "access_token": "a", "token_type": "bearer"})
    ))
    .is_ok());
}

#[test]
fn body_shape_errors() {
    let mut r = HttpResponse::status(200);
    r.body = b"not json".to_vec();
    assert_eq!(parse(&r).unwrap_err(), malformed("body is not valid JSON"));
    assert_eq!(
        parse(&ok(json!(["access_token"]))).unwrap_err(),
        malformed("body is not a JSON object")
    );
    let mut big = HttpResponse::status(200);
    big.body = vec![b' '; MAX_RESPONSE_BYTES + 1];
    assert_eq!(
        parse(&big).unwrap_err(),
        Error::ResponseTooLarge {
            step: Step::TokenExchange
        }
    );
}

#[test]
fn form_encoded_success_body() {
    let mut r = HttpResponse::status(200).with_header(
        "Content-Type",
        "application/x-www-form-urlencoded; charset=utf-8",
    );
    r.body = b"access_token=gho_abc&token_type=bearer&scope=repo%20user&expires_in=28800".to_vec();
    let t = parse(&r).unwrap();
    assert_eq!(t.access_token.expose_secret(), "gho_abc");
    assert_eq!(t.token_type, TokenType::Bearer);
    assert_eq!(t.scope.as_deref(), Some("repo user"));
    assert_eq!(t.expires_in, Some(28800));

    r.body = b"error=bad_verification_code&error_description=The+code".to_vec();
    assert_eq!(
        parse(&r).unwrap_err().oauth_code(),
        Some("bad_verification_code")
    );

    r.body = b"access_token=a&access_token=b&token_type=bearer".to_vec();
    assert_eq!(
        parse(&r).unwrap_err(),
        malformed("form body repeats a parameter")
    );
}

#[test]
fn non_200_statuses() {
    let r = HttpResponse::json(
        400,
        &json!({"error": "invalid_target", "error_description": "bad resource"}),
    );
    assert_eq!(
        parse_token_response(&r, Step::Refresh).unwrap_err(),
        Error::OAuth {
            step: Step::Refresh,
            code: "invalid_target".into(),
            description: Some("bad resource".into())
        }
    );
    // 201 with a token is still not RFC 6749 §5.1 success.
    let r = HttpResponse::json(201, &json!({"access_token": "a", "token_type": "Bearer"}));
    assert_eq!(
        parse(&r).unwrap_err(),
        Error::HttpStatus {
            step: Step::TokenExchange,
            status: 201
        }
    );
}

#[test]
fn error_from_response_cases() {
    let s = Step::Registration;
    let r = HttpResponse::json(401, &json!({"error": "invalid_client"}));
    assert_eq!(
        error_from_response(&r, s),
        Error::OAuth {
            step: s,
            code: "invalid_client".into(),
            description: None
        }
    );
    let r = HttpResponse::json(400, &json!({"error": "x", "error_description": "\n\r"}));
    assert_eq!(
        error_from_response(&r, s),
        Error::OAuth {
            step: s,
            code: "x".into(),
            description: None
        }
    );
    for r in [
        HttpResponse::status(500),
        HttpResponse::json(500, &json!({"message": "boom"})),
        HttpResponse::json(500, &json!({"error": {"code": 1}})),
        HttpResponse::json(500, &json!({"error": ""})),
        HttpResponse::json(500, &json!("error")),
    ] {
        assert_eq!(
            error_from_response(&r, s),
            Error::HttpStatus {
                step: s,
                status: 500
            }
        );
    }
    let mut big = HttpResponse::status(400);
    big.body = vec![b'{'; MAX_RESPONSE_BYTES + 1];
    assert_eq!(
        error_from_response(&big, s),
        Error::ResponseTooLarge { step: s }
    );
}

#[test]
fn into_token_set_expiry_and_refresh_retention() {
    let resp = |rt: Option<&str>, exp: Option<u64>| TokenResponse {
        access_token: AccessToken::new("a"),
        token_type: TokenType::Bearer,
        refresh_token: rt.map(RefreshToken::new),
        expires_in: exp,
        scope: None,
        warnings: Vec::new(),
    };
    let set = resp(None, Some(3600)).into_token_set(1_000, Some(RefreshToken::new("old")));
    assert_eq!(set.expires_at, Some(4_600));
    assert_eq!(set.refresh_token.unwrap().expose_secret(), "old");

    let set = resp(Some("new"), Some(0)).into_token_set(1_000, Some(RefreshToken::new("old")));
    assert_eq!(set.expires_at, Some(1_000));
    assert!(set.expires_within(1_000, 0));
    assert_eq!(set.refresh_token.unwrap().expose_secret(), "new");

    let set = resp(None, None).into_token_set(1_000, None);
    assert_eq!(set.expires_at, None);
    assert!(set.refresh_token.is_none());

    let set = resp(None, Some(u64::MAX)).into_token_set(1_000, None);
    assert_eq!(set.expires_at, Some(u64::MAX));
}

fn arb_response() -> impl Strategy<Value = HttpResponse> {
    let ct = prop_oneof![
        Just(None),
        Just(Some("application/json".to_string())),
        Just(Some("application/x-www-form-urlencoded".to_string())),
        ".{0,20}".prop_map(Some),
    ];
    let body = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        r#"\{("[a-z_]{1,14}":("[ -~]{0,8}"|-?[0-9]{1,4}(\.[0-9])?|null|\[\]|\{\}),?){0,6}\}"#
            .prop_map(String::into_bytes),
    ];
    (
        prop_oneof![Just(200u16), Just(201), Just(400), Just(401), any::<u16>()],
        ct,
        body,
    )
        .prop_map(|(status, ct, body)| {
            let mut r = HttpResponse::status(status);
            if let Some(ct) = ct {
                r.headers.push(("Content-Type".into(), ct));
            }
            r.body = body;
            r
        })
}

proptest! {
    #[test]
    fn parsers_never_panic(resp in arb_response()) {
        let _ = parse_token_response(&resp, Step::Refresh);
        let _ = error_from_response(&resp, Step::TokenExchange);
        let _ = crate::registration::parse_dcr_response(
            &resp,
            "https://as.example",
            "http://127.0.0.1:1/callback",
            &[ClientAuthMethod::None, ClientAuthMethod::ClientSecretPost],
        );
        let _ = crate::revoke::parse_revocation_response(&resp);
    }

    #[test]
    fn accepted_tokens_are_header_safe(tok in "[\\x00-\\x7f]{0,12}") {
        let r = HttpResponse::json(200, &json!({"access_token": tok, "token_type": "Bearer"}));
        if let Ok(t) = parse_token_response(&r, Step::TokenExchange) {
            let v = t.access_token.expose_secret();
            prop_assert!(!v.is_empty());
            prop_assert!(v.bytes().all(|b| b.is_ascii_graphic()));
        }
    }

    #[test]
    fn basic_header_round_trips(id in "\\PC{0,12}", secret in "\\PC{0,12}") {
        let h = basic_authorization(&id, &secret);
        let raw = STANDARD.decode(h.strip_prefix("Basic ").unwrap()).unwrap();
        let raw = String::from_utf8(raw).unwrap();
        let (a, b) = raw.split_once(':').unwrap();
        let dec = |s: &str| url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next().map(|(_, v)| v.into_owned()).unwrap();
        prop_assert_eq!(dec(a), id);
        prop_assert_eq!(dec(b), secret);
    }
}
