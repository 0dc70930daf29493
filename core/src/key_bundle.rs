//! The self-signed identity key bundle (spec: `spec/identity.md` §Key
//! bundle).
//!
//! A person publishes their two public keys in a [`KeyBundle`] signed by the
//! Ed25519 key it contains. The self-signature proves possession of the
//! signing key and binds the encryption key and display name to it; it does
//! not prove who the person is — that is what fingerprints compared out of
//! band, and the firm's certification, are for.
//!
//! ```text
//! KeyBundle = {
//!   0: 1,                       ; version
//!   1: bstr .size 32,           ; Ed25519 public key; must equal the envelope signer
//!   2: bstr .size 32,           ; X25519 public key (the person's age recipient)
//!   3: tstr .size (1..128),     ; display name
//!   4: uint,                    ; created at, Unix seconds
//! }
//! ```

use minicbor::{Decode, Encode};

use crate::domain::SignatureContext;
use crate::keys::{EncryptionPublicKey, Fingerprint, Identity, PublicIdentity, SigningPublicKey};
use crate::signed::{RecordDigest, Signed, SignedRecordError, wire};

/// The only key bundle version this crate reads and writes.
pub const KEY_BUNDLE_VERSION: u8 = 1;

/// The longest display name, in UTF-8 bytes.
pub const MAX_DISPLAY_NAME_LEN: usize = 128;

/// Why a key bundle was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyBundleError {
    /// The envelope, the signature or the body's encoding is invalid.
    #[error(transparent)]
    Record(#[from] SignedRecordError),
    /// The bundle's version is not [`KEY_BUNDLE_VERSION`].
    #[error("unknown key bundle version {0}")]
    UnknownVersion(u64),
    /// The Ed25519 key is not canonical or has small order.
    #[error("key bundle holds an invalid signing key")]
    InvalidSigningKey,
    /// The X25519 key has small order.
    #[error("key bundle holds an invalid encryption key")]
    InvalidEncryptionKey,
    /// The display name is empty, longer than [`MAX_DISPLAY_NAME_LEN`]
    /// bytes, has white space at either end, or contains control or
    /// bidirectional formatting characters.
    #[error("key bundle display name is not allowed")]
    InvalidDisplayName,
    /// The bundle is signed by a key other than the one it publishes.
    #[error("key bundle is not signed by its own signing key")]
    SignerMismatch,
}

/// A person's published public keys (spec: `spec/identity.md` §Key bundle).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyBundle {
    identity: PublicIdentity,
    display_name: String,
    created_at: u64,
}

impl KeyBundle {
    /// Builds a bundle, checking the display name.
    pub fn new(
        identity: PublicIdentity,
        display_name: impl Into<String>,
        created_at: u64,
    ) -> Result<Self, KeyBundleError> {
        let display_name = display_name.into();
        check_display_name(&display_name)?;
        Ok(Self {
            identity,
            display_name,
            created_at,
        })
    }

    /// Builds a bundle for `identity` and signs it with the identity's own
    /// signing key.
    pub fn create(
        identity: &Identity,
        display_name: impl Into<String>,
        created_at: u64,
    ) -> Result<VerifiedKeyBundle, KeyBundleError> {
        let bundle = Self::new(identity.public(), display_name, created_at)?;
        Ok(VerifiedKeyBundle(Signed::sign(
            bundle,
            identity.signing_key(),
        )))
    }

    /// The two public keys.
    #[must_use]
    pub fn identity(&self) -> &PublicIdentity {
        &self.identity
    }

    /// The name the person chose to be shown as. Informative only: people
    /// are identified by their keys' fingerprint, never by this name.
    #[must_use]
    pub fn display_name(&self) -> &str {
        &self.display_name
    }

    /// When the bundle was made, in Unix seconds.
    #[must_use]
    pub fn created_at(&self) -> u64 {
        self.created_at
    }
}

fn check_display_name(name: &str) -> Result<(), KeyBundleError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_DISPLAY_NAME_LEN
        && name.trim() == name
        && name.chars().all(wire::is_safe_name_char);
    if ok {
        Ok(())
    } else {
        Err(KeyBundleError::InvalidDisplayName)
    }
}

#[derive(Clone, Encode, Decode)]
#[cbor(map)]
pub(crate) struct KeyBundleWire {
    #[n(0)]
    version: u8,
    #[cbor(n(1), with = "minicbor::bytes")]
    signing: [u8; 32],
    #[cbor(n(2), with = "minicbor::bytes")]
    encryption: [u8; 32],
    #[n(3)]
    display_name: String,
    #[n(4)]
    created_at: u64,
}

impl wire::WireForm for KeyBundle {
    const VERSION: u8 = KEY_BUNDLE_VERSION;
    type Wire = KeyBundleWire;
    type Error = KeyBundleError;

    fn from_wire(w: KeyBundleWire) -> Result<Self, KeyBundleError> {
        if w.version != KEY_BUNDLE_VERSION {
            return Err(KeyBundleError::UnknownVersion(w.version.into()));
        }
        let signing = SigningPublicKey::from_bytes(&w.signing)
            .map_err(|_| KeyBundleError::InvalidSigningKey)?;
        let encryption = EncryptionPublicKey::from_bytes(&w.encryption)
            .map_err(|_| KeyBundleError::InvalidEncryptionKey)?;
        Self::new(
            PublicIdentity {
                signing,
                encryption,
            },
            w.display_name,
            w.created_at,
        )
    }

    fn to_wire(&self) -> KeyBundleWire {
        KeyBundleWire {
            version: KEY_BUNDLE_VERSION,
            signing: self.identity.signing.to_bytes(),
            encryption: self.identity.encryption.to_bytes(),
            display_name: self.display_name.clone(),
            created_at: self.created_at,
        }
    }

    fn unknown_version(version: u64) -> KeyBundleError {
        KeyBundleError::UnknownVersion(version)
    }
}

signed_record!(KeyBundle, SignatureContext::KEY_BUNDLE);

/// A key bundle whose self-signature verified.
#[derive(Debug, Clone)]
pub struct VerifiedKeyBundle(Signed<KeyBundle>);

impl VerifiedKeyBundle {
    /// The two public keys.
    #[must_use]
    pub fn identity(&self) -> &PublicIdentity {
        self.0.record().identity()
    }

    /// The fingerprint people compare out of band (spec:
    /// `spec/identity.md` §Fingerprint).
    #[must_use]
    pub fn fingerprint(&self) -> Fingerprint {
        self.identity().fingerprint()
    }

    /// The decoded bundle.
    #[must_use]
    pub fn bundle(&self) -> &KeyBundle {
        self.0.record()
    }

    /// The signed record.
    #[must_use]
    pub fn signed(&self) -> &Signed<KeyBundle> {
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

/// Parses a signed key bundle and checks that it is signed by the signing
/// key it publishes (spec: `spec/identity.md` §Key bundle).
pub fn verify_key_bundle(bytes: &[u8]) -> Result<VerifiedKeyBundle, KeyBundleError> {
    let signed = wire::parse_signed::<KeyBundle>(bytes)?;
    if *signed.signer() != signed.record().identity().signing {
        return Err(KeyBundleError::SignerMismatch);
    }
    Ok(VerifiedKeyBundle(signed))
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

    fn identity(seed: u8) -> Identity {
        Identity::generate(&mut ChaCha20Rng::from_seed([seed; 32]))
    }

    #[test]
    fn create_then_verify_round_trips() {
        let id = identity(1);
        let bundle = KeyBundle::create(&id, "Ada Lovelace", 1_700_000_000);
        let bytes = bundle.map(|b| b.as_bytes().to_vec()).unwrap_or_default();
        let parsed = verify_key_bundle(&bytes);
        let parsed = parsed.map(|b| (b.bundle().clone(), b.fingerprint()));
        let want = KeyBundle::new(id.public(), "Ada Lovelace", 1_700_000_000);
        assert_eq!(parsed, want.map(|w| (w, id.public().fingerprint())));
    }

    #[test]
    fn display_names_are_checked() {
        let id = identity(1).public();
        let long = "x".repeat(MAX_DISPLAY_NAME_LEN + 1);
        let max = "é".repeat(MAX_DISPLAY_NAME_LEN / 2);
        for bad in [
            "",
            " Ada",
            "Ada\n",
            "Ada\u{7}",
            "Ada\u{202e}ecalevoL",
            "a\u{2066}b",
            long.as_str(),
        ] {
            assert_eq!(
                KeyBundle::new(id, bad, 0).map(|_| ()),
                Err(KeyBundleError::InvalidDisplayName),
                "{bad:?}"
            );
        }
        for good in ["Ada", "Maître Dupont-Gaëlle", "王小明", max.as_str()] {
            assert!(KeyBundle::new(id, good, 0).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn a_bundle_signed_by_another_key_is_rejected() {
        let id = identity(1);
        let other = SigningSecretKey::generate(&mut ChaCha20Rng::from_seed([9; 32]));
        let bundle = KeyBundle::new(id.public(), "Ada", 1);
        let signed = bundle.map(|b| Signed::sign(b, &other).into_bytes());
        assert_eq!(
            signed.and_then(|b| verify_key_bundle(&b).map(|_| ())),
            Err(KeyBundleError::SignerMismatch)
        );
    }

    #[test]
    fn a_bundle_does_not_verify_as_another_record() {
        let id = identity(1);
        let bytes = KeyBundle::create(&id, "Ada", 1)
            .map(|b| b.as_bytes().to_vec())
            .unwrap_or_default();
        assert_eq!(
            crate::matter::verify_matter(&bytes).map(|_| ()),
            Err(crate::matter::MatterError::Record(
                SignedRecordError::BadSignature
            ))
        );
    }
}
