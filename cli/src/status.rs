//! `mcp-oauth status`: what is stored, never a secret. The summary is built field by field from
//! the non-secret parts of a [`Session`] (tokens and the client secret are only reported as
//! present or absent), so nothing secret can slip into the output by a new session field.
//! Every string a server supplied passes through [`field`] before it is printed.
//!
//! An entry the store cannot read (a truncated or corrupt file, wrong permissions, a symbolic
//! link) is listed with what is wrong and where, never hidden behind "No stored sessions".

use mcp_oauth_blocking::{StoreError, StoredEntry};
use mcp_oauth_core::resource_metadata::canonical_server_url;
use mcp_oauth_core::Session;
use serde_json::{json, Value};

use crate::args::StatusArgs;
use crate::exit::{one_line, CliError};
use crate::setup::StoreHandle;
use crate::term::{field, note};
use crate::ui::print_line;

/// Runs `status`; prints the sessions (JSON array with `--json`) and the unreadable entries
/// (human blocks on stdout, one line each on stderr with `--json`; exit 1). With a SERVER_URL
/// that has no session: exit 3 (with `--json`, `[]` is printed first).
pub fn run(args: &StatusArgs, store: &StoreHandle, json: bool, now: u64) -> Result<(), CliError> {
    let entries = match &args.server {
        Some(url) => vec![StoredEntry::Session(
            canonical_server_url(url).map_err(|e| CliError::usage(e.to_string()))?,
        )],
        None => store.store.list_entries()?,
    };
    let mut sessions = Vec::new();
    let mut unreadable: Vec<(Option<String>, StoreError)> = Vec::new();
    for entry in entries {
        match entry {
            StoredEntry::Session(key) => match store.store.load(&key) {
                Ok(Some(session)) => sessions.push(session),
                Ok(None) => {}
                Err(error) => unreadable.push((Some(key), error)),
            },
            StoredEntry::Unreadable { key, error } => unreadable.push((key, error)),
            // A future kind of entry: nothing this build can show.
            _ => {}
        }
    }
    let store_name = store.describe();
    if json {
        let out: Vec<Value> = sessions
            .iter()
            .map(|s| summary(s, &store_name, store.store.kind().as_str(), now))
            .collect();
        print_line(&Value::Array(out).to_string())?;
        for (key, error) in &unreadable {
            let key = key.as_deref().map_or("unknown server", |k| k);
            note(&format!(
                "mcp-oauth: {}: {}",
                field(key),
                field(&one_line(&error.to_string()))
            ));
        }
    } else {
        if sessions.is_empty() && args.server.is_none() && unreadable.is_empty() {
            note(&format!(
                "No stored sessions (store: {}).",
                field(&store_name)
            ));
        }
        let blocks: Vec<String> = sessions
            .iter()
            .map(|s| human(s, &store_name, now))
            .chain(unreadable.iter().map(|(k, e)| broken(k.as_deref(), e)))
            .collect();
        if !blocks.is_empty() {
            print_line(blocks.join("\n").trim_end())?;
        }
    }
    match (&args.server, sessions.is_empty()) {
        _ if !unreadable.is_empty() => Err(CliError::failure(format!(
            "{} stored session(s) could not be read",
            unreadable.len()
        ))),
        (Some(url), true) => Err(CliError::login_required(url, Some("no stored session"))),
        _ => Ok(()),
    }
}

/// One session as a JSON object. `store` is the backend name (`file`, `keychain`, `memory`),
/// `store_location` the human description.
pub fn summary(s: &Session, store_location: &str, store: &str, now: u64) -> Value {
    let tokens = s.tokens.as_ref();
    let expires_at = tokens.and_then(|t| t.expires_at);
    json!({
        "server": s.server,
        "issuer": s.issuer,
        "resource": s.resource,
        "client_kind": s.client.kind.as_str(),
        "client_id": s.client.client_id,
        "client_auth_method": s.client.auth_method.as_str(),
        "has_client_secret": s.client.client_secret.is_some(),
        "scopes": s.scopes,
        "token_type": tokens.map(|t| t.token_type.scheme()),
        "has_access_token": tokens.is_some(),
        "has_refresh_token": tokens.is_some_and(|t| t.refresh_token.is_some()),
        "expires_at": expires_at,
        "expires_in": expires_at.map(|at| i128::from(at) - i128::from(now)),
        "token_endpoint": s.token_endpoint,
        "revocation_endpoint": s.revocation_endpoint,
        "store": store,
        "store_location": store_location,
        // The stored choices later commands reuse (parameter values left out: they may name
        // the user, e.g. `login_hint`).
        "dpop": s.settings.dpop.as_str(),
        "resource_refuses_dpop": s.settings.resource_refuses_dpop,
        "authorize_params": s.settings.authorize_params.iter().map(|(k, _)| k).collect::<Vec<_>>(),
        "authorization_server": s.settings.authorization_server.as_ref().map(|a| &a.issuer),
    })
}

/// One session as aligned `key: value` lines.
pub fn human(s: &Session, store: &str, now: u64) -> String {
    let token = match &s.tokens {
        None => "none (login needed)".to_owned(),
        Some(t) => {
            let refresh = if t.refresh_token.is_some() {
                ", refresh token stored"
            } else {
                ", no refresh token"
            };
            format!(
                "{}, {}{refresh}",
                t.token_type.scheme(),
                expiry(t.expires_at, now)
            )
        }
    };
    format!(
        "{}\n  issuer:  {}\n  client:  {} ({})\n  scopes:  {}\n  token:   {token}\n  store:   {}\n",
        field(&s.server),
        field(&s.issuer),
        s.client.kind.as_str(),
        field(&s.client.client_id),
        scope_list(&s.scopes, "(none)"),
        field(store),
    )
}

/// Scopes for a human line, each made safe for the terminal; `empty` when there are none.
pub fn scope_list(scopes: &[String], empty: &str) -> String {
    if scopes.is_empty() {
        return empty.to_owned();
    }
    scopes
        .iter()
        .map(|s| field(s))
        .collect::<Vec<_>>()
        .join(" ")
}

/// An entry that cannot be read, with what is wrong (the error names the file or keychain
/// entry and, for a wrong mode or a link, what to do) and how to get going again.
pub fn broken(key: Option<&str>, error: &StoreError) -> String {
    let fix = match (error, key) {
        (StoreError::Corrupt { .. }, Some(key)) => Some(format!(
            "`mcp-oauth login {}` replaces it and keeps a .corrupt copy",
            field(key)
        )),
        (StoreError::Corrupt { .. }, None) => {
            Some("move the file away, then log in again to its server".to_owned())
        }
        (StoreError::UnsupportedVersion(_), _) => {
            Some("use the newer mcp-oauth that wrote it, or log out with it".to_owned())
        }
        _ => None,
    };
    format!(
        "{} (unreadable)\n  problem: {}\n{}",
        key.map_or_else(|| "unknown server".to_owned(), field),
        field(&one_line(&error.to_string())),
        fix.map(|f| format!("  fix:     {f}\n")).unwrap_or_default(),
    )
}

/// `expires in 59m 58s`, `expired 2m ago`, `no expiry given`.
pub fn expiry(expires_at: Option<u64>, now: u64) -> String {
    match expires_at {
        None => "no expiry given".to_owned(),
        Some(at) if at > now => format!("expires in {}", duration(at - now)),
        Some(at) => format!("expired {} ago", duration(now - at)),
    }
}

fn duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written as JSON so the test does not depend on every field of the type.
    fn session() -> Session {
        let json = json!({
            "version": 1,
            "server": "https://mcp.example.com/mcp",
            "resource": "https://mcp.example.com/mcp",
            "issuer": "https://as.example.com",
            "token_endpoint": "https://as.example.com/token",
            "revocation_endpoint": "https://as.example.com/revoke",
            "client": {
                "kind": "dynamic",
                "issuer": "https://as.example.com",
                "client_id": "client-1",
                "client_secret": "SECRET-client",
                "auth_method": "client_secret_basic",
                "redirect_uri": "http://127.0.0.1:5000/callback"
            },
            "tokens": {
                "access_token": "SECRET-access",
                "token_type": "Bearer",
                "refresh_token": "SECRET-refresh",
                "expires_at": 10_003_600u64
            },
            "scopes": ["mcp:basic", "mcp:write"]
        });
        Session::from_json(&json.to_string()).expect("a valid session")
    }

    #[test]
    fn the_json_summary_has_the_facts_and_no_secret() {
        let v = summary(&session(), "file (/tmp/s)", "file", 10_000_000);
        assert_eq!(
            v,
            json!({
                "server": "https://mcp.example.com/mcp",
                "issuer": "https://as.example.com",
                "resource": "https://mcp.example.com/mcp",
                "client_kind": "dcr",
                "client_id": "client-1",
                "client_auth_method": "client_secret_basic",
                "has_client_secret": true,
                "scopes": ["mcp:basic", "mcp:write"],
                "token_type": "Bearer",
                "has_access_token": true,
                "has_refresh_token": true,
                "expires_at": 10_003_600u64,
                "expires_in": 3600,
                "token_endpoint": "https://as.example.com/token",
                "revocation_endpoint": "https://as.example.com/revoke",
                "store": "file",
                "store_location": "file (/tmp/s)",
                "dpop": "auto",
                "resource_refuses_dpop": false,
                "authorize_params": [],
                "authorization_server": null,
            })
        );
        assert!(!v.to_string().contains("SECRET"));
    }

    #[test]
    fn the_human_summary_has_the_facts_and_no_secret() {
        let text = human(&session(), "keychain", 10_000_000);
        assert_eq!(
            text,
            "https://mcp.example.com/mcp\n  issuer:  https://as.example.com\n  client:  dcr (client-1)\n  \
             scopes:  mcp:basic mcp:write\n  token:   Bearer, expires in 1h 0m, refresh token stored\n  \
             store:   keychain\n"
        );
        let mut s = session();
        s.tokens = None;
        s.scopes.clear();
        let text = human(&s, "memory", 0);
        assert!(text.contains("token:   none (login needed)"), "{text}");
        assert!(text.contains("scopes:  (none)"), "{text}");
    }

    #[test]
    fn expiry_reads_naturally() {
        assert_eq!(expiry(None, 5), "no expiry given");
        assert_eq!(expiry(Some(65), 5), "expires in 1m 0s");
        assert_eq!(expiry(Some(5), 5), "expired 0s ago");
        assert_eq!(expiry(Some(5), 5 + 3 * 86_400 + 7200), "expired 3d 2h ago");
        assert_eq!(expiry(Some(10), 1), "expires in 9s");
    }

    #[test]
    fn server_strings_are_inert_and_unreadable_entries_say_what_and_how() {
        let mut s = session();
        s.issuer = "https://as.example.com\u{1b}[2J".into();
        s.scopes = vec!["a\u{9b}31m".into(), "b\nforged: line".into()];
        let text = human(&s, "keychain", 10_000_000);
        assert!(
            text.contains("issuer:  https://as.example.com\\u001b[2J"),
            "{text}"
        );
        assert!(
            text.contains("scopes:  a\\u009b31m b\\u000aforged: line"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 6, "{text}");

        let corrupt = StoreError::Corrupt {
            location: "/s/x.json".into(),
            detail: "truncated JSON at line 1 column 60".into(),
        };
        assert_eq!(
            broken(Some("https://x.example/mcp"), &corrupt),
            "https://x.example/mcp (unreadable)\n  problem: stored session at /s/x.json is \
             corrupt: truncated JSON at line 1 column 60\n  fix:     `mcp-oauth login \
             https://x.example/mcp` replaces it and keeps a .corrupt copy\n"
        );
        let link = StoreError::InsecurePermissions {
            path: "/s/y.json".into(),
            reason: "is a symbolic link".into(),
        };
        assert_eq!(
            broken(None, &link),
            "unknown server (unreadable)\n  problem: refusing /s/y.json: is a symbolic link\n"
        );
    }
}
