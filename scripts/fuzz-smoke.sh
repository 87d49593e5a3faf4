#!/usr/bin/env bash
# Builds every fuzz target (fuzz/, cargo-fuzz + libFuzzer) and runs each for a fixed budget,
# starting from its checked-in corpus and regression inputs. Prints the executions of each
# target and fails if any target finds a crash or a broken property (its input is then in
# fuzz/artifacts/<target>/: fix the bug, move the input to fuzz/regressions/<target>/, add a
# test to tests/offline/fuzz_corpus.rs).
#
#   FUZZ_SECONDS=10      budget per target, in seconds (default 10; scripts/test.sh runs 5)
#   FUZZ_TARGETS="a b"   only these targets (default: all of `cargo fuzz list`)
#   FUZZ_PROFILE=release build profile: `release` (default: optimised, for long runs) or `dev`
#                        (unoptimised: the dependency tree builds in about half the time and a
#                        short smoke run finds the same panics; scripts/test.sh uses it)
#   FUZZ_SANITIZER=none  cargo-fuzz sanitizer (the decoders are safe Rust: the checks are
#                        panics and broken properties, which need none; `address` adds ASan)
#   PORTAL_STATE_CARGO_FUZZ, PORTAL_STATE_FUZZ_TOOLCHAIN, PORTAL_STATE_FUZZ_BOOTSTRAP: what
#                        scripts/install-test-deps.sh prints (default: its cargo-fuzz in
#                        .test-deps/, its pinned nightly, else stable with RUSTC_BOOTSTRAP=1)
#
# After ./scripts/install-test-deps.sh: ./scripts/fuzz-smoke.sh, or a longer run with
# FUZZ_SECONDS=300 ./scripts/fuzz-smoke.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_EACH="${FUZZ_SECONDS:-10}"
SANITIZER="${FUZZ_SANITIZER:-none}"
case "${FUZZ_PROFILE:-release}" in
release) PROFILE_FLAG=--release ;;
dev) PROFILE_FLAG=--dev ;;
*) echo "fuzz-smoke: FUZZ_PROFILE must be release or dev" >&2; exit 1 ;;
esac
CARGO_FUZZ="${PORTAL_STATE_CARGO_FUZZ:-$PWD/.test-deps/cargo-fuzz/bin/cargo-fuzz}"
[[ -x "$CARGO_FUZZ" ]] && PATH="$(dirname "$CARGO_FUZZ"):$PATH"
TOOLCHAIN="${PORTAL_STATE_FUZZ_TOOLCHAIN:-nightly-2026-05-19}"
if [[ -z "${PORTAL_STATE_FUZZ_TOOLCHAIN:-}" ]] && ! rustup run "$TOOLCHAIN" rustc -V >/dev/null 2>&1; then
    TOOLCHAIN=stable
    PORTAL_STATE_FUZZ_BOOTSTRAP=1
fi
if [[ "${PORTAL_STATE_FUZZ_BOOTSTRAP:-0}" = "1" ]]; then
    # No nightly could be installed: a stable compiler that accepts nightly flags.
    export RUSTC_BOOTSTRAP=1
fi
command -v cargo-fuzz >/dev/null || {
    echo "fuzz-smoke: cargo-fuzz missing (./scripts/install-test-deps.sh installs it)" >&2
    exit 1
}
fuzz() { (cd fuzz && cargo "+$TOOLCHAIN" fuzz "$@"); }

read -r -a TARGETS <<<"${FUZZ_TARGETS:-$(fuzz list | tr '\n' ' ')}"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

echo "fuzz-smoke: building the fuzz targets (toolchain $TOOLCHAIN, sanitizer $SANITIZER, ${PROFILE_FLAG#--})"
start=$(date +%s)
if ! fuzz build "$PROFILE_FLAG" --sanitizer "$SANITIZER" >"$WORK/build.log" 2>&1; then
    cat "$WORK/build.log" >&2
    echo "fuzz-smoke: build failed" >&2
    exit 1
fi
echo "fuzz-smoke: build took $(($(date +%s) - start)) s"
# One figure of libFuzzer's final stats (-print_final_stats=1) from a target's log.
final_stat() { grep -o "stat::$1: *[0-9]*" "$2" | grep -o '[0-9]*$' || echo '?'; }

failed=()
printf '%-16s %12s %10s %8s %8s %s\n' target executions exec/s corpus rss_mb result
for target in "${TARGETS[@]}"; do
    # New inputs go to a scratch directory (the first one): the checked-in corpus stays small.
    mkdir -p "$WORK/$target"
    dirs=("$WORK/$target" "corpus/$target")
    [[ -d "fuzz/regressions/$target" ]] && dirs+=("regressions/$target")
    log="$WORK/$target.log"
    status=ok
    fuzz run "$PROFILE_FLAG" --sanitizer "$SANITIZER" "$target" "${dirs[@]}" -- \
        -max_total_time="$SECONDS_EACH" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
        >"$log" 2>&1 || status=FAILED
    corpus=$(grep -o 'corp: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo '?')
    printf '%-16s %12s %10s %8s %8s %s\n' "$target" "$(final_stat number_of_executed_units "$log")" \
        "$(final_stat average_exec_per_sec "$log")" "$corpus" "$(final_stat peak_rss_mb "$log")" "$status"
    if [[ $status != ok ]]; then
        failed+=("$target")
        grep -E -A2 'panicked' "$log" | head -12 >&2 || true
        grep -E 'SUMMARY|Test unit written' "$log" >&2 || tail -30 "$log" >&2
    fi
done

if ((${#failed[@]})); then
    echo "fuzz-smoke: FAILED: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzz-smoke: ${#TARGETS[@]} targets, ${SECONDS_EACH} s each, no crash"
