"""Protected MCP server for scripts/interop.sh built on the Python SDK (`mcp` on PyPI).

`MCPServer` (the SDK's FastMCP, renamed in mcp 2) with its auth settings: the SDK serves the
protected-resource metadata (RFC 9728) naming the authorization server, answers 401 with
`WWW-Authenticate: Bearer resource_metadata=...`, and calls our `TokenVerifier`. The verifier
checks the token's audience as the MCP authorization spec requires (RFC 8707 §2, RFC 9068 §4):
`jwt` verifies the JWT against the authorization server's JWKS with PyJWT; `introspect` asks the
introspection endpoint (RFC 7662) and requires `aud` to name this server. The SDK's
`validate_token_resource` check runs on top.

    python mcp_server_py.py --port P --issuer ISSUER --as-metadata URL --verify jwt|introspect
        [--introspect-client ID:SECRET]
"""

import argparse
import base64
import json
import urllib.parse
import urllib.request

import jwt
import uvicorn
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--issuer", required=True)
parser.add_argument("--as-metadata", required=True)
parser.add_argument("--verify", choices=["jwt", "introspect"], default="jwt")
parser.add_argument("--introspect-client")
args = parser.parse_args()

RESOURCE = f"http://127.0.0.1:{args.port}/mcp"
with urllib.request.urlopen(args.as_metadata, timeout=10) as r:
    METADATA = json.load(r)
if METADATA["issuer"] != args.issuer:
    raise SystemExit(f"issuer mismatch: {METADATA['issuer']}")


def audiences(aud):
    return aud if isinstance(aud, list) else [aud]


class JwtVerifier:
    def __init__(self):
        self.jwks = jwt.PyJWKClient(METADATA["jwks_uri"], cache_keys=True, timeout=10)

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            key = self.jwks.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key,
                algorithms=["ES256", "RS256", "PS256", "EdDSA"],
                audience=RESOURCE,
                issuer=METADATA["issuer"],
                options={"require": ["exp", "aud", "iss"]},
            )
        except jwt.PyJWTError:
            return None
        return AccessToken(
            token=token,
            client_id=str(claims.get("client_id") or claims.get("azp") or ""),
            scopes=str(claims.get("scope", "")).split(),
            expires_at=claims["exp"],
            resource=RESOURCE,
            subject=claims.get("sub"),
        )


class IntrospectionVerifier:
    def __init__(self, client: str):
        cid, secret = client.split(":", 1)
        raw = f"{urllib.parse.quote(cid)}:{urllib.parse.quote(secret)}".encode()
        self.auth = "Basic " + base64.b64encode(raw).decode()

    async def verify_token(self, token: str) -> AccessToken | None:
        request = urllib.request.Request(
            METADATA["introspection_endpoint"],
            data=urllib.parse.urlencode({"token": token}).encode(),
            headers={"Authorization": self.auth, "Content-Type": "application/x-www-form-urlencoded"},
        )
        with urllib.request.urlopen(request, timeout=10) as r:
            info = json.load(r)
        if not info.get("active") or RESOURCE not in audiences(info.get("aud")):
            return None
        return AccessToken(
            token=token,
            client_id=str(info.get("client_id", "")),
            scopes=str(info.get("scope", "")).split(),
            expires_at=info.get("exp"),
            resource=RESOURCE,
            subject=info.get("sub") or info.get("username"),
        )


verifier = JwtVerifier() if args.verify == "jwt" else IntrospectionVerifier(args.introspect_client)
server = MCPServer(
    "interop-py",
    token_verifier=verifier,
    auth=AuthSettings(
        issuer_url=METADATA["issuer"],
        resource_server_url=RESOURCE,
        required_scopes=["mcp"],
        validate_token_resource=True,
    ),
)


@server.tool()
def whoami() -> str:
    """Who the access token belongs to."""
    token = get_access_token()
    return json.dumps({"sub": token.subject if token else None, "client_id": token.client_id if token else None})


@server.tool()
def echo(text: str) -> str:
    """Echo."""
    return text


app = server.streamable_http_app(
    host="127.0.0.1",
    transport_security=TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[f"127.0.0.1:{args.port}"],
        allowed_origins=[f"http://127.0.0.1:{args.port}"],
    ),
)
uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")
