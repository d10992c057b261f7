//! The machine's vocabulary: facts in ([`Input`]), effects out ([`Output`]) (ARCHITECTURE.md §2).

use crate::error::{Error, Warning};
use crate::http::{HttpRequest, HttpResponse, RequestId, Step, TransportError};
use crate::secret::StateToken;
use crate::session::Session;

/// A fact the adapter reports to the machine.
// Inputs and outputs are moved once through the drain loop; boxing the large variants would cost
// an allocation per request for no gain.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
#[non_exhaustive]
pub enum Input {
    /// The response to a `Fetch` with this id (any status).
    HttpResponse {
        /// The id from [`Output::Fetch`].
        id: RequestId,
        /// What came back.
        response: HttpResponse,
    },
    /// The `Fetch` with this id could not complete (DNS, connect, TLS, timeout, size cap,
    /// address policy).
    HttpFailed {
        /// The id from [`Output::Fetch`].
        id: RequestId,
        /// What kind of failure, and a message shown to the user (must not contain secrets).
        error: TransportError,
    },
    /// The loopback listener is up; this is the exact redirect URI to register and send.
    LoopbackReady {
        /// e.g. `http://127.0.0.1:49152/callback`.
        redirect_uri: String,
    },
    /// The loopback listener could not start.
    LoopbackFailed {
        /// Why.
        error: String,
    },
    /// The authorization response: the callback's query string or the whole redirect URL
    /// (pasted by a headless user).
    Callback {
        /// Raw query (`code=..&state=..`), `?query` or full URL.
        query: String,
    },
    /// The MCP server answered 401 or 403; all its `WWW-Authenticate` field values.
    Challenge {
        /// 401 or 403.
        status: u16,
        /// Every `WWW-Authenticate` value, in order.
        www_authenticate: Vec<String>,
    },
    /// A request with the current token succeeded (resets the step-up budget and the
    /// refresh-after-401 guard).
    RequestSucceeded,
    /// The session read from the store (answer to [`Output::LoadSession`], or at start).
    SessionLoaded(Option<Session>),
    /// A deadline from `poll_timeout` has passed.
    Timeout,
    /// The MCP server sent a `DPoP-Nonce` header (RFC 9449 §9): use it in the next proofs.
    ResourceNonce {
        /// The header value.
        nonce: String,
    },
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Input::HttpResponse { id, response } => f
                .debug_struct("HttpResponse")
                .field("id", id)
                .field("response", response)
                .finish(),
            Input::HttpFailed { id, error } => f
                .debug_struct("HttpFailed")
                .field("id", id)
                .field("error", error)
                .finish(),
            Input::LoopbackReady { redirect_uri } => f
                .debug_struct("LoopbackReady")
                .field("redirect_uri", redirect_uri)
                .finish(),
            Input::LoopbackFailed { error } => f
                .debug_struct("LoopbackFailed")
                .field("error", error)
                .finish(),
            // The query carries the authorization code and `state`.
            Input::Callback { .. } => f.write_str("Callback { query: [redacted] }"),
            Input::Challenge {
                status,
                www_authenticate,
            } => f
                .debug_struct("Challenge")
                .field("status", status)
                .field("www_authenticate", www_authenticate)
                .finish(),
            Input::RequestSucceeded => f.write_str("RequestSucceeded"),
            Input::SessionLoaded(s) => f.debug_tuple("SessionLoaded").field(s).finish(),
            Input::Timeout => f.write_str("Timeout"),
            Input::ResourceNonce { nonce } => f
                .debug_struct("ResourceNonce")
                .field("nonce", nonce)
                .finish(),
        }
    }
}

/// What the user's browser should open, and the `state` the callback must carry (so loopback
/// listeners can ignore forged callbacks without disturbing the wait).
#[derive(Clone)]
pub struct BrowserRequest {
    /// The authorization URL (already checked by the URL policy: http(s) only).
    pub url: String,
    /// The expected `state`.
    pub state: StateToken,
}

impl std::fmt::Debug for BrowserRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrowserRequest")
            .field("url", &crate::http::redact_query(&self.url))
            .finish_non_exhaustive()
    }
}

/// An effect the adapter must carry out, or a notification.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Output {
    /// Send this request (without following redirects) and report `HttpResponse`/`HttpFailed`.
    Fetch {
        /// Correlates the answer.
        id: RequestId,
        /// Which protocol step (for logs and round-trip counts).
        step: Step,
        /// The request.
        request: HttpRequest,
    },
    /// Start the loopback listener (reuse `preferred_port` if free) and report `LoopbackReady`.
    ListenLoopback {
        /// Port a stored DCR registration was made with, to keep its redirect URI valid.
        preferred_port: Option<u16>,
    },
    /// Show the authorization URL to the user (print it, open the browser) and wait for the
    /// callback; report it with `Callback`.
    OpenBrowser(BrowserRequest),
    /// The browser step is over (success or failure): stop the listener.
    CloseLoopback,
    /// Re-read the session from the store (under the store's lock, where it has one) and answer
    /// with `SessionLoaded`. Emitted before a refresh so that processes sharing a store never use
    /// a rotating refresh token twice.
    LoadSession,
    /// Persist this session (before any token in it is used).
    StoreSession(Session),
    /// Delete the stored session.
    ClearSession,
    /// Something the host may want to show or log.
    Event(Event),
}

/// Notifications for the host.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// The status changed (render it).
    Status(AuthStatus),
    /// A new token is ready (after login, refresh or step-up).
    Authorized,
    /// A callback was refused (wrong state, duplicate parameters, ...); still waiting.
    CallbackRejected(Error),
    /// The flow failed; the machine is back at "authorization required".
    Failed(Error),
    /// Something went wrong without ending the flow (an unusable `expires_in`, a renewal
    /// deferred after a transient failure while the token is still valid): show or log it.
    Warning(Warning),
    /// Logout finished.
    LoggedOut,
}

/// Where this server stands, for host UIs (the seed's four UI states).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthStatus {
    /// No usable token; a login is needed.
    AuthorizationRequired {
        /// Host of the authorization server, when known (show it to the user: MCP 2025-06-18
        /// Authorization, "Confused Deputy Problem").
        server_host: Option<String>,
    },
    /// Discovery, registration or token requests are in flight.
    Working,
    /// The browser was sent to the authorization server; waiting for the callback.
    WaitingForBrowser {
        /// Host of the authorization server.
        server_host: Option<String>,
    },
    /// A token is available.
    Authorized,
    /// The last attempt failed; the message is safe to show. Followed by
    /// `AuthorizationRequired` so the user can retry.
    Failed {
        /// A one-line reason.
        reason: String,
    },
}

/// The answer to [`crate::Machine::header`] and [`crate::Machine::ensure_fresh`].
#[derive(Debug, Clone)]
pub enum HeaderState {
    /// Use this value as the `Authorization` header.
    Ready(crate::secret::AuthorizationHeader),
    /// A refresh, grant or login is in progress (or, from [`crate::Machine::header`], due):
    /// drain outputs and ask again when it finishes.
    Pending,
    /// No token and no way to get one without a login: start one with `authorize`.
    LoginRequired,
}
