//! The loopback listener under the traffic a real machine sends it (ARCHITECTURE.md §5): idle
//! speculative connections, a slowloris peer, favicon and probe requests, wrong methods, forged
//! `state`, TLS handshakes and oversized heads must each get their answer (or be dropped) without
//! ever delaying the real callback.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use mcp_oauth_blocking::LoopbackListener;
use mcp_oauth_core::StateToken;

const STATE: &str = "st-GOOD-0123456789";

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// Sends `bytes` on a fresh connection and returns the status code of the answer.
fn status_of(port: u16, bytes: &[u8]) -> u16 {
    let mut s = connect(port);
    s.write_all(bytes).unwrap();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|t| t.get(..3))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "no HTTP answer to {:?}: {text:?}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(40)])
            )
        });
    assert!(text.contains("\r\nConnection: close\r\n"), "{text}");
    assert!(text.contains("\r\nCache-Control: no-store\r\n"), "{text}");
    status
}

/// One full attack sequence against a fresh listener; returns the delivered callback query.
fn attack_run() -> String {
    let listener = LoopbackListener::bind(0).unwrap();
    let port = listener.port();
    assert_eq!(
        listener.redirect_uri(),
        format!("http://127.0.0.1:{port}/callback")
    );
    listener.expect_state(StateToken::new(STATE));

    // Three idle preconnects and one slowloris stay open the whole run.
    let idle: Vec<TcpStream> = (0..3).map(|_| connect(port)).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let slow_stop = Arc::clone(&stop);
    let slowloris = thread::spawn(move || {
        let mut s = connect(port);
        for b in b"GET /callback?code=slow&state=st-GOOD-0123456789 HTTP/1.1\r\nHost: x\r\n\r\n" {
            if slow_stop.load(Ordering::SeqCst) || s.write_all(&[*b]).is_err() {
                return;
            }
            // 500 ms between bytes, checking the stop flag often.
            for _ in 0..50 {
                if slow_stop.load(Ordering::SeqCst) {
                    return;
                }
                thread::sleep(Duration::from_millis(10));
            }
        }
    });

    assert_eq!(
        status_of(
            port,
            b"GET /favicon.ico HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        ),
        404
    );
    assert_eq!(
        status_of(
            port,
            format!("HEAD /callback?code=c&state={STATE} HTTP/1.1\r\n\r\n").as_bytes()
        ),
        405
    );
    assert_eq!(
        status_of(
            port,
            format!("POST /callback?code=c&state={STATE} HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
                .as_bytes()
        ),
        405
    );
    assert_eq!(
        status_of(
            port,
            b"GET /callback?code=forged&state=st-EVIL HTTP/1.1\r\n\r\n"
        ),
        400
    );
    // A TLS 1.2 ClientHello prefix (someone tried https://127.0.0.1:port).
    assert_eq!(
        status_of(
            port,
            &[0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03]
        ),
        400
    );
    let mut huge = format!("GET /callback?code=c&state={STATE} HTTP/1.1\r\nX-Pad: ").into_bytes();
    huge.extend(std::iter::repeat_n(b'a', 20 * 1024));
    huge.extend(b"\r\n\r\n");
    assert_eq!(status_of(port, &huge), 431);

    // None of that reached the flow.
    assert_eq!(listener.recv_callback(Duration::from_millis(1)), None);

    let real = format!("GET /callback?code=REAL-CODE&state={STATE}&iss=https%3A%2F%2Fas HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert_eq!(status_of(port, real.as_bytes()), 200);
    let query = listener
        .recv_callback(Duration::from_secs(5))
        .expect("the real callback is delivered");

    stop.store(true, Ordering::SeqCst);
    slowloris.join().unwrap();
    drop(idle);
    query
}

#[test]
fn attack_sequence_twenty_times_never_stalls() {
    for run in 0..20 {
        let (tx, rx) = mpsc::channel();
        let started = Instant::now();
        thread::spawn(move || tx.send(attack_run()).unwrap());
        match rx.recv_timeout(Duration::from_secs(15)) {
            Ok(query) => assert_eq!(
                query,
                format!("code=REAL-CODE&state={STATE}&iss=https%3A%2F%2Fas")
            ),
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("run {run} stalled"),
            Err(e) => panic!("run {run} failed: {e}"),
        }
        // The callback does not wait for the idle connections' deadline.
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "run {run} took {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn callbacks_are_refused_until_a_state_is_expected() {
    let listener = LoopbackListener::bind(0).unwrap();
    let port = listener.port();
    assert_eq!(
        status_of(port, b"GET /callback?code=c&state= HTTP/1.1\r\n\r\n"),
        400
    );
    assert_eq!(
        status_of(port, b"GET /callback?code=c&state=x HTTP/1.1\r\n\r\n"),
        400
    );
    assert_eq!(listener.recv_callback(Duration::from_millis(50)), None);
    listener.expect_state(StateToken::new("x"));
    assert_eq!(
        status_of(port, b"GET /callback?code=c&state=x HTTP/1.1\r\n\r\n"),
        200
    );
    assert_eq!(
        listener.recv_callback(Duration::from_secs(5)).as_deref(),
        Some("code=c&state=x")
    );
}

#[test]
fn an_idle_connection_is_dropped_after_the_head_deadline() {
    let listener = LoopbackListener::bind(0).unwrap();
    let mut s = connect(listener.port());
    let started = Instant::now();
    let mut buf = [0u8; 16];
    // The server closes without answering once HEAD_READ_TIMEOUT (3 s) has passed.
    let n = s.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(2900), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
}

#[test]
fn a_slowloris_head_is_cut_at_the_deadline_not_per_read() {
    let listener = LoopbackListener::bind(0).unwrap();
    listener.expect_state(StateToken::new(STATE));
    let mut s = connect(listener.port());
    let started = Instant::now();
    // A byte every 200 ms: every read succeeds well within any per-read timeout, but the head
    // (about 50 bytes, 10 s at this pace) cannot arrive before the 3 s head deadline.
    let request = format!("GET /callback?code=c&state={STATE} HTTP/1.1\r\n\r\n");
    for b in request.bytes() {
        if started.elapsed() > Duration::from_millis(3500) || s.write_all(&[b]).is_err() {
            break;
        }
        thread::sleep(Duration::from_millis(200));
    }
    // By now the server must have closed: a read ends at once (EOF or reset), no timeout.
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("connection still open after the head deadline: {other:?}"),
    }
    assert_eq!(listener.recv_callback(Duration::from_millis(10)), None);
}

#[test]
fn a_hundred_idle_connections_do_not_block_the_callback() {
    let listener = LoopbackListener::bind(0).unwrap();
    listener.expect_state(StateToken::new(STATE));
    let port = listener.port();
    let idle: Vec<TcpStream> = (0..100).map(|_| connect(port)).collect();
    let started = Instant::now();
    let real = format!("GET /callback?code=c&state={STATE} HTTP/1.1\r\n\r\n");
    assert_eq!(status_of(port, real.as_bytes()), 200);
    assert!(listener.recv_callback(Duration::from_secs(5)).is_some());
    assert!(started.elapsed() < Duration::from_secs(2));
    drop(idle);
}

#[test]
fn stop_closes_the_port_and_delivers_nothing_more() {
    let listener = LoopbackListener::bind(0).unwrap();
    let port = listener.port();
    listener.expect_state(StateToken::new("x"));
    listener.stop();
    listener.stop(); // idempotent
                     // The accept thread drops the socket as soon as the wake-up connection reaches it.
    let deadline = Instant::now() + Duration::from_secs(2);
    while TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(
            Instant::now() < deadline,
            "port {port} still accepting after stop"
        );
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(listener.recv_callback(Duration::from_millis(50)), None);
}

/// A step-up login prefers the port its registration names: right after `stop` returns, that
/// port must be free again, every time (an asynchronous close made the rebind fail at random
/// and the client registered again under a new redirect URI).
#[test]
fn stop_releases_the_port_before_returning() {
    let first = LoopbackListener::bind(0).unwrap();
    let port = first.port();
    first.stop();
    drop(first);
    for round in 0..50 {
        let again = LoopbackListener::bind(port)
            .unwrap_or_else(|e| panic!("round {round}: port {port} still taken: {e}"));
        again.stop();
    }
}
