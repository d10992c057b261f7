//! The request log: every request the testbed served, with what tests need to assert exact
//! parameters (query, form pairs, `Authorization`, JSON body) and count round trips
//! (the request-count floor of ARCHITECTURE.md §10).

use super::util::{first, parse_query, split_url};

/// What a request was for, judged by its path (so failed probes count too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestKind {
    /// `/mcp` on the MCP origin.
    Mcp,
    /// Any `/.well-known/oauth-protected-resource*` path or the custom PRM path.
    ResourceMetadata,
    /// Any `oauth-authorization-server` or `openid-configuration` well-known path.
    ServerMetadata,
    /// A path ending in `/register`.
    Registration,
    /// A path ending in `/authorize`.
    Authorize,
    /// A path ending in `/token`.
    Token,
    /// A path ending in `/revoke`.
    Revocation,
    /// Anything else.
    Other,
}

impl RequestKind {
    /// Classifies a path; `custom_prm` is the custom PRM path, if any.
    pub fn classify(is_mcp_origin: bool, path: &str, custom_prm: Option<&str>) -> Self {
        if is_mcp_origin && path == "/mcp" {
            RequestKind::Mcp
        } else if path.starts_with("/.well-known/oauth-protected-resource")
            || custom_prm == Some(path)
        {
            RequestKind::ResourceMetadata
        } else if path.contains("/.well-known/oauth-authorization-server")
            || path.contains("/.well-known/openid-configuration")
        {
            RequestKind::ServerMetadata
        } else if path.ends_with("/register") {
            RequestKind::Registration
        } else if path.ends_with("/authorize") {
            RequestKind::Authorize
        } else if path.ends_with("/token") {
            RequestKind::Token
        } else if path.ends_with("/revoke") {
            RequestKind::Revocation
        } else {
            RequestKind::Other
        }
    }
}

/// One served request. It holds secrets (codes, verifiers, tokens) on purpose, for assertions;
/// its `Debug` redacts them.
#[derive(Clone, PartialEq)]
pub struct LoggedRequest {
    /// What it was for.
    pub kind: RequestKind,
    /// `GET` or `POST`.
    pub method: String,
    /// The full URL as sent, query kept.
    pub url: String,
    /// The status answered.
    pub status: u16,
    /// Decoded form body pairs (empty unless the body was form-encoded).
    pub form: Vec<(String, String)>,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The JSON body, if the body was JSON.
    pub json: Option<serde_json::Value>,
}

impl LoggedRequest {
    /// The decoded query pairs of the URL.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        split_url(&self.url)
            .map(|p| parse_query(p.query))
            .unwrap_or_default()
    }

    /// The first query parameter `name`.
    pub fn query(&self, name: &str) -> Option<String> {
        first(&self.query_pairs(), name).map(str::to_string)
    }

    /// The first form parameter `name`.
    pub fn form_value(&self, name: &str) -> Option<&str> {
        first(&self.form, name)
    }

    /// The URL's path.
    pub fn path(&self) -> &str {
        split_url(&self.url).map_or("", |p| p.path)
    }

    /// The JSON-RPC `method` of an MCP request.
    pub fn rpc_method(&self) -> Option<&str> {
        self.json.as_ref()?.get("method")?.as_str()
    }
}

/// Form and query keys whose values are secrets.
const SECRET_KEYS: &[&str] = &[
    "code",
    "code_verifier",
    "client_secret",
    "refresh_token",
    "access_token",
    "token",
    "state",
    "client_assertion",
];

impl std::fmt::Debug for LoggedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let form: Vec<(&str, &str)> = self
            .form
            .iter()
            .map(|(k, v)| {
                let hidden = SECRET_KEYS.contains(&k.as_str());
                (k.as_str(), if hidden { "[redacted]" } else { v.as_str() })
            })
            .collect();
        f.debug_struct("LoggedRequest")
            .field("kind", &self.kind)
            .field("method", &self.method)
            .field("url", &mcp_oauth_core::http::redact_query(&self.url))
            .field("status", &self.status)
            .field("form", &form)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "[redacted]"),
            )
            .field("json", &self.json)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        use RequestKind as K;
        let c = |origin_is_mcp, p| K::classify(origin_is_mcp, p, Some("/custom/prm.json"));
        assert_eq!(c(true, "/mcp"), K::Mcp);
        assert_eq!(c(false, "/mcp"), K::Other);
        assert_eq!(
            c(true, "/.well-known/oauth-protected-resource/mcp"),
            K::ResourceMetadata
        );
        assert_eq!(c(true, "/custom/prm.json"), K::ResourceMetadata);
        assert_eq!(
            c(false, "/.well-known/oauth-authorization-server/t1"),
            K::ServerMetadata
        );
        assert_eq!(
            c(false, "/t1/.well-known/openid-configuration"),
            K::ServerMetadata
        );
        assert_eq!(c(false, "/oauth/register"), K::Registration);
        assert_eq!(c(false, "/authorize"), K::Authorize);
        assert_eq!(c(false, "/t1/token"), K::Token);
        assert_eq!(c(false, "/revoke"), K::Revocation);
        assert_eq!(c(false, "/favicon.ico"), K::Other);
    }

    #[test]
    fn debug_redacts_secrets() {
        let r = LoggedRequest {
            kind: RequestKind::Token,
            method: "POST".into(),
            url: "http://as/authorize?code=sekrit-code".into(),
            status: 200,
            form: vec![
                ("code_verifier".into(), "sekrit-verifier".into()),
                ("grant_type".into(), "authorization_code".into()),
            ],
            authorization: Some("Basic sekrit-basic".into()),
            json: None,
        };
        let s = format!("{r:?}");
        assert!(!s.contains("sekrit"), "{s}");
        assert!(s.contains("authorization_code"));
        assert_eq!(r.query("code").as_deref(), Some("sekrit-code"));
        assert_eq!(r.form_value("grant_type"), Some("authorization_code"));
        assert_eq!(r.path(), "/authorize");
    }
}
