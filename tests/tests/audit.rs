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

// Access rules on synthetic histories: each rule broken once, in a
// history that is otherwise clean, is reported with exactly its name and
// the entry that broke it.

mod rules {
    use lexvault_client::audit::{self, AuditBundle, AuditReport, VerifyOptions, ViolationKind};
    use lexvault_client::client::os_rng;
    use lexvault_client::log;
    use lexvault_core::grant::{Rights, Scope, Validity};
    use lexvault_core::keys::Identity;
    use lexvault_core::manifest::{DocumentId, Manifest};
    use lexvault_core::matter::VerifiedMatter;
    use lexvault_core::membership::Role;
    use lexvault_core::signed::Signed;
    use lexvault_tests::synthetic_log::{LogBuilder, SyntheticLink, firm_history};

    const DAY: u64 = 24 * 60 * 60;

    /// An administrator, an attorney with a matter and a document, a
    /// client holding view and download on it, co-counsel holding every
    /// right across the matter, and a registered stranger.
    struct Small {
        log: LogBuilder,
        attorney: Identity,
        client: Identity,
        co_counsel: Identity,
        stranger: Identity,
        matter: VerifiedMatter,
        document: DocumentId,
        v1: Signed<Manifest>,
        client_grant: Signed<lexvault_core::grant::Grant>,
        co_counsel_grant: Signed<lexvault_core::grant::Grant>,
    }

    fn small() -> Small {
        let mut log = LogBuilder::new(1_767_225_600);
        let admin = Identity::generate(&mut os_rng());
        log.administrator_set(&admin);
        let attorney = Identity::generate(&mut os_rng());
        let client = Identity::generate(&mut os_rng());
        let co_counsel = Identity::generate(&mut os_rng());
        let stranger = Identity::generate(&mut os_rng());
        let bundle = log.registered(&attorney, "Ada Attorney");
        log.certified(&admin, &bundle, Role::Attorney);
        let bundle = log.registered(&co_counsel, "Cole Counsel");
        log.certified(&admin, &bundle, Role::Attorney);
        let _ = log.registered(&client, "Carla Client");
        let _ = log.registered(&stranger, "Sam Stranger");
        log.advance(60);
        let matter = log.matter_created(&attorney);
        let document = DocumentId::generate(&mut os_rng());
        let v1 = log.uploaded(attorney.signing_key(), matter.id(), &document, None);
        log.advance(60);
        let client_grant = log.make_grant(
            attorney.signing_key(),
            matter.id(),
            Scope::Document(document),
            &client,
            Rights::VIEW | Rights::DOWNLOAD,
            Validity::starting(log.now()),
            None,
            None,
        );
        log.granted(attorney.signing_key(), &client_grant);
        let co_counsel_grant = log.make_grant(
            attorney.signing_key(),
            matter.id(),
            Scope::Matter,
            &co_counsel,
            Rights::ALL,
            Validity::starting(log.now()),
            None,
            None,
        );
        log.granted(attorney.signing_key(), &co_counsel_grant);
        log.advance(60);
        log.viewed(client.signing_key(), matter.id(), &document, 1);
        log.advance(60);
        Small {
            log,
            attorney,
            client,
            co_counsel,
            stranger,
            matter,
            document,
            v1,
            client_grant,
            co_counsel_grant,
        }
    }

    impl Small {
        /// A link to the document by the attorney, for a week.
        fn link(&mut self) -> SyntheticLink {
            let expires = self.log.now() + 7 * DAY;
            self.log
                .link_created(
                    self.attorney.signing_key(),
                    self.matter.id(),
                    &self.document,
                    1,
                    expires,
                    None,
                )
                .1
        }

        fn verify(self) -> AuditReport {
            verify(&self.log.finish())
        }
    }

    fn verify(bundle: &AuditBundle) -> AuditReport {
        let options = VerifyOptions {
            log_key: Some(log::parse_log_key(&bundle.verifier_key).unwrap()),
            ..VerifyOptions::default()
        };
        audit::verify(bundle, &options)
    }

    /// The report holds exactly one violation: `kind` at `entry`.
    fn assert_only(report: &AuditReport, kind: ViolationKind, entry: u64) {
        let found: Vec<(ViolationKind, Option<u64>)> = report
            .violations
            .iter()
            .map(|v| (v.kind, v.entry))
            .collect();
        assert_eq!(found, vec![(kind, Some(entry))], "{report}");
    }

    #[test]
    fn a_synthetic_firm_history_verifies_clean() {
        let bundle = firm_history(4000, 7);
        let report = verify(&bundle);
        assert!(report.is_clean(), "{report}");
        assert_eq!(report.tree_size, bundle.entries.len() as u64);
        assert!(report.checkpoints_verified >= 10, "{report}");
        assert!(report.accesses_checked > 1000, "{report}");
        assert!(report.authority_checked > 400, "{report}");
        for kind in [
            "uploaded",
            "granted",
            "revoked",
            "link-created",
            "link-opened",
            "link-downloaded",
            "link-revoked",
        ] {
            let n = bundle
                .entries
                .iter()
                .filter(|e| {
                    lexvault_core::log_entry::LogEntry::from_bytes(e)
                        .unwrap()
                        .kind
                        == kind
                })
                .count();
            assert!(n > 0, "no {kind} entry in the synthetic history");
        }
        // The same history on one thread: the same verdict.
        let options = VerifyOptions {
            log_key: Some(log::parse_log_key(&bundle.verifier_key).unwrap()),
            threads: 1,
            ..VerifyOptions::default()
        };
        assert!(audit::verify(&bundle, &options).is_clean());
    }

    #[test]
    fn the_small_history_and_its_honest_uses_verify_clean() {
        let mut s = small();
        // A second version by co-counsel, a sub-grant by co-counsel, a
        // link opened, downloaded, claimed and revoked by its creator.
        let v2 = s.log.uploaded(
            s.co_counsel.signing_key(),
            s.matter.id(),
            &s.document,
            Some(&s.v1),
        );
        let expert = Identity::generate(&mut os_rng());
        let sub = s.log.make_grant(
            s.co_counsel.signing_key(),
            s.matter.id(),
            Scope::Document(s.document),
            &expert,
            Rights::VIEW,
            Validity::starting(s.log.now()),
            None,
            Some(s.co_counsel_grant.digest()),
        );
        s.log.granted(s.co_counsel.signing_key(), &sub);
        s.log.advance(10);
        s.log
            .viewed(expert.signing_key(), s.matter.id(), &s.document, 2);
        let expires = s.log.now() + DAY;
        let (_, link) = s.log.link_created(
            s.co_counsel.signing_key(),
            s.matter.id(),
            &s.document,
            v2.record().version().get(),
            expires,
            Some(s.co_counsel_grant.digest()),
        );
        s.log.advance(10);
        s.log.link_opened(&link, link.keys.signing_key());
        s.log.advance(10);
        s.log.link_downloaded(&link, link.keys.signing_key());
        let claimer = Identity::generate(&mut os_rng());
        s.log.link_opened(&link, claimer.signing_key());
        s.log.link_downloaded(&link, claimer.signing_key());
        s.log.link_revoked(&link, s.co_counsel.signing_key());
        s.log
            .revoked(s.attorney.signing_key(), &s.client_grant.clone());
        let report = s.verify();
        assert!(report.is_clean(), "{report}");
    }

    #[test]
    fn an_upload_without_the_upload_right_is_named() {
        let mut s = small();
        // The client holds view and download only.
        let _ = s.log.uploaded(
            s.client.signing_key(),
            s.matter.id(),
            &s.document,
            Some(&s.v1),
        );
        let at = s.log.len() - 1;
        assert_only(&s.verify(), ViolationKind::UploadWithoutRight, at);

        let mut s = small();
        let other = DocumentId::generate(&mut os_rng());
        let _ = s
            .log
            .uploaded(s.stranger.signing_key(), s.matter.id(), &other, None);
        let at = s.log.len() - 1;
        assert_only(&s.verify(), ViolationKind::UploadWithoutRight, at);
    }

    #[test]
    fn an_upload_after_the_uploaders_grant_was_revoked_is_named() {
        let mut s = small();
        let grant = s.co_counsel_grant.clone();
        s.log.revoked(s.attorney.signing_key(), &grant);
        s.log.advance(10);
        let _ = s.log.uploaded(
            s.co_counsel.signing_key(),
            s.matter.id(),
            &s.document,
            Some(&s.v1),
        );
        let at = s.log.len() - 1;
        assert_only(&s.verify(), ViolationKind::UploadWithoutRight, at);
    }

    #[test]
    fn a_version_that_does_not_follow_the_latest_is_named() {
        let mut s = small();
        let _v2 = s.log.uploaded(
            s.attorney.signing_key(),
            s.matter.id(),
            &s.document,
            Some(&s.v1),
        );
        // Another version 2, over version 1 again: a fork of the document.
        let _ = s.log.uploaded(
            s.attorney.signing_key(),
            s.matter.id(),
            &s.document,
            Some(&s.v1),
        );
        let at = s.log.len() - 1;
        assert_only(&s.verify(), ViolationKind::VersionOutOfOrder, at);
    }

    #[test]
    fn a_grant_without_authority_is_named() {
        // The client may not share: its sub-grant confers nothing.
        let mut s = small();
        let sub = s.log.make_grant(
            s.client.signing_key(),
            s.matter.id(),
            Scope::Document(s.document),
            &s.stranger,
            Rights::VIEW,
            Validity::starting(s.log.now()),
            None,
            Some(s.client_grant.digest()),
        );
        let at = s.log.granted(s.client.signing_key(), &sub);
        assert_only(&s.verify(), ViolationKind::GrantWithoutAuthority, at);

        // A grant call whose grant someone else signed.
        let mut s = small();
        let grant = s.log.make_grant(
            s.attorney.signing_key(),
            s.matter.id(),
            Scope::Document(s.document),
            &s.stranger,
            Rights::VIEW,
            Validity::starting(s.log.now()),
            None,
            None,
        );
        let at = s.log.granted(s.client.signing_key(), &grant);
        assert_only(&s.verify(), ViolationKind::GrantWithoutAuthority, at);
    }

    #[test]
    fn a_revocation_without_authority_is_named() {
        // The client is not up co-counsel's chain.
        let mut s = small();
        let grant = s.co_counsel_grant.clone();
        let at = s.log.revoked(s.client.signing_key(), &grant);
        assert_only(&s.verify(), ViolationKind::RevocationWithoutAuthority, at);
    }

    #[test]
    fn a_link_by_someone_who_may_not_share_is_named() {
        let mut s = small();
        let expires = s.log.now() + DAY;
        let (at, _) = s.log.link_created(
            s.client.signing_key(),
            s.matter.id(),
            &s.document,
            1,
            expires,
            Some(s.client_grant.digest()),
        );
        assert_only(&s.verify(), ViolationKind::ShareWithoutRight, at);
    }

    #[test]
    fn a_link_grant_the_server_would_refuse_is_named() {
        // A lifetime beyond the longest a link may live.
        let mut s = small();
        let expires = s.log.now() + 200 * DAY;
        let (at, _) = s.log.link_created(
            s.attorney.signing_key(),
            s.matter.id(),
            &s.document,
            1,
            expires,
            None,
        );
        assert_only(&s.verify(), ViolationKind::InvalidLinkGrant, at);

        // Bound to a version that is not the latest.
        let mut s = small();
        let _ = s.log.uploaded(
            s.attorney.signing_key(),
            s.matter.id(),
            &s.document,
            Some(&s.v1),
        );
        let expires = s.log.now() + DAY;
        let (at, _) = s.log.link_created(
            s.attorney.signing_key(),
            s.matter.id(),
            &s.document,
            1,
            expires,
            None,
        );
        assert_only(&s.verify(), ViolationKind::InvalidLinkGrant, at);
    }

    #[test]
    fn a_link_opened_after_its_revocation_is_named() {
        let mut s = small();
        let link = s.link();
        s.log.link_opened(&link, link.keys.signing_key());
        s.log.link_revoked(&link, s.attorney.signing_key());
        s.log.advance(10);
        let at = s.log.link_opened(&link, link.keys.signing_key());
        assert_only(&s.verify(), ViolationKind::LinkUsedAfterRevocation, at);

        // Its payload fetched after the revocation, with a ticket from
        // before it.
        let mut s = small();
        let link = s.link();
        s.log.link_opened(&link, link.keys.signing_key());
        s.log.link_revoked(&link, s.attorney.signing_key());
        let at = s.log.link_downloaded(&link, link.keys.signing_key());
        assert_only(&s.verify(), ViolationKind::LinkUsedAfterRevocation, at);

        // The sharer's own grant revoked: the link stops with it.
        let mut s = small();
        let expires = s.log.now() + DAY;
        let (_, link) = s.log.link_created(
            s.co_counsel.signing_key(),
            s.matter.id(),
            &s.document,
            1,
            expires,
            Some(s.co_counsel_grant.digest()),
        );
        let grant = s.co_counsel_grant.clone();
        s.log.revoked(s.attorney.signing_key(), &grant);
        s.log.advance(10);
        let at = s.log.link_opened(&link, link.keys.signing_key());
        assert_only(&s.verify(), ViolationKind::LinkUsedAfterRevocation, at);
    }

    #[test]
    fn a_link_opened_after_it_expired_is_named() {
        let mut s = small();
        let link = s.link();
        s.log.link_opened(&link, link.keys.signing_key());
        s.log.advance(8 * DAY);
        let at = s.log.link_opened(&link, link.keys.signing_key());
        assert_only(&s.verify(), ViolationKind::LinkUsedAfterExpiry, at);
    }

    #[test]
    fn a_link_opened_by_another_key_is_named() {
        // Nobody opened it with the link's key (and so claimed it) first.
        let mut s = small();
        let link = s.link();
        let at = s.log.link_opened(&link, s.stranger.signing_key());
        assert_only(&s.verify(), ViolationKind::LinkUsedByWrongKey, at);

        // Claimed: the link's own key no longer opens it.
        let mut s = small();
        let link = s.link();
        s.log.link_opened(&link, link.keys.signing_key());
        let claimer = Identity::generate(&mut os_rng());
        s.log.link_opened(&link, claimer.signing_key());
        let at = s.log.link_opened(&link, link.keys.signing_key());
        assert_only(&s.verify(), ViolationKind::LinkUsedByWrongKey, at);
    }

    #[test]
    fn a_link_download_without_an_open_is_named() {
        let mut s = small();
        let link = s.link();
        let at = s.log.link_downloaded(&link, link.keys.signing_key());
        assert_only(&s.verify(), ViolationKind::LinkDownloadWithoutOpen, at);

        // The ticket from the open lasted an hour.
        let mut s = small();
        let link = s.link();
        s.log.link_opened(&link, link.keys.signing_key());
        s.log.advance(2 * 60 * 60);
        let at = s.log.link_downloaded(&link, link.keys.signing_key());
        assert_only(&s.verify(), ViolationKind::LinkDownloadWithoutOpen, at);
    }

    #[test]
    fn a_link_revoked_by_someone_else_is_named() {
        let mut s = small();
        let link = s.link();
        let at = s.log.link_revoked(&link, s.client.signing_key());
        // The revocation did not count: the link still opens.
        s.log.link_opened(&link, link.keys.signing_key());
        assert_only(
            &s.verify(),
            ViolationKind::LinkRevocationWithoutAuthority,
            at,
        );
    }

    #[test]
    fn a_link_entry_for_no_link_is_named() {
        let mut s = small();
        // The client's ordinary grant passed off as a link's.
        let fake = SyntheticLink {
            keys: Identity::generate(&mut os_rng()),
            grant: s.client_grant.clone(),
            id: [7; 16],
        };
        let at = s.log.link_opened(&fake, s.client.signing_key());
        assert_only(&s.verify(), ViolationKind::UnknownLink, at);
    }

    #[test]
    fn a_link_key_gets_no_generic_access() {
        let mut s = small();
        let link = s.link();
        let key = link.keys.signing_key();
        let at = s.log.viewed(key, s.matter.id(), &s.document, 1);
        assert_only(&s.verify(), ViolationKind::AccessWithoutGrant, at);
    }
}
