#!/usr/bin/env bash
# Runs every test of the project: the README's test command, and what .ci/run calls.
# Installs what it needs itself (apt packages for the keychain tests, Node 22 for conformance).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
# A one-shot build gains nothing from incremental caches, which would double the target dir.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
# fuzz/ is its own workspace; building it into the same target dir shares the core's artifacts.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}

step() { printf '\n==> %s\n' "$*"; }

# A cold run writes about NEED_GIB into the target dir (5.5 GiB measured on 2026-12-03); say
# so up front rather than failing half-way with "No space left on device".
NEED_GIB=7
mkdir -p "$CARGO_TARGET_DIR"
free_kib=$(df -Pk "$CARGO_TARGET_DIR" | awk 'NR==2 {print $4}')
step "disk: $((free_kib / 1048576)) GiB free at $CARGO_TARGET_DIR (a cold run needs about $NEED_GIB GiB)"
if [ "$free_kib" -lt $((NEED_GIB * 1048576 / 2)) ]; then
  echo "warning: less than half of that is free; the build may fail for lack of disk space" >&2
fi

step "format"
cargo fmt --all -- --check

step "clippy (warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

step "docs (broken intra-doc links and other rustdoc warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps
RUSTDOCFLAGS="-D warnings" cargo doc -p mcp-oauth-core --no-deps --no-default-features

step "core contract: no IO crates in mcp-oauth-core"
scripts/check-core-contract.sh

step "docs: no references to documents outside the repository"
scripts/check-docs.sh

step "tests"
cargo test --workspace

step "tests without the extensions feature (the core stays usable without p256)"
cargo test -p mcp-oauth-core --no-default-features --lib

step "fuzz regressions (every saved crash input replayed on stable; fuzz/ is its own workspace)"
(cd fuzz && cargo test --quiet)

for extra in scripts/keychain-tests.sh scripts/conformance.sh scripts/demo-check.sh scripts/interop.sh; do
  if [ -x "$extra" ]; then
    step "$extra"
    "$extra"
  fi
done
step "all tests passed"
