//! Login transitions: registration (pre-registered > CIMD > stored DCR > new DCR), the browser
//! step (PKCE, state, RFC 9207 iss) and the code exchange.

use super::*;

impl Machine {
    pub(super) fn on_loopback_ready(&mut self, now: Now, redirect_uri: String) {
        // A stray LoopbackReady in any other state must not disturb the flow in progress
        // (found by the `machine` fuzz target): look before taking the state apart.
        if !matches!(self.state, State::Listening { .. }) {
            return;
        }
        let State::Listening { mut flow, listener } =
            std::mem::replace(&mut self.state, State::Idle)
        else {
            return;
        };
        flow.redirect_uri = redirect_uri;
        self.register_or_authorize(now, flow, listener);
    }

    /// Registration priority (MCP 2025-11-25 Authorization, "Client Registration Approaches"):
    /// pre-registered > CIMD > stored DCR client for
    /// this issuer and redirect URI > new DCR registration.
    pub(super) fn register_or_authorize(&mut self, now: Now, mut flow: Flow, listener: Listener) {
        let Some(meta) = flow.meta.clone() else {
            return self.fail_open(now, listener, Error::DiscoveryFailed);
        };
        let supported = meta.auth_methods();
        if let Some(pre) = &self.config.client.pre_registered {
            if let Some(bound) = &pre.issuer {
                if *bound != flow.issuer {
                    let e = Error::PreRegisteredIssuerMismatch {
                        configured: bound.clone(),
                        discovered: flow.issuer.clone(),
                    };
                    return self.fail_open(now, listener, e);
                }
            }
            let method = pre.auth_method.unwrap_or_else(|| {
                registration::choose_auth_method(pre.client_secret.is_some(), None, &supported)
            });
            flow.registration = Some(ClientRegistration {
                kind: ClientKind::PreRegistered,
                issuer: flow.issuer.clone(),
                client_id: pre.client_id.clone(),
                client_secret: pre.client_secret.clone(),
                secret_expires_at: None,
                auth_method: method,
                redirect_uri: None,
            });
            return self.send_authorization(now, flow, listener);
        }
        if let Some(url) = &self.config.client.metadata_document_url {
            if meta.client_id_metadata_document_supported {
                flow.registration = Some(ClientRegistration {
                    kind: ClientKind::MetadataDocument,
                    issuer: flow.issuer.clone(),
                    client_id: url.clone(),
                    client_secret: None,
                    secret_expires_at: None,
                    auth_method: crate::session::ClientAuthMethod::None,
                    redirect_uri: None,
                });
                return self.send_authorization(now, flow, listener);
            }
        }
        let stored = self.session.as_ref().map(|s| &s.client).filter(|c| {
            c.kind == ClientKind::Dynamic
                && c.issuer == flow.issuer
                && c.redirect_uri.as_deref() == Some(flow.redirect_uri.as_str())
                && c.secret_expires_at.is_none_or(|t| t > now.wall)
        });
        if let (Some(client), false) = (stored, flow.reregistered) {
            flow.registration = Some(client.clone());
            flow.reused_registration = true;
            return self.send_authorization(now, flow, listener);
        }
        match (
            &meta.registration_endpoint,
            self.config.client.allow_dynamic_registration,
        ) {
            (Some(endpoint), true) => {
                let scope = scope::join(&flow.scopes);
                let c = &self.config.client;
                let request = registration::dcr_request(
                    endpoint,
                    &registration::DcrParams {
                        client_name: &c.client_name,
                        redirect_uri: &flow.redirect_uri,
                        scope: scope.as_deref(),
                        application_type: &c.application_type,
                        software_id: c.software_id.as_deref(),
                        software_version: c.software_version.as_deref(),
                    },
                );
                let id = self.fetch(Step::Registration, request);
                self.state = State::Registering { id, flow, listener };
            }
            _ => self.fail_open(now, listener, Error::RegistrationUnavailable),
        }
    }

    pub(super) fn on_registered(
        &mut self,
        now: Now,
        mut flow: Flow,
        listener: Listener,
        result: Fetched,
    ) {
        let supported = flow
            .meta
            .as_ref()
            .map(|m| m.auth_methods())
            .unwrap_or_default();
        let parsed = result
            .map_err(|e| Error::from_transport(Step::Registration, e))
            .and_then(|resp| {
                registration::parse_dcr_response(
                    &resp,
                    &flow.issuer,
                    &flow.redirect_uri,
                    &supported,
                )
            });
        match parsed {
            Ok(client) => {
                flow.registration = Some(client);
                self.send_authorization(now, flow, listener);
            }
            Err(e) => self.fail_open(now, listener, e),
        }
    }

    pub(super) fn send_authorization(&mut self, now: Now, flow: Flow, listener: Listener) {
        if self.attempts >= self.config.max_authorization_attempts {
            let e = Error::StepUpLimit {
                attempts: self.attempts,
            };
            return self.fail_open(now, listener, e);
        }
        let (Some(meta), Some(client)) = (&flow.meta, &flow.registration) else {
            return self.fail_open(now, listener, Error::DiscoveryFailed);
        };
        let Some(endpoint) = meta.authorization_endpoint.as_deref() else {
            return self.fail_open(now, listener, Error::DiscoveryFailed);
        };
        self.attempts += 1;
        let pkce = pkce::generate(&mut *self.rng);
        let state = pkce::random_state(&mut *self.rng);
        let scope = scope::join(&flow.scopes);
        let url = authorization_url(&AuthorizationParams {
            authorization_endpoint: endpoint,
            client_id: &client.client_id,
            redirect_uri: &flow.redirect_uri,
            scope: scope.as_deref(),
            state: &state,
            code_challenge: &pkce.challenge,
            resource: flow.resource.as_deref(),
            extra: &self.config.authorize_params,
        });
        if let Err(e) = self.config.url_policy.check(&url) {
            return self.fail_open(now, listener, e);
        }
        let host = host_of(&flow.issuer);
        self.emit(Output::OpenBrowser(BrowserRequest {
            url,
            state: state.clone(),
        }));
        self.set_status(AuthStatus::WaitingForBrowser { server_host: host });
        let deadline = Deadline {
            at: now.instant + self.config.authorization_timeout,
            reason: DeadlineReason::AuthorizationTimeout,
        };
        self.state = State::WaitingCallback(Box::new(Pending {
            flow,
            state,
            verifier: pkce.verifier,
            deadline,
            listener,
        }));
    }

    pub(super) fn on_callback(&mut self, now: Now, query: &str) {
        let State::WaitingCallback(pending) = &self.state else {
            return;
        };
        let params = match parse_callback(query) {
            Ok(p) => p,
            Err(e) => {
                self.emit(Output::Event(Event::CallbackRejected(e)));
                return;
            }
        };
        let state_ok = params
            .state
            .as_deref()
            .is_some_and(|s| pending.state.matches(s));
        if !state_ok {
            // Forged or stale callback: discard it and keep waiting (RFC 6749 §10.12).
            self.emit(Output::Event(Event::CallbackRejected(Error::StateMismatch)));
            return;
        }
        let State::WaitingCallback(pending) = std::mem::replace(&mut self.state, State::Idle)
        else {
            return;
        };
        let Pending {
            flow,
            state,
            verifier,
            listener,
            ..
        } = *pending;
        self.close_listener(listener);
        let iss_advertised = flow
            .meta
            .as_ref()
            .is_some_and(|m| m.authorization_response_iss_parameter_supported);
        let code = match validate_callback(params, &state, &flow.issuer, iss_advertised) {
            Ok(code) => code,
            Err(e) => return self.fail(now, e),
        };
        let (Some(meta), Some(client)) = (&flow.meta, &flow.registration) else {
            return self.fail(now, Error::DiscoveryFailed);
        };
        let Some(token_endpoint) = meta.token_endpoint.as_deref() else {
            return self.fail(now, Error::DiscoveryFailed);
        };
        self.set_status(AuthStatus::Working);
        let request = token::code_exchange_request(
            token_endpoint,
            client,
            &code,
            &flow.redirect_uri,
            &verifier,
            flow.resource.as_deref(),
        );
        let call = self.fetch_token(now, Step::TokenExchange, request, flow.dpop_key.clone());
        self.state = State::ExchangingCode { call, flow };
    }

    pub(super) fn on_code_exchanged(
        &mut self,
        now: Now,
        mut flow: Flow,
        call: TokenCall,
        result: Fetched,
    ) {
        let response = match self.accept_tokens(result, &call) {
            Ok(r) => r,
            Err(e) => {
                // Only a stored registration is stale; a client registered moments ago and
                // refused would be refused again.
                let stale_dcr = flow.reused_registration && !flow.reregistered;
                if rejects_client(&e) && stale_dcr {
                    // A stored DCR client the AS no longer knows (deleted, expired, its database
                    // reset): forget it, register again, once, and authorize again with a fresh
                    // listener (the code was issued to the old client; the listener closed).
                    flow.reregistered = true;
                    flow.reused_registration = false;
                    flow.registration = None;
                    if let Some(s) = self.session.as_mut() {
                        s.tokens = None;
                        if s.client.kind == ClientKind::Dynamic && s.client.issuer == flow.issuer {
                            s.client.redirect_uri = None;
                        }
                    }
                    return self.listen(flow);
                }
                return self.fail(now, configured_client_error(e, flow.registration.as_ref()));
            }
        };
        self.install_granted(now, flow, response);
    }

    /// Builds the session of `flow` from a successful token answer (authorization code or any
    /// machine grant) and installs it. Scopes are those granted, else those requested (RFC 6749
    /// §5.1: an omitted `scope` means the requested one).
    pub(super) fn install_granted(&mut self, now: Now, flow: Flow, response: token::TokenResponse) {
        let (Some(meta), Some(client)) = (flow.meta, flow.registration) else {
            return self.fail(now, Error::DiscoveryFailed);
        };
        let granted = response
            .scope
            .as_deref()
            .map(scope::split)
            .unwrap_or(flow.scopes);
        let session = Session {
            version: SESSION_VERSION,
            server: self.server.clone(),
            resource: flow.resource,
            issuer: flow.issuer,
            token_endpoint: meta.token_endpoint.clone().unwrap_or_default(),
            revocation_endpoint: meta.revocation_endpoint.clone(),
            client,
            tokens: Some(crate::session::TokenSet {
                dpop_key: flow.dpop_key,
                ..response.into_token_set(now.wall, None)
            }),
            scopes: granted,
            discovery: None,
            settings: crate::session::SessionSettings::default(),
        };
        self.install_session(now, session);
    }

    /// Persist first, then announce: a token is never used before it is stored.
    pub(super) fn install_session(&mut self, now: Now, mut session: Session) {
        self.tokens_obtained_at = session.tokens.as_ref().map(|_| now.wall);
        self.stamp_settings(&mut session);
        if let Some(cache) = self.discovery_cache(&session.issuer) {
            session.discovery = Some(cache);
        }
        self.emit(Output::StoreSession(session.clone()));
        self.session = Some(session);
        self.state = State::Idle;
        self.set_status(AuthStatus::Authorized);
        self.emit(Output::Event(Event::Authorized));
    }
}

/// `invalid_client` or `unauthorized_client` from the token endpoint (RFC 6749 §5.2): the AS
/// does not accept this client (any more).
pub(super) fn rejects_client(e: &Error) -> bool {
    matches!(
        e.oauth_code(),
        Some("invalid_client" | "unauthorized_client")
    )
}

/// A client the user configured cannot be registered again: say which one was refused.
pub(super) fn configured_client_error(e: Error, client: Option<&ClientRegistration>) -> Error {
    match (client, e.oauth_code()) {
        (Some(c), Some(code)) if c.kind == ClientKind::PreRegistered && rejects_client(&e) => {
            Error::ClientRejected {
                client_id: sanitize_remote_text(&c.client_id),
                code: code.to_string(),
            }
        }
        _ => e,
    }
}
