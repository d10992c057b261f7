//! A small RFC 3986 §3 splitter for absolute `scheme://authority/path?query#fragment` URLs.
//!
//! The core used to parse with the `url` crate, whose WHATWG host processing (IDNA / UTS 46)
//! pulls in some thirty ICU crates, most of the core's dependency tree. The core needs far less:
//! it keeps every identifier as the raw string it was given and never re-serialises one
//! (ARCHITECTURE.md §8: `url::Url` would turn `http://localhost:P` into `http://localhost:P/`);
//! it only *inspects* URLs (scheme, userinfo, host, port, path) for the URL policy (OAuth 2.1
//! §1.5; the MCP Security Best Practices on SSRF), origin comparisons (RFC 9728 §3.3) and the
//! loopback callback path (RFC 8252 §7.3). [`parse`] does exactly that
//! and borrows every component from the input.
//!
//! It is deliberately stricter than a browser, because where two parsers disagree about a host an
//! attacker can aim one at an address the other did not check (SSRF; MCP Security Best Practices):
//!
//! - Whitespace, control characters and `\` anywhere are refused (WHATWG strips or rewrites them;
//!   the raw string the adapter sends would differ from what was inspected).
//! - The authority must follow `scheme://` (`http:/x` and `http:x`, which WHATWG repairs, are
//!   refused), must not be empty and must not contain `%` (no percent-encoded hosts).
//! - A host is an IP-literal `[v6]` (RFC 3986 §3.2.2, parsed with [`Ipv6Addr::from_str`]; zone
//!   ids and IPvFuture are refused), a canonical dotted-quad IPv4 address, or a registered name of
//!   ASCII letters, digits, `-`, `.`, `_` and `~`. Hosts are never IDNA-processed: an
//!   internationalised host must be given in its punycode (`xn--`) form, which also defuses
//!   homograph tricks. Non-ASCII hosts are refused.
//! - Legacy IPv4 spellings that WHATWG and `inet_aton` accept (`2130706433`, `0x7f.1`,
//!   `0177.0.0.1`, `127.1`) are *not* read as addresses: they stay registered names and
//!   [`Host::is_ambiguous_ip`] flags them so [`crate::UrlPolicy`] refuses them outright.

use core::net::{Ipv4Addr, Ipv6Addr};
use std::fmt;
use std::str::FromStr;

/// Why a string is not an absolute URL the core accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriError {
    /// Whitespace, a control character or `\` somewhere in the input.
    ForbiddenCharacter,
    /// No valid `scheme:` prefix (RFC 3986 §3.1).
    NoScheme,
    /// The scheme is not followed by `//` and an authority.
    NoAuthority,
    /// The host is empty.
    EmptyHost,
    /// The host contains a character outside the accepted set (including non-ASCII: no IDNA).
    InvalidHost,
    /// `%` in the authority (percent-encoded hosts are refused).
    PercentEncodedAuthority,
    /// A malformed `[...]` IP literal.
    InvalidIpLiteral,
    /// A port that is not 1–5 digits fitting in 16 bits.
    InvalidPort,
}

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ForbiddenCharacter => "whitespace, control characters or backslashes",
            Self::NoScheme => "no scheme",
            Self::NoAuthority => "no `//` authority after the scheme",
            Self::EmptyHost => "empty host",
            Self::InvalidHost => {
                "invalid host (only ASCII letters, digits, '-', '.', '_', '~'; use punycode)"
            }
            Self::PercentEncodedAuthority => "percent-encoded authority",
            Self::InvalidIpLiteral => "invalid IP literal",
            Self::InvalidPort => "invalid port number",
        })
    }
}

/// A host as written (RFC 3986 §3.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host<'a> {
    /// A registered name, raw (case preserved; compare with [`Host::same_as`]).
    Name(&'a str),
    /// A canonical dotted-quad IPv4 address.
    Ipv4(Ipv4Addr),
    /// A bracketed IPv6 literal.
    Ipv6(Ipv6Addr),
}

impl Host<'_> {
    /// True for a registered name that other parsers would read as an IPv4 address in a legacy
    /// form (its last label is a decimal number or `0x` hex, per the WHATWG "ends in a number"
    /// rule), e.g. `2130706433`, `0x7f.1`, `127.1` or `127.0.0.1.`. Such a host means different
    /// things to different resolvers, so the URL policy refuses it (SSRF).
    pub fn is_ambiguous_ip(&self) -> bool {
        let Host::Name(name) = self else {
            return false;
        };
        let name = name
            .strip_suffix('.')
            .filter(|n| !n.is_empty())
            .unwrap_or(name);
        let last = name.rsplit('.').next().unwrap_or(name);
        let hex = last
            .strip_prefix("0x")
            .or_else(|| last.strip_prefix("0X"))
            .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
        hex || (!last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()))
    }

    /// Host equality as an origin comparison needs it: names case-insensitively (RFC 3986
    /// §6.2.2.1), addresses by value.
    pub fn same_as(&self, other: &Host<'_>) -> bool {
        match (self, other) {
            (Host::Name(a), Host::Name(b)) => a.eq_ignore_ascii_case(b),
            (Host::Ipv4(a), Host::Ipv4(b)) => a == b,
            (Host::Ipv6(a), Host::Ipv6(b)) => a == b,
            _ => false,
        }
    }
}

/// The components of an absolute URL, borrowed from the input (nothing is re-encoded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uri<'a> {
    scheme: &'a str,
    userinfo: Option<&'a str>,
    host_text: &'a str,
    host: Host<'a>,
    port: Option<u16>,
    path: &'a str,
    query: Option<&'a str>,
    fragment: Option<&'a str>,
}

/// Splits an absolute `scheme://authority[path][?query][#fragment]` URL (RFC 3986 §3) under the
/// rules in the module documentation. Never panics; linear in the input length.
pub fn parse(input: &str) -> Result<Uri<'_>, UriError> {
    if input
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
    {
        return Err(UriError::ForbiddenCharacter);
    }
    let (scheme, rest) = input.split_once(':').ok_or(UriError::NoScheme)?;
    let mut chars = scheme.chars();
    let scheme_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return Err(UriError::NoScheme);
    }
    let after = rest.strip_prefix("//").ok_or(UriError::NoAuthority)?;
    let (before_fragment, fragment) = match after.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (after, None),
    };
    let (before_query, query) = match before_fragment.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (before_fragment, None),
    };
    let (authority, path) =
        before_query.split_at(before_query.find('/').unwrap_or(before_query.len()));
    if authority.contains('%') {
        return Err(UriError::PercentEncodedAuthority);
    }
    // The last `@` ends the userinfo, as in WHATWG, so both parsers agree on the host.
    let (userinfo, host_port) = match authority.rfind('@') {
        Some(at) => (authority.get(..at), authority.get(at + 1..).unwrap_or("")),
        None => (None, authority),
    };
    let (host_text, host, port_text) = split_host_port(host_port)?;
    let port = match port_text {
        None | Some("") => None,
        Some(p) if p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
            Some(p.parse::<u16>().map_err(|_| UriError::InvalidPort)?)
        }
        Some(_) => return Err(UriError::InvalidPort),
    };
    Ok(Uri {
        scheme,
        userinfo,
        host_text,
        host,
        port,
        path,
        query,
        fragment,
    })
}

/// `host[:port]` into the raw host text, the parsed host and the raw port text.
fn split_host_port(host_port: &str) -> Result<(&str, Host<'_>, Option<&str>), UriError> {
    if let Some(inner_and_rest) = host_port.strip_prefix('[') {
        let (inner, rest) = inner_and_rest
            .split_once(']')
            .ok_or(UriError::InvalidIpLiteral)?;
        let port = match rest {
            "" => None,
            r => Some(r.strip_prefix(':').ok_or(UriError::InvalidIpLiteral)?),
        };
        let addr = Ipv6Addr::from_str(inner).map_err(|_| UriError::InvalidIpLiteral)?;
        let text = host_port.get(..inner.len() + 2).unwrap_or(host_port);
        return Ok((text, Host::Ipv6(addr), port));
    }
    let (name, port) = match host_port.split_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (host_port, None),
    };
    if name.is_empty() {
        return Err(UriError::EmptyHost);
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
    {
        return Err(UriError::InvalidHost);
    }
    let host = canonical_ipv4(name).map_or(Host::Name(name), Host::Ipv4);
    Ok((name, host, port))
}

/// A dotted quad of decimal octets without leading zeros (`127.0.0.1`), nothing else.
fn canonical_ipv4(s: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = s.split('.');
    for octet in &mut octets {
        let part = parts.next()?;
        let canonical = (1..=3).contains(&part.len())
            && part.bytes().all(|b| b.is_ascii_digit())
            && (part == "0" || !part.starts_with('0'));
        if !canonical {
            return None;
        }
        *octet = part.parse().ok()?;
    }
    parts.next().is_none().then(|| Ipv4Addr::from(octets))
}

/// The default port of the schemes WHATWG calls special and the core may meet.
pub fn default_port(scheme: &str) -> Option<u16> {
    match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

impl<'a> Uri<'a> {
    /// The scheme, raw (compare case-insensitively, RFC 3986 §3.1).
    pub fn scheme(&self) -> &'a str {
        self.scheme
    }

    /// True when the scheme is `http` or `https`, in any case.
    pub fn is_http(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("http") || self.scheme.eq_ignore_ascii_case("https")
    }

    /// The userinfo before the last `@`, if there is an `@` at all (even an empty one).
    pub fn userinfo(&self) -> Option<&'a str> {
        self.userinfo
    }

    /// The parsed host.
    pub fn host(&self) -> Host<'a> {
        self.host
    }

    /// The host exactly as written (with brackets for IPv6).
    pub fn host_text(&self) -> &'a str {
        self.host_text
    }

    /// The explicit port; `None` when absent or empty (`host:`).
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The explicit port unless it is the scheme's default (the `url` crate's `port()`).
    pub fn non_default_port(&self) -> Option<u16> {
        self.port.filter(|p| Some(*p) != default_port(self.scheme))
    }

    /// The explicit port, else the scheme's default.
    pub fn port_or_default(&self) -> Option<u16> {
        self.port.or_else(|| default_port(self.scheme))
    }

    /// The raw path (possibly empty), without query or fragment.
    pub fn path(&self) -> &'a str {
        self.path
    }

    /// The raw query after `?`, if any.
    pub fn query(&self) -> Option<&'a str> {
        self.query
    }

    /// The raw fragment after `#`, if any (`Some("")` for a trailing `#`).
    pub fn fragment(&self) -> Option<&'a str> {
        self.fragment
    }

    /// Same origin (RFC 6454 §5): scheme case-insensitively, host by [`Host::same_as`], port
    /// with the scheme default filled in.
    pub fn same_origin(&self, other: &Uri<'_>) -> bool {
        self.scheme.eq_ignore_ascii_case(other.scheme)
            && self.host.same_as(&other.host)
            && self.port_or_default() == other.port_or_default()
    }

    /// The path a browser requests for this URL (WHATWG URL path state): `/` for an empty
    /// path, `.` / `..` segments (also spelled `%2e`) resolved, and `"`, `<`, `>`, `` ` ``,
    /// `{`, `}` and non-ASCII bytes percent-encoded. Derived for comparison and routing only;
    /// never sent in place of the raw URL.
    pub fn request_path(&self) -> String {
        let segments: Vec<&str> = match self.path.strip_prefix('/') {
            Some(p) => p.split('/').collect(),
            None => vec![""],
        };
        let last = segments.len().saturating_sub(1);
        let mut out: Vec<&str> = Vec::with_capacity(segments.len());
        for (i, seg) in segments.iter().enumerate() {
            let lower = seg.to_ascii_lowercase().replace("%2e", ".");
            if lower == ".." {
                out.pop();
            }
            if lower == "." || lower == ".." {
                if i == last {
                    out.push("");
                }
            } else {
                out.push(seg);
            }
        }
        let mut path = String::with_capacity(self.path.len() + 1);
        for seg in out {
            path.push('/');
            for b in seg.bytes() {
                if b.is_ascii() && !matches!(b, b'"' | b'<' | b'>' | b'`' | b'{' | b'}') {
                    path.push(char::from(b));
                } else {
                    path.push_str(&format!("%{b:02X}"));
                }
            }
        }
        path
    }
}

#[cfg(test)]
#[path = "uri_tests.rs"]
mod tests;
