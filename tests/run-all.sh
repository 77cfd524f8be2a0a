#!/usr/bin/env bash
# Runs every test of the workspace on a fresh Debian machine: installs the DNS software the
# integration tests drive (NSD, Unbound, ldns and BIND tools) when missing, then cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pair in nsd:nsd unbound:unbound ldns-signzone:ldnsutils dnssec-signzone:bind9-utils dig:bind9-dnsutils; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

cargo test --workspace --locked "$@"
