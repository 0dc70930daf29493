//! The request-signature header and stored request evidence: errors, never
//! panics; accepted evidence re-serialises to the same bytes.
#![no_main]

use lexvault_core::request::SignedRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = SignedRequest::from_evidence(data) {
        assert_eq!(r.as_bytes(), data);
        let again = SignedRequest::from_header(&r.header_value()).map(|r| r.as_bytes().to_vec());
        assert_eq!(again.ok().as_deref(), Some(data));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = SignedRequest::from_header(text);
    }
});
