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
