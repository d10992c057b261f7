//! `WWW-Authenticate` parsing (RFC 9110 §11.6.1 / §11.2, RFC 6750 §3, RFC 9728 §5.1).
//!
//! MCP clients "MUST be able to parse `WWW-Authenticate` headers" (MCP 2025-06-18 Authorization,
//! "Authorization Server Location"), and the header is written by
//! every kind of middleware, so the parser follows the RFC 9110 grammar but is forgiving:
//!
//! ```text
//! WWW-Authenticate = #challenge
//! challenge        = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//! auth-param       = token BWS "=" BWS ( token / quoted-string )
//! ```
//!
//! It handles several challenges in one field and across repeated fields, quoted strings with
//! `\` escapes and commas inside them, whitespace around `=`, token68 credentials, and any case for
//! scheme and parameter names. Broken parts are skipped; it never panics. Only ASCII delimiters
//! are used to cut the input, so every cut lands on a `char` boundary.
//!
//! [`auth_challenge`] then picks what the machine needs from the first `Bearer` or `DPoP`
//! challenge: `error`, `scope` (step-up: MCP 2025-11-25 Authorization, "Scope Challenge
//! Handling") and `resource_metadata` (RFC 9728 §5.1).

/// One challenge from a `WWW-Authenticate` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The auth-scheme as sent (compare with [`Challenge::is_scheme`], schemes are
    /// case-insensitive, RFC 9110 §11.1).
    pub scheme: String,
    /// A token68 credential (`Negotiate abc==`), if the challenge carries one instead of
    /// parameters.
    pub token68: Option<String>,
    /// Parameters in the order sent: names lowercased (they are case-insensitive, RFC 9110 §11.2),
    /// values unquoted and unescaped. Duplicates are kept here; [`Challenge::param`] returns the
    /// first, so the choice is deterministic.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// The first value of parameter `name` (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether this challenge uses scheme `s` (case-insensitive: `bearer` is `Bearer`).
    pub fn is_scheme(&self, s: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(s)
    }
}

/// Parses every challenge in the given `WWW-Authenticate` field values.
///
/// Each value is parsed on its own (RFC 9110 §5.3 makes repeated fields equal to one
/// comma-joined field), so an unterminated quote in one value cannot swallow the next. Empty or
/// garbage input yields no challenges; a broken part is skipped.
pub fn parse_www_authenticate(values: &[&str]) -> Vec<Challenge> {
    let mut out = Vec::new();
    for value in values {
        Parser::new(value).parse_into(&mut out);
    }
    out
}

/// The scheme of the challenge the machine acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeScheme {
    /// RFC 6750 bearer tokens.
    Bearer,
    /// RFC 9449 DPoP-bound tokens (extension; conformance `auth/dpop`).
    DPoP,
}

/// What the machine needs from a 401/403: the fields of the first `Bearer` or `DPoP` challenge.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthChallenge {
    /// `None` when no `Bearer` or `DPoP` challenge was found (then every field is `None`).
    pub scheme: Option<ChallengeScheme>,
    /// `error`, e.g. `invalid_token` or `insufficient_scope` (RFC 6750 §3.1). Absent on a plain
    /// "no credentials" 401, which is normal.
    pub error: Option<String>,
    /// `error_description`, raw: the machine sanitises it before showing it.
    pub error_description: Option<String>,
    /// `scope` split on spaces (RFC 6750 §3: space-delimited, case-sensitive); `None` if absent
    /// or empty.
    pub scope: Option<Vec<String>>,
    /// `resource_metadata` (RFC 9728 §5.1), read whatever the scheme: DPoP
    /// challenges carry it too.
    pub resource_metadata: Option<String>,
    /// Every `Bearer` and `DPoP` scheme offered, in order, once each: a server that takes both
    /// sends both challenges (RFC 9449 §7.1), and a server whose challenges name no `DPoP`
    /// refuses DPoP-bound tokens.
    pub offered: Vec<ChallengeScheme>,
    /// The `algs` of the first `DPoP` challenge (RFC 9449 §7.1: space-delimited JWS algorithms),
    /// `None` when absent or empty.
    pub dpop_algs: Option<Vec<String>>,
}

impl AuthChallenge {
    /// Whether the server offered scheme `s` in any challenge.
    pub fn offers(&self, s: ChallengeScheme) -> bool {
        self.offered.contains(&s)
    }
}

/// Extracts the [`AuthChallenge`] from `WWW-Authenticate` field values.
///
/// Only the first `Bearer`/`DPoP` challenge is read; fields it lacks are not borrowed from later
/// challenges, because mixing two challenges could pair one server's scope with another's
/// metadata URL.
pub fn auth_challenge(values: &[&str]) -> AuthChallenge {
    let challenges = parse_www_authenticate(values);
    let mut offered = Vec::new();
    for c in &challenges {
        let s = if c.is_scheme("Bearer") {
            ChallengeScheme::Bearer
        } else if c.is_scheme("DPoP") {
            ChallengeScheme::DPoP
        } else {
            continue;
        };
        if !offered.contains(&s) {
            offered.push(s);
        }
    }
    let dpop_algs = challenges
        .iter()
        .find(|c| c.is_scheme("DPoP"))
        .and_then(|c| c.param("algs"))
        .map(split_spaces)
        .filter(|v| !v.is_empty());
    let Some((c, scheme)) = challenges.iter().find_map(|c| {
        if c.is_scheme("Bearer") {
            Some((c, ChallengeScheme::Bearer))
        } else if c.is_scheme("DPoP") {
            Some((c, ChallengeScheme::DPoP))
        } else {
            None
        }
    }) else {
        return AuthChallenge::default();
    };
    let non_empty = |name: &str| c.param(name).filter(|v| !v.is_empty()).map(str::to_owned);
    let scope = c.param("scope").map(split_spaces).filter(|v| !v.is_empty());
    AuthChallenge {
        scheme: Some(scheme),
        error: non_empty("error"),
        error_description: c.param("error_description").map(str::to_owned),
        scope,
        resource_metadata: non_empty("resource_metadata"),
        offered,
        dpop_algs,
    }
}

/// Splits a space-delimited parameter (`scope`, `algs`), dropping empty parts.
fn split_spaces(s: &str) -> Vec<String> {
    s.split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `tchar` from RFC 9110 §5.6.2.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Characters of `token68` before the trailing `=` padding (RFC 9110 §11.2).
fn is_token68_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)
}

/// Optional whitespace (RFC 9110 §5.6.3).
fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// A cursor over one field value. Positions only ever stop next to ASCII bytes, so slicing the
/// `&str` at them is always on a char boundary (and `get` is used anyway).
struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
}

/// What ended one challenge's parameter list.
enum Next {
    /// End of the field value, or an unrecoverable error.
    Done,
    /// Another challenge starts at the current position.
    Challenge,
}

impl<'a> Parser<'a> {
    fn new(s: &'a str) -> Self {
        Parser {
            s,
            b: s.as_bytes(),
            pos: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn skip_while(&mut self, f: impl Fn(u8) -> bool) {
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
    }

    fn slice(&self, from: usize, to: usize) -> &'a str {
        self.s.get(from..to).unwrap_or_default()
    }

    fn token(&mut self) -> &'a str {
        let start = self.pos;
        self.skip_while(is_tchar);
        self.slice(start, self.pos)
    }

    /// Skips to just after the next comma outside a quoted string (error recovery). Always
    /// advances at least one byte unless already at the end.
    fn skip_element(&mut self) {
        let mut quoted = false;
        let mut first = true;
        while let Some(b) = self.peek() {
            if !first && !quoted && b == b',' {
                self.pos += 1;
                return;
            }
            first = false;
            match b {
                b'"' => quoted = !quoted,
                b'\\' if quoted => self.pos += 1,
                _ => {}
            }
            self.pos += 1;
        }
        self.pos = self.b.len();
    }

    fn parse_into(mut self, out: &mut Vec<Challenge>) {
        loop {
            self.skip_while(|b| is_ows(b) || b == b',');
            if self.peek().is_none() {
                return;
            }
            let scheme = self.token();
            if scheme.is_empty() {
                self.skip_element();
                continue;
            }
            let mut challenge = Challenge {
                scheme: scheme.to_owned(),
                token68: None,
                params: Vec::new(),
            };
            let had_space = self.peek().is_some_and(is_ows);
            self.skip_while(is_ows);
            let next = match self.peek() {
                None => Next::Done,
                Some(b',') => Next::Challenge,
                Some(_) if !had_space => {
                    // `Bearer"x"` or `Bearer=`: not a challenge; drop it.
                    self.skip_element();
                    continue;
                }
                Some(_) => match self.try_token68() {
                    Some(t) => {
                        challenge.token68 = Some(t.to_owned());
                        Next::Challenge
                    }
                    None => self.params(&mut challenge.params),
                },
            };
            out.push(challenge);
            if let Next::Done = next {
                return;
            }
        }
    }

    /// `token68` followed by OWS and a comma or the end; otherwise restores the position.
    fn try_token68(&mut self) -> Option<&'a str> {
        let start = self.pos;
        self.skip_while(is_token68_char);
        let body_end = self.pos;
        self.skip_while(|b| b == b'=');
        let end = self.pos;
        self.skip_while(is_ows);
        if body_end > start && matches!(self.peek(), None | Some(b',')) {
            return Some(self.slice(start, end));
        }
        self.pos = start;
        None
    }

    /// `#auth-param` until the next challenge or the end.
    fn params(&mut self, params: &mut Vec<(String, String)>) -> Next {
        loop {
            self.skip_while(|b| is_ows(b) || b == b',');
            if self.peek().is_none() {
                return Next::Done;
            }
            let start = self.pos;
            let name = self.token();
            if name.is_empty() {
                self.skip_element();
                continue;
            }
            self.skip_while(is_ows);
            if self.peek() != Some(b'=') {
                // A token not followed by `=` starts the next challenge (`..., Bearer scope=..`).
                self.pos = start;
                return Next::Challenge;
            }
            self.pos += 1;
            self.skip_while(is_ows);
            let value = if self.peek() == Some(b'"') {
                match self.quoted_string() {
                    Some(v) => v,
                    // Unterminated quote: the rest of the value is unusable.
                    None => return Next::Done,
                }
            } else {
                // Lenient: accept any unquoted run up to a delimiter, not only `tchar`, since
                // some servers send `resource_metadata=https://...` unquoted.
                let vstart = self.pos;
                self.skip_while(|b| b != b',' && !is_ows(b));
                self.slice(vstart, self.pos).to_owned()
            };
            params.push((name.to_ascii_lowercase(), value));
            self.skip_while(is_ows);
            match self.peek() {
                None => return Next::Done,
                Some(b',') => self.pos += 1,
                Some(_) => self.skip_element(),
            }
        }
    }

    /// A quoted-string starting at the current `"`, with quoted-pair unescaped; `None` if the
    /// closing quote is missing.
    fn quoted_string(&mut self) -> Option<String> {
        self.pos += 1;
        let mut out = Vec::new();
        while let Some(b) = self.peek() {
            self.pos += 1;
            match b {
                b'"' => return Some(String::from_utf8_lossy(&out).into_owned()),
                b'\\' => {
                    let escaped = self.peek()?;
                    self.pos += 1;
                    out.push(escaped);
                }
                _ => out.push(b),
            }
        }
        None
    }
}

#[cfg(test)]
#[path = "challenge_tests.rs"]
mod tests;
