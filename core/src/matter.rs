//! Matters and the record that roots their authority (spec:
//! `spec/grants.md` §Matter record).
//!
//! A matter is created by one firm member, who signs a [`Matter`] record
//! naming a fresh random [`MatterId`] and their own Ed25519 key. That key is
//! the root of every grant chain in the matter
//! ([`crate::grant::verify_grant_chain`]): the creator holds every right
//! without a grant, and everyone else's authority is delegated from them.
//!
//! ```text
//! Matter = {
//!   0: 1,              ; version
//!   1: bstr .size 16,  ; matter id (random)
//!   2: bstr .size 32,  ; creator's Ed25519 key; must equal the envelope signer
//!   3: uint,           ; created at, Unix seconds
//! }
//! ```

use minicbor::{Decode, Encode};
use rand_core::CryptoRng;

use crate::domain::SignatureContext;
use crate::keys::{SigningPublicKey, SigningSecretKey};
use crate::signed::{RecordDigest, Signed, SignedRecordError, wire};

/// The only matter record version this crate reads and writes.
pub const MATTER_VERSION: u8 = 1;

random_id! {
    /// A matter's 16-byte random identifier.
    MatterId
}

/// Why a matter record was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MatterError {
    /// The envelope, the signature or the body's encoding is invalid.
    #[error(transparent)]
    Record(#[from] SignedRecordError),
    /// The record's version is not [`MATTER_VERSION`].
    #[error("unknown matter record version {0}")]
    UnknownVersion(u64),
    /// The creator field is not a valid Ed25519 public key.
    #[error("matter record names an invalid creator key")]
    InvalidCreatorKey,
    /// The record is signed by someone other than the creator it names.
    #[error("matter record is not signed by its creator")]
    SignerMismatch,
}

/// The record that creates a matter (spec: `spec/grants.md` §Matter record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matter {
    id: MatterId,
    creator: SigningPublicKey,
    created_at: u64,
}

impl Matter {
    /// Builds a matter record.
    #[must_use]
    pub fn new(id: MatterId, creator: SigningPublicKey, created_at: u64) -> Self {
        Self {
            id,
            creator,
            created_at,
        }
    }

    /// Creates a new matter with a fresh id, signed by its creator.
    pub fn create<R: CryptoRng + ?Sized>(
        rng: &mut R,
        creator: &SigningSecretKey,
        created_at: u64,
    ) -> VerifiedMatter {
        let record = Self::new(MatterId::generate(rng), creator.public_key(), created_at);
        VerifiedMatter(Signed::sign(record, creator))
    }

    /// The matter's identifier.
    #[must_use]
    pub fn id(&self) -> &MatterId {
        &self.id
    }

    /// The creator's key: the root of authority in the matter.
    #[must_use]
    pub fn creator(&self) -> &SigningPublicKey {
        &self.creator
    }

    /// When the matter was created, in Unix seconds.
    #[must_use]
    pub fn created_at(&self) -> u64 {
        self.created_at
    }
}

#[derive(Clone, Encode, Decode)]
#[cbor(map)]
pub(crate) struct MatterWire {
    #[n(0)]
    version: u8,
    #[cbor(n(1), with = "minicbor::bytes")]
    id: [u8; 16],
    #[cbor(n(2), with = "minicbor::bytes")]
    creator: [u8; 32],
    #[n(3)]
    created_at: u64,
}

impl wire::WireForm for Matter {
    const VERSION: u8 = MATTER_VERSION;
    type Wire = MatterWire;
    type Error = MatterError;

    fn from_wire(w: MatterWire) -> Result<Self, MatterError> {
        if w.version != MATTER_VERSION {
            return Err(MatterError::UnknownVersion(w.version.into()));
        }
        let creator =
            SigningPublicKey::from_bytes(&w.creator).map_err(|_| MatterError::InvalidCreatorKey)?;
        Ok(Self::new(MatterId(w.id), creator, w.created_at))
    }

    fn to_wire(&self) -> MatterWire {
        MatterWire {
            version: MATTER_VERSION,
            id: self.id.0,
            creator: self.creator.to_bytes(),
            created_at: self.created_at,
        }
    }

    fn unknown_version(version: u64) -> MatterError {
        MatterError::UnknownVersion(version)
    }
}

signed_record!(Matter, SignatureContext::MATTER);

/// A matter record whose signature verified and whose signer is the creator
/// it names.
#[derive(Debug, Clone)]
pub struct VerifiedMatter(Signed<Matter>);

impl VerifiedMatter {
    /// The matter's identifier.
    #[must_use]
    pub fn id(&self) -> &MatterId {
        self.0.record().id()
    }

    /// The creator's key, the root of every grant chain in the matter.
    #[must_use]
    pub fn creator(&self) -> &SigningPublicKey {
        self.0.record().creator()
    }

    /// The decoded record.
    #[must_use]
    pub fn record(&self) -> &Matter {
        self.0.record()
    }

    /// The signed record.
    #[must_use]
    pub fn signed(&self) -> &Signed<Matter> {
        &self.0
    }

    /// The exact stored bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// SHA-256 of the exact stored bytes.
    #[must_use]
    pub fn digest(&self) -> RecordDigest {
        self.0.digest()
    }
}

/// Parses a signed matter record and checks that its signer is the creator
/// it names (spec: `spec/grants.md` §Matter record).
pub fn verify_matter(bytes: &[u8]) -> Result<VerifiedMatter, MatterError> {
    let signed = wire::parse_signed::<Matter>(bytes)?;
    if signed.signer() != signed.record().creator() {
        return Err(MatterError::SignerMismatch);
    }
    Ok(VerifiedMatter(signed))
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
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn rng(seed: u8) -> ChaCha20Rng {
        ChaCha20Rng::from_seed([seed; 32])
    }

    #[test]
    fn create_then_verify_round_trips() {
        let key = SigningSecretKey::generate(&mut rng(1));
        let matter = Matter::create(&mut rng(2), &key, 1_700_000_000);
        let parsed = verify_matter(matter.as_bytes());
        let parsed = parsed.map(|m| (m.record().clone(), m.digest()));
        assert_eq!(parsed, Ok((matter.record().clone(), matter.digest())));
        assert_eq!(matter.creator(), &key.public_key());
        assert_eq!(matter.record().created_at(), 1_700_000_000);
    }

    #[test]
    fn encoding_is_the_documented_map() {
        let key = SigningSecretKey::generate(&mut rng(1));
        let record = Matter::new(MatterId::from_bytes([0xaa; 16]), key.public_key(), 500);
        let body = crate::codec::encode(&record);
        let mut want = vec![0xa4, 0x00, 0x01, 0x01, 0x50];
        want.extend_from_slice(&[0xaa; 16]);
        want.extend_from_slice(&[0x02, 0x58, 0x20]);
        want.extend_from_slice(key.public_key().as_bytes());
        want.extend_from_slice(&[0x03, 0x19, 0x01, 0xf4]);
        assert_eq!(body, want);
    }

    #[test]
    fn a_matter_signed_by_someone_else_is_rejected() {
        let creator = SigningSecretKey::generate(&mut rng(1));
        let other = SigningSecretKey::generate(&mut rng(3));
        let record = Matter::new(MatterId::generate(&mut rng(2)), creator.public_key(), 1);
        let signed = Signed::sign(record, &other);
        assert_eq!(
            verify_matter(signed.as_bytes()).map(|_| ()),
            Err(MatterError::SignerMismatch)
        );
    }

    /// Signs `body` as given, canonical or not, in the matter context.
    fn sign_raw(key: &SigningSecretKey, body: &[u8]) -> Vec<u8> {
        let sig = key.sign(SignatureContext::MATTER, body);
        let mut out = Vec::new();
        let mut e = minicbor::Encoder::new(&mut out);
        let _ = e
            .array(3)
            .and_then(|e| e.bytes(key.public_key().as_bytes()))
            .and_then(|e| e.bytes(body))
            .and_then(|e| e.bytes(&sig));
        out
    }

    fn body_of(key: &SigningSecretKey) -> Vec<u8> {
        crate::codec::encode(&Matter::new(
            MatterId::from_bytes([1; 16]),
            key.public_key(),
            1,
        ))
    }

    #[test]
    fn signed_bodies_name_what_is_wrong() {
        let key = SigningSecretKey::generate(&mut rng(1));
        let good = body_of(&key);
        assert!(verify_matter(&sign_raw(&key, &good)).is_ok());

        // `a4 00 01 …`: key 0 (the version) is the first entry.
        let mut v2 = good.clone();
        v2[2] = 0x02;
        assert_eq!(
            verify_matter(&sign_raw(&key, &v2)).map(|_| ()),
            Err(MatterError::UnknownVersion(2))
        );

        // A small-order creator key: the Ed25519 identity point.
        let mut weak = good.clone();
        let at = weak.len() - 2 - 32; // `… 03 01` ends the body
        weak[at..at + 32].copy_from_slice(&{
            let mut p = [0u8; 32];
            p[0] = 1;
            p
        });
        assert_eq!(
            verify_matter(&sign_raw(&key, &weak)).map(|_| ()),
            Err(MatterError::InvalidCreatorKey)
        );

        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(
            verify_matter(&sign_raw(&key, &trailing)).map(|_| ()),
            Err(MatterError::Record(SignedRecordError::Body(
                crate::codec::CodecError::NotCanonical
            )))
        );
    }
}
