//! The zero-knowledge promise, checked on the bytes the server leaves on
//! disk (spec: `spec/README.md` §Threat model): after a document's whole
//! life — uploads with shares, grants, downloads, a revocation, a second
//! version — neither the SQLite database (with its WAL and shared-memory
//! files) nor the blob directory holds any plaintext, file name, MIME
//! type, file key or secret key, in raw, hex or base64 form.
//!
//! The scan is shown to be able to fail: it finds what the server does keep
//! (public keys, signed manifests, ciphertext), and a planted canary.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::Cursor;
use std::path::Path;

use lexvault_client::vault::{OpenedVersion, Share, Vault, decrypt_payload, hex_id};
use lexvault_core::grant::{Rights, Scope, Validity};
use lexvault_core::manifest::DocumentId;
use lexvault_core::membership::Role;
use lexvault_tests::{Firm, files_under};

// ---------------------------------------------------------------------------
// Encodings the server might have used to store a secret.

fn base64(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..4 {
            if i < chars {
                out.push(char::from(alphabet[((n >> (18 - 6 * i)) & 63) as usize]));
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A secret in every form we look for: raw, hex (both cases), base64
/// (standard and URL-safe, padded and not).
fn encoded_forms(bytes: &[u8]) -> Vec<Vec<u8>> {
    let hex = hex_id(bytes);
    let mut forms = vec![
        bytes.to_vec(),
        hex.clone().into_bytes(),
        hex.to_uppercase().into_bytes(),
    ];
    for alphabet in [STANDARD, URL_SAFE] {
        for pad in [true, false] {
            forms.push(base64(bytes, alphabet, pad).into_bytes());
        }
    }
    forms.sort();
    forms.dedup();
    forms
}

// ---------------------------------------------------------------------------
// The scan.

/// A named thing that must never be on disk, in the forms it might take.
struct Needle {
    what: String,
    forms: Vec<Vec<u8>>,
}

fn secret(what: impl Into<String>, bytes: &[u8]) -> Needle {
    Needle {
        what: what.into(),
        forms: encoded_forms(bytes),
    }
}

fn text(what: impl Into<String>, s: &str) -> Needle {
    Needle {
        what: what.into(),
        forms: vec![s.as_bytes().to_vec()],
    }
}

/// Every (file, needle) pair where a form of the needle occurs in the file.
fn scan(dir: &Path, needles: &[Needle]) -> Vec<String> {
    let mut hits = Vec::new();
    for file in files_under(dir) {
        let bytes = std::fs::read(&file).unwrap();
        for needle in needles {
            if needle
                .forms
                .iter()
                .any(|f| lexvault_tests::contains_bytes(&bytes, f))
            {
                hits.push(format!("{} in {}", needle.what, file.display()));
            }
        }
    }
    hits
}

// ---------------------------------------------------------------------------
// The scenario's known secrets.

fn random_tag() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).unwrap();
    hex_id(&bytes)
}

/// A recognisable document of `len` bytes: every line names `tag`.
fn privileged_text(tag: &str, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 128);
    let mut clause = 0u32;
    while out.len() < len {
        out.extend_from_slice(
            format!(
                "PRIVILEGED-SETTLEMENT-TERMS-{tag} clause {clause}: the respondent pays the \
                 petitioner on the terms agreed without prejudice.\n"
            )
            .as_bytes(),
        );
        clause += 1;
    }
    out.truncate(len);
    out
}

/// 48-byte windows of a plaintext at several offsets, and its marker.
fn plaintext_needles(name: &str, tag: &str, plaintext: &[u8]) -> Vec<Needle> {
    const WINDOW: usize = 48;
    let len = plaintext.len();
    let mut out = vec![text(
        format!("{name} marker"),
        &format!("PRIVILEGED-SETTLEMENT-TERMS-{tag}"),
    )];
    for offset in [0, len / 4, len / 2, 3 * len / 4, len - WINDOW] {
        out.push(Needle {
            what: format!("{name} plaintext at {offset}"),
            forms: vec![plaintext[offset..offset + WINDOW].to_vec()],
        });
    }
    out
}

fn identity_needles(name: &str, vault: &Vault) -> Vec<Needle> {
    let me = vault.identity();
    let age_identity = me.encryption_key().to_age_identity();
    vec![
        secret(
            format!("{name}'s signing seed"),
            me.signing_key().to_seed().expose_secret(),
        ),
        secret(
            format!("{name}'s encryption secret"),
            me.encryption_key().to_secret_bytes().expose_secret(),
        ),
        text(
            format!("{name}'s age identity"),
            age_identity.expose_secret(),
        ),
        text(
            format!("{name}'s age identity (lower case)"),
            &age_identity.expose_secret().to_lowercase(),
        ),
    ]
}

fn file_key_needle(what: &str, opened: &OpenedVersion) -> Needle {
    secret(format!("{what} file key"), opened.file_key.expose_secret())
}

fn download(vault: &Vault, id: &DocumentId) -> (OpenedVersion, Vec<u8>, Vec<u8>) {
    let opened = vault.open_latest(id).unwrap();
    let mut payload = tempfile::tempfile().unwrap();
    vault
        .fetch_payload(&opened, &mut payload, &mut |_| {})
        .unwrap();
    let mut ciphertext = Vec::new();
    std::io::Read::read_to_end(&mut payload, &mut ciphertext).unwrap();
    let mut out = Vec::new();
    decrypt_payload(&opened, Cursor::new(&ciphertext), &mut out).unwrap();
    (opened, out, ciphertext)
}

#[test]
fn nothing_secret_reaches_the_servers_disk() {
    let firm = Firm::new();
    let attorney = firm.member("Ada Attorney", Role::Attorney);
    let client = firm.person("Carla Client");
    let matter = attorney.create_matter().unwrap();

    let mut needles = Vec::new();
    let mut must_find = Vec::new();

    // Document A, shared with the client at upload; two STREAM chunks and
    // a bit.
    let tag_a = random_tag();
    let text_a = privileged_text(&tag_a, 150_000);
    let name_a = format!("Smith v Smith draft settlement {tag_a}.pdf");
    let mime_a = "application/pdf";
    let (doc_a, _) = attorney
        .put(
            matter.id(),
            None,
            &name_a,
            mime_a,
            || Ok(Cursor::new(text_a.clone())),
            &[Share {
                with: client.identity().public(),
                rights: Rights::VIEW | Rights::DOWNLOAD,
                validity: Validity::starting(0),
            }],
            &mut |_| {},
        )
        .unwrap();

    // Document B, not shared at upload; granted later, then revoked.
    let tag_b = random_tag();
    let text_b = privileged_text(&tag_b, 9_000);
    let name_b = format!("Jones estate privileged memo {tag_b}.docx");
    let mime_b = format!("application/x-lexvault-test-{tag_b}");
    let (doc_b, _) = attorney
        .put(
            matter.id(),
            None,
            &name_b,
            &mime_b,
            || Ok(Cursor::new(text_b.clone())),
            &[],
            &mut |_| {},
        )
        .unwrap();
    let grant_b = attorney
        .grant(
            matter.id(),
            Scope::Document(doc_b),
            &client.identity().public(),
            Rights::VIEW | Rights::DOWNLOAD,
            Validity::starting(0),
        )
        .unwrap();

    // Both parties download and decrypt what was uploaded.
    let (opened_a1, plain, cipher_a1) = download(&client, &doc_a);
    assert_eq!(plain, text_a);
    assert_eq!(opened_a1.metadata.file_name(), name_a);
    assert_eq!(opened_a1.metadata.mime_type(), mime_a);
    let (opened_b, plain, cipher_b) = download(&client, &doc_b);
    assert_eq!(plain, text_b);
    assert_eq!(opened_b.metadata.mime_type(), mime_b);
    let (attorney_a1, plain, _) = download(&attorney, &doc_a);
    assert_eq!(plain, text_a);
    assert_eq!(
        attorney_a1.file_key.expose_secret(),
        opened_a1.file_key.expose_secret()
    );

    attorney.revoke(matter.id(), &grant_b.digest()).unwrap();
    assert_eq!(
        client.open_latest(&doc_b).unwrap_err().code(),
        Some("not-found")
    );

    // A second version of A reaches the client through the grant at upload.
    let tag_a2 = random_tag();
    let text_a2 = privileged_text(&tag_a2, 70_000);
    let name_a2 = format!("Smith v Smith signed settlement {tag_a2}.pdf");
    attorney
        .put(
            matter.id(),
            Some(doc_a),
            &name_a2,
            mime_a,
            || Ok(Cursor::new(text_a2.clone())),
            &[],
            &mut |_| {},
        )
        .unwrap();
    let (opened_a2, plain, cipher_a2) = download(&client, &doc_a);
    assert_eq!(plain, text_a2);
    assert_eq!(opened_a2.metadata.file_name(), name_a2);
    assert_ne!(
        opened_a2.file_key.expose_secret(),
        opened_a1.file_key.expose_secret()
    );

    for (name, tag, plaintext) in [
        ("document A v1", &tag_a, &text_a),
        ("document B", &tag_b, &text_b),
        ("document A v2", &tag_a2, &text_a2),
    ] {
        needles.extend(plaintext_needles(name, tag, plaintext));
    }
    needles.push(text("file name A v1", &name_a));
    needles.push(text("file name B", &name_b));
    needles.push(text("file name A v2", &name_a2));
    // Distinctive parts too, in case a name were stored cut or re-cased.
    needles.push(text("file name stem", "Smith v Smith"));
    needles.push(text("file name stem", "Jones estate privileged memo"));
    needles.push(text("MIME type", mime_a));
    needles.push(text("MIME type", &mime_b));
    needles.push(file_key_needle("document A v1", &opened_a1));
    needles.push(file_key_needle("document A v2", &opened_a2));
    needles.push(file_key_needle("document B", &opened_b));
    needles.extend(identity_needles("the administrator", &firm.admin));
    needles.extend(identity_needles("the attorney", &attorney));
    needles.extend(identity_needles("the client", &client));

    // What the server must keep: public keys, signed manifests, ciphertext.
    must_find.push(Needle {
        what: "the attorney's public signing key".into(),
        forms: vec![attorney.identity().public().signing.to_bytes().to_vec()],
    });
    must_find.push(Needle {
        what: "the client's public encryption key".into(),
        forms: vec![client.identity().public().encryption.to_bytes().to_vec()],
    });
    for (what, opened) in [
        ("manifest A v1", &opened_a1),
        ("manifest A v2", &opened_a2),
        ("manifest B", &opened_b),
    ] {
        must_find.push(Needle {
            what: what.into(),
            forms: vec![opened.manifest.as_bytes().to_vec()],
        });
    }
    for (what, cipher) in [
        ("ciphertext A v1", &cipher_a1),
        ("ciphertext A v2", &cipher_a2),
        ("ciphertext B", &cipher_b),
    ] {
        let mid = cipher.len() / 2;
        must_find.push(Needle {
            what: what.into(),
            forms: vec![cipher[mid..mid + 48].to_vec()],
        });
    }

    // While the server runs (the WAL holds the recent writes)…
    let hits = scan(firm.server.data_dir(), &needles);
    assert!(hits.is_empty(), "secrets on disk while running: {hits:#?}");

    // …and after it stopped.
    let Firm { server, admin } = firm;
    drop(admin);
    let data = server.stop();
    let dir = data.path();
    let files = files_under(dir);
    assert!(
        files.iter().any(|f| f.ends_with("lexvault.sqlite3")),
        "{files:?}"
    );
    let blobs = files
        .iter()
        .filter(|f| f.parent() == Some(dir.join("blobs").as_path()))
        .count();
    assert_eq!(blobs, 3, "one blob per version: {files:?}");
    let hits = scan(dir, &needles);
    assert!(hits.is_empty(), "secrets on disk after stop: {hits:#?}");

    // The scan is able to fail: everything that must be stored is found…
    for needle in &must_find {
        assert!(
            !scan(dir, std::slice::from_ref(needle)).is_empty(),
            "{} should be stored",
            needle.what
        );
    }
    // …and a planted copy of any secret, in any encoding, is caught.
    let key = opened_a1.file_key.expose_secret();
    for (i, form) in encoded_forms(key).iter().enumerate() {
        let canary = dir.join(format!("canary-{i}"));
        let mut bytes = b"some unrelated prefix ".to_vec();
        bytes.extend_from_slice(form);
        bytes.extend_from_slice(b" and suffix");
        std::fs::write(&canary, bytes).unwrap();
        let hits = scan(dir, &needles);
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert!(hits[0].starts_with("document A v1 file key"), "{hits:?}");
        std::fs::remove_file(canary).unwrap();
    }
    let canary = dir.join("canary-text");
    std::fs::write(&canary, &text_b[2200..2400]).unwrap();
    assert!(!scan(dir, &needles).is_empty());
}
