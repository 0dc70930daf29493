//! The append-only Merkle log over the events (spec: `spec/log.md`).
//!
//! Every event appended by any store operation becomes a leaf, in the same
//! transaction; the store keeps the tree's compact form in memory, in
//! commit order, and tells the call where its event landed through the
//! event's [`ReceiptSlot`].

use std::sync::{Arc, Mutex};

use lexvault_core::merkle::Hash;

use super::StoreResult;

/// Where one event landed in the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    /// The leaf index.
    pub index: u64,
    /// The entry's canonical bytes.
    pub entry: Vec<u8>,
    /// The tree size right after the append (`index + 1`).
    pub size: u64,
    /// The root at that size.
    pub root: Hash,
    /// The entry's inclusion proof at that size.
    pub proof: Vec<Hash>,
}

/// Filled by the store when an event commits.
pub type ReceiptSlot = Arc<Mutex<Option<Appended>>>;

/// The log's storage.
pub trait LogStore: Send + Sync + 'static {
    /// The log's signing key seed, created on first use.
    fn log_key_seed(&self, fresh: [u8; 32]) -> StoreResult<[u8; 32]>;
    /// The current tree size and root.
    fn log_head(&self) -> StoreResult<(u64, Hash)>;
    /// The canonical bytes of entries `start..end`.
    fn log_entries(&self, start: u64, end: u64) -> StoreResult<Vec<Vec<u8>>>;
    /// The inclusion proof of leaf `index` in the tree of `size` leaves.
    fn log_inclusion_proof(&self, index: u64, size: u64) -> StoreResult<Vec<Hash>>;
    /// The consistency proof between the trees of `from` and `to` leaves.
    fn log_consistency_proof(&self, from: u64, to: u64) -> StoreResult<Vec<Hash>>;
    /// The stored signed records whose digests are among `digests`.
    fn records_with_digests(&self, digests: &[[u8; 32]]) -> StoreResult<Vec<Vec<u8>>>;
}
