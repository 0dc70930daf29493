//! Uploading from the portal (spec: `spec/api.md` §Uploads): a new
//! document, or a new version of one, is encrypted in the browser as the
//! page reads the file, with a fresh file key that never leaves this
//! module, and sealed into the upload envelope the signed-in person signs.
//! The page only reads the file and sends the bytes.

use lexvault_core::api::{self, GrantList};
use lexvault_core::keys::PublicIdentity;
use lexvault_core::manifest::{DocumentId, VersionNumber};
use lexvault_core::matter::MatterId;
use lexvault_core::metadata::{self, MAX_FILE_NAME_LEN, MetadataError};
use lexvault_core::opening::verify_grant_list;
use lexvault_core::secret::FileKey;
use lexvault_core::signed::RecordDigest;
use lexvault_core::upload::{
    NewVersion, PayloadSealer, SealedPayload, carried_recipients, seal_version,
};
use wasm_bindgen::prelude::*;

use crate::document::OpenedDocument;
use crate::portal::Session;
use crate::{js_error, now, rng};

/// A new document being encrypted: feed the file through
/// [`Self::update`] and [`Self::finish`], then have the session seal it
/// ([`Session::seal_upload`]).
#[wasm_bindgen]
pub struct DocumentUpload {
    matter_id: MatterId,
    document_id: DocumentId,
    version: VersionNumber,
    /// The record digest of the version this one follows.
    previous: Option<RecordDigest>,
    /// Those whose grants over the document carry over to this version.
    carried: Vec<PublicIdentity>,
    file_key: FileKey,
    sealer: Option<PayloadSealer>,
    sealed: Option<SealedPayload>,
}

impl DocumentUpload {
    fn start(
        matter_id: MatterId,
        document_id: DocumentId,
        version: VersionNumber,
        previous: Option<RecordDigest>,
        carried: Vec<PublicIdentity>,
    ) -> Self {
        let mut rng = rng();
        let file_key = FileKey::generate(&mut rng);
        let sealer = PayloadSealer::new(&file_key, &mut rng);
        Self {
            matter_id,
            document_id,
            version,
            previous,
            carried,
            file_key,
            sealer: Some(sealer),
            sealed: None,
        }
    }
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

    /// The number the new version will have.
    #[wasm_bindgen(getter)]
    #[must_use]
    pub fn version(&self) -> u32 {
        self.version.get()
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
        let document_id = DocumentId::generate(&mut rng());
        Ok(DocumentUpload::start(
            matter_id,
            document_id,
            VersionNumber::FIRST,
            None,
            Vec::new(),
        ))
    }

    /// Starts the next version of `document` (as the session listed it).
    /// `grants` answers `GET /v1/matters/{id}/grants` (CBOR): everyone
    /// holding a grant in force over the document gets the new version's
    /// key too.
    ///
    /// # Errors
    /// When the grant list does not verify or is another matter's, or the
    /// document has no next version number.
    #[wasm_bindgen(js_name = newVersion)]
    pub fn new_version(
        &self,
        document: &OpenedDocument,
        grants: &[u8],
    ) -> Result<DocumentUpload, JsError> {
        let opened = document.opened();
        let list: GrantList = api::decode(grants)
            .map_err(|e| js_error(format!("the server sent an invalid answer: {e}")))?;
        let (matter, grants, revocations) =
            verify_grant_list(&list).map_err(|e| js_error(format!("verification failed: {e}")))?;
        if matter.id() != opened.matter.id() {
            return Err(js_error(
                "verification failed: the server served another matter's grants",
            ));
        }
        let terms = opened.manifest.record();
        let version = terms
            .version()
            .next()
            .ok_or_else(|| js_error("the document has too many versions"))?;
        let carried =
            carried_recipients(&matter, &grants, &revocations, terms.document_id(), now());
        Ok(DocumentUpload::start(
            *matter.id(),
            *terms.document_id(),
            version,
            Some(opened.manifest.digest()),
            carried,
        ))
    }

    /// The upload envelope for an encrypted document: its metadata sealed,
    /// its manifest signed by this person, its key wrapped to them and to
    /// those whose grants carry over. The request that sends it is signed
    /// over exactly these bytes.
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
                version: upload.version,
                previous: upload.previous,
                file_name,
                mime_type,
                payload,
                recipients: &upload.carried,
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

/// Checks a chosen file's name and type before anything is encrypted, as
/// the sealed metadata will, so a large file is not encrypted only to be
/// refused at the end.
///
/// # Errors
/// When the name or type may not be used; the message says what to do.
#[wasm_bindgen(js_name = checkFileDetails)]
pub fn check_file_details(file_name: &str, mime_type: &str) -> Result<(), JsError> {
    metadata::check_file_details(file_name, mime_type).map_err(|e| match e {
        MetadataError::InvalidFileName => js_error(format!(
            "the file name may not be used: rename the file (no slashes, backslashes or \
             control characters, at most {MAX_FILE_NAME_LEN} bytes) and choose it again"
        )),
        MetadataError::InvalidMimeType => js_error(
            "the file's type may not be used: choose the file again, or save it in a common format",
        ),
        other => js_error(other),
    })
}
