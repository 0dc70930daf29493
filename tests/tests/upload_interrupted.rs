//! An upload cut off mid-payload leaves nothing behind (spec: `spec/api.md`
//! §Upload; `server/src/store/blobs.rs`): no document, no blob, and —
//! once the server notices the closed connection — no staged file. A
//! restart removes temporary files and unreferenced blobs a crash left in
//! the data directory, and keeps every referenced blob.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::{Cursor, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use lexvault_client::vault::{Vault, decrypt_payload, hex_id};
use lexvault_core::api::{self, ErrorBody};
use lexvault_core::keys::SigningSecretKey;
use lexvault_core::manifest::DocumentId;
use lexvault_core::membership::Role;
use lexvault_core::request::SIGNATURE_HEADER;
use lexvault_server::app::Limits;
use lexvault_tests::hand_upload::HandUpload;
use lexvault_tests::{Firm, TestServer, file_names, same_identity};

/// How often, and how long apart, to look for the server having noticed
/// something: a bound on waiting, not a timing assertion.
const POLLS: u32 = 400;
const POLL_EVERY: Duration = Duration::from_millis(25);

fn eventually(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..POLLS {
        if done() {
            return true;
        }
        std::thread::sleep(POLL_EVERY);
    }
    done()
}

/// The request head and the body up to the payload, signed by `key`.
fn head_and_envelope(u: &HandUpload, key: &SigningSecretKey, addr: SocketAddr) -> Vec<u8> {
    let signature = lexvault_tests::sign_by_hand(addr, key, "POST", &u.path, &u.envelope);
    let total = u.body().len();
    let mut out = format!(
        "POST {} HTTP/1.1\r\nHost: {addr}\r\n{SIGNATURE_HEADER}: {signature}\r\n\
         Content-Type: {}\r\nContent-Length: {total}\r\nConnection: close\r\n\r\n",
        u.path,
        api::UPLOAD
    )
    .into_bytes();
    out.extend_from_slice(&u.head());
    out
}

/// The HTTP status of a whole response read to the end of the connection.
fn status_of(response: &[u8]) -> u16 {
    let line = response.split(|b| *b == b'\n').next().unwrap();
    std::str::from_utf8(&line[9..12]).unwrap().parse().unwrap()
}

fn download(vault: &Vault, id: &DocumentId) -> Vec<u8> {
    let opened = vault.open_latest(id).unwrap();
    let mut payload = tempfile::tempfile().unwrap();
    vault
        .fetch_payload(&opened, &mut payload, &mut |_| {})
        .unwrap();
    let mut out = Vec::new();
    decrypt_payload(&opened, &payload, &mut out).unwrap();
    out
}

#[test]
fn a_dropped_upload_leaves_nothing_and_a_restart_clears_orphans() {
    let firm = Firm::new();
    let attorney = firm.member("Ada Attorney", Role::Attorney);
    let matter = attorney.create_matter().unwrap();
    let data_dir = firm.server.data_dir().to_path_buf();
    let blobs = data_dir.join("blobs");
    let tmp = data_dir.join("tmp");

    // An earlier upload that completes.
    let kept_text: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let (kept, _) = attorney
        .put(
            matter.id(),
            None,
            "kept.pdf",
            "application/pdf",
            || Ok(Cursor::new(kept_text.clone())),
            &[],
            &mut |_| {},
        )
        .unwrap();
    let kept_blobs = file_names(&blobs);
    assert_eq!(kept_blobs.len(), 1);
    assert!(file_names(&tmp).is_empty());

    // The interrupted one: 2 MiB of plaintext, a quarter of it sent.
    let big: Vec<u8> = (0..2 * 1024 * 1024u32).map(|i| (i % 241) as u8).collect();
    let upload = HandUpload::new(attorney.identity(), matter.id(), &big);
    let mut stream = TcpStream::connect(firm.server.addr).unwrap();
    stream
        .write_all(&head_and_envelope(
            &upload,
            attorney.identity().signing_key(),
            firm.server.addr,
        ))
        .unwrap();
    stream
        .write_all(&upload.payload[..upload.payload.len() / 4])
        .unwrap();
    stream.flush().unwrap();
    // The server has accepted the envelope and is staging the payload.
    assert!(
        eventually(|| file_names(&tmp).len() == 1),
        "no staged file appeared: {:?}",
        file_names(&tmp)
    );
    drop(stream);

    assert!(
        eventually(|| file_names(&tmp).is_empty()),
        "the staged file of a dropped upload stayed: {:?}",
        file_names(&tmp)
    );
    assert_eq!(file_names(&blobs), kept_blobs);
    let err = attorney.open_latest(&upload.document).unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(404), Some("not-found")),
        "{err}"
    );
    let listed: Vec<DocumentId> = attorney
        .documents(matter.id())
        .unwrap()
        .iter()
        .map(|d| d.document_id())
        .collect();
    assert_eq!(listed, vec![kept]);
    let uploads = attorney
        .events(matter.id())
        .unwrap()
        .iter()
        .filter(|e| e.kind == "uploaded")
        .count();
    assert_eq!(uploads, 1);

    // The same upload, sent whole, is accepted: only the cut stopped it.
    let mut stream = TcpStream::connect(firm.server.addr).unwrap();
    stream
        .write_all(&head_and_envelope(
            &upload,
            attorney.identity().signing_key(),
            firm.server.addr,
        ))
        .unwrap();
    stream.write_all(&upload.payload).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    assert_eq!(status_of(&response), 201);
    assert_eq!(download(&attorney, &upload.document), big);
    assert_eq!(file_names(&blobs).len(), 2);

    // A crash's leftovers: a staged file and a blob no row references.
    let identity = same_identity(attorney.identity());
    drop(attorney);
    let Firm { server, admin } = firm;
    drop(admin);
    let data = server.stop();
    let referenced = file_names(&data.path().join("blobs"));
    let stray_tmp = data.path().join("tmp").join(hex_id(&[0x5a; 16]));
    let stray_blob = data.path().join("blobs").join(hex_id(&[0xa5; 16]));
    std::fs::write(&stray_tmp, b"half an upload").unwrap();
    std::fs::write(&stray_blob, b"a blob whose row never committed").unwrap();
    assert_eq!(file_names(&data.path().join("blobs")).len(), 3);

    let server = TestServer::start_in(data, Limits::default());
    assert!(file_names(&server.data_dir().join("tmp")).is_empty());
    assert_eq!(file_names(&server.data_dir().join("blobs")), referenced);
    let attorney = Vault::new(server.client(), identity);
    assert_eq!(download(&attorney, &kept), kept_text);
    assert_eq!(download(&attorney, &upload.document), big);

    // The server is whole: a new upload still goes through.
    let (again, _) = attorney
        .put(
            matter.id(),
            None,
            "after restart.pdf",
            "application/pdf",
            || Ok(Cursor::new(b"after the restart".to_vec())),
            &[],
            &mut |_| {},
        )
        .unwrap();
    assert_eq!(download(&attorney, &again), b"after the restart");
}

/// Cutting the connection inside the envelope stores nothing either, and
/// stages nothing: the payload never started.
#[test]
fn a_dropped_envelope_leaves_nothing() {
    let firm = Firm::new();
    let attorney = firm.member("Ada Attorney", Role::Attorney);
    let matter = attorney.create_matter().unwrap();
    let upload = HandUpload::new(attorney.identity(), matter.id(), b"short");
    let head = head_and_envelope(&upload, attorney.identity().signing_key(), firm.server.addr);
    let mut stream = TcpStream::connect(firm.server.addr).unwrap();
    stream.write_all(&head[..head.len() - 10]).unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut response = Vec::new();
    // The server may answer (400) or just close; it must not store.
    let _ = stream.read_to_end(&mut response);
    if !response.is_empty() {
        let status = status_of(&response);
        assert_eq!(status, 400, "{}", String::from_utf8_lossy(&response));
        let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let body: ErrorBody = api::decode(&response[split + 4..]).unwrap();
        assert!(
            ["interrupted", "truncated-body"].contains(&body.code.as_str()),
            "{body:?}"
        );
    }
    assert_eq!(
        attorney.open_latest(&upload.document).unwrap_err().code(),
        Some("not-found")
    );
    assert!(file_names(&firm.server.data_dir().join("blobs")).is_empty());
    assert!(eventually(|| file_names(
        &firm.server.data_dir().join("tmp")
    )
    .is_empty()));
    assert!(attorney.documents(matter.id()).unwrap().is_empty());
}
