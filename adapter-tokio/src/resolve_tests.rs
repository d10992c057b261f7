//! The resolver hook of `ReqwestClient`, with names mapped by a test table. Refusals of
//! metadata, private and non-loopback addresses are checked on the resolver itself (no request
//! at all); the client end to end is checked with names whose refused address would still be
//! local (a metadata *name* mapped to 127.0.0.1, IPv4-mapped loopback), so a broken screen
//! cannot send traffic beyond this machine.

use std::str::FromStr;
use std::time::Duration;

use mcp_oauth_core::url_policy::{AddressRefusal, HostRefused};
use mcp_oauth_core::{HttpRequest, TransportErrorKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::{HttpClient, ReqwestClient};

fn table() -> Lookup {
    Arc::new(|name: &str| -> Vec<IpAddr> {
        let ips: &[&str] = match name {
            "imds.test" => &["169.254.169.254"],
            "imds6.test" => &["fd00:ec2::254"],
            "corp.test" => &["10.0.0.1"],
            "mixed.test" => &["10.0.0.1", "169.254.169.254", "127.0.0.1"],
            "anything.localhost" => &["192.0.2.7"],
            "app.localhost" | "loop.test" | "metadata.google.internal" => &["127.0.0.1"],
            "mapped.test" => &["::ffff:127.0.0.1"],
            "proxy.corp" => &["10.0.0.5"],
            _ => &[],
        };
        ips.iter().filter_map(|ip| ip.parse().ok()).collect()
    })
}

fn resolver(policy: UrlPolicy) -> PolicyResolver {
    PolicyResolver::new(policy, Some(table()), vec!["proxy.corp".into()])
}

async fn resolve(policy: UrlPolicy, host: &str) -> Result<Vec<IpAddr>, BoxError> {
    let name = Name::from_str(host).expect("a valid name");
    let addrs = resolver(policy).resolve(name).await?;
    Ok(addrs.map(|a| a.ip()).collect())
}

fn refusal_of(result: Result<Vec<IpAddr>, BoxError>) -> HostRefused {
    let err = result.expect_err("refused");
    err.downcast_ref::<HostRefused>()
        .cloned()
        .unwrap_or_else(|| panic!("not a HostRefused: {err}"))
}

#[tokio::test]
async fn the_resolver_refuses_metadata_private_and_stray_localhost_names() {
    let strict = UrlPolicy::default;
    for (policy, host, reason) in [
        (strict(), "imds.test", AddressRefusal::LinkLocalOrMetadata),
        (
            UrlPolicy::permissive(),
            "imds.test",
            AddressRefusal::LinkLocalOrMetadata,
        ),
        (strict(), "imds6.test", AddressRefusal::LinkLocalOrMetadata),
        (strict(), "corp.test", AddressRefusal::PrivateNetwork),
        (
            strict(),
            "anything.localhost",
            AddressRefusal::LocalhostNotLoopback,
        ),
        (
            UrlPolicy::permissive(),
            "anything.localhost",
            AddressRefusal::LocalhostNotLoopback,
        ),
        (
            UrlPolicy::permissive(),
            "metadata.google.internal",
            AddressRefusal::MetadataName,
        ),
    ] {
        let refused = refusal_of(resolve(policy, host).await);
        assert_eq!((refused.host(), refused.reason()), (host, reason), "{host}");
    }
}

#[tokio::test]
async fn the_resolver_keeps_allowed_addresses() {
    let loopback: Vec<IpAddr> = vec!["127.0.0.1".parse().expect("ip")];
    for host in ["app.localhost", "loop.test", "mixed.test"] {
        let kept = resolve(UrlPolicy::default(), host).await.expect(host);
        assert_eq!(kept, loopback, "{host}");
    }
    let private = UrlPolicy {
        allow_private_networks: true,
        ..UrlPolicy::default()
    };
    let kept = resolve(private, "corp.test").await.expect("allowed");
    assert_eq!(kept, vec!["10.0.0.1".parse::<IpAddr>().expect("ip")]);
    // The configured proxy's own name is not screened.
    let kept = resolve(UrlPolicy::default(), "proxy.corp")
        .await
        .expect("proxy");
    assert_eq!(kept, vec!["10.0.0.5".parse::<IpAddr>().expect("ip")]);
}

fn client() -> ReqwestClient {
    ReqwestClient::build_with(
        Duration::from_secs(2),
        Duration::from_secs(5),
        false,
        resolver(UrlPolicy::default()),
    )
    .expect("client")
}

/// A server on 127.0.0.1 answering one request with 204.
async fn loopback_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        if let Ok((mut s, _)) = listener.accept().await {
            let mut got = Vec::new();
            let mut buf = [0u8; 1024];
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            let _ = s
                .write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
                .await;
        }
    });
    port
}

#[tokio::test]
async fn the_client_connects_only_where_the_resolver_allows() {
    let port = loopback_server().await;
    let ok = client()
        .send(&HttpRequest::get_json(format!(
            "http://app.localhost:{port}/mcp"
        )))
        .await
        .expect("loopback name");
    assert_eq!(ok.status, 204);
    for (host, reason) in [
        (
            "metadata.google.internal",
            "refusing to connect to metadata.google.internal: cloud metadata host name",
        ),
        (
            "mapped.test",
            "refusing to connect to mapped.test: unspecified, broadcast or multicast address",
        ),
    ] {
        let err = client()
            .send(&HttpRequest::get_json(format!("http://{host}:{port}/x")))
            .await
            .expect_err(host);
        assert_eq!(err.kind, TransportErrorKind::Refused, "{err}");
        assert_eq!(err.message, reason);
    }
}

#[test]
fn proxy_hosts_from_urls() {
    for (value, host) in [
        ("http://proxy.corp:3128", Some("proxy.corp")),
        ("http://user:p%40ss@Proxy.Corp.:3128/", Some("proxy.corp")),
        ("socks5h://[fd00::1]:1080", Some("[fd00::1]")),
        ("proxy.corp:8080", Some("proxy.corp")),
        ("", None),
    ] {
        assert_eq!(proxy_host(value).as_deref(), host, "{value}");
    }
}
