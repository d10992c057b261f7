//! Discovery transitions: challenges, protected resource metadata (RFC 9728), authorization
//! server metadata (RFC 8414 / OIDC), scope selection and step-up.
//!
//! Each metadata document has several candidate URLs, tried in order. A 404 (or 410) means
//! "not here": the next candidate, and after the last PRM candidate the 2025-03-26 legacy
//! endpoints at the server origin (MCP 2025-03-26 "Server Metadata Discovery"), as the
//! specification asks of a server that has no metadata. Any other miss is remembered
//! (`Flow::discovery_cause`) and named in the final error. A transient miss (5xx, 429, a
//! transport failure, an over-size answer) says nothing about what the server supports, so
//! it never leads to the legacy guess: discovery fails with that cause once the candidates
//! are exhausted.

use super::*;

impl Machine {
    pub(super) fn on_challenge(&mut self, now: Now, status: u16, values: &[String]) {
        if !self.state.is_idle() {
            return; // the running flow will produce the token this request needs
        }
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let challenge = auth_challenge(&refs);
        if challenge.error.as_deref() == Some("use_dpop_nonce") {
            // RFC 9449 §9: not a token problem. The adapter fed the nonce (ResourceNonce);
            // retry with a fresh proof, keeping the token.
            return;
        }
        if challenge.offers(crate::challenge::ChallengeScheme::DPoP) {
            self.rs_dpop_seen = true;
        }
        if status == 403 {
            if challenge.error.as_deref() == Some("insufficient_scope") {
                self.step_up(now, challenge);
            } else {
                self.emit(Output::Event(Event::Failed(Error::Forbidden)));
            }
            return;
        }
        // The server rejected the token: never hand it out again (in memory only; the store
        // keeps its copy until a new token replaces it).
        if let Some(t) = self.session.as_mut().and_then(|s| s.tokens.as_mut()) {
            t.expires_at = Some(t.expires_at.map_or(now.wall, |at| at.min(now.wall)));
        }
        let has_rt = self
            .session
            .as_ref()
            .and_then(|s| s.tokens.as_ref())
            .is_some_and(|t| t.refresh_token.is_some());
        if self.learn_bearer_only(&challenge) && has_rt {
            // RFC 9449 §7.1: the server takes no bound tokens; an unbound refresh, once.
            self.start_refresh(true);
        } else if has_rt && !self.refreshed_after_401 {
            // A Bearer token refused with a DPoP-only challenge: refresh with a proof for a
            // bound token (RFC 9449 §5); an AS that refuses sends this to a re-authorization.
            self.upgrade_to_dpop = self.wants_dpop_now(&challenge);
            self.start_refresh(true);
        } else {
            let previous = self.previous_scopes();
            self.begin_discovery(now, challenge, previous);
        }
    }

    /// 403 `insufficient_scope`: re-authorize with previous ∪ challenged scopes, reusing cached
    /// metadata (MCP 2025-11-25 authorization, "Scope Challenge Handling").
    pub(super) fn step_up(&mut self, now: Now, challenge: AuthChallenge) {
        let previous = self.previous_scopes();
        let wanted = scope::union(&previous, challenge.scope.as_deref().unwrap_or(&[]));
        // Reuse cached discovery unless the challenge points at different metadata.
        let same_prm = match (&challenge.resource_metadata, &self.cached_prm_url) {
            (None, _) => true,
            (Some(named), Some(cached)) => named == cached,
            (Some(_), None) => false,
        };
        match (&self.cached_prm, &self.cached_meta, same_prm) {
            (Some(p), Some(meta), true)
                if p.authorization_servers.first() == Some(&meta.issuer) =>
            {
                let flow = Flow {
                    resource: self.resource_for(Some(p)),
                    issuer: meta.issuer.clone(),
                    meta: Some(meta.clone()),
                    scopes: wanted,
                    challenge,
                    ..Flow::default()
                };
                self.after_metadata(now, flow);
            }
            _ => self.begin_discovery(now, challenge, wanted),
        }
    }

    pub(super) fn previous_scopes(&self) -> Vec<String> {
        self.session
            .as_ref()
            .map(|s| s.scopes.clone())
            .unwrap_or_default()
    }

    pub(super) fn begin_discovery(
        &mut self,
        now: Now,
        challenge: AuthChallenge,
        scopes: Vec<String>,
    ) {
        if !self.config.interactive && !self.config.grant.is_machine_to_machine() {
            self.fail(now, Error::LoginRequired);
            return;
        }
        self.set_status(AuthStatus::Working);
        if let Some(known) = self.config.authorization_server.clone() {
            return self.named_server(now, challenge, scopes, known);
        }
        let candidates = prm::candidates(&self.server, challenge.resource_metadata.as_deref());
        let flow = Flow {
            challenge,
            scopes,
            ..Flow::default()
        };
        self.fetch_prm(now, flow, candidates, 0);
    }

    pub(super) fn fetch_prm(
        &mut self,
        now: Now,
        flow: Flow,
        candidates: Vec<PrmCandidate>,
        index: usize,
    ) {
        let Some(c) = candidates.get(index) else {
            return self.no_prm(now, flow);
        };
        if let Err(e) = self.config.url_policy.check(&c.url) {
            return self.fail(now, e);
        }
        let id = self.fetch(Step::ResourceMetadata, prm::request(&c.url));
        self.state = State::FetchingPrm {
            id,
            flow,
            candidates,
            index,
        };
    }

    pub(super) fn on_prm(
        &mut self,
        now: Now,
        mut flow: Flow,
        candidates: Vec<PrmCandidate>,
        index: usize,
        result: Fetched,
    ) {
        let step = Step::ResourceMetadata;
        let parsed = match result {
            Ok(resp) => prm::parse(&resp),
            Err(e) => Err(Error::from_transport(step, e)),
        };
        let doc = match parsed {
            Ok(doc) => doc,
            // Whatever the miss, the next well-known URI may still have the document
            // (RFC 9728 §3.1 path-based, then root); the miss is remembered.
            Err(e) => {
                let url = candidates.get(index).map_or("", |c| c.url.as_str());
                note_miss(&mut flow, step, url, e);
                return self.fetch_prm(now, flow, candidates, index + 1);
            }
        };
        // Found: earlier misses of other candidates no longer matter.
        flow.discovery_cause = None;
        let source = candidates.get(index).map(|c| c.source);
        if let Some(source) = source {
            if let Err(e) =
                prm::validate_resource(&doc, &self.server, source, self.config.resource_match)
            {
                return self.fail(now, e);
            }
        }
        let Some(issuer) = doc.authorization_servers.first().cloned() else {
            return self.fail(now, Error::DiscoveryFailed);
        };
        flow.resource = self.resource_for(Some(&doc));
        flow.issuer = issuer.clone();
        self.cached_prm = Some(doc);
        self.cached_prm_url = candidates.get(index).map(|c| c.url.clone());
        match self.cached_meta.clone() {
            Some(meta) if meta.issuer == issuer => {
                flow.meta = Some(meta);
                self.after_metadata(now, flow);
            }
            _ => {
                let candidates = asm::candidates(&issuer);
                self.fetch_meta(now, flow, candidates, 0);
            }
        }
    }

    /// The caller named the authorization server (no PRM discovery): its endpoints as given,
    /// or from its metadata (cached when fetched before).
    fn named_server(
        &mut self,
        now: Now,
        challenge: AuthChallenge,
        scopes: Vec<String>,
        known: crate::config::KnownAuthorizationServer,
    ) {
        self.cached_prm = None;
        let flow = Flow {
            challenge,
            scopes,
            issuer: known.issuer.clone(),
            resource: self.resource_for(None),
            ..Flow::default()
        };
        let meta = match (&known.endpoints, &self.cached_meta) {
            (Some(endpoints), _) => Some(asm::from_endpoints(&known.issuer, endpoints)),
            (None, Some(meta)) if meta.issuer == known.issuer => Some(meta.clone()),
            (None, _) => None,
        };
        match meta {
            Some(meta) => {
                if let Err(e) = self.check_metadata(&meta) {
                    return self.fail(now, e);
                }
                self.cached_meta = Some(meta.clone());
                self.after_metadata(
                    now,
                    Flow {
                        meta: Some(meta),
                        ..flow
                    },
                )
            }
            None => self.fetch_meta(now, flow, asm::candidates(&known.issuer), 0),
        }
    }

    /// No PRM anywhere: 2025-03-26 servers put the AS at the server origin (MCP 2025-03-26
    /// "Server Metadata Discovery"), unless a candidate failed transiently.
    pub(super) fn no_prm(&mut self, now: Now, mut flow: Flow) {
        if let Some(cause) = flow.discovery_cause.take_if(|c| c.is_transient()) {
            return self.fail(now, cause);
        }
        if !self.config.legacy_discovery {
            return self.fail(now, flow.discovery_cause.unwrap_or(Error::DiscoveryFailed));
        }
        let Some(origin) = prm::origin(&self.server) else {
            return self.fail(now, Error::DiscoveryFailed);
        };
        flow.legacy = true;
        flow.issuer = origin.clone();
        flow.resource = self.resource_for(None);
        self.cached_prm = None;
        self.fetch_meta(now, flow, asm::candidates(&origin), 0);
    }

    pub(super) fn fetch_meta(
        &mut self,
        now: Now,
        flow: Flow,
        candidates: Vec<String>,
        index: usize,
    ) {
        let Some(url) = candidates.get(index) else {
            let mut flow = flow;
            if let Some(cause) = flow.discovery_cause.take_if(|c| c.is_transient()) {
                return self.fail(now, cause);
            }
            if flow.legacy {
                // No metadata at all → default endpoints at the origin (MCP 2025-03-26
                // "Fallbacks for Servers without Metadata Discovery").
                flow.meta = Some(asm::legacy_defaults(&flow.issuer));
                return self.after_metadata(now, flow);
            }
            if self.config.authorization_server.is_some() {
                return self.fail(
                    now,
                    Error::NoServerMetadata {
                        issuer: sanitize_remote_text(&flow.issuer),
                    },
                );
            }
            return self.fail(now, flow.discovery_cause.unwrap_or(Error::DiscoveryFailed));
        };
        if let Err(e) = self.config.url_policy.check(url) {
            return self.fail(now, e);
        }
        let id = self.fetch(Step::ServerMetadata, asm::request(url));
        self.state = State::FetchingMeta {
            id,
            flow,
            candidates,
            index,
        };
    }

    pub(super) fn on_meta(
        &mut self,
        now: Now,
        mut flow: Flow,
        candidates: Vec<String>,
        index: usize,
        result: Fetched,
    ) {
        let step = Step::ServerMetadata;
        let parsed = match result {
            Ok(resp) => asm::parse(&resp, &flow.issuer),
            Err(e) => Err(Error::from_transport(step, e)),
        };
        let meta = match parsed {
            Ok(meta) => meta,
            // An issuer mismatch is a hard failure for this issuer (RFC 8414 §3.3).
            Err(e @ Error::IssuerMismatch { .. }) => return self.fail(now, e),
            Err(e) => {
                note_miss(
                    &mut flow,
                    step,
                    candidates.get(index).map_or("", String::as_str),
                    e,
                );
                return self.fetch_meta(now, flow, candidates, index + 1);
            }
        };
        if let Err(e) = self.check_metadata(&meta) {
            return self.fail(now, e);
        }
        self.cached_meta = Some(meta.clone());
        flow.meta = Some(meta);
        self.after_metadata(now, flow);
    }

    pub(super) fn check_metadata(&self, meta: &AuthorizationServerMetadata) -> Result<(), Error> {
        asm::check_pkce(meta, self.config.require_pkce_s256)?;
        let (Some(authz), Some(tok)) = (&meta.authorization_endpoint, &meta.token_endpoint) else {
            return Err(Error::Malformed {
                step: Step::ServerMetadata,
                detail: "authorization_endpoint and token_endpoint are required".into(),
            });
        };
        self.config.url_policy.check(authz)?;
        self.config.url_policy.check(tok)?;
        for url in [&meta.registration_endpoint, &meta.revocation_endpoint]
            .into_iter()
            .flatten()
        {
            self.config.url_policy.check(url)?;
        }
        Ok(())
    }

    /// Metadata known: choose scopes, then get a redirect URI from the adapter.
    pub(super) fn after_metadata(&mut self, now: Now, mut flow: Flow) {
        let Some(meta) = flow.meta.clone() else {
            return self.fail(now, Error::DiscoveryFailed);
        };
        let challenged = flow.challenge.scope.clone().unwrap_or_default();
        flow.scopes = if flow.scopes.is_empty() {
            let prm_scopes = self
                .cached_prm
                .as_ref()
                .and_then(|p| p.scopes_supported.clone());
            scope::initial_scopes(
                self.config.scopes.as_deref(),
                Some(&challenged),
                prm_scopes.as_deref(),
            )
        } else {
            // Re-authorization: previous ∪ challenged, so no granted scope is lost.
            scope::union(&flow.scopes, &challenged)
        };
        flow.dpop_key = match self.dpop_key_for(&flow.challenge, &meta) {
            Ok(key) => key,
            Err(e) => return self.fail(now, e),
        };
        let kind = self.choose_grant(&meta);
        if kind != GrantKind::AuthorizationCode {
            // No refresh token is expected from these grants: no `offline_access` either.
            return self.request_grant(now, flow, kind);
        }
        flow.scopes = scope::with_offline_access(
            std::mem::take(&mut flow.scopes),
            meta.lists_scope(scope::OFFLINE_ACCESS),
        );
        self.last_grant = Some(kind);
        if self.attempts >= self.config.max_authorization_attempts {
            // Spent step-up budget: fail before starting a listener.
            return self.fail(
                now,
                Error::StepUpLimit {
                    attempts: self.attempts,
                },
            );
        }
        self.last_issuer = Some(flow.issuer.clone());
        self.set_status(AuthStatus::Working);
        self.listen(flow);
    }
}

/// Remembers why the metadata candidate `url` gave nothing. 404 and 410 are the plain "not
/// here" answers (RFC 9728 §3.1, RFC 8414 §3.1 probe by GET) and are not worth naming; any
/// other miss becomes an [`Error::Discovery`] naming the URL. The first transient miss wins
/// over earlier non-transient ones, since it is the one that stops the legacy fallback.
fn note_miss(flow: &mut Flow, step: Step, url: &str, error: Error) {
    if matches!(
        error,
        Error::HttpStatus {
            status: 404 | 410,
            ..
        }
    ) {
        return;
    }
    let named = Error::Discovery {
        step,
        url: sanitize_remote_text(url),
        cause: Box::new(error),
    };
    let replace = match &flow.discovery_cause {
        None => true,
        Some(earlier) => !earlier.is_transient() && named.is_transient(),
    };
    if replace {
        flow.discovery_cause = Some(named);
    }
}
