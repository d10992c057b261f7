//! `challenge::parse_www_authenticate` and `challenge::auth_challenge` on arbitrary,
//! possibly multi-value UTF-8 (RFC 9110 §11.6.1; MCP clients "MUST be able to
//! parse" it).

use mcp_oauth_core::challenge::{auth_challenge, parse_www_authenticate};

/// Each `\n`-separated line is one `WWW-Authenticate` field value.
pub fn run(data: &[u8]) {
    let text = crate::text(data);
    let values: Vec<&str> = text.split('\n').collect();
    let challenges = parse_www_authenticate(&values);
    for c in &challenges {
        assert!(!c.scheme.is_empty(), "a challenge without an auth-scheme");
        for (name, _) in &c.params {
            // Documented: parameter names are lowercased (RFC 9110 §11.2).
            assert_eq!(
                name,
                &name.to_ascii_lowercase(),
                "parameter name not lowercased"
            );
        }
    }
    let picked = auth_challenge(&values);
    let first = challenges
        .iter()
        .find(|c| c.is_scheme("Bearer") || c.is_scheme("DPoP"));
    // Documented: only the first Bearer/DPoP challenge is read, nothing borrowed from others.
    assert_eq!(picked.scheme.is_some(), first.is_some());
    if let Some(c) = first {
        let rm = c.param("resource_metadata").filter(|v| !v.is_empty());
        assert_eq!(picked.resource_metadata.as_deref(), rm);
        let err = c.param("error").filter(|v| !v.is_empty());
        assert_eq!(picked.error.as_deref(), err);
    } else {
        assert!(picked.error.is_none() && picked.scope.is_none());
        assert!(picked.resource_metadata.is_none());
    }
    if let Some(scopes) = &picked.scope {
        assert!(!scopes.is_empty());
        assert!(scopes.iter().all(|s| !s.is_empty() && !s.contains(' ')));
    }
    // The whole input as a single field value as well.
    let _ = auth_challenge(&[text.as_str()]);
}
