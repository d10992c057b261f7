//! Dynamic client registration (RFC 7591 §3; MCP 2026-07-28 Client Registration). Answers 201 with
//! the registered metadata like the conformance AS (`test-client-id` / `test-client-secret`, a
//! secret even for method `none` unless told otherwise) and records DCR bodies a 2026-07-28 client
//! must not send.

use mcp_oauth_core::{ClientAuthMethod, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::auth_server::{AuthServer, Client};
use super::tokens::Ctx;
use super::util::{is_json, oauth_error};

impl AuthServer {
    /// RFC 7591 §3 registration. Answers 201 with the registered metadata; records missing
    /// `application_type` (MCP 2026-07-28 Client Registration, "Application Type and Redirect
    /// URI Constraints") and `grant_types` ∌ `refresh_token` (MCP 2026-07-28 "Refresh Tokens").
    pub(crate) fn register(&mut self, ctx: &mut Ctx<'_>, req: &HttpRequest) -> HttpResponse {
        self.note_endpoint_use(ctx, "registration endpoint");
        let body: Value = match serde_json::from_slice(&req.body) {
            Ok(v @ Value::Object(_)) if is_json(req) => v,
            _ => {
                ctx.violation(
                    "dcr-body",
                    "registration body is not a JSON object (RFC 7591 §3.1)",
                );
                return oauth_error(400, "invalid_client_metadata", "body must be a JSON object");
            }
        };
        let redirect_uris: Vec<String> = body
            .get("redirect_uris")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|u| u.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if redirect_uris.is_empty() || redirect_uris.iter().any(|u| url::Url::parse(u).is_err()) {
            ctx.violation(
                "dcr-redirect-uris",
                "redirect_uris missing, empty or not URLs",
            );
            return oauth_error(
                400,
                "invalid_redirect_uri",
                "redirect_uris must be absolute URLs",
            );
        }
        let grant_types: Vec<&str> = body
            .get("grant_types")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let app_type = body.get("application_type").and_then(Value::as_str);
        if self.cfg.strict_dcr_metadata {
            if !matches!(app_type, Some("native" | "web")) {
                ctx.violation(
                    "dcr-application-type",
                    format!("application_type = {app_type:?} (R9)"),
                );
            }
            if !grant_types.contains(&"refresh_token") {
                ctx.violation(
                    "dcr-grant-types",
                    format!("grant_types {grant_types:?} ∌ refresh_token (T5)"),
                );
            }
        }
        let requested = body
            .get("token_endpoint_auth_method")
            .and_then(Value::as_str)
            .unwrap_or("client_secret_basic");
        let supported = &self.cfg.token_endpoint_auth_methods;
        let method = ClientAuthMethod::from_name(requested)
            .filter(|m| supported.contains(m))
            .or_else(|| supported.first().copied())
            .unwrap_or(ClientAuthMethod::None);
        self.registrations += 1;
        let suffix = match self.registrations {
            1 => String::new(),
            n => format!("-{n}"),
        };
        let client_id = format!("{}{suffix}", self.id_stems.0);
        let secret = (method != ClientAuthMethod::None || self.cfg.dcr_returns_secret)
            .then(|| format!("{}{suffix}", self.id_stems.1));
        let mut resp = json!({
            "client_id": client_id,
            "client_id_issued_at": ctx.now,
            "client_name": body.get("client_name").cloned().unwrap_or(json!("test-client")),
            "redirect_uris": redirect_uris,
            "grant_types": if grant_types.is_empty() { vec!["authorization_code"] } else { grant_types.clone() },
            "response_types": ["code"],
        });
        if let Some(obj) = resp.as_object_mut() {
            if let Some(s) = &secret {
                obj.insert("client_secret".into(), json!(s));
                obj.insert("client_secret_expires_at".into(), json!(0));
            }
            if self.cfg.dcr_echoes_auth_method {
                obj.insert("token_endpoint_auth_method".into(), json!(method.as_str()));
            }
            if let Some(t) = app_type {
                obj.insert("application_type".into(), json!(t));
            }
        }
        self.clients.insert(
            client_id.clone(),
            Client {
                client_id,
                secret,
                auth_method: method,
                redirect_uris: Some(redirect_uris),
                refresh_allowed: grant_types.contains(&"refresh_token"),
            },
        );
        HttpResponse::json(201, &resp).with_header("Cache-Control", "no-store")
    }
}
