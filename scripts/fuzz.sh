#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for ${FUZZ_SECONDS:-60} seconds each and prints a table
# target -> runs -> result. Not part of CI (too slow); `FUZZ_SECONDS=5 scripts/fuzz.sh` is a
# smoke run. Stable toolchain: `-s none` turns the sanitizer off (ASan needs nightly); Rust's
# own checks (bounds, overflow with debug assertions, our asserts) still crash the target.
#
#   FUZZ_SECONDS=N        seconds per target (default 60)
#   FUZZ_TARGETS="a b"    only these targets (default: all, from `cargo fuzz list`)
#   FUZZ_FEATURES=f       cargo features for the fuzz crate, e.g. avoid-known-bugs
#
# Exits 1 if any target crashed; the crash input stays in fuzz/artifacts/<target>/ and the
# libFuzzer log in fuzz/target/fuzz-logs/<target>.log.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-60}

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "==> installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

targets=${FUZZ_TARGETS:-$(cargo fuzz list)}
features=()
if [ -n "${FUZZ_FEATURES:-}" ]; then
  features=(--features "$FUZZ_FEATURES")
fi

echo "==> building fuzz targets"
cargo fuzz build -s none "${features[@]}"

logs=fuzz/target/fuzz-logs
mkdir -p "$logs"
rows=()
failed=0
for t in $targets; do
  echo "==> fuzzing $t for ${secs}s"
  mkdir -p "fuzz/corpus/$t"
  log="$logs/$t.log"
  if cargo fuzz run -s none "${features[@]}" "$t" -- -max_total_time="$secs" -print_final_stats=1 >"$log" 2>&1; then
    result=ok
  else
    failed=1
    artifact=$(grep -o 'Test unit written to [^ ]*' "$log" | tail -1 | awk '{print $5}' || true)
    result="CRASH ${artifact:-(see $log)}"
  fi
  runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | awk '{print $2}' || true)
  if [ -z "$runs" ]; then
    runs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#' || true)
  fi
  rows+=("$(printf '%-22s %12s  %s' "$t" "${runs:-?}" "$result")")
done

echo
printf '%-22s %12s  %s\n' target runs result
printf '%-22s %12s  %s\n' ---------------------- ------------ ------
printf '%s\n' "${rows[@]}"
exit "$failed"
