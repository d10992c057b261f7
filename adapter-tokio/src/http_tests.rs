//! The reqwest client against a scripted loopback server: statuses pass through untouched,
//! redirects are not followed, bodies are capped, failures are one line.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

/// Serves one connection: reads the request head and `Content-Length` body, answers `reply`,
/// and returns the raw request bytes.
async fn serve_once(reply: Vec<u8>) -> (String, tokio::task::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = s.read(&mut chunk).await.unwrap();
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let len = text[..end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if buf.len() >= end + 4 + len {
                    break;
                }
            }
            if n == 0 {
                break;
            }
        }
        s.write_all(&reply).await.unwrap();
        let _ = s.shutdown().await;
        buf
    });
    (base, task)
}

fn client() -> ReqwestClient {
    ReqwestClient::build(Duration::from_secs(5), Duration::from_secs(5), false).unwrap()
}

#[tokio::test]
async fn redirect_is_returned_not_followed() {
    let (base, server) = serve_once(
        b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/callback?code=c&state=s\r\nContent-Length: 0\r\n\r\n".to_vec(),
    )
    .await;
    let resp = client()
        .send(&HttpRequest::get_json(format!("{base}/authorize?x=1")))
        .await
        .unwrap();
    assert_eq!(resp.status, 302);
    assert_eq!(
        resp.header("location"),
        Some("http://127.0.0.1:1/callback?code=c&state=s")
    );
    let raw = String::from_utf8(server.await.unwrap()).unwrap();
    assert!(raw.starts_with("GET /authorize?x=1 HTTP/1.1\r\n"), "{raw}");
    assert!(raw
        .to_ascii_lowercase()
        .contains("accept: application/json\r\n"));
}

#[tokio::test]
async fn error_status_and_body_come_back_and_post_body_is_sent() {
    let body = br#"{"error":"invalid_grant"}"#;
    let reply = format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
        body.len(),
        String::from_utf8_lossy(body)
    );
    let (base, server) = serve_once(reply.into_bytes()).await;
    let req = HttpRequest::post_form(
        format!("{base}/token"),
        &[("grant_type", "refresh_token"), ("refresh_token", "rt-1")],
    );
    let resp = client().send(&req).await.unwrap();
    assert_eq!(resp.status, 400);
    assert_eq!(resp.body, body);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    let raw = String::from_utf8(server.await.unwrap()).unwrap();
    assert!(raw.starts_with("POST /token HTTP/1.1\r\n"), "{raw}");
    assert!(raw
        .to_ascii_lowercase()
        .contains("content-type: application/x-www-form-urlencoded\r\n"));
    assert!(raw.ends_with("\r\n\r\ngrant_type=refresh_token&refresh_token=rt-1"));
}

#[tokio::test]
async fn declared_oversize_body_is_refused() {
    let len = MAX_RESPONSE_BYTES + 1;
    let mut reply = format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n").into_bytes();
    reply.extend(std::iter::repeat_n(b'a', len));
    let (base, _server) = serve_once(reply).await;
    let err = client()
        .send(&HttpRequest::get_json(format!("{base}/big")))
        .await
        .unwrap_err();
    assert_eq!(err, TransportError::too_large());
}

#[tokio::test]
async fn streamed_oversize_body_is_cut_at_the_cap() {
    // No Content-Length: the body ends when the server closes; the cap must still hold.
    let mut reply = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec();
    reply.extend(std::iter::repeat_n(b'{', MAX_RESPONSE_BYTES + 10));
    let (base, _server) = serve_once(reply).await;
    let err = client()
        .send(&HttpRequest::get_json(format!("{base}/stream")))
        .await
        .unwrap_err();
    assert_eq!(err, TransportError::too_large());
}

#[tokio::test]
async fn body_at_the_cap_is_accepted() {
    let mut reply =
        format!("HTTP/1.1 200 OK\r\nContent-Length: {MAX_RESPONSE_BYTES}\r\n\r\n").into_bytes();
    reply.extend(std::iter::repeat_n(b'x', MAX_RESPONSE_BYTES));
    let (base, _server) = serve_once(reply).await;
    let resp = client()
        .send(&HttpRequest::get_json(format!("{base}/exact")))
        .await
        .unwrap();
    assert_eq!(resp.body.len(), MAX_RESPONSE_BYTES);
}

#[tokio::test]
async fn connection_refused_is_one_line_without_url() {
    // Bind then drop to get a port that refuses connections.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = client()
        .send(&HttpRequest::get_json(format!(
            "http://127.0.0.1:{port}/token?secret-query=1"
        )))
        .await
        .unwrap_err();
    assert_eq!(err.kind, TransportErrorKind::Connect, "{err}");
    assert!(err.message.starts_with("connection failed"), "{err}");
    assert!(!err.message.contains('\n'));
    assert!(!err.message.contains("secret-query"), "{err}");
}

#[tokio::test]
async fn overall_timeout_applies() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    // Accept and hold the connection without answering.
    let _hold = tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(10)).await;
        drop(s);
    });
    let c =
        ReqwestClient::build(Duration::from_secs(5), Duration::from_millis(200), false).unwrap();
    let started = std::time::Instant::now();
    let err = c
        .send(&HttpRequest::get_json(format!("{base}/slow")))
        .await
        .unwrap_err();
    assert_eq!(err.kind, TransportErrorKind::Timeout, "{err}");
    assert!(err.message.starts_with("timed out"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn debug_is_opaque() {
    assert_eq!(format!("{:?}", client()), "ReqwestClient { .. }");
}
