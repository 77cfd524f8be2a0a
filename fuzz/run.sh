#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60) with cargo-fuzz (nightly; installs
# cargo-fuzz from crates.io when missing) and prints, per target, the executions and whether it
# crashed. Each target starts from its seed corpus in fuzz/corpus/TARGET (the seeds are also
# replayed by `cargo test`); a crash input lands in fuzz/artifacts/TARGET: minimise it
# (`cargo +nightly fuzz tmin TARGET FILE`), commit it as fuzz/corpus/TARGET/seed-crash-NAME, fix.
# Usage: fuzz/run.sh [SECONDS] [TARGET...]
set -uo pipefail
cd "$(dirname "$0")"
secs=${1:-60}; shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(parse_validate validate_fixtures wire_round_trip anchors respond config control upstream_datagram upstream_stream)
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked -q cargo-fuzz
crashed=0
for t in "${targets[@]}"; do
  work=$(mktemp -d)
  cp corpus/"$t"/seed-* "$work"/
  log=$(cargo +nightly fuzz run "$t" "$work" -- -max_total_time="$secs" -print_final_stats=1 2>&1)
  rc=$?
  runs=$(grep -o 'Done [0-9]* runs' <<<"$log" | awk '{print $2}')
  [ -n "$runs" ] || runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' <<<"$log" | awk '{print $2}')
  if [ $rc -eq 0 ]; then
    echo "$t: ${runs:-?} executions in ${secs} s, no crash"
  else
    crashed=$((crashed + 1))
    echo "$t: CRASH after ${runs:-?} executions:"; grep -E 'panicked|SUMMARY|artifact' <<<"$log" | head -5
  fi
  rm -rf "$work"
done
echo "fuzz: $(( ${#targets[@]} - crashed )) passed, $crashed failed"
