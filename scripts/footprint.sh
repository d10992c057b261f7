#!/usr/bin/env bash
# Footprint of mcp-oauth (issue "Performance evidence"): how many crates the core pulls in and
# where they come from, how big the shipped binary is, and how long a clean build of the core
# takes. Prints markdown, so the figures can be pasted into BENCHMARKS.md as they are.
#
# Usage: scripts/footprint.sh [--no-build]
#   --no-build  only the dependency counts (seconds instead of minutes).
#
# Crate counts are distinct `name version` pairs in `cargo tree -e normal` for the host target,
# proc-macros (and their syn/quote) included, because they are compiled too. Build times depend on
# the machine and its load: the table says how many CPUs the build had.
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
case "${1:-}" in
  --no-build) build=0 ;;
  "") ;;
  *) echo "usage: $0 [--no-build]" >&2; exit 2 ;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---------------------------------------------------------------- (a) dependency tree

# `--no-dedupe` so that every subtree is complete (a deduplicated tree shows a shared crate
# under its first parent only, and the attribution below would be wrong).
tree() { cargo tree -q -p mcp-oauth-core -e normal --prefix depth --no-dedupe "$@"; }

# Reads `<depth><name> v<version> [(proc-macro)]` lines; prints one summary line per crate set:
#   total <n> <proc-macros>
#   direct <dep> <subtree> <only-through-it>
#   nested <parent>/<dep> <subtree>      (second-level subtrees of 5 crates or more)
#   member <parent>/<dep> <crate>        (the crates of each second-level subtree)
summarise() {
  awk '
    match($0, /^[0-9]+/) {
      d = substr($0, 1, RLENGTH) + 0
      rest = substr($0, RLENGTH + 1)
      split(rest, f, " ")
      if (d == 0) next
      id = f[1] " " f[2]
      name[d] = f[1]
      all[id] = 1
      if (rest ~ /\(proc-macro\)/) pm[id] = 1
      # Attribute this crate to its direct (depth 1) and second-level (depth 2) ancestors.
      direct = name[1]
      sub1[direct SUBSEP id] = 1
      via[id SUBSEP direct] = 1
      if (d >= 2) sub2[direct "/" name[2] SUBSEP id] = 1
    }
    END {
      n = 0; p = 0
      for (c in all) { n++; if (c in pm) p++ }
      print "total", n, p
      for (k in sub1) { split(k, a, SUBSEP); size1[a[1]]++ }
      for (k in via) { split(k, a, SUBSEP); nvia[a[1]]++; lastvia[a[1]] = a[2] }
      for (c in nvia) if (nvia[c] == 1) excl[lastvia[c]]++
      for (dep in size1) print "direct", dep, size1[dep], excl[dep] + 0
      for (k in sub2) { split(k, a, SUBSEP); size2[a[1]]++ }
      for (k in size2) if (size2[k] >= 5) print "nested", k, size2[k]
      for (k in sub2) { split(k, a, SUBSEP); split(a[2], parts, " "); print "member", a[1], parts[1] }
    }'
}

tree > "$tmp/default.txt"
tree --no-default-features > "$tmp/minimal.txt"
summarise < "$tmp/default.txt" > "$tmp/default.sum"
summarise < "$tmp/minimal.txt" > "$tmp/minimal.sum"

total() { awk '$1 == "total" { print $2 }' "$1"; }
procmacros() { awk '$1 == "total" { print $3 }' "$1"; }

echo "## Footprint"
echo
echo "rustc: \`$(rustc --version)\`, host: $(uname -m), CPUs: $(nproc)"
echo
echo "### Dependencies of mcp-oauth-core (normal edges, host target)"
echo
echo "| features | unique crates (excl. the core) | of which proc-macros |"
echo "| --- | ---: | ---: |"
echo "| default (\`extensions\`: ES256 via p256) | $(total "$tmp/default.sum") | $(procmacros "$tmp/default.sum") |"
echo "| \`--no-default-features\` | $(total "$tmp/minimal.sum") | $(procmacros "$tmp/minimal.sum") |"
echo
echo "Where they come from (default features). *Subtree*: every crate reachable through the"
echo "dependency; *only through it*: crates that would go if it went (the rest are shared)."
echo
echo "| direct dependency | crates in subtree | only through it |"
echo "| --- | ---: | ---: |"
awk '$1 == "direct" { print $3, $4, $2 }' "$tmp/default.sum" | sort -k1,1nr -k3,3 |
  while read -r size only dep; do echo "| $dep | $size | $only |"; done
echo
echo "Largest second-level subtrees (5 crates or more):"
echo
echo "| path | crates in subtree |"
echo "| --- | ---: |"
awk '$1 == "nested" { print $3, $2 }' "$tmp/default.sum" | sort -k1,1nr -k2,2 |
  while read -r size path; do echo "| ${path/\// → } | $size |"; done
echo
top=$(awk '$1 == "nested" { print $3, $2 }' "$tmp/default.sum" | sort -k1,1nr | awk 'NR == 1 { print $2 }')
members=$(awk -v t="$top" '$1 == "member" && $2 == t { print $3 }' "$tmp/default.sum" | sort -u | tr '\n' ' ')
why=""
[ "$top" = "url/idna" ] && why=" (IDNA / UTS 46 host-name processing, ICU4X)"
echo "Crates of the largest, \`${top/\// → }\`${why}: ${members% }."
echo

[ "$build" = 1 ] || exit 0

# ---------------------------------------------------------------- (b) binary size

target_dir=${CARGO_TARGET_DIR:-target}
size_row() { # <label> <path>
  local bytes
  bytes=$(stat -c %s "$2")
  printf '| %s | %s | %s |\n' "$1" "$bytes" "$(awk -v b="$bytes" 'BEGIN { printf "%.2f MiB", b / 1048576 }')"
}
echo
echo "### Release binary (\`[profile.release] strip = true\`)"
echo
echo "| binary | bytes | size |"
echo "| --- | ---: | ---: |"
if cargo build -q --release -p mcp-oauth-cli --bin mcp-oauth 2> "$tmp/cli.log"; then
  size_row "\`mcp-oauth\` (mcp-oauth-cli), \`release\`" "$target_dir/release/mcp-oauth"
  cargo build -q --profile dist -p mcp-oauth-cli --bin mcp-oauth
  size_row "\`mcp-oauth\`, \`dist\` (fat LTO, one codegen unit)" "$target_dir/dist/mcp-oauth"
else
  echo "| \`mcp-oauth\` (mcp-oauth-cli) | did not build | see below |"
  cargo build -q --release -p mcp-oauth-tests --bin conformance-client
  size_row "\`conformance-client\` (mcp-oauth-tests; **stand-in**, the CLI did not build)" \
    "$target_dir/release/conformance-client"
  echo
  echo "mcp-oauth-cli build error (first lines):"
  echo
  echo '```'
  grep -m 5 -E '^error' "$tmp/cli.log" || head -5 "$tmp/cli.log"
  echo '```'
fi

# ---------------------------------------------------------------- (c) clean build time

clean_build() { # <fresh target dir> [cargo args...]
  local dir=$1 start end
  shift
  start=$(date +%s%N)
  CARGO_TARGET_DIR="$dir" cargo build -q --release -p mcp-oauth-core "$@"
  end=$(date +%s%N)
  awk -v ns=$((end - start)) 'BEGIN { printf "%.1f s", ns / 1e9 }'
}
# Fetch first, so the timings measure compilation, not downloads.
cargo fetch -q
echo
echo "### Clean release build of mcp-oauth-core (fresh \`CARGO_TARGET_DIR\`, $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg))"
echo
echo "| features | wall time |"
echo "| --- | ---: |"
echo "| default | $(clean_build "$tmp/target-default") |"
echo "| \`--no-default-features\` | $(clean_build "$tmp/target-minimal" --no-default-features) |"
