#!/usr/bin/env bash
# The workspace rustc wrapper of the test command (scripts/test.sh sets it as
# RUSTC_WORKSPACE_WRAPPER): the lint and docs steps ride on the test build instead of building the
# dependency tree a second and third time.
#
# Cargo calls it as `wrapper /path/to/rustc ARGS...` for the crates of this package only, never
# for dependencies, so:
# - every crate of the package (library, binaries, tests, benches, examples) is compiled by
#   clippy-driver, which is rustc with clippy's lints: `cargo clippy --all-targets -- -D warnings`
#   with full code generation, the flags coming from CLIPPY_ARGS as `cargo clippy` passes them;
# - when the library is compiled, rustdoc documents it from the same arguments (the same
#   features, cfgs, environment and dependency files) with `-D warnings`: `cargo doc --no-deps`,
#   without cargo doc's own check build of every dependency.
#
# `cargo clippy` and `cargo doc` stay the commands to use by hand; this is only the CI's way to
# run both at the cost of one build. Rustdoc output goes to $PORTAL_STATE_RUSTDOC_OUT
# (target/doc by default).
set -euo pipefail

rustc="$1"
shift

# Cargo asks rustc what it supports (`-vV`, `--print ...`) through the wrapper too: no lints, no
# docs for those.
is_lib=false
is_query=false
crate_name=""
prev=""
for arg in "$@"; do
    case "$arg" in
    -vV | -V | --version | --print | --print=*) is_query=true ;;
    esac
    if [ "$prev" = "--crate-name" ]; then
        crate_name="$arg"
    fi
    if [ "$prev" = "--crate-type" ] && [ "$arg" = "lib" ]; then
        is_lib=true
    fi
    prev="$arg"
done

# clippy-driver in wrapper mode takes rustc's path as its first argument.
clippy-driver "$rustc" "$@"

if $is_query || ! $is_lib || [ "$crate_name" != "portal_state" ]; then
    exit 0
fi

# Rustdoc of the library: rustc's arguments minus what only a compilation means (code generation,
# emitted files, crate types, the JSON protocol cargo speaks with rustc), so its diagnostics are
# printed as text, which cargo passes through.
doc_args=()
skip_next=false
for arg in "$@"; do
    if $skip_next; then
        skip_next=false
        continue
    fi
    case "$arg" in
    -C | --crate-type | --out-dir | --emit | --error-format | --json)
        skip_next=true
        ;;
    -C* | --crate-type=* | --out-dir=* | --emit=* | --error-format=* | --json=*) ;;
    *) doc_args+=("$arg") ;;
    esac
    prev="$arg"
done
# Cargo runs rustc in the package's directory.
out="${PORTAL_STATE_RUSTDOC_OUT:-${CARGO_TARGET_DIR:-$PWD/target}/doc}"
rustdoc="$(dirname "$rustc")/rustdoc"
[ -x "$rustdoc" ] || rustdoc=rustdoc
"$rustdoc" "${doc_args[@]}" --crate-type lib -o "$out" -D warnings
