#!/usr/bin/env bash
# Runs every test of the project: the README's test command, and what .ci/run calls.
# Installs what it needs itself (apt packages for the keychain tests, Node 22 for conformance).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

step() { printf '\n==> %s\n' "$*"; }

step "format"
cargo fmt --all -- --check

step "clippy (warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

step "docs (broken intra-doc links and other rustdoc warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps
RUSTDOCFLAGS="-D warnings" cargo doc -p mcp-oauth-core --no-deps --no-default-features

step "core contract: no IO crates in mcp-oauth-core"
scripts/check-core-contract.sh

step "tests"
cargo test --workspace

step "tests without the extensions feature (the core stays usable without p256)"
cargo test -p mcp-oauth-core --no-default-features --lib

step "fuzz regressions (every saved crash input replayed on stable; fuzz/ is its own workspace)"
(cd fuzz && cargo test --quiet)

for extra in scripts/keychain-tests.sh scripts/conformance.sh scripts/demo-check.sh; do
  if [ -x "$extra" ]; then
    step "$extra"
    "$extra"
  fi
done
step "all tests passed"
