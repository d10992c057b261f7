//! Which URLs the machine will ever emit or fetch (spec-checklist §5 items 9–11, X2; BP26 SSRF).
//!
//! Every OAuth URL (PRM, AS metadata, registration, authorization, token, revocation) passes
//! [`UrlPolicy::check`] before it leaves the core. The default: `https` everywhere, `http` only for
//! loopback hosts (RFC 8252 §7.3, OAuth 2.1 §1.5), and IP literals in private, link-local, ULA,
//! CGNAT, IPv4-mapped and cloud-metadata ranges refused, so a hostile metadata document cannot
//! point the client at internal services. Tests and trusted deployments can relax it.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::{Error, Result};
use crate::http::redact_query;
use crate::uri::Host;

/// The URL rules. `Default` is the production policy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UrlPolicy {
    /// Allow plain `http` to non-loopback hosts (never for production).
    pub allow_insecure_http: bool,
    /// Allow IP literals in private, link-local, ULA and metadata ranges.
    pub allow_private_networks: bool,
}

impl UrlPolicy {
    /// A permissive policy for tests against local fakes: any http(s) host.
    pub fn permissive() -> Self {
        Self {
            allow_insecure_http: true,
            allow_private_networks: true,
        }
    }

    /// Checks one URL; `Ok` means the core may fetch it or send the user's browser there.
    ///
    /// The URL is split by [`crate::uri::parse`]: no IDNA (internationalised hosts must be given
    /// in punycode), no percent-encoded hosts, and legacy numeric hosts (`2130706433`,
    /// `0x7f.1`, `0177.0.0.1`, `127.1`) refused as ambiguous IP literals, so every address
    /// that could be reached is one the range checks below have seen (BP26).
    pub fn check(&self, raw: &str) -> Result<()> {
        let refuse = |reason: &str| Error::InsecureUrl {
            url: redact_query(raw),
            reason: reason.to_string(),
        };
        let url = crate::uri::parse(raw)
            .map_err(|e| refuse(&format!("not an absolute http(s) URL: {e}")))?;
        if url.userinfo().is_some() {
            return Err(refuse("credentials in URL"));
        }
        let host = url.host();
        // `2130706433`, `0x7f.1`, `127.1`: a resolver or another URL parser may read these as
        // IPv4 addresses the checks below never saw, so they are refused whatever the policy.
        if host.is_ambiguous_ip() {
            return Err(refuse("ambiguous IP literal (use a canonical dotted quad)"));
        }
        let loopback = match host {
            Host::Name(d) => is_loopback_name(d),
            Host::Ipv4(ip) => ip.is_loopback(),
            Host::Ipv6(ip) => ip.is_loopback(),
        };
        match url.scheme().to_ascii_lowercase().as_str() {
            "https" => {}
            "http" if loopback || self.allow_insecure_http => {}
            "http" => return Err(refuse("plain http is only allowed for loopback hosts")),
            _ => return Err(refuse("only http(s) URLs are allowed")),
        }
        if !self.allow_private_networks {
            let blocked = match host {
                Host::Name(d) => is_metadata_name(d),
                Host::Ipv4(ip) => is_blocked_ip(IpAddr::V4(ip)),
                Host::Ipv6(ip) => is_blocked_ip(IpAddr::V6(ip)),
            };
            if blocked {
                return Err(refuse("private, link-local or metadata address"));
            }
        }
        Ok(())
    }
}

/// `localhost` and names under `.localhost` (RFC 6761 §6.3).
pub fn is_loopback_name(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    h == "localhost" || h.ends_with(".localhost")
}

fn is_metadata_name(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    h == "metadata.google.internal" || h == "metadata" || h == "instance-data"
}

/// True for addresses a client should never be sent to by remote metadata. Loopback is allowed
/// (local MCP servers and the redirect listener live there).
pub fn is_blocked_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_blocked_v4(v4),
        IpAddr::V6(v6) => {
            if v6.is_loopback() {
                return false;
            }
            if let Some(v4) = mapped_v4(v6) {
                return v4.is_loopback() || is_blocked_v4(v4);
            }
            let s = v6.segments();
            v6.is_unspecified()
                || (s[0] & 0xfe00) == 0xfc00 // ULA fc00::/7 (includes fd00:ec2::254)
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xff00) == 0xff00 // multicast
        }
    }
}

fn is_blocked_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_private()
        || ip.is_link_local() // 169.254/16, includes 169.254.169.254
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // CGNAT 100.64/10
        || o[0] == 0
}

fn mapped_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    if s[..5] == [0, 0, 0, 0, 0] && s[5] == 0xffff {
        Some(Ipv4Addr::new(
            (s[6] >> 8) as u8,
            s[6] as u8,
            (s[7] >> 8) as u8,
            s[7] as u8,
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy() {
        let p = UrlPolicy::default();
        for ok in [
            "https://as.example.com/token",
            "http://localhost:3000/mcp",
            "http://127.0.0.1:9/x",
            "http://[::1]:80/",
            "http://app.localhost/",
            "https://8.8.8.8/",
        ] {
            assert!(p.check(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://as.example.com/token",
            "javascript:alert(1)",
            "data:text/html,hi",
            "file:///etc/passwd",
            "ftp://x/",
            "https://169.254.169.254/latest",
            "https://10.0.0.1/",
            "https://192.168.1.1/",
            "https://172.16.0.1/",
            "https://100.64.0.1/",
            "https://[fe80::1]/",
            "https://[fd00:ec2::254]/",
            "https://[::ffff:10.0.0.1]/",
            "https://[::ffff:169.254.169.254]/",
            "https://metadata.google.internal/",
            "https://user:pw@as.example.com/",
            "not a url",
            "/relative",
        ] {
            assert!(p.check(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn permissive_policy() {
        let p = UrlPolicy::permissive();
        assert!(p.check("http://10.0.0.1/x").is_ok());
        assert!(p.check("javascript:alert(1)").is_err());
    }
}
