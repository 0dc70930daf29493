//! The age v1 file format (spec: `spec/age.md`).
//!
//! Every document version is an age file: a header that wraps the version's
//! [`FileKey`] in one stanza per party, and a payload encrypted under it.
//! The vault stores the payload once and each party's stanza beside it
//! (spec: `spec/age.md` §Storage in the vault); any party's export is the
//! header for that party followed by the shared payload, a standard age file
//! that `age` and `rage` decrypt.
//!
//! The pieces, each in its module with its reader and writer side by side:
//!
//! - [`stanza`]: the generic [`Stanza`] and its [`Stanza::digest`].
//! - [`header`]: the [`Header`], its strict bounded parser and its MAC.
//! - [`x25519`], [`scrypt`]: the two recipient types we implement.
//! - [`stream`]: the STREAM payload, chunk at a time or through `std::io`.
//! - [`armor`]: the PEM-style ASCII armor.
//! - `parallel` (feature `parallel`, native only): whole in-memory payloads
//!   sealed and opened on all cores, byte-identical to [`stream`].
//!
//! This module puts them together: [`encrypt`] writes a whole file,
//! [`Decryptor`] reads one (armored or not), and [`assemble`] joins a
//! party's header to a stored payload.
//!
//! ```
//! use std::io::{Read as _, Write as _};
//! use lexvault_core::age::{self, Decryptor, Identity, Recipients};
//! use lexvault_core::keys::EncryptionSecretKey;
//! use lexvault_core::secret::FileKey;
//! # use rand_core::SeedableRng as _;
//! # let mut rng = rand_chacha::ChaCha20Rng::from_seed([1; 32]);
//!
//! let alice = EncryptionSecretKey::generate(&mut rng);
//! let file_key = FileKey::generate(&mut rng);
//!
//! let mut writer = age::encrypt(
//!     &file_key,
//!     Recipients::X25519(&[alice.public_key()]),
//!     Vec::new(),
//!     &mut rng,
//! )?;
//! writer.write_all(b"privileged and confidential")?;
//! let file = writer.finish()?;
//!
//! let mut reader = Decryptor::new(file.as_slice())?.decrypt(&[Identity::X25519(&alice)])?;
//! let mut plaintext = Vec::new();
//! reader.read_to_end(&mut plaintext)?;
//! assert_eq!(plaintext, b"privileged and confidential");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Post-quantum hybrid stanzas (`mlkem768x25519`) are treated as unknown
//! stanza types (spec: `spec/age.md` §Hybrid stanzas).

use std::io::{self, BufRead, BufReader, Read, Write};

use rand_core::CryptoRng;

use crate::keys::{EncryptionPublicKey, EncryptionSecretKey};
use crate::secret::{FileKey, SecretString};

pub mod armor;
#[cfg(any(test, target_arch = "wasm32"))]
mod chacha20x4;
pub mod header;
#[cfg(feature = "parallel")]
pub mod parallel;
pub mod scrypt;
pub mod stanza;
pub mod stream;
pub mod x25519;

pub use armor::{ArmorError, ArmoredReader, ArmoredWriter};
pub use header::{Header, HeaderError};
pub use stanza::Stanza;
pub use stream::{
    PayloadDecryptor, PayloadEncryptor, PayloadError, PayloadKey, StreamReader, StreamWriter,
};
pub use x25519::wrap_file_key;

/// age's own domain-separation strings (spec: `spec/age.md` §Labels).
///
/// They belong to the age format, not to lexvault, so they live here rather
/// than in [`crate::domain`]; each is used for one purpose.
pub mod labels {
    /// HKDF-SHA-256 `info` for the header MAC key.
    pub const HEADER_MAC_INFO: &[u8] = b"header";
    /// HKDF-SHA-256 `info` for the payload key.
    pub const PAYLOAD_INFO: &[u8] = b"payload";
    /// HKDF-SHA-256 `info` for an X25519 stanza's wrap key.
    pub const X25519_INFO: &[u8] = b"age-encryption.org/v1/X25519";
    /// Prefix of the scrypt salt.
    pub const SCRYPT_SALT_LABEL: &[u8] = b"age-encryption.org/v1/scrypt";
}

/// Why an age file could not be decrypted.
///
/// The variants follow the classes of the age test vectors (spec:
/// `spec/age.md` §Errors): a malformed header, a header MAC mismatch, no
/// matching identity, a payload failure, an armor failure — plus the
/// reader's own I/O errors. Authentication failures carry no detail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecryptError {
    /// The header, or a stanza of a type being tried, is malformed.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// A stanza yielded a file key, but the header MAC does not verify
    /// under it. Deliberately detail-free.
    #[error("age header authentication failed")]
    HeaderMac,
    /// No identity opened any stanza.
    #[error("no identity matched any recipient stanza")]
    NoMatch,
    /// The payload is corrupt, truncated or followed by data.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// The armor is malformed.
    #[error(transparent)]
    Armor(#[from] ArmorError),
    /// The underlying reader failed.
    #[error("i/o error while reading an age file")]
    Io(#[source] io::Error),
}

impl From<io::Error> for DecryptError {
    /// Recovers the armor and payload errors that travel inside
    /// `io::Error`s through the `Read` adapters.
    fn from(e: io::Error) -> Self {
        if let Some(armor) = armor::armor_error(&e) {
            return Self::Armor(armor);
        }
        if let Some(payload) = e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<PayloadError>())
        {
            return Self::Payload(*payload);
        }
        Self::Io(e)
    }
}

/// Why an age file could not be encrypted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncryptError {
    /// The recipient list is empty.
    #[error("no recipients")]
    NoRecipients,
    /// More recipients than a header may carry ([`header::MAX_STANZAS`]).
    #[error("too many recipients")]
    TooManyRecipients,
    /// An scrypt work factor outside `1..=`[`scrypt::MAX_WORK_FACTOR`], or
    /// one the platform cannot allocate.
    #[error("scrypt work factor out of range")]
    InvalidWorkFactor,
    /// The output writer failed.
    #[error("i/o error while writing an age file")]
    Io(#[from] io::Error),
}

/// Whom to encrypt to: X25519 keys, or one passphrase — an scrypt stanza is
/// always alone (spec: `spec/age.md` §scrypt stanza).
#[derive(Debug, Clone, Copy)]
pub enum Recipients<'a> {
    /// One X25519 stanza per key.
    X25519(&'a [EncryptionPublicKey]),
    /// One scrypt stanza.
    Passphrase {
        /// The passphrase.
        passphrase: &'a SecretString,
        /// log₂ of scrypt's N; [`scrypt::DEFAULT_WORK_FACTOR`] normally.
        work_factor: u8,
    },
}

/// A key to try on a file's stanzas.
#[derive(Debug, Clone, Copy)]
pub enum Identity<'a> {
    /// Opens X25519 stanzas made for this key.
    X25519(&'a EncryptionSecretKey),
    /// Opens an scrypt stanza made with this passphrase, refusing work
    /// factors above `max_work_factor` before running scrypt.
    Passphrase {
        /// The passphrase.
        passphrase: &'a SecretString,
        /// The highest work factor to run; [`scrypt::MAX_WORK_FACTOR`] at
        /// most.
        max_work_factor: u8,
    },
}

impl<'a> Identity<'a> {
    /// A passphrase identity with the default limit,
    /// [`scrypt::MAX_WORK_FACTOR`].
    #[must_use]
    pub fn passphrase(passphrase: &'a SecretString) -> Self {
        Self::Passphrase {
            passphrase,
            max_work_factor: scrypt::MAX_WORK_FACTOR,
        }
    }
}

impl<'a> From<&'a EncryptionSecretKey> for Identity<'a> {
    fn from(key: &'a EncryptionSecretKey) -> Self {
        Self::X25519(key)
    }
}

/// Wraps `file_key` to `recipients`, one stanza each.
pub fn wrap_to_recipients<R: CryptoRng + ?Sized>(
    file_key: &FileKey,
    recipients: Recipients<'_>,
    rng: &mut R,
) -> Result<Vec<Stanza>, EncryptError> {
    match recipients {
        Recipients::X25519([]) => Err(EncryptError::NoRecipients),
        Recipients::X25519(keys) if keys.len() > header::MAX_STANZAS => {
            Err(EncryptError::TooManyRecipients)
        }
        Recipients::X25519(keys) => Ok(keys
            .iter()
            .map(|key| x25519::wrap_file_key(file_key, key, rng))
            .collect()),
        Recipients::Passphrase {
            passphrase,
            work_factor,
        } => Ok(vec![scrypt::wrap_file_key(
            file_key,
            passphrase,
            work_factor,
            rng,
        )?]),
    }
}

/// Starts an age file encrypted under `file_key` to `recipients` (spec:
/// `spec/age.md` §Header, §Payload).
///
/// Writes the header to `output` and returns the payload writer; write the
/// plaintext to it and call [`StreamWriter::finish`]. For an armored file,
/// pass an [`ArmoredWriter`] as `output` and finish it too.
///
/// `file_key` must be fresh for this file (spec: `spec/age.md` §File key).
pub fn encrypt<W: Write, R: CryptoRng + ?Sized>(
    file_key: &FileKey,
    recipients: Recipients<'_>,
    mut output: W,
    rng: &mut R,
) -> Result<StreamWriter<W>, EncryptError> {
    let stanzas = wrap_to_recipients(file_key, recipients, rng)?;
    let header = Header::build(stanzas, file_key).map_err(|_| EncryptError::TooManyRecipients)?;
    header.write_to(&mut output)?;
    Ok(StreamWriter::new(file_key, output, rng)?)
}

/// Writes an age file from a header and a stored payload: `header`'s bytes,
/// then every byte of `payload` (spec: `spec/age.md` §Storage in the
/// vault). Returns the number of bytes written.
///
/// The vault keeps one payload per document version and one stanza per
/// party; a party's export is [`Header::build`] of that party's stanza and
/// the file key, assembled with the shared payload. The payload is copied
/// as it streams, never held whole.
pub fn assemble<P: Read, W: Write>(
    header: &Header,
    mut payload: P,
    mut output: W,
) -> io::Result<u64> {
    let header_bytes = header.to_bytes();
    output.write_all(&header_bytes)?;
    let copied = io::copy(&mut payload, &mut output)?;
    output.flush()?;
    Ok(copied + header_bytes.len() as u64)
}

/// Input that starts with bytes already read for armor detection.
type Prefixed<R> = io::Chain<io::Cursor<Vec<u8>>, R>;

enum InputKind<R: Read> {
    Binary(BufReader<Prefixed<R>>),
    Armored(ArmoredReader<BufReader<Prefixed<R>>>),
}

/// The bytes of an age file after armor removal, as read by a
/// [`Decryptor`]; the [`StreamReader`] it returns reads the payload from
/// here.
pub struct Input<R: Read>(InputKind<R>);

impl<R: Read> Read for Input<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        match &mut self.0 {
            InputKind::Binary(r) => r.read(out),
            InputKind::Armored(r) => r.read(out),
        }
    }
}

impl<R: Read> BufRead for Input<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        match &mut self.0 {
            InputKind::Binary(r) => r.fill_buf(),
            InputKind::Armored(r) => r.fill_buf(),
        }
    }

    fn consume(&mut self, amount: usize) {
        match &mut self.0 {
            InputKind::Binary(r) => r.consume(amount),
            InputKind::Armored(r) => r.consume(amount),
        }
    }
}

impl<R: Read> core::fmt::Debug for Input<R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Input").finish_non_exhaustive()
    }
}

/// Reads an age file: detects armor, parses the header, finds a stanza an
/// identity opens, checks the header MAC, and returns the payload reader
/// (spec: `spec/age.md` §Decryption).
///
/// Input that starts with `age-encryption.org/` (or is a prefix of it,
/// such as empty input) is read as a binary age file; anything else must be
/// armored. Memory stays bounded: the header is capped at
/// [`header::MAX_HEADER_LEN`] and the payload is read a chunk at a time.
#[derive(Debug)]
pub struct Decryptor<R: Read> {
    header: Header,
    input: Input<R>,
    armored: bool,
}

impl<R: Read> Decryptor<R> {
    /// Reads the header from `input`.
    pub fn new(mut input: R) -> Result<Self, DecryptError> {
        let mut prefix = vec![0u8; header::VERSION_PREFIX.len()];
        let n = stream::read_full(&mut input, &mut prefix)?;
        prefix.truncate(n);
        let armored = !header::VERSION_PREFIX.starts_with(&prefix);
        let buffered = BufReader::new(io::Cursor::new(prefix).chain(input));
        let mut input = Input(if armored {
            InputKind::Armored(ArmoredReader::new(buffered))
        } else {
            InputKind::Binary(buffered)
        });
        let header = Header::read(&mut input)?;
        Ok(Self {
            header,
            input,
            armored,
        })
    }

    /// The parsed header. Its MAC has not been verified yet.
    #[must_use]
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Whether the input was armored.
    #[must_use]
    pub fn is_armored(&self) -> bool {
        self.armored
    }

    /// Finds the file key: tries each identity on each stanza, then checks
    /// the header MAC with the key found (spec: `spec/age.md` §Decryption).
    ///
    /// Fails with [`HeaderError::ScryptNotAlone`] if an scrypt stanza shares
    /// the header, with a [`DecryptError::Header`] as soon as a stanza of a
    /// type being tried is malformed, with [`DecryptError::NoMatch`] if no
    /// stanza opens, and with [`DecryptError::HeaderMac`] if the MAC does
    /// not verify. Stanzas of other types are skipped.
    pub fn unwrap_file_key(&self, identities: &[Identity<'_>]) -> Result<FileKey, DecryptError> {
        let stanzas = self.header.stanzas();
        if stanzas.len() > 1 && stanzas.iter().any(|s| s.tag() == scrypt::SCRYPT_TAG) {
            return Err(HeaderError::ScryptNotAlone.into());
        }
        for identity in identities {
            let found = match *identity {
                Identity::X25519(secret) => {
                    let identity = x25519::X25519Identity::new(secret);
                    first_match(stanzas, |s| identity.unwrap_stanza(s))?
                }
                Identity::Passphrase {
                    passphrase,
                    max_work_factor,
                } => first_match(stanzas, |s| {
                    scrypt::unwrap_file_key(s, passphrase, max_work_factor)
                })?,
            };
            if let Some(file_key) = found {
                self.header.verify_mac(&file_key)?;
                return Ok(file_key);
            }
        }
        Err(DecryptError::NoMatch)
    }

    /// Unwraps the file key with `identities` and returns the payload
    /// reader.
    pub fn decrypt(
        self,
        identities: &[Identity<'_>],
    ) -> Result<StreamReader<Input<R>>, DecryptError> {
        let file_key = self.unwrap_file_key(identities)?;
        self.decrypt_with_file_key(&file_key)
    }

    /// Returns the payload reader for a file key obtained elsewhere (for
    /// instance from [`Self::unwrap_file_key`], or the vault's own copy),
    /// after checking the header MAC with it.
    ///
    /// Reads the 16-byte payload nonce; input that ends first is
    /// [`HeaderError::TruncatedNonce`].
    pub fn decrypt_with_file_key(
        mut self,
        file_key: &FileKey,
    ) -> Result<StreamReader<Input<R>>, DecryptError> {
        self.header.verify_mac(file_key)?;
        let mut nonce = [0u8; stream::PAYLOAD_NONCE_LEN];
        if stream::read_full(&mut self.input, &mut nonce)? != nonce.len() {
            return Err(HeaderError::TruncatedNonce.into());
        }
        Ok(StreamReader::with_nonce(file_key, &nonce, self.input))
    }
}

/// The file key from the first stanza `unwrap` opens; stops at the first
/// malformed stanza.
fn first_match(
    stanzas: &[Stanza],
    mut unwrap: impl FnMut(&Stanza) -> Result<Option<FileKey>, HeaderError>,
) -> Result<Option<FileKey>, HeaderError> {
    for stanza in stanzas {
        if let Some(file_key) = unwrap(stanza)? {
            return Ok(Some(file_key));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )]

    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng as _;

    use super::*;

    fn rng() -> ChaCha20Rng {
        ChaCha20Rng::from_seed([11; 32])
    }

    fn encrypt_to(
        recipients: Recipients<'_>,
        plaintext: &[u8],
        armored: bool,
    ) -> (FileKey, Vec<u8>) {
        let mut rng = rng();
        let file_key = FileKey::generate(&mut rng);
        let file = if armored {
            let mut w = encrypt(
                &file_key,
                recipients,
                ArmoredWriter::new(Vec::new()),
                &mut rng,
            )
            .unwrap();
            w.write_all(plaintext).unwrap();
            w.finish().unwrap().finish().unwrap()
        } else {
            let mut w = encrypt(&file_key, recipients, Vec::new(), &mut rng).unwrap();
            w.write_all(plaintext).unwrap();
            w.finish().unwrap()
        };
        (file_key, file)
    }

    fn decrypt_all(file: &[u8], identities: &[Identity<'_>]) -> Result<Vec<u8>, DecryptError> {
        let mut out = Vec::new();
        Decryptor::new(file)?
            .decrypt(identities)?
            .read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn labels_are_pinned() {
        assert_eq!(labels::HEADER_MAC_INFO, b"header");
        assert_eq!(labels::PAYLOAD_INFO, b"payload");
        assert_eq!(labels::X25519_INFO, b"age-encryption.org/v1/X25519");
        assert_eq!(labels::SCRYPT_SALT_LABEL, b"age-encryption.org/v1/scrypt");
    }

    #[test]
    fn x25519_round_trip_binary_and_armored() {
        let mut rng = rng();
        let alice = EncryptionSecretKey::generate(&mut rng);
        let bob = EncryptionSecretKey::generate(&mut rng);
        let eve = EncryptionSecretKey::generate(&mut rng);
        let keys = [alice.public_key(), bob.public_key()];
        for armored in [false, true] {
            for len in [0, 1, stream::CHUNK_SIZE, stream::CHUNK_SIZE + 1] {
                let plaintext: Vec<u8> = (0..len).map(|i| i as u8).collect();
                let (file_key, file) = encrypt_to(Recipients::X25519(&keys), &plaintext, armored);
                let decryptor = Decryptor::new(file.as_slice()).unwrap();
                assert_eq!(decryptor.is_armored(), armored);
                assert_eq!(decryptor.header().stanzas().len(), 2);
                let got = decryptor
                    .unwrap_file_key(&[Identity::X25519(&bob)])
                    .unwrap();
                assert_eq!(got.expose_secret(), file_key.expose_secret());
                for id in [&alice, &bob] {
                    assert!(
                        decrypt_all(&file, &[Identity::X25519(&eve), id.into()]).unwrap()
                            == plaintext
                    );
                }
                assert!(matches!(
                    decrypt_all(&file, &[Identity::X25519(&eve)]),
                    Err(DecryptError::NoMatch)
                ));
            }
        }
    }

    #[test]
    fn passphrase_round_trip() {
        let pass = SecretString::new("correct horse".into());
        let wrong = SecretString::new("incorrect horse".into());
        let recipients = Recipients::Passphrase {
            passphrase: &pass,
            work_factor: 2,
        };
        let (_, file) = encrypt_to(recipients, b"hi", false);
        assert_eq!(
            decrypt_all(&file, &[Identity::passphrase(&pass)]).unwrap(),
            b"hi"
        );
        assert!(matches!(
            decrypt_all(&file, &[Identity::passphrase(&wrong)]),
            Err(DecryptError::NoMatch)
        ));
        let limited = Identity::Passphrase {
            passphrase: &pass,
            max_work_factor: 1,
        };
        assert!(matches!(
            decrypt_all(&file, &[limited]),
            Err(DecryptError::Header(HeaderError::ScryptWorkFactorTooHigh))
        ));
    }

    #[test]
    fn scrypt_must_be_alone() {
        let mut rng = rng();
        let pass = SecretString::new("p".into());
        let alice = EncryptionSecretKey::generate(&mut rng);
        let file_key = FileKey::generate(&mut rng);
        let stanzas = vec![
            scrypt::wrap_file_key(&file_key, &pass, 1, &mut rng).unwrap(),
            x25519::wrap_file_key(&file_key, &alice.public_key(), &mut rng),
        ];
        let header = Header::build(stanzas, &file_key).unwrap();
        let mut payload = Vec::new();
        StreamWriter::new(&file_key, &mut payload, &mut rng)
            .unwrap()
            .finish()
            .unwrap();
        let mut file = Vec::new();
        assemble(&header, payload.as_slice(), &mut file).unwrap();
        for id in [Identity::passphrase(&pass), Identity::X25519(&alice)] {
            assert!(matches!(
                decrypt_all(&file, &[id]),
                Err(DecryptError::Header(HeaderError::ScryptNotAlone))
            ));
        }
    }

    #[test]
    fn vault_flow_payload_once_header_per_party() {
        // Upload: one payload, one stanza per party.
        let mut rng = rng();
        let file_key = FileKey::generate(&mut rng);
        let parties: Vec<EncryptionSecretKey> = (0..3)
            .map(|_| EncryptionSecretKey::generate(&mut rng))
            .collect();
        let stanzas: Vec<Stanza> = parties
            .iter()
            .map(|p| wrap_file_key(&file_key, &p.public_key(), &mut rng))
            .collect();
        let mut payload = StreamWriter::new(&file_key, Vec::new(), &mut rng).unwrap();
        payload.write_all(&[7u8; 100_000]).unwrap();
        let payload = payload.finish().unwrap();
        // A stored stanza survives a round trip through its bytes, digest
        // included.
        let stored = stanzas[1].to_bytes();
        let reloaded = Stanza::parse(&stored).unwrap();
        assert_eq!(reloaded.digest(), stanzas[1].digest());

        // Export for party 1: a standard age file only party 1 can open.
        let header = Header::build(vec![reloaded], &file_key).unwrap();
        let mut export = Vec::new();
        let written = assemble(&header, payload.as_slice(), &mut export).unwrap();
        assert_eq!(written as usize, export.len());
        assert_eq!(
            decrypt_all(&export, &[Identity::X25519(&parties[1])]).unwrap(),
            vec![7u8; 100_000]
        );
        assert!(matches!(
            decrypt_all(&export, &[Identity::X25519(&parties[0])]),
            Err(DecryptError::NoMatch)
        ));
        // A header built under another key fails the MAC check.
        let forged = Header::build(vec![stanzas[1].clone()], &FileKey::generate(&mut rng)).unwrap();
        let mut bad = Vec::new();
        assemble(&forged, payload.as_slice(), &mut bad).unwrap();
        assert!(matches!(
            decrypt_all(&bad, &[Identity::X25519(&parties[1])]),
            Err(DecryptError::HeaderMac)
        ));
    }

    #[test]
    fn errors_are_classified() {
        let mut rng = rng();
        let alice = EncryptionSecretKey::generate(&mut rng);
        let keys = [alice.public_key()];
        let (file_key, file) = encrypt_to(Recipients::X25519(&keys), b"data", false);
        let (header, used) = Header::parse(&file).unwrap();

        // Missing nonce: a header failure.
        assert!(matches!(
            Decryptor::new(&file[..used + 5])
                .unwrap()
                .decrypt_with_file_key(&file_key),
            Err(DecryptError::Header(HeaderError::TruncatedNonce))
        ));
        // Payload corruption.
        let mut bad = file.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(matches!(
            decrypt_all(&bad, &[Identity::X25519(&alice)]),
            Err(DecryptError::Payload(PayloadError::DecryptionFailed))
        ));
        // Armor damage surfaces as an armor error, even in the payload.
        let mut armored = ArmoredWriter::new(Vec::new());
        armored.write_all(&file).unwrap();
        let armored = String::from_utf8(armored.finish().unwrap()).unwrap();
        let damaged = armored.replace("-----END AGE ENCRYPTED FILE-----\n", "");
        assert!(matches!(
            decrypt_all(damaged.as_bytes(), &[Identity::X25519(&alice)]),
            Err(DecryptError::Armor(ArmorError::MissingEnd))
        ));
        assert!(matches!(
            decrypt_all(
                format!("x{armored}").as_bytes(),
                &[Identity::X25519(&alice)]
            ),
            Err(DecryptError::Armor(ArmorError::MissingBegin))
        ));
        // Empty input is a (truncated) binary file.
        assert!(matches!(
            Decryptor::new(&[][..]),
            Err(DecryptError::Header(HeaderError::Truncated))
        ));
        assert_eq!(header.stanzas().len(), 1);
    }

    #[test]
    fn encrypt_rejects_bad_recipient_lists() {
        let mut rng = rng();
        let key = FileKey::generate(&mut rng);
        assert!(matches!(
            encrypt(&key, Recipients::X25519(&[]), Vec::new(), &mut rng),
            Err(EncryptError::NoRecipients)
        ));
        let one = EncryptionSecretKey::generate(&mut rng).public_key();
        let many = vec![one; header::MAX_STANZAS + 1];
        assert!(matches!(
            encrypt(&key, Recipients::X25519(&many), Vec::new(), &mut rng),
            Err(EncryptError::TooManyRecipients)
        ));
        let pass = SecretString::new("p".into());
        assert!(matches!(
            encrypt(
                &key,
                Recipients::Passphrase {
                    passphrase: &pass,
                    work_factor: 0
                },
                Vec::new(),
                &mut rng
            ),
            Err(EncryptError::InvalidWorkFactor)
        ));
    }
}
