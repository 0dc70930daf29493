//! Uploading from the portal (spec: `spec/api.md` §Uploads): a new
//! document is encrypted in the browser as the page reads the file, with
//! a fresh file key that never leaves this module, and sealed into the
//! upload envelope the signed-in person signs. The page only reads the
//! file and sends the bytes.

use lexvault_core::manifest::{DocumentId, VersionNumber};
use lexvault_core::matter::MatterId;
use lexvault_core::secret::FileKey;
use lexvault_core::upload::{NewVersion, PayloadSealer, SealedPayload, seal_version};
use wasm_bindgen::prelude::*;

use crate::portal::Session;
use crate::{js_error, now, rng};

/// A new document being encrypted: feed the file through
/// [`Self::update`] and [`Self::finish`], then have the session seal it
/// ([`Session::seal_upload`]).
#[wasm_bindgen]
pub struct DocumentUpload {
    matter_id: MatterId,
    document_id: DocumentId,
    file_key: FileKey,
    sealer: Option<PayloadSealer>,
    sealed: Option<SealedPayload>,
}

fn finished() -> JsError {
    js_error("the document is already encrypted")
}

#[wasm_bindgen]
impl DocumentUpload {
    /// Encrypts the next bytes of the file; returns the payload bytes they
    /// complete (possibly none).
    ///
    /// # Errors
    /// After [`Self::finish`], or past the format's size limit.
    pub fn update(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, JsError> {
        let sealer = self.sealer.as_mut().ok_or_else(finished)?;
        let mut out = Vec::with_capacity(plaintext.len() + 64);
        sealer.update(plaintext, &mut out).map_err(js_error)?;
        Ok(out)
    }

    /// The file has ended: returns the last payload bytes.
    ///
    /// # Errors
    /// When called twice, or past the format's size limit.
    pub fn finish(&mut self) -> Result<Vec<u8>, JsError> {
        let sealer = self.sealer.take().ok_or_else(finished)?;
        let mut out = Vec::new();
        self.sealed = Some(sealer.finish(&mut out).map_err(js_error)?);
        Ok(out)
    }

    /// The new document's id, as lower-case hex.
    #[wasm_bindgen(getter, js_name = documentId)]
    #[must_use]
    pub fn document_id(&self) -> String {
        hex::encode(self.document_id.as_bytes())
    }

    /// Where the upload is sent.
    #[wasm_bindgen(getter)]
    #[must_use]
    pub fn path(&self) -> String {
        format!("/v1/documents/{}/versions", self.document_id())
    }
}

#[wasm_bindgen]
impl Session {
    /// Starts version 1 of a new document in the matter `matter_id` (hex),
    /// under a fresh file key.
    ///
    /// # Errors
    /// When `matter_id` is not a matter id.
    #[wasm_bindgen(js_name = newDocument)]
    pub fn new_document(&self, matter_id: &str) -> Result<DocumentUpload, JsError> {
        let matter_id = hex::decode(matter_id)
            .ok()
            .and_then(|bytes| <[u8; 16]>::try_from(bytes).ok())
            .map(MatterId::from_bytes)
            .ok_or_else(|| js_error("not a matter id"))?;
        let mut rng = rng();
        let file_key = FileKey::generate(&mut rng);
        let sealer = PayloadSealer::new(&file_key, &mut rng);
        Ok(DocumentUpload {
            matter_id,
            document_id: DocumentId::generate(&mut rng),
            file_key,
            sealer: Some(sealer),
            sealed: None,
        })
    }

    /// The upload envelope for an encrypted document: its metadata sealed,
    /// its manifest signed by this person, its key wrapped to them. The
    /// request that sends it is signed over exactly these bytes.
    ///
    /// # Errors
    /// Before the document is encrypted to its end, or when the file name
    /// or type may not be used (the message says what to change).
    #[wasm_bindgen(js_name = sealUpload)]
    pub fn seal_upload(
        &self,
        upload: &DocumentUpload,
        file_name: &str,
        mime_type: &str,
    ) -> Result<Vec<u8>, JsError> {
        let payload = upload
            .sealed
            .as_ref()
            .ok_or_else(|| js_error("the document is not encrypted yet"))?;
        seal_version(
            &NewVersion {
                matter_id: upload.matter_id,
                document_id: upload.document_id,
                version: VersionNumber::FIRST,
                previous: None,
                file_name,
                mime_type,
                payload,
                recipients: &[],
                shares: &[],
                share_authority: None,
                created_at: now(),
            },
            &upload.file_key,
            &self.identity,
            &mut rng(),
        )
        .map_err(js_error)
    }
}
