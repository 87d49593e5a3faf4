"""`watch` through the generated Python bindings, against a devnet following a real anvil: a
light node watches a fresh account, anvil mines transfers to it, and a Python listener hears
each verified new balance at the block that made it; a listener that raises harms nothing;
after `unwatch` nothing more."""

import queue

import pytest

WATCHED = "0x00000000000000000000000000000000000B0B03"


def test_a_python_listener_hears_each_transfer(ps, anvil_devnet, tmp_path):
    config = ps.default_node_config(str(tmp_path / "watcher"))
    config.storage_capacity_bytes = 0  # a light node: every read comes from the network
    config.bootnodes = anvil_devnet.first["bootnodes"]
    node = ps.Node.start(config)
    try:
        node.update_head(anvil_devnet.first["header_rlp"])
        events = queue.Queue()
        raised = []

        class Listener(ps.WatchListener):
            def on_change(self, event):
                events.put(event)

        class Raising(ps.WatchListener):
            def on_change(self, event):
                raised.append(event.account.block.number)
                raise RuntimeError("a listener that throws")

        watch_id = node.watch(WATCHED, [], Listener())
        raising_id = node.watch(WATCHED, [], Raising())
        with pytest.raises(ps.NodeError.InvalidInput):
            node.watch("0x1234", [], Listener())

        def event_at(block):
            while True:
                event = events.get(timeout=60)
                if event.account.block.number == block["number"]:
                    assert event.account.block.hash == block["hash"]
                    return event
                assert event.baseline and event.account.balance == "0", event

        total = 0
        for i, wei in enumerate([1_000_000, 2_500_000]):
            block = anvil_devnet.send(WATCHED, wei)
            total += wei
            node.update_head(block["header_rlp"])
            event = event_at(block)
            assert event.watch_id == watch_id
            assert event.address.lower() == WATCHED.lower()
            assert event.account.balance == block["balance"] == str(total)
            assert event.account.exists
            if i > 0:
                assert event.balance_changed and not event.baseline
                assert event.missed_blocks == 0

        assert len(raised) >= 2  # called on, though it raised every time
        assert node.unwatch(raising_id) is True
        assert node.unwatch(watch_id) is True
        assert node.unwatch(watch_id) is False
        block = anvil_devnet.send(WATCHED, 7)
        node.update_head(block["header_rlp"])
        with pytest.raises(queue.Empty):
            events.get(timeout=1.5)  # three of the watch task's polls: nothing comes
    finally:
        node.stop()
