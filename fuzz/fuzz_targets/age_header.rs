//! The age header parser: never panics; whatever parses re-encodes to the
//! exact bytes it was parsed from.
#![no_main]

use lexvault_core::age::header::Header;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((header, used)) = Header::parse(data) {
        assert_eq!(Some(&header.to_bytes()[..]), data.get(..used));
    }
});
