//! Share-link secrets and the keys derived from them (spec:
//! `spec/links.md`).
//!
//! A share link carries 32 random bytes in its URL fragment — the part after
//! `#`, which browsers never send to a server. Both of the link's keys
//! derive from those bytes: an X25519 key that the document's file key is
//! wrapped to (an ordinary age stanza), and an Ed25519 key that signs each
//! request to open the link, so every open lands in the access log.
//!
//! A link may also require a passphrase, told to the recipient another way.
//! The passphrase is stretched with Argon2id, salted from the link secret,
//! and mixed into the key derivation: the URL alone opens nothing, and the
//! passphrase cannot be guessed offline without the URL.
//!
//! ```
//! use lexvault_core::link::LinkSecret;
//! # use rand_core::SeedableRng as _;
//! # let mut rng = rand_chacha::ChaCha20Rng::from_seed([1; 32]);
//!
//! let secret = LinkSecret::generate(&mut rng);
//! let fragment = secret.to_fragment(); // goes after the '#' in the URL
//! let keys = secret.derive_keys();
//!
//! // The recipient's browser:
//! let again = LinkSecret::from_fragment(fragment.expose_secret())?;
//! assert_eq!(again.derive_keys().public(), keys.public());
//! # Ok::<(), lexvault_core::link::LinkError>(())
//! ```

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use rand_core::CryptoRng;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::backup::{self, Argon2Params, SALT_LEN, StretchError};
use crate::domain;
use crate::keys::{EncryptionSecretKey, Identity, PublicIdentity, SigningSecretKey};
use crate::secret::{SecretBytes, SecretString, constant_time_eq};

/// Length of a link secret.
pub const LINK_SECRET_LEN: usize = 32;

/// The fragment's version prefix, including the separating dot.
pub const FRAGMENT_PREFIX: &str = "v1.";

/// Length of the base64url encoding of a link secret: ⌈32·8 / 6⌉ = 43.
const ENCODED_LEN: usize = 43;

/// The Argon2id parameters for link passphrases: m = 64 MiB, t = 3, p = 1.
///
/// Fixed by format version 1, not chosen per link, because the opening
/// browser has nowhere trustworthy to read them from (spec: `spec/links.md`
/// §Passphrase).
pub const LINK_PASSPHRASE_PARAMS: Argon2Params = Argon2Params::new_unchecked(64 * 1024, 3, 1);

/// Why a link fragment or passphrase was rejected. Never carries the
/// fragment, the secret or the passphrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// The fragment does not follow the grammar of `spec/links.md`
    /// §Fragment.
    #[error("share link is malformed")]
    MalformedFragment,
    /// The fragment is well formed but of a version this implementation
    /// does not read (`v2.…`).
    #[error("share link has an unsupported version")]
    UnsupportedVersion,
    /// An empty passphrase; a link either has a passphrase or has none.
    #[error("passphrase is empty")]
    EmptyPassphrase,
    /// The passphrase is longer than Argon2 accepts (2^32 − 1 bytes).
    #[error("passphrase is too long")]
    PassphraseTooLong,
    /// The Argon2id working memory could not be allocated.
    #[error("not enough memory for the passphrase key derivation")]
    OutOfMemory,
}

impl From<StretchError> for LinkError {
    fn from(e: StretchError) -> Self {
        match e {
            StretchError::OutOfMemory => Self::OutOfMemory,
            StretchError::PasswordTooLong => Self::PassphraseTooLong,
        }
    }
}

/// The 32-byte secret of a share link (spec: `spec/links.md` §Link secret).
///
/// Opaque: no `Clone`, a redacting `Debug`, zeroised on drop. It leaves
/// this type only as a fragment string ([`Self::to_fragment`]) and as
/// derived keys.
pub struct LinkSecret(SecretBytes<LINK_SECRET_LEN>);

impl LinkSecret {
    /// Generates a new link secret.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self(SecretBytes::generate(rng))
    }

    /// Parses a URL fragment, without the leading `#` (spec:
    /// `spec/links.md` §Fragment).
    ///
    /// Strict: exactly `v1.` followed by 43 base64url characters without
    /// padding whose last character leaves no stray bits. No whitespace, no
    /// `#`, no percent-encoding.
    ///
    /// # Errors
    ///
    /// [`LinkError::UnsupportedVersion`] for `v<digits>.…` with digits other
    /// than `1`; [`LinkError::MalformedFragment`] for anything else that
    /// does not match the grammar.
    pub fn from_fragment(fragment: &str) -> Result<Self, LinkError> {
        let Some((version, encoded)) = fragment.split_once('.') else {
            return Err(LinkError::MalformedFragment);
        };
        if version != "v1" {
            let is_version = version
                .strip_prefix('v')
                .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
            return Err(if is_version {
                LinkError::UnsupportedVersion
            } else {
                LinkError::MalformedFragment
            });
        }
        if encoded.len() != ENCODED_LEN {
            return Err(LinkError::MalformedFragment);
        }
        // The decoder's conservative size estimate for 43 characters is 33.
        let mut decoded = Zeroizing::new([0u8; LINK_SECRET_LEN + 1]);
        let written = URL_SAFE_NO_PAD
            .decode_slice(encoded, decoded.as_mut_slice())
            .map_err(|_| LinkError::MalformedFragment)?;
        let (secret, _) = decoded
            .split_first_chunk::<LINK_SECRET_LEN>()
            .ok_or(LinkError::MalformedFragment)?;
        if written != LINK_SECRET_LEN {
            return Err(LinkError::MalformedFragment);
        }
        let secret = Self(SecretBytes::try_from_slice(secret).ok_or(LinkError::MalformedFragment)?);
        // The decoder already rejects stray trailing bits; requiring the
        // canonical re-encoding states the rule once, independently of it.
        let canonical = secret.encode();
        if !constant_time_eq(canonical.as_slice(), encoded.as_bytes()) {
            return Err(LinkError::MalformedFragment);
        }
        Ok(secret)
    }

    /// The URL fragment `v1.<base64url>`, to put after `#`.
    #[must_use]
    pub fn to_fragment(&self) -> SecretString {
        let encoded = self.encode();
        let mut fragment = String::with_capacity(FRAGMENT_PREFIX.len() + ENCODED_LEN);
        fragment.push_str(FRAGMENT_PREFIX);
        // base64url output is ASCII.
        fragment.extend(encoded.iter().map(|&b| char::from(b)));
        SecretString::new(fragment)
    }

    /// Base64url without padding, into a buffer that is zeroised on drop.
    fn encode(&self) -> Zeroizing<[u8; ENCODED_LEN]> {
        let mut out = Zeroizing::new([0u8; ENCODED_LEN]);
        let written = URL_SAFE_NO_PAD.encode_slice(self.0.expose_secret(), out.as_mut_slice());
        // The buffer is exactly the encoded length.
        debug_assert_eq!(written, Ok(ENCODED_LEN));
        out
    }

    /// The keys of a link without a passphrase (spec: `spec/links.md` §Key
    /// derivation).
    #[must_use]
    pub fn derive_keys(&self) -> LinkKeys {
        LinkKeys::from_ikm(self.0.expose_secret())
    }

    /// The keys of a link that requires `passphrase` (spec:
    /// `spec/links.md` §Passphrase).
    ///
    /// Runs Argon2id with [`LINK_PASSPHRASE_PARAMS`]. The passphrase is used
    /// as its UTF-8 bytes; callers normalise it (NFC) first.
    ///
    /// # Errors
    ///
    /// [`LinkError::EmptyPassphrase`], [`LinkError::PassphraseTooLong`], or
    /// [`LinkError::OutOfMemory`] if Argon2id's 64 MiB cannot be allocated.
    pub fn derive_keys_with_passphrase(
        &self,
        passphrase: &SecretString,
    ) -> Result<LinkKeys, LinkError> {
        if passphrase.expose_secret().is_empty() {
            return Err(LinkError::EmptyPassphrase);
        }
        let mut salt = Zeroizing::new([0u8; SALT_LEN]);
        hkdf_expand(
            self.0.expose_secret(),
            domain::LINK_PASSPHRASE_SALT,
            salt.as_mut_slice(),
        );
        let stretched = backup::stretch_password(
            passphrase.expose_secret().as_bytes(),
            &salt,
            LINK_PASSPHRASE_PARAMS,
        )?;
        let mut ikm = Zeroizing::new([0u8; 2 * LINK_SECRET_LEN]);
        let (secret_part, stretched_part) = ikm.split_at_mut(LINK_SECRET_LEN);
        secret_part.copy_from_slice(self.0.expose_secret());
        stretched_part.copy_from_slice(stretched.expose_secret());
        Ok(LinkKeys::from_ikm(ikm.as_slice()))
    }
}

impl fmt::Debug for LinkSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkSecret([REDACTED])")
    }
}

/// HKDF-SHA-256 with salt `lexvault/v1/link`.
fn hkdf_expand(ikm: &[u8], info: &[u8], out: &mut [u8]) {
    let hkdf = Hkdf::<Sha256>::new(Some(domain::LINK_HKDF_SALT), ikm);
    let expanded = hkdf.expand(info, out);
    // HKDF-Expand fails only for outputs longer than 255 hash lengths.
    debug_assert!(expanded.is_ok());
}

/// A share link's two keys (spec: `spec/links.md` §Key derivation).
///
/// The X25519 key is an ordinary age identity: the file key is wrapped to
/// [`PublicIdentity::encryption`] as a standard X25519 stanza. The Ed25519
/// key signs requests to open the link.
#[derive(Debug)]
pub struct LinkKeys(Identity);

impl LinkKeys {
    fn from_ikm(ikm: &[u8]) -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        hkdf_expand(ikm, domain::LINK_SIGNING_KEY, seed.as_mut_slice());
        let mut secret = Zeroizing::new([0u8; 32]);
        hkdf_expand(ikm, domain::LINK_ENCRYPTION_KEY, secret.as_mut_slice());
        Self(Identity::from_keys(
            SigningSecretKey::from_seed(&SecretBytes::from_array(&mut seed)),
            EncryptionSecretKey::from_secret_bytes(&SecretBytes::from_array(&mut secret)),
        ))
    }

    /// The key that signs requests to open the link.
    #[must_use]
    pub fn signing_key(&self) -> &SigningSecretKey {
        self.0.signing_key()
    }

    /// The key that unwraps the link's age stanza.
    #[must_use]
    pub fn encryption_key(&self) -> &EncryptionSecretKey {
        self.0.encryption_key()
    }

    /// Both keys, as the identity that opens the link's stanza and signs
    /// its requests.
    #[must_use]
    pub fn identity(&self) -> &Identity {
        &self.0
    }

    /// The public halves, registered with the server when the link is made.
    #[must_use]
    pub fn public(&self) -> PublicIdentity {
        self.0.public()
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
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn secret(byte: u8) -> LinkSecret {
        LinkSecret(SecretBytes::from_array(&mut [byte; LINK_SECRET_LEN]))
    }

    #[test]
    fn passphrase_params_are_within_limits() {
        assert_eq!(
            Argon2Params::new(64 * 1024, 3, 1),
            Ok(LINK_PASSPHRASE_PARAMS)
        );
    }

    #[test]
    fn fragment_round_trips() {
        let mut rng = ChaCha20Rng::from_seed([3; 32]);
        for _ in 0..64 {
            let s = LinkSecret::generate(&mut rng);
            let fragment = s.to_fragment();
            assert_eq!(fragment.expose_secret().len(), 46);
            assert!(fragment.expose_secret().starts_with("v1."));
            let back = LinkSecret::from_fragment(fragment.expose_secret()).unwrap();
            assert_eq!(back.0.expose_secret(), s.0.expose_secret());
        }
    }

    #[test]
    fn known_fragment() {
        assert_eq!(
            secret(0).to_fragment().expose_secret(),
            "v1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        );
        assert_eq!(
            secret(0xff).to_fragment().expose_secret(),
            "v1.__________________________________________8"
        );
    }

    #[test]
    fn bad_fragments_are_rejected() {
        let good = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let malformed = [
            String::new(),
            "v1".into(),
            "v1.".into(),
            format!("v1{good}"),
            format!("V1.{good}"),
            format!("#v1.{good}"),
            format!(" v1.{good}"),
            format!("v1.{good}\n"),
            format!("v1.{good}="),
            format!("v1.{}", &good[1..]),
            format!("v1.{good}A"),
            // Stray low bits in the last character.
            format!("v1.{}B", &good[1..]),
            format!("v1.{}+", &good[1..]),
            format!("v1.{}/", &good[1..]),
            format!("v.{good}"),
            format!("v1x.{good}"),
            format!("1.{good}"),
        ];
        for f in &malformed {
            assert_eq!(
                LinkSecret::from_fragment(f).err(),
                Some(LinkError::MalformedFragment),
                "{f:?}"
            );
        }
        for f in [format!("v2.{good}"), format!("v0.{good}"), "v10.x".into()] {
            assert_eq!(
                LinkSecret::from_fragment(&f).err(),
                Some(LinkError::UnsupportedVersion),
                "{f:?}"
            );
        }
    }

    #[test]
    fn secret_is_never_shown() {
        let s = secret(0x41);
        let shown = format!("{s:?}");
        assert_eq!(shown, "LinkSecret([REDACTED])");
        let fragment = s.to_fragment();
        assert!(!format!("{fragment:?}").contains("QUFB"));
        let keys = s.derive_keys();
        let shown = format!("{keys:?}");
        assert!(shown.contains("REDACTED") && !shown.contains("QUFB"));
        let err = LinkSecret::from_fragment("v1.QUFBQUFB").err().unwrap();
        assert!(!err.to_string().contains("QUFB"));
    }

    #[test]
    fn keys_depend_on_secret_and_passphrase() {
        let a = secret(1);
        let plain = a.derive_keys().public();
        assert_eq!(plain, a.derive_keys().public(), "deterministic");
        assert_ne!(plain, secret(2).derive_keys().public());
        assert_ne!(plain.signing.as_bytes(), plain.encryption.as_bytes());

        // One Argon2 run each.
        let pw = SecretString::new("tulip".into());
        let with = a.derive_keys_with_passphrase(&pw).unwrap().public();
        assert_ne!(with, plain);
        let other = a
            .derive_keys_with_passphrase(&SecretString::new("tulips".into()))
            .unwrap()
            .public();
        assert_ne!(with, other);

        assert_eq!(
            a.derive_keys_with_passphrase(&SecretString::new(String::new()))
                .err(),
            Some(LinkError::EmptyPassphrase)
        );
    }
}
