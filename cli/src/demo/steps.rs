//! The demo's servers, client and steps. Each step is an action on [`Demo`] plus the exact
//! request counts the testbed must see during it; the runner in `mod.rs` compares them.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mcp_oauth_blocking::{
    AdapterError, Authorizer, Browser, FileStore, NoBrowser, Options, SessionStore, SystemBrowser,
};
use mcp_oauth_core::session::ClientKind;
use mcp_oauth_core::{AuthStatus, Config, HttpRequest};
use mcp_oauth_mcp::{McpSession, McpWire};
use mcp_oauth_testbed::serve::{ServeOptions, TestbedServer};
use mcp_oauth_testbed::testbed::{
    ExpectedScope, LoggedRequest, RequestKind, TestbedConfig, ADMIN_TOOL, TEST_TOOL,
};
use serde_json::{json, Value};

use crate::args::DemoArgs;
use crate::headless;

const BASIC: &str = "mcp:basic";
const WRITE: &str = "mcp:write";

/// One step: its name, the requests it must cause (label, count) and what it does.
pub struct Step {
    /// Shown in the step line.
    pub name: &'static str,
    /// Exact request counts by label (see `KINDS` in `mod.rs`); kinds not listed must be 0.
    pub expected: Vec<(&'static str, usize)>,
    /// The action; `Err` is the one-line reason it failed.
    pub action: fn(&mut Demo) -> Result<(), String>,
}

/// The embedded servers and the client under demonstration.
pub struct Demo {
    /// The testbed on loopback.
    pub server: TestbedServer,
    /// The MCP revision spoken.
    pub protocol_version: String,
    wire: McpWire,
    /// Keeps the temporary directory alive (deleted on drop).
    _dir: tempfile::TempDir,
    store_dir: PathBuf,
    real_browser: bool,
    auth: Option<Authorizer>,
    mcp: McpSession,
}

/// The servers' behaviour: scopes split so that `tools/list` needs `mcp:basic` and
/// `admin-tool` needs `mcp:write`, which PRM does not advertise, so the first login asks for
/// `mcp:basic` only and the admin call needs a step-up; MCP sessions on the stateful wire; the
/// testbed checks the first scope (MCP 2025-11-25 Authorization, "Scope Selection
/// Strategy") and that the step-up asks for the union (MCP 2026-07-28 "Step-Up Authorization
/// Flow").
fn testbed_config() -> TestbedConfig {
    let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    TestbedConfig {
        prm_scopes_supported: Some(strings(&[BASIC])),
        as_scopes_supported: Some(strings(&[BASIC, WRITE])),
        list_scopes: strings(&[BASIC]),
        admin_scopes: strings(&[WRITE]),
        sessions: true,
        expected_first_scope: Some(ExpectedScope::Contains(strings(&[BASIC]))),
        expected_reauth_scope: Some(strings(&[BASIC, WRITE])),
        ..TestbedConfig::default()
    }
}

impl Demo {
    /// Starts the testbed and creates the temporary store directory.
    pub fn start(args: &DemoArgs) -> std::io::Result<Self> {
        let server = TestbedServer::start(testbed_config(), ServeOptions::default())?;
        let dir = tempfile::Builder::new()
            .prefix("mcp-oauth-demo-")
            .tempdir()?;
        let store_dir = dir.path().join("sessions");
        let wire = McpWire::for_protocol_version(&args.protocol_version);
        Ok(Self {
            server,
            protocol_version: args.protocol_version.clone(),
            wire,
            _dir: dir,
            store_dir,
            real_browser: args.browser,
            auth: None,
            mcp: McpSession::new(wire, &args.protocol_version),
        })
    }

    /// The first line of the report.
    pub fn banner(&self) -> String {
        let wire = match self.wire {
            McpWire::Stateful => "stateful",
            McpWire::Stateless => "stateless",
        };
        format!(
            "mcp-oauth demo · MCP server {} · authorization server {} · MCP {} ({wire} wire) · {} browser · file store in a temporary directory",
            self.server.mcp_url(),
            self.server.as_origin(),
            self.protocol_version,
            if self.real_browser { "your" } else { "headless" },
        )
    }

    /// The steps for this wire, with their expected request counts.
    pub fn plan(&self) -> Vec<Step> {
        let stateful = self.wire == McpWire::Stateful;
        let mut plan = vec![Step {
            name: "login",
            expected: vec![
                ("PRM", 1),
                ("AS", 1),
                ("DCR", 1),
                ("authorize", 1),
                ("token", 1),
            ],
            action: login,
        }];
        if stateful {
            plan.push(Step {
                name: "initialize",
                expected: vec![("MCP", 2)],
                action: initialize,
            });
        }
        plan.extend([
            Step {
                name: "tools/list",
                expected: vec![("MCP", 1)],
                action: tools_list,
            },
            Step {
                name: "step-up (admin-tool)",
                expected: vec![("authorize", 1), ("token", 1), ("MCP", 2)],
                action: step_up,
            },
            Step {
                name: "expiry + refresh",
                expected: vec![("token", 1), ("MCP", 2)],
                action: refresh,
            },
            Step {
                name: "restart from store",
                expected: vec![("MCP", if stateful { 3 } else { 1 })],
                action: restart,
            },
            Step {
                name: "logout (revoke)",
                expected: vec![("revoke", 2)],
                action: logout,
            },
            Step {
                name: "token after logout",
                expected: vec![],
                action: token_after_logout,
            },
        ]);
        plan
    }

    /// The requests served since the last call (the log is then cleared).
    pub fn take_log(&self) -> Vec<LoggedRequest> {
        self.server.with_testbed(|t| {
            let log = t.log().to_vec();
            t.clear_log();
            log
        })
    }

    /// Protocol violations the testbed noticed so far.
    pub fn violations(&self) -> Vec<String> {
        self.server.with_testbed(|t| t.violations().to_vec())
    }

    /// The file store, opened afresh each time as a new process would.
    fn store(&self) -> Result<Arc<dyn SessionStore>, String> {
        FileStore::new(&self.store_dir)
            .map(|s| Arc::new(s) as Arc<dyn SessionStore>)
            .map_err(|e| e.to_string())
    }

    fn authorizer(&self, interactive: bool) -> Result<Authorizer, String> {
        let mut config = Config::new(self.server.mcp_url());
        config.client.client_name = "mcp-oauth demo".into();
        config.interactive = interactive;
        config.authorization_timeout =
            Duration::from_secs(if self.real_browser { 300 } else { 20 });
        let mut options = Options::new(self.store()?);
        options.browser = match (interactive, self.real_browser) {
            (false, _) => Arc::new(NoBrowser) as Arc<dyn Browser>,
            (true, true) => Arc::new(SystemBrowser),
            (true, false) => headless::browser(),
        };
        options.paste_from_stdin = interactive && self.real_browser;
        Authorizer::new(config, options).map_err(|e| e.to_string())
    }

    fn auth(&self) -> Result<&Authorizer, String> {
        self.auth.as_ref().ok_or_else(|| "not logged in".to_owned())
    }

    /// Sends one MCP request through the authorizer and reads its answer.
    fn send(&mut self, request: HttpRequest) -> Result<Value, String> {
        let auth = self.auth.as_ref().ok_or("not logged in")?;
        let response = auth.send(request).map_err(|e| e.to_string())?;
        self.mcp
            .handle_response(&response)
            .map_err(|e| e.to_string())
    }

    fn handshake(&mut self) -> Result<(), String> {
        let url = self.server.mcp_url();
        let req = self.mcp.initialize_request(&url);
        self.send(req)?;
        let req = self.mcp.initialized_notification(&url);
        self.send(req)?;
        Ok(())
    }

    fn request(&mut self, method: &str, params: Value) -> Result<Value, String> {
        let url = self.server.mcp_url();
        let req = self.mcp.request(&url, method, params);
        self.send(req)
    }

    fn scopes(&self) -> Result<Vec<String>, String> {
        Ok(self.auth()?.session().ok_or("no session")?.scopes)
    }

    fn access_token(&self) -> Result<String, String> {
        let session = self.auth()?.session().ok_or("no session")?;
        let tokens = session.tokens.ok_or("no token")?;
        Ok(tokens.access_token.expose_secret().to_owned())
    }

    /// Statuses of the MCP requests logged so far in this step.
    fn mcp_statuses(&self) -> Vec<u16> {
        self.server.with_testbed(|t| {
            t.requests(RequestKind::Mcp)
                .iter()
                .map(|r| r.status)
                .collect()
        })
    }
}

/// The text of a `tools/call` result's first content item.
fn text_of(result: &Value) -> Option<&str> {
    result.get("content")?.get(0)?.get("text")?.as_str()
}

fn login(d: &mut Demo) -> Result<(), String> {
    let auth = d.authorizer(true)?;
    auth.login().map_err(|e| e.to_string())?;
    if auth.status() != AuthStatus::Authorized {
        return Err(format!("status {:?} after login", auth.status()));
    }
    let session = auth.session().ok_or("no session after login")?;
    if session.client.kind != ClientKind::Dynamic {
        return Err(format!("client kind {}", session.client.kind.as_str()));
    }
    if session.scopes != [BASIC] {
        return Err(format!("granted {:?}, expected [{BASIC}]", session.scopes));
    }
    d.auth = Some(auth);
    Ok(())
}

fn initialize(d: &mut Demo) -> Result<(), String> {
    d.handshake()?;
    if d.mcp.session_id().is_none() {
        return Err("the server assigned no Mcp-Session-Id".into());
    }
    Ok(())
}

fn tools_list(d: &mut Demo) -> Result<(), String> {
    let result = d.request("tools/list", json!({}))?;
    let names: Vec<&str> = result
        .get("tools")
        .and_then(Value::as_array)
        .map(|tools| {
            tools
                .iter()
                .filter_map(|t| t.get("name").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    if names != [TEST_TOOL, ADMIN_TOOL] {
        return Err(format!("tools {names:?}"));
    }
    Ok(())
}

fn step_up(d: &mut Demo) -> Result<(), String> {
    let result = d.request("tools/call", json!({ "name": ADMIN_TOOL, "arguments": {} }))?;
    if text_of(&result) != Some("admin ok") {
        return Err(format!("unexpected result {result}"));
    }
    if d.mcp_statuses() != [403, 200] {
        return Err(format!(
            "MCP statuses {:?}, expected [403, 200]",
            d.mcp_statuses()
        ));
    }
    let scopes = d.scopes()?;
    if !scopes.iter().any(|s| s == WRITE) {
        return Err(format!("scopes after step-up: {scopes:?}"));
    }
    Ok(())
}

fn refresh(d: &mut Demo) -> Result<(), String> {
    let before = d.access_token()?;
    d.server.with_testbed(|t| t.expire_all_access_tokens());
    let result = d.request("tools/call", json!({ "name": TEST_TOOL, "arguments": {} }))?;
    if text_of(&result) != Some("test") {
        return Err(format!("unexpected result {result}"));
    }
    if d.mcp_statuses() != [401, 200] {
        return Err(format!(
            "MCP statuses {:?}, expected [401, 200]",
            d.mcp_statuses()
        ));
    }
    let grants: Vec<String> = d.server.with_testbed(|t| {
        t.token_requests()
            .iter()
            .filter_map(|form| form.iter().find(|(k, _)| k == "grant_type"))
            .map(|(_, v)| v.clone())
            .collect()
    });
    if grants != ["refresh_token"] {
        return Err(format!("token grants {grants:?}, expected [refresh_token]"));
    }
    if d.access_token()? == before {
        return Err("the access token did not change".into());
    }
    Ok(())
}

fn restart(d: &mut Demo) -> Result<(), String> {
    d.auth = None;
    let auth = d.authorizer(true)?;
    if auth.status() != AuthStatus::Authorized {
        return Err(format!(
            "status {:?} from the stored session",
            auth.status()
        ));
    }
    d.auth = Some(auth);
    d.mcp = McpSession::new(d.wire, &d.protocol_version);
    if d.mcp.needs_initialize() {
        d.handshake()?;
    }
    tools_list(d)?;
    let counts = d.auth()?.request_counts();
    if !counts.is_empty() {
        return Err(format!("OAuth requests after the restart: {counts:?}"));
    }
    Ok(())
}

fn logout(d: &mut Demo) -> Result<(), String> {
    let auth = d.auth()?;
    let key = auth.server().to_owned();
    auth.logout().map_err(|e| e.to_string())?;
    if d.store()?.load(&key).map_err(|e| e.to_string())?.is_some() {
        return Err("the session is still stored".into());
    }
    d.auth = None;
    Ok(())
}

fn token_after_logout(d: &mut Demo) -> Result<(), String> {
    let auth = d.authorizer(false)?;
    match auth.header() {
        Err(AdapterError::LoginRequired) => Ok(()),
        Ok(_) => Err("a token was handed out after logout".into()),
        Err(e) => Err(format!("expected 'login required', got: {e}")),
    }
}
