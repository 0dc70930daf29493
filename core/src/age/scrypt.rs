//! The `scrypt` passphrase stanza (spec: `spec/age.md` §scrypt stanza).
//!
//! ```text
//! -> scrypt base64(salt) work-factor
//! base64(ChaCha20-Poly1305(wrap key, nonce = 0¹², file key))
//! wrap key = scrypt(N = 2^work-factor, r = 8, p = 1, dkLen = 32,
//!                   S = "age-encryption.org/v1/scrypt" || salt,
//!                   P = passphrase)
//! ```
//!
//! An scrypt stanza must be the only stanza of its header; the
//! [`super::Decryptor`] enforces that for the whole header before trying any
//! identity.

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::EncryptError;
use super::header::HeaderError;
use super::labels::SCRYPT_SALT_LABEL;
use super::stanza::{self, Stanza};
use super::x25519::{WRAPPED_KEY_LEN, open_file_key, seal_file_key};
use crate::secret::{FileKey, SecretString};

/// The tag of an scrypt stanza (case-sensitive).
pub const SCRYPT_TAG: &str = "scrypt";
/// Length of the random salt.
pub const SALT_LEN: usize = 16;
/// The work factor (log₂ N) new files are encrypted with: 18, as in the
/// reference implementation (about a second, 256 MiB).
pub const DEFAULT_WORK_FACTOR: u8 = 18;
/// The highest work factor decrypted by default, and the highest accepted
/// for encryption: 22, the reference implementation's default limit. scrypt
/// with r = 8 needs 2^(work factor + 10) bytes, so 22 means 4 GiB; a client
/// short of memory (a browser tab) should pass a lower limit.
pub const MAX_WORK_FACTOR: u8 = 22;

/// Wraps `file_key` under `passphrase` with a fresh salt from `rng` (spec:
/// `spec/age.md` §scrypt stanza).
///
/// `work_factor` must be in `1..=MAX_WORK_FACTOR`; use
/// [`DEFAULT_WORK_FACTOR`] unless there is a reason not to.
pub fn wrap_file_key<R: CryptoRng + ?Sized>(
    file_key: &FileKey,
    passphrase: &SecretString,
    work_factor: u8,
    rng: &mut R,
) -> Result<Stanza, EncryptError> {
    if !(1..=MAX_WORK_FACTOR).contains(&work_factor) {
        return Err(EncryptError::InvalidWorkFactor);
    }
    let mut salt = [0u8; SALT_LEN];
    rng.fill_bytes(&mut salt);
    let wrap_key =
        derive_wrap_key(passphrase, &salt, work_factor).ok_or(EncryptError::InvalidWorkFactor)?;
    let body = seal_file_key(&wrap_key, file_key);
    Ok(Stanza::from_parts_unchecked(
        SCRYPT_TAG,
        vec![stanza::encode_base64(&salt), work_factor.to_string()],
        body.to_vec(),
    ))
}

/// Tries to unwrap the file key from `stanza` with `passphrase`.
///
/// Returns `Ok(None)` when the stanza is not an scrypt stanza or the
/// passphrase does not open it, and an error when it is a malformed scrypt
/// stanza or its work factor exceeds `max_work_factor` — both checked
/// before scrypt runs. Does not check that the stanza is alone in its
/// header; [`super::Decryptor`] does.
pub fn unwrap_file_key(
    stanza: &Stanza,
    passphrase: &SecretString,
    max_work_factor: u8,
) -> Result<Option<FileKey>, HeaderError> {
    if stanza.tag() != SCRYPT_TAG {
        return Ok(None);
    }
    let [salt, work_factor] = stanza.args() else {
        return Err(HeaderError::InvalidScryptStanza);
    };
    let salt: [u8; SALT_LEN] =
        stanza::decode_base64_array(salt).ok_or(HeaderError::InvalidScryptStanza)?;
    let work_factor = parse_work_factor(work_factor)?;
    let body: &[u8; WRAPPED_KEY_LEN] = stanza
        .body()
        .try_into()
        .map_err(|_| HeaderError::InvalidScryptStanza)?;
    if work_factor > u32::from(max_work_factor.min(MAX_WORK_FACTOR)) {
        return Err(HeaderError::ScryptWorkFactorTooHigh);
    }
    let work_factor =
        u8::try_from(work_factor).map_err(|_| HeaderError::ScryptWorkFactorTooHigh)?;
    // Parameters the platform cannot represent (2^22 · 1 KiB overflows a
    // 32-bit usize) are refused like an excessive work factor.
    let wrap_key = derive_wrap_key(passphrase, &salt, work_factor)
        .ok_or(HeaderError::ScryptWorkFactorTooHigh)?;
    Ok(open_file_key(&wrap_key, body))
}

/// `%x31-39 *DIGIT`: a positive decimal without leading zeros or sign.
/// Values too large for `u32` count as too high rather than malformed.
fn parse_work_factor(arg: &str) -> Result<u32, HeaderError> {
    let bytes = arg.as_bytes();
    match bytes.first() {
        Some(b'1'..=b'9') if bytes.iter().all(u8::is_ascii_digit) => {}
        _ => return Err(HeaderError::InvalidScryptStanza),
    }
    bytes.iter().try_fold(0u32, |n, &d| {
        n.checked_mul(10)
            .and_then(|n| n.checked_add(u32::from(d - b'0')))
            .ok_or(HeaderError::ScryptWorkFactorTooHigh)
    })
}

fn derive_wrap_key(
    passphrase: &SecretString,
    salt: &[u8; SALT_LEN],
    work_factor: u8,
) -> Option<Zeroizing<[u8; 32]>> {
    let params = scrypt::Params::new(work_factor, 8, 1).ok()?;
    let mut full_salt = [0u8; SCRYPT_SALT_LABEL.len() + SALT_LEN];
    let (label, random) = full_salt.split_at_mut(SCRYPT_SALT_LABEL.len());
    label.copy_from_slice(SCRYPT_SALT_LABEL);
    random.copy_from_slice(salt);
    let mut key = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(
        passphrase.expose_secret().as_bytes(),
        &full_salt,
        &params,
        key.as_mut_slice(),
    )
    .ok()?;
    Some(key)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng as _;

    use super::*;

    fn pass(s: &str) -> SecretString {
        SecretString::new(s.to_owned())
    }

    #[test]
    fn wrap_unwrap_round_trip() {
        let mut rng = ChaCha20Rng::from_seed([5; 32]);
        let file_key = FileKey::generate(&mut rng);
        let stanza = wrap_file_key(&file_key, &pass("hunter2"), 4, &mut rng).unwrap();
        assert_eq!(stanza.tag(), "scrypt");
        assert_eq!(stanza.args()[1], "4");
        let got = unwrap_file_key(&stanza, &pass("hunter2"), 10)
            .unwrap()
            .unwrap();
        assert_eq!(got.expose_secret(), file_key.expose_secret());
        assert!(
            unwrap_file_key(&stanza, &pass("hunter3"), 10)
                .unwrap()
                .is_none()
        );
        assert_eq!(
            unwrap_file_key(&stanza, &pass("hunter2"), 3).map(|k| k.is_some()),
            Err(HeaderError::ScryptWorkFactorTooHigh)
        );
    }

    #[test]
    fn work_factor_syntax_and_range() {
        assert_eq!(parse_work_factor("1"), Ok(1));
        assert_eq!(parse_work_factor("18"), Ok(18));
        for bad in ["", "0", "01", "+1", "-1", "0x10", "1a", " 1", "١"] {
            assert_eq!(
                parse_work_factor(bad),
                Err(HeaderError::InvalidScryptStanza),
                "{bad}"
            );
        }
        assert_eq!(
            parse_work_factor("99999999999999999999"),
            Err(HeaderError::ScryptWorkFactorTooHigh)
        );
        let mut rng = ChaCha20Rng::from_seed([5; 32]);
        let key = FileKey::generate(&mut rng);
        for wf in [0, MAX_WORK_FACTOR + 1] {
            assert!(matches!(
                wrap_file_key(&key, &pass("p"), wf, &mut rng),
                Err(EncryptError::InvalidWorkFactor)
            ));
        }
    }

    #[test]
    fn rejects_malformed_stanzas() {
        let mut rng = ChaCha20Rng::from_seed([6; 32]);
        let key = FileKey::generate(&mut rng);
        let good = wrap_file_key(&key, &pass("p"), 2, &mut rng).unwrap();
        let salt = good.args()[0].clone();
        let with = |args: Vec<&str>, body: &[u8]| {
            Stanza::new(
                "scrypt",
                args.into_iter().map(str::to_owned).collect(),
                body.to_vec(),
            )
            .unwrap()
        };
        let body = good.body();
        let cases = [
            with(vec![&salt], body),
            with(vec![&salt, "2", "x"], body),
            with(vec![&salt[..21], "2"], body),
            with(vec![&format!("{salt}AA"), "2"], body),
            with(vec![&salt, "02"], body),
            with(vec![&salt, "2"], &body[..31]),
            with(vec![&salt, "2"], &[body, &[0]].concat()),
        ];
        for case in cases {
            assert_eq!(
                unwrap_file_key(&case, &pass("p"), 10).map(|k| k.is_some()),
                Err(HeaderError::InvalidScryptStanza),
                "{case:?}"
            );
        }
        let upper = Stanza::new("Scrypt", good.args().to_vec(), body.to_vec()).unwrap();
        assert!(unwrap_file_key(&upper, &pass("p"), 10).unwrap().is_none());
    }
}
