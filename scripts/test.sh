#!/usr/bin/env bash
# The project's one test command (README, "Test"). CI runs it through .ci/run on a fresh clone.
# It installs what the tests need, then runs formatting, lints, docs and every test.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step's wall time is printed when the next begins, and all of them at the end (the CI
# steps table in BENCHMARKS.md comes from these lines).
STEP_NAME=""
STEP_START=$SECONDS
STEP_TIMES=()
step_done() {
    if [ -n "$STEP_NAME" ]; then
        STEP_TIMES+=("$(printf '%5d s  %s' $((SECONDS - STEP_START)) "$STEP_NAME")")
    fi
}
step() {
    step_done
    STEP_NAME="$*"
    STEP_START=$SECONDS
    printf '\n==> %s\n' "$*"
}
report_times() {
    step_done
    STEP_NAME=""
    printf '\n==> step times (wall)\n'
    printf '%s\n' "${STEP_TIMES[@]}"
    printf '%5d s  total\n' "$SECONDS"
}
trap report_times EXIT

# A CI run builds once from scratch: incremental artifacts would only cost disk and time.
if [ "${CI:-}" = "true" ]; then
    export CARGO_INCREMENTAL=0
fi

# The test dependencies are mostly downloads (npm, PyPI, rustup, debootstrap, Maven): they are
# installed in the background while the format, lint and docs steps keep the CPUs busy. Their
# log is printed when the "test dependencies" step waits for them.
SCRATCH="$(mktemp -d)"
DEPS_PID=""
FUZZ_PID=""
trap 'kill ${DEPS_PID:+"$DEPS_PID"} ${FUZZ_PID:+"$FUZZ_PID"} 2>/dev/null || true; rm -rf "$SCRATCH"; report_times' EXIT
DEPS_ENV="$SCRATCH/deps.env"
DEPS_LOG="$SCRATCH/deps.log"
./scripts/install-test-deps.sh >"$DEPS_ENV" 2>"$DEPS_LOG" &
DEPS_PID=$!

step "toolchain"
cargo --version
# rustfmt and clippy ship with the rustup toolchain on our machines; fail early and clearly if not.
cargo fmt --version >/dev/null || { echo "rustfmt missing: rustup component add rustfmt"; exit 1; }
cargo clippy --version >/dev/null || { echo "clippy missing: rustup component add clippy"; exit 1; }

step "format"
cargo fmt --all -- --check

step "lint"
cargo clippy --locked --all-targets -- -D warnings
# No import cycle between files of src/, no import up the layers (the table in the script).
python3 scripts/check-layers.py

step "docs (every public item documented, no broken links)"
# The library's API (the CLI binary has no public items of its own), and the examples: they
# bring in the dev-dependencies, so the features resolve as for lint's `--all-targets` and its
# check build of the dependency tree is reused (the library alone resolves other features of
# k256, syn, log, … and re-checks most of the tree: 310 s from a fresh clone).
RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps --lib --examples --quiet

step "build: every test program, bench and example, the bindings' library and uniffi-bindgen"
# The features of the library the bindings are generated from and the Kotlin, Python and C
# tests load (`fault-injection` lets them force a panic inside a call, node::PANIC_IN_CALL).
# The Rust tests build with them too, so that the later steps reuse this build.
export PORTAL_STATE_BINDGEN_FEATURES="uniffi-cli,fault-injection"
cargo test --locked --all-targets --features "$PORTAL_STATE_BINDGEN_FEATURES" --no-run

step "test dependencies (anvil and cast, cargo-fuzz, the Swift chroot, web3.py and viem, ...)"
# Waits for the install started at the top (it ran beside the steps before this one).
if ! wait "$DEPS_PID"; then
    cat "$DEPS_LOG" >&2
    echo "test dependencies: ./scripts/install-test-deps.sh failed" >&2
    exit 1
fi
DEPS_PID=""
cat "$DEPS_LOG" >&2
# The tests read these variables and fail, never skip, when they are missing.
eval "$(cat "$DEPS_ENV")"
export PORTAL_STATE_ANVIL PORTAL_STATE_CAST PORTAL_STATE_PYTHONPATH PORTAL_STATE_NODE_PATH
export PORTAL_STATE_CARGO_FUZZ PORTAL_STATE_FUZZ_TOOLCHAIN PORTAL_STATE_FUZZ_BOOTSTRAP
export PORTAL_STATE_SWIFT_CHROOT
echo "anvil: $PORTAL_STATE_ANVIL"
echo "cast:  $PORTAL_STATE_CAST"

export FUZZ_SECONDS="${FUZZ_SECONDS:-5}"
# Unoptimised: its own dependency build (coverage instrumentation) takes half the time, and a
# 5 s run from the corpus finds the same panics. FUZZ_PROFILE=release for long runs.
export FUZZ_PROFILE="${FUZZ_PROFILE:-dev}"
# The fuzz smoke run builds its own dependency tree (instrumented) and is CPU-bound; most of the
# test steps below wait on sockets, timers and child processes. So it runs beside them, and
# the last step waits for it and prints its log. At the lowest CPU priority: the tests' own
# processes (nodes, anvil, devnets, the JVM) get the CPU whenever they need it.
FUZZ_LOG="$SCRATCH/fuzz.log"
(
    start=$SECONDS
    status=0
    nice -n 19 ./scripts/fuzz-smoke.sh || status=$?
    echo "$((SECONDS - start))" >"$SCRATCH/fuzz.seconds"
    exit "$status"
) >"$FUZZ_LOG" 2>&1 &
FUZZ_PID=$!

step "tests (benches run once too, in a short smoke mode; 'cargo bench' gives the numbers)"
cargo test --locked --all-targets --features "$PORTAL_STATE_BINDGEN_FEATURES"

step "network tests: a light node behind NATs, on a lossy slow link, moving, pausing (namespaces)"
# Skips with a message only where the kernel refuses network namespaces.
./scripts/network-tests.sh

step "bindings: the library, uniffi-bindgen and the devnet the binding tests run against"
# The library the bindings are generated from is the library the Kotlin, Python and C tests
# load (already built by the test step, with the same features).
cargo build --locked --features "$PORTAL_STATE_BINDGEN_FEATURES" \
    --lib --bin uniffi-bindgen --example devnet-for-bindings
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
DEVNET="$TARGET_DIR/debug/examples/devnet-for-bindings"

step "bindings/ is what the library generates (else: ./scripts/gen-bindings.sh and commit)"
FRESH="$SCRATCH/bindings"
LIB="$(./scripts/gen-bindings.sh "$FRESH")"
diff -r bindings "$FRESH"

step "C API (gcc -Wall -Wextra -Werror against include/portal_state.h and the static library)"
# Under valgrind: a memory error or leak at the C boundary fails the test too.
PORTAL_STATE_C_VALGRIND=1 ./scripts/test-c.sh "$TARGET_DIR/debug/libportal_state.a" "$DEVNET"

step "Python bindings (pytest, against the host library)"
PORTAL_STATE_LIB="$LIB" PORTAL_STATE_DEVNET="$DEVNET" \
    python3 -m pytest -q -p no:cacheprovider tests/bindings/python

step "Kotlin bindings on the JVM (Maven: kotlin-maven-plugin, JNA, coroutines, JUnit 5)"
(cd tests/bindings/kotlin &&
    mvn -B -q test -Djna.library.path="$(dirname "$LIB")" -Dportal.devnet="$DEVNET")

step "Swift bindings on Linux (SwiftPM, XCTest, in the Debian 13 chroot with Swift 6.0.3)"
./scripts/test-swift.sh "$LIB" "$DEVNET"

step "fuzz smoke: every fuzz target for $FUZZ_SECONDS s from its corpus (ran beside the steps since the tests)"
fuzz_status=0
wait "$FUZZ_PID" || fuzz_status=$?
FUZZ_PID=""
cat "$FUZZ_LOG"
echo "fuzz smoke: $(cat "$SCRATCH/fuzz.seconds" 2>/dev/null || echo '?') s of its own, in the background"
[ "$fuzz_status" -eq 0 ] || { echo "fuzz smoke FAILED (scripts/fuzz-smoke.sh)" >&2; exit 1; }
