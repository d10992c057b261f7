//! Step: OAuth 2.0 Protected Resource Metadata (RFC 9728).
//!
//! Three pure pieces: [`candidates`] (which URLs to probe, in which order), [`request`] /
//! [`parse`] (one probe), and [`validate_resource`] (may this document be used for this server).
//!
//! **Identifiers stay raw strings**: the PRM
//! `resource` and every `authorization_servers` entry are kept exactly as the JSON said and are
//! compared byte for byte. A URL library would turn `http://localhost:P` into
//! `http://localhost:P/`, which breaks `resource-parameter-matches-prm`, so [`crate::uri`] is
//! only used to *inspect* (origin and path checks); every string the machine sends or compares is
//! built by splicing.

use serde_json::{Map, Value};

use crate::config::ResourceMatch;
use crate::error::{sanitize_remote_text, Error};
use crate::http::{HttpRequest, HttpResponse, Step, MAX_RESPONSE_BYTES};

/// The RFC 9728 §3 well-known suffix.
const WELL_KNOWN_PRM: &str = "/.well-known/oauth-protected-resource";

/// Where a metadata URL came from; decides which identifier `resource` must match (RFC 9728
/// §3.3 distinguishes the well-known construction from the `WWW-Authenticate` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrmSource {
    /// The 401's `resource_metadata` parameter (RFC 9728 §5.1).
    Header,
    /// `/.well-known/oauth-protected-resource<path>` built from the server URL (RFC 9728 §3.1;
    /// tried first).
    PathBased,
    /// `/.well-known/oauth-protected-resource` at the server origin (tried second).
    Root,
}

/// One URL to probe for protected resource metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrmCandidate {
    /// The absolute URL to GET.
    pub url: String,
    /// How it was derived.
    pub source: PrmSource,
}

/// The RFC 9728 §2 document, reduced to what an MCP client uses (§6.1). Unknown members are
/// ignored (RFC 9728 §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectedResourceMetadata {
    /// `resource`, raw (never normalised): it is sent verbatim as the RFC 8707 `resource`.
    pub resource: String,
    /// `authorization_servers`, raw issuer strings, never empty (MCP 2025-06-18
    /// Authorization, "Authorization Server Location").
    pub authorization_servers: Vec<String>,
    /// `scopes_supported` (drives scope selection: MCP 2025-11-25 Authorization,
    /// "Scope Selection Strategy").
    pub scopes_supported: Option<Vec<String>>,
    /// `resource_name` (human-readable).
    pub resource_name: Option<String>,
    /// `bearer_methods_supported`.
    pub bearer_methods_supported: Option<Vec<String>>,
    /// `dpop_bound_access_tokens_required` (default false).
    pub dpop_bound_access_tokens_required: bool,
    /// `dpop_signing_alg_values_supported`.
    pub dpop_signing_alg_values_supported: Option<Vec<String>>,
}

/// Normalises the *configured* server URL (not remote identifiers): lowercase scheme and host,
/// drop the fragment (never sent, RFC 9728 §1.2 forbids it in identifiers), and drop a lone
/// `/` path so `http://localhost:3000/` and `http://localhost:3000` key the same session.
/// Refuses non-http(s) URLs, URLs without a host, and credentials in the URL, plus what
/// [`crate::uri::parse`] refuses (whitespace, `\`, percent-encoded or non-ASCII hosts: give an
/// internationalised host in punycode), and legacy numeric hosts (`127.1`, `0x7f.1`,
/// `222222.2`): the [`crate::UrlPolicy`] would refuse every OAuth URL at that origin anyway, and
/// HTTP clients built on WHATWG parsers read or reject such hosts differently, so the mistake is
/// named here, at configuration time.
pub fn canonical_server_url(server_url: &str) -> Result<String, Error> {
    let shown = crate::http::redact_query(server_url);
    let bad = |why: &str| Error::Config(format!("server URL {shown:?}: {why}"));
    let raw = server_url.trim();
    let raw = raw.split('#').next().unwrap_or(raw);
    let (scheme, authority, rest) = split_url(raw).ok_or_else(|| bad("not an absolute URL"))?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(bad("only http and https are supported"));
    }
    if authority.contains('@') {
        return Err(bad("credentials in the URL are not allowed"));
    }
    // The URL must split into a valid authority with a host that is not a legacy numeric one.
    let parsed = crate::uri::parse(raw).map_err(|e| bad(&e.to_string()))?;
    if parsed.host().is_ambiguous_ip() {
        return Err(bad(
            "ambiguous numeric host (use a canonical dotted quad or a name)",
        ));
    }
    if authority.is_empty() {
        return Err(bad("no host"));
    }
    let authority = authority.to_ascii_lowercase();
    let rest = match rest.strip_prefix('/') {
        Some(r) if r.is_empty() || r.starts_with('?') => r,
        _ => rest,
    };
    Ok(format!("{scheme}://{authority}{rest}"))
}

/// The raw `scheme://authority` prefix of an absolute URL (no trailing slash), by slicing, so
/// a bare-origin identifier keeps its exact spelling. `None` when there is no `scheme://host`.
pub fn origin(url: &str) -> Option<String> {
    split_url(url).map(|(scheme, authority, _)| format!("{scheme}://{authority}"))
}

/// The PRM URLs to try, in order (RFC 9728 §3.1, §5.1; MCP 2025-11-25 Authorization,
/// "Protected Resource Metadata Discovery Requirements").
///
/// A `resource_metadata` URL from the 401 that is same-origin with the server is the only
/// candidate (the conformance `prm-priority-order` check fails a client that also probes the
/// root). A cross-origin one is ignored (a hostile 401 must not redirect discovery: SSRF) and
/// the well-known URLs are probed instead: path-based first (path without query, trailing `/`
/// removed), then root; a server at the root gets only the root URL. A relative header value
/// starting with `/` is resolved against the server origin.
pub fn candidates(server_url: &str, header_url: Option<&str>) -> Vec<PrmCandidate> {
    let Some(server_origin) = origin(server_url) else {
        return Vec::new();
    };
    if let Some(url) = header_url.and_then(|h| resolve_header(h, server_url, &server_origin)) {
        return vec![PrmCandidate {
            url,
            source: PrmSource::Header,
        }];
    }
    let mut out = Vec::with_capacity(2);
    let path = path_of(server_url).trim_end_matches('/');
    if !path.is_empty() {
        out.push(PrmCandidate {
            url: format!("{server_origin}{WELL_KNOWN_PRM}{path}"),
            source: PrmSource::PathBased,
        });
    }
    out.push(PrmCandidate {
        url: format!("{server_origin}{WELL_KNOWN_PRM}"),
        source: PrmSource::Root,
    });
    out
}

/// The probe: RFC 9728 §3.1 "MUST be queried using an HTTP GET".
pub fn request(url: &str) -> HttpRequest {
    HttpRequest::get_json(url)
}

/// Parses one probe response (RFC 9728 §3.2, §6.1). Non-200 is [`Error::HttpStatus`] (the
/// machine then tries the next candidate); `resource` and a non-empty `authorization_servers`
/// of strings are required; optional members of the wrong type are treated as absent.
pub fn parse(response: &HttpResponse) -> Result<ProtectedResourceMetadata, Error> {
    let step = Step::ResourceMetadata;
    let obj = json_object(response, step)?;
    let malformed = |detail: &str| Error::Malformed {
        step,
        detail: detail.into(),
    };
    let resource = match obj.get("resource") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err(malformed("`resource` missing or not a string")),
    };
    let authorization_servers = match obj.get("authorization_servers") {
        Some(Value::Array(a)) if !a.is_empty() => a
            .iter()
            .map(|v| match v {
                Value::String(s) if !s.is_empty() => Ok(s.clone()),
                _ => Err(malformed("`authorization_servers` has a non-string entry")),
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => {
            return Err(malformed(
                "`authorization_servers` missing, empty or not an array",
            ))
        }
    };
    Ok(ProtectedResourceMetadata {
        resource,
        authorization_servers,
        scopes_supported: opt_strings(&obj, "scopes_supported"),
        resource_name: opt_string(&obj, "resource_name"),
        bearer_methods_supported: opt_strings(&obj, "bearer_methods_supported"),
        dpop_bound_access_tokens_required: flag(&obj, "dpop_bound_access_tokens_required"),
        dpop_signing_alg_values_supported: opt_strings(&obj, "dpop_signing_alg_values_supported"),
    })
}

/// May this PRM be used for `server_url`? (RFC 9728 §3.3.)
///
/// `resource` must be an absolute http(s) URL without a fragment (RFC 9728 §1.2) and on the
/// server's origin in every mode (the conformance `resource-mismatch` scenario serves
/// `https://evil.example.com/mcp`). [`ResourceMatch::Strict`] then wants byte identity with the
/// identifier the metadata URL was built from: the server URL without query for
/// [`PrmSource::Header`] / [`PrmSource::PathBased`], the origin for [`PrmSource::Root`].
/// [`ResourceMatch::SameOriginPrefix`] accepts a PRM path (trailing `/` ignored) that is a
/// prefix of the server path on a `/` boundary, as the TypeScript SDK does. Every failure is
/// [`Error::ResourceMismatch`]; its `found` is the remote value passed through
/// [`sanitize_remote_text`] (it ends up in logs and terminals).
pub fn validate_resource(
    prm: &ProtectedResourceMetadata,
    server_url: &str,
    source: PrmSource,
    mode: ResourceMatch,
) -> Result<(), Error> {
    let server_id = server_url
        .split(['?', '#'])
        .next()
        .unwrap_or(server_url)
        .to_string();
    let expected = match source {
        PrmSource::Header | PrmSource::PathBased => server_id,
        PrmSource::Root => origin(server_url).unwrap_or(server_id),
    };
    let mismatch = || Error::ResourceMismatch {
        expected: expected.clone(),
        found: sanitize_remote_text(&prm.resource),
    };
    let (Ok(found), Ok(server)) = (
        crate::uri::parse(&prm.resource),
        crate::uri::parse(server_url),
    ) else {
        return Err(mismatch());
    };
    // The splitter refuses whitespace and controls: the raw string is what gets sent as
    // `resource`, so it must not carry any, nor a fragment (RFC 9728 §1.2).
    let well_formed = found.is_http() && found.fragment().is_none();
    if !well_formed || !found.same_origin(&server) {
        return Err(mismatch());
    }
    let ok = match mode {
        ResourceMatch::Strict => prm.resource == expected,
        ResourceMatch::SameOriginPrefix => {
            // Compared as a browser would request them (dot segments resolved), never sent.
            let (prm_path, server_path) = (found.request_path(), server.request_path());
            let prm_path = prm_path.trim_end_matches('/');
            let server_path = server_path.trim_end_matches('/');
            server_path == prm_path
                || server_path
                    .strip_prefix(prm_path)
                    .is_some_and(|rest| rest.starts_with('/'))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(mismatch())
    }
}

// ---- helpers shared with `server_metadata` ----

/// Splits `scheme://authority<rest>` by slicing (all split points are ASCII, so always on char
/// boundaries). The scheme must match RFC 3986 §3.1 and the authority must be non-empty.
/// Whitespace and control characters refuse the whole URL: the url crate silently drops them
/// when inspecting, so a spliced string could otherwise differ from what was checked.
pub(crate) fn split_url(url: &str) -> Option<(&str, &str, &str)> {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (scheme, after) = url.split_once("://")?;
    let mut chars = scheme.chars();
    let scheme_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    (scheme_ok && !authority.is_empty()).then_some((scheme, authority, rest))
}

/// The raw path of an absolute URL (no query, no fragment); empty when there is none.
pub(crate) fn path_of(url: &str) -> &str {
    match split_url(url) {
        Some((_, _, rest)) => rest.split(['?', '#']).next().unwrap_or(""),
        None => "",
    }
}

/// The size cap, the 200 requirement and the "JSON object" requirement shared by the
/// discovery parsers (RFC 9728 §3.2, RFC 8414 §3.2).
pub(crate) fn json_object(
    response: &HttpResponse,
    step: Step,
) -> Result<Map<String, Value>, Error> {
    if response.status != 200 {
        return Err(Error::HttpStatus {
            step,
            status: response.status,
        });
    }
    if response.body.len() > MAX_RESPONSE_BYTES {
        return Err(Error::ResponseTooLarge { step });
    }
    match serde_json::from_slice::<Value>(&response.body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Error::Malformed {
            step,
            detail: "expected a JSON object".into(),
        }),
        Err(e) => Err(Error::Malformed {
            step,
            detail: format!("invalid JSON: {e}"),
        }),
    }
}

/// An optional string member; any other type counts as absent.
pub(crate) fn opt_string(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key).and_then(Value::as_str).map(str::to_string)
}

/// An optional array-of-strings member; a wrong type (or a non-string entry) counts as absent.
pub(crate) fn opt_strings(obj: &Map<String, Value>, key: &str) -> Option<Vec<String>> {
    obj.get(key)?
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_string))
        .collect()
}

/// A boolean member defaulting to false; non-booleans count as false (as the TypeScript SDK's
/// `.catch(undefined)` does).
pub(crate) fn flag(obj: &Map<String, Value>, key: &str) -> bool {
    matches!(obj.get(key), Some(Value::Bool(true)))
}

/// Resolves a `resource_metadata` value and keeps it only when same-origin with the server
/// (scheme, host, port compared by inspection; the returned string is the raw value).
fn resolve_header(header: &str, server_url: &str, server_origin: &str) -> Option<String> {
    let header = header.trim();
    let header = header.split('#').next().unwrap_or(header);
    let absolute = if header.starts_with('/') && !header.starts_with("//") {
        format!("{server_origin}{header}")
    } else {
        header.to_string()
    };
    // Shape and character rules (no whitespace or controls) for both forms.
    split_url(&absolute)?;
    let a = crate::uri::parse(&absolute).ok()?;
    let b = crate::uri::parse(server_url).ok()?;
    (a.is_http() && a.same_origin(&b)).then_some(absolute)
}

#[cfg(test)]
#[path = "resource_metadata_tests.rs"]
mod tests;
