"""Fixtures of the Python binding tests: the generated bindings loaded against the host
library, and a holesky devnet running in a child process.

Environment (scripts/test.sh sets both; the tests fail, never skip, without them):
  PORTAL_STATE_LIB     the built libportal_state.so (unstripped or stripped: either runs)
  PORTAL_STATE_DEVNET  the built `devnet-for-bindings` example
"""

import importlib
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]


def _required_env(name):
    value = os.environ.get(name)
    if not value or not os.path.exists(value):
        pytest.fail(f"{name} must name an existing file (see scripts/test.sh); got {value!r}")
    return value


@pytest.fixture(scope="session")
def ps(tmp_path_factory):
    """The generated module `portal_state`, next to a copy of the library: the generated code
    loads the library from its own directory, as a packaged app would ship it."""
    lib = _required_env("PORTAL_STATE_LIB")
    where = tmp_path_factory.mktemp("portal_state_py")
    shutil.copy(REPO / "bindings" / "python" / "portal_state.py", where / "portal_state.py")
    shutil.copy(lib, where / "libportal_state.so")
    sys.path.insert(0, str(where))
    return importlib.import_module("portal_state")


@pytest.fixture(scope="session")
def devnet():
    """A holesky devnet on loopback: {"bootnodes": [...], "header_rlp": "0x..", "hash": ..}."""
    binary = _required_env("PORTAL_STATE_DEVNET")
    proc = subprocess.Popen(
        [binary], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        pytest.fail(f"the devnet exited without printing its ENRs (code {proc.wait()})")
    info = json.loads(line)
    info["header_rlp"] = bytes.fromhex(info["header_rlp"][2:])
    yield info
    proc.stdin.close()  # EOF: the devnet stops its nodes and exits
    proc.wait(timeout=30)


@pytest.fixture(scope="session")
def genesis():
    return json.loads((REPO / "data" / "genesis" / "holesky.json").read_text())


class AnvilDevnet:
    """The devnet following a real anvil (`devnet-for-bindings --follow-anvil`, anvil from
    PORTAL_STATE_ANVIL): `send(address, wei)` makes anvil mine a transfer and returns the
    pushed block as {"number", "hash", "header_rlp" (bytes), "balance" (anvil's, decimal)}."""

    def __init__(self, proc, first):
        self.proc = proc
        self.first = first

    def _block(self, line):
        if not line:
            pytest.fail(f"the anvil devnet exited (code {self.proc.wait()})")
        block = json.loads(line)
        block["header_rlp"] = bytes.fromhex(block["header_rlp"][2:])
        return block

    def send(self, address, wei):
        self.proc.stdin.write(f"send {address} {wei}\n")
        self.proc.stdin.flush()
        return self._block(self.proc.stdout.readline())


@pytest.fixture(scope="session")
def anvil_devnet():
    binary = _required_env("PORTAL_STATE_DEVNET")
    _required_env("PORTAL_STATE_ANVIL")
    proc = subprocess.Popen(
        [binary, "--follow-anvil"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        cwd=REPO,
    )
    devnet = AnvilDevnet(proc, None)
    devnet.first = devnet._block(proc.stdout.readline())
    yield devnet
    proc.stdin.close()  # EOF: the devnet stops anvil and its nodes and exits
    proc.wait(timeout=30)
