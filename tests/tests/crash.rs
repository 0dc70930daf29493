//! Crash safety: the real server process is killed with SIGKILL, again and
//! again, while people upload documents and grant and revoke access; after
//! each restart every write the server acknowledged is there and verifies,
//! nothing it did not acknowledge is half-visible (every listed document
//! downloads and verifies whole), and the log agrees with every receipt
//! handed out before the crashes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use lexvault_client::audit::{self, VerifyOptions};
use lexvault_client::client::{Client, ClientError, now, os_rng};
use lexvault_client::log::{self, LogState};
use lexvault_client::vault::{Share, Vault, decrypt_payload};
use lexvault_core::grant::{Rights, Scope, Validity};
use lexvault_core::key_bundle::KeyBundle;
use lexvault_core::keys::{EncryptionSecretKey, Identity, SigningSecretKey};
use lexvault_core::manifest::DocumentId;
use lexvault_core::matter::MatterId;
use lexvault_core::membership::Role;
use lexvault_core::signed::RecordDigest;
use lexvault_tests::server_process::ServerProcess;
use rand_core::Rng as _;

/// How many times the server is killed.
const CRASHES: usize = 4;

/// One person's keys, from which each round makes a vault on the current
/// server, carrying the person's chain position over.
struct Person {
    signing: [u8; 32],
    encryption: [u8; 32],
    position: Mutex<Option<lexvault_core::request::ChainPosition>>,
}

impl Person {
    fn new() -> Self {
        let mut rng = os_rng();
        let mut signing = [0u8; 32];
        let mut encryption = [0u8; 32];
        rng.fill_bytes(&mut signing);
        rng.fill_bytes(&mut encryption);
        Self {
            signing,
            encryption,
            position: Mutex::new(None),
        }
    }

    fn identity(&self) -> Identity {
        let mut s = self.signing;
        let mut e = self.encryption;
        Identity::from_keys(
            SigningSecretKey::from_seed(&lexvault_core::secret::SecretBytes::from_array(&mut s)),
            EncryptionSecretKey::from_secret_bytes(
                &lexvault_core::secret::SecretBytes::from_array(&mut e),
            ),
        )
    }

    fn on(&self, url: &str) -> Vault {
        let client = Client::new(url).unwrap();
        let identity = self.identity();
        if let Some(position) = *self.position.lock().unwrap() {
            client.hold_position(&identity.public().signing, position);
        }
        Vault::new(client, identity)
    }

    /// Keeps where `vault`'s chain stands for the next round.
    fn leave(&self, vault: &Vault) {
        *self.position.lock().unwrap() = vault
            .client()
            .held_position(&vault.identity().public().signing);
    }
}

/// What the server acknowledged.
#[derive(Default)]
struct Acknowledged {
    documents: HashMap<DocumentId, Vec<u8>>,
    grants: Vec<RecordDigest>,
    revocations: Vec<RecordDigest>,
    receipts: Vec<Vec<u8>>,
}

/// Whether `e` is the crash (the connection went away), not a refusal.
fn is_crash(e: &ClientError) -> bool {
    matches!(e, ClientError::Transport(_) | ClientError::Io(_))
        || matches!(e, ClientError::Protocol(_))
}

#[test]
fn acknowledged_writes_survive_kill_9_and_nothing_else_is_half_visible() {
    let data = tempfile::tempdir().unwrap();
    let admin = Person::new();
    let lead = Person::new();
    let partner = Person::new();
    let client = Person::new();
    let others: Vec<Person> = (0..3).map(|_| Person::new()).collect();

    // The firm, set up before any crash.
    let bundle = KeyBundle::create(&admin.identity(), "Firm Administrator", now()).unwrap();
    let bundle_file = data.path().join("admin.bundle");
    std::fs::write(&bundle_file, bundle.as_bytes()).unwrap();
    lexvault_server::admin::init_admin(data.path(), &bundle_file).unwrap();
    let server = ServerProcess::start(data.path());
    let admin_vault = admin.on(&server.url);
    let mut names = vec!["Lena Lead", "Pat Partner", "Carla Client"];
    names.extend(["Other A", "Other B", "Other C"]);
    let people: Vec<&Person> = [&lead, &partner, &client]
        .into_iter()
        .chain(others.iter())
        .collect();
    for (person, name) in people.iter().zip(&names) {
        let vault = person.on(&server.url);
        let bundle = vault.register(name).unwrap();
        if !name.starts_with("Other") && *name != "Carla Client" {
            admin_vault.certify(&bundle, Role::Attorney).unwrap();
        }
        person.leave(&vault);
    }
    let lead_vault = lead.on(&server.url);
    let matter: MatterId = *lead_vault.create_matter().unwrap().id();
    lead_vault
        .grant(
            &matter,
            Scope::Matter,
            &partner.identity().public(),
            Rights::ALL,
            Validity::starting(0),
        )
        .unwrap();
    let mut acknowledged = Acknowledged::default();
    acknowledged
        .receipts
        .extend(lead_vault.client().take_receipts());
    lead.leave(&lead_vault);
    let mut server = Some(server);

    for round in 0..CRASHES {
        let running = server
            .take()
            .unwrap_or_else(|| ServerProcess::start(data.path()));
        let url = running.url.clone();
        let crashed = AtomicBool::new(false);
        let ack = Mutex::new(Acknowledged::default());
        let failures = Mutex::new(Vec::<String>::new());
        std::thread::scope(|scope| {
            // The lead uploads documents shared with the client and partner.
            scope.spawn(|| {
                let vault = lead.on(&url);
                let shares: Vec<Share> = [&client, &partner]
                    .into_iter()
                    .map(|p| Share {
                        with: p.identity().public(),
                        rights: Rights::VIEW | Rights::DOWNLOAD,
                        validity: Validity::starting(0),
                    })
                    .collect();
                loop {
                    let mut bytes = vec![0u8; 1 + os_rng().next_u32() as usize % 200_000];
                    os_rng().fill_bytes(&mut bytes);
                    let put = vault.put(
                        &matter,
                        None,
                        "exhibit.pdf",
                        "application/pdf",
                        || Ok(Cursor::new(bytes.clone())),
                        &shares,
                        &mut |_| {},
                    );
                    match put {
                        Ok((doc, _)) => {
                            ack.lock().unwrap().documents.insert(doc, bytes);
                        }
                        Err(e) if crashed.load(Ordering::SeqCst) || is_crash(&e) => break,
                        Err(e) => failures.lock().unwrap().push(format!("upload: {e}")),
                    }
                }
                ack.lock()
                    .unwrap()
                    .receipts
                    .extend(vault.client().take_receipts());
                lead.leave(&vault);
            });
            // The partner grants the others views of documents and revokes
            // some of them.
            scope.spawn(|| {
                let vault = partner.on(&url);
                let mut turn = 0usize;
                loop {
                    let doc = ack.lock().unwrap().documents.keys().next().copied();
                    let Some(doc) = doc else {
                        if crashed.load(Ordering::SeqCst) {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    };
                    let to = others[turn % others.len()].identity().public();
                    turn += 1;
                    let granted = vault.grant(
                        &matter,
                        Scope::Document(doc),
                        &to,
                        Rights::VIEW,
                        Validity::starting(0),
                    );
                    let grant = match granted {
                        Ok(g) => g.digest(),
                        Err(e) if crashed.load(Ordering::SeqCst) || is_crash(&e) => break,
                        Err(e) => {
                            failures.lock().unwrap().push(format!("grant: {e}"));
                            continue;
                        }
                    };
                    ack.lock().unwrap().grants.push(grant);
                    if turn.is_multiple_of(2) {
                        match vault.revoke(&matter, &grant) {
                            Ok(()) => ack.lock().unwrap().revocations.push(grant),
                            Err(e) if crashed.load(Ordering::SeqCst) || is_crash(&e) => break,
                            Err(e) => failures.lock().unwrap().push(format!("revoke: {e}")),
                        }
                    }
                }
                ack.lock()
                    .unwrap()
                    .receipts
                    .extend(vault.client().take_receipts());
                partner.leave(&vault);
            });
            // The crash, at a random moment.
            std::thread::sleep(Duration::from_millis(
                400 + u64::from(os_rng().next_u32() % 1200),
            ));
            crashed.store(true, Ordering::SeqCst);
            running.kill();
        });
        let failures = failures.into_inner().unwrap();
        assert!(failures.is_empty(), "round {round}: {failures:#?}");
        let ack = ack.into_inner().unwrap();
        assert!(
            !ack.documents.is_empty(),
            "round {round}: no upload finished before the crash"
        );
        acknowledged.documents.extend(ack.documents);
        acknowledged.grants.extend(ack.grants);
        acknowledged.revocations.extend(ack.revocations);
        acknowledged.receipts.extend(ack.receipts);
    }

    // After the last crash: everything acknowledged is there and verifies.
    let server = ServerProcess::start(data.path());
    let lead_vault = lead.on(&server.url);
    for (doc, bytes) in &acknowledged.documents {
        let opened = lead_vault.open_latest(doc).unwrap();
        let mut payload = tempfile::tempfile().unwrap();
        lead_vault
            .fetch_payload(&opened, &mut payload, &mut |_| {})
            .unwrap();
        let mut out = Vec::new();
        decrypt_payload(&opened, &payload, &mut out).unwrap();
        assert!(out == *bytes, "document {doc:?} came back different");
    }
    // Every document listed — acknowledged or committed just before a
    // crash took the answer — opens and verifies whole.
    let listed = lead_vault.documents(&matter).unwrap();
    assert!(listed.len() >= acknowledged.documents.len());
    for opened in &listed {
        let mut payload = tempfile::tempfile().unwrap();
        lead_vault
            .fetch_payload(opened, &mut payload, &mut |_| {})
            .unwrap();
        decrypt_payload(opened, &payload, &mut std::io::sink()).unwrap();
    }
    let (_, grants, revocations) = lead_vault.grants(&matter).unwrap();
    let stored: Vec<RecordDigest> = grants.iter().map(|g| g.digest()).collect();
    for grant in &acknowledged.grants {
        assert!(stored.contains(grant), "an acknowledged grant is missing");
    }
    let revoked: Vec<RecordDigest> = revocations.iter().map(|r| *r.record().revoked()).collect();
    for grant in &acknowledged.revocations {
        assert!(
            revoked.contains(grant),
            "an acknowledged revocation is missing"
        );
    }
    assert!(!acknowledged.grants.is_empty(), "no grant was acknowledged");

    // No staged upload survives a restart.
    let staged: Vec<_> = std::fs::read_dir(data.path().join("blobs").join("tmp"))
        .map(|d| d.collect())
        .unwrap_or_default();
    assert!(staged.is_empty(), "staged files left: {staged:?}");

    // The log agrees with every receipt handed out before the crashes, and
    // audits clean.
    let bundle = audit::export(
        admin.on(&server.url).client(),
        admin.identity().signing_key(),
        &mut LogState::default(),
        vec![],
    )
    .unwrap();
    let options = VerifyOptions {
        log_key: Some(log::parse_log_key(&bundle.verifier_key).unwrap()),
        receipts: acknowledged.receipts.clone(),
        ..VerifyOptions::default()
    };
    let report = audit::verify(&bundle, &options);
    assert!(report.is_clean(), "{report}");
    assert!(report.receipts as usize >= acknowledged.receipts.len());
    println!(
        "{CRASHES} crashes: {} documents, {} grants, {} revocations acknowledged, {} receipts \
         checked against a log of {} entries",
        acknowledged.documents.len(),
        acknowledged.grants.len(),
        acknowledged.revocations.len(),
        acknowledged.receipts.len(),
        bundle.entries.len()
    );
    server.kill();
}
