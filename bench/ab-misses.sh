#!/usr/bin/env bash
# A/B of the validated cache-miss rate between lookaside binaries (e.g. two commits' release
# builds), interleaved in one run so that the machine's load hits both alike: each run starts a
# fresh daemon, asks 5,000 wildcard names to warm its miss path, then 50,000 others, each once
# (every one a validation: two signature checks). The upstream Unbound has already answered
# every name, so what is measured is lookaside's own miss path.
#
# Usage: bench/ab-misses.sh BINARY... [ROUNDS=3 in the environment]
#   e.g. git worktree add /tmp/old COMMIT && (cd /tmp/old && cargo build --release -p lookaside)
#        bench/ab-misses.sh /tmp/old/target/release/lookaside target/release/lookaside
# Needs what bench/compare.sh needs; root.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 BINARY..."; exit 1; }
bins=("$@")
source "$(dirname "$0")/lib.sh"
bench_hierarchy ab-misses dnsperf
printf '. 3600 IN NS ns.\nns. 3600 IN A %s\n' "$ip" > "$work/root.hints"
printf 'server:\n  interface: %s@5301\n  port: 5301\n  do-ip6: no\n  do-not-query-localhost: no\n  access-control: 127.0.0.0/8 allow\n  username: ""\n  chroot: ""\n  directory: "%s"\n  pidfile: ""\n  use-syslog: no\n  logfile: ""\n  module-config: "iterator"\n  qname-minimisation: no\n  so-reuseport: no\n  num-threads: 2\n  msg-cache-size: 64m\n  rrset-cache-size: 64m\n  verbosity: 0\n  root-hints: "%s/root.hints"\nremote-control:\n  control-enable: no\n' "$ip" "$work" "$work" > "$work/upstream.conf"
unbound -d -c "$work/upstream.conf" >/dev/null 2>&1 & pids+=($!)
sleep 1
awk 'BEGIN { for (i = 0; i < 50000; i++) printf "m%d.wild.secure.example A\n", i }' > "$work/misses"
awk 'BEGIN { for (i = 0; i < 5000; i++) printf "w%d.wild.secure.example A\n", i }' > "$work/warm"
for f in misses warm; do dnsperf -s "$ip" -p 5301 -d "$work/$f" -n 1 -c 2 -T 2 -q 100 >/dev/null 2>&1; done
declare -A rates
for r in $(seq 1 "${ROUNDS:-3}"); do
  for b in "${bins[@]}"; do
    "$b" serve --listen "$ip:5302" --upstream "$ip:5301" --trust-anchor "$work/zones/root.ds" >/dev/null 2>&1 &
    p=$!
    sleep 1
    dnsperf -s "$ip" -p 5302 -d "$work/warm" -n 1 -c 2 -T 2 -q 100 >/dev/null 2>&1
    q=$(dnsperf -s "$ip" -p 5302 -d "$work/misses" -n 1 -c 2 -T 2 -q 100 2>&1 | awk '/Queries per second:/ {printf "%.0f", $4}')
    echo "round $r  $b  $q misses/s"
    rates[$b]+="$q "
    kill "$p"; wait "$p" 2>/dev/null || true
  done
done
echo
for b in "${bins[@]}"; do
  echo "median $(echo "${rates[$b]}" | tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}') misses/s  $b"
done
