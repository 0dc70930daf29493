//! Identity keys (spec: `spec/identity.md`).
//!
//! A person holds an Ed25519 signing key and an X25519 encryption key. The
//! X25519 public key is also a standard age recipient (`age1…`), and its
//! secret a standard age identity (`AGE-SECRET-KEY-1…`), so exports open in
//! stock `age` and `rage`.

use core::fmt;
use core::str::FromStr;

use bech32::{Bech32, Hrp, primitives::decode::CheckedHrpstring};
use ed25519_dalek::{Signature, Signer as _};
use rand_core::CryptoRng;
use sha2::{Digest as _, Sha256};

use crate::domain::{self, SignatureContext};
use crate::secret::{SecretBytes, SecretString};

/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// Why a key or a key string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not a valid `age1…` recipient string.
    #[error("not a valid age recipient (expected a lowercase age1… string)")]
    InvalidRecipient,
    /// Not a valid `AGE-SECRET-KEY-1…` identity string.
    #[error("not a valid age identity (expected an uppercase AGE-SECRET-KEY-1… string)")]
    InvalidIdentity,
    /// An Ed25519 public key that is not a canonical point or has small order.
    #[error("not a valid Ed25519 public key")]
    InvalidSigningKey,
    /// An X25519 public key of small order, which would make every shared
    /// secret predictable.
    #[error("not a valid X25519 public key")]
    InvalidEncryptionKey,
}

/// A signature did not verify. Deliberately detail-free.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("signature verification failed")]
pub struct SignatureError;

const RECIPIENT_HRP: &str = "age";
const IDENTITY_HRP: &str = "age-secret-key-";

// ---------------------------------------------------------------------------
// Ed25519

/// An Ed25519 public key that verifies lexvault signatures.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SigningPublicKey(ed25519_dalek::VerifyingKey);

impl SigningPublicKey {
    /// Parses a public key, rejecting non-canonical encodings and keys of
    /// small order (for which signatures prove nothing).
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        let key = ed25519_dalek::VerifyingKey::from_bytes(bytes)
            .map_err(|_| KeyError::InvalidSigningKey)?;
        // dalek keeps the caller's bytes, so canonicity is checked against
        // the re-compressed point: y ≥ p encodings are rejected here.
        if key.is_weak() || key.to_edwards().compress().to_bytes() != *bytes {
            return Err(KeyError::InvalidSigningKey);
        }
        Ok(Self(key))
    }

    /// The 32-byte encoding.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The 32-byte encoding, borrowed.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// Verifies `signature` over `context || 0x00 || body`.
    ///
    /// Uses strict verification: it rejects non-canonical `S`, small-order
    /// `R` and small-order keys, so signatures are not malleable (spec:
    /// `spec/README.md` §Signatures; the edge cases are pinned by
    /// `tests/ed25519_vectors.rs`).
    pub fn verify(
        &self,
        context: SignatureContext,
        body: &[u8],
        signature: &[u8; SIGNATURE_LEN],
    ) -> Result<(), SignatureError> {
        self.verify_raw(&context.message(body), signature)
    }

    /// Verifies a signature over an exact message with no lexvault context.
    ///
    /// For formats defined elsewhere that fix their own signed bytes (C2SP
    /// signed notes); lexvault's own records use [`Self::verify`].
    pub fn verify_raw(
        &self,
        message: &[u8],
        signature: &[u8; SIGNATURE_LEN],
    ) -> Result<(), SignatureError> {
        let signature = Signature::from_bytes(signature);
        self.0
            .verify_strict(message, &signature)
            .map_err(|_| SignatureError)
    }
}

impl fmt::Debug for SigningPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningPublicKey({})", hex_lower(self.as_bytes()))
    }
}

/// An Ed25519 signing key. Zeroised on drop; never cloned or printed.
pub struct SigningSecretKey(ed25519_dalek::SigningKey);

impl SigningSecretKey {
    /// Generates a new signing key.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self(ed25519_dalek::SigningKey::generate(rng))
    }

    /// Builds a signing key from its 32-byte seed.
    #[must_use]
    pub fn from_seed(seed: &SecretBytes<32>) -> Self {
        Self(ed25519_dalek::SigningKey::from_bytes(seed.expose_secret()))
    }

    /// The 32-byte seed, for sealing into a key backup.
    #[must_use]
    pub fn to_seed(&self) -> SecretBytes<32> {
        SecretBytes::from_array(&mut self.0.to_bytes())
    }

    /// The public half.
    #[must_use]
    pub fn public_key(&self) -> SigningPublicKey {
        SigningPublicKey(self.0.verifying_key())
    }

    /// Signs `context || 0x00 || body`.
    #[must_use]
    pub fn sign(&self, context: SignatureContext, body: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.sign_raw(&context.message(body))
    }

    /// Signs an exact message with no lexvault context; see
    /// [`SigningPublicKey::verify_raw`].
    #[must_use]
    pub fn sign_raw(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.0.sign(message).to_bytes()
    }
}

impl fmt::Debug for SigningSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecretKey([REDACTED])")
    }
}

// ---------------------------------------------------------------------------
// X25519

/// An X25519 public key: the key documents are wrapped to, and an age
/// recipient. `Display` and `FromStr` use the `age1…` form.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct EncryptionPublicKey(x25519_dalek::PublicKey);

impl EncryptionPublicKey {
    /// Parses a public key, rejecting the small-order points that would make
    /// every shared secret all-zero.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        // A point has small order exactly when multiplying it by the
        // clamped scalar 1·8 gives the identity (u = 0) — x25519 clamps any
        // scalar to a multiple of the cofactor, so any fixed scalar works.
        if x25519_dalek::x25519([1u8; 32], *bytes) == [0u8; 32] {
            return Err(KeyError::InvalidEncryptionKey);
        }
        Ok(Self(x25519_dalek::PublicKey::from(*bytes)))
    }

    /// The 32-byte encoding.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The 32-byte encoding, borrowed.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    pub(crate) fn as_dalek(&self) -> &x25519_dalek::PublicKey {
        &self.0
    }
}

impl fmt::Display for EncryptionPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hrp = Hrp::parse_unchecked(RECIPIENT_HRP);
        bech32::encode_lower_to_fmt::<Bech32, _>(f, hrp, self.as_bytes()).map_err(|_| fmt::Error)
    }
}

impl fmt::Debug for EncryptionPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EncryptionPublicKey({self})")
    }
}

impl FromStr for EncryptionPublicKey {
    type Err = KeyError;

    /// Parses an `age1…` recipient: lowercase bech32 (not bech32m), canonical
    /// padding, exactly 32 bytes.
    fn from_str(s: &str) -> Result<Self, KeyError> {
        let bytes =
            bech32_decode_canonical(s, RECIPIENT_HRP, false).ok_or(KeyError::InvalidRecipient)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| KeyError::InvalidRecipient)?;
        Self::from_bytes(&bytes).map_err(|_| KeyError::InvalidRecipient)
    }
}

/// An X25519 secret key: unwraps file keys, and is a standard age identity.
pub struct EncryptionSecretKey(x25519_dalek::StaticSecret);

impl EncryptionSecretKey {
    /// Generates a new key.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self(x25519_dalek::StaticSecret::random_from_rng(rng))
    }

    /// Builds a key from its 32 secret bytes.
    #[must_use]
    pub fn from_secret_bytes(bytes: &SecretBytes<32>) -> Self {
        Self(x25519_dalek::StaticSecret::from(*bytes.expose_secret()))
    }

    /// The 32 secret bytes, for sealing into a key backup.
    #[must_use]
    pub fn to_secret_bytes(&self) -> SecretBytes<32> {
        SecretBytes::from_array(&mut self.0.to_bytes())
    }

    /// The public half.
    #[must_use]
    pub fn public_key(&self) -> EncryptionPublicKey {
        EncryptionPublicKey(x25519_dalek::PublicKey::from(&self.0))
    }

    /// Parses an `AGE-SECRET-KEY-1…` identity (uppercase bech32).
    pub fn from_age_identity(s: &str) -> Result<Self, KeyError> {
        let bytes =
            bech32_decode_canonical(s, IDENTITY_HRP, true).ok_or(KeyError::InvalidIdentity)?;
        let secret = SecretBytes::<32>::try_from_slice(&bytes);
        let mut bytes = bytes;
        zeroize::Zeroize::zeroize(&mut bytes);
        secret
            .map(|s| Self::from_secret_bytes(&s))
            .ok_or(KeyError::InvalidIdentity)
    }

    /// The `AGE-SECRET-KEY-1…` form, which stock age tools accept.
    #[must_use]
    pub fn to_age_identity(&self) -> SecretString {
        let hrp = Hrp::parse_unchecked(IDENTITY_HRP);
        let secret = self.to_secret_bytes();
        let mut s = String::with_capacity(80);
        // Writing to a String cannot fail and the data is short.
        let _ = bech32::encode_upper_to_fmt::<Bech32, _>(&mut s, hrp, secret.expose_secret());
        SecretString::new(s)
    }

    /// X25519 with the other party's public key.
    pub(crate) fn diffie_hellman(
        &self,
        public: &EncryptionPublicKey,
    ) -> x25519_dalek::SharedSecret {
        self.0.diffie_hellman(public.as_dalek())
    }
}

impl fmt::Debug for EncryptionSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncryptionSecretKey([REDACTED])")
    }
}

/// Decodes bech32 (the original checksum, as age uses) and accepts it only
/// in one case and only if re-encoding reproduces it (canonical padding).
fn bech32_decode_canonical(s: &str, hrp: &str, uppercase: bool) -> Option<Vec<u8>> {
    let right_case = if uppercase {
        !s.bytes().any(|b| b.is_ascii_lowercase())
    } else {
        !s.bytes().any(|b| b.is_ascii_uppercase())
    };
    if !right_case {
        return None;
    }
    let parsed = CheckedHrpstring::new::<Bech32>(s).ok()?;
    if parsed.hrp().to_lowercase() != hrp {
        return None;
    }
    let data: Vec<u8> = parsed.byte_iter().collect();
    let expected_hrp = Hrp::parse_unchecked(hrp);
    let mut again = String::with_capacity(s.len());
    let written = if uppercase {
        bech32::encode_upper_to_fmt::<Bech32, _>(&mut again, expected_hrp, &data)
    } else {
        bech32::encode_lower_to_fmt::<Bech32, _>(&mut again, expected_hrp, &data)
    };
    let canonical = written.is_ok() && again == s;
    zeroize::Zeroize::zeroize(&mut again);
    canonical.then_some(data)
}

// ---------------------------------------------------------------------------
// Identity

/// A person's two secret keys.
#[derive(Debug)]
pub struct Identity {
    signing: SigningSecretKey,
    encryption: EncryptionSecretKey,
}

impl Identity {
    /// Generates a new identity.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self {
            signing: SigningSecretKey::generate(rng),
            encryption: EncryptionSecretKey::generate(rng),
        }
    }

    /// Assembles an identity from its two keys.
    #[must_use]
    pub fn from_keys(signing: SigningSecretKey, encryption: EncryptionSecretKey) -> Self {
        Self {
            signing,
            encryption,
        }
    }

    /// The signing key.
    #[must_use]
    pub fn signing_key(&self) -> &SigningSecretKey {
        &self.signing
    }

    /// The encryption key (an age identity).
    #[must_use]
    pub fn encryption_key(&self) -> &EncryptionSecretKey {
        &self.encryption
    }

    /// The public halves.
    #[must_use]
    pub fn public(&self) -> PublicIdentity {
        PublicIdentity {
            signing: self.signing.public_key(),
            encryption: self.encryption.public_key(),
        }
    }
}

/// A person's two public keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PublicIdentity {
    /// Verifies the person's signatures.
    pub signing: SigningPublicKey,
    /// Receives wrapped file keys; also the person's `age1…` recipient.
    pub encryption: EncryptionPublicKey,
}

impl PublicIdentity {
    /// The fingerprint people compare out of band (spec: `spec/identity.md`
    /// §Fingerprint).
    #[must_use]
    pub fn fingerprint(&self) -> Fingerprint {
        let mut h = Sha256::new();
        h.update(domain::FINGERPRINT);
        h.update(self.signing.as_bytes());
        h.update(self.encryption.as_bytes());
        Fingerprint(h.finalize().into())
    }
}

/// SHA-256 over `"lexvault/v1/fingerprint" || Ed25519 key || X25519 key`.
///
/// Shown as the first 20 bytes in ten groups of four hex digits — 160 bits,
/// short enough to read aloud over the phone.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The full 32-byte digest.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, pair) in self.0.chunks_exact(2).take(10).enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            for b in pair {
                write!(f, "{b:02x}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn rng() -> ChaCha20Rng {
        ChaCha20Rng::from_seed([7; 32])
    }

    #[test]
    fn age_identity_and_recipient_round_trip() {
        let key = EncryptionSecretKey::generate(&mut rng());
        let identity = key.to_age_identity();
        assert!(identity.expose_secret().starts_with("AGE-SECRET-KEY-1"));
        let back = EncryptionSecretKey::from_age_identity(identity.expose_secret());
        assert_eq!(back.map(|k| k.public_key()), Ok(key.public_key()));

        let recipient = key.public_key().to_string();
        assert!(recipient.starts_with("age1"));
        assert_eq!(
            recipient.parse::<EncryptionPublicKey>(),
            Ok(key.public_key())
        );
    }

    #[test]
    fn known_age_identity_gives_known_recipient() {
        // From the age test vectors (`x25519`); the recipient is what
        // `age-keygen -y` prints for it.
        let id = "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0";
        let key = EncryptionSecretKey::from_age_identity(id);
        assert!(key.is_ok());
        let back = key.map(|k| k.to_age_identity().expose_secret().to_owned());
        assert_eq!(back.as_deref(), Ok(id));
    }

    #[test]
    fn strings_in_the_wrong_case_or_form_are_rejected() {
        let key = EncryptionSecretKey::generate(&mut rng());
        let recipient = key.public_key().to_string();
        let identity = key.to_age_identity().expose_secret().to_owned();
        let bad_recipients = [
            recipient.to_uppercase(),
            recipient.replacen("age1", "agf1", 1),
            format!("{recipient}q"),
            recipient[..recipient.len() - 1].to_owned(),
            identity.to_lowercase(),
        ];
        for bad in bad_recipients {
            assert_eq!(
                bad.parse::<EncryptionPublicKey>(),
                Err(KeyError::InvalidRecipient),
                "{bad}"
            );
        }
        for bad in [
            identity.to_lowercase(),
            recipient.clone(),
            format!("{identity}Q"),
        ] {
            assert!(EncryptionSecretKey::from_age_identity(&bad).is_err());
        }
    }

    #[test]
    fn small_order_keys_are_rejected() {
        assert_eq!(
            EncryptionPublicKey::from_bytes(&[0; 32]),
            Err(KeyError::InvalidEncryptionKey)
        );
        let mut one = [0u8; 32];
        one[0] = 1;
        assert_eq!(
            EncryptionPublicKey::from_bytes(&one),
            Err(KeyError::InvalidEncryptionKey)
        );
        // The Ed25519 identity point (small order).
        assert_eq!(
            SigningPublicKey::from_bytes(&one),
            Err(KeyError::InvalidSigningKey)
        );
    }

    #[test]
    fn signatures_are_bound_to_their_context() {
        let key = SigningSecretKey::generate(&mut rng());
        let sig = key.sign(SignatureContext::GRANT, b"body");
        let public = key.public_key();
        assert_eq!(
            public.verify(SignatureContext::GRANT, b"body", &sig),
            Ok(())
        );
        assert_eq!(
            public.verify(SignatureContext::REVOCATION, b"body", &sig),
            Err(SignatureError)
        );
        assert_eq!(
            public.verify(SignatureContext::GRANT, b"bodY", &sig),
            Err(SignatureError)
        );
    }

    #[test]
    fn fingerprint_is_stable_and_key_dependent() {
        let a = Identity::generate(&mut rng()).public();
        let b = Identity::generate(&mut ChaCha20Rng::from_seed([8; 32])).public();
        assert_eq!(a.fingerprint(), a.fingerprint());
        assert_ne!(a.fingerprint(), b.fingerprint());
        let shown = a.fingerprint().to_string();
        assert_eq!(shown.len(), 10 * 4 + 9);
    }

    #[test]
    fn seeds_round_trip() {
        let key = SigningSecretKey::generate(&mut rng());
        let again = SigningSecretKey::from_seed(&key.to_seed());
        assert_eq!(key.public_key(), again.public_key());
        let enc = EncryptionSecretKey::generate(&mut rng());
        let again = EncryptionSecretKey::from_secret_bytes(&enc.to_secret_bytes());
        assert_eq!(enc.public_key(), again.public_key());
    }
}
