#!/usr/bin/env bash
# ARCHITECTURE.md §2: the core is sans-IO. Its normal dependency tree must not name an IO crate,
# and its clippy ban list (oauth-core/clippy.toml) must be in force.
set -euo pipefail
cd "$(dirname "$0")/.."
tree=$(cargo tree -p mcp-oauth-core -e normal --prefix none)
bad=$(printf '%s\n' "$tree" | grep -E '^(tokio|ureq|reqwest|hyper|keyring|getrandom|mio|socket2) ' || true)
if [ -n "$bad" ]; then
  echo "mcp-oauth-core depends on IO crates:"; echo "$bad"; exit 1
fi
grep -q 'std::time::Instant::now' oauth-core/clippy.toml
grep -q 'std::time::SystemTime::now' oauth-core/clippy.toml
# The ban list must actually bite: a probe crate using a banned call must fail clippy.
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
mkdir -p "$probe/src"
cp oauth-core/clippy.toml "$probe/clippy.toml"
cat > "$probe/Cargo.toml" <<'TOML'
[package]
name = "ban-probe"
version = "0.0.0"
edition = "2021"
[workspace]
TOML
echo 'pub fn f() -> std::time::Instant { std::time::Instant::now() }' > "$probe/src/lib.rs"
out=$(cd "$probe" && CARGO_TARGET_DIR="$probe/target" cargo clippy -q -- -D warnings 2>&1 || true)
if ! printf '%s' "$out" | grep -q 'disallowed'; then
  echo "clippy ban list did not reject Instant::now:"; printf '%s\n' "$out"; exit 1
fi
unique=$(printf '%s\n' "$tree" | awk '{print $1}' | sort -u | wc -l)
echo "core contract holds: $unique unique crates in mcp-oauth-core's normal tree, no IO crates"
