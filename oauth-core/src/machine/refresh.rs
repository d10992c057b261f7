//! Refresh (single flight, re-read under the store lock) and logout (RFC 7009) transitions,
//! and what every token-endpoint answer goes through ([`Machine::accept_tokens`]).
//!
//! Only a definitive refusal forgets a refresh token: `invalid_grant` (RFC 6749 §5.2: the
//! grant "is invalid, expired, revoked") or `invalid_client` (the registration is gone), both
//! only ever read from a non-5xx, non-429 answer (token.rs `error_from_response`). A 5xx, a
//! 429, a timeout, garbage, or any other error code keeps every token; while the access token
//! is still valid it keeps being used and the renewal is retried later.

use super::*;
use crate::error::Warning;

/// How long a failed renewal waits before the next attempt when the server gave no
/// `Retry-After` (RFC 9110 §10.2.3), and the bounds applied to one it gave.
const RENEWAL_RETRY_SECS: u64 = 30;
const RENEWAL_RETRY_MIN_SECS: u64 = 5;
const RENEWAL_RETRY_MAX_SECS: u64 = 300;

impl Machine {
    // ---------------------------------------------------------------- refresh

    pub(super) fn start_refresh(&mut self, after_401: bool) {
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
        let ours = self
            .session
            .as_ref()
            .and_then(|s| s.tokens.as_ref())
            .map(|t| t.access_token.expose_secret().to_string());
        if let Some(s) = loaded {
            self.adopt_settings(&s);
            let theirs = s.tokens.as_ref().map(|t| t.access_token.expose_secret());
            // The same margin every process computes for these tokens (at most half their
            // lifetime), so a short-lived token another process just obtained is adopted.
            let margin = s.tokens.as_ref().map_or(0, |t| self.effective_margin(t));
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
            return self.fail(now, e);
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
        let call = self.fetch_token(now, Step::Refresh, request, key);
        self.state = State::Refreshing { call };
    }

    pub(super) fn on_refreshed(&mut self, now: Now, call: TokenCall, result: Fetched) {
        let Some(mut session) = self.session.clone() else {
            return;
        };
        let retry_after = result.as_ref().ok().and_then(retry_after_secs);
        match self.accept_tokens(result, &call) {
            Ok(response) => {
                let previous_rt = session
                    .tokens
                    .as_ref()
                    .and_then(|t| t.refresh_token.clone());
                if let Some(s) = response.scope.as_deref() {
                    session.scopes = scope::split(s);
                }
                let mut tokens = response.into_token_set(now.wall, previous_rt);
                tokens.dpop_key = call.dpop_key;
                session.tokens = Some(tokens);
                self.install_session(now, session);
            }
            Err(e) if matches!(e.oauth_code(), Some("invalid_grant" | "invalid_client")) => {
                // The refresh token is dead. Drop the tokens (and a DCR client the AS no longer
                // knows), keep the rest, and log in again.
                session.tokens = None;
                if super::login::rejects_client(&e) && session.client.kind == ClientKind::Dynamic {
                    session.client.redirect_uri = None;
                }
                self.emit(Output::StoreSession(session.clone()));
                let previous = session.scopes.clone();
                self.session = Some(session);
                self.begin_discovery(now, AuthChallenge::default(), previous);
            }
            // The MCP server already refused the access token (this refresh answers its 401),
            // so that token is worth nothing, and the AS refused the refresh for a reason that
            // does not condemn the refresh token (a bound one sent without a proof, RFC 9449
            // §5): log in again, keeping the session as it is until a new one replaces it.
            Err(e) if self.refreshed_after_401 && e.oauth_code().is_some() && !e.is_transient() => {
                let previous = session.scopes.clone();
                self.begin_discovery(now, AuthChallenge::default(), previous);
            }
            // Network or protocol trouble, or an error that does not condemn the refresh
            // token: keep the session intact.
            Err(e) => self.renewal_failed(now, e, retry_after),
        }
    }

    /// A refresh or machine-grant renewal failed without invalidating anything. While the
    /// current access token has not expired, the flow ends quietly: a warning, the token stays
    /// in use ([`Machine::ensure_fresh`] hands it out) and the next attempt waits
    /// `retry_after` seconds (bounded), so a struggling server is not hit on every call.
    /// Without a valid token the failure is reported as usual; nothing is deleted either way.
    pub(super) fn renewal_failed(&mut self, now: Now, error: Error, retry_after: Option<u64>) {
        let valid = self
            .session
            .as_ref()
            .and_then(|s| s.tokens.as_ref())
            .is_some_and(|t| !t.expires_within(now.wall, 0));
        if !valid {
            return self.fail(now, error);
        }
        let wait = retry_after
            .unwrap_or(RENEWAL_RETRY_SECS)
            .clamp(RENEWAL_RETRY_MIN_SECS, RENEWAL_RETRY_MAX_SECS);
        self.renewal_not_before = Some(now.wall.saturating_add(wait));
        self.state = State::Idle;
        self.emit(Output::Event(Event::Warning(Warning::RenewalDeferred {
            error,
            retry_after_secs: wait,
        })));
        self.set_status(AuthStatus::Authorized);
    }

    /// The answer to `call`: the adapter's transport failure, or the parsed response, which
    /// must not be DPoP-bound unless the request carried a proof (RFC 9449 §5). Tolerated
    /// oddities (`expires_in`) are emitted as warnings here; success clears the renewal
    /// back-off.
    pub(super) fn accept_tokens(
        &mut self,
        result: Fetched,
        call: &TokenCall,
    ) -> Result<token::TokenResponse, Error> {
        let (step, proof_sent) = (call.step, call.dpop_key.is_some());
        let mut response = result
            .map_err(|e| Error::from_transport(step, e))
            .and_then(|resp| token::parse_token_response(&resp, step))?;
        response.check_binding(step, proof_sent)?;
        for warning in std::mem::take(&mut response.warnings) {
            self.emit(Output::Event(Event::Warning(warning)));
        }
        self.renewal_not_before = None;
        Ok(response)
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

/// `Retry-After` as delta-seconds (RFC 9110 §10.2.3). The HTTP-date form is not parsed; the
/// default wait applies to it.
pub(super) fn retry_after_secs(resp: &HttpResponse) -> Option<u64> {
    let value = resp.header("retry-after")?.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(value.parse::<u64>().unwrap_or(u64::MAX))
}
