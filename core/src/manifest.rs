//! The signed version manifest (spec: `spec/documents.md` §Version
//! manifest).
//!
//! Every document version has a manifest, signed by its uploader, that
//! pins everything a recipient needs to know they decrypted the same bytes
//! as everyone else: the digest and length of the stored age payload, a
//! commitment to the file key, and the digest of the sealed metadata. It
//! also names the previous version's manifest, so a server that serves an
//! older version as the newest is caught.
//!
//! ```text
//! Manifest = {
//!   0: 1,              ; version
//!   1: bstr .size 16,  ; matter id
//!   2: bstr .size 16,  ; document id
//!   3: uint,           ; version number, 1 for the first version (u32)
//!   ? 4: bstr .size 32,; digest of the previous version's signed manifest;
//!                      ;   present iff the version number is > 1
//!   5: bstr .size 32,  ; payload digest: segmented SHA-256 of the stored
//!                      ;   age payload (`crate::segmented`)
//!   6: uint,           ; payload length in bytes
//!   7: bstr .size 32,  ; key commitment
//!   8: bstr .size 32,  ; SHA-256 of the sealed metadata
//!   9: uint,           ; created at, Unix seconds
//! }
//! ```

use core::fmt;

use crate::domain::{self, SignatureContext};
use crate::keys::hex_lower;
use crate::matter::MatterId;
use crate::metadata::{MetadataDigest, derive_from_file_key};
use crate::secret::{FileKey, constant_time_eq};
use crate::segmented::{self, DigestKind, SegmentedHasher};
use crate::signed::wire;
use crate::signed::{RecordDigest, Signed, SignedRecordError};
use minicbor::{Decode, Encode};

/// The only manifest version this crate reads and writes.
pub const MANIFEST_VERSION: u8 = 1;

random_id! {
    /// A document's 16-byte random identifier.
    DocumentId
}

/// A document version number: 1 for the first version, then 2, 3, …
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VersionNumber(u32);

impl VersionNumber {
    /// The first version.
    pub const FIRST: Self = Self(1);

    /// A version number; `None` for 0.
    #[must_use]
    pub const fn new(n: u32) -> Option<Self> {
        if n == 0 { None } else { Some(Self(n)) }
    }

    /// The number.
    #[must_use]
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The next version number, if there is one.
    #[must_use]
    pub const fn next(self) -> Option<Self> {
        match self.0.checked_add(1) {
            Some(n) => Some(Self(n)),
            None => None,
        }
    }
}

/// The segmented SHA-256 digest ([`crate::segmented`], kind
/// [`DigestKind::Payload`]) of a stored age payload: the 16-byte nonce
/// followed by the STREAM chunks, the part of an age file every recipient
/// shares (spec: `spec/documents.md` §Payload digest).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PayloadDigest(pub [u8; 32]);

impl PayloadDigest {
    /// Hashes a whole payload held in memory; see [`PayloadHasher`] for
    /// streams.
    #[must_use]
    pub fn of(payload: &[u8]) -> Self {
        Self(segmented::digest(DigestKind::Payload, payload))
    }

    /// The digest of a payload of `len` bytes from its segment digests
    /// computed elsewhere (see [`segmented::root_from_segments`]); `None`
    /// when their number does not fit `len`.
    #[must_use]
    pub fn from_segments(len: u64, segment_digests: &[u8]) -> Option<Self> {
        segmented::root_from_segments(DigestKind::Payload, len, segment_digests).map(Self)
    }
}

impl fmt::Debug for PayloadDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PayloadDigest({})", hex_lower(&self.0))
    }
}

/// Hashes an age payload as it streams past, in constant memory.
///
/// Write the payload into it (it implements [`std::io::Write`], so it can
/// sit behind a tee), then [`Self::finalize`] gives the digest and length
/// that go into the manifest.
#[derive(Clone)]
pub struct PayloadHasher(SegmentedHasher);

impl Default for PayloadHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl PayloadHasher {
    /// A hasher that has seen nothing.
    #[must_use]
    pub fn new() -> Self {
        Self(SegmentedHasher::new(DigestKind::Payload))
    }

    /// Feeds the next bytes of the payload.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The digest and the length of everything fed.
    #[must_use]
    pub fn finalize(self) -> (PayloadDigest, u64) {
        let (digest, len) = self.0.finalize();
        (PayloadDigest(digest), len)
    }
}

impl std::io::Write for PayloadHasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl fmt::Debug for PayloadHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PayloadHasher({:?})", self.0)
    }
}

/// A commitment to a file key: HKDF-SHA-256(salt = "", ikm = file key,
/// info = `"lexvault/v1/key-commitment"`), 32 bytes (spec:
/// `spec/documents.md` §Key commitment).
///
/// ChaCha20-Poly1305 is not key-committing: one ciphertext can be crafted to
/// decrypt under two keys to two plaintexts. The manifest pins the key with
/// this value so every recipient can check that the file key they unwrapped
/// is the uploader's. It reveals nothing about the key beyond that check.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyCommitment([u8; 32]);

impl KeyCommitment {
    /// Derives the commitment to `file_key`.
    #[must_use]
    pub fn derive(file_key: &FileKey) -> Self {
        Self(*derive_from_file_key(file_key, domain::KEY_COMMITMENT).expose_secret())
    }

    /// Wraps commitment bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The commitment bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Whether `file_key` is the key this commits to. Compares in constant
    /// time.
    #[must_use]
    pub fn matches(&self, file_key: &FileKey) -> bool {
        constant_time_eq(&Self::derive(file_key).0, &self.0)
    }
}

impl fmt::Debug for KeyCommitment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyCommitment({})", hex_lower(&self.0))
    }
}

/// Why a manifest was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// The envelope, the signature or the body's encoding is invalid.
    #[error(transparent)]
    Record(#[from] SignedRecordError),
    /// The manifest's version is not [`MANIFEST_VERSION`].
    #[error("unknown manifest version {0}")]
    UnknownVersion(u64),
    /// The version number is 0.
    #[error("manifest version number must be at least 1")]
    InvalidVersionNumber,
    /// Version 1 names a previous manifest, or a later version does not.
    #[error("manifest's previous-version link does not match its version number")]
    PreviousMismatch,
    /// The file key does not match the manifest's key commitment.
    #[error("file key does not match the manifest's key commitment")]
    KeyCommitmentMismatch,
    /// The payload's digest or length is not the one the manifest pins.
    #[error("payload does not match the manifest")]
    PayloadMismatch,
    /// The sealed metadata is not the one the manifest pins.
    #[error("metadata does not match the manifest")]
    MetadataMismatch,
    /// The later manifest is not the direct successor of the earlier one:
    /// another matter or document, a number that is not one more, or a
    /// previous-version digest that does not name it.
    #[error("manifest does not follow the previous version")]
    NotSuccessor,
}

/// The fields of a manifest, for [`Manifest::new`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestTerms {
    /// The matter the document belongs to.
    pub matter_id: MatterId,
    /// The document.
    pub document_id: DocumentId,
    /// This version's number.
    pub version: VersionNumber,
    /// Digest of the previous version's signed manifest; `None` exactly for
    /// version 1.
    pub previous: Option<RecordDigest>,
    /// SHA-256 of the stored age payload.
    pub payload_digest: PayloadDigest,
    /// Length of the stored age payload in bytes.
    pub payload_len: u64,
    /// Commitment to the version's file key.
    pub key_commitment: KeyCommitment,
    /// SHA-256 of the sealed metadata.
    pub metadata_digest: MetadataDigest,
    /// When the version was uploaded, in Unix seconds.
    pub created_at: u64,
}

/// A document version manifest (spec: `spec/documents.md` §Version
/// manifest). The uploader is the envelope's signer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest(ManifestTerms);

impl Manifest {
    /// Builds a manifest, checking that `previous` is present exactly when
    /// the version number is above 1.
    pub fn new(terms: ManifestTerms) -> Result<Self, ManifestError> {
        if terms.previous.is_some() != (terms.version != VersionNumber::FIRST) {
            return Err(ManifestError::PreviousMismatch);
        }
        Ok(Self(terms))
    }

    /// All fields.
    #[must_use]
    pub fn terms(&self) -> &ManifestTerms {
        &self.0
    }

    /// The matter the document belongs to.
    #[must_use]
    pub fn matter_id(&self) -> &MatterId {
        &self.0.matter_id
    }

    /// The document.
    #[must_use]
    pub fn document_id(&self) -> &DocumentId {
        &self.0.document_id
    }

    /// This version's number.
    #[must_use]
    pub fn version(&self) -> VersionNumber {
        self.0.version
    }

    /// Digest of the previous version's signed manifest.
    #[must_use]
    pub fn previous(&self) -> Option<&RecordDigest> {
        self.0.previous.as_ref()
    }

    /// Checks the file key a recipient unwrapped against the key
    /// commitment, in constant time.
    pub fn check_file_key(&self, file_key: &FileKey) -> Result<(), ManifestError> {
        if self.0.key_commitment.matches(file_key) {
            Ok(())
        } else {
            Err(ManifestError::KeyCommitmentMismatch)
        }
    }

    /// Checks a received payload's digest and length (from
    /// [`PayloadHasher::finalize`]), the digest in constant time.
    pub fn check_payload(&self, digest: &PayloadDigest, len: u64) -> Result<(), ManifestError> {
        let digest_matches = constant_time_eq(&digest.0, &self.0.payload_digest.0);
        if digest_matches && len == self.0.payload_len {
            Ok(())
        } else {
            Err(ManifestError::PayloadMismatch)
        }
    }

    /// Checks received sealed metadata against the pinned digest.
    pub fn check_metadata(&self, digest: &MetadataDigest) -> Result<(), ManifestError> {
        if *digest == self.0.metadata_digest {
            Ok(())
        } else {
            Err(ManifestError::MetadataMismatch)
        }
    }
}

#[derive(Clone, Encode, Decode)]
#[cbor(map)]
pub(crate) struct ManifestWire {
    #[n(0)]
    version: u8,
    #[cbor(n(1), with = "minicbor::bytes")]
    matter_id: [u8; 16],
    #[cbor(n(2), with = "minicbor::bytes")]
    document_id: [u8; 16],
    #[n(3)]
    version_number: u32,
    #[cbor(n(4), with = "minicbor::bytes")]
    previous: Option<[u8; 32]>,
    #[cbor(n(5), with = "minicbor::bytes")]
    payload_digest: [u8; 32],
    #[n(6)]
    payload_len: u64,
    #[cbor(n(7), with = "minicbor::bytes")]
    key_commitment: [u8; 32],
    #[cbor(n(8), with = "minicbor::bytes")]
    metadata_digest: [u8; 32],
    #[n(9)]
    created_at: u64,
}

impl wire::WireForm for Manifest {
    const VERSION: u8 = MANIFEST_VERSION;
    type Wire = ManifestWire;
    type Error = ManifestError;

    fn from_wire(w: ManifestWire) -> Result<Self, ManifestError> {
        if w.version != MANIFEST_VERSION {
            return Err(ManifestError::UnknownVersion(w.version.into()));
        }
        Self::new(ManifestTerms {
            matter_id: MatterId::from_bytes(w.matter_id),
            document_id: DocumentId::from_bytes(w.document_id),
            version: VersionNumber::new(w.version_number)
                .ok_or(ManifestError::InvalidVersionNumber)?,
            previous: w.previous.map(RecordDigest),
            payload_digest: PayloadDigest(w.payload_digest),
            payload_len: w.payload_len,
            key_commitment: KeyCommitment(w.key_commitment),
            metadata_digest: MetadataDigest(w.metadata_digest),
            created_at: w.created_at,
        })
    }

    fn to_wire(&self) -> ManifestWire {
        let t = &self.0;
        ManifestWire {
            version: MANIFEST_VERSION,
            matter_id: *t.matter_id.as_bytes(),
            document_id: *t.document_id.as_bytes(),
            version_number: t.version.get(),
            previous: t.previous.map(|d| d.0),
            payload_digest: t.payload_digest.0,
            payload_len: t.payload_len,
            key_commitment: t.key_commitment.0,
            metadata_digest: t.metadata_digest.0,
            created_at: t.created_at,
        }
    }

    fn unknown_version(version: u64) -> ManifestError {
        ManifestError::UnknownVersion(version)
    }
}

signed_record!(Manifest, SignatureContext::VERSION_MANIFEST);

/// Parses a signed manifest (spec: `spec/documents.md` §Version manifest).
///
/// This checks the signature and every field. Whether the signer may
/// upload to the document is a grant question: see
/// [`crate::grant::verify_upload_authority`].
pub fn verify_manifest(bytes: &[u8]) -> Result<Signed<Manifest>, ManifestError> {
    wire::parse_signed::<Manifest>(bytes)
}

/// Checks that `next` is the version directly after `previous` of the same
/// document (spec: `spec/documents.md` §Rollback and forks).
///
/// A client that remembers the newest manifest it has seen calls this on
/// each newer one it is shown, so a server cannot splice in a different
/// history or pass off an old version as current.
pub fn verify_succession(
    previous: &Signed<Manifest>,
    next: &Signed<Manifest>,
) -> Result<(), ManifestError> {
    let (p, n) = (previous.record(), next.record());
    let follows = p.matter_id() == n.matter_id()
        && p.document_id() == n.document_id()
        && p.version().next() == Some(n.version())
        && n.previous() == Some(&previous.digest());
    if follows {
        Ok(())
    } else {
        Err(ManifestError::NotSuccessor)
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
    use super::*;
    use crate::keys::SigningSecretKey;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;
    use std::io::Write as _;

    fn terms(version: u32, previous: Option<RecordDigest>) -> ManifestTerms {
        ManifestTerms {
            matter_id: MatterId::from_bytes([1; 16]),
            document_id: DocumentId::from_bytes([2; 16]),
            version: VersionNumber::new(version).unwrap_or(VersionNumber::FIRST),
            previous,
            payload_digest: PayloadDigest([3; 32]),
            payload_len: 1234,
            key_commitment: KeyCommitment([4; 32]),
            metadata_digest: MetadataDigest([5; 32]),
            created_at: 1_700_000_000,
        }
    }

    fn key() -> SigningSecretKey {
        SigningSecretKey::generate(&mut ChaCha20Rng::from_seed([1; 32]))
    }

    fn sign(t: ManifestTerms) -> Signed<Manifest> {
        let Ok(m) = Manifest::new(t) else {
            panic!("test manifest is valid")
        };
        Signed::sign(m, &key())
    }

    #[test]
    fn sign_then_verify_round_trips() {
        let first = sign(terms(1, None));
        let parsed = verify_manifest(first.as_bytes()).map(|m| m.record().clone());
        assert_eq!(parsed.as_ref(), Ok(first.record()));
        let second = sign(terms(2, Some(first.digest())));
        let parsed = verify_manifest(second.as_bytes()).map(|m| m.record().clone());
        assert_eq!(parsed.as_ref(), Ok(second.record()));
    }

    #[test]
    fn previous_is_present_exactly_after_the_first_version() {
        assert_eq!(
            Manifest::new(terms(1, Some(RecordDigest([0; 32])))),
            Err(ManifestError::PreviousMismatch)
        );
        assert_eq!(
            Manifest::new(terms(2, None)),
            Err(ManifestError::PreviousMismatch)
        );
        assert_eq!(VersionNumber::new(0), None);
        assert_eq!(
            VersionNumber::new(u32::MAX).and_then(VersionNumber::next),
            None
        );
    }

    #[test]
    fn succession_is_checked() {
        let v1 = sign(terms(1, None));
        let v2 = sign(terms(2, Some(v1.digest())));
        let v3 = sign(terms(3, Some(v2.digest())));
        assert_eq!(verify_succession(&v1, &v2), Ok(()));
        assert_eq!(verify_succession(&v2, &v3), Ok(()));
        let not_next = [(&v1, &v3), (&v2, &v1), (&v2, &v2)];
        for (p, n) in not_next {
            assert_eq!(verify_succession(p, n), Err(ManifestError::NotSuccessor));
        }
        // A fork: another version 2 that names v1, then a v3 naming it.
        let mut t = terms(2, Some(v1.digest()));
        t.payload_len = 99;
        let fork = sign(t);
        assert_eq!(verify_succession(&v1, &fork), Ok(()));
        assert_eq!(
            verify_succession(&fork, &v3),
            Err(ManifestError::NotSuccessor)
        );
        let mut other_doc = terms(2, Some(v1.digest()));
        other_doc.document_id = DocumentId::from_bytes([9; 16]);
        assert_eq!(
            verify_succession(&v1, &sign(other_doc)),
            Err(ManifestError::NotSuccessor)
        );
    }

    #[test]
    fn key_commitment_binds_the_file_key() {
        let fk = FileKey::from_array(&mut [7; 16]);
        let other = FileKey::from_array(&mut [8; 16]);
        let mut t = terms(1, None);
        t.key_commitment = KeyCommitment::derive(&fk);
        let Ok(m) = Manifest::new(t) else {
            panic!("valid")
        };
        assert_eq!(m.check_file_key(&fk), Ok(()));
        assert_eq!(
            m.check_file_key(&other),
            Err(ManifestError::KeyCommitmentMismatch)
        );
        // Domain-separated from the metadata key derived from the same file key.
        assert_ne!(
            KeyCommitment::derive(&fk).as_bytes(),
            derive_from_file_key(&fk, domain::METADATA_KEY).expose_secret()
        );
    }

    #[test]
    fn key_commitment_is_hkdf_sha256_of_the_label() {
        // RFC 5869 by hand: PRK = HMAC(salt = 32 zero bytes, ikm);
        // OKM = HMAC(PRK, info || 0x01) for a 32-byte output.
        use hmac::{Hmac, KeyInit as _, Mac as _};
        use sha2::Sha256;
        let ikm = [0x42u8; 16];
        let Ok(mut extract) = Hmac::<Sha256>::new_from_slice(&[0u8; 32]) else {
            panic!("hmac takes any key length")
        };
        extract.update(&ikm);
        let prk = extract.finalize().into_bytes();
        let Ok(mut expand) = Hmac::<Sha256>::new_from_slice(&prk) else {
            panic!("hmac takes any key length")
        };
        expand.update(b"lexvault/v1/key-commitment\x01");
        let want: [u8; 32] = expand.finalize().into_bytes().into();
        let fk = FileKey::from_array(&mut ikm.clone());
        assert_eq!(KeyCommitment::derive(&fk).as_bytes(), &want);
    }

    #[test]
    fn payload_hasher_streams() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut h = PayloadHasher::new();
        for chunk in data.chunks(7_919) {
            let _ = h.write_all(chunk);
        }
        assert_eq!(h.finalize(), (PayloadDigest::of(&data), data.len() as u64));
        let Ok(m) = Manifest::new(ManifestTerms {
            payload_digest: PayloadDigest::of(&data),
            payload_len: data.len() as u64,
            ..terms(1, None)
        }) else {
            panic!("valid")
        };
        assert_eq!(
            m.check_payload(&PayloadDigest::of(&data), data.len() as u64),
            Ok(())
        );
        assert_eq!(
            m.check_payload(&PayloadDigest::of(&data[1..]), data.len() as u64),
            Err(ManifestError::PayloadMismatch)
        );
        assert_eq!(
            m.check_payload(&PayloadDigest::of(&data), 1),
            Err(ManifestError::PayloadMismatch)
        );
    }
}
