//! The lexvault client library: the vault's HTTP API spoken over the core,
//! used by the `lexvault` CLI, the integration tests and the adversarial
//! tests alike.
//!
//! - [`client`]: signed requests and CBOR answers over HTTP; trusts nothing.
//! - [`vault`]: a party's verified view of the server: everything it
//!   receives is checked before it is used.
//! - [`links`]: share links; [`login`]: password login on a new device.
//! - [`log`]: the log monitor (receipts, consistency); [`transparency`]:
//!   key bindings checked before encrypting to a key, and the own-name
//!   alarm; [`audit`]: audit bundles, exported and verified offline.

#![forbid(unsafe_code)]

pub mod audit;
pub mod client;
pub mod links;
pub mod log;
pub mod login;
pub mod transparency;
pub mod vault;
