//! RFC 9728 protected resource metadata: `parse`, `validate_resource`, `candidates`,
//! `canonical_server_url` (RFC 9728 §3.1, §3.3, §5.1).

use mcp_oauth_core::resource_metadata::{
    candidates, canonical_server_url, origin, parse, validate_resource, PrmSource,
};
use mcp_oauth_core::{Error, HttpResponse, ResourceMatch};

const SERVERS: &[&str] = &[
    "https://mcp.example.com/mcp",
    "http://localhost:3000",
    "https://mcp.example.com/a/b/",
    "http://127.0.0.1:8080/mcp?x=1",
];

/// The body is the fuzz input (status 200); the same bytes, as text split at the first `\n`,
/// are also a server URL and a `resource_metadata` header value for `candidates`.
pub fn run(data: &[u8]) {
    let resp = HttpResponse {
        status: 200,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: data.to_vec(),
    };
    let text = crate::text(data);
    let (first, rest) = text.split_once('\n').unwrap_or((text.as_str(), ""));
    if let Ok(doc) = parse(&resp) {
        assert!(!doc.resource.is_empty() && !doc.authorization_servers.is_empty());
        assert!(doc.authorization_servers.iter().all(|s| !s.is_empty()));
        let mut servers: Vec<String> = SERVERS.iter().map(|s| s.to_string()).collect();
        servers.extend(canonical_server_url(first).ok());
        for server in &servers {
            for source in [PrmSource::Header, PrmSource::PathBased, PrmSource::Root] {
                for mode in [ResourceMatch::Strict, ResourceMatch::SameOriginPrefix] {
                    check_validation(&doc.resource, server, source, mode, &doc);
                }
            }
        }
    }
    for (server, header) in [
        (first, Some(rest)),
        (first, None),
        (SERVERS[0], Some(first)),
        (SERVERS[1], Some(text.as_str())),
    ] {
        check_candidates(server, header);
    }
    if let Ok(canon) = canonical_server_url(first) {
        // The canonical form keys the session store: canonicalising again must not move it.
        assert_eq!(canonical_server_url(&canon).as_deref(), Ok(canon.as_str()));
        check_candidates(&canon, Some(rest));
    }
}

fn check_validation(
    resource: &str,
    server: &str,
    source: PrmSource,
    mode: ResourceMatch,
    doc: &mcp_oauth_core::resource_metadata::ProtectedResourceMetadata,
) {
    match validate_resource(doc, server, source, mode) {
        Ok(()) => {
            // Accepted: same origin as the server (every mode), and nothing the url crate would
            // silently strip from the raw string that gets sent as `resource`.
            let (found, srv) = (url::Url::parse(resource), url::Url::parse(server));
            let (Ok(found), Ok(srv)) = (found, srv) else {
                panic!("accepted a resource the url crate cannot parse");
            };
            assert_eq!(
                found.origin(),
                srv.origin(),
                "cross-origin resource accepted"
            );
            assert!(!resource.contains('#') && !crate::has_control(resource));
            assert!(!resource.chars().any(char::is_whitespace));
        }
        Err(Error::ResourceMismatch { found, .. }) => {
            assert!(
                !crate::has_control(&found),
                "unsanitised remote text in error"
            );
        }
        Err(other) => panic!("validate_resource failed with {other:?}, not ResourceMismatch"),
    }
}

fn check_candidates(server: &str, header: Option<&str>) {
    let list = candidates(server, header);
    let Some(server_origin) = origin(server) else {
        assert!(list.is_empty());
        return;
    };
    assert!(!list.is_empty() && list.len() <= 2);
    for c in &list {
        match c.source {
            PrmSource::Header => {
                // Documented: a cross-origin resource_metadata URL is ignored (SSRF,
                // ARCHITECTURE.md §7).
                assert_eq!(list.len(), 1);
                match (url::Url::parse(&c.url), url::Url::parse(server)) {
                    (Ok(a), Ok(b)) => {
                        assert_eq!(a.origin(), b.origin(), "cross-origin PRM candidate")
                    }
                    (Err(_), Ok(_)) => panic!("header candidate unparseable"),
                    // A raw server the url crate rejects (`https://222222.2`): no HTTP client
                    // built on it reaches that server, and `canonical_server_url` refuses the
                    // legacy numeric hosts among them, so there is no origin to compare.
                    (_, Err(_)) => {}
                }
            }
            PrmSource::PathBased | PrmSource::Root => {
                assert!(c.url.starts_with(&server_origin));
                assert!(c.url.contains("/.well-known/oauth-protected-resource"));
            }
        }
    }
}
