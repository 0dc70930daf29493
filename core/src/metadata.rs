//! Encrypted metadata of a document version (spec: `spec/documents.md`
//! §Encrypted metadata).
//!
//! A version's file name, MIME type, size and plaintext digest are sealed
//! with ChaCha20-Poly1305 under a key derived from the version's file key:
//!
//! ```text
//! key   = HKDF-SHA-256(salt = "", ikm = file key, info = "lexvault/v1/metadata-key")
//! nonce = 12 zero bytes   ; one message per key: every version has a fresh file key
//! aad   = MetadataBinding = { 0: bstr .size 16,   ; matter id
//!                             1: bstr .size 16,   ; document id
//!                             2: uint }           ; version number (>= 1)
//! sealed = ChaCha20-Poly1305(key, nonce, aad, Metadata) ; ciphertext || 16-byte tag
//!
//! Metadata = {
//!   0: 1,                        ; version
//!   1: tstr .size (1..1024),     ; file name
//!   2: tstr .size (1..255),      ; MIME type
//!   3: uint,                     ; plaintext size in bytes
//!   4: bstr .size 32,            ; segmented SHA-256 of the plaintext (`crate::segmented`)
//! }
//! ```
//!
//! The associated data binds the ciphertext to one version of one document
//! of one matter, so a server cannot show one document's name on another.

use core::fmt;

use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce};
use hkdf::Hkdf;
use minicbor::{Decode, Decoder, Encode, Encoder};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::codec::{self, CodecError};
use crate::domain;
use crate::keys::hex_lower;
use crate::manifest::{DocumentId, VersionNumber};
use crate::matter::MatterId;
use crate::secret::{FileKey, SecretBytes, constant_time_eq};
use crate::segmented::{self, DigestKind, SegmentedHasher};
use crate::signed::wire;

/// The only metadata version this crate reads and writes.
pub const METADATA_VERSION: u8 = 1;

/// The longest file name, in UTF-8 bytes.
pub const MAX_FILE_NAME_LEN: usize = 1024;

/// The longest MIME type, in bytes.
pub const MAX_MIME_TYPE_LEN: usize = 255;

/// The longest sealed metadata: the largest plaintext plus the tag, rounded
/// up. Anything longer is rejected before decryption.
pub const MAX_SEALED_METADATA_LEN: usize = 2048;

const TAG_LEN: usize = 16;

/// Why metadata was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataError {
    /// The plaintext is not canonical CBOR of the expected shape.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// The metadata's version is not [`METADATA_VERSION`].
    #[error("unknown metadata version {0}")]
    UnknownVersion(u64),
    /// The file name is empty, longer than [`MAX_FILE_NAME_LEN`], is `.` or
    /// `..`, or contains a path separator, a control character or a
    /// bidirectional formatting character.
    #[error("file name is not allowed")]
    InvalidFileName,
    /// The MIME type is empty, longer than [`MAX_MIME_TYPE_LEN`], has no
    /// `/`, or contains bytes other than printable ASCII.
    #[error("MIME type is not allowed")]
    InvalidMimeType,
}

/// Why sealed metadata could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// Wrong key, wrong binding, or tampered ciphertext. Deliberately
    /// detail-free.
    #[error("decryption failed")]
    DecryptionFailed,
    /// The ciphertext is authentic but its plaintext is not valid metadata:
    /// whoever holds the file key wrote it wrong.
    #[error("decrypted metadata is invalid: {0}")]
    Invalid(MetadataError),
}

/// What a version's metadata is bound to: sealing under one binding and
/// opening under another fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MetadataBinding {
    /// The matter the document belongs to.
    pub matter_id: MatterId,
    /// The document.
    pub document_id: DocumentId,
    /// The document version.
    pub version: VersionNumber,
}

#[derive(Encode)]
#[cbor(map)]
struct BindingWire {
    #[cbor(n(0), with = "minicbor::bytes")]
    matter_id: [u8; 16],
    #[cbor(n(1), with = "minicbor::bytes")]
    document_id: [u8; 16],
    #[n(2)]
    version: u32,
}

impl MetadataBinding {
    /// The associated data: canonical CBOR of the binding.
    fn associated_data(&self) -> Vec<u8> {
        codec::encode(&BindingWire {
            matter_id: *self.matter_id.as_bytes(),
            document_id: *self.document_id.as_bytes(),
            version: self.version.get(),
        })
    }
}

/// The plaintext metadata of one document version.
#[derive(Clone, PartialEq, Eq)]
pub struct Metadata {
    file_name: String,
    mime_type: String,
    size: u64,
    plaintext_digest: [u8; 32],
}

impl Metadata {
    /// Builds metadata, checking the file name and MIME type.
    pub fn new(
        file_name: impl Into<String>,
        mime_type: impl Into<String>,
        size: u64,
        plaintext_digest: [u8; 32],
    ) -> Result<Self, MetadataError> {
        let file_name = file_name.into();
        let mime_type = mime_type.into();
        check_file_details(&file_name, &mime_type)?;
        Ok(Self {
            file_name,
            mime_type,
            size,
            plaintext_digest,
        })
    }

    /// Parses the plaintext of opened metadata: canonical CBOR, every
    /// field checked as [`Self::new`] checks it. [`SealedMetadata::open`]
    /// parses with this after decrypting; the encoding is
    /// `codec::encode(&metadata)`.
    ///
    /// # Errors
    /// [`MetadataError`] naming the broken rule.
    pub fn from_plaintext(bytes: &[u8]) -> Result<Self, MetadataError> {
        wire::decode_body::<Self>(bytes)
    }

    /// The file name, without any directory.
    #[must_use]
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// The MIME type.
    #[must_use]
    pub fn mime_type(&self) -> &str {
        &self.mime_type
    }

    /// The plaintext size in bytes.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The plaintext's segmented digest (kind [`DigestKind::Plaintext`];
    /// what an e-signature signs).
    #[must_use]
    pub fn plaintext_digest(&self) -> &[u8; 32] {
        &self.plaintext_digest
    }

    /// Whether a received plaintext's digest and length (from
    /// [`PlaintextHasher::finalize`]) are the uploader's; the digest is
    /// compared in constant time.
    #[must_use]
    pub fn matches_plaintext(&self, digest: &[u8; 32], len: u64) -> bool {
        let digest_matches = constant_time_eq(digest, &self.plaintext_digest);
        digest_matches && len == self.size
    }

    /// Seals the metadata under the version's file key.
    ///
    /// The zero nonce is safe only because the file key is fresh for this
    /// version and the metadata is sealed once: never call this twice with
    /// the same file key and different metadata.
    #[must_use]
    pub fn seal(&self, file_key: &FileKey, binding: &MetadataBinding) -> SealedMetadata {
        let mut buffer = codec::encode(self);
        let cipher = metadata_cipher(file_key);
        let aad = binding.associated_data();
        #[allow(
            clippy::expect_used,
            reason = "ChaCha20-Poly1305 fails only above 256 GiB; metadata is bounded to 2 KiB"
        )]
        let tag = cipher
            .encrypt_inout_detached(&Nonce::default(), &aad, buffer.as_mut_slice().into())
            .expect("bounded metadata always encrypts");
        buffer.extend_from_slice(&tag);
        SealedMetadata(buffer)
    }
}

impl fmt::Debug for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Metadata is confidential (a file name can be privileged); keep it
        // out of logs.
        f.write_str("Metadata([REDACTED])")
    }
}

/// Checks a file name and MIME type as [`Metadata::new`] does, so a
/// client can refuse them before it encrypts anything.
///
/// # Errors
/// [`MetadataError::InvalidFileName`] or [`MetadataError::InvalidMimeType`].
pub fn check_file_details(file_name: &str, mime_type: &str) -> Result<(), MetadataError> {
    check_file_name(file_name)?;
    check_mime_type(mime_type)
}

fn check_file_name(name: &str) -> Result<(), MetadataError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_FILE_NAME_LEN
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c != '/' && c != '\\' && wire::is_safe_name_char(c));
    if ok {
        Ok(())
    } else {
        Err(MetadataError::InvalidFileName)
    }
}

fn check_mime_type(mime: &str) -> Result<(), MetadataError> {
    let ok = !mime.is_empty()
        && mime.len() <= MAX_MIME_TYPE_LEN
        && mime.contains('/')
        && mime.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
        && mime.trim() == mime;
    if ok {
        Ok(())
    } else {
        Err(MetadataError::InvalidMimeType)
    }
}

#[derive(Encode, Decode)]
#[cbor(map)]
pub(crate) struct MetadataWire {
    #[n(0)]
    version: u8,
    #[n(1)]
    file_name: String,
    #[n(2)]
    mime_type: String,
    #[n(3)]
    size: u64,
    #[cbor(n(4), with = "minicbor::bytes")]
    plaintext_digest: [u8; 32],
}

impl wire::WireForm for Metadata {
    const VERSION: u8 = METADATA_VERSION;
    type Wire = MetadataWire;
    type Error = MetadataError;

    fn from_wire(w: MetadataWire) -> Result<Self, MetadataError> {
        if w.version != METADATA_VERSION {
            return Err(MetadataError::UnknownVersion(w.version.into()));
        }
        Self::new(w.file_name, w.mime_type, w.size, w.plaintext_digest)
    }

    fn to_wire(&self) -> MetadataWire {
        MetadataWire {
            version: METADATA_VERSION,
            file_name: self.file_name.clone(),
            mime_type: self.mime_type.clone(),
            size: self.size,
            plaintext_digest: self.plaintext_digest,
        }
    }

    fn unknown_version(version: u64) -> MetadataError {
        MetadataError::UnknownVersion(version)
    }
}

impl Encode<()> for Metadata {
    fn encode<W: minicbor::encode::Write>(
        &self,
        e: &mut Encoder<W>,
        ctx: &mut (),
    ) -> Result<(), minicbor::encode::Error<W::Error>> {
        wire::encode(self, e, ctx)
    }
}

impl<'b> Decode<'b, ()> for Metadata {
    fn decode(d: &mut Decoder<'b>, ctx: &mut ()) -> Result<Self, minicbor::decode::Error> {
        wire::decode(d, ctx)
    }
}

/// Sealed metadata as stored by the server: ciphertext followed by the
/// 16-byte tag.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedMetadata(Vec<u8>);

impl SealedMetadata {
    /// Wraps stored bytes. Nothing is checked until [`Self::open`].
    #[must_use]
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The stored bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// SHA-256 of the stored bytes, which the version manifest commits to.
    #[must_use]
    pub fn digest(&self) -> MetadataDigest {
        MetadataDigest(Sha256::digest(&self.0).into())
    }

    /// Decrypts and validates the metadata.
    ///
    /// Every failure to authenticate — wrong file key, wrong binding,
    /// tampered or truncated ciphertext — is the same
    /// [`OpenError::DecryptionFailed`].
    pub fn open(
        &self,
        file_key: &FileKey,
        binding: &MetadataBinding,
    ) -> Result<Metadata, OpenError> {
        if self.0.len() > MAX_SEALED_METADATA_LEN {
            return Err(OpenError::DecryptionFailed);
        }
        let split = self
            .0
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(OpenError::DecryptionFailed)?;
        let (ciphertext, tag) = self.0.split_at(split);
        let tag =
            <&chacha20poly1305::Tag>::try_from(tag).map_err(|_| OpenError::DecryptionFailed)?;
        let mut plaintext = Zeroizing::new(ciphertext.to_vec());
        metadata_cipher(file_key)
            .decrypt_inout_detached(
                &Nonce::default(),
                &binding.associated_data(),
                plaintext.as_mut_slice().into(),
                tag,
            )
            .map_err(|_| OpenError::DecryptionFailed)?;
        Metadata::from_plaintext(&plaintext).map_err(OpenError::Invalid)
    }
}

impl fmt::Debug for SealedMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedMetadata({} bytes)", self.0.len())
    }
}

/// SHA-256 of sealed metadata's stored bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct MetadataDigest(pub [u8; 32]);

impl fmt::Debug for MetadataDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MetadataDigest({})", hex_lower(&self.0))
    }
}

fn metadata_cipher(file_key: &FileKey) -> ChaCha20Poly1305 {
    let key = derive_from_file_key(file_key, domain::METADATA_KEY);
    ChaCha20Poly1305::new(key.expose_secret().into())
}

/// HKDF-SHA-256 with an empty salt, the file key as input keying material
/// and `info` a label from [`crate::domain`]: 32 bytes.
pub(crate) fn derive_from_file_key(file_key: &FileKey, info: &[u8]) -> SecretBytes<32> {
    let mut out = [0u8; 32];
    #[allow(
        clippy::expect_used,
        reason = "HKDF-SHA-256 expands to at most 8160 bytes; 32 always succeeds"
    )]
    Hkdf::<Sha256>::new(None, file_key.expose_secret())
        .expand(info, &mut out)
        .expect("32 bytes is a valid HKDF-SHA-256 output length");
    SecretBytes::from_array(&mut out)
}

/// The segmented digest of a plaintext held in memory (metadata field 4);
/// see [`PlaintextHasher`] for streams.
#[must_use]
pub fn plaintext_digest(plaintext: &[u8]) -> [u8; 32] {
    segmented::digest(DigestKind::Plaintext, plaintext)
}

/// Hashes a plaintext as it streams past, in constant memory, for metadata
/// field 4 (spec: `spec/documents.md` §Encrypted metadata).
///
/// It implements [`std::io::Write`], so it can sit behind a tee;
/// [`Self::finalize`] gives the digest and the size.
#[derive(Clone, Debug)]
pub struct PlaintextHasher(SegmentedHasher);

impl Default for PlaintextHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl PlaintextHasher {
    /// A hasher that has seen nothing.
    #[must_use]
    pub fn new() -> Self {
        Self(SegmentedHasher::new(DigestKind::Plaintext))
    }

    /// Feeds the next bytes of the plaintext.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The digest and the length of everything fed.
    #[must_use]
    pub fn finalize(self) -> ([u8; 32], u64) {
        self.0.finalize()
    }
}

impl std::io::Write for PlaintextHasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
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

    fn file_key(byte: u8) -> FileKey {
        FileKey::from_array(&mut [byte; 16])
    }

    fn binding() -> MetadataBinding {
        MetadataBinding {
            matter_id: MatterId::from_bytes([1; 16]),
            document_id: DocumentId::from_bytes([2; 16]),
            version: VersionNumber::FIRST,
        }
    }

    fn sample() -> Result<Metadata, MetadataError> {
        Metadata::new(
            "Settlement draft v3.pdf",
            "application/pdf",
            48_213,
            [7; 32],
        )
    }

    #[test]
    fn seal_then_open_round_trips() {
        let meta = sample().unwrap();
        let sealed = meta.seal(&file_key(9), &binding());
        assert_eq!(sealed.open(&file_key(9), &binding()), Ok(meta));
    }

    #[test]
    fn any_other_binding_or_key_fails_the_same_way() {
        let meta = sample().unwrap();
        let sealed = meta.seal(&file_key(9), &binding());
        let others = [
            MetadataBinding {
                matter_id: MatterId::from_bytes([3; 16]),
                ..binding()
            },
            MetadataBinding {
                document_id: DocumentId::from_bytes([3; 16]),
                ..binding()
            },
            MetadataBinding {
                version: VersionNumber::new(2).unwrap(),
                ..binding()
            },
        ];
        for other in others {
            assert_eq!(
                sealed.open(&file_key(9), &other),
                Err(OpenError::DecryptionFailed)
            );
        }
        assert_eq!(
            sealed.open(&file_key(8), &binding()),
            Err(OpenError::DecryptionFailed)
        );
        for i in 0..sealed.as_bytes().len() * 8 {
            let mut bytes = sealed.as_bytes().to_vec();
            bytes[i / 8] ^= 1 << (i % 8);
            assert_eq!(
                SealedMetadata::from_bytes(bytes).open(&file_key(9), &binding()),
                Err(OpenError::DecryptionFailed),
                "bit {i}"
            );
        }
        for len in [0, 15, 16, sealed.as_bytes().len() - 1] {
            let bytes = sealed.as_bytes()[..len].to_vec();
            assert_eq!(
                SealedMetadata::from_bytes(bytes).open(&file_key(9), &binding()),
                Err(OpenError::DecryptionFailed)
            );
        }
    }

    #[test]
    fn oversized_ciphertext_is_rejected_before_decryption() {
        let big = SealedMetadata::from_bytes(vec![0; MAX_SEALED_METADATA_LEN + 1]);
        assert_eq!(
            big.open(&file_key(9), &binding()),
            Err(OpenError::DecryptionFailed)
        );
    }

    #[test]
    fn the_largest_metadata_fits_the_sealed_bound() {
        let name = "n".repeat(MAX_FILE_NAME_LEN);
        let mime = format!("a/{}", "b".repeat(MAX_MIME_TYPE_LEN - 2));
        let meta = Metadata::new(name, mime, u64::MAX, [0xff; 32]).unwrap();
        let sealed = meta.seal(&file_key(1), &binding());
        let len = sealed.as_bytes().len();
        assert!(len > 1024 && len <= MAX_SEALED_METADATA_LEN, "{len}");
        assert_eq!(sealed.open(&file_key(1), &binding()), Ok(meta));
    }

    #[test]
    fn names_and_types_are_checked() {
        for bad in [
            "",
            ".",
            "..",
            "a/b.pdf",
            "..\\evil.exe",
            "a\0b",
            "invoice\u{202e}fdp.exe",
        ] {
            assert_eq!(
                Metadata::new(bad, "text/plain", 0, [0; 32]),
                Err(MetadataError::InvalidFileName),
                "{bad:?}"
            );
        }
        for bad in ["", "pdf", " text/plain", "text/pl\u{e9}in", "text/\nplain"] {
            assert_eq!(
                Metadata::new("a.txt", bad, 0, [0; 32]),
                Err(MetadataError::InvalidMimeType),
                "{bad:?}"
            );
        }
        assert!(
            Metadata::new(
                "Pièce 12 – déclaration.pdf",
                "text/plain; charset=utf-8",
                0,
                [0; 32]
            )
            .is_ok()
        );
    }

    #[test]
    fn debug_does_not_print_metadata() {
        let shown = format!("{:?}", sample());
        assert!(!shown.contains("Settlement"));
    }

    #[test]
    fn associated_data_is_the_documented_map() {
        let aad = binding().associated_data();
        let mut want = vec![0xa3, 0x00, 0x50];
        want.extend_from_slice(&[1; 16]);
        want.extend_from_slice(&[0x01, 0x50]);
        want.extend_from_slice(&[2; 16]);
        want.extend_from_slice(&[0x02, 0x01]);
        assert_eq!(aad, want);
    }
}
