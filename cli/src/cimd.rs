//! `mcp-oauth client-metadata`: the Client ID Metadata Document to host for
//! `--client-metadata-url` (CIMD draft 00 §4.1). The document lists redirect URIs exactly
//! (CIMD draft 00 §4.5), so it names the fixed loopback port that `login --redirect-port`
//! must then use.

use mcp_oauth_blocking::CALLBACK_PATH;
use mcp_oauth_core::registration::{cimd_document, CimdParams};

use crate::args::ClientMetadataArgs;
use crate::exit::{one_line, CliError};
use crate::setup;
use crate::ui::print_line;

/// Prints the document (pretty JSON) on stdout; a bad URL is a usage error.
pub fn run(args: &ClientMetadataArgs) -> Result<(), CliError> {
    let document = document(args)?;
    let text =
        serde_json::to_string_pretty(&document).map_err(|e| CliError::failure(e.to_string()))?;
    print_line(&text)
}

/// The document for `args`.
pub fn document(args: &ClientMetadataArgs) -> Result<serde_json::Value, CliError> {
    let redirect = format!("http://127.0.0.1:{}{CALLBACK_PATH}", args.redirect_port);
    let scope = setup::scopes(&args.scopes).join(" ");
    cimd_document(&CimdParams {
        client_id_url: &args.url,
        client_name: &args.client_name,
        redirect_uris: &[redirect.as_str()],
        client_uri: None,
        logo_uri: None,
        scope: Some(scope.as_str()),
        software_id: Some("mcp-oauth-cli"),
        software_version: Some(env!("CARGO_PKG_VERSION")),
    })
    .map_err(|e| CliError::usage(one_line(&e.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(url: &str) -> ClientMetadataArgs {
        ClientMetadataArgs {
            url: url.into(),
            redirect_port: 33418,
            client_name: "my laptop".into(),
            scopes: vec!["mcp:basic".into()],
        }
    }

    #[test]
    fn the_document_names_the_fixed_redirect_uri() {
        let doc = document(&args("https://me.example/mcp-oauth.json")).expect("document");
        assert_eq!(doc["client_id"], json!("https://me.example/mcp-oauth.json"));
        assert_eq!(doc["client_name"], json!("my laptop"));
        assert_eq!(
            doc["redirect_uris"],
            json!(["http://127.0.0.1:33418/callback"])
        );
        assert_eq!(doc["token_endpoint_auth_method"], json!("none"));
        assert_eq!(doc["scope"], json!("mcp:basic"));
        assert!(doc.get("client_secret").is_none());
    }

    #[test]
    fn a_non_https_url_is_a_usage_error() {
        let e = document(&args("http://me.example/x.json")).expect_err("refused");
        assert_eq!(e.code, crate::exit::USAGE);
    }
}
