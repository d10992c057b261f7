//! The pure [`Testbed`] on real loopback sockets, for the adapters' integration tests, the
//! `mcp-oauth demo` command and the side-by-side benchmark (ARCHITECTURE.md §10, test layers).
//!
//! Each origin (MCP server, AS₁, optionally AS₂) gets its own `127.0.0.1:0` listener, bound
//! *before* the testbed is built so the testbed knows the real ports. The listener an HTTP request
//! arrives on gives the origin of its absolute URL, so the testbed routes exactly as it does
//! in-process. One thread per connection speaks a minimal HTTP/1.1 (the private `http1` module) with keep-alive,
//! because HTTP clients pool connections. The testbed sits behind a mutex and sees the real wall
//! clock: this is a test server, not the sans-IO core, so reading the clock here is fine.

mod http1;

use std::io::{BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mcp_oauth_core::{HttpRequest, HttpResponse};

use crate::testbed::{Testbed, TestbedConfig};
use http1::{encode_response, read_request, ReadOutcome};

pub use http1::MAX_BODY;

/// How long an idle keep-alive connection is kept. Long on purpose: pooled client connections
/// must not be closed under a client that is about to reuse them.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Knobs of the socket layer (the servers' behaviour is the [`TestbedConfig`]).
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// Slept before each request is answered (outside the testbed lock), to simulate latency.
    pub delay: Duration,
    /// Also serve a second authorization server (SEP-2352 migration); its origin becomes
    /// `config.as2_origin`.
    pub second_as: bool,
}

/// State shared by the acceptor and connection threads.
struct Shared {
    testbed: Mutex<Testbed>,
    stop: AtomicBool,
    delay: Duration,
    /// Live connections: their threads and a handle to shut their sockets down.
    conns: Mutex<Vec<(JoinHandle<()>, TcpStream)>>,
}

/// Locks, ignoring poisoning: a panicking assertion closure must not wedge every later request.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Seconds since the Unix epoch, the testbed's `now_wall`.
fn now_wall() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Shared {
    fn handle(&self, req: &HttpRequest) -> HttpResponse {
        lock(&self.testbed).handle(now_wall(), req)
    }
}

/// The testbed served on loopback listeners. Dropping it (or [`TestbedServer::shutdown`]) stops
/// accepting, closes every connection and joins every thread.
pub struct TestbedServer {
    shared: Arc<Shared>,
    listeners: Vec<SocketAddr>,
    acceptors: Vec<JoinHandle<()>>,
    mcp_origin: String,
    as_origin: String,
    as2_origin: Option<String>,
}

impl std::fmt::Debug for TestbedServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestbedServer")
            .field("mcp_origin", &self.mcp_origin)
            .field("as_origin", &self.as_origin)
            .field("as2_origin", &self.as2_origin)
            .finish_non_exhaustive()
    }
}

fn bind() -> std::io::Result<(TcpListener, String)> {
    let listener = TcpListener::bind(("127.0.0.1", 0))?;
    let origin = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
    Ok((listener, origin))
}

impl TestbedServer {
    /// Binds the listeners (MCP; AS₁ unless `config.as_on_mcp_origin`, which routes the AS through
    /// the MCP listener; AS₂ when `options.second_as`, `config.as2_origin` or
    /// `config.migrate_after_first_call` asks for one), builds the testbed on their real origins
    /// and starts serving.
    pub fn start(mut config: TestbedConfig, options: ServeOptions) -> std::io::Result<Self> {
        let (mcp, mcp_origin) = bind()?;
        let mut bound = vec![(mcp, mcp_origin.clone())];
        let as_origin = if config.as_on_mcp_origin {
            mcp_origin.clone()
        } else {
            let (l, o) = bind()?;
            bound.push((l, o.clone()));
            o
        };
        let wants_as2 =
            options.second_as || config.as2_origin.is_some() || config.migrate_after_first_call;
        let as2_origin = if wants_as2 {
            let (l, o) = bind()?;
            bound.push((l, o.clone()));
            config.as2_origin = Some(o.clone());
            Some(o)
        } else {
            None
        };
        let shared = Arc::new(Shared {
            testbed: Mutex::new(Testbed::new(config, &mcp_origin, &as_origin)),
            stop: AtomicBool::new(false),
            delay: options.delay,
            conns: Mutex::new(Vec::new()),
        });
        let mut server = Self {
            shared,
            listeners: Vec::new(),
            acceptors: Vec::new(),
            mcp_origin,
            as_origin,
            as2_origin,
        };
        for (listener, origin) in bound {
            server.listeners.push(listener.local_addr()?);
            let shared = Arc::clone(&server.shared);
            let handle = thread::Builder::new()
                .name(format!("testbed-accept {origin}"))
                .spawn(move || accept_loop(&listener, &origin, &shared))?;
            server.acceptors.push(handle);
        }
        Ok(server)
    }

    /// `http://127.0.0.1:<port>/mcp`.
    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.mcp_origin)
    }

    /// The MCP origin, `http://127.0.0.1:<port>`.
    pub fn mcp_origin(&self) -> &str {
        &self.mcp_origin
    }

    /// AS₁'s origin (the MCP origin when `as_on_mcp_origin`).
    pub fn as_origin(&self) -> &str {
        &self.as_origin
    }

    /// AS₂'s origin, when one is served.
    pub fn as2_origin(&self) -> Option<&str> {
        self.as2_origin.as_deref()
    }

    /// Runs `f` on the testbed under its lock: assertions on the log and violations, and knobs
    /// such as [`Testbed::expire_all_access_tokens`]. Requests wait meanwhile.
    pub fn with_testbed<R>(&self, f: impl FnOnce(&mut Testbed) -> R) -> R {
        f(&mut lock(&self.shared.testbed))
    }

    /// Stops accepting, closes every connection and joins every thread (also done on drop).
    pub fn shutdown(self) {}

    fn stop(&mut self) {
        if self.shared.stop.swap(true, Ordering::SeqCst) {
            return;
        }
        // Wake each acceptor blocked in `accept` with a throwaway connection.
        for addr in &self.listeners {
            let _ = TcpStream::connect_timeout(addr, Duration::from_secs(1));
        }
        for handle in self.acceptors.drain(..) {
            let _ = handle.join();
        }
        // Acceptors are gone, so no connection can be added while these are closed.
        let conns = std::mem::take(&mut *lock(&self.shared.conns));
        for (handle, stream) in conns {
            let _ = stream.shutdown(Shutdown::Both);
            let _ = handle.join();
        }
    }
}

impl Drop for TestbedServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(listener: &TcpListener, origin: &str, shared: &Arc<Shared>) {
    for incoming in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = incoming else {
            // Out of descriptors and the like: back off instead of spinning.
            thread::sleep(Duration::from_millis(10));
            continue;
        };
        let Ok(control) = stream.try_clone() else {
            continue;
        };
        let conn_shared = Arc::clone(shared);
        let conn_origin = origin.to_string();
        let spawned = thread::Builder::new()
            .name("testbed-conn".into())
            .spawn(move || serve_connection(stream, &conn_origin, &conn_shared));
        if let Ok(handle) = spawned {
            let mut conns = lock(&shared.conns);
            // Finished threads need no join; forget them so the list stays short.
            conns.retain(|(h, _)| !h.is_finished());
            conns.push((handle, control));
        }
    }
}

/// Answers requests on one connection until `Connection: close`, EOF, the idle timeout, a
/// malformed request or shutdown.
fn serve_connection(stream: TcpStream, origin: &str, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::new(stream);
    answer_requests(&mut reader, origin, shared);
    // The acceptor holds a clone of this socket, so dropping ours would not close it.
    let _ = reader.get_ref().shutdown(Shutdown::Both);
}

fn answer_requests(reader: &mut BufReader<TcpStream>, origin: &str, shared: &Shared) {
    while !shared.stop.load(Ordering::SeqCst) {
        let (resp, keep_alive) = match read_request(reader) {
            ReadOutcome::Closed => return,
            ReadOutcome::Bad(status) => (HttpResponse::status(status), false),
            ReadOutcome::Request(raw) => {
                let keep_alive = raw.keep_alive();
                let resp = match raw.into_http_request(origin) {
                    Ok(req) => {
                        if !shared.delay.is_zero() {
                            thread::sleep(shared.delay);
                        }
                        shared.handle(&req)
                    }
                    Err(resp) => resp,
                };
                (resp, keep_alive)
            }
        };
        let out = encode_response(&resp, keep_alive);
        if reader.get_mut().write_all(&out).is_err() || !keep_alive {
            return;
        }
    }
}
