// A wallet's whole flow through viem against portal-state's JSON-RPC.
//
// Run by tests/clients_flow.rs (anvil, a devnet following it with anvil as the transaction
// relay, and a contract deployed in the newest block) with the same environment as
// web3py_flow.py: PORTAL_STATE_RPC, PORTAL_STATE_EL_RPC, PORTAL_STATE_CONTRACT,
// PORTAL_STATE_KEY; viem from NODE_PATH (.test-deps/node_modules). Any failed check exits 1.
//
// CommonJS, so that NODE_PATH finds viem (ES modules ignore NODE_PATH).
"use strict";

const {
  createPublicClient, createWalletClient, http, fromRlp, keccak256, hexToBigInt, toHex,
  pad, hexToBytes, numberToHex,
} = require("viem");
const { privateKeyToAccount, generatePrivateKey } = require("viem/accounts");
const { foundry } = require("viem/chains");

const RPC = process.env.PORTAL_STATE_RPC;
const EL_RPC = process.env.PORTAL_STATE_EL_RPC;
const CONTRACT = process.env.PORTAL_STATE_CONTRACT;
const KEY = process.env.PORTAL_STATE_KEY;
const EMPTY_TRIE_ROOT = "0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421";
const GWEI = 1_000_000_000n;

function check(condition, what) {
  if (!condition) throw new Error(`check failed: ${what}`);
  console.log(`viem ok: ${what}`);
}

const json = (v) => JSON.stringify(v, (_, x) => (typeof x === "bigint" ? x.toString() : x));

function nibbles(hex) {
  const out = [];
  for (const b of hexToBytes(hex)) out.push(b >> 4, b & 15);
  return out;
}

// The value at keccak(key) in the trie with `root`, walked through `proof` (each node
// hash-checked); null when the proof shows the key absent. Throws on a bad proof.
function trieGet(root, key, proof) {
  const path = nibbles(keccak256(key));
  const nodes = [...proof];
  let ref = root;
  let pos = 0;
  for (;;) {
    let node;
    if (typeof ref === "string") {
      if (ref === "0x") {
        node = null;
      } else if (ref.length === 66) {
        if (nodes.length === 0) {
          if (ref === EMPTY_TRIE_ROOT && pos === 0) return null;
          throw new Error("proof ends before the path does");
        }
        const raw = nodes.shift();
        if (keccak256(raw) !== ref) throw new Error("a proof node does not hash to its reference");
        node = fromRlp(raw, "hex");
      } else {
        throw new Error(`bad node reference ${ref}`);
      }
    } else {
      node = ref; // embedded in its parent (under 32 bytes)
    }
    let value;
    if (node === null) {
      value = null;
    } else if (node.length === 17) {
      if (pos === path.length) throw new Error("a branch at the end of a secure-trie path");
      ref = node[path[pos]];
      pos += 1;
      continue;
    } else if (node.length === 2) {
      const encoded = nibbles(node[0]);
      const flag = encoded[0];
      const prefix = flag === 0 || flag === 2 ? encoded.slice(2) : encoded.slice(1);
      const matches = prefix.every((n, i) => path[pos + i] === n);
      if (!matches) {
        value = null;
      } else if (flag >= 2) {
        pos += prefix.length;
        value = pos === path.length ? node[1] : null;
      } else {
        pos += prefix.length;
        ref = node[1];
        continue;
      }
    } else {
      throw new Error(`a trie node with ${node.length} items`);
    }
    if (nodes.length) throw new Error(`${nodes.length} proof nodes after the end of the path`);
    return value;
  }
}

const rlpInt = (hex) => (hex === "0x" ? 0n : hexToBigInt(hex));

// Check an eth_getProof answer (viem's form) against `stateRoot`; the proven fields.
function verifyProof(proof, stateRoot) {
  const leaf = trieGet(stateRoot, proof.address, proof.accountProof);
  const [nonce, balance, storageHash, codeHash] = leaf === null
    ? [0n, 0n, EMPTY_TRIE_ROOT, keccak256("0x")]
    : fromRlp(leaf, "hex").map((f, i) => (i < 2 ? rlpInt(f) : f));
  if (BigInt(proof.nonce) !== nonce) throw new Error("nonce differs from the proof");
  if (proof.balance !== balance) throw new Error("balance differs from the proof");
  if (proof.storageHash !== storageHash) throw new Error("storage hash differs from the proof");
  if (proof.codeHash !== codeHash) throw new Error("code hash differs from the proof");
  for (const entry of proof.storageProof) {
    const value = trieGet(storageHash, pad(entry.key, { size: 32 }), entry.proof);
    const proven = value === null ? 0n : rlpInt(fromRlp(value, "hex"));
    if (proven !== entry.value) throw new Error(`slot ${entry.key} differs from its proof`);
  }
  return { nonce, balance, storageHash, codeHash };
}

async function waitUntil(condition, what, seconds = 60) {
  const deadline = Date.now() + seconds * 1000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function main() {
  const chain = { ...foundry, rpcUrls: { default: { http: [RPC] } } };
  const ours = createPublicClient({ chain, transport: http(RPC) });
  const el = createPublicClient({ chain: foundry, transport: http(EL_RPC) });
  const account = privateKeyToAccount(KEY);
  const sender = account.address;

  // Connect.
  const chainId = await ours.getChainId();
  check(chainId === (await el.getChainId()), `chain id ${chainId}`);
  const head = await ours.getBlockNumber({ cacheTime: 0 });
  check(head === (await el.getBlockNumber({ cacheTime: 0 })), `block number ${head}`);
  const block = await ours.getBlock();
  const reference = await el.getBlock({ blockNumber: head });
  for (const field of ["hash", "stateRoot", "parentHash", "baseFeePerGas", "gasUsed", "gasLimit"]) {
    check(block[field] === reference[field], `latest block's ${field}`);
  }
  const version = await ours.request({ method: "web3_clientVersion" });
  check(version.startsWith("portal-state/"), `client version ${version}`);
  check((await ours.request({ method: "eth_syncing" })) === false, "eth_syncing is false");

  // Read: the sender and the contract changed in the newest block.
  check((await ours.getBalance({ address: sender })) === (await el.getBalance({ address: sender, blockNumber: head })), "sender's balance");
  const nonce = await ours.getTransactionCount({ address: sender });
  check(nonce === (await el.getTransactionCount({ address: sender, blockNumber: head })), `sender's nonce ${nonce}`);
  check((await ours.getCode({ address: CONTRACT })) === (await el.getCode({ address: CONTRACT, blockNumber: head })), "contract code");
  check(hexToBigInt(await ours.getStorageAt({ address: CONTRACT, slot: "0x0" })) === 42n, "contract slot 0 is 42");
  const { data } = await ours.call({ to: CONTRACT });
  check(hexToBigInt(data) === 42n, "eth_call returns 42");

  // Estimate and fees.
  const recipient = privateKeyToAccount(generatePrivateKey()).address;
  // Estimated to the sender itself: the fresh recipient may have no proof in the network yet
  // (the devnet proves only what a block changed), and a transfer costs the same to any EOA.
  const gas = await ours.estimateGas({ account: sender, to: sender, value: 1n });
  check(gas === 21000n, `estimateGas of a transfer: ${gas}`);
  const tip = await ours.estimateMaxPriorityFeePerGas();
  check(tip === GWEI, "maxPriorityFeePerGas: the documented 1 gwei suggestion");
  const history = await ours.getFeeHistory({ blockCount: 2, rewardPercentiles: [25, 75] });
  const theirs = await el.getFeeHistory({ blockCount: 2, blockNumber: head, rewardPercentiles: [25, 75] });
  check(history.oldestBlock === theirs.oldestBlock, "feeHistory oldest block");
  check(json(history.baseFeePerGas) === json(theirs.baseFeePerGas), `feeHistory base fees ${json(history.baseFeePerGas)}`);
  check(json(history.gasUsedRatio) === json(theirs.gasUsedRatio), "feeHistory gas used ratios");
  const nextBaseFee = history.baseFeePerGas[history.baseFeePerGas.length - 1];
  check((await ours.getGasPrice()) === nextBaseFee + tip, "gasPrice = next base fee + tip");
  const fees = await ours.estimateFeesPerGas();
  check(fees.maxPriorityFeePerGas === tip && fees.maxFeePerGas > nextBaseFee, `estimateFeesPerGas ${json(fees)}`);

  // Access list: the contract's slot 0, as anvil lists it.
  const request = { account: sender, to: CONTRACT, data: "0x" };
  const list = await ours.createAccessList(request);
  const anvilList = await el.createAccessList({ ...request, blockNumber: head });
  // Addresses compared without their checksum case (anvil lists them in lower case).
  const lower = (l) => json(l).toLowerCase();
  check(lower(list.accessList) === lower(anvilList.accessList), `access list ${json(list.accessList)}, anvil's ${json(anvilList.accessList)}`);
  check(list.gasUsed === anvilList.gasUsed, `access list gas ${list.gasUsed}`);

  // Proofs, checked here against the block's state root.
  const { stateRoot } = await ours.getBlock({ blockNumber: head });
  const contractProof = await ours.getProof({ address: CONTRACT, storageKeys: [pad("0x0", { size: 32 })], blockNumber: head });
  const contract = verifyProof(contractProof, stateRoot);
  check(contract.storageHash !== EMPTY_TRIE_ROOT && contractProof.storageProof[0].value === 42n, "contract proof verifies: slot 0 is 42");
  const senderProof = await ours.getProof({ address: sender, storageKeys: [], blockNumber: head });
  const proven = verifyProof(senderProof, stateRoot);
  check(Number(proven.nonce) === nonce, "sender's proof verifies");
  const anvilProof = await el.getProof({ address: sender, storageKeys: [], blockNumber: head });
  check(json(senderProof.accountProof) === json(anvilProof.accountProof), "sender's proof is anvil's");

  // Send: viem prepares the transfer through our node (nonce, fees, gas), signs it locally,
  // and sends it with eth_sendRawTransaction to our node, which relays it to anvil.
  const wallet = createWalletClient({ account, chain, transport: http(RPC) });
  const value = 10n ** 15n;
  // The gas is given (the estimate above): viem would otherwise estimate the transfer to the
  // fresh recipient, which our node may not be able to read yet.
  const prepared = await wallet.prepareTransactionRequest({ to: recipient, value, gas });
  check(prepared.nonce === nonce && prepared.maxPriorityFeePerGas === tip, `prepared through our node: nonce ${prepared.nonce}`);
  const bad = await account.signTransaction({ ...prepared, chainId: chainId + 1 });
  const answer = await ours.request({ method: "eth_sendRawTransaction", params: [bad] }).catch((e) => e);
  check(answer instanceof Error && /chain id/.test(answer.details || answer.message), "rejected: another chain id");
  const hash = await wallet.sendTransaction({ to: recipient, value, gas });
  const receipt = await el.waitForTransactionReceipt({ hash, timeout: 60_000 });
  check(receipt.status === "success", `mined by anvil in block ${receipt.blockNumber}`);
  check(receipt.transactionHash === hash, "the hash our node returned is the mined one");
  await waitUntil(async () => (await ours.getBlockNumber({ cacheTime: 0 })) >= receipt.blockNumber, "our node to trust the transfer's block");
  check((await ours.getBalance({ address: recipient, blockNumber: receipt.blockNumber })) === value, "recipient's new balance, read through our node");
  check((await ours.getBalance({ address: sender })) === (await el.getBalance({ address: sender, blockNumber: receipt.blockNumber })), "sender's new balance");
  check((await ours.getTransactionCount({ address: sender })) === nonce + 1, "sender's new nonce");
  console.log("viem flow: ok");
}

main().catch((e) => {
  console.error(`viem flow FAILED: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
