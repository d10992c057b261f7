//! Token endpoint client authentication (RFC 6749 §2.3.1): the client
//! must use exactly the method it is registered for. A public client that sends the secret the
//! default AS handed it anyway (the conformance trap) is refused, as is Basic for a `post` client.

use mcp_oauth_core::{ClientAuthMethod, HttpRequest, HttpResponse};

use super::auth_server::{AuthServer, Client};
use super::tokens::Ctx;
use super::util::{decode_basic, first, oauth_error};

impl AuthServer {
    /// RFC 6749 §2.3 client authentication with the client's registered method only; a secret
    /// sent by a `none` client or the wrong channel is refused.
    pub(crate) fn authenticate_client(
        &self,
        ctx: &mut Ctx<'_>,
        req: &HttpRequest,
        form: &[(String, String)],
        other: Option<&AuthServer>,
    ) -> Result<Client, HttpResponse> {
        let header = req.header("authorization");
        let basic_sent = header.is_some_and(|h| {
            h.trim_start()
                .get(..6)
                .is_some_and(|s| s.eq_ignore_ascii_case("basic "))
        });
        let basic = header.and_then(decode_basic);
        let invalid = |basic_sent: bool| {
            let r = oauth_error(401, "invalid_client", "client authentication failed");
            if basic_sent {
                r.with_header("WWW-Authenticate", "Basic realm=\"testbed\"")
            } else {
                r
            }
        };
        if basic_sent && basic.is_none() {
            ctx.violation(
                "client-auth-malformed",
                "Authorization: Basic is not base64(id:secret)",
            );
            return Err(invalid(true));
        }
        let form_id = first(form, "client_id");
        let form_secret = first(form, "client_secret");
        let client_id = match (&basic, form_id) {
            (Some((b, _)), Some(f)) if b != f => {
                ctx.violation(
                    "client-auth-mismatch",
                    "client_id in form differs from Basic",
                );
                return Err(oauth_error(400, "invalid_request", "conflicting client_id"));
            }
            (Some((b, _)), _) => b.as_str(),
            (None, Some(f)) => f,
            (None, None) => {
                ctx.violation(
                    "client-auth-missing",
                    "token request without any client identification",
                );
                return Err(invalid(false));
            }
        };
        let Some(client) = self.lookup_client(client_id) else {
            self.unknown_client(ctx, client_id, "token endpoint", other);
            return Err(invalid(basic_sent));
        };
        let method_ok = match client.auth_method {
            ClientAuthMethod::None => !basic_sent && form_secret.is_none(),
            ClientAuthMethod::ClientSecretBasic => basic.is_some() && form_secret.is_none(),
            ClientAuthMethod::ClientSecretPost => !basic_sent && form_secret.is_some(),
        };
        if !method_ok {
            ctx.violation(
                "client-auth-method",
                format!(
                    "{client_id} is registered for {} but authenticated otherwise (T1, T2)",
                    client.auth_method.as_str()
                ),
            );
            return Err(invalid(basic_sent));
        }
        let presented = match client.auth_method {
            ClientAuthMethod::None => None,
            ClientAuthMethod::ClientSecretBasic => basic.as_ref().map(|(_, s)| s.as_str()),
            ClientAuthMethod::ClientSecretPost => form_secret,
        };
        if client.auth_method != ClientAuthMethod::None && presented != client.secret.as_deref() {
            ctx.violation(
                "client-auth-failed",
                format!("wrong secret for {client_id}"),
            );
            return Err(invalid(basic_sent));
        }
        Ok(client)
    }
}
