//! The loopback effect: a one-shot HTTP listener on `127.0.0.1` for the authorization response
//! (RFC 8252 §7.3, §8.3).
//!
//! Browsers open speculative connections that send nothing, and anything on the machine can
//! connect, so every connection gets its own task and a [`HEAD_READ_TIMEOUT`] deadline for its
//! request head. At most
//! [`MAX_CONNECTIONS`](mcp_oauth_core::loopback::MAX_CONNECTIONS) are held; when full, the
//! core's [`ConnectionTable`] names the connection whose task is aborted for the new one, so
//! idle connections cannot starve the callback. The HTTP decisions are the core's
//! ([`head_progress`], [`route`], [`response`]); this module only moves bytes. Only a
//! `GET /callback` carrying the expected `state` is passed on; everything else is answered and
//! forgotten.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use mcp_oauth_core::loopback::{
    could_be_http, head_progress, response, route_pending, Admission, ConnectionId,
    ConnectionTable, HeadProgress, Phase, Route, HEAD_READ_TIMEOUT, MAX_HEAD_BYTES,
};
use mcp_oauth_core::StateToken;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::{AbortHandle, JoinHandle, JoinSet};

/// The path the listener serves; the redirect URI is `http://127.0.0.1:<port>/callback`.
pub const CALLBACK_PATH: &str = "/callback";

/// Bound on writing a response: the pages are small, so only a peer that never reads stalls.
const WRITE_TIMEOUT: Duration = Duration::from_secs(3);

/// After answering, keep reading (and discarding) for this long so unread request bytes do not
/// turn the close into a reset that destroys the response (a "lingering close", as HTTP servers
/// do; it matters for the 431 answer to an oversized head).
const LINGER: Duration = Duration::from_secs(1);
const LINGER_MAX_BYTES: usize = 64 * 1024;

/// A running loopback listener. Dropping it stops the listener and every open connection.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use mcp_oauth_tokio::LoopbackListener;
///
/// let mut listener = LoopbackListener::bind(0).await?;
/// println!("redirect_uri = {}", listener.redirect_uri());
/// listener.expect_state(mcp_oauth_core::StateToken::new("the-state"));
/// if let Some(query) = listener.next_callback().await {
///     println!("callback received ({} bytes of query)", query.len());
/// }
/// # Ok(()) }
/// ```
pub struct LoopbackListener {
    port: u16,
    redirect_uri: String,
    state: watch::Sender<Option<StateToken>>,
    callbacks: mpsc::Receiver<String>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for LoopbackListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopbackListener")
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

impl LoopbackListener {
    /// Listens on `127.0.0.1:port` (`0` = an ephemeral port chosen by the OS).
    pub async fn bind(port: u16) -> io::Result<Self> {
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
        let port = listener.local_addr()?.port();
        let (state, state_rx) = watch::channel(None);
        let (tx, callbacks) = mpsc::channel(8);
        let task = tokio::spawn(accept_loop(listener, state_rx, tx));
        Ok(Self {
            port,
            redirect_uri: format!("http://127.0.0.1:{port}{CALLBACK_PATH}"),
            state,
            callbacks,
            task,
        })
    }

    /// The port rule of the adapter design: a configured `fixed` port must be used (its
    /// failure is an error); otherwise the `preferred` port of a stored registration when free,
    /// else an ephemeral port.
    pub(crate) async fn bind_for(fixed: Option<u16>, preferred: Option<u16>) -> io::Result<Self> {
        if let Some(port) = fixed {
            return Self::bind(port).await;
        }
        if let Some(port) = preferred.filter(|p| *p != 0) {
            if let Ok(listener) = Self::bind(port).await {
                return Ok(listener);
            }
        }
        Self::bind(0).await
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
        self.state.send_replace(Some(state));
    }

    /// The next accepted callback's raw query string (`code=..&state=..`); `None` once the
    /// listener has stopped.
    pub async fn next_callback(&mut self) -> Option<String> {
        self.callbacks.recv().await
    }

    /// Stops accepting and returns once the listening socket is closed. Dropping the listener
    /// stops it too, but the socket is then released whenever the runtime gets to the aborted
    /// task; a login that rebinds its registered port right after needs it released now.
    pub async fn close(mut self) {
        self.task.abort();
        // An aborted task resolves (with a cancellation error) after its future is dropped.
        let _ = (&mut self.task).await;
    }
}

impl Drop for LoopbackListener {
    fn drop(&mut self) {
        // Aborting the accept task drops its JoinSet, which aborts every connection task.
        self.task.abort();
    }
}

/// The core's table of held connections and the abort handle of each one's task.
#[derive(Default)]
struct Connections {
    table: ConnectionTable,
    tasks: HashMap<ConnectionId, AbortHandle>,
}

type SharedConnections = Arc<Mutex<Connections>>;

fn lock(connections: &SharedConnections) -> MutexGuard<'_, Connections> {
    connections.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Frees a connection's slot when its task ends: finished, or aborted (evicted, listener
/// dropped), since an aborted task's future is dropped.
struct Slot(SharedConnections, ConnectionId);

impl Drop for Slot {
    fn drop(&mut self) {
        let mut conns = lock(&self.0);
        conns.table.release(self.1);
        conns.tasks.remove(&self.1);
    }
}

async fn accept_loop(
    listener: TcpListener,
    state: watch::Receiver<Option<StateToken>>,
    callbacks: mpsc::Sender<String>,
) {
    let path: Arc<str> = Arc::from(CALLBACK_PATH);
    let shared: SharedConnections = Arc::default();
    let mut connections = JoinSet::new();
    loop {
        // Reap finished connection tasks so the set does not grow with every probe.
        while connections.try_join_next().is_some() {}
        let Ok((stream, _peer)) = listener.accept().await else {
            // Transient accept errors (EMFILE, aborted handshakes): back off briefly.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        // Held across the spawn, so the task's Slot cannot release before its handle is in.
        let mut conns = lock(&shared);
        let Admission::Admit { id, evict } = conns.table.admit() else {
            continue; // every slot answering: `stream` is dropped, closed at once
        };
        let victim = evict.and_then(|victim| conns.tasks.remove(&victim));
        let slot = Slot(Arc::clone(&shared), id);
        let task = connections.spawn(serve(
            stream,
            Arc::clone(&path),
            state.clone(),
            callbacks.clone(),
            slot,
        ));
        conns.tasks.insert(id, task);
        drop(conns);
        // Outside the lock: the evicted task's Slot takes it when its future is dropped.
        if let Some(task) = victim {
            task.abort();
        }
    }
}

/// One connection: read the head under a deadline, answer, pass on a valid callback, close.
/// Evicted by the table while reading or lingering, its task is aborted (the socket closes).
async fn serve(
    mut stream: TcpStream,
    path: Arc<str>,
    state: watch::Receiver<Option<StateToken>>,
    callbacks: mpsc::Sender<String>,
    slot: Slot,
) {
    let mut buf = Vec::with_capacity(1024);
    let route =
        match tokio::time::timeout(HEAD_READ_TIMEOUT, read_head(&mut stream, &mut buf)).await {
            // Idle preconnect, slowloris, or a peer that hung up: nothing to answer.
            Err(_) | Ok(Err(_)) | Ok(Ok(Head::Closed)) => return,
            Ok(Ok(Head::TooLarge)) => Route::HeadTooLarge,
            Ok(Ok(Head::NotHttp)) => Route::BadRequest,
            Ok(Ok(Head::Complete(len))) => {
                let head = buf.get(..len).unwrap_or(&buf);
                route_head(head, &path, &state)
            }
        };
    let evicted = !lock(&slot.0).table.advance(slot.1, Phase::Answering);
    if evicted {
        // Aborted at the next await; a callback read whole still counts.
        if let Route::Callback { query } = route {
            let _ = callbacks.try_send(query);
        }
        return;
    }
    let page = response(&route);
    let _ = tokio::time::timeout(WRITE_TIMEOUT, async {
        stream.write_all(&page).await?;
        stream.shutdown().await
    })
    .await;
    if let Route::Callback { query } = route {
        // Full channel: a flood of valid callbacks; the first ones are enough.
        let _ = callbacks.try_send(query);
    }
    lock(&slot.0).table.advance(slot.1, Phase::Lingering);
    let _ = tokio::time::timeout(LINGER, drain(&mut stream)).await;
}

fn route_head(head: &[u8], path: &str, state: &watch::Receiver<Option<StateToken>>) -> Route {
    route_pending(head, path, state.borrow().as_ref())
}

enum Head {
    Complete(usize),
    TooLarge,
    NotHttp,
    Closed,
}

async fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<Head> {
    let mut chunk = [0u8; 2048];
    loop {
        match head_progress(buf) {
            HeadProgress::Complete { head_len } => return Ok(Head::Complete(head_len)),
            HeadProgress::TooLarge => return Ok(Head::TooLarge),
            HeadProgress::Incomplete => {}
        }
        if !could_be_http(buf) {
            // A TLS ClientHello or other binary never ends in CRLF CRLF: answer now rather
            // than hold the connection until the deadline.
            return Ok(Head::NotHttp);
        }
        let room = MAX_HEAD_BYTES
            .saturating_sub(buf.len())
            .clamp(1, chunk.len());
        let window = chunk.get_mut(..room).unwrap_or(&mut []);
        let n = stream.read(window).await?;
        if n == 0 {
            return Ok(Head::Closed);
        }
        buf.extend_from_slice(window.get(..n).unwrap_or_default());
    }
}

async fn drain(stream: &mut TcpStream) {
    let mut sink = [0u8; 4096];
    let mut total = 0usize;
    while total < LINGER_MAX_BYTES {
        match stream.read(&mut sink).await {
            Ok(0) | Err(_) => return,
            Ok(n) => total += n,
        }
    }
}
