//! The command line: subcommands, flags and their help text (clap derive).
//!
//! Subcommand names are fixed by the issue (`login`, `token`, `status`, `logout`, `call`,
//! `demo`); flags may grow. A client secret is never accepted *only* on the command line,
//! where other local users can read it (`ps`): `MCP_OAUTH_CLIENT_SECRET` and
//! `--client-secret-stdin` are offered too.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

/// The protocol revision `call` and `demo` speak unless told otherwise.
pub const DEFAULT_PROTOCOL_VERSION: &str = "2025-11-25";

/// Shown after the top-level `--help`: the contract scripts rely on.
const AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  failure (network, authorization server, session store, a failed demo step)
  2  usage error (bad arguments, a SERVER_URL that is not an http(s) URL)
  3  login needed: run `mcp-oauth login <SERVER_URL>` (token, status, call --no-login)
  4  the MCP server answered `call` with an error (JSON-RPC error or HTTP status)

Environment:
  MCP_OAUTH_STORE          default for --store
  MCP_OAUTH_STATE_DIR      default for --state-dir
  MCP_OAUTH_LOCK_TIMEOUT   default for --lock-timeout
  MCP_OAUTH_CLIENT_SECRET  client secret of --client-id (safer than --client-secret)
  BROWSER                  program that opens the authorization URL

Try `mcp-oauth demo`: the whole flow against servers embedded in this binary.";

/// `mcp-oauth`: MCP authorization (OAuth 2.1) from the command line.
#[derive(Debug, Parser)]
#[command(
    name = "mcp-oauth",
    version,
    about = "Log in to MCP servers (OAuth 2.1), hand tokens to scripts, call tools",
    after_help = AFTER_HELP
)]
pub struct Cli {
    /// Options every subcommand takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand takes (`global = true`: accepted before or after the subcommand).
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Where sessions are kept: the OS keychain when it works (auto), the keychain only, 0600
    /// files, or memory (forgotten when the command exits).
    #[arg(long, global = true, value_enum, default_value_t = StoreArg::Auto, env = "MCP_OAUTH_STORE")]
    pub store: StoreArg,
    /// Directory of the file store (and of the keychain's lock files) [default:
    /// $XDG_STATE_HOME/mcp-oauth or ~/.local/state/mcp-oauth].
    #[arg(long, global = true, value_name = "DIR", env = "MCP_OAUTH_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Log each step on stderr (secrets redacted).
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,
    /// Print data as JSON on stdout (status, login, token, demo).
    #[arg(long, global = true)]
    pub json: bool,
    /// Give up after this many seconds when another mcp-oauth process holds a session's lock
    /// (it is refreshing the same session, or is stopped or stuck).
    #[arg(
        long,
        global = true,
        value_name = "SECONDS",
        default_value_t = 10,
        env = "MCP_OAUTH_LOCK_TIMEOUT"
    )]
    pub lock_timeout: u64,
    /// Allow MCP and authorization servers on private networks (RFC 1918, RFC 4193 ULA, CGNAT
    /// 100.64/10), as URL addresses and as what host names resolve to. Link-local and cloud
    /// metadata addresses stay refused.
    #[arg(long, global = true)]
    pub allow_private_network: bool,
    /// The network budget of each OAuth operation in seconds: all the requests of one refresh,
    /// login or logout together, not counting the wait for you in the browser.
    #[arg(
        long,
        global = true,
        value_name = "SECONDS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    pub timeout: u64,
}

/// `--store`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreArg {
    /// The OS keychain when a probe succeeds, else the file store.
    Auto,
    /// The OS keychain, or an error.
    Keychain,
    /// Private files in the state directory.
    File,
    /// Memory: nothing survives the command.
    Memory,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Log in to an MCP server: discovery, registration, browser, token; the session is stored.
    Login(LoginArgs),
    /// Print a valid access token on stdout (refreshed when needed; never opens a browser).
    Token(TokenArgs),
    /// Show stored sessions: server, issuer, client kind, scopes, expiry. Never shows a secret.
    Status(StatusArgs),
    /// Revoke the tokens at the authorization server (RFC 7009) and delete the session.
    Logout(LogoutArgs),
    /// Send one authorized MCP JSON-RPC request and print its result as JSON.
    Call(CallArgs),
    /// Run the whole flow against an authorization server and MCP server embedded in this binary.
    Demo(DemoArgs),
    /// Print the Client ID Metadata Document to host at a CIMD URL (for --client-metadata-url).
    ClientMetadata(ClientMetadataArgs),
    /// Test helper: GET the authorization URL, then its redirect on the loopback listener.
    #[command(name = "__headless-browser", hide = true)]
    HeadlessBrowser {
        /// The authorization URL.
        url: String,
    },
}

/// Parses SERVER_URL: it must canonicalize (http(s), a host, no credentials), so a bad URL is a
/// usage error (exit 2) before anything else happens.
pub fn server_url(raw: &str) -> Result<String, String> {
    mcp_oauth_core::resource_metadata::canonical_server_url(raw).map_err(|e| e.to_string())?;
    Ok(raw.trim().to_owned())
}

/// How the client identifies itself and what it asks for (login, and `call` when it logs in).
#[derive(Args)]
pub struct ClientArgs {
    /// Scope to request (repeatable, or space-separated); replaces the discovered scopes.
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// A client_id registered with the authorization server beforehand.
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// Its client secret. Visible to other local users in the process list: prefer
    /// MCP_OAUTH_CLIENT_SECRET or --client-secret-stdin.
    #[arg(long, value_name = "SECRET", requires = "client_id")]
    pub client_secret: Option<String>,
    /// Read the client secret from the first line of stdin.
    #[arg(long, requires = "client_id", conflicts_with = "client_secret")]
    pub client_secret_stdin: bool,
    /// An https Client ID Metadata Document URL to use as client_id when the authorization
    /// server supports it (CIMD); see `mcp-oauth client-metadata`.
    #[arg(long, value_name = "URL")]
    pub client_metadata_url: Option<String>,
    /// Fixed port of the loopback redirect URI (http://127.0.0.1:PORT/callback), for clients
    /// registered with an exact redirect URI.
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub redirect_port: Option<u16>,
    /// Do not open a browser: print the URL, then paste the URL you were redirected to.
    #[arg(long)]
    pub no_browser: bool,
    /// Send this RFC 8707 resource instead of the discovered one.
    #[arg(long, value_name = "URI", conflicts_with = "no_resource")]
    pub resource: Option<String>,
    /// Send no RFC 8707 resource (authorization servers such as Entra ID reject it,
    /// modelcontextprotocol#1389).
    #[arg(long)]
    pub no_resource: bool,
    /// When to ask for DPoP-bound tokens (RFC 9449): auto (only where the MCP server signals
    /// DPoP and the authorization server offers ES256), always (whenever the authorization
    /// server offers ES256), never. Stored with the session [default: the stored choice, else
    /// auto].
    #[arg(long, value_name = "MODE", value_enum)]
    pub dpop: Option<DpopArg>,
    /// Add KEY=VALUE to the authorization request (repeatable), e.g. audience=... for Auth0,
    /// access_type=offline and prompt=consent for Google. The parameters the client sets itself
    /// (state, scope, resource, redirect_uri, ...) are refused. Stored with the session.
    #[arg(long = "authorize-param", value_name = "KEY=VALUE", value_parser = authorize_param)]
    pub authorize_params: Vec<(String, String)>,
    /// Use this authorization server (its issuer) instead of the one the MCP server's protected
    /// resource metadata names, for servers that publish none. Stored with the session.
    #[arg(long, value_name = "ISSUER")]
    pub authorization_server: Option<String>,
    /// The authorization endpoint of --authorization-server, when it publishes no metadata
    /// (RFC 8414 / OpenID) either; needs --token-endpoint.
    #[arg(long, value_name = "URL", requires_all = ["authorization_server", "token_endpoint"])]
    pub authorization_endpoint: Option<String>,
    /// The token endpoint of --authorization-server (with --authorization-endpoint).
    #[arg(long, value_name = "URL", requires = "authorization_endpoint")]
    pub token_endpoint: Option<String>,
    /// The dynamic registration endpoint (RFC 7591) of --authorization-server, if it has one
    /// (with --authorization-endpoint).
    #[arg(long, value_name = "URL", requires = "authorization_endpoint")]
    pub registration_endpoint: Option<String>,
    /// Give up waiting for the browser after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    pub login_timeout: u64,
    /// Machine-to-machine grants (no browser).
    #[command(flatten)]
    pub machine: MachineArgs,
}

/// Parses `--authorize-param KEY=VALUE`, refusing the parameters the client owns.
pub fn authorize_param(raw: &str) -> Result<(String, String), String> {
    let (key, value) = raw
        .split_once('=')
        .ok_or_else(|| format!("expected KEY=VALUE, got {raw:?}"))?;
    mcp_oauth_core::authorize::check_extra_param(key).map_err(|e| e.to_string())?;
    Ok((key.to_owned(), value.to_owned()))
}

/// `--dpop`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DpopArg {
    /// Only where the MCP server signals DPoP and the authorization server offers ES256.
    Auto,
    /// Whenever the authorization server offers ES256.
    Always,
    /// Bearer tokens only.
    Never,
}

impl From<DpopArg> for mcp_oauth_core::DpopMode {
    fn from(arg: DpopArg) -> Self {
        match arg {
            DpopArg::Auto => Self::Auto,
            DpopArg::Always => Self::Always,
            DpopArg::Never => Self::Never,
        }
    }
}

/// Machine-to-machine authorization, for scripts and CI jobs (no browser; the grant runs again
/// when the token expires). The MCP authorization extensions: client credentials
/// (`io.modelcontextprotocol/oauth-client-credentials`) and workload identity (RFC 7523).
#[derive(Debug, Args, Default, Clone)]
pub struct MachineArgs {
    /// Use the OAuth client credentials grant (needs --client-id with a secret, or
    /// --private-key-file).
    #[arg(long)]
    pub client_credentials: bool,
    /// Authenticate the client with a private_key_jwt assertion (RFC 7523) signed with this
    /// PKCS#8 PEM P-256 key (ES256) instead of a secret.
    #[arg(long, value_name = "PEM_FILE")]
    pub private_key_file: Option<std::path::PathBuf>,
    /// Use the RFC 7523 jwt-bearer grant with the workload identity JWT in this file.
    #[arg(long, value_name = "JWT_FILE", conflicts_with = "client_credentials")]
    pub assertion_file: Option<std::path::PathBuf>,
}

impl MachineArgs {
    /// True when any machine-to-machine flag is set.
    pub fn is_set(&self) -> bool {
        self.client_credentials || self.private_key_file.is_some() || self.assertion_file.is_some()
    }
}

impl std::fmt::Debug for ClientArgs {
    /// The client secret is never shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientArgs")
            .field("scopes", &self.scopes)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("client_secret_stdin", &self.client_secret_stdin)
            .field("client_metadata_url", &self.client_metadata_url)
            .field("redirect_port", &self.redirect_port)
            .field("no_browser", &self.no_browser)
            .field("resource", &self.resource)
            .field("no_resource", &self.no_resource)
            .field("dpop", &self.dpop)
            .field("authorize_params", &self.authorize_params)
            .field("authorization_server", &self.authorization_server)
            .field("authorization_endpoint", &self.authorization_endpoint)
            .field("token_endpoint", &self.token_endpoint)
            .field("registration_endpoint", &self.registration_endpoint)
            .field("login_timeout", &self.login_timeout)
            .field("machine", &self.machine)
            .finish()
    }
}

/// `mcp-oauth login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The MCP server URL, e.g. https://mcp.example.com/mcp.
    #[arg(value_name = "SERVER_URL", value_parser = server_url)]
    pub server: String,
    /// Client identity and request options.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `mcp-oauth token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The MCP server URL the session belongs to.
    #[arg(value_name = "SERVER_URL", value_parser = server_url)]
    pub server: String,
    /// Print the whole Authorization header value (`Bearer <token>`) instead.
    #[arg(long)]
    pub header: bool,
    /// The client_id for a machine-to-machine grant; its secret comes from
    /// MCP_OAUTH_CLIENT_SECRET or --client-secret-stdin (never argv).
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// Read the client secret from the first line of stdin.
    #[arg(long, requires = "client_id")]
    pub client_secret_stdin: bool,
    /// Machine-to-machine grants (no browser).
    #[command(flatten)]
    pub machine: MachineArgs,
}

/// `mcp-oauth status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Only this server (exit code 3 when it has no session).
    #[arg(value_name = "SERVER_URL", value_parser = server_url)]
    pub server: Option<String>,
}

/// `mcp-oauth logout`.
#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// The MCP server URL the session belongs to.
    #[arg(value_name = "SERVER_URL", value_parser = server_url)]
    pub server: String,
}

/// `mcp-oauth call`.
#[derive(Debug, Args)]
pub struct CallArgs {
    /// The MCP server URL.
    #[arg(value_name = "SERVER_URL", value_parser = server_url)]
    pub server: String,
    /// The JSON-RPC method, e.g. tools/list or tools/call.
    #[arg(value_name = "METHOD")]
    pub method: String,
    /// The params as a JSON object or array, e.g. '{"name":"echo","arguments":{}}'.
    #[arg(value_name = "PARAMS_JSON")]
    pub params: Option<String>,
    /// MCP protocol revision; 2026-07-28 and later use the stateless wire (no initialize).
    #[arg(long, value_name = "VERSION", default_value = DEFAULT_PROTOCOL_VERSION)]
    pub protocol_version: String,
    /// Never log in: exit with code 3 when no valid token is stored.
    #[arg(long)]
    pub no_login: bool,
    /// Client identity and request options (used when a login is needed).
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `mcp-oauth demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Use your real browser for the two authorization steps instead of the built-in headless
    /// one (the demo authorization server approves at once).
    #[arg(long)]
    pub browser: bool,
    /// MCP protocol revision; 2026-07-28 selects the stateless wire.
    #[arg(long, value_name = "VERSION", default_value = DEFAULT_PROTOCOL_VERSION)]
    pub protocol_version: String,
}

/// `mcp-oauth client-metadata`.
#[derive(Debug, Args)]
pub struct ClientMetadataArgs {
    /// The https URL the document will be served at (it becomes the client_id).
    #[arg(value_name = "CLIENT_ID_URL")]
    pub url: String,
    /// The fixed loopback port to list in redirect_uris (use the same with `login
    /// --redirect-port`); authorization servers compare redirect URIs exactly.
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub redirect_port: u16,
    /// client_name shown on consent screens.
    #[arg(long, value_name = "NAME", default_value = "mcp-oauth")]
    pub client_name: String,
    /// Scope to list in the document (repeatable).
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn server_urls_must_canonicalize() {
        assert_eq!(
            server_url(" https://MCP.example.com/mcp ").as_deref(),
            Ok("https://MCP.example.com/mcp")
        );
        assert!(server_url("ftp://x.example/mcp").is_err());
        assert!(server_url("not a url").is_err());
        assert!(server_url("https://user:pw@x.example/").is_err());
    }

    #[test]
    fn global_flags_go_anywhere_and_secrets_stay_out_of_debug() {
        let cli = Cli::try_parse_from([
            "mcp-oauth",
            "login",
            "https://mcp.example.com/mcp",
            "--store",
            "memory",
            "--client-id",
            "abc",
            "--client-secret",
            "hunter2",
            "--scope",
            "a",
            "--scope",
            "b c",
            "-vv",
            "--allow-private-network",
        ])
        .expect("parses");
        assert_eq!(cli.global.store, StoreArg::Memory);
        assert_eq!(cli.global.verbose, 2);
        assert!(cli.global.allow_private_network);
        let Command::Login(login) = &cli.command else {
            panic!("not login: {cli:?}")
        };
        assert_eq!(login.client.scopes, ["a", "b c"]);
        let shown = format!("{cli:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn secret_flags_need_a_client_id_and_exclude_each_other() {
        let parse = |args: &[&str]| Cli::try_parse_from(args).map(|_| ()).map_err(|e| e.kind());
        let url = "https://mcp.example.com/mcp";
        assert!(parse(&["mcp-oauth", "login", url, "--client-secret", "s"]).is_err());
        assert!(parse(&["mcp-oauth", "login", url, "--client-secret-stdin"]).is_err());
        assert!(parse(&[
            "mcp-oauth",
            "login",
            url,
            "--client-id",
            "c",
            "--client-secret",
            "s",
            "--client-secret-stdin"
        ])
        .is_err());
        assert!(parse(&[
            "mcp-oauth",
            "login",
            url,
            "--resource",
            "x",
            "--no-resource"
        ])
        .is_err());
        assert!(parse(&["mcp-oauth", "login", url, "--redirect-port", "0"]).is_err());
        assert_eq!(
            parse(&[
                "mcp-oauth",
                "login",
                url,
                "--client-id",
                "c",
                "--client-secret-stdin"
            ]),
            Ok(())
        );
    }
}
