#!/usr/bin/env bash
# Installs Swift for the Swift binding tests: a Debian 13 (trixie) chroot in
# .test-deps/swift-trixie/ with Debian's `swiftlang` (the host's Debian 12 has no Swift package),
# made with debootstrap from the host's own Debian archive. scripts/install-test-deps.sh runs it.
# Idempotent: a chroot whose swiftc reports the pinned version is used again as it is; one that
# does not is made again. A machine without root, debootstrap or the archive fails here, with
# what is missing.
#
# Prints, for `eval`:  PORTAL_STATE_SWIFT_CHROOT=/abs/.test-deps/swift-trixie
# (scripts/test-swift.sh runs `swift test` in it through scripts/swift-chroot.sh.)
# Progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned: Debian 13's package, the Swift version the tests are written against (swift-testing
# 6.0.3's quirks: tests/bindings/swift/). `swiftc --version` must name SWIFT_VERSION.
SUITE=trixie
SWIFTLANG_VERSION=6.0.3-2
SWIFT_VERSION=6.0.3
DEPS_DIR="$PWD/.test-deps"
CHROOT="$DEPS_DIR/swift-$SUITE"
STAMP="$CHROOT/.portal-state-swiftlang"
RUN_IN="$PWD/scripts/swift-chroot.sh"

say() { echo "install-swift-chroot: $*" >&2; }
fail() { say "$*"; exit 1; }

# The chroot's swiftc, run inside it: does it report the pinned version?
swift_ready() {
    [[ -f "$STAMP" && "$(cat "$STAMP")" == "$SWIFTLANG_VERSION" ]] || return 1
    "$RUN_IN" "$CHROOT" -- swiftc --version 2>&1 | grep -q "Swift version $SWIFT_VERSION" || {
        say "the chroot's swiftc is not Swift $SWIFT_VERSION; making the chroot again"
        return 1
    }
}

# Nothing may be mounted below a directory that is about to be deleted (a /dev bound there
# would be emptied). scripts/swift-chroot.sh mounts in a private namespace, so this only trips
# over mounts someone else made.
remove_chroot_dir() {
    local dir="$1"
    [[ -e "$dir" ]] || return 0
    if awk '{print $2}' /proc/self/mounts | grep -q "^$(realpath "$dir")\(/\|$\)"; then
        fail "something is mounted below $dir; unmount it first (findmnt -R $dir)"
    fi
    rm -rf --one-file-system "$dir"
}

# The host's Debian archive: deb822 sources first, then one-line sources; not -security.
debian_mirror() {
    if [[ -n "${PORTAL_STATE_DEBIAN_MIRROR:-}" ]]; then
        echo "$PORTAL_STATE_DEBIAN_MIRROR"
        return
    fi
    local uri
    uri="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '$1 == "URIs:" {print $2}' |
        grep -v security | grep -E '/debian/?$' | head -n 1 || true)"
    if [[ -z "$uri" ]]; then
        uri="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
            awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) {print $i; break}}' |
            grep -v security | grep -E '/debian/?$' | head -n 1 || true)"
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}

if swift_ready; then
    echo "PORTAL_STATE_SWIFT_CHROOT=$CHROOT"
    exit 0
fi

[[ $(id -u) -eq 0 ]] || fail "root is needed to make the Swift chroot (debootstrap, mount, chroot)"
if ! command -v debootstrap >/dev/null && command -v apt-get >/dev/null; then
    say "installing debootstrap (apt)"
    if ! { apt-get update -qq >&2 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2; }; then
        say "apt could not install debootstrap"
    fi
fi
command -v debootstrap >/dev/null ||
    fail "debootstrap is missing (apt-get install debootstrap); it makes the Swift chroot"
[[ -f "/usr/share/debootstrap/scripts/$SUITE" ]] ||
    fail "this debootstrap does not know Debian $SUITE (apt-get install debootstrap from bookworm or later)"

MIRROR="$(debian_mirror)"
# wget: what debootstrap itself downloads with (a dependency of its package).
if ! wget -q --timeout=30 --tries=2 -O /dev/null "$MIRROR/dists/$SUITE/Release"; then
    fail "the Debian archive $MIRROR is unreachable or has no $SUITE (could not fetch" \
        "$MIRROR/dists/$SUITE/Release); set PORTAL_STATE_DEBIAN_MIRROR to an archive that has it"
fi

# Made under another name and renamed at the end: a half-made chroot is never taken as ready.
PARTIAL="$CHROOT.partial"
remove_chroot_dir "$PARTIAL"
remove_chroot_dir "$CHROOT"
mkdir -p "$DEPS_DIR"
say "debootstrap $SUITE (minbase) from $MIRROR into .test-deps/ (~1.5 min)"
# The installers' own output goes to a log, shown when they fail.
LOG="$DEPS_DIR/swift-$SUITE.log"
debootstrap --variant=minbase "$SUITE" "$PARTIAL" "$MIRROR" >"$LOG" 2>&1 || {
    tail -n 30 "$LOG" >&2
    fail "debootstrap of $SUITE from $MIRROR failed (above: the end of $LOG)"
}
# libc6-dev: the C headers and crt files swiftc links with (without them it warns that the C
# library is missing, and links fail).
say "installing swiftlang $SWIFTLANG_VERSION and libc6-dev in the chroot (~530 MB download, ~2 min)"
"$RUN_IN" "$PARTIAL" -- sh -c "apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        swiftlang=$SWIFTLANG_VERSION libc6-dev &&
    apt-get clean" >>"$LOG" 2>&1 || {
    tail -n 30 "$LOG" >&2
    fail "installing swiftlang $SWIFTLANG_VERSION in the chroot failed (above: the end of $LOG)"
}
echo "$SWIFTLANG_VERSION" >"$PARTIAL/.portal-state-swiftlang"
mv "$PARTIAL" "$CHROOT"
swift_ready || fail "swiftc in $CHROOT does not run or is not Swift $SWIFT_VERSION"
say "$("$RUN_IN" "$CHROOT" -- swiftc --version 2>&1 | head -n 1)"
echo "PORTAL_STATE_SWIFT_CHROOT=$CHROOT"
