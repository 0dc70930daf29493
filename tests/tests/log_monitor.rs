//! The client's log monitor against a real server, and against a hostile
//! one: receipts on uploads and downloads verify; forged receipts are
//! refused with the specific error; a server that forks its log is caught
//! with both signed checkpoints as evidence.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{Cursor, Read as _, Write as _};
use std::net::TcpListener;

use lexvault_client::client::{Client, os_rng};
use lexvault_client::log::{self, LogError, LogMonitor, LogState};
use lexvault_client::vault::{Share, Vault};
use lexvault_core::api::{self, LogCheckpoint, LogProof, Receipt};
use lexvault_core::checkpoint::Checkpoint;
use lexvault_core::grant::{Rights, Validity};
use lexvault_core::keys::SigningSecretKey;
use lexvault_core::membership::Role;
use lexvault_core::merkle::{self, Hash};
use lexvault_core::note::NoteSigner;
use lexvault_core::signed::RecordDigest;
use lexvault_tests::{Firm, TestServer};

/// An attorney uploads a document shared with a client, who downloads it.
fn upload_and_download(firm: &Firm) -> (Vault, Vault) {
    let attorney = firm.member("Ada Attorney", Role::Attorney);
    let client = firm.person("Carla Client");
    let matter = attorney.create_matter().unwrap();
    let share = Share {
        with: client.identity().public(),
        rights: Rights::VIEW | Rights::DOWNLOAD,
        validity: Validity::starting(0),
    };
    let text = b"privileged".repeat(1000);
    let (doc, _) = attorney
        .put(
            matter.id(),
            None,
            "draft.txt",
            "text/plain",
            || Ok(Cursor::new(text.clone())),
            &[share],
            &mut |_| {},
        )
        .unwrap();
    let opened = client.open_latest(&doc).unwrap();
    let mut payload = tempfile::tempfile().unwrap();
    client
        .fetch_payload(&opened, &mut payload, &mut |_| {})
        .unwrap();
    (attorney, client)
}

fn check(vault: &Vault, state: &mut LogState, receipts: Vec<Vec<u8>>) -> Result<(), LogError> {
    LogMonitor::check_receipts(
        vault.client(),
        vault.identity().signing_key(),
        state,
        receipts,
    )
}

#[test]
fn receipts_on_uploads_and_downloads_verify() {
    let firm = Firm::new();
    let (attorney, client) = upload_and_download(&firm);

    let receipts = attorney.client().take_receipts();
    assert!(
        receipts.len() >= 2,
        "matter creation and upload each record an event: {}",
        receipts.len()
    );
    let mut state = LogState::default();
    check(&attorney, &mut state, receipts).unwrap();
    let pinned = state
        .verifier_key
        .clone()
        .expect("log key pinned on first use");
    assert!(state.checkpoint.is_some());

    // The client's download is on the record, and its receipt verifies
    // against the client's own state.
    let receipts = client.client().take_receipts();
    let kinds: Vec<String> = receipts
        .iter()
        .map(|r| {
            let r: Receipt = api::decode(r).unwrap();
            lexvault_core::log_entry::LogEntry::from_bytes(&r.entry)
                .unwrap()
                .kind
        })
        .collect();
    assert!(kinds.iter().any(|k| k == "downloaded"), "{kinds:?}");
    let mut client_state = LogState::default();
    check(&client, &mut client_state, receipts).unwrap();
    assert_eq!(client_state.verifier_key.as_deref(), Some(pinned.as_str()));

    // The attorney's older pinned checkpoint is extended by the newer one:
    // the sync asks for a consistency proof, which verifies.
    let before = state.checkpoint.clone().unwrap();
    LogMonitor::sync(
        attorney.client(),
        attorney.identity().signing_key(),
        &mut state,
    )
    .unwrap();
    let verifier = state.verifier().unwrap().unwrap();
    let old = log::open_checkpoint(&before, &verifier).unwrap();
    let new = log::open_checkpoint(state.checkpoint.as_deref().unwrap(), &verifier).unwrap();
    assert!(new.size > old.size, "{} > {}", new.size, old.size);

    // A stale receipt (an older checkpoint) is still consistent, and the
    // newer pinned checkpoint is kept.
    let _ = attorney.create_matter().unwrap();
    let fresh = attorney.client().take_receipts();
    let mut other = LogState::default();
    check(&attorney, &mut other, fresh.clone()).unwrap();
    let newest = state.checkpoint.clone();
    check(&attorney, &mut state, fresh).unwrap();
    assert_ne!(state.checkpoint, newest, "the newer checkpoint is pinned");
}

fn decode(bytes: &[u8]) -> Receipt {
    api::decode(bytes).unwrap()
}

#[test]
fn forged_receipts_are_refused() {
    let firm = Firm::new();
    let (attorney, client) = upload_and_download(&firm);
    let receipts = attorney.client().take_receipts();
    let good = receipts.last().unwrap().clone();
    let mut state = LogState::default();
    check(&attorney, &mut state, vec![good.clone()]).unwrap();

    // A flipped byte in the inclusion proof.
    let mut r = decode(&good);
    assert!(!r.proof.is_empty(), "the tree has more than one leaf");
    r.proof[0][0] ^= 1;
    let err = check(&attorney, &mut state.clone(), vec![api::encode(&r)]).unwrap_err();
    assert!(matches!(err, LogError::Inclusion(_)), "{err}");

    // A checkpoint signed by another key under the log's name.
    let verifier = state.verifier().unwrap().unwrap();
    let r = decode(&good);
    let note = std::str::from_utf8(&r.checkpoint).unwrap();
    let body = log::open_checkpoint(note, &verifier).unwrap();
    let impostor =
        NoteSigner::new(verifier.name(), SigningSecretKey::generate(&mut os_rng())).unwrap();
    let mut forged = r.clone();
    forged.checkpoint = body.sign(&impostor).unwrap().into_bytes().into();
    let err = check(&attorney, &mut state.clone(), vec![api::encode(&forged)]).unwrap_err();
    assert!(matches!(err, LogError::Checkpoint(_)), "{err}");

    // An entry for someone else's request: the attorney's receipt shown to
    // the client.
    let mut client_state = LogState::default();
    let err = check(&client, &mut client_state, vec![good.clone()]).unwrap_err();
    assert!(matches!(err, LogError::NotOurRequest), "{err}");

    // An index that is not the entry's.
    let mut r = decode(&good);
    r.index += 1;
    let err = check(&attorney, &mut state.clone(), vec![api::encode(&r)]).unwrap_err();
    assert!(matches!(err, LogError::IndexMismatch), "{err}");

    // Not a receipt at all, or not canonical.
    let err = check(&attorney, &mut state.clone(), vec![vec![0xff]]).unwrap_err();
    assert!(matches!(err, LogError::MalformedReceipt), "{err}");
    let mut trailing = good.clone();
    trailing.push(0);
    let err = check(&attorney, &mut state.clone(), vec![trailing]).unwrap_err();
    assert!(matches!(err, LogError::MalformedReceipt), "{err}");

    // A state pinned to another server's log key refuses this server's
    // checkpoints.
    let other = Firm::on(TestServer::start());
    let _ = other.person("Someone");
    let mut foreign = LogState::default();
    LogMonitor::sync(
        other.admin.client(),
        other.admin.identity().signing_key(),
        &mut foreign,
    )
    .unwrap();
    let err = check(&attorney, &mut foreign, vec![good]).unwrap_err();
    assert!(matches!(err, LogError::Checkpoint(_)), "{err}");
}

/// A hostile server that answers the log's read calls with fixed bodies.
struct Hostile {
    url: String,
}

impl Hostile {
    fn start(checkpoint: LogCheckpoint, proof: LogProof) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let checkpoint = api::encode(&checkpoint);
        let proof = api::encode(&proof);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if stream.read(&mut byte).unwrap_or(0) == 0 {
                        break;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head);
                let body = if head.contains("/v1/log/consistency") {
                    &proof
                } else {
                    &checkpoint
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/cbor\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(body);
            }
        });
        Self { url }
    }
}

struct TestLog {
    signer: NoteSigner,
}

impl TestLog {
    fn new() -> Self {
        let secret = SigningSecretKey::generate(&mut os_rng());
        // The origin the spec derives: SHA-256 of the key, 16 hex digits
        // (a record digest is exactly SHA-256 of the bytes).
        let digest = RecordDigest::of(secret.public_key().as_bytes());
        let name = format!("lexvault/{}", &hex::encode(digest.0)[..16]);
        Self {
            signer: NoteSigner::new(&name, secret).unwrap(),
        }
    }

    fn sign(&self, leaves: &[Hash]) -> String {
        Checkpoint::new(
            self.signer.name(),
            leaves.len() as u64,
            merkle::root(leaves),
        )
        .unwrap()
        .sign(&self.signer)
        .unwrap()
    }
}

fn leaves(names: &[&str]) -> Vec<Hash> {
    names
        .iter()
        .map(|n| merkle::leaf_hash(n.as_bytes()))
        .collect()
}

#[test]
fn a_forked_log_is_caught_with_both_checkpoints() {
    let log = TestLog::new();
    let honest = leaves(&["a", "b", "c"]);
    let pinned = log.sign(&honest);
    let state = LogState {
        verifier_key: Some(log.signer.verifier().to_string()),
        checkpoint: Some(pinned.clone()),
    };
    let key = SigningSecretKey::generate(&mut os_rng());

    // Same size, another root.
    let forked = log.sign(&leaves(&["a", "b", "d"]));
    let server = Hostile::start(
        LogCheckpoint {
            checkpoint: forked.clone().into_bytes().into(),
            verifier_key: log.signer.verifier().to_string(),
        },
        LogProof { hashes: vec![] },
    );
    let client = Client::new(&server.url).unwrap();
    let mut s = state.clone();
    let err = LogMonitor::sync(&client, &key, &mut s).unwrap_err();
    let LogError::Fork {
        pinned: p,
        served: f,
    } = &err
    else {
        panic!("{err}");
    };
    assert_eq!((p, f), (&pinned, &forked));
    let shown = err.to_string();
    assert!(
        shown.contains(&pinned) && shown.contains(&forked),
        "{shown}"
    );
    assert_eq!(
        s.checkpoint.as_deref(),
        Some(pinned.as_str()),
        "the pin stays"
    );

    // A larger tree that does not extend the pinned one: its own honest
    // consistency proof does not link the pinned root.
    let other = leaves(&["a", "x", "y", "z", "w"]);
    let larger = log.sign(&other);
    let proof = merkle::consistency_proof(&other, 3, 5).unwrap();
    let server = Hostile::start(
        LogCheckpoint {
            checkpoint: larger.clone().into_bytes().into(),
            verifier_key: log.signer.verifier().to_string(),
        },
        LogProof {
            hashes: proof.into_iter().map(Into::into).collect(),
        },
    );
    let client = Client::new(&server.url).unwrap();
    let mut s = state.clone();
    let err = LogMonitor::sync(&client, &key, &mut s).unwrap_err();
    assert!(
        matches!(&err, LogError::Fork { pinned: p, served: f } if *p == pinned && *f == larger),
        "{err}"
    );

    // The honest extension passes.
    let mut extended = honest.clone();
    extended.extend(leaves(&["d", "e"]));
    let newer = log.sign(&extended);
    let proof = merkle::consistency_proof(&extended, 3, 5).unwrap();
    let server = Hostile::start(
        LogCheckpoint {
            checkpoint: newer.clone().into_bytes().into(),
            verifier_key: log.signer.verifier().to_string(),
        },
        LogProof {
            hashes: proof.into_iter().map(Into::into).collect(),
        },
    );
    let client = Client::new(&server.url).unwrap();
    let mut s = state;
    LogMonitor::sync(&client, &key, &mut s).unwrap();
    assert_eq!(s.checkpoint.as_deref(), Some(newer.as_str()));
}
