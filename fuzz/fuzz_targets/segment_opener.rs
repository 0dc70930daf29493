//! What a decryption worker is handed: the opener bytes from the page, a
//! segment's index and the segment's payload bytes, which come from the
//! server. Errors, never panics; an opened segment's plaintext fits in its
//! buffer.
#![no_main]

use lexvault_core::opening::segments::{SEGMENT_OPENER_LEN, SegmentOpener};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((opener, rest)) = data.split_first_chunk::<SEGMENT_OPENER_LEN>() else { return };
    let Some((index, chunks)) = rest.split_first_chunk::<4>() else { return };
    let Ok(opener) = SegmentOpener::from_bytes(opener) else { return };
    let mut chunks = chunks.to_vec();
    if let Ok(len) = opener.open_segment(u32::from_be_bytes(*index).into(), &mut chunks) {
        assert!(len <= chunks.len());
    }
});
