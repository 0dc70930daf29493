//! Per-actor chains: every recorded request names its signer's sequence
//! number and previous entry (spec: `spec/log.md` §Actor chains). The
//! server records only the request that follows the actor's head; two
//! devices of one person take turns through `GET /v1/log/head`; a client
//! that is shown a head behind its own history refuses to go on.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;

use lexvault_client::client::{Client, ClientError, now, os_rng};
use lexvault_client::vault::Vault;
use lexvault_core::api::{self, ActorHead, LogCheckpoint};
use lexvault_core::keys::SigningPublicKey;
use lexvault_core::log_entry::LogEntry;
use lexvault_core::matter::Matter;
use lexvault_core::membership::Role;
use lexvault_core::request::{BodyDigest, ChainPosition, SIGNATURE_HEADER, SignedRequest};
use lexvault_server::app::Limits;
use lexvault_tests::cli::CliUser;
use lexvault_tests::{Firm, TestServer, same_identity};

/// The log's size, as the server's newest checkpoint says.
fn log_size(vault: &Vault) -> u64 {
    let head: LogCheckpoint = vault
        .client()
        .get(vault.identity().signing_key(), "/v1/log/checkpoint")
        .unwrap();
    let text = std::str::from_utf8(&head.checkpoint).unwrap();
    text.lines().nth(1).unwrap().parse().unwrap()
}

/// Every chained entry `me` made, as (sequence number, leaf hash,
/// previous), read from the administrator's view of the log.
fn chain_of(firm: &Firm, me: &SigningPublicKey) -> Vec<(u64, [u8; 32], [u8; 32])> {
    let size = log_size(&firm.admin);
    let entries: api::LogEntries = firm
        .admin
        .client()
        .get(
            firm.admin.identity().signing_key(),
            &format!("/v1/log/entries?start=0&end={size}"),
        )
        .unwrap();
    let mut chain: Vec<(u64, [u8; 32], [u8; 32])> = Vec::new();
    let mut last_evidence: Option<Vec<u8>> = None;
    for bytes in &entries.entries {
        let entry = LogEntry::from_bytes(bytes).unwrap();
        let Ok(request) = SignedRequest::from_evidence(&entry.evidence) else {
            continue;
        };
        if request.signer() != me || last_evidence.as_deref() == Some(&entry.evidence[..]) {
            continue;
        }
        last_evidence = Some(entry.evidence.to_vec());
        let position = request.request().position();
        chain.push((position.sequence, entry.leaf_hash(), position.previous));
    }
    chain
}

/// A signed CBOR `POST` by hand: the status and the body of the answer.
fn post(addr: SocketAddr, path: &str, signature: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{SIGNATURE_HEADER}: \
         {signature}\r\nContent-Type: {}\r\nContent-Length: {}\r\n\r\n",
        api::CBOR,
        body.len()
    )
    .unwrap();
    stream.write_all(body).unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).unwrap();
    let split = reply.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&reply[..split]).into_owned();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, reply[split + 4..].to_vec())
}

fn create_matter_as(vault: &Vault) -> Result<(), ClientError> {
    vault.create_matter().map(|_| ())
}

#[test]
fn a_request_out_of_sequence_is_refused_and_recorded_nowhere() {
    let firm = Firm::new();
    let attorney = firm.member("Ada Attorney", Role::Attorney);
    create_matter_as(&attorney).unwrap();
    let key = attorney.identity().signing_key();
    let me = attorney.identity().public().signing;
    let held = attorney.client().held_position(&me).unwrap();
    assert!(held.sequence >= 1, "{held:?}");

    // A second device that insists on a stale position is refused, with
    // the documented code, and the log does not grow.
    let before = log_size(&firm.admin);
    for stale in [
        ChainPosition::FIRST,
        ChainPosition {
            sequence: held.sequence,
            previous: [7; 32],
        },
        ChainPosition {
            sequence: held.sequence + 1,
            previous: held.previous,
        },
    ] {
        let matter = Matter::create(&mut os_rng(), key, now());
        let body = api::encode(&api::CreateMatter {
            matter: matter.as_bytes().to_vec().into(),
        });
        let signature =
            Client::sign("POST", "/v1/matters", BodyDigest::of(&body), stale, key).unwrap();
        let (status, reply) = post(firm.server.addr, "/v1/matters", &signature, &body);
        assert_eq!(status, 409, "{stale:?}");
        let error: api::ErrorBody = api::decode(&reply).unwrap();
        assert_eq!(error.code, api::OUT_OF_SEQUENCE);
    }
    assert_eq!(log_size(&firm.admin), before);

    // The head the server reports is the attorney's own last request.
    let head: ActorHead = attorney.client().get(key, "/v1/log/head").unwrap();
    let receipt = head.last.unwrap();
    let entry = LogEntry::from_bytes(&receipt.entry).unwrap();
    let request = SignedRequest::from_evidence(&entry.evidence).unwrap();
    assert_eq!(request.signer(), &me);
    assert_eq!(request.request().position().next(entry.leaf_hash()), held);
}

#[test]
fn two_devices_of_one_person_take_turns_and_keep_one_chain() {
    let firm = Firm::new();
    let attorney = firm.member("Ada Attorney", Role::Attorney);
    // A second device: the same identity on its own connection, knowing
    // nothing of the first device's history.
    let laptop = Vault::new(firm.server.client(), same_identity(attorney.identity()));
    for _round in 0..3 {
        create_matter_as(&attorney).expect("the phone takes its turn");
        create_matter_as(&laptop).expect("the laptop takes its turn");
    }
    // An upload from a device that is behind is streamed again once the
    // device has caught up.
    let matter = laptop.create_matter().unwrap();
    attorney
        .put(
            matter.id(),
            None,
            "memo.txt",
            "text/plain",
            || Ok(std::io::Cursor::new(b"from the phone".to_vec())),
            &[],
            &mut |_| {},
        )
        .expect("the phone's upload after the laptop's request");
    let chain = chain_of(&firm, &attorney.identity().public().signing);
    // Registration (certification is the admin's), seven matters, the
    // upload.
    assert!(chain.len() >= 9, "{} chained requests", chain.len());
    for (i, link) in chain.iter().enumerate() {
        assert_eq!(
            link.0, i as u64,
            "sequence numbers run from 0 without a gap"
        );
        let previous = if i == 0 { [0; 32] } else { chain[i - 1].1 };
        assert_eq!(link.2, previous, "request {i} names its predecessor");
    }
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn a_server_that_forgets_your_requests_is_caught_by_your_own_chain() {
    let firm = Firm::new();
    let attorney = firm.member("Ada Attorney", Role::Attorney);
    create_matter_as(&attorney).unwrap();
    let Firm { server, admin } = firm;
    drop(admin);

    // The server's state now, kept aside: what it will roll back to.
    let data = server.stop();
    let backup = tempfile::tempdir().unwrap();
    copy_dir(data.path(), backup.path());

    let server = TestServer::start_in(data, Limits::default());
    let phone = Vault::new(server.client(), same_identity(attorney.identity()));
    create_matter_as(&phone).unwrap();
    create_matter_as(&phone).unwrap();
    let me = attorney.identity().public().signing;
    let held = phone.client().held_position(&me).unwrap();
    drop(server);

    // The server comes back from the older state: two of the attorney's
    // requests are gone. Its log is internally consistent, so only the
    // attorney's own chain shows the loss.
    let rolled_back = TestServer::start_in(backup, Limits::default());
    let client = rolled_back.client();
    client.hold_position(&me, held);
    let phone = Vault::new(client, same_identity(attorney.identity()));
    let err = create_matter_as(&phone).unwrap_err();
    assert!(
        matches!(&err, ClientError::Verification(why) if why.contains("lost or replaced your own entries")),
        "{err}"
    );

    // A device that never knew better follows the server: only the
    // auditor or the receipts can tell it (log tests).
    let fresh = Vault::new(rolled_back.client(), same_identity(attorney.identity()));
    create_matter_as(&fresh).unwrap();
}

#[test]
fn the_cli_keeps_its_place_and_refuses_a_server_behind_it() {
    let firm = Firm::new();
    let user = CliUser::new(&firm.server.url, "correct horse battery staple");
    let key = user.enrol("Ada Attorney");
    let key =
        SigningPublicKey::from_bytes(&hex::decode(&key).unwrap().try_into().unwrap()).unwrap();
    let (bundle, _) = firm.admin.identity_of(&key).unwrap();
    firm.admin.certify(&bundle, Role::Attorney).unwrap();
    let _ = user.json(&["matter", "create"]);
    let _ = user.json(&["matter", "create"]);

    // The profile holds the position after the identity's last entry.
    let state = user.home.path().join("chain.state");
    let text = std::fs::read_to_string(&state).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let chain = chain_of(&firm, &key);
    let last = chain.last().unwrap();
    assert_eq!(chain.len(), 3, "registration and two matters");
    assert_eq!(
        lines,
        [
            firm.server.url.as_str(),
            &(last.0 + 1).to_string(),
            &hex::encode(last.1)
        ]
    );

    // A profile that has seen more than the server shows is not talked
    // round: the CLI refuses, naming the loss.
    std::fs::write(
        &state,
        format!("{}\n{}\n{}\n", lines[0], last.0 + 5, lines[2]),
    )
    .unwrap();
    let out = user.run(&["matter", "create"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("lost or replaced your own entries"),
        "{stderr}"
    );
    assert_eq!(chain_of(&firm, &key).len(), 3, "nothing was recorded");
}

#[test]
fn the_cli_keeps_its_place_after_links_and_uploads_large_files_from_a_stale_one() {
    let firm = Firm::new();
    let laptop = CliUser::new(&firm.server.url, "correct horse battery staple");
    let key = laptop.enrol("Ada Attorney");
    let key =
        SigningPublicKey::from_bytes(&hex::decode(&key).unwrap().try_into().unwrap()).unwrap();
    let (bundle, _) = firm.admin.identity_of(&key).unwrap();
    firm.admin.certify(&bundle, Role::Attorney).unwrap();
    let matter = laptop.json(&["matter", "create"])["matter"]
        .as_str()
        .unwrap()
        .to_owned();
    let small = laptop.home.path().join("memo.txt");
    std::fs::write(&small, b"memo").unwrap();
    let document = laptop.json(&["put", &matter, small.to_str().unwrap()])["document"]
        .as_str()
        .unwrap()
        .to_owned();

    // Link commands keep the profile's place too.
    let _ = laptop.json(&["link", "create", &document]);
    let state = laptop.home.path().join("chain.state");
    let held: u64 = std::fs::read_to_string(&state)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let chain = chain_of(&firm, &key);
    assert_eq!(
        held,
        chain.last().unwrap().0 + 1,
        "link create saved its place"
    );

    // A second device of the same person goes on; the laptop's saved place
    // is now behind. A large streamed upload from it still lands (it
    // checks its place before streaming, since a refusal arrives while it
    // is still sending).
    let phone = CliUser::new(&firm.server.url, "correct horse battery staple");
    copy_dir(laptop.home.path(), phone.home.path());
    let _ = phone.json(&["put", &matter, small.to_str().unwrap()]);
    let large = laptop.home.path().join("exhibits.bin");
    std::fs::write(&large, vec![0x5a; 24 << 20]).unwrap();
    let put = laptop.json(&["put", &matter, large.to_str().unwrap()]);
    assert_eq!(put["version"], 1);
    let chain = chain_of(&firm, &key);
    assert!(
        chain.windows(2).all(|w| w[1].0 == w[0].0 + 1),
        "one unbroken chain across both devices"
    );
}
