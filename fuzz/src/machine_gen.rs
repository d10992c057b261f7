//! Decoders from fuzz bytes to machine configurations, inputs and commands.
//!
//! Bodies are biased toward plausible documents for the step being answered (field names
//! right, values drawn from the issuers and URLs in play, with mutations: trailing slashes,
//! other hosts, wrong types, missing members), so the fuzzer gets past discovery into
//! registration, the browser step, token exchange, refresh and logout. A share of everything
//! stays fully arbitrary. Response documents are in `machine_docs`.

use std::time::Duration;

use arbitrary::{Result, Unstructured};
use mcp_oauth_core::resource_metadata::origin;
use mcp_oauth_core::{
    ClientAuthMethod, ClientSecret, Config, Input, PreRegisteredClient, RequestId, ResourceMatch,
    ResourceParameter, Session, Step, TokenSet, UrlPolicy,
};
use serde_json::{json, Value};

use crate::machine::World;
use crate::machine_docs::response;

/// Issuers in play from the start (paths, trailing slashes, loopback, another host).
pub(crate) const ISSUERS: &[&str] = &[
    "https://as.example.com",
    "https://as.example.com/",
    "https://as.example.com/tenant",
    "http://localhost:9000/realms/x/",
    "https://login.example.net/oauth2",
];

const SERVERS: &[&str] = &[
    "https://mcp.example.com/mcp",
    "http://localhost:3000",
    "http://127.0.0.1:8080/api/v1/mcp/",
    "https://MCP.example.com:443/mcp?x=1",
];

pub(crate) const SCOPES: &[&str] = &["mcp:read", "mcp:write", "offline_access", "admin", ""];

/// One step of the fuzz program.
// Built and consumed once per step, like `Input` itself (which allows the same lint).
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Action {
    Input(Input),
    Authorize,
    Refresh,
    Logout,
    Cancel,
    Header,
    Jump { instant: Duration, wall: u64 },
}

/// Up to `max` bytes of input as lossy UTF-8.
pub(crate) fn arb_text(u: &mut Unstructured, max: usize) -> Result<String> {
    let len = u.int_in_range(0..=max)?.min(u.len());
    Ok(String::from_utf8_lossy(u.bytes(len)?).into_owned())
}

pub(crate) fn pick(u: &mut Unstructured, list: &[&str]) -> Result<String> {
    Ok(u.choose(list)?.to_string())
}

pub(crate) fn pick_owned(u: &mut Unstructured, list: &[String]) -> Result<String> {
    if list.is_empty() {
        return Ok(String::new());
    }
    Ok(u.choose(list)?.clone())
}

pub(crate) fn marker(w: &mut World, prefix: &str) -> String {
    w.counter += 1;
    format!(
        "{prefix}{:x}Qz9",
        w.counter.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    )
}

/// A machine configuration: server, URL policy, resource handling, client identity, limits.
pub(crate) fn config(u: &mut Unstructured) -> Result<Config> {
    let server = if u.ratio(1, 16)? {
        arb_text(u, 60)?
    } else {
        pick(u, SERVERS)?
    };
    let mut c = Config::new(server);
    if u.arbitrary()? {
        c.url_policy = UrlPolicy::permissive();
    }
    c.resource_match = if u.ratio(1, 4)? {
        ResourceMatch::Strict
    } else {
        ResourceMatch::default()
    };
    c.resource_parameter = match u.int_in_range(0..=5)? {
        0 => ResourceParameter::Omit,
        1 => ResourceParameter::Fixed("https://fixed.example/res".into()),
        _ => ResourceParameter::Discovered,
    };
    if u.ratio(1, 4)? {
        c.client.pre_registered = Some(PreRegisteredClient {
            client_id: "pre-client".into(),
            client_secret: u
                .arbitrary::<bool>()?
                .then(|| ClientSecret::new("pre-secret")),
            auth_method: match u.int_in_range(0..=3)? {
                0 => Some(ClientAuthMethod::ClientSecretPost),
                1 => Some(ClientAuthMethod::None),
                _ => None,
            },
            issuer: if u.arbitrary()? {
                Some(pick(u, ISSUERS)?)
            } else {
                None
            },
        });
    }
    if u.ratio(1, 4)? {
        c.client.metadata_document_url = Some("https://client.example.com/cimd.json".into());
    }
    c.client.allow_dynamic_registration = !u.ratio(1, 8)?;
    c.legacy_discovery = !u.ratio(1, 4)?;
    c.require_pkce_s256 = !u.ratio(1, 8)?;
    c.interactive = !u.ratio(1, 16)?;
    c.max_authorization_attempts = u.int_in_range(0..=4)?;
    c.refresh_margin = Duration::from_secs(*u.choose(&[0, 60, 3600])?);
    c.authorization_timeout = Duration::from_secs(*u.choose(&[1, 300, 86_400])?);
    if u.ratio(1, 6)? {
        c.scopes = Some(vec![pick(u, SCOPES)?]);
    }
    Ok(c)
}

/// The next action, weighted toward answering the fetch in flight.
pub(crate) fn action(u: &mut Unstructured, w: &mut World) -> Result<Action> {
    let kind = u.int_in_range(0..=23)?;
    if kind < 9 {
        if let Some((id, step, url)) = w.outstanding.clone() {
            if kind == 8 {
                // Built field by field: the machine must sanitise a message it did not make.
                let error = mcp_oauth_core::TransportError {
                    kind: *u.choose(&[
                        mcp_oauth_core::TransportErrorKind::Timeout,
                        mcp_oauth_core::TransportErrorKind::Connect,
                        mcp_oauth_core::TransportErrorKind::Tls,
                        mcp_oauth_core::TransportErrorKind::TooLarge,
                        mcp_oauth_core::TransportErrorKind::Refused,
                        mcp_oauth_core::TransportErrorKind::Other,
                    ])?,
                    message: arb_text(u, 30)?,
                };
                return Ok(Action::Input(Input::HttpFailed { id, error }));
            }
            let response = response(u, w, step, &url)?;
            return Ok(Action::Input(Input::HttpResponse { id, response }));
        }
    }
    Ok(match kind {
        0..=9 => Action::Input(Input::Challenge {
            status: challenge_status(u)?,
            www_authenticate: challenge_values(u, w)?,
        }),
        10 => {
            let id = match w.past_ids.len() {
                0 => RequestId(u.arbitrary()?),
                n => w.past_ids[u.int_in_range(0..=n - 1)?],
            };
            let step = if u.arbitrary()? {
                Step::TokenExchange
            } else {
                Step::ResourceMetadata
            };
            let response = response(u, w, step, "")?;
            Action::Input(Input::HttpResponse { id, response })
        }
        // Known bug 1 (README.md): a `LoopbackReady` outside the listening state drops the flow.
        11 | 12 if cfg!(feature = "avoid-known-bugs") && !w.listen_pending => Action::Header,
        11 | 12 => {
            w.listen_pending = false;
            let port: u16 = u.arbitrary()?;
            let uri = match u.int_in_range(0..=4)? {
                0 => arb_text(u, 40)?,
                1 => format!("http://localhost:{port}/cb"),
                2 => format!("http://[::1]:{port}/callback"),
                _ => format!("http://127.0.0.1:{port}/callback"),
            };
            w.redirect_uri = uri.clone();
            Action::Input(Input::LoopbackReady { redirect_uri: uri })
        }
        13 => {
            w.listen_pending = false;
            Action::Input(Input::LoopbackFailed {
                error: arb_text(u, 30)?,
            })
        }
        14..=16 => Action::Input(Input::Callback {
            query: callback_query(u, w)?,
        }),
        17 => Action::Input(Input::SessionLoaded(session(u, w)?)),
        18 => Action::Input(Input::RequestSucceeded),
        19 => {
            if let (Some(at), true) = (w.deadline, u.arbitrary::<bool>()?) {
                w.now.instant = w.now.instant.max(at);
            }
            Action::Input(Input::Timeout)
        }
        20 => Action::Jump {
            // Monotonic: forward only, bounded so `instant + timeout` stays representable.
            instant: Duration::from_secs(*u.choose(&[0, 1, 59, 301, 3_600, 100_000])?),
            wall: match u.int_in_range(0..=3)? {
                0 => u.arbitrary()?,
                1 => w.now.wall.saturating_sub(3_600),
                _ => w
                    .now
                    .wall
                    .saturating_add(*u.choose(&[1, 61, 3_600, 86_400])?),
            },
        },
        21 => match u.int_in_range(0..=3)? {
            0 => Action::Authorize,
            1 => Action::Refresh,
            2 => {
                w.listen_pending = false;
                Action::Cancel
            }
            _ => {
                w.listen_pending = false;
                Action::Logout
            }
        },
        _ => Action::Header,
    })
}

fn challenge_status(u: &mut Unstructured) -> Result<u16> {
    Ok(match u.int_in_range(0..=7)? {
        0..=4 => 401,
        5 | 6 => 403,
        _ => u.arbitrary()?,
    })
}

fn challenge_values(u: &mut Unstructured, w: &World) -> Result<Vec<String>> {
    let o = origin(&w.server).unwrap_or_default();
    let prm_urls = [
        format!("{o}/.well-known/oauth-protected-resource/mcp"),
        format!("{o}/.well-known/oauth-protected-resource"),
        "https://evil.example.com/.well-known/oauth-protected-resource".to_string(),
        "/.well-known/oauth-protected-resource/x".to_string(),
    ];
    let n = u.int_in_range(0..=3)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(match u.int_in_range(0..=6)? {
            0 => format!("Bearer resource_metadata=\"{}\"", pick_owned(u, &prm_urls)?),
            1 => format!(
                "Bearer error=\"insufficient_scope\", scope=\"{} {}\"",
                pick(u, SCOPES)?,
                pick(u, SCOPES)?
            ),
            2 => "Bearer realm=\"mcp\", error=\"invalid_token\"".to_string(),
            3 => format!(
                "DPoP algs=\"ES256\", resource_metadata=\"{}\"",
                pick_owned(u, &prm_urls)?
            ),
            4 => "Basic realm=\"x\"".to_string(),
            _ => arb_text(u, 120)?,
        });
    }
    Ok(out)
}

/// A callback: right/wrong/missing/duplicated `state`, a code or an error, an `iss` that
/// matches the last metadata issuer or not; as a query, `?query`, a full URL or garbage.
fn callback_query(u: &mut Unstructured, w: &mut World) -> Result<String> {
    if u.ratio(1, 16)? {
        return arb_text(u, 200);
    }
    let open = w
        .open_state
        .clone()
        .unwrap_or_else(|| "no-open-state".into());
    let mut pairs: Vec<(String, String)> = Vec::new();
    match u.int_in_range(0..=6)? {
        0..=2 => pairs.push(("state".into(), open)),
        3 => pairs.push(("state".into(), "wrong-state".into())),
        4 => {}
        5 => pairs.push(("state".into(), format!("{open}x"))),
        _ => {
            pairs.push(("state".into(), open.clone()));
            pairs.push(("state".into(), open));
        }
    }
    match u.int_in_range(0..=4)? {
        0..=2 => {
            let code = marker(w, "code");
            w.secrets.push(code.clone());
            pairs.push(("code".into(), code));
        }
        3 => pairs.push(("code".into(), String::new())),
        _ => {}
    }
    let iss = match u.int_in_range(0..=4)? {
        0 => None,
        1 | 2 => w.last_meta_issuer.clone(),
        3 => Some(pick_owned(u, &w.issuers)?),
        _ => Some(arb_text(u, 30)?),
    };
    if let Some(iss) = iss {
        pairs.push(("iss".into(), iss));
    }
    if u.ratio(1, 6)? {
        pairs.push(("error".into(), pick(u, &["access_denied", "server_error"])?));
        pairs.push(("error_description".into(), arb_text(u, 40)?));
    }
    if u.ratio(1, 4)? && pairs.len() > 1 {
        let i = u.int_in_range(0..=pairs.len() - 1)?;
        pairs.swap(0, i);
    }
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &pairs {
        ser.append_pair(k, v);
    }
    let q = ser.finish();
    Ok(match u.int_in_range(0..=3)? {
        0 => q,
        1 => format!("?{q}"),
        2 => format!("{}?{q}", w.redirect_uri),
        _ => format!("{q}#frag"),
    })
}

/// What the store hands back: nothing, the stored session, a modified one, or a forged one.
/// Forged values are built through serde, as a store would read them, so optional fields the
/// core adds later keep their defaults.
fn session(u: &mut Unstructured, w: &mut World) -> Result<Option<Session>> {
    let stored = w.stored.clone();
    Ok(match u.int_in_range(0..=5)? {
        0 => None,
        1 | 2 => stored,
        3 => match stored {
            Some(mut s) => {
                s.tokens = token_set(u, w)?;
                Some(s)
            }
            None => None,
        },
        4 => stored.map(|mut s| {
            s.server = "https://other.example.com/mcp".into();
            s.version = 2;
            s
        }),
        _ => forged_session(u, w)?,
    })
}

pub(crate) fn forged_session(u: &mut Unstructured, w: &mut World) -> Result<Option<Session>> {
    let issuer = pick_owned(u, &w.issuers)?;
    let endpoints = [
        format!("{}/token", issuer.trim_end_matches('/')),
        "http://10.0.0.1/token".into(),
        "ftp://as.example.com/token".into(),
    ];
    let mut doc = json!({
        "version": 1,
        "server": w.server,
        "issuer": issuer,
        "token_endpoint": pick_owned(u, &endpoints)?,
        "client": {
            "kind": pick(u, &["dynamic", "pre_registered"])?,
            "issuer": issuer,
            "client_id": "stored-client",
            "auth_method": "none",
            "redirect_uri": w.redirect_uri,
        },
        "scopes": ["mcp:read"],
    });
    if u.arbitrary()? {
        doc["resource"] = Value::String(w.server.clone());
    }
    if u.arbitrary()? {
        doc["revocation_endpoint"] = Value::String(format!("{issuer}/revoke"));
    }
    if let (true, Some(t)) = (u.arbitrary::<bool>()?, token_set(u, w)?) {
        doc["tokens"] = serde_json::to_value(t).unwrap_or(Value::Null);
    }
    Ok(serde_json::from_value(doc).ok())
}

pub(crate) fn token_set(u: &mut Unstructured, w: &mut World) -> Result<Option<TokenSet>> {
    let wall = w.now.wall;
    let (at, rt) = (marker(w, "satok"), marker(w, "srtok"));
    w.secrets.extend([at.clone(), rt.clone()]);
    let mut doc = json!({"access_token": at, "token_type": "Bearer"});
    if u.arbitrary()? {
        doc["refresh_token"] = Value::String(rt);
    }
    match u.int_in_range(0..=3)? {
        0 => {}
        1 => doc["expires_at"] = json!(wall.saturating_sub(10)),
        2 => doc["expires_at"] = json!(wall.saturating_add(30)),
        _ => doc["expires_at"] = json!(wall.saturating_add(7_200)),
    }
    Ok(serde_json::from_value(doc).ok())
}
