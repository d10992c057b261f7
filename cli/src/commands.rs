//! `login`, `token` and `logout`: thin shells around [`Authorizer`], which does the protocol.

use std::collections::BTreeMap;

use mcp_oauth_blocking::{AdapterError, Authorizer, StoreError, StoreKind};
use mcp_oauth_core::resource_metadata::canonical_server_url;
use mcp_oauth_core::{Fault, Step};
use serde_json::json;

use crate::args::{LoginArgs, LogoutArgs, TokenArgs};
use crate::exit::{one_line, CliError};
use crate::setup::{self, StoreHandle};
use crate::status;
use crate::term::{field, note};
use crate::ui::{print_line, Ui};

/// What every command gets: output settings, the opened store, `--json`.
pub struct Ctx {
    /// stderr settings.
    pub ui: Ui,
    /// The session store.
    pub store: StoreHandle,
    /// `--json`.
    pub json: bool,
    /// `--allow-private-network`.
    pub allow_private_network: bool,
    /// `--timeout`: the network budget of one OAuth operation.
    pub timeout: std::time::Duration,
}

/// Seconds since the Unix epoch (the CLI is the IO shell, so reading the clock is fine here).
pub fn now_wall() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `mcp-oauth login`: the full flow, even when a session exists.
pub fn login(args: &LoginArgs, ctx: &Ctx) -> Result<(), CliError> {
    let secret = setup::client_secret(&args.client)?;
    let stored = setup::stored_settings(&ctx.store, &args.server);
    let mut config = setup::config(&args.server, &args.client, secret, stored.as_ref())?;
    config.url_policy = setup::url_policy(ctx.allow_private_network);
    config.operation_timeout = ctx.timeout;
    if args.client.client_metadata_url.is_some() && args.client.redirect_port.is_none() {
        ctx.ui.progress(
            "note: a Client ID Metadata Document lists exact redirect URIs; pass the \
             --redirect-port it names (see `mcp-oauth client-metadata`)",
        );
    }
    if ctx.store.store.kind() == StoreKind::Memory {
        note("mcp-oauth: --store memory: the session is forgotten when this command exits");
    }
    set_aside_corrupt(&args.server, ctx)?;
    let (options, browser) = setup::options(&ctx.store, Some(&args.client));
    ctx.ui.verbose(&format!("{options:?}"));
    let auth =
        Authorizer::new(config, options).map_err(|e| CliError::from_adapter(&args.server, e))?;
    ctx.ui
        .progress(&format!("Logging in to {}…", field(auth.server())));
    let result = ctx.ui.run(&auth, browser.as_ref(), || auth.login());
    log_counts(&ctx.ui, &auth.request_counts());
    result.map_err(|e| {
        let hint = crate::exit::hint_for(&e);
        CliError::failure(format!("login failed: {}{hint}", one_line(&e.to_string())))
    })?;
    let session = auth
        .session()
        .ok_or_else(|| CliError::failure("login finished without a session"))?;
    if ctx.json {
        let kind = ctx.store.store.kind().as_str();
        print_line(
            &status::summary(&session, &ctx.store.describe(), kind, now_wall()).to_string(),
        )?;
    }
    // Every part but the store location came from a server (the scopes from the token
    // response, or from the resource's metadata when the response named none).
    note(&format!(
        "Logged in to {} (issuer {}, scopes: {}); session stored in {}.",
        field(&session.server),
        field(&session.issuer),
        status::scope_list(&session.scopes, "none"),
        field(&ctx.store.describe())
    ));
    Ok(())
}

/// A session the store cannot read would fail this login as it fails every other command, so
/// it is moved aside (the store keeps a copy: `<file>.corrupt` or `<key>#corrupt`) under the
/// session's lock, and the login stores a fresh one. Any other store failure (permissions, a
/// symbolic link, a newer format) is left for the user to fix and fails the login.
fn set_aside_corrupt(server: &str, ctx: &Ctx) -> Result<(), CliError> {
    let key = canonical_server_url(server).map_err(|e| CliError::usage(e.to_string()))?;
    let store = &ctx.store.store;
    let Err(StoreError::Corrupt { detail, .. }) = store.load(&key) else {
        return Ok(());
    };
    let _lock = store.lock(&key)?;
    if let Some(copy) = store.set_aside(&key)? {
        note(&format!(
            "mcp-oauth: the stored session for {} could not be read ({}); moved it to {} and \
             logging in afresh",
            field(&key),
            field(&detail),
            field(&copy)
        ));
    }
    Ok(())
}

/// `mcp-oauth token`: a valid access token on stdout, refreshed when needed, never a browser.
pub fn token(args: &TokenArgs, ctx: &Ctx) -> Result<(), CliError> {
    let stored = setup::stored_settings(&ctx.store, &args.server);
    let mut config = setup::stored_config(&args.server, stored.as_ref());
    config.url_policy = setup::url_policy(ctx.allow_private_network);
    config.operation_timeout = ctx.timeout;
    config.interactive = false;
    if let Some(id) = &args.client_id {
        let secret = if args.client_secret_stdin {
            Some(setup::secret_from_stdin()?)
        } else {
            setup::secret_from_env()
        };
        config.client.pre_registered = Some(mcp_oauth_core::PreRegisteredClient {
            client_id: id.clone(),
            client_secret: secret,
            auth_method: None,
            issuer: None,
        });
    }
    if args.machine.is_set() {
        // A machine client has no stored login to fall back on: run its grant now.
        setup::apply_machine(&mut config, &args.machine)?;
    }
    let (options, _) = setup::options(&ctx.store, None);
    let auth =
        Authorizer::new(config, options).map_err(|e| CliError::from_adapter(&args.server, e))?;
    let result = ctx.ui.run(&auth, None, || auth.header());
    log_counts(&ctx.ui, &auth.request_counts());
    let header = result.map_err(|e| no_token(&auth, &args.server, e))?;
    let value = header.expose_secret();
    let (scheme, token) = value.split_once(' ').unwrap_or(("Bearer", value));
    if ctx.json {
        let expires_at = auth
            .session()
            .and_then(|s| s.tokens)
            .and_then(|t| t.expires_at);
        print_line(
            &json!({ "access_token": token, "token_type": scheme, "expires_at": expires_at })
                .to_string(),
        )
    } else if args.header {
        print_line(value)
    } else {
        print_line(token)
    }
}

/// Maps a failed `token`: a login is needed when the adapter says so, or when the
/// authorization server refused the refresh and no token is left; otherwise exit 1.
fn no_token(auth: &Authorizer, server: &str, e: AdapterError) -> CliError {
    let tokens_left = auth.session().is_some_and(|s| s.tokens.is_some());
    match e {
        AdapterError::Auth(core) if core.fault() != Fault::Transport && !tokens_left => {
            CliError::login_required(server, Some(&one_line(&core.to_string())))
        }
        other => CliError::from_adapter(server, other),
    }
}

/// `mcp-oauth logout`: revoke (RFC 7009) when the session names a revocation endpoint, then
/// delete. Logging out of a server with no session succeeds.
pub fn logout(args: &LogoutArgs, ctx: &Ctx) -> Result<(), CliError> {
    let key = canonical_server_url(&args.server).map_err(|e| CliError::usage(e.to_string()))?;
    let Some(session) = ctx.store.store.load(&key)? else {
        note(&format!("Not logged in to {key}; nothing to do."));
        return Ok(());
    };
    let (options, _) = setup::options(&ctx.store, None);
    let mut config = setup::stored_config(&args.server, Some(&session.settings));
    config.url_policy = setup::url_policy(ctx.allow_private_network);
    config.operation_timeout = ctx.timeout;
    let auth =
        Authorizer::new(config, options).map_err(|e| CliError::from_adapter(&args.server, e))?;
    let result = ctx.ui.run(&auth, None, || auth.logout());
    let counts = auth.request_counts();
    log_counts(&ctx.ui, &counts);
    result
        .map_err(|e| CliError::failure(format!("logout failed: {}", one_line(&e.to_string()))))?;
    if ctx.store.store.load(&key)?.is_some() {
        return Err(CliError::failure(format!(
            "logout finished but a session for {key} is still stored"
        )));
    }
    // Revocation is best effort (RFC 7009 §2.2): the count says what was asked, not granted.
    let revocations = counts.get(&Step::Revocation).copied().unwrap_or(0);
    if revocations > 0 {
        note(&format!(
            "Logged out of {key}: session deleted; {revocations} revocation request(s) sent to \
             the authorization server."
        ));
    } else {
        note(&format!(
            "Logged out of {key}: session deleted (the authorization server offers no revocation)."
        ));
    }
    Ok(())
}

/// `-v`: the OAuth requests an operation sent, per step.
pub fn log_counts(ui: &Ui, counts: &BTreeMap<Step, u64>) {
    if counts.is_empty() {
        ui.verbose("no OAuth request sent");
        return;
    }
    let list: Vec<String> = counts
        .iter()
        .map(|(step, n)| format!("{} {n}", step.as_str()))
        .collect();
    ui.verbose(&format!("OAuth requests: {}", list.join(", ")));
}
