//! Exit codes and the error every command returns. Scripts branch on the code (documented in
//! `mcp-oauth --help`), people read the one-line message on stderr.

use mcp_oauth_blocking::{AdapterError, StoreError};

/// Success.
pub const OK: i32 = 0;
/// Something failed: network, authorization server, store, a demo step.
pub const FAILURE: i32 = 1;
/// Bad arguments (clap also exits with 2).
pub const USAGE: i32 = 2;
/// No usable session: the user must run `mcp-oauth login`.
pub const LOGIN_REQUIRED: i32 = 3;
/// The MCP server answered `call` with a JSON-RPC error or an HTTP error status.
pub const MCP_ERROR: i32 = 4;

/// Why a command failed: an exit code and a one-line message for stderr (never a secret: the
/// messages come from the adapter's and core's errors, which are built without secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    /// The process exit code.
    pub code: i32,
    /// What to tell the user.
    pub message: String,
}

impl CliError {
    /// A failure (exit 1).
    pub fn failure(message: impl Into<String>) -> Self {
        Self {
            code: FAILURE,
            message: message.into(),
        }
    }

    /// A usage error (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: USAGE,
            message: message.into(),
        }
    }

    /// Login needed (exit 3), with the command that fixes it.
    pub fn login_required(server: &str, why: Option<&str>) -> Self {
        let why = why.map(|w| format!(" ({w})")).unwrap_or_default();
        Self {
            code: LOGIN_REQUIRED,
            message: format!("not logged in to {server}{why}; run: mcp-oauth login {server}"),
        }
    }

    /// The MCP server said no (exit 4).
    pub fn mcp(message: impl Into<String>) -> Self {
        Self {
            code: MCP_ERROR,
            message: message.into(),
        }
    }

    /// Maps an adapter error: [`AdapterError::LoginRequired`] and a corrupt stored session
    /// (which `mcp-oauth login` replaces) are exit 3, everything else 1.
    pub fn from_adapter(server: &str, e: AdapterError) -> Self {
        match e {
            AdapterError::LoginRequired => Self::login_required(server, None),
            AdapterError::Store(e @ StoreError::Corrupt { .. }) => Self::login_required(
                server,
                Some(&format!(
                    "{}; a login replaces it and keeps a .corrupt copy",
                    one_line(&e.to_string())
                )),
            ),
            AdapterError::Store(e) => e.into(),
            other => {
                let hint = hint_for(&other);
                Self::failure(format!("{}{hint}", one_line(&other.to_string())))
            }
        }
    }
}

/// What the user can do about an error, when the CLI knows (appended to the message).
pub fn hint_for(e: &AdapterError) -> &'static str {
    match e {
        // Entra ID and others refuse RFC 8707 resource indicators they do not know.
        AdapterError::Auth(core) if core.oauth_code() == Some("invalid_target") => {
            "; the authorization server refuses the resource indicator (RFC 8707): try \
             --no-resource, or --resource with the identifier it expects"
        }
        _ => "",
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        let hint = match e {
            StoreError::LockTimeout { .. } => {
                "; if that process is stuck, stop it, or wait longer with --lock-timeout SECONDS"
            }
            _ => "",
        };
        Self::failure(format!("session store: {}{hint}", one_line(&e.to_string())))
    }
}

/// Collapses whitespace and control characters so a message stays on one line.
pub fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_target_suggests_no_resource() {
        let e = AdapterError::Auth(mcp_oauth_core::Error::OAuth {
            step: mcp_oauth_core::Step::TokenExchange,
            code: "invalid_target".into(),
            description: None,
        });
        let text = format!("{:?}", CliError::from_adapter("https://mcp.example.com", e));
        assert!(text.contains("--no-resource"), "{text}");
    }

    #[test]
    fn login_required_names_the_fix() {
        let e = CliError::login_required("https://mcp.example.com/mcp", Some("refresh refused"));
        assert_eq!(e.code, 3);
        assert_eq!(
            e.message,
            "not logged in to https://mcp.example.com/mcp (refresh refused); run: mcp-oauth login https://mcp.example.com/mcp"
        );
        let e = CliError::from_adapter("https://x.example", AdapterError::LoginRequired);
        assert_eq!(e.code, LOGIN_REQUIRED);
    }

    #[test]
    fn adapter_failures_are_exit_1_on_one_line() {
        let refused = mcp_oauth_core::TransportError {
            kind: mcp_oauth_core::TransportErrorKind::Connect,
            message: "a\nb\r\n c".into(),
        };
        let e = CliError::from_adapter("https://x.example", AdapterError::Http(refused));
        assert_eq!(e, CliError::failure("HTTP: a b c"));
        let e: CliError = StoreError::NoStateDir.into();
        assert_eq!(e.code, FAILURE);
        assert!(e.message.starts_with("session store: no state directory"));
    }

    #[test]
    fn a_corrupt_session_asks_for_a_login_and_a_held_lock_names_the_flag() {
        let corrupt = StoreError::Corrupt {
            location: "/s/x.json".into(),
            detail: "truncated JSON at line 1 column 60".into(),
        };
        let e = CliError::from_adapter("https://x.example", AdapterError::Store(corrupt));
        assert_eq!(e.code, LOGIN_REQUIRED);
        assert!(e.message.contains("/s/x.json is corrupt"), "{}", e.message);
        assert!(
            e.message.contains("mcp-oauth login https://x.example"),
            "{}",
            e.message
        );
        let held = StoreError::LockTimeout {
            path: Some("/s/x.lock".into()),
            holder_pid: Some(4242),
            timeout: std::time::Duration::from_secs(10),
        };
        let e = CliError::from_adapter("https://x.example", AdapterError::Store(held));
        assert_eq!(e.code, FAILURE);
        assert_eq!(
            e.message,
            "session store: another mcp-oauth process (pid 4242) holds the session lock \
             /s/x.lock; gave up after waiting 10s; if that process is stuck, stop it, or wait \
             longer with --lock-timeout SECONDS"
        );
    }
}
