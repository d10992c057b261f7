//! Connect-time address screening for [`UreqClient`](crate::UreqClient): a ureq resolver that
//! looks a host up and keeps only the addresses the core's
//! [`UrlPolicy::screen_resolved`] allows, so a host *name* cannot reach what the URL check
//! refuses for a literal (a metadata URL naming a host that resolves to 169.254.169.254,
//! `http://anything.localhost/` resolving to a remote machine). The decision is the core's;
//! this module only looks names up and hands the kept addresses to ureq's connector.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use mcp_oauth_core::UrlPolicy;
use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// A name lookup replacing DNS (tests map names to chosen addresses with it).
pub(crate) type Lookup = Arc<dyn Fn(&str) -> Vec<IpAddr> + Send + Sync>;

/// The resolver of [`UreqClient`](crate::UreqClient): system DNS (or a [`Lookup`]) screened
/// by a [`UrlPolicy`].
pub(crate) struct PolicyResolver {
    policy: UrlPolicy,
    system: DefaultResolver,
    lookup: Option<Lookup>,
}

impl fmt::Debug for PolicyResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyResolver")
            .field("policy", &self.policy)
            .field("custom_lookup", &self.lookup.is_some())
            .finish()
    }
}

impl PolicyResolver {
    pub(crate) fn new(policy: UrlPolicy, lookup: Option<Lookup>) -> Self {
        Self {
            policy,
            system: DefaultResolver::default(),
            lookup,
        }
    }

    fn look_up(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let Some(lookup) = &self.lookup else {
            return self.system.resolve(uri, config, timeout);
        };
        let port = uri
            .port_u16()
            .unwrap_or(if uri.scheme_str() == Some("http") {
                80
            } else {
                443
            });
        let mut found = self.system.empty();
        for ip in lookup(bare_host(uri)) {
            // Full (16 addresses): the rest are dropped, as ureq's own resolver does.
            let _ = found.try_push(SocketAddr::new(ip, port));
        }
        if found.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        Ok(found)
    }
}

impl Resolver for PolicyResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let found = self.look_up(uri, config, timeout)?;
        // ureq asks this resolver for the proxy's own address too; the proxy is the host's
        // configuration, not remote input, and resolves the target itself, so it is not
        // screened (the URL policy has still checked the target URL).
        if is_configured_proxy(uri, config) {
            return Ok(found);
        }
        let kept = self
            .policy
            .screen_resolved(uri.scheme_str(), bare_host(uri), found.iter().copied())
            .map_err(|refused| {
                ureq::Error::Io(io::Error::new(io::ErrorKind::PermissionDenied, refused))
            })?;
        let mut out = self.system.empty();
        for addr in kept {
            let _ = out.try_push(addr);
        }
        if out.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        Ok(out)
    }
}

/// The URI's host without IPv6 brackets.
fn bare_host(uri: &Uri) -> &str {
    let host = uri.host().unwrap_or_default();
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

fn is_configured_proxy(uri: &Uri, config: &Config) -> bool {
    config.proxy().is_some_and(|proxy| {
        proxy
            .host()
            .eq_ignore_ascii_case(uri.host().unwrap_or_default())
            && uri.port_u16().is_none_or(|p| p == proxy.port())
    })
}

#[cfg(test)]
#[path = "resolve_tests.rs"]
mod tests;
