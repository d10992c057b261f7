#!/usr/bin/env bash
# Runs the README's main command exactly as a new user would: the end-to-end demo on the
# embedded servers. Exit 0 only if every step succeeded with the expected requests.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --locked --bin mcp-oauth -- demo
