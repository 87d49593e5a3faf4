#!/usr/bin/env bash
# Builds the generated Swift bindings (bindings/swift/) with SwiftPM as the package
# ios/Package.swift describes for Linux, and runs the Swift tests (tests/bindings/swift/,
# XCTest) against the binding tests' devnet: `swift test` inside the Debian 13 chroot that
# scripts/install-swift-chroot.sh makes (through scripts/install-test-deps.sh), entered by
# scripts/swift-chroot.sh with this checkout bound read-only at the same path.
# scripts/test.sh calls it after building both; by hand (root):
#   eval "$(./scripts/install-swift-chroot.sh)"
#   cargo build --features uniffi-cli,fault-injection --lib --example devnet-for-bindings
#   PORTAL_STATE_SWIFT_CHROOT=... ./scripts/test-swift.sh target/debug/libportal_state.so \
#       target/debug/examples/devnet-for-bindings
set -euo pipefail
cd "$(dirname "$0")/.."

LIB="$(realpath "${1:?path to libportal_state.so}")"
DEVNET="$(realpath "${2:?path to the devnet-for-bindings example}")"
CHROOT="${PORTAL_STATE_SWIFT_CHROOT:?the Swift chroot (eval \"\$(./scripts/install-swift-chroot.sh)\")}"
REPO="$PWD"
# (Its /usr/bin/swift is an absolute symlink, meaningful only inside: check the installer's stamp.)
[[ -f "$CHROOT/.portal-state-swiftlang" ]] ||
    { echo "test-swift: $CHROOT is no Swift chroot (./scripts/install-swift-chroot.sh makes it)" >&2; exit 1; }

# The package, laid out as ios/Package.swift expects on Linux, in a directory inside the chroot
# (the checkout is read-only in there). It is kept between runs, one per checkout, and a file is
# copied only when it changed, so that SwiftPM rebuilds only what changed.
PACKAGE="/build/portal-state-$(printf '%s' "$REPO" | sha256sum | cut -c1-12)"
STAGE="$CHROOT$PACKAGE"
mkdir -p "$STAGE/Sources/PortalState" "$STAGE/Sources/portal_stateFFI" "$STAGE/Tests/PortalStateTests"
copy_if_changed() { cmp -s "$1" "$2" || cp "$1" "$2"; }
copy_if_changed ios/Package.swift "$STAGE/Package.swift"
copy_if_changed bindings/swift/portal_state.swift "$STAGE/Sources/PortalState/portal_state.swift"
copy_if_changed bindings/swift/portal_stateFFI.h "$STAGE/Sources/portal_stateFFI/portal_stateFFI.h"
# SwiftPM's system-library target wants its module map under this name (as Xcode does).
copy_if_changed bindings/swift/portal_stateFFI.modulemap "$STAGE/Sources/portal_stateFFI/module.modulemap"
for test_file in "$STAGE"/Tests/PortalStateTests/*.swift; do  # a test file removed here
    if [[ -e "$test_file" && ! -e "tests/bindings/swift/$(basename "$test_file")" ]]; then
        rm "$test_file"
    fi
done
for test_file in tests/bindings/swift/*.swift; do
    copy_if_changed "$test_file" "$STAGE/Tests/PortalStateTests/$(basename "$test_file")"
done

# The library and the devnet run from where they are: their folders are visible inside at the
# same paths (the checkout, or the cargo target directory when it is elsewhere). The devnet
# finds data/ through the checkout's path compiled into it.
LIB_DIR="$(dirname "$LIB")"
BOUND=("$REPO")
for dir in "$LIB_DIR" "$(dirname "$DEVNET")"; do
    inside=no
    for bound in "${BOUND[@]}"; do
        if [[ "$dir/" == "$bound/"* ]]; then inside=yes; fi
    done
    [[ $inside == yes ]] || BOUND+=("$dir")
done
BINDS=()
for dir in "${BOUND[@]}"; do BINDS+=(--bind "$dir"); done

# -L and -rpath: the test binary links the shared library the other binding tests load.
# --disable-swift-testing: the tests are XCTest's; else swift-testing adds an empty run.
./scripts/swift-chroot.sh "$CHROOT" "${BINDS[@]}" -- \
    env PORTAL_STATE_DEVNET="$DEVNET" \
    swift test --package-path "$PACKAGE" --disable-swift-testing \
    -Xlinker -L"$LIB_DIR" -Xlinker -rpath -Xlinker "$LIB_DIR"
