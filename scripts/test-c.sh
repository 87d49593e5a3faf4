#!/usr/bin/env bash
# Builds the C API test (tests/c/node_test.c) with `gcc -Wall -Wextra -Werror -std=c11` against
# include/portal_state.h and the static library, and runs it against the binding tests' devnet.
# scripts/test.sh calls it after building both; by hand:
#   cargo build --features fault-injection --lib --example devnet-for-bindings
#   ./scripts/test-c.sh target/debug/libportal_state.a target/debug/examples/devnet-for-bindings
# With PORTAL_STATE_C_VALGRIND=1 the test runs under valgrind (memcheck, leaks are errors).
set -euo pipefail
cd "$(dirname "$0")/.."

STATIC_LIB="${1:?path to libportal_state.a}"
DEVNET="${2:?path to the devnet-for-bindings example}"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

# After the archive: the system libraries Rust's standard library and its dependencies use
# (`rustc --print native-static-libs` on Linux). --gc-sections drops what the test never calls.
# -z noexecstack: the assembly keccak (alloy's asm-keccak) has no .note.GNU-stack section, so
# without it ld warns and marks the program's stack executable (rustc passes it for the cdylib).
gcc -Wall -Wextra -Werror -std=c11 -Iinclude tests/c/node_test.c "$STATIC_LIB" \
    -Wl,--gc-sections -Wl,-z,noexecstack -Wl,--fatal-warnings \
    -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc -o "$OUT/node_test"

if [ -n "${PORTAL_STATE_C_VALGRIND:-}" ]; then
    PORTAL_STATE_DEVNET="$DEVNET" valgrind --error-exitcode=1 --leak-check=full \
        --errors-for-leak-kinds=definite "$OUT/node_test"
else
    PORTAL_STATE_DEVNET="$DEVNET" "$OUT/node_test"
fi
