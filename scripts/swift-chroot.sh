#!/usr/bin/env bash
# Runs a command inside the Swift chroot (made by scripts/install-swift-chroot.sh) with /proc,
# /dev and /dev/pts mounted and each --bind directory bound read-only at the same path, so that
# paths compiled into the host's binaries (the devnet's CARGO_MANIFEST_DIR) hold inside too:
#
#   scripts/swift-chroot.sh CHROOT [--bind DIR]... -- COMMAND [ARG]...
#
# The mounts are undone when the command ends, on failure and on Ctrl-C too (a trap). They are
# made in a private mount namespace of this script (unshare), so not even a killed run leaves
# anything mounted on the host, and the host's own mounts are never touched.
# Root only (mount and chroot need it).
set -euo pipefail

if [[ "${1:-}" != --in-private-namespace ]]; then
    [[ $(id -u) -eq 0 ]] || { echo "swift-chroot: must run as root (mount, chroot)" >&2; exit 1; }
    command -v unshare >/dev/null || {
        echo "swift-chroot: unshare is missing (apt-get install util-linux)" >&2
        exit 1
    }
    exec unshare --mount --propagation private "$0" --in-private-namespace "$@"
fi
shift

ROOT="${1:?usage: swift-chroot.sh CHROOT [--bind DIR]... -- COMMAND...}"
shift
[[ -x "$ROOT/usr/bin/env" ]] || { echo "swift-chroot: $ROOT is not a chroot" >&2; exit 1; }
BINDS=()
while [[ "${1:-}" == --bind ]]; do
    BINDS+=("$(realpath "${2:?--bind DIR}")")
    shift 2
done
[[ "${1:-}" == -- ]] && shift
[[ $# -gt 0 ]] || { echo "swift-chroot: no command given" >&2; exit 1; }

MOUNTED=()
undo_mounts() {
    local i
    for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
        # Lazily if still busy (a process left behind): it goes once that process ends.
        umount "${MOUNTED[i]}" 2>/dev/null || umount -l "${MOUNTED[i]}" ||
            echo "swift-chroot: could not unmount ${MOUNTED[i]}" >&2
    done
    MOUNTED=()
}
trap undo_mounts EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mount_in_root() { # TARGET-INSIDE MOUNT-ARGS...
    local target="$ROOT$1"
    shift
    mkdir -p "$target"
    mount "$@" "$target"
    MOUNTED+=("$target")
}

mount_in_root /proc -t proc proc
mount_in_root /dev --bind /dev
mount_in_root /dev/pts --bind /dev/pts
for dir in "${BINDS[@]}"; do
    # Never over the chroot's own files (a bound /usr/bin would hide its swift).
    if [[ -d "$ROOT$dir" && -n "$(ls -A "$ROOT$dir")" ]] || [[ -e "$ROOT$dir" && ! -d "$ROOT$dir" ]]; then
        echo "swift-chroot: $dir exists inside the chroot; binding it would hide what is there" >&2
        exit 1
    fi
    mount_in_root "$dir" --bind "$dir"
    # Read-only: nothing inside the chroot writes into the checkout (a second step, since
    # `mount --bind -o ro` is ignored by older mount(8)s).
    mount -o remount,bind,ro "$ROOT$dir"
done

# The host's PATH and TMPDIR mean nothing inside; the caller passes what the command needs
# (`env NAME=VALUE COMMAND`).
status=0
env -u TMPDIR PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    LANG=C.UTF-8 chroot "$ROOT" "$@" || status=$?
exit "$status"
