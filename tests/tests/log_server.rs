//! The server's transparency log: every recorded call comes back with a
//! receipt whose checkpoint is signed by the log key and whose proof
//! includes the call's own entry; checkpoints stay consistent across
//! calls and restarts; entries are for the administrator only.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::Cursor;

use lexvault_core::api::{self, LogBundle, LogCheckpoint, LogEntries, LogProof, Receipt};
use lexvault_core::checkpoint::Checkpoint;
use lexvault_core::log_entry::LogEntry;
use lexvault_core::membership::Role;
use lexvault_core::merkle::{self, Hash};
use lexvault_core::note::NoteVerifier;
use lexvault_core::request::SignedRequest;
use lexvault_server::app::Limits;
use lexvault_tests::{Firm, TestServer};

fn hashes(proof: &LogProof) -> Vec<Hash> {
    proof.hashes.iter().map(|h| **h).collect()
}

#[test]
fn receipts_prove_each_call_and_checkpoints_stay_consistent() {
    let firm = Firm::new();
    let attorney = firm.member("Ada Attorney", Role::Attorney);
    let key = attorney.identity().signing_key();
    let client = attorney.client();

    let head: LogCheckpoint = client.get(key, "/v1/log/checkpoint").unwrap();
    let verifier: NoteVerifier = head.verifier_key.parse().unwrap();
    let origin = verifier.name().to_owned();
    let (first, _) = Checkpoint::open(&head.checkpoint, &origin, &verifier).unwrap();
    let _ = client.take_receipts();

    let matter = attorney.create_matter().unwrap();
    attorney
        .put(
            matter.id(),
            None,
            "memo.txt",
            "text/plain",
            || Ok(Cursor::new(b"privileged".to_vec())),
            &[],
            &mut |_| {},
        )
        .unwrap();
    let receipts = client.take_receipts();
    // Creating the matter, reading the grants for the upload, uploading:
    // every call that recorded an event has a receipt.
    assert!(receipts.len() >= 2, "{} receipts", receipts.len());
    let mut last = first.clone();
    for bytes in &receipts {
        let receipt: Receipt = api::decode(bytes).unwrap();
        let entry = LogEntry::from_bytes(&receipt.entry).unwrap();
        assert_eq!(entry.index, receipt.index);
        let request = SignedRequest::from_evidence(&entry.evidence).unwrap();
        assert_eq!(request.signer(), &attorney.identity().public().signing);
        assert_eq!(*entry.actor, request.signer().to_bytes());
        let (checkpoint, _) = Checkpoint::open(&receipt.checkpoint, &origin, &verifier).unwrap();
        let proof: Vec<Hash> = receipt.proof.iter().map(|h| **h).collect();
        merkle::verify_inclusion(
            receipt.index,
            checkpoint.size,
            &entry.leaf_hash(),
            &proof,
            &checkpoint.root,
        )
        .unwrap();
        // A flipped bit anywhere in the proof fails.
        if let Some(first_hash) = proof.first() {
            let mut bad = proof.clone();
            bad[0] = {
                let mut h = *first_hash;
                h[0] ^= 1;
                h
            };
            assert!(
                merkle::verify_inclusion(
                    receipt.index,
                    checkpoint.size,
                    &entry.leaf_hash(),
                    &bad,
                    &checkpoint.root
                )
                .is_err()
            );
        }
        // Each new checkpoint extends the one before.
        let path = format!(
            "/v1/log/consistency?from={}&to={}",
            last.size, checkpoint.size
        );
        let proof: LogProof = client.get(key, &path).unwrap();
        merkle::verify_consistency(
            last.size,
            checkpoint.size,
            &hashes(&proof),
            &last.root,
            &checkpoint.root,
        )
        .unwrap();
        last = checkpoint;
    }

    // The server's own inclusion proofs agree with the receipts.
    let receipt: Receipt = api::decode(receipts.last().unwrap()).unwrap();
    let path = format!(
        "/v1/log/inclusion?index={}&size={}",
        receipt.index, last.size
    );
    let proof: LogProof = client.get(key, &path).unwrap();
    assert_eq!(
        hashes(&proof),
        receipt.proof.iter().map(|h| **h).collect::<Vec<_>>()
    );

    // Entries are the administrator's to read.
    let denied = client
        .get::<LogEntries>(key, &format!("/v1/log/entries?start=0&end={}", last.size))
        .unwrap_err();
    assert_eq!(denied.code(), Some("not-administrator"));
    let admin_key = firm.admin.identity().signing_key();
    let all: LogEntries = client
        .get(
            admin_key,
            &format!("/v1/log/entries?start=0&end={}", last.size),
        )
        .unwrap();
    let leaves: Vec<Hash> = all.entries.iter().map(|e| merkle::leaf_hash(e)).collect();
    assert_eq!(merkle::root(&leaves), last.root);
    let bundle: LogBundle = client
        .get(
            admin_key,
            &format!("/v1/log/bundle?start=0&end={}", last.size),
        )
        .unwrap();
    assert_eq!(bundle.entries, all.entries);
    assert!(
        bundle
            .records
            .iter()
            .any(|r| r.as_slice() == matter.as_bytes())
    );
    for bad in [
        "start=1&end=0",
        "start=0&end=99999",
        "start=0",
        "start=01&end=2",
    ] {
        let err = client
            .get::<LogEntries>(admin_key, &format!("/v1/log/entries?{bad}"))
            .unwrap_err();
        assert_eq!(err.status(), Some(400), "{bad}");
    }

    // A restart keeps the tree and the key: the new head extends the old.
    let Firm { server, .. } = firm;
    let url_before = server.url.clone();
    let restarted = TestServer::start_in(server.stop(), Limits::default());
    assert_ne!(restarted.url, url_before);
    let client = restarted.client();
    let head: LogCheckpoint = client.get(key, "/v1/log/checkpoint").unwrap();
    assert_eq!(head.verifier_key, verifier.to_string());
    let (after, _) = Checkpoint::open(&head.checkpoint, &origin, &verifier).unwrap();
    assert!(after.size >= last.size);
    let path = format!("/v1/log/consistency?from={}&to={}", last.size, after.size);
    let proof: LogProof = client.get(key, &path).unwrap();
    merkle::verify_consistency(
        last.size,
        after.size,
        &hashes(&proof),
        &last.root,
        &after.root,
    )
    .unwrap();
}
