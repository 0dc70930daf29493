//! Every signed CBOR record parser over the same input: errors, never
//! panics; an accepted record's bytes are exactly the input.
#![no_main]

use lexvault_core::membership::MemberCertificate;
use lexvault_core::signed::Signed;
use lexvault_core::{grant, key_bundle, manifest, matter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(g) = grant::parse_grant(data) {
        assert_eq!(g.as_bytes(), data);
    }
    if let Ok(r) = grant::parse_revocation(data) {
        assert_eq!(r.as_bytes(), data);
    }
    if let Ok(m) = manifest::verify_manifest(data) {
        assert_eq!(m.as_bytes(), data);
    }
    if let Ok(c) = Signed::<MemberCertificate>::from_bytes(data) {
        assert_eq!(c.as_bytes(), data);
    }
    let _ = key_bundle::verify_key_bundle(data);
    let _ = matter::verify_matter(data);
});
