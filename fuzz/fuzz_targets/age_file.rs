//! A whole age file (armored or not) decrypted with a fixed identity:
//! errors, never panics.
#![no_main]

use std::io::Read;

use lexvault_core::age::{Decryptor, Identity};
use lexvault_core::keys::EncryptionSecretKey;
use libfuzzer_sys::fuzz_target;

const IDENTITY: &str = "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0";

fuzz_target!(|data: &[u8]| {
    let Ok(key) = EncryptionSecretKey::from_age_identity(IDENTITY) else { return };
    let Ok(decryptor) = Decryptor::new(data) else { return };
    if let Ok(mut reader) = decryptor.decrypt(&[Identity::from(&key)]) {
        let mut out = Vec::new();
        let _ = reader.read_to_end(&mut out);
    }
});
