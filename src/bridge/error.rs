//! The bridge's one error type.

use crate::network::NetworkError;
use crate::proof::{GenesisError, HeaderError, ProofError};
use alloy_primitives::B256;

/// Why the bridge could not build, verify or push content, or talk to an execution client.
///
/// Every variant about data names the item it is about (an account by address, a slot by
/// address and slot, a JSON field by its path), so an operator can find the bad line.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// The genesis file could not be read as an allocation.
    #[error("genesis: {0}")]
    Genesis(#[from] GenesisError),
    /// A JSON document (a proofs file, a JSON-RPC answer) is not JSON, or a field is missing
    /// or has the wrong form.
    #[error("{what}: {reason}")]
    Json {
        /// Where: the document and the field's path, e.g. `proofs[3].balance`.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A block header's RLP does not decode.
    #[error("block header: {0}")]
    Header(#[from] HeaderError),
    /// A header rebuilt from its JSON does not hash to the block hash the JSON claims: its
    /// fields were altered, or our rebuild misses a field of a fork we do not know.
    #[error(
        "block {number}: the header rebuilt from its fields hashes to {computed}, but the block \
         hash is {expected}; not trusting it"
    )]
    HeaderHashMismatch {
        /// The block number.
        number: u64,
        /// The hash the execution client gave.
        expected: B256,
        /// keccak of the rebuilt RLP.
        computed: B256,
    },
    /// A witness does not verify against the header's state root (or bytecode against its
    /// code hash).
    #[error("{item}: proof does not verify: {source}")]
    InvalidProof {
        /// The item: `account 0x…`, `storage 0x… slot 0x…` or `bytecode 0x…`.
        item: String,
        /// Why verification failed.
        source: ProofError,
    },
    /// A proof verifies, but a value stated beside it (balance, nonce, code hash, storage
    /// hash, slot value) is not the one the proof proves.
    #[error("{item}: `{field}` is stated as {stated} but the proof proves {proven}")]
    StatedValueMismatch {
        /// The item.
        item: String,
        /// The field.
        field: &'static str,
        /// What the JSON said.
        stated: String,
        /// What the proof shows.
        proven: String,
    },
    /// An item exceeds a size limit of the wire format (a witness node over 1024 bytes, more
    /// than 32 nodes, bytecode over 32768 bytes), so no peer could take it.
    #[error("{item}: over the wire format's limits: {reason}")]
    OverLimit {
        /// The item.
        item: String,
        /// Which limit.
        reason: String,
    },
    /// Bytecode in a proofs file whose hash is the code hash of no account in the file.
    #[error("code with hash {0} belongs to no account of the file")]
    UnclaimedCode(B256),
    /// The execution client's URL is not usable.
    #[error("execution client URL {url:?}: {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP exchange with the execution client failed (refused, timed out, not HTTP 200).
    #[error("{method}: execution client unreachable or failing: {reason}")]
    Http {
        /// The JSON-RPC method being called.
        method: String,
        /// The transport's reason.
        reason: String,
    },
    /// The execution client answered with a JSON-RPC error object.
    #[error("{method}: execution client error {code}: {message}")]
    Rpc {
        /// The JSON-RPC method.
        method: String,
        /// The error code.
        code: i64,
        /// The error message.
        message: String,
    },
    /// The execution client cannot give its whole state: it has no `anvil_dumpState`, and
    /// paged reads (`debug_accountRange`, `debug_storageRangeAt`) are not built yet. Only what
    /// changes from the next block on can then enter the network.
    #[error("the execution client gives no state dump ({reason}); paged reads with debug_accountRange are not supported yet")]
    NoStateDump {
        /// What the client answered.
        reason: String,
    },
    /// The state root built from an execution client's dump is not its block's: the dump is
    /// incomplete or altered, or the client moved on between the dump and the header.
    #[error(
        "the state dumped at block {number} builds root {built}, but the header says {header}"
    )]
    DumpRootMismatch {
        /// The block the dump said it is at.
        number: u64,
        /// The root built from the dump.
        built: B256,
        /// The header's state root.
        header: B256,
    },
    /// The execution client is at block 0, and its genesis header's state root is the empty
    /// trie's although its state is not empty (anvil's): its state cannot be checked before
    /// its first block.
    #[error("the execution client's genesis header does not commit to its state (its state root is the empty trie's); its state can be checked from its first block on")]
    GenesisWithoutStateRoot,
    /// The execution client does not know the block (yet, or any more).
    #[error("the execution client has no block {0}")]
    BlockNotFound(u64),
    /// The local network node failed (trusting a header, storing content).
    #[error(transparent)]
    Network(#[from] NetworkError),
}

impl BridgeError {
    /// Whether the error is about reaching the execution client (worth retrying as is) rather
    /// than about the data it sent.
    pub fn is_transport(&self) -> bool {
        matches!(
            self,
            BridgeError::Http { .. } | BridgeError::BlockNotFound(_)
        )
    }

    pub(crate) fn json(what: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        BridgeError::Json {
            what: what.into(),
            reason: reason.to_string(),
        }
    }
}
