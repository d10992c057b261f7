#!/usr/bin/env bash
# The design lives in the repository (ARCHITECTURE.md). Fails when a source file, script or
# document refers to a document a contributor cloning the repository does not have:
#  - the former working notes kept beside the repository (named by the pattern below, written
#    with brackets so this script does not match itself);
#  - any upper-case file name ending in .md that is not a file of the repository;
#  - an `ARCHITECTURE.md §N` whose section N does not exist.
set -euo pipefail
cd "$(dirname "$0")/.."

notes='DESIGN[.]md|spec[-]checklist|conformance-suite[.]md|ecosystem[.]md|peers[.]md'
notes+='|SD[-]idx|shared[/]research'
types=(-- '*.rs' '*.md' '*.sh' '*.toml' '*.py' '*.js' '*.mjs' '*.ts' '*.yml' '*.yaml' '*.txt')

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  search() { git grep --untracked -nE "$1" "${types[@]}" || true; }
  files() { git ls-files --cached --others --exclude-standard; }
else
  search() {
    grep -rnE "$1" --include='*.rs' --include='*.md' --include='*.sh' --include='*.toml' \
      --include='*.py' --include='*.js' --include='*.mjs' --include='*.ts' --include='*.yml' \
      --include='*.yaml' --include='*.txt' --exclude-dir=target --exclude-dir=node_modules \
      --exclude-dir=.git . || true
  }
  files() {
    find . -path ./target -prune -o -path ./.git -prune -o -type f -print | sed 's|^\./||'
  }
fi

fail=0

hits=$(search "$notes")
if [ -n "$hits" ]; then
  echo "references to notes outside the repository (cite an RFC / MCP section or ARCHITECTURE.md):"
  printf '%s\n' "$hits"
  fail=1
fi

known=$(files | awk -F/ '{print $NF}' | sort -u)
for name in $(search '\b[A-Z][A-Z_-]+\.md\b' | grep -oE '\b[A-Z][A-Z_-]+\.md\b' | sort -u); do
  if ! printf '%s\n' "$known" | grep -qxF "$name"; then
    echo "reference to $name, which is not in the repository:"
    search "\\b${name//./\\.}\\b"
    fail=1
  fi
done

sections=$(grep -oE '^## [0-9]+\.' ARCHITECTURE.md | grep -oE '[0-9]+' | sort -u)
for n in $(search 'ARCHITECTURE\.md\s+§[0-9]+' | grep -oE 'ARCHITECTURE\.md\s+§[0-9]+' \
  | grep -oE '[0-9]+$' | sort -u); do
  if ! printf '%s\n' "$sections" | grep -qx "$n"; then
    echo "ARCHITECTURE.md has no section $n:"
    search "ARCHITECTURE\\.md\\s+§$n\\b"
    fail=1
  fi
done

if [ "$fail" -ne 0 ]; then
  exit 1
fi
echo "docs: no references to documents outside the repository"
