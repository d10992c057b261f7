//! The token endpoint (RFC 6749 §4.1.3 code exchange, §6 refresh) and the RFC 7009 revocation
//! endpoint, with strict client authentication (RFC 6749 §2.3.1).
//! Violation labels in parentheses are listed in ARCHITECTURE.md §10.
//!
//! Unlike the conformance AS it validates the code (single use, expiry, client), `redirect_uri`
//! equality, the PKCE S256 verifier and `resource` consistency; refresh tokens rotate and a reused
//! one revokes its whole grant (OAuth 2.1 §4.3.1).

use mcp_oauth_core::{ClientAuthMethod, HttpRequest, HttpResponse};
use serde_json::json;

use super::auth_server::{AuthServer, Client};
use super::tokens::{AccessGrant, Ctx, RefreshGrant};
use super::util::{first, is_form, oauth_error, s256, valid_verifier};

/// Codes live this long (RFC 6749 §4.1.2 recommends at most 10 minutes).
pub const CODE_LIFETIME_SECS: u64 = 600;

impl AuthServer {
    /// `POST <prefix>/token`.
    pub(crate) fn token(
        &mut self,
        ctx: &mut Ctx<'_>,
        req: &HttpRequest,
        other: Option<&AuthServer>,
    ) -> HttpResponse {
        self.note_endpoint_use(ctx, "token endpoint");
        if !is_form(req) {
            ctx.violation(
                "token-content-type",
                "token request body is not form-encoded",
            );
            return oauth_error(
                400,
                "invalid_request",
                "body must be application/x-www-form-urlencoded",
            );
        }
        let form = req.form_pairs();
        let client = match self.authenticate_client(ctx, req, &form, other) {
            Ok(c) => c,
            Err(resp) => return resp,
        };
        // RFC 9449 §5: a proof asks for a bound token (proofs are not verified here).
        let proof = self.cfg.as_dpop_algs.is_some() && req.header("dpop").is_some();
        match first(&form, "grant_type") {
            Some("authorization_code") => self.exchange_code(ctx, &form, &client, proof),
            Some("refresh_token") => self.refresh(ctx, &form, &client, proof),
            Some("client_credentials") if self.cfg.client_credentials_only => {
                self.client_credentials(ctx, &form, &client, proof)
            }
            Some(_) => oauth_error(400, "unsupported_grant_type", "grant_type not supported"),
            None => oauth_error(400, "invalid_request", "grant_type is required"),
        }
    }

    fn exchange_code(
        &mut self,
        ctx: &mut Ctx<'_>,
        form: &[(String, String)],
        client: &Client,
        proof: bool,
    ) -> HttpResponse {
        let Some(code) = first(form, "code") else {
            return oauth_error(400, "invalid_request", "code is required");
        };
        let Some(grant) = ctx
            .store
            .codes
            .get_mut(code)
            .filter(|g| g.as_index == self.index)
        else {
            ctx.violation(
                "code-unknown",
                "token request with a code this AS never issued",
            );
            return oauth_error(400, "invalid_grant", "unknown code");
        };
        let was_used = std::mem::replace(&mut grant.used, true);
        let grant = grant.clone();
        if was_used {
            ctx.violation(
                "code-reused",
                "authorization code redeemed twice (RFC 6749 §4.1.2)",
            );
            ctx.store.revoke_family(grant.family);
            return oauth_error(400, "invalid_grant", "code already used");
        }
        if ctx.now > grant.issued_at.saturating_add(CODE_LIFETIME_SECS) {
            return oauth_error(400, "invalid_grant", "code expired");
        }
        if grant.client_id != client.client_id {
            ctx.violation("code-client-mismatch", "code redeemed by another client");
            return oauth_error(400, "invalid_grant", "code was issued to another client");
        }
        if self.iss_is_bad() {
            ctx.violation(
                "iss-ignored",
                "code redeemed although the redirect's iss was missing or wrong (I3, I4)",
            );
        }
        match first(form, "redirect_uri") {
            Some(r) if r == grant.redirect_uri => {}
            other_uri => {
                ctx.violation(
                    "redirect-uri-mismatch",
                    format!(
                        "token redirect_uri {other_uri:?} != {} (T3)",
                        grant.redirect_uri
                    ),
                );
                return oauth_error(400, "invalid_grant", "redirect_uri does not match");
            }
        }
        let Some(verifier) = first(form, "code_verifier") else {
            ctx.violation(
                "pkce-verifier-missing",
                "token request without code_verifier (C1)",
            );
            return oauth_error(400, "invalid_grant", "code_verifier is required");
        };
        if !valid_verifier(verifier) {
            ctx.violation(
                "pkce-verifier-format",
                "code_verifier is not 43-128 unreserved characters (RFC 7636 §4.1)",
            );
        }
        if grant.code_challenge.as_deref() != Some(s256(verifier).as_str()) {
            ctx.violation(
                "pkce-mismatch",
                "S256(code_verifier) != code_challenge (C1)",
            );
            return oauth_error(400, "invalid_grant", "PKCE verification failed");
        }
        let resource = match self.check_resource(ctx, form, grant.resource.as_deref(), "token") {
            Ok(r) => r,
            Err(resp) => return resp,
        };
        let refresh =
            (self.cfg.issue_refresh_tokens && client.refresh_allowed).then(|| RefreshGrant {
                as_index: self.index,
                client_id: client.client_id.clone(),
                scopes: grant.scopes.clone(),
                resource: resource.clone(),
                rotated: false,
                revoked: false,
                family: grant.family,
                dpop_bound: proof && client.auth_method == ClientAuthMethod::None,
            });
        self.issue(ctx, grant.scopes, resource, grant.family, refresh, proof)
    }

    fn refresh(
        &mut self,
        ctx: &mut Ctx<'_>,
        form: &[(String, String)],
        client: &Client,
        proof: bool,
    ) -> HttpResponse {
        let Some(rt) = first(form, "refresh_token") else {
            return oauth_error(400, "invalid_request", "refresh_token is required");
        };
        let Some(entry) = ctx
            .store
            .refresh
            .get(rt)
            .filter(|g| g.as_index == self.index)
            .cloned()
        else {
            return oauth_error(400, "invalid_grant", "unknown refresh token");
        };
        if entry.client_id != client.client_id {
            ctx.violation(
                "refresh-client-mismatch",
                "refresh token presented by another client",
            );
            return oauth_error(
                400,
                "invalid_grant",
                "refresh token was issued to another client",
            );
        }
        if entry.revoked {
            return oauth_error(400, "invalid_grant", "refresh token revoked");
        }
        if entry.dpop_bound && !proof {
            return oauth_error(
                400,
                "invalid_dpop_proof",
                "this refresh token is DPoP-bound; a proof is required",
            );
        }
        if entry.rotated {
            ctx.violation(
                "refresh-reuse",
                "rotated refresh token presented again (OAuth 2.1 §4.3.1, T7)",
            );
            ctx.store.revoke_family(entry.family);
            return oauth_error(400, "invalid_grant", "refresh token already used");
        }
        let resource = match self.check_resource(ctx, form, entry.resource.as_deref(), "refresh") {
            Ok(r) => r,
            Err(resp) => return resp,
        };
        let scopes: Vec<String> = match first(form, "scope") {
            Some(s) => s.split_whitespace().map(str::to_string).collect(),
            None => entry.scopes.clone(),
        };
        if let Some(extra) = scopes.iter().find(|s| !entry.scopes.contains(s)) {
            ctx.violation(
                "refresh-scope-widened",
                format!("refresh asked for {extra} beyond the grant (RFC 6749 §6)"),
            );
            return oauth_error(400, "invalid_scope", "scope exceeds the original grant");
        }
        let next = if self.cfg.rotate_refresh_tokens {
            if let Some(old) = ctx.store.refresh.get_mut(rt) {
                old.rotated = true;
            }
            Some(RefreshGrant {
                scopes: entry.scopes.clone(),
                resource: resource.clone(),
                ..entry.clone()
            })
        } else {
            None
        };
        self.issue(ctx, scopes, resource, entry.family, next, proof)
    }

    /// The client credentials grant (RFC 6749 §4.4; SEP-1046): only for a client that
    /// authenticated with a secret; no refresh token (§4.4.3).
    fn client_credentials(
        &mut self,
        ctx: &mut Ctx<'_>,
        form: &[(String, String)],
        client: &Client,
        proof: bool,
    ) -> HttpResponse {
        if client.secret.is_none() {
            return oauth_error(401, "invalid_client", "client authentication required");
        }
        let resource = match self.check_resource(ctx, form, None, "client credentials") {
            Ok(r) => r,
            Err(resp) => return resp,
        };
        let scopes = first(form, "scope")
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
        let family = ctx.store.next_id();
        self.issue(ctx, scopes, resource, family, None, proof)
    }

    /// The RFC 8707 `resource` of a token request: required when PRM exists, equal to the grant's
    /// and to the PRM `resource` (RFC 8707 §2.2, also on refresh). Returns the audience to bind.
    fn check_resource(
        &self,
        ctx: &mut Ctx<'_>,
        form: &[(String, String)],
        granted: Option<&str>,
        what: &str,
    ) -> Result<Option<String>, HttpResponse> {
        match (first(form, "resource"), &self.resource) {
            (None, Some(known)) => {
                ctx.violation(
                    "resource-missing",
                    format!("{what} request without resource {known} (C4)"),
                );
                Ok(granted.map(str::to_string))
            }
            (Some(sent), _) if granted.is_some_and(|g| g != sent) => {
                ctx.violation(
                    "resource-inconsistent",
                    format!("{what} resource {sent} != authorization resource {granted:?} (C4)"),
                );
                Err(oauth_error(
                    400,
                    "invalid_target",
                    "resource differs from the grant",
                ))
            }
            (Some(sent), Some(known)) if sent != known => {
                ctx.violation(
                    "resource-mismatch",
                    format!("{what} resource {sent} is not the PRM resource {known} (C4)"),
                );
                Err(oauth_error(400, "invalid_target", "unknown resource"))
            }
            (sent, _) => Ok(sent.or(granted).map(str::to_string)),
        }
    }

    /// Issues an access token (and the given refresh token) and answers RFC 6749 §5.1 JSON;
    /// `bound` issues a DPoP-bound token (RFC 9449 §5: `token_type` DPoP).
    fn issue(
        &self,
        ctx: &mut Ctx<'_>,
        scopes: Vec<String>,
        resource: Option<String>,
        family: u64,
        refresh: Option<RefreshGrant>,
        bound: bool,
    ) -> HttpResponse {
        let lifetime = self.cfg.access_token_lifetime;
        let scope = match &self.cfg.token_scope {
            Some(verbatim) => verbatim.clone(),
            None => scopes.join(" "),
        };
        let access = ctx.store.issue_access(AccessGrant {
            as_index: self.index,
            scopes,
            resource,
            expires_at: ctx.now.saturating_add(lifetime),
            revoked: false,
            family,
            dpop_bound: bound,
        });
        let token_type = if bound { "DPoP" } else { "Bearer" };
        let mut body =
            json!({ "access_token": access, "token_type": token_type, "expires_in": lifetime });
        if let Some(obj) = body.as_object_mut() {
            if !scope.is_empty() {
                obj.insert("scope".into(), json!(scope));
            }
            if let Some(rt) = refresh.map(|g| ctx.store.issue_refresh(g)) {
                obj.insert("refresh_token".into(), json!(rt));
            }
        }
        HttpResponse::json(200, &body)
            .with_header("Cache-Control", "no-store")
            .with_header("Pragma", "no-cache")
    }

    /// `POST <prefix>/revoke` (RFC 7009 §2). Always 200 once a `token` is given; revoking a
    /// refresh token also revokes the access tokens of its grant (§2.1).
    pub(crate) fn revoke(
        &mut self,
        ctx: &mut Ctx<'_>,
        req: &HttpRequest,
        other: Option<&AuthServer>,
    ) -> HttpResponse {
        self.note_endpoint_use(ctx, "revocation endpoint");
        let form = req.form_pairs();
        let Some(token) = first(&form, "token") else {
            return oauth_error(400, "invalid_request", "token is required");
        };
        // Client authentication slips are recorded, but RFC 7009 answers 200 regardless here.
        let _ = self.authenticate_client(ctx, req, &form, other);
        if let Some(family) = ctx
            .store
            .refresh
            .get(token)
            .filter(|g| g.as_index == self.index)
            .map(|g| g.family)
        {
            ctx.store.revoke_family(family);
        } else if let Some(at) = ctx
            .store
            .access
            .get_mut(token)
            .filter(|g| g.as_index == self.index)
        {
            at.revoked = true;
        }
        HttpResponse::status(200)
    }
}
