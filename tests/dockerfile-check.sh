#!/usr/bin/env bash
# No Docker engine runs here, so the image itself cannot be built. This checks as much of it as
# can be checked without one:
#   1. every file the Dockerfile COPYs exists, and its RUN build command succeeds as written;
#   2. the image's contents are staged as the Dockerfile lays them out (the release binary,
#      config/docker.toml as /etc/lookaside/lookaside.toml, the trust anchors);
#   3. the ENTRYPOINT's command runs from that stage as an unprivileged user, in a fresh network
#      namespace where unprivileged processes may bind port 53 (Docker sets
#      net.ipv4.ip_unprivileged_port_start=0 in a container's namespace since 20.10), binds
#      0.0.0.0:53 and [::]:53 as docker.toml says, answers from loopback, and refuses a client
#      outside docker.toml's allow list.
# Not covered: the debian:bookworm-slim base image, the useradd in the image, Docker's bridge
# network and port publishing. The upstream is set to an unreachable address (the container's
# resolv.conf is Docker's to write), so only locally answered queries are checked.
set -euo pipefail
cd "$(dirname "$0")/.."
passed=0
ok() { passed=$((passed + 1)); echo "dockerfile-check: ok: $*"; }
fail() { echo "dockerfile-check: FAILED: $*" >&2; exit 1; }

grep -E '^COPY ' Dockerfile | grep -v -- '--from' | awk '{print $2}' | while read -r src; do
  [ "$src" = . ] || [ -e "$src" ] || fail "Dockerfile copies missing $src"
done
ok "every COPY source exists"
cmd=$(grep -E '^RUN cargo ' Dockerfile | sed 's/^RUN //')
echo "Dockerfile build step: $cmd"
eval "$cmd"
test -x target/release/lookaside || fail "no release binary"
target/release/lookaside check-config config/docker.toml >/dev/null || fail "config/docker.toml is refused"
ok "build step and config/docker.toml"

stage=$(mktemp -d /tmp/lookaside-image.XXXXXX)
trap 'rm -rf "$stage"' EXIT
# The final stage's COPY lines, with their image paths under $stage.
grep -E '^COPY ' Dockerfile | while read -r _ a b c; do
  if [ "$a" = "--from=build" ]; then src=${b#/src/}; dst=$c; else src=$a; dst=$b; fi
  [ "$src" = . ] && continue
  mkdir -p "$stage$(dirname "$dst")"
  cp -r "$src" "$stage$dst"
done
chmod -R a+rX "$stage"
test -x "$stage/usr/local/bin/lookaside" && test -f "$stage/etc/lookaside/lookaside.toml" \
  && test -d "$stage/etc/lookaside/trust-anchors" || fail "staged image lacks files: $(find "$stage" -type f)"
ok "image contents staged as the Dockerfile lays them out"

# ENTRYPOINT ["/usr/local/bin/lookaside", "serve", "--config", "/etc/lookaside/lookaside.toml"]
entry=$(grep -E '^ENTRYPOINT' Dockerfile | sed 's/^ENTRYPOINT *//' | tr -d '[],"')
read -r -a argv <<<"$entry"
for i in "${!argv[@]}"; do
  case ${argv[$i]} in /usr/local/*|/etc/lookaside*) argv[$i]="$stage${argv[$i]}" ;; esac
done
out=$(unshare --net --mount --fork bash -s -- "$stage" "${argv[@]}" <<'INNER'
set -euo pipefail
stage=$1; shift
ip link set lo up
sysctl -qw net.ipv4.ip_unprivileged_port_start=0
mount -t tmpfs tmpfs /run && mkdir -p /run/lookaside && chown nobody /run/lookaside
ip addr add 192.0.2.10/32 dev lo
setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@" --upstream 127.0.0.1:9 >"$stage/log" 2>&1 &
pid=$!
for _ in $(seq 50); do
  dig @127.0.0.1 +time=1 +tries=1 CH TXT version.bind >"$stage/dig" 2>&1 && break
  sleep 0.1
done
echo "user=$(ps -o user= -p "$pid")"
echo "v4=$(dig @127.0.0.1 +short +time=2 CH TXT version.bind)"
echo "v6=$(dig @::1 +short +time=2 CH TXT version.bind)"
# 192.0.2.10 (documentation range, on lo here) is outside docker.toml's allow list; asked on that
# address, the kernel uses it as the source too.
echo "outside=$(dig @192.0.2.10 +time=2 CH TXT version.bind | grep -o 'status: [A-Z]*')"
kill "$pid"; wait "$pid" 2>/dev/null || true
INNER
) || fail "the staged image did not run: $out $(cat "$stage/log" 2>/dev/null)"
echo "$out"
grep -q '^user=nobody$' <<<"$out" || fail "not running as the unprivileged user: $out"
grep -q '^v4="lookaside' <<<"$out" || fail "no answer on 0.0.0.0:53: $out $(cat "$stage/log")"
grep -q '^v6="lookaside' <<<"$out" || fail "no answer on [::]:53: $out"
grep -q '^outside=status: REFUSED$' <<<"$out" || fail "a client outside allow was not refused: $out"
ok "ENTRYPOINT as nobody binds port 53 (IPv4 and IPv6), answers loopback, refuses 192.0.2.10"
echo "dockerfile-check: $passed passed, 0 failed"
