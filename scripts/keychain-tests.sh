#!/usr/bin/env bash
# Runs the keychain store tests (store/tests/store_keychain.rs, and the locked-keychain test of the
# blocking adapter, adapter-blocking/tests/store_keychain_locked.rs) against a real Secret
# Service: a throwaway, unlocked gnome-keyring-daemon on a private D-Bus session bus, as
# ARCHITECTURE.md §10 describes. With MCP_OAUTH_KEYCHAIN_TESTS=1 the tests fail,
# rather than skip, when the keychain cannot be reached.
set -euo pipefail
cd "$(dirname "$0")/.."

# Install the daemon, the bus launcher and secret-tool only when missing.
need=()
command -v gnome-keyring-daemon >/dev/null 2>&1 || need+=(gnome-keyring)
command -v secret-tool >/dev/null 2>&1 || need+=(libsecret-tools)
command -v dbus-run-session >/dev/null 2>&1 || need+=(dbus)
if [ ${#need[@]} -gt 0 ]; then
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  echo "installing ${need[*]}"
  if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y --no-install-recommends gnome-keyring libsecret-tools dbus; then
    # A fresh machine may have no package lists yet.
    "${sudo[@]}" apt-get update
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y --no-install-recommends gnome-keyring libsecret-tools dbus
  fi
fi

# Build first, with the real HOME, so the throwaway session only runs tests.
cargo test -p mcp-oauth-store --test store_keychain --no-run
cargo test -p mcp-oauth-blocking --test store_keychain_locked --no-run
cargo test -p mcp-oauth-tests --test e2e_blocking --no-run

# The keyring lives in a fresh HOME and runtime dir; cargo and rustup keep their real homes.
export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
runtime=$(mktemp -d)
home=$(mktemp -d)
trap 'rm -rf "$runtime" "$home"' EXIT
chmod 700 "$runtime"
export XDG_RUNTIME_DIR="$runtime" HOME="$home"
unset XDG_STATE_HOME DBUS_SESSION_BUS_ADDRESS
export MCP_OAUTH_KEYCHAIN_TESTS=1

dbus-run-session -- bash -c \
  'eval "$(printf pw | gnome-keyring-daemon --unlock --components=secrets)"; exec "$@"' _ \
  cargo test -p mcp-oauth-store --test store_keychain

# A locked keychain: typed errors, no login, the item kept. Locking takes the whole collection,
# so it gets a D-Bus session (and keyring daemon) of its own.
dbus-run-session -- bash -c \
  'eval "$(printf pw | gnome-keyring-daemon --unlock --components=secrets)"; exec "$@"' _ \
  cargo test -p mcp-oauth-blocking --test store_keychain_locked

# A full login, then a restart from the keychain with zero OAuth requests (real loopback testbed).
dbus-run-session -- bash -c \
  'eval "$(printf pw | gnome-keyring-daemon --unlock --components=secrets)"; exec "$@"' _ \
  cargo test -p mcp-oauth-tests --test e2e_blocking keychain
