//! A version-1 upload built by hand, exactly as `Vault::put` builds one,
//! for tests that need to send it byte by byte (cut short, altered,
//! oversized) over a raw connection.

use std::io::Write as _;

use lexvault_client::client::{now, os_rng};
use lexvault_client::vault::hex_id;
use lexvault_core::age::{self, StreamWriter};
use lexvault_core::api::{self, RecipientStanza, UploadEnvelope};
use lexvault_core::keys::Identity;
use lexvault_core::manifest::{
    DocumentId, KeyCommitment, Manifest, ManifestTerms, PayloadHasher, VersionNumber,
};
use lexvault_core::matter::MatterId;
use lexvault_core::metadata::{Metadata, MetadataBinding, plaintext_digest};
use lexvault_core::secret::FileKey;
use lexvault_core::signed::Signed;

/// The parts of an upload.
#[derive(Debug)]
pub struct HandUpload {
    /// The new document.
    pub document: DocumentId,
    /// `/v1/documents/<id>/versions`.
    pub path: String,
    /// The signed manifest inside the envelope.
    pub manifest: Signed<Manifest>,
    /// The CBOR upload envelope (what the request signature covers).
    pub envelope: Vec<u8>,
    /// The age payload.
    pub payload: Vec<u8>,
}

impl HandUpload {
    /// `plaintext` as version 1 of a new document in `matter`, uploaded by
    /// `uploader` with the file key wrapped to them alone.
    ///
    /// # Panics
    /// If the core refuses a step: the test cannot go on.
    #[must_use]
    pub fn new(uploader: &Identity, matter: &MatterId, plaintext: &[u8]) -> Self {
        Self::made_at(uploader, matter, plaintext, now())
    }

    /// Like [`Self::new`], with a manifest that says it was created at
    /// `created_at` (Unix seconds).
    ///
    /// # Panics
    /// If the core refuses a step: the test cannot go on.
    #[must_use]
    #[allow(clippy::expect_used)]
    pub fn made_at(
        uploader: &Identity,
        matter: &MatterId,
        plaintext: &[u8],
        created_at: u64,
    ) -> Self {
        let mut rng = os_rng();
        let document = DocumentId::generate(&mut rng);
        let file_key = FileKey::generate(&mut rng);
        let mut writer = StreamWriter::new(&file_key, Vec::new(), &mut rng).expect("encrypt");
        writer.write_all(plaintext).expect("encrypt");
        let payload = writer.finish().expect("encrypt");
        let mut hasher = PayloadHasher::new();
        hasher.update(&payload);
        let (payload_digest, payload_len) = hasher.finalize();
        let binding = MetadataBinding {
            matter_id: *matter,
            document_id: document,
            version: VersionNumber::FIRST,
        };
        let metadata = Metadata::new(
            "hand made.pdf",
            "application/pdf",
            plaintext.len() as u64,
            plaintext_digest(plaintext),
        )
        .expect("metadata")
        .seal(&file_key, &binding);
        let manifest = Manifest::new(ManifestTerms {
            matter_id: *matter,
            document_id: document,
            version: VersionNumber::FIRST,
            previous: None,
            payload_digest,
            payload_len,
            key_commitment: KeyCommitment::derive(&file_key),
            metadata_digest: metadata.digest(),
            created_at,
        })
        .expect("manifest");
        let manifest = Signed::sign(manifest, uploader.signing_key());
        let stanza = age::x25519::wrap_file_key(&file_key, &uploader.public().encryption, &mut rng);
        let envelope = api::encode(&UploadEnvelope {
            manifest: manifest.as_bytes().to_vec().into(),
            metadata: metadata.as_bytes().to_vec().into(),
            stanzas: vec![RecipientStanza {
                recipient: uploader.public().signing.to_bytes().into(),
                stanza: stanza.to_bytes().into(),
            }],
            grants: Vec::new(),
        });
        Self {
            document,
            path: format!("/v1/documents/{}/versions", hex_id(document.as_bytes())),
            manifest,
            envelope,
            payload,
        }
    }

    /// The envelope's length (big-endian `u32`) and the envelope: the body
    /// up to the payload.
    ///
    /// # Panics
    /// Never for an envelope this type builds (far below 4 GiB).
    #[must_use]
    #[allow(clippy::expect_used)]
    pub fn head(&self) -> Vec<u8> {
        let len = u32::try_from(self.envelope.len()).expect("a small envelope");
        [&len.to_be_bytes()[..], &self.envelope].concat()
    }

    /// The whole upload body: [`Self::head`], then the payload.
    #[must_use]
    pub fn body(&self) -> Vec<u8> {
        [self.head(), self.payload.clone()].concat()
    }
}
