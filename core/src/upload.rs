//! Making a new document version (spec: `spec/documents.md` §Version
//! manifest, `spec/api.md` §Uploads): the payload encrypted and hashed as
//! it streams, then the sealed metadata, the signed manifest, the file key
//! wrapped to every party, and the grants that come with the version, as
//! the one upload envelope the server takes.
//!
//! The CLI and the browser both upload through this module; each only
//! reads the file and sends the bytes.

use rand_core::CryptoRng;

use crate::age::stream::{
    CHUNK_SIZE, ENCRYPTED_CHUNK_SIZE, PAYLOAD_NONCE_LEN, PayloadEncryptor, PayloadError, TAG_LEN,
};
use crate::age::x25519::wrap_file_key;
use crate::api::{self, RecipientStanza, UploadEnvelope};
use crate::grant::{
    Grant, GrantError, GrantId, GrantTerms, Revocation, Rights, Scope, StanzaDigest, Validity,
    WrappedKeyBinding, verify_grant_chain,
};
use crate::keys::{Identity, PublicIdentity};
use crate::manifest::{
    DocumentId, KeyCommitment, Manifest, ManifestError, ManifestTerms, PayloadDigest,
    PayloadHasher, VersionNumber,
};
use crate::matter::{MatterId, VerifiedMatter};
use crate::metadata::{Metadata, MetadataBinding, MetadataError, PlaintextHasher};
use crate::secret::FileKey;
use crate::signed::{RecordDigest, Signed};

/// Encrypts a plaintext pushed in pieces of any size into an age payload,
/// hashing both as they pass: what the manifest and the metadata commit
/// to. Memory stays at one chunk whatever the file's size.
#[derive(Debug)]
pub struct PayloadSealer {
    encryptor: PayloadEncryptor,
    /// Plaintext not yet encrypted: at most one chunk, held back until the
    /// next byte (or the end) says whether it is the last.
    pending: Vec<u8>,
    nonce_written: bool,
    payload: PayloadHasher,
    plaintext: PlaintextHasher,
}

/// What a sealed payload's manifest and metadata say about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SealedPayload {
    /// The digest of the payload (nonce and chunks).
    pub payload_digest: PayloadDigest,
    /// The payload's length in bytes.
    pub payload_len: u64,
    /// The digest of the plaintext.
    pub plaintext_digest: [u8; 32],
    /// The plaintext's length in bytes.
    pub plaintext_len: u64,
}

impl PayloadSealer {
    /// Starts a payload under `file_key` with a fresh nonce.
    pub fn new<R: CryptoRng + ?Sized>(file_key: &FileKey, rng: &mut R) -> Self {
        Self::from_encryptor(PayloadEncryptor::new(file_key, rng))
    }

    /// Starts a payload with a given nonce (see
    /// [`PayloadEncryptor::with_nonce`] for the one rule that comes with
    /// it).
    #[must_use]
    pub fn with_nonce(file_key: &FileKey, nonce: [u8; PAYLOAD_NONCE_LEN]) -> Self {
        Self::from_encryptor(PayloadEncryptor::with_nonce(file_key, nonce))
    }

    fn from_encryptor(encryptor: PayloadEncryptor) -> Self {
        Self {
            encryptor,
            pending: Vec::with_capacity(ENCRYPTED_CHUNK_SIZE),
            nonce_written: false,
            payload: PayloadHasher::new(),
            plaintext: PlaintextHasher::new(),
        }
    }

    /// The payload nonce.
    #[must_use]
    pub fn nonce(&self) -> &[u8; PAYLOAD_NONCE_LEN] {
        self.encryptor.nonce()
    }

    /// Takes the next plaintext bytes and appends to `out` the payload
    /// bytes they complete (the nonce first).
    ///
    /// # Errors
    /// [`PayloadError::TooLong`] past the format's chunk counter.
    pub fn update(&mut self, mut plaintext: &[u8], out: &mut Vec<u8>) -> Result<(), PayloadError> {
        self.plaintext.update(plaintext);
        self.write_nonce(out);
        while !plaintext.is_empty() {
            if self.pending.len() == CHUNK_SIZE {
                // More follows, so the held chunk is not the last.
                self.seal_pending(false, out)?;
            }
            let room = CHUNK_SIZE - self.pending.len();
            let (now, rest) = plaintext.split_at(room.min(plaintext.len()));
            self.pending.extend_from_slice(now);
            plaintext = rest;
        }
        Ok(())
    }

    /// Ends the plaintext: appends the last payload bytes to `out` and
    /// returns the digests and lengths.
    ///
    /// # Errors
    /// As [`Self::update`].
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<SealedPayload, PayloadError> {
        self.write_nonce(out);
        self.seal_pending(true, out)?;
        let (payload_digest, payload_len) = self.payload.finalize();
        let (plaintext_digest, plaintext_len) = self.plaintext.finalize();
        Ok(SealedPayload {
            payload_digest,
            payload_len,
            plaintext_digest,
            plaintext_len,
        })
    }

    fn write_nonce(&mut self, out: &mut Vec<u8>) {
        if !self.nonce_written {
            let nonce = *self.encryptor.nonce();
            self.payload.update(&nonce);
            out.extend_from_slice(&nonce);
            self.nonce_written = true;
        }
    }

    fn seal_pending(&mut self, last: bool, out: &mut Vec<u8>) -> Result<(), PayloadError> {
        self.pending.resize(self.pending.len() + TAG_LEN, 0);
        self.encryptor.encrypt_chunk(&mut self.pending, last)?;
        self.payload.update(&self.pending);
        out.extend_from_slice(&self.pending);
        self.pending.clear();
        Ok(())
    }
}

/// Everyone holding a grant in force at `now` over `document` (a share
/// link's key among them): a new version's key is wrapped to each of them
/// too, so a new version does not take away what was granted. Their
/// bindings were checked by whoever granted them.
#[must_use]
pub fn carried_recipients(
    matter: &VerifiedMatter,
    grants: &[Signed<Grant>],
    revocations: &[Signed<Revocation>],
    document: &DocumentId,
    now: u64,
) -> Vec<PublicIdentity> {
    let mut carried: Vec<PublicIdentity> = Vec::new();
    for grant in grants {
        let grantee = *grant.record().grantee();
        if grant.record().scope().includes(document)
            && verify_grant_chain(matter, grant, grants, revocations, now).is_ok()
            && !carried.contains(&grantee)
        {
            carried.push(grantee);
        }
    }
    carried
}

/// A party given rights over the new document version along with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Share {
    /// Their published identity (its binding in the log checked by the
    /// caller before this is made).
    pub with: PublicIdentity,
    /// The rights to give.
    pub rights: Rights,
    /// When the rights hold.
    pub validity: Validity,
}

/// Everything a new version says besides its payload.
#[derive(Clone, Copy, Debug)]
pub struct NewVersion<'a> {
    /// The matter the document is in.
    pub matter_id: MatterId,
    /// The document.
    pub document_id: DocumentId,
    /// The new version's number.
    pub version: VersionNumber,
    /// The record digest of the previous version's manifest; `None` for
    /// version 1.
    pub previous: Option<RecordDigest>,
    /// The file name the recipients will see.
    pub file_name: &'a str,
    /// The MIME type.
    pub mime_type: &'a str,
    /// The payload, sealed by a [`PayloadSealer`] under the file key.
    pub payload: &'a SealedPayload,
    /// Who may open the version besides the uploader: those whose grants
    /// carry over from the previous version (their bindings were checked
    /// by whoever granted them) and the [`Share`]s.
    pub recipients: &'a [PublicIdentity],
    /// New grants over the document that come with the version.
    pub shares: &'a [Share],
    /// The uploader's grant that the shares' grants derive from; `None`
    /// when the uploader created the matter.
    pub share_authority: Option<RecordDigest>,
    /// When the version is made, in seconds since the Unix epoch.
    pub created_at: u64,
}

/// Why a version cannot be made. Each names what to change.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The file name or MIME type is not allowed.
    #[error("{0}; rename the file")]
    Metadata(#[from] MetadataError),
    /// The manifest's terms are invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// A share's grant terms are invalid.
    #[error(transparent)]
    Grant(#[from] GrantError),
}

/// Seals the metadata, signs the manifest as `uploader`, wraps `file_key`
/// to the uploader and every recipient, and signs the shares' grants:
/// returns the encoded upload envelope (spec: `spec/api.md` §Uploads).
///
/// # Errors
/// [`UploadError`] when a field is not allowed.
pub fn seal_version<R: CryptoRng + ?Sized>(
    new: &NewVersion<'_>,
    file_key: &FileKey,
    uploader: &Identity,
    rng: &mut R,
) -> Result<Vec<u8>, UploadError> {
    let binding = MetadataBinding {
        matter_id: new.matter_id,
        document_id: new.document_id,
        version: new.version,
    };
    let metadata = Metadata::new(
        new.file_name,
        new.mime_type,
        new.payload.plaintext_len,
        new.payload.plaintext_digest,
    )?
    .seal(file_key, &binding);
    let manifest = Manifest::new(ManifestTerms {
        matter_id: new.matter_id,
        document_id: new.document_id,
        version: new.version,
        previous: new.previous,
        payload_digest: new.payload.payload_digest,
        payload_len: new.payload.payload_len,
        key_commitment: KeyCommitment::derive(file_key),
        metadata_digest: metadata.digest(),
        created_at: new.created_at,
    })?;
    let manifest = Signed::sign(manifest, uploader.signing_key());

    // One stanza per party: the uploader, then the recipients and the
    // shares, each once.
    let mut parties = vec![uploader.public()];
    for party in new
        .recipients
        .iter()
        .chain(new.shares.iter().map(|s| &s.with))
    {
        if !parties.contains(party) {
            parties.push(*party);
        }
    }
    let mut stanzas = Vec::with_capacity(parties.len());
    let mut grants = Vec::with_capacity(new.shares.len());
    for party in &parties {
        let stanza = wrap_file_key(file_key, &party.encryption, rng);
        let stanza_digest = StanzaDigest(stanza.digest());
        stanzas.push(RecipientStanza {
            recipient: party.signing.to_bytes().into(),
            stanza: stanza.to_bytes().into(),
        });
        for share in new.shares.iter().filter(|s| s.with == *party) {
            let grant = Grant::new(GrantTerms {
                grant_id: GrantId::generate(rng),
                matter_id: new.matter_id,
                scope: Scope::Document(new.document_id),
                grantee: share.with,
                rights: share.rights,
                validity: share.validity,
                wrapped_key: Some(WrappedKeyBinding {
                    version: new.version,
                    stanza_digest,
                }),
                parent: new.share_authority,
                issued_at: new.created_at,
            })?;
            grants.push(
                Signed::sign(grant, uploader.signing_key())
                    .as_bytes()
                    .to_vec()
                    .into(),
            );
        }
    }
    Ok(api::encode(&UploadEnvelope {
        manifest: manifest.as_bytes().to_vec().into(),
        metadata: metadata.as_bytes().to_vec().into(),
        stanzas,
        grants,
    }))
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use std::io::Read as _;

    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng as _;

    use super::*;
    use crate::age::stream::EncryptingReader;
    use crate::api::VersionView;
    use crate::grant::{parse_grant, verify_grant_chain};
    use crate::manifest::verify_manifest;
    use crate::matter::Matter;
    use crate::opening::open_version;

    fn seal(
        plaintext: &[u8],
        piece: usize,
        file_key: &FileKey,
        nonce: [u8; 16],
    ) -> (Vec<u8>, SealedPayload) {
        let mut sealer = PayloadSealer::with_nonce(file_key, nonce);
        let mut out = Vec::new();
        for part in plaintext.chunks(piece) {
            sealer.update(part, &mut out).unwrap();
        }
        let sealed = sealer.finish(&mut out).unwrap();
        (out, sealed)
    }

    #[test]
    fn the_sealer_writes_the_streams_bytes_and_their_digests_in_pieces_of_every_size() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let file_key = FileKey::generate(&mut rng);
        let nonce = [9u8; 16];
        for len in [
            0,
            1,
            CHUNK_SIZE - 1,
            CHUNK_SIZE,
            CHUNK_SIZE + 1,
            3 * CHUNK_SIZE + 17,
        ] {
            let plaintext: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
            let mut expected = Vec::new();
            EncryptingReader::new(
                PayloadEncryptor::with_nonce(&file_key, nonce),
                &plaintext[..],
            )
            .read_to_end(&mut expected)
            .unwrap();
            let mut hasher = PayloadHasher::new();
            hasher.update(&expected);
            let (digest, payload_len) = hasher.finalize();
            for piece in [1, 7, CHUNK_SIZE, CHUNK_SIZE + 1, 1 << 20] {
                if piece == 1 && len > CHUNK_SIZE {
                    continue; // byte by byte is covered by the small sizes
                }
                let (payload, sealed) = seal(&plaintext, piece, &file_key, nonce);
                assert!(payload == expected, "len {len}, piece {piece}");
                assert_eq!(sealed.payload_digest, digest, "len {len}, piece {piece}");
                assert_eq!(sealed.payload_len, payload_len);
                assert_eq!(sealed.plaintext_len, len as u64);
                assert_eq!(
                    sealed.plaintext_digest,
                    crate::metadata::plaintext_digest(&plaintext)
                );
            }
        }
    }

    #[test]
    fn a_sealed_version_opens_for_the_uploader_and_each_share_whose_grant_verifies() {
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let attorney = Identity::generate(&mut rng);
        let client = Identity::generate(&mut rng);
        let carried = Identity::generate(&mut rng);
        let matter = Matter::create(&mut rng, attorney.signing_key(), 1);
        let document_id = DocumentId::generate(&mut rng);
        let file_key = FileKey::generate(&mut rng);
        let plaintext = vec![5u8; CHUNK_SIZE + 3];
        let mut sealer = PayloadSealer::new(&file_key, &mut rng);
        let mut payload = Vec::new();
        sealer.update(&plaintext, &mut payload).unwrap();
        let sealed = sealer.finish(&mut payload).unwrap();
        let share = Share {
            with: client.public(),
            rights: Rights::VIEW | Rights::DOWNLOAD,
            validity: Validity::starting(1),
        };
        let envelope = seal_version(
            &NewVersion {
                matter_id: *matter.id(),
                document_id,
                version: VersionNumber::FIRST,
                previous: None,
                file_name: "Settlement draft.pdf",
                mime_type: "application/pdf",
                payload: &sealed,
                recipients: &[carried.public(), client.public()],
                shares: &[share],
                share_authority: None,
                created_at: 10,
            },
            &file_key,
            &attorney,
            &mut rng,
        )
        .unwrap();
        let envelope: UploadEnvelope = api::decode(&envelope).unwrap();
        let manifest = verify_manifest(&envelope.manifest).unwrap();
        assert_eq!(manifest.signer(), &attorney.public().signing);
        assert_eq!(
            envelope.stanzas.len(),
            3,
            "one stanza per party, the client once"
        );
        assert_eq!(envelope.grants.len(), 1);
        let grant = parse_grant(&envelope.grants[0]).unwrap();
        let verified = verify_grant_chain(&matter, &grant, &[grant.clone()][..], &[], 10).unwrap();
        assert!(verified.rights().contains(Rights::DOWNLOAD));

        for party in [&attorney, &client, &carried] {
            let stanza = envelope
                .stanzas
                .iter()
                .find(|s| s.recipient[..] == party.public().signing.to_bytes())
                .unwrap();
            let view = VersionView {
                manifest: envelope.manifest.clone(),
                metadata: envelope.metadata.clone(),
                stanza: Some(stanza.stanza.clone()),
                uploader_grants: Vec::new(),
            };
            let opened = open_version(&matter, &manifest, &view, party).unwrap();
            assert_eq!(opened.metadata.file_name(), "Settlement draft.pdf");
            let mut opener = opened.payload_opener();
            let mut out = Vec::new();
            opener.update(&payload, &mut out).unwrap();
            opener.finish(&mut out).unwrap();
            assert!(out == plaintext, "the payload opens to the plaintext");
            if party.public() == client.public() {
                let binding = grant.record().wrapped_key().unwrap();
                let parsed = crate::age::Stanza::parse(&stanza.stanza).unwrap();
                assert_eq!(binding.stanza_digest, StanzaDigest(parsed.digest()));
            }
        }
    }

    #[test]
    fn a_new_versions_key_goes_to_every_grant_in_force_over_the_document_once() {
        let mut rng = ChaCha20Rng::seed_from_u64(6);
        let attorney = Identity::generate(&mut rng);
        let matter = Matter::create(&mut rng, attorney.signing_key(), 1);
        let document = DocumentId::generate(&mut rng);
        let other = DocumentId::generate(&mut rng);
        let [client, team, revoked, expired, elsewhere] =
            core::array::from_fn(|_| Identity::generate(&mut rng));
        let mut grant = |to: &Identity, scope: Scope, validity: Validity| {
            let grant = Grant::new(GrantTerms {
                grant_id: GrantId::generate(&mut rng),
                matter_id: *matter.id(),
                scope,
                grantee: to.public(),
                rights: Rights::VIEW,
                validity,
                wrapped_key: None,
                parent: None,
                issued_at: 2,
            })
            .unwrap();
            Signed::sign(grant, attorney.signing_key())
        };
        let grants = vec![
            grant(&client, Scope::Document(document), Validity::starting(1)),
            grant(&client, Scope::Matter, Validity::starting(1)),
            grant(&team, Scope::Matter, Validity::starting(1)),
            grant(&revoked, Scope::Document(document), Validity::starting(1)),
            grant(
                &expired,
                Scope::Document(document),
                Validity::new(1, Some(5)).unwrap(),
            ),
            grant(&elsewhere, Scope::Document(other), Validity::starting(1)),
        ];
        let revocation = Signed::sign(
            Revocation::new(*matter.id(), grants[3].digest(), 3),
            attorney.signing_key(),
        );
        let carried = carried_recipients(&matter, &grants, &[revocation], &document, 10);
        assert_eq!(carried, vec![client.public(), team.public()]);
    }

    #[test]
    fn a_file_name_that_may_not_be_saved_is_refused_with_what_to_do() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let attorney = Identity::generate(&mut rng);
        let file_key = FileKey::generate(&mut rng);
        let (_, sealed) = seal(b"x", 1, &file_key, [0; 16]);
        let refused = seal_version(
            &NewVersion {
                matter_id: MatterId::generate(&mut rng),
                document_id: DocumentId::generate(&mut rng),
                version: VersionNumber::FIRST,
                previous: None,
                file_name: "../escape.pdf",
                mime_type: "application/pdf",
                payload: &sealed,
                recipients: &[],
                shares: &[],
                share_authority: None,
                created_at: 1,
            },
            &file_key,
            &attorney,
            &mut rng,
        )
        .unwrap_err();
        assert!(matches!(refused, UploadError::Metadata(_)));
        assert!(
            refused.to_string().ends_with("; rename the file"),
            "{refused}"
        );
    }
}
