use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

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
        "http://8.8.8.8/",
        "javascript:alert(1)",
        "data:text/html,hi",
        "file:///etc/passwd",
        "ftp://x/",
        "https://169.254.169.254/latest",
        "https://10.0.0.1/",
        "https://192.168.1.1/",
        "https://172.16.0.1/",
        "https://100.64.0.1/",
        "https://0.0.0.0/",
        "https://[fe80::1]/",
        "https://[fd00:ec2::254]/",
        "https://[fd12::1]/",
        "https://[::ffff:10.0.0.1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://[::ffff:169.254.169.254]/",
        "https://metadata.google.internal/",
        "https://instance-data.ec2.internal/",
        "https://metadata.azure.internal./",
        "https://user:pw@as.example.com/",
        "not a url",
        "/relative",
    ] {
        assert!(p.check(bad).is_err(), "{bad}");
    }
}

#[test]
fn permissive_policy_still_refuses_metadata() {
    let p = UrlPolicy::permissive();
    assert!(p.check("http://10.0.0.1/x").is_ok());
    assert!(p.check("http://as.example/x").is_ok());
    assert!(p.check("https://[fd12::1]/").is_ok());
    for bad in [
        "javascript:alert(1)",
        "https://169.254.169.254/latest",
        "http://[fe80::1]/",
        "https://metadata.google.internal/",
        "https://0.0.0.0/",
    ] {
        assert!(p.check(bad).is_err(), "{bad}");
    }
}

#[test]
fn private_literals_allowed_only_when_asked() {
    let p = UrlPolicy {
        allow_private_networks: true,
        ..UrlPolicy::default()
    };
    assert!(p.check("https://10.0.0.1/").is_ok());
    assert!(p.check("https://100.64.0.1/").is_ok());
    // Still https only for non-loopback.
    assert!(p.check("http://10.0.0.1/").is_err());
    assert!(p.check("https://169.254.169.254/").is_err());
}

#[test]
fn classification_table() {
    for (addr, class) in [
        ("127.0.0.1", AddressClass::Loopback),
        ("127.8.9.10", AddressClass::Loopback),
        ("::1", AddressClass::Loopback),
        ("93.184.216.34", AddressClass::Public),
        ("2606:4700::1111", AddressClass::Public),
        ("10.0.0.1", AddressClass::Private),
        ("172.31.255.255", AddressClass::Private),
        ("192.168.0.1", AddressClass::Private),
        ("100.64.0.1", AddressClass::Private),
        ("100.127.255.255", AddressClass::Private),
        ("100.128.0.1", AddressClass::Public),
        ("fd00::1", AddressClass::Private),
        ("fc00::1", AddressClass::Private),
        ("::ffff:10.0.0.1", AddressClass::Private),
        ("169.254.169.254", AddressClass::LinkLocalOrMetadata),
        ("169.254.1.1", AddressClass::LinkLocalOrMetadata),
        ("100.100.100.200", AddressClass::LinkLocalOrMetadata),
        ("168.63.129.16", AddressClass::LinkLocalOrMetadata),
        ("fe80::1", AddressClass::LinkLocalOrMetadata),
        ("fd00:ec2::254", AddressClass::LinkLocalOrMetadata),
        ("::ffff:169.254.169.254", AddressClass::LinkLocalOrMetadata),
        ("0.0.0.0", AddressClass::Unroutable),
        ("0.1.2.3", AddressClass::Unroutable),
        ("255.255.255.255", AddressClass::Unroutable),
        ("224.0.0.1", AddressClass::Unroutable),
        ("::", AddressClass::Unroutable),
        ("ff02::1", AddressClass::Unroutable),
        ("::ffff:127.0.0.1", AddressClass::Unroutable),
    ] {
        assert_eq!(classify(ip(addr)), class, "{addr}");
    }
}

#[test]
fn resolved_address_decision_table() {
    use AddressRefusal::*;
    let strict = UrlPolicy::default();
    let private = UrlPolicy {
        allow_private_networks: true,
        ..UrlPolicy::default()
    };
    let permissive = UrlPolicy::permissive();
    let https = Some("https");
    let http = Some("http");
    // (policy, scheme, host, address, expected)
    type Row<'a> = (
        &'a UrlPolicy,
        Option<&'a str>,
        &'a str,
        &'a str,
        Result<(), AddressRefusal>,
    );
    let table: &[Row] = &[
        (&strict, https, "as.example", "93.184.216.34", Ok(())),
        (&strict, https, "as.example", "127.0.0.1", Ok(())),
        (&strict, http, "localhost", "127.0.0.1", Ok(())),
        (&strict, http, "app.localhost", "::1", Ok(())),
        (&strict, None, "app.localhost", "127.0.0.2", Ok(())),
        // Metadata and link-local: refused whatever the policy.
        (
            &strict,
            https,
            "imds.attacker.example",
            "169.254.169.254",
            Err(LinkLocalOrMetadata),
        ),
        (
            &permissive,
            https,
            "imds.attacker.example",
            "169.254.169.254",
            Err(LinkLocalOrMetadata),
        ),
        (
            &permissive,
            https,
            "x.example",
            "fe80::1",
            Err(LinkLocalOrMetadata),
        ),
        (
            &permissive,
            https,
            "x.example",
            "::ffff:169.254.169.254",
            Err(LinkLocalOrMetadata),
        ),
        (
            &permissive,
            https,
            "metadata.google.internal",
            "8.8.8.8",
            Err(MetadataName),
        ),
        (
            &permissive,
            https,
            "instance-data.ec2.internal",
            "127.0.0.1",
            Err(MetadataName),
        ),
        (
            &strict,
            https,
            "METADATA.AZURE.INTERNAL.",
            "93.184.216.34",
            Err(MetadataName),
        ),
        (&permissive, https, "x.example", "0.0.0.0", Err(Unroutable)),
        // Private: only when asked.
        (
            &strict,
            https,
            "internal.example",
            "10.0.0.1",
            Err(PrivateNetwork),
        ),
        (
            &strict,
            None,
            "internal.example",
            "192.168.1.10",
            Err(PrivateNetwork),
        ),
        (
            &strict,
            https,
            "internal.example",
            "100.64.1.1",
            Err(PrivateNetwork),
        ),
        (
            &strict,
            https,
            "internal.example",
            "fd12:3456::1",
            Err(PrivateNetwork),
        ),
        (&private, https, "internal.example", "10.0.0.1", Ok(())),
        (&private, https, "internal.example", "fd12:3456::1", Ok(())),
        // A localhost name must land on loopback, whatever the scheme and policy.
        (
            &strict,
            http,
            "anything.localhost",
            "93.184.216.34",
            Err(LocalhostNotLoopback),
        ),
        (
            &permissive,
            https,
            "localhost",
            "10.0.0.1",
            Err(LocalhostNotLoopback),
        ),
        (
            &strict,
            None,
            "evil.localhost.",
            "10.0.0.1",
            Err(LocalhostNotLoopback),
        ),
        // Plain http: loopback only unless insecure http is allowed.
        (
            &strict,
            http,
            "as.example",
            "93.184.216.34",
            Err(PlainHttpNotLoopback),
        ),
        (
            &private,
            http,
            "internal.example",
            "10.0.0.1",
            Err(PlainHttpNotLoopback),
        ),
        (&permissive, http, "as.example", "93.184.216.34", Ok(())),
        (&strict, Some("HTTP"), "as.example", "127.0.0.1", Ok(())),
    ];
    for (policy, scheme, host, addr, expected) in table {
        assert_eq!(
            policy.check_resolved(*scheme, host, ip(addr)),
            *expected,
            "{policy:?} {scheme:?} {host} {addr}"
        );
    }
}

#[test]
fn metadata_names() {
    for name in [
        "metadata",
        "metadata.",
        "instance-data",
        "metadata.google.internal",
        "Metadata.Google.Internal",
        "instance-data.ec2.internal",
        "metadata.azure.internal",
        "metadata.goog",
    ] {
        assert!(is_metadata_name(name), "{name}");
    }
    for name in [
        "metadata.example.com",
        "mymetadata.internal",
        "as.internal",
        "instance-database.internal",
    ] {
        assert!(!is_metadata_name(name), "{name}");
    }
}

#[test]
fn host_refused_names_the_host_sanitised() {
    let e = HostRefused::new(
        "evil\u{1b}[31m.example\r\n",
        AddressRefusal::LinkLocalOrMetadata,
    );
    let text = e.to_string();
    assert_eq!(
        text,
        "refusing to connect to evil[31m.example: link-local or cloud metadata address"
    );
    assert!(!text.chars().any(char::is_control));
    assert_eq!(e.host(), "evil[31m.example");
    assert_eq!(e.reason(), AddressRefusal::LinkLocalOrMetadata);
}

#[test]
fn screening_keeps_allowed_addresses_in_order() {
    let p = UrlPolicy::default();
    let sa = |s: &str| -> SocketAddr { s.parse().expect("test socket address") };
    // Mixed answers: the refused ones are dropped, the rest kept in order.
    assert_eq!(
        p.screen_resolved(
            Some("https"),
            "as.example",
            [
                sa("10.0.0.1:443"),
                sa("93.184.216.34:443"),
                sa("[2606:4700::1]:443")
            ]
        ),
        Ok(vec![sa("93.184.216.34:443"), sa("[2606:4700::1]:443")])
    );
    // All refused: the first refusal, naming the host.
    let e = p
        .screen_resolved(
            None,
            "imds.attacker.example",
            [sa("169.254.169.254:80"), sa("10.0.0.1:80")],
        )
        .expect_err("metadata and private refused");
    assert_eq!(e.reason(), AddressRefusal::LinkLocalOrMetadata);
    assert_eq!(e.host(), "imds.attacker.example");
    assert_eq!(p.screen_resolved(None, "x.example", []), Ok(vec![]));
}
