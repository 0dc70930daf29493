//! The age payload: ChaCha20-Poly1305 in the STREAM construction over
//! 64 KiB chunks (spec: `spec/age.md` §Payload).
//!
//! ```text
//! payload     = nonce (16 bytes) || chunk₀ || chunk₁ || … || chunkₙ
//! payload key = HKDF-SHA-256(ikm = file key, salt = nonce, info = "payload")
//! chunkᵢ      = ChaCha20-Poly1305(payload key, counterᵢ (11 bytes, big endian) || lastᵢ,
//!                                 plaintextᵢ) — 64 KiB of plaintext plus a 16-byte tag,
//!               the last one shorter, and empty only when the whole payload is empty
//! ```
//!
//! Three layers, all sharing one per-chunk function:
//!
//! - [`PayloadKey::seal_chunk`] / [`PayloadKey::open_chunk`]: pure functions
//!   of (payload key, counter, last flag, buffer). They hold no state, so
//!   chunks can be processed in any order or in parallel.
//! - [`PayloadEncryptor`] / [`PayloadDecryptor`]: chunk-at-a-time, in place,
//!   no allocation — what a browser drives, one fetched chunk at a time.
//! - [`StreamWriter`] / [`StreamReader`]: `std::io` adapters with one
//!   chunk-sized buffer, whatever the file size.
//!
//! Decryption releases a chunk's plaintext only after its tag verifies. A
//! stream that stops before an authenticated last chunk is an error, and so
//! is any byte after it — reported once the chunks before have been
//! released, as in the reference implementation.

use std::io::{self, Read, Write};

use chacha20poly1305::aead::{AeadInOut as _, KeyInit as _};
use chacha20poly1305::{Key, Nonce, Tag};
use hkdf::Hkdf;
use rand_core::CryptoRng;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::labels::PAYLOAD_INFO;
use crate::secret::FileKey;

/// Plaintext bytes per chunk: 64 KiB.
pub const CHUNK_SIZE: usize = 64 * 1024;
/// Length of a chunk's Poly1305 tag.
pub const TAG_LEN: usize = 16;
/// Bytes per full encrypted chunk: [`CHUNK_SIZE`] + [`TAG_LEN`].
pub const ENCRYPTED_CHUNK_SIZE: usize = CHUNK_SIZE + TAG_LEN;
/// Length of the random nonce that starts every payload.
pub const PAYLOAD_NONCE_LEN: usize = 16;

/// Why a payload could not be encrypted or decrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// A chunk did not authenticate: wrong key, or altered, reordered or
    /// misplaced ciphertext. Deliberately detail-free.
    #[error("payload decryption failed")]
    DecryptionFailed,
    /// The payload ends before its last chunk, or inside the nonce.
    #[error("payload is truncated")]
    Truncated,
    /// Data follows the last chunk, or a chunk was supplied after the last.
    #[error("payload has data after its last chunk")]
    TrailingData,
    /// A last chunk is empty although it is not the only chunk.
    #[error("payload's last chunk is empty")]
    EmptyLastChunk,
    /// A chunk buffer has a length the format does not allow (more than
    /// [`ENCRYPTED_CHUNK_SIZE`], fewer than [`TAG_LEN`], or a non-last
    /// plaintext chunk that is not exactly [`CHUNK_SIZE`]).
    #[error("payload chunk has an invalid length")]
    InvalidChunkLength,
    /// A chunk was supplied after the last one was encrypted.
    #[error("payload is already finished")]
    Finished,
    /// The chunk counter would overflow.
    #[error("payload is too long")]
    TooLong,
}

impl From<PayloadError> for io::Error {
    fn from(e: PayloadError) -> Self {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

/// The number of bytes a payload of `plaintext_len` bytes occupies,
/// nonce included, or `None` on overflow.
#[must_use]
pub fn payload_len(plaintext_len: u64) -> Option<u64> {
    let chunk = CHUNK_SIZE as u64;
    let chunks = plaintext_len.div_ceil(chunk).max(1);
    chunks
        .checked_mul(TAG_LEN as u64)?
        .checked_add(plaintext_len)?
        .checked_add(PAYLOAD_NONCE_LEN as u64)
}

/// The plaintext length of a payload of `payload_len` bytes (nonce
/// included), or `None` if no valid payload has that length.
#[must_use]
pub fn plaintext_len(payload_len: u64) -> Option<u64> {
    let chunks_len = payload_len.checked_sub(PAYLOAD_NONCE_LEN as u64)?;
    let full = chunks_len / ENCRYPTED_CHUNK_SIZE as u64;
    let rest = chunks_len % ENCRYPTED_CHUNK_SIZE as u64;
    let plain = full * CHUNK_SIZE as u64;
    match (full, rest) {
        (0, r) if r >= TAG_LEN as u64 => Some(r - TAG_LEN as u64),
        (_, 0) if full > 0 => Some(plain),
        (_, r) if r > TAG_LEN as u64 => Some(plain + r - TAG_LEN as u64),
        _ => None,
    }
}

/// The key that encrypts a payload's chunks (spec: `spec/age.md`
/// §Payload): HKDF-SHA-256(ikm = file key, salt = nonce, info = "payload").
///
/// Its two methods are the only place chunks are sealed and opened, and are
/// pure functions of the key, the counter, the last flag and the buffer:
/// `PayloadKey` is `Sync`, so chunks may be processed on many threads.
/// Zeroised on drop.
pub struct PayloadKey(ChunkAead);

/// ChaCha20-Poly1305 for the chunks. The wasm build gives RustCrypto's
/// AEAD a ChaCha20 that computes four blocks at a time with wasm SIMD
/// ([`super::chacha20x4`]); elsewhere RustCrypto's ChaCha20 has SIMD
/// backends of its own.
#[cfg(target_arch = "wasm32")]
type ChunkAead = chacha20poly1305::ChaChaPoly1305<super::chacha20x4::ChaCha20x4>;
#[cfg(not(target_arch = "wasm32"))]
type ChunkAead = chacha20poly1305::ChaCha20Poly1305;

impl core::fmt::Debug for PayloadKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("PayloadKey([REDACTED])")
    }
}

/// A chunk that [`PayloadKey::open_chunk`] authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenedChunk {
    /// Plaintext length; the plaintext is at the start of the buffer.
    pub len: usize,
    /// Whether the chunk carried the last-chunk flag.
    pub last: bool,
}

impl PayloadKey {
    /// Derives the payload key from the file key and the payload nonce.
    #[must_use]
    pub fn derive(file_key: &FileKey, nonce: &[u8; PAYLOAD_NONCE_LEN]) -> Self {
        Self::from_bytes(&Self::derive_bytes(file_key, nonce))
    }

    /// The payload key's bytes, for a caller that must hand the key to a
    /// thread that shares no memory with it (the browser's workers: see
    /// [`crate::opening::segments`]).
    pub(crate) fn derive_bytes(
        file_key: &FileKey,
        nonce: &[u8; PAYLOAD_NONCE_LEN],
    ) -> Zeroizing<[u8; 32]> {
        let mut key = Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF-SHA-256's output limit.
        let _ = Hkdf::<Sha256>::new(Some(nonce), file_key.expose_secret())
            .expand(PAYLOAD_INFO, key.as_mut_slice());
        key
    }

    /// The payload key from bytes [`Self::derive_bytes`] gave.
    pub(crate) fn from_bytes(key: &[u8; 32]) -> Self {
        Self(ChunkAead::new(&Key::from(*key)))
    }

    /// Encrypts chunk number `counter` in place.
    ///
    /// `chunk` holds the plaintext followed by [`TAG_LEN`] bytes of room,
    /// which receive the tag. The plaintext must be exactly [`CHUNK_SIZE`]
    /// bytes unless `last`, and may be empty only for the last chunk
    /// numbered 0 (an empty payload).
    pub fn seal_chunk(
        &self,
        counter: u64,
        last: bool,
        chunk: &mut [u8],
    ) -> Result<(), PayloadError> {
        let plaintext_len = chunk
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(PayloadError::InvalidChunkLength)?;
        if plaintext_len > CHUNK_SIZE || (!last && plaintext_len != CHUNK_SIZE) {
            return Err(PayloadError::InvalidChunkLength);
        }
        if plaintext_len == 0 && counter != 0 {
            return Err(PayloadError::EmptyLastChunk);
        }
        let (plaintext, tag_out) = chunk.split_at_mut(plaintext_len);
        let tag = self
            .0
            .encrypt_inout_detached(&chunk_nonce(counter, last), &[], plaintext.into())
            .map_err(|_| PayloadError::InvalidChunkLength)?;
        tag_out.copy_from_slice(&tag);
        Ok(())
    }

    /// Decrypts chunk number `counter` in place, working out whether it is
    /// the last chunk: a chunk shorter than [`ENCRYPTED_CHUNK_SIZE`] must
    /// be; a full one is tried as a middle chunk, then as a last one.
    ///
    /// `chunk` is the ciphertext followed by its tag. On success the
    /// plaintext occupies the first [`OpenedChunk::len`] bytes; on failure
    /// the buffer is unchanged.
    pub fn open_chunk(&self, counter: u64, chunk: &mut [u8]) -> Result<OpenedChunk, PayloadError> {
        let len = chunk.len();
        if len > ENCRYPTED_CHUNK_SIZE {
            return Err(PayloadError::InvalidChunkLength);
        }
        if len < TAG_LEN {
            return Err(PayloadError::Truncated);
        }
        if len == TAG_LEN && counter != 0 {
            return Err(PayloadError::EmptyLastChunk);
        }
        if len == ENCRYPTED_CHUNK_SIZE && self.open_chunk_as(counter, false, chunk).is_ok() {
            return Ok(OpenedChunk {
                len: CHUNK_SIZE,
                last: false,
            });
        }
        self.open_chunk_as(counter, true, chunk)?;
        Ok(OpenedChunk {
            len: len - TAG_LEN,
            last: true,
        })
    }

    /// Decrypts chunk number `counter` in place as a middle chunk or, if
    /// `last`, as the last one; a caller that knows the payload's length
    /// knows which. On failure the buffer is unchanged.
    pub(crate) fn open_chunk_as(
        &self,
        counter: u64,
        last: bool,
        chunk: &mut [u8],
    ) -> Result<(), PayloadError> {
        let (ciphertext, tag) = chunk.split_at_mut(chunk.len().saturating_sub(TAG_LEN));
        let tag = Tag::try_from(&*tag).map_err(|_| PayloadError::Truncated)?;
        self.0
            .decrypt_inout_detached(&chunk_nonce(counter, last), &[], ciphertext.into(), &tag)
            .map_err(|_| PayloadError::DecryptionFailed)
    }
}

/// The 12-byte chunk nonce: an 11-byte big-endian counter, then 0x01 for
/// the last chunk and 0x00 otherwise. A `u64` counter fills the low eight
/// counter bytes; the top three stay zero.
fn chunk_nonce(counter: u64, last: bool) -> Nonce {
    let mut nonce = [0u8; 12];
    let (counter_bytes, flag) = nonce.split_at_mut(11);
    if let Some(low) = counter_bytes.get_mut(3..) {
        low.copy_from_slice(&counter.to_be_bytes());
    }
    if let Some(flag) = flag.first_mut() {
        *flag = u8::from(last);
    }
    Nonce::from(nonce)
}

/// Encrypts a payload one chunk at a time, in place (spec: `spec/age.md`
/// §Payload).
///
/// Write [`Self::nonce`] first, then each chunk returned by
/// [`Self::encrypt_chunk`], in order.
#[derive(Debug)]
pub struct PayloadEncryptor {
    key: PayloadKey,
    nonce: [u8; PAYLOAD_NONCE_LEN],
    counter: u64,
    finished: bool,
}

impl PayloadEncryptor {
    /// Starts a payload with a fresh nonce from `rng`.
    pub fn new<R: CryptoRng + ?Sized>(file_key: &FileKey, rng: &mut R) -> Self {
        let mut nonce = [0u8; PAYLOAD_NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        Self {
            key: PayloadKey::derive(file_key, &nonce),
            nonce,
            counter: 0,
            finished: false,
        }
    }

    /// Starts a payload with a given nonce.
    ///
    /// Encryption is deterministic in (file key, nonce, plaintext). This
    /// exists so a client can encrypt a file twice, once to learn the
    /// payload's digest for the manifest and once to send it, without
    /// storing the ciphertext; only one of the two outputs may ever leave
    /// the client, or the same key and nonce would cover two plaintexts if
    /// the file changed in between.
    #[must_use]
    pub fn with_nonce(file_key: &FileKey, nonce: [u8; PAYLOAD_NONCE_LEN]) -> Self {
        Self {
            key: PayloadKey::derive(file_key, &nonce),
            nonce,
            counter: 0,
            finished: false,
        }
    }

    /// The payload nonce: the first 16 bytes of the payload.
    #[must_use]
    pub fn nonce(&self) -> &[u8; PAYLOAD_NONCE_LEN] {
        &self.nonce
    }

    /// Encrypts the next chunk in place. `chunk` is the plaintext followed
    /// by [`TAG_LEN`] spare bytes; afterwards it is the encrypted chunk.
    ///
    /// Every chunk but the last carries exactly [`CHUNK_SIZE`] plaintext
    /// bytes; the last carries 1 to [`CHUNK_SIZE`], or 0 when it is also
    /// the first. Nothing may follow the last chunk.
    pub fn encrypt_chunk(&mut self, chunk: &mut [u8], last: bool) -> Result<(), PayloadError> {
        if self.finished {
            return Err(PayloadError::Finished);
        }
        self.key.seal_chunk(self.counter, last, chunk)?;
        self.counter = self.counter.checked_add(1).ok_or(PayloadError::TooLong)?;
        self.finished = last;
        Ok(())
    }

    /// Whether the last chunk has been encrypted.
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.finished
    }
}

/// Decrypts a payload one chunk at a time, in place (spec: `spec/age.md`
/// §Payload).
///
/// Feed the encrypted chunks in order, each [`ENCRYPTED_CHUNK_SIZE`] bytes
/// except the last, which may be shorter; the decryptor recognises the last
/// chunk itself. When the input ends, call [`Self::finish`], which fails if
/// no last chunk was seen. After an error the decryptor refuses further
/// chunks.
#[derive(Debug)]
pub struct PayloadDecryptor {
    key: PayloadKey,
    counter: u64,
    finished: bool,
    failed: Option<PayloadError>,
}

impl PayloadDecryptor {
    /// Starts decrypting the payload that begins with `nonce`.
    #[must_use]
    pub fn new(file_key: &FileKey, nonce: &[u8; PAYLOAD_NONCE_LEN]) -> Self {
        Self {
            key: PayloadKey::derive(file_key, nonce),
            counter: 0,
            finished: false,
            failed: None,
        }
    }

    /// Authenticates and decrypts the next chunk in place, returning its
    /// plaintext (a prefix of `chunk`). The buffer is left unchanged when
    /// the chunk does not authenticate.
    pub fn decrypt_chunk<'a>(&mut self, chunk: &'a mut [u8]) -> Result<&'a mut [u8], PayloadError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        if self.finished {
            return Err(self.fail(PayloadError::TrailingData));
        }
        let opened = match self.key.open_chunk(self.counter, chunk) {
            Ok(opened) => opened,
            Err(e) => return Err(self.fail(e)),
        };
        self.counter = match self.counter.checked_add(1) {
            Some(next) => next,
            None => return Err(self.fail(PayloadError::TooLong)),
        };
        self.finished = opened.last;
        chunk
            .get_mut(..opened.len)
            .ok_or(PayloadError::InvalidChunkLength)
    }

    /// Whether the last chunk has been decrypted.
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Call when the input ends: fails unless the last chunk has been
    /// authenticated (spec: `spec/age.md` §Payload, truncation).
    pub fn finish(&self) -> Result<(), PayloadError> {
        match self.failed {
            Some(e) => Err(e),
            None if self.finished => Ok(()),
            None => Err(PayloadError::Truncated),
        }
    }

    fn fail(&mut self, e: PayloadError) -> PayloadError {
        self.failed = Some(e);
        e
    }
}

/// Encrypts a plaintext read through [`Read`] into a payload read from
/// this reader (nonce, then chunks), holding one chunk in memory: the
/// pull-side twin of [`StreamWriter`], for streaming an upload body.
pub struct EncryptingReader<R: Read> {
    inner: R,
    encryptor: PayloadEncryptor,
    buf: Vec<u8>,
    /// The unread part of `buf` is `buf[pos..end]`.
    pos: usize,
    end: usize,
    /// A byte read ahead to learn whether the buffered chunk is the last.
    carry: Option<u8>,
    nonce_sent: bool,
}

impl<R: Read> EncryptingReader<R> {
    /// Encrypts `inner` with `encryptor`, which must not have encrypted
    /// anything yet.
    pub fn new(encryptor: PayloadEncryptor, inner: R) -> Self {
        Self {
            inner,
            encryptor,
            buf: vec![0u8; ENCRYPTED_CHUNK_SIZE],
            pos: 0,
            end: 0,
            carry: None,
            nonce_sent: false,
        }
    }

    /// Reads and encrypts the next chunk into `buf`.
    fn next_chunk(&mut self) -> io::Result<()> {
        let mut filled = 0;
        if let Some(b) = self.carry.take()
            && let Some(first) = self.buf.first_mut()
        {
            *first = b;
            filled = 1;
        }
        while filled < CHUNK_SIZE {
            let room = self
                .buf
                .get_mut(filled..CHUNK_SIZE)
                .ok_or(PayloadError::InvalidChunkLength)?;
            match self.inner.read(room) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let mut last = filled < CHUNK_SIZE;
        if !last {
            let mut one = [0u8; 1];
            loop {
                match self.inner.read(&mut one) {
                    Ok(0) => {
                        last = true;
                        break;
                    }
                    Ok(_) => {
                        self.carry = Some(one[0]);
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let end = filled + TAG_LEN;
        let chunk = self
            .buf
            .get_mut(..end)
            .ok_or(PayloadError::InvalidChunkLength)?;
        self.encryptor.encrypt_chunk(chunk, last)?;
        self.pos = 0;
        self.end = end;
        Ok(())
    }
}

impl<R: Read> Read for EncryptingReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if !self.nonce_sent {
            let nonce = self.encryptor.nonce();
            let n = out.len().min(PAYLOAD_NONCE_LEN);
            if n < PAYLOAD_NONCE_LEN {
                // Keep it simple: the nonce goes out whole.
                if out.is_empty() {
                    return Ok(0);
                }
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "read buffer shorter than the payload nonce",
                ));
            }
            if let Some(dst) = out.get_mut(..n) {
                dst.copy_from_slice(nonce);
            }
            self.nonce_sent = true;
            return Ok(n);
        }
        if self.pos == self.end {
            if self.encryptor.is_finished() {
                return Ok(0);
            }
            self.next_chunk()?;
        }
        let available = self.buf.get(self.pos..self.end).unwrap_or_default();
        let n = available.len().min(out.len());
        if let (Some(dst), Some(src)) = (out.get_mut(..n), available.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.pos += n;
        Ok(n)
    }
}

impl<R: Read> core::fmt::Debug for EncryptingReader<R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EncryptingReader").finish_non_exhaustive()
    }
}

/// Encrypts a payload written through [`Write`], holding one chunk in
/// memory. Call [`Self::finish`] at the end: dropping the writer without it
/// leaves a truncated payload that every reader rejects.
pub struct StreamWriter<W: Write> {
    inner: W,
    encryptor: PayloadEncryptor,
    /// Room for one chunk of plaintext and its tag.
    buf: Vec<u8>,
    filled: usize,
    poisoned: bool,
}

impl<W: Write> StreamWriter<W> {
    /// Starts a payload with a fresh nonce from `rng` and writes the nonce.
    pub fn new<R: CryptoRng + ?Sized>(
        file_key: &FileKey,
        mut inner: W,
        rng: &mut R,
    ) -> io::Result<Self> {
        let encryptor = PayloadEncryptor::new(file_key, rng);
        inner.write_all(encryptor.nonce())?;
        Ok(Self {
            inner,
            encryptor,
            buf: vec![0u8; ENCRYPTED_CHUNK_SIZE],
            filled: 0,
            poisoned: false,
        })
    }

    /// Encrypts the buffered chunk and writes it out.
    fn flush_chunk(&mut self, last: bool) -> io::Result<()> {
        // A failure part-way leaves the output unusable: refuse from now on.
        self.poisoned = true;
        let end = self.filled + TAG_LEN;
        let chunk = self
            .buf
            .get_mut(..end)
            .ok_or(PayloadError::InvalidChunkLength)?;
        self.encryptor.encrypt_chunk(chunk, last)?;
        self.inner.write_all(chunk)?;
        self.filled = 0;
        self.poisoned = false;
        Ok(())
    }

    fn check_usable(&self) -> io::Result<()> {
        if self.poisoned {
            return Err(io::Error::other("payload writer failed earlier"));
        }
        Ok(())
    }

    /// Encrypts the last chunk, writes it, flushes, and returns the inner
    /// writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.check_usable()?;
        self.flush_chunk(true)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for StreamWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.check_usable()?;
        if data.is_empty() {
            return Ok(0);
        }
        // A full chunk is written only once more data shows it is not last.
        if self.filled == CHUNK_SIZE {
            self.flush_chunk(false)?;
        }
        let room = CHUNK_SIZE - self.filled;
        let take = room.min(data.len());
        let (src, dst) = (
            data.get(..take).unwrap_or_default(),
            self.buf
                .get_mut(self.filled..self.filled + take)
                .unwrap_or_default(),
        );
        dst.copy_from_slice(src);
        self.filled += take;
        Ok(take)
    }

    /// Flushes the inner writer. A partly filled chunk stays buffered: it
    /// cannot be encrypted before it is known whether it is the last.
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Write> core::fmt::Debug for StreamWriter<W> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StreamWriter").finish_non_exhaustive()
    }
}

/// Decrypts a payload read through [`Read`], holding one chunk in memory.
///
/// Errors are `io::Error`s of kind `InvalidData` whose inner error
/// (`io::Error::get_ref`) is a [`PayloadError`]; errors of the underlying
/// reader pass through unchanged. `From<io::Error> for` [`super::DecryptError`]
/// sorts them out. Once an error is returned, every later read returns it
/// again.
pub struct StreamReader<R: Read> {
    inner: R,
    decryptor: PayloadDecryptor,
    buf: Vec<u8>,
    /// Unread plaintext: `buf[start..end]`.
    start: usize,
    end: usize,
    trailing_checked: bool,
}

impl<R: Read> StreamReader<R> {
    /// Decrypts the payload of `inner`, which starts with the 16-byte
    /// nonce. A payload that ends inside the nonce is
    /// [`PayloadError::Truncated`].
    pub fn new(file_key: &FileKey, mut inner: R) -> io::Result<Self> {
        let mut nonce = [0u8; PAYLOAD_NONCE_LEN];
        if read_full(&mut inner, &mut nonce)? != PAYLOAD_NONCE_LEN {
            return Err(PayloadError::Truncated.into());
        }
        Ok(Self::with_nonce(file_key, &nonce, inner))
    }

    /// Decrypts chunks from `inner`, the payload nonce having been read
    /// already.
    #[must_use]
    pub fn with_nonce(file_key: &FileKey, nonce: &[u8; PAYLOAD_NONCE_LEN], inner: R) -> Self {
        Self {
            inner,
            decryptor: PayloadDecryptor::new(file_key, nonce),
            buf: Vec::new(),
            start: 0,
            end: 0,
            trailing_checked: false,
        }
    }

    /// Reads the next encrypted chunk into `buf` and decrypts it there,
    /// returning the plaintext length.
    fn next_chunk(
        inner: &mut R,
        decryptor: &mut PayloadDecryptor,
        buf: &mut [u8],
    ) -> io::Result<usize> {
        let n = read_full(inner, buf)?;
        if n == 0 {
            // End of input without a last chunk.
            decryptor.finish()?;
            return Ok(0);
        }
        let chunk = buf.get_mut(..n).unwrap_or_default();
        Ok(decryptor.decrypt_chunk(chunk)?.len())
    }

    /// After the last chunk: the input must be at its end.
    fn check_trailing(&mut self) -> io::Result<()> {
        if !self.trailing_checked {
            let mut probe = [0u8; 1];
            if read_full(&mut self.inner, &mut probe)? != 0 {
                return Err(self.decryptor.fail(PayloadError::TrailingData).into());
            }
            self.trailing_checked = true;
        }
        Ok(())
    }
}

impl<R: Read> Read for StreamReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if self.start < self.end {
                let n = (self.end - self.start).min(out.len());
                let src = self.buf.get(self.start..self.start + n).unwrap_or_default();
                out.get_mut(..n).unwrap_or_default().copy_from_slice(src);
                self.start += n;
                return Ok(n);
            }
            if let Some(e) = self.decryptor.failed {
                return Err(e.into());
            }
            if self.decryptor.is_finished() {
                self.check_trailing()?;
                self.decryptor.finish()?;
                return Ok(0);
            }
            if let Some(direct) = out.get_mut(..ENCRYPTED_CHUNK_SIZE) {
                // The caller's buffer can hold a whole encrypted chunk:
                // decrypt it there and skip the copy.
                let n = Self::next_chunk(&mut self.inner, &mut self.decryptor, direct)?;
                if n > 0 {
                    return Ok(n);
                }
                continue;
            }
            if self.buf.is_empty() {
                self.buf = vec![0u8; ENCRYPTED_CHUNK_SIZE];
            }
            let n = Self::next_chunk(&mut self.inner, &mut self.decryptor, &mut self.buf)?;
            self.start = 0;
            self.end = n;
        }
    }
}

impl<R: Read> core::fmt::Debug for StreamReader<R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StreamReader").finish_non_exhaustive()
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
pub(crate) fn read_full<R: Read + ?Sized>(inner: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..).filter(|r| !r.is_empty()) {
        match inner.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng as _;

    use super::*;

    fn key() -> FileKey {
        FileKey::from_array(&mut [9; 16])
    }

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    fn encrypt(plaintext: &[u8], write_size: usize) -> Vec<u8> {
        let mut rng = ChaCha20Rng::from_seed([3; 32]);
        let mut w = StreamWriter::new(&key(), Vec::new(), &mut rng).unwrap();
        for piece in plaintext.chunks(write_size.max(1)) {
            w.write_all(piece).unwrap();
        }
        w.finish().unwrap()
    }

    /// Reads with a given buffer size, returning what was released and the
    /// error, if any.
    fn decrypt(payload: &[u8], read_size: usize) -> (Vec<u8>, Option<PayloadError>) {
        let mut r = StreamReader::new(&key(), payload).unwrap();
        let mut out = Vec::new();
        let mut buf = vec![0u8; read_size];
        loop {
            match r.read(&mut buf) {
                Ok(0) => return (out, None),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => {
                    let inner = e.get_ref().and_then(|i| i.downcast_ref::<PayloadError>());
                    return (out, Some(*inner.unwrap()));
                }
            }
        }
    }

    const BOUNDARIES: [usize; 8] = [
        0,
        1,
        CHUNK_SIZE - 1,
        CHUNK_SIZE,
        CHUNK_SIZE + 1,
        2 * CHUNK_SIZE - 1,
        2 * CHUNK_SIZE,
        2 * CHUNK_SIZE + 1,
    ];

    #[test]
    fn round_trips_at_chunk_boundaries() {
        for len in BOUNDARIES {
            let plaintext = data(len);
            let payload = encrypt(&plaintext, 10_000);
            assert_eq!(
                payload.len() as u64,
                payload_len(len as u64).unwrap(),
                "len {len}"
            );
            assert_eq!(plaintext_len(payload.len() as u64), Some(len as u64));
            for read_size in [1, 4096, CHUNK_SIZE, ENCRYPTED_CHUNK_SIZE, 3 * CHUNK_SIZE] {
                let (out, err) = decrypt(&payload, read_size);
                assert_eq!(err, None, "len {len} read {read_size}");
                assert!(out == plaintext, "len {len} read {read_size}");
            }
        }
    }

    #[test]
    fn write_granularity_does_not_change_the_output() {
        let plaintext = data(2 * CHUNK_SIZE + 5);
        let whole = encrypt(&plaintext, usize::MAX);
        for size in [1, 7, CHUNK_SIZE, CHUNK_SIZE + 1] {
            assert!(encrypt(&plaintext, size) == whole, "write size {size}");
        }
    }

    #[test]
    fn encrypting_reader_matches_stream_writer_at_every_boundary() {
        let nonce: [u8; 16] = {
            let mut rng = ChaCha20Rng::from_seed([3; 32]);
            *PayloadEncryptor::new(&key(), &mut rng).nonce()
        };
        for len in [
            0,
            1,
            CHUNK_SIZE - 1,
            CHUNK_SIZE,
            CHUNK_SIZE + 1,
            2 * CHUNK_SIZE,
            3 * CHUNK_SIZE + 7,
        ] {
            let plaintext = data(len);
            for read_size in [16, 1000, ENCRYPTED_CHUNK_SIZE + 5] {
                let mut reader = EncryptingReader::new(
                    PayloadEncryptor::with_nonce(&key(), nonce),
                    &plaintext[..],
                );
                let mut out = Vec::new();
                let mut buf = vec![0u8; read_size];
                loop {
                    let n = reader.read(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    out.extend_from_slice(&buf[..n]);
                }
                assert!(
                    out == encrypt(&plaintext, 999),
                    "len {len}, reads of {read_size}"
                );
            }
        }
    }

    #[test]
    fn chunk_api_matches_stream_writer() {
        let plaintext = data(CHUNK_SIZE + 100);
        let mut rng = ChaCha20Rng::from_seed([3; 32]);
        let mut enc = PayloadEncryptor::new(&key(), &mut rng);
        let mut out = enc.nonce().to_vec();
        let mut first = plaintext[..CHUNK_SIZE].to_vec();
        first.resize(ENCRYPTED_CHUNK_SIZE, 0);
        enc.encrypt_chunk(&mut first, false).unwrap();
        let mut second = plaintext[CHUNK_SIZE..].to_vec();
        second.resize(100 + TAG_LEN, 0);
        enc.encrypt_chunk(&mut second, true).unwrap();
        assert_eq!(
            enc.encrypt_chunk(&mut [0; 17], true),
            Err(PayloadError::Finished)
        );
        out.extend_from_slice(&first);
        out.extend_from_slice(&second);
        assert!(out == encrypt(&plaintext, 999));

        let nonce: [u8; 16] = out[..16].try_into().unwrap();
        let mut dec = PayloadDecryptor::new(&key(), &nonce);
        assert_eq!(dec.finish(), Err(PayloadError::Truncated));
        let pt = dec.decrypt_chunk(&mut first).unwrap().to_vec();
        assert!(!dec.is_finished());
        let pt2 = dec.decrypt_chunk(&mut second).unwrap().to_vec();
        assert!(dec.is_finished());
        assert_eq!(dec.finish(), Ok(()));
        assert!([pt, pt2].concat() == plaintext);
        assert_eq!(
            dec.decrypt_chunk(&mut [0; 20]),
            Err(PayloadError::TrailingData)
        );
    }

    #[test]
    fn encryptor_enforces_chunk_lengths() {
        let mut rng = ChaCha20Rng::from_seed([3; 32]);
        let mut enc = PayloadEncryptor::new(&key(), &mut rng);
        assert_eq!(
            enc.encrypt_chunk(&mut [0; 15], true),
            Err(PayloadError::InvalidChunkLength)
        );
        assert_eq!(
            enc.encrypt_chunk(&mut [0; 100], false),
            Err(PayloadError::InvalidChunkLength)
        );
        assert_eq!(
            enc.encrypt_chunk(&mut vec![0; ENCRYPTED_CHUNK_SIZE + 1], true),
            Err(PayloadError::InvalidChunkLength)
        );
        enc.encrypt_chunk(&mut vec![0; ENCRYPTED_CHUNK_SIZE], false)
            .unwrap();
        assert_eq!(
            enc.encrypt_chunk(&mut [0; TAG_LEN], true),
            Err(PayloadError::EmptyLastChunk)
        );
    }

    #[test]
    fn decryption_failures() {
        let plaintext = data(2 * CHUNK_SIZE + 10);
        let payload = encrypt(&plaintext, usize::MAX);
        let first_chunk_end = 16 + ENCRYPTED_CHUNK_SIZE;

        // A flipped bit in the second chunk: the first chunk is released.
        let mut bad = payload.clone();
        bad[first_chunk_end + 5] ^= 1;
        let (out, err) = decrypt(&bad, 1000);
        assert_eq!(err, Some(PayloadError::DecryptionFailed));
        assert!(out == plaintext[..CHUNK_SIZE]);

        // Truncated at a chunk boundary: no last chunk.
        let (out, err) = decrypt(&payload[..first_chunk_end], 1000);
        assert_eq!(err, Some(PayloadError::Truncated));
        assert_eq!(out.len(), CHUNK_SIZE);

        // Truncated mid-chunk.
        let (_, err) = decrypt(&payload[..payload.len() - 1], 1000);
        assert_eq!(err, Some(PayloadError::DecryptionFailed));

        // Trailing data after a full last chunk: reported after its
        // plaintext is released.
        let full = data(2 * CHUNK_SIZE);
        let mut long = encrypt(&full, usize::MAX);
        long.push(0);
        for read_size in [1000, ENCRYPTED_CHUNK_SIZE] {
            let (out, err) = decrypt(&long, read_size);
            assert_eq!(err, Some(PayloadError::TrailingData));
            assert!(out == full);
        }
        // After a short last chunk, extra bytes become part of it, and it
        // no longer authenticates.
        let mut long = payload.clone();
        long.push(0);
        let (out, err) = decrypt(&long, 1000);
        assert_eq!(err, Some(PayloadError::DecryptionFailed));
        assert!(out == plaintext[..2 * CHUNK_SIZE]);

        // Reordered chunks.
        let mut swapped = payload[..16].to_vec();
        swapped
            .extend_from_slice(&payload[first_chunk_end..first_chunk_end + ENCRYPTED_CHUNK_SIZE]);
        swapped.extend_from_slice(&payload[16..first_chunk_end]);
        swapped.extend_from_slice(&payload[first_chunk_end + ENCRYPTED_CHUNK_SIZE..]);
        let (out, err) = decrypt(&swapped, 1000);
        assert_eq!(err, Some(PayloadError::DecryptionFailed));
        assert!(out.is_empty());

        // Only a nonce.
        let (_, err) = decrypt(&payload[..16], 1000);
        assert_eq!(err, Some(PayloadError::Truncated));
        assert!(StreamReader::new(&key(), &payload[..15]).is_err());

        // Wrong key.
        let mut r =
            StreamReader::new(&FileKey::from_array(&mut [1; 16]), payload.as_slice()).unwrap();
        let err = r.read(&mut [0; 10]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        // The error repeats.
        assert!(r.read(&mut [0; 10]).is_err());
    }

    #[test]
    fn empty_last_chunk_only_for_an_empty_payload() {
        let payload = encrypt(&[], 1);
        assert_eq!(payload.len(), 16 + TAG_LEN);
        assert_eq!(decrypt(&payload, 10), (vec![], None));
        // An empty chunk after a full one is rejected without decrypting.
        let nonce: [u8; 16] = payload[..16].try_into().unwrap();
        let key = PayloadKey::derive(&key(), &nonce);
        assert_eq!(
            key.open_chunk(1, &mut [0; TAG_LEN]),
            Err(PayloadError::EmptyLastChunk)
        );
        assert_eq!(
            key.open_chunk(0, &mut [0; TAG_LEN - 1]),
            Err(PayloadError::Truncated)
        );
    }

    #[test]
    fn full_last_chunk_is_recognised() {
        let plaintext = data(CHUNK_SIZE);
        let payload = encrypt(&plaintext, 1);
        assert_eq!(payload.len(), 16 + ENCRYPTED_CHUNK_SIZE);
        let nonce: [u8; 16] = payload[..16].try_into().unwrap();
        let mut chunk = payload[16..].to_vec();
        let opened = PayloadKey::derive(&key(), &nonce)
            .open_chunk(0, &mut chunk)
            .unwrap();
        assert_eq!(
            opened,
            OpenedChunk {
                len: CHUNK_SIZE,
                last: true
            }
        );
        assert!(chunk[..CHUNK_SIZE] == plaintext);
    }

    #[test]
    fn nonce_layout() {
        let n = chunk_nonce(0x0102, true);
        assert_eq!(n.as_slice(), &[0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 1]);
        let n = chunk_nonce(u64::MAX, false);
        assert_eq!(&n[..3], &[0, 0, 0]);
        assert_eq!(&n[3..11], &[0xff; 8]);
        assert_eq!(n[11], 0);
    }

    #[test]
    fn length_helpers() {
        assert_eq!(payload_len(0), Some(32));
        assert_eq!(payload_len(1), Some(33));
        assert_eq!(
            payload_len(CHUNK_SIZE as u64),
            Some(16 + ENCRYPTED_CHUNK_SIZE as u64)
        );
        assert_eq!(plaintext_len(31), None);
        assert_eq!(plaintext_len(15), None);
        assert_eq!(plaintext_len(16 + ENCRYPTED_CHUNK_SIZE as u64 + 16), None);
        assert_eq!(payload_len(u64::MAX), None);
    }
}
