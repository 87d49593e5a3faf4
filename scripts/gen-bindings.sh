#!/usr/bin/env bash
# Generates the Kotlin, Swift and Python bindings from the built library into bindings/ (or the
# directory given as $1, which scripts/test.sh uses to check that bindings/ is not stale).
#
# The bindings come from the uniffi metadata inside the library, so they are generated from the
# library as built, *before* any stripping: `strip` removes the UNIFFI_META_* symbols and
# generation then fails with "No UniFFI metadata found". The stripped library still runs.
#
# Prints the built library's path on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT="${1:-bindings}"
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
LIB="$TARGET_DIR/debug/libportal_state.so"
BINDGEN="$TARGET_DIR/debug/uniffi-bindgen"

# The bindgen binary and the library in one build: the same uniffi, the same features.
# scripts/test.sh adds `fault-injection` (PORTAL_STATE_BINDGEN_FEATURES) so that the library it
# generates from is the one its tests load; that feature exports nothing, the bindings are equal.
FEATURES="${PORTAL_STATE_BINDGEN_FEATURES:-uniffi-cli}"
# With the devnet example too: an example brings in the dev-dependencies, whose features unify
# with the library's; built without one, cargo resolves other features and rebuilds half the
# dependency tree that scripts/test.sh has just built for its tests.
cargo build --locked --quiet --features "$FEATURES" --lib --bin uniffi-bindgen \
    --example devnet-for-bindings >&2

rm -rf "$OUT/kotlin" "$OUT/swift" "$OUT/python"
for language in kotlin swift python; do
    # --no-format: no ktlint / swiftformat / yapf, so the output is the same on every machine.
    "$BINDGEN" generate "$LIB" --language "$language" --no-format \
        --out-dir "$OUT/$language" >&2
done
echo "$LIB"
