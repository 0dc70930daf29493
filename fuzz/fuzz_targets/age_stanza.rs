//! One age stanza: parse, then re-encode byte for byte.
#![no_main]

use lexvault_core::age::stanza::Stanza;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(stanza) = Stanza::parse(data) {
        assert_eq!(stanza.to_bytes(), data);
    }
});
