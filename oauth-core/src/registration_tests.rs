use super::*;
use crate::session::ClientAuthMethod::{ClientSecretBasic as Basic, ClientSecretPost as Post};
use proptest::prelude::*;

const ISSUER: &str = "http://localhost:3001";
const REDIRECT: &str = "http://127.0.0.1:4242/callback";
const NONE: ClientAuthMethod = ClientAuthMethod::None;

fn params() -> DcrParams<'static> {
    DcrParams {
        client_name: "mcp-oauth",
        redirect_uri: REDIRECT,
        scope: None,
        application_type: "native",
        software_id: None,
        software_version: None,
    }
}

fn json_body(r: &HttpRequest) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

#[test]
fn dcr_request_minimal() {
    let r = dcr_request("http://localhost:3001/register", &params());
    assert_eq!(r.url, "http://localhost:3001/register");
    assert_eq!(r.method, crate::http::Method::Post);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("accept"), Some("application/json"));
    assert_eq!(
        json_body(&r),
        json!({
            "client_name": "mcp-oauth",
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "application_type": "native"
        })
    );
}

#[test]
fn dcr_request_with_optionals() {
    let p = DcrParams {
        scope: Some("mcp:basic offline_access"),
        software_id: Some("mcp-oauth-cli"),
        software_version: Some("0.1.0"),
        application_type: "web",
        ..params()
    };
    let b = json_body(&dcr_request("https://as.example/register", &p));
    assert_eq!(b["scope"], "mcp:basic offline_access");
    assert_eq!(b["software_id"], "mcp-oauth-cli");
    assert_eq!(b["software_version"], "0.1.0");
    assert_eq!(b["application_type"], "web");
    let empty_scope = DcrParams {
        scope: Some(""),
        ..params()
    };
    let b = json_body(&dcr_request("https://as.example/register", &empty_scope));
    assert!(b.get("scope").is_none());
    assert!(b.get("software_id").is_none());
}

fn dcr(resp: &HttpResponse, supported: &[ClientAuthMethod]) -> Result<ClientRegistration, Error> {
    parse_dcr_response(resp, ISSUER, REDIRECT, supported)
}

fn malformed(detail: &str) -> Error {
    Error::Malformed {
        step: Step::Registration,
        detail: detail.into(),
    }
}

#[test]
fn dcr_response_conformance_default_as() {
    // The default conformance AS: methods ["none"], yet DCR returns a secret; the method
    // follows the AS metadata (ARCHITECTURE.md §8).
    let r = HttpResponse::json(
        201,
        &json!({"client_id": "test-client-id", "client_secret": "test-client-secret",
                "client_secret_expires_at": 0, "redirect_uris": [REDIRECT],
                "token_endpoint_auth_method": "none"}),
    );
    let c = dcr(&r, &[NONE]).unwrap();
    assert_eq!(c.kind, ClientKind::Dynamic);
    assert_eq!(c.issuer, ISSUER);
    assert_eq!(c.client_id, "test-client-id");
    assert_eq!(
        c.client_secret.as_ref().map(|s| s.expose_secret()),
        Some("test-client-secret")
    );
    assert_eq!(c.secret_expires_at, None);
    assert_eq!(c.auth_method, NONE);
    assert_eq!(c.redirect_uri.as_deref(), Some(REDIRECT));
    assert!(!format!("{c:?}").contains("test-client-secret"));
}

#[test]
fn dcr_response_token_endpoint_auth_scenarios() {
    let with = |method: &str| {
        HttpResponse::json(
            201,
            &json!({"client_id": "cid", "client_secret": "sec",
                    "client_secret_expires_at": 1_900_000_000u64,
                    "token_endpoint_auth_method": method}),
        )
    };
    let c = dcr(&with("client_secret_basic"), &[Basic]).unwrap();
    assert_eq!(c.auth_method, Basic);
    assert_eq!(c.secret_expires_at, Some(1_900_000_000));
    assert_eq!(
        dcr(&with("client_secret_post"), &[Post])
            .unwrap()
            .auth_method,
        Post
    );
    // Registered method not supported → fall back through basic, post.
    assert_eq!(
        dcr(&with("client_secret_post"), &[Basic])
            .unwrap()
            .auth_method,
        Basic
    );
    assert_eq!(
        dcr(&with("private_key_jwt"), &[NONE, Post])
            .unwrap()
            .auth_method,
        Post
    );
    // 200 is tolerated as success.
    let r = HttpResponse::json(200, &json!({"client_id": "cid"}));
    let c = dcr(&r, &[Basic]).unwrap();
    assert_eq!(c.auth_method, NONE);
    assert!(c.client_secret.is_none());
}

#[test]
fn dcr_response_secret_edge_cases() {
    let r = HttpResponse::json(
        201,
        &json!({"client_id": "cid", "client_secret": "", "token_endpoint_auth_method": "client_secret_basic"}),
    );
    let c = dcr(&r, &[Basic]).unwrap();
    assert!(c.client_secret.is_none());
    assert_eq!(c.auth_method, NONE);
    let r = HttpResponse::json(201, &json!({"client_id": "cid", "client_secret": 5}));
    assert_eq!(
        dcr(&r, &[]).unwrap_err(),
        malformed("client_secret is not a string")
    );
    let r = HttpResponse::json(
        201,
        &json!({"client_id": "cid", "client_secret": "s", "client_secret_expires_at": -1}),
    );
    assert_eq!(
        dcr(&r, &[]).unwrap_err(),
        malformed("client_secret_expires_at is not a non-negative integer")
    );
}

#[test]
fn dcr_response_redirect_uri_is_ours() {
    let r = HttpResponse::json(
        201,
        &json!({"client_id": "cid", "redirect_uris": ["http://127.0.0.1:9/other"]}),
    );
    assert_eq!(
        dcr(&r, &[]).unwrap().redirect_uri.as_deref(),
        Some(REDIRECT)
    );
}

#[test]
fn dcr_response_client_id_rules() {
    for (body, detail) in [
        (json!({}), "client_id missing"),
        (json!({"client_id": ""}), "client_id is empty"),
        (json!({"client_id": 7}), "client_id is not a string"),
        (
            json!({"client_id": "a\nb"}),
            "client_id contains control characters",
        ),
        (
            json!({"client_id": "a", "token_endpoint_auth_method": 1}),
            "token_endpoint_auth_method is not a string",
        ),
        (json!([]), "body is not a JSON object"),
    ] {
        assert_eq!(
            dcr(&HttpResponse::json(201, &body), &[]).unwrap_err(),
            malformed(detail)
        );
    }
}

#[test]
fn dcr_error_responses() {
    let r = HttpResponse::json(
        400,
        &json!({"error": "invalid_redirect_uri", "error_description": "loopback only\u{7}"}),
    );
    assert_eq!(
        dcr(&r, &[]).unwrap_err(),
        Error::OAuth {
            step: Step::Registration,
            code: "invalid_redirect_uri".into(),
            description: Some("loopback only".into())
        }
    );
    let r = HttpResponse::json(201, &json!({"error": "invalid_client_metadata"}));
    assert_eq!(
        dcr(&r, &[]).unwrap_err().oauth_code(),
        Some("invalid_client_metadata")
    );
    for status in [404, 500, 204, 302] {
        assert_eq!(
            dcr(&HttpResponse::status(status), &[]).unwrap_err(),
            Error::HttpStatus {
                step: Step::Registration,
                status
            }
        );
    }
    let mut big = HttpResponse::status(201);
    big.body = vec![b'x'; MAX_RESPONSE_BYTES + 1];
    assert_eq!(
        dcr(&big, &[]).unwrap_err(),
        Error::ResponseTooLarge {
            step: Step::Registration
        }
    );
}

#[test]
fn choose_auth_method_table() {
    // No secret → public, whatever else is true.
    assert_eq!(choose_auth_method(false, Some(Basic), &[Basic]), NONE);
    assert_eq!(choose_auth_method(true, Some(Post), &[Basic, Post]), Post);
    assert_eq!(choose_auth_method(true, Some(NONE), &[NONE, Basic]), NONE);
    assert_eq!(choose_auth_method(true, None, &[Post, Basic]), Basic);
    assert_eq!(choose_auth_method(true, Some(Basic), &[NONE, Post]), Post);
    assert_eq!(choose_auth_method(true, Some(Basic), &[NONE]), NONE);
    assert_eq!(choose_auth_method(true, None, &[]), NONE);
}

#[test]
fn supported_methods_defaults() {
    assert_eq!(supported_auth_methods(None), vec![Basic]);
    let names = vec![
        "private_key_jwt".to_string(),
        "client_secret_post".to_string(),
        "none".to_string(),
    ];
    assert_eq!(supported_auth_methods(Some(&names)), vec![Post, NONE]);
    assert_eq!(supported_auth_methods(Some(&[])), vec![]);
}

#[test]
fn client_id_url_validation() {
    for ok in [
        "https://conformance-test.local/client-metadata.json",
        "https://example.com:8443/a/b",
        "https://example.com/c?v=1",
        "HTTPS://example.com/x",
        "https://example.com/...",
    ] {
        assert_eq!(validate_client_id_url(ok), Ok(()), "{ok}");
    }
    for bad in [
        "http://example.com/client.json",
        "https://example.com",
        "https://example.com/",
        "https://example.com?x=1",
        "https://example.com/?x=1",
        "https://example.com/a/../b",
        "https://example.com/./b",
        "https://example.com/a/..",
        "https://example.com/a/%2E%2e/b",
        "https://example.com/a/.%2e",
        "https://example.com/a#frag",
        "https://example.com/a#",
        "https://user:pw@example.com/a",
        "https://user@example.com/a",
        "https://@example.com/a",
        "https:///a",
        "https://example.com/a b",
        "https://example.com\\a\\..\\b",
        " https://example.com/a",
        "https://example.com/a\n",
        "https://ex\u{e4}mple.com/a",
        "https://example.com:99999/a",
        "ftp://example.com/a",
        "",
        "https:",
    ] {
        assert!(
            matches!(validate_client_id_url(bad), Err(Error::Config(_))),
            "{bad:?}"
        );
    }
}

fn cimd_params<'a>(uris: &'a [&'a str]) -> CimdParams<'a> {
    CimdParams {
        client_id_url: "https://conformance-test.local/client-metadata.json",
        client_name: "mcp-oauth",
        redirect_uris: uris,
        client_uri: None,
        logo_uri: None,
        scope: None,
        software_id: None,
        software_version: None,
    }
}

#[test]
fn cimd_document_minimal_and_extras() {
    let uris = [REDIRECT, "http://localhost:4242/callback"];
    let doc = cimd_document(&cimd_params(&uris)).unwrap();
    assert_eq!(
        doc,
        json!({
            "client_id": "https://conformance-test.local/client-metadata.json",
            "client_name": "mcp-oauth",
            "redirect_uris": uris,
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none"
        })
    );
    let p = CimdParams {
        client_uri: Some("https://example.com"),
        logo_uri: Some("https://example.com/logo.png"),
        scope: Some("mcp:basic"),
        software_id: Some("id"),
        software_version: Some("1"),
        ..cimd_params(&uris)
    };
    let doc = cimd_document(&p).unwrap();
    assert_eq!(doc["client_uri"], "https://example.com");
    assert_eq!(doc["logo_uri"], "https://example.com/logo.png");
    assert_eq!(doc["scope"], "mcp:basic");
    assert_eq!(doc["software_id"], "id");
    assert_eq!(doc["software_version"], "1");
    assert!(doc.get("client_secret").is_none());
    assert!(doc.get("client_secret_expires_at").is_none());
}

#[test]
fn cimd_document_rejections() {
    let uris = [REDIRECT];
    let bad_url = CimdParams {
        client_id_url: "https://example.com/",
        ..cimd_params(&uris)
    };
    assert!(matches!(cimd_document(&bad_url), Err(Error::Config(_))));
    assert!(matches!(
        cimd_document(&cimd_params(&[])),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        cimd_document(&cimd_params(&[""])),
        Err(Error::Config(_))
    ));
    let long = "n".repeat(MAX_CIMD_BYTES);
    let too_big = CimdParams {
        client_name: &long,
        ..cimd_params(&uris)
    };
    assert!(matches!(cimd_document(&too_big), Err(Error::Config(_))));
}

proptest! {
    #[test]
    fn client_id_url_validation_never_panics(s in "\\PC{0,40}") {
        let _ = validate_client_id_url(&s);
        let _ = validate_client_id_url(&format!("https://{s}"));
    }

    #[test]
    fn accepted_client_id_urls_are_exact_in_the_document(path in "[a-z0-9._~-]{1,12}(/[a-z0-9._~-]{1,8}){0,3}") {
        let url = format!("https://example.com/{path}");
        let uris = [REDIRECT];
        let p = CimdParams { client_id_url: &url, ..cimd_params(&uris) };
        match cimd_document(&p) {
            Ok(doc) => {
                prop_assert_eq!(doc["client_id"].as_str(), Some(url.as_str()));
                prop_assert!(!path.split('/').any(|s| s == "." || s == ".."));
            }
            Err(_) => prop_assert!(path.split('/').any(|s| s == "." || s == "..")),
        }
    }
}
