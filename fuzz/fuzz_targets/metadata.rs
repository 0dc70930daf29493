//! The metadata plaintext parser (what `SealedMetadata::open` parses after
//! decrypting): errors, never panics; an accepted record is canonical, so
//! its encoding is exactly the input, and it seals and opens again.
#![no_main]

use lexvault_core::codec;
use lexvault_core::manifest::{DocumentId, VersionNumber};
use lexvault_core::matter::MatterId;
use lexvault_core::metadata::{Metadata, MetadataBinding};
use lexvault_core::secret::FileKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(metadata) = Metadata::from_plaintext(data) else {
        return;
    };
    assert_eq!(codec::encode(&metadata), data);
    let key = FileKey::from_array(&mut [7u8; 16]);
    let binding = MetadataBinding {
        matter_id: MatterId::from_bytes([1; 16]),
        document_id: DocumentId::from_bytes([2; 16]),
        version: VersionNumber::FIRST,
    };
    let opened = metadata.seal(&key, &binding).open(&key, &binding);
    assert_eq!(opened.map(|m| codec::encode(&m)).ok().as_deref(), Some(data));
});
