//! What goes wrong on the way, injected in front of each adapter's real HTTP client (`UreqClient`,
//! `ReqwestClient`), so both adapters meet the same failure with the same message whatever their
//! HTTP stack would have said. A request failed here never reaches the testbed: it is a
//! transport failure (the adapter's `HttpClient` returned `Err`), not an HTTP answer.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use mcp_oauth_core::HttpRequest;
use mcp_oauth_tests::serve::TestbedServer;
use mcp_oauth_tests::testbed::RequestKind;

/// The typed transport failure for an injected message: a timeout when it says so, else a
/// failed connection.
pub fn transport_error(message: &str) -> mcp_oauth_core::TransportError {
    use mcp_oauth_core::TransportErrorKind;
    let kind = if message.contains("timed out") {
        TransportErrorKind::Timeout
    } else {
        TransportErrorKind::Connect
    };
    mcp_oauth_core::TransportError::new(kind, message)
}

/// The injected trouble.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Nothing.
    None,
    /// Every refresh request (RFC 6749 §6) fails with "connection reset".
    RefreshTransport,
    /// Every discovery request (RFC 9728 PRM, RFC 8414 AS metadata) fails, the n-th one with
    /// "timed out (n)", so the reported failure shows which one the caller got.
    DiscoveryTransport,
    /// Once the first refresh has been answered, the server revokes every access token,
    /// including the one just issued: the retried request gets 401 again.
    RevokeAfterFirstRefresh,
}

/// The injector one runner's HTTP client consults around every request.
pub struct Injector {
    fault: Fault,
    server: Arc<TestbedServer>,
    discovery_failures: AtomicUsize,
    refreshes_answered: AtomicUsize,
}

impl Injector {
    /// `fault` against `server`.
    pub fn new(fault: Fault, server: Arc<TestbedServer>) -> Arc<Self> {
        Arc::new(Self {
            fault,
            server,
            discovery_failures: AtomicUsize::new(0),
            refreshes_answered: AtomicUsize::new(0),
        })
    }

    fn kind(&self, req: &HttpRequest) -> RequestKind {
        let Ok(url) = url::Url::parse(&req.url) else {
            return RequestKind::Other;
        };
        let is_mcp = url.origin().ascii_serialization() == self.server.mcp_origin();
        RequestKind::classify(is_mcp, url.path(), None)
    }

    fn is_refresh(&self, req: &HttpRequest) -> bool {
        self.kind(req) == RequestKind::Token
            && req
                .form_pairs()
                .iter()
                .any(|(k, v)| k == "grant_type" && v == "refresh_token")
    }

    /// Before sending: `Some(message)` to fail the request as a transport failure.
    pub fn before(&self, req: &HttpRequest) -> Option<String> {
        match self.fault {
            Fault::RefreshTransport if self.is_refresh(req) => Some("connection reset".into()),
            Fault::DiscoveryTransport
                if matches!(
                    self.kind(req),
                    RequestKind::ResourceMetadata | RequestKind::ServerMetadata
                ) =>
            {
                let n = self.discovery_failures.fetch_add(1, Ordering::SeqCst) + 1;
                Some(format!("timed out ({n})"))
            }
            _ => None,
        }
    }

    /// After the testbed answered `req`.
    pub fn after(&self, req: &HttpRequest) {
        if self.fault == Fault::RevokeAfterFirstRefresh
            && self.is_refresh(req)
            && self.refreshes_answered.fetch_add(1, Ordering::SeqCst) == 0
        {
            self.server.with_testbed(|t| t.revoke_all_access_tokens());
        }
    }
}
