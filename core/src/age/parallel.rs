//! Whole-payload STREAM encryption and decryption in memory, on all cores
//! (feature `parallel`; native only, the wasm build leaves it off).
//!
//! The chunks of a payload are independent given the payload key, the
//! counter and the last flag (spec: `spec/age.md` §Payload), so a payload
//! held in memory can be sealed or opened chunk by chunk on rayon's thread
//! pool. Every chunk goes through [`PayloadKey::seal_chunk`] or
//! [`PayloadKey::open_chunk`], the same functions the sequential
//! [`PayloadEncryptor`](super::stream::PayloadEncryptor) and
//! [`PayloadDecryptor`](super::stream::PayloadDecryptor) use, so the bytes
//! are the same as theirs.
//!
//! The in-place functions work on the *sealed layout*: the payload without
//! its nonce, one [`ENCRYPTED_CHUNK_SIZE`] slot per chunk, the last slot
//! shorter. Before sealing, each slot holds its plaintext followed by
//! [`TAG_LEN`] spare bytes; after opening, each slot holds its plaintext
//! followed by the (now meaningless) tag.

use rand_core::CryptoRng;
use rayon::prelude::*;

use super::stream::{
    CHUNK_SIZE, ENCRYPTED_CHUNK_SIZE, PAYLOAD_NONCE_LEN, PayloadError, PayloadKey, TAG_LEN,
};
use crate::secret::FileKey;

/// Checks, before anything is sealed, that `len` bytes form a valid sealed
/// layout, with the errors [`PayloadKey::seal_chunk`] would give, and
/// returns the number of chunks.
fn sealed_chunk_count(len: usize) -> Result<usize, PayloadError> {
    let chunks = len.div_ceil(ENCRYPTED_CHUNK_SIZE).max(1);
    let last_len = len.saturating_sub((chunks - 1) * ENCRYPTED_CHUNK_SIZE);
    if last_len < TAG_LEN {
        return Err(PayloadError::InvalidChunkLength);
    }
    if last_len == TAG_LEN && chunks > 1 {
        return Err(PayloadError::EmptyLastChunk);
    }
    Ok(chunks)
}

/// Encrypts every chunk of `chunks`, in the sealed layout, in place and in
/// parallel; the last slot is sealed as the last chunk.
///
/// `chunks` is the plaintext laid out one [`ENCRYPTED_CHUNK_SIZE`] slot per
/// chunk, each slot's last [`TAG_LEN`] bytes spare (see
/// [`sealed_layout`]). The result is the payload after its nonce,
/// byte for byte what [`PayloadEncryptor`](super::stream::PayloadEncryptor)
/// produces. The layout is checked before any chunk is touched.
pub fn seal_chunks(key: &PayloadKey, chunks: &mut [u8]) -> Result<(), PayloadError> {
    let count = sealed_chunk_count(chunks.len())?;
    chunks
        .par_chunks_mut(ENCRYPTED_CHUNK_SIZE)
        .enumerate()
        .try_for_each(|(i, chunk)| key.seal_chunk(i as u64, i + 1 == count, chunk))
}

/// Authenticates and decrypts every chunk of `chunks` (a payload after its
/// nonce) in place and in parallel, returning the plaintext length.
///
/// On success each slot holds its chunk's plaintext at its start, followed
/// by [`TAG_LEN`] unused bytes; [`compact`] gathers them. Every chunk but
/// the final one must be a middle chunk and the final one must carry the
/// last flag. On failure the error is the one the sequential
/// [`PayloadDecryptor`](super::stream::PayloadDecryptor) meets first and
/// the whole buffer is zeroed, so no plaintext is released.
pub fn open_chunks(key: &PayloadKey, chunks: &mut [u8]) -> Result<usize, PayloadError> {
    if chunks.is_empty() {
        return Err(PayloadError::Truncated);
    }
    // A final slot too short to be a chunk fails in `open_chunk`, at its
    // place in the order, as it would sequentially.
    let count = chunks.len().div_ceil(ENCRYPTED_CHUNK_SIZE);
    let first_error = chunks
        .par_chunks_mut(ENCRYPTED_CHUNK_SIZE)
        .enumerate()
        .filter_map(|(i, chunk)| {
            let final_slot = i + 1 == count;
            let error = match key.open_chunk(i as u64, chunk) {
                Err(e) => Some(e),
                // A last chunk with more after it.
                Ok(opened) if opened.last && !final_slot => Some(PayloadError::TrailingData),
                // The input ends without a last chunk.
                Ok(opened) if !opened.last && final_slot => Some(PayloadError::Truncated),
                Ok(_) => None,
            };
            error.map(|e| (i, e))
        })
        .min_by_key(|&(i, _)| i);
    if let Some((_, e)) = first_error {
        chunks.fill(0);
        return Err(e);
    }
    Ok(chunks.len() - count * TAG_LEN)
}

/// The sealed layout of `plaintext`: each [`CHUNK_SIZE`] piece followed by
/// [`TAG_LEN`] spare bytes, ready for [`seal_chunks`]. An empty plaintext
/// gives one empty chunk.
#[must_use]
pub fn sealed_layout(plaintext: &[u8]) -> Vec<u8> {
    let chunks = plaintext.len().div_ceil(CHUNK_SIZE).max(1);
    let mut buf = vec![0u8; plaintext.len() + chunks * TAG_LEN];
    buf.par_chunks_mut(ENCRYPTED_CHUNK_SIZE)
        .zip(plaintext.par_chunks(CHUNK_SIZE))
        .for_each(|(slot, piece)| {
            if let Some(dst) = slot.get_mut(..piece.len()) {
                dst.copy_from_slice(piece);
            }
        });
    buf
}

/// Gathers the plaintext that [`open_chunks`] left in each slot of
/// `chunks` into one contiguous buffer.
#[must_use]
pub fn compact(chunks: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(chunks.len());
    for slot in chunks.chunks(ENCRYPTED_CHUNK_SIZE) {
        out.extend_from_slice(
            slot.get(..slot.len().saturating_sub(TAG_LEN))
                .unwrap_or_default(),
        );
    }
    out
}

/// Encrypts `plaintext` as a whole payload — nonce, then chunks — under
/// `file_key`, with a fresh nonce from `rng`, on all cores.
///
/// Same bytes as [`StreamWriter`](super::stream::StreamWriter) given the
/// same `rng`. `file_key` must be fresh for this payload (spec:
/// `spec/age.md` §File key).
pub fn encrypt_payload<R: CryptoRng + ?Sized>(
    file_key: &FileKey,
    plaintext: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, PayloadError> {
    let mut nonce = [0u8; PAYLOAD_NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    let key = PayloadKey::derive(file_key, &nonce);
    let mut chunks = sealed_layout(plaintext);
    seal_chunks(&key, &mut chunks)?;
    let mut payload = Vec::with_capacity(PAYLOAD_NONCE_LEN + chunks.len());
    payload.extend_from_slice(&nonce);
    payload.extend_from_slice(&chunks);
    Ok(payload)
}

/// Decrypts a whole payload — nonce, then chunks — under `file_key`, on
/// all cores, returning the plaintext.
///
/// Fails like [`StreamReader`](super::stream::StreamReader) on the same
/// input, but releases nothing on failure.
pub fn decrypt_payload(file_key: &FileKey, payload: &[u8]) -> Result<Vec<u8>, PayloadError> {
    let (nonce, chunks) = payload
        .split_first_chunk::<PAYLOAD_NONCE_LEN>()
        .ok_or(PayloadError::Truncated)?;
    let key = PayloadKey::derive(file_key, nonce);
    let mut chunks = chunks.to_vec();
    let len = open_chunks(&key, &mut chunks)?;
    let plaintext = compact(&chunks);
    debug_assert_eq!(plaintext.len(), len);
    Ok(plaintext)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use std::io::{Read as _, Write as _};

    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng as _;

    use super::*;
    use crate::age::stream::{PayloadDecryptor, StreamReader, StreamWriter};

    const SIZES: [usize; 5] = [0, 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 5];

    fn key() -> FileKey {
        FileKey::from_array(&mut [9; 16])
    }

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    fn rng() -> ChaCha20Rng {
        ChaCha20Rng::from_seed([5; 32])
    }

    fn sequential_encrypt(plaintext: &[u8]) -> Vec<u8> {
        let mut w = StreamWriter::new(&key(), Vec::new(), &mut rng()).unwrap();
        w.write_all(plaintext).unwrap();
        w.finish().unwrap()
    }

    fn sequential_decrypt(payload: &[u8]) -> Result<Vec<u8>, PayloadError> {
        let mut out = Vec::new();
        StreamReader::new(&key(), payload)
            .unwrap()
            .read_to_end(&mut out)
            .map_err(|e| {
                *e.get_ref()
                    .and_then(|i| i.downcast_ref::<PayloadError>())
                    .unwrap()
            })?;
        Ok(out)
    }

    #[test]
    fn parallel_output_matches_sequential() {
        for len in SIZES {
            let plaintext = data(len);
            let sequential = sequential_encrypt(&plaintext);
            let parallel = encrypt_payload(&key(), &plaintext, &mut rng()).unwrap();
            assert!(parallel == sequential, "encrypt, len {len}");
            assert!(
                decrypt_payload(&key(), &sequential).unwrap() == plaintext,
                "decrypt, len {len}"
            );
            assert!(sequential_decrypt(&parallel).unwrap() == plaintext);
        }
    }

    #[test]
    fn in_place_open_matches_chunk_api() {
        let plaintext = data(3 * CHUNK_SIZE + 5);
        let payload = sequential_encrypt(&plaintext);
        let nonce: [u8; 16] = payload[..16].try_into().unwrap();
        let mut parallel = payload[16..].to_vec();
        let len = open_chunks(&PayloadKey::derive(&key(), &nonce), &mut parallel).unwrap();
        assert_eq!(len, plaintext.len());
        let mut sequential = payload[16..].to_vec();
        let mut dec = PayloadDecryptor::new(&key(), &nonce);
        for chunk in sequential.chunks_mut(ENCRYPTED_CHUNK_SIZE) {
            dec.decrypt_chunk(chunk).unwrap();
        }
        dec.finish().unwrap();
        assert!(parallel == sequential);
        assert!(compact(&parallel) == plaintext);
    }

    #[test]
    fn tampered_chunk_is_rejected() {
        let plaintext = data(3 * CHUNK_SIZE + 5);
        let payload = sequential_encrypt(&plaintext);
        for at in [16, 16 + ENCRYPTED_CHUNK_SIZE + 7, payload.len() - 1] {
            let mut bad = payload.clone();
            bad[at] ^= 1;
            assert_eq!(
                decrypt_payload(&key(), &bad),
                Err(PayloadError::DecryptionFailed),
                "byte {at}"
            );
            let nonce: [u8; 16] = bad[..16].try_into().unwrap();
            let mut chunks = bad[16..].to_vec();
            assert_eq!(
                open_chunks(&PayloadKey::derive(&key(), &nonce), &mut chunks),
                Err(PayloadError::DecryptionFailed)
            );
            assert!(chunks.iter().all(|&b| b == 0), "nothing released");
        }
        // Wrong key.
        assert_eq!(
            decrypt_payload(&FileKey::from_array(&mut [1; 16]), &payload),
            Err(PayloadError::DecryptionFailed)
        );
    }

    #[test]
    fn structural_failures_match_sequential() {
        let payload = sequential_encrypt(&data(2 * CHUNK_SIZE));
        let first_end = 16 + ENCRYPTED_CHUNK_SIZE;
        let cases: Vec<Vec<u8>> = vec![
            // Truncated at a chunk boundary: no last chunk.
            payload[..first_end].to_vec(),
            // Trailing data after a full last chunk.
            [payload.as_slice(), &[0]].concat(),
            // Reordered chunks.
            [
                &payload[..16],
                &payload[first_end..],
                &payload[16..first_end],
            ]
            .concat(),
            // Only a nonce, or less.
            payload[..16].to_vec(),
            payload[..15].to_vec(),
            // An empty chunk, or a fragment, after a full last one.
            [payload.as_slice(), &[0; TAG_LEN]].concat(),
            [payload.as_slice(), &[0; 3]].concat(),
        ];
        for (i, case) in cases.iter().enumerate() {
            let parallel = decrypt_payload(&key(), case);
            assert!(parallel.is_err(), "case {i}");
            if case.len() >= 16 {
                assert_eq!(
                    parallel,
                    sequential_decrypt(case).map(|_| vec![]),
                    "case {i}"
                );
            }
        }
    }

    #[test]
    fn seal_checks_the_layout_first() {
        let k = PayloadKey::derive(&key(), &[0; 16]);
        assert_eq!(
            seal_chunks(&k, &mut [0; TAG_LEN - 1]),
            Err(PayloadError::InvalidChunkLength)
        );
        let mut buf = vec![7u8; ENCRYPTED_CHUNK_SIZE + TAG_LEN];
        assert_eq!(seal_chunks(&k, &mut buf), Err(PayloadError::EmptyLastChunk));
        assert!(buf.iter().all(|&b| b == 7), "untouched");
    }
}
