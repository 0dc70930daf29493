//! Key transparency against a real server: a client encrypts to, and
//! grants, only keys whose bundle is bound by a log entry it verified in a
//! checkpoint consistent with the one it pinned; and a client finds the
//! bindings of its own names to keys that are not its own.
//!
//! The hostile server is played by editing its database (an identity row
//! the log never saw, a forged registration entry appended the way the
//! server appends) and by splitting it in two that grow different
//! histories from the same log key.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::Cursor;

use lexvault_client::audit::{self, VerifyOptions, ViolationKind};
use lexvault_client::client::{ClientError, now, os_rng};
use lexvault_client::log::{LogError, LogState};
use lexvault_client::login::register_password;
use lexvault_client::transparency::{BoundName, TransparencyError};
use lexvault_client::vault::{Share, Vault};
use lexvault_core::backup::Argon2Params;
use lexvault_core::binding::BindingError;
use lexvault_core::grant::{Rights, Scope, Validity};
use lexvault_core::key_bundle::{KeyBundle, VerifiedKeyBundle};
use lexvault_core::keys::Identity;
use lexvault_core::log_entry::{LOG_ENTRY_VERSION, LogEntry};
use lexvault_core::manifest::DocumentId;
use lexvault_core::matter::MatterId;
use lexvault_core::membership::Role;
use lexvault_core::secret::SecretString;
use lexvault_core::transparency::TransparencyError as Refused;
use lexvault_tests::cli::CliUser;
use lexvault_tests::tamper::{append_leaf, restart, split};
use lexvault_tests::{Firm, TestServer, same_identity, same_person_on};
use rusqlite::{Connection, params};

fn share(with: &Vault) -> Share {
    Share {
        with: with.identity().public(),
        rights: Rights::VIEW | Rights::DOWNLOAD,
        validity: Validity::starting(0),
    }
}

fn share_key(with: &Identity) -> Share {
    Share {
        with: with.public(),
        rights: Rights::VIEW | Rights::DOWNLOAD,
        validity: Validity::starting(0),
    }
}

fn put(vault: &Vault, matter: &MatterId, shares: &[Share]) -> Result<DocumentId, ClientError> {
    vault
        .put(
            matter,
            None,
            "settlement.txt",
            "text/plain",
            || Ok(Cursor::new(b"privileged".repeat(50))),
            shares,
            &mut |_| {},
        )
        .map(|(id, _)| id)
}

/// The same person with the same log state, talking to `server`.
fn same_device_on(server: &TestServer, vault: &Vault) -> Vault {
    Vault::with_log(
        server.client(),
        same_identity(vault.identity()),
        vault.log().clone(),
    )
}

/// A key the server made up: its bundle is self-signed, but the key never
/// asked to publish it.
fn sybil(name: &str) -> (Identity, VerifiedKeyBundle) {
    let id = Identity::generate(&mut os_rng());
    let bundle = KeyBundle::create(&id, name, now()).unwrap();
    (id, bundle)
}

fn insert_identity(db: &Connection, bundle: &VerifiedKeyBundle) {
    db.execute(
        "INSERT INTO identities (signing_key, bundle) VALUES (?1, ?2)",
        params![
            bundle.identity().signing.to_bytes().as_slice(),
            bundle.as_bytes()
        ],
    )
    .unwrap();
}

fn log_size(db: &Connection) -> u64 {
    db.query_row("SELECT count(*) FROM log_leaves", [], |r| {
        r.get::<_, i64>(0)
    })
    .unwrap() as u64
}

/// What the server holds for a matter: documents and grants.
fn holdings(vault: &Vault, matter: &MatterId) -> (usize, usize) {
    let docs = vault.documents(matter).unwrap().len();
    let (_, grants, _) = vault.grants(matter).unwrap();
    (docs, grants.len())
}

fn assert_refused(result: Result<impl std::fmt::Debug, ClientError>, needle: &str) {
    match result {
        Err(ClientError::Verification(why)) => assert!(why.contains(needle), "{why}"),
        other => panic!("expected a verification failure about {needle:?}, got {other:?}"),
    }
}

#[test]
fn honest_bindings_verify_and_sharing_works() {
    let firm = Firm::new();
    let attorney = firm.member("Ada Attorney", Role::Attorney);
    let client = firm.person("Carla Client");
    let expert = firm.person("Eve Expert");

    let bound = attorney
        .bound_identity(&client.identity().public().signing)
        .unwrap();
    assert_eq!(bound.bundle.identity(), &client.identity().public());
    let admin = firm.admin.administrator().unwrap();
    assert_eq!(
        attorney
            .role_of(
                &attorney.identity().public().signing,
                &admin.identity().signing
            )
            .unwrap(),
        Some(Role::Attorney)
    );
    // The checkpoint the proofs came with is pinned.
    assert!(attorney.log().snapshot().checkpoint.is_some());

    let matter = attorney.create_matter().unwrap();
    let doc = put(&attorney, matter.id(), &[share(&client)]).unwrap();
    attorney
        .grant(
            matter.id(),
            Scope::Document(doc),
            &expert.identity().public(),
            Rights::VIEW,
            Validity::starting(0),
        )
        .unwrap();
    assert!(client.open_latest(&doc).is_ok());
    assert!(expert.open_latest(&doc).is_ok());
}

#[test]
fn an_identity_the_log_never_saw_is_refused() {
    let firm = Firm::new();
    let attorney = firm.member("Ada Attorney", Role::Attorney);
    let matter = attorney.create_matter().unwrap();
    let (ghost, bundle) = sybil("Carla Client");
    // The server publishes a bundle without logging it (identities have no
    // append-only trigger; the server writes them while running).
    let db = Connection::open(firm.server.database()).unwrap();
    insert_identity(&db, &bundle);
    let before = holdings(&attorney, matter.id());

    let err = attorney
        .bound_identity(&ghost.public().signing)
        .unwrap_err();
    assert!(
        matches!(err, TransparencyError::Binding(Refused::NotInLog)),
        "{err}"
    );
    assert_refused(
        put(&attorney, matter.id(), &[share_key(&ghost)]),
        "not show that this key bundle is bound",
    );
    assert_refused(
        attorney.grant(
            matter.id(),
            Scope::Matter,
            &ghost.public(),
            Rights::VIEW,
            Validity::starting(0),
        ),
        "not show that this key bundle is bound",
    );
    assert_eq!(holdings(&attorney, matter.id()), before, "nothing stored");
}

#[test]
fn only_the_init_step_binds_the_administrator() {
    let firm = Firm::new();
    let attorney = firm.member("Ada Attorney", Role::Attorney);
    let mallory = firm.person("Mallory");
    assert!(attorney.administrator().is_ok());
    // The server names another registered person as the administrator:
    // their bundle is bound, but by a registration, not by the init step.
    let db = Connection::open(firm.server.database()).unwrap();
    db.execute(
        "UPDATE settings SET value = ?1 WHERE name = 'administrator'",
        [mallory.identity().public().signing.to_bytes().as_slice()],
    )
    .unwrap();
    assert_refused(
        attorney.administrator(),
        "is a `registered` entry, not `administrator-set`",
    );
}

#[test]
fn a_registration_entry_signed_by_another_key_is_refused() {
    let firm = Firm::new();
    let attorney = firm.member("Ada Attorney", Role::Attorney);
    let mallory = firm.person("Mallory");
    let matter = attorney.create_matter().unwrap();
    let doc = put(&attorney, matter.id(), &[]).unwrap();
    let (ghost, bundle) = sybil("Carla Client");

    // The server appends a `registered` entry for the ghost's bundle whose
    // evidence is a registration request Mallory signed: the entry names
    // the ghost as actor and its bundle as subject, and is in the log.
    let server = restart(firm.server, |db| {
        let (entry, evidence): (Vec<u8>, Vec<u8>) = db
            .query_row(
                "SELECT l.entry, e.request FROM events e JOIN log_leaves l ON l.idx = e.leaf
                 WHERE e.kind = 'registered' AND e.actor = ?1",
                [mallory.identity().public().signing.to_bytes().as_slice()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let original = LogEntry::from_bytes(&entry).unwrap();
        insert_identity(db, &bundle);
        append_leaf(
            db,
            &LogEntry {
                version: LOG_ENTRY_VERSION,
                index: log_size(db),
                actor: ghost.public().signing.to_bytes().into(),
                subject: Some(bundle.digest().0.into()),
                evidence: evidence.into(),
                ..original
            },
        );
    });
    let attorney = same_person_on(&server, &attorney);
    let before = holdings(&attorney, matter.id());

    let err = attorney
        .bound_identity(&ghost.public().signing)
        .unwrap_err();
    assert!(
        matches!(
            err,
            TransparencyError::Binding(Refused::Registration(BindingError::EvidenceSigner))
        ),
        "{err}"
    );
    assert_refused(
        put(&attorney, matter.id(), &[share_key(&ghost)]),
        "evidence was signed by another key",
    );
    assert_refused(
        attorney.grant(
            matter.id(),
            Scope::Document(doc),
            &ghost.public(),
            Rights::VIEW,
            Validity::starting(0),
        ),
        "evidence was signed by another key",
    );
    let opened = attorney.open_latest(&doc).unwrap();
    assert_refused(
        attorney.add_stanzas(&opened, &[ghost.public()]),
        "evidence was signed by another key",
    );
    assert_eq!(holdings(&attorney, matter.id()), before, "nothing stored");
    // Honest parties still work on the same server.
    let mallory = same_person_on(&server, &mallory);
    assert!(put(&attorney, matter.id(), &[share(&mallory)]).is_ok());
}

#[test]
fn a_binding_shown_on_a_forked_log_is_refused() {
    let firm = Firm::new();
    let attorney = firm.member("Ada Attorney", Role::Attorney);
    let matter = attorney.create_matter().unwrap();
    let (honest, forked) = split(firm.server);

    // On the honest side the log grows and the attorney pins its head.
    let attorney = same_person_on(&honest, &attorney);
    Vault::new(honest.client(), Identity::generate(&mut os_rng()))
        .register("Another One")
        .unwrap();
    assert!(
        attorney
            .bound_identity(&attorney.identity().public().signing)
            .is_ok()
    );

    // The forked side shows a history in which the server's own key
    // registered, as the attorney's client, and grew past the pinned size.
    let ghost = Vault::new(forked.client(), Identity::generate(&mut os_rng()));
    ghost.register("Carla Client").unwrap();
    for n in 0..3 {
        let _ = Vault::new(forked.client(), Identity::generate(&mut os_rng()))
            .register(&format!("Filler {n}"));
    }
    let fooled = same_device_on(&forked, &attorney);
    let err = fooled
        .bound_identity(&ghost.identity().public().signing)
        .unwrap_err();
    assert!(
        matches!(err, TransparencyError::Log(LogError::Fork { .. })),
        "{err}"
    );
    assert_refused(
        put(&fooled, matter.id(), &[share(&ghost)]),
        "the server's log has forked",
    );
    assert_eq!(
        fooled.documents(matter.id()).unwrap().len(),
        0,
        "nothing uploaded"
    );
}

#[test]
fn a_second_key_under_my_display_name_raises_the_alarm() {
    let firm = Firm::new();
    let victim = firm.person("Carla Client");
    let bystander = firm.person("Carla Clientele");
    assert!(victim.foreign_bindings(None).unwrap().is_empty());
    assert!(bystander.foreign_bindings(None).unwrap().is_empty());

    let impostor = firm.person("Carla Client");
    let found = victim.foreign_bindings(None).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].name, BoundName::DisplayName);
    assert_eq!(found[0].key, impostor.identity().public().signing);
    let bound = victim
        .bound_identity(&impostor.identity().public().signing)
        .unwrap();
    assert_eq!(found[0].index, bound.registration_index);
    // The impostor sees the victim the same way; the bystander nobody.
    assert_eq!(impostor.foreign_bindings(None).unwrap().len(), 1);
    assert!(bystander.foreign_bindings(None).unwrap().is_empty());
}

#[test]
fn a_login_name_bound_to_another_key_raises_the_alarm_and_fails_the_audit() {
    let firm = Firm::new();
    let ada = firm.person("Ada");
    let password = |p: &str| SecretString::new(p.to_owned());
    register_password(
        &ada,
        "Ada",
        &password("correct horse"),
        Argon2Params::MINIMUM,
    )
    .unwrap();
    assert!(ada.foreign_bindings(Some("ada")).unwrap().is_empty());

    // The server hands Ada's login name to a key of its own, and logs it:
    // a `password-set` entry for "ada" by the thief, whose evidence is the
    // thief's own password registration, appended as the server appends.
    let thief = firm.person("Not Ada");
    register_password(
        &thief,
        "thief",
        &password("other horse"),
        Argon2Params::MINIMUM,
    )
    .unwrap();
    let thief_key = thief.identity().public().signing.to_bytes();
    let server = restart(firm.server, |db| {
        let evidence: Vec<u8> = db
            .query_row(
                "SELECT request FROM events WHERE kind = 'password-set' AND actor = ?1",
                [thief_key.as_slice()],
                |r| r.get(0),
            )
            .unwrap();
        db.execute("DELETE FROM logins WHERE login_name = 'ada'", [])
            .unwrap();
        db.execute(
            "UPDATE logins SET login_name = 'ada' WHERE signing_key = ?1",
            [thief_key.as_slice()],
        )
        .unwrap();
        append_leaf(
            db,
            &LogEntry {
                version: LOG_ENTRY_VERSION,
                index: log_size(db),
                at: now(),
                kind: "password-set".into(),
                actor: thief_key.into(),
                matter_id: None,
                document_id: None,
                document_version: None,
                subject: Some(lexvault_core::binding::login_name_subject("ada").into()),
                evidence: evidence.into(),
            },
        );
    });

    // Ada's client finds it, with the entry's index.
    let ada = same_person_on(&server, &ada);
    let found = ada.foreign_bindings(Some("ada")).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].name, BoundName::LoginName);
    assert_eq!(found[0].key.to_bytes(), thief_key);

    // The auditor names the rebinding at that entry, and nothing else.
    let admin = same_person_on(&server, &firm.admin);
    let bundle = audit::export(
        admin.client(),
        admin.identity().signing_key(),
        &mut LogState::default(),
        vec![],
    )
    .unwrap();
    let report = audit::verify(
        &bundle,
        &VerifyOptions {
            log_key: None,
            witnesses: vec![],
            quorum: None,
            receipts: vec![],
            threads: 1,
        },
    );
    assert!(
        report
            .violations
            .iter()
            .any(|v| v.kind == ViolationKind::LoginNameRebound && v.entry == Some(found[0].index)),
        "{report}"
    );
    assert_eq!(report.violations.len(), 1, "{report}");
}

#[test]
fn the_cli_warns_about_a_second_key_under_my_name() {
    let server = TestServer::start();
    let victim = CliUser::new(&server.url, "victim password");
    let victim_key = victim.enrol("Vera Victim");
    let quiet = victim.json(&["log"]);
    assert_eq!(quiet["foreign_bindings"], serde_json::json!([]), "{quiet}");

    let impostor = CliUser::new(&server.url, "impostor password");
    let impostor_key = impostor.enrol("Vera Victim");
    assert_ne!(victim_key, impostor_key);
    let loud = victim.json(&["log"]);
    let found = loud["foreign_bindings"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{loud}");
    assert_eq!(found[0]["key"], impostor_key.as_str());
    assert_eq!(found[0]["name"], "display-name");
    assert!(found[0]["index"].is_u64());
    let out = victim.run(&["log"]);
    assert!(out.status.success());
    let warning = String::from_utf8_lossy(&out.stderr);
    assert!(
        warning.contains("WARNING") && warning.contains(&impostor_key),
        "{warning}"
    );
}
