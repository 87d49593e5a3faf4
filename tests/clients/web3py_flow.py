"""A wallet's whole flow through web3.py against portal-state's JSON-RPC.

Run by tests/clients_flow.rs (which starts anvil and a devnet following it, with anvil as the
transaction relay, and deploys the contract this script reads) with:

  PORTAL_STATE_RPC       our node's JSON-RPC URL (under test)
  PORTAL_STATE_EL_RPC    anvil's URL (the reference, and where the transfer is mined)
  PORTAL_STATE_CONTRACT  a contract deployed in the newest block: slot 0 holds 42 and its code
                         returns slot 0
  PORTAL_STATE_KEY       the private key of the account that deployed it (anvil's dev key)

Every check raises on failure and the script exits non-zero. The devnet following anvil only
has proofs for accounts changed in the block asked about (a known limitation), so the flow reads
the sender and the contract in the block that changed them, and the recipient in the block of
the transfer.
"""

import os
import sys
import time

import rlp
from eth_account import Account
from eth_utils import keccak
from web3 import Web3

RPC = os.environ["PORTAL_STATE_RPC"]
EL_RPC = os.environ["PORTAL_STATE_EL_RPC"]
CONTRACT = Web3.to_checksum_address(os.environ["PORTAL_STATE_CONTRACT"])
KEY = os.environ["PORTAL_STATE_KEY"]
EMPTY_TRIE_ROOT = bytes.fromhex("56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421")
GWEI = 10**9


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    print(f"web3.py ok: {what}", flush=True)


def as_int(value):
    """web3.py gives some quantities as ints and some (storage proof values) as bytes."""
    return value if isinstance(value, int) else int.from_bytes(bytes(value), "big")


def nibbles(data):
    out = []
    for b in data:
        out += [b >> 4, b & 15]
    return out


def trie_get(root, key, proof):
    """The value at keccak(key) in the trie with `root`, walked through `proof` (every node
    hash-checked); None when the proof shows the key absent. Raises on a bad proof."""
    path = nibbles(keccak(key))
    nodes = [bytes(n) for n in proof]
    ref, pos = bytes(root), 0
    while True:
        if isinstance(ref, bytes):
            if ref == b"":
                node = None
            elif len(ref) == 32:
                if not nodes:
                    if ref == EMPTY_TRIE_ROOT and pos == 0:
                        return None
                    raise AssertionError("proof ends before the path does")
                raw = nodes.pop(0)
                if keccak(raw) != ref:
                    raise AssertionError("a proof node does not hash to its reference")
                node = rlp.decode(raw)
            else:
                raise AssertionError(f"bad node reference of {len(ref)} bytes")
        else:
            node = ref  # a node embedded in its parent (under 32 bytes)
        if node is None or node == b"":
            value = None
        elif len(node) == 17:
            if pos == len(path):
                raise AssertionError("a branch at the end of a secure-trie path")
            ref = node[path[pos]]
            pos += 1
            continue
        elif len(node) == 2:
            encoded = nibbles(node[0])
            flag = encoded[0]
            prefix = encoded[2:] if flag in (0, 2) else encoded[1:]
            if path[pos : pos + len(prefix)] != prefix:
                value = None
            elif flag >= 2:  # a leaf
                pos += len(prefix)
                value = node[1] if pos == len(path) else None
            else:
                pos += len(prefix)
                ref = node[1]
                continue
        else:
            raise AssertionError(f"a trie node with {len(node)} items")
        if nodes:
            raise AssertionError(f"{len(nodes)} proof nodes after the end of the path")
        return value


def verify_proof(proof, state_root):
    """Check an eth_getProof answer against `state_root`; the proven account fields."""
    leaf = trie_get(state_root, bytes.fromhex(proof["address"][2:]), proof["accountProof"])
    if leaf is None:
        fields = [0, 0, EMPTY_TRIE_ROOT, keccak(b"")]
    else:
        nonce, balance, storage_root, code_hash = rlp.decode(leaf)
        fields = [
            int.from_bytes(nonce, "big"),
            int.from_bytes(balance, "big"),
            storage_root,
            code_hash,
        ]
    assert fields[0] == as_int(proof["nonce"]), "nonce differs from the proof"
    assert fields[1] == as_int(proof["balance"]), "balance differs from the proof"
    assert fields[2] == bytes(proof["storageHash"]), "storage hash differs from the proof"
    assert fields[3] == bytes(proof["codeHash"]), "code hash differs from the proof"
    for entry in proof["storageProof"]:
        slot = entry["key"].to_bytes(32, "big") if isinstance(entry["key"], int) else bytes(entry["key"]).rjust(32, b"\0")
        value = trie_get(fields[2], slot, entry["proof"])
        proven = 0 if value is None else int.from_bytes(rlp.decode(value), "big")
        assert proven == as_int(entry["value"]), f"slot {slot.hex()} differs from its proof"
    return fields


def timed(what, call):
    """`call()`, printing how long it took (a figure for BENCHMARKS.md, never a check)."""
    started = time.perf_counter()
    result = call()
    print(f"RESULT web3.py {what}: {(time.perf_counter() - started) * 1e3:.1f} ms", flush=True)
    return result


def wait_until(condition, what, seconds=60):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def main():
    w3 = Web3(Web3.HTTPProvider(RPC))
    el = Web3(Web3.HTTPProvider(EL_RPC))
    sender = Account.from_key(KEY)

    # Connect.
    check(w3.is_connected(), "connected (web3_clientVersion)")
    check(w3.client_version.startswith("portal-state/"), f"client version {w3.client_version}")
    chain_id = w3.eth.chain_id
    check(chain_id == el.eth.chain_id, f"chain id {chain_id}")
    check(w3.net.version == str(chain_id), "net_version")
    check(w3.eth.syncing is False, "eth_syncing is false")
    head = w3.eth.block_number
    check(head == el.eth.block_number, f"block number {head}")
    ours, theirs = w3.eth.get_block("latest"), el.eth.get_block(head)
    for field in ["hash", "stateRoot", "parentHash", "baseFeePerGas", "gasUsed", "gasLimit"]:
        check(ours[field] == theirs[field], f"latest block's {field}")
    # The header does not say how many transactions the block has (it has one): null.
    count = w3.provider.make_request("eth_getBlockTransactionCountByNumber", [hex(head)])
    check(count.get("result", "missing") is None, "transaction count unknown: null")

    # Read: the sender and the contract changed in the newest block.
    check(w3.eth.get_balance(sender.address) == el.eth.get_balance(sender.address, head), "sender's balance")
    nonce = w3.eth.get_transaction_count(sender.address)
    check(nonce == el.eth.get_transaction_count(sender.address, head), f"sender's nonce {nonce}")
    check(w3.eth.get_code(CONTRACT) == el.eth.get_code(CONTRACT, head), "contract code")
    check(int.from_bytes(w3.eth.get_storage_at(CONTRACT, 0), "big") == 42, "contract slot 0 is 42")
    check(int.from_bytes(w3.eth.call({"to": CONTRACT}), "big") == 42, "eth_call returns 42")

    # Estimate and fees.
    recipient = Account.create().address
    # Estimated to the sender itself: the fresh recipient may have no proof in the network yet
    # (the devnet proves only what a block changed), and a transfer costs the same to any EOA.
    gas = w3.eth.estimate_gas({"from": sender.address, "to": sender.address, "value": 1})
    check(gas == 21000, f"estimateGas of a transfer: {gas}")
    tip = w3.eth.max_priority_fee
    check(tip == GWEI, "maxPriorityFeePerGas: the documented 1 gwei suggestion")
    history = timed("eth_feeHistory", lambda: w3.eth.fee_history(2, "latest", [25, 75]))
    reference = el.eth.fee_history(2, head, [25, 75])
    check(history["oldestBlock"] == reference["oldestBlock"], "feeHistory oldest block")
    check(history["baseFeePerGas"] == reference["baseFeePerGas"], f"feeHistory base fees {history['baseFeePerGas']}")
    check(history["gasUsedRatio"] == reference["gasUsedRatio"], "feeHistory gas used ratios")
    next_base_fee = history["baseFeePerGas"][-1]
    check(w3.eth.gas_price == next_base_fee + tip, "gasPrice = next base fee + tip")

    # Access list: the contract's slot 0, as anvil lists it.
    request = {"from": sender.address, "to": CONTRACT, "data": "0x"}
    ours = timed("eth_createAccessList", lambda: w3.eth.create_access_list(request, "latest"))
    # (web3.py sends an int block number here unconverted, which anvil refuses: hex it.)
    theirs = el.eth.create_access_list(request, hex(head))
    check(ours["accessList"] == theirs["accessList"], f"access list {ours['accessList']}")
    check(ours["gasUsed"] == theirs["gasUsed"], f"access list gas {ours['gasUsed']}")

    # Proofs, checked here against the block's state root.
    state_root = bytes(w3.eth.get_block(head)["stateRoot"])
    proof = timed("eth_getProof (account + 1 slot)", lambda: w3.eth.get_proof(CONTRACT, [0], head))
    fields = verify_proof(proof, state_root)
    check(fields[2] != EMPTY_TRIE_ROOT and as_int(proof["storageProof"][0]["value"]) == 42, "contract proof verifies: slot 0 is 42")
    proof = w3.eth.get_proof(sender.address, [], head)
    fields = verify_proof(proof, state_root)
    check(fields[0] == nonce and fields[1] == el.eth.get_balance(sender.address, head), "sender's proof verifies")
    reference = el.eth.get_proof(sender.address, [], head)
    check(proof["accountProof"] == reference["accountProof"], "sender's proof is anvil's")

    # Send: a transfer built with our fees and nonce, signed here, sent through our node.
    value = 10**15
    tx = {
        "type": 2,
        "chainId": chain_id,
        "nonce": nonce,
        "to": recipient,
        "value": value,
        "gas": gas,
        "maxPriorityFeePerGas": tip,
        "maxFeePerGas": 2 * next_base_fee + tip,
    }
    signed = Account.sign_transaction(tx, KEY)
    # Refused before any relay sees them: another chain, more than the sender has.
    for bad, why in [
        ({**tx, "chainId": chain_id + 1}, "chain id"),
        ({**tx, "value": 10**30}, "insufficient funds"),
        ({**tx, "nonce": nonce - 1}, "nonce too low"),
    ]:
        raw = Account.sign_transaction(bad, KEY).raw_transaction
        answer = w3.provider.make_request("eth_sendRawTransaction", [Web3.to_hex(raw)])
        error = answer.get("error") or {}
        check(error.get("code") == -32003 and why in error.get("message", ""), f"rejected: {why}")
    sent = timed("eth_sendRawTransaction (checked, relayed)", lambda: w3.eth.send_raw_transaction(signed.raw_transaction))
    check(sent == signed.hash, f"sent {sent.to_0x_hex()}, the hash computed locally")
    receipt = el.eth.wait_for_transaction_receipt(sent, timeout=60)
    check(receipt["status"] == 1, f"mined by anvil in block {receipt['blockNumber']}")
    mined = receipt["blockNumber"]
    wait_until(lambda: w3.eth.block_number >= mined, "our node to trust the transfer's block")
    check(w3.eth.get_balance(recipient, mined) == value, "recipient's new balance, read through our node")
    check(w3.eth.get_balance(sender.address) == el.eth.get_balance(sender.address, mined), "sender's new balance")
    check(w3.eth.get_transaction_count(sender.address) == nonce + 1, "sender's new nonce")
    print("web3.py flow: ok", flush=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # any failure fails the run, with its reason
        print(f"web3.py flow FAILED: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
