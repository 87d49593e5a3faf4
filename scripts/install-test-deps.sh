#!/usr/bin/env bash
# Installs the programs the tests need but cargo does not provide: a real execution client
# (anvil) and its command-line companion (cast), from the npm packages Foundry publishes, into
# .test-deps/ in the repository. Idempotent: when both binaries are there at the pinned version
# it prints nothing and does nothing.
#
# Prints the binaries' absolute paths as shell assignments, for `eval`:
#   PORTAL_STATE_ANVIL=/abs/.test-deps/.../anvil
#   PORTAL_STATE_CAST=/abs/.test-deps/.../cast
# (scripts/test.sh evals them and exports them; the tests fail, never skip, without them.)
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned: anvil's answers (hardfork, tracer output) are part of what the tests check.
FOUNDRY_VERSION=1.7.1
DEPS_DIR="$PWD/.test-deps"
ANVIL="$DEPS_DIR/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
CAST="$DEPS_DIR/node_modules/@foundry-rs/cast-linux-amd64/bin/cast"
STAMP="$DEPS_DIR/foundry-$FOUNDRY_VERSION"

if [[ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]]; then
    echo "install-test-deps: only linux x86_64 is set up (the @foundry-rs/*-linux-amd64 packages)" >&2
    exit 1
fi

if [[ ! -f "$STAMP" || ! -x "$ANVIL" || ! -x "$CAST" ]]; then
    command -v npm >/dev/null || {
        echo "install-test-deps: npm is missing; install Node.js and npm (e.g. apt-get install npm)" >&2
        exit 1
    }
    mkdir -p "$DEPS_DIR"
    # A private package.json, so npm installs here and not in some parent folder's project.
    [[ -f "$DEPS_DIR/package.json" ]] || echo '{"private": true}' >"$DEPS_DIR/package.json"
    echo "install-test-deps: installing anvil and cast $FOUNDRY_VERSION into .test-deps/" >&2
    npm install --prefix "$DEPS_DIR" --no-audit --no-fund --loglevel=error \
        "@foundry-rs/anvil-linux-amd64@$FOUNDRY_VERSION" \
        "@foundry-rs/cast-linux-amd64@$FOUNDRY_VERSION" >&2
    rm -f "$DEPS_DIR"/foundry-*
    touch "$STAMP"
fi

# The binding tests: Python 3 with pytest, and a JDK (17+) with Maven, which fetches Kotlin,
# JNA, coroutines and JUnit from Maven Central itself. What is missing is installed (Debian's
# packages, PyPI); what cannot be installed fails here, with the fix. Installer output goes to
# stderr: stdout is read by `eval`.
apt_install() {
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        echo "install-test-deps: installing $* (apt)" >&2
        apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
    fi
}
command -v python3 >/dev/null || apt_install python3 python3-pip
command -v python3 >/dev/null || { echo "install-test-deps: python3 is missing (apt-get install python3)" >&2; exit 1; }
python3 -c 'import pytest' 2>/dev/null || {
    echo "install-test-deps: installing pytest (pip)" >&2
    python3 -m pip install -q pytest >&2 || true
}
python3 -c 'import pytest' 2>/dev/null || {
    echo "install-test-deps: pytest is missing (python3 -m pip install pytest)" >&2
    exit 1
}
# The network tests (scripts/network-tests.sh): namespaces, veth pairs and NAT.
command -v ip >/dev/null || apt_install iproute2
command -v iptables >/dev/null || apt_install iptables
command -v java >/dev/null || apt_install openjdk-17-jdk-headless
command -v mvn >/dev/null || apt_install maven
command -v java >/dev/null || { echo "install-test-deps: java is missing (apt-get install openjdk-17-jdk-headless)" >&2; exit 1; }
command -v mvn >/dev/null || { echo "install-test-deps: mvn is missing (apt-get install maven)" >&2; exit 1; }

for bin in "$ANVIL" "$CAST"; do
    [[ -x "$bin" ]] || { echo "install-test-deps: $bin missing after npm install" >&2; exit 1; }
done
echo "PORTAL_STATE_ANVIL=$ANVIL"
echo "PORTAL_STATE_CAST=$CAST"
