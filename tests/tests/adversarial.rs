//! The hostile server: a relay between the real client library and the
//! real server rewrites what the server answers (and, for the log, signs
//! with the server's own key), attack by attack. Each attack is modelled on
//! a published attack family against end-to-end encrypted storage, its
//! control (the same flow, untampered) must succeed, and the client must
//! refuse it with the specific error while releasing no plaintext.
//!
//! One firm, one table, one summary line: `N attacks tried, M detected`,
//! followed by the open vulnerabilities the table records as known
//! failures. The test fails if an attack outside those goes undetected, or
//! if a known failure starts being detected (take it off the list).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{Cursor, Read as _};
use std::sync::{Arc, Mutex};

use lexvault_client::client::{Client, ClientError, ClientResult, now, os_rng};
use lexvault_client::links::{LinkClientError, LinkOpener, LinkTerms, create_link};
use lexvault_client::log::{LogError, LogMonitor, LogState};
use lexvault_client::login::{login, register_password};
use lexvault_client::vault::{OpenedVersion, Share, Vault, decrypt_payload, hex_id, open_version};
use lexvault_core::age::Stanza;
use lexvault_core::age::x25519::{unwrap_file_key, wrap_file_key};
use lexvault_core::api::{
    self, DocumentList, DocumentSummary, DocumentView, EventList, IdentityInfo, LogCheckpoint,
    LoginResult, UploadEnvelope, VersionView,
};
use lexvault_core::backup::{Argon2Params, SealedBackup};
use lexvault_core::checkpoint::Checkpoint;
use lexvault_core::grant::{Grant, GrantId, GrantTerms, Rights, Scope, Validity};
use lexvault_core::key_bundle::{KeyBundle, VerifiedKeyBundle};
use lexvault_core::keys::{Identity, SigningSecretKey};
use lexvault_core::log_entry::LogEntry;
use lexvault_core::manifest::DocumentId;
use lexvault_core::matter::VerifiedMatter;
use lexvault_core::membership::{MemberCertificate, Role};
use lexvault_core::note::NoteSigner;
use lexvault_core::secret::{SecretBytes, SecretString};
use lexvault_core::signed::{RecordDigest, Signed};
use lexvault_tests::Firm;
use lexvault_tests::hand_upload::HandUpload;
use lexvault_tests::hostile::{Answer, HostileRelay};

/// An age payload chunk on the wire: 64 KiB of plaintext and its tag.
const CHUNK: usize = 64 * 1024 + 16;

/// Everything the attacks play against: one firm behind one relay.
struct Scene {
    firm: Firm,
    relay: HostileRelay,
    /// The matter's creator, an attorney.
    attorney: Vault,
    /// A client of the firm holding view and download grants on `a`, `b`
    /// and `c`.
    victim: Vault,
    /// A registered outsider with no rights anywhere.
    mallory: Identity,
    mallory_bundle: VerifiedKeyBundle,
    m1: VerifiedMatter,
    m2: VerifiedMatter,
    /// Two versions, four payload chunks each.
    a: DocumentId,
    a_v1: Vec<u8>,
    a_v2: Vec<u8>,
    /// In `m1`, another file name.
    b: DocumentId,
    /// In `m2`.
    c: DocumentId,
    /// Whether the victim's password login is set up.
    password_set: Mutex<bool>,
}

fn text(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| seed.wrapping_add((i % 251) as u8))
        .collect()
}

impl Scene {
    fn new() -> Self {
        let firm = Firm::new();
        let relay = HostileRelay::start(&firm.server.url);
        let on_relay = || Client::new(&relay.url).unwrap();
        let attorney = Vault::new(on_relay(), Identity::generate(&mut os_rng()));
        let bundle = attorney.register("Ada Attorney").unwrap();
        firm.admin.certify(&bundle, Role::Attorney).unwrap();
        let victim = Vault::new(on_relay(), Identity::generate(&mut os_rng()));
        victim.register("Carla Client").unwrap();
        let mallory = Identity::generate(&mut os_rng());
        let mallory_bundle = KeyBundle::create(&mallory, "Mallory", now()).unwrap();
        let _: IdentityInfo = firm
            .server
            .client()
            .post(
                mallory.signing_key(),
                "/v1/identities",
                &api::RegisterIdentity {
                    bundle: mallory_bundle.as_bytes().to_vec().into(),
                },
            )
            .unwrap();

        let m1 = attorney.create_matter().unwrap();
        let m2 = attorney.create_matter().unwrap();
        let share = || Share {
            with: victim.identity().public(),
            rights: Rights::VIEW | Rights::DOWNLOAD,
            validity: Validity::starting(0),
        };
        let put = |matter: &VerifiedMatter, doc: Option<DocumentId>, name: &str, body: &[u8]| {
            let body = body.to_vec();
            attorney
                .put(
                    matter.id(),
                    doc,
                    name,
                    "application/pdf",
                    || Ok(Cursor::new(body.clone())),
                    &[share()],
                    &mut |_| {},
                )
                .unwrap()
                .0
        };
        let a_v1 = text(1, 200_000);
        let a_v2 = text(2, 200_000);
        let a = put(&m1, None, "settlement-draft.pdf", &a_v1);
        put(&m1, Some(a), "settlement-draft.pdf", &a_v2);
        let b = put(&m1, None, "privileged-memo.pdf", &text(3, 5_000));
        let c = put(&m2, None, "other-matter.pdf", &text(4, 5_000));
        Self {
            firm,
            relay,
            attorney,
            victim,
            mallory,
            mallory_bundle,
            m1,
            m2,
            a,
            a_v1,
            a_v2,
            b,
            c,
            password_set: Mutex::new(false),
        }
    }

    /// The raw answer body to `path` for `vault`, through the honest relay.
    fn capture(&self, path: &str, call: impl FnOnce()) -> Vec<u8> {
        let seen: Arc<Mutex<Vec<u8>>> = Arc::default();
        let keep = Arc::clone(&seen);
        let path = path.to_owned();
        self.relay.play(move |_, target, answer| {
            if target == path {
                keep.lock().unwrap().clone_from(&answer.body);
            }
            false
        });
        call();
        self.relay.honest();
        let body = seen.lock().unwrap().clone();
        assert!(!body.is_empty(), "nothing captured");
        body
    }

    /// Plays `rule` on answers to `path`, runs `call`, and makes sure the
    /// rule changed at least one answer (else the attack was never played).
    fn attack<T>(
        &self,
        path: &str,
        mut rule: impl FnMut(&mut Answer) + Send + 'static,
        call: impl FnOnce() -> T,
    ) -> Result<T, String> {
        let path = path.to_owned();
        self.relay.play(move |_, target, answer| {
            if target == path && answer.status < 300 {
                rule(answer);
                true
            } else {
                false
            }
        });
        let out = call();
        let tampered = self.relay.tampered();
        self.relay.honest();
        if tampered == 0 {
            return Err("the relay never saw the call: the attack was not played".into());
        }
        Ok(out)
    }
}

fn doc_path(doc: &DocumentId) -> String {
    format!("/v1/documents/{}", hex_id(doc.as_bytes()))
}

fn payload_path(doc: &DocumentId, version: u32) -> String {
    format!("{}/versions/{version}/payload", doc_path(doc))
}

/// Fetches and decrypts `opened`: the plaintext if every check passed, and
/// how many bytes were left in the payload file and in the output.
fn fetch(vault: &Vault, opened: &OpenedVersion) -> (ClientResult<Vec<u8>>, u64, usize) {
    let mut file = tempfile::tempfile().unwrap();
    let mut out = Vec::new();
    let result = vault
        .fetch_payload(opened, &mut file, &mut |_| {})
        .and_then(|()| decrypt_payload(opened, &mut file, &mut out));
    let left = file.metadata().unwrap().len();
    let released = out.len();
    (result.map(|()| out), left, released)
}

/// The outcome of one attack: the refusal shown, or why it went unnoticed.
type Played = Result<String, String>;

/// Whether `result` is the specific verification refusal naming `phrase`.
fn refused<T>(result: ClientResult<T>, phrase: &str) -> Played {
    match result {
        Err(ClientError::Verification(m)) if m.contains(phrase) => Ok(m),
        Err(other) => Err(format!("refused for another reason: {other:?}")),
        Ok(_) => Err("accepted".into()),
    }
}

/// Like [`refused`], for a download: nothing may be left on disk or
/// released.
fn refused_download(got: (ClientResult<Vec<u8>>, u64, usize), phrase: &str) -> Played {
    let (result, left, released) = got;
    if left != 0 || released != 0 {
        return Err(format!(
            "{left} payload bytes kept and {released} plaintext bytes released"
        ));
    }
    refused(result, phrase)
}

/// The nonce length and the chunks of a stored payload (the age payload
/// after the header: a 16-byte nonce, then STREAM chunks).
fn split_payload(payload: &[u8]) -> (usize, Vec<Vec<u8>>) {
    let start = 16;
    (
        start,
        payload[start..].chunks(CHUNK).map(<[u8]>::to_vec).collect(),
    )
}

fn with_chunks(answer: &mut Answer, edit: impl FnOnce(&mut Vec<Vec<u8>>)) {
    let (start, mut chunks) = split_payload(&answer.body);
    assert!(chunks.len() >= 4, "{} chunks", chunks.len());
    edit(&mut chunks);
    let mut body = answer.body[..start].to_vec();
    body.extend(chunks.concat());
    answer.body = body;
}

fn edit_view(answer: &mut Answer, edit: impl FnOnce(&mut DocumentView)) {
    let mut view: DocumentView = api::decode(&answer.body).unwrap();
    edit(&mut view);
    answer.body = api::encode(&view);
}

// ---------------------------------------------------------------------
// Ciphertext

/// Plays `edit` on the payload of the latest version of `a`.
fn payload_attack(s: &Scene, edit: fn(&mut Answer), phrase: &str) -> Played {
    let opened = s.victim.open_latest(&s.a).unwrap();
    let (control, _, _) = fetch(&s.victim, &opened);
    assert_eq!(control.unwrap(), s.a_v2, "control");
    let got = s.attack(&payload_path(&s.a, 2), edit, || fetch(&s.victim, &opened))?;
    refused_download(got, phrase)
}

const MISMATCH: &str = "does not match the manifest";
const TOO_LONG: &str = "more bytes than the manifest says";

fn bit_flip(s: &Scene) -> Played {
    payload_attack(s, |a| with_chunks(a, |c| c[1][100] ^= 0x01), MISMATCH)
}

fn chunk_reorder(s: &Scene) -> Played {
    payload_attack(s, |a| with_chunks(a, |c| c.swap(0, 1)), MISMATCH)
}

fn chunk_drop(s: &Scene) -> Played {
    payload_attack(
        s,
        |a| {
            with_chunks(a, |c| {
                c.remove(1);
            });
        },
        MISMATCH,
    )
}

fn chunk_duplicate(s: &Scene) -> Played {
    payload_attack(
        s,
        |a| with_chunks(a, |c| c.insert(1, c[1].clone())),
        TOO_LONG,
    )
}

fn truncate_at_boundary(s: &Scene) -> Played {
    payload_attack(
        s,
        |a| {
            with_chunks(a, |c| {
                c.pop();
            });
        },
        MISMATCH,
    )
}

fn truncate_mid_chunk(s: &Scene) -> Played {
    payload_attack(s, |a| with_chunks(a, |c| c[2].truncate(1000)), MISMATCH)
}

fn extend_after_last(s: &Scene) -> Played {
    payload_attack(s, |a| with_chunks(a, |c| c.push(vec![0x5a; 100])), TOO_LONG)
}

fn other_versions_payload(s: &Scene) -> Played {
    let mut download = s
        .victim
        .client()
        .download(s.victim.identity().signing_key(), &payload_path(&s.a, 1), 0)
        .unwrap();
    let mut v1 = Vec::new();
    download.body.read_to_end(&mut v1).unwrap();
    // Control: what the relay will serve is version 1's genuine payload.
    let doc = s.victim.document(&s.a).unwrap();
    let (m1, view1) = &doc.versions[0];
    let v1_opened = open_version(&doc.matter, m1, view1, s.victim.identity()).unwrap();
    let mut plain = Vec::new();
    decrypt_payload(&v1_opened, Cursor::new(&v1), &mut plain).unwrap();
    assert_eq!(plain, s.a_v1, "control");
    let opened = s.victim.open_latest(&s.a).unwrap();
    assert_eq!(opened.version().get(), 2);
    let got = s.attack(
        &payload_path(&s.a, 2),
        move |a| a.body.clone_from(&v1),
        || fetch(&s.victim, &opened),
    )?;
    refused_download(got, MISMATCH)
}

// ---------------------------------------------------------------------
// Keys

fn identity_path(v: &Vault) -> String {
    format!(
        "/v1/identities/{}",
        hex_id(v.identity().public().signing.as_bytes())
    )
}

fn substitute_bundle(s: &Scene) -> Played {
    let key = s.victim.identity().public().signing;
    let (control, _) = s.attorney.identity_of(&key).unwrap();
    assert_eq!(control.identity(), &s.victim.identity().public());
    let forged = s.mallory_bundle.as_bytes().to_vec();
    let got = s.attack(
        &identity_path(&s.victim),
        move |a| {
            let mut info: IdentityInfo = api::decode(&a.body).unwrap();
            info.bundle = forged.clone().into();
            a.body = api::encode(&info);
        },
        || s.attorney.identity_of(&key),
    )?;
    refused(got, "another person's key bundle")
}

fn bundle_not_self_signed(s: &Scene) -> Played {
    let control = s
        .attorney
        .identity_of(&s.victim.identity().public().signing);
    control.expect("control");
    let key = s.victim.identity().public().signing;
    let got = s.attack(
        &identity_path(&s.victim),
        |a| {
            let mut info: IdentityInfo = api::decode(&a.body).unwrap();
            let mut bundle = info.bundle.to_vec();
            *bundle.last_mut().unwrap() ^= 0x01;
            info.bundle = bundle.into();
            a.body = api::encode(&info);
        },
        || s.attorney.identity_of(&key),
    )?;
    refused(got, "signature verification failed")
}

fn self_certified_staff_key(s: &Scene) -> Played {
    let admin = s.firm.admin.identity().public().signing;
    let mallory = s.mallory.public().signing;
    assert_eq!(
        s.attorney.role_of(&mallory, &admin).unwrap(),
        None,
        "control"
    );
    let forged = MemberCertificate::issue(
        &s.mallory_bundle,
        Role::Attorney,
        now(),
        s.mallory.signing_key(),
    );
    let forged = forged.as_bytes().to_vec();
    let got = s.attack(
        &format!("/v1/identities/{}", hex_id(mallory.as_bytes())),
        move |a| {
            let mut info: IdentityInfo = api::decode(&a.body).unwrap();
            info.certificate = Some(forged.clone().into());
            a.body = api::encode(&info);
        },
        || s.attorney.role_of(&mallory, &admin),
    )?;
    // Key transparency refuses it first: no certification entry in the log
    // binds this certificate (the administrator's signature is checked
    // after that).
    refused(got, "member certificate is bound in the log")
}

fn substitute_wrapped_key(s: &Scene) -> Played {
    s.victim.open_latest(&s.a).expect("control");
    let b = s.capture(&doc_path(&s.b), || {
        s.victim.open_latest(&s.b).unwrap();
    });
    let b: DocumentView = api::decode(&b).unwrap();
    let other_key = b.versions[0].stanza.clone().unwrap();
    let got = s.attack(
        &doc_path(&s.a),
        move |a| edit_view(a, |v| v.versions[1].stanza = Some(other_key.clone())),
        || s.victim.open_latest(&s.a),
    )?;
    refused(got, "file key does not match the manifest's key commitment")
}

/// Sets the victim's password once, and checks the honest login (the
/// control) recovers the victim's identity through the relay.
fn password_login_control(s: &Scene) -> SecretString {
    let password = SecretString::new("correct horse battery staple".into());
    if !*s.password_set.lock().unwrap() {
        register_password(
            &s.victim,
            "carla@example.com",
            &password,
            Argon2Params::MINIMUM,
        )
        .unwrap();
        *s.password_set.lock().unwrap() = true;
    }
    let device = Client::new(&s.relay.url).unwrap();
    let recovered = login(&device, "carla@example.com", &password).unwrap();
    assert_eq!(recovered.public(), s.victim.identity().public(), "control");
    password
}

fn edit_login_result(answer: &mut Answer, edit: impl FnOnce(&mut LoginResult)) {
    let mut result: LoginResult = api::decode(&answer.body).unwrap();
    edit(&mut result);
    answer.body = api::encode(&result);
}

fn downgrade_backup_parameters(s: &Scene) -> Played {
    let password = password_login_control(s);
    let device = Client::new(&s.relay.url).unwrap();
    let got = s.attack(
        "/v1/login/finish",
        |a| {
            edit_login_result(a, |r| {
                // Argon2id memory 19 MiB (CBOR 0x19 0x4c00) down to 8 MiB.
                let mut sealed = r.sealed_backup.to_vec();
                let at: Vec<usize> = sealed
                    .windows(3)
                    .enumerate()
                    .filter(|(_, w)| *w == [0x19, 0x4c, 0x00])
                    .map(|(i, _)| i)
                    .collect();
                assert_eq!(at.len(), 1, "the memory cost is encoded once");
                sealed[at[0] + 1] = 0x20;
                r.sealed_backup = sealed.into();
            });
        },
        || login(&device, "carla@example.com", &password),
    )?;
    refused(got, "argon2id parameters are below the minimum")
}

fn corrupt_sealed_backup(s: &Scene) -> Played {
    let password = password_login_control(s);
    let device = Client::new(&s.relay.url).unwrap();
    let got = s.attack(
        "/v1/login/finish",
        |a| {
            edit_login_result(a, |r| {
                let mut sealed = r.sealed_backup.to_vec();
                *sealed.last_mut().unwrap() ^= 0x01;
                r.sealed_backup = sealed.into();
            });
        },
        || login(&device, "carla@example.com", &password),
    )?;
    refused(got, "the key backup the server released is unusable")
}

/// The server releases another identity's keys sealed under the same
/// password (one it learned or guessed), with the victim's bundle.
fn substitute_sealed_backup(s: &Scene) -> Played {
    let password = password_login_control(s);
    let swapped = SealedBackup::seal(&s.mallory, &password, Argon2Params::MINIMUM, &mut os_rng())
        .unwrap()
        .to_bytes();
    let device = Client::new(&s.relay.url).unwrap();
    let got = s.attack(
        "/v1/login/finish",
        move |a| edit_login_result(a, |r| r.sealed_backup = swapped.clone().into()),
        || login(&device, "carla@example.com", &password),
    )?;
    refused(got, "is not the recovered identity's")
}

// ---------------------------------------------------------------------
// Structure

fn move_to_other_matter(s: &Scene) -> Played {
    s.victim.open_latest(&s.a).expect("control");
    let c = s.capture(&doc_path(&s.c), || {
        s.victim.open_latest(&s.c).unwrap();
    });
    let c: DocumentView = api::decode(&c).unwrap();
    let got = s.attack(
        &doc_path(&s.a),
        move |a| edit_view(a, |v| v.matter = c.matter.clone()),
        || s.victim.open_latest(&s.a),
    )?;
    refused(got, "manifest of another document")
}

fn list_in_other_matter(s: &Scene) -> Played {
    let listing =
        |m: &VerifiedMatter| format!("/v1/matters/{}/documents", hex_id(m.id().as_bytes()));
    let m1 = s.capture(&listing(&s.m1), || {
        assert_eq!(s.victim.documents(s.m1.id()).unwrap().len(), 2);
    });
    let m1: DocumentList = api::decode(&m1).unwrap();
    assert_eq!(s.victim.documents(s.m2.id()).unwrap().len(), 1, "control");
    let got = s.attack(
        &listing(&s.m2),
        move |a| {
            let mut list: DocumentList = api::decode(&a.body).unwrap();
            list.documents.extend(m1.documents.iter().cloned());
            a.body = api::encode(&list);
        },
        || s.victim.documents(s.m2.id()),
    )?;
    refused(got, "the manifest belongs to another matter")
}

fn swap_file_names(s: &Scene) -> Played {
    let b = s.capture(&doc_path(&s.b), || {
        s.victim.open_latest(&s.b).unwrap();
    });
    let b: DocumentView = api::decode(&b).unwrap();
    let control = s.victim.open_latest(&s.a).unwrap();
    assert_eq!(control.metadata.file_name(), "settlement-draft.pdf");
    let got = s.attack(
        &doc_path(&s.a),
        move |a| {
            edit_view(a, |v| {
                v.versions[1].metadata = b.versions[0].metadata.clone()
            })
        },
        || s.victim.open_latest(&s.a),
    )?;
    refused(got, "metadata does not match the manifest")
}

fn alter_manifest_field(s: &Scene) -> Played {
    s.victim.open_latest(&s.a).expect("control");
    let got = s.attack(
        &doc_path(&s.a),
        |a| {
            edit_view(a, |v| {
                let mut m = v.versions[1].manifest.to_vec();
                let i = m.len() / 2;
                m[i] ^= 0x01;
                v.versions[1].manifest = m.into();
            });
        },
        || s.victim.open_latest(&s.a),
    )?;
    refused(got, "signature verification failed")
}

fn forge_grant(s: &Scene) -> Played {
    s.victim.open_latest(&s.a).expect("control");
    let me = s.victim.identity().public().signing;
    let forger = Identity::generate(&mut os_rng());
    let got = s.attack(
        &doc_path(&s.a),
        move |a| {
            edit_view(a, |v| {
                v.grants = v
                    .grants
                    .iter()
                    .map(|g| {
                        let g = Signed::<Grant>::from_bytes(g).unwrap();
                        if g.record().grantee().signing == me {
                            let forged = Grant::new(g.record().terms().clone()).unwrap();
                            Signed::sign(forged, forger.signing_key())
                                .as_bytes()
                                .to_vec()
                                .into()
                        } else {
                            g.as_bytes().to_vec().into()
                        }
                    })
                    .collect();
            });
        },
        || s.victim.open_latest(&s.a),
    )?;
    refused(got, "without a grant in force for you")
}

/// The manifest of `a`'s latest version, which the victim has seen,
/// re-signed by an outsider: the author changed, every other term intact.
fn resign_by_outsider(s: &Scene) -> Played {
    s.victim.open_latest(&s.a).expect("control");
    let outsider = Identity::generate(&mut os_rng());
    let got = s.attack(
        &doc_path(&s.a),
        move |a| {
            edit_view(a, |v| {
                let m = lexvault_core::manifest::verify_manifest(&v.versions[1].manifest).unwrap();
                v.versions[1].manifest = Signed::sign(m.record().clone(), outsider.signing_key())
                    .as_bytes()
                    .to_vec()
                    .into();
            });
        },
        || {
            s.victim
                .open_latest(&s.a)
                .map(|o| o.manifest.signer().to_owned())
        },
    )?;
    refused(got, "the server replaced version 2 you have already seen")
}

/// A document the outsider made and signed, listed in the victim's matter
/// with its key wrapped to the victim and, as the uploader's authority, an
/// upload grant the outsider signed to itself: the matter's creator never
/// signed it and the outsider holds no upload right.
fn inject_document(s: &Scene) -> Played {
    let listing = format!("/v1/matters/{}/documents", hex_id(s.m1.id().as_bytes()));
    assert_eq!(s.victim.documents(s.m1.id()).unwrap().len(), 2, "control");
    let outsider = Identity::generate(&mut os_rng());
    let made = HandUpload::new(&outsider, s.m1.id(), b"wire the funds to account 666");
    let envelope: UploadEnvelope = api::decode(&made.envelope).unwrap();
    let stanza = Stanza::parse(&envelope.stanzas[0].stanza).unwrap();
    let file_key = unwrap_file_key(&stanza, outsider.encryption_key())
        .unwrap()
        .unwrap();
    let to_victim = wrap_file_key(
        &file_key,
        &s.victim.identity().public().encryption,
        &mut os_rng(),
    );
    let self_granted = Grant::new(GrantTerms {
        grant_id: GrantId::generate(&mut os_rng()),
        matter_id: *s.m1.id(),
        scope: Scope::Matter,
        grantee: outsider.public(),
        rights: Rights::UPLOAD,
        validity: Validity::starting(0),
        wrapped_key: None,
        parent: None,
        issued_at: now(),
    })
    .unwrap();
    let injected = DocumentSummary {
        document_id: (*made.document.as_bytes()).into(),
        latest: VersionView {
            manifest: envelope.manifest.clone(),
            metadata: envelope.metadata.clone(),
            stanza: Some(to_victim.to_bytes().into()),
            uploader_grants: vec![
                Signed::sign(self_granted, outsider.signing_key())
                    .as_bytes()
                    .to_vec()
                    .into(),
            ],
        },
    };
    let got = s.attack(
        &listing,
        move |a| {
            let mut list: DocumentList = api::decode(&a.body).unwrap();
            list.documents.push(injected.clone());
            a.body = api::encode(&list);
        },
        || {
            s.victim.documents(s.m1.id()).map(|docs| {
                docs.iter()
                    .map(|d| d.metadata.file_name().to_owned())
                    .collect::<Vec<_>>()
            })
        },
    )?;
    refused(got, "may not upload")
}

fn roll_back(s: &Scene) -> Played {
    s.victim.open_latest(&s.a).expect("control");
    let got = s.attack(
        &doc_path(&s.a),
        |a| edit_view(a, |v| v.versions.truncate(1)),
        || s.victim.open_latest(&s.a).map(|o| o.version().get()),
    )?;
    refused(got, "the document was rolled back")
}

/// The attorney grants the outsider a view of `b` and revokes it; the
/// server then serves the matter's grant list from before the revocation.
fn replay_revoked_grant(s: &Scene) -> Played {
    let grants = format!("/v1/matters/{}/grants", hex_id(s.m1.id().as_bytes()));
    let grant = s
        .attorney
        .grant(
            s.m1.id(),
            Scope::Document(s.b),
            &s.mallory.public(),
            Rights::VIEW,
            Validity::starting(0),
        )
        .unwrap();
    let stale = s.capture(&grants, || {
        s.attorney.grants(s.m1.id()).unwrap();
    });
    s.attorney.revoke(s.m1.id(), &grant.digest()).unwrap();
    let (_, _, revocations) = s.attorney.grants(s.m1.id()).unwrap();
    assert!(
        revocations
            .iter()
            .any(|r| r.record().revoked() == &grant.digest()),
        "control"
    );
    let got = s.attack(
        &grants,
        move |a| a.body.clone_from(&stale),
        || s.attorney.grants(s.m1.id()),
    )?;
    refused(got, "a revoked grant is being replayed")
}

/// The victim saw the matter's revocations with a document; the server
/// then serves the document with its revocations stripped.
fn strip_revocations(s: &Scene) -> Played {
    let revocations = s.victim.document(&s.a).unwrap().revocations;
    assert!(
        !revocations.is_empty(),
        "control: a revocation is on record"
    );
    let got = s.attack(
        &doc_path(&s.a),
        |a| edit_view(a, |v| v.revocations.clear()),
        || s.victim.document(&s.a),
    )?;
    refused(got, "a revoked grant is being replayed")
}

// ---------------------------------------------------------------------
// Log

fn omit_own_entry(s: &Scene) -> Played {
    let key = s.victim.identity().signing_key();
    let head = s.capture("/v1/log/head", || {
        s.victim.client().sync_chain(key).unwrap();
    });
    // A recorded call: the victim's chain moves past the captured head.
    s.victim.open_latest(&s.a).unwrap();
    s.victim.client().sync_chain(key).unwrap();
    let got = s.attack(
        "/v1/log/head",
        move |a| a.body.clone_from(&head),
        || s.victim.client().sync_chain(key),
    )?;
    refused(got, "lost or replaced your own entries")
}

fn log_sync(v: &Vault, state: &mut LogState) -> Result<(), LogError> {
    LogMonitor::sync(v.client(), v.identity().signing_key(), state).map(|_| ())
}

fn roll_back_checkpoint(s: &Scene) -> Played {
    let mut state = LogState::default();
    let old = s.capture("/v1/log/checkpoint", || {
        log_sync(&s.attorney, &mut state).unwrap();
    });
    s.attorney.open_latest(&s.a).unwrap();
    log_sync(&s.attorney, &mut state).unwrap();
    let got = s.attack(
        "/v1/log/checkpoint",
        move |a| a.body.clone_from(&old),
        || log_sync(&s.attorney, &mut state),
    )?;
    match got {
        Err(e @ LogError::Fork { .. }) => Ok(e.to_string()),
        other => Err(format!("{other:?}")),
    }
}

fn fork_log(s: &Scene) -> Played {
    // The hostile server holds its own log key.
    let db = rusqlite::Connection::open(s.firm.server.database()).unwrap();
    let mut seed: [u8; 32] = db
        .query_row("SELECT seed FROM log_key WHERE id = 1", [], |r| {
            r.get::<_, Vec<u8>>(0)
        })
        .unwrap()
        .try_into()
        .unwrap();
    let key = SigningSecretKey::from_seed(&SecretBytes::from_array(&mut seed));
    let digest = RecordDigest::of(key.public_key().as_bytes());
    let origin = format!("lexvault/{}", &hex::encode(digest.0)[..16]);
    let signer = NoteSigner::new(&origin, key).unwrap();

    // One client pins the honest log; the other is shown a log of the same
    // size with another history.
    let mut state = LogState::default();
    log_sync(&s.victim, &mut state).unwrap();
    let got = s.attack(
        "/v1/log/checkpoint",
        move |a| {
            let mut answer: LogCheckpoint = api::decode(&a.body).unwrap();
            let note = std::str::from_utf8(&answer.checkpoint).unwrap();
            let size: u64 = note.lines().nth(1).unwrap().parse().unwrap();
            let forged = Checkpoint::new(&origin, size, [7u8; 32])
                .unwrap()
                .sign(&signer)
                .unwrap();
            answer.checkpoint = forged.into_bytes().into();
            a.body = api::encode(&answer);
        },
        || log_sync(&s.victim, &mut state),
    )?;
    match got {
        Err(e @ LogError::Fork { .. }) => Ok(e.to_string()),
        other => Err(format!("{other:?}")),
    }
}

fn events_path(s: &Scene) -> String {
    format!("/v1/matters/{}/events", hex_id(s.m1.id().as_bytes()))
}

/// The event list with one event re-attributed to the victim.
fn reattribute_event(s: &Scene) -> Played {
    assert!(!s.attorney.events(s.m1.id()).unwrap().is_empty(), "control");
    let victim = s.victim.identity().public().signing.to_bytes();
    let got = s.attack(
        &events_path(s),
        move |a| {
            let mut list: EventList = api::decode(&a.body).unwrap();
            let e = list
                .events
                .iter_mut()
                .find(|e| e.kind == "uploaded")
                .unwrap();
            e.actor = victim.into();
            a.body = api::encode(&list);
        },
        || s.attorney.events(s.m1.id()),
    )?;
    refused(got, "does not match its log entry")
}

/// A forged access entry: "the victim downloaded", with someone else's
/// request as its evidence.
fn forge_access_entry(s: &Scene) -> Played {
    s.attorney.events(s.m1.id()).expect("control");
    let victim = s.victim.identity().public().signing.to_bytes();
    let got = s.attack(
        &events_path(s),
        move |a| {
            let mut list: EventList = api::decode(&a.body).unwrap();
            let e = list
                .events
                .iter_mut()
                .find(|e| e.kind == "uploaded")
                .unwrap();
            let mut entry = LogEntry::from_bytes(&e.entry).unwrap();
            entry.kind = "downloaded".into();
            entry.actor = victim.into();
            e.kind = entry.kind.clone();
            e.actor = victim.into();
            e.entry = entry.to_bytes().into();
            a.body = api::encode(&list);
        },
        || s.attorney.events(s.m1.id()),
    )?;
    refused(got, "signed by someone else")
}

// ---------------------------------------------------------------------
// At rest: the server's own database and blob directory, edited

/// Sets `column` of the `table` row of `b`'s version 1 (for `recipient`,
/// on `stanzas`) to `value`, runs `call`, and puts the row back.
fn with_row_edited<T>(
    s: &Scene,
    table: &str,
    column: &str,
    value: &[u8],
    call: impl FnOnce() -> T,
) -> Result<T, String> {
    let db = rusqlite::Connection::open(s.firm.server.database()).unwrap();
    let victim = s.victim.identity().public().signing.to_bytes().to_vec();
    let filter = if table == "stanzas" {
        "document_id = ?1 AND version = 1 AND recipient = ?2"
    } else {
        "document_id = ?1 AND version = 1 AND ?2 IS NOT NULL"
    };
    let doc = s.b.as_bytes().to_vec();
    let old: Vec<u8> = db
        .query_row(
            &format!("SELECT {column} FROM {table} WHERE {filter}"),
            rusqlite::params![doc, victim],
            |r| r.get(0),
        )
        .unwrap();
    let set = |v: &[u8]| {
        db.execute(
            &format!("UPDATE {table} SET {column} = ?3 WHERE {filter}"),
            rusqlite::params![doc, victim, v],
        )
        .unwrap()
    };
    if set(value) != 1 {
        return Err("the row was not edited: the attack was not played".into());
    }
    let out = call();
    assert_eq!(set(&old), 1, "restored");
    Ok(out)
}

fn stored_metadata_swapped(s: &Scene) -> Played {
    let a = s.victim.document(&s.a).unwrap();
    let other = a.versions[1].1.metadata.to_vec();
    let got = with_row_edited(s, "versions", "metadata", &other, || {
        s.victim.open_latest(&s.b)
    })?;
    s.victim.open_latest(&s.b).expect("control, restored");
    refused(got, "metadata does not match the manifest")
}

fn stored_stanza_swapped(s: &Scene) -> Played {
    let a = s.victim.document(&s.a).unwrap();
    let other = a.versions[1].1.stanza.clone().unwrap().to_vec();
    let got = with_row_edited(s, "stanzas", "stanza", &other, || {
        s.victim.open_latest(&s.b)
    })?;
    s.victim.open_latest(&s.b).expect("control, restored");
    refused(got, "file key does not match the manifest's key commitment")
}

fn stored_blob_flipped(s: &Scene) -> Played {
    let db = rusqlite::Connection::open(s.firm.server.database()).unwrap();
    let name: String = db
        .query_row(
            "SELECT blob FROM versions WHERE document_id = ?1 AND version = 1",
            [s.b.as_bytes().to_vec()],
            |r| r.get(0),
        )
        .unwrap();
    let path = s.firm.server.data_dir().join("blobs").join(name);
    let original = std::fs::read(&path).unwrap();
    let opened = s.victim.open_latest(&s.b).unwrap();
    let (control, _, _) = fetch(&s.victim, &opened);
    assert_eq!(control.unwrap(), text(3, 5_000), "control");
    let mut flipped = original.clone();
    flipped[16 + 100] ^= 0x01;
    std::fs::write(&path, &flipped).unwrap();
    let got = fetch(&s.victim, &opened);
    std::fs::write(&path, &original).unwrap();
    refused_download(got, MISMATCH)
}

// ---------------------------------------------------------------------
// Links

fn link_terms() -> LinkTerms<'static> {
    LinkTerms {
        expires_at: now() + 3600,
        max_opens: None,
        passphrase: None,
        claim_once: false,
    }
}

fn link_wrong_key(s: &Scene) -> Played {
    let one = create_link(&s.attorney, s.m1.id(), &s.b, &link_terms()).unwrap();
    let two = create_link(&s.attorney, s.m1.id(), &s.a, &link_terms()).unwrap();
    let stranger = Client::new(&s.relay.url).unwrap();
    LinkOpener::new(&stranger, one.id, &one.fragment, None, None)
        .unwrap()
        .open()
        .unwrap();
    // The right id, another link's secret.
    let opener = LinkOpener::new(&stranger, one.id, &two.fragment, None, None).unwrap();
    match opener.open() {
        Err(LinkClientError::Unavailable) => Ok(LinkClientError::Unavailable.to_string()),
        Err(e) => Err(format!("{e:?}")),
        Ok(_) => Err("opened".into()),
    }
}

fn link_serves_other_content(s: &Scene) -> Played {
    let one = create_link(&s.attorney, s.m1.id(), &s.b, &link_terms()).unwrap();
    let two = create_link(&s.attorney, s.m1.id(), &s.a, &link_terms()).unwrap();
    let stranger = Client::new(&s.relay.url).unwrap();
    let open = |id: &lexvault_client::links::LinkId| format!("/v1/links/{}/open", id.to_hex());
    let other = s.capture(&open(&two.id), || {
        LinkOpener::new(&stranger, two.id, &two.fragment, None, None)
            .unwrap()
            .open()
            .unwrap();
    });
    let opener = LinkOpener::new(&stranger, one.id, &one.fragment, None, None).unwrap();
    opener.open().expect("control");
    let got = s.attack(
        &open(&one.id),
        move |a| a.body.clone_from(&other),
        || opener.open(),
    )?;
    match got {
        Err(LinkClientError::Client(ClientError::Verification(m)))
            if m.contains("not to this link's keys") =>
        {
            Ok(m)
        }
        Err(e) => Err(format!("{e:?}")),
        Ok(_) => Err("accepted".into()),
    }
}

// ---------------------------------------------------------------------

struct Attack {
    name: &'static str,
    /// The published attack family it is modelled on.
    models: &'static str,
    play: fn(&Scene) -> Played,
    /// Why the client does not detect it yet, for an open vulnerability.
    known_failure: Option<&'static str>,
}

const ATTACKS: &[Attack] = &[
    Attack {
        name: "payload bit flip",
        models: "MEGA 2022 ciphertext malleability; Nextcloud 2024 unauthenticated chunks",
        play: bit_flip,
        known_failure: None,
    },
    Attack {
        name: "payload chunk reorder",
        models: "Nextcloud 2024 / Seafile 2024 chunk reordering",
        play: chunk_reorder,
        known_failure: None,
    },
    Attack {
        name: "payload chunk drop",
        models: "Nextcloud 2024 / Seafile 2024 chunk removal",
        play: chunk_drop,
        known_failure: None,
    },
    Attack {
        name: "payload chunk duplicate",
        models: "Nextcloud 2024 chunk duplication",
        play: chunk_duplicate,
        known_failure: None,
    },
    Attack {
        name: "payload truncated at a chunk boundary",
        models: "STREAM truncation; Seafile/Icedrive 2024 truncation",
        play: truncate_at_boundary,
        known_failure: None,
    },
    Attack {
        name: "payload truncated inside a chunk",
        models: "STREAM truncation; Seafile/Icedrive 2024 truncation",
        play: truncate_mid_chunk,
        known_failure: None,
    },
    Attack {
        name: "payload extended after the last chunk",
        models: "STREAM extension; Nextcloud 2024 appended data",
        play: extend_after_last,
        known_failure: None,
    },
    Attack {
        name: "another version's payload under this manifest",
        models: "Sync/pCloud 2024 file replacement; MEGA 2023 ciphertext swap",
        play: other_versions_payload,
        known_failure: None,
    },
    Attack {
        name: "recipient key bundle substituted",
        models: "Sync/pCloud/Tresorit 2024 public-key substitution",
        play: substitute_bundle,
        known_failure: None,
    },
    Attack {
        name: "key bundle not self-signed",
        models: "Tresorit/Seafile 2024 unauthenticated public keys",
        play: bundle_not_self_signed,
        known_failure: None,
    },
    Attack {
        name: "outsider key certified as staff by itself",
        models: "Nextcloud 2024 / Tresorit 2024 injected member key",
        play: self_certified_staff_key,
        known_failure: None,
    },
    Attack {
        name: "wrapped file key of another document",
        models: "MEGA 2022 key overwriting; Sync 2024 key substitution",
        play: substitute_wrapped_key,
        known_failure: None,
    },
    Attack {
        name: "sealed key backup with downgraded Argon2id parameters",
        models: "MEGA 2023 / password-manager KDF downgrade by a hostile server",
        play: downgrade_backup_parameters,
        known_failure: None,
    },
    Attack {
        name: "sealed key backup corrupted",
        models: "MEGA 2022 key-blob tampering",
        play: corrupt_sealed_backup,
        known_failure: None,
    },
    Attack {
        name: "sealed key backup of another identity",
        models: "MEGA 2022 key recovery / key substitution at login",
        play: substitute_sealed_backup,
        known_failure: None,
    },
    Attack {
        name: "document moved to another matter",
        models: "Sync/pCloud/Seafile 2024 folder moving",
        play: move_to_other_matter,
        known_failure: None,
    },
    Attack {
        name: "document listed in another matter",
        models: "Sync/pCloud/Seafile 2024 file moving between folders",
        play: list_in_other_matter,
        known_failure: None,
    },
    Attack {
        name: "file names swapped between documents",
        models: "Icedrive/pCloud/Seafile 2024 unauthenticated metadata",
        play: swap_file_names,
        known_failure: None,
    },
    Attack {
        name: "manifest field altered (size, time)",
        models: "Sync/pCloud 2024 metadata tampering",
        play: alter_manifest_field,
        known_failure: None,
    },
    Attack {
        name: "grant forged by an outsider",
        models: "Tresorit 2024 / Nextcloud 2024 forged sharing",
        play: forge_grant,
        known_failure: None,
    },
    Attack {
        name: "seen version re-signed by an outsider (author changed)",
        models: "Sync/pCloud/Seafile 2024 unauthenticated authorship; MEGA 2023 forked history",
        play: resign_by_outsider,
        known_failure: None,
    },
    Attack {
        name: "document injected, signed by an outsider",
        models: "Sync/pCloud/Seafile/Icedrive 2024 file injection",
        play: inject_document,
        known_failure: None,
    },
    Attack {
        name: "document rolled back to an older version",
        models: "Seafile/Icedrive 2024 rollback; MEGA 2023 stale state",
        play: roll_back,
        known_failure: None,
    },
    Attack {
        name: "grant list replayed from before a revocation",
        models: "Tresorit/Nextcloud 2024 stale sharing state; MEGA 2023 rollback",
        play: replay_revoked_grant,
        known_failure: None,
    },
    Attack {
        name: "document served with its revocations stripped",
        models: "Tresorit/Nextcloud 2024 stale sharing state",
        play: strip_revocations,
        known_failure: None,
    },
    Attack {
        name: "own log entry omitted from the actor chain",
        models: "transparency-log omission (CONIKS/CT split view)",
        play: omit_own_entry,
        known_failure: None,
    },
    Attack {
        name: "log checkpoint rolled back",
        models: "transparency-log rollback (CT)",
        play: roll_back_checkpoint,
        known_failure: None,
    },
    Attack {
        name: "log forked between two clients",
        models: "transparency-log split view (CT gossip)",
        play: fork_log,
        known_failure: None,
    },
    Attack {
        name: "access event re-attributed",
        models: "forged audit trail",
        play: reattribute_event,
        known_failure: None,
    },
    Attack {
        name: "access entry forged",
        models: "forged audit trail",
        play: forge_access_entry,
        known_failure: None,
    },
    Attack {
        name: "stored metadata of another document (database edited)",
        models: "Icedrive/pCloud/Seafile 2024 unauthenticated metadata, at rest",
        play: stored_metadata_swapped,
        known_failure: None,
    },
    Attack {
        name: "stored wrapped key of another document (database edited)",
        models: "MEGA 2022 key overwriting, at rest",
        play: stored_stanza_swapped,
        known_failure: None,
    },
    Attack {
        name: "stored payload blob bit flip (blob file edited)",
        models: "Nextcloud 2024 / Seafile 2024 ciphertext tampering, at rest",
        play: stored_blob_flipped,
        known_failure: None,
    },
    Attack {
        name: "link opened with another link's key",
        models: "Bitwarden Send / share-link key confusion",
        play: link_wrong_key,
        known_failure: None,
    },
    Attack {
        name: "link answered with another link's content",
        models: "Sync 2024 shared-link content substitution",
        play: link_serves_other_content,
        known_failure: None,
    },
];

#[test]
fn every_hostile_server_attack_is_detected() {
    let scene = Scene::new();
    let (mut detected, mut missed, mut known) = (0, Vec::new(), Vec::new());
    for attack in ATTACKS {
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (attack.play)(&scene)))
                .unwrap_or_else(|_| Err("the attack's control or setup panicked".into()));
        scene.relay.honest();
        match (&outcome, attack.known_failure) {
            (Ok(refusal), None) => {
                detected += 1;
                println!("detected  {} [{}]: {refusal}", attack.name, attack.models);
            }
            (Err(why), Some(reason)) => {
                known.push(attack.name);
                println!(
                    "KNOWN     {} [{}]: {why}; open vulnerability: {reason}",
                    attack.name, attack.models
                );
            }
            (Ok(refusal), Some(_)) => {
                // Fixed: take it off the known failures.
                missed.push(attack.name);
                println!("FIXED?    {} [{}]: {refusal}", attack.name, attack.models);
            }
            (Err(why), None) => {
                missed.push(attack.name);
                println!("MISSED    {} [{}]: {why}", attack.name, attack.models);
            }
        }
    }
    println!(
        "{} attacks tried, {detected} detected ({} known failures: {known:?})",
        ATTACKS.len(),
        known.len()
    );
    assert!(missed.is_empty(), "not as expected: {missed:?}");
}
