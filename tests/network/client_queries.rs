//! The query client over a real loopback network: accounts, storage and code at a block, the
//! block named in every answer, and the fall back to older trusted blocks for `Latest`.

use crate::support::nodes;

use alloy_primitives::{address, Address, B256, U256};
use nodes::*;
use portal_state::client::{BlockId, ClientError, StateClient};
use portal_state::content::{ContentKey, ContentValue};
use portal_state::network::Network;
use portal_state::proof::{self, GenesisAlloc, VerifiedContent};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_name_their_block_and_fall_back_to_older_roots() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = start_network(dir.path(), 6, 10_000_000).await;
    let holesky_rlp = genesis_header_rlp("holesky");
    trust_everywhere(&nodes, &holesky_rlp);
    let holesky = genesis_witnesses("holesky");
    let items: Vec<VerifiedContent> = holesky
        .items
        .iter()
        .map(|(k, v)| proof::verify(*k, v.clone()).unwrap())
        .collect();
    seed(&nodes, &items, 3).await;

    let mut config = test_config(&dir.path().join("light"), 0);
    config.bootnodes = vec![nodes[0].enr()];
    let light = Arc::new(Network::start(config).await.unwrap());
    let client = StateClient::new(light.clone());
    let deposit = address!("4242424242424242424242424242424242424242");
    assert!(matches!(
        client.account(deposit, BlockId::Latest).await,
        Err(ClientError::NoTrustedHeader)
    ));

    light.add_trusted_header(&holesky_rlp).unwrap();
    // A newer trusted block whose state nobody has pushed yet.
    light
        .add_trusted_header(&synthetic_header(5, B256::repeat_byte(0x55)))
        .unwrap();

    let alloc = GenesisAlloc::from_json(
        &std::fs::read_to_string(repo_file("data/genesis/holesky.json")).unwrap(),
    )
    .unwrap();
    let genesis = alloc.get(&deposit).unwrap();

    // Latest falls back from block 5 to block 0, and says so.
    let account = client.account(deposit, BlockId::Latest).await.unwrap();
    assert_eq!(account.block.number, 0);
    assert_eq!(account.block.state_root, holesky.state_root);
    assert!(account.value.exists);
    assert_eq!(account.value.balance, genesis.balance);
    assert_eq!(account.value.code_hash, genesis.code_hash());
    // A named block never falls back.
    assert!(matches!(
        client.account(deposit, BlockId::Number(5)).await,
        Err(ClientError::NotFound { .. })
    ));
    assert!(matches!(
        client.account(deposit, BlockId::Number(7)).await,
        Err(ClientError::UnknownBlock(BlockId::Number(7)))
    ));
    let by_hash = client
        .account(deposit, BlockId::Hash(account.block.hash))
        .await
        .unwrap();
    assert_eq!(by_hash.value, account.value);

    // Storage: every genesis slot, an unset slot (proven zero), an account without storage.
    for (slot, value) in &genesis.storage {
        let answer = client
            .storage(deposit, *slot, BlockId::Latest)
            .await
            .unwrap();
        assert_eq!(answer.value, *value, "slot {slot}");
        assert_eq!(answer.block.number, 0);
    }
    let unset = client
        .storage(deposit, U256::from(999_999), BlockId::Number(0))
        .await
        .unwrap();
    assert_eq!(unset.value, U256::ZERO);
    let (eoa, eoa_genesis) = alloc.iter().find(|(_, a)| a.code.is_empty()).unwrap();
    assert_eq!(
        client
            .storage(*eoa, U256::ZERO, BlockId::Latest)
            .await
            .unwrap()
            .value,
        U256::ZERO
    );

    // Code: the deposit contract's, and none for an account without code.
    let code = client.code(deposit, BlockId::Latest).await.unwrap();
    assert_eq!(code.value, genesis.code);
    assert_eq!(code.value.len(), 6358);
    assert!(client
        .code(*eoa, BlockId::Latest)
        .await
        .unwrap()
        .value
        .is_empty());
    let eoa_state = client.account(*eoa, BlockId::Number(0)).await.unwrap();
    assert_eq!(eoa_state.value.balance, eoa_genesis.balance);

    // An address not in the genesis: a verified absence, read as zero.
    let nobody = client
        .account(Address::repeat_byte(0x77), BlockId::Latest)
        .await
        .unwrap();
    assert!(!nobody.value.exists);
    assert_eq!(nobody.value.balance, U256::ZERO);
    assert_eq!(nobody.value.nonce, 0);

    // The light node stored nothing; an item's value still decodes as the wire carries it.
    assert_eq!(light.status().stored_items, 0);
    let (k, v) = &holesky.items[0];
    assert_eq!(&ContentValue::decode(k, &v.encode()).unwrap(), v);
    let _ = ContentKey::decode(&k.encode()).unwrap();

    light.stop().await;
    for node in nodes {
        node.stop().await;
    }
}
