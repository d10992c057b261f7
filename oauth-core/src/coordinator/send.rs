//! The rules of sending one MCP request through the authorizer: which headers it carries, and
//! what its answer means (retry after a challenge, report success, give up).

use crate::http::{HttpRequest, HttpResponse};
use crate::secret::AuthorizationHeader;
use crate::time::Now;

use super::{AdapterFailure, Coordinator, Failure, MAX_SEND_RETRIES};

/// What to do with the MCP server's answer to a request sent by the authorizer.
#[derive(Debug)]
pub enum SendVerdict<E> {
    /// Hand the response to the caller as it is.
    Return,
    /// Run [`super::Op::Challenge`] with these values, then send again.
    Retry {
        /// 401 or 403.
        status: u16,
        /// Every `WWW-Authenticate` value of the answer.
        www_authenticate: Vec<String>,
    },
    /// Stop with this failure (a static header was refused).
    Fail(Failure<E>),
}

impl<E: AdapterFailure> Coordinator<E> {
    /// Puts `header` on `request`, replacing any `Authorization` and `DPoP` it carried, with a
    /// fresh DPoP proof when the token is DPoP-bound (RFC 9449 §7). Without a header the request
    /// goes out bare, so the server's 401 drives discovery (RFC 9728 §5.1).
    pub fn attach(
        &mut self,
        now: Now,
        request: &mut HttpRequest,
        header: Option<&AuthorizationHeader>,
    ) {
        request.headers.retain(|(k, _)| {
            !k.eq_ignore_ascii_case("authorization") && !k.eq_ignore_ascii_case("dpop")
        });
        let Some(header) = header else { return };
        request
            .headers
            .push(("Authorization".into(), header.expose_secret().to_owned()));
        if let Some(proof) = self.dpop_proof(now, request.method.as_str(), &request.url) {
            request.headers.push(("DPoP".into(), proof));
        }
    }

    /// Judges the answer to a request sent with `header_sent` after `retries` earlier retries:
    /// records a `DPoP-Nonce` (RFC 9449 §9), counts a 2xx as success, and asks for a challenge
    /// round on 401/403 until [`MAX_SEND_RETRIES`] is spent, or until a login already ran for
    /// this request: `launches_before` is [`Coordinator::browser_launches`] when the request was
    /// first sent, so one request never sends the user to the browser twice (a server that
    /// refuses a brand-new token will refuse the next one too: wrong token type, audience or
    /// scope).
    pub fn send_verdict(
        &mut self,
        now: Now,
        response: &HttpResponse,
        header_sent: bool,
        retries: u32,
        launches_before: u64,
    ) -> SendVerdict<E> {
        if let Some(nonce) = response.header("dpop-nonce") {
            self.resource_nonce(now, nonce);
        }
        let status = response.status;
        if !matches!(status, 401 | 403) {
            if response.is_success() && header_sent {
                self.request_succeeded(now);
            }
            return SendVerdict::Return;
        }
        if self.has_static_header() {
            return SendVerdict::Fail(Failure::StaticHeaderRejected { status });
        }
        let www_authenticate: Vec<String> = response
            .header_all("www-authenticate")
            .map(str::to_owned)
            .collect();
        // A nonce request (RFC 9449 §9) is not a refusal of the token: retrying with the nonce
        // is not a second login.
        let values: Vec<&str> = www_authenticate.iter().map(String::as_str).collect();
        let wants_nonce =
            crate::challenge::auth_challenge(&values).error.as_deref() == Some("use_dpop_nonce");
        let logged_in = self.browser_launches() > launches_before;
        if retries >= MAX_SEND_RETRIES || (logged_in && !wants_nonce) {
            return SendVerdict::Return;
        }
        SendVerdict::Retry {
            status,
            www_authenticate,
        }
    }
}
