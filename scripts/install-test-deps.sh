#!/usr/bin/env bash
# Installs the programs the tests need but cargo does not provide: a real execution client
# (anvil) and its command-line companion (cast), from the npm packages Foundry publishes, into
# .test-deps/ in the repository; the client libraries a wallet uses, web3.py (PyPI, into
# .test-deps/python) and viem (npm, into .test-deps/node_modules), for tests/cli/clients_flow.rs;
# cargo-fuzz and a nightly toolchain for the fuzz smoke run.
# Idempotent: what is there at the pinned version is not installed again.
#
# Prints the binaries' absolute paths as shell assignments, for `eval`:
#   PORTAL_STATE_ANVIL=/abs/.test-deps/.../anvil
#   PORTAL_STATE_CAST=/abs/.test-deps/.../cast
#   PORTAL_STATE_PYTHONPATH=/abs/.test-deps/python     PORTAL_STATE_NODE_PATH=/abs/.test-deps/node_modules
#   PORTAL_STATE_CARGO_FUZZ=/abs/.test-deps/cargo-fuzz/bin/cargo-fuzz
#   PORTAL_STATE_FUZZ_TOOLCHAIN=nightly-...   PORTAL_STATE_FUZZ_BOOTSTRAP=0|1
#   PORTAL_STATE_SWIFT_CHROOT=/abs/.test-deps/swift-trixie   (scripts/install-swift-chroot.sh)
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

# The client-library flows (tests/cli/clients_flow.rs): web3.py and viem, pinned, in .test-deps/
# (pip --target and npm --prefix: nothing outside the repository changes).
WEB3PY_VERSION=8.0.0
VIEM_VERSION=2.57.20
PYTHON_DEPS="$DEPS_DIR/python"
WEB3PY_STAMP="$DEPS_DIR/web3py-$WEB3PY_VERSION"
VIEM_STAMP="$DEPS_DIR/viem-$VIEM_VERSION"
if [[ ! -f "$VIEM_STAMP" || ! -f "$DEPS_DIR/node_modules/viem/package.json" ]]; then
    echo "install-test-deps: installing viem $VIEM_VERSION into .test-deps/" >&2
    npm install --prefix "$DEPS_DIR" --no-audit --no-fund --loglevel=error \
        "viem@$VIEM_VERSION" >&2
    rm -f "$DEPS_DIR"/viem-*
    touch "$VIEM_STAMP"
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
if [[ ! -f "$WEB3PY_STAMP" ]] || ! PYTHONPATH="$PYTHON_DEPS" python3 -c 'import web3' 2>/dev/null; then
    echo "install-test-deps: installing web3.py $WEB3PY_VERSION into .test-deps/python (pip)" >&2
    rm -rf "$PYTHON_DEPS"
    python3 -m pip install -q --disable-pip-version-check --target "$PYTHON_DEPS" \
        "web3==$WEB3PY_VERSION" >&2
    rm -f "$DEPS_DIR"/web3py-*
    touch "$WEB3PY_STAMP"
fi
command -v node >/dev/null || { echo "install-test-deps: node is missing (apt-get install nodejs)" >&2; exit 1; }
# The network tests (scripts/network-tests.sh): namespaces, veth pairs and NAT.
command -v ip >/dev/null || apt_install iproute2
command -v iptables >/dev/null || apt_install iptables
command -v java >/dev/null || apt_install openjdk-17-jdk-headless
command -v mvn >/dev/null || apt_install maven
command -v java >/dev/null || { echo "install-test-deps: java is missing (apt-get install openjdk-17-jdk-headless)" >&2; exit 1; }
command -v mvn >/dev/null || { echo "install-test-deps: mvn is missing (apt-get install maven)" >&2; exit 1; }
# The Kotlin tests' Maven artifacts (Kotlin compiler and plugin, JNA, coroutines, JUnit), fetched
# here so that the Kotlin step only compiles and runs. A failure is only a warning: that step
# fetches whatever is still missing, and fails clearly if it cannot.
(cd tests/bindings/kotlin && mvn -B -q dependency:go-offline >&2) ||
    echo "install-test-deps: Maven prefetch failed; the Kotlin step will fetch what it needs" >&2
# The C API test: gcc builds it, valgrind runs it (memory errors and leaks fail the test).
command -v gcc >/dev/null || apt_install gcc libc6-dev
command -v valgrind >/dev/null || apt_install valgrind
command -v gcc >/dev/null || { echo "install-test-deps: gcc is missing (apt-get install gcc)" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "install-test-deps: valgrind is missing (apt-get install valgrind)" >&2; exit 1; }

# Fuzzing (scripts/fuzz-smoke.sh): cargo-fuzz, built into .test-deps/, and a pinned nightly
# (libFuzzer's coverage instrumentation takes nightly-only compiler flags). rustup fetches the
# nightly like any toolchain; where it cannot, stable with RUSTC_BOOTSTRAP=1 takes the same flags.
FUZZ_TOOLCHAIN=nightly-2026-05-19
FUZZ_BOOTSTRAP=0
CARGO_FUZZ_VERSION=0.13.2
CARGO_FUZZ="$DEPS_DIR/cargo-fuzz/bin/cargo-fuzz"
if ! rustup run "$FUZZ_TOOLCHAIN" rustc --version >/dev/null 2>&1; then
    echo "install-test-deps: installing Rust $FUZZ_TOOLCHAIN (minimal profile)" >&2
    if ! rustup toolchain install "$FUZZ_TOOLCHAIN" --profile minimal >&2; then
        echo "install-test-deps: no $FUZZ_TOOLCHAIN; fuzzing on stable with RUSTC_BOOTSTRAP=1" >&2
        FUZZ_TOOLCHAIN=stable
        FUZZ_BOOTSTRAP=1
    fi
fi
if [[ "$("$CARGO_FUZZ" --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]]; then
    echo "install-test-deps: building cargo-fuzz $CARGO_FUZZ_VERSION into .test-deps/" >&2
    cargo install --quiet --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION" \
        --root "$DEPS_DIR/cargo-fuzz" >&2
fi

# The Swift binding tests: Swift 6.0.3 in a Debian 13 chroot (Debian 12 has no Swift package),
# made once by debootstrap into .test-deps/swift-trixie/ (~2.5 min, 2.6 GB) and reused after.
SWIFT_ASSIGNMENT="$(./scripts/install-swift-chroot.sh)"

for bin in "$ANVIL" "$CAST" "$CARGO_FUZZ"; do
    [[ -x "$bin" ]] || { echo "install-test-deps: $bin missing after installing it" >&2; exit 1; }
done
echo "PORTAL_STATE_ANVIL=$ANVIL"
echo "PORTAL_STATE_CAST=$CAST"
echo "PORTAL_STATE_PYTHONPATH=$PYTHON_DEPS"
echo "PORTAL_STATE_NODE_PATH=$DEPS_DIR/node_modules"
echo "PORTAL_STATE_CARGO_FUZZ=$CARGO_FUZZ"
echo "PORTAL_STATE_FUZZ_TOOLCHAIN=$FUZZ_TOOLCHAIN"
echo "PORTAL_STATE_FUZZ_BOOTSTRAP=$FUZZ_BOOTSTRAP"
echo "$SWIFT_ASSIGNMENT"
