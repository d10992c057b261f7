//! Hostile mode: canned answers that replace the testbed's own for chosen requests, a bad day
//! at the server (a 503 with an OAuth error body on refresh, a 429 on metadata, garbage), so
//! client tests can show that such answers lose no token and no session. Off by default; tests
//! switch it on with [`Testbed::answer_hostile`](super::Testbed::answer_hostile).

use mcp_oauth_core::{HttpRequest, HttpResponse};

use super::log::RequestKind;
use super::util::first;

/// Which requests a hostile answer replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostileTarget {
    /// Token requests with `grant_type=refresh_token` (RFC 6749 §6).
    Refresh,
    /// Every request of this kind, e.g. [`RequestKind::ResourceMetadata`].
    Kind(RequestKind),
}

impl HostileTarget {
    fn matches(self, kind: RequestKind, req: &HttpRequest) -> bool {
        match self {
            HostileTarget::Refresh => {
                kind == RequestKind::Token
                    && first(&req.form_pairs(), "grant_type") == Some("refresh_token")
            }
            HostileTarget::Kind(k) => k == kind,
        }
    }
}

/// The hostile answers in force, the latest per target.
#[derive(Debug, Clone, Default)]
pub(super) struct Hostile {
    answers: Vec<(HostileTarget, HttpResponse)>,
}

impl Hostile {
    /// Sets the answer for `target`, replacing an earlier one.
    pub(super) fn set(&mut self, target: HostileTarget, response: HttpResponse) {
        self.answers.retain(|(t, _)| *t != target);
        self.answers.push((target, response));
    }

    /// Drops every hostile answer.
    pub(super) fn clear(&mut self) {
        self.answers.clear();
    }

    /// The hostile answer for this request, if one applies.
    pub(super) fn answer(&self, kind: RequestKind, req: &HttpRequest) -> Option<HttpResponse> {
        self.answers
            .iter()
            .find(|(t, _)| t.matches(kind, req))
            .map(|(_, r)| r.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Testbed, TestbedConfig};
    use super::*;
    use serde_json::json;

    #[test]
    fn a_refresh_gets_the_hostile_answer_and_other_requests_do_not() {
        let mut t = Testbed::new(
            TestbedConfig::default(),
            "http://127.0.0.1:1000",
            "http://127.0.0.1:2000",
        );
        let busy = HttpResponse::json(503, &json!({"error": "temporarily_unavailable"}));
        t.answer_hostile(HostileTarget::Refresh, busy.clone());
        let token = t.as_endpoint("token");
        let refresh = HttpRequest::post_form(
            &token,
            &[("grant_type", "refresh_token"), ("refresh_token", "x")],
        );
        assert_eq!(t.handle(10, &refresh), busy);
        let code = HttpRequest::post_form(&token, &[("grant_type", "authorization_code")]);
        assert_ne!(t.handle(10, &code), busy, "the AS itself answers");
        assert_eq!(t.count(RequestKind::Token), 2, "hostile answers are logged");
        t.calm();
        assert_ne!(t.handle(10, &refresh), busy);
    }

    #[test]
    fn a_kind_target_replaces_every_request_of_that_kind() {
        let mut t = Testbed::new(
            TestbedConfig::default(),
            "http://127.0.0.1:1000",
            "http://127.0.0.1:2000",
        );
        t.answer_hostile(
            HostileTarget::Kind(RequestKind::ResourceMetadata),
            HttpResponse::status(429),
        );
        let prm = t.prm_url().expect("PRM");
        assert_eq!(t.handle(10, &HttpRequest::get_json(prm)).status, 429);
        t.answer_hostile(
            HostileTarget::Kind(RequestKind::ResourceMetadata),
            HttpResponse::status(502),
        );
        let root = format!("{}/.well-known/oauth-protected-resource", t.mcp_origin());
        assert_eq!(t.handle(10, &HttpRequest::get_json(root)).status, 502);
    }
}
