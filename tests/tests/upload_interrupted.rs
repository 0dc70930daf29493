//! An upload cut off mid-payload leaves nothing behind (spec: `spec/api.md`
//! §Upload; `server/src/store/blobs.rs`): no document, no blob, and —
//! once the server notices the closed connection — no staged file. A
//! restart removes temporary files and unreferenced blobs a crash left in
//! the data directory, and keeps every referenced blob.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::{Cursor, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use lexvault_client::client::{Client, os_rng};
use lexvault_client::vault::{Vault, decrypt_payload, hex_id};
use lexvault_core::age::{self, StreamWriter};
use lexvault_core::api::{self, ErrorBody, RecipientStanza, UploadEnvelope};
use lexvault_core::keys::{EncryptionSecretKey, Identity, SigningSecretKey};
use lexvault_core::manifest::{
    DocumentId, KeyCommitment, Manifest, ManifestTerms, PayloadHasher, VersionNumber,
};
use lexvault_core::matter::MatterId;
use lexvault_core::membership::Role;
use lexvault_core::metadata::{Metadata, MetadataBinding};
use lexvault_core::request::{BodyDigest, SIGNATURE_HEADER};
use lexvault_core::secret::FileKey;
use lexvault_core::signed::Signed;
use lexvault_server::app::Limits;
use lexvault_tests::{Firm, TestServer};

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

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A version-1 upload built by hand, the way `Vault::put` builds one.
struct HandUpload {
    document: DocumentId,
    path: String,
    envelope: Vec<u8>,
    payload: Vec<u8>,
}

fn hand_upload(uploader: &Identity, matter: &MatterId, plaintext: &[u8]) -> HandUpload {
    let mut rng = os_rng();
    let document = DocumentId::generate(&mut rng);
    let file_key = FileKey::generate(&mut rng);
    let mut writer = StreamWriter::new(&file_key, Vec::new(), &mut rng).unwrap();
    writer.write_all(plaintext).unwrap();
    let payload = writer.finish().unwrap();
    let mut hasher = PayloadHasher::new();
    hasher.update(&payload);
    let (payload_digest, payload_len) = hasher.finalize();
    let binding = MetadataBinding {
        matter_id: *matter,
        document_id: document,
        version: VersionNumber::FIRST,
    };
    let metadata = Metadata::new(
        "interrupted.pdf",
        "application/pdf",
        plaintext.len() as u64,
        BodyDigest::of(plaintext).0,
    )
    .unwrap()
    .seal(&file_key, &binding);
    let manifest = Manifest::new(ManifestTerms {
        matter_id: *matter,
        document_id: document,
        version: VersionNumber::FIRST,
        previous: None,
        payload_digest,
        payload_len,
        key_commitment: KeyCommitment::derive(&file_key),
        metadata_digest: metadata.digest(),
        created_at: lexvault_client::client::now(),
    })
    .unwrap();
    let manifest = Signed::sign(manifest, uploader.signing_key());
    let stanza = age::x25519::wrap_file_key(&file_key, &uploader.public().encryption, &mut rng);
    let envelope = api::encode(&UploadEnvelope {
        manifest: manifest.as_bytes().to_vec().into(),
        metadata: metadata.as_bytes().to_vec().into(),
        stanzas: vec![RecipientStanza {
            recipient: uploader.public().signing.to_bytes().into(),
            stanza: stanza.to_bytes().into(),
        }],
        grants: Vec::new(),
    });
    HandUpload {
        document,
        path: format!("/v1/documents/{}/versions", hex_id(document.as_bytes())),
        envelope,
        payload,
    }
}

impl HandUpload {
    /// The request head and the body up to the payload.
    fn head_and_envelope(&self, key: &SigningSecretKey, addr: SocketAddr) -> Vec<u8> {
        let signature =
            Client::sign("POST", &self.path, BodyDigest::of(&self.envelope), key).expect("sign");
        let total = 4 + self.envelope.len() + self.payload.len();
        let mut out = format!(
            "POST {} HTTP/1.1\r\nHost: {addr}\r\n{SIGNATURE_HEADER}: {signature}\r\n\
             Content-Type: {}\r\nContent-Length: {total}\r\nConnection: close\r\n\r\n",
            self.path,
            api::UPLOAD
        )
        .into_bytes();
        out.extend_from_slice(&u32::try_from(self.envelope.len()).unwrap().to_be_bytes());
        out.extend_from_slice(&self.envelope);
        out
    }
}

/// The HTTP status of a whole response read to the end of the connection.
fn status_of(response: &[u8]) -> u16 {
    let line = response.split(|b| *b == b'\n').next().unwrap();
    std::str::from_utf8(&line[9..12]).unwrap().parse().unwrap()
}

fn same_identity(who: &Identity) -> Identity {
    Identity::from_keys(
        SigningSecretKey::from_seed(&who.signing_key().to_seed()),
        EncryptionSecretKey::from_secret_bytes(&who.encryption_key().to_secret_bytes()),
    )
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
    let kept_blobs = entries(&blobs);
    assert_eq!(kept_blobs.len(), 1);
    assert!(entries(&tmp).is_empty());

    // The interrupted one: 2 MiB of plaintext, a quarter of it sent.
    let big: Vec<u8> = (0..2 * 1024 * 1024u32).map(|i| (i % 241) as u8).collect();
    let upload = hand_upload(attorney.identity(), matter.id(), &big);
    let mut stream = TcpStream::connect(firm.server.addr).unwrap();
    stream
        .write_all(&upload.head_and_envelope(attorney.identity().signing_key(), firm.server.addr))
        .unwrap();
    stream
        .write_all(&upload.payload[..upload.payload.len() / 4])
        .unwrap();
    stream.flush().unwrap();
    // The server has accepted the envelope and is staging the payload.
    assert!(
        eventually(|| entries(&tmp).len() == 1),
        "no staged file appeared: {:?}",
        entries(&tmp)
    );
    drop(stream);

    assert!(
        eventually(|| entries(&tmp).is_empty()),
        "the staged file of a dropped upload stayed: {:?}",
        entries(&tmp)
    );
    assert_eq!(entries(&blobs), kept_blobs);
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
        .write_all(&upload.head_and_envelope(attorney.identity().signing_key(), firm.server.addr))
        .unwrap();
    stream.write_all(&upload.payload).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    assert_eq!(status_of(&response), 201);
    assert_eq!(download(&attorney, &upload.document), big);
    assert_eq!(entries(&blobs).len(), 2);

    // A crash's leftovers: a staged file and a blob no row references.
    let identity = same_identity(attorney.identity());
    drop(attorney);
    let Firm { server, admin } = firm;
    drop(admin);
    let data = server.stop();
    let referenced = entries(&data.path().join("blobs"));
    let stray_tmp = data.path().join("tmp").join(hex_id(&[0x5a; 16]));
    let stray_blob = data.path().join("blobs").join(hex_id(&[0xa5; 16]));
    std::fs::write(&stray_tmp, b"half an upload").unwrap();
    std::fs::write(&stray_blob, b"a blob whose row never committed").unwrap();
    assert_eq!(entries(&data.path().join("blobs")).len(), 3);

    let server = TestServer::start_in(data, Limits::default());
    assert!(entries(&server.data_dir().join("tmp")).is_empty());
    assert_eq!(entries(&server.data_dir().join("blobs")), referenced);
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
    let upload = hand_upload(attorney.identity(), matter.id(), b"short");
    let head = upload.head_and_envelope(attorney.identity().signing_key(), firm.server.addr);
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
    assert!(entries(&firm.server.data_dir().join("blobs")).is_empty());
    assert!(eventually(
        || entries(&firm.server.data_dir().join("tmp")).is_empty()
    ));
    assert!(attorney.documents(matter.id()).unwrap().is_empty());
}
