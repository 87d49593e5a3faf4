"""The generated Python bindings against a real devnet: start, trust a head, verified
account / storage / code answers checked against the genesis file, typed errors, stop."""

import asyncio

import pytest

DEPOSIT = "0x4242424242424242424242424242424242424242"
WHALE = "0xD3994e4d3202dD23c8497d7F75bF1647d1DA1bb1"


@pytest.fixture
def node(ps, devnet, tmp_path):
    config = ps.default_node_config(str(tmp_path / "node"))
    config.storage_capacity_bytes = 0  # a light node: every answer comes from the network
    config.bootnodes = devnet["bootnodes"]
    node = ps.Node.start(config)
    yield node
    node.stop()


def test_queries_are_verified_against_the_genesis(ps, devnet, genesis, node):
    with pytest.raises(ps.NodeError.NoTrustedHeader):
        node.query_account(DEPOSIT, ps.BlockId.LATEST())
    head = node.update_head(devnet["header_rlp"])
    assert head.number == 0 and head.hash == devnet["hash"]
    status = node.status()
    assert status.newest_block == 0 and status.peers >= 1 and status.enr.startswith("enr:")

    # Balance: a decimal string, exact (this one is above 2**64).
    account = node.query_account(WHALE, ps.BlockId.LATEST())
    assert account.exists and account.nonce == 0
    assert int(account.balance) == int(genesis["alloc"][WHALE]["balance"], 16)
    assert int(account.balance) > 2**64
    assert account.block.hash == devnet["hash"]

    deposit = genesis["alloc"][DEPOSIT]
    slot = "0x" + "00" * 31 + "22"
    storage = node.query_storage(DEPOSIT, "0x22", ps.BlockId.NUMBER(number=0))
    assert storage.value == deposit["storage"][slot]
    code = node.get_code(DEPOSIT, ps.BlockId.HASH(hash=devnet["hash"]))
    assert code.code == bytes.fromhex(deposit["code"][2:])

    absent = node.query_account("0x" + "77" * 20, ps.BlockId.LATEST())
    assert not absent.exists and absent.balance == "0"


def test_pause_resume_and_network_changed(ps, devnet, genesis, node):
    node.update_head(devnet["header_rlp"])
    node.pause()
    assert node.status().paused
    assert node.resume() is True  # a cached peer answered
    assert not node.status().paused
    assert node.network_changed() >= 1  # cached peers answered again
    account = node.query_account(WHALE, ps.BlockId.LATEST())
    assert int(account.balance) == int(genesis["alloc"][WHALE]["balance"], 16)


def test_async_queries(ps, devnet, genesis, node):
    node.update_head(devnet["header_rlp"])

    async def both():
        return await asyncio.gather(
            node.query_account_async(DEPOSIT, ps.BlockId.LATEST()),
            node.get_code_async(DEPOSIT, ps.BlockId.LATEST()),
        )

    account, code = asyncio.run(both())
    assert account.exists and len(code.code) == (len(genesis["alloc"][DEPOSIT]["code"]) - 2) // 2


def test_contract_calls_through_the_network(ps, devnet, node):
    node.update_head(devnet["header_rlp"])

    def request(selector):
        return ps.CallRequest(
            _from=None, to=DEPOSIT, gas=None, gas_price=None, value=None,
            data=bytes.fromhex(selector), chain_id=None,
        )

    root = node.call(request("c5f2892f"), ps.BlockId.LATEST())  # get_deposit_root()
    assert root.success
    assert root.return_data.hex() == "d70a234731285c6804c2a4f56711ddb8c82c99740f207854891028af34e27e5e"
    count = asyncio.run(node.call_async(request("621fd130"), ps.BlockId.LATEST()))
    # get_deposit_count(): ABI bytes of length 8, all zero (an empty deposit tree)
    assert count.return_data[32:64] == (8).to_bytes(32, "big")
    assert count.return_data[64:72] == bytes(8)
    gas = node.estimate_gas(request("c5f2892f"), ps.BlockId.LATEST())
    assert 21_000 < gas.gas < 30_000_000
    with pytest.raises(ps.NodeError.InvalidInput):
        bad = request("c5f2892f")
        bad.value = "lots"
        node.call(bad, ps.BlockId.LATEST())


# node::PANIC_IN_CALL: with the `fault-injection` feature (scripts/test.sh builds the library
# the tests load with it), a call with this calldata panics inside its task.
PANIC_IN_CALL = b"portal-state:panic-in-call"


def test_a_panic_inside_a_call_is_an_error(ps, devnet, node):
    node.update_head(devnet["header_rlp"])

    def request(data):
        return ps.CallRequest(
            _from=None, to=DEPOSIT, gas=None, gas_price=None, value=None,
            data=data, chain_id=None,
        )

    with pytest.raises(ps.NodeError.Internal) as caught:
        node.call(request(PANIC_IN_CALL), ps.BlockId.LATEST())
    assert "panicked" in str(caught.value)
    with pytest.raises(ps.NodeError.Internal):
        asyncio.run(node.call_async(request(PANIC_IN_CALL), ps.BlockId.LATEST()))
    # The process lives on and so does the node.
    root = node.call(request(bytes.fromhex("c5f2892f")), ps.BlockId.LATEST())
    assert root.success and len(root.return_data) == 32


def test_typed_errors(ps, devnet, node):
    node.update_head(devnet["header_rlp"])
    with pytest.raises(ps.NodeError.InvalidInput) as bad:
        node.query_account("0x1234", ps.BlockId.LATEST())
    assert "40 hex digits" in str(bad.value)
    with pytest.raises(ps.NodeError.InvalidInput) as bad:
        node.query_account(WHALE[:-1] + "B", ps.BlockId.LATEST())  # checksum typo
    assert "checksum" in str(bad.value)
    with pytest.raises(ps.NodeError.InvalidInput):
        node.query_storage(DEPOSIT, "22", ps.BlockId.LATEST())
    with pytest.raises(ps.NodeError.UnknownBlock):
        node.query_account(DEPOSIT, ps.BlockId.NUMBER(number=5))
    with pytest.raises(ps.NodeError.InvalidInput):
        node.update_head(b"\xc0\x01")
    # Every error is a NodeError.
    with pytest.raises(ps.NodeError):
        node.query_account(DEPOSIT, ps.BlockId.HASH(hash="0xnothex"))

    node.stop()
    node.stop()  # idempotent
    with pytest.raises(ps.NodeError.NotRunning):
        node.query_account(DEPOSIT, ps.BlockId.LATEST())
    with pytest.raises(ps.NodeError.NotRunning):
        node.status()
    with pytest.raises(ps.NodeError.NotRunning):
        asyncio.run(node.get_code_async(DEPOSIT, ps.BlockId.LATEST()))


def test_fees_and_sending(ps, devnet, node):
    with pytest.raises(ps.NodeError.NoTrustedHeader):
        node.fee_data()
    node.update_head(devnet["header_rlp"])
    # The holesky genesis: base fee 1 gwei, nothing used, so the next block's is 7/8 of it.
    fees = node.fee_data()
    assert fees.block.hash == devnet["hash"]
    assert fees.base_fee_per_gas == "1000000000"
    assert fees.next_base_fee_per_gas == "875000000"
    assert fees.max_priority_fee_per_gas == "1000000000"
    assert int(fees.max_fee_per_gas) == 2 * 875000000 + 10**9
    assert int(fees.gas_price) == 875000000 + 10**9
    assert fees.next_blob_base_fee is None
    # Sending needs a relay, and the relay list takes URLs only.
    with pytest.raises(ps.NodeError.NoRelay):
        node.send_raw_transaction(b"\x02\x01")
    with pytest.raises(ps.NodeError.InvalidInput):
        node.set_tx_relays(["ftp://127.0.0.1:1"])
    node.set_tx_relays(["http://127.0.0.1:9"])
    with pytest.raises(ps.NodeError.TransactionRejected) as rejected:
        node.send_raw_transaction(b"\x02\x01")
    assert "decode" in str(rejected.value)


def test_log_sink_receives_lines(ps, devnet, tmp_path):
    lines = []

    class Sink(ps.LogSink):
        def log(self, record):
            lines.append(record)

    ps.set_log_sink(Sink())
    try:
        config = ps.default_node_config(str(tmp_path / "logged"))
        config.bootnodes = devnet["bootnodes"]
        node = ps.Node.start(config)
        node.stop()
    finally:
        ps.clear_log_sink()
    messages = [r.message for r in lines if r.target.startswith("portal_state")]
    assert any("node started" in m for m in messages), messages
    assert any("node stopped" in m for m in messages), messages
    assert all(r.level == ps.LogLevel.INFO for r in lines if "node started" in r.message)


def test_light_client_config_errors_are_typed(ps, node):
    # Not started: no light-client status.
    assert node.status().light_client is None
    # Neither a checkpoint nor a saved state.
    with pytest.raises(ps.NodeError.InvalidInput) as bad:
        node.start_light_client(None, [])
    assert "checkpoint" in str(bad.value)
    # A malformed checkpoint and a malformed URL.
    with pytest.raises(ps.NodeError.InvalidInput):
        node.start_light_client("0x1234", ["http://127.0.0.1:1"])
    with pytest.raises(ps.NodeError.InvalidInput):
        node.start_light_client("0x" + "11" * 32, ["ftp://nowhere"])
    assert node.status().light_client is None


# The devnet's beacon REST API ("beacon_api") serves portal-spec-tests' real mainnet Deneb
# light-client objects: this checkpoint, and the heads they prove (tests/beacon_light_client.rs
# checks them against the execution branches).
BEACON_CHECKPOINT = "0x33d75f8506929d950a6d9e43508e92e50a072a39978821900e3a2e261f80ddbf"


def test_the_light_client_follows_a_beacon_api(ps, devnet, tmp_path):
    import time

    # No bootnodes: the heads come from the light client alone, never from update_head.
    config = ps.default_node_config(str(tmp_path / "beacon"))
    config.storage_capacity_bytes = 0
    node = ps.Node.start(config)
    try:
        assert node.status().light_client is None
        node.start_light_client(BEACON_CHECKPOINT, [devnet["beacon_api"]])
        for _ in range(600):
            status = node.status()
            if status.light_client.optimistic_block == 21_038_166:
                break
            time.sleep(0.05)
        light = status.light_client
        assert light.checkpoint == BEACON_CHECKPOINT
        assert (light.finalized_slot, light.optimistic_slot) == (10_248_384, 10_248_457)
        assert (light.finalized_block, light.optimistic_block) == (21_038_093, 21_038_166)
        assert light.last_error is None and light.refused_objects == 0
        assert status.newest_block == 21_038_166
    finally:
        node.stop()
