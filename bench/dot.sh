#!/usr/bin/env bash
# DNS over TLS to the upstream, against plain UDP to the same resolver, in one run:
#   lookaside (UDP upstream)  -> Unbound iterator (5301) -> NSD hierarchy
#   lookaside (TLS upstream)  -> Unbound DoT forwarder (5305, test CA) -> the same Unbound
#   lookaside (UDP upstream)  -> the same Unbound DoT forwarder's plain port (5306): the extra hop
#                                without TLS, to separate TLS's cost from the hop's
# Cache-miss validated queries per second with dnsperf (every name distinct: q<N>.wild.secure.example
# A, a signed wildcard expansion), and TLS handshakes per 10,000 queries from `lookaside ctl
# status`. Ratios are what to quote (../shared/notes/perf.md).
#
# Usage: bench/dot.sh [SECONDS [ROUNDS]]   (defaults: 10 s, 3 rounds)
# Needs: nsd unbound ldnsutils bind9-utils bind9-dnsutils dnsperf openssl python3; root.
set -euo pipefail
secs=${1:-10}
rounds=${2:-3}
source "$(dirname "$0")/lib.sh"
bench_hierarchy dot-bench dnsperf openssl

(cd "$work" && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key 2>/dev/null \
  && openssl req -x509 -new -key ca.key -out ca.pem -days 30 -subj /CN=bench-ca 2>/dev/null \
  && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out srv.key 2>/dev/null \
  && openssl req -new -key srv.key -out srv.csr -subj /CN=dot.bench 2>/dev/null \
  && printf 'subjectAltName=DNS:dot.bench\nbasicConstraints=CA:FALSE\n' > ext.cnf \
  && openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 30 -extfile ext.cnf 2>/dev/null)

common='  do-ip6: no\n  do-not-query-localhost: no\n  access-control: 127.0.0.0/8 allow\n  username: ""\n  chroot: ""\n  pidfile: ""\n  use-syslog: no\n  logfile: ""\n  qname-minimisation: no\n  so-reuseport: no\n  msg-cache-size: 64m\n  rrset-cache-size: 64m\n  verbosity: 0\n'
printf '. 3600 IN NS ns.\nns. 3600 IN A %s\n' "$ip" > "$work/root.hints"
printf "server:\n  interface: $ip@5301\n  directory: \"$work\"\n  module-config: \"iterator\"\n  num-threads: 2\n  root-hints: \"$work/root.hints\"\n$common""remote-control:\n  control-enable: no\n" > "$work/upstream.conf"
unbound -d -c "$work/upstream.conf" >/dev/null 2>&1 & pids+=($!)
printf "server:\n  interface: $ip@5305\n  interface: $ip@5306\n  tls-port: 5305\n  tls-service-key: \"$work/srv.key\"\n  tls-service-pem: \"$work/srv.pem\"\n  incoming-num-tcp: 100\n  directory: \"$work\"\n  module-config: \"iterator\"\n  num-threads: 1\n$common""forward-zone:\n  name: \".\"\n  forward-addr: $ip@5301\nremote-control:\n  control-enable: no\n" > "$work/dot.conf"
unbound -d -c "$work/dot.conf" >/dev/null 2>&1 & pids+=($!)
sleep 1

start_lookaside() { # PORT UPSTREAM-TOML
  printf 'upstreams = [%s]\ntls-ca-file = "%s"\ntrust-anchors = ["%s"]\nlog-level = "warn"\n[cache]\nanswers = 1000000\n' \
    "$2" "$work/ca.pem" "$work/zones/root.ds" > "$work/l-$1.toml"
  "$bin" serve --config "$work/l-$1.toml" --listen "$ip:$1" --control-socket "$work/ctl-$1.sock" >/dev/null 2>>"$work/lookaside.log" &
  pids+=($!)
}
start_lookaside 5302 "\"$ip:5301\""
start_lookaside 5303 "\"tls://$ip:5305#dot.bench\""
start_lookaside 5304 "\"$ip:5306\""
sleep 1
for p in 5302 5303 5304; do
  dig +dnssec @"$ip" -p "$p" www.secure.example A | grep -q 'flags:.* ad' || { echo "lookaside on $p does not validate"; cat "$work/lookaside.log"; exit 1; }
done

declare -A qps
names=(udp tls udp-via-dot)
declare -A lport=([udp]=5302 [tls]=5303 [udp-via-dot]=5304)
total=0
for r in $(seq 1 "$rounds"); do
  for n in "${names[@]}"; do
    # Fresh names every run: each query is a cache miss, validated (wildcard expansion + proof).
    python3 -c "import sys; [print(f'q{sys.argv[1]}{i}.wild.secure.example A') for i in range(400000)]" "$r$n" > "$work/q"
    out=$(dnsperf -s "$ip" -p "${lport[$n]}" -d "$work/q" -l "$secs" -c 2 -T 2 -q 200 2>&1)
    qps[$n]+="$(echo "$out" | awk '/Queries per second:/ {print $4}') "
    [ "$n" = tls ] && total=$((total + $(echo "$out" | awk '/Queries completed:/ {print $3}')))
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
status=$("$bin" ctl --socket "$work/ctl-5303.sock" status | grep '^upstream')
hs=$(echo "$status" | grep -o 'handshakes=[0-9]*' | cut -d= -f2)
echo
echo "Cache-miss validated queries, median of $rounds rounds of ${secs}s, dnsperf -c 2 -T 2 -q 200:"
u=$(echo "${qps[udp]}" | median)
for n in "${names[@]}"; do
  q=$(echo "${qps[$n]}" | median)
  printf '  %-12s %10.0f qps  %5.2f x UDP\n' "$n" "$q" "$(awk -v a="$q" -v b="$u" 'BEGIN{print (b > 0 ? a / b : 0)}')"
done
echo "  TLS: $hs handshake(s) for $total client queries ($(awk -v h="$hs" -v t="$total" 'BEGIN{printf "%.2f", (t > 0) ? (h * 10000 / t) : 0}') per 10,000)"
echo "  $status"
