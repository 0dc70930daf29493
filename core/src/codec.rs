//! The one CBOR codec (spec: `spec/README.md` §CBOR).
//!
//! Every lexvault record is CBOR in RFC 8949 §4.2.1 core deterministic
//! encoding: definite lengths, shortest-form integers and lengths, map keys
//! (small unsigned integers) in ascending order, no tags, no floats. Records
//! are written with `minicbor`'s derive, whose output has exactly that shape
//! when fields are declared in key order.
//!
//! Decoding is strict: a record is accepted only if re-encoding the decoded
//! value reproduces the input byte for byte. That single rule rejects
//! non-shortest integers, indefinite lengths, unsorted or duplicate keys,
//! unknown keys and trailing bytes, without a hand-written validator that
//! could drift from the writer.

use minicbor::{Decode, Encode};

/// The largest CBOR record this crate decodes. Records are small (a grant is
/// a few hundred bytes); the bound keeps hostile input from costing memory.
pub const MAX_RECORD_LEN: usize = 64 * 1024;

/// Why a CBOR record was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The input is longer than [`MAX_RECORD_LEN`].
    #[error("record is too large")]
    TooLarge,
    /// The input is not CBOR of the expected shape.
    #[error("record is malformed")]
    Malformed,
    /// The input decodes but is not in deterministic encoding, or carries
    /// unknown fields or trailing bytes.
    #[error("record is not canonically encoded")]
    NotCanonical,
    /// A field holds a value outside its allowed range.
    #[error("record field {0} is out of range")]
    OutOfRange(&'static str),
}

/// Encodes `value` deterministically.
#[must_use]
pub fn encode<T: Encode<()>>(value: &T) -> Vec<u8> {
    let mut bytes = Vec::new();
    // Writing to a Vec is infallible; so is encoding our record types.
    let _ = minicbor::encode(value, &mut bytes);
    bytes
}

/// Decodes `bytes` as a `T`, accepting only the canonical encoding.
pub fn decode_canonical<'b, T>(bytes: &'b [u8]) -> Result<T, CodecError>
where
    T: Decode<'b, ()> + Encode<()>,
{
    decode_canonical_bounded(bytes, MAX_RECORD_LEN)
}

/// [`decode_canonical`] with another size bound, for messages that carry
/// many records.
pub fn decode_canonical_bounded<'b, T>(bytes: &'b [u8], max_len: usize) -> Result<T, CodecError>
where
    T: Decode<'b, ()> + Encode<()>,
{
    if bytes.len() > max_len {
        return Err(CodecError::TooLarge);
    }
    let value: T = minicbor::decode(bytes).map_err(|_| CodecError::Malformed)?;
    if encode(&value) != bytes {
        return Err(CodecError::NotCanonical);
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Encode, Decode)]
    #[cbor(map)]
    struct Sample {
        #[n(0)]
        version: u8,
        #[n(1)]
        count: u64,
        #[cbor(n(2), with = "minicbor::bytes")]
        tag: [u8; 4],
        #[n(3)]
        note: Option<String>,
    }

    fn sample() -> Sample {
        Sample {
            version: 1,
            count: 500,
            tag: *b"abcd",
            note: None,
        }
    }

    #[test]
    fn round_trip_is_byte_exact() {
        let bytes = encode(&sample());
        // {0: 1, 1: 500, 2: h'61626364'}
        assert_eq!(hex_of(&bytes), "a30001011901f4024461626364");
        assert_eq!(decode_canonical::<Sample>(&bytes), Ok(sample()));
    }

    fn hex_of(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn bytes_of(h: &str) -> Vec<u8> {
        hex::decode(h).unwrap_or_default()
    }

    #[test]
    fn rejects_non_canonical_forms() {
        let cases = [
            // 500 as a 4-byte integer instead of 2 bytes.
            ("a30001011a000001f4024461626364", CodecError::NotCanonical),
            // Keys out of order.
            ("a3011901f40001024461626364", CodecError::NotCanonical),
            // Indefinite-length map.
            ("bf0001011901f4024461626364ff", CodecError::NotCanonical),
            // Unknown key 9.
            ("a40001011901f40244616263640900", CodecError::NotCanonical),
            // Trailing byte.
            ("a30001011901f402446162636400", CodecError::NotCanonical),
            // Truncated.
            ("a30001011901f4024461", CodecError::Malformed),
        ];
        for (input, want) in cases {
            let got = decode_canonical::<Sample>(&bytes_of(input));
            assert_eq!(got, Err(want), "input {input}");
        }
    }

    #[test]
    fn rejects_oversized_input() {
        let big = vec![0u8; MAX_RECORD_LEN + 1];
        assert_eq!(decode_canonical::<Sample>(&big), Err(CodecError::TooLarge));
    }
}
