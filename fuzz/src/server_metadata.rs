//! RFC 8414 authorization server metadata: `parse` (issuer byte identity, RFC 8414 §3.3)
//! and `candidates` (well-known URL construction, RFC 8414 §3.1, OIDC Discovery §4).

use mcp_oauth_core::resource_metadata::origin;
use mcp_oauth_core::server_metadata::{candidates, check_pkce, legacy_defaults, parse};
use mcp_oauth_core::{Error, HttpResponse};

const FIXED_ISSUER: &str = "https://as.example.com/tenant";

/// The first line is an issuer, the rest the body (status 200, JSON). The body is parsed for
/// a fixed expected issuer and for the one from the input; both lines feed `candidates`.
pub fn run(data: &[u8]) {
    let split = data.iter().position(|&b| b == b'\n');
    let (line, body) = match split {
        Some(i) => (
            data.get(..i).unwrap_or_default(),
            data.get(i + 1..).unwrap_or_default(),
        ),
        None => (&[][..], data),
    };
    let issuer = crate::text(line);
    let resp = HttpResponse {
        status: 200,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: body.to_vec(),
    };
    for expected in [FIXED_ISSUER, issuer.as_str()] {
        match parse(&resp, expected) {
            Ok(meta) => {
                assert_eq!(meta.issuer, expected, "issuer not byte-identical");
                let _ = (meta.auth_methods(), meta.lists_scope("offline_access"));
                assert_eq!(check_pkce(&meta, true).is_ok(), meta.supports_s256());
                assert!(check_pkce(&meta, false).is_ok());
            }
            Err(Error::IssuerMismatch { expected: e, found }) => {
                assert_eq!(e, expected);
                assert!(!crate::has_control(&found));
            }
            Err(e) => assert!(!crate::has_control(&e.to_string())),
        }
    }
    for iss in [issuer.as_str(), FIXED_ISSUER, &crate::text(data)] {
        check_candidates(iss);
    }
}

fn check_candidates(issuer: &str) {
    let list = candidates(issuer);
    let Some(o) = origin(issuer) else {
        assert!(list.is_empty());
        return;
    };
    if list.is_empty() {
        return; // e.g. whitespace in the issuer: refused
    }
    let path = issuer
        .get(o.len()..)
        .unwrap_or_default()
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .trim_end_matches('/');
    assert_eq!(list.len(), if path.is_empty() { 2 } else { 3 });
    for url in &list {
        assert!(url.starts_with(&o) && url.contains("/.well-known/"));
        assert!(
            !url.contains(['?', '#']),
            "query or fragment spliced into {url:?}"
        );
    }
    if !path.is_empty() {
        // Conformance `authorization-server-metadata-wrong-path`: never the root document.
        let root = format!("{o}/.well-known/oauth-authorization-server");
        assert!(
            !list.contains(&root),
            "root metadata probed for a path issuer"
        );
    }
    let legacy = legacy_defaults(&o);
    assert!(legacy.token_endpoint.is_some_and(|t| t.ends_with("/token")));
}
