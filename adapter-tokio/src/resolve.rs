//! Connect-time address screening for [`ReqwestClient`](crate::ReqwestClient): a reqwest DNS
//! resolver that looks a host up and keeps only the addresses the core's
//! [`UrlPolicy::screen_resolved`] allows, so a host *name* cannot reach what the URL check
//! refuses for a literal (a metadata URL naming a host that resolves to 169.254.169.254,
//! `http://anything.localhost/` resolving to a remote machine). The decision is the core's;
//! this module only looks names up and hands the kept addresses to hyper's connector.
//!
//! reqwest's resolver is given the name only, not the URL's scheme; the plain-`http` rule is
//! then the URL check's (see [`UrlPolicy::check_resolved`]).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use mcp_oauth_core::UrlPolicy;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// A name lookup replacing DNS (tests map names to chosen addresses with it).
pub(crate) type Lookup = Arc<dyn Fn(&str) -> Vec<IpAddr> + Send + Sync>;

/// The resolver of [`ReqwestClient`](crate::ReqwestClient): system DNS (or a [`Lookup`])
/// screened by a [`UrlPolicy`].
#[derive(Clone)]
pub(crate) struct PolicyResolver {
    policy: UrlPolicy,
    lookup: Option<Lookup>,
    /// Lowercase host names of the configured proxies: reqwest resolves a proxy's name through
    /// this resolver too, and the proxy is the host's configuration, not remote input (it
    /// resolves the target itself, so only the URL checks apply through it).
    proxies: Arc<[String]>,
}

impl fmt::Debug for PolicyResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyResolver")
            .field("policy", &self.policy)
            .field("custom_lookup", &self.lookup.is_some())
            .field("proxies", &self.proxies.len())
            .finish()
    }
}

impl PolicyResolver {
    pub(crate) fn new(policy: UrlPolicy, lookup: Option<Lookup>, proxies: Vec<String>) -> Self {
        Self {
            policy,
            lookup,
            proxies: proxies.into(),
        }
    }

    /// Looks `host` up and screens the answer; the future reqwest awaits.
    async fn resolve_host(self, host: String) -> Result<Vec<SocketAddr>, BoxError> {
        // Port 0: reqwest puts the URL's port in.
        let found: Vec<SocketAddr> = match &self.lookup {
            Some(lookup) => lookup(&host)
                .into_iter()
                .map(|ip| SocketAddr::new(ip, 0))
                .collect(),
            None => tokio::net::lookup_host((host.as_str(), 0)).await?.collect(),
        };
        let lower = host.trim_end_matches('.').to_ascii_lowercase();
        if self.proxies.contains(&lower) {
            return Ok(found);
        }
        Ok(self.policy.screen_resolved(None, &host, found)?)
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let kept = this.resolve_host(host).await?;
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

/// The host names of the proxies reqwest takes from the environment (`HTTPS_PROXY`,
/// `HTTP_PROXY`, `ALL_PROXY`, either case), lowercase. Proxies configured elsewhere (the macOS
/// or Windows system settings) are not known here: a named proxy there is screened like any
/// host, so one on a private network needs `allow_private_networks`.
pub(crate) fn env_proxy_hosts() -> Vec<String> {
    [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ]
    .iter()
    .filter_map(|var| std::env::var(var).ok())
    .filter_map(|value| proxy_host(&value))
    .collect()
}

/// The host of a proxy URL (`http://user:pw@proxy.corp:3128/` → `proxy.corp`), lowercase; a
/// bare `host:port` is accepted as reqwest does.
fn proxy_host(value: &str) -> Option<String> {
    let rest = value.trim();
    let rest = rest.split_once("://").map_or(rest, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if hostport.starts_with('[') {
        hostport.split_inclusive(']').next().unwrap_or_default()
    } else {
        hostport.split(':').next().unwrap_or_default()
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
#[path = "resolve_tests.rs"]
mod tests;
