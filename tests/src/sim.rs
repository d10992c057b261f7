//! Deterministic simulation: the core [`Machine`] driven against the [`Testbed`] servers on a
//! virtual clock, with no sockets, threads or real time (ARCHITECTURE.md §10, test layers).
//!
//! The [`Sim`] plays the adapter: it interprets every [`Output`] (fetches go to the testbed, the
//! "browser" is a GET of the authorization URL whose `302 Location` is routed through the core's
//! loopback router like a real listener would, the store is an in-memory slot) and plays a small
//! MCP client on top (`call`), which feeds 401/403 challenges back to the machine.

use std::time::Duration;

use mcp_oauth_core::loopback::{self, Route};
use mcp_oauth_core::{
    Config, Error, Event, HeaderState, HttpRequest, HttpResponse, Input, Machine, Method, Now,
    Output, SeededRng, Session, Step,
};
use serde_json::{json, Value};

use crate::testbed::{RequestKind, Testbed, TestbedConfig};

/// Origin of the simulated MCP server.
pub const MCP_ORIGIN: &str = "http://localhost:3000";
/// Origin of the simulated authorization server.
pub const AS_ORIGIN: &str = "http://localhost:4000";
/// Origin of the second authorization server (`authorization-server-migration`).
pub const AS2_ORIGIN: &str = "http://localhost:4001";
/// The loopback port the simulated listener "binds".
pub const LOOPBACK_PORT: u16 = 49200;

/// Which MCP wire the simulated client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// 2025-11-25: `initialize` first, SSE responses.
    Stateful,
    /// 2026-07-28: no `initialize`; `MCP-Protocol-Version` and `_meta` on every request.
    Stateless,
}

/// One simulated client + servers world.
pub struct Sim {
    /// The servers.
    pub testbed: Testbed,
    /// The client's machine.
    pub machine: Machine,
    /// Virtual clock.
    pub now: Now,
    /// The "keychain".
    pub store: Option<Session>,
    /// Every event the machine emitted.
    pub events: Vec<Event>,
    /// Steps of every fetch the machine asked for, in order.
    pub fetches: Vec<Step>,
    /// Times the store was written.
    pub stores: usize,
    /// Which wire `call` speaks.
    pub wire: Wire,
    /// Simulated network latency per HTTP request.
    pub latency: Duration,
    /// When false, the browser never returns (the user walked away).
    pub browser_enabled: bool,
    initialized: bool,
    next_rpc_id: u64,
}

impl Sim {
    /// A world with the given testbed and a default client config (tweak with `configure`).
    pub fn new(testbed: TestbedConfig, configure: impl FnOnce(&mut Config)) -> Self {
        let bed = Testbed::new(testbed, MCP_ORIGIN, AS_ORIGIN);
        let mut config = Config::new(bed.mcp_url());
        configure(&mut config);
        let machine = Machine::new(config, SeededRng::from_seed([42; 32])).expect("config");
        Self::with_parts(bed, machine)
    }

    /// A world playing the mock servers of one conformance client-auth scenario, with the client
    /// configured the way the conformance client configures it: the CIMD URL as ordinary
    /// configuration, pre-registered credentials from the scenario context, nothing else.
    pub fn conformance(scenario: &str, wire: Wire) -> Option<Self> {
        let bed = Testbed::conformance(scenario, MCP_ORIGIN, AS_ORIGIN, AS2_ORIGIN)?;
        let mut config = Config::new(bed.mcp_url());
        config.client.metadata_document_url =
            Some(crate::testbed::CONFORMANCE_CIMD_URL.to_string());
        if let Some(pre) = &bed.config().pre_registered {
            config.client.pre_registered = Some(mcp_oauth_core::PreRegisteredClient {
                client_id: pre.client_id.clone(),
                client_secret: Some(mcp_oauth_core::ClientSecret::new(pre.client_secret.clone())),
                auth_method: None,
                issuer: Some(bed.issuer()),
            });
        }
        let machine = Machine::new(config, SeededRng::from_seed([42; 32])).ok()?;
        let mut sim = Self::with_parts(bed, machine);
        sim.wire = wire;
        Some(sim)
    }

    fn with_parts(testbed: Testbed, machine: Machine) -> Self {
        Self {
            testbed,
            machine,
            now: Now::new(Duration::from_secs(1), 1_800_000_000),
            store: None,
            events: Vec::new(),
            fetches: Vec::new(),
            stores: 0,
            wire: Wire::Stateless,
            latency: Duration::from_millis(25),
            browser_enabled: true,
            initialized: false,
            next_rpc_id: 0,
        }
    }

    /// Simulates a process restart: a new machine with the same config that loads the store.
    pub fn restart(&mut self, configure: impl FnOnce(&mut Config)) {
        let mut config = Config::new(self.testbed.mcp_url());
        configure(&mut config);
        self.machine = Machine::new(config, SeededRng::from_seed([43; 32])).expect("config");
        self.initialized = false;
        let stored = self.store.clone();
        self.input(Input::SessionLoaded(stored));
    }

    /// Advances the virtual clock.
    pub fn advance(&mut self, d: Duration) {
        self.now = self.now.advance(d);
    }

    /// Feeds one input and interprets outputs until the machine has nothing left to do.
    pub fn input(&mut self, input: Input) {
        let now = self.now;
        self.machine.handle_input(now, input);
        self.drain();
    }

    /// Interprets outputs until none remain.
    pub fn drain(&mut self) {
        while let Some(out) = self.machine.poll_output() {
            match out {
                Output::Fetch { id, step, request } => {
                    self.fetches.push(step);
                    let response = self.http(&request);
                    let now = self.now;
                    self.machine
                        .handle_input(now, Input::HttpResponse { id, response });
                }
                Output::ListenLoopback { preferred_port } => {
                    let port = preferred_port.unwrap_or(LOOPBACK_PORT);
                    let redirect_uri = format!("http://127.0.0.1:{port}/callback");
                    let now = self.now;
                    self.machine
                        .handle_input(now, Input::LoopbackReady { redirect_uri });
                }
                Output::OpenBrowser(req) => {
                    if !self.browser_enabled {
                        continue;
                    }
                    if let Some(query) = self.browser(&req.url, &req.state) {
                        let now = self.now;
                        self.machine.handle_input(now, Input::Callback { query });
                    }
                }
                Output::CloseLoopback => {}
                Output::LoadSession => {
                    let now = self.now;
                    let stored = self.store.clone();
                    self.machine.handle_input(now, Input::SessionLoaded(stored));
                }
                Output::StoreSession(s) => {
                    self.stores += 1;
                    self.store = Some(s);
                }
                Output::ClearSession => self.store = None,
                Output::Event(e) => self.events.push(e),
                _ => {}
            }
        }
    }

    fn http(&mut self, request: &HttpRequest) -> HttpResponse {
        self.now = self.now.advance(self.latency);
        self.testbed.handle(self.now.wall, request)
    }

    /// The user's browser: GET the authorization URL without following redirects, then deliver
    /// the `Location` to the loopback "listener", which routes it like a real one would.
    fn browser(&mut self, url: &str, state: &mcp_oauth_core::StateToken) -> Option<String> {
        self.now = self.now.advance(self.latency);
        let resp = self.testbed.browser_get(self.now.wall, url);
        let location = resp.header("location")?.to_string();
        let path_and_query = location.split_once("://")?.1.split_once('/')?.1;
        let head = format!("GET /{path_and_query} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        match loopback::route(head.as_bytes(), "/callback", state) {
            Route::Callback { query } => Some(query),
            _ => None,
        }
    }

    /// Errors the machine reported, in order.
    pub fn failures(&self) -> Vec<Error> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Failed(err) => Some(err.clone()),
                _ => None,
            })
            .collect()
    }

    /// OAuth round trips so far (everything but MCP requests), from the testbed's log.
    pub fn oauth_round_trips(&self) -> usize {
        self.testbed
            .log()
            .iter()
            .filter(|r| !matches!(r.kind, RequestKind::Mcp | RequestKind::Other))
            .count()
    }

    /// Count of logged requests of one kind.
    pub fn count(&self, kind: RequestKind) -> usize {
        self.testbed.count(kind)
    }

    /// An authorized MCP JSON-RPC call, the way an MCP client drives the machine: get a header,
    /// send, feed 401/403 challenges back, retry (bounded). Returns the JSON-RPC result.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, Error> {
        if self.wire == Wire::Stateful && !self.initialized && method != "initialize" {
            self.call("initialize", json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "sim", "version": "0"}}))?;
            self.notify("notifications/initialized");
            self.initialized = true;
        }
        for _ in 0..6 {
            let header = match self.machine.ensure_fresh(self.now) {
                HeaderState::Ready(h) => Some(h),
                HeaderState::Pending => {
                    self.drain();
                    continue;
                }
                HeaderState::LoginRequired => None,
            };
            self.drain();
            let request = self.rpc_request(method, params.clone(), header.as_ref());
            let response = self.http(&request);
            match response.status {
                401 | 403 => {
                    let www: Vec<String> = response
                        .header_all("www-authenticate")
                        .map(str::to_string)
                        .collect();
                    let before = self.failures().len();
                    self.input(Input::Challenge {
                        status: response.status,
                        www_authenticate: www,
                    });
                    if let Some(e) = self.failures().get(before) {
                        return Err(e.clone());
                    }
                }
                200 => {
                    self.input(Input::RequestSucceeded);
                    return parse_rpc_body(&response).ok_or_else(|| Error::Malformed {
                        step: Step::Authorization,
                        detail: "bad MCP response".into(),
                    });
                }
                status => {
                    return Err(Error::HttpStatus {
                        step: Step::Authorization,
                        status,
                    })
                }
            }
        }
        Err(Error::InvalidCall("MCP call did not succeed after retries"))
    }

    fn notify(&mut self, method: &str) {
        let header = match self.machine.ensure_fresh(self.now) {
            HeaderState::Ready(h) => Some(h),
            _ => None,
        };
        let mut req = self.rpc_request(method, json!({}), header.as_ref());
        let mut body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
        if let Some(obj) = body.as_object_mut() {
            obj.remove("id");
        }
        req.body = body.to_string().into_bytes();
        let _ = self.http(&req);
    }

    fn rpc_request(
        &mut self,
        method: &str,
        mut params: Value,
        header: Option<&mcp_oauth_core::AuthorizationHeader>,
    ) -> HttpRequest {
        self.next_rpc_id += 1;
        let mut headers = vec![
            ("Content-Type".to_string(), "application/json".to_string()),
            (
                "Accept".to_string(),
                "application/json, text/event-stream".to_string(),
            ),
        ];
        if self.wire == Wire::Stateless {
            headers.push(("MCP-Protocol-Version".into(), "2026-07-28".into()));
            if let Some(obj) = params.as_object_mut() {
                obj.insert(
                    "_meta".into(),
                    json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                           "io.modelcontextprotocol/clientCapabilities": {}}),
                );
            }
        }
        if let Some(h) = header {
            headers.push(("Authorization".into(), h.expose_secret().to_string()));
        }
        let body =
            json!({"jsonrpc": "2.0", "id": self.next_rpc_id, "method": method, "params": params});
        HttpRequest {
            method: Method::Post,
            url: self.testbed.mcp_url(),
            headers,
            body: body.to_string().into_bytes(),
        }
    }
}

/// The JSON-RPC `result` from a JSON or SSE (`data:` lines) response body.
pub fn parse_rpc_body(response: &HttpResponse) -> Option<Value> {
    let text = std::str::from_utf8(&response.body).ok()?;
    let is_sse = response
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/event-stream"));
    let doc: Value = if is_sse {
        let data: String = text
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(str::trim_start)
            .collect::<Vec<_>>()
            .join("\n");
        serde_json::from_str(&data).ok()?
    } else {
        serde_json::from_str(text).ok()?
    };
    doc.get("result").cloned()
}
