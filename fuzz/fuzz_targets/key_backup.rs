//! The sealed key backup parser (no key derivation runs on parse).
#![no_main]

use lexvault_core::backup::SealedBackup;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(backup) = SealedBackup::from_bytes(data) {
        assert_eq!(backup.to_bytes(), data);
    }
});
