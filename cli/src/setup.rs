//! From flags to the library's values: the session store, the core [`Config`] and the
//! adapter's [`Options`].

use std::io::BufRead;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mcp_oauth_blocking::store::default_state_dir;
use mcp_oauth_blocking::{
    Browser, FileStore, KeychainOptions, KeychainStore, MemoryStore, NoBrowser, Options,
    SessionStore, StoreKind, SystemBrowser,
};
use mcp_oauth_core::config::{
    KnownAuthorizationServer, PreRegisteredClient, ResourceParameter, ServerEndpoints,
};
use mcp_oauth_core::registration::validate_client_id_url;
use mcp_oauth_core::resource_metadata::canonical_server_url;
use mcp_oauth_core::secret::ClientSecret;
use mcp_oauth_core::{Config, SessionSettings, UrlPolicy};

use crate::args::{ClientArgs, GlobalArgs, MachineArgs, StoreArg};
use crate::exit::{one_line, CliError};
use crate::ui::{BrowserState, TrackedBrowser, Ui};

/// Where the client secret may come from besides `--client-secret`.
pub const CLIENT_SECRET_ENV: &str = "MCP_OAUTH_CLIENT_SECRET";

/// The opened session store and where it lives (for `status`).
#[derive(Clone)]
pub struct StoreHandle {
    /// The store.
    pub store: Arc<dyn SessionStore>,
    /// Its directory, for the file store.
    pub dir: Option<PathBuf>,
}

impl StoreHandle {
    /// `file (/path)`, `keychain` or `memory`.
    pub fn describe(&self) -> String {
        match &self.dir {
            Some(dir) if self.store.kind() == StoreKind::File => {
                format!("file ({})", dir.display())
            }
            _ => self.store.kind().as_str().to_owned(),
        }
    }
}

/// Opens the store `--store` names, waiting at most `--lock-timeout` for a session's lock. `auto`
/// probes the keychain (bounded by its timeout) and
/// falls back to the file store in `--state-dir` (the notice shows on a terminal or with `-v`,
/// so scripts calling `token` get clean stderr).
pub fn open_store(global: &GlobalArgs, ui: &Ui) -> Result<StoreHandle, CliError> {
    let lock_timeout = Duration::from_secs(global.lock_timeout);
    let state_dir = || match &global.state_dir {
        Some(dir) => Ok(dir.clone()),
        None => default_state_dir(),
    };
    let file = |dir: PathBuf| -> Result<StoreHandle, CliError> {
        Ok(StoreHandle {
            store: Arc::new(FileStore::new(&dir)?.with_lock_timeout(lock_timeout)),
            dir: Some(dir),
        })
    };
    let keychain = || -> Result<StoreHandle, CliError> {
        let store = KeychainStore::with_options(KeychainOptions {
            // Lock files serialize refreshes across processes; without a state directory the
            // keychain still works with in-process locking.
            lock_dir: state_dir().ok(),
            ..KeychainOptions::default()
        })?;
        store.probe()?;
        Ok(StoreHandle {
            store: Arc::new(store.with_lock_timeout(lock_timeout)),
            dir: None,
        })
    };
    match global.store {
        StoreArg::Memory => Ok(StoreHandle {
            store: Arc::new(MemoryStore::new().with_lock_timeout(lock_timeout)),
            dir: None,
        }),
        StoreArg::File => file(state_dir()?),
        StoreArg::Keychain => keychain(),
        StoreArg::Auto => keychain().or_else(|why| {
            let dir = state_dir()?;
            if ui.tty || ui.verbose > 0 {
                crate::term::note(&format!(
                    "mcp-oauth: OS keychain unavailable ({}); storing sessions in {}",
                    why.message,
                    dir.display()
                ));
            }
            file(dir)
        }),
    }
}

/// Reads the first line of stdin as a client secret (`--client-secret-stdin`).
pub fn secret_from_stdin() -> Result<ClientSecret, CliError> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::failure(format!("cannot read the client secret: {e}")))?;
    let secret = line.trim_end_matches(['\r', '\n']);
    if secret.is_empty() {
        return Err(CliError::usage(
            "--client-secret-stdin: the first line of stdin is empty",
        ));
    }
    Ok(ClientSecret::new(secret))
}

/// The client secret from [`CLIENT_SECRET_ENV`], if set.
pub fn secret_from_env() -> Option<ClientSecret> {
    std::env::var(CLIENT_SECRET_ENV)
        .ok()
        .filter(|s| !s.is_empty())
        .map(ClientSecret::new)
}

/// Applies the machine-to-machine flags: the grant and `private_key_jwt`. Files are read here
/// so a missing key is a clear usage error, not a failed request.
pub fn apply_machine(config: &mut Config, machine: &MachineArgs) -> Result<(), CliError> {
    use mcp_oauth_core::config::{Grant, PrivateKeyJwt};
    use mcp_oauth_core::secret::{Assertion, PrivateKeyPem};
    let read = |path: &std::path::Path, what: &str| {
        std::fs::read_to_string(path)
            .map(|s| s.trim().to_owned())
            .map_err(|e| CliError::usage(format!("cannot read the {what} {}: {e}", path.display())))
    };
    if let Some(path) = &machine.private_key_file {
        config.client.private_key_jwt = Some(PrivateKeyJwt {
            key_pem: PrivateKeyPem::new(read(path, "private key")?),
            audience: None,
        });
    }
    if let Some(path) = &machine.assertion_file {
        config.grant = Grant::JwtBearer {
            assertion: Assertion::new(read(path, "assertion")?),
        };
    } else if machine.client_credentials {
        if config.client.pre_registered.is_none() {
            return Err(CliError::usage("--client-credentials needs --client-id"));
        }
        config.grant = Grant::ClientCredentials;
    }
    Ok(())
}

/// The client secret: `--client-secret`, else the first line of stdin with
/// `--client-secret-stdin`, else [`CLIENT_SECRET_ENV`]. Only read when a `--client-id` is given.
pub fn client_secret(client: &ClientArgs) -> Result<Option<ClientSecret>, CliError> {
    if client.client_id.is_none() {
        return Ok(None);
    }
    if let Some(s) = &client.client_secret {
        return Ok(Some(ClientSecret::new(s.clone())));
    }
    if client.client_secret_stdin {
        // `Stdin` buffers globally, so a redirect URL pasted on a later line is still there
        // for the adapter's paste reader.
        return secret_from_stdin().map(Some);
    }
    Ok(secret_from_env())
}

/// Splits repeated and space-separated `--scope` values, dropping duplicates (first wins).
pub fn scopes(raw: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for scope in raw.iter().flat_map(|s| s.split_whitespace()) {
        if !out.iter().any(|s| s == scope) {
            out.push(scope.to_owned());
        }
    }
    out
}

/// The settings stored with `server`'s session, if there is one (an unreadable store counts as
/// none here: the adapter reports it when it loads the session itself).
pub fn stored_settings(store: &StoreHandle, server: &str) -> Option<SessionSettings> {
    let key = canonical_server_url(server).ok()?;
    store.store.load(&key).ok().flatten().map(|s| s.settings)
}

/// The core configuration for `server` from the client flags. The choices stored with the
/// session (`stored`) apply first, so a flag given this time overrides them and an omitted one
/// keeps them.
pub fn config(
    server: &str,
    client: &ClientArgs,
    secret: Option<ClientSecret>,
    stored: Option<&SessionSettings>,
) -> Result<Config, CliError> {
    let mut config = stored_config(server, stored);
    if let Some(mode) = client.dpop {
        config.dpop = mode.into();
    }
    if !client.authorize_params.is_empty() {
        config.authorize_params = client.authorize_params.clone();
    }
    if let Some(issuer) = &client.authorization_server {
        let endpoints = match (&client.authorization_endpoint, &client.token_endpoint) {
            (Some(authorization), Some(token)) => Some(ServerEndpoints {
                authorization_endpoint: authorization.clone(),
                token_endpoint: token.clone(),
                registration_endpoint: client.registration_endpoint.clone(),
            }),
            _ => None,
        };
        config.authorization_server = Some(KnownAuthorizationServer {
            issuer: issuer.clone(),
            endpoints,
        });
    }
    let scopes = scopes(&client.scopes);
    if !scopes.is_empty() {
        config.scopes = Some(scopes);
    }
    config.client.pre_registered = client.client_id.as_ref().map(|id| PreRegisteredClient {
        client_id: id.clone(),
        client_secret: secret,
        auth_method: None,
        issuer: None,
    });
    if let Some(url) = &client.client_metadata_url {
        validate_client_id_url(url).map_err(|e| CliError::usage(one_line(&e.to_string())))?;
        config.client.metadata_document_url = Some(url.clone());
    }
    config.resource_parameter = match (&client.resource, client.no_resource) {
        (_, true) => ResourceParameter::Omit,
        (Some(r), false) => ResourceParameter::Fixed(r.clone()),
        (None, false) => ResourceParameter::Discovered,
    };
    config.authorization_timeout = Duration::from_secs(client.login_timeout);
    apply_machine(&mut config, &client.machine)?;
    // A refused URL or parameter is the user's to fix: exit 2 before anything is sent.
    config
        .validate()
        .map_err(|e| CliError::usage(one_line(&e.to_string())))?;
    Ok(config)
}

/// [`base_config`] with the choices stored with the session applied (`token`, `logout`).
pub fn stored_config(server: &str, stored: Option<&SessionSettings>) -> Config {
    let mut config = base_config(server);
    if let Some(settings) = stored {
        config.apply_session_settings(settings);
    }
    config
}

/// Defaults for commands that never log in (`token`, `logout`): only the server matters, the
/// rest comes from the stored session.
pub fn base_config(server: &str) -> Config {
    let mut config = Config::new(server);
    config.client.client_name = "mcp-oauth".into();
    config.client.software_id = Some("mcp-oauth-cli".into());
    config.client.software_version = Some(env!("CARGO_PKG_VERSION").into());
    config
}

/// The URL and address policy: the production default, with private networks allowed for
/// `--allow-private-network` (internal MCP and authorization servers). The adapters' HTTP
/// clients apply it to resolved addresses too.
pub fn url_policy(allow_private_network: bool) -> UrlPolicy {
    UrlPolicy {
        allow_private_networks: allow_private_network,
        ..UrlPolicy::default()
    }
}

/// Adapter options: the system browser (tracked for the spinner) or none, pasting allowed.
pub fn options(
    store: &StoreHandle,
    client: Option<&ClientArgs>,
) -> (Options, Option<BrowserState>) {
    let mut options = Options::new(Arc::clone(&store.store));
    options.redirect_port = client.and_then(|c| c.redirect_port);
    let no_browser = client.is_none_or(|c| c.no_browser);
    let state = (!no_browser).then(BrowserState::default);
    options.browser = match &state {
        Some(state) => Arc::new(TrackedBrowser {
            inner: Arc::new(SystemBrowser),
            state: state.clone(),
        }) as Arc<dyn Browser>,
        None => Arc::new(NoBrowser),
    };
    // Without a client (commands that never log in) nothing may wait on stdin.
    options.paste_from_stdin = client.is_some();
    (options, state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn client(args: &[&str]) -> ClientArgs {
        #[derive(Parser)]
        struct Wrap {
            #[command(flatten)]
            client: ClientArgs,
        }
        let mut argv = vec!["x"];
        argv.extend_from_slice(args);
        Wrap::try_parse_from(argv).expect("parses").client
    }

    #[test]
    fn scopes_split_and_dedupe() {
        let raw = ["mcp:basic mcp:write".to_owned(), "mcp:basic".to_owned()];
        assert_eq!(scopes(&raw), ["mcp:basic", "mcp:write"]);
        assert!(scopes(&[" ".to_owned()]).is_empty());
    }

    #[test]
    fn flags_become_the_core_config() {
        let c = client(&[
            "--scope",
            "a b",
            "--client-id",
            "cid",
            "--client-secret",
            "s3cret",
            "--resource",
            "https://r.example/mcp",
            "--login-timeout",
            "7",
        ]);
        let secret = client_secret(&c).expect("secret");
        let built = config("https://mcp.example.com/mcp", &c, secret, None).expect("config");
        assert_eq!(built.scopes, Some(vec!["a".to_owned(), "b".to_owned()]));
        let pre = built
            .client
            .pre_registered
            .as_ref()
            .expect("pre-registered");
        assert_eq!(pre.client_id, "cid");
        assert_eq!(
            pre.client_secret.as_ref().map(ClientSecret::expose_secret),
            Some("s3cret")
        );
        assert_eq!(
            built.resource_parameter,
            ResourceParameter::Fixed("https://r.example/mcp".into())
        );
        assert_eq!(built.authorization_timeout, Duration::from_secs(7));
        assert!(!format!("{built:?}").contains("s3cret"));

        let c = client(&["--no-resource"]);
        let omitted = config("https://mcp.example.com/mcp", &c, None, None).expect("config");
        assert_eq!(omitted.resource_parameter, ResourceParameter::Omit);
        assert_eq!(omitted.scopes, None);
        assert!(omitted.client.pre_registered.is_none());
    }

    #[test]
    fn private_networks_only_with_the_flag() {
        let internal = "https://10.1.2.3/mcp";
        assert!(url_policy(false).check(internal).is_err());
        assert!(url_policy(true).check(internal).is_ok());
        let addr = "10.1.2.3".parse().expect("ip");
        assert!(url_policy(false)
            .check_resolved(Some("https"), "mcp.corp.example", addr)
            .is_err());
        assert!(url_policy(true)
            .check_resolved(Some("https"), "mcp.corp.example", addr)
            .is_ok());
        // Metadata stays refused, and plain http stays loopback-only.
        let imds = "169.254.169.254".parse().expect("ip");
        assert!(url_policy(true)
            .check_resolved(Some("https"), "x.corp.example", imds)
            .is_err());
        assert!(url_policy(true).check("http://10.1.2.3/mcp").is_err());
    }

    #[test]
    fn a_bad_cimd_url_is_a_usage_error() {
        let c = client(&["--client-metadata-url", "http://insecure.example/cimd.json"]);
        let e = config("https://mcp.example.com/mcp", &c, None, None).expect_err("refused");
        assert_eq!(e.code, crate::exit::USAGE);
        assert!(e.message.contains("https"), "{}", e.message);
        let c = client(&["--client-metadata-url", "https://app.example/cimd.json"]);
        let built = config("https://mcp.example.com/mcp", &c, None, None).expect("config");
        assert_eq!(
            built.client.metadata_document_url.as_deref(),
            Some("https://app.example/cimd.json")
        );
    }

    #[test]
    fn no_secret_without_a_client_id() {
        let c = client(&[]);
        assert!(client_secret(&c).expect("ok").is_none());
    }
}
