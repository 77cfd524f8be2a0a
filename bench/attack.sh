#!/usr/bin/env bash
# Attacks from outside on a release build, on loopback, bounded in time; one line per attack:
#   memory  — a flood of distinct names under a wildcard with a ~6 kB signed TXT answer:
#             resident memory growth and cache bytes against the configured budget;
#   tcp     — 1,000 idle TCP connections held open, then 24 TCP queries: how many are answered
#             and how long the slowest took;
#   burst   — 200 identical questions for a cold name at once, through a relay that delays each
#             upstream query 300 ms: how many reached the upstream.
# Usage: bench/attack.sh            Needs: nsd unbound ldnsutils bind9-utils bind9-dnsutils
#                                   dnsperf python3; root (NSD on port 53 of a loopback address).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
extra="*.big.secure.example. 3600 IN TXT $(python3 -c "print(' '.join('\"' + chr(97 + i) * 250 + '\"' for i in range(24)))")"
bench_hierarchy attack dnsperf
printf '. 3600 IN NS ns.\nns. 3600 IN A %s\n' "$ip" > "$work/root.hints"
printf 'server:\n  interface: %s@5301\n  do-ip6: no\n  do-not-query-localhost: no\n  access-control: 127.0.0.0/8 allow\n  username: ""\n  chroot: ""\n  directory: "%s"\n  pidfile: ""\n  use-syslog: no\n  logfile: ""\n  module-config: "iterator"\n  num-threads: 2\n  root-hints: "%s/root.hints"\n  verbosity: 0\nremote-control:\n  control-enable: no\n' "$ip" "$work" "$work" > "$work/unbound.conf"
unbound -d -c "$work/unbound.conf" >/dev/null 2>&1 & pids+=($!)
sleep 1

# A relay that delays every query 300 ms and counts them by "name type" (for the burst).
cat > "$work/relay.py" <<'PY'
import socket, struct, sys, threading, time
ip, port, up, upport, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((ip, port))
counts, lock = {}, threading.Lock()
def qname(p):
    i, labels = 12, []
    while i < len(p) and p[i]:
        labels.append(p[i + 1:i + 1 + p[i]].decode(errors="replace").lower()); i += 1 + p[i]
    return ".".join(labels) + ". " + str(struct.unpack(">H", p[i + 1:i + 3])[0])
def relay(p, peer):
    time.sleep(0.3)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(3)
    u.sendto(p, (up, upport))
    try: s.sendto(u.recv(65535), peer)
    except OSError: pass
while True:
    p, peer = s.recvfrom(65535)
    with lock:
        k = qname(p); counts[k] = counts.get(k, 0) + 1
        open(out, "w").write("\n".join(f"{v} {k}" for k, v in counts.items()))
    threading.Thread(target=relay, args=(p, peer), daemon=True).start()
PY
python3 "$work/relay.py" "$ip" 5310 "$ip" 5301 "$work/counts" & pids+=($!)

cat > "$work/l.toml" <<T
trust-anchors = ["$work/zones/root.ds"]
log-level = "warn"
[cache]
memory = "16M"
T
"$bin" serve --config "$work/l.toml" --listen "$ip:5302" --upstream "$ip:5301" --control-socket "$work/ctl.sock" >/dev/null 2>"$work/l.log" & lpid=$!; pids+=($lpid)
"$bin" serve --config "$work/l.toml" --listen "$ip:5303" --upstream "$ip:5310" --control-socket "$work/ctl2.sock" >/dev/null 2>"$work/l2.log" & pids+=($!)
sleep 1
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# memory
dig @"$ip" -p 5302 +short www.secure.example A >/dev/null
before=$(rss "$lpid")
python3 -c "[print(f'n{i}.big.secure.example TXT') for i in range(20000)]" > "$work/q"
dnsperf -s "$ip" -p 5302 -d "$work/q" -l 15 -c 4 -T 2 -q 100 -n 1 >"$work/dnsperf" 2>&1 || true
after=$(rss "$lpid")
bytes=$("$bin" ctl --socket "$work/ctl.sock" status | awk '/^cache answers/ {print $7}')
sent=$(awk '/Queries completed:/ {print $3}' "$work/dnsperf")
echo "memory: $sent distinct ~6 kB answers: RSS $((before / 1024)) -> $((after / 1024)) MiB (+$(((after - before) / 1024)) MiB), caches hold $((bytes / 1024)) KiB of a 16 MiB budget"

# tcp
python3 - "$ip" 5302 <<'PY'
import socket, struct, sys, time
ip, port = sys.argv[1], int(sys.argv[2])
idle = []
for _ in range(1000):
    try: c = socket.create_connection((ip, port), timeout=2); idle.append(c)
    except OSError: pass
time.sleep(0.5)
q = struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0) + b"\x03www\x06secure\x07example\x00" + struct.pack(">HH", 1, 1)
ok, slowest = 0, 0.0
for _ in range(24):
    t = time.perf_counter()
    try:
        c = socket.create_connection((ip, port), timeout=5); c.settimeout(5)
        c.sendall(struct.pack(">H", len(q)) + q)
        n = struct.unpack(">H", c.recv(2))[0]
        if len(c.recv(n)) > 0: ok += 1
        c.close()
    except OSError: pass
    slowest = max(slowest, time.perf_counter() - t)
print(f"tcp: {len(idle)} idle connections held open: {ok}/24 TCP queries answered, slowest {slowest * 1000:.0f} ms")
PY

# burst
python3 - "$ip" 5303 <<'PY'
import socket, struct, sys, threading
ip, port = sys.argv[1], int(sys.argv[2])
q = struct.pack(">HHHHHH", 0x4343, 0x0100, 1, 0, 0, 0) + b"\x03www\x03sub\x06secure\x07example\x00" + struct.pack(">HH", 1, 1)
answered = []
def ask():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(8)
    s.sendto(q, (ip, port))
    try: s.recv(65535); answered.append(1)
    except OSError: pass
ts = [threading.Thread(target=ask) for _ in range(200)]
[t.start() for t in ts]; [t.join() for t in ts]
print(f"burst: 200 identical cold questions, {len(answered)} answered", end="")
PY
echo ", upstream queries for it: $(awk '$2 == "www.sub.secure.example." && $3 == 1 {print $1}' "$work/counts" 2>/dev/null || echo 0), all upstream queries: $(awk '{s += $1} END {print s}' "$work/counts")"
