//! Full-state ingress: an execution client's whole state at its head, rebuilt into tries here
//! and checked against that block's header before anything of it is published.
//!
//! anvil dumps its state with `anvil_dumpState` (hex of gzip of JSON: the accounts with nonce,
//! balance, code and storage, and the number of the block that state is at). Clients without
//! it (geth, reth, …) would be read page by page with `debug_accountRange` and
//! `debug_storageRangeAt`; that is not built yet, and [`BridgeError::NoStateDump`] says so.

use super::genesis::{content_of, GenesisContent};
use super::json;
use super::{BlockTag, BridgeError, ExecutionClient};
use crate::proof::{BlockHeader, GenesisAlloc};
use alloy_trie::EMPTY_ROOT_HASH;
use serde_json::{json, Value};
use std::io::Read;

/// The largest state dump taken, inflated (anvil's dump of a devnet is kilobytes; a large
/// state belongs in paged reads, not one answer).
const MAX_DUMP_BYTES: u64 = 1024 * 1024 * 1024;

/// An execution client's whole state at one block, every item verified against that block's
/// header (whose hash was checked when it was rebuilt from the client's JSON).
#[derive(Debug)]
pub struct StateAtBlock {
    /// The block the state is at.
    pub header: BlockHeader,
    /// Every account, slot and bytecode as verified content, and the state root built.
    pub content: GenesisContent,
    /// How many accounts the dump held.
    pub accounts: usize,
}

/// Loads the client's whole state at its head (see the module docs) and checks the root built
/// from it against the header of the block it is at.
///
/// anvil's genesis header says the empty trie's root whatever its state holds, so at block 0
/// nothing can be checked: [`BridgeError::GenesisWithoutStateRoot`] then asks the caller to
/// wait for the first block ([`ExecutionClient::wait_for_block`]) and try again.
pub async fn state_at_head(client: &ExecutionClient) -> Result<StateAtBlock, BridgeError> {
    let answer = match client.call("anvil_dumpState", json!([])).await {
        Ok(answer) => answer,
        Err(BridgeError::Rpc { code, message, .. }) => {
            return Err(BridgeError::NoStateDump {
                reason: format!("anvil_dumpState: error {code}: {message}"),
            })
        }
        Err(e) => return Err(e),
    };
    let hex = answer
        .as_str()
        .ok_or_else(|| BridgeError::json("anvil_dumpState", "the answer is not a hex string"))?;
    let bytes = alloy_primitives::hex::decode(hex)
        .map_err(|e| BridgeError::json("anvil_dumpState", format!("not hex: {e}")))?;
    let text = inflate(&bytes)?;
    let dump: Value = serde_json::from_slice(&text)
        .map_err(|e| BridgeError::json("anvil_dumpState", format!("not JSON: {e}")))?;
    let number = json::u64(
        dump.get("best_block_number")
            .ok_or_else(|| BridgeError::json("anvil_dumpState", "no best_block_number"))?,
        "anvil_dumpState.best_block_number",
    )?;
    let accounts = dump
        .get("accounts")
        .ok_or_else(|| BridgeError::json("anvil_dumpState", "no accounts"))?;
    let alloc = GenesisAlloc::from_value(accounts)?;
    let count = alloc.len();
    let (header, _) = client.block(BlockTag::Number(number)).await?;
    let content = tokio::task::spawn_blocking(move || content_of(&alloc))
        .await
        .map_err(|e| BridgeError::json("anvil_dumpState", format!("trie build failed: {e}")))??;
    if number == 0 && header.state_root == EMPTY_ROOT_HASH && content.state_root != EMPTY_ROOT_HASH
    {
        return Err(BridgeError::GenesisWithoutStateRoot);
    }
    if content.state_root != header.state_root {
        return Err(BridgeError::DumpRootMismatch {
            number,
            built: content.state_root,
            header: header.state_root,
        });
    }
    Ok(StateAtBlock {
        header,
        content,
        accounts: count,
    })
}

/// gzip inflated (a dump that is not gzip is taken as it is), at most [`MAX_DUMP_BYTES`].
fn inflate(bytes: &[u8]) -> Result<Vec<u8>, BridgeError> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes.to_vec());
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(MAX_DUMP_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| BridgeError::json("anvil_dumpState", format!("not gzip: {e}")))?;
    if out.len() as u64 > MAX_DUMP_BYTES {
        return Err(BridgeError::json(
            "anvil_dumpState",
            format!("over {MAX_DUMP_BYTES} bytes inflated"),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_truncated_gzip_is_an_error() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, br#"{"accounts": {}}"#).unwrap();
        let whole = gz.finish().unwrap();
        assert_eq!(inflate(&whole).unwrap(), br#"{"accounts": {}}"#);
        assert!(matches!(
            inflate(&whole[..whole.len() / 2]),
            Err(BridgeError::Json { .. })
        ));
    }
}
