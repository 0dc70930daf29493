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

/// Parses and verifies many signed records of one type, checking their
/// signatures with Ed25519 **batch** verification: for the offline auditor,
/// which verifies a whole access log (spec: `spec/log.md` §Audit bundles,
/// batch verification).
///
/// Each envelope is parsed canonically and its signer key checked exactly
/// as [`Signed::from_bytes`] does, then all signatures are checked in one
/// batch, and only then are the bodies decoded. If the batch fails, every
/// item is verified again on its own with [`Signed::from_bytes`], so each
/// result — and every error — is the one `from_bytes` gives.
///
/// # Policy difference
///
/// Batch verification checks a random linear combination of the
/// verification equations. It accepts every signature the strict policy
/// (`spec/signatures.md`) accepts, and it rejects `S ≥ ℓ`, small-order or
/// non-canonical keys like it; but when the batch passes it can also accept
/// a degenerate signature the strict policy rejects: a small-order or
/// non-canonically encoded `R`, or one valid only up to a small-order
/// residue (each with probability up to 1/2 per batch). Only the holder of
/// the signing key can make such a signature. Callers that must agree with
/// the strict policy byte for byte use [`Signed::from_bytes`].
#[must_use]
pub fn from_bytes_batch<R: Record>(items: &[&[u8]]) -> Vec<Result<Signed<R>, SignedRecordError>> {
    let strictly = || items.iter().map(|b| Signed::<R>::from_bytes(b)).collect();
    let mut envelopes = Vec::with_capacity(items.len());
    // A batch often repeats signers: each key is decoded and checked once.
    let mut keys_seen: Vec<(SigningPublicKey, ed25519_dalek::VerifyingKey)> = Vec::new();
    for bytes in items {
        let Ok(envelope) = codec::decode_canonical::<Envelope<'_>>(bytes) else {
            return strictly();
        };
        let seen = keys_seen
            .iter()
            .find(|(s, _)| s.as_bytes() == &*envelope.signer)
            .copied();
        let (signer, key) = match seen {
            Some(pair) => pair,
            None => {
                let Ok(signer) = SigningPublicKey::from_bytes(&envelope.signer) else {
                    return strictly();
                };
                let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(signer.as_bytes()) else {
                    return strictly();
                };
                keys_seen.push((signer, key));
                (signer, key)
            }
        };
        envelopes.push((envelope, signer, key));
    }
    let messages: Vec<Vec<u8>> = envelopes
        .iter()
        .map(|(e, _, _)| R::CONTEXT.message(e.body))
        .collect();
    let messages: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    let signatures: Vec<ed25519_dalek::Signature> = envelopes
        .iter()
        .map(|(e, _, _)| ed25519_dalek::Signature::from_bytes(&e.signature))
        .collect();
    let keys: Vec<ed25519_dalek::VerifyingKey> = envelopes.iter().map(|(_, _, k)| *k).collect();
    if ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_err() {
        return strictly();
    }
    items
        .iter()
        .zip(envelopes)
        .map(|(bytes, (envelope, signer, _))| {
            let record = codec::decode_canonical(envelope.body).map_err(SignedRecordError::Body)?;
            Ok(Signed {
                bytes: bytes.to_vec(),
                signer,
                record,
            })
        })
        .collect()
}

/// Wire forms shared by lexvault's records (spec: `spec/README.md` §CBOR).
///
/// Each record type is decoded in two steps: its *wire form* is a plain
/// derived struct whose fields are raw integers, byte arrays and strings,
/// decoded with [`crate::codec::decode_canonical`]; the record type is then
/// built from it by a single validating conversion. The record's own
/// `Decode` runs both steps, so a [`Signed<R>`] always holds a valid `R`.
/// When decoding fails, [`parse_signed`] repeats the steps leniently to
/// report *which* rule was broken (unknown version, unknown rights bits, an
/// invalid key) instead of a bare "malformed".
///
/// This belongs next to [`crate::signed`]; it lives here until that module
/// grows a hook for it.
pub(crate) mod wire {
    use minicbor::{Decode, Decoder, Encode, Encoder};

    use crate::codec::{self, CodecError};
    use crate::signed::{Record, Signed, SignedRecordError};

    /// A record type built from a lenient wire form by one validation step.
    pub(crate) trait WireForm: Sized {
        /// The record version this crate reads and writes (map key 0).
        const VERSION: u8;
        /// The plain derived struct the record is carried as.
        type Wire: Encode<()> + for<'b> Decode<'b, ()>;
        /// What validation reports.
        type Error;

        /// Validates a decoded wire form. The first check is the version.
        fn from_wire(wire: Self::Wire) -> Result<Self, Self::Error>;
        /// The wire form of a valid record; `from_wire(to_wire(r)) == r`.
        fn to_wire(&self) -> Self::Wire;
        /// The error for a record of another version.
        fn unknown_version(version: u64) -> Self::Error;
    }

    pub(crate) fn encode<T: WireForm, W: minicbor::encode::Write>(
        value: &T,
        e: &mut Encoder<W>,
        ctx: &mut (),
    ) -> Result<(), minicbor::encode::Error<W::Error>> {
        value.to_wire().encode(e, ctx)
    }

    pub(crate) fn decode<T: WireForm>(
        d: &mut Decoder<'_>,
        ctx: &mut (),
    ) -> Result<T, minicbor::decode::Error> {
        let wire = T::Wire::decode(d, ctx)?;
        T::from_wire(wire).map_err(|_| minicbor::decode::Error::message("invalid record field"))
    }

    /// Decodes a canonical record body, naming the broken rule on failure.
    pub(crate) fn decode_body<T>(body: &[u8]) -> Result<T, T::Error>
    where
        T: WireForm + Encode<()> + for<'b> Decode<'b, ()>,
        T::Error: From<CodecError>,
    {
        codec::decode_canonical::<T>(body).map_err(|e| diagnose::<T>(body).unwrap_or(e.into()))
    }

    /// Parses a signed record, naming the broken rule when the signature
    /// verified but the body is not a valid record.
    pub(crate) fn parse_signed<T>(bytes: &[u8]) -> Result<Signed<T>, T::Error>
    where
        T: WireForm + Record,
        T::Error: From<SignedRecordError>,
    {
        match Signed::<T>::from_bytes(bytes) {
            Ok(signed) => Ok(signed),
            Err(SignedRecordError::Body(e)) => {
                // `from_bytes` got this far only after the envelope parsed
                // canonically and the signature verified over its body.
                let why = signed_body(bytes).and_then(diagnose::<T>);
                Err(why.unwrap_or_else(|| SignedRecordError::Body(e).into()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Why `body` is not a valid `T`, if the reason is a field's value.
    fn diagnose<T: WireForm>(body: &[u8]) -> Option<T::Error> {
        // The version comes first: a later version may change every other
        // field, so nothing else about the body is worth reporting.
        if let Some(version) = leading_version(body)
            && version != u64::from(T::VERSION)
        {
            return Some(T::unknown_version(version));
        }
        let wire = codec::decode_canonical::<T::Wire>(body).ok()?;
        T::from_wire(wire).err()
    }

    /// Whether `c` may appear in text people read as a name (display
    /// names, file names): no control characters, and none of the
    /// bidirectional formatting characters that make `invoice\u{202e}fdp.exe`
    /// display as `invoiceexe.pdf`.
    pub(crate) fn is_safe_name_char(c: char) -> bool {
        !c.is_control()
            && !matches!(
                c,
                '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
            )
    }

    /// The value of key 0 when it is the first entry of a CBOR map (in
    /// every lexvault record, the version).
    fn leading_version(body: &[u8]) -> Option<u64> {
        let mut d = Decoder::new(body);
        d.map().ok()?;
        if d.u64().ok()? != 0 {
            return None;
        }
        d.u64().ok()
    }

    /// The body of a `[signer, body, sig]` envelope that already parsed.
    fn signed_body(bytes: &[u8]) -> Option<&[u8]> {
        let mut d = Decoder::new(bytes);
        d.array().ok()?;
        d.skip().ok()?;
        d.bytes().ok()
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
    #[allow(clippy::indexing_slicing)]
    fn batches_verify_like_one_by_one() {
        let notes: Vec<Signed<Note>> = (0..40)
            .map(|i| {
                Signed::sign(
                    Note {
                        text: format!("note {i}"),
                    },
                    &key(),
                )
            })
            .collect();
        let bytes: Vec<Vec<u8>> = notes.iter().map(|n| n.as_bytes().to_vec()).collect();
        let items: Vec<&[u8]> = bytes.iter().map(Vec::as_slice).collect();
        let batch = from_bytes_batch::<Note>(&items);
        assert_eq!(batch.len(), notes.len());
        for (b, n) in batch.iter().zip(&notes) {
            let b = b.as_ref().map(|b| (b.record().clone(), b.digest()));
            assert_eq!(b, Ok((n.record().clone(), n.digest())));
        }

        // One bad signature in the batch: every item gets the error
        // `from_bytes` gives it, the bad one named.
        let mut tampered = bytes.clone();
        if let Some(b) = tampered.get_mut(17).and_then(|t| t.last_mut()) {
            *b ^= 1;
        }
        let items: Vec<&[u8]> = tampered.iter().map(Vec::as_slice).collect();
        let batch = from_bytes_batch::<Note>(&items);
        for (i, (b, bytes)) in batch.iter().zip(&tampered).enumerate() {
            let one = Signed::<Note>::from_bytes(bytes).map(|n| n.digest());
            assert_eq!(
                b.as_ref().map(Signed::digest),
                one.as_ref().copied(),
                "item {i}"
            );
            assert_eq!(one.is_err(), i == 17, "item {i}");
        }

        // Another record type's signature fails the batch too; a malformed
        // envelope is named as such.
        let other = Signed::sign(OtherNote { text: "x".into() }, &key());
        let items: Vec<&[u8]> = vec![bytes[0].as_slice(), other.as_bytes(), &[0x80]];
        let batch = from_bytes_batch::<Note>(&items);
        assert!(batch[0].is_ok());
        assert_eq!(
            batch[1].as_ref().map(|_| ()),
            Err(&SignedRecordError::BadSignature)
        );
        assert_eq!(
            batch[2].as_ref().map(|_| ()),
            Err(&SignedRecordError::MalformedEnvelope)
        );
        assert!(from_bytes_batch::<Note>(&[]).is_empty());
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
