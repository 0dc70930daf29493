//! Streaming decryption of a verified version's payload (spec:
//! `spec/documents.md` §A recipient's order of checks): the page feeds the bytes as
//! `fetch` delivers them and passes each authenticated chunk on (to a
//! Service Worker's download stream), so memory stays flat whatever the
//! document's size.

use lexvault_core::opening::PayloadOpener;
use wasm_bindgen::prelude::*;

use crate::js_error;

/// Decrypts one payload as it arrives.
#[wasm_bindgen]
pub struct DocumentDecryptor {
    opener: Option<PayloadOpener>,
}

impl DocumentDecryptor {
    pub(crate) fn new(opener: PayloadOpener) -> Self {
        Self {
            opener: Some(opener),
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
        let opener = self
            .opener
            .as_mut()
            .ok_or_else(|| js_error("the payload is already finished"))?;
        let mut out = Vec::with_capacity(payload.len());
        opener
            .update(payload, &mut out)
            .map_err(|e| js_error(format!("verification failed: {e}")))?;
        Ok(out)
    }

    /// The payload has ended: returns the last plaintext and checks the
    /// whole payload against the manifest and the plaintext against the
    /// uploader's digest.
    ///
    /// # Errors
    /// When anything does not match; the page must then fail the download.
    pub fn finish(&mut self) -> Result<Vec<u8>, JsError> {
        let opener = self
            .opener
            .take()
            .ok_or_else(|| js_error("the payload is already finished"))?;
        let mut out = Vec::new();
        opener
            .finish(&mut out)
            .map_err(|e| js_error(format!("verification failed: {e}")))?;
        Ok(out)
    }

    /// Plaintext bytes released so far.
    #[wasm_bindgen(getter)]
    #[must_use]
    pub fn released(&self) -> f64 {
        self.opener
            .as_ref()
            .map_or(0.0, |o| o.plaintext_len() as f64)
    }
}
