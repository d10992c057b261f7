//! When to ask for a DPoP-bound token (RFC 9449), and when to give one up.
//!
//! A bound token only works at a resource server that checks proofs, so under
//! [`DpopMode::Auto`] the machine binds tokens only when the resource server signals DPoP — a
//! `DPoP` challenge (RFC 9449 §7.1) or DPoP fields in its protected resource metadata (RFC 9728
//! §2) — and the authorization server offers `ES256` (RFC 9449 §5.1). When a bound token is
//! refused anyway with a challenge that offers only `Bearer`, the machine gets an unbound token
//! once (a refresh without a proof, or one re-authorization) and records the preference in the
//! session, so it never goes back and forth.

use super::*;
use crate::challenge::ChallengeScheme;
use crate::config::DpopMode;
use crate::secret::DpopPrivateKey;
use crate::session::TokenType;

/// The one proof algorithm this client signs with.
const ALG: &str = "ES256";

/// What the resource server said about DPoP.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ResourceDpop {
    /// A challenge offered the `DPoP` scheme (RFC 9449 §7.1), now or earlier in this session.
    pub challenged: bool,
    /// The `algs` of that challenge.
    pub challenge_algs: Option<Vec<String>>,
    /// PRM `dpop_signing_alg_values_supported` (RFC 9728 §2).
    pub prm_algs: Option<Vec<String>>,
    /// PRM `dpop_bound_access_tokens_required` (RFC 9728 §2).
    pub required: bool,
    /// It refused a DPoP-bound token with a `Bearer`-only challenge (recorded in the session).
    pub refuses: bool,
}

fn lists_alg(algs: Option<&[String]>) -> bool {
    algs.is_some_and(|a| a.iter().any(|x| x == ALG))
}

/// Whether the next token request carries a DPoP proof. `as_algs` is the AS metadata's
/// `dpop_signing_alg_values_supported`; `can_sign` is false without the `extensions` feature.
/// A resource server that requires bound tokens when none can be had is an error, not a token
/// it would refuse.
pub(crate) fn wants_dpop(
    mode: DpopMode,
    rs: &ResourceDpop,
    as_algs: Option<&[String]>,
    can_sign: bool,
) -> Result<bool, Error> {
    let as_ok = can_sign && lists_alg(as_algs);
    // A list the resource server gives must name ES256; no list means any algorithm.
    let rs_ok = [&rs.prm_algs, &rs.challenge_algs]
        .into_iter()
        .all(|algs| algs.is_none() || lists_alg(algs.as_deref()));
    if rs.required {
        let why = match mode {
            DpopMode::Never => Some("DPoP is turned off (dpop = never)"),
            _ if !can_sign => Some("this build has no DPoP support (feature `extensions`)"),
            _ if !as_ok => Some(
                "the authorization server offers no DPoP algorithm this client signs with (ES256)",
            ),
            _ if !rs_ok => {
                Some("the MCP server accepts no DPoP algorithm this client signs with (ES256)")
            }
            _ => None,
        };
        return match why {
            Some(reason) => Err(Error::DpopRequired(reason.into())),
            None => Ok(true),
        };
    }
    Ok(match mode {
        DpopMode::Never => false,
        DpopMode::Always => as_ok,
        DpopMode::Auto => {
            let signalled = rs.challenged || rs.prm_algs.as_ref().is_some_and(|a| !a.is_empty());
            signalled && !rs.refuses && as_ok && rs_ok
        }
    })
}

impl Machine {
    /// What this resource server said about DPoP: the flow's challenge, earlier challenges, the
    /// cached PRM and the recorded refusal.
    fn resource_dpop(&self, challenge: &AuthChallenge) -> ResourceDpop {
        let prm = self.cached_prm.as_ref();
        ResourceDpop {
            challenged: self.rs_dpop_seen || challenge.offers(ChallengeScheme::DPoP),
            challenge_algs: challenge.dpop_algs.clone(),
            prm_algs: prm.and_then(|p| p.dpop_signing_alg_values_supported.clone()),
            required: prm.is_some_and(|p| p.dpop_bound_access_tokens_required),
            refuses: self.rs_refuses_dpop,
        }
    }

    /// The DPoP key for the tokens a new flow obtains, or `None` for Bearer tokens: the key of
    /// the current tokens for the same issuer, else a new one.
    pub(super) fn dpop_key_for(
        &mut self,
        challenge: &AuthChallenge,
        meta: &AuthorizationServerMetadata,
    ) -> Result<Option<DpopPrivateKey>, Error> {
        let rs = self.resource_dpop(challenge);
        let algs = meta.dpop_signing_alg_values_supported.as_deref();
        if !wants_dpop(self.config.dpop, &rs, algs, cfg!(feature = "extensions"))? {
            return Ok(None);
        }
        let existing = self
            .session
            .as_ref()
            .filter(|s| s.issuer == meta.issuer)
            .and_then(|s| s.tokens.as_ref())
            .and_then(|t| t.dpop_key.clone());
        Ok(existing.or_else(|| self.new_dpop_key()))
    }

    /// True when refreshes must go without a proof and keep no key: DPoP is off, or
    /// [`DpopMode::Auto`] learnt that the resource server refuses bound tokens.
    pub(super) fn refresh_unbound(&self) -> bool {
        match self.config.dpop {
            DpopMode::Never => true,
            DpopMode::Always => false,
            DpopMode::Auto => self.rs_refuses_dpop,
        }
    }

    /// A 401 for a DPoP-bound token whose challenge offers `Bearer` but not `DPoP`: the resource
    /// server does not take bound tokens. Under [`DpopMode::Auto`], the first time only, record
    /// that and return true: the caller then gets an unbound token (a refresh without a proof,
    /// which falls back to one re-authorization when the AS insists on the proof).
    pub(super) fn learn_bearer_only(&mut self, challenge: &AuthChallenge) -> bool {
        let bound = self
            .session
            .as_ref()
            .and_then(|s| s.tokens.as_ref())
            .is_some_and(|t| t.token_type == TokenType::DPoP);
        let bearer_only =
            challenge.offers(ChallengeScheme::Bearer) && !challenge.offers(ChallengeScheme::DPoP);
        if !bound || !bearer_only || self.config.dpop != DpopMode::Auto || self.rs_refuses_dpop {
            return false;
        }
        self.rs_refuses_dpop = true;
        self.rs_dpop_seen = false;
        // Refresh from scratch: the refresh-after-401 guard must not send this straight to a
        // re-authorization.
        self.refreshed_after_401 = false;
        if let Some(s) = self.session.as_mut() {
            s.settings.resource_refuses_dpop = true;
        }
        true
    }

    /// A 401 for a Bearer token whose challenge offers only `DPoP`, where a bound token can be
    /// had: the refresh must carry a proof, or it would only bring another Bearer token.
    pub(super) fn wants_dpop_now(&self, challenge: &AuthChallenge) -> bool {
        let bearer_token = self
            .session
            .as_ref()
            .and_then(|s| s.tokens.as_ref())
            .is_some_and(|t| t.token_type == TokenType::Bearer);
        let dpop_only =
            challenge.offers(ChallengeScheme::DPoP) && !challenge.offers(ChallengeScheme::Bearer);
        if !bearer_token || !dpop_only {
            return false;
        }
        let Some(meta) = self.cached_meta.as_ref() else {
            return false;
        };
        let rs = self.resource_dpop(challenge);
        let algs = meta.dpop_signing_alg_values_supported.as_deref();
        wants_dpop(self.config.dpop, &rs, algs, cfg!(feature = "extensions")).unwrap_or(false)
    }

    /// The key a refresh is signed with: none when refreshes go unbound, the current tokens'
    /// key, or a new one when upgrading a Bearer token ([`Machine::wants_dpop_now`]).
    pub(super) fn refresh_dpop_key(
        &mut self,
        current: Option<DpopPrivateKey>,
    ) -> Option<DpopPrivateKey> {
        let upgrade = std::mem::take(&mut self.upgrade_to_dpop);
        if self.refresh_unbound() {
            return None;
        }
        match current {
            None if upgrade => self.new_dpop_key(),
            current => current,
        }
    }

    /// Stamps the configuration's choices and the learnt preferences on a session about to be
    /// stored.
    pub(super) fn stamp_settings(&self, session: &mut Session) {
        session.settings = crate::session::SessionSettings {
            resource_refuses_dpop: self.rs_refuses_dpop,
            ..self.config.session_settings()
        };
    }

    /// Takes over what a loaded session learnt.
    pub(super) fn adopt_settings(&mut self, session: &Session) {
        self.rs_refuses_dpop |= session.settings.resource_refuses_dpop;
        let bound = session
            .tokens
            .as_ref()
            .is_some_and(|t| t.token_type == TokenType::DPoP);
        self.rs_dpop_seen |= bound && !self.rs_refuses_dpop;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn algs(list: &[&str]) -> Option<Vec<String>> {
        Some(list.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn auto_needs_a_resource_server_signal_and_an_as_algorithm() {
        let es = algs(&["ES256", "PS256"]);
        let none = ResourceDpop::default();
        assert_eq!(
            wants_dpop(DpopMode::Auto, &none, es.as_deref(), true),
            Ok(false)
        );
        let challenged = ResourceDpop {
            challenged: true,
            ..none.clone()
        };
        assert_eq!(
            wants_dpop(DpopMode::Auto, &challenged, es.as_deref(), true),
            Ok(true)
        );
        assert_eq!(
            wants_dpop(DpopMode::Auto, &challenged, None, true),
            Ok(false)
        );
        assert_eq!(
            wants_dpop(
                DpopMode::Auto,
                &challenged,
                algs(&["PS256"]).as_deref(),
                true
            ),
            Ok(false)
        );
        assert_eq!(
            wants_dpop(DpopMode::Auto, &challenged, es.as_deref(), false),
            Ok(false)
        );
        let prm = ResourceDpop {
            prm_algs: algs(&["ES256"]),
            ..none.clone()
        };
        assert_eq!(
            wants_dpop(DpopMode::Auto, &prm, es.as_deref(), true),
            Ok(true)
        );
        let prm_other = ResourceDpop {
            prm_algs: algs(&["RS256"]),
            ..none.clone()
        };
        assert_eq!(
            wants_dpop(DpopMode::Auto, &prm_other, es.as_deref(), true),
            Ok(false)
        );
        let other_algs = ResourceDpop {
            challenge_algs: algs(&["EdDSA"]),
            ..challenged.clone()
        };
        assert_eq!(
            wants_dpop(DpopMode::Auto, &other_algs, es.as_deref(), true),
            Ok(false)
        );
        let refused = ResourceDpop {
            refuses: true,
            ..challenged.clone()
        };
        assert_eq!(
            wants_dpop(DpopMode::Auto, &refused, es.as_deref(), true),
            Ok(false)
        );
    }

    #[test]
    fn always_and_never_ignore_the_signals() {
        let es = algs(&["ES256"]);
        let none = ResourceDpop::default();
        assert_eq!(
            wants_dpop(DpopMode::Always, &none, es.as_deref(), true),
            Ok(true)
        );
        assert_eq!(wants_dpop(DpopMode::Always, &none, None, true), Ok(false));
        let challenged = ResourceDpop {
            challenged: true,
            ..none
        };
        assert_eq!(
            wants_dpop(DpopMode::Never, &challenged, es.as_deref(), true),
            Ok(false)
        );
    }

    #[test]
    fn required_bound_tokens_that_cannot_be_had_are_an_error() {
        let es = algs(&["ES256"]);
        let required = ResourceDpop {
            required: true,
            refuses: true,
            ..ResourceDpop::default()
        };
        assert_eq!(
            wants_dpop(DpopMode::Auto, &required, es.as_deref(), true),
            Ok(true)
        );
        assert_eq!(
            wants_dpop(DpopMode::Always, &required, es.as_deref(), true),
            Ok(true)
        );
        for (mode, as_algs, can_sign, needle) in [
            (DpopMode::Auto, None, true, "authorization server"),
            (DpopMode::Auto, algs(&["PS256"]), true, "ES256"),
            (DpopMode::Never, es.clone(), true, "turned off"),
            (DpopMode::Auto, es.clone(), false, "extensions"),
        ] {
            let e = wants_dpop(mode, &required, as_algs.as_deref(), can_sign).expect_err("refused");
            assert!(e.to_string().contains(needle), "{e}");
            assert!(e.to_string().contains("requires DPoP-bound tokens"), "{e}");
        }
        let rs_algs = ResourceDpop {
            prm_algs: algs(&["RS256"]),
            ..required
        };
        let e = wants_dpop(DpopMode::Auto, &rs_algs, es.as_deref(), true).expect_err("refused");
        assert!(
            e.to_string()
                .contains("MCP server accepts no DPoP algorithm"),
            "{e}"
        );
    }
}
