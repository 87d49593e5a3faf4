#!/usr/bin/env bash
# Builds libportal_state.so for the Android ABIs into src/main/jniLibs/<abi>/ with cargo-ndk.
#
# Needs: the Android NDK (ANDROID_NDK_HOME), `cargo install cargo-ndk`, and
#   rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android
#
# The library is built without the CLI (no default features) but with the uniffi bindings, and
# its ELF segments aligned to 16 KB, which Android 15+ devices with 16 KB pages require
# (Google Play requires it of apps targeting Android 15). cargo-ndk strips nothing: the Android
# Gradle plugin strips the libraries when it packages the app (after the bindings were made:
# they come from bindings/kotlin, generated from an unstripped library).
#
# PROFILE: the Cargo profile, `mobile` by default (Cargo.toml: optimised for size, fat LTO, one
# codegen unit; BENCHMARKS.md "#17 part 2" has what it gives); `release` builds faster.
set -euo pipefail
cd "$(dirname "$0")"

# Lowest Android API level the libraries run on (the module's minSdk).
API_LEVEL="${API_LEVEL:-24}"
PROFILE="${PROFILE:-mobile}"

# SQLite without the modules the store never uses (full-text search, R-tree, dbstat, soundex):
# about 276 kB less (BENCHMARKS.md "#17 part 2"). rusqlite's bundled build reads these flags.
export LIBSQLITE3_FLAGS="${LIBSQLITE3_FLAGS:--USQLITE_ENABLE_FTS3 -USQLITE_ENABLE_FTS3_PARENTHESIS -USQLITE_ENABLE_FTS5 -USQLITE_ENABLE_RTREE -USQLITE_ENABLE_DBSTAT_VTAB -USQLITE_SOUNDEX}"

# Only for the Android targets (cargo-ndk passes --target, so host build scripts are not
# affected).
export RUSTFLAGS="${RUSTFLAGS:-} -C link-arg=-Wl,-z,max-page-size=16384"

cargo ndk \
    --platform "$API_LEVEL" \
    -t arm64-v8a -t armeabi-v7a -t x86_64 \
    -o src/main/jniLibs \
    --manifest-path ../Cargo.toml \
    build --profile "$PROFILE" --locked --lib --no-default-features --features uniffi

ls -l src/main/jniLibs/*/libportal_state.so
