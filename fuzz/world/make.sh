#!/usr/bin/env bash
# Remakes fuzz/world/lookups.bin (the key-lookup answers of the validate_fixtures fuzz target)
# and its seeds in fuzz/corpus/validate_fixtures from the signed test zones in
# crates/dnssec/tests/fixtures (signed by ldns-signzone through tests/zones/make-zones.sh).
# Run it after re-signing those zones; `cargo test` fails while the table is stale.
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf fuzz/corpus/validate_fixtures
LOOKASIDE_WRITE_CORPUS=1 cargo test -q -p lookaside-dnssec --test fuzz_corpus validate_fixtures
