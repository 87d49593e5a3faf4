//! The `portal-state` binary as a user runs it: `devnet`, `node`, `query`, `bridge` and the light
//! client's flags, its JSON-RPC spoken by `cast`, web3.py and viem, and a devnet following a real
//! anvil.
//!
//! One test program (one link of the library) per area: `cargo test --test cli`; one part with
//! a filter, e.g. `cargo test --test cli cli_cast::`.

#[path = "../support/mod.rs"]
mod support;

mod cli_anvil;
mod cli_beacon;
mod cli_bridge;
mod cli_cast;
mod cli_devnet;
mod cli_load;
mod cli_query;
mod clients_flow;
