//! A document version the page opened and verified, through a share link
//! or as a party: what the page shows, and its decryptor. The keys stay in
//! here.

use lexvault_core::opening::OpenedVersion;
use lexvault_core::opening::segments::SegmentedPayload;
use wasm_bindgen::prelude::*;

use crate::js_error;
use crate::payload::{DocumentDecryptor, SegmentedDecryption};

/// How the version was opened.
enum Access {
    /// As a party of the matter: the payload is theirs to fetch.
    Party,
    /// Through a share link, with the open's download ticket.
    Link {
        ticket: String,
        opens_left: Option<u32>,
    },
}

/// A verified, opened document version.
#[wasm_bindgen]
pub struct OpenedDocument {
    version: OpenedVersion,
    access: Access,
}

impl OpenedDocument {
    /// A version the signed-in party opened.
    pub(crate) fn party(version: OpenedVersion) -> Self {
        Self {
            version,
            access: Access::Party,
        }
    }

    /// The verified version, for sharing it.
    pub(crate) const fn opened(&self) -> &OpenedVersion {
        &self.version
    }

    /// A version a share link opened, with the open's ticket (hex) and the
    /// opens left.
    pub(crate) fn link(version: OpenedVersion, ticket: String, opens_left: Option<u32>) -> Self {
        Self {
            version,
            access: Access::Link { ticket, opens_left },
        }
    }
}

#[wasm_bindgen]
impl OpenedDocument {
    /// The document id, as lower-case hex.
    #[wasm_bindgen(getter, js_name = documentId)]
    #[must_use]
    pub fn document_id(&self) -> String {
        hex::encode(self.version.document_id().as_bytes())
    }

    /// The file name the uploader gave.
    #[wasm_bindgen(getter, js_name = fileName)]
    #[must_use]
    pub fn file_name(&self) -> String {
        self.version.metadata.file_name().to_owned()
    }

    /// The MIME type the uploader gave.
    #[wasm_bindgen(getter, js_name = mimeType)]
    #[must_use]
    pub fn mime_type(&self) -> String {
        self.version.metadata.mime_type().to_owned()
    }

    /// The plaintext size in bytes.
    #[wasm_bindgen(getter)]
    #[must_use]
    pub fn size(&self) -> f64 {
        // Sizes stay far below 2^53.
        self.version.metadata.size() as f64
    }

    /// The payload's size in bytes (what the download transfers).
    #[wasm_bindgen(getter, js_name = payloadSize)]
    #[must_use]
    pub fn payload_size(&self) -> f64 {
        self.version.payload_len() as f64
    }

    /// The version number.
    #[wasm_bindgen(getter)]
    #[must_use]
    pub fn version(&self) -> u32 {
        self.version.version().get()
    }

    /// When the version was made, in seconds since the Unix epoch.
    #[wasm_bindgen(getter, js_name = createdAt)]
    #[must_use]
    pub fn created_at(&self) -> f64 {
        self.version.manifest.record().terms().created_at as f64
    }

    /// For a party: the path of the version's payload, to `GET` signed.
    /// `undefined` for a link, whose payload comes with its ticket.
    #[wasm_bindgen(getter, js_name = payloadPath)]
    #[must_use]
    pub fn payload_path(&self) -> Option<String> {
        matches!(self.access, Access::Party).then(|| {
            format!(
                "/v1/documents/{}/versions/{}/payload",
                self.document_id(),
                self.version()
            )
        })
    }

    /// For a link: the ticket that fetches the payload without counting
    /// another open.
    #[wasm_bindgen(getter)]
    #[must_use]
    pub fn ticket(&self) -> Option<String> {
        match &self.access {
            Access::Link { ticket, .. } => Some(ticket.clone()),
            Access::Party => None,
        }
    }

    /// For a link: the opens left after this one; `undefined` when
    /// unlimited (or not a link).
    #[wasm_bindgen(getter, js_name = opensLeft)]
    #[must_use]
    pub fn opens_left(&self) -> Option<u32> {
        match self.access {
            Access::Link { opens_left, .. } => opens_left,
            Access::Party => None,
        }
    }

    /// A decryptor for the payload, which checks it against the manifest
    /// and the plaintext against the uploader's digest from the segment
    /// digests the page computes.
    #[must_use]
    pub fn decryptor(&self) -> DocumentDecryptor {
        DocumentDecryptor::new(self.version.bare_payload_opener())
    }

    /// The plan for decrypting the payload one 1 MiB plaintext segment at
    /// a time on Web Workers, and the final check.
    ///
    /// # Errors
    /// When the manifest's payload length does not fit the document's
    /// size: the page must not download it.
    #[wasm_bindgen(js_name = segmentedDecryption)]
    pub fn segmented_decryption(&self) -> Result<SegmentedDecryption, JsError> {
        SegmentedPayload::new(&self.version)
            .map(SegmentedDecryption::new)
            .map_err(|e| js_error(format!("verification failed: {e}")))
    }
}
