//! The share-link fragment parser: strict, round-trips, never panics.
#![no_main]

use lexvault_core::link::LinkSecret;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(secret) = LinkSecret::from_fragment(s) {
        assert_eq!(secret.to_fragment().expose_secret(), s);
    }
});
