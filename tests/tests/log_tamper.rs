//! Tampering with the server's database directly, as an attacker with the
//! disk can: the append-only triggers are dropped, then log leaves and
//! event rows are edited, deleted, reordered and inserted while the server
//! is stopped. After a restart, each change is caught by the client's log
//! monitor (a fork against the checkpoint it pinned) or by an offline
//! audit of a fresh export (a named violation), or the server refuses to
//! start. A control runs the same flow without tampering and passes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::Cursor;

use lexvault_client::audit::{self, AuditBundle, AuditReport, VerifyOptions, ViolationKind};
use lexvault_client::client::{now, os_rng};
use lexvault_client::log::{self, LogError, LogMonitor, LogState};
use lexvault_client::vault::{Share, Vault};
use lexvault_core::api::LogCheckpoint;
use lexvault_core::checkpoint::Checkpoint;
use lexvault_core::grant::{Rights, Scope, Validity};
use lexvault_core::keys::{Identity, SigningSecretKey};
use lexvault_core::log_entry::LogEntry;
use lexvault_core::matter::MatterId;
use lexvault_core::membership::Role;
use lexvault_core::merkle::{self, Hash};
use lexvault_core::note::NoteSigner;
use lexvault_core::request::{ChainPosition, SignedRequest};
use lexvault_core::secret::SecretBytes;
use lexvault_server::app::{AppState, Limits};
use lexvault_tests::tamper::{append_leaf, open_db, restart};
use lexvault_tests::{Firm, TestServer, same_person_on};
use rusqlite::{Connection, params};

/// A firm after some activity, with what its people kept before anyone
/// touched the database.
struct Scene {
    server: TestServer,
    admin: Vault,
    attorney: Vault,
    client: Vault,
    matter: MatterId,
    /// The client's log state, pinned after its own calls and a sync.
    client_state: LogState,
    /// The client's receipts, raw.
    receipts: Vec<Vec<u8>>,
    /// The administrator's export, taken before tampering.
    before: AuditBundle,
}

/// Admin, attorney, client (and a relative): a matter, an upload shared
/// with the client, the client's download, a grant to the relative and its
/// revocation. The client checks its receipts and syncs; the administrator
/// exports the log, which verifies clean.
fn scene() -> Scene {
    let firm = Firm::new();
    let attorney = firm.member("Ada Attorney", Role::Attorney);
    let client = firm.person("Carla Client");
    let relative = firm.person("Rory Relative");
    let matter = attorney.create_matter().unwrap();
    let share = Share {
        with: client.identity().public(),
        rights: Rights::VIEW | Rights::DOWNLOAD,
        validity: Validity::starting(0),
    };
    let (doc, _) = attorney
        .put(
            matter.id(),
            None,
            "draft.txt",
            "text/plain",
            || Ok(Cursor::new(b"privileged".repeat(100))),
            &[share],
            &mut |_| {},
        )
        .unwrap();
    let opened = client.open_latest(&doc).unwrap();
    let mut payload = tempfile::tempfile().unwrap();
    client
        .fetch_payload(&opened, &mut payload, &mut |_| {})
        .unwrap();
    let to_relative = attorney
        .grant(
            matter.id(),
            Scope::Document(doc),
            &relative.identity().public(),
            Rights::VIEW,
            Validity::starting(0),
        )
        .unwrap();
    attorney.revoke(matter.id(), &to_relative.digest()).unwrap();

    let receipts = client.client().take_receipts();
    assert!(!receipts.is_empty());
    let mut client_state = LogState::default();
    LogMonitor::check_receipts(
        client.client(),
        client.identity().signing_key(),
        &mut client_state,
        receipts.clone(),
    )
    .unwrap();
    let _ = LogMonitor::sync(
        client.client(),
        client.identity().signing_key(),
        &mut client_state,
    )
    .unwrap();

    let before = audit::export(
        firm.admin.client(),
        firm.admin.identity().signing_key(),
        &mut LogState::default(),
        vec![],
    )
    .unwrap();
    let report = audit::verify(&before, &options(&before, &receipts));
    assert!(report.is_clean(), "{report}");
    // Nothing was logged between the client's sync and the export.
    assert_eq!(pinned(&client_state).size, before.entries.len() as u64);

    let Firm { server, admin } = firm;
    Scene {
        server,
        admin,
        attorney,
        client,
        matter: *matter.id(),
        client_state,
        receipts,
        before,
    }
}

/// Verification options with the log key pinned from `bundle` and the
/// client's receipts.
fn options(bundle: &AuditBundle, receipts: &[Vec<u8>]) -> VerifyOptions {
    VerifyOptions {
        log_key: Some(log::parse_log_key(&bundle.verifier_key).unwrap()),
        receipts: receipts.to_vec(),
        ..VerifyOptions::default()
    }
}

fn pinned(state: &LogState) -> Checkpoint {
    let verifier = state.verifier().unwrap().unwrap();
    log::open_checkpoint(state.checkpoint.as_deref().unwrap(), &verifier).unwrap()
}

/// The index of the first entry of `kind` in the pre-tamper export.
fn position(bundle: &AuditBundle, kind: &str) -> u64 {
    bundle
        .entries
        .iter()
        .position(|e| LogEntry::from_bytes(e).unwrap().kind == kind)
        .unwrap_or_else(|| panic!("no {kind} entry")) as u64
}

/// The same person's vault on a restarted server (a new address).
fn leaf(db: &Connection, idx: u64) -> (Vec<u8>, Vec<u8>) {
    db.query_row(
        "SELECT entry, hash FROM log_leaves WHERE idx = ?1",
        [idx as i64],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

fn set_leaf(db: &Connection, idx: u64, entry: &[u8], hash: &[u8]) {
    let n = db
        .execute(
            "UPDATE log_leaves SET entry = ?2, hash = ?3 WHERE idx = ?1",
            params![idx as i64, entry, hash],
        )
        .unwrap();
    assert_eq!(n, 1);
}

/// The client syncs with the restarted server from its pinned state.
fn client_sync(scene: &Scene, server: &TestServer) -> Result<(String, Checkpoint), LogError> {
    let mut state = scene.client_state.clone();
    LogMonitor::sync(
        &server.client(),
        scene.client.identity().signing_key(),
        &mut state,
    )
}

fn assert_fork(scene: &Scene, result: Result<(String, Checkpoint), LogError>) {
    match result {
        Err(LogError::Fork { pinned, served }) => {
            assert_eq!(Some(&pinned), scene.client_state.checkpoint.as_ref());
            assert_ne!(pinned, served);
        }
        Err(e) => panic!("expected a fork, got: {e}"),
        Ok((note, _)) => panic!("expected a fork, the sync passed with:\n{note}"),
    }
}

/// A fresh export from the restarted server, with the pre-tamper
/// checkpoint added, verified offline under the log key pinned before, with
/// the client's receipts.
fn audit_after(scene: &Scene, server: &TestServer) -> (AuditBundle, AuditReport) {
    let bundle = audit::export(
        &server.client(),
        scene.admin.identity().signing_key(),
        &mut LogState::default(),
        vec![scene.before.checkpoints[0].clone()],
    )
    .unwrap();
    let report = audit::verify(&bundle, &options(&scene.before, &scene.receipts));
    (bundle, report)
}

fn assert_found(report: &AuditReport, kind: ViolationKind, entry: Option<u64>) {
    assert!(
        report.has(kind, entry),
        "expected {kind} at {entry:?}, got:\n{report}"
    );
}

#[test]
fn control_an_untouched_database_passes_every_check() {
    let scene = scene();
    let server = restart(scene.server, |_| {});
    let scene = Scene { server, ..scene };

    // Same head: the client's sync passes and keeps its pin.
    let (note, served) = client_sync(&scene, &scene.server).unwrap();
    assert_eq!(Some(&note), scene.client_state.checkpoint.as_ref());
    assert_eq!(served.size, scene.before.entries.len() as u64);
    // The fresh export holds the same entries; with the old checkpoint and
    // the client's receipts it verifies clean.
    let (bundle, report) = audit_after(&scene, &scene.server);
    assert_eq!(bundle.entries, scene.before.entries);
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.checkpoints_verified, 1, "one distinct checkpoint");
    // The matter's events verify for its creator.
    let attorney = same_person_on(&scene.server, &scene.attorney);
    assert!(!attorney.events(&scene.matter).unwrap().is_empty());

    // An honest append after the restart is consistent, and still clean.
    let _ = Vault::new(scene.server.client(), Identity::generate(&mut os_rng()))
        .register("Late Comer")
        .unwrap();
    let (_, served) = client_sync(&scene, &scene.server).unwrap();
    assert_eq!(served.size, scene.before.entries.len() as u64 + 1);
    let (_, report) = audit_after(&scene, &scene.server);
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.checkpoints_verified, 2);

    // And the database reopens.
    let data = scene.server.stop();
    assert!(AppState::open(data.path(), Limits::default()).is_ok());
}

#[test]
fn an_edited_leaf_with_its_hash_recomputed_forks_and_fails_the_audit() {
    let scene = scene();
    let download = position(&scene.before, "downloaded");
    let server = restart(scene.server, |db| {
        let (mut entry, _) = leaf(db, download);
        // The last byte is in the evidence's signature.
        *entry.last_mut().unwrap() ^= 1;
        set_leaf(db, download, &entry, &merkle::leaf_hash(&entry));
    });
    let scene = Scene { server, ..scene };

    // The head has the same size and another root: a fork.
    assert_fork(&scene, client_sync(&scene, &scene.server));

    // The server signs the edited tree, but the entry's evidence no
    // longer verifies, the old checkpoint's root is not the entries', and
    // the client's receipt holds the entry as it was.
    let (_, report) = audit_after(&scene, &scene.server);
    assert_found(&report, ViolationKind::InvalidEvidence, Some(download));
    assert_found(&report, ViolationKind::RootMismatch, None);
    assert_found(&report, ViolationKind::ReceiptMismatch, Some(download));
    assert_found(&report, ViolationKind::ReceiptFork, None);
}

#[test]
fn an_edited_leaf_keeping_its_hash_fails_the_audit() {
    let scene = scene();
    let download = position(&scene.before, "downloaded");
    let server = restart(scene.server, |db| {
        let (mut entry, hash) = leaf(db, download);
        *entry.last_mut().unwrap() ^= 1;
        set_leaf(db, download, &entry, &hash);
    });
    let scene = Scene { server, ..scene };

    // The tree is built from the stored hashes, which did not change: the
    // client, which sees only checkpoints and proofs, cannot tell.
    let (note, _) = client_sync(&scene, &scene.server).unwrap();
    assert_eq!(Some(&note), scene.client_state.checkpoint.as_ref());

    // The auditor hashes the entries themselves: no checkpoint matches.
    let (_, report) = audit_after(&scene, &scene.server);
    assert_found(&report, ViolationKind::InvalidEvidence, Some(download));
    assert_found(&report, ViolationKind::RootMismatch, None);
    assert_eq!(report.checkpoints_verified, 0, "{report}");
    assert_found(&report, ViolationKind::UncoveredEntries, None);
    assert_found(&report, ViolationKind::ReceiptMismatch, Some(download));
}

#[test]
fn a_rewritten_event_row_does_not_change_the_events_view() {
    let scene = scene();
    let download = position(&scene.before, "downloaded");
    let server = restart(scene.server, |db| {
        // The download is put on the attorney (event seq = leaf index + 1).
        let n = db
            .execute(
                "UPDATE events SET actor = ?2 WHERE seq = ?1",
                params![
                    download as i64 + 1,
                    scene
                        .attorney
                        .identity()
                        .public()
                        .signing
                        .to_bytes()
                        .as_slice()
                ],
            )
            .unwrap();
        assert_eq!(n, 1);
    });
    let scene = Scene { server, ..scene };

    // The view is served from the log entries, not from the rewritten row:
    // it still names the real actor of the download.
    let attorney = same_person_on(&scene.server, &scene.attorney);
    let events = attorney.events(&scene.matter).unwrap();
    let shown = events
        .iter()
        .find(|e| e.seq == download + 1)
        .expect("the download is in the view");
    assert_eq!(shown.kind, "downloaded");
    assert_eq!(
        *shown.actor,
        scene.client.identity().public().signing.to_bytes()
    );
    // The log itself is untouched: its checks pass.
    client_sync(&scene, &scene.server).unwrap();
    let (_, report) = audit_after(&scene, &scene.server);
    assert!(report.is_clean(), "{report}");
}

#[test]
fn a_deleted_last_leaf_is_caught_once_the_index_is_reused() {
    let scene = scene();
    let n = scene.before.entries.len() as u64;
    let server = restart(scene.server, |db| {
        db.execute("DELETE FROM log_leaves WHERE idx = ?1", [n as i64 - 1])
            .unwrap();
        db.execute("DELETE FROM events WHERE seq = ?1", [n as i64])
            .unwrap();
        // The subtrees that covered it, so appends go on.
        db.execute(
            "DELETE FROM log_nodes WHERE ((idx + 1) << level) >= ?1",
            [n as i64],
        )
        .unwrap();
    });
    let scene = Scene { server, ..scene };

    // The server's head shrank: its tree is one leaf short of the pin.
    let head: LogCheckpoint = scene
        .server
        .client()
        .get(scene.client.identity().signing_key(), "/v1/log/checkpoint")
        .unwrap();
    let verifier = scene.client_state.verifier().unwrap().unwrap();
    let served =
        log::open_checkpoint(std::str::from_utf8(&head.checkpoint).unwrap(), &verifier).unwrap();
    assert_eq!(served.size, n - 1);
    // The client's sync calls a head smaller than its pin a fork (a
    // rollback), with both signed checkpoints, and keeps the pin.
    let mut state = scene.client_state.clone();
    let rolled_back = LogMonitor::sync(
        &scene.server.client(),
        scene.client.identity().signing_key(),
        &mut state,
    );
    assert_fork(&scene, rolled_back);
    assert_eq!(state, scene.client_state);

    // The next event takes the deleted leaf's index: same size as the pin,
    // another root, a fork.
    let _ = Vault::new(scene.server.client(), Identity::generate(&mut os_rng()))
        .register("Late Comer")
        .unwrap();
    assert_fork(&scene, client_sync(&scene, &scene.server));
    // The old checkpoint's root is not the new history's.
    let (bundle, report) = audit_after(&scene, &scene.server);
    assert_eq!(bundle.entries.len() as u64, n);
    assert_found(&report, ViolationKind::RootMismatch, None);
}

#[test]
fn a_deleted_middle_leaf_stops_the_server_from_starting() {
    let scene = scene();
    let download = position(&scene.before, "downloaded");
    let data = scene.server.stop();
    let db = open_db(data.path());
    db.execute("DELETE FROM log_leaves WHERE idx = ?1", [download as i64])
        .unwrap();
    db.execute("DELETE FROM events WHERE seq = ?1", [download as i64 + 1])
        .unwrap();
    drop(db);
    let err = match AppState::open(data.path(), Limits::default()) {
        Ok(_) => panic!("the server started on a log with a gap"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains(&format!(
            "the log has a gap at leaf {download}: the database was altered"
        )),
        "{err}"
    );
}

#[test]
fn swapped_leaves_fork_and_fail_the_audit() {
    let scene = scene();
    let granted = position(&scene.before, "granted");
    let download = position(&scene.before, "downloaded");
    assert!(
        granted < download,
        "the share's grant precedes the download"
    );
    let server = restart(scene.server, |db| {
        let (a, ha) = leaf(db, granted);
        let (b, hb) = leaf(db, download);
        set_leaf(db, granted, &b, &hb);
        set_leaf(db, download, &a, &ha);
    });
    let scene = Scene { server, ..scene };

    assert_fork(&scene, client_sync(&scene, &scene.server));

    let (_, report) = audit_after(&scene, &scene.server);
    assert_found(&report, ViolationKind::IndexMismatch, Some(granted));
    assert_found(&report, ViolationKind::IndexMismatch, Some(download));
    // The download now comes before the grant that allows it.
    assert_found(&report, ViolationKind::AccessWithoutGrant, Some(granted));
    assert_found(&report, ViolationKind::RootMismatch, None);
    assert_found(&report, ViolationKind::ReceiptMismatch, Some(download));
}

#[test]
fn forged_appended_leaves_are_consistent_but_fail_the_audit() {
    let scene = scene();
    let n = scene.before.entries.len() as u64;
    let download = position(&scene.before, "downloaded");
    let original = LogEntry::from_bytes(&scene.before.entries[download as usize]).unwrap();
    let request = SignedRequest::from_evidence(&original.evidence).unwrap();
    let target = request.request().target().clone();

    // A download by a stranger who never held a grant, validly signed by
    // that stranger.
    let stranger = SigningSecretKey::generate(&mut os_rng());
    let mut intruder = original.clone();
    intruder.index = n;
    intruder.actor = stranger.public_key().to_bytes().into();
    intruder.evidence = SignedRequest::sign(
        target.clone(),
        ChainPosition::FIRST,
        &stranger,
        now(),
        &mut os_rng(),
    )
    .unwrap()
    .as_bytes()
    .to_vec()
    .into();
    // The client's download again, its evidence signed by someone else.
    let mut impostor = original.clone();
    impostor.index = n + 1;
    impostor.evidence = SignedRequest::sign(
        target,
        ChainPosition::FIRST,
        &SigningSecretKey::generate(&mut os_rng()),
        now(),
        &mut os_rng(),
    )
    .unwrap()
    .as_bytes()
    .to_vec()
    .into();

    let server = restart(scene.server, |db| {
        append_leaf(db, &intruder);
        append_leaf(db, &impostor);
    });
    let scene = Scene { server, ..scene };

    // An append is consistent with the pinned head: the monitor passes.
    let (_, served) = client_sync(&scene, &scene.server).unwrap();
    assert_eq!(served.size, n + 2);

    // The audit names both forgeries; the history before them, the old
    // checkpoint and the client's receipts, all still hold.
    let (_, report) = audit_after(&scene, &scene.server);
    assert_found(&report, ViolationKind::AccessWithoutGrant, Some(n));
    assert_found(&report, ViolationKind::EvidenceSignerMismatch, Some(n + 1));
    assert_eq!(report.checkpoints_verified, 2, "{report}");
    assert_eq!(report.tree_size, n + 2);
    assert_eq!(report.violations.len(), 2, "{report}");
}

/// The log rebuilt from `entries` (re-indexed in order) with one checkpoint
/// signed by the server's own log key: what a server that drops entries
/// before anyone has seen its log could present.
fn rebuilt(scene: &Scene, entries: Vec<Vec<u8>>) -> AuditBundle {
    let db = Connection::open(scene.server.data_dir().join("lexvault.sqlite3")).unwrap();
    let mut seed: [u8; 32] = db
        .query_row("SELECT seed FROM log_key", [], |r| r.get::<_, Vec<u8>>(0))
        .unwrap()
        .try_into()
        .unwrap();
    let origin = log::parse_log_key(&scene.before.verifier_key)
        .unwrap()
        .name()
        .to_owned();
    let signer = NoteSigner::new(
        &origin,
        SigningSecretKey::from_seed(&SecretBytes::from_array(&mut seed)),
    )
    .unwrap();
    let entries: Vec<Vec<u8>> = entries
        .iter()
        .enumerate()
        .map(|(i, bytes)| {
            let mut entry = LogEntry::from_bytes(bytes).unwrap();
            entry.index = i as u64;
            entry.to_bytes()
        })
        .collect();
    let leaves: Vec<Hash> = entries.iter().map(|e| merkle::leaf_hash(e)).collect();
    let checkpoint = Checkpoint::new(&origin, leaves.len() as u64, merkle::root(&leaves))
        .unwrap()
        .sign(&signer)
        .unwrap();
    AuditBundle {
        checkpoints: vec![checkpoint],
        entries: entries.into_iter().map(Into::into).collect(),
        ..scene.before.clone()
    }
}

#[test]
fn an_entry_dropped_from_a_rebuilt_log_breaks_its_actors_chain() {
    let scene = scene();
    let all: Vec<Vec<u8>> = scene.before.entries.iter().map(|e| e.to_vec()).collect();
    // Rebuilding without a change is clean: the procedure itself is sound.
    let report = audit::verify(&rebuilt(&scene, all.clone()), &options(&scene.before, &[]));
    assert!(report.is_clean(), "{report}");

    // The client's view of the draft is dropped; the log is rebuilt
    // around the gap, consistent with itself and signed by the log key. The
    // client's next request, the download, still names the dropped entry.
    let client = scene.client.identity().public().signing.to_bytes();
    let by_client = |kind: &str| {
        scene
            .before
            .entries
            .iter()
            .position(|e| {
                let e = LogEntry::from_bytes(e).unwrap();
                e.kind == kind && *e.actor == client
            })
            .unwrap() as u64
    };
    let viewed = by_client("viewed");
    let downloaded = by_client("downloaded");
    assert!(viewed < downloaded);
    let mut without = all;
    without.remove(viewed as usize);
    let report = audit::verify(&rebuilt(&scene, without), &options(&scene.before, &[]));
    assert_found(
        &report,
        ViolationKind::ActorChainBreak,
        Some(downloaded - 1),
    );
    // Every later entry moved down one, so each chain that crosses the gap
    // breaks too; nothing else is wrong with the rebuilt log.
    assert!(
        report
            .violations
            .iter()
            .all(|v| v.kind == ViolationKind::ActorChainBreak && v.entry >= Some(downloaded - 1)),
        "{report}"
    );
}
