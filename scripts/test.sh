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

step "build, lint and docs: every test program, bench and example, clippy and rustdoc on the way"
# The features of the library the bindings are generated from and the Kotlin, Python and C
# tests load (`fault-injection` lets them force a panic inside a call, node::PANIC_IN_CALL).
# The Rust tests build with them too, so that the later steps reuse this build.
export PORTAL_STATE_BINDGEN_FEATURES="uniffi-cli,fault-injection"
# Lint and docs ride on this one build (scripts/rustc-lint-wrapper.sh): every crate of the
# package compiles through clippy-driver with `-D warnings`, as `cargo clippy --all-targets --
# -D warnings` would check it, and the library is documented by rustdoc with `-D warnings` (every
# public item documented, no broken links) from the same arguments. `cargo clippy` and `cargo
# doc` would each build the whole dependency tree again in check mode: 607 s and 17-310 s from
# a fresh clone (BENCHMARKS.md, "CI steps"). Exported: every later cargo command of this script
# then finds this build fresh.
clippy-driver --version >/dev/null || { echo "clippy-driver missing: rustup component add clippy"; exit 1; }
export RUSTC_WORKSPACE_WRAPPER="$PWD/scripts/rustc-lint-wrapper.sh"
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
# No import cycle between files of src/, no import up the layers (the table in the script).
python3 scripts/check-layers.py
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
    # Its own workspace, on the nightly: not through the lint wrapper of this package's build.
    env -u RUSTC_WORKSPACE_WRAPPER -u CLIPPY_ARGS nice -n 19 ./scripts/fuzz-smoke.sh || status=$?
    echo "$((SECONDS - start))" >"$SCRATCH/fuzz.seconds"
    exit "$status"
) >"$FUZZ_LOG" 2>&1 &
FUZZ_PID=$!

step "bindings: the library, uniffi-bindgen and the devnet the binding tests run against"
# The library the bindings are generated from is the library the Kotlin, Python and C tests
# load (already built by the build step, with the same features).
cargo build --locked --features "$PORTAL_STATE_BINDGEN_FEATURES" \
    --lib --bin uniffi-bindgen --example devnet-for-bindings
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
DEVNET="$TARGET_DIR/debug/examples/devnet-for-bindings"

step "bindings/ is what the library generates (else: ./scripts/gen-bindings.sh and commit)"
FRESH="$SCRATCH/bindings"
LIB="$(./scripts/gen-bindings.sh "$FRESH")"
diff -r bindings "$FRESH"

# The test steps, in three lanes that run side by side: most of their time is spent waiting on
# sockets, timers, child processes and the JVM's start, not on the CPU (one after another they
# took 712 s from a fresh clone, BENCHMARKS.md "CI steps"). Every test program binds port 0 or
# a free port, and each lane's steps keep their order. Each lane writes its own log, printed
# whole when it ends; a failed step stops its lane and fails the run.
test_rust() {
    # Benches run once too, in a short smoke mode; `cargo bench` gives the numbers.
    cargo test --locked --all-targets --features "$PORTAL_STATE_BINDGEN_FEATURES"
}
test_netns() {
    # A light node behind NATs, on a lossy slow link, moving, pausing (namespaces). Skips with
    # a message only where the kernel refuses network namespaces.
    ./scripts/network-tests.sh
}
test_c() {
    # gcc -Wall -Wextra -Werror against include/portal_state.h and the static library, under
    # valgrind: a memory error or leak at the C boundary fails the test too.
    PORTAL_STATE_C_VALGRIND=1 ./scripts/test-c.sh "$TARGET_DIR/debug/libportal_state.a" "$DEVNET"
}
test_python() {
    # pytest, against the host library.
    PORTAL_STATE_LIB="$LIB" PORTAL_STATE_DEVNET="$DEVNET" \
        python3 -m pytest -q -p no:cacheprovider tests/bindings/python
}
test_kotlin() {
    # On the JVM (Maven: kotlin-maven-plugin, JNA, coroutines, JUnit 5).
    (cd tests/bindings/kotlin &&
        mvn -B -q test -Djna.library.path="$(dirname "$LIB")" -Dportal.devnet="$DEVNET")
}
test_swift() {
    # On Linux (SwiftPM, XCTest, in the Debian 13 chroot with Swift 6.0.3).
    ./scripts/test-swift.sh "$LIB" "$DEVNET"
}
LANES=()
# lane NAME STEP...: runs the step functions in order in the background.
lane() {
    local name="$1"
    shift
    (
        for fn in "$@"; do
            printf '\n==> [%s] %s\n' "$name" "$fn"
            start=$SECONDS
            status=0
            "$fn" || status=$?
            if [ "$status" -ne 0 ]; then
                printf '%5d s    %s: %s FAILED (exit %s)\n' $((SECONDS - start)) "$name" "$fn" "$status" \
                    >>"$SCRATCH/lane-$name.times"
                exit 1
            fi
            printf '%5d s    %s: %s\n' $((SECONDS - start)) "$name" "$fn" >>"$SCRATCH/lane-$name.times"
        done
    ) >"$SCRATCH/lane-$name.log" 2>&1 &
    LANES+=("$name:$!")
}

step "tests: Rust, network namespaces, C, Python, Kotlin and Swift, in three lanes side by side"
# Balanced on a fresh clone's step times (BENCHMARKS.md, "CI steps"): ~250 s each.
lane rust test_rust
lane netns test_netns test_kotlin
lane bindings test_python test_c test_swift
lanes_failed=()
for entry in "${LANES[@]}"; do
    name="${entry%%:*}"
    pid="${entry#*:}"
    lane_status=0
    wait "$pid" || lane_status=$?
    printf '\n==> lane %s ended (exit %s); its log:\n' "$name" "$lane_status"
    cat "$SCRATCH/lane-$name.log"
    [ "$lane_status" -eq 0 ] || lanes_failed+=("$name")
done
for entry in "${LANES[@]}"; do
    name="${entry%%:*}"
    [ -f "$SCRATCH/lane-$name.times" ] && mapfile -t -O "${#STEP_TIMES[@]}" STEP_TIMES <"$SCRATCH/lane-$name.times"
done
LANES=()
if [ "${#lanes_failed[@]}" -ne 0 ]; then
    echo "tests FAILED in lane(s): ${lanes_failed[*]} (their logs above)" >&2
    exit 1
fi

step "fuzz smoke: every fuzz target for $FUZZ_SECONDS s from its corpus (ran beside the steps since the tests)"
fuzz_status=0
wait "$FUZZ_PID" || fuzz_status=$?
FUZZ_PID=""
cat "$FUZZ_LOG"
echo "fuzz smoke: $(cat "$SCRATCH/fuzz.seconds" 2>/dev/null || echo '?') s of its own, in the background"
[ "$fuzz_status" -eq 0 ] || { echo "fuzz smoke FAILED (scripts/fuzz-smoke.sh)" >&2; exit 1; }
