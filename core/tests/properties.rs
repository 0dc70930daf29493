//! Property tests over the core's formats: the payload stream at every size
//! around its chunk boundaries, and canonical CBOR round trips of the
//! records and messages other parties parse. Each property is checked on
//! generated inputs; a failure prints the smallest input proptest finds.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::{Read as _, Write as _};

use lexvault_core::age::stream::{CHUNK_SIZE, ENCRYPTED_CHUNK_SIZE, PAYLOAD_NONCE_LEN, TAG_LEN};
use lexvault_core::age::{PayloadError, StreamReader, StreamWriter};
use lexvault_core::api::{self, ActorHead, LogEntries, Receipt};
use lexvault_core::keys::SigningSecretKey;
use lexvault_core::log_entry::LogEntry;
use lexvault_core::request::{BodyDigest, ChainPosition, RequestTarget, SignedRequest};
use lexvault_core::secret::FileKey;
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng as _;

fn file_key(seed: u8) -> FileKey {
    FileKey::from_array(&mut [seed; 16])
}

fn plaintext(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn encrypt(key: &FileKey, data: &[u8], write_size: usize, seed: u64) -> Vec<u8> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut writer = StreamWriter::new(key, Vec::new(), &mut rng).unwrap();
    for piece in data.chunks(write_size.max(1)) {
        writer.write_all(piece).unwrap();
    }
    writer.finish().unwrap()
}

/// Everything a reader releases, and how it ends.
fn decrypt(key: &FileKey, payload: &[u8], read_size: usize) -> (Vec<u8>, Result<(), PayloadError>) {
    let mut reader = match StreamReader::new(key, payload) {
        Ok(r) => r,
        Err(_) => return (Vec::new(), Err(PayloadError::Truncated)),
    };
    let mut out = Vec::new();
    let mut buf = vec![0u8; read_size.max(1)];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return (out, Ok(())),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => {
                let why = e
                    .get_ref()
                    .and_then(|i| i.downcast_ref::<PayloadError>())
                    .copied()
                    .unwrap_or(PayloadError::DecryptionFailed);
                return (out, Err(why));
            }
        }
    }
}

/// Sizes near the chunk boundaries: k chunks plus a small offset either way.
fn boundary_len() -> impl Strategy<Value = usize> {
    (0usize..4, -2isize..=2)
        .prop_map(|(chunks, offset)| (chunks * CHUNK_SIZE).saturating_add_signed(offset))
}

fn any_len() -> impl Strategy<Value = usize> {
    prop_oneof![boundary_len(), 0usize..3 * CHUNK_SIZE]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Whatever the size and however it is written and read, the plaintext
    /// comes back whole, and the payload has the length the format fixes.
    #[test]
    fn payloads_round_trip_at_every_size(
        len in any_len(),
        write_size in 1usize..(2 * CHUNK_SIZE),
        read_size in 1usize..(2 * ENCRYPTED_CHUNK_SIZE),
        seed in any::<u8>(),
    ) {
        let key = file_key(seed);
        let data = plaintext(len, seed);
        let payload = encrypt(&key, &data, write_size, u64::from(seed));
        let chunks = len.div_ceil(CHUNK_SIZE).max(1);
        prop_assert_eq!(payload.len(), PAYLOAD_NONCE_LEN + len + chunks * TAG_LEN);
        let (out, end) = decrypt(&key, &payload, read_size);
        prop_assert_eq!(end, Ok(()));
        prop_assert!(out == data);
    }

    /// A payload cut anywhere short of its end never reads as complete, and
    /// what it releases is a prefix of the plaintext.
    #[test]
    fn truncated_payloads_never_finish(
        len in boundary_len(),
        cut in any::<prop::sample::Index>(),
        seed in any::<u8>(),
    ) {
        let key = file_key(seed);
        let data = plaintext(len, seed);
        let payload = encrypt(&key, &data, CHUNK_SIZE, 7);
        let at = cut.index(payload.len());
        let (out, end) = decrypt(&key, &payload[..at], 4096);
        prop_assert!(end.is_err(), "cut at {at} of {}", payload.len());
        prop_assert!(data.starts_with(&out));
        prop_assert!(out.len() < data.len() || data.is_empty());
    }

    /// One flipped bit anywhere makes the read fail, releasing only
    /// plaintext from chunks before the damaged one.
    #[test]
    fn a_flipped_bit_is_always_caught(
        len in boundary_len(),
        position in any::<prop::sample::Index>(),
        bit in 0u8..8,
        seed in any::<u8>(),
    ) {
        let key = file_key(seed);
        let data = plaintext(len, seed);
        let mut payload = encrypt(&key, &data, CHUNK_SIZE, 9);
        let at = position.index(payload.len());
        payload[at] ^= 1 << bit;
        let (out, end) = decrypt(&key, &payload, 4096);
        prop_assert!(end.is_err(), "bit {bit} of byte {at}");
        let damaged_chunk = at.saturating_sub(PAYLOAD_NONCE_LEN) / ENCRYPTED_CHUNK_SIZE;
        let released_limit = if at < PAYLOAD_NONCE_LEN { 0 } else { damaged_chunk * CHUNK_SIZE };
        prop_assert!(out.len() <= released_limit);
        prop_assert!(data.starts_with(&out));
    }

    /// Signed requests round-trip through their header form with every
    /// field intact, whatever the target and chain position.
    #[test]
    fn signed_requests_round_trip(
        path in "/v1/[a-z0-9/]{0,64}",
        query in "[a-z0-9=&]{0,32}",
        body in prop::collection::vec(any::<u8>(), 0..256),
        sequence in any::<u64>(),
        previous in any::<[u8; 32]>(),
        now in 0u64..(1 << 40),
        seed in any::<u64>(),
    ) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let key = SigningSecretKey::generate(&mut rng);
        let target = RequestTarget {
            method: "POST".into(),
            path,
            query,
            body_digest: BodyDigest::of(&body),
        };
        let position = ChainPosition { sequence, previous };
        let signed = SignedRequest::sign(target.clone(), position, &key, now, &mut rng).unwrap();
        let parsed = SignedRequest::from_header(&signed.header_value()).unwrap();
        prop_assert_eq!(parsed.as_bytes(), signed.as_bytes());
        prop_assert_eq!(parsed.request().target(), &target);
        prop_assert_eq!(parsed.request().position(), position);
        prop_assert_eq!(parsed.request().timestamp(), now);
        prop_assert_eq!(parsed.signer(), &key.public_key());
    }

    /// Log entries and the log's messages decode to what was encoded, and
    /// the encoding is the only one accepted (one byte more or less is not).
    #[test]
    fn log_entries_and_messages_round_trip(
        index in any::<u64>(),
        at in any::<u64>(),
        kind in "[a-z][a-z-]{0,31}",
        actor in any::<[u8; 32]>(),
        matter in proptest::option::of(any::<[u8; 16]>()),
        document in proptest::option::of(any::<[u8; 16]>()),
        version in proptest::option::of(any::<u32>()),
        subject in proptest::option::of(any::<[u8; 32]>()),
        evidence in prop::collection::vec(any::<u8>(), 0..512),
        proof in prop::collection::vec(any::<[u8; 32]>(), 0..8),
    ) {
        let entry = LogEntry {
            version: 1,
            index,
            at,
            kind,
            actor: actor.into(),
            matter_id: matter.map(Into::into),
            document_id: document.map(Into::into),
            document_version: version,
            subject: subject.map(Into::into),
            evidence: evidence.into(),
        };
        let bytes = entry.to_bytes();
        prop_assert_eq!(LogEntry::from_bytes(&bytes).unwrap(), entry.clone());
        let mut longer = bytes.clone();
        longer.push(0);
        prop_assert!(LogEntry::from_bytes(&longer).is_err());
        prop_assert!(LogEntry::from_bytes(&bytes[..bytes.len() - 1]).is_err());

        let receipt = Receipt {
            index,
            entry: bytes.clone().into(),
            checkpoint: b"origin\n1\nroot\n".to_vec().into(),
            proof: proof.into_iter().map(Into::into).collect(),
        };
        let head = ActorHead { last: Some(receipt) };
        let encoded = api::encode(&head);
        prop_assert_eq!(api::decode::<ActorHead>(&encoded).unwrap(), head);
        let entries = LogEntries { entries: vec![bytes.into()] };
        let encoded = api::encode(&entries);
        prop_assert_eq!(api::decode::<LogEntries>(&encoded).unwrap(), entries);
    }
}
