//! Types that hold secrets, and the one constant-time comparison.
//!
//! Every secret in this crate lives in an opaque newtype that has no `Clone`,
//! no serialisation, a `Debug` that prints `[REDACTED]`, and zeroises its
//! memory on drop. Reading the bytes takes an explicit `expose_secret()`, so
//! every place that touches key material is easy to find in review.

use core::fmt;

use rand_core::CryptoRng;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Compares two byte strings without leaking, through timing, where they
/// first differ.
///
/// This is the single helper the project uses for tags, MACs, key
/// commitments, digests of secrets and token hashes. The lengths are not
/// secret: strings of different length compare unequal immediately.
#[must_use]
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// A fixed-size secret byte string, boxed so that moves do not leave copies
/// behind on the stack.
pub struct SecretBytes<const N: usize>(Box<[u8; N]>);

impl<const N: usize> SecretBytes<N> {
    /// Takes ownership of `bytes`, zeroising the caller's copy.
    pub fn from_array(bytes: &mut [u8; N]) -> Self {
        let mut boxed = Box::new([0u8; N]);
        boxed.copy_from_slice(bytes);
        bytes.zeroize();
        Self(boxed)
    }

    /// Copies a secret out of a slice of exactly `N` bytes.
    ///
    /// Returns `None` when the length is wrong. The caller remains
    /// responsible for zeroising `bytes`.
    pub fn try_from_slice(bytes: &[u8]) -> Option<Self> {
        let mut boxed = Box::new([0u8; N]);
        if bytes.len() != N {
            return None;
        }
        boxed.copy_from_slice(bytes);
        Some(Self(boxed))
    }

    /// Fills a new secret from a cryptographically secure generator.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut boxed = Box::new([0u8; N]);
        rng.fill_bytes(boxed.as_mut_slice());
        Self(boxed)
    }

    /// The secret bytes. Every call site is a place key material is used.
    #[must_use]
    pub fn expose_secret(&self) -> &[u8; N] {
        &self.0
    }
}

impl<const N: usize> Drop for SecretBytes<N> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl<const N: usize> ZeroizeOnDrop for SecretBytes<N> {}

impl<const N: usize> fmt::Debug for SecretBytes<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes<{N}>([REDACTED])")
    }
}

/// A secret text, such as a passphrase or an `AGE-SECRET-KEY-1…` string.
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    /// Wraps `s`; its buffer is zeroised when this value is dropped.
    #[must_use]
    pub fn new(s: String) -> Self {
        Self(Zeroizing::new(s))
    }

    /// The secret text.
    #[must_use]
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl From<String> for SecretString {
    fn from(s: String) -> Self {
        Self::new(s)
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString([REDACTED])")
    }
}

/// The length of an age file key, in bytes (age v1 fixes it at 128 bits).
pub const FILE_KEY_LEN: usize = 16;

/// The symmetric key of one document version (spec: `format.md` §File key).
///
/// A fresh file key is generated for every version and never reused; it is
/// wrapped to each authorised party as an age stanza.
#[derive(Debug)]
pub struct FileKey(SecretBytes<FILE_KEY_LEN>);

impl FileKey {
    /// Generates a fresh file key.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self(SecretBytes::generate(rng))
    }

    /// Takes ownership of raw file-key bytes, zeroising the caller's copy.
    pub fn from_array(bytes: &mut [u8; FILE_KEY_LEN]) -> Self {
        Self(SecretBytes::from_array(bytes))
    }

    /// The raw key bytes.
    #[must_use]
    pub fn expose_secret(&self) -> &[u8; FILE_KEY_LEN] {
        self.0.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_matches_plain_equality() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn debug_never_prints_secret_bytes() {
        let mut raw = [0x41u8; FILE_KEY_LEN];
        let key = FileKey::from_array(&mut raw);
        assert_eq!(raw, [0u8; FILE_KEY_LEN], "caller's copy must be zeroised");
        let shown = format!("{key:?}");
        assert!(shown.contains("REDACTED"));
        assert!(!shown.contains("41") && !shown.contains("65"));
        let s = SecretString::new("hunter2".into());
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn try_from_slice_rejects_wrong_length() {
        assert!(SecretBytes::<4>::try_from_slice(&[1, 2, 3]).is_none());
        let s = SecretBytes::<4>::try_from_slice(&[1, 2, 3, 4]);
        assert_eq!(s.map(|s| *s.expose_secret()), Some([1, 2, 3, 4]));
    }
}
