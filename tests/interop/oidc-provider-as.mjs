// Authorization server for scripts/interop.sh: the npm package `oidc-provider` (an
// independently written, OpenID-certified OAuth 2.0 / OIDC server), configured the way MCP
// deployments ship it: open dynamic client registration (RFC 7591), PKCE S256 (RFC 7636),
// refresh tokens, resource indicators so access tokens are JWTs whose `aud` is the MCP server
// (RFC 8707, RFC 9068), revocation (RFC 7009), and devInteractions (the package's own login
// and consent pages) for the headless browser to fill in.
//
//   node oidc-provider-as.mjs --port P --log FILE [--issuer-slash] [--ttl SECS]
//        [--no-refresh] [--no-rotate] [--dpop optional|off] [--only-resource URI]
//
// --only-resource: the one resource indicator the AS serves; any other is refused with
// `invalid_target` (RFC 8707 §2), as an AS that does not know the MCP server does.
// Every request is appended to FILE as one JSON line (method, path, status, grant_type, error,
// whether a DPoP proof came with it), so the suite counts requests from the server's side.
import fs from 'node:fs';
import http from 'node:http';
import { parseArgs } from 'node:util';
import { generateKeyPair, exportJWK } from 'jose';
import Provider, { errors } from 'oidc-provider';

const { values: opt } = parseArgs({
  options: {
    port: { type: 'string' },
    log: { type: 'string' },
    'issuer-slash': { type: 'boolean', default: false },
    ttl: { type: 'string', default: '3600' },
    'no-refresh': { type: 'boolean', default: false },
    'no-rotate': { type: 'boolean', default: false },
    dpop: { type: 'string', default: 'off' },
    'only-resource': { type: 'string' },
  },
});
const port = Number(opt.port);
const ttl = Number(opt.ttl);
// RFC 8414 §2: the issuer is a URL; a trailing slash makes it a different identifier, which the
// client must carry byte for byte from the protected-resource metadata (RFC 9728 §3.3).
const issuer = `http://127.0.0.1:${port}${opt['issuer-slash'] ? '/' : ''}`;
const log = fs.openSync(opt.log, 'a');

// Fresh signing keys per run: RS256 (ID tokens' default algorithm) and ES256 (access tokens).
const keys = [];
for (const alg of ['RS256', 'ES256']) {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  keys.push({ ...(await exportJWK(privateKey)), alg, use: 'sig', kid: `interop-${alg.toLowerCase()}` });
}

const provider = new Provider(issuer, {
  jwks: { keys },
  findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  scopes: ['openid', 'offline_access', 'mcp'],
  clientDefaults: {
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  },
  features: {
    devInteractions: { enabled: true },
    registration: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
    // Advertised in dpop_signing_alg_values_supported but optional: a Bearer request is
    // served as Bearer (RFC 9449 §5: the client chooses by sending a DPoP proof).
    dPoP: { enabled: opt.dpop !== 'off' },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (_ctx, _client, oneOf) => oneOf,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, resourceIndicator) => {
        if (opt['only-resource'] && resourceIndicator !== opt['only-resource']) throw new errors.InvalidTarget();
        return {
          scope: 'mcp',
          audience: resourceIndicator,
          accessTokenTTL: ttl,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        };
      },
    },
  },
  pkce: { required: () => true },
  ttl: { AccessToken: ttl, RefreshToken: 86400, Grant: 86400, Session: 86400, Interaction: 600 },
  issueRefreshToken: async (_ctx, client) => !opt['no-refresh'] && client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: () => !opt['no-rotate'],
  expiresWithSession: async () => false,
});
provider.proxy = false;

provider.use(async (ctx, next) => {
  await next();
  const params = ctx.oidc?.params ?? {};
  const body = ctx.body && typeof ctx.body === 'object' && !Buffer.isBuffer(ctx.body) ? ctx.body : {};
  const line = {
    t: Date.now(),
    method: ctx.method,
    path: ctx.path,
    route: ctx.oidc?.route ?? null,
    status: ctx.status,
    grant_type: params.grant_type ?? null,
    error: body.error ?? null,
    dpop: Boolean(ctx.get('dpop')),
    token_type: body.token_type ?? null,
    refresh_token_issued: typeof body.refresh_token === 'string',
    ua: ctx.get('user-agent'),
  };
  fs.writeSync(log, JSON.stringify(line) + '\n');
});

const server = http.createServer(provider.callback());
server.listen(port, '127.0.0.1', () => console.log(`oidc-provider listening at ${issuer}`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
