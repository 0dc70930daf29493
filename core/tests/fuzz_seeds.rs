//! The fuzz targets' seed corpora, `fuzz/corpus/<target>/`: valid inputs
//! for every parser, taken from the project's vectors or made here with
//! fixed seeds. A normal run requires the committed seeds to equal what the
//! code makes now, so a format change cannot leave the fuzzers starting
//! from inputs that no longer parse; after a deliberate change, run with
//! `LEXVAULT_WRITE_FUZZ_SEEDS=1` and review the diff. The age targets also
//! start from the public age vectors in `spec/vectors/age/` (see
//! `scripts/fuzz`), which are not copied.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::path::PathBuf;

use lexvault_core::age;
use lexvault_core::api::{
    self, ActorHead, CreateMatter, DocumentView, ErrorBody, LogEntries, Receipt, VersionView,
};
use lexvault_core::checkpoint::Checkpoint;
use lexvault_core::codec;
use lexvault_core::key_bundle::KeyBundle;
use lexvault_core::keys::{EncryptionSecretKey, Identity, SigningSecretKey};
use lexvault_core::link::LinkSecret;
use lexvault_core::log_entry::LogEntry;
use lexvault_core::matter::Matter;
use lexvault_core::membership::{MemberCertificate, Role};
use lexvault_core::merkle;
use lexvault_core::metadata::Metadata;
use lexvault_core::note::NoteSigner;
use lexvault_core::request::{BodyDigest, ChainPosition, RequestTarget, SignedRequest};
use support::{read_vector_file, seeded_rng};

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus")
}

fn unhex(value: &serde_json::Value) -> Vec<u8> {
    hex::decode(value.as_str().expect("a hex string")).expect("hex")
}

/// Every seed: (target, file name, bytes).
fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut rng = seeded_rng(41);

    // Signed records: the published record vectors, and a member
    // certificate made here.
    let records = read_vector_file("records.json");
    for name in [
        "grant_leaf",
        "grant_root",
        "key_bundle",
        "manifest_v1",
        "manifest_v2",
        "matter",
        "revocation",
    ] {
        out.push((
            "signed_records",
            name.to_owned(),
            unhex(&records[name]["bytes"]),
        ));
    }
    let admin = Identity::generate(&mut rng);
    let member = Identity::generate(&mut rng);
    let bundle = KeyBundle::create(&member, "Ada Attorney", 1_700_000_000).expect("bundle");
    let certificate =
        MemberCertificate::issue(&bundle, Role::Attorney, 1_700_000_100, admin.signing_key());
    out.push((
        "signed_records",
        "member_certificate".into(),
        certificate.as_bytes().to_vec(),
    ));

    // A signed request, as header and as stored evidence.
    let request = SignedRequest::sign(
        RequestTarget {
            method: "GET".into(),
            path: "/v1/documents/00112233445566778899aabbccddeeff".into(),
            query: String::new(),
            body_digest: BodyDigest::empty(),
        },
        ChainPosition::FIRST.next([7; 32]),
        member.signing_key(),
        1_700_000_200,
        &mut rng,
    )
    .expect("sign");
    out.push((
        "signed_requests",
        "evidence".into(),
        request.as_bytes().to_vec(),
    ));
    out.push((
        "signed_requests",
        "header".into(),
        request.header_value().into_bytes(),
    ));

    // The log: an entry carrying that request, and a signed checkpoint.
    let entry = LogEntry {
        version: 1,
        index: 0,
        at: 1_700_000_201,
        kind: "downloaded".into(),
        actor: member.public().signing.to_bytes().into(),
        matter_id: Some([1; 16].into()),
        document_id: Some([2; 16].into()),
        document_version: Some(1),
        subject: None,
        evidence: request.as_bytes().to_vec().into(),
    };
    let leaf = entry.to_bytes();
    let log_key = SigningSecretKey::from_seed(&admin.signing_key().to_seed());
    let signer = NoteSigner::new("example.com/lexvault/log", log_key).expect("note key");
    let note = Checkpoint::new(
        "example.com/lexvault/log",
        1,
        merkle::root(&[merkle::leaf_hash(&leaf)]),
    )
    .expect("checkpoint")
    .sign(&signer)
    .expect("sign");
    out.push(("log_records", "entry".into(), leaf.clone()));
    out.push((
        "log_records",
        "checkpoint".into(),
        note.clone().into_bytes(),
    ));

    // API messages the server parses or clients read.
    let matter = Matter::create(&mut rng, admin.signing_key(), 1_700_000_300);
    out.push((
        "api_messages",
        "create_matter".into(),
        api::encode(&CreateMatter {
            matter: matter.as_bytes().to_vec().into(),
        }),
    ));
    let receipt = Receipt {
        index: 0,
        entry: leaf.clone().into(),
        checkpoint: note.into_bytes().into(),
        proof: vec![],
    };
    out.push(("api_messages", "receipt".into(), api::encode(&receipt)));
    out.push((
        "api_messages",
        "actor_head".into(),
        api::encode(&ActorHead {
            last: Some(receipt),
        }),
    ));
    out.push((
        "api_messages",
        "log_entries".into(),
        api::encode(&LogEntries {
            entries: vec![leaf.into()],
        }),
    ));
    out.push((
        "api_messages",
        "error".into(),
        api::encode(&ErrorBody {
            code: "out-of-sequence".into(),
            message: "fetch your latest entry and sign again".into(),
        }),
    ));
    // A document whose version a grantee uploaded: with the uploader's
    // grant chain (leaf, then root).
    out.push((
        "api_messages",
        "document_view".into(),
        api::encode(&DocumentView {
            matter: unhex(&records["matter"]["bytes"]).into(),
            versions: vec![VersionView {
                manifest: unhex(&records["manifest_v1"]["bytes"]).into(),
                metadata: vec![0x5a; 48].into(),
                stanza: None,
                uploader_grants: vec![
                    unhex(&records["grant_leaf"]["bytes"]).into(),
                    unhex(&records["grant_root"]["bytes"]).into(),
                ],
            }],
            grants: vec![unhex(&records["grant_root"]["bytes"]).into()],
            revocations: vec![unhex(&records["revocation"]["bytes"]).into()],
        }),
    ));

    // Sealed key backups and key strings.
    let backup = read_vector_file("backup.json");
    out.push((
        "key_backup",
        "sealed".into(),
        unhex(&backup["sealed"]["blob"]),
    ));
    let x25519 = EncryptionSecretKey::generate(&mut rng);
    out.push((
        "key_strings",
        "recipient".into(),
        x25519.public_key().to_string().into_bytes(),
    ));
    out.push((
        "key_strings",
        "identity".into(),
        x25519.to_age_identity().expose_secret().as_bytes().to_vec(),
    ));

    // Share-link fragments.
    let fragment = LinkSecret::generate(&mut rng).to_fragment();
    out.push((
        "link_fragment",
        "fresh".into(),
        fragment.expose_secret().as_bytes().to_vec(),
    ));

    // Metadata plaintext, as sealed inside every version.
    let metadata = Metadata::new(
        "Settlement draft (v3).pdf",
        "application/pdf",
        123_456,
        [9; 32],
    )
    .expect("metadata");
    out.push(("metadata", "pdf".into(), codec::encode(&metadata)));

    // A decryption worker's input: an opener for a payload of two chunks
    // (70,000 bytes of plaintext), segment 0, and a run of the right length.
    let payload_len = age::stream::payload_len(70_000).expect("a payload length");
    let mut worker = vec![7u8; 32];
    worker.extend_from_slice(&payload_len.to_be_bytes());
    worker.extend_from_slice(&0u32.to_be_bytes());
    let run = usize::try_from(payload_len).expect("small") - age::stream::PAYLOAD_NONCE_LEN;
    worker.extend((0..run).map(|i| (i % 251) as u8));
    out.push(("segment_opener", "two-chunks".into(), worker));
    out
}

#[test]
fn fuzz_seed_corpora_are_current() {
    let write = std::env::var_os("LEXVAULT_WRITE_FUZZ_SEEDS").is_some_and(|v| v == "1");
    for (target, name, bytes) in seeds() {
        let path = corpus_dir().join(target).join(&name);
        if write {
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("corpus dir");
            std::fs::write(&path, &bytes).expect("write seed");
            continue;
        }
        let committed = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run with LEXVAULT_WRITE_FUZZ_SEEDS=1 to create it",
                path.display()
            )
        });
        assert!(
            committed == bytes,
            "{} differs from what the code makes now; after a deliberate format change, \
             rerun with LEXVAULT_WRITE_FUZZ_SEEDS=1 and review the diff",
            path.display()
        );
    }
}
