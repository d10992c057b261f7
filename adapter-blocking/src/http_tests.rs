//! `UreqClient` against one-shot servers on 127.0.0.1: exact bytes on the wire, every status
//! returned, redirects not followed, the size cap, and failure messages without the URL.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use super::*;

/// Serves one connection with `response` and returns what the client sent (head and body).
fn one_shot(response: Vec<u8>) -> (String, mpsc::Receiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = s.read(&mut buf).unwrap_or(0);
            got.extend_from_slice(&buf[..n]);
            if n == 0 || request_complete(&got) {
                break;
            }
        }
        tx.send(got).unwrap();
        let _ = s.write_all(&response);
    });
    (url, rx)
}

fn request_complete(got: &[u8]) -> bool {
    let text = String::from_utf8_lossy(got);
    let Some(end) = text.find("\r\n\r\n") else {
        return false;
    };
    let len = text[..end]
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    got.len() >= end + 4 + len
}

fn client() -> UreqClient {
    UreqClient::build(Duration::from_secs(2), Duration::from_secs(5), false)
}

#[test]
fn post_form_goes_out_verbatim_and_4xx_comes_back_as_a_response() {
    let body = br#"{"error":"invalid_grant"}"#;
    let (url, rx) = one_shot(
        format!(
            "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes()
        .into_iter()
        .chain(body.iter().copied())
        .collect(),
    );
    let req = HttpRequest::post_form(format!("{url}/token"), &[("grant_type", "refresh_token")]);
    let resp = client().send(&req).unwrap();
    assert_eq!(resp.status, 400);
    assert_eq!(resp.body, body);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    let sent = String::from_utf8(rx.recv().unwrap()).unwrap();
    assert!(sent.starts_with("POST /token HTTP/1.1\r\n"), "{sent}");
    let lower = sent.to_ascii_lowercase();
    assert!(lower.contains("content-type: application/x-www-form-urlencoded\r\n"));
    assert!(lower.contains("accept: application/json\r\n"));
    assert!(lower.contains("user-agent: mcp-oauth/"));
    assert!(sent.ends_with("\r\n\r\ngrant_type=refresh_token"), "{sent}");
}

#[test]
fn redirects_are_returned_not_followed() {
    let (url, rx) = one_shot(
        b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/elsewhere?code=x\r\nContent-Length: 0\r\n\r\n"
            .to_vec(),
    );
    let resp = client()
        .send(&HttpRequest::get_json(format!("{url}/authorize?x=1")))
        .unwrap();
    assert_eq!(resp.status, 302);
    assert_eq!(
        resp.header("location"),
        Some("http://127.0.0.1:9/elsewhere?code=x")
    );
    let sent = String::from_utf8(rx.recv().unwrap()).unwrap();
    assert!(
        sent.starts_with("GET /authorize?x=1 HTTP/1.1\r\n"),
        "{sent}"
    );
}

#[test]
fn repeated_headers_are_all_kept() {
    let (url, _rx) = one_shot(
        b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"a\"\r\nWWW-Authenticate: DPoP algs=\"ES256\"\r\nContent-Length: 0\r\n\r\n"
            .to_vec(),
    );
    let resp = client()
        .send(&HttpRequest::get_json(format!("{url}/mcp")))
        .unwrap();
    assert_eq!(resp.status, 401);
    let all: Vec<&str> = resp.header_all("www-authenticate").collect();
    assert_eq!(all, vec!["Bearer realm=\"a\"", "DPoP algs=\"ES256\""]);
}

#[test]
fn body_at_the_cap_is_read_and_over_the_cap_is_refused() {
    for (len, ok) in [(MAX_RESPONSE_BYTES, true), (MAX_RESPONSE_BYTES + 1, false)] {
        let mut response = format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n").into_bytes();
        response.extend(std::iter::repeat_n(b'a', len));
        let (url, _rx) = one_shot(response);
        let result = client().send(&HttpRequest::get_json(format!("{url}/big")));
        match result {
            Ok(resp) if ok => assert_eq!(resp.body.len(), len),
            Err(e) if !ok => assert_eq!(e, TransportError::too_large()),
            other => panic!("len {len}: {other:?}"),
        }
    }
}

#[test]
fn chunked_body_over_the_cap_is_refused() {
    let mut response = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    let chunk = vec![b'b'; 64 * 1024];
    for _ in 0..5 {
        response.extend(format!("{:x}\r\n", chunk.len()).into_bytes());
        response.extend(&chunk);
        response.extend(b"\r\n");
    }
    response.extend(b"0\r\n\r\n");
    let (url, _rx) = one_shot(response);
    let err = client()
        .send(&HttpRequest::get_json(format!("{url}/big")))
        .unwrap_err();
    assert_eq!(err, TransportError::too_large());
}

#[test]
fn connection_refused_is_one_line_without_the_url() {
    // Bind and drop to find a port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/token?code=SECRET-CODE");
    let err = client().send(&HttpRequest::get_json(url)).unwrap_err();
    assert_eq!(err.kind, TransportErrorKind::Connect, "{err}");
    assert!(!err.message.contains("SECRET-CODE"), "{err}");
    assert!(!err.message.contains('\n'));
    assert!(err.message.starts_with("connection failed"), "{err}");
}

#[test]
fn timeout_is_reported() {
    // Accepts and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        thread::sleep(Duration::from_millis(1500));
        drop(s);
    });
    let c = UreqClient::build(Duration::from_secs(1), Duration::from_millis(300), false);
    let err = c
        .send(&HttpRequest::get_json(format!(
            "http://127.0.0.1:{port}/slow"
        )))
        .unwrap_err();
    assert_eq!(err.kind, TransportErrorKind::Timeout, "{err}");
    assert!(err.message.starts_with("timed out"), "{err}");
    hold.join().unwrap();
}

#[test]
fn bad_url_does_not_echo_it() {
    let err = client()
        .send(&HttpRequest::get_json("not a url ?code=SECRET"))
        .unwrap_err();
    assert!(!err.message.contains("SECRET"), "{err}");
}

#[test]
fn closures_are_clients() {
    let c = |req: &HttpRequest| -> Result<HttpResponse, mcp_oauth_core::TransportError> {
        Ok(HttpResponse::status(if req.method == Method::Post {
            201
        } else {
            204
        }))
    };
    assert_eq!(
        c.send(&HttpRequest::get_json("http://x/")).unwrap().status,
        204
    );
    let debug = format!("{:?}", client());
    assert_eq!(debug, "UreqClient { .. }");
}
