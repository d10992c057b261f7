//! The grant store the authorization servers write and the resource server reads: codes, access
//! tokens and refresh tokens, each tied to a grant "family" (one authorization code and every token
//! descending from it) so reuse detection can revoke the whole family (OAuth 2.1 §4.3.1, RFC 6749
//! §4.1.2). Values come from a deterministic counter, never from randomness.

use std::collections::BTreeMap;

/// An issued authorization code (RFC 6749 §4.1.2) and what the token request must match.
#[derive(Debug, Clone)]
pub(crate) struct CodeGrant {
    /// Index of the issuing AS (0 = AS₁, 1 = AS₂).
    pub as_index: usize,
    /// The client it was issued to.
    pub client_id: String,
    /// The `redirect_uri` of the authorization request (RFC 6749 §4.1.3: must be repeated).
    pub redirect_uri: String,
    /// The S256 `code_challenge`, if one was sent.
    pub code_challenge: Option<String>,
    /// Scopes requested (and granted).
    pub scopes: Vec<String>,
    /// The `resource` of the authorization request.
    pub resource: Option<String>,
    /// Wall-clock issue time.
    pub issued_at: u64,
    /// Redeemed (or a redemption was attempted).
    pub used: bool,
    /// Grant family.
    pub family: u64,
}

/// An issued access token.
#[derive(Debug, Clone)]
pub(crate) struct AccessGrant {
    /// Issuing AS.
    pub as_index: usize,
    /// Scopes it carries.
    pub scopes: Vec<String>,
    /// The RFC 8707 audience it is bound to.
    pub resource: Option<String>,
    /// Wall-clock expiry; expired when `now >= expires_at`.
    pub expires_at: u64,
    /// Revoked (RFC 7009, family revocation or a test helper).
    pub revoked: bool,
    /// Grant family.
    pub family: u64,
    /// Issued as a DPoP-bound token (`token_type` DPoP, RFC 9449 §5).
    pub dpop_bound: bool,
}

/// An issued refresh token.
#[derive(Debug, Clone)]
pub(crate) struct RefreshGrant {
    /// Issuing AS.
    pub as_index: usize,
    /// Client it belongs to.
    pub client_id: String,
    /// Scopes of the original grant (a refresh may narrow, never widen: RFC 6749 §6).
    pub scopes: Vec<String>,
    /// Audience of the original grant.
    pub resource: Option<String>,
    /// Already exchanged under rotation; presenting it again is reuse.
    pub rotated: bool,
    /// Revoked.
    pub revoked: bool,
    /// Grant family.
    pub family: u64,
    /// Bound to the client's DPoP key: a public client's refresh token obtained with a proof
    /// (RFC 9449 §5), refused when refreshed without one.
    pub dpop_bound: bool,
}

/// Every grant the testbed's authorization servers issued.
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub codes: BTreeMap<String, CodeGrant>,
    pub access: BTreeMap<String, AccessGrant>,
    pub refresh: BTreeMap<String, RefreshGrant>,
    counter: u64,
}

/// Token prefix per AS: AS₂ tokens are recognizable, as in the conformance migration scenario.
fn prefix(as_index: usize) -> &'static str {
    if as_index == 0 {
        ""
    } else {
        "as2-"
    }
}

impl Store {
    /// The next value of the deterministic counter (starts at 1).
    pub fn next_id(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// Stores a new code and returns it (`test-auth-code-N`).
    pub fn issue_code(&mut self, grant: CodeGrant) -> String {
        let code = format!(
            "test-auth-code-{}{}",
            prefix(grant.as_index),
            self.next_id()
        );
        self.codes.insert(code.clone(), grant);
        code
    }

    /// Stores a new access token (`test-token-N`, `test-token-as2-N`).
    pub fn issue_access(&mut self, grant: AccessGrant) -> String {
        let token = format!("test-token-{}{}", prefix(grant.as_index), self.next_id());
        self.access.insert(token.clone(), grant);
        token
    }

    /// Stores a new refresh token (`test-refresh-N`, `test-refresh-as2-N`).
    pub fn issue_refresh(&mut self, grant: RefreshGrant) -> String {
        let token = format!("test-refresh-{}{}", prefix(grant.as_index), self.next_id());
        self.refresh.insert(token.clone(), grant);
        token
    }

    /// Revokes every access and refresh token of a grant family.
    pub fn revoke_family(&mut self, family: u64) {
        for t in self.access.values_mut().filter(|t| t.family == family) {
            t.revoked = true;
        }
        for t in self.refresh.values_mut().filter(|t| t.family == family) {
            t.revoked = true;
        }
    }
}

/// What one request's handler may touch besides its own server: the clock, the shared store and
/// the violation list.
pub(crate) struct Ctx<'a> {
    /// Virtual wall clock, Unix seconds.
    pub now: u64,
    /// Shared grants.
    pub store: &'a mut Store,
    /// Protocol violations noticed so far.
    pub violations: &'a mut Vec<String>,
}

impl Ctx<'_> {
    /// Records a violation as `"<id>: <detail>"`.
    pub fn violation(&mut self, id: &str, detail: impl std::fmt::Display) {
        self.violations.push(format!("{id}: {detail}"));
    }
}
