use super::*;
use crate::url_policy::UrlPolicy;
use proptest::prelude::*;

fn ok(s: &str) -> Uri<'_> {
    match parse(s) {
        Ok(u) => u,
        Err(e) => panic!("{s:?}: {e}"),
    }
}

#[test]
fn bare_origin_kept_raw() {
    let u = ok("http://localhost:3000");
    assert_eq!(u.scheme(), "http");
    assert_eq!(u.host(), Host::Name("localhost"));
    assert_eq!(u.host_text(), "localhost");
    assert_eq!(u.port(), Some(3000));
    assert_eq!(u.path(), "", "no `/` added to a bare origin (kept raw)");
    assert_eq!((u.query(), u.fragment(), u.userinfo()), (None, None, None));
    assert_eq!(u.request_path(), "/");
    assert_eq!(
        crate::resource_metadata::canonical_server_url("http://localhost:3000").as_deref(),
        Ok("http://localhost:3000")
    );
}

#[test]
fn mixed_case_with_default_port_and_fragment() {
    let raw = "HTTPS://MCP.Example.com:443/mcp#x";
    let u = ok(raw);
    assert_eq!(u.scheme(), "HTTPS", "components are raw");
    assert!(u.is_http());
    assert_eq!(u.host(), Host::Name("MCP.Example.com"));
    assert_eq!(u.port(), Some(443));
    assert_eq!(u.non_default_port(), None);
    assert_eq!(u.port_or_default(), Some(443));
    assert_eq!((u.path(), u.fragment()), ("/mcp", Some("x")));
    assert!(u.same_origin(&ok("https://mcp.example.com/other")));
    assert!(!u.same_origin(&ok("http://mcp.example.com:443/")));
    assert!(!u.same_origin(&ok("https://mcp.example.com:8443/")));
    // canonical_server_url lowercases scheme and authority, drops the fragment, keeps the port.
    assert_eq!(
        crate::resource_metadata::canonical_server_url(raw).as_deref(),
        Ok("https://mcp.example.com:443/mcp")
    );
}

#[test]
fn ipv6_literals() {
    let u = ok("http://[::1]:8080/cb?x=1");
    assert_eq!(u.host(), Host::Ipv6(Ipv6Addr::LOCALHOST));
    assert_eq!(u.host_text(), "[::1]");
    assert_eq!(
        (u.port(), u.path(), u.query()),
        (Some(8080), "/cb", Some("x=1"))
    );
    let mapped = ok("http://[::ffff:10.0.0.1]/");
    assert_eq!(
        mapped.host(),
        Host::Ipv6(Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped())
    );
    assert!(ok("http://[0:0:0:0:0:0:0:1]/").same_origin(&ok("http://[::1]:80")));
    for bad in [
        "http://[::1/",
        "http://[::1]x/",
        "http://[::1]:x/",
        "http://[fe80::1%25eth0]/",
        "http://[v1.fe]/",
        "http://[]/",
        "http://[127.0.0.1]/",
    ] {
        assert!(parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn userinfo_detected_at_last_at() {
    let u = ok("https://user:pw@as.example.com/");
    assert_eq!(u.userinfo(), Some("user:pw"));
    assert_eq!(u.host(), Host::Name("as.example.com"));
    // WHATWG also splits at the last `@`: both parsers see the same host.
    let u = ok("https://a@b@evil.example/");
    assert_eq!((u.userinfo(), u.host_text()), (Some("a@b"), "evil.example"));
    assert_eq!(ok("https://@h.example/").userinfo(), Some(""));
    for url in ["https://user:pw@as.example.com/", "https://@h.example/"] {
        assert!(UrlPolicy::permissive().check(url).is_err(), "{url}");
    }
}

#[test]
fn ipv4_only_as_canonical_dotted_quad() {
    assert_eq!(
        ok("http://127.0.0.1:9/").host(),
        Host::Ipv4(Ipv4Addr::LOCALHOST)
    );
    assert_eq!(
        ok("http://0.0.0.0/").host(),
        Host::Ipv4(Ipv4Addr::UNSPECIFIED)
    );
    for legacy in [
        "2130706433",
        "0x7f.1",
        "0x7F000001",
        "0177.0.0.1",
        "127.1",
        "127.0.0.01",
        "127.0.0.1.",
        "1.2.3.256",
        "1.2.3.4.5",
        "example.0x",
        "a.123",
    ] {
        let url = format!("http://{legacy}/");
        let u = ok(&url);
        assert_eq!(u.host(), Host::Name(legacy), "{legacy} is not read as IPv4");
        assert!(u.host().is_ambiguous_ip(), "{legacy}");
        for policy in [UrlPolicy::default(), UrlPolicy::permissive()] {
            match policy.check(&url) {
                Err(crate::Error::InsecureUrl { reason, .. }) => {
                    assert!(
                        reason.contains("ambiguous IP literal"),
                        "{legacy}: {reason}"
                    )
                }
                other => panic!("{legacy}: {other:?}"),
            }
        }
    }
    for name in [
        "example.com",
        "1.2.3.4.nip.io",
        "x0",
        "0x.example",
        "localhost.",
    ] {
        assert!(!Host::Name(name).is_ambiguous_ip(), "{name}");
    }
}

#[test]
fn malformed_inputs_refused() {
    let cases = [
        ("http://", UriError::EmptyHost),
        ("http:///x", UriError::EmptyHost),
        ("http://:80/", UriError::EmptyHost),
        ("http://user@/", UriError::EmptyHost),
        ("http:/x", UriError::NoAuthority),
        ("http:x", UriError::NoAuthority),
        ("javascript:alert(1)", UriError::NoAuthority),
        ("/relative", UriError::NoScheme),
        ("", UriError::NoScheme),
        ("1http://h/", UriError::NoScheme),
        ("://h/", UriError::NoScheme),
        ("http://h ost/", UriError::ForbiddenCharacter),
        (" http://h/", UriError::ForbiddenCharacter),
        ("http://h/a b", UriError::ForbiddenCharacter),
        ("http://h/\t", UriError::ForbiddenCharacter),
        ("http://h/\u{0}", UriError::ForbiddenCharacter),
        ("http://h/\u{85}", UriError::ForbiddenCharacter),
        ("http://h\\@evil/", UriError::ForbiddenCharacter),
        ("http://%6cocalhost/", UriError::PercentEncodedAuthority),
        ("http://u%40@h/", UriError::PercentEncodedAuthority),
        ("http://bücher.example/", UriError::InvalidHost),
        ("http://раypal.com/", UriError::InvalidHost),
        ("http://a!b.example/", UriError::InvalidHost),
        ("http://h:port/", UriError::InvalidPort),
        ("http://h:65536/", UriError::InvalidPort),
        ("http://h:+80/", UriError::InvalidPort),
        ("http://h:1:2/", UriError::InvalidPort),
        ("http://h:000080/", UriError::InvalidPort),
    ];
    for (input, want) in cases {
        assert_eq!(parse(input), Err(want), "{input:?}");
    }
    assert_eq!(ok("http://h:/").port(), None);
    assert_eq!(ok("http://h:0080/").port(), Some(80));
    assert_eq!(
        ok("http://xn--bcher-kva.example/").host_text(),
        "xn--bcher-kva.example"
    );
}

#[test]
fn very_long_input() {
    let long = format!("https://h.example/{}", "a/".repeat(200_000));
    let u = ok(&long);
    assert_eq!(u.path().len(), 400_001);
    assert_eq!(u.request_path().len(), 400_001);
    let long_host = format!("https://{}/", "a".repeat(100_000));
    assert_eq!(ok(&long_host).host_text().len(), 100_000);
    assert!(parse(&format!("http://h:{}/", "9".repeat(10_000))).is_err());
}

#[test]
fn request_path_like_a_browser() {
    for (input, want) in [
        ("http://h", "/"),
        ("http://h/", "/"),
        ("http://h/a/../cb", "/cb"),
        ("http://h/a/./b/", "/a/b/"),
        ("http://h/a/b/..", "/a/"),
        ("http://h/..", "/"),
        ("http://h/a/%2E%2e/cb", "/cb"),
        ("http://h/a/.%2e", "/"),
        ("http://h/a%2eb", "/a%2eb"),
        ("http://h//x", "//x"),
        ("http://h/{é}", "/%7B%C3%A9%7D"),
        ("http://h/cb?x=/../y#/..", "/cb"),
    ] {
        assert_eq!(ok(input).request_path(), want, "{input}");
    }
}

/// What the `url` crate (WHATWG) says, for the differential property below.
fn whatwg(s: &str) -> Option<(String, Option<u16>, String)> {
    let u = url::Url::parse(s).ok()?;
    Some((u.host_str()?.to_string(), u.port(), u.path().to_string()))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2048,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x3986),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn never_panics(s in "\\PC{0,80}") {
        if let Ok(u) = parse(&s) {
            let _ = (u.request_path(), u.host().is_ambiguous_ip(), u.port_or_default());
            prop_assert!(!u.host_text().is_empty());
        }
    }

    #[test]
    fn never_panics_on_url_shaped_input(s in "[hH][tT][tT][pP][sS]?://[a-z0-9@:%.\\[\\]/?#x-]{0,40}") {
        let _ = parse(&s).map(|u| u.request_path());
        let _ = UrlPolicy::default().check(&s);
    }

    /// Wherever the splitter accepts an unambiguous http(s) URL, the `url` crate finds the same
    /// host, non-default port and browser path, so the policy checks what a client will fetch.
    #[test]
    fn agrees_with_whatwg_on_accepted_urls(
        scheme in "(http|https|HTTP)",
        host in "([a-z0-9-]{1,8}(\\.[a-z0-9-]{1,8}){0,2}|[0-9]{1,3}(\\.[0-9]{1,3}){0,4}|\\[(::1|::ffff:10\\.0\\.0\\.1|fe80::[0-9a-f]{1,4})\\])",
        port in proptest::option::of(0u32..70000),
        path in "(/[a-zA-Z0-9.%{}é]{0,6}){0,4}",
    ) {
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        let s = format!("{scheme}://{host}{port}{path}");
        prop_assume!(!s.contains("xn--"), "punycode is decoded by IDNA only");
        if let Ok(u) = parse(&s) {
            if !u.host().is_ambiguous_ip() {
                let (h, p, wpath) = whatwg(&s).expect("url accepts what we accept");
                let ours = match u.host() {
                    Host::Ipv6(a) => format!("[{a}]"),
                    _ => u.host_text().to_ascii_lowercase(),
                };
                // WHATWG serialises ::ffff:10.0.0.1 as ::ffff:a00:1; compare addresses then.
                match (u.host(), h.strip_prefix('[').and_then(|x| x.strip_suffix(']'))) {
                    (Host::Ipv6(a), Some(w)) => prop_assert_eq!(Some(a), w.parse().ok()),
                    _ => prop_assert_eq!(ours, h),
                }
                prop_assert_eq!(u.non_default_port(), p);
                prop_assert_eq!(u.request_path(), wpath);
            }
        }
    }
}
