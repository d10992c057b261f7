//! Machine-to-machine grants and DPoP (MCP authorization extensions; RFC 7523; RFC 9449): client
//! credentials
//! (`io.modelcontextprotocol/oauth-client-credentials`), the RFC 7523 jwt-bearer grant for
//! workload identity (SEP-1933), enterprise-managed authorization (SEP-990: RFC 8693 exchange at
//! the IdP, then jwt-bearer), `private_key_jwt` client authentication, and RFC 9449 proofs with
//! server nonces. The signing lives in `jwt.rs` / `dpop.rs` (feature `extensions`); without the
//! feature these paths fail with a configuration error instead of silently downgrading.

use super::*;
use crate::config::Grant;
use crate::grants::{self, ClientAuth};
use crate::secret::DpopPrivateKey;
use crate::session::ClientAuthMethod;

/// The header carrying server nonces (RFC 9449 §8, §9).
const DPOP_NONCE_HEADER: &str = "DPoP-Nonce";

/// Which grant a flow uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GrantKind {
    AuthorizationCode,
    ClientCredentials,
    JwtBearer,
    EnterpriseManaged,
}

impl GrantKind {
    fn is_machine_to_machine(self) -> bool {
        self != GrantKind::AuthorizationCode
    }
}

impl Machine {
    /// The configured grant, or for `Auto` the one the AS metadata allows: client credentials
    /// when the AS offers it but not the authorization code grant and a confidential
    /// pre-registered client exists; otherwise the authorization code grant.
    pub(super) fn choose_grant(&self, meta: &AuthorizationServerMetadata) -> GrantKind {
        match &self.config.grant {
            Grant::AuthorizationCode => GrantKind::AuthorizationCode,
            Grant::ClientCredentials => GrantKind::ClientCredentials,
            Grant::JwtBearer { .. } => GrantKind::JwtBearer,
            Grant::EnterpriseManaged(_) => GrantKind::EnterpriseManaged,
            Grant::Auto => {
                let offered = meta.grant_types_supported.as_deref().unwrap_or(&[]);
                let offers = |g: &str| offered.iter().any(|x| x == g);
                let confidential = self.config.client.private_key_jwt.is_some()
                    || self
                        .config
                        .client
                        .pre_registered
                        .as_ref()
                        .is_some_and(|p| p.client_secret.is_some());
                if confidential && offers("client_credentials") && !offers("authorization_code") {
                    GrantKind::ClientCredentials
                } else {
                    GrantKind::AuthorizationCode
                }
            }
        }
    }

    /// Whether tokens from this machine's grant are re-obtained without a user on expiry.
    pub(super) fn regrants_silently(&self) -> bool {
        self.config.grant.is_machine_to_machine()
            || self
                .last_grant
                .is_some_and(GrantKind::is_machine_to_machine)
    }

    /// Re-runs a machine-to-machine grant (expiry or 401), reusing cached metadata.
    pub(super) fn regrant(&mut self, now: Now) {
        match (&self.cached_prm, &self.cached_meta) {
            (Some(p), Some(meta)) if p.authorization_servers.first() == Some(&meta.issuer) => {
                let flow = Flow {
                    resource: self.resource_for(Some(p)),
                    issuer: meta.issuer.clone(),
                    meta: Some(meta.clone()),
                    scopes: self.previous_scopes(),
                    ..Flow::default()
                };
                self.set_status(AuthStatus::Working);
                self.after_metadata(now, flow);
            }
            _ => {
                let previous = self.previous_scopes();
                self.begin_discovery(now, AuthChallenge::default(), previous);
            }
        }
    }

    /// One token request (two for SEP-990) instead of the browser.
    pub(super) fn request_grant(&mut self, now: Now, mut flow: Flow, kind: GrantKind) {
        self.last_grant = Some(kind);
        let Some(meta) = flow.meta.clone() else {
            return self.fail(now, Error::DiscoveryFailed);
        };
        let Some(token_endpoint) = meta.token_endpoint.clone() else {
            return self.fail(now, Error::DiscoveryFailed);
        };
        flow.registration = match self.machine_client(&flow, &meta, kind) {
            Ok(r) => r,
            Err(e) => return self.fail(now, e),
        };
        let scope = scope::join(&flow.scopes);
        let resource = flow.resource.clone();
        if kind == GrantKind::EnterpriseManaged {
            let Grant::EnterpriseManaged(idp) = &self.config.grant else {
                return self.fail(now, Error::Config("enterprise IdP not configured".into()));
            };
            if let Err(e) = self.config.url_policy.check(&idp.token_endpoint) {
                return self.fail(now, e);
            }
            let idp_auth = match (&idp.client_id, &idp.client_secret) {
                (Some(id), Some(secret)) => Some((id.clone(), secret.expose_secret().to_string())),
                _ => None,
            };
            let auth = match (&idp_auth, &idp.client_id) {
                (Some((id, secret)), _) => ClientAuth::Basic {
                    client_id: id,
                    secret,
                },
                (None, Some(id)) => ClientAuth::None { client_id: id },
                (None, None) => ClientAuth::None { client_id: "" },
            };
            let request = grants::token_exchange_request(
                &idp.token_endpoint,
                idp.id_token.expose_secret(),
                grants::ID_TOKEN_TYPE,
                grants::ID_JAG_TYPE,
                &flow.issuer,
                resource.as_deref(),
                scope.as_deref(),
                &auth,
            );
            let id = self.fetch(Step::AssertionExchange, request);
            self.state = State::ExchangingAssertion { id, flow };
            return;
        }
        let assertion = match &self.config.grant {
            Grant::JwtBearer { assertion } => Some(assertion.expose_secret().to_string()),
            _ => None,
        };
        let (step, request) = match self.grant_request(now, &flow, kind, &token_endpoint, assertion)
        {
            Ok(r) => r,
            Err(e) => return self.fail(now, e),
        };
        let call = self.fetch_token(now, step, request, flow.dpop_key.clone());
        self.state = State::Granting { call, flow };
    }

    /// The grant request for `kind` with this client's authentication, and the step it is
    /// counted under ([`Step::JwtBearer`] when an assertion is presented, else
    /// [`Step::ClientCredentials`]).
    fn grant_request(
        &mut self,
        now: Now,
        flow: &Flow,
        kind: GrantKind,
        token_endpoint: &str,
        assertion: Option<String>,
    ) -> Result<(Step, HttpRequest), Error> {
        let client_assertion = self.client_assertion(now, flow)?;
        let (client_id, secret, method) = match &flow.registration {
            Some(c) => (
                c.client_id.clone(),
                c.client_secret
                    .as_ref()
                    .map(|s| s.expose_secret().to_string()),
                c.auth_method,
            ),
            None => (String::new(), None, ClientAuthMethod::None),
        };
        let auth = match (client_assertion.as_deref(), secret.as_deref(), method) {
            (Some(a), _, _) => ClientAuth::Assertion { assertion: a },
            (None, Some(s), ClientAuthMethod::ClientSecretBasic) => ClientAuth::Basic {
                client_id: &client_id,
                secret: s,
            },
            (None, Some(s), ClientAuthMethod::ClientSecretPost) => ClientAuth::Post {
                client_id: &client_id,
                secret: s,
            },
            _ => ClientAuth::None {
                client_id: &client_id,
            },
        };
        let scope = scope::join(&flow.scopes);
        Ok(match (kind, assertion) {
            (GrantKind::JwtBearer | GrantKind::EnterpriseManaged, Some(a)) => (
                Step::JwtBearer,
                grants::jwt_bearer_request(
                    token_endpoint,
                    &a,
                    &auth,
                    scope.as_deref(),
                    flow.resource.as_deref(),
                ),
            ),
            _ => (
                Step::ClientCredentials,
                grants::client_credentials_request(
                    token_endpoint,
                    &auth,
                    scope.as_deref(),
                    flow.resource.as_deref(),
                ),
            ),
        })
    }

    /// The pre-registered client for a machine-to-machine grant, bound to this issuer.
    fn machine_client(
        &self,
        flow: &Flow,
        meta: &AuthorizationServerMetadata,
        kind: GrantKind,
    ) -> Result<Option<ClientRegistration>, Error> {
        let Some(pre) = &self.config.client.pre_registered else {
            return match kind {
                GrantKind::JwtBearer => Ok(None),
                _ => Err(Error::Config(
                    "this grant needs a pre-registered client (client id and secret or key)".into(),
                )),
            };
        };
        if let Some(bound) = &pre.issuer {
            if *bound != flow.issuer {
                return Err(Error::PreRegisteredIssuerMismatch {
                    configured: bound.clone(),
                    discovered: flow.issuer.clone(),
                });
            }
        }
        let method = pre.auth_method.unwrap_or_else(|| {
            registration::choose_auth_method(
                pre.client_secret.is_some(),
                None,
                &meta.auth_methods(),
            )
        });
        Ok(Some(ClientRegistration {
            kind: ClientKind::PreRegistered,
            issuer: flow.issuer.clone(),
            client_id: pre.client_id.clone(),
            client_secret: pre.client_secret.clone(),
            secret_expires_at: None,
            auth_method: method,
            redirect_uri: None,
        }))
    }

    pub(super) fn on_assertion_exchanged(&mut self, now: Now, flow: Flow, result: Fetched) {
        let exchanged = result
            .map_err(|e| Error::from_transport(Step::AssertionExchange, e))
            .and_then(|resp| grants::parse_token_exchange_response(&resp));
        let id_jag = match exchanged {
            Ok(t) if t.issued_token_type == grants::ID_JAG_TYPE => {
                t.token.expose_secret().to_string()
            }
            Ok(t) => {
                return self.fail(
                    now,
                    Error::Malformed {
                        step: Step::AssertionExchange,
                        detail: format!(
                            "the IdP issued {:?}, not an ID-JAG",
                            sanitize_remote_text(&t.issued_token_type)
                        ),
                    },
                )
            }
            Err(e) => return self.fail(now, e),
        };
        let Some(token_endpoint) = flow.meta.as_ref().and_then(|m| m.token_endpoint.clone()) else {
            return self.fail(now, Error::DiscoveryFailed);
        };
        let (step, request) = match self.grant_request(
            now,
            &flow,
            GrantKind::EnterpriseManaged,
            &token_endpoint,
            Some(id_jag),
        ) {
            Ok(r) => r,
            Err(e) => return self.fail(now, e),
        };
        let call = self.fetch_token(now, step, request, flow.dpop_key.clone());
        self.state = State::Granting { call, flow };
    }

    /// A machine-to-machine grant answered. Errors are surfaced as they are: no retry and no
    /// other grant type (SEP-1933 `wif-no-retry`, `wif-grant-fallback`).
    pub(super) fn on_granted(
        &mut self,
        now: Now,
        mut flow: Flow,
        call: TokenCall,
        result: Fetched,
    ) {
        let retry_after = result
            .as_ref()
            .ok()
            .and_then(super::refresh::retry_after_secs);
        let response = match self.accept_tokens(result, &call) {
            Ok(r) => r,
            // A refusal is surfaced as it is (no retry); anything else, while the previous
            // grant's token is still valid, only defers the renewal (refresh.rs).
            Err(e) if e.oauth_code().is_some() => {
                let e = super::login::configured_client_error(e, flow.registration.as_ref());
                return self.fail(now, e);
            }
            Err(e) => return self.renewal_failed(now, e, retry_after),
        };
        // A workload-identity grant may run without any client registration: the session then
        // records an anonymous pre-registered client bound to the issuer.
        if flow.registration.is_none() {
            flow.registration = Some(ClientRegistration {
                kind: ClientKind::PreRegistered,
                issuer: flow.issuer.clone(),
                client_id: String::new(),
                client_secret: None,
                secret_expires_at: None,
                auth_method: ClientAuthMethod::None,
                redirect_uri: None,
            });
        }
        self.install_granted(now, flow, response);
    }

    // ---------------------------------------------------------------- DPoP

    #[cfg(feature = "extensions")]
    pub(super) fn new_dpop_key(&mut self) -> Option<DpopPrivateKey> {
        Some(crate::dpop::generate_key(&mut *self.rng).to_scalar_b64())
    }

    #[cfg(not(feature = "extensions"))]
    pub(super) fn new_dpop_key(&mut self) -> Option<DpopPrivateKey> {
        None
    }

    /// Sends a token-endpoint request, with a DPoP proof when `key` is set and one can be
    /// signed. The returned call remembers the key the proof was signed with (the answer's
    /// tokens are bound to it) and the unsigned request, so a `use_dpop_nonce` answer can be
    /// retried once (RFC 9449 §8).
    pub(super) fn fetch_token(
        &mut self,
        now: Now,
        step: Step,
        request: HttpRequest,
        key: Option<DpopPrivateKey>,
    ) -> TokenCall {
        let proof = key
            .as_ref()
            .and_then(|k| self.token_proof(now, &request, k));
        let Some(proof) = proof else {
            let id = self.fetch(step, request);
            return TokenCall {
                id,
                step,
                dpop_key: None,
                retry: None,
            };
        };
        let id = self.fetch(step, grants::with_dpop(request.clone(), &proof));
        TokenCall {
            id,
            step,
            dpop_key: key,
            retry: Some(request),
        }
    }

    /// A DPoP proof for a token request (no `ath`), with the authorization server's latest
    /// nonce.
    fn token_proof(
        &mut self,
        now: Now,
        request: &HttpRequest,
        key: &DpopPrivateKey,
    ) -> Option<String> {
        let nonce = self.as_nonce.clone();
        self.sign_proof(now, key, "POST", &request.url, None, nonce)
    }

    /// `400 use_dpop_nonce` with a `DPoP-Nonce` header in answer to `call`: remember the nonce
    /// and re-send the request once with a fresh proof, pointing `call` at the new request.
    /// Returns false (nothing sent) for any other answer, a call sent without a proof, or one
    /// already retried.
    pub(super) fn retry_with_dpop_nonce(
        &mut self,
        now: Now,
        call: &mut TokenCall,
        resp: &HttpResponse,
    ) -> bool {
        let (Some(request), Some(key)) = (&call.retry, &call.dpop_key) else {
            return false;
        };
        if resp.status != 400 {
            return false;
        }
        let Some(nonce) = resp.header(DPOP_NONCE_HEADER) else {
            return false;
        };
        let body: Option<serde_json::Value> = serde_json::from_slice(&resp.body).ok();
        if body.as_ref().and_then(|b| b.get("error")?.as_str()) != Some("use_dpop_nonce") {
            return false;
        }
        self.as_nonce = Some(nonce.to_string());
        let (request, key) = (request.clone(), key.clone());
        let signed = match self.token_proof(now, &request, &key) {
            Some(proof) => grants::with_dpop(request, &proof),
            None => request,
        };
        call.id = self.fetch(call.step, signed);
        call.retry = None;
        true
    }

    /// The `DPoP` header for one MCP request (RFC 9449 §7): a fresh proof with `ath` for the
    /// current DPoP-bound token and the server's latest nonce. `None` for bearer tokens.
    pub fn dpop_proof(&mut self, now: Now, method: &str, url: &str) -> Option<String> {
        let tokens = self.session.as_ref()?.tokens.as_ref()?;
        if tokens.token_type != crate::session::TokenType::DPoP {
            return None;
        }
        let key = tokens.dpop_key.clone()?;
        let token = tokens.access_token.expose_secret().to_string();
        let nonce = self.rs_nonce.clone();
        self.sign_proof(now, &key, method, url, Some(&token), nonce)
    }

    #[cfg(feature = "extensions")]
    fn sign_proof(
        &mut self,
        now: Now,
        key: &DpopPrivateKey,
        method: &str,
        url: &str,
        access_token: Option<&str>,
        nonce: Option<String>,
    ) -> Option<String> {
        let key = crate::jwt::SigningKey::from_scalar_b64(key).ok()?;
        let jti = crate::jwt::random_jti(&mut *self.rng);
        Some(crate::dpop::proof(
            &key,
            method,
            url,
            now.wall,
            &jti,
            access_token,
            nonce.as_deref(),
        ))
    }

    #[cfg(not(feature = "extensions"))]
    fn sign_proof(
        &mut self,
        _now: Now,
        _key: &DpopPrivateKey,
        _method: &str,
        _url: &str,
        _access_token: Option<&str>,
        _nonce: Option<String>,
    ) -> Option<String> {
        None
    }

    /// A `private_key_jwt` assertion for the configured client (RFC 7523 §2.2), `aud` = the AS
    /// issuer unless configured otherwise.
    #[cfg(feature = "extensions")]
    fn client_assertion(&mut self, now: Now, flow: &Flow) -> Result<Option<String>, Error> {
        let Some(pk) = &self.config.client.private_key_jwt else {
            return Ok(None);
        };
        let client_id = flow
            .registration
            .as_ref()
            .map(|c| c.client_id.clone())
            .ok_or_else(|| Error::Config("private_key_jwt needs a client id".into()))?;
        let key = crate::jwt::SigningKey::from_pkcs8_pem(pk.key_pem.expose_secret())?;
        let audience = pk.audience.clone().unwrap_or_else(|| flow.issuer.clone());
        let jti = crate::jwt::random_jti(&mut *self.rng);
        Ok(Some(crate::jwt::client_assertion(
            &key, &client_id, &audience, now.wall, &jti,
        )))
    }

    #[cfg(not(feature = "extensions"))]
    fn client_assertion(&mut self, _now: Now, _flow: &Flow) -> Result<Option<String>, Error> {
        match &self.config.client.private_key_jwt {
            Some(_) => Err(Error::Config(
                "private_key_jwt needs the `extensions` feature".into(),
            )),
            None => Ok(None),
        }
    }
}
