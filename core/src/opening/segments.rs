//! Opening a payload one plaintext segment at a time, on threads that share
//! no memory with the caller: the browser's Web Workers (spec:
//! `spec/documents.md` §Opening in parallel).
//!
//! A plaintext segment is 1 MiB and a chunk 64 KiB, so segment `k` is the
//! plaintext of chunks `16k` to `16k + 15`, and those chunks are a run of
//! payload bytes whose place follows from the manifest's signed payload
//! length. Each chunk opens on its own, given the payload key, its counter
//! and whether it is the last chunk — which the same length says. So:
//!
//! - the caller's [`SegmentedPayload`] (made from a verified
//!   [`OpenedVersion`]) says which payload bytes belong to which segment,
//!   derives the payload key once the payload's nonce has arrived, and at
//!   the end checks the payload and the plaintext from their segment
//!   digests, as [`super::EndedPayload::check_segments`] does;
//! - a [`SegmentOpener`], rebuilt on each worker from
//!   [`SegmentOpener::to_bytes`], authenticates and decrypts whichever
//!   segments it is given, refusing a run of the wrong length.
//!
//! The bytes a worker receives are the payload key (it opens this one
//! payload and nothing else) and the payload's length: no file key, no
//! identity.

use core::ops::Range;

use zeroize::Zeroizing;

use super::{Expected, OpenError, OpenedVersion, verification};
use crate::age::stream::{
    self, CHUNK_SIZE, ENCRYPTED_CHUNK_SIZE, PAYLOAD_NONCE_LEN, PayloadKey, TAG_LEN,
};
use crate::manifest::PayloadDigest;
use crate::secret::FileKey;
use crate::segmented::{self, DigestKind, SEGMENT_LEN};

/// Chunks per plaintext segment.
const CHUNKS_PER_SEGMENT: usize = SEGMENT_LEN / CHUNK_SIZE;
const _: () = assert!(
    SEGMENT_LEN.is_multiple_of(CHUNK_SIZE),
    "a segment is whole chunks"
);

/// The payload bytes of one full segment's chunks.
const ENCRYPTED_SEGMENT_LEN: u64 = (CHUNKS_PER_SEGMENT * ENCRYPTED_CHUNK_SIZE) as u64;

/// The length of [`SegmentOpener::to_bytes`]: the payload key, then the
/// payload length (big-endian).
pub const SEGMENT_OPENER_LEN: usize = 32 + 8;

/// Where each segment's chunks lie in a payload of a given, valid length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    payload_len: u64,
    plaintext_len: u64,
}

impl Layout {
    /// `None` when no payload has that length.
    fn new(payload_len: u64) -> Option<Self> {
        Some(Self {
            payload_len,
            plaintext_len: stream::plaintext_len(payload_len)?,
        })
    }

    /// Plaintext segments; an empty plaintext still has one (empty) chunk.
    fn segments(self) -> u64 {
        segmented::segment_count(self.plaintext_len).max(1)
    }

    /// The payload bytes of segment `index`'s chunks.
    fn range(self, index: u64) -> Option<Range<u64>> {
        if index >= self.segments() {
            return None;
        }
        let start = index
            .checked_mul(ENCRYPTED_SEGMENT_LEN)?
            .checked_add(PAYLOAD_NONCE_LEN as u64)?;
        let end = start
            .saturating_add(ENCRYPTED_SEGMENT_LEN)
            .min(self.payload_len);
        Some(start..end)
    }
}

/// The caller's side of opening a payload segment by segment: which bytes
/// make each segment, the key for the workers, and the final check.
pub struct SegmentedPayload {
    file_key: FileKey,
    expected: Expected,
    layout: Layout,
}

impl core::fmt::Debug for SegmentedPayload {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SegmentedPayload")
            .field("layout", &self.layout)
            .finish_non_exhaustive()
    }
}

impl SegmentedPayload {
    /// Plans the opening of `opened`'s payload.
    ///
    /// # Errors
    /// [`OpenError::Verification`] when the manifest's payload length is
    /// not that of any payload, or not that of a payload of the uploader's
    /// plaintext size: nothing is worth downloading then.
    pub fn new(opened: &OpenedVersion) -> Result<Self, OpenError> {
        let layout = Layout::new(opened.payload_len())
            .filter(|layout| layout.plaintext_len == opened.metadata.size())
            .ok_or_else(|| {
                verification("the manifest's payload length does not fit the document's size")
            })?;
        Ok(Self {
            file_key: opened.copy_file_key(),
            expected: Expected::of(opened),
            layout,
        })
    }

    /// The payload's length, as the manifest commits to it.
    #[must_use]
    pub fn payload_len(&self) -> u64 {
        self.layout.payload_len
    }

    /// The number of plaintext segments, at least one.
    #[must_use]
    pub fn segment_count(&self) -> u64 {
        self.layout.segments()
    }

    /// The payload bytes (offsets into the whole payload, whose first
    /// [`PAYLOAD_NONCE_LEN`] bytes are its nonce) that segment `index`
    /// opens from; `None` past the last segment.
    #[must_use]
    pub fn segment_range(&self, index: u64) -> Option<Range<u64>> {
        self.layout.range(index)
    }

    /// The opener for the workers, once the payload's first
    /// [`PAYLOAD_NONCE_LEN`] bytes (its nonce) have arrived.
    ///
    /// # Errors
    /// [`OpenError::Verification`] when `nonce` is not 16 bytes.
    pub fn opener(&self, nonce: &[u8]) -> Result<SegmentOpener, OpenError> {
        let nonce: &[u8; PAYLOAD_NONCE_LEN] = nonce
            .try_into()
            .map_err(|_| verification("the payload's nonce is malformed"))?;
        Ok(SegmentOpener::new(
            PayloadKey::derive_bytes(&self.file_key, nonce),
            self.layout,
        ))
    }

    /// Checks the whole, after every segment opened: `received` payload
    /// bytes arrived, and the arguments are the concatenated SHA-256
    /// digests of the 1 MiB segments of the payload as received and of
    /// the plaintext the segments opened to, in order.
    ///
    /// # Errors
    /// [`OpenError::Verification`] when the payload's length, its digest or
    /// the plaintext's digest does not match, or the digests are too few or
    /// too many for the lengths.
    pub fn check_segments(
        &self,
        received: u64,
        payload_segments: &[u8],
        plaintext_segments: &[u8],
    ) -> Result<(), OpenError> {
        if received != self.layout.payload_len {
            return Err(verification(
                "the server sent a payload of another length than the manifest's",
            ));
        }
        let payload = PayloadDigest::from_segments(received, payload_segments)
            .ok_or_else(|| verification("the payload's segment digests do not fit its length"))?;
        let plaintext = segmented::root_from_segments(
            DigestKind::Plaintext,
            self.layout.plaintext_len,
            plaintext_segments,
        )
        .ok_or_else(|| verification("the plaintext's segment digests do not fit its length"))?;
        self.expected
            .check(&payload, received, &plaintext, self.layout.plaintext_len)
    }
}

/// Opens the segments of one payload: what a worker holds. It knows the
/// payload's length, so it knows how long each segment's run of chunks
/// must be and which chunk is the last.
pub struct SegmentOpener {
    key: PayloadKey,
    key_bytes: Zeroizing<[u8; 32]>,
    layout: Layout,
}

impl core::fmt::Debug for SegmentOpener {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SegmentOpener")
            .field("layout", &self.layout)
            .finish_non_exhaustive()
    }
}

impl SegmentOpener {
    fn new(key_bytes: Zeroizing<[u8; 32]>, layout: Layout) -> Self {
        Self {
            key: PayloadKey::from_bytes(&key_bytes),
            key_bytes,
            layout,
        }
    }

    /// The opener as bytes to hand to a worker ([`SEGMENT_OPENER_LEN`]
    /// long). They open this payload: treat them as the secret they are.
    #[must_use]
    pub fn to_bytes(&self) -> Zeroizing<[u8; SEGMENT_OPENER_LEN]> {
        let mut out = Zeroizing::new([0u8; SEGMENT_OPENER_LEN]);
        let (key, len) = out.split_at_mut(32);
        key.copy_from_slice(self.key_bytes.as_slice());
        len.copy_from_slice(&self.layout.payload_len.to_be_bytes());
        out
    }

    /// The opener [`Self::to_bytes`] gave.
    ///
    /// # Errors
    /// [`OpenError::Verification`] when `bytes` are not an opener's.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, OpenError> {
        let malformed = || verification("the segment opener is malformed");
        let (key, len) = bytes.split_first_chunk::<32>().ok_or_else(malformed)?;
        let len: [u8; 8] = len.try_into().map_err(|_| malformed())?;
        let layout = Layout::new(u64::from_be_bytes(len)).ok_or_else(malformed)?;
        Ok(Self::new(Zeroizing::new(*key), layout))
    }

    /// Authenticates and decrypts segment `index` in place: `chunks` must
    /// be exactly the payload bytes [`SegmentedPayload::segment_range`]
    /// names for it. Returns the plaintext's length; the plaintext is then
    /// at the start of `chunks`.
    ///
    /// # Errors
    /// [`OpenError::Verification`] when `chunks` has the wrong length for
    /// the segment, or a chunk does not authenticate (in its place, with
    /// its last flag). `chunks` is then zeroed: nothing is released.
    pub fn open_segment(&self, index: u64, chunks: &mut [u8]) -> Result<usize, OpenError> {
        let range = self
            .layout
            .range(index)
            .ok_or_else(|| verification("the payload has no such segment"))?;
        if chunks.len() as u64 != range.end - range.start {
            return Err(verification(
                "a segment of the payload has the wrong length",
            ));
        }
        let last_segment = index + 1 == self.layout.segments();
        let count = chunks.len().div_ceil(ENCRYPTED_CHUNK_SIZE).max(1);
        let first_counter = index * CHUNKS_PER_SEGMENT as u64;
        let mut plaintext_len = 0;
        for (i, chunk) in chunks.chunks_mut(ENCRYPTED_CHUNK_SIZE).enumerate() {
            let last = last_segment && i + 1 == count;
            if self
                .key
                .open_chunk_as(first_counter + i as u64, last, chunk)
                .is_err()
            {
                chunks.fill(0);
                return Err(verification(format!(
                    "the payload does not decrypt: segment {index} does not authenticate"
                )));
            }
        }
        // Each chunk's plaintext moves down over the tags before it.
        for i in 0..count {
            let start = i * ENCRYPTED_CHUNK_SIZE;
            let end = (start + ENCRYPTED_CHUNK_SIZE).min(chunks.len()) - TAG_LEN;
            chunks.copy_within(start..end, plaintext_len);
            plaintext_len += end - start;
        }
        Ok(plaintext_len)
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use std::io::Write as _;

    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng as _;

    use super::*;
    use crate::age::StreamWriter;
    use crate::metadata::Metadata;
    use crate::opening::tests::{open_new, segment_digests};

    /// What the browser does: cuts the payload by segment, opens each
    /// segment with an opener rebuilt from its bytes (in reverse order, as
    /// workers may finish in any), and checks the segment digests.
    fn open_in_segments(opened: &OpenedVersion, payload: &[u8]) -> Result<Vec<u8>, OpenError> {
        let plan = SegmentedPayload::new(opened)?;
        let nonce = payload.get(..PAYLOAD_NONCE_LEN).unwrap_or_default();
        let worker = SegmentOpener::from_bytes(plan.opener(nonce)?.to_bytes().as_slice())?;
        let mut opened_segments = Vec::new();
        for index in (0..plan.segment_count()).rev() {
            let range = plan.segment_range(index).unwrap();
            let range = usize::try_from(range.start).unwrap()..usize::try_from(range.end).unwrap();
            let mut chunks = payload.get(range).unwrap_or_default().to_vec();
            let len = worker.open_segment(index, &mut chunks)?;
            chunks.truncate(len);
            opened_segments.push(chunks);
        }
        opened_segments.reverse();
        let plaintext_digests: Vec<u8> = opened_segments
            .iter()
            .flat_map(|segment| segment_digests(segment))
            .collect();
        plan.check_segments(
            payload.len() as u64,
            &segment_digests(payload),
            &plaintext_digests,
        )?;
        Ok(opened_segments.concat())
    }

    fn plaintext(len: usize) -> Vec<u8> {
        // Not periodic in 1 MiB, so no two segments are alike.
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn every_size_around_segment_boundaries_opens_segment_by_segment() {
        for len in [
            0,
            10,
            CHUNK_SIZE,
            SEGMENT_LEN - 1,
            SEGMENT_LEN,
            SEGMENT_LEN + CHUNK_SIZE,
            2 * SEGMENT_LEN + 7,
            3 * SEGMENT_LEN,
        ] {
            let plaintext = plaintext(len);
            let (opened, payload) = open_new(&plaintext, 40 + len as u64);
            assert_eq!(
                open_in_segments(&opened, &payload).as_deref(),
                Ok(&plaintext[..]),
                "len {len}"
            );
        }
    }

    #[test]
    fn altered_reordered_or_resized_payloads_are_refused() {
        let plaintext = plaintext(3 * SEGMENT_LEN + 100);
        let (opened, payload) = open_new(&plaintext, 50);
        let refused = |payload: &[u8], what: &str| {
            let got = open_in_segments(&opened, payload);
            assert!(
                matches!(got, Err(OpenError::Verification(_))),
                "{what}: {:?}",
                got.map(|plaintext| plaintext.len())
            );
        };
        let segment = ENCRYPTED_SEGMENT_LEN as usize;
        let mut flipped = payload.clone();
        flipped[PAYLOAD_NONCE_LEN + segment + 5] ^= 1;
        refused(&flipped, "a flipped bit in the second segment");
        let mut tag = payload.clone();
        *tag.last_mut().unwrap() ^= 1;
        refused(&tag, "a flipped bit in the last tag");
        let mut nonce = payload.clone();
        nonce[3] ^= 1;
        refused(&nonce, "a changed nonce");
        let mut swapped = payload.clone();
        let (a, b) = (PAYLOAD_NONCE_LEN, PAYLOAD_NONCE_LEN + segment);
        let first = swapped[a..b].to_vec();
        swapped.copy_within(b..b + segment, a);
        swapped[b..b + segment].copy_from_slice(&first);
        refused(&swapped, "two whole segments swapped");
        refused(&payload[..payload.len() - 1], "one byte short");
        refused(
            &payload[..PAYLOAD_NONCE_LEN + segment],
            "cut at a segment boundary",
        );
        let mut longer = payload.clone();
        longer.extend_from_slice(&[0; ENCRYPTED_CHUNK_SIZE]);
        refused(&longer, "a chunk more");

        // Another payload under the same key: every chunk authenticates,
        // and only the manifest's digest refuses it.
        let mut rng = ChaCha20Rng::seed_from_u64(51);
        let mut writer = StreamWriter::new(&opened.file_key, Vec::new(), &mut rng).unwrap();
        writer.write_all(&plaintext).unwrap();
        let forged = writer.finish().unwrap();
        assert_eq!(
            open_in_segments(&opened, &forged).err(),
            Some(verification(
                "the downloaded payload does not match the manifest"
            ))
        );
    }

    #[test]
    fn a_worker_refuses_a_run_of_the_wrong_length_or_place_and_releases_nothing() {
        let plaintext = plaintext(2 * SEGMENT_LEN + 9);
        let (opened, payload) = open_new(&plaintext, 60);
        let plan = SegmentedPayload::new(&opened).unwrap();
        let opener = plan.opener(&payload[..PAYLOAD_NONCE_LEN]).unwrap();
        let segment = ENCRYPTED_SEGMENT_LEN as usize;
        let first = &payload[PAYLOAD_NONCE_LEN..PAYLOAD_NONCE_LEN + segment];

        let mut short = first[..segment - 1].to_vec();
        assert!(
            opener.open_segment(0, &mut short).is_err(),
            "one byte short"
        );
        let mut elsewhere = first.to_vec();
        assert!(
            opener.open_segment(1, &mut elsewhere).is_err(),
            "segment 0's chunks offered as segment 1"
        );
        assert!(
            elsewhere.iter().all(|&b| b == 0),
            "a refused segment is zeroed"
        );
        let mut past = first.to_vec();
        assert!(opener.open_segment(3, &mut past).is_err(), "no segment 3");
        assert!(plan.opener(&payload[..PAYLOAD_NONCE_LEN - 1]).is_err());

        let mut right = first.to_vec();
        let len = opener.open_segment(0, &mut right).unwrap();
        assert_eq!(&right[..len], &plaintext[..SEGMENT_LEN]);
    }

    #[test]
    fn a_manifest_length_that_does_not_fit_the_plaintext_size_is_refused_before_download() {
        let plaintext = plaintext(100);
        let (mut opened, _) = open_new(&plaintext, 70);
        opened.metadata = Metadata::new(
            "brief.pdf",
            "application/pdf",
            101,
            crate::metadata::plaintext_digest(&plaintext),
        )
        .unwrap();
        assert_eq!(
            SegmentedPayload::new(&opened).err(),
            Some(verification(
                "the manifest's payload length does not fit the document's size"
            ))
        );
    }

    #[test]
    fn segments_cover_the_payload_after_its_nonce_without_gaps() {
        for plaintext_len in [
            0,
            1,
            CHUNK_SIZE as u64,
            SEGMENT_LEN as u64 - 1,
            SEGMENT_LEN as u64,
            SEGMENT_LEN as u64 + 1,
            3 * SEGMENT_LEN as u64 + 5 * CHUNK_SIZE as u64,
        ] {
            let payload_len = stream::payload_len(plaintext_len).unwrap();
            let layout = Layout::new(payload_len).unwrap();
            let mut at = PAYLOAD_NONCE_LEN as u64;
            let mut plaintext = 0;
            for index in 0..layout.segments() {
                let range = layout.range(index).unwrap();
                assert_eq!(range.start, at, "segment {index} of {plaintext_len}");
                let len = range.end - range.start;
                let chunks = len.div_ceil(ENCRYPTED_CHUNK_SIZE as u64).max(1);
                plaintext += len - chunks * TAG_LEN as u64;
                at = range.end;
            }
            assert_eq!(at, payload_len);
            assert_eq!(plaintext, plaintext_len);
            assert_eq!(layout.range(layout.segments()), None);
        }
    }

    #[test]
    fn no_layout_for_a_length_no_payload_has() {
        // An empty chunk after a full one, and a chunk shorter than a tag.
        let empty_last = PAYLOAD_NONCE_LEN + ENCRYPTED_CHUNK_SIZE + TAG_LEN;
        assert_eq!(Layout::new(empty_last as u64), None);
        assert_eq!(Layout::new(PAYLOAD_NONCE_LEN as u64 + 3), None);
        assert_eq!(Layout::new(3), None);
    }

    #[test]
    fn an_opener_survives_its_bytes_and_refuses_malformed_ones() {
        let layout = Layout::new(stream::payload_len(5).unwrap()).unwrap();
        let opener = SegmentOpener::new(Zeroizing::new([7; 32]), layout);
        let bytes = opener.to_bytes();
        let again = SegmentOpener::from_bytes(bytes.as_slice()).unwrap();
        assert_eq!(again.layout, layout);
        assert_eq!(again.key_bytes.as_slice(), &[7; 32]);
        assert!(SegmentOpener::from_bytes(&bytes[..39]).is_err());
        let mut bad_len = *bytes;
        bad_len[39] = 3; // a length no payload has
        assert!(SegmentOpener::from_bytes(&bad_len).is_err());
    }
}
