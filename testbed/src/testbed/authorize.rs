//! The authorization endpoint (RFC 6749 §4.1.1, OAuth 2.1 §4.1.1): the "browser step" of the
//! conformance suite (ARCHITECTURE.md §10). It answers at once with `302 Location:
//! <redirect_uri>?code=..&state=..&iss=..`, like the conformance AS, but first checks client,
//! `redirect_uri`, PKCE (RFC 7636 §4.2, S256 only), `state` (RFC 6749 §10.12), `resource`
//! (RFC 8707 §2.1), `offline_access` (MCP 2026-07-28 "Refresh Tokens") and the first request's
//! scope (MCP 2025-11-25 "Scope Selection Strategy"), recording each slip. Violation labels in
//! parentheses are listed in ARCHITECTURE.md §10.

use mcp_oauth_core::HttpResponse;

use super::auth_server::AuthServer;
use super::config::{Consent, ExpectedScope, IssMode};
use super::tokens::{CodeGrant, Ctx};
use super::util::{first, oauth_error, parse_query};

impl AuthServer {
    /// `GET <prefix>/authorize?...`.
    pub(crate) fn authorize(
        &mut self,
        ctx: &mut Ctx<'_>,
        query: &str,
        other: Option<&AuthServer>,
    ) -> HttpResponse {
        self.authorize_count += 1;
        self.note_endpoint_use(ctx, "authorization endpoint");
        if let Some(max) = self.cfg.max_authorization_requests {
            if self.authorize_count > max {
                ctx.violation(
                    "too-many-authorizations",
                    format!(
                        "authorization request #{} (limit {max}, SC6)",
                        self.authorize_count
                    ),
                );
            }
        }
        if self.resource_poisoned {
            ctx.violation(
                "resource-mismatch-ignored",
                "authorization request although PRM resource does not identify the server (P6)",
            );
        }
        let q = parse_query(query);
        let Some(client_id) = first(&q, "client_id") else {
            ctx.violation(
                "authorize-client-id",
                "authorization request without client_id",
            );
            return oauth_error(400, "invalid_request", "client_id is required");
        };
        let Some(client) = self.lookup_client(client_id) else {
            self.unknown_client(ctx, client_id, "authorization endpoint", other);
            return oauth_error(400, "invalid_client", "unknown client_id");
        };
        if let Some(expected) = &self.cfg.expected_cimd_client_id {
            if client_id != expected {
                ctx.violation(
                    "cimd-client-id",
                    format!("client_id {client_id} instead of {expected} (R2)"),
                );
            }
        }
        let Some(redirect_uri) = first(&q, "redirect_uri") else {
            ctx.violation(
                "redirect-uri-missing",
                "authorization request without redirect_uri",
            );
            return oauth_error(400, "invalid_request", "redirect_uri is required");
        };
        if url::Url::parse(redirect_uri).is_err() {
            ctx.violation(
                "redirect-uri-invalid",
                format!("redirect_uri {redirect_uri} is not a URL"),
            );
            return oauth_error(400, "invalid_request", "redirect_uri is not a URL");
        }
        if let Some(registered) = &client.redirect_uris {
            if !registered.iter().any(|r| r == redirect_uri) {
                ctx.violation(
                    "redirect-uri-unregistered",
                    format!("redirect_uri {redirect_uri} not among {registered:?} (R13)"),
                );
                return oauth_error(400, "invalid_request", "redirect_uri is not registered");
            }
        }
        let state = first(&q, "state");
        if state.is_none_or(str::is_empty) {
            ctx.violation("state-missing", "authorization request without state (C7)");
        }
        let scope = first(&q, "scope").unwrap_or("");
        let scopes: Vec<String> = scope.split_whitespace().map(str::to_string).collect();
        self.check_scope_expectations(ctx, &scopes);
        let reject = |error: &str, desc: &str| {
            self.redirect(
                redirect_uri,
                &[("error", error), ("error_description", desc)],
                state,
            )
        };
        if first(&q, "response_type") != Some("code") {
            ctx.violation("response-type", "response_type is not code");
            return reject("unsupported_response_type", "response_type must be code");
        }
        let Some(challenge) = first(&q, "code_challenge").filter(|c| !c.is_empty()) else {
            ctx.violation("pkce-missing", "no code_challenge (C1)");
            return reject("invalid_request", "code_challenge is required");
        };
        if first(&q, "code_challenge_method") != Some("S256") {
            ctx.violation("pkce-method", "code_challenge_method is not S256 (C3)");
            return reject("invalid_request", "code_challenge_method must be S256");
        }
        let resource = first(&q, "resource");
        match (resource, &self.resource) {
            (None, Some(known)) => ctx.violation(
                "resource-missing",
                format!("authorization request without resource {known} (C4)"),
            ),
            (Some(sent), Some(known)) if sent != known => {
                ctx.violation(
                    "resource-mismatch",
                    format!("resource {sent} is not the PRM resource {known} (C4)"),
                );
                return reject("invalid_target", "unknown resource");
            }
            _ => {}
        }
        if q.iter().filter(|(k, _)| k == "resource").count() > 1 {
            ctx.violation("resource-repeated", "several resource parameters");
        }
        if scopes.iter().any(|s| s == "offline_access")
            && self
                .cfg
                .as_scopes_supported
                .as_ref()
                .is_some_and(|l| !l.iter().any(|s| s == "offline_access"))
        {
            ctx.violation(
                "offline-access-unsupported",
                "offline_access requested but not in scopes_supported (C8)",
            );
            return reject("invalid_scope", "offline_access is not supported");
        }
        if self.cfg.consent == Consent::Deny {
            return reject("access_denied", "the user denied the request");
        }
        let family = ctx.store.next_id();
        let code = ctx.store.issue_code(CodeGrant {
            as_index: self.index,
            client_id: client.client_id,
            redirect_uri: redirect_uri.to_string(),
            code_challenge: Some(challenge.to_string()),
            scopes,
            resource: resource.map(str::to_string),
            issued_at: ctx.now,
            used: false,
            family,
        });
        self.redirect(redirect_uri, &[("code", &code)], state)
    }

    /// Records an unknown `client_id`; one that belongs to the other AS is the SEP-2352 leak
    /// (`sep-2352-no-cross-as-credential-reuse`; MCP 2026-07-28 Client Registration,
    /// "Authorization Server Binding").
    pub(crate) fn unknown_client(
        &self,
        ctx: &mut Ctx<'_>,
        client_id: &str,
        endpoint: &str,
        other: Option<&AuthServer>,
    ) {
        if self.forgotten.contains(client_id) {
            // Registered here once, then forgotten: the client could not know.
        } else if other.is_some_and(|o| o.clients.contains_key(client_id)) {
            ctx.violation(
                "cross-as-credentials",
                format!(
                    "client_id {client_id} of another AS presented at {} {endpoint} (R10)",
                    self.issuer()
                ),
            );
        } else {
            ctx.violation(
                "unknown-client",
                format!("unknown client_id {client_id} at {endpoint}"),
            );
        }
    }

    /// The scope checks of the scope scenarios: the first request (MCP 2025-11-25
    /// "Scope Selection Strategy") and the step-up re-authorization, which must carry prior ∪
    /// challenged scopes (MCP 2026-07-28 "Step-Up Authorization Flow").
    fn check_scope_expectations(&self, ctx: &mut Ctx<'_>, scopes: &[String]) {
        let lacking = |want: &[String]| -> Vec<String> {
            want.iter()
                .filter(|w| !scopes.contains(w))
                .cloned()
                .collect()
        };
        match (self.authorize_count, &self.cfg.expected_first_scope) {
            (1, Some(ExpectedScope::Contains(want))) if !lacking(want).is_empty() => {
                ctx.violation(
                    "scope-selection",
                    format!("first scope {scopes:?} lacks {:?} (SC3)", lacking(want)),
                );
            }
            (1, Some(ExpectedScope::Omitted)) if !scopes.is_empty() => {
                ctx.violation(
                    "scope-selection",
                    format!("scope {scopes:?} sent although none is defined (SC3)"),
                );
            }
            _ => {}
        }
        if let (2, Some(want)) = (self.authorize_count, &self.cfg.expected_reauth_scope) {
            if !lacking(want).is_empty() {
                ctx.violation(
                    "scope-union",
                    format!(
                        "re-authorization scope {scopes:?} lacks {:?} (SC5)",
                        lacking(want)
                    ),
                );
            }
        }
    }

    /// `302` to `redirect_uri` with `params`, the echoed `state` and the configured `iss`
    /// (RFC 9207 §2: also on error responses).
    fn redirect(
        &self,
        redirect_uri: &str,
        params: &[(&str, &str)],
        state: Option<&str>,
    ) -> HttpResponse {
        let Ok(mut url) = url::Url::parse(redirect_uri) else {
            return oauth_error(400, "invalid_request", "redirect_uri is not a URL");
        };
        {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in params {
                pairs.append_pair(k, v);
            }
            if let Some(s) = state {
                pairs.append_pair("state", s);
            }
            let iss = match &self.cfg.iss_in_redirect {
                IssMode::Correct => Some(self.advertised_issuer()),
                IssMode::Omit => None,
                IssMode::Wrong(w) => Some(w.clone()),
                IssMode::Normalized => Some(format!("{}/", self.advertised_issuer())),
            };
            if let Some(iss) = iss {
                pairs.append_pair("iss", &iss);
            }
        }
        HttpResponse::status(302).with_header("Location", url.as_str())
    }
}
