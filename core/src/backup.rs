//! Secret keys sealed under a password (spec: `spec/backup.md`).
//!
//! A person's two secret keys — the Ed25519 seed and the X25519 secret, 64
//! bytes — are encrypted with XChaCha20-Poly1305 under a key stretched from
//! their password with Argon2id. The server stores the sealed blob and
//! nothing else derived from the password (login goes through OPAQUE; see
//! `spec/backup.md` §Login).
//!
//! The Argon2id parameters travel in the blob, because they must be allowed
//! to grow over time; the associated data binds them to the ciphertext, and
//! [`SealedBackup::from_bytes`] refuses parameters outside
//! [`Argon2Params`]'s range *before* any key derivation runs, so a hostile
//! server can neither downgrade the stretching nor make a phone allocate
//! gigabytes.
//!
//! ```
//! use lexvault_core::backup::{Argon2Params, SealedBackup};
//! use lexvault_core::keys::Identity;
//! use lexvault_core::secret::SecretString;
//! # use rand_core::SeedableRng as _;
//! # let mut rng = rand_chacha::ChaCha20Rng::from_seed([1; 32]);
//!
//! let identity = Identity::generate(&mut rng);
//! let password = SecretString::new("correct horse battery staple".into());
//! // Real clients use `Argon2Params::default()`; the minimum keeps this fast.
//! let sealed = SealedBackup::seal(&identity, &password, Argon2Params::MINIMUM, &mut rng)?;
//!
//! // The server stores `bytes`; later, on a new device:
//! let bytes = sealed.to_bytes();
//! let opened = SealedBackup::from_bytes(&bytes)?.open(&password)?;
//! assert_eq!(opened.public(), identity.public());
//! # Ok::<(), lexvault_core::backup::BackupError>(())
//! ```

use chacha20poly1305::aead::{AeadInOut as _, KeyInit as _};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use minicbor::bytes::ByteArray;
use minicbor::{Decode, Encode};
use rand_core::CryptoRng;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::codec::{self, MAX_RECORD_LEN};
use crate::domain;
use crate::keys::{EncryptionSecretKey, Identity, SigningSecretKey};
use crate::secret::{SecretBytes, SecretString};

/// The only format version this implementation reads and writes.
pub const BACKUP_VERSION: u32 = 1;
/// Length of the random Argon2id salt.
pub const SALT_LEN: usize = 16;
/// Length of the random XChaCha20-Poly1305 nonce.
pub const NONCE_LEN: usize = 24;
/// Length of the sealed keys: 64 bytes of key material and a 16-byte tag.
pub const CIPHERTEXT_LEN: usize = KEYS_LEN + TAG_LEN;

const KEYS_LEN: usize = 64;
const TAG_LEN: usize = 16;
/// Argon2id output length; the output is only ever HKDF input keying material.
const STRETCHED_LEN: usize = 32;

/// Why a key backup could not be sealed, parsed or opened.
///
/// Nothing here carries a password, a key or a byte of the blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// The blob is not a canonical backup record (spec: `spec/backup.md`
    /// §Record).
    #[error("key backup is malformed")]
    Malformed,
    /// The record's version is not one this implementation reads.
    #[error("key backup has an unsupported version")]
    UnsupportedVersion,
    /// An Argon2id parameter is below the minimum (spec: `spec/backup.md`
    /// §Parameter limits). A server serving such a blob is attempting a
    /// downgrade, or the blob predates the current minimum.
    #[error("key backup's argon2id parameters are below the minimum")]
    WeakParameters,
    /// An Argon2id parameter is above the maximum this client will run.
    #[error("key backup's argon2id parameters exceed the maximum")]
    ExcessiveParameters,
    /// The Argon2id working memory could not be allocated.
    #[error("not enough memory for the password key derivation")]
    OutOfMemory,
    /// The password is longer than Argon2 accepts (2^32 − 1 bytes).
    #[error("password is too long")]
    PasswordTooLong,
    /// Wrong password, or the blob was altered. Deliberately detail-free.
    #[error("decryption failed")]
    DecryptionFailed,
}

// ---------------------------------------------------------------------------
// Argon2id parameters

/// Argon2id cost parameters, always within the limits of `spec/backup.md`
/// §Parameter limits.
///
/// A value of this type can only be built inside those limits, so every
/// Argon2id run in this crate has acceptable parameters by construction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Argon2Params {
    m_cost_kib: u32,
    t_cost: u32,
    p_cost: u32,
}

impl Argon2Params {
    /// Smallest accepted memory cost: 19 MiB, OWASP's minimum for Argon2id.
    pub const MIN_M_COST_KIB: u32 = 19 * 1024;
    /// Largest accepted memory cost: 256 MiB, which a phone's browser can
    /// still allocate.
    pub const MAX_M_COST_KIB: u32 = 256 * 1024;
    /// Smallest accepted number of passes.
    pub const MIN_T_COST: u32 = 2;
    /// Largest accepted number of passes.
    pub const MAX_T_COST: u32 = 8;
    /// Smallest accepted parallelism.
    pub const MIN_P_COST: u32 = 1;
    /// Largest accepted parallelism.
    pub const MAX_P_COST: u32 = 4;

    /// The weakest parameters a client accepts: m = 19 MiB, t = 2, p = 1.
    pub const MINIMUM: Self = Self::new_unchecked(Self::MIN_M_COST_KIB, Self::MIN_T_COST, 1);

    /// The parameters new backups are sealed with: m = 64 MiB, t = 3, p = 1
    /// (spec: `spec/backup.md` §Default parameters).
    pub const DEFAULT: Self = Self::new_unchecked(64 * 1024, 3, 1);

    /// Checks parameters against the limits.
    ///
    /// A parameter below its minimum gives [`BackupError::WeakParameters`];
    /// otherwise one above its maximum gives
    /// [`BackupError::ExcessiveParameters`].
    pub const fn new(m_cost_kib: u32, t_cost: u32, p_cost: u32) -> Result<Self, BackupError> {
        if m_cost_kib < Self::MIN_M_COST_KIB
            || t_cost < Self::MIN_T_COST
            || p_cost < Self::MIN_P_COST
        {
            return Err(BackupError::WeakParameters);
        }
        if m_cost_kib > Self::MAX_M_COST_KIB
            || t_cost > Self::MAX_T_COST
            || p_cost > Self::MAX_P_COST
        {
            return Err(BackupError::ExcessiveParameters);
        }
        Ok(Self::new_unchecked(m_cost_kib, t_cost, p_cost))
    }

    /// For constants only; a unit test checks each constant against
    /// [`Self::new`].
    pub(crate) const fn new_unchecked(m_cost_kib: u32, t_cost: u32, p_cost: u32) -> Self {
        Self {
            m_cost_kib,
            t_cost,
            p_cost,
        }
    }

    /// Memory cost in KiB.
    #[must_use]
    pub const fn m_cost_kib(&self) -> u32 {
        self.m_cost_kib
    }

    /// Number of passes over memory.
    #[must_use]
    pub const fn t_cost(&self) -> u32 {
        self.t_cost
    }

    /// Degree of parallelism (lanes).
    #[must_use]
    pub const fn p_cost(&self) -> u32 {
        self.p_cost
    }
}

// argon2 requires m ≥ 8·p; the limits satisfy it at every corner.
const _: () = assert!(Argon2Params::MIN_M_COST_KIB >= 8 * Argon2Params::MAX_P_COST);

impl Default for Argon2Params {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Why a password could not be stretched.
pub(crate) enum StretchError {
    OutOfMemory,
    PasswordTooLong,
}

/// Argon2id (version 0x13) of `password` into 32 bytes.
///
/// The working memory is allocated fallibly (a browser tab may not get 64
/// MiB) and zeroised before it is freed: it holds values derived from the
/// password.
pub(crate) fn stretch_password(
    password: &[u8],
    salt: &[u8; SALT_LEN],
    params: Argon2Params,
) -> Result<SecretBytes<STRETCHED_LEN>, StretchError> {
    let argon_params = argon2::Params::new(
        params.m_cost_kib,
        params.t_cost,
        params.p_cost,
        Some(STRETCHED_LEN),
    )
    // Unreachable: `Argon2Params` is always within argon2's own limits.
    .map_err(|_| StretchError::OutOfMemory)?;
    let blocks = argon_params.block_count();
    let argon = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon_params,
    );

    let mut memory: Zeroizing<Vec<argon2::Block>> = Zeroizing::new(Vec::new());
    memory
        .try_reserve_exact(blocks)
        .map_err(|_| StretchError::OutOfMemory)?;
    memory.resize(blocks, argon2::Block::default());

    let mut out = Zeroizing::new([0u8; STRETCHED_LEN]);
    argon
        .hash_password_into_with_memory(password, salt, out.as_mut_slice(), memory.as_mut_slice())
        .map_err(|e| match e {
            argon2::Error::PwdTooLong => StretchError::PasswordTooLong,
            _ => StretchError::OutOfMemory,
        })?;
    Ok(SecretBytes::from_array(&mut out))
}

impl From<StretchError> for BackupError {
    fn from(e: StretchError) -> Self {
        match e {
            StretchError::OutOfMemory => Self::OutOfMemory,
            StretchError::PasswordTooLong => Self::PasswordTooLong,
        }
    }
}

// ---------------------------------------------------------------------------
// Record

/// The authenticated header: everything but the nonce and ciphertext. Its
/// canonical encoding is the AEAD's associated data (spec: `spec/backup.md`
/// §Associated data).
#[derive(Encode, Decode)]
#[cbor(map)]
struct Header {
    #[n(0)]
    version: u32,
    #[n(1)]
    m_cost_kib: u32,
    #[n(2)]
    t_cost: u32,
    #[n(3)]
    p_cost: u32,
    #[n(4)]
    salt: ByteArray<SALT_LEN>,
}

/// The stored record (spec: `spec/backup.md` §Record).
#[derive(Encode, Decode)]
#[cbor(map)]
struct Wire {
    #[n(0)]
    version: u32,
    #[n(1)]
    m_cost_kib: u32,
    #[n(2)]
    t_cost: u32,
    #[n(3)]
    p_cost: u32,
    #[n(4)]
    salt: ByteArray<SALT_LEN>,
    #[n(5)]
    nonce: ByteArray<NONCE_LEN>,
    #[n(6)]
    ciphertext: ByteArray<CIPHERTEXT_LEN>,
}

/// Just the version key, read leniently so that a record of another version
/// is reported as such rather than as malformed.
#[derive(Decode)]
#[cbor(map)]
struct VersionOnly {
    #[n(0)]
    version: u64,
}

/// A person's secret keys sealed under their password (spec:
/// `spec/backup.md`).
///
/// Holding a `SealedBackup` means its parameters are within limits and its
/// fields have the right lengths; whether the password is right is only
/// known after [`Self::open`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedBackup {
    params: Argon2Params,
    salt: [u8; SALT_LEN],
    nonce: [u8; NONCE_LEN],
    ciphertext: [u8; CIPHERTEXT_LEN],
}

impl SealedBackup {
    /// Seals `identity`'s secret keys under `password` (spec:
    /// `spec/backup.md` §Sealing).
    ///
    /// Draws the 16-byte salt and then the 24-byte nonce from `rng`. Clients
    /// pass [`Argon2Params::default()`]. The password is used as its UTF-8
    /// bytes, unnormalised: callers normalise it (NFC) first, as the spec
    /// requires.
    ///
    /// # Errors
    ///
    /// [`BackupError::OutOfMemory`] if Argon2id's memory cannot be
    /// allocated; [`BackupError::PasswordTooLong`] beyond 4 GiB.
    pub fn seal<R: CryptoRng + ?Sized>(
        identity: &Identity,
        password: &SecretString,
        params: Argon2Params,
        rng: &mut R,
    ) -> Result<Self, BackupError> {
        let mut salt = [0u8; SALT_LEN];
        rng.fill_bytes(&mut salt);
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);

        let mut keys = Zeroizing::new([0u8; KEYS_LEN]);
        {
            let (seed_out, secret_out) = keys.split_at_mut(32);
            seed_out.copy_from_slice(identity.signing_key().to_seed().expose_secret());
            secret_out.copy_from_slice(identity.encryption_key().to_secret_bytes().expose_secret());
        }

        let cipher = seal_cipher(password, params, &salt)?;
        let aad = associated_data(params, &salt);
        let tag = cipher
            .encrypt_inout_detached(&XNonce::from(nonce), &aad, keys.as_mut_slice().into())
            // Unreachable: XChaCha20-Poly1305 fails only beyond 256 GiB.
            .map_err(|_| BackupError::DecryptionFailed)?;

        let mut ciphertext = [0u8; CIPHERTEXT_LEN];
        let (body, tag_out) = ciphertext.split_at_mut(KEYS_LEN);
        body.copy_from_slice(keys.as_slice());
        tag_out.copy_from_slice(tag.as_slice());
        Ok(Self {
            params,
            salt,
            nonce,
            ciphertext,
        })
    }

    /// Parses a stored blob, strictly (spec: `spec/backup.md` §Parsing).
    ///
    /// Runs no key derivation, so it is cheap on hostile input.
    ///
    /// # Errors
    ///
    /// [`BackupError::UnsupportedVersion`] for a record whose version is not
    /// 1; [`BackupError::Malformed`] for anything that is not exactly the
    /// canonical encoding of a version-1 record; [`BackupError::WeakParameters`]
    /// or [`BackupError::ExcessiveParameters`] for parameters outside the
    /// limits.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, BackupError> {
        if bytes.len() > MAX_RECORD_LEN {
            return Err(BackupError::Malformed);
        }
        let peek: VersionOnly = minicbor::decode(bytes).map_err(|_| BackupError::Malformed)?;
        if peek.version != u64::from(BACKUP_VERSION) {
            return Err(BackupError::UnsupportedVersion);
        }
        let wire: Wire = codec::decode_canonical(bytes).map_err(|_| BackupError::Malformed)?;
        let params = Argon2Params::new(wire.m_cost_kib, wire.t_cost, wire.p_cost)?;
        Ok(Self {
            params,
            salt: *wire.salt,
            nonce: *wire.nonce,
            ciphertext: *wire.ciphertext,
        })
    }

    /// The canonical encoding, as stored on the server.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(&Wire {
            version: BACKUP_VERSION,
            m_cost_kib: self.params.m_cost_kib,
            t_cost: self.params.t_cost,
            p_cost: self.params.p_cost,
            salt: ByteArray::from(self.salt),
            nonce: ByteArray::from(self.nonce),
            ciphertext: ByteArray::from(self.ciphertext),
        })
    }

    /// The Argon2id parameters the blob was sealed with. A client that finds
    /// them below [`Argon2Params::default()`] re-seals after opening.
    #[must_use]
    pub fn params(&self) -> Argon2Params {
        self.params
    }

    /// Opens the backup with `password` (spec: `spec/backup.md` §Opening).
    ///
    /// The caller MUST then check that the identity's public keys are the
    /// ones published for this person (its key bundle in the log): the
    /// server chooses which blob to serve.
    ///
    /// # Errors
    ///
    /// [`BackupError::DecryptionFailed`] for a wrong password or an altered
    /// blob, with no further detail; [`BackupError::OutOfMemory`] and
    /// [`BackupError::PasswordTooLong`] as for [`Self::seal`].
    pub fn open(&self, password: &SecretString) -> Result<Identity, BackupError> {
        let cipher = seal_cipher(password, self.params, &self.salt)?;
        let aad = associated_data(self.params, &self.salt);
        let (body, tag) = self
            .ciphertext
            .split_first_chunk::<KEYS_LEN>()
            .ok_or(BackupError::DecryptionFailed)?;
        let tag = Tag::try_from(tag).map_err(|_| BackupError::DecryptionFailed)?;

        let mut keys = Zeroizing::new(*body);
        cipher
            .decrypt_inout_detached(
                &XNonce::from(self.nonce),
                &aad,
                keys.as_mut_slice().into(),
                &tag,
            )
            .map_err(|_| BackupError::DecryptionFailed)?;

        let (seed, secret) = keys
            .split_first_chunk::<32>()
            .ok_or(BackupError::DecryptionFailed)?;
        let seed = SecretBytes::<32>::try_from_slice(seed).ok_or(BackupError::DecryptionFailed)?;
        let secret =
            SecretBytes::<32>::try_from_slice(secret).ok_or(BackupError::DecryptionFailed)?;
        Ok(Identity::from_keys(
            SigningSecretKey::from_seed(&seed),
            EncryptionSecretKey::from_secret_bytes(&secret),
        ))
    }
}

/// The AEAD keyed with HKDF-SHA-256(Argon2id(password), info =
/// `lexvault/v1/backup-seal-key`) (spec: `spec/backup.md` §Key derivation).
fn seal_cipher(
    password: &SecretString,
    params: Argon2Params,
    salt: &[u8; SALT_LEN],
) -> Result<XChaCha20Poly1305, BackupError> {
    let stretched = stretch_password(password.expose_secret().as_bytes(), salt, params)?;
    let hkdf = Hkdf::<Sha256>::new(None, stretched.expose_secret());
    let mut key = Zeroizing::new([0u8; 32]);
    let expanded = hkdf.expand(domain::BACKUP_SEAL_KEY, key.as_mut_slice());
    // HKDF-Expand fails only for outputs longer than 255 hash lengths.
    debug_assert!(expanded.is_ok());
    // Unreachable: the key is exactly 32 bytes.
    XChaCha20Poly1305::new_from_slice(key.as_slice()).map_err(|_| BackupError::DecryptionFailed)
}

fn associated_data(params: Argon2Params, salt: &[u8; SALT_LEN]) -> Vec<u8> {
    codec::encode(&Header {
        version: BACKUP_VERSION,
        m_cost_kib: params.m_cost_kib,
        t_cost: params.t_cost,
        p_cost: params.p_cost,
        salt: ByteArray::from(*salt),
    })
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

    fn password(s: &str) -> SecretString {
        SecretString::new(s.into())
    }

    #[test]
    fn constants_are_within_limits() {
        for p in [Argon2Params::MINIMUM, Argon2Params::DEFAULT] {
            assert_eq!(
                Argon2Params::new(p.m_cost_kib(), p.t_cost(), p.p_cost()),
                Ok(p)
            );
        }
        assert_eq!(
            Argon2Params::new(
                Argon2Params::MAX_M_COST_KIB,
                Argon2Params::MAX_T_COST,
                Argon2Params::MAX_P_COST
            )
            .map(|p| p.m_cost_kib()),
            Ok(256 * 1024)
        );
    }

    #[test]
    fn parameter_limits_are_enforced() {
        let min = Argon2Params::MINIMUM;
        let weak = [
            (min.m_cost_kib() - 1, 2, 1),
            (min.m_cost_kib(), 1, 1),
            (min.m_cost_kib(), 2, 0),
            (0, 0, 0),
            // Below the minimum wins over above the maximum.
            (1024, 100, 1),
        ];
        for (m, t, p) in weak {
            assert_eq!(
                Argon2Params::new(m, t, p),
                Err(BackupError::WeakParameters),
                "{m} {t} {p}"
            );
        }
        let excessive = [
            (Argon2Params::MAX_M_COST_KIB + 1, 2, 1),
            (4 * 1024 * 1024, 2, 1),
            (u32::MAX, 2, 1),
            (min.m_cost_kib(), 9, 1),
            (min.m_cost_kib(), 2, 5),
        ];
        for (m, t, p) in excessive {
            assert_eq!(
                Argon2Params::new(m, t, p),
                Err(BackupError::ExcessiveParameters),
                "{m} {t} {p}"
            );
        }
    }

    #[test]
    fn seal_open_round_trip_and_failures() {
        // Two Argon2 runs per seal/open; this test does five in all.
        let identity = Identity::generate(&mut rng(1));
        let pw = password("correct horse battery staple");
        let sealed = SealedBackup::seal(&identity, &pw, Argon2Params::MINIMUM, &mut rng(2));
        let sealed = sealed.unwrap();
        let bytes = sealed.to_bytes();
        assert_eq!(bytes.len(), sealed.to_bytes().len());

        let parsed = SealedBackup::from_bytes(&bytes).unwrap();
        assert_eq!(parsed, sealed);
        assert_eq!(parsed.to_bytes(), bytes, "round trip is byte-exact");
        assert_eq!(parsed.params(), Argon2Params::MINIMUM);

        let opened = parsed.open(&pw).unwrap();
        assert_eq!(opened.public(), identity.public());
        assert_eq!(
            opened.signing_key().to_seed().expose_secret(),
            identity.signing_key().to_seed().expose_secret()
        );

        assert_eq!(
            parsed
                .open(&password("correct horse battery stapler"))
                .err(),
            Some(BackupError::DecryptionFailed)
        );

        // A parameter raised within limits still fails: parameters are
        // authenticated, and they also change the derived key.
        let mut raised = parsed.clone();
        raised.params = Argon2Params::new(Argon2Params::MIN_M_COST_KIB, 3, 1).unwrap();
        assert_eq!(raised.open(&pw).err(), Some(BackupError::DecryptionFailed));

        let mut flipped = parsed;
        flipped.ciphertext[0] ^= 1;
        assert_eq!(flipped.open(&pw).err(), Some(BackupError::DecryptionFailed));
    }

    #[test]
    fn sealing_is_randomised() {
        let identity = Identity::generate(&mut rng(1));
        let pw = password("pw");
        let a = SealedBackup::seal(&identity, &pw, Argon2Params::MINIMUM, &mut rng(3)).unwrap();
        let b = SealedBackup::seal(&identity, &pw, Argon2Params::MINIMUM, &mut rng(4)).unwrap();
        assert_ne!(a.salt, b.salt);
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
    }

    #[test]
    fn associated_data_is_the_header_encoding() {
        let aad = associated_data(Argon2Params::MINIMUM, &[0xaa; SALT_LEN]);
        // {0: 1, 1: 19456, 2: 2, 3: 1, 4: h'aa…'}
        let mut want = vec![
            0xa5, 0x00, 0x01, 0x01, 0x19, 0x4c, 0x00, 0x02, 0x02, 0x03, 0x01,
        ];
        want.extend_from_slice(&[0x04, 0x50]);
        want.extend_from_slice(&[0xaa; SALT_LEN]);
        assert_eq!(aad, want);
    }

    #[test]
    fn version_is_checked_before_layout() {
        // {0: 2}: another version, whatever its other fields.
        assert_eq!(
            SealedBackup::from_bytes(&[0xa1, 0x00, 0x02]),
            Err(BackupError::UnsupportedVersion)
        );
        // {0: 1} alone is a version-1 record missing its fields.
        assert_eq!(
            SealedBackup::from_bytes(&[0xa1, 0x00, 0x01]),
            Err(BackupError::Malformed)
        );
        for bad in [&[][..], &[0x80], &[0xa0], &[0xa1, 0x01, 0x01], &[0xff]] {
            assert_eq!(SealedBackup::from_bytes(bad), Err(BackupError::Malformed));
        }
        assert_eq!(
            SealedBackup::from_bytes(&vec![0u8; MAX_RECORD_LEN + 1]),
            Err(BackupError::Malformed)
        );
    }

    #[test]
    fn errors_carry_no_detail() {
        let all = [
            BackupError::Malformed,
            BackupError::UnsupportedVersion,
            BackupError::WeakParameters,
            BackupError::ExcessiveParameters,
            BackupError::OutOfMemory,
            BackupError::PasswordTooLong,
            BackupError::DecryptionFailed,
        ];
        for e in all {
            let shown = e.to_string();
            assert_eq!(shown, shown.to_lowercase());
        }
    }
}
