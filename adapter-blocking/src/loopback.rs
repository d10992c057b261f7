//! The loopback effect: a one-shot HTTP listener on `127.0.0.1` for the authorization response
//! (RFC 8252 §7.3, §8.3).
//!
//! Browsers open speculative connections that send nothing, and anything on the machine can
//! connect, so the accept loop runs on its own thread and every connection gets its own thread
//! with an overall [`HEAD_READ_TIMEOUT`] deadline for its request head, enforced by shrinking
//! `set_read_timeout` before every read (a per-read timeout alone lets a slowloris peer sending
//! a byte every 500 ms hold a thread forever). At most
//! [`MAX_CONNECTIONS`](mcp_oauth_core::loopback::MAX_CONNECTIONS) are held; when full,
//! the core's [`ConnectionTable`] names the connection to close for the new one, so idle
//! connections cannot starve the callback. The HTTP decisions are the core's
//! ([`head_progress`], [`route`], [`response`]); this module only moves bytes. Only a
//! `GET /callback` carrying the expected `state` is passed on; everything else is answered and
//! forgotten.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::thread;
use std::time::{Duration, Instant};

use mcp_oauth_core::loopback::{
    could_be_http, head_progress, response, route_pending, Admission, ConnectionId,
    ConnectionTable, HeadProgress, Phase, Route, HEAD_READ_TIMEOUT, MAX_HEAD_BYTES,
};
use mcp_oauth_core::StateToken;

/// The path the listener serves; the redirect URI is `http://127.0.0.1:<port>/callback`.
pub const CALLBACK_PATH: &str = "/callback";

/// Bound on writing a response: the pages are small, so only a peer that never reads stalls.
const WRITE_TIMEOUT: Duration = Duration::from_secs(3);

/// After answering, keep reading (and discarding) for this long so unread request bytes do not
/// turn the close into a reset that destroys the response (a "lingering close", as HTTP servers
/// do; it matters for the 431 answer to an oversized head).
const LINGER: Duration = Duration::from_secs(1);
const LINGER_MAX_BYTES: usize = 64 * 1024;

/// Bound on each half of [`LoopbackListener::stop`]: waking the accept loop, and waiting for
/// it to drop the socket.
const STOP_WAIT: Duration = Duration::from_secs(1);

/// Stack of a connection thread: it holds a 2 KiB read buffer and an 8 KiB head at most.
const CONNECTION_STACK: usize = 128 * 1024;

/// Where accepted callback queries go.
pub(crate) type Sink = Arc<dyn Fn(String) + Send + Sync>;

/// A running loopback listener. Dropping it (or [`stop`](Self::stop)) stops accepting; open
/// connections finish on their own deadlines and deliver nothing after the stop.
///
/// ```no_run
/// use mcp_oauth_blocking::LoopbackListener;
/// use std::time::Duration;
///
/// let listener = LoopbackListener::bind(0)?;
/// println!("redirect_uri = {}", listener.redirect_uri());
/// listener.expect_state(mcp_oauth_core::StateToken::new("the-state"));
/// if let Some(query) = listener.recv_callback(Duration::from_secs(300)) {
///     println!("callback received ({} bytes of query)", query.len());
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct LoopbackListener {
    port: u16,
    redirect_uri: String,
    shared: Arc<Shared>,
    callbacks: Option<Mutex<mpsc::Receiver<String>>>,
}

struct Shared {
    /// Disconnects when the accept thread has dropped the listening socket.
    closed: Mutex<mpsc::Receiver<()>>,
    state: RwLock<Option<StateToken>>,
    stop: AtomicBool,
    connections: Mutex<Connections>,
    sink: Sink,
}

/// The core's table of held connections, and a handle on each socket to close it when the
/// table evicts it (shutting a clone down wakes the connection thread's blocked read).
#[derive(Default)]
struct Connections {
    table: ConnectionTable,
    sockets: HashMap<ConnectionId, TcpStream>,
}

impl Shared {
    fn connections(&self) -> MutexGuard<'_, Connections> {
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers an accepted connection; `None` when it must be closed at once.
    fn admit(&self, stream: &TcpStream) -> Option<ConnectionId> {
        let handle = stream.try_clone().ok()?;
        let mut conns = self.connections();
        let Admission::Admit { id, evict } = conns.table.admit() else {
            return None;
        };
        if let Some(victim) = evict {
            if let Some(socket) = conns.sockets.remove(&victim) {
                let _ = socket.shutdown(Shutdown::Both);
            }
        }
        conns.sockets.insert(id, handle);
        Some(id)
    }

    /// Moves `id` to `phase`; `false` when it was evicted meanwhile.
    fn advance(&self, id: ConnectionId, phase: Phase) -> bool {
        self.connections().table.advance(id, phase)
    }

    fn release(&self, id: ConnectionId) {
        let mut conns = self.connections();
        conns.table.release(id);
        conns.sockets.remove(&id);
    }
}

impl std::fmt::Debug for LoopbackListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopbackListener")
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

impl LoopbackListener {
    /// Listens on `127.0.0.1:port` (`0` = an ephemeral port chosen by the OS); callbacks are
    /// read with [`recv_callback`](Self::recv_callback).
    pub fn bind(port: u16) -> io::Result<Self> {
        let (tx, rx) = mpsc::channel();
        let mut listener = Self::bind_with(
            port,
            Arc::new(move |query| {
                let _ = tx.send(query);
            }),
        )?;
        listener.callbacks = Some(Mutex::new(rx));
        Ok(listener)
    }

    /// Listens and hands every accepted callback query to `sink` (the driver's wake channel).
    pub(crate) fn bind_with(port: u16, sink: Sink) -> io::Result<Self> {
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?;
        let port = listener.local_addr()?.port();
        let (closed_tx, closed) = mpsc::channel::<()>();
        let shared = Arc::new(Shared {
            closed: Mutex::new(closed),
            state: RwLock::new(None),
            stop: AtomicBool::new(false),
            connections: Mutex::new(Connections::default()),
            sink,
        });
        let accept_shared = Arc::clone(&shared);
        thread::Builder::new()
            .name("mcp-oauth-loopback".into())
            .spawn(move || {
                // Dropped after `accept_loop` has dropped the socket: `stop` waits for it.
                let _closed = closed_tx;
                accept_loop(listener, accept_shared);
            })?;
        Ok(Self {
            port,
            redirect_uri: format!("http://127.0.0.1:{port}{CALLBACK_PATH}"),
            shared,
            callbacks: None,
        })
    }

    /// The port rule of the adapter design: a configured `fixed` port must be used (its
    /// failure is an error); otherwise the `preferred` port of a stored registration when free,
    /// else an ephemeral port.
    pub(crate) fn bind_for(
        fixed: Option<u16>,
        preferred: Option<u16>,
        sink: Sink,
    ) -> io::Result<Self> {
        if let Some(port) = fixed {
            return Self::bind_with(port, sink);
        }
        if let Some(port) = preferred.filter(|p| *p != 0) {
            if let Ok(listener) = Self::bind_with(port, Arc::clone(&sink)) {
                return Ok(listener);
            }
        }
        Self::bind_with(0, sink)
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>/callback`, the exact redirect URI to register and send.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Sets the `state` a callback must carry. Until it is set, every callback is refused
    /// (`400`), since no authorization request has been sent yet.
    pub fn expect_state(&self, state: StateToken) {
        *self
            .shared
            .state
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(state);
    }

    /// The next accepted callback's raw query string (`code=..&state=..`), waiting at most
    /// `timeout`. `None` on timeout (always `None` for a listener whose callbacks go elsewhere).
    pub fn recv_callback(&self, timeout: Duration) -> Option<String> {
        let rx = self
            .callbacks
            .as_ref()?
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        rx.recv_timeout(timeout).ok()
    }

    /// Stops accepting and stops delivering callbacks. Idempotent. Returns once the listening
    /// socket is closed (bounded by one second), so a next login can bind the same
    /// registered port again at once.
    pub fn stop(&self) {
        if !self.shared.stop.swap(true, Ordering::SeqCst) {
            // Wake the accept loop blocked in `accept` so it sees the flag and drops the socket.
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
            let woken = TcpStream::connect_timeout(&addr, STOP_WAIT).is_ok();
            if woken {
                let closed = self
                    .shared
                    .closed
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                let _ = closed.recv_timeout(STOP_WAIT);
            }
        }
    }
}

impl Drop for LoopbackListener {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = conn else {
            // Transient accept errors (EMFILE, aborted handshakes): back off briefly.
            thread::sleep(Duration::from_millis(10));
            continue;
        };
        // Every slot answering: dropped, closed at once.
        let Some(id) = shared.admit(&stream) else {
            continue;
        };
        let conn_shared = Arc::clone(&shared);
        let spawned = thread::Builder::new()
            .name("mcp-oauth-loopback-conn".into())
            .stack_size(CONNECTION_STACK)
            .spawn(move || {
                let _slot = Slot(&conn_shared, id);
                serve(stream, &conn_shared, id);
            });
        if spawned.is_err() {
            // The closure (and its Slot) never ran.
            shared.release(id);
        }
    }
}

/// Frees a connection slot when the connection thread ends, even by panic.
struct Slot<'a>(&'a Shared, ConnectionId);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.release(self.1);
    }
}

/// One connection: read the head under a deadline, answer, pass on a valid callback, close.
/// Evicted by the table (see [`ConnectionTable`]) while reading or lingering, its socket is
/// shut down under it and the read ends.
fn serve(mut stream: TcpStream, shared: &Shared, id: ConnectionId) {
    let deadline = Instant::now() + HEAD_READ_TIMEOUT;
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let mut buf = Vec::with_capacity(1024);
    let route = match read_head(&mut stream, &mut buf, deadline) {
        // Idle preconnect, slowloris, or a peer that hung up: nothing to answer.
        Head::Gone => return,
        Head::TooLarge => Route::HeadTooLarge,
        Head::NotHttp => Route::BadRequest,
        Head::Complete(len) => route_head(buf.get(..len).unwrap_or(&buf), shared),
    };
    // Evicted while its head arrived: the socket is shut, but a callback read whole still
    // counts.
    let evicted = !shared.advance(id, Phase::Answering);
    if let Route::Callback { query } = &route {
        if !shared.stop.load(Ordering::SeqCst) {
            (shared.sink)(query.clone());
        }
    }
    if evicted {
        return;
    }
    let _ = stream
        .write_all(&response(&route))
        .and_then(|()| stream.flush());
    let _ = stream.shutdown(Shutdown::Write);
    shared.advance(id, Phase::Lingering);
    linger(&mut stream);
}

fn route_head(head: &[u8], shared: &Shared) -> Route {
    let expected = shared.state.read().unwrap_or_else(PoisonError::into_inner);
    route_pending(head, CALLBACK_PATH, expected.as_ref())
}

enum Head {
    Complete(usize),
    TooLarge,
    NotHttp,
    Gone,
}

fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>, deadline: Instant) -> Head {
    let mut chunk = [0u8; 2048];
    loop {
        match head_progress(buf) {
            HeadProgress::Complete { head_len } => return Head::Complete(head_len),
            HeadProgress::TooLarge => return Head::TooLarge,
            HeadProgress::Incomplete => {}
        }
        if !could_be_http(buf) {
            // A TLS ClientHello or other binary never ends in CRLF CRLF: answer now rather
            // than hold the connection until the deadline.
            return Head::NotHttp;
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        // `set_read_timeout(Some(0))` is an error, so an expired deadline ends here.
        if remaining.is_zero() || stream.set_read_timeout(Some(remaining)).is_err() {
            return Head::Gone;
        }
        let room = MAX_HEAD_BYTES
            .saturating_sub(buf.len())
            .clamp(1, chunk.len());
        let window = chunk.get_mut(..room).unwrap_or(&mut []);
        match stream.read(window) {
            Ok(0) => return Head::Gone,
            Ok(n) => buf.extend_from_slice(window.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Head::Gone, // WouldBlock/TimedOut: the deadline passed
        }
    }
}

/// Reads and discards what the peer still sends, for at most [`LINGER`].
fn linger(stream: &mut TcpStream) {
    let deadline = Instant::now() + LINGER;
    let mut sink = [0u8; 4096];
    let mut total = 0usize;
    while total < LINGER_MAX_BYTES {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() || stream.set_read_timeout(Some(remaining)).is_err() {
            return;
        }
        match stream.read(&mut sink) {
            Ok(0) => return,
            Ok(n) => total += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}
