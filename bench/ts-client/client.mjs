// node client.mjs <flow> <server-url> <state-dir>
//
// One benchmark flow with the official MCP TypeScript SDK (@modelcontextprotocol/sdk, pinned in
// package.json) and its OAuth client, driven by tests/src/bin/flow-bench.rs (see
// bench/README.md).
//
// The client does what a host application built on the SDK does: a StreamableHTTPClientTransport
// with an OAuthClientProvider. The provider persists everything the SDK hands it (client
// information, tokens, PKCE verifier and the optional discovery state, the SDK's cache of PRM and
// AS metadata) to <state-dir>/ts-state.json, so a restart flow is a real process restart. Its
// redirectToAuthorization() is the user's browser, automated: it GETs the authorization URL
// without following the redirect, checks `state`, and keeps the code for transport.finishAuth().
//
// Flows: `login` and `list` (connect, tools/list; the harness prepares the state), and three
// that connect, list once, print READY, wait for a line on stdin and only then run the measured
// part: `revoked` (tools/list), `stepup` (tools/call of test-tool), `concurrent-N` (N tools/list
// at once). When the SDK ends in UnauthorizedError after the browser step (a new authorization),
// the client finishes it as a host does (finishAuth, then reconnect or retry once). The last
// stdout line is a JSON report; the flow's time excludes process start and module loading.

import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

// Registered and sent as redirect_uri; nothing listens there (the "browser" reads Location).
const REDIRECT_URI = 'http://127.0.0.1:3000/callback';
const TOOL = 'test-tool';

/** OAuthClientProvider on a JSON file, auto-approving in the "browser". */
class FileProvider {
  constructor(stateDir) {
    this.path = join(stateDir, 'ts-state.json');
    this.data = existsSync(this.path) ? JSON.parse(readFileSync(this.path, 'utf8')) : {};
    this.pendingCode = undefined;
    // Every state handed out and not yet seen back (concurrent flows each get their own).
    this.issuedStates = new Set();
  }

  persist() {
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.data, null, 2), { mode: 0o600 });
    renameSync(tmp, this.path);
  }

  get redirectUrl() {
    return REDIRECT_URI;
  }

  get clientMetadata() {
    return {
      client_name: 'ts-bench-client',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      application_type: 'native',
    };
  }

  state() {
    const state = randomBytes(16).toString('base64url');
    this.issuedStates.add(state);
    return state;
  }

  clientInformation() {
    return this.data.clientInformation;
  }

  saveClientInformation(info) {
    this.data.clientInformation = info;
    this.persist();
  }

  tokens() {
    return this.data.tokens;
  }

  saveTokens(tokens) {
    this.data.tokens = tokens;
    this.persist();
  }

  saveCodeVerifier(verifier) {
    this.data.codeVerifier = verifier;
    this.persist();
  }

  codeVerifier() {
    if (!this.data.codeVerifier) throw new Error('no PKCE verifier saved');
    return this.data.codeVerifier;
  }

  discoveryState() {
    return this.data.discoveryState;
  }

  saveDiscoveryState(state) {
    this.data.discoveryState = state;
    this.persist();
  }

  invalidateCredentials(scope) {
    const drop = {
      all: ['clientInformation', 'tokens', 'codeVerifier', 'discoveryState'],
      client: ['clientInformation'],
      tokens: ['tokens'],
      verifier: ['codeVerifier'],
      discovery: ['discoveryState'],
    }[scope] ?? [];
    for (const key of drop) delete this.data[key];
    this.persist();
  }

  // The user's browser: GET without following the redirect, check state, keep the code.
  async redirectToAuthorization(url) {
    const resp = await fetch(url, { redirect: 'manual', headers: { accept: 'text/html' } });
    const location = resp.headers.get('location');
    await resp.body?.cancel();
    if (!location) throw new Error(`authorization endpoint answered ${resp.status} without Location`);
    const params = new URL(location, url).searchParams;
    if (!this.issuedStates.delete(params.get('state'))) throw new Error('state mismatch in the redirect');
    const code = params.get('code');
    if (!code) throw new Error(`redirect without a code: ${params.get('error') ?? '?'}`);
    this.pendingCode = code;
  }

  takeCode() {
    const code = this.pendingCode;
    this.pendingCode = undefined;
    return code;
  }
}

function newSession(url, provider) {
  const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider });
  const client = new Client({ name: 'ts-bench-client', version: '0.0.0' });
  return { client, transport };
}

/** Connects; when the 401 on initialize led to the browser step, finishes it and reconnects. */
async function connect(url, provider) {
  let session = newSession(url, provider);
  try {
    await session.client.connect(session.transport);
    return session;
  } catch (e) {
    if (!(e instanceof UnauthorizedError) || !provider.pendingCode) throw e;
    await session.transport.finishAuth(provider.takeCode());
  }
  session = newSession(url, provider);
  await session.client.connect(session.transport);
  return session;
}

function runOp(session, op) {
  if (op === 'list') return session.client.listTools().then((r) => r.tools.length);
  return session.client.callTool({ name: TOOL, arguments: {} }).then((r) => Boolean(r.isError));
}

/** Runs op; after a browser step the SDK could not finish by itself, finishAuth and retry once. */
async function withRecovery(session, provider, op) {
  try {
    return await runOp(session, op);
  } catch (e) {
    if (!(e instanceof UnauthorizedError) || !provider.pendingCode) throw e;
    await session.transport.finishAuth(provider.takeCode());
    return await runOp(session, op);
  }
}

function waitForGo() {
  console.log('READY');
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin });
    rl.once('line', () => {
      rl.close();
      resolve();
    });
  });
}

async function run(flow, url, stateDir) {
  const provider = new FileProvider(stateDir);
  let start = performance.now();
  const session = await connect(url, provider);
  if (flow === 'login' || flow === 'list') {
    const tools = await withRecovery(session, provider, 'list');
    return { ok: true, elapsed_ms: performance.now() - start, tools };
  }
  await withRecovery(session, provider, 'list');
  await waitForGo();
  start = performance.now();
  if (flow.startsWith('concurrent-')) {
    const n = Number.parseInt(flow.slice('concurrent-'.length), 10);
    // The SDK's own handling only, as N callers of one client would see it.
    const results = await Promise.allSettled(Array.from({ length: n }, () => runOp(session, 'list')));
    const elapsed = performance.now() - start;
    const errors = results.filter((r) => r.status === 'rejected').map((r) => String(r.reason?.message ?? r.reason));
    return { ok: errors.length === 0, elapsed_ms: elapsed, succeeded: n - errors.length, failed: errors.length, errors: errors.slice(0, 3) };
  }
  const op = { revoked: 'list', stepup: 'call' }[flow];
  if (!op) throw new Error(`unknown flow ${flow}`);
  const result = await withRecovery(session, provider, op);
  return { ok: true, elapsed_ms: performance.now() - start, result };
}

const [flow, url, stateDir] = process.argv.slice(2);
if (!flow || !url || !stateDir) {
  console.error('usage: node client.mjs <flow> <server-url> <state-dir>');
  process.exit(2);
}
let report;
try {
  report = await run(flow, url, stateDir);
} catch (e) {
  report = { ok: false, error: String(e?.message ?? e) };
}
console.log(JSON.stringify(report));
// Open SSE streams and keep-alive sockets would keep the event loop alive.
process.exit(report.ok ? 0 : 1);
