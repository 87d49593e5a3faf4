#!/usr/bin/env bash
# Regenerates include/portal_state.h, the C API's header, from src/ffi with cbindgen (the
# configuration is cbindgen.toml). tests/offline/ffi_header.rs fails while the checked-in header is
# stale.
set -euo pipefail
cd "$(dirname "$0")/.."
PORTAL_STATE_WRITE_HEADER=1 cargo test --quiet --test offline -- \
    ffi_header::the_checked_in_header_is_what_cbindgen_generates
echo "wrote include/portal_state.h" >&2
