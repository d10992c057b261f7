//! Tests for `grants.rs`: golden form bodies and the token exchange response parser.

use super::*;
use crate::http::Method;
use crate::http::MAX_RESPONSE_BYTES;
use serde_json::json;

const AS_TOKEN: &str = "http://localhost:3001/token";
const MCP: &str = "http://localhost:3000/mcp";

fn body(req: &HttpRequest) -> &str {
    std::str::from_utf8(&req.body).unwrap()
}

fn assert_form_post(req: &HttpRequest, url: &str) {
    assert_eq!(req.method, Method::Post);
    assert_eq!(req.url, url);
    assert_eq!(
        req.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(req.header("accept"), Some("application/json"));
}

#[test]
fn client_credentials_basic() {
    let auth = ClientAuth::Basic {
        client_id: "conformance-test-client",
        secret: "conformance-test-secret",
    };
    let req = client_credentials_request(AS_TOKEN, &auth, Some("mcp:read mcp:write"), Some(MCP));
    assert_form_post(&req, AS_TOKEN);
    assert_eq!(
        body(&req),
        "grant_type=client_credentials&scope=mcp%3Aread+mcp%3Awrite\
         &resource=http%3A%2F%2Flocalhost%3A3000%2Fmcp"
    );
    assert_eq!(
        req.header("authorization"),
        Some("Basic Y29uZm9ybWFuY2UtdGVzdC1jbGllbnQ6Y29uZm9ybWFuY2UtdGVzdC1zZWNyZXQ=")
    );
}

#[test]
fn client_credentials_post_and_none() {
    let post = ClientAuth::Post {
        client_id: "c 1",
        secret: "s&=",
    };
    let req = client_credentials_request(AS_TOKEN, &post, None, Some(MCP));
    assert_eq!(
        body(&req),
        "grant_type=client_credentials&resource=http%3A%2F%2Flocalhost%3A3000%2Fmcp\
         &client_id=c+1&client_secret=s%26%3D"
    );
    assert_eq!(req.header("authorization"), None);
    let none = ClientAuth::None { client_id: "pub" };
    let req = client_credentials_request(AS_TOKEN, &none, Some(""), None);
    assert_eq!(body(&req), "grant_type=client_credentials&client_id=pub");
    assert_eq!(req.header("authorization"), None);
}

#[test]
fn client_credentials_assertion_omits_client_id() {
    let auth = ClientAuth::Assertion { assertion: "h.c.s" };
    let req = client_credentials_request(AS_TOKEN, &auth, Some("mcp"), Some(MCP));
    assert_eq!(
        body(&req),
        "grant_type=client_credentials&scope=mcp\
         &resource=http%3A%2F%2Flocalhost%3A3000%2Fmcp\
         &client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer\
         &client_assertion=h.c.s"
    );
    assert!(req.form_pairs().iter().all(|(k, _)| k != "client_id"));
    assert_eq!(req.header("authorization"), None);
}

#[test]
fn jwt_bearer_wif_and_id_jag() {
    // WIF: token auth `none`, only client_id.
    let req = jwt_bearer_request(
        AS_TOKEN,
        "wl.jwt.sig",
        &ClientAuth::None {
            client_id: "conformance-wif-workload",
        },
        None,
        Some(MCP),
    );
    assert_form_post(&req, AS_TOKEN);
    assert_eq!(
        body(&req),
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer\
         &assertion=wl.jwt.sig&resource=http%3A%2F%2Flocalhost%3A3000%2Fmcp\
         &client_id=conformance-wif-workload"
    );
    // SEP-990 second leg: the ID-JAG with Basic auth at the MCP AS.
    let req = jwt_bearer_request(
        AS_TOKEN,
        "jag.jwt.sig",
        &ClientAuth::Basic {
            client_id: "conformance-test-xaa-client",
            secret: "conformance-test-xaa-secret",
        },
        Some("mcp"),
        None,
    );
    assert_eq!(
        body(&req),
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer\
         &assertion=jag.jwt.sig&scope=mcp"
    );
    assert_eq!(
        req.header("authorization"),
        Some(
            basic_authorization("conformance-test-xaa-client", "conformance-test-xaa-secret")
                .as_str()
        )
    );
}

#[test]
fn token_exchange_for_id_jag() {
    let req = token_exchange_request(
        "http://localhost:3002/token",
        "id.token.sig",
        ID_TOKEN_TYPE,
        ID_JAG_TYPE,
        "http://localhost:3001",
        Some(MCP),
        Some("mcp"),
        &ClientAuth::None {
            client_id: "conformance-test-idp-client",
        },
    );
    assert_form_post(&req, "http://localhost:3002/token");
    assert_eq!(
        body(&req),
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange\
         &requested_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aid-jag\
         &audience=http%3A%2F%2Flocalhost%3A3001\
         &resource=http%3A%2F%2Flocalhost%3A3000%2Fmcp&scope=mcp\
         &subject_token=id.token.sig\
         &subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aid_token\
         &client_id=conformance-test-idp-client"
    );
    let minimal = token_exchange_request(
        "https://idp/t",
        "t",
        ID_TOKEN_TYPE,
        ID_JAG_TYPE,
        "https://as",
        None,
        None,
        &ClientAuth::Basic {
            client_id: "i",
            secret: "s",
        },
    );
    let keys: Vec<String> = minimal.form_pairs().into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        keys,
        [
            "grant_type",
            "requested_token_type",
            "audience",
            "subject_token",
            "subject_token_type"
        ]
    );
}

fn exchange_ok(body: serde_json::Value) -> Result<ExchangedToken, Error> {
    parse_token_exchange_response(&HttpResponse::json(200, &body))
}

#[test]
fn parses_id_jag_response() {
    let t = exchange_ok(json!({
        "access_token": "jag.payload.sig",
        "issued_token_type": ID_JAG_TYPE,
        "token_type": "N_A",
        "expires_in": 300,
    }))
    .unwrap();
    assert_eq!(t.token.expose_secret(), "jag.payload.sig");
    assert_eq!(t.issued_token_type, ID_JAG_TYPE);
    assert!(!format!("{t:?}").contains("jag.payload.sig"));
    // token_type is informative only: absent or another string is fine.
    let t = exchange_ok(json!({"access_token": "a", "issued_token_type": "x"})).unwrap();
    assert_eq!(t.issued_token_type, "x");
    assert!(exchange_ok(
        json!({"access_token": "a", "issued_token_type": "x", "token_type": "Bearer"})
    )
    .is_ok());
    // A form-encoded answer is read like the other token responses.
    let form = HttpResponse {
        status: 200,
        headers: vec![(
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        )],
        body: b"access_token=f.b.s&issued_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aid-jag"
            .to_vec(),
    };
    let t = parse_token_exchange_response(&form).unwrap();
    assert_eq!(t.issued_token_type, ID_JAG_TYPE);
}

#[test]
fn exchange_errors() {
    let err = parse_token_exchange_response(&HttpResponse::json(
        400,
        &json!({"error": "invalid_grant", "error_description": "bad\nid token"}),
    ))
    .unwrap_err();
    assert_eq!(
        err,
        Error::OAuth {
            step: Step::AssertionExchange,
            code: "invalid_grant".into(),
            description: Some("badid token".into()),
        }
    );
    let err = exchange_ok(json!({"error": "invalid_target"})).unwrap_err();
    assert_eq!(err.oauth_code(), Some("invalid_target"));
    assert_eq!(
        parse_token_exchange_response(&HttpResponse::status(500)).unwrap_err(),
        Error::HttpStatus {
            step: Step::AssertionExchange,
            status: 500
        }
    );
    let malformed = |detail: &str| Error::Malformed {
        step: Step::AssertionExchange,
        detail: detail.into(),
    };
    let cases = [
        (
            json!({"issued_token_type": "x"}),
            malformed("access_token missing"),
        ),
        (
            json!({"access_token": 5, "issued_token_type": "x"}),
            malformed("access_token is not a string"),
        ),
        (
            json!({"access_token": "a"}),
            malformed("issued_token_type missing"),
        ),
        (
            json!({"access_token": "a", "issued_token_type": ""}),
            malformed("issued_token_type is empty"),
        ),
        (
            json!({"access_token": "a", "issued_token_type": 1}),
            malformed("issued_token_type is not a string"),
        ),
        (
            json!({"access_token": "a", "issued_token_type": "x", "token_type": 1}),
            malformed("token_type is not a string"),
        ),
        (
            json!({"access_token": "", "issued_token_type": "x"}),
            Error::InvalidToken("issued token is empty".into()),
        ),
        (
            json!({"access_token": "a b\r\n", "issued_token_type": "x"}),
            Error::InvalidToken(
                "issued token contains whitespace, control or non-ASCII characters".into(),
            ),
        ),
    ];
    for (doc, expected) in cases {
        assert_eq!(exchange_ok(doc.clone()).unwrap_err(), expected, "{doc}");
    }
    let not_json = HttpResponse {
        status: 200,
        headers: vec![],
        body: b"<html>".to_vec(),
    };
    assert_eq!(
        parse_token_exchange_response(&not_json).unwrap_err(),
        malformed("body is not valid JSON")
    );
    let huge = HttpResponse {
        status: 200,
        headers: vec![],
        body: vec![b' '; MAX_RESPONSE_BYTES + 1],
    };
    assert_eq!(
        parse_token_exchange_response(&huge).unwrap_err(),
        Error::ResponseTooLarge {
            step: Step::AssertionExchange
        }
    );
}

#[test]
fn with_dpop_sets_exactly_one_header() {
    let req =
        client_credentials_request(AS_TOKEN, &ClientAuth::None { client_id: "c" }, None, None);
    let req = with_dpop(req, "proof-1");
    assert_eq!(req.header("DPoP"), Some("proof-1"));
    let mut req = req;
    req.headers.push(("dpop".into(), "stale".into()));
    let req = with_dpop(req, "proof-2");
    let dpop: Vec<&(String, String)> = req
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("dpop"))
        .collect();
    assert_eq!(dpop, [&("DPoP".to_string(), "proof-2".to_string())]);
    // The other headers and the body are untouched.
    assert_eq!(
        req.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(body(&req), "grant_type=client_credentials&client_id=c");
    assert!(!format!("{req:?}").contains("proof-2"));
}

#[test]
fn client_auth_debug_redacts() {
    let shown = format!(
        "{:?} {:?} {:?} {:?}",
        ClientAuth::Basic {
            client_id: "id1",
            secret: "s3cr3t"
        },
        ClientAuth::Post {
            client_id: "id2",
            secret: "s3cr3t"
        },
        ClientAuth::Assertion {
            assertion: "a.b.s3cr3t"
        },
        ClientAuth::None { client_id: "id3" },
    );
    assert!(!shown.contains("s3cr3t"), "{shown}");
    for id in ["id1", "id2", "id3"] {
        assert!(shown.contains(id));
    }
}

#[test]
fn constants() {
    assert_eq!(
        JWT_BEARER_GRANT,
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );
    assert_eq!(
        TOKEN_EXCHANGE_GRANT,
        "urn:ietf:params:oauth:grant-type:token-exchange"
    );
    assert_eq!(ID_TOKEN_TYPE, "urn:ietf:params:oauth:token-type:id_token");
    assert_eq!(ID_JAG_TYPE, "urn:ietf:params:oauth:token-type:id-jag");
}
