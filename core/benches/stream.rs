//! STREAM payload throughput over 256 MiB in memory, beside a baseline of
//! the raw `chacha20poly1305` crate over the same 64 KiB chunks.
//!
//! ```text
//! cargo bench -p lexvault-core --features parallel --bench stream
//! ```
//!
//! Groups:
//!
//! - `raw_chacha20poly1305`: one `ChaCha20Poly1305` per 64 KiB chunk, in
//!   place, 12-byte counter nonce, tags kept aside — the single-core
//!   ceiling.
//! - `lexvault_stream`: the chunk API ([`PayloadEncryptor`],
//!   [`PayloadDecryptor`]), one core.
//! - `lexvault_parallel` (feature `parallel`): `age::parallel::seal_chunks`
//!   and `open_chunks` on rayon's pool, all cores.
//!
//! Throughput is plaintext bytes. Decryption is in place, so every
//! iteration first restores the ciphertext from a pristine copy, outside
//! the timed region.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use chacha20poly1305::aead::{AeadInOut as _, KeyInit as _};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use lexvault_core::age::stream::{
    CHUNK_SIZE, ENCRYPTED_CHUNK_SIZE, PayloadDecryptor, PayloadEncryptor,
};
use lexvault_core::secret::FileKey;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng as _;

/// Plaintext bytes per iteration: 256 MiB.
const TOTAL: usize = 256 * 1024 * 1024;
const CHUNKS: usize = TOTAL / CHUNK_SIZE;

fn plaintext() -> Vec<u8> {
    (0..TOTAL).map(|i| (i % 251) as u8).collect()
}

fn file_key() -> FileKey {
    FileKey::from_array(&mut [7; 16])
}

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::from_seed([3; 32])
}

/// The sealed layout: each 64 KiB piece followed by 16 spare bytes.
fn sealed_layout(plaintext: &[u8]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(CHUNKS * ENCRYPTED_CHUNK_SIZE);
    for piece in plaintext.chunks(CHUNK_SIZE) {
        buf.extend_from_slice(piece);
        buf.extend_from_slice(&[0; ENCRYPTED_CHUNK_SIZE - CHUNK_SIZE]);
    }
    buf
}

fn counter_nonce(counter: u64) -> Nonce {
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&counter.to_be_bytes());
    Nonce::from(nonce)
}

fn raw_encrypt(cipher: &ChaCha20Poly1305, buf: &mut [u8], tags: &mut [Tag]) {
    for (i, (chunk, tag)) in buf.chunks_mut(CHUNK_SIZE).zip(tags).enumerate() {
        *tag = cipher
            .encrypt_inout_detached(&counter_nonce(i as u64), &[], chunk.into())
            .unwrap();
    }
}

fn raw_decrypt(cipher: &ChaCha20Poly1305, buf: &mut [u8], tags: &[Tag]) {
    for (i, (chunk, tag)) in buf.chunks_mut(CHUNK_SIZE).zip(tags).enumerate() {
        cipher
            .decrypt_inout_detached(&counter_nonce(i as u64), &[], chunk.into(), tag)
            .unwrap();
    }
}

fn stream_encrypt(buf: &mut [u8]) -> [u8; 16] {
    let mut enc = PayloadEncryptor::new(&file_key(), &mut rng());
    let last = buf.len().div_ceil(ENCRYPTED_CHUNK_SIZE) - 1;
    for (i, chunk) in buf.chunks_mut(ENCRYPTED_CHUNK_SIZE).enumerate() {
        enc.encrypt_chunk(chunk, i == last).unwrap();
    }
    *enc.nonce()
}

fn stream_decrypt(nonce: &[u8; 16], buf: &mut [u8]) {
    let mut dec = PayloadDecryptor::new(&file_key(), nonce);
    for chunk in buf.chunks_mut(ENCRYPTED_CHUNK_SIZE) {
        black_box(dec.decrypt_chunk(chunk).unwrap());
    }
    dec.finish().unwrap();
}

/// Times `run` on a fresh copy of `pristine`, `iters` times; the copy is
/// not timed.
fn time_in_place(
    iters: u64,
    pristine: &[u8],
    work: &mut [u8],
    mut run: impl FnMut(&mut [u8]),
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        work.copy_from_slice(pristine);
        let start = Instant::now();
        run(black_box(&mut *work));
        total += start.elapsed();
    }
    total
}

fn configure<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Bytes(TOTAL as u64));
    group
}

fn raw(c: &mut Criterion) {
    let cipher = ChaCha20Poly1305::new(&Key::from([7; 32]));
    let mut buf = plaintext();
    let mut tags = vec![Tag::default(); CHUNKS];
    let mut group = configure(c, "raw_chacha20poly1305");
    group.bench_function("encrypt", |b| {
        b.iter(|| raw_encrypt(&cipher, black_box(&mut buf), &mut tags));
    });
    let mut pristine = plaintext();
    raw_encrypt(&cipher, &mut pristine, &mut tags);
    group.bench_function("decrypt", |b| {
        b.iter_custom(|iters| {
            time_in_place(iters, &pristine, &mut buf, |w| {
                raw_decrypt(&cipher, w, &tags)
            })
        });
    });
    group.finish();
}

fn stream(c: &mut Criterion) {
    let mut buf = sealed_layout(&plaintext());
    let mut group = configure(c, "lexvault_stream");
    group.bench_function("encrypt", |b| {
        b.iter(|| stream_encrypt(black_box(&mut buf)));
    });
    let mut pristine = sealed_layout(&plaintext());
    let nonce = stream_encrypt(&mut pristine);
    group.bench_function("decrypt", |b| {
        b.iter_custom(|iters| {
            time_in_place(iters, &pristine, &mut buf, |w| stream_decrypt(&nonce, w))
        });
    });
    group.finish();
}

#[cfg(feature = "parallel")]
fn parallel(c: &mut Criterion) {
    use lexvault_core::age::parallel::{open_chunks, seal_chunks};
    use lexvault_core::age::stream::PayloadKey;

    let mut buf = sealed_layout(&plaintext());
    let mut pristine = sealed_layout(&plaintext());
    let nonce = stream_encrypt(&mut pristine);
    let key = PayloadKey::derive(&file_key(), &nonce);
    let mut group = configure(c, "lexvault_parallel");
    group.bench_function("encrypt", |b| {
        b.iter(|| seal_chunks(&key, black_box(&mut buf)).unwrap());
    });
    group.bench_function("decrypt", |b| {
        b.iter_custom(|iters| {
            time_in_place(iters, &pristine, &mut buf, |w| {
                black_box(open_chunks(&key, w).unwrap());
            })
        });
    });
    group.finish();
}

#[cfg(not(feature = "parallel"))]
fn parallel(_: &mut Criterion) {}

criterion_group!(benches, raw, stream, parallel);
criterion_main!(benches);
