//! The age v1 header: version line, recipient stanzas, and the header MAC
//! (spec: `spec/age.md` §Header).
//!
//! Parsing is strict — only the canonical encoding is accepted, so a parsed
//! header re-encodes to the very bytes it was read from — and bounded: it
//! reads at most [`MAX_HEADER_LEN`] bytes and [`MAX_STANZAS`] stanzas from a
//! [`BufRead`], and never consumes a byte past the header, so the payload
//! can be read from the same reader afterwards.

use std::io::{self, BufRead, Write};

use hkdf::Hkdf;
use hmac::{KeyInit as _, Mac as _};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::DecryptError;
use super::labels::HEADER_MAC_INFO;
use super::stanza::{self, STANZA_PREFIX, Stanza};
use crate::secret::{FileKey, constant_time_eq};

/// The first line of every age v1 file, without its LF.
pub const VERSION_LINE: &[u8] = b"age-encryption.org/v1";
/// What every age version line starts with; anything after it names the
/// version.
pub(crate) const VERSION_PREFIX: &[u8] = b"age-encryption.org/";
/// The start of the MAC line; the MAC covers the header through these three
/// bytes.
const MAC_PREFIX: &[u8] = b"---";
/// Length of the header MAC (HMAC-SHA-256).
pub const MAC_LEN: usize = 32;
/// Length of the base64 encoding of the MAC.
const MAC_BASE64_LEN: usize = 43;

/// The largest header this implementation reads: 1 MiB, from the version
/// line through the LF that ends the MAC line (spec: `spec/age.md`
/// §Limits).
pub const MAX_HEADER_LEN: usize = 1 << 20;
/// The most stanzas a header may carry (spec: `spec/age.md` §Limits). Each
/// stanza may cost a scalar multiplication per identity before the header
/// can be authenticated, so the count is bounded separately from the size.
pub const MAX_STANZAS: usize = 256;

/// Why a header (or a stanza in it) was rejected.
///
/// Every variant is a "header failure" in the age test-vector
/// classification. None carries header bytes or key material.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// The input does not start with `age-encryption.org/`.
    #[error("not an age file")]
    NotAgeFile,
    /// The version line names a version other than `v1`.
    #[error("unsupported age format version")]
    UnsupportedVersion,
    /// The input ends inside the header.
    #[error("age header is truncated")]
    Truncated,
    /// The header exceeds [`MAX_HEADER_LEN`] bytes or [`MAX_STANZAS`]
    /// stanzas.
    #[error("age header exceeds the size or stanza limit")]
    TooLarge,
    /// A line is neither a stanza nor the MAC line where one is expected.
    #[error("age header has an unexpected line")]
    InvalidLine,
    /// A stanza has no arguments, an empty argument, or a character outside
    /// printable ASCII.
    #[error("age stanza has an invalid argument")]
    InvalidArgument,
    /// A stanza body is not canonical unpadded base64 wrapped at 64 columns
    /// and ended by a short line.
    #[error("age stanza body is not canonical")]
    InvalidBody,
    /// The MAC line is not `--- ` followed by the canonical base64 of 32
    /// bytes.
    #[error("age header mac line is malformed")]
    InvalidMacLine,
    /// The header has no stanza.
    #[error("age header has no recipient stanzas")]
    NoStanzas,
    /// An `X25519` stanza has the wrong number of arguments, a share that is
    /// not the canonical base64 of 32 bytes, or a body that is not 32 bytes.
    #[error("malformed X25519 recipient stanza")]
    InvalidX25519Stanza,
    /// An `X25519` stanza's share is a low-order point, so the shared secret
    /// would be all zero.
    #[error("X25519 recipient stanza gives an all-zero shared secret")]
    ZeroSharedSecret,
    /// An `scrypt` stanza has the wrong number of arguments, a salt that is
    /// not the canonical base64 of 16 bytes, a work factor that is not a
    /// decimal number without leading zeros, or a body that is not 32 bytes.
    #[error("malformed scrypt recipient stanza")]
    InvalidScryptStanza,
    /// An `scrypt` stanza's work factor is above the caller's limit.
    #[error("scrypt work factor exceeds the limit")]
    ScryptWorkFactorTooHigh,
    /// An `scrypt` stanza appears alongside other stanzas.
    #[error("an scrypt stanza must be the only stanza in the header")]
    ScryptNotAlone,
    /// The file ends before the 16-byte payload nonce that follows the
    /// header. The age test vectors count this as a header failure.
    #[error("file ends before the payload nonce")]
    TruncatedNonce,
}

/// A header-reading failure: a format error, or the reader's own error.
#[derive(Debug)]
pub(crate) enum ReadError {
    Header(HeaderError),
    Io(io::Error),
}

impl From<HeaderError> for ReadError {
    fn from(e: HeaderError) -> Self {
        Self::Header(e)
    }
}

impl ReadError {
    /// For in-memory input, which cannot fail to read: any I/O error is
    /// reported as truncation.
    pub(crate) fn into_header_error(self) -> HeaderError {
        match self {
            Self::Header(e) => e,
            Self::Io(_) => HeaderError::Truncated,
        }
    }
}

impl From<ReadError> for DecryptError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Header(e) => Self::Header(e),
            ReadError::Io(e) => Self::from(e),
        }
    }
}

/// Reads LF-terminated lines from a [`BufRead`], keeping every byte read
/// (for the MAC) and refusing to read more than a fixed budget.
pub(crate) struct LineReader<'a, R: ?Sized> {
    inner: &'a mut R,
    remaining: usize,
    /// Every byte read so far, LFs included.
    raw: Vec<u8>,
    /// Where the most recent line starts in `raw`.
    line_start: usize,
}

impl<'a, R: BufRead + ?Sized> LineReader<'a, R> {
    pub(crate) fn new(inner: &'a mut R, budget: usize) -> Self {
        Self {
            inner,
            remaining: budget,
            raw: Vec::new(),
            line_start: 0,
        }
    }

    /// The next line, without its LF. Consumes exactly the line and its LF
    /// from the underlying reader.
    pub(crate) fn next_line(&mut self) -> Result<&[u8], ReadError> {
        self.line_start = self.raw.len();
        loop {
            let available = match self.inner.fill_buf() {
                Ok(available) => available,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ReadError::Io(e)),
            };
            if available.is_empty() {
                return Err(HeaderError::Truncated.into());
            }
            let newline = available.iter().position(|&b| b == b'\n');
            let take = newline.map_or(available.len(), |i| i + 1);
            if take > self.remaining {
                return Err(HeaderError::TooLarge.into());
            }
            self.remaining -= take;
            self.raw
                .extend_from_slice(available.get(..take).unwrap_or_default());
            self.inner.consume(take);
            if newline.is_some() {
                let end = self.raw.len().saturating_sub(1);
                return Ok(self.raw.get(self.line_start..end).unwrap_or_default());
            }
        }
    }

    /// Everything read before the current line, plus the first `keep` bytes
    /// of the current line.
    fn into_raw_through(mut self, keep: usize) -> Vec<u8> {
        self.raw.truncate(self.line_start.saturating_add(keep));
        self.raw
    }
}

/// A parsed or built age v1 header (spec: `spec/age.md` §Header).
///
/// A parsed header's MAC has not been checked: that needs the file key,
/// which comes from unwrapping one of its stanzas. [`Header::verify_mac`]
/// does it; [`super::Decryptor`] always calls it before releasing a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    stanzas: Vec<Stanza>,
    mac: [u8; MAC_LEN],
    /// The exact bytes the MAC covers: the header through `---`.
    mac_input: Vec<u8>,
}

impl Header {
    /// Builds the header for `stanzas`, computing its MAC with `file_key`
    /// (spec: `spec/age.md` §Header MAC).
    ///
    /// This is how the vault produces the header of one party's export:
    /// that party's stanza alone, under the version's file key.
    pub fn build(stanzas: Vec<Stanza>, file_key: &FileKey) -> Result<Self, HeaderError> {
        if stanzas.is_empty() {
            return Err(HeaderError::NoStanzas);
        }
        if stanzas.len() > MAX_STANZAS {
            return Err(HeaderError::TooLarge);
        }
        let mut mac_input = Vec::new();
        mac_input.extend_from_slice(VERSION_LINE);
        mac_input.push(b'\n');
        for s in &stanzas {
            s.encode_to(&mut mac_input);
        }
        mac_input.extend_from_slice(MAC_PREFIX);
        if mac_input.len() + 1 + MAC_BASE64_LEN + 1 > MAX_HEADER_LEN {
            return Err(HeaderError::TooLarge);
        }
        let mac = compute_mac(file_key, &mac_input);
        Ok(Self {
            stanzas,
            mac,
            mac_input,
        })
    }

    /// Parses the header at the start of `bytes`, returning it and the
    /// number of bytes it occupies; the payload starts right after.
    pub fn parse(bytes: &[u8]) -> Result<(Self, usize), HeaderError> {
        let mut input = bytes;
        let header = read_header(&mut input).map_err(ReadError::into_header_error)?;
        Ok((header, bytes.len() - input.len()))
    }

    /// Reads a header from `reader`, consuming exactly its bytes.
    ///
    /// Reads at most [`MAX_HEADER_LEN`] bytes. Errors are classified as
    /// [`DecryptError`]s: a malformed header is [`DecryptError::Header`],
    /// and a failure of an armored reader underneath is
    /// [`DecryptError::Armor`].
    pub fn read<R: BufRead + ?Sized>(reader: &mut R) -> Result<Self, DecryptError> {
        Ok(read_header(reader)?)
    }

    /// The recipient stanzas, in file order.
    #[must_use]
    pub fn stanzas(&self) -> &[Stanza] {
        &self.stanzas
    }

    /// The MAC carried on the `---` line.
    #[must_use]
    pub fn mac(&self) -> &[u8; MAC_LEN] {
        &self.mac
    }

    /// Checks the header MAC under `file_key`, in constant time (spec:
    /// `spec/age.md` §Header MAC). A mismatch is the detail-free
    /// [`DecryptError::HeaderMac`].
    pub fn verify_mac(&self, file_key: &FileKey) -> Result<(), DecryptError> {
        let expected = compute_mac(file_key, &self.mac_input);
        if constant_time_eq(&expected, &self.mac) {
            Ok(())
        } else {
            Err(DecryptError::HeaderMac)
        }
    }

    /// Length in bytes of [`Self::to_bytes`].
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        self.mac_input.len() + 1 + MAC_BASE64_LEN + 1
    }

    /// The header's exact bytes, through the LF that ends the MAC line.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        out.extend_from_slice(&self.mac_input);
        out.push(b' ');
        out.extend_from_slice(stanza::encode_base64(&self.mac).as_bytes());
        out.push(b'\n');
        out
    }

    /// Writes [`Self::to_bytes`] to `out`.
    pub fn write_to<W: Write + ?Sized>(&self, out: &mut W) -> io::Result<()> {
        out.write_all(&self.to_bytes())
    }
}

/// HMAC-SHA-256 under HKDF-SHA-256(ikm = file key, salt = empty,
/// info = "header").
fn compute_mac(file_key: &FileKey, mac_input: &[u8]) -> [u8; MAC_LEN] {
    let mut mac_key = Zeroizing::new([0u8; 32]);
    // 32 bytes is far below HKDF-SHA-256's output limit.
    let _ = Hkdf::<Sha256>::new(None, file_key.expose_secret())
        .expand(HEADER_MAC_INFO, mac_key.as_mut_slice());
    let mut mac = match hmac::Hmac::<Sha256>::new_from_slice(mac_key.as_slice()) {
        Ok(mac) => mac,
        // HMAC accepts keys of any length.
        Err(_) => return [0u8; MAC_LEN],
    };
    mac.update(mac_input);
    mac.finalize().into_bytes().into()
}

fn read_header<R: BufRead + ?Sized>(reader: &mut R) -> Result<Header, ReadError> {
    let mut lines = LineReader::new(reader, MAX_HEADER_LEN);
    let version = lines.next_line()?;
    if version != VERSION_LINE {
        return Err(if version.starts_with(VERSION_PREFIX) {
            HeaderError::UnsupportedVersion
        } else {
            HeaderError::NotAgeFile
        }
        .into());
    }
    let mut stanzas = Vec::new();
    loop {
        let line = lines.next_line()?;
        if let Some(rest) = line.strip_prefix(STANZA_PREFIX) {
            if stanzas.len() == MAX_STANZAS {
                return Err(HeaderError::TooLarge.into());
            }
            let (tag, args) = stanza::parse_arguments(rest)?;
            let body = stanza::read_body(&mut lines)?;
            // `parse_arguments` has checked every argument.
            stanzas.push(Stanza::new(&tag, args, body)?);
        } else if line.starts_with(MAC_PREFIX) {
            let mac = parse_mac_line(line)?;
            if stanzas.is_empty() {
                return Err(HeaderError::NoStanzas.into());
            }
            let mac_input = lines.into_raw_through(MAC_PREFIX.len());
            return Ok(Header {
                stanzas,
                mac,
                mac_input,
            });
        } else {
            return Err(HeaderError::InvalidLine.into());
        }
    }
}

/// `end = "--- " 43base64char LF`, the 43 characters being the canonical
/// encoding of the 32-byte MAC.
fn parse_mac_line(line: &[u8]) -> Result<[u8; MAC_LEN], HeaderError> {
    let encoded = line
        .strip_prefix(b"--- ".as_slice())
        .filter(|e| e.len() == MAC_BASE64_LEN && e.iter().all(|&b| stanza::is_base64_char(b)))
        .ok_or(HeaderError::InvalidMacLine)?;
    stanza::decode_base64(encoded)
        .and_then(|mac| <[u8; MAC_LEN]>::try_from(mac).ok())
        .ok_or(HeaderError::InvalidMacLine)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;

    fn key(byte: u8) -> FileKey {
        FileKey::from_array(&mut [byte; 16])
    }

    fn sample_stanzas() -> Vec<Stanza> {
        vec![
            Stanza::new("X25519", vec!["abc".into()], vec![7; 32]).unwrap(),
            Stanza::new("other", vec![], vec![]).unwrap(),
        ]
    }

    #[test]
    fn build_parse_round_trip_and_mac() {
        let header = Header::build(sample_stanzas(), &key(1)).unwrap();
        let mut bytes = header.to_bytes();
        assert_eq!(bytes.len(), header.encoded_len());
        assert!(bytes.starts_with(b"age-encryption.org/v1\n-> X25519 abc\n"));
        bytes.extend_from_slice(b"payload");
        let (parsed, used) = Header::parse(&bytes).unwrap();
        assert_eq!(used, header.encoded_len());
        assert_eq!(parsed, header);
        assert_eq!(parsed.to_bytes(), &bytes[..used]);
        assert!(parsed.verify_mac(&key(1)).is_ok());
        assert!(matches!(
            parsed.verify_mac(&key(2)),
            Err(DecryptError::HeaderMac)
        ));
    }

    #[test]
    fn mac_covers_the_header_through_the_dashes() {
        // HMAC-SHA-256 under the HKDF-derived key, computed independently.
        let header = Header::build(sample_stanzas(), &key(3)).unwrap();
        let bytes = header.to_bytes();
        let dashes = bytes.windows(4).position(|w| w == b"--- ").unwrap();
        let hk = Hkdf::<Sha256>::new(Some(&[]), &[3u8; 16]);
        let mut k = [0u8; 32];
        hk.expand(b"header", &mut k).unwrap();
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(&k).unwrap();
        mac.update(&bytes[..dashes + 3]);
        let expected: [u8; 32] = mac.finalize().into_bytes().into();
        assert_eq!(header.mac(), &expected);
    }

    #[test]
    fn rejects_malformed_headers() {
        let good = Header::build(sample_stanzas(), &key(1)).unwrap().to_bytes();
        let text = String::from_utf8(good.clone()).unwrap();
        let mac_line_start = text.find("--- ").unwrap();
        let cases: Vec<(Vec<u8>, HeaderError)> = vec![
            (b"".to_vec(), HeaderError::Truncated),
            (b"age-encryption.org/v1".to_vec(), HeaderError::Truncated),
            (
                b"age-encryption.org/v2\n".to_vec(),
                HeaderError::UnsupportedVersion,
            ),
            (b"hello\n".to_vec(), HeaderError::NotAgeFile),
            (
                text.replace("age-encryption.org/v1\n", "age-encryption.org/v1\r\n")
                    .into_bytes(),
                HeaderError::UnsupportedVersion,
            ),
            (
                format!("age-encryption.org/v1\n{}", &text[mac_line_start..]).into_bytes(),
                HeaderError::NoStanzas,
            ),
            (good[..good.len() - 1].to_vec(), HeaderError::Truncated),
            (
                text.replacen("--- ", "---  ", 1).into_bytes(),
                HeaderError::InvalidMacLine,
            ),
            (
                text.replacen("--- ", "---", 1).into_bytes(),
                HeaderError::InvalidMacLine,
            ),
            (
                text.replacen("\n-> other", "\n->other", 1).into_bytes(),
                HeaderError::InvalidLine,
            ),
            (
                text.replacen("-> other", "-> other ", 1).into_bytes(),
                HeaderError::InvalidArgument,
            ),
        ];
        for (bytes, expected) in cases {
            assert_eq!(
                Header::parse(&bytes).map(|_| ()),
                Err(expected),
                "{:?}",
                String::from_utf8_lossy(&bytes)
            );
        }
        // A MAC line with a trailing space or non-canonical last character.
        let mut trailing = good.clone();
        trailing.insert(good.len() - 1, b' ');
        assert_eq!(
            Header::parse(&trailing).map(|_| ()),
            Err(HeaderError::InvalidMacLine)
        );
    }

    #[test]
    fn limits_are_enforced_while_reading() {
        let many: Vec<Stanza> = (0..=MAX_STANZAS)
            .map(|_| Stanza::new("t", vec![], vec![]).unwrap())
            .collect();
        assert_eq!(Header::build(many, &key(1)), Err(HeaderError::TooLarge));
        // Write one stanza too many by hand.
        let mut text = b"age-encryption.org/v1\n".to_vec();
        for _ in 0..=MAX_STANZAS {
            text.extend_from_slice(b"-> t\n\n");
        }
        assert_eq!(Header::parse(&text).map(|_| ()), Err(HeaderError::TooLarge));
        // A line that never ends is cut off at the size limit.
        let mut endless = b"age-encryption.org/v1\n-> t\n".to_vec();
        endless.resize(MAX_HEADER_LEN + 10, b'A');
        assert_eq!(
            Header::parse(&endless).map(|_| ()),
            Err(HeaderError::TooLarge)
        );
    }

    #[test]
    fn read_stops_exactly_at_the_header_end() {
        let header = Header::build(sample_stanzas(), &key(1)).unwrap();
        let mut bytes = header.to_bytes();
        bytes.extend_from_slice(b"rest");
        let mut reader = std::io::BufReader::with_capacity(7, bytes.as_slice());
        let parsed = Header::read(&mut reader).unwrap();
        assert_eq!(parsed, header);
        let mut rest = Vec::new();
        std::io::Read::read_to_end(&mut reader, &mut rest).unwrap();
        assert_eq!(rest, b"rest");
    }
}
