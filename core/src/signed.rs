//! The signed-record envelope every lexvault signature travels in (spec:
//! `spec/README.md` §Signed records).
//!
//! ```text
//! SignedRecord = [ signer: bstr .size 32,      ; Ed25519 public key
//!                  body:   bstr,               ; canonical CBOR of the record
//!                  sig:    bstr .size 64 ]     ; Ed25519(context || 0x00 || body)
//! ```
//!
//! Verification follows "verify the bytes, then decode": the envelope is
//! parsed, the signature is checked over the exact `body` bytes as stored,
//! and only then is `body` decoded — canonically — into the record type.
//! Whether the signer was *allowed* to sign is the caller's question
//! (for grants, [`crate::grant::verify_grant_chain`]).

use minicbor::bytes::{ByteArray, ByteSlice};
use minicbor::{Decode, Encode};
use sha2::{Digest as _, Sha256};

use crate::codec::{self, CodecError};
use crate::domain::SignatureContext;
use crate::keys::{SIGNATURE_LEN, SigningPublicKey, SigningSecretKey};

/// A record type that is signed in its own context.
pub trait Record: Encode<()> + for<'b> Decode<'b, ()> {
    /// The signature context for this record type.
    const CONTEXT: SignatureContext;
}

/// Why a signed record was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignedRecordError {
    /// The envelope is not a canonical `[signer, body, sig]` array.
    #[error("signed record envelope is malformed")]
    MalformedEnvelope,
    /// The signer field is not a valid Ed25519 public key.
    #[error("signed record names an invalid signer key")]
    InvalidSigner,
    /// The signature does not verify. Deliberately detail-free.
    #[error("signature verification failed")]
    BadSignature,
    /// The signature verified but the body is not a valid record.
    #[error("signed record body is invalid: {0}")]
    Body(CodecError),
}

#[derive(Encode, Decode)]
#[cbor(array)]
struct Envelope<'a> {
    #[n(0)]
    signer: ByteArray<32>,
    #[b(1)]
    body: &'a ByteSlice,
    #[n(2)]
    signature: ByteArray<SIGNATURE_LEN>,
}

/// SHA-256 of a signed record's exact bytes: how records refer to each other
/// (a grant to its parent grant, a revocation to the grant it revokes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordDigest(pub [u8; 32]);

impl RecordDigest {
    /// Hashes exact record bytes.
    #[must_use]
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }
}

/// A record together with its signature and its exact stored bytes.
#[derive(Debug, Clone)]
pub struct Signed<R> {
    bytes: Vec<u8>,
    signer: SigningPublicKey,
    record: R,
}

impl<R: Record> Signed<R> {
    /// Encodes `record` canonically and signs it.
    pub fn sign(record: R, key: &SigningSecretKey) -> Self {
        let body = codec::encode(&record);
        let signature = key.sign(R::CONTEXT, &body);
        let signer = key.public_key();
        let bytes = codec::encode(&Envelope {
            signer: ByteArray::from(signer.to_bytes()),
            body: body.as_slice().into(),
            signature: ByteArray::from(signature),
        });
        Self {
            bytes,
            signer,
            record,
        }
    }

    /// Parses and verifies a signed record from its exact stored bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SignedRecordError> {
        let envelope: Envelope<'_> =
            codec::decode_canonical(bytes).map_err(|_| SignedRecordError::MalformedEnvelope)?;
        let signer = SigningPublicKey::from_bytes(&envelope.signer)
            .map_err(|_| SignedRecordError::InvalidSigner)?;
        signer
            .verify(R::CONTEXT, envelope.body, &envelope.signature)
            .map_err(|_| SignedRecordError::BadSignature)?;
        let record = codec::decode_canonical(envelope.body).map_err(SignedRecordError::Body)?;
        Ok(Self {
            bytes: bytes.to_vec(),
            signer,
            record,
        })
    }

    /// The exact bytes, as stored and transmitted.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Consumes the record, returning its exact bytes.
    #[must_use]
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The key whose signature verified.
    #[must_use]
    pub fn signer(&self) -> &SigningPublicKey {
        &self.signer
    }

    /// The decoded record.
    #[must_use]
    pub fn record(&self) -> &R {
        &self.record
    }

    /// SHA-256 of [`Self::as_bytes`].
    #[must_use]
    pub fn digest(&self) -> RecordDigest {
        RecordDigest::of(&self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[derive(Debug, Clone, PartialEq, Encode, Decode)]
    #[cbor(map)]
    struct Note {
        #[n(0)]
        text: String,
    }

    impl Record for Note {
        const CONTEXT: SignatureContext = SignatureContext::GRANT;
    }

    #[derive(Debug, Clone, PartialEq, Encode, Decode)]
    #[cbor(map)]
    struct OtherNote {
        #[n(0)]
        text: String,
    }

    impl Record for OtherNote {
        const CONTEXT: SignatureContext = SignatureContext::REVOCATION;
    }

    fn key() -> SigningSecretKey {
        SigningSecretKey::generate(&mut ChaCha20Rng::from_seed([1; 32]))
    }

    #[test]
    fn sign_then_verify_round_trips() {
        let signed = Signed::sign(
            Note {
                text: "hello".into(),
            },
            &key(),
        );
        let parsed = Signed::<Note>::from_bytes(signed.as_bytes());
        let parsed = parsed.map(|p| (p.record().clone(), *p.signer(), p.digest()));
        assert_eq!(
            parsed,
            Ok((
                Note {
                    text: "hello".into()
                },
                key().public_key(),
                signed.digest()
            ))
        );
    }

    #[test]
    fn every_flipped_bit_is_rejected() {
        let signed = Signed::sign(
            Note {
                text: "hello".into(),
            },
            &key(),
        );
        let bytes = signed.as_bytes();
        for i in 0..bytes.len() * 8 {
            let mut tampered = bytes.to_vec();
            if let Some(b) = tampered.get_mut(i / 8) {
                *b ^= 1 << (i % 8);
            }
            assert!(Signed::<Note>::from_bytes(&tampered).is_err(), "bit {i}");
        }
    }

    #[test]
    fn a_signature_does_not_transfer_to_another_record_type() {
        let signed = Signed::sign(
            Note {
                text: "hello".into(),
            },
            &key(),
        );
        assert_eq!(
            Signed::<OtherNote>::from_bytes(signed.as_bytes()).map(|_| ()),
            Err(SignedRecordError::BadSignature)
        );
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let signed = Signed::sign(
            Note {
                text: "hello".into(),
            },
            &key(),
        );
        let mut bytes = signed.into_bytes();
        bytes.push(0);
        assert_eq!(
            Signed::<Note>::from_bytes(&bytes).map(|_| ()),
            Err(SignedRecordError::MalformedEnvelope)
        );
    }
}
