#!/usr/bin/env bash
# The network tests (issue #6): a light node behind NATs, on a lossy and slow link, moving
# between networks, pausing, with storage nodes dying — on real Linux network namespaces.
# scripts/test.sh runs it; run it alone with `sudo ./scripts/network-tests.sh`.
#
# Needs root, iproute2 and iptables (scripts/install-test-deps.sh installs them). Skips, with a
# message, only where the kernel refuses network namespaces. Every namespace is removed at
# exit, on failure too. Numbers are printed as `RESULT {...}` lines (BENCHMARKS.md, "Bad
# links (#6)"); NETTEST_RESULTS=FILE also writes them to FILE as JSON.
set -euo pipefail
cd "$(dirname "$0")/.."

PROBE="psprobe$$"
if ! ip netns add "$PROBE" 2>/dev/null; then
    echo "network tests SKIPPED: this kernel (or container) refuses network namespaces" \
        "(ip netns add failed; they need root and CAP_SYS_ADMIN)"
    exit 0
fi
ip netns del "$PROBE"
command -v iptables >/dev/null || { echo "iptables missing: ./scripts/install-test-deps.sh"; exit 1; }

# With the features scripts/test.sh builds everything with, so that its build is reused.
cargo build --locked --quiet ${PORTAL_STATE_BINDGEN_FEATURES:+--features "$PORTAL_STATE_BINDGEN_FEATURES"} \
    --example devnet-for-bindings --example light-client
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
exec python3 scripts/network-tests.py \
    "$TARGET_DIR/debug/examples/devnet-for-bindings" "$TARGET_DIR/debug/examples/light-client"
