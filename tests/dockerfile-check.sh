#!/usr/bin/env bash
# No Docker engine runs here, so the image cannot be built; this runs the Dockerfile's build
# command exactly as its RUN line says, and checks that every file it COPYs exists.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -E '^COPY ' Dockerfile | grep -v -- '--from' | awk '{print $2}' | while read -r src; do
  [ "$src" = . ] || [ -e "$src" ] || { echo "Dockerfile copies missing $src"; exit 1; }
done
cmd=$(grep -E '^RUN cargo ' Dockerfile | sed 's/^RUN //')
echo "Dockerfile build step: $cmd"
eval "$cmd"
test -x target/release/lookaside
target/release/lookaside check-config config/docker.toml >/dev/null
echo "dockerfile-check: 1 passed, 0 failed"
