//! The `X25519` recipient stanza (spec: `spec/age.md` §X25519 stanza).
//!
//! The file key is wrapped to an [`EncryptionPublicKey`] under a key derived
//! from an ephemeral X25519 exchange:
//!
//! ```text
//! -> X25519 base64(ephemeral share)
//! base64(ChaCha20-Poly1305(wrap key, nonce = 0¹², file key))
//! wrap key = HKDF-SHA-256(ikm = shared secret,
//!                         salt = ephemeral share || recipient,
//!                         info = "age-encryption.org/v1/X25519")
//! ```

use chacha20poly1305::aead::{AeadInOut as _, KeyInit as _};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};
use hkdf::Hkdf;
use rand_core::CryptoRng;
use sha2::Sha256;
use zeroize::{Zeroize as _, Zeroizing};

use super::header::HeaderError;
use super::labels::X25519_INFO;
use super::stanza::{self, Stanza};
use crate::keys::{EncryptionPublicKey, EncryptionSecretKey};
use crate::secret::{FILE_KEY_LEN, FileKey};

/// The tag of an X25519 stanza (case-sensitive).
pub const X25519_TAG: &str = "X25519";
/// Length of a wrapped file key: the 16-byte key and a 16-byte tag.
pub(crate) const WRAPPED_KEY_LEN: usize = FILE_KEY_LEN + 16;

/// Wraps `file_key` to `recipient` with a fresh ephemeral key from `rng`,
/// returning the stanza (spec: `spec/age.md` §X25519 stanza).
///
/// This is how the vault grants a party access to a document version: the
/// stanza is stored beside the payload, and the party's grant binds its
/// [`Stanza::digest`].
pub fn wrap_file_key<R: CryptoRng + ?Sized>(
    file_key: &FileKey,
    recipient: &EncryptionPublicKey,
    rng: &mut R,
) -> Stanza {
    let ephemeral = x25519_dalek::EphemeralSecret::random_from_rng(rng);
    let share = x25519_dalek::PublicKey::from(&ephemeral);
    // `EncryptionPublicKey` excludes low-order points, so the exchange is
    // contributory.
    let shared = ephemeral.diffie_hellman(recipient.as_dalek());
    let wrap_key = derive_wrap_key(shared.as_bytes(), share.as_bytes(), recipient.as_bytes());
    let body = seal_file_key(&wrap_key, file_key);
    Stanza::from_parts_unchecked(
        X25519_TAG,
        vec![stanza::encode_base64(share.as_bytes())],
        body.to_vec(),
    )
}

/// Tries to unwrap the file key from `stanza` with `identity`.
///
/// Returns `Ok(None)` when the stanza is not an X25519 stanza or was not
/// made for this identity (its body does not authenticate), and an error
/// when it is an X25519 stanza that breaks the rules of the spec — checked
/// before any decryption is attempted.
pub fn unwrap_file_key(
    stanza: &Stanza,
    identity: &EncryptionSecretKey,
) -> Result<Option<FileKey>, HeaderError> {
    X25519Identity::new(identity).unwrap_stanza(stanza)
}

/// An identity with its public key computed once, for trying many stanzas.
pub(crate) struct X25519Identity<'a> {
    secret: &'a EncryptionSecretKey,
    public: EncryptionPublicKey,
}

impl<'a> X25519Identity<'a> {
    pub(crate) fn new(secret: &'a EncryptionSecretKey) -> Self {
        Self {
            secret,
            public: secret.public_key(),
        }
    }

    pub(crate) fn unwrap_stanza(&self, stanza: &Stanza) -> Result<Option<FileKey>, HeaderError> {
        if stanza.tag() != X25519_TAG {
            return Ok(None);
        }
        let [share] = stanza.args() else {
            return Err(HeaderError::InvalidX25519Stanza);
        };
        let share: [u8; 32] =
            stanza::decode_base64_array(share).ok_or(HeaderError::InvalidX25519Stanza)?;
        // Checked before decrypting, against partitioning-oracle attacks.
        let body: &[u8; WRAPPED_KEY_LEN] = stanza
            .body()
            .try_into()
            .map_err(|_| HeaderError::InvalidX25519Stanza)?;
        // Rejecting low-order shares is exactly rejecting an all-zero
        // shared secret; the check on the result is a second line.
        let share_key =
            EncryptionPublicKey::from_bytes(&share).map_err(|_| HeaderError::ZeroSharedSecret)?;
        let shared = self.secret.diffie_hellman(&share_key);
        if !shared.was_contributory() {
            return Err(HeaderError::ZeroSharedSecret);
        }
        let wrap_key = derive_wrap_key(shared.as_bytes(), &share, self.public.as_bytes());
        Ok(open_file_key(&wrap_key, body))
    }
}

fn derive_wrap_key(
    shared: &[u8; 32],
    share: &[u8; 32],
    recipient: &[u8; 32],
) -> Zeroizing<[u8; 32]> {
    let mut salt = [0u8; 64];
    let (first, second) = salt.split_at_mut(32);
    first.copy_from_slice(share);
    second.copy_from_slice(recipient);
    let mut key = Zeroizing::new([0u8; 32]);
    // 32 bytes is far below HKDF-SHA-256's output limit.
    let _ = Hkdf::<Sha256>::new(Some(&salt), shared).expand(X25519_INFO, key.as_mut_slice());
    key
}

/// ChaCha20-Poly1305 with a zero nonce: safe because every wrap key is used
/// once. Shared with the scrypt stanza.
pub(crate) fn seal_file_key(wrap_key: &[u8; 32], file_key: &FileKey) -> [u8; WRAPPED_KEY_LEN] {
    let aead = ChaCha20Poly1305::new(&Key::from(*wrap_key));
    let mut key = Zeroizing::new(*file_key.expose_secret());
    let mut body = [0u8; WRAPPED_KEY_LEN];
    // A 16-byte message is far below ChaCha20-Poly1305's length limit.
    if let Ok(tag) = aead.encrypt_inout_detached(&Nonce::default(), &[], key.as_mut_slice().into())
    {
        let (ciphertext, tag_out) = body.split_at_mut(FILE_KEY_LEN);
        ciphertext.copy_from_slice(key.as_slice());
        tag_out.copy_from_slice(&tag);
    }
    body
}

/// Opens a wrapped file key; `None` when it does not authenticate.
pub(crate) fn open_file_key(wrap_key: &[u8; 32], body: &[u8; WRAPPED_KEY_LEN]) -> Option<FileKey> {
    let aead = ChaCha20Poly1305::new(&Key::from(*wrap_key));
    let (ciphertext, tag) = body.split_at(FILE_KEY_LEN);
    let mut key = [0u8; FILE_KEY_LEN];
    key.copy_from_slice(ciphertext);
    let tag = Tag::try_from(tag).ok()?;
    if aead
        .decrypt_inout_detached(&Nonce::default(), &[], key.as_mut_slice().into(), &tag)
        .is_err()
    {
        key.zeroize();
        return None;
    }
    Some(FileKey::from_array(&mut key))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng as _;

    use super::*;

    fn rng() -> ChaCha20Rng {
        ChaCha20Rng::from_seed([42; 32])
    }

    #[test]
    fn wrap_unwrap_round_trip() {
        let mut rng = rng();
        let identity = EncryptionSecretKey::generate(&mut rng);
        let other = EncryptionSecretKey::generate(&mut rng);
        let file_key = FileKey::generate(&mut rng);
        let stanza = wrap_file_key(&file_key, &identity.public_key(), &mut rng);
        assert_eq!(stanza.tag(), "X25519");
        assert_eq!(stanza.args().len(), 1);
        assert_eq!(stanza.body().len(), 32);
        let unwrapped = unwrap_file_key(&stanza, &identity).unwrap().unwrap();
        assert_eq!(unwrapped.expose_secret(), file_key.expose_secret());
        assert!(unwrap_file_key(&stanza, &other).unwrap().is_none());
        // Fresh ephemeral key per stanza.
        let again = wrap_file_key(&file_key, &identity.public_key(), &mut rng);
        assert_ne!(again, stanza);
    }

    #[test]
    fn rejects_malformed_stanzas_before_decrypting() {
        let mut rng = rng();
        let identity = EncryptionSecretKey::generate(&mut rng);
        let file_key = FileKey::generate(&mut rng);
        let good = wrap_file_key(&file_key, &identity.public_key(), &mut rng);
        let share = good.args()[0].clone();
        let with = |args: Vec<String>, body: Vec<u8>| Stanza::new("X25519", args, body).unwrap();
        let cases = [
            with(vec![], good.body().to_vec()),
            with(vec![share.clone(), "x".into()], good.body().to_vec()),
            with(vec![format!("{share}A")], good.body().to_vec()),
            with(vec![share[..42].to_owned()], good.body().to_vec()),
            with(vec![share.clone()], good.body()[..31].to_vec()),
            with(vec![share.clone()], [good.body(), &[0]].concat()),
        ];
        for case in cases {
            assert_eq!(
                unwrap_file_key(&case, &identity).map(|k| k.is_some()),
                Err(HeaderError::InvalidX25519Stanza),
                "{case:?}"
            );
        }
        let zero = stanza::encode_base64(&[0u8; 32]);
        let low_order = with(vec![zero], good.body().to_vec());
        assert_eq!(
            unwrap_file_key(&low_order, &identity).map(|k| k.is_some()),
            Err(HeaderError::ZeroSharedSecret)
        );
        // Other tags, including a different case, are not ours.
        let lower = Stanza::new("x25519", vec![share], good.body().to_vec()).unwrap();
        assert!(unwrap_file_key(&lower, &identity).unwrap().is_none());
    }
}
