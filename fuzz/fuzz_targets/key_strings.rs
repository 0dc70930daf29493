//! `age1…` recipients and `AGE-SECRET-KEY-1…` identities: parsing must never
//! panic, and whatever parses must re-encode to the same string.
#![no_main]

use lexvault_core::keys::{EncryptionPublicKey, EncryptionSecretKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(recipient) = s.parse::<EncryptionPublicKey>() {
        assert_eq!(recipient.to_string(), s);
    }
    if let Ok(identity) = EncryptionSecretKey::from_age_identity(s) {
        assert_eq!(identity.to_age_identity().expose_secret(), s);
    }
});
