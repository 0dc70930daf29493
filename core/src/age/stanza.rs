//! Recipient stanzas: the generic `-> tag args…` + base64 body unit of an
//! age header (spec: `spec/age.md` §Stanzas).
//!
//! A [`Stanza`] knows nothing about what its body means; the recipient
//! types ([`super::x25519`], [`super::scrypt`]) interpret it. Its text
//! encoding is canonical — one encoding per value — so
//! [`Stanza::digest`] identifies a stanza's exact bytes, which is what a
//! grant binds (spec: `spec/age.md` §Stanza digest).

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use sha2::{Digest as _, Sha256};

use super::header::{HeaderError, LineReader, ReadError};

/// Body lines are wrapped at this many base64 characters; the last line of
/// every body is shorter (possibly empty).
pub const BODY_COLUMNS: usize = 64;

/// The prefix of a stanza's first line.
pub(crate) const STANZA_PREFIX: &[u8] = b"-> ";

/// One recipient stanza: a tag (the recipient type), further arguments, and
/// a binary body (spec: `spec/age.md` §Stanzas).
///
/// Every value of this type is encodable: the tag and the arguments are
/// non-empty strings of printable ASCII without spaces (`%x21-7E`), checked
/// by [`Stanza::new`] and by the parser.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Stanza {
    tag: String,
    args: Vec<String>,
    body: Vec<u8>,
}

impl Stanza {
    /// Builds a stanza, checking that the tag and every argument are
    /// non-empty and made only of printable ASCII other than space.
    pub fn new(tag: &str, args: Vec<String>, body: Vec<u8>) -> Result<Self, HeaderError> {
        if !is_argument(tag.as_bytes()) || !args.iter().all(|a| is_argument(a.as_bytes())) {
            return Err(HeaderError::InvalidArgument);
        }
        Ok(Self {
            tag: tag.to_owned(),
            args,
            body,
        })
    }

    /// For recipient implementations whose tag and arguments are valid by
    /// construction (fixed tags, base64 and decimal arguments).
    pub(crate) fn from_parts_unchecked(tag: &str, args: Vec<String>, body: Vec<u8>) -> Self {
        debug_assert!(
            is_argument(tag.as_bytes()) && args.iter().all(|a| is_argument(a.as_bytes()))
        );
        Self {
            tag: tag.to_owned(),
            args,
            body,
        }
    }

    /// The recipient type: the stanza's first argument (`X25519`, `scrypt`,
    /// …).
    #[must_use]
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// The arguments after the tag.
    #[must_use]
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// The decoded body.
    #[must_use]
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Length in bytes of [`Self::to_bytes`].
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        let arg_line = STANZA_PREFIX.len()
            + self.tag.len()
            + self.args.iter().map(|a| 1 + a.len()).sum::<usize>()
            + 1;
        let chars = base64::encoded_len(self.body.len(), false).unwrap_or(usize::MAX);
        // Every full line and the final short line each end with LF.
        let lines = chars / BODY_COLUMNS + 1;
        arg_line.saturating_add(chars).saturating_add(lines)
    }

    /// Appends the canonical encoding (spec: `spec/age.md` §Stanzas): the
    /// argument line, then the body in unpadded base64 wrapped at 64
    /// columns, ending with a line shorter than 64 characters (empty if the
    /// encoded body fills its last line exactly).
    pub fn encode_to(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len());
        out.extend_from_slice(STANZA_PREFIX);
        out.extend_from_slice(self.tag.as_bytes());
        for arg in &self.args {
            out.push(b' ');
            out.extend_from_slice(arg.as_bytes());
        }
        out.push(b'\n');
        let encoded = STANDARD_NO_PAD.encode(&self.body);
        let mut lines = encoded.as_bytes().chunks(BODY_COLUMNS);
        for line in lines.by_ref() {
            out.extend_from_slice(line);
            out.push(b'\n');
        }
        if encoded.len().is_multiple_of(BODY_COLUMNS) {
            // The body must end with a short line; here it is empty.
            out.push(b'\n');
        }
    }

    /// The canonical encoding, from `-> ` through the LF that ends the last
    /// body line.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_to(&mut out);
        out
    }

    /// SHA-256 of [`Self::to_bytes`] (spec: `spec/age.md` §Stanza digest).
    ///
    /// Grants carry this digest, so that a server cannot swap the stanza a
    /// grant was issued with. The encoding is canonical and the parser
    /// accepts only canonical encodings, so a stanza has exactly one digest.
    #[must_use]
    pub fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.to_bytes()).into()
    }

    /// Parses exactly one stanza in its canonical encoding, with nothing
    /// before or after it.
    ///
    /// For stanzas stored apart from a header; inside a header use
    /// [`super::Header::parse`].
    pub fn parse(bytes: &[u8]) -> Result<Self, HeaderError> {
        let mut input = bytes;
        let mut lines = LineReader::new(&mut input, super::header::MAX_HEADER_LEN);
        let parsed = (|| {
            let first = lines.next_line()?;
            let first = first
                .strip_prefix(STANZA_PREFIX)
                .ok_or(HeaderError::InvalidLine)?;
            let (tag, args) = parse_arguments(first)?;
            let body = read_body(&mut lines)?;
            Ok(Self { tag, args, body })
        })();
        let stanza = parsed.map_err(ReadError::into_header_error)?;
        if !input.is_empty() {
            return Err(HeaderError::InvalidLine);
        }
        Ok(stanza)
    }
}

impl fmt::Debug for Stanza {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Bodies are ciphertext, but there is no reason to print them.
        f.debug_struct("Stanza")
            .field("tag", &self.tag)
            .field("args", &self.args)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// `argument = 1*VCHAR`: non-empty printable ASCII without spaces.
fn is_argument(arg: &[u8]) -> bool {
    !arg.is_empty() && arg.iter().all(|&b| (0x21..=0x7e).contains(&b))
}

/// Splits the rest of an argument line (after `-> `) into tag and
/// arguments: one or more arguments separated by single spaces.
pub(crate) fn parse_arguments(line: &[u8]) -> Result<(String, Vec<String>), HeaderError> {
    let mut parts = line.split(|&b| b == b' ');
    let tag = parts.next().ok_or(HeaderError::InvalidArgument)?;
    let tag = argument_string(tag)?;
    let args = parts.map(argument_string).collect::<Result<Vec<_>, _>>()?;
    Ok((tag, args))
}

fn argument_string(arg: &[u8]) -> Result<String, HeaderError> {
    if !is_argument(arg) {
        return Err(HeaderError::InvalidArgument);
    }
    // Printable ASCII is valid UTF-8.
    String::from_utf8(arg.to_vec()).map_err(|_| HeaderError::InvalidArgument)
}

/// Reads body lines up to and including the first line shorter than 64
/// columns, and decodes them as canonical unpadded base64.
pub(crate) fn read_body<R: std::io::BufRead + ?Sized>(
    lines: &mut LineReader<'_, R>,
) -> Result<Vec<u8>, ReadError> {
    let mut encoded = Vec::new();
    loop {
        let line = lines.next_line()?;
        if line.len() > BODY_COLUMNS || !line.iter().all(|&b| is_base64_char(b)) {
            return Err(HeaderError::InvalidBody.into());
        }
        encoded.extend_from_slice(line);
        if line.len() < BODY_COLUMNS {
            break;
        }
    }
    decode_base64(&encoded).ok_or_else(|| HeaderError::InvalidBody.into())
}

/// `base64char = ALPHA / DIGIT / "+" / "/"`.
pub(crate) fn is_base64_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
}

/// Decodes canonical, unpadded, standard-alphabet base64 (spec:
/// `spec/age.md` §Conventions): no padding, no whitespace, and unused
/// trailing bits must be zero.
pub(crate) fn decode_base64(encoded: &[u8]) -> Option<Vec<u8>> {
    STANDARD_NO_PAD.decode(encoded).ok()
}

/// Decodes a canonical unpadded base64 argument of exactly `N` bytes.
pub(crate) fn decode_base64_array<const N: usize>(encoded: &str) -> Option<[u8; N]> {
    decode_base64(encoded.as_bytes())?.try_into().ok()
}

/// Unpadded standard base64.
pub(crate) fn encode_base64(bytes: &[u8]) -> String {
    STANDARD_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;

    fn stanza(tag: &str, args: &[&str], body: &[u8]) -> Stanza {
        Stanza::new(
            tag,
            args.iter().map(|s| (*s).to_owned()).collect(),
            body.to_vec(),
        )
        .unwrap()
    }

    #[test]
    fn encodes_with_a_final_short_line() {
        let s = stanza("X25519", &["abc"], &[]);
        assert_eq!(s.to_bytes(), b"-> X25519 abc\n\n");
        // 48 bytes encode to exactly 64 columns, so an empty line follows.
        let s = stanza("t", &[], &[0u8; 48]);
        let text = s.to_bytes();
        assert_eq!(text.len(), 5 + 65 + 1);
        assert!(text.ends_with(b"AAAA\n\n"));
        let s = stanza("t", &[], &[0u8; 49]);
        let text = s.to_bytes();
        assert!(text.ends_with(b"AAAA\nAA\n"));
    }

    #[test]
    fn round_trips_and_encoded_len_is_exact() {
        for len in [0usize, 1, 2, 3, 31, 32, 47, 48, 49, 95, 96, 97, 200] {
            let body: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let s = stanza("some-type", &["a", "b+/=", "~!"], &body);
            let bytes = s.to_bytes();
            assert_eq!(bytes.len(), s.encoded_len(), "len {len}");
            assert_eq!(Stanza::parse(&bytes).unwrap(), s, "len {len}");
        }
    }

    #[test]
    fn digest_is_sha256_of_the_exact_encoding() {
        let s = stanza("X25519", &["abc"], &[1, 2, 3]);
        let expected: [u8; 32] = Sha256::digest(b"-> X25519 abc\nAQID\n").into();
        assert_eq!(s.digest(), expected);
        let other = stanza("X25519", &["abd"], &[1, 2, 3]);
        assert_ne!(s.digest(), other.digest());
    }

    #[test]
    fn rejects_invalid_arguments() {
        for bad in ["", "a b", "a\n", "é", "a\r"] {
            assert_eq!(
                Stanza::new(bad, vec![], vec![]),
                Err(HeaderError::InvalidArgument)
            );
            assert_eq!(
                Stanza::new("t", vec![bad.to_owned()], vec![]),
                Err(HeaderError::InvalidArgument)
            );
        }
    }

    #[test]
    fn parse_rejects_non_canonical_forms() {
        let cases: &[&[u8]] = &[
            b"-> \n\n",        // no arguments
            b"-> a  b\n\n",    // empty argument
            b"-> a \n\n",      // trailing space
            b"->a\n\n",        // missing space
            b"-> a\nAQI=\n",   // padding
            b"-> a\nAQJ\n",    // non-zero trailing bits
            b"-> a\nA\n",      // impossible length
            b"-> a\nAQ ID\n",  // space in body
            b"-> a\r\n\n",     // CR in argument line
            b"-> a\nAQID\r\n", // CR in body
            b"-> a\n",         // missing final line
            b"-> a\nAQID\n\n", // trailing empty line
            b"-> a\nAQID",     // missing LF
            b"-> a\n\nextra",  // trailing bytes
        ];
        for case in cases {
            assert!(
                Stanza::parse(case).is_err(),
                "accepted {:?}",
                String::from_utf8_lossy(case)
            );
        }
        // A 65-column line.
        let mut long = b"-> a\n".to_vec();
        long.extend_from_slice(&[b'A'; 65]);
        long.extend_from_slice(b"\n\n");
        assert_eq!(Stanza::parse(&long), Err(HeaderError::InvalidBody));
        // Two short lines.
        assert!(Stanza::parse(b"-> a\nAQID\nAQID\n").is_err());
    }
}
