//! Streaming decryption of a verified version's payload (spec:
//! `spec/documents.md` §A recipient's order of checks): the page feeds the bytes as
//! `fetch` delivers them and passes each authenticated chunk on (to a
//! Service Worker's download stream), so memory stays flat whatever the
//! document's size.
//!
//! The wasm side only decrypts. The page hashes the payload and the
//! plaintext itself, in 1 MiB segments with the browser's native SHA-256
//! (`crypto.subtle.digest`, several times faster than SHA-256 in wasm, but
//! not incremental), and hands the segment digests to [`DocumentDecryptor::finish`],
//! where the core checks their roots (spec: `spec/documents.md` §Segmented
//! digest).
//!
//! A payload of more than one segment is decrypted on Web Workers instead
//! (spec: `spec/documents.md` §Opening in parallel): the page's
//! [`SegmentedDecryption`] says which payload bytes make each segment and
//! gives the workers the payload key, each worker's [`WorkerDecryptor`]
//! opens whole segments, and the page's object makes the final check.

use lexvault_core::opening::segments::{SegmentOpener, SegmentedPayload};
use lexvault_core::opening::{BarePayloadOpener, EndedPayload};
use wasm_bindgen::prelude::*;

use crate::js_error;

enum State {
    Decrypting(BarePayloadOpener),
    Ended(EndedPayload),
    Done,
}

/// Decrypts one payload as it arrives.
#[wasm_bindgen]
pub struct DocumentDecryptor {
    state: State,
}

impl DocumentDecryptor {
    pub(crate) fn new(opener: BarePayloadOpener) -> Self {
        Self {
            state: State::Decrypting(opener),
        }
    }
}

#[wasm_bindgen]
impl DocumentDecryptor {
    /// Feeds the next payload bytes; returns the plaintext of every chunk
    /// they complete (possibly empty). Each returned chunk authenticated,
    /// but the document is final only once [`Self::finish`] succeeds.
    ///
    /// # Errors
    /// When a chunk does not authenticate or the payload runs long; the
    /// page must then abandon what it released.
    pub fn update(&mut self, payload: &[u8]) -> Result<Vec<u8>, JsError> {
        let State::Decrypting(opener) = &mut self.state else {
            return Err(js_error("the payload has already ended"));
        };
        let mut out = Vec::with_capacity(payload.len());
        opener
            .update(payload, &mut out)
            .map_err(|e| js_error(format!("verification failed: {e}")))?;
        Ok(out)
    }

    /// The payload has ended: returns the last plaintext, after checking
    /// that the payload ended at its last chunk. The digests are checked
    /// by [`Self::finish`], which the page must call next.
    ///
    /// # Errors
    /// When the payload is truncated or its last chunk does not
    /// authenticate; the page must then fail the download.
    pub fn end(&mut self) -> Result<Vec<u8>, JsError> {
        let State::Decrypting(opener) = core::mem::replace(&mut self.state, State::Done) else {
            return Err(js_error("the payload has already ended"));
        };
        let mut out = Vec::new();
        let ended = opener
            .end(&mut out)
            .map_err(|e| js_error(format!("verification failed: {e}")))?;
        self.state = State::Ended(ended);
        Ok(out)
    }

    /// Checks the payload against the manifest and the plaintext against
    /// the uploader's digest, from the page's segment digests: each
    /// argument is the SHA-256 digests (32 bytes each, concatenated in
    /// order) of the 1 MiB segments of the payload as received and of the
    /// plaintext as released, the last segment possibly shorter.
    ///
    /// # Errors
    /// When anything does not match; the page must then fail the download.
    pub fn finish(
        &mut self,
        payload_segments: &[u8],
        plaintext_segments: &[u8],
    ) -> Result<(), JsError> {
        let State::Ended(ended) = core::mem::replace(&mut self.state, State::Done) else {
            return Err(js_error(
                "the payload has not ended, or is already finished",
            ));
        };
        ended
            .check_segments(payload_segments, plaintext_segments)
            .map_err(|e| js_error(format!("verification failed: {e}")))
    }

    /// Plaintext bytes released so far.
    #[wasm_bindgen(getter)]
    #[must_use]
    pub fn released(&self) -> f64 {
        match &self.state {
            State::Decrypting(o) => o.plaintext_len() as f64,
            State::Ended(e) => e.plaintext_len() as f64,
            State::Done => 0.0,
        }
    }
}

/// The page's side of decrypting a payload on Web Workers, one 1 MiB
/// plaintext segment each (spec: `spec/documents.md` §Opening in
/// parallel): which payload bytes make each segment, the opener the
/// workers rebuild, and the final check. The file key stays in here.
#[wasm_bindgen]
pub struct SegmentedDecryption {
    plan: SegmentedPayload,
}

impl SegmentedDecryption {
    pub(crate) const fn new(plan: SegmentedPayload) -> Self {
        Self { plan }
    }
}

#[wasm_bindgen]
impl SegmentedDecryption {
    /// The payload's length, as the signed manifest commits to it.
    #[wasm_bindgen(getter, js_name = payloadSize)]
    #[must_use]
    pub fn payload_size(&self) -> f64 {
        self.plan.payload_len() as f64
    }

    /// The number of segments, at least one.
    #[wasm_bindgen(getter, js_name = segmentCount)]
    #[must_use]
    pub fn segment_count(&self) -> u32 {
        u32::try_from(self.plan.segment_count()).unwrap_or(u32::MAX)
    }

    /// Where segment `index`'s chunks start in the payload.
    #[wasm_bindgen(js_name = segmentStart)]
    #[must_use]
    pub fn segment_start(&self, index: u32) -> f64 {
        self.plan
            .segment_range(index.into())
            .map_or(f64::NAN, |range| range.start as f64)
    }

    /// Where segment `index`'s chunks end in the payload.
    #[wasm_bindgen(js_name = segmentEnd)]
    #[must_use]
    pub fn segment_end(&self, index: u32) -> f64 {
        self.plan
            .segment_range(index.into())
            .map_or(f64::NAN, |range| range.end as f64)
    }

    /// The opener for the workers, as bytes, from the payload's first 16
    /// bytes (its nonce). They open this payload: post them only to the
    /// page's own workers, and overwrite them once posted.
    ///
    /// # Errors
    /// When `nonce` is not 16 bytes.
    #[wasm_bindgen(js_name = workerKey)]
    pub fn worker_key(&self, nonce: &[u8]) -> Result<Vec<u8>, JsError> {
        let opener = self
            .plan
            .opener(nonce)
            .map_err(|e| js_error(format!("verification failed: {e}")))?;
        Ok(opener.to_bytes().to_vec())
    }

    /// Checks the whole once every segment has opened: `received` payload
    /// bytes arrived, and the arguments are the SHA-256 digests (32 bytes
    /// each, concatenated in order) of the payload's 1 MiB segments as
    /// received and of the segments' plaintexts.
    ///
    /// # Errors
    /// When anything does not match; the page must then fail the download.
    pub fn finish(
        &self,
        received: f64,
        payload_segments: &[u8],
        plaintext_segments: &[u8],
    ) -> Result<(), JsError> {
        // A byte count from the page is a whole number below 2^53.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let received = received as u64;
        self.plan
            .check_segments(received, payload_segments, plaintext_segments)
            .map_err(|e| js_error(format!("verification failed: {e}")))
    }
}

/// A worker's decryptor: opens whichever segments of one payload the page
/// sends it.
#[wasm_bindgen]
pub struct WorkerDecryptor {
    opener: SegmentOpener,
}

#[wasm_bindgen]
impl WorkerDecryptor {
    /// The decryptor for the bytes [`SegmentedDecryption::worker_key`]
    /// gave.
    ///
    /// # Errors
    /// When `key` is not such bytes.
    #[wasm_bindgen(constructor)]
    pub fn new(key: &[u8]) -> Result<Self, JsError> {
        SegmentOpener::from_bytes(key)
            .map(|opener| Self { opener })
            .map_err(|e| js_error(format!("verification failed: {e}")))
    }

    /// Authenticates and decrypts segment `index` from exactly its payload
    /// bytes; returns its plaintext.
    ///
    /// # Errors
    /// When the bytes are not the segment's, or do not authenticate.
    #[wasm_bindgen(js_name = openSegment)]
    pub fn open_segment(&self, index: u32, mut chunks: Vec<u8>) -> Result<Vec<u8>, JsError> {
        let len = self
            .opener
            .open_segment(index.into(), &mut chunks)
            .map_err(|e| js_error(format!("verification failed: {e}")))?;
        chunks.truncate(len);
        Ok(chunks)
    }
}
