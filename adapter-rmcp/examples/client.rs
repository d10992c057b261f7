//! An rmcp client against an OAuth-protected MCP server:
//!
//! ```text
//! cargo run -p mcp-oauth-rmcp --example client -- https://mcp.example.com/mcp
//! ```
//!
//! The first run logs in through the browser; later runs reuse the stored session (the OS
//! keychain, else the file store: the same sessions as the `mcp-oauth` CLI).
use std::sync::Arc;

use mcp_oauth_core::Config;
use mcp_oauth_rmcp::McpOAuthClient;
use mcp_oauth_tokio::{open_store, Authorizer, Options, StoreChoice};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::ServiceExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .ok_or("usage: client <mcp-server-url>")?;
    let store = Arc::from(open_store(StoreChoice::Auto)?);
    let authorizer = Authorizer::new(Config::new(&url), Options::new(store)).await?;
    let transport = StreamableHttpClientTransport::with_client(
        McpOAuthClient::with_reqwest(authorizer)?,
        StreamableHttpClientTransportConfig::with_uri(url),
    );
    let client = ().serve(transport).await?;
    for tool in client.list_all_tools().await? {
        println!("{}", tool.name);
    }
    client.cancel().await?;
    Ok(())
}
