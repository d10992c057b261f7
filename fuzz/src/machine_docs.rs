//! Response documents for the `machine` target: for each step a plausible body (right field
//! names, values from the issuers and URLs in play) with mutations (trailing slashes, other
//! hosts, private addresses, `javascript:` URLs, wrong types, missing members), OAuth error
//! bodies, form bodies, raw bytes and the occasional oversize body.

use arbitrary::{Result, Unstructured};
use mcp_oauth_core::resource_metadata::origin;
use mcp_oauth_core::server_metadata::candidates as meta_candidates;
use mcp_oauth_core::{HttpResponse, Step};
use serde_json::{json, Map, Value};

use crate::machine::World;
use crate::machine_gen::{arb_text, marker, pick, pick_owned, SCOPES};

/// A response to a fetch of `step` at `url`: mostly a plausible document for that step.
pub(crate) fn response(
    u: &mut Unstructured,
    w: &mut World,
    step: Step,
    url: &str,
) -> Result<HttpResponse> {
    let status = match u.int_in_range(0..=11)? {
        0..=7 if step == Step::Registration && u.arbitrary()? => 201,
        0..=7 => 200,
        8 => 201,
        9 | 10 => *u.choose(crate::STATUSES)?,
        _ => u.arbitrary()?,
    };
    let body_kind = u.int_in_range(0..=15)?;
    let doc = match body_kind {
        0..=10 => plausible(u, w, step, url)?,
        11 | 12 => json!({
            "error": pick(u, &["invalid_grant", "invalid_client", "access_denied", ""])?,
            "error_description": arb_text(u, 40)?,
        }),
        _ => Value::Null,
    };
    let (content_type, body) = match body_kind {
        13 => (None, arb_text(u, 200)?.into_bytes()),
        14 => (Some("application/x-www-form-urlencoded"), form_body(&doc)),
        15 if u.ratio(1, 64)? => (None, vec![b' '; mcp_oauth_core::MAX_RESPONSE_BYTES + 1]),
        _ => (Some("application/json"), doc.to_string().into_bytes()),
    };
    let mut headers = Vec::new();
    if let Some(ct) = content_type {
        headers.push(("Content-Type".to_string(), ct.to_string()));
    }
    if (300..400).contains(&status) {
        headers.push((
            "Location".into(),
            "https://evil.example.com/elsewhere".into(),
        ));
    }
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

fn form_body(doc: &Value) -> Vec<u8> {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    if let Value::Object(map) = doc {
        for (k, v) in map {
            match v {
                Value::String(s) => ser.append_pair(k, s),
                other => ser.append_pair(k, &other.to_string()),
            };
        }
    }
    ser.finish().into_bytes()
}

/// A string member: usually one of `choices`, sometimes mutated, arbitrary or mistyped.
fn member(u: &mut Unstructured, choices: &[String]) -> Result<Option<Value>> {
    Ok(Some(match u.int_in_range(0..=15)? {
        0..=10 => Value::String(pick_owned(u, choices)?),
        11 => Value::String(format!("{}/", pick_owned(u, choices)?)),
        12 => Value::String(arb_text(u, 40)?),
        13 => json!(u.arbitrary::<i32>()?),
        14 => Value::Null,
        _ => return Ok(None),
    }))
}

fn put(map: &mut Map<String, Value>, key: &str, v: Option<Value>) {
    if let Some(v) = v {
        map.insert(key.to_string(), v);
    }
}

fn string_list(u: &mut Unstructured, choices: &[&str]) -> Result<Option<Value>> {
    if u.ratio(1, 4)? {
        return Ok(None);
    }
    let n = u.int_in_range(0..=3)?;
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(Value::String(pick(u, choices)?));
    }
    Ok(Some(Value::Array(v)))
}

fn plausible(u: &mut Unstructured, w: &mut World, step: Step, url: &str) -> Result<Value> {
    let mut m = Map::new();
    match step {
        Step::ResourceMetadata => {
            let o = origin(&w.server).unwrap_or_default();
            let resources = [
                w.server.clone(),
                format!("{}/", w.server),
                o.clone(),
                format!("{o}/mcp"),
                "https://evil.example.com/mcp".into(),
            ];
            put(&mut m, "resource", member(u, &resources)?);
            let n = u.int_in_range(1..=3)?;
            let mut servers = Vec::with_capacity(n);
            for _ in 0..n {
                servers.push(member(u, &w.issuers)?.unwrap_or(Value::Null));
            }
            put(&mut m, "authorization_servers", Some(Value::Array(servers)));
            put(&mut m, "scopes_supported", string_list(u, SCOPES)?);
        }
        Step::ServerMetadata => {
            // The issuer whose well-known URLs include this one: what the machine expects.
            let expected = w
                .issuers
                .iter()
                .find(|i| meta_candidates(i).iter().any(|c| c == url))
                .cloned()
                .unwrap_or_else(|| w.issuers.first().cloned().unwrap_or_default());
            let mut issuers = vec![expected.clone(), expected.clone(), expected.clone()];
            issuers.extend(w.issuers.iter().take(4).cloned());
            put(&mut m, "issuer", member(u, &issuers)?);
            let base = expected.trim_end_matches('/');
            for (key, path) in [
                ("authorization_endpoint", "authorize"),
                ("token_endpoint", "token"),
                ("registration_endpoint", "register"),
                ("revocation_endpoint", "revoke"),
            ] {
                let endpoints = [
                    format!("{base}/{path}"),
                    format!("{base}/{path}"),
                    format!("https://login.example.net/oauth2/{path}"),
                    format!("http://10.0.0.1/{path}"),
                    format!("javascript:alert('{path}')"),
                    format!("{base}/{path}?x=1#frag"),
                ];
                put(&mut m, key, member(u, &endpoints)?);
            }
            put(
                &mut m,
                "code_challenge_methods_supported",
                string_list(u, &["S256", "S256", "plain"])?,
            );
            let methods = [
                "none",
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
            ];
            put(
                &mut m,
                "token_endpoint_auth_methods_supported",
                string_list(u, &methods)?,
            );
            put(&mut m, "scopes_supported", string_list(u, SCOPES)?);
            for flag in [
                "authorization_response_iss_parameter_supported",
                "client_id_metadata_document_supported",
            ] {
                if u.arbitrary()? {
                    m.insert(flag.into(), Value::Bool(u.arbitrary()?));
                }
            }
        }
        Step::Registration => {
            let ids = ["client-1".to_string(), "".into(), "ctl\u{1}id".into()];
            put(&mut m, "client_id", member(u, &ids)?);
            if u.arbitrary()? {
                let secret = marker(w, "csec");
                w.secrets.push(secret.clone());
                m.insert("client_secret".into(), Value::String(secret));
            }
            let later = w.now.wall.saturating_add(3_600);
            let expiries = [
                json!(0),
                json!(later),
                json!(w.now.wall.saturating_sub(1)),
                json!("123"),
                json!(-1),
            ];
            if u.arbitrary()? {
                m.insert(
                    "client_secret_expires_at".into(),
                    u.choose(&expiries)?.clone(),
                );
            }
            let methods = [
                "none",
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
            ];
            if u.arbitrary()? {
                m.insert(
                    "token_endpoint_auth_method".into(),
                    Value::String(pick(u, &methods)?),
                );
            }
        }
        _ => {
            let at = marker(w, "atok");
            let rt = marker(w, "rtok");
            w.secrets.extend([at.clone(), rt.clone()]);
            let tokens = [
                at.clone(),
                at,
                "has space".into(),
                "ctl\r\nX".into(),
                "tök".into(),
            ];
            put(&mut m, "access_token", member(u, &tokens)?);
            let types = [
                "Bearer".to_string(),
                "bearer".into(),
                "DPoP".into(),
                "mac".into(),
            ];
            put(&mut m, "token_type", member(u, &types)?);
            put(
                &mut m,
                "refresh_token",
                member(u, &[rt.clone(), rt, String::new()])?,
            );
            let expiries = [
                json!(3600),
                json!(0),
                json!("5250"),
                json!(-5),
                json!(1.5),
                json!(1e30),
                json!(u64::MAX),
            ];
            if u.arbitrary()? {
                m.insert("expires_in".into(), u.choose(&expiries)?.clone());
            }
            let scopes = [
                json!("mcp:read offline_access"),
                json!(["mcp:read", "mcp:write"]),
                json!(7),
            ];
            if u.arbitrary()? {
                m.insert("scope".into(), u.choose(&scopes)?.clone());
            }
        }
    }
    Ok(Value::Object(m))
}
