#!/usr/bin/env bash
# Runs every test of the workspace on a fresh Debian machine: installs the DNS software the
# integration tests drive (NSD, Unbound, ldns and BIND tools) when missing; builds and checks the
# Debian package (packaging/build-deb.sh, packaging/check-deb.sh: lintian, man pages,
# completions, a debootstrap root for the install test); then cargo test, which installs that
# package into a copy of the root; then the container check.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pair in nsd:nsd unbound:unbound ldns-signzone:ldnsutils dnssec-signzone:bind9-utils dig:bind9-dnsutils \
    unbound-host:unbound-host lua5.4:lua5.4 erl:erlang-base gcc:gcc prosody:prosody openssl:openssl dnsmasq:dnsmasq-base make:make; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || need+=("$pkg")
done
# lua-unbound is a library: look for the module itself.
[ -e /usr/lib/x86_64-linux-gnu/lua/5.4/lunbound.so ] || ls /usr/lib/*/lua/5.4/lunbound.so >/dev/null 2>&1 || need+=(lua-unbound)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  # Keep the packages' own services (nsd, unbound) from starting: the tests run their own copies
  # on their own addresses, and a system NSD on 0.0.0.0:53 would take the port they need.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

deb=$(packaging/build-deb.sh | tail -n 1)
deb_root=$(packaging/check-deb.sh "$deb" | tee /dev/stderr | tail -n 1)
LOOKASIDE_DEB="$deb" LOOKASIDE_DEB_ROOT="$deb_root" cargo test --workspace --locked "$@"
# The Dockerfile's own build command (no Docker engine here to build the image itself).
tests/dockerfile-check.sh
