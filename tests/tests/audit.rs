//! Audit bundles end to end: a firm's history is exported by its
//! administrator and verified offline; every kind of tampering with the
//! bundle is caught and named.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::Cursor;

use lexvault_client::audit::{self, AuditBundle, AuditReport, VerifyOptions, ViolationKind};
use lexvault_client::client::{now, os_rng};
use lexvault_client::log::{self, LogState};
use lexvault_client::vault::Vault;
use lexvault_core::api::{self, Receipt};
use lexvault_core::checkpoint::WitnessSigner;
use lexvault_core::grant::{Rights, Scope, Validity};
use lexvault_core::keys::SigningSecretKey;
use lexvault_core::log_entry::LogEntry;
use lexvault_core::membership::Role;
use lexvault_core::request::SignedRequest;
use lexvault_core::signed::RecordDigest;
use lexvault_tests::Firm;
use lexvault_tests::cli::CliUser;

struct Story {
    firm: Firm,
    relative: Vault,
    bundle: AuditBundle,
    /// The client's receipts, raw.
    receipts: Vec<Vec<u8>>,
}

/// Admin, attorney, client: upload shared with the client, download,
/// revoke; then the administrator exports the log.
fn story() -> Story {
    let firm = Firm::new();
    let attorney = firm.member("Ada Attorney", Role::Attorney);
    let client = firm.person("Carla Client");
    let relative = firm.person("Rory Relative");
    let matter = attorney.create_matter().unwrap();
    // The share is its own grant call: a grant made inside an upload is
    // not logged as a `granted` entry by the server (reported).
    let (doc, _) = attorney
        .put(
            matter.id(),
            None,
            "draft.txt",
            "text/plain",
            || Ok(Cursor::new(b"privileged".repeat(100))),
            &[],
            &mut |_| {},
        )
        .unwrap();
    let to_client = attorney
        .grant(
            matter.id(),
            Scope::Document(doc),
            &client.identity().public(),
            Rights::VIEW | Rights::DOWNLOAD,
            Validity::starting(0),
        )
        .unwrap();
    let opened = client.open_latest(&doc).unwrap();
    let mut payload = tempfile::tempfile().unwrap();
    client
        .fetch_payload(&opened, &mut payload, &mut |_| {})
        .unwrap();
    attorney.revoke(matter.id(), &to_client.digest()).unwrap();
    assert!(client.open_latest(&doc).is_err());
    let receipts = client.client().take_receipts();
    let mut state = LogState::default();
    let bundle = audit::export(
        firm.admin.client(),
        firm.admin.identity().signing_key(),
        &mut state,
        vec![],
    )
    .unwrap();
    Story {
        firm,
        relative,
        bundle,
        receipts,
    }
}

fn pinned(bundle: &AuditBundle) -> VerifyOptions {
    VerifyOptions {
        log_key: Some(log::parse_log_key(&bundle.verifier_key).unwrap()),
        ..VerifyOptions::default()
    }
}

fn entries(bundle: &AuditBundle) -> Vec<LogEntry> {
    bundle
        .entries
        .iter()
        .map(|e| LogEntry::from_bytes(e).unwrap())
        .collect()
}

fn position(bundle: &AuditBundle, kind: &str) -> usize {
    entries(bundle)
        .iter()
        .position(|e| e.kind == kind)
        .unwrap_or_else(|| panic!("no {kind} entry"))
}

fn assert_found(report: &AuditReport, kind: ViolationKind, entry: Option<u64>) {
    assert!(
        report.has(kind, entry),
        "expected {kind} at {entry:?}, got:\n{report}"
    );
}

#[test]
fn an_honest_history_verifies_and_tampering_is_named() {
    let story = story();
    let bundle = &story.bundle;
    let options = pinned(bundle);

    // The honest export verifies, with its counts.
    let report = audit::verify(bundle, &options);
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.entries, bundle.entries.len() as u64);
    assert_eq!(report.tree_size, report.entries);
    assert!(report.accesses_checked >= 1, "{report}");
    assert!(report.records >= 4, "{report}");
    assert!(!report.unpinned_key);
    for kind in ["administrator-set", "granted", "downloaded", "revoked"] {
        let _ = position(bundle, kind);
    }
    // The file round-trips; without a pinned key the report says so.
    let again = AuditBundle::from_bytes(&bundle.to_bytes()).unwrap();
    assert_eq!(&again, bundle);
    let unpinned = audit::verify(bundle, &VerifyOptions::default());
    assert!(unpinned.is_clean() && unpinned.unpinned_key, "{unpinned}");
    let mut trailing = bundle.to_bytes();
    trailing.push(0);
    assert!(AuditBundle::from_bytes(&trailing).is_err());

    // The client's receipts are consistent with the history.
    let mut with_receipts = pinned(bundle);
    with_receipts.receipts = story.receipts.clone();
    let report = audit::verify(bundle, &with_receipts);
    assert!(report.is_clean() && report.receipts >= 1, "{report}");

    // Checkpoints clients kept (from their receipts) go into an export and
    // are checked against the same history.
    let first: Receipt = api::decode(&story.receipts[0]).unwrap();
    let kept = String::from_utf8(first.checkpoint.to_vec()).unwrap();
    let with_kept = audit::export(
        story.firm.admin.client(),
        story.firm.admin.identity().signing_key(),
        &mut LogState::default(),
        vec![kept.clone()],
    )
    .unwrap();
    assert!(with_kept.checkpoints.contains(&kept));
    let report = audit::verify(&with_kept, &pinned(&with_kept));
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.checkpoints_verified, 2, "{report}");

    let download = position(bundle, "downloaded");
    let granted = position(bundle, "granted");

    // An entry's bytes edited: its evidence no longer verifies, and the
    // root no longer matches.
    let mut edited = bundle.clone();
    let mut e = LogEntry::from_bytes(&edited.entries[download]).unwrap();
    let last = e.evidence.len() - 1;
    e.evidence[last] ^= 1;
    edited.entries[download] = e.to_bytes().into();
    let report = audit::verify(&edited, &options);
    assert_found(
        &report,
        ViolationKind::InvalidEvidence,
        Some(download as u64),
    );
    assert_found(&report, ViolationKind::RootMismatch, None);

    // An entry deleted.
    let mut deleted = bundle.clone();
    deleted.entries.remove(download);
    let report = audit::verify(&deleted, &options);
    assert_found(&report, ViolationKind::IndexMismatch, Some(download as u64));
    assert_found(&report, ViolationKind::MissingEntries, None);

    // Two entries swapped.
    let mut swapped = bundle.clone();
    swapped.entries.swap(granted, download);
    let report = audit::verify(&swapped, &options);
    assert_found(&report, ViolationKind::IndexMismatch, Some(granted as u64));
    assert_found(&report, ViolationKind::IndexMismatch, Some(download as u64));
    assert_found(&report, ViolationKind::RootMismatch, None);
    // The download now precedes its grant.
    assert_found(
        &report,
        ViolationKind::AccessWithoutGrant,
        Some(granted as u64),
    );

    // A forged entry: the client's download again, but the evidence is
    // signed by someone else.
    let mut forged = bundle.clone();
    let mut e = LogEntry::from_bytes(&bundle.entries[download]).unwrap();
    let request = SignedRequest::from_evidence(&e.evidence).unwrap();
    let other = SigningSecretKey::generate(&mut os_rng());
    let fake = SignedRequest::sign(
        request.request().target().clone(),
        request.request().position(),
        &other,
        now(),
        &mut os_rng(),
    )
    .unwrap();
    let n = forged.entries.len();
    e.index = n as u64;
    e.evidence = fake.as_bytes().to_vec().into();
    forged.entries.push(e.to_bytes().into());
    let report = audit::verify(&forged, &options);
    assert_found(
        &report,
        ViolationKind::EvidenceSignerMismatch,
        Some(n as u64),
    );
    assert_found(&report, ViolationKind::UncoveredEntries, None);

    // A download by someone who never held a grant, with their own valid
    // signature: the access rules catch it.
    let mut intruder = bundle.clone();
    let mut e = LogEntry::from_bytes(&bundle.entries[download]).unwrap();
    let fake = SignedRequest::sign(
        request.request().target().clone(),
        request.request().position(),
        story.relative.identity().signing_key(),
        now(),
        &mut os_rng(),
    )
    .unwrap();
    e.index = n as u64;
    e.actor = story.relative.identity().public().signing.to_bytes().into();
    e.evidence = fake.as_bytes().to_vec().into();
    intruder.entries.push(e.to_bytes().into());
    let report = audit::verify(&intruder, &options);
    assert_found(&report, ViolationKind::AccessWithoutGrant, Some(n as u64));
    assert!(
        !report.has(ViolationKind::EvidenceSignerMismatch, None),
        "{report}"
    );

    // The client's own, validly signed download replayed after the
    // revocation: no access after revocation.
    let mut after = bundle.clone();
    let mut e = LogEntry::from_bytes(&bundle.entries[download]).unwrap();
    let revoked = entries(bundle)[position(bundle, "revoked")].at;
    e.index = n as u64;
    e.at = revoked + 1;
    after.entries.push(e.to_bytes().into());
    let report = audit::verify(&after, &options);
    assert_found(&report, ViolationKind::AccessWithoutGrant, Some(n as u64));
    assert!(
        report
            .violations
            .iter()
            .any(|v| v.detail.contains("revoked")),
        "{report}"
    );

    // The grant record dropped: the grant entry names a missing record and
    // the download has no grant.
    let subject = entries(bundle)[granted].subject.unwrap();
    let mut dropped = bundle.clone();
    dropped
        .records
        .retain(|r| RecordDigest::of(r).0 != *subject);
    assert_eq!(dropped.records.len() + 1, bundle.records.len());
    let report = audit::verify(&dropped, &options);
    assert_found(&report, ViolationKind::MissingRecord, Some(granted as u64));
    assert_found(
        &report,
        ViolationKind::AccessWithoutGrant,
        Some(download as u64),
    );

    // A checkpoint signed by another key, and a bundle verified under the
    // wrong log key.
    let other_firm = Firm::new();
    let mut state = LogState::default();
    let foreign = audit::export(
        other_firm.admin.client(),
        other_firm.admin.identity().signing_key(),
        &mut state,
        vec![],
    )
    .unwrap();
    let report = audit::verify(bundle, &pinned(&foreign));
    assert_found(&report, ViolationKind::CheckpointSignature, None);
    assert_found(&report, ViolationKind::UncoveredEntries, None);

    // Witnesses: without a cosignature the quorum is not met; once the
    // witness cosigns the checkpoint, it is.
    let witness =
        WitnessSigner::new("witness.example", SigningSecretKey::generate(&mut os_rng())).unwrap();
    let mut quorum = pinned(bundle);
    quorum.witnesses = vec![witness.key()];
    quorum.quorum = Some(1);
    let report = audit::verify(bundle, &quorum);
    assert_found(&report, ViolationKind::WitnessQuorum, None);
    let mut cosigned = bundle.clone();
    let note = &bundle.checkpoints[0];
    let text = &note[..note.find("\n\n").unwrap() + 1];
    let line = witness.cosign(text, now()).unwrap().to_line();
    cosigned.checkpoints[0] = format!("{note}{line}");
    let report = audit::verify(&cosigned, &quorum);
    assert!(report.is_clean(), "{report}");

    // A receipt whose entry is not the bundle's.
    let mut r: Receipt = api::decode(story.receipts.last().unwrap()).unwrap();
    r.entry = bundle.entries[0].clone();
    let mut bad_receipt = pinned(bundle);
    bad_receipt.receipts = vec![api::encode(&r)];
    let report = audit::verify(bundle, &bad_receipt);
    assert_found(&report, ViolationKind::ReceiptMismatch, Some(r.index));
    assert_found(&report, ViolationKind::InvalidReceipt, Some(r.index));

    // A receipt from a history the bundle does not contain: its checkpoint
    // is newer than the bundle (the log went on after the export).
    let late = story.firm.person("Late Comer");
    let mut late_receipt = pinned(bundle);
    late_receipt.receipts = late.client().take_receipts();
    assert!(!late_receipt.receipts.is_empty());
    let report = audit::verify(bundle, &late_receipt);
    assert_found(&report, ViolationKind::ReceiptMismatch, None);
    assert_found(&report, ViolationKind::ReceiptFork, None);
}

#[test]
fn the_cli_exports_and_verifies() {
    let firm_server = lexvault_tests::TestServer::start();
    let url = firm_server.url.clone();
    let admin = CliUser::new(&url, "admin password");
    let _ = admin.json(&["init", "--name", "Firm Admin", "--argon2-memory-mib", "19"]);
    let bundle_file = admin.home.path().join("admin.bundle");
    let _ = admin.json(&["whoami", "--bundle", bundle_file.to_str().unwrap()]);
    lexvault_server::admin::init_admin(firm_server.data_dir(), &bundle_file).unwrap();
    let attorney = CliUser::new(&url, "attorney password");
    let attorney_key = attorney.enrol("Ada Attorney");
    let _ = admin.json(&["member", "certify", &attorney_key, "--role", "attorney"]);
    let matter = attorney.json(&["matter", "create"])["matter"]
        .as_str()
        .unwrap()
        .to_owned();
    let draft = attorney.home.path().join("draft.txt");
    std::fs::write(&draft, b"draft").unwrap();
    let _ = attorney.json(&["put", &matter, draft.to_str().unwrap()]);

    let out = admin.home.path().join("audit.bundle");
    let export = admin.json(&["audit", "export", "-o", out.to_str().unwrap()]);
    let key = export["log_key"].as_str().unwrap().to_owned();
    assert!(export["entries"].as_u64().unwrap() >= 5, "{export}");

    // Offline: no server needed.
    drop(firm_server);
    let auditor = CliUser::new("http://127.0.0.1:9", "unused");
    let report = auditor.json(&["audit", "verify", out.to_str().unwrap(), "--log-key", &key]);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["entries"], export["entries"]);
    let human = auditor.run(&["audit", "verify", out.to_str().unwrap()]);
    assert!(human.status.success());
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("unpinned") || text.contains("--log-key"),
        "{text}"
    );
    assert!(text.contains("no violations"), "{text}");

    // A tampered file fails with exit code 1 and names the violation.
    let mut bundle = AuditBundle::from_bytes(&std::fs::read(&out).unwrap()).unwrap();
    bundle.entries.swap(1, 2);
    let tampered = admin.home.path().join("tampered.bundle");
    std::fs::write(&tampered, bundle.to_bytes()).unwrap();
    let failed = auditor.run(&[
        "--json",
        "audit",
        "verify",
        tampered.to_str().unwrap(),
        "--log-key",
        &key,
    ]);
    assert_eq!(failed.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&failed.stdout).unwrap();
    assert_eq!(report["ok"], false);
    let kinds: Vec<&str> = report["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"index-mismatch"), "{kinds:?}");
    assert!(kinds.contains(&"root-mismatch"), "{kinds:?}");

    // Bad usage.
    let usage = auditor.run(&["audit", "verify", out.to_str().unwrap(), "--quorum", "1"]);
    assert_eq!(usage.status.code(), Some(2));
}
