//! Tests for `loopback`: head framing, routing and the exact response bytes.

use super::*;

fn state() -> StateToken {
    StateToken::new("st4te")
}

fn req(line: &str) -> Vec<u8> {
    format!("{line}\r\nHost: 127.0.0.1:5555\r\nUser-Agent: test\r\n\r\n").into_bytes()
}

fn r(line: &str) -> Route {
    route(&req(line), "/callback", &state())
}

#[test]
fn real_callback() {
    assert_eq!(
        r("GET /callback?code=abc&state=st4te&iss=http%3A%2F%2Flocalhost%3A3000 HTTP/1.1"),
        Route::Callback {
            query: "code=abc&state=st4te&iss=http%3A%2F%2Flocalhost%3A3000".into()
        }
    );
    // HTTP/1.0, bare-LF line endings.
    assert_eq!(
        route(
            b"GET /callback?state=st4te&code=x HTTP/1.0\n\n",
            "/callback",
            &state()
        ),
        Route::Callback {
            query: "state=st4te&code=x".into()
        }
    );
    // Absolute-form target (RFC 9112 §3.2.2).
    assert_eq!(
        r("GET http://127.0.0.1:5555/callback?state=st4te&code=x HTTP/1.1"),
        Route::Callback {
            query: "state=st4te&code=x".into()
        }
    );
}

#[test]
fn error_response_with_right_state_is_callback() {
    assert_eq!(
        r("GET /callback?error=access_denied&state=st4te HTTP/1.1"),
        Route::Callback {
            query: "error=access_denied&state=st4te".into()
        }
    );
}

#[test]
fn favicon_and_other_paths_not_found() {
    assert_eq!(r("GET /favicon.ico HTTP/1.1"), Route::NotFound);
    assert_eq!(r("GET / HTTP/1.1"), Route::NotFound);
    assert_eq!(r("GET /callback/ HTTP/1.1"), Route::NotFound);
    assert_eq!(
        r("GET /Callback?state=st4te&code=x HTTP/1.1"),
        Route::NotFound
    );
    assert_eq!(r("GET /callbackx?state=st4te HTTP/1.1"), Route::NotFound);
    assert_eq!(r("POST /favicon.ico HTTP/1.1"), Route::NotFound);
    assert_eq!(r("OPTIONS * HTTP/1.1"), Route::BadRequest);
}

#[test]
fn other_methods_not_allowed() {
    for m in ["HEAD", "POST", "PUT", "DELETE", "OPTIONS", "get"] {
        assert_eq!(
            r(&format!("{m} /callback?code=x&state=st4te HTTP/1.1")),
            Route::MethodNotAllowed,
            "{m}"
        );
    }
}

#[test]
fn wrong_missing_or_duplicated_state() {
    assert_eq!(
        r("GET /callback?code=x&state=nope HTTP/1.1"),
        Route::WrongState
    );
    assert_eq!(r("GET /callback?code=x HTTP/1.1"), Route::WrongState);
    assert_eq!(r("GET /callback HTTP/1.1"), Route::WrongState);
    assert_eq!(r("GET /callback? HTTP/1.1"), Route::WrongState);
    assert_eq!(
        r("GET /callback?code=x&state=st4te&state=st4te HTTP/1.1"),
        Route::WrongState
    );
    assert_eq!(
        r("GET /callback?code=x&code=y&state=st4te HTTP/1.1"),
        Route::WrongState
    );
}

#[test]
fn bad_requests() {
    let tls = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\xab\xcd\r\n\r\n";
    assert_eq!(route(tls, "/callback", &state()), Route::BadRequest);
    let tls_ascii = b"\x16\x03\x01\x00\x05 /callback HTTP/1.1\r\n\r\n";
    assert_eq!(route(tls_ascii, "/callback", &state()), Route::BadRequest);
    assert_eq!(
        route(b"\xff\xfe GET\r\n\r\n", "/callback", &state()),
        Route::BadRequest
    );
    assert_eq!(route(b"", "/callback", &state()), Route::BadRequest);
    for line in [
        "GET /callback?state=st4te",
        "GET /callback?state=st4te HTTP/2.0",
        "GET /callback?state=st4te HTTP/1.1 extra",
        "GET  /callback?state=st4te HTTP/1.1",
        "GET /callback?state=st4te HTTP/1.1 ",
        "GET callback?state=st4te HTTP/1.1",
        "GET ftp://x/callback?state=st4te HTTP/1.1",
        "GET http://127.0.0.1:5555 HTTP/1.1",
        " GET /callback HTTP/1.1",
        "GET /callback\u{7f} HTTP/1.1",
        "G\u{e9}T /callback HTTP/1.1",
    ] {
        assert_eq!(r(line), Route::BadRequest, "{line:?}");
    }
}

#[test]
fn head_framing() {
    assert_eq!(head_progress(b""), HeadProgress::Incomplete);
    assert_eq!(
        head_progress(b"GET / HTTP/1.1\r\nHost: x\r\n"),
        HeadProgress::Incomplete
    );
    let head = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_eq!(
        head_progress(head),
        HeadProgress::Complete {
            head_len: head.len()
        }
    );
    let mut with_body = head.to_vec();
    with_body.extend_from_slice(b"body\r\n\r\n");
    assert_eq!(
        head_progress(&with_body),
        HeadProgress::Complete {
            head_len: head.len()
        }
    );
    assert_eq!(
        head_progress(b"GET / HTTP/1.1\n\nrest"),
        HeadProgress::Complete { head_len: 16 }
    );
}

#[test]
fn head_too_large() {
    let mut big = b"GET /callback?x=".to_vec();
    big.resize(MAX_HEAD_BYTES + 1, b'a');
    assert_eq!(head_progress(&big), HeadProgress::TooLarge);
    big.truncate(MAX_HEAD_BYTES);
    assert_eq!(head_progress(&big), HeadProgress::TooLarge);
    big.truncate(MAX_HEAD_BYTES - 1);
    assert_eq!(head_progress(&big), HeadProgress::Incomplete);
    // A head ending exactly at the limit is accepted; a terminator past it is not looked for.
    let mut exact = vec![b'a'; MAX_HEAD_BYTES - 4];
    exact.extend_from_slice(b"\r\n\r\n");
    assert_eq!(
        head_progress(&exact),
        HeadProgress::Complete {
            head_len: MAX_HEAD_BYTES
        }
    );
    let mut late = vec![b'a'; MAX_HEAD_BYTES];
    late.extend_from_slice(b"\r\n\r\n");
    assert_eq!(head_progress(&late), HeadProgress::TooLarge);
    assert_eq!(HEAD_READ_TIMEOUT, std::time::Duration::from_secs(3));
}

/// Parses response bytes as HTTP/1.1: status code, headers, and a body whose length equals
/// `Content-Length`.
fn parse_response(bytes: &[u8]) -> (u16, Vec<(String, String)>, String) {
    let text = std::str::from_utf8(bytes).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let mut parts = status_line.splitn(3, ' ');
    assert_eq!(parts.next(), Some("HTTP/1.1"));
    let status: u16 = parts.next().unwrap().parse().unwrap();
    assert!(!parts.next().unwrap().is_empty());
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (n, v) = l.split_once(": ").unwrap();
            (n.to_owned(), v.to_owned())
        })
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "Content-Length")
        .unwrap()
        .1
        .parse()
        .unwrap();
    assert_eq!(len, body.len());
    (status, headers, body.to_owned())
}

#[test]
fn responses_are_valid_http() {
    let cases = [
        (
            Route::Callback {
                query: "code=SECRET&state=st4te".into(),
            },
            200,
        ),
        (Route::WrongState, 400),
        (Route::BadRequest, 400),
        (Route::NotFound, 404),
        (Route::MethodNotAllowed, 405),
        (Route::HeadTooLarge, 431),
    ];
    for (route, want) in cases {
        let (status, headers, body) = parse_response(&response(&route));
        assert_eq!(status, want);
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("Content-Type"), Some("text/html; charset=utf-8"));
        assert_eq!(get("Connection"), Some("close"));
        assert_eq!(get("Cache-Control"), Some("no-store"));
        assert_eq!(get("X-Content-Type-Options"), Some("nosniff"));
        assert!(get("Content-Security-Policy")
            .unwrap()
            .starts_with("default-src 'none'"));
        assert_eq!(get("Allow"), (want == 405).then_some("GET"));
        assert!(!body.contains("SECRET") && !body.contains("st4te"));
        assert!(body.starts_with("<!DOCTYPE html>"));
    }
    let ok = String::from_utf8(response(&Route::Callback {
        query: String::new(),
    }))
    .unwrap();
    assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(ok.contains("Authorization received. You can close this window."));
}

#[test]
fn route_debug_hides_query() {
    let d = format!(
        "{:?}",
        Route::Callback {
            query: "code=SECRET&state=st4te".into()
        }
    );
    assert_eq!(d, "Callback { query: [redacted] }");
}

#[test]
fn callback_paths() {
    assert_eq!(
        callback_path("http://127.0.0.1:5555/callback").as_deref(),
        Some("/callback")
    );
    assert_eq!(
        callback_path("http://[::1]:5555/oauth/cb?x=1#f").as_deref(),
        Some("/oauth/cb")
    );
    assert_eq!(callback_path("http://localhost:3000").as_deref(), Some("/"));
    assert_eq!(
        callback_path("http://127.0.0.1:5555/a/../callback").as_deref(),
        Some("/callback")
    );
    assert_eq!(callback_path("/callback"), None);
    assert_eq!(callback_path("com.example.app:/callback"), None);
    assert_eq!(callback_path(""), None);
}

#[test]
fn garbage_heads_never_panic() {
    let inputs: [&[u8]; 6] = [
        b"\r\n\r\n",
        b"\n\n",
        b"GET",
        b"GET /callback?\xff HTTP/1.1\r\n\r\n",
        b"\x00\x00\x00",
        "GET /\u{e9}? HTTP/1.1\n\n".as_bytes(),
    ];
    for i in inputs {
        let _ = route(i, "/callback", &state());
        let _ = head_progress(i);
    }
}

#[test]
fn route_pending_never_accepts_a_callback_before_the_state_is_known() {
    let head = b"GET /callback?code=c&state=s HTTP/1.1\r\n\r\n";
    assert_eq!(route_pending(head, "/callback", None), Route::WrongState);
    assert_eq!(
        route_pending(b"GET /favicon.ico HTTP/1.1\r\n\r\n", "/callback", None),
        Route::NotFound
    );
    let state = StateToken::new("s");
    assert!(matches!(
        route_pending(head, "/callback", Some(&state)),
        Route::Callback { .. }
    ));
}

#[test]
fn request_line_screening() {
    assert!(could_be_http(b""));
    assert!(could_be_http(b"GET /callback?code=1 HT"));
    assert!(could_be_http(b"GET / HTTP/1.1\r\nHost: x\r\n"));
    assert!(could_be_http(b"GET / HTTP/1.1\nHost: \xff"));
    assert!(!could_be_http(&[0x16, 0x03, 0x01, 0x02, 0x00]));
    assert!(!could_be_http(b"GET /\x00 HTTP/1.1"));
    assert!(!could_be_http(b"GET \r/ HTTP/1.1"));
}
