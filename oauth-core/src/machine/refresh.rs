//! Refresh (single flight, re-read under the store lock) and logout (RFC 7009) transitions.

use super::*;

impl Machine {
    // ---------------------------------------------------------------- refresh

    pub(super) fn start_refresh(&mut self, _now: Now, after_401: bool) {
        self.refreshed_after_401 |= after_401;
        self.set_status(AuthStatus::Working);
        self.emit(Output::LoadSession);
        self.state = State::ReloadingForRefresh;
    }

    pub(super) fn on_session_loaded(&mut self, now: Now, loaded: Option<Session>) {
        let loaded = loaded
            .filter(|s| s.server == self.server && (1..=SESSION_VERSION).contains(&s.version));
        match self.state {
            State::Idle => {
                if let Some(s) = loaded {
                    let authorized = s.tokens.is_some();
                    let host = host_of(&s.issuer);
                    self.tokens_obtained_at = None;
                    if self.cached_meta.is_none() {
                        self.restore_discovery(&s);
                    }
                    self.adopt_settings(&s);
                    self.session = Some(s);
                    self.set_status(if authorized {
                        AuthStatus::Authorized
                    } else {
                        AuthStatus::AuthorizationRequired { server_host: host }
                    });
                }
            }
            State::ReloadingForRefresh => self.refresh_with(now, loaded),
            _ => {}
        }
    }

    /// Under the store lock: if another process already refreshed, adopt its token; otherwise
    /// spend the (freshly re-read) refresh token.
    pub(super) fn refresh_with(&mut self, now: Now, loaded: Option<Session>) {
        let margin = self.config.refresh_margin.as_secs();
        let ours = self
            .session
            .as_ref()
            .and_then(|s| s.tokens.as_ref())
            .map(|t| t.access_token.expose_secret().to_string());
        if let Some(s) = loaded {
            self.adopt_settings(&s);
            let theirs = s.tokens.as_ref().map(|t| t.access_token.expose_secret());
            if s.has_usable_token(now.wall, margin) && theirs != ours.as_deref() {
                self.tokens_obtained_at = None;
                self.session = Some(s);
                self.state = State::Idle;
                self.set_status(AuthStatus::Authorized);
                self.emit(Output::Event(Event::Authorized));
                return;
            }
            self.tokens_obtained_at = None;
            self.session = Some(s);
        }
        let Some(s) = &self.session else {
            self.state = State::Idle;
            return self.begin_discovery(now, AuthChallenge::default(), Vec::new());
        };
        let Some(rt) = s.tokens.as_ref().and_then(|t| t.refresh_token.clone()) else {
            self.state = State::Idle;
            let previous = self.previous_scopes();
            return self.begin_discovery(now, AuthChallenge::default(), previous);
        };
        if let Err(e) = self.config.url_policy.check(&s.token_endpoint) {
            self.state = State::Idle;
            return self.fail(e);
        }
        let request = token::refresh_request(
            &s.token_endpoint,
            &s.client,
            &rt,
            s.resource.as_deref(),
            None,
        );
        let key = s.tokens.as_ref().and_then(|t| t.dpop_key.clone());
        let key = self.refresh_dpop_key(key);
        let id = self.fetch_token(now, Step::Refresh, request, key);
        self.state = State::Refreshing { id };
    }

    pub(super) fn on_refreshed(&mut self, now: Now, result: Result<HttpResponse, String>) {
        let Some(mut session) = self.session.clone() else {
            return;
        };
        let parsed = token_answer(result, Step::Refresh);
        match parsed {
            Ok(response) => {
                let previous_rt = session
                    .tokens
                    .as_ref()
                    .and_then(|t| t.refresh_token.clone());
                if let Some(s) = response.scope.as_deref() {
                    session.scopes = scope::split(s);
                }
                let mut tokens = response.into_token_set(now.wall, previous_rt);
                tokens.dpop_key = self.token_dpop_key.clone();
                session.tokens = Some(tokens);
                self.install_session(session);
            }
            Err(e) if e.oauth_code().is_some() => {
                // invalid_grant and friends: the refresh token is dead. Drop the tokens (and a DCR
                // client the AS no longer knows), keep the rest, and log in again.
                session.tokens = None;
                if super::login::rejects_client(&e) && session.client.kind == ClientKind::Dynamic {
                    session.client.redirect_uri = None;
                }
                self.emit(Output::StoreSession(session.clone()));
                let previous = session.scopes.clone();
                self.session = Some(session);
                self.begin_discovery(now, AuthChallenge::default(), previous);
            }
            Err(e) => {
                // Network or protocol trouble: keep the session intact and report.
                self.fail(e);
            }
        }
    }

    pub(super) fn next_revocation(&mut self, mut remaining: Vec<HttpRequest>) {
        if let Some(request) = remaining.pop() {
            let id = self.fetch(Step::Revocation, request);
            self.state = State::Revoking { id, remaining };
            return;
        }
        self.state = State::Idle;
        self.session = None;
        self.attempts = 0;
        self.emit(Output::ClearSession);
        self.emit(Output::Event(Event::LoggedOut));
        self.set_status(AuthStatus::AuthorizationRequired { server_host: None });
    }
}
