#!/bin/sh
# $BROWSER for scripts/interop.sh: the CLI runs this with the authorization URL as its only
# argument (store/src/launch.rs), as it would run a user's browser.
exec "${INTEROP_NODE:-node}" "${INTEROP_JS_DIR:-$(dirname "$0")}/browser.mjs" "$1"
