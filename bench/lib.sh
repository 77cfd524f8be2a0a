# Shared setup of the benchmark scripts (source it): `bench_hierarchy NAME TOOLS... [-- EXTRA]`
# checks the tools, makes a work directory (removed on exit, with every process in $pids
# stopped), picks a loopback address with port 53 free ($ip), builds the release binary ($bin),
# signs the test hierarchy (tests/zones/make-zones.sh, with the zone-file lines in $extra added
# to secure.example. when set) and serves it with NSD on $ip:53.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
pids=()

bench_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}

bench_hierarchy() { # NAME TOOLS...
  local name=$1; shift
  for tool in nsd unbound ldns-signzone dnssec-signzone dig python3 "$@"; do
    command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] \
      || { echo "missing $tool (apt-get install nsd unbound ldnsutils bind9-utils bind9-dnsutils dnsperf dnsmasq-base)"; exit 1; }
  done
  work=$(mktemp -d "/tmp/lookaside-$name.XXXXXX")
  trap bench_cleanup EXIT
  ip=
  for x in $(seq 200 250); do
    if python3 -c "import socket; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(('127.0.0.$x',53)); t=socket.socket(); t.bind(('127.0.0.$x',53))" 2>/dev/null; then ip=127.0.0.$x; break; fi
  done
  [ -n "$ip" ] || { echo "no loopback address with a free port 53"; exit 1; }
  echo "building lookaside (release)..."
  (cd "$root" && cargo build --release -q -p lookaside)
  bin="$root/target/release/lookaside"
  local env=()
  if [ -n "${extra:-}" ]; then printf '%s\n' "$extra" > "$work/extra"; env=(EXTRA_SECURE_RECORDS="$work/extra"); fi
  env "${env[@]}" "$root/tests/zones/make-zones.sh" "$work/zones" "$(date -u -d yesterday +%Y%m%d)" \
    "$(date -u -d '+30 days' +%Y%m%d)" "$ip" >/dev/null 2>&1
  {
    printf 'server:\n  ip-address: %s@53\n  username: ""\n  chroot: ""\n  zonesdir: "%s/zones"\n  database: ""\n' "$ip" "$work"
    printf '  zonelistfile: "%s/zone.list"\n  xfrdfile: "%s/xfrd.state"\n  pidfile: "%s/nsd.pid"\n  logfile: "%s/nsd.log"\n' "$work" "$work" "$work" "$work"
    printf '  server-count: 1\n  rrl-ratelimit: 0\nremote-control:\n  control-enable: no\n'
    while read -r zone file; do printf 'zone:\n  name: "%s"\n  zonefile: "%s"\n' "$zone" "$file"; done < "$work/zones/zones.list"
  } > "$work/nsd.conf"
  nsd -d -c "$work/nsd.conf" >/dev/null 2>&1 & pids+=($!)
}
