//! Which URLs the machine will ever emit or fetch, and which addresses a client may connect to
//! (server-side request forgery: remote metadata names the URLs the client fetches). Address
//! ranges are the special-purpose ones of RFC 6890; loopback is RFC 8252 §7.3 and §8.3.
//!
//! Two checks share one table of address rules (`classify`):
//!
//! - [`UrlPolicy::check`] runs on every OAuth URL (PRM, AS metadata, registration,
//!   authorization, token, revocation) before it leaves the core. It sees the URL only, so a host
//!   *name* passes unless it is a cloud-metadata name.
//! - [`UrlPolicy::check_resolved`] runs in the adapters' HTTP clients at connect time, on every
//!   address a host name resolved to, so a name cannot reach what a literal could not
//!   (`metadata.attacker.example` → 169.254.169.254, `app.localhost` → a remote machine).
//!
//! The default: `https` everywhere, `http` only for loopback (OAuth 2.1 §1.5), private ranges
//! (RFC 1918, RFC 4193 ULA, CGNAT 100.64/10) refused unless
//! [`allow_private_networks`](UrlPolicy::allow_private_networks), and link-local, cloud-metadata
//! and unroutable addresses refused always, so a hostile metadata document cannot point the
//! client at internal services.

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::error::{sanitize_remote_text, Error, Result};
use crate::http::redact_query;
use crate::uri::Host;

/// The URL rules. `Default` is the production policy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UrlPolicy {
    /// Allow plain `http` to non-loopback hosts (never for production).
    pub allow_insecure_http: bool,
    /// Allow private addresses: RFC 1918, RFC 4193 ULA and CGNAT 100.64/10, as literals and as
    /// resolved addresses (for MCP and authorization servers on an internal network).
    /// Link-local and cloud-metadata addresses stay refused.
    pub allow_private_networks: bool,
}

/// What an address is, for the policy: one table for literals and resolved addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AddressClass {
    /// `127.0.0.0/8`, `::1`: local servers and the redirect listener (RFC 8252 §7.3).
    Loopback,
    /// A globally routable address.
    Public,
    /// RFC 1918, RFC 4193 ULA `fc00::/7`, CGNAT `100.64.0.0/10` (RFC 6598).
    Private,
    /// Link-local (`169.254.0.0/16`, `fe80::/10`, RFC 3927 / RFC 4291) and well-known cloud
    /// metadata addresses (`169.254.169.254`, `fd00:ec2::254`, `100.100.100.200`,
    /// `168.63.129.16`): instance credentials live there.
    LinkLocalOrMetadata,
    /// Unspecified (`0.0.0.0` reaches the local host on some systems), `0.0.0.0/8`, broadcast,
    /// multicast, and IPv4-mapped loopback: never a server's address.
    Unroutable,
}

/// Why an address (or a host name) was refused. `Display` is one lowercase phrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressRefusal {
    /// The host is a cloud-metadata name (`metadata.google.internal`, `instance-data`, ...).
    MetadataName,
    /// The address is link-local or a cloud-metadata address.
    LinkLocalOrMetadata,
    /// The address is unspecified, broadcast, multicast or otherwise not a server.
    Unroutable,
    /// A `localhost` name (RFC 6761 §6.3) resolved to an address that is not loopback.
    LocalhostNotLoopback,
    /// Plain `http` to an address that is not loopback.
    PlainHttpNotLoopback,
    /// A private address while [`UrlPolicy::allow_private_networks`] is off.
    PrivateNetwork,
}

impl fmt::Display for AddressRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MetadataName => "cloud metadata host name",
            Self::LinkLocalOrMetadata => "link-local or cloud metadata address",
            Self::Unroutable => "unspecified, broadcast or multicast address",
            Self::LocalhostNotLoopback => "a localhost name resolved to a non-loopback address",
            Self::PlainHttpNotLoopback => "plain http is only allowed to loopback addresses",
            Self::PrivateNetwork => {
                "private network address (allow private networks to reach internal servers)"
            }
        })
    }
}

/// The connect-time refusal an HTTP client reports when every address of a host was refused:
/// it names the host (sanitised: printable ASCII, bounded) and the reason for the first refused
/// address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRefused {
    host: String,
    reason: AddressRefusal,
}

impl HostRefused {
    /// A refusal for `host` (any bytes; sanitised here).
    pub fn new(host: &str, reason: AddressRefusal) -> Self {
        Self {
            host: sanitize_remote_text(host),
            reason,
        }
    }

    /// The sanitised host name.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Why it was refused.
    pub fn reason(&self) -> AddressRefusal {
        self.reason
    }
}

impl fmt::Display for HostRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "refusing to connect to {}: {}", self.host, self.reason)
    }
}

impl std::error::Error for HostRefused {}

impl UrlPolicy {
    /// A permissive policy for tests against local fakes: any http(s) host, private networks
    /// included (link-local and metadata addresses stay refused).
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
    /// that could be reached is one the range checks below have seen. A host name is checked
    /// again, address by address, by [`check_resolved`](Self::check_resolved) at connect time.
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
        let scheme = url.scheme().to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(refuse("only http(s) URLs are allowed"));
        }
        let literal = match host {
            Host::Name(name) => {
                if is_metadata_name(name) {
                    return Err(refuse(&AddressRefusal::MetadataName.to_string()));
                }
                if scheme == "http" && !is_loopback_name(name) && !self.allow_insecure_http {
                    return Err(refuse("plain http is only allowed for loopback hosts"));
                }
                return Ok(());
            }
            Host::Ipv4(ip) => IpAddr::V4(ip),
            Host::Ipv6(ip) => IpAddr::V6(ip),
        };
        self.check_address(Some(&scheme), literal)
            .map_err(|r| refuse(&r.to_string()))
    }

    /// Whether a client may connect to `addr`, one of the addresses `host` resolved to, for a
    /// request with this URL `scheme` (`None` when the resolver is not told it: reqwest's
    /// resolver sees only the name). HTTP clients call it from their resolver hook, keep the
    /// allowed addresses, and fail with [`HostRefused`] when none is left.
    ///
    /// The rules, in order:
    ///
    /// | refused when | whatever the policy |
    /// |---|---|
    /// | `host` is a cloud-metadata name | yes |
    /// | `addr` is link-local or a metadata address | yes |
    /// | `addr` is unspecified, broadcast, multicast | yes |
    /// | `host` is `localhost` / `*.localhost` and `addr` is not loopback | yes |
    /// | `scheme` is `http` and `addr` is not loopback | unless `allow_insecure_http` |
    /// | `addr` is RFC 1918, ULA or CGNAT | unless `allow_private_networks` |
    ///
    /// Without the scheme the `http` rule is left to [`check`](Self::check), which passes
    /// plain `http` to a name only for `localhost` names (held to loopback by the fourth rule)
    /// or when `allow_insecure_http` is on.
    pub fn check_resolved(
        &self,
        scheme: Option<&str>,
        host: &str,
        addr: IpAddr,
    ) -> Result<(), AddressRefusal> {
        if is_metadata_name(host) {
            return Err(AddressRefusal::MetadataName);
        }
        let class = classify(addr);
        match class {
            AddressClass::LinkLocalOrMetadata => return Err(AddressRefusal::LinkLocalOrMetadata),
            AddressClass::Unroutable => return Err(AddressRefusal::Unroutable),
            _ => {}
        }
        if is_loopback_name(host) && class != AddressClass::Loopback {
            return Err(AddressRefusal::LocalhostNotLoopback);
        }
        self.check_address(scheme, addr)
    }

    /// [`check_resolved`](Self::check_resolved) over every address `host` resolved to: the
    /// allowed ones in their order (a resolver hook hands them to the connector), or, when
    /// addresses were found but none is allowed, the refusal of the first, naming the host.
    /// An empty input gives an empty list (the client reports "host not found" as usual).
    pub fn screen_resolved<I>(
        &self,
        scheme: Option<&str>,
        host: &str,
        addrs: I,
    ) -> Result<Vec<SocketAddr>, HostRefused>
    where
        I: IntoIterator<Item = SocketAddr>,
    {
        let mut kept = Vec::new();
        let mut first_refusal = None;
        for addr in addrs {
            match self.check_resolved(scheme, host, addr.ip()) {
                Ok(()) => kept.push(addr),
                Err(reason) => {
                    first_refusal.get_or_insert(reason);
                }
            }
        }
        match first_refusal {
            Some(reason) if kept.is_empty() => Err(HostRefused::new(host, reason)),
            _ => Ok(kept),
        }
    }

    /// The address rules shared by literals and resolved addresses.
    fn check_address(&self, scheme: Option<&str>, addr: IpAddr) -> Result<(), AddressRefusal> {
        let class = classify(addr);
        match class {
            AddressClass::LinkLocalOrMetadata => return Err(AddressRefusal::LinkLocalOrMetadata),
            AddressClass::Unroutable => return Err(AddressRefusal::Unroutable),
            _ => {}
        }
        let http = scheme.is_some_and(|s| s.eq_ignore_ascii_case("http"));
        if http && class != AddressClass::Loopback && !self.allow_insecure_http {
            return Err(AddressRefusal::PlainHttpNotLoopback);
        }
        if class == AddressClass::Private && !self.allow_private_networks {
            return Err(AddressRefusal::PrivateNetwork);
        }
        Ok(())
    }
}

/// `localhost` and names under `.localhost` (RFC 6761 §6.3).
pub(crate) fn is_loopback_name(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    h == "localhost" || h.ends_with(".localhost")
}

/// Names of cloud instance-metadata services, refused whatever they resolve to: `metadata`,
/// `instance-data` and those labels under `.internal` (`metadata.google.internal`,
/// `instance-data.ec2.internal`, `metadata.azure.internal`), and `metadata.goog`.
pub(crate) fn is_metadata_name(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    let first = h.split('.').next().unwrap_or_default();
    let metadata_label = first == "metadata" || first == "instance-data";
    h == "metadata.goog" || (metadata_label && (h == first || h.ends_with(".internal")))
}

/// The class of an address. An IPv4-mapped IPv6 address (RFC 4291 §2.5.5.2) is classed as the
/// IPv4 address it carries, except mapped loopback, which no server uses and some parsers and
/// stacks treat differently, so it is [`AddressClass::Unroutable`].
pub(crate) fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => {
            if v6.is_loopback() {
                return AddressClass::Loopback;
            }
            if let Some(v4) = mapped_v4(v6) {
                return match classify_v4(v4) {
                    AddressClass::Loopback => AddressClass::Unroutable,
                    class => class,
                };
            }
            let s = v6.segments();
            if v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) // AWS IMDS over IPv6
                || (s[0] & 0xffc0) == 0xfe80
            {
                AddressClass::LinkLocalOrMetadata
            } else if v6.is_unspecified() || (s[0] & 0xff00) == 0xff00 {
                AddressClass::Unroutable
            } else if (s[0] & 0xfe00) == 0xfc00 {
                AddressClass::Private // ULA fc00::/7
            } else {
                AddressClass::Public
            }
        }
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    let o = ip.octets();
    if ip.is_loopback() {
        AddressClass::Loopback
    } else if ip.is_link_local() // 169.254/16, includes 169.254.169.254
        || o == [100, 100, 100, 200] // Alibaba Cloud metadata
        || o == [168, 63, 129, 16]
    // Azure platform (wireserver)
    {
        AddressClass::LinkLocalOrMetadata
    } else if ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() || o[0] == 0 {
        AddressClass::Unroutable
    } else if ip.is_private() || (o[0] == 100 && (o[1] & 0xc0) == 64) {
        AddressClass::Private // RFC 1918, CGNAT 100.64/10
    } else {
        AddressClass::Public
    }
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
#[path = "url_policy_tests.rs"]
mod tests;
