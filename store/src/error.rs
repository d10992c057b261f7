//! [`AdapterError`]: the core's error plus what only an adapter can get wrong (store, network,
//! sockets, cancellation). The core's error says whose fault it was; this wrapper
//! adds the IO side without hiding the core variant. Both adapters re-export this same type, so
//! hosts can switch adapters without touching their error handling. It lives here, beside
//! [`StoreError`], so that it can implement the core's `AdapterFailure` for both adapters (the
//! orphan rule forbids either adapter to implement a core trait for the other's type).

use mcp_oauth_core::coordinator::{AdapterFailure, Failure};

use crate::StoreError;

/// Why an adapter's `Authorizer` operation failed.
///
/// No variant carries a token, code, verifier, client secret or `state`: the core's errors are
/// built that way, store errors never echo stored JSON, and HTTP messages are produced without
/// the request URL or body.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdapterError {
    /// The authorization flow failed (the core's error, sorted by fault).
    #[error(transparent)]
    Auth(mcp_oauth_core::Error),
    /// The session store failed; when saving a new token fails, the token is not handed out.
    #[error("session store: {0}")]
    Store(#[from] StoreError),
    /// A request to the MCP server (not an OAuth step) got no response; the kind says why.
    #[error("HTTP: {}", .0.message)]
    Http(mcp_oauth_core::TransportError),
    /// A local IO failure (the entropy source, spawning a thread, a stalled flow).
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// No usable token and the configuration does not allow an interactive login
    /// (`Config::interactive == false`), or a login did not yield a usable token.
    #[error("login required: run the authorization flow (e.g. `mcp-oauth login`)")]
    LoginRequired,
    /// The server answered 401/403 to the configured static `Authorization` header. OAuth is
    /// never attempted in that mode, because the user chose the header on purpose.
    #[error("the server rejected the configured static Authorization header (HTTP {status}): check the configured Authorization header")]
    StaticHeaderRejected {
        /// 401 or 403.
        status: u16,
    },
    /// The operation was cancelled (the adapter's `Authorizer::cancel`) before it finished.
    #[error("cancelled")]
    Cancelled,
}

impl From<mcp_oauth_core::Error> for AdapterError {
    /// The core's `LoginRequired` and `Cancelled` become [`AdapterError::LoginRequired`] and
    /// [`AdapterError::Cancelled`] so callers match one variant whichever layer noticed.
    fn from(e: mcp_oauth_core::Error) -> Self {
        match e {
            mcp_oauth_core::Error::LoginRequired => AdapterError::LoginRequired,
            mcp_oauth_core::Error::Cancelled => AdapterError::Cancelled,
            other => AdapterError::Auth(other),
        }
    }
}

impl From<Failure<AdapterError>> for AdapterError {
    /// What a caller sees of a failed coordinator operation: the core's error mapped as by
    /// `From<mcp_oauth_core::Error>`, an adapter failure as it was, a rejected static header as
    /// [`AdapterError::StaticHeaderRejected`].
    fn from(f: Failure<AdapterError>) -> Self {
        match f {
            Failure::Core(e) => e.into(),
            Failure::Adapter(e) => e,
            Failure::StaticHeaderRejected { status } => {
                AdapterError::StaticHeaderRejected { status }
            }
        }
    }
}

/// The coordinator (`mcp_oauth_core::coordinator`) hands one drive's failure to every caller
/// that waited for it, so it needs copies.
impl AdapterFailure for AdapterError {
    fn duplicate(&self) -> Self {
        AdapterError::duplicate(self)
    }
}

impl AdapterError {
    /// An equal error for another waiter of the same failed drive (single flight hands one
    /// drive's failure to every caller that waited for it). `io::Error` and `StoreError` are not
    /// `Clone`, so they are rebuilt from their kind and message.
    pub fn duplicate(&self) -> AdapterError {
        match self {
            AdapterError::Auth(e) => AdapterError::Auth(e.clone()),
            AdapterError::Store(e) => AdapterError::Store(duplicate_store_error(e)),
            AdapterError::Http(m) => AdapterError::Http(m.clone()),
            AdapterError::Io(e) => AdapterError::Io(duplicate_io_error(e)),
            AdapterError::LoginRequired => AdapterError::LoginRequired,
            AdapterError::StaticHeaderRejected { status } => {
                AdapterError::StaticHeaderRejected { status: *status }
            }
            AdapterError::Cancelled => AdapterError::Cancelled,
        }
    }

    /// True when the failure came from the network, the clock or a cancellation: worth
    /// retrying later, and never a reason to discard a stored session (stale session rule).
    pub fn is_transient(&self) -> bool {
        match self {
            AdapterError::Auth(e) => e.fault() == mcp_oauth_core::Fault::Transport,
            AdapterError::Http(_) | AdapterError::Io(_) | AdapterError::Cancelled => true,
            _ => false,
        }
    }
}

fn duplicate_io_error(e: &std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), e.to_string())
}

fn duplicate_store_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Io { op, path, source } => StoreError::Io {
            op,
            path: path.clone(),
            source: duplicate_io_error(source),
        },
        StoreError::Corrupt { location, detail } => StoreError::Corrupt {
            location: location.clone(),
            detail: detail.clone(),
        },
        StoreError::UnsupportedVersion(v) => StoreError::UnsupportedVersion(*v),
        StoreError::InsecurePermissions { path, reason } => StoreError::InsecurePermissions {
            path: path.clone(),
            reason: reason.clone(),
        },
        StoreError::Keychain(m) => StoreError::Keychain(m.clone()),
        StoreError::Timeout(d) => StoreError::Timeout(*d),
        StoreError::LockTimeout {
            path,
            holder_pid,
            timeout,
        } => StoreError::LockTimeout {
            path: path.clone(),
            holder_pid: *holder_pid,
            timeout: *timeout,
        },
        StoreError::InvalidKey { key, reason } => StoreError::InvalidKey {
            key: key.clone(),
            reason,
        },
        // Same crate: a new store variant fails to compile here until it is handled.
        StoreError::NoStateDir => StoreError::NoStateDir,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_login_required_maps_to_adapter_variant() {
        let e: AdapterError = mcp_oauth_core::Error::LoginRequired.into();
        assert!(matches!(e, AdapterError::LoginRequired));
        let e: AdapterError = mcp_oauth_core::Error::Cancelled.into();
        assert!(matches!(e, AdapterError::Cancelled));
        let e: AdapterError = mcp_oauth_core::Error::DiscoveryFailed.into();
        assert!(matches!(
            e,
            AdapterError::Auth(mcp_oauth_core::Error::DiscoveryFailed)
        ));
    }

    #[test]
    fn duplicate_keeps_variant_and_message() {
        let cases = [
            AdapterError::Io(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                "port taken",
            )),
            AdapterError::Store(StoreError::Keychain("locked".into())),
            AdapterError::Store(StoreError::Io {
                op: "write",
                path: "/tmp/x".into(),
                source: std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied"),
            }),
            AdapterError::StaticHeaderRejected { status: 401 },
            AdapterError::Cancelled,
            AdapterError::LoginRequired,
            AdapterError::Http(mcp_oauth_core::TransportError::new(
                mcp_oauth_core::TransportErrorKind::Connect,
                "connection refused",
            )),
            AdapterError::Auth(mcp_oauth_core::Error::StateMismatch),
        ];
        for e in &cases {
            let d = e.duplicate();
            assert_eq!(d.to_string(), e.to_string());
            assert_eq!(
                std::mem::discriminant(&d),
                std::mem::discriminant(e),
                "{e:?}"
            );
        }
        if let AdapterError::Io(d) = cases[0].duplicate() {
            assert_eq!(d.kind(), std::io::ErrorKind::AddrInUse);
        }
    }

    #[test]
    fn transport_classification() {
        let t: AdapterError = mcp_oauth_core::Error::AuthorizationTimeout.into();
        assert!(t.is_transient());
        let p: AdapterError = mcp_oauth_core::Error::StateMismatch.into();
        assert!(!p.is_transient());
        assert!(!AdapterError::LoginRequired.is_transient());
        assert!(AdapterError::Cancelled.is_transient());
        assert!(!AdapterError::Store(StoreError::NoStateDir).is_transient());
    }

    #[test]
    fn static_header_message_tells_the_user_what_to_check() {
        let e = AdapterError::StaticHeaderRejected { status: 403 };
        assert_eq!(
            e.to_string(),
            "the server rejected the configured static Authorization header (HTTP 403): check the configured Authorization header"
        );
    }
}
