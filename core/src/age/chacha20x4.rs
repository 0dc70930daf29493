//! ChaCha20 (RFC 8439 §2.3, 96-bit nonce, 32-bit block counter) that
//! generates four keystream blocks at a time, for the wasm build (spec:
//! `spec/README.md`, departure 10).
//!
//! RustCrypto's `chacha20` has SIMD backends for x86 and ARM only; in
//! wasm it computes one block at a time, and the browser decrypted at
//! libsodium's speed and no faster. Here the sixteen state words of four
//! consecutive blocks are kept as sixteen four-lane vectors (lane `j` is
//! block `counter + j`), so every step of a round works on four blocks at
//! once. The three lane-wise operations a round needs are 128-bit SIMD
//! instructions in the wasm build, which enables `simd128`; elsewhere they
//! are plain arithmetic on `[u32; 4]`, and the tests compare that form,
//! block for block, with the `chacha20` crate. The browser tests compare
//! the SIMD form end to end: Chromium decrypts what the native CLI
//! encrypted, and the reverse.
//!
//! Only the keystream is here. The AEAD around it — Poly1305, the tag
//! check, the order of operations — is RustCrypto's `ChaChaPoly1305`,
//! given this cipher instead of its own ([`ChaCha20x4`]).

use cipher::consts::{U4, U12, U32, U64};
use cipher::{
    Block, BlockSizeUser, IvSizeUser, KeyIvInit, KeySizeUser, ParBlocks, ParBlocksSizeUser,
    StreamCipherBackend, StreamCipherClosure, StreamCipherCore, StreamCipherCoreWrapper,
    StreamCipherSeekCore,
};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// ChaCha20 with a 96-bit nonce, four blocks at a time: a drop-in for
/// `chacha20::ChaCha20` as the cipher of `chacha20poly1305::ChaChaPoly1305`.
pub type ChaCha20x4 = StreamCipherCoreWrapper<ChaCha20x4Core>;

/// "expand 32-byte k", little-endian.
const CONSTANTS: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

/// Double rounds: ChaCha20 has 20 rounds.
const DOUBLE_ROUNDS: usize = 10;

/// The counter's place among the state words.
const COUNTER: usize = 12;

/// The cipher's state: constants, key, block counter, nonce.
pub struct ChaCha20x4Core {
    state: [u32; 16],
}

impl Zeroize for ChaCha20x4Core {
    fn zeroize(&mut self) {
        self.state.zeroize();
    }
}

impl Drop for ChaCha20x4Core {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for ChaCha20x4Core {}

impl KeySizeUser for ChaCha20x4Core {
    type KeySize = U32;
}

impl IvSizeUser for ChaCha20x4Core {
    type IvSize = U12;
}

impl BlockSizeUser for ChaCha20x4Core {
    type BlockSize = U64;
}

impl KeyIvInit for ChaCha20x4Core {
    fn new(key: &cipher::Key<Self>, iv: &cipher::Iv<Self>) -> Self {
        let (key_words, _) = key.as_chunks::<4>();
        let (nonce_words, _) = iv.as_chunks::<4>();
        let mut state = [0u32; 16];
        let words = CONSTANTS
            .into_iter()
            .chain(key_words.iter().map(|bytes| u32::from_le_bytes(*bytes)))
            .chain([0]) // the block counter
            .chain(nonce_words.iter().map(|bytes| u32::from_le_bytes(*bytes)));
        for (word, value) in state.iter_mut().zip(words) {
            *word = value;
        }
        Self { state }
    }
}

impl StreamCipherCore for ChaCha20x4Core {
    fn remaining_blocks(&self) -> Option<usize> {
        usize::try_from(u32::MAX - self.state[COUNTER]).ok()
    }

    fn process_with_backend(&mut self, f: impl StreamCipherClosure<BlockSize = Self::BlockSize>) {
        f.call(&mut Backend(&mut self.state));
    }
}

impl StreamCipherSeekCore for ChaCha20x4Core {
    type Counter = u32;

    fn get_block_pos(&self) -> u32 {
        self.state[COUNTER]
    }

    fn set_block_pos(&mut self, pos: u32) {
        self.state[COUNTER] = pos;
    }
}

/// Four lanes, one state word of four consecutive blocks, and the three
/// operations a round needs. With wasm SIMD each is one or a few 128-bit
/// instructions (LLVM does not find them in the portable code on its own);
/// elsewhere the portable form, which is what the tests run.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod lanes {
    use core::arch::wasm32::{
        i8x16_shuffle, i32x4_add, i32x4_shl, u32x4, u32x4_extract_lane, u32x4_shr, v128, v128_or,
        v128_xor,
    };

    #[derive(Clone, Copy)]
    pub(super) struct Lanes(v128);

    #[inline(always)]
    pub(super) fn lanes(words: [u32; 4]) -> Lanes {
        let [a, b, c, d] = words;
        Lanes(u32x4(a, b, c, d))
    }

    #[inline(always)]
    pub(super) fn words(lanes: Lanes) -> [u32; 4] {
        [
            u32x4_extract_lane::<0>(lanes.0),
            u32x4_extract_lane::<1>(lanes.0),
            u32x4_extract_lane::<2>(lanes.0),
            u32x4_extract_lane::<3>(lanes.0),
        ]
    }

    #[inline(always)]
    pub(super) fn add(a: Lanes, b: Lanes) -> Lanes {
        Lanes(i32x4_add(a.0, b.0))
    }

    /// `(a ^ b).rotate_left(BY)` in each lane. Rotations by 16 and 8 move
    /// whole bytes, so they are one byte shuffle (lanes are little-endian).
    #[inline(always)]
    pub(super) fn xor_rotate<const BY: u32>(a: Lanes, b: Lanes) -> Lanes {
        let x = v128_xor(a.0, b.0);
        Lanes(match BY {
            16 => i8x16_shuffle::<2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13>(x, x),
            8 => i8x16_shuffle::<3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14>(x, x),
            _ => v128_or(i32x4_shl(x, BY), u32x4_shr(x, 32 - BY)),
        })
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod lanes {
    #[derive(Clone, Copy)]
    pub(super) struct Lanes([u32; 4]);

    #[inline(always)]
    pub(super) fn lanes(words: [u32; 4]) -> Lanes {
        Lanes(words)
    }

    #[inline(always)]
    pub(super) fn words(lanes: Lanes) -> [u32; 4] {
        lanes.0
    }

    #[inline(always)]
    pub(super) fn add(a: Lanes, b: Lanes) -> Lanes {
        let ([a0, a1, a2, a3], [b0, b1, b2, b3]) = (a.0, b.0);
        Lanes([
            a0.wrapping_add(b0),
            a1.wrapping_add(b1),
            a2.wrapping_add(b2),
            a3.wrapping_add(b3),
        ])
    }

    /// `(a ^ b).rotate_left(BY)` in each lane.
    #[inline(always)]
    pub(super) fn xor_rotate<const BY: u32>(a: Lanes, b: Lanes) -> Lanes {
        let ([a0, a1, a2, a3], [b0, b1, b2, b3]) = (a.0, b.0);
        Lanes([
            (a0 ^ b0).rotate_left(BY),
            (a1 ^ b1).rotate_left(BY),
            (a2 ^ b2).rotate_left(BY),
            (a3 ^ b3).rotate_left(BY),
        ])
    }
}

use lanes::{Lanes, add, lanes, words, xor_rotate};

/// The quarter round (RFC 8439 §2.1) on words `a`, `b`, `c`, `d` of all
/// four blocks.
#[inline(always)]
// Every call passes constant word numbers below 16.
#[allow(clippy::indexing_slicing)]
fn quarter_round(v: &mut [Lanes; 16], a: usize, b: usize, c: usize, d: usize) {
    v[a] = add(v[a], v[b]);
    v[d] = xor_rotate::<16>(v[d], v[a]);
    v[c] = add(v[c], v[d]);
    v[b] = xor_rotate::<12>(v[b], v[c]);
    v[a] = add(v[a], v[b]);
    v[d] = xor_rotate::<8>(v[d], v[a]);
    v[c] = add(v[c], v[d]);
    v[b] = xor_rotate::<7>(v[b], v[c]);
}

/// The keystream blocks `counter` to `counter + 3` of `state` (its own
/// counter word is ignored), as sixteen words per block.
#[inline(always)]
fn four_blocks(state: &[u32; 16], counter: u32) -> [[u32; 4]; 16] {
    let mut initial = state.map(|word| lanes([word; 4]));
    initial[COUNTER] = lanes([
        counter,
        counter.wrapping_add(1),
        counter.wrapping_add(2),
        counter.wrapping_add(3),
    ]);
    let mut v = initial;
    for _ in 0..DOUBLE_ROUNDS {
        quarter_round(&mut v, 0, 4, 8, 12);
        quarter_round(&mut v, 1, 5, 9, 13);
        quarter_round(&mut v, 2, 6, 10, 14);
        quarter_round(&mut v, 3, 7, 11, 15);
        quarter_round(&mut v, 0, 5, 10, 15);
        quarter_round(&mut v, 1, 6, 11, 12);
        quarter_round(&mut v, 2, 7, 8, 13);
        quarter_round(&mut v, 3, 4, 9, 14);
    }
    for (lanes, start) in v.iter_mut().zip(initial) {
        *lanes = add(*lanes, start);
    }
    v.map(words)
}

/// Writes the blocks of `words`, lane by lane, into `blocks` (up to four).
#[inline(always)]
fn write_blocks<'b>(
    words: &[[u32; 4]; 16],
    blocks: impl IntoIterator<Item = &'b mut Block<Backend<'static>>>,
) {
    for (lane, block) in blocks.into_iter().enumerate() {
        for (bytes, lanes) in block.chunks_exact_mut(4).zip(words) {
            if let Some(word) = lanes.get(lane) {
                bytes.copy_from_slice(&word.to_le_bytes());
            }
        }
    }
}

struct Backend<'a>(&'a mut [u32; 16]);

impl BlockSizeUser for Backend<'_> {
    type BlockSize = U64;
}

impl ParBlocksSizeUser for Backend<'_> {
    type ParBlocksSize = U4;
}

impl StreamCipherBackend for Backend<'_> {
    fn gen_ks_block(&mut self, block: &mut Block<Self>) {
        let counter = self.0[COUNTER];
        write_blocks(&four_blocks(self.0, counter), [block]);
        self.0[COUNTER] = counter.wrapping_add(1);
    }

    fn gen_par_ks_blocks(&mut self, blocks: &mut ParBlocks<Self>) {
        let counter = self.0[COUNTER];
        write_blocks(&four_blocks(self.0, counter), blocks.iter_mut());
        self.0[COUNTER] = counter.wrapping_add(4);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use chacha20::ChaCha20;
    use chacha20poly1305::aead::{AeadInOut as _, KeyInit as _};
    use chacha20poly1305::{ChaCha20Poly1305, ChaChaPoly1305};
    use cipher::{StreamCipher as _, StreamCipherSeek as _};
    use rand_chacha::ChaCha20Rng;
    use rand_core::{Rng as _, SeedableRng as _};

    use super::*;

    /// RFC 8439 §2.4.2: the sunscreen plaintext, key 00..1f, nonce
    /// 000000000000004a00000000, initial counter 1.
    #[test]
    fn rfc_8439_encryption_vector() {
        let key: [u8; 32] = core::array::from_fn(|i| i as u8);
        let nonce = [0, 0, 0, 0, 0, 0, 0, 0x4a, 0, 0, 0, 0];
        let mut text = *b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
        let mut cipher = ChaCha20x4::new(&key.into(), &nonce.into());
        cipher.seek(64u64);
        cipher.apply_keystream(&mut text);
        let expected = "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b\
                        f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8\
                        07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736\
                        5af90bbf74a35be6b40b8eedf2785e42874d";
        assert_eq!(hex::encode(text), expected);
    }

    /// The same bytes as RustCrypto's ChaCha20 for random keys, nonces,
    /// starting blocks and lengths, through the four-block path, the
    /// single-block path and partial blocks.
    #[test]
    fn the_same_keystream_as_the_chacha20_crate() {
        let mut rng = ChaCha20Rng::seed_from_u64(0x4a);
        for round in 0..200 {
            let mut key = [0u8; 32];
            let mut nonce = [0u8; 12];
            rng.fill_bytes(&mut key);
            rng.fill_bytes(&mut nonce);
            let len = (rng.next_u32() % 2_000) as usize + usize::from(round % 7 == 0) * 65_536;
            let start = u64::from(rng.next_u32() % 1_000) * if round % 2 == 0 { 64 } else { 1 };
            let mut data = vec![0u8; len];
            rng.fill_bytes(&mut data);
            let mut ours = data.clone();
            let mut theirs = data;
            let mut a = ChaCha20x4::new(&key.into(), &nonce.into());
            let mut b = ChaCha20::new(&key.into(), &nonce.into());
            a.seek(start);
            b.seek(start);
            // In two calls, so a call may start mid-block.
            let split = len / 3;
            a.apply_keystream(&mut ours[..split]);
            a.apply_keystream(&mut ours[split..]);
            b.apply_keystream(&mut theirs);
            assert_eq!(ours, theirs, "round {round}, {len} bytes from {start}");
        }
    }

    #[test]
    fn blocks_at_the_end_of_the_counter_match_and_then_stop() {
        let key = [9u8; 32];
        let nonce = [3u8; 12];
        let mut ours = vec![0u8; 64 * 5];
        let mut theirs = ours.clone();
        let mut a = ChaCha20x4::new(&key.into(), &nonce.into());
        let mut b = ChaCha20::new(&key.into(), &nonce.into());
        let near_end = (u64::from(u32::MAX) - 5) * 64;
        a.seek(near_end);
        b.seek(near_end);
        a.apply_keystream(&mut ours);
        b.apply_keystream(&mut theirs);
        assert_eq!(ours, theirs);
        let mut more = [0u8; 65];
        assert!(
            a.try_apply_keystream(&mut more).is_err(),
            "the counter would wrap"
        );
    }

    #[test]
    fn the_aead_over_it_seals_and_opens_as_chacha20poly1305_does() {
        let mut rng = ChaCha20Rng::seed_from_u64(8439);
        let mut key = [0u8; 32];
        rng.fill_bytes(&mut key);
        let ours = ChaChaPoly1305::<ChaCha20x4>::new(&key.into());
        let theirs = ChaCha20Poly1305::new(&key.into());
        for len in [0, 1, 63, 64, 65, 255, 256, 257, 65_536] {
            let nonce = [len as u8; 12].into();
            let mut plaintext = vec![0u8; len];
            rng.fill_bytes(&mut plaintext);
            let mut sealed_ours = plaintext.clone();
            let mut sealed_theirs = plaintext.clone();
            let tag_ours = ours
                .encrypt_inout_detached(&nonce, b"ad", sealed_ours.as_mut_slice().into())
                .unwrap();
            let tag_theirs = theirs
                .encrypt_inout_detached(&nonce, b"ad", sealed_theirs.as_mut_slice().into())
                .unwrap();
            assert_eq!(
                (&sealed_ours, tag_ours),
                (&sealed_theirs, tag_theirs),
                "{len}"
            );
            ours.decrypt_inout_detached(
                &nonce,
                b"ad",
                sealed_ours.as_mut_slice().into(),
                &tag_ours,
            )
            .unwrap();
            assert_eq!(sealed_ours, plaintext);
            if len > 0 {
                sealed_theirs[len / 2] ^= 1;
                assert!(
                    ours.decrypt_inout_detached(
                        &nonce,
                        b"ad",
                        sealed_theirs.as_mut_slice().into(),
                        &tag_theirs
                    )
                    .is_err()
                );
            }
        }
    }
}
