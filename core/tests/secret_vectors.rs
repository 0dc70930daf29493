//! The project's own vectors for key backups and share links:
//! `spec/vectors/backup.json` and `spec/vectors/links.json`.
//!
//! Each test first regenerates its file from fixed seeds and requires it to
//! equal the committed file byte for byte (`LEXVAULT_WRITE_VECTORS=1`
//! rewrites it), then runs every case *from the committed file* through the
//! public API and checks the expected outcome. The positive vectors are also
//! recomputed here straight from the spec with the primitive crates, so a
//! bug shared by the code and its own vectors cannot hide.
//!
//! Argon2id is the slow part: the backup file costs one run per case that
//! reaches decryption (at the minimum parameters), the links file one per
//! passphrase derivation (at 64 MiB).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{AeadInOut as _, KeyInit as _};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use lexvault_core::backup::{Argon2Params, BackupError, SealedBackup};
use lexvault_core::keys::{EncryptionPublicKey, Identity};
use lexvault_core::link::{LinkError, LinkKeys, LinkSecret};
use lexvault_core::secret::SecretString;
use rand_core::Rng as _;
use serde_json::{Value, json};
use sha2::Sha256;
use support::{check_vector_file, hex, read_vector_file, seeded_rng, unhex};

// ---------------------------------------------------------------------------
// Minimal CBOR writer for hand-made (and deliberately broken) records.

fn head(major: u8, value: u64) -> Vec<u8> {
    let m = major << 5;
    match value {
        0..=23 => vec![m | value as u8],
        24..=0xff => vec![m | 24, value as u8],
        0x100..=0xffff => {
            let mut v = vec![m | 25];
            v.extend_from_slice(&(value as u16).to_be_bytes());
            v
        }
        0x1_0000..=0xffff_ffff => {
            let mut v = vec![m | 26];
            v.extend_from_slice(&(value as u32).to_be_bytes());
            v
        }
        _ => {
            let mut v = vec![m | 27];
            v.extend_from_slice(&value.to_be_bytes());
            v
        }
    }
}

fn uint(v: u64) -> Vec<u8> {
    head(0, v)
}

fn bstr(b: &[u8]) -> Vec<u8> {
    let mut v = head(2, b.len() as u64);
    v.extend_from_slice(b);
    v
}

/// A map with the given (already encoded) keys and values, in the order
/// given.
fn map(entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut v = head(5, entries.len() as u64);
    for (k, val) in entries {
        v.extend_from_slice(k);
        v.extend_from_slice(val);
    }
    v
}

// ---------------------------------------------------------------------------
// Key backup

const BACKUP_PASSWORD: &str = "pâté, Zürich & 1984";
/// The same text in Unicode NFD ("a" + U+0302, "e" + U+0301, "u" + U+0308).
const BACKUP_PASSWORD_NFD: &str = "pa\u{302}te\u{301}, Zu\u{308}rich & 1984";

/// The fields of a backup record, for building variants of it.
#[derive(Clone)]
struct Fields {
    version: u64,
    m: u64,
    t: u64,
    p: u64,
    salt: Vec<u8>,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
}

impl Fields {
    fn entries(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        vec![
            (uint(0), uint(self.version)),
            (uint(1), uint(self.m)),
            (uint(2), uint(self.t)),
            (uint(3), uint(self.p)),
            (uint(4), bstr(&self.salt)),
            (uint(5), bstr(&self.nonce)),
            (uint(6), bstr(&self.ciphertext)),
        ]
    }

    fn encode(&self) -> Vec<u8> {
        map(&self.entries())
    }

    fn header(&self) -> Vec<u8> {
        map(&self.entries()[..5])
    }
}

/// Seals the fixed identity straight from `spec/backup.md`, without the
/// `backup` module, and returns the record's fields and intermediate values.
fn seal_from_spec(identity: &Identity) -> (Fields, Value) {
    let mut rng = seeded_rng(2);
    let mut salt = [0u8; 16];
    rng.fill_bytes(&mut salt);
    let mut nonce = [0u8; 24];
    rng.fill_bytes(&mut nonce);
    let params = Argon2Params::MINIMUM;

    let argon = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(
            params.m_cost_kib(),
            params.t_cost(),
            params.p_cost(),
            Some(32),
        )
        .unwrap(),
    );
    let mut stretched = [0u8; 32];
    argon
        .hash_password_into(BACKUP_PASSWORD.as_bytes(), &salt, &mut stretched)
        .unwrap();
    let mut seal_key = [0u8; 32];
    Hkdf::<Sha256>::new(None, &stretched)
        .expand(b"lexvault/v1/backup-seal-key", &mut seal_key)
        .unwrap();

    let mut fields = Fields {
        version: 1,
        m: params.m_cost_kib().into(),
        t: params.t_cost().into(),
        p: params.p_cost().into(),
        salt: salt.to_vec(),
        nonce: nonce.to_vec(),
        ciphertext: Vec::new(),
    };
    let aad = fields.header();
    let mut keys = identity.signing_key().to_seed().expose_secret().to_vec();
    keys.extend_from_slice(identity.encryption_key().to_secret_bytes().expose_secret());
    let plaintext = keys.clone();
    let cipher = XChaCha20Poly1305::new_from_slice(&seal_key).unwrap();
    let tag = cipher
        .encrypt_inout_detached(&XNonce::from(nonce), &aad, keys.as_mut_slice().into())
        .unwrap();
    keys.extend_from_slice(&tag);
    fields.ciphertext = keys;

    let intermediates = json!({
        "plaintext": hex(&plaintext),
        "argon2id_output": hex(&stretched),
        "seal_key": hex(&seal_key),
        "associated_data": hex(&aad),
    });
    (fields, intermediates)
}

fn backup_error_name(e: BackupError) -> &'static str {
    match e {
        BackupError::Malformed => "malformed",
        BackupError::UnsupportedVersion => "unsupported version",
        BackupError::WeakParameters => "weak parameters",
        BackupError::ExcessiveParameters => "excessive parameters",
        BackupError::OutOfMemory => "out of memory",
        BackupError::PasswordTooLong => "password too long",
        BackupError::DecryptionFailed => "decryption failed",
        _ => "other",
    }
}

fn generate_backup_vectors() -> Value {
    let identity = Identity::generate(&mut seeded_rng(1));
    let public = identity.public();
    let password = SecretString::new(BACKUP_PASSWORD.into());
    let sealed = SealedBackup::seal(
        &identity,
        &password,
        Argon2Params::MINIMUM,
        &mut seeded_rng(2),
    )
    .unwrap();
    let blob = sealed.to_bytes();

    let (good, intermediates) = seal_from_spec(&identity);
    assert_eq!(
        hex(&good.encode()),
        hex(&blob),
        "the backup module and spec/backup.md disagree"
    );

    let mut cases: Vec<Value> = Vec::new();
    let mut case = |name: &str, blob: &[u8], password: &str, expect: &str| {
        cases.push(json!({
            "name": name,
            "blob": hex(blob),
            "password": password,
            "expect": expect,
        }));
    };
    let with = |f: &dyn Fn(&mut Fields)| {
        let mut fields = good.clone();
        f(&mut fields);
        fields.encode()
    };
    let pw = BACKUP_PASSWORD;

    case("the sealed backup opens", &blob, pw, "ok");

    // Wrong passwords: one Argon2id run each.
    case(
        "wrong password",
        &blob,
        "pâté, Zürich & 1985",
        "decryption failed",
    );
    case("empty password", &blob, "", "decryption failed");
    case(
        "same password in NFD: passwords are bytes, callers normalise to NFC",
        &blob,
        BACKUP_PASSWORD_NFD,
        "decryption failed",
    );

    // Tampering that parses: the AEAD (or the key derivation) must catch it.
    case(
        "ciphertext bit flipped",
        &with(&|f| f.ciphertext[0] ^= 0x01),
        pw,
        "decryption failed",
    );
    case(
        "tag bit flipped",
        &with(&|f| f.ciphertext[79] ^= 0x80),
        pw,
        "decryption failed",
    );
    case(
        "nonce bit flipped",
        &with(&|f| f.nonce[23] ^= 0x01),
        pw,
        "decryption failed",
    );
    case(
        "salt bit flipped",
        &with(&|f| f.salt[0] ^= 0x01),
        pw,
        "decryption failed",
    );
    case(
        "t_cost raised within limits (parameters are authenticated)",
        &with(&|f| f.t += 1),
        pw,
        "decryption failed",
    );
    case(
        "m_cost raised within limits (parameters are authenticated)",
        &with(&|f| f.m += 1024),
        pw,
        "decryption failed",
    );
    case(
        "key halves swapped",
        &with(&|f| {
            let (a, b) = f.ciphertext.split_at_mut(32);
            a.swap_with_slice(&mut b[..32]);
        }),
        pw,
        "decryption failed",
    );

    // Downgrades: refused before any key derivation.
    case(
        "m_cost one below the minimum",
        &with(&|f| f.m = 19455),
        pw,
        "weak parameters",
    );
    case(
        "m_cost at argon2's own minimum (8 KiB)",
        &with(&|f| f.m = 8),
        pw,
        "weak parameters",
    );
    case("t_cost 1", &with(&|f| f.t = 1), pw, "weak parameters");
    case("t_cost 0", &with(&|f| f.t = 0), pw, "weak parameters");
    case("p_cost 0", &with(&|f| f.p = 0), pw, "weak parameters");
    case(
        "m_cost below minimum and t_cost above maximum: weak wins",
        &with(&|f| {
            f.m = 1024;
            f.t = 100;
        }),
        pw,
        "weak parameters",
    );

    // Parameters a phone must not be made to run.
    case(
        "m_cost one above the maximum",
        &with(&|f| f.m = 262_145),
        pw,
        "excessive parameters",
    );
    case(
        "m_cost 4 GiB",
        &with(&|f| f.m = 4 * 1024 * 1024),
        pw,
        "excessive parameters",
    );
    case(
        "m_cost u32::MAX",
        &with(&|f| f.m = u64::from(u32::MAX)),
        pw,
        "excessive parameters",
    );
    case("t_cost 9", &with(&|f| f.t = 9), pw, "excessive parameters");
    case(
        "t_cost u32::MAX",
        &with(&|f| f.t = u64::from(u32::MAX)),
        pw,
        "excessive parameters",
    );
    case("p_cost 5", &with(&|f| f.p = 5), pw, "excessive parameters");

    // Versions.
    case(
        "version 2",
        &with(&|f| f.version = 2),
        pw,
        "unsupported version",
    );
    case(
        "version 0",
        &with(&|f| f.version = 0),
        pw,
        "unsupported version",
    );
    case(
        "version 2 with no other fields",
        &map(&[(uint(0), uint(2))]),
        pw,
        "unsupported version",
    );

    // Not the canonical encoding of a version-1 record.
    let mut entries = good.entries();
    let replace_value = |i: usize, bytes: Vec<u8>| {
        let mut e = good.entries();
        e[i].1 = bytes;
        map(&e)
    };
    case(
        "version as a two-byte integer",
        &replace_value(0, vec![0x18, 0x01]),
        pw,
        "malformed",
    );
    case(
        "m_cost as a four-byte integer",
        &replace_value(1, vec![0x1a, 0x00, 0x00, 0x4c, 0x00]),
        pw,
        "malformed",
    );
    case(
        "salt as an indefinite-length byte string",
        &replace_value(4, {
            let mut v = vec![0x5f];
            v.extend_from_slice(&bstr(&good.salt));
            v.push(0xff);
            v
        }),
        pw,
        "malformed",
    );
    case(
        "salt as a text string",
        &replace_value(4, {
            let mut v = head(3, 16);
            v.extend_from_slice(&[b'a'; 16]);
            v
        }),
        pw,
        "malformed",
    );
    case(
        "m_cost as a negative integer",
        &replace_value(1, head(1, 19455)),
        pw,
        "malformed",
    );
    case(
        "m_cost beyond 32 bits",
        &replace_value(1, uint(1 << 32)),
        pw,
        "malformed",
    );
    entries.swap(4, 5);
    case(
        "salt and nonce entries out of key order",
        &map(&entries),
        pw,
        "malformed",
    );
    let mut entries = good.entries();
    entries.push((uint(7), uint(0)));
    case("unknown key 7", &map(&entries), pw, "malformed");
    let mut entries = good.entries();
    entries.pop();
    case("ciphertext missing", &map(&entries), pw, "malformed");
    let mut entries = good.entries();
    entries.insert(1, (uint(1), uint(19456)));
    case("m_cost twice", &map(&entries), pw, "malformed");
    case(
        "indefinite-length map",
        &{
            let mut v = vec![0xbf];
            for (k, val) in good.entries() {
                v.extend_from_slice(&k);
                v.extend_from_slice(&val);
            }
            v.push(0xff);
            v
        },
        pw,
        "malformed",
    );
    case(
        "trailing byte",
        &{
            let mut v = blob.clone();
            v.push(0x00);
            v
        },
        pw,
        "malformed",
    );
    case(
        "truncated by one byte",
        &blob[..blob.len() - 1],
        pw,
        "malformed",
    );
    case(
        "salt 15 bytes",
        &with(&|f| {
            f.salt.pop();
        }),
        pw,
        "malformed",
    );
    case("salt 17 bytes", &with(&|f| f.salt.push(0)), pw, "malformed");
    case(
        "nonce 12 bytes (ChaCha20-Poly1305, not X)",
        &with(&|f| f.nonce.truncate(12)),
        pw,
        "malformed",
    );
    case(
        "ciphertext without its tag",
        &with(&|f| f.ciphertext.truncate(64)),
        pw,
        "malformed",
    );
    case(
        "ciphertext 79 bytes",
        &with(&|f| {
            f.ciphertext.pop();
        }),
        pw,
        "malformed",
    );
    case(
        "ciphertext 81 bytes",
        &with(&|f| f.ciphertext.push(0)),
        pw,
        "malformed",
    );
    case(
        "an array instead of a map",
        &{
            let mut v = head(4, 7);
            for (_, val) in good.entries() {
                v.extend_from_slice(&val);
            }
            v
        },
        pw,
        "malformed",
    );
    case("empty input", &[], pw, "malformed");
    case("empty map", &[0xa0], pw, "malformed");

    json!({
        "description": "lexvault key backups (spec/backup.md). Generated by core/tests/secret_vectors.rs; \
                        `blob` is the stored record, `expect` is `ok` or the error: malformed, \
                        unsupported version, weak parameters, excessive parameters, decryption failed.",
        "sealed": {
            "ed25519_seed": hex(identity.signing_key().to_seed().expose_secret()),
            "x25519_secret": hex(identity.encryption_key().to_secret_bytes().expose_secret()),
            "ed25519_public": hex(public.signing.as_bytes()),
            "x25519_public": hex(public.encryption.as_bytes()),
            "password": BACKUP_PASSWORD,
            "password_utf8": hex(BACKUP_PASSWORD.as_bytes()),
            "m_cost_kib": good.m,
            "t_cost": good.t,
            "p_cost": good.p,
            "salt": hex(&good.salt),
            "nonce": hex(&good.nonce),
            "intermediates": intermediates,
            "blob": hex(&blob),
        },
        "cases": cases,
    })
}

#[test]
fn backup_vectors() {
    check_vector_file("backup.json", &generate_backup_vectors());

    let file = read_vector_file("backup.json");
    let sealed = &file["sealed"];
    let cases = file["cases"].as_array().unwrap();
    let mut positive = 0;
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let blob = unhex(case["blob"].as_str().unwrap());
        let password = SecretString::new(case["password"].as_str().unwrap().to_owned());
        let expect = case["expect"].as_str().unwrap();
        let got = SealedBackup::from_bytes(&blob).and_then(|b| {
            assert_eq!(
                b.to_bytes(),
                blob,
                "{name}: a parsed record re-encodes exactly"
            );
            b.open(&password)
        });
        match got {
            Ok(identity) => {
                assert_eq!(expect, "ok", "{name}");
                positive += 1;
                let public = identity.public();
                assert_eq!(
                    hex(public.signing.as_bytes()),
                    sealed["ed25519_public"],
                    "{name}"
                );
                assert_eq!(
                    hex(public.encryption.as_bytes()),
                    sealed["x25519_public"],
                    "{name}"
                );
                assert_eq!(
                    hex(identity.signing_key().to_seed().expose_secret()),
                    sealed["ed25519_seed"],
                    "{name}"
                );
            }
            Err(e) => assert_eq!(backup_error_name(e), expect, "{name}"),
        }
    }
    assert_eq!(positive, 1);
    assert_eq!(
        cases.len(),
        48,
        "documented in spec/backup.md §Test vectors"
    );
}

// ---------------------------------------------------------------------------
// Share links

const LINK_PASSPHRASE: &str = "correct horse battery staple";

/// The link keys straight from `spec/links.md`, without the `link` module.
fn link_keys_from_spec(secret: &[u8; 32], passphrase: Option<&str>) -> Value {
    let salt_label = b"lexvault/v1/link";
    let mut ikm = secret.to_vec();
    let mut extra = json!({});
    if let Some(passphrase) = passphrase {
        let mut argon_salt = [0u8; 16];
        Hkdf::<Sha256>::new(Some(salt_label), secret)
            .expand(b"lexvault/v1/link-passphrase-salt", &mut argon_salt)
            .unwrap();
        let argon = argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            argon2::Params::new(65536, 3, 1, Some(32)).unwrap(),
        );
        let mut stretched = [0u8; 32];
        argon
            .hash_password_into(passphrase.as_bytes(), &argon_salt, &mut stretched)
            .unwrap();
        ikm.extend_from_slice(&stretched);
        extra = json!({
            "passphrase_salt": hex(&argon_salt),
            "argon2id_output": hex(&stretched),
        });
    }
    let hkdf = Hkdf::<Sha256>::new(Some(salt_label), &ikm);
    let mut seed = [0u8; 32];
    hkdf.expand(b"lexvault/v1/link-signing-key", &mut seed)
        .unwrap();
    let mut x = [0u8; 32];
    hkdf.expand(b"lexvault/v1/link-encryption-key", &mut x)
        .unwrap();
    let ed_public = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
    let x_public = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(x));
    let age = EncryptionPublicKey::from_bytes(x_public.as_bytes())
        .unwrap()
        .to_string();
    let mut out = json!({
        "ed25519_seed": hex(&seed),
        "x25519_secret": hex(&x),
        "ed25519_public": hex(ed_public.as_bytes()),
        "x25519_public": hex(x_public.as_bytes()),
        "age_recipient": age,
    });
    for (k, v) in extra.as_object().unwrap() {
        out[k] = v.clone();
    }
    out
}

fn link_keys_json(keys: &LinkKeys) -> Value {
    let public = keys.public();
    json!({
        "ed25519_seed": hex(keys.signing_key().to_seed().expose_secret()),
        "x25519_secret": hex(keys.encryption_key().to_secret_bytes().expose_secret()),
        "ed25519_public": hex(public.signing.as_bytes()),
        "x25519_public": hex(public.encryption.as_bytes()),
        "age_recipient": public.encryption.to_string(),
    })
}

fn link_error_name(e: LinkError) -> &'static str {
    match e {
        LinkError::MalformedFragment => "malformed fragment",
        LinkError::UnsupportedVersion => "unsupported version",
        LinkError::EmptyPassphrase => "empty passphrase",
        LinkError::PassphraseTooLong => "passphrase too long",
        LinkError::OutOfMemory => "out of memory",
        _ => "other",
    }
}

fn generate_link_vectors() -> Value {
    let mut derivations = Vec::new();
    let secrets: [(&str, [u8; 32]); 3] = [
        ("all-zero secret", [0u8; 32]),
        ("all-ones secret", [0xffu8; 32]),
        ("random secret", {
            let mut s = [0u8; 32];
            seeded_rng(3).fill_bytes(&mut s);
            s
        }),
    ];
    for (name, bytes) in &secrets {
        let fragment = format!("v1.{}", URL_SAFE_NO_PAD.encode(bytes));
        let secret = LinkSecret::from_fragment(&fragment).unwrap();
        assert_eq!(secret.to_fragment().expose_secret(), fragment);
        let keys = link_keys_json(&secret.derive_keys());
        let mut spec = link_keys_from_spec(bytes, None);
        assert_eq!(
            keys, spec,
            "{name}: the link module and spec/links.md disagree"
        );
        spec["name"] = json!(name);
        spec["secret"] = json!(hex(bytes));
        spec["fragment"] = json!(fragment);
        spec["passphrase"] = Value::Null;
        derivations.push(spec);
    }

    // `generate` draws the 32 bytes straight from the generator.
    let generated = LinkSecret::generate(&mut seeded_rng(3));
    assert_eq!(
        generated.to_fragment().expose_secret(),
        derivations[2]["fragment"].as_str().unwrap()
    );

    // One passphrase link (two Argon2id runs at 64 MiB: the module's, and
    // the spec's recomputation).
    let (_, bytes) = &secrets[2];
    let keys = generated
        .derive_keys_with_passphrase(&SecretString::new(LINK_PASSPHRASE.into()))
        .unwrap();
    let mut spec = link_keys_from_spec(bytes, Some(LINK_PASSPHRASE));
    let ours = link_keys_json(&keys);
    for (k, v) in ours.as_object().unwrap() {
        assert_eq!(
            &spec[k], v,
            "passphrase {k}: the link module and spec/links.md disagree"
        );
    }
    assert_ne!(spec["ed25519_public"], derivations[2]["ed25519_public"]);
    spec["name"] = json!("random secret with a passphrase");
    spec["secret"] = json!(hex(bytes));
    spec["fragment"] = derivations[2]["fragment"].clone();
    spec["passphrase"] = json!(LINK_PASSPHRASE);
    derivations.push(spec);

    let good = URL_SAFE_NO_PAD.encode(bytes);
    let good_fragment = format!("v1.{good}");
    let body = &good[..42];
    let last = good.chars().last().unwrap();
    // A character whose value differs from `last` only in the two bits
    // that 43 characters carry beyond 256.
    let stray = {
        const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let i = ALPHABET.find(last).unwrap();
        ALPHABET.chars().nth(i ^ 0b01).unwrap()
    };
    let mut fragments: Vec<Value> = Vec::new();
    let mut case = |name: &str, fragment: String, expect: &str| {
        let mut v = json!({ "name": name, "fragment": fragment, "expect": expect });
        if expect == "ok" {
            v["secret"] = json!(hex(bytes));
        }
        fragments.push(v);
    };
    case("canonical", good_fragment.clone(), "ok");
    case("padding", format!("{good_fragment}="), "malformed fragment");
    case(
        "double padding",
        format!("{good_fragment}=="),
        "malformed fragment",
    );
    case(
        "one character short",
        format!("v1.{body}"),
        "malformed fragment",
    );
    case(
        "one character long",
        format!("{good_fragment}A"),
        "malformed fragment",
    );
    case(
        "31 bytes",
        format!("v1.{}", URL_SAFE_NO_PAD.encode(&bytes[..31])),
        "malformed fragment",
    );
    case(
        "33 bytes",
        format!(
            "v1.{}",
            URL_SAFE_NO_PAD.encode([bytes.as_slice(), &[0xff]].concat())
        ),
        "malformed fragment",
    );
    case("no secret", "v1.".into(), "malformed fragment");
    case("empty", String::new(), "malformed fragment");
    case(
        "non-canonical trailing bits",
        format!("v1.{body}{stray}"),
        "malformed fragment",
    );
    case(
        "standard alphabet '+'",
        format!("v1.+{}", &good[1..]),
        "malformed fragment",
    );
    case(
        "standard alphabet '/'",
        format!("v1./{}", &good[1..]),
        "malformed fragment",
    );
    case(
        "leading '#'",
        format!("#{good_fragment}"),
        "malformed fragment",
    );
    case(
        "leading space",
        format!(" {good_fragment}"),
        "malformed fragment",
    );
    case(
        "trailing space",
        format!("{good_fragment} "),
        "malformed fragment",
    );
    case(
        "trailing newline",
        format!("{good_fragment}\n"),
        "malformed fragment",
    );
    case(
        "space inside",
        format!("v1.{} {}", &good[..20], &good[21..]),
        "malformed fragment",
    );
    case(
        "tab inside",
        format!("v1.{}\t{}", &good[..20], &good[21..]),
        "malformed fragment",
    );
    case(
        "percent-encoded dot",
        format!("v1%2E{good}"),
        "malformed fragment",
    );
    case(
        "NUL inside",
        format!("v1.{}\0{}", &good[..20], &good[21..]),
        "malformed fragment",
    );
    case(
        "non-ASCII character",
        format!("v1.{}é", &good[..41]),
        "malformed fragment",
    );
    case(
        "query-like suffix",
        format!("{good_fragment}&x=1"),
        "malformed fragment",
    );
    case(
        "second dot",
        format!("{good_fragment}.x"),
        "malformed fragment",
    );
    case("no dot", format!("v1{good}"), "malformed fragment");
    case("no version", format!(".{good}"), "malformed fragment");
    case("no 'v'", format!("1.{good}"), "malformed fragment");
    case("uppercase 'V'", format!("V1.{good}"), "malformed fragment");
    case(
        "version without digits",
        format!("v.{good}"),
        "malformed fragment",
    );
    case(
        "version with a letter",
        format!("v1a.{good}"),
        "malformed fragment",
    );
    case(
        "negative version",
        format!("v-1.{good}"),
        "malformed fragment",
    );
    case("version 2", format!("v2.{good}"), "unsupported version");
    case("version 0", format!("v0.{good}"), "unsupported version");
    case("version 10", format!("v10.{good}"), "unsupported version");
    case("version 01", format!("v01.{good}"), "unsupported version");
    case("version 2, any body", "v2.x".into(), "unsupported version");

    json!({
        "description": "lexvault share links (spec/links.md). Generated by core/tests/secret_vectors.rs. \
                        `derivations`: the keys derived from a secret, with and without a passphrase. \
                        `fragments`: URL fragments (without '#') and `ok` or the error: \
                        malformed fragment, unsupported version.",
        "derivations": derivations,
        "fragments": fragments,
    })
}

#[test]
fn link_vectors() {
    check_vector_file("links.json", &generate_link_vectors());

    let file = read_vector_file("links.json");
    let derivations = file["derivations"].as_array().unwrap();
    for d in derivations {
        let name = d["name"].as_str().unwrap();
        let secret = LinkSecret::from_fragment(d["fragment"].as_str().unwrap()).unwrap();
        let keys = match d["passphrase"].as_str() {
            None => secret.derive_keys(),
            Some(p) => secret
                .derive_keys_with_passphrase(&SecretString::new(p.into()))
                .unwrap(),
        };
        let got = link_keys_json(&keys);
        for (k, v) in got.as_object().unwrap() {
            assert_eq!(&d[k], v, "{name}: {k}");
        }
    }
    assert_eq!(derivations.len(), 4);

    let fragments = file["fragments"].as_array().unwrap();
    for case in fragments {
        let name = case["name"].as_str().unwrap();
        let fragment = case["fragment"].as_str().unwrap();
        match LinkSecret::from_fragment(fragment) {
            Ok(secret) => {
                assert_eq!(case["expect"], "ok", "{name}");
                assert_eq!(secret.to_fragment().expose_secret(), fragment, "{name}");
                let decoded = URL_SAFE_NO_PAD.decode(&fragment[3..]).unwrap();
                assert_eq!(case["secret"], hex(&decoded), "{name}");
            }
            Err(e) => {
                assert_eq!(link_error_name(e), case["expect"], "{name}");
                // Errors and Debug never echo the input.
                if fragment.len() > 8 {
                    assert!(!e.to_string().contains(&fragment[3..8]), "{name}");
                    assert!(!format!("{e:?}").contains(&fragment[3..8]), "{name}");
                }
            }
        }
    }
    assert_eq!(
        fragments.len(),
        35,
        "documented in spec/links.md §Test vectors"
    );
}

#[test]
fn empty_passphrase_is_refused() {
    let secret = LinkSecret::generate(&mut seeded_rng(3));
    assert_eq!(
        secret
            .derive_keys_with_passphrase(&SecretString::new(String::new()))
            .err(),
        Some(LinkError::EmptyPassphrase)
    );
}
