//! Scope selection and step-up (MCP 2025-11-25 Authorization, "Scope Selection Strategy", "Scope
//! Challenge Handling"; MCP 2026-07-28 "Step-Up Authorization Flow", "Refresh Tokens").
//!
//! Initial scopes follow the 2025-11-25 priority ("Scope Selection Strategy"): the caller's forced
//! scopes, else the `scope` of the 401 challenge, else every PRM `scopes_supported`, else none (the
//! `scope` parameter is then omitted). `offline_access` is added only when the authorization server
//! lists it (MCP 2026-07-28 Authorization, "Refresh Tokens") and other scopes are requested. A
//! step-up requests the union of the previous request and the challenged scopes (MCP 2026-07-28
//! "Step-Up Authorization Flow"), in a stable order.

/// The `offline_access` scope (OIDC Core §11; MCP 2026-07-28 Authorization, "Refresh
/// Tokens").
pub const OFFLINE_ACCESS: &str = "offline_access";

/// Scopes for a first authorization request.
pub fn initial_scopes(
    forced: Option<&[String]>,
    challenge: Option<&[String]>,
    prm_supported: Option<&[String]>,
) -> Vec<String> {
    let source = forced
        .filter(|s| !s.is_empty())
        .or(challenge.filter(|s| !s.is_empty()))
        .or(prm_supported)
        .unwrap_or(&[]);
    dedup(source.iter().cloned())
}

/// Adds `offline_access` when the AS lists it and something else is requested.
pub fn with_offline_access(mut scopes: Vec<String>, as_lists_offline_access: bool) -> Vec<String> {
    if as_lists_offline_access && !scopes.is_empty() && !scopes.iter().any(|s| s == OFFLINE_ACCESS)
    {
        scopes.push(OFFLINE_ACCESS.to_string());
    }
    scopes
}

/// `previous ∪ challenged`, keeping the order of first appearance.
pub fn union(previous: &[String], challenged: &[String]) -> Vec<String> {
    dedup(previous.iter().chain(challenged).cloned())
}

/// Space-joined `scope` parameter, or `None` when empty (so the parameter is omitted).
pub fn join(scopes: &[String]) -> Option<String> {
    if scopes.is_empty() {
        None
    } else {
        Some(scopes.join(" "))
    }
}

/// Splits a `scope` string (RFC 6749 §3.3: space-delimited, case-sensitive).
pub fn split(scope: &str) -> Vec<String> {
    dedup(
        scope
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_string),
    )
}

fn dedup(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in items {
        if !s.is_empty() && !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn priority_order() {
        let ch = v(&["mcp:basic"]);
        let prm = v(&["mcp:basic", "mcp:read", "mcp:write"]);
        assert_eq!(initial_scopes(None, Some(&ch), Some(&prm)), ch);
        assert_eq!(initial_scopes(None, None, Some(&prm)), prm);
        assert_eq!(initial_scopes(None, Some(&[]), Some(&prm)), prm);
        assert!(initial_scopes(None, None, None).is_empty());
        let forced = v(&["x"]);
        assert_eq!(initial_scopes(Some(&forced), Some(&ch), Some(&prm)), forced);
    }

    #[test]
    fn offline_access_only_when_listed() {
        assert_eq!(
            with_offline_access(v(&["a"]), true),
            v(&["a", "offline_access"])
        );
        assert_eq!(with_offline_access(v(&["a"]), false), v(&["a"]));
        assert!(with_offline_access(vec![], true).is_empty());
        assert_eq!(
            with_offline_access(v(&["offline_access"]), true),
            v(&["offline_access"])
        );
    }

    #[test]
    fn union_and_join() {
        let u = union(&v(&["mcp:basic"]), &v(&["mcp:write", "mcp:basic"]));
        assert_eq!(u, v(&["mcp:basic", "mcp:write"]));
        assert_eq!(join(&u).as_deref(), Some("mcp:basic mcp:write"));
        assert_eq!(join(&[]), None);
        assert_eq!(split(" a  b a "), v(&["a", "b"]));
    }
}
