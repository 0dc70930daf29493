//! Entries of the server's append-only access log (spec: `spec/log.md`
//! §Log entries), and the receipts that prove one was appended.
//!
//! Every event the server records — a registration, an upload, a grant, a
//! view, a download, a link opened — becomes one leaf of an RFC 9162 Merkle
//! tree ([`crate::merkle`]). The leaf's data is the canonical CBOR of a
//! [`LogEntry`], which carries the actor's own signed request as evidence:
//! the server cannot make up an entry without the actor's signature.
//!
//! ```text
//! LogEntry = {
//!   0: 1,              ; version
//!   1: uint,           ; leaf index, from 0
//!   2: uint,           ; server time, Unix seconds
//!   3: tstr,           ; kind ("uploaded", "downloaded", …)
//!   4: bstr .size 32,  ; actor: the key that signed the evidence
//!   ? 5: bstr .size 16,; matter
//!   ? 6: bstr .size 16,; document
//!   ? 7: uint,         ; document version
//!   ? 8: bstr .size 32,; digest of the record concerned
//!   9: bstr,           ; evidence: the signed request (or, for the init
//!                      ; step, the administrator's self-signed bundle)
//! }
//! ```

use minicbor::bytes::{ByteArray, ByteVec};
use minicbor::{Decode, Encode};

use crate::codec::{self, CodecError};
use crate::merkle::{self, Hash};

/// The only log entry version this crate reads and writes.
pub const LOG_ENTRY_VERSION: u8 = 1;

/// The longest event kind name.
pub const MAX_KIND_LEN: usize = 32;

/// One entry of the access log.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct LogEntry {
    /// Always [`LOG_ENTRY_VERSION`].
    #[n(0)]
    pub version: u8,
    /// The entry's leaf index, from 0.
    #[n(1)]
    pub index: u64,
    /// Server time of the event, Unix seconds.
    #[n(2)]
    pub at: u64,
    /// What happened.
    #[n(3)]
    pub kind: String,
    /// Who did it.
    #[n(4)]
    pub actor: ByteArray<32>,
    /// The matter concerned.
    #[n(5)]
    pub matter_id: Option<ByteArray<16>>,
    /// The document concerned.
    #[n(6)]
    pub document_id: Option<ByteArray<16>>,
    /// The document version concerned.
    #[n(7)]
    pub document_version: Option<u32>,
    /// The digest of the record concerned.
    #[n(8)]
    pub subject: Option<ByteArray<32>>,
    /// The actor's signed request: the evidence.
    #[n(9)]
    pub evidence: ByteVec,
}

/// Why log entry bytes were rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogEntryError {
    /// Not the canonical encoding of an entry.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// The entry's version is not [`LOG_ENTRY_VERSION`].
    #[error("unknown log entry version {0}")]
    UnknownVersion(u8),
    /// The kind is empty, too long, or not lower-case letters and dashes.
    #[error("log entry kind is malformed")]
    InvalidKind,
}

impl LogEntry {
    /// The entry's canonical bytes: the leaf data.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Parses canonical entry bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LogEntryError> {
        let entry: Self = codec::decode_canonical(bytes)?;
        if entry.version != LOG_ENTRY_VERSION {
            return Err(LogEntryError::UnknownVersion(entry.version));
        }
        let kind_ok = !entry.kind.is_empty()
            && entry.kind.len() <= MAX_KIND_LEN
            && entry
                .kind
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'-');
        if !kind_ok {
            return Err(LogEntryError::InvalidKind);
        }
        Ok(entry)
    }

    /// The entry's Merkle leaf hash.
    #[must_use]
    pub fn leaf_hash(&self) -> Hash {
        merkle::leaf_hash(&self.to_bytes())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn entry() -> LogEntry {
        LogEntry {
            version: 1,
            index: 7,
            at: 1_700_000_000,
            kind: "downloaded".into(),
            actor: [3u8; 32].into(),
            matter_id: Some([1u8; 16].into()),
            document_id: Some([2u8; 16].into()),
            document_version: Some(2),
            subject: None,
            evidence: vec![9, 9, 9].into(),
        }
    }

    #[test]
    fn entries_round_trip_and_hash_as_leaves() {
        let e = entry();
        let bytes = e.to_bytes();
        assert_eq!(LogEntry::from_bytes(&bytes).unwrap(), e);
        assert_eq!(e.leaf_hash(), merkle::leaf_hash(&bytes));
        let mut other = e.clone();
        other.index = 8;
        assert_ne!(other.leaf_hash(), e.leaf_hash());
    }

    #[test]
    fn malformed_entries_are_refused() {
        let mut bad = entry();
        bad.version = 2;
        assert_eq!(
            LogEntry::from_bytes(&bad.to_bytes()),
            Err(LogEntryError::UnknownVersion(2))
        );
        for kind in ["", "Downloaded", "x y", &"a".repeat(33)] {
            let mut bad = entry();
            bad.kind = kind.into();
            assert_eq!(
                LogEntry::from_bytes(&bad.to_bytes()),
                Err(LogEntryError::InvalidKind),
                "{kind:?}"
            );
        }
        let bytes = entry().to_bytes();
        assert!(LogEntry::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(LogEntry::from_bytes(&trailing).is_err());
    }
}
