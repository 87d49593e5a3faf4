#!/usr/bin/env bash
# Builds ios/PortalStateFFI.xcframework (the static library for iPhone and for both simulators,
# with the uniffi C header and module map) and copies the generated Swift bindings into
# ios/Sources/PortalState/, which Package.swift builds. Run on macOS with Xcode.
#
# Needs: rustup target add aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios
#
# PROFILE: the Cargo profile, `mobile` by default (Cargo.toml: optimised for size, fat LTO, one
# codegen unit; BENCHMARKS.md "#17 part 2"); `release` builds faster. Cargo puts a profile's
# output in target/<triple>/<profile>/. Nothing is stripped here: Xcode strips the app when it
# archives it, and the Swift bindings come from bindings/swift, made from an unstripped library.
set -euo pipefail
cd "$(dirname "$0")/.."

PROFILE="${PROFILE:-mobile}"
OUT=ios
BUILD="$OUT/build"
rm -rf "$BUILD" "$OUT/PortalStateFFI.xcframework"
mkdir -p "$BUILD/headers" "$BUILD/ios-simulator" "$OUT/Sources/PortalState"

# SQLite without the modules the store never uses (full-text search, R-tree, dbstat, soundex):
# about 276 kB less (BENCHMARKS.md "#17 part 2"). rusqlite's bundled build reads these flags.
export LIBSQLITE3_FLAGS="${LIBSQLITE3_FLAGS:--USQLITE_ENABLE_FTS3 -USQLITE_ENABLE_FTS3_PARENTHESIS -USQLITE_ENABLE_FTS5 -USQLITE_ENABLE_RTREE -USQLITE_ENABLE_DBSTAT_VTAB -USQLITE_SOUNDEX}"

# No CLI (no default features), the uniffi bindings on. Each target's static library.
for target in aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios; do
    cargo build --locked --lib --profile "$PROFILE" --target "$target" \
        --no-default-features --features uniffi
done
dir() { echo "target/$1/$PROFILE"; }

# One library per platform in an XCFramework: the two simulator architectures go together.
lipo -create \
    "$(dir aarch64-apple-ios-sim)/libportal_state.a" \
    "$(dir x86_64-apple-ios)/libportal_state.a" \
    -output "$BUILD/ios-simulator/libportal_state.a"

# The C side of the generated Swift (bindings/swift, checked in and staleness-checked by
# scripts/test.sh): its header and, as the module map Xcode looks for, `module.modulemap`.
cp bindings/swift/portal_stateFFI.h "$BUILD/headers/"
cp bindings/swift/portal_stateFFI.modulemap "$BUILD/headers/module.modulemap"

xcodebuild -create-xcframework \
    -library "$(dir aarch64-apple-ios)/libportal_state.a" -headers "$BUILD/headers" \
    -library "$BUILD/ios-simulator/libportal_state.a" -headers "$BUILD/headers" \
    -output "$OUT/PortalStateFFI.xcframework"

cp bindings/swift/portal_state.swift "$OUT/Sources/PortalState/"
rm -rf "$BUILD"
echo "built $OUT/PortalStateFFI.xcframework and $OUT/Sources/PortalState/portal_state.swift"
