//! `mcp-oauth call`: one authorized MCP JSON-RPC request over Streamable HTTP.
//!
//! The MCP codec is the shared [`McpSession`] (session id, JSON or SSE answers, the stateful
//! `initialize` handshake on revisions up to 2025-11-25, the stateless wire from 2026-07-28);
//! [`Authorizer::send`] attaches the token and handles 401 (refresh, re-login) and 403
//! `insufficient_scope` (step-up) before retrying.

use std::io::IsTerminal;

use mcp_oauth_blocking::Authorizer;
use mcp_oauth_core::HttpRequest;
use mcp_oauth_mcp::{McpError, McpSession, McpWire};
use serde_json::Value;

use crate::args::CallArgs;
use crate::commands::{log_counts, Ctx};
use crate::exit::CliError;
use crate::setup;
use crate::term::{capped_field, MAX_RPC_MESSAGE};
use crate::ui::print_line;

/// Runs `call` and prints the JSON-RPC `result` on stdout (pretty on a terminal).
pub fn run(args: &CallArgs, ctx: &Ctx) -> Result<(), CliError> {
    let params = parse_params(args.params.as_deref())?;
    let secret = setup::client_secret(&args.client)?;
    let stored = setup::stored_settings(&ctx.store, &args.server);
    let mut config = setup::config(&args.server, &args.client, secret, stored.as_ref())?;
    config.url_policy = setup::url_policy(ctx.allow_private_network);
    config.operation_timeout = ctx.timeout;
    config.interactive = !args.no_login;
    let (options, browser) = setup::options(&ctx.store, Some(&args.client));
    let auth =
        Authorizer::new(config, options).map_err(|e| CliError::from_adapter(&args.server, e))?;
    let wire = McpWire::for_protocol_version(&args.protocol_version);
    ctx.ui.verbose(&format!(
        "MCP {} on the {} wire",
        args.protocol_version,
        match wire {
            McpWire::Stateful => "stateful",
            McpWire::Stateless => "stateless",
        }
    ));
    let mut mcp = McpSession::new(wire, &args.protocol_version)
        .with_client_info("mcp-oauth", env!("CARGO_PKG_VERSION"));
    let result = ctx.ui.run(&auth, browser.as_ref(), || {
        converse(&auth, &mut mcp, args, params)
    });
    log_counts(&ctx.ui, &auth.request_counts());
    let result = result?;
    let text = if std::io::stdout().is_terminal() {
        serde_json::to_string_pretty(&result)
    } else {
        serde_json::to_string(&result)
    }
    .map_err(|e| CliError::failure(e.to_string()))?;
    print_line(&text)
}

/// `PARAMS_JSON`: absent is `{}`; otherwise a JSON object or array (JSON-RPC 2.0 §4.2).
pub fn parse_params(raw: Option<&str>) -> Result<Value, CliError> {
    let Some(raw) = raw else {
        return Ok(Value::Object(serde_json::Map::new()));
    };
    let value: Value = serde_json::from_str(raw)
        .map_err(|e| CliError::usage(format!("PARAMS_JSON is not valid JSON: {e}")))?;
    if value.is_object() || value.is_array() {
        Ok(value)
    } else {
        Err(CliError::usage(
            "PARAMS_JSON must be a JSON object or array (JSON-RPC params)",
        ))
    }
}

/// The handshake when the wire needs it, then the request; the request's `result`.
fn converse(
    auth: &Authorizer,
    mcp: &mut McpSession,
    args: &CallArgs,
    params: Value,
) -> Result<Value, CliError> {
    let url = args.server.as_str();
    if args.method == "initialize" && mcp.wire() == McpWire::Stateful {
        let req = mcp.initialize_request(url);
        return exchange(auth, mcp, req, &args.server);
    }
    if mcp.needs_initialize() {
        let req = mcp.initialize_request(url);
        exchange(auth, mcp, req, &args.server)?;
        let req = mcp.initialized_notification(url);
        exchange(auth, mcp, req, &args.server)?;
    }
    let req = mcp.request(url, &args.method, params);
    exchange(auth, mcp, req, &args.server)
}

/// Sends one request through the authorizer and reads the answer with the codec.
fn exchange(
    auth: &Authorizer,
    mcp: &mut McpSession,
    req: HttpRequest,
    server: &str,
) -> Result<Value, CliError> {
    let response = auth
        .send(req)
        .map_err(|e| CliError::from_adapter(server, e))?;
    mcp.handle_response(&response).map_err(|e| match e {
        McpError::Status(status @ (401 | 403)) => CliError::failure(format!(
            "the MCP server still refuses the token (HTTP {status}) after a refresh and a new \
             login: it likely does not accept this token's type (try --dpop never or --dpop \
             always), its audience (try --resource URL or --no-resource) or its scopes (--scope)"
        )),
        McpError::Status(_) => CliError::mcp(e.to_string()),
        McpError::Rpc { code, message } => {
            CliError::mcp(format!("JSON-RPC error {code}: {}", rpc_message(&message)))
        }
        McpError::Malformed(detail) => {
            CliError::failure(format!("malformed MCP response: {}", rpc_message(&detail)))
        }
    })
}

/// The server's text on one line (whitespace runs, line breaks included, become one space),
/// capped at [`MAX_RPC_MESSAGE`] characters, other controls shown escaped: a server's stack
/// trace or escape sequences must neither flood nor drive the terminal.
fn rpc_message(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    capped_field(&flat, MAX_RPC_MESSAGE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rpc_messages_are_capped_and_inert() {
        let hostile = format!("\u{1b}]0;pwned\u{7}boom\n{}", "x".repeat(3000));
        let shown = rpc_message(&hostile);
        assert!(
            !shown.contains('\u{1b}') && !shown.contains('\n'),
            "{shown}"
        );
        assert!(shown.ends_with('…'), "{shown}");
        assert!(
            shown.starts_with("\\u001b]0;pwned\\u0007boom xxx"),
            "{shown}"
        );
        // 512 characters of the message: the 15 before the x's, then the x's.
        assert_eq!(shown.matches('x').count(), MAX_RPC_MESSAGE - 15, "{shown}");
        assert_eq!(rpc_message("Method not found"), "Method not found");
    }

    #[test]
    fn params_must_be_an_object_or_array() {
        assert_eq!(parse_params(None), Ok(json!({})));
        assert_eq!(
            parse_params(Some(r#"{"name":"t","arguments":{}}"#)),
            Ok(json!({"name": "t", "arguments": {}}))
        );
        assert_eq!(parse_params(Some("[1,2]")), Ok(json!([1, 2])));
        for bad in ["42", "\"x\"", "null", "{", ""] {
            let e = parse_params(Some(bad)).expect_err(bad);
            assert_eq!(e.code, crate::exit::USAGE, "{bad}");
        }
    }
}
