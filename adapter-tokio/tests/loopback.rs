//! The loopback listener under the abuse a real machine produces: idle speculative
//! preconnects, a slowloris, probes, forged callbacks, TLS handshakes and huge heads must all be
//! answered or dropped without delaying the real callback (ARCHITECTURE.md §5).
//! Everything runs on 127.0.0.1 with an ephemeral port.

use std::time::{Duration, Instant};

use mcp_oauth_core::loopback::HEAD_READ_TIMEOUT;
use mcp_oauth_core::StateToken;
use mcp_oauth_tokio::LoopbackListener;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const STATE: &str = "st4te-Zx9";

/// Sends `bytes` on a new connection and returns the response's status line.
async fn status_line(port: u16, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(bytes).await.unwrap();
    let mut response = Vec::new();
    s.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    text.lines().next().unwrap_or_default().to_owned()
}

fn get(target: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: test\r\n\r\n").into_bytes()
}

/// A TLS 1.2 ClientHello prefix: what a browser sends to an `https://127.0.0.1` URL.
fn tls_client_hello() -> Vec<u8> {
    let mut b = vec![
        0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03,
    ];
    b.extend((0u8..32).map(|i| i.wrapping_mul(37)));
    b.extend([0x00, 0x00, 0x20, 0xc0, 0x2b, 0xc0, 0x2f]);
    b
}

/// A head of about 20 KB: far over the 8 KiB cap.
fn huge_head() -> Vec<u8> {
    let pad = "a".repeat(20 * 1024);
    format!("GET /callback?code=c&state={STATE} HTTP/1.1\r\nHost: x\r\nX-Pad: {pad}\r\n\r\n")
        .into_bytes()
}

async fn one_run() {
    let mut listener = LoopbackListener::bind(0).await.unwrap();
    let port = listener.port();
    assert_eq!(
        listener.redirect_uri(),
        format!("http://127.0.0.1:{port}/callback")
    );
    listener.expect_state(StateToken::new(STATE));

    // Three idle preconnects and one slowloris, all held open for the whole run.
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    }
    let slowloris = tokio::spawn(async move {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        for byte in b"GET /callback?code=x&state=".iter().cycle() {
            if s.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });

    assert_eq!(
        status_line(port, &get("/favicon.ico")).await,
        "HTTP/1.1 404 Not Found"
    );
    let head = format!("HEAD /callback?code=c&state={STATE} HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        status_line(port, head.as_bytes()).await,
        "HTTP/1.1 405 Method Not Allowed"
    );
    let post = format!(
        "POST /callback?code=c&state={STATE} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
    );
    assert_eq!(
        status_line(port, post.as_bytes()).await,
        "HTTP/1.1 405 Method Not Allowed"
    );
    assert_eq!(
        status_line(port, &get("/callback?code=c&state=forged")).await,
        "HTTP/1.1 400 Bad Request"
    );
    assert_eq!(
        status_line(port, &tls_client_hello()).await,
        "HTTP/1.1 400 Bad Request"
    );
    assert_eq!(
        status_line(port, &huge_head()).await,
        "HTTP/1.1 431 Request Header Fields Too Large"
    );

    // Nothing so far counted as the callback.
    let early = tokio::time::timeout(Duration::from_millis(20), listener.next_callback()).await;
    assert!(early.is_err(), "no callback yet");

    let query = format!("code=the-code&state={STATE}&iss=https%3A%2F%2Fas.example.com");
    assert_eq!(
        status_line(port, &get(&format!("/callback?{query}"))).await,
        "HTTP/1.1 200 OK"
    );
    let got = tokio::time::timeout(Duration::from_secs(2), listener.next_callback())
        .await
        .expect("callback delivered")
        .expect("listener running");
    assert_eq!(got, query);

    slowloris.abort();
    drop(idle);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attacks_never_stall_the_real_callback_20_runs() {
    for run in 0..20 {
        let started = Instant::now();
        tokio::time::timeout(Duration::from_secs(10), one_run())
            .await
            .unwrap_or_else(|_| panic!("run {run} stalled"));
        // Far below the head deadline: nothing waited for the idle connections.
        assert!(
            started.elapsed() < HEAD_READ_TIMEOUT,
            "run {run} took {:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn idle_connections_are_dropped_after_the_head_deadline() {
    let listener = LoopbackListener::bind(0).await.unwrap();
    let mut idle = TcpStream::connect(("127.0.0.1", listener.port()))
        .await
        .unwrap();
    let mut partial = TcpStream::connect(("127.0.0.1", listener.port()))
        .await
        .unwrap();
    partial.write_all(b"GET /callback?code=").await.unwrap();
    let started = Instant::now();
    for s in [&mut idle, &mut partial] {
        let mut buf = Vec::new();
        let n = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf))
            .await
            .expect("closed by the server")
            .unwrap_or(0);
        assert_eq!(n, 0, "closed without an answer");
    }
    let waited = started.elapsed();
    assert!(
        waited >= HEAD_READ_TIMEOUT - Duration::from_millis(100) && waited < Duration::from_secs(6),
        "{waited:?}"
    );
}

#[tokio::test]
async fn callbacks_before_the_state_is_known_are_refused() {
    let mut listener = LoopbackListener::bind(0).await.unwrap();
    let port = listener.port();
    for target in [
        "/callback?code=c&state=",
        "/callback?code=c&state=guess",
        "/callback",
    ] {
        assert_eq!(
            status_line(port, &get(target)).await,
            "HTTP/1.1 400 Bad Request",
            "{target}"
        );
    }
    let early = tokio::time::timeout(Duration::from_millis(50), listener.next_callback()).await;
    assert!(early.is_err());
    // Absolute-form targets and bare-LF heads are accepted once the state is set.
    listener.expect_state(StateToken::new(STATE));
    let absolute =
        format!("GET http://127.0.0.1:{port}/callback?code=c&state={STATE} HTTP/1.1\n\n");
    assert_eq!(
        status_line(port, absolute.as_bytes()).await,
        "HTTP/1.1 200 OK"
    );
    assert_eq!(
        listener.next_callback().await.as_deref(),
        Some(format!("code=c&state={STATE}").as_str())
    );
}

#[tokio::test]
async fn dropping_the_listener_frees_the_port_and_closes_connections() {
    let listener = LoopbackListener::bind(0).await.unwrap();
    let port = listener.port();
    let mut held = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    drop(listener);
    let mut buf = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(2), held.read_to_end(&mut buf))
        .await
        .expect("connection task aborted with the listener")
        .unwrap_or(0);
    assert_eq!(n, 0);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let again = LoopbackListener::bind(port).await.expect("port reusable");
    assert_eq!(again.port(), port);
}

/// A step-up login prefers the port its registration names: once `close` returns, that port
/// must be free again, every time (an aborted accept task releases its socket only when the
/// runtime gets to it, which made the rebind fail at random).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_releases_the_port_before_returning() {
    let first = LoopbackListener::bind(0).await.unwrap();
    let port = first.port();
    first.close().await;
    for round in 0..50 {
        let again = LoopbackListener::bind(port)
            .await
            .unwrap_or_else(|e| panic!("round {round}: port {port} still taken: {e}"));
        again.close().await;
    }
}
