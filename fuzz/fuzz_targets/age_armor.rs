//! The armor reader over arbitrary input: errors, never panics.
#![no_main]

use std::io::Read;

use lexvault_core::age::ArmoredReader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let _ = ArmoredReader::new(data).read_to_end(&mut out);
});
