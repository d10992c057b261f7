//! The resolver hook of `UreqClient`: names mapped by a test table to metadata, private,
//! non-loopback and loopback addresses. Every client here connects through a tripwire
//! connector that refuses (and counts) any non-loopback address, so a broken screen fails the
//! test instead of sending traffic anywhere but 127.0.0.1.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use mcp_oauth_core::url_policy::AddressRefusal;
use mcp_oauth_core::{HttpRequest, TransportErrorKind};
use ureq::unversioned::transport::{
    ConnectionDetails, Connector, DefaultConnector, NextTimeout, Transport,
};

use super::*;
use crate::{HttpClient, UreqClient};

/// Passes loopback connections on to the real connector; anything else is counted and refused.
#[derive(Debug, Clone)]
struct LoopbackOnly {
    inner: Arc<DefaultConnector>,
    tripped: Arc<AtomicUsize>,
}

impl Connector<()> for LoopbackOnly {
    type Out = Box<dyn Transport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<()>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        if details.addrs.iter().any(|a| !a.ip().is_loopback()) {
            self.tripped.fetch_add(1, Ordering::SeqCst);
            return Err(ureq::Error::Io(io::Error::other(
                "tripwire: non-loopback connect",
            )));
        }
        self.inner.connect(details, chained)
    }
}

/// The test name table.
fn table() -> Lookup {
    Arc::new(|name: &str| -> Vec<IpAddr> {
        let ips: &[&str] = match name {
            "imds.test" => &["169.254.169.254"],
            "imds6.test" => &["fd00:ec2::254", "fe80::1"],
            "corp.test" => &["10.0.0.1"],
            "mixed.test" => &["10.0.0.1", "169.254.169.254", "127.0.0.1"],
            "anything.localhost" => &["192.0.2.7"],
            "app.localhost" | "loop.test" => &["127.0.0.1"],
            "proxy.test" => &["10.0.0.5"],
            _ => &[],
        };
        ips.iter().filter_map(|ip| ip.parse().ok()).collect()
    })
}

fn client(policy: UrlPolicy) -> (UreqClient, Arc<AtomicUsize>) {
    let tripped = Arc::new(AtomicUsize::new(0));
    let connector = LoopbackOnly {
        inner: Arc::new(DefaultConnector::new()),
        tripped: Arc::clone(&tripped),
    };
    let client = UreqClient::build_with(
        Duration::from_secs(2),
        Duration::from_secs(5),
        false,
        PolicyResolver::new(policy, Some(table())),
        connector,
    );
    (client, tripped)
}

/// A server on 127.0.0.1 answering one request with 204.
fn loopback_server() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local addr").port();
    thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut got = Vec::new();
            let mut buf = [0u8; 1024];
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            let _ = s.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
        }
    });
    port
}

/// The message of a request the address policy refused (checked to be of that kind).
fn refusal(policy: UrlPolicy, url: &str) -> String {
    let (client, tripped) = client(policy);
    let err = client
        .send(&HttpRequest::get_json(url))
        .expect_err("refused before connecting");
    assert_eq!(
        tripped.load(Ordering::SeqCst),
        0,
        "{url}: a connect was attempted"
    );
    assert_eq!(err.kind, TransportErrorKind::Refused, "{err}");
    err.message
}

#[test]
fn names_resolving_to_metadata_are_refused_whatever_the_policy() {
    for policy in [UrlPolicy::default(), UrlPolicy::permissive()] {
        let err = refusal(policy.clone(), "https://imds.test/latest/meta-data/");
        assert_eq!(
            err,
            "refusing to connect to imds.test: link-local or cloud metadata address"
        );
        let err = refusal(policy, "https://imds6.test/");
        assert!(
            err.contains("imds6.test: link-local or cloud metadata"),
            "{err}"
        );
    }
}

#[test]
fn private_addresses_are_refused_unless_allowed() {
    let err = refusal(UrlPolicy::default(), "https://corp.test/.well-known/x");
    assert!(
        err.contains("refusing to connect to corp.test: private network address"),
        "{err}"
    );
    // Allowed: the address reaches the connector (the tripwire stands in for the network).
    let allowed = UrlPolicy {
        allow_private_networks: true,
        ..UrlPolicy::default()
    };
    let (client, tripped) = client(allowed);
    let err = client
        .send(&HttpRequest::get_json("https://corp.test/"))
        .expect_err("the tripwire refuses 10.0.0.1");
    assert_ne!(err.kind, TransportErrorKind::Refused, "{err}");
    assert!(err.message.contains("tripwire"), "{err}");
    assert_eq!(tripped.load(Ordering::SeqCst), 1);
}

#[test]
fn a_localhost_name_must_resolve_to_loopback() {
    let err = refusal(
        UrlPolicy::default(),
        "http://anything.localhost/callback?code=x",
    );
    assert_eq!(
        err,
        "refusing to connect to anything.localhost: \
         a localhost name resolved to a non-loopback address"
    );
    let err = refusal(UrlPolicy::permissive(), "https://anything.localhost/");
    assert!(err.contains("non-loopback"), "{err}");
}

#[test]
fn loopback_names_connect_and_refused_addresses_are_skipped() {
    for name in ["app.localhost", "loop.test", "mixed.test"] {
        let port = loopback_server();
        let (client, tripped) = client(UrlPolicy::default());
        let response = client
            .send(&HttpRequest::get_json(format!("http://{name}:{port}/mcp")))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(response.status, 204, "{name}");
        assert_eq!(tripped.load(Ordering::SeqCst), 0, "{name}");
    }
}

#[test]
fn the_configured_proxy_is_not_screened() {
    let resolver = PolicyResolver::new(UrlPolicy::default(), Some(table()));
    let uri: Uri = "http://proxy.test:3128".parse().expect("uri");
    let proxy = ureq::Proxy::new("http://proxy.test:3128").expect("proxy");
    let with_proxy = ureq::Agent::config_builder().proxy(Some(proxy)).build();
    let found = resolver
        .resolve(&uri, &with_proxy, NextTimeout::default())
        .expect("the proxy's own address is kept");
    assert_eq!(found.first().map(|a| a.ip()), "10.0.0.5".parse().ok());
    // The same name as a request target is screened.
    let direct = ureq::Agent::config_builder().proxy(None).build();
    match resolver.resolve(&uri, &direct, NextTimeout::default()) {
        Err(ureq::Error::Io(e)) => {
            let refused = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<mcp_oauth_core::url_policy::HostRefused>())
                .expect("a HostRefused");
            assert_eq!(refused.reason(), AddressRefusal::PlainHttpNotLoopback);
        }
        other => panic!("{other:?}"),
    }
}
