//! The segmented SHA-256 digest that pins a version's payload (manifest
//! field 5) and its plaintext (metadata field 4) (spec: `spec/documents.md`
//! §Segmented digest).
//!
//! The bytes are cut into 1 MiB segments, each hashed with plain SHA-256,
//! and a root hash covers a per-kind label, the segment digests in order and
//! the total length:
//!
//! ```text
//! segment i = bytes[i·2²⁰ .. min((i+1)·2²⁰, len)]    ; ⌈len / 2²⁰⌉ segments, none when len = 0
//! root      = SHA-256(label ‖ SHA-256(segment 0) ‖ … ‖ SHA-256(segment n−1) ‖ u64be(len))
//! ```
//!
//! Why segments: a browser's native SHA-256 (`crypto.subtle.digest`) is
//! several times faster than SHA-256 compiled to wasm but takes a whole
//! buffer, not a stream. Segments let the page hash a document of any size
//! natively in bounded memory and hand only the segment digests to the
//! wasm check ([`root_from_segments`]); native code hashes as the bytes
//! stream past ([`SegmentedHasher`]). Both paths give the same root.

use core::fmt;

use sha2::{Digest as _, Sha256};

use crate::domain;

/// Bytes in every segment but the last.
pub const SEGMENT_LEN: usize = 1 << 20;

/// Bytes of one segment digest.
pub const SEGMENT_DIGEST_LEN: usize = 32;

/// What a segmented digest covers; each kind has its own label, so a
/// payload root never passes for a plaintext root.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DigestKind {
    /// The stored age payload (manifest field 5).
    Payload,
    /// A version's plaintext (metadata field 4).
    Plaintext,
}

impl DigestKind {
    /// The label the root hash starts with.
    #[must_use]
    pub const fn label(self) -> &'static [u8] {
        match self {
            Self::Payload => domain::PAYLOAD_DIGEST,
            Self::Plaintext => domain::PLAINTEXT_DIGEST,
        }
    }
}

/// The number of segments `len` bytes are cut into: ⌈len / 2²⁰⌉.
#[must_use]
pub const fn segment_count(len: u64) -> u64 {
    len.div_ceil(SEGMENT_LEN as u64)
}

/// The segmented digest of bytes held in memory.
#[must_use]
pub fn digest(kind: DigestKind, bytes: &[u8]) -> [u8; 32] {
    let mut hasher = SegmentedHasher::new(kind);
    hasher.update(bytes);
    hasher.finalize().0
}

/// The root over segment digests computed elsewhere (by a browser's native
/// SHA-256): `segment_digests` is the concatenation of the 32-byte digests
/// of the segments of `len` bytes, in order.
///
/// `None` when there are not exactly [`segment_count`]`(len)` of them: such
/// a list describes no byte string of that length.
#[must_use]
pub fn root_from_segments(kind: DigestKind, len: u64, segment_digests: &[u8]) -> Option<[u8; 32]> {
    let expected = segment_count(len).checked_mul(SEGMENT_DIGEST_LEN as u64)?;
    if segment_digests.len() as u64 != expected {
        return None;
    }
    let mut root = Sha256::new();
    root.update(kind.label());
    root.update(segment_digests);
    root.update(len.to_be_bytes());
    Some(root.finalize().into())
}

/// Computes a segmented digest as the bytes stream past, in constant
/// memory: one segment's running hash and the root's.
///
/// It implements [`std::io::Write`], so it can sit behind a tee.
#[derive(Clone)]
pub struct SegmentedHasher {
    kind: DigestKind,
    root: Sha256,
    segment: Sha256,
    in_segment: usize,
    len: u64,
}

impl SegmentedHasher {
    /// A hasher that has seen nothing.
    #[must_use]
    pub fn new(kind: DigestKind) -> Self {
        let mut root = Sha256::new();
        root.update(kind.label());
        Self {
            kind,
            root,
            segment: Sha256::new(),
            in_segment: 0,
            len: 0,
        }
    }

    /// What this hasher's digest covers.
    #[must_use]
    pub fn kind(&self) -> DigestKind {
        self.kind
    }

    /// Feeds the next bytes.
    pub fn update(&mut self, mut bytes: &[u8]) {
        self.len = self.len.saturating_add(bytes.len() as u64);
        while !bytes.is_empty() {
            let take = (SEGMENT_LEN - self.in_segment).min(bytes.len());
            let (head, rest) = bytes.split_at(take);
            self.segment.update(head);
            self.in_segment += take;
            bytes = rest;
            if self.in_segment == SEGMENT_LEN {
                self.close_segment();
            }
        }
    }

    fn close_segment(&mut self) {
        let segment = core::mem::take(&mut self.segment);
        self.root.update(segment.finalize());
        self.in_segment = 0;
    }

    /// The root and the length of everything fed.
    #[must_use]
    pub fn finalize(mut self) -> ([u8; 32], u64) {
        if self.in_segment > 0 {
            self.close_segment();
        }
        self.root.update(self.len.to_be_bytes());
        (self.root.finalize().into(), self.len)
    }
}

impl std::io::Write for SegmentedHasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl fmt::Debug for SegmentedHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SegmentedHasher({:?}, {} bytes)", self.kind, self.len)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn bytes(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    fn segment_digests(data: &[u8]) -> Vec<u8> {
        data.chunks(SEGMENT_LEN)
            .flat_map(|s| <[u8; 32]>::from(Sha256::digest(s)))
            .collect()
    }

    #[test]
    fn root_is_the_label_the_segment_digests_and_the_length() {
        let data = bytes(2 * SEGMENT_LEN + 5);
        let mut input = b"lexvault/v1/payload-digest".to_vec();
        input.extend_from_slice(&Sha256::digest(&data[..SEGMENT_LEN]));
        input.extend_from_slice(&Sha256::digest(&data[SEGMENT_LEN..2 * SEGMENT_LEN]));
        input.extend_from_slice(&Sha256::digest(&data[2 * SEGMENT_LEN..]));
        input.extend_from_slice(&(data.len() as u64).to_be_bytes());
        let expected: [u8; 32] = Sha256::digest(&input).into();
        assert_eq!(digest(DigestKind::Payload, &data), expected);
    }

    #[test]
    fn empty_input_has_no_segments() {
        let mut input = b"lexvault/v1/plaintext-digest".to_vec();
        input.extend_from_slice(&0u64.to_be_bytes());
        let expected: [u8; 32] = Sha256::digest(&input).into();
        assert_eq!(digest(DigestKind::Plaintext, b""), expected);
        assert_eq!(
            root_from_segments(DigestKind::Plaintext, 0, &[]),
            Some(expected)
        );
        assert_eq!(segment_count(0), 0);
    }

    #[test]
    fn streamed_in_any_pieces_and_from_segment_digests_agree() {
        for len in [
            0,
            1,
            SEGMENT_LEN - 1,
            SEGMENT_LEN,
            SEGMENT_LEN + 1,
            3 * SEGMENT_LEN,
        ] {
            let data = bytes(len);
            let whole = digest(DigestKind::Payload, &data);
            for piece in [1, 7, 65_536 + 16, SEGMENT_LEN, 3 * SEGMENT_LEN] {
                // One-byte pieces over megabytes are slow in debug builds:
                // keep them to the small inputs.
                if piece == 1 && len > 4096 {
                    continue;
                }
                let mut hasher = SegmentedHasher::new(DigestKind::Payload);
                for p in data.chunks(piece) {
                    hasher.update(p);
                }
                assert_eq!(
                    hasher.finalize(),
                    (whole, len as u64),
                    "len {len}, piece {piece}"
                );
            }
            assert_eq!(
                root_from_segments(DigestKind::Payload, len as u64, &segment_digests(&data)),
                Some(whole),
                "len {len}"
            );
        }
    }

    #[test]
    fn any_change_changes_the_root() {
        let data = bytes(3 * SEGMENT_LEN + 100);
        let root = digest(DigestKind::Payload, &data);
        // One byte in each segment, at its start, middle and end.
        for segment in 0..4 {
            for offset in [0, 500, SEGMENT_LEN - 1] {
                let at = segment * SEGMENT_LEN + offset;
                if at >= data.len() {
                    continue;
                }
                let mut changed = data.clone();
                changed[at] ^= 1;
                assert_ne!(digest(DigestKind::Payload, &changed), root, "byte {at}");
            }
        }
        // Segments reordered.
        let mut swapped = data[SEGMENT_LEN..2 * SEGMENT_LEN].to_vec();
        swapped.extend_from_slice(&data[..SEGMENT_LEN]);
        swapped.extend_from_slice(&data[2 * SEGMENT_LEN..]);
        assert_eq!(swapped.len(), data.len());
        assert_ne!(digest(DigestKind::Payload, &swapped), root);
        let mut digests = segment_digests(&data);
        digests[..64].rotate_left(32);
        assert_ne!(
            root_from_segments(DigestKind::Payload, data.len() as u64, &digests),
            Some(root)
        );
        // Lengths: truncated, extended, and the same segments claimed for
        // another length with as many segments.
        assert_ne!(digest(DigestKind::Payload, &data[..data.len() - 1]), root);
        let mut longer = data.clone();
        longer.push(0);
        assert_ne!(digest(DigestKind::Payload, &longer), root);
        let digests = segment_digests(&data);
        assert_ne!(
            root_from_segments(DigestKind::Payload, data.len() as u64 - 1, &digests),
            Some(root)
        );
        // The other kind.
        assert_ne!(digest(DigestKind::Plaintext, &data), root);
    }

    #[test]
    fn segment_digests_must_match_the_length() {
        let data = bytes(SEGMENT_LEN + 1);
        let digests = segment_digests(&data);
        let len = data.len() as u64;
        assert!(root_from_segments(DigestKind::Payload, len, &digests).is_some());
        assert_eq!(
            root_from_segments(DigestKind::Payload, len, &digests[..32]),
            None
        );
        assert_eq!(
            root_from_segments(DigestKind::Payload, len, &digests[..63]),
            None
        );
        let mut more = digests.clone();
        more.extend_from_slice(&[0; 32]);
        assert_eq!(root_from_segments(DigestKind::Payload, len, &more), None);
        assert_eq!(
            root_from_segments(DigestKind::Payload, SEGMENT_LEN as u64, &digests),
            None
        );
        assert_eq!(
            root_from_segments(DigestKind::Payload, u64::MAX, &digests),
            None
        );
    }
}
