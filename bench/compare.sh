#!/usr/bin/env bash
# Compares lookaside with Unbound (validating forwarder) and dnsmasq (--dnssec) on the same
# signed hierarchy and the same upstream, round-robin in one run, with dnsperf:
#   - cache-hit queries per second over UDP, UDP with DO, and TCP (one pipelined connection
#     per client), queries lost, and each server's CPU time per answered query (/proc stats);
#   - the same on two cores (`-c 8 -T 2 -q 500`; Unbound runs 2 threads throughout);
#   - memory per cached name: RSS growth over 50,000 distinct wildcard names, each asked once,
#     after 5,000 others (which also gives the cache-miss rate: every one is validated);
#   - the cold-cache time to the first validated answer three signed levels below the root, and
#     the number of upstream queries it took (counted by bench/relay.py).
# Ratios are what to quote: absolute figures move with the machine's load (../shared/notes/perf.md).
#
# Usage: bench/compare.sh [SECONDS_PER_RUN [ROUNDS]]     (defaults: 5 s, 3 rounds)
# Needs: nsd unbound ldnsutils bind9-utils bind9-dnsutils dnsperf dnsmasq-base python3; root
# (NSD serves the hierarchy on port 53 of a loopback address).
set -euo pipefail
secs=${1:-5}
rounds=${2:-3}
source "$(dirname "$0")/lib.sh"
bench_hierarchy bench dnsperf dnsmasq

unbound_conf() { # PORT MODULES EXTRA
  printf 'server:\n  interface: %s@%s\n  port: %s\n  do-ip6: no\n  do-not-query-localhost: no\n' "$ip" "$1" "$1"
  printf '  access-control: 127.0.0.0/8 allow\n  username: ""\n  chroot: ""\n  directory: "%s"\n  pidfile: ""\n' "$work"
  printf '  use-syslog: no\n  logfile: ""\n  module-config: "%s"\n  qname-minimisation: no\n  so-reuseport: no\n' "$2"
  printf '  num-threads: %s\n  msg-cache-size: 64m\n  rrset-cache-size: 64m\n  verbosity: 0\n%b' "${3:-1}" "${4:-}"
  printf 'remote-control:\n  control-enable: no\n'
}
printf '. 3600 IN NS ns.\nns. 3600 IN A %s\n' "$ip" > "$work/root.hints"
unbound_conf 5301 iterator 2 "  root-hints: \"$work/root.hints\"\n" > "$work/upstream.conf"
unbound -d -c "$work/upstream.conf" >/dev/null 2>&1 & pids+=($!)
sleep 1

anchor="$work/zones/root.ds"
ds=$(awk '{print $(NF-3)","$(NF-2)","$(NF-1)","$NF}' "$anchor" | head -1)

# Each start_* sets $last_pid (no command substitution: it would wait on the server's stdout).
start_lookaside() { # PORT UPSTREAM
  "$bin" serve --listen "$ip:$1" --upstream "$2" --trust-anchor "$anchor" >/dev/null 2>>"$work/lookaside.log" &
  last_pid=$!; pids+=($last_pid)
}
start_unbound() { # PORT UPSTREAM
  unbound_conf "$1" "validator iterator" 2 "  trust-anchor-file: \"$anchor\"\n  val-log-level: 0\nforward-zone:\n  name: \".\"\n  forward-addr: ${2/:/@}\n" > "$work/unbound-$1.conf"
  unbound -d -c "$work/unbound-$1.conf" >/dev/null 2>&1 &
  last_pid=$!; pids+=($last_pid)
}
start_dnsmasq() { # PORT UPSTREAM
  dnsmasq -k --no-resolv --no-hosts --user=root --pid-file= --listen-address="$ip" --bind-interfaces --port="$1" \
    --server="${2/:/#}" --dnssec --trust-anchor=".,$ds" --cache-size=10000 --cache-rr=A,AAAA,TXT,MX,SRV,TLSA \
    >/dev/null 2>&1 &
  last_pid=$!; pids+=($last_pid)
}

servers=(lookaside unbound dnsmasq)
declare -A port=([lookaside]=5302 [unbound]=5303 [dnsmasq]=5304) pid
for s in "${servers[@]}"; do "start_$s" "${port[$s]}" "$ip:5301"; pid[$s]=$last_pid; done
sleep 1

qfile="$work/queries"
cat > "$qfile" <<Q
www.secure.example A
secure.example MX
_xmpp-client._tcp.secure.example SRV
_xmpp-server._tcp.secure.example SRV
xmpp.secure.example A
_5222._tcp.xmpp.secure.example TLSA
www.sub.secure.example A
www.nsec3.example A
www.alg13.example A
www.alg8.example A
Q
# Warm every cache (twice: forwarders that prefetch keys settle on the second pass).
for pass in 1 2; do
  for s in "${servers[@]}"; do
    while read -r n t; do dig +dnssec +tries=1 +time=2 @"$ip" -p "${port[$s]}" "$n" "$t" >/dev/null || true; done < "$qfile"
  done
done
for s in "${servers[@]}"; do
  flags=$(dig +dnssec @"$ip" -p "${port[$s]}" www.sub.secure.example A | grep -c 'flags:.* ad' || true)
  echo "$s answers with AD: $flags"
done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
declare -A qps cpu lost
run_one() { # SERVER MODE
  local s=$1 mode=$2 extra=()
  case $mode in
    udp) extra=(-c 2 -T 2 -q 100) ;;
    udp-do) extra=(-c 2 -T 2 -q 100 -D) ;;
    tcp) extra=(-m tcp -c 2 -T 2 -q 100) ;;
    2core) extra=(-c 8 -T 2 -q 500) ;;
  esac
  local before after out completed
  before=$(cpu_ticks "${pid[$s]}")
  out=$(dnsperf -s "$ip" -p "${port[$s]}" -d "$qfile" -l "$secs" "${extra[@]}" 2>&1)
  after=$(cpu_ticks "${pid[$s]}")
  completed=$(echo "$out" | awk '/Queries completed:/ {print $3}')
  qps[$s,$mode]+="$(echo "$out" | awk '/Queries per second:/ {print $4}') "
  lost[$s,$mode]+="$(echo "$out" | awk '/Queries lost:/ {print $3}') "
  cpu[$s,$mode]+="$(awk -v t=$((after - before)) -v c="${completed:-1}" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t / hz * 1e6 / (c > 0 ? c : 1)}') "
}
modes=(udp udp-do tcp 2core)
for r in $(seq 1 "$rounds"); do
  for mode in "${modes[@]}"; do
    for s in "${servers[@]}"; do run_one "$s" "$mode"; done
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
echo
echo "Cache hits, median of $rounds rounds of ${secs}s, dnsperf -c 2 -T 2 -q 100 (2core: -c 8 -T 2 -q 500; ratios to Unbound):"
printf '%-10s %-7s %12s %8s %14s %8s %8s\n' server mode qps ratio "CPU us/query" ratio lost
for mode in "${modes[@]}"; do
  uq=$(echo "${qps[unbound,$mode]}" | median); uc=$(echo "${cpu[unbound,$mode]}" | median)
  for s in "${servers[@]}"; do
    q=$(echo "${qps[$s,$mode]}" | median); c=$(echo "${cpu[$s,$mode]}" | median); l=$(echo "${lost[$s,$mode]}" | median)
    printf '%-10s %-7s %12.0f %8.2f %14.2f %8.2f %8s\n' "$s" "$mode" "$q" "$(awk -v a="$q" -v b="$uq" 'BEGIN{print (b > 0 ? a / b : 0)}')" "$c" "$(awk -v a="$c" -v b="$uc" 'BEGIN{print (b > 0 ? a / b : 0)}')" "$l"
  done
done

# Memory per cached name and cache misses: 50,000 names under the wildcard, each asked once.
names=50000
misses="$work/misses"
awk -v n=$names 'BEGIN { for (i = 0; i < n; i++) printf "m%d.wild.secure.example A\n", i }' > "$misses"
# First 5,000 other names, so that the miss path's working memory (a hundred validations in
# flight) is in place before counting starts: what grows after is the cache.
awk 'BEGIN { for (i = 0; i < 5000; i++) printf "w%d.wild.secure.example A\n", i }' > "$misses.warm"
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
echo
echo "Cache misses: $names distinct wildcard names (each validated), dnsperf -n 1 -c 2 -T 2 -q 100;"
echo "memory per cached name = RSS growth / $names:"
printf '%-10s %12s %8s %8s %14s %8s\n' server qps ratio lost "B per name" ratio
declare -A mqps mbytes mlost
for s in "${servers[@]}"; do
  dnsperf -s "$ip" -p "${port[$s]}" -d "$misses.warm" -n 1 -c 2 -T 2 -q 100 >/dev/null 2>&1
  sleep 1
  before=$(rss_kib "${pid[$s]}")
  out=$(dnsperf -s "$ip" -p "${port[$s]}" -d "$misses" -n 1 -c 2 -T 2 -q 100 2>&1)
  sleep 1
  after=$(rss_kib "${pid[$s]}")
  mqps[$s]=$(echo "$out" | awk '/Queries per second:/ {print $4}')
  mlost[$s]=$(echo "$out" | awk '/Queries lost:/ {print $3}')
  mbytes[$s]=$(( (after - before) * 1024 / names ))
done
for s in "${servers[@]}"; do
  printf '%-10s %12.0f %8.2f %8s %14s %8.2f\n' "$s" "${mqps[$s]}" "$(awk -v a="${mqps[$s]}" -v b="${mqps[unbound]}" 'BEGIN{print (b > 0 ? a / b : 0)}')" \
    "${mlost[$s]}" "${mbytes[$s]}" "$(awk -v a="${mbytes[$s]}" -v b="${mbytes[unbound]}" 'BEGIN{print (b > 0 ? a / b : 0)}')"
done

# Cold cache: a fresh server behind a counting relay in front of the warm upstream.
echo
echo "Cold cache, first validated answer for www.sub.secure.example A (3 signed levels below the root):"
time_query() { # PORT -> milliseconds and AD flag
  python3 - "$ip" "$1" <<'PY'
import socket, struct, sys, time
ip, port = sys.argv[1], int(sys.argv[2])
q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 1)
for label in b"www.sub.secure.example".split(b"."):
    q += bytes([len(label)]) + label
q += b"\x00" + struct.pack(">HH", 1, 1) + b"\x00\x00\x29\x04\xd0\x00\x00\x80\x00\x00\x00"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
t = time.perf_counter(); s.sendto(q, (ip, port)); r = s.recv(65535); dt = (time.perf_counter() - t) * 1000
print(f"{dt:.2f} ms, AD={'yes' if r[3] & 0x20 else 'no'}")
PY
}
relay_port=5310
for s in "${servers[@]}"; do
  relay_port=$((relay_port + 1))
  python3 "$root/bench/relay.py" "$ip" "$relay_port" "$ip" 5301 "$work/count-$s" & pids+=($!)
  sleep 0.3
  cold_port=$((relay_port + 100))
  "start_$s" "$cold_port" "$ip:$relay_port"
  # Long enough for lookaside's start-up probe of its upstream (four queries, at most 1.5 s
  # each; the relay has no TCP) to be over before counting starts.
  sleep 4
  rm -f "$work/count-$s"
  result=$(time_query "$cold_port")
  sleep 0.5
  echo "  $s: $result, $(cat "$work/count-$s" 2>/dev/null || echo 0) upstream queries"
done
