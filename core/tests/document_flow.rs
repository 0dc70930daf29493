//! A document version end to end through the core, as the vault uses it:
//! the uploader encrypts the payload once, wraps the fresh file key to each
//! party, seals the metadata and signs the manifest; each party assembles a
//! standard age file from its own stanza and the shared payload, and checks
//! the manifest's key commitment, payload digest and metadata binding.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::io::{Read, Write};

use lexvault_core::age::{self, Decryptor, Header, Identity, StreamWriter};
use lexvault_core::keys::Identity as Person;
use lexvault_core::manifest::{
    DocumentId, KeyCommitment, Manifest, ManifestError, ManifestTerms, PayloadHasher,
    VersionNumber, verify_manifest,
};
use lexvault_core::matter::{Matter, MatterId};
use lexvault_core::metadata::{
    Metadata, MetadataBinding, OpenError, SealedMetadata, plaintext_digest,
};
use lexvault_core::secret::FileKey;
use lexvault_core::signed::Signed;
use support::seeded_rng;

struct Upload {
    manifest: Vec<u8>,
    payload: Vec<u8>,
    stanzas: Vec<age::Stanza>,
    metadata: SealedMetadata,
}

fn upload(
    uploader: &Person,
    recipients: &[&Person],
    matter_id: MatterId,
    document_id: DocumentId,
    plaintext: &[u8],
    rng_seed: u8,
) -> Upload {
    let mut rng = seeded_rng(rng_seed);
    let file_key = FileKey::generate(&mut rng);

    let mut writer = StreamWriter::new(&file_key, Vec::new(), &mut rng).unwrap();
    writer.write_all(plaintext).unwrap();
    let payload = writer.finish().unwrap();
    let mut hasher = PayloadHasher::new();
    hasher.write_all(&payload).unwrap();
    let (payload_digest, payload_len) = hasher.finalize();

    let stanzas = recipients
        .iter()
        .map(|p| age::wrap_file_key(&file_key, &p.public().encryption, &mut rng))
        .collect();

    let binding = MetadataBinding {
        matter_id,
        document_id,
        version: VersionNumber::FIRST,
    };
    let digest = plaintext_digest(plaintext);
    let metadata = Metadata::new(
        "draft settlement.pdf",
        "application/pdf",
        plaintext.len() as u64,
        digest,
    )
    .unwrap()
    .seal(&file_key, &binding);

    let manifest = Manifest::new(ManifestTerms {
        matter_id,
        document_id,
        version: VersionNumber::FIRST,
        previous: None,
        payload_digest,
        payload_len,
        key_commitment: KeyCommitment::derive(&file_key),
        metadata_digest: metadata.digest(),
        created_at: 1_700_000_000,
    })
    .unwrap();
    let manifest = Signed::sign(manifest, uploader.signing_key()).into_bytes();
    Upload {
        manifest,
        payload,
        stanzas,
        metadata,
    }
}

fn unwrap(stanza: &age::Stanza, party: &Person) -> Result<FileKey, String> {
    age::x25519::unwrap_file_key(stanza, party.encryption_key())
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "stanza is not for this party".to_owned())
}

/// What a party does on download; returns the plaintext and the file name.
fn open_as(
    party: &Person,
    stanza: &age::Stanza,
    upload: &Upload,
    payload: &[u8],
    binding: &MetadataBinding,
) -> Result<(Vec<u8>, String), String> {
    let manifest = verify_manifest(&upload.manifest).map_err(|e| e.to_string())?;
    let manifest = manifest.record();

    // The party's export is a header holding only its own stanza, whose
    // MAC it computes with the file key it unwraps, followed by the shared
    // payload: a standard age file.
    let file_key = unwrap(stanza, party)?;
    manifest
        .check_file_key(&file_key)
        .map_err(|e| e.to_string())?;
    let header = Header::build(vec![stanza.clone()], &file_key).map_err(|e| e.to_string())?;
    let mut file = Vec::new();
    age::assemble(&header, payload, &mut file).map_err(|e| e.to_string())?;

    let mut hasher = PayloadHasher::new();
    hasher.write_all(payload).unwrap();
    let (digest, len) = hasher.finalize();
    manifest
        .check_payload(&digest, len)
        .map_err(|e| e.to_string())?;

    let mut plaintext = Vec::new();
    let key = party.encryption_key();
    Decryptor::new(&file[..])
        .and_then(|d| d.decrypt(&[Identity::from(key)]))
        .map_err(|e| e.to_string())?
        .read_to_end(&mut plaintext)
        .map_err(|e| e.to_string())?;

    manifest
        .check_metadata(&upload.metadata.digest())
        .map_err(|e| e.to_string())?;
    let metadata = upload
        .metadata
        .open(&file_key, binding)
        .map_err(|e| e.to_string())?;
    if !metadata.matches_plaintext(&plaintext_digest(&plaintext), plaintext.len() as u64) {
        return Err("plaintext digest mismatch".into());
    }
    Ok((plaintext, metadata.file_name().to_owned()))
}

#[test]
fn every_recipient_opens_the_same_verified_bytes() {
    let mut rng = seeded_rng(40);
    let attorney = Person::generate(&mut rng);
    let client = Person::generate(&mut rng);
    let outsider = Person::generate(&mut rng);
    let matter = Matter::create(&mut rng, attorney.signing_key(), 1_700_000_000);
    let document_id = DocumentId::generate(&mut rng);
    let binding = MetadataBinding {
        matter_id: *matter.id(),
        document_id,
        version: VersionNumber::FIRST,
    };

    let plaintext: Vec<u8> = (0..150_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let up = upload(
        &attorney,
        &[&attorney, &client],
        *matter.id(),
        document_id,
        &plaintext,
        41,
    );

    for (party, stanza) in [(&attorney, &up.stanzas[0]), (&client, &up.stanzas[1])] {
        let (opened, name) = open_as(party, stanza, &up, &up.payload, &binding).unwrap();
        assert_eq!(opened, plaintext);
        assert_eq!(name, "draft settlement.pdf");
    }
    // Someone else's stanza opens nothing for the outsider.
    assert!(open_as(&outsider, &up.stanzas[1], &up, &up.payload, &binding).is_err());
}

#[test]
fn a_hostile_server_is_caught() {
    let mut rng = seeded_rng(50);
    let attorney = Person::generate(&mut rng);
    let client = Person::generate(&mut rng);
    let matter = Matter::create(&mut rng, attorney.signing_key(), 1_700_000_000);
    let (doc_a, doc_b) = (
        DocumentId::generate(&mut rng),
        DocumentId::generate(&mut rng),
    );
    let binding_a = MetadataBinding {
        matter_id: *matter.id(),
        document_id: doc_a,
        version: VersionNumber::FIRST,
    };
    let binding_b = MetadataBinding {
        matter_id: *matter.id(),
        document_id: doc_b,
        version: VersionNumber::FIRST,
    };

    let a = upload(
        &attorney,
        &[&client],
        *matter.id(),
        doc_a,
        b"settlement draft A",
        51,
    );
    let b = upload(
        &attorney,
        &[&client],
        *matter.id(),
        doc_b,
        b"settlement draft B",
        52,
    );

    // Serving B's payload under A's manifest: B's key is not A's committed key.
    let err = open_as(&client, &b.stanzas[0], &a, &b.payload, &binding_a).unwrap_err();
    assert_eq!(err, ManifestError::KeyCommitmentMismatch.to_string());

    // A's stanza with a payload of the same key but altered bytes.
    let mut flipped = a.payload.clone();
    *flipped.last_mut().unwrap() ^= 1;
    let err = open_as(&client, &a.stanzas[0], &a, &flipped, &binding_a).unwrap_err();
    assert_eq!(err, ManifestError::PayloadMismatch.to_string());

    // Moving A's metadata to document B: the binding no longer matches.
    let file_key = unwrap(&a.stanzas[0], &client).unwrap();
    assert!(matches!(
        a.metadata.open(&file_key, &binding_b),
        Err(OpenError::DecryptionFailed)
    ));

    // A forged manifest signature is refused before anything is decrypted.
    let mut forged = a.manifest.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    let tampered = Upload {
        manifest: forged,
        payload: a.payload.clone(),
        stanzas: vec![],
        metadata: a.metadata,
    };
    assert!(open_as(&client, &a.stanzas[0], &tampered, &a.payload, &binding_a).is_err());
}
