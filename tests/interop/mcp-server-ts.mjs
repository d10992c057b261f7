// Protected MCP server for scripts/interop.sh built on the TypeScript SDK
// (@modelcontextprotocol/sdk): the streamable HTTP transport behind the SDK's own
// `requireBearerAuth` middleware, with the SDK's `mcpAuthMetadataRouter` serving the
// protected-resource metadata (RFC 9728) that names the authorization server.
//
//   node mcp-server-ts.mjs --port P --issuer ISSUER --verify jwt|introspect
//        [--introspect-client ID:SECRET]
//
// The verifier checks the token's audience as the MCP authorization spec requires (a token
// issued for another resource is refused, RFC 8707 §2 / RFC 9068 §4): `jwt` verifies the JWT
// against the authorization server's JWKS with `jose`; `introspect` asks the authorization
// server's introspection endpoint (RFC 7662) and requires `aud` to name this server. Tools:
// `whoami` (the token's subject and client) and `echo`.
import express from 'express';
import { parseArgs } from 'node:util';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import { InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import {
  mcpAuthMetadataRouter,
  getOAuthProtectedResourceMetadataUrl,
} from '@modelcontextprotocol/sdk/server/auth/router.js';
import { z } from 'zod';

const { values: opt } = parseArgs({
  options: {
    port: { type: 'string' },
    issuer: { type: 'string' },
    'as-metadata': { type: 'string' },
    verify: { type: 'string', default: 'jwt' },
    'introspect-client': { type: 'string' },
  },
});
const resource = new URL(`http://127.0.0.1:${opt.port}/mcp`);

// The authorization server's metadata, as published (RFC 8414 §3); the router republishes it.
const metadata = await (await fetch(opt['as-metadata'])).json();
if (metadata.issuer !== opt.issuer) throw new Error(`issuer mismatch: ${metadata.issuer}`);

const audienceMatches = (aud) => (Array.isArray(aud) ? aud : [aud]).includes(resource.href);

let verifyAccessToken;
if (opt.verify === 'jwt') {
  const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri));
  verifyAccessToken = async (token) => {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, jwks, { issuer: metadata.issuer, audience: resource.href }));
    } catch (e) {
      throw new InvalidTokenError(`token rejected: ${e.code ?? e.message}`);
    }
    return {
      token,
      clientId: String(payload.client_id ?? payload.azp ?? ''),
      scopes: String(payload.scope ?? '').split(' ').filter(Boolean),
      expiresAt: payload.exp,
      resource,
      extra: { sub: payload.sub },
    };
  };
} else {
  const [id, secret] = opt['introspect-client'].split(':');
  const basic = Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64');
  verifyAccessToken = async (token) => {
    const r = await fetch(metadata.introspection_endpoint, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }),
    });
    const info = await r.json();
    if (!info.active) throw new InvalidTokenError('token inactive');
    if (!audienceMatches(info.aud)) throw new InvalidTokenError('token not issued for this resource');
    return {
      token,
      clientId: String(info.client_id ?? ''),
      scopes: String(info.scope ?? '').split(' ').filter(Boolean),
      expiresAt: info.exp,
      resource,
      extra: { sub: info.sub ?? info.username },
    };
  };
}

const app = express();
app.use(express.json());
app.use(
  mcpAuthMetadataRouter({
    oauthMetadata: metadata,
    resourceServerUrl: resource,
    scopesSupported: ['mcp'],
    resourceName: 'interop TypeScript SDK server',
  }),
);
const auth = requireBearerAuth({
  verifier: { verifyAccessToken },
  requiredScopes: ['mcp'],
  resourceMetadataUrl: getOAuthProtectedResourceMetadataUrl(resource),
  expectedResource: resource,
});

function server() {
  const mcp = new McpServer({ name: 'interop-ts', version: '1.0.0' });
  mcp.registerTool('whoami', { description: 'Who the access token belongs to' }, async (extra) => ({
    content: [{ type: 'text', text: JSON.stringify({ sub: extra.authInfo?.extra?.sub, client_id: extra.authInfo?.clientId }) }],
  }));
  mcp.registerTool('echo', { description: 'Echo', inputSchema: { text: z.string() } }, async ({ text }) => ({
    content: [{ type: 'text', text }],
  }));
  return mcp;
}

// Stateless streamable HTTP: one server and transport per request (the SDK's documented mode).
app.post('/mcp', auth, async (req, res) => {
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  const mcp = server();
  res.on('close', () => {
    transport.close();
    mcp.close();
  });
  await mcp.connect(transport);
  await transport.handleRequest(req, res, req.body);
});
app.get('/mcp', auth, (_req, res) => res.status(405).set('Allow', 'POST').end());

const listener = app.listen(Number(opt.port), '127.0.0.1', () => console.log(`mcp-server-ts at ${resource.href}`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => listener.close(() => process.exit(0)));
