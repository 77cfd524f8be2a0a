#!/usr/bin/env bash
# Builds the Debian package lookaside_VERSION-1_ARCH.deb with cargo-deb (metadata in
# crates/lookaside/Cargo.toml): the release binary, then the man pages and shell completions that
# the binary writes from its own definitions (`lookaside dist`), then the package. Installs
# cargo-deb from crates.io when missing. The last line printed is the path of the .deb.
set -euo pipefail
cd "$(dirname "$0")/.."

# 3.x reads the manifest format used here; --locked keeps its own dependencies as released.
command -v cargo-deb >/dev/null 2>&1 || cargo install --locked --quiet cargo-deb@^3 >&2

cargo build --release --locked -p lookaside >&2
rm -rf target/release/dist
target/release/lookaside dist target/release/dist
# Debian policy §12.1: man pages are compressed with gzip -9, without a timestamp (-n).
gzip -9n target/release/dist/man/*
# Stripped: the release profile keeps line tables for backtraces, which a package does not need
# (lintian: unstripped-binary-or-object).
cargo deb -p lookaside --no-build --locked --strip >&2
debs=$(ls -t target/debian/lookaside_*.deb)
deb=${debs%%$'\n'*}
echo "$(pwd)/$deb"
