//! Vectors for the signed CBOR records (spec: `spec/identity.md`,
//! `spec/documents.md`, `spec/grants.md`).
//!
//! `generated_vectors_match_the_committed_files` rebuilds three files from
//! fixed seeds and requires them to equal `spec/vectors/` byte for byte:
//!
//! - `records.json`: one valid instance of every record, with the inputs
//!   that produced it and its decoded fields;
//! - `records-invalid.json`: records and sealed metadata that must be
//!   rejected, each with the error `lexvault-core` names;
//! - `records-grant-chains.json`: grant chains and revocations, with the
//!   expected verdict at a given time.
//!
//! `committed_vectors_hold` then reads the committed files — not the
//! generator — and checks every claim in them against the library.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::collections::BTreeMap;

use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce};
use hkdf::Hkdf;
use lexvault_core::domain::{self, SignatureContext};
use lexvault_core::grant::{
    self, Grant, GrantId, GrantTerms, Revocation, Rights, Scope, StanzaDigest, Validity,
    WrappedKeyBinding,
};
use lexvault_core::key_bundle::{self, KeyBundle, VerifiedKeyBundle};
use lexvault_core::keys::{Identity, SigningSecretKey};
use lexvault_core::manifest::{
    self, DocumentId, KeyCommitment, Manifest, ManifestTerms, PayloadDigest, VersionNumber,
};
use lexvault_core::matter::{self, Matter, MatterId, VerifiedMatter};
use lexvault_core::metadata::{Metadata, MetadataBinding, SealedMetadata, plaintext_digest};
use lexvault_core::secret::FileKey;
use lexvault_core::signed::{Record, RecordDigest, Signed};
use minicbor::{Decoder, Encoder};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use support::{check_vector_file, hex, read_vector_file, seeded_rng, unhex};

/// 2026-01-01T00:00:00Z.
const T0: u64 = 1_767_225_600;
const DAY: u64 = 86_400;

const RECORDS: &str = "records.json";
const INVALID: &str = "records-invalid.json";
const CHAINS: &str = "records-grant-chains.json";

// ---------------------------------------------------------------------------
// Raw CBOR, for building bodies the library would never write.

fn cbor(f: impl FnOnce(&mut Encoder<&mut Vec<u8>>)) -> Vec<u8> {
    let mut out = Vec::new();
    f(&mut Encoder::new(&mut out));
    out
}

fn uint(n: u64) -> Vec<u8> {
    cbor(|e| {
        e.u64(n).unwrap();
    })
}

fn bstr(b: &[u8]) -> Vec<u8> {
    cbor(|e| {
        e.bytes(b).unwrap();
    })
}

fn tstr(s: &str) -> Vec<u8> {
    cbor(|e| {
        e.str(s).unwrap();
    })
}

type Entries = Vec<(u64, Vec<u8>)>;

/// A map's entries, each value as its raw encoded bytes.
fn split_map(body: &[u8]) -> Entries {
    let mut d = Decoder::new(body);
    let n = d.map().unwrap().unwrap();
    (0..n)
        .map(|_| {
            let k = d.u64().unwrap();
            let start = d.position();
            d.skip().unwrap();
            (k, body[start..d.position()].to_vec())
        })
        .collect()
}

fn join_map(entries: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut out = cbor(|e| {
        e.map(entries.len() as u64).unwrap();
    });
    for (k, v) in entries {
        out.extend(uint(*k));
        out.extend(v);
    }
    out
}

/// `body` with the value at `key` replaced (or inserted in key order).
fn set(body: &[u8], key: u64, value: Vec<u8>) -> Vec<u8> {
    let mut entries = split_map(body);
    match entries.iter_mut().find(|(k, _)| *k == key) {
        Some(entry) => entry.1 = value,
        None => {
            entries.push((key, value));
            entries.sort_by_key(|(k, _)| *k);
        }
    }
    join_map(&entries)
}

fn remove(body: &[u8], key: u64) -> Vec<u8> {
    let mut entries = split_map(body);
    entries.retain(|(k, _)| *k != key);
    join_map(&entries)
}

fn envelope(signer: &[u8], body: &[u8], sig: &[u8]) -> Vec<u8> {
    let mut out = cbor(|e| {
        e.array(3).unwrap();
    });
    out.extend(bstr(signer));
    out.extend(bstr(body));
    out.extend(bstr(sig));
    out
}

fn open_envelope(bytes: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let mut d = Decoder::new(bytes);
    assert_eq!(d.array().unwrap(), Some(3));
    let signer = d.bytes().unwrap().to_vec();
    let body = d.bytes().unwrap().to_vec();
    let sig = d.bytes().unwrap().to_vec();
    (signer, body, sig)
}

/// Signs `body` as given — canonical or not — and wraps it in an envelope.
fn sign_body(key: &SigningSecretKey, context: SignatureContext, body: &[u8]) -> Vec<u8> {
    envelope(key.public_key().as_bytes(), body, &key.sign(context, body))
}

/// The Ed25519 identity point, and an X25519 point of order 1: both small.
const SMALL_ORDER_POINT: [u8; 32] = {
    let mut p = [0u8; 32];
    p[0] = 1;
    p
};

/// The variant name of an error, without the wrappers that say which layer
/// reported it: `Record(Body(NotCanonical))` → `NotCanonical`.
fn error_name(e: &impl std::fmt::Debug) -> String {
    let mut s = format!("{e:?}");
    while let Some(rest) = ["Record(", "Body(", "Invalid(", "Codec("]
        .iter()
        .find_map(|w| s.strip_prefix(w))
    {
        s = rest.to_owned();
    }
    s.split(['(', ')']).next().unwrap_or_default().to_owned()
}

// ---------------------------------------------------------------------------
// The fixture: every record, from fixed seeds.

struct Person {
    name: &'static str,
    seed: u8,
    identity: Identity,
}

fn person(name: &'static str, seed: u8) -> Person {
    Person {
        name,
        seed,
        identity: Identity::generate(&mut seeded_rng(seed)),
    }
}

fn file_key(seed: u8) -> FileKey {
    FileKey::generate(&mut seeded_rng(seed))
}

/// Stand-in for a stored age payload (the age module produces real ones):
/// 16 nonce bytes, then bytes 0, 1, 2, … 255, 0, 1, … for 1024 bytes.
fn payload() -> Vec<u8> {
    let mut p = vec![0xa5u8; 16];
    p.extend((0..1024u32).map(|i| i as u8));
    p
}

/// Stand-in for an age X25519 stanza's canonical text.
const STANZA_TEXT: &[u8] = b"-> X25519 stand-in\nstanza body\n";

struct Fixture {
    creator: Person,
    alice: Person,
    bob: Person,
    mallory: Person,
    key_bundle: VerifiedKeyBundle,
    matter: VerifiedMatter,
    other_matter: VerifiedMatter,
    document_id: DocumentId,
    binding: MetadataBinding,
    metadata: Metadata,
    sealed: SealedMetadata,
    manifest_v1: Signed<Manifest>,
    manifest_v2: Signed<Manifest>,
    grant_root: Signed<Grant>,
    grant_leaf: Signed<Grant>,
    revocation: Signed<Revocation>,
}

const FILE_KEY_V1_SEED: u8 = 12;
const FILE_KEY_V2_SEED: u8 = 13;

fn fixture() -> Fixture {
    let creator = person("creator", 1);
    let alice = person("alice", 2);
    let bob = person("bob", 3);
    let mallory = person("mallory", 4);

    let key_bundle =
        KeyBundle::create(&alice.identity, "Alice Martin (Martin & Rao LLP)", T0).unwrap();
    let matter = Matter::create(&mut seeded_rng(10), creator.identity.signing_key(), T0);
    let other_matter = Matter::create(&mut seeded_rng(20), creator.identity.signing_key(), T0);
    let document_id = DocumentId::generate(&mut seeded_rng(11));

    let binding = MetadataBinding {
        matter_id: *matter.id(),
        document_id,
        version: VersionNumber::FIRST,
    };
    let plaintext = b"stand-in plaintext";
    let metadata = Metadata::new(
        "Settlement agreement – draft 3.pdf",
        "application/pdf",
        plaintext.len() as u64,
        plaintext_digest(plaintext),
    )
    .unwrap();
    let sealed = metadata.seal(&file_key(FILE_KEY_V1_SEED), &binding);

    let v1_terms = ManifestTerms {
        matter_id: *matter.id(),
        document_id,
        version: VersionNumber::FIRST,
        previous: None,
        payload_digest: PayloadDigest::of(&payload()),
        payload_len: payload().len() as u64,
        key_commitment: KeyCommitment::derive(&file_key(FILE_KEY_V1_SEED)),
        metadata_digest: sealed.digest(),
        created_at: T0 + 60,
    };
    let manifest_v1 = Signed::sign(
        Manifest::new(v1_terms.clone()).unwrap(),
        alice.identity.signing_key(),
    );
    let manifest_v2 = Signed::sign(
        Manifest::new(ManifestTerms {
            version: VersionNumber::new(2).unwrap(),
            previous: Some(manifest_v1.digest()),
            key_commitment: KeyCommitment::derive(&file_key(FILE_KEY_V2_SEED)),
            created_at: T0 + DAY,
            ..v1_terms
        })
        .unwrap(),
        alice.identity.signing_key(),
    );

    let grant_root = Signed::sign(
        Grant::new(GrantTerms {
            grant_id: GrantId::generate(&mut seeded_rng(30)),
            matter_id: *matter.id(),
            scope: Scope::Matter,
            grantee: alice.identity.public(),
            rights: Rights::VIEW | Rights::DOWNLOAD | Rights::SHARE,
            validity: Validity::new(T0, Some(T0 + 365 * DAY)).unwrap(),
            wrapped_key: None,
            parent: None,
            issued_at: T0,
        })
        .unwrap(),
        creator.identity.signing_key(),
    );
    let grant_leaf = Signed::sign(
        Grant::new(leaf_terms(&matter, &grant_root, document_id, &bob, 31)).unwrap(),
        alice.identity.signing_key(),
    );
    let revocation = Signed::sign(
        Revocation::new(*matter.id(), grant_leaf.digest(), T0 + 10 * DAY),
        alice.identity.signing_key(),
    );

    Fixture {
        creator,
        alice,
        bob,
        mallory,
        key_bundle,
        matter,
        other_matter,
        document_id,
        binding,
        metadata,
        sealed,
        manifest_v1,
        manifest_v2,
        grant_root,
        grant_leaf,
        revocation,
    }
}

/// alice → `grantee`: view one document for [T0 + 1 day, T0 + 30 days),
/// carrying the stanza for version 1.
fn leaf_terms(
    matter: &VerifiedMatter,
    parent: &Signed<Grant>,
    document_id: DocumentId,
    grantee: &Person,
    id_seed: u8,
) -> GrantTerms {
    GrantTerms {
        grant_id: GrantId::generate(&mut seeded_rng(id_seed)),
        matter_id: *matter.id(),
        scope: Scope::Document(document_id),
        grantee: grantee.identity.public(),
        rights: Rights::VIEW,
        validity: Validity::new(T0 + DAY, Some(T0 + 30 * DAY)).unwrap(),
        wrapped_key: Some(WrappedKeyBinding {
            version: VersionNumber::FIRST,
            stanza_digest: StanzaDigest(Sha256::digest(STANZA_TEXT).into()),
        }),
        parent: Some(parent.digest()),
        issued_at: T0 + DAY,
    }
}

// ---------------------------------------------------------------------------
// Field views, for the vectors and for checking them.

fn hex_opt(b: Option<&[u8]>) -> Value {
    b.map_or(Value::Null, |b| Value::String(hex(b)))
}

fn key_bundle_fields(b: &KeyBundle) -> Value {
    json!({
        "ed25519": hex(b.identity().signing.as_bytes()),
        "x25519": hex(b.identity().encryption.as_bytes()),
        "age_recipient": b.identity().encryption.to_string(),
        "display_name": b.display_name(),
        "created_at": b.created_at(),
        "fingerprint": b.identity().fingerprint().to_string(),
    })
}

fn matter_fields(m: &Matter) -> Value {
    json!({
        "matter_id": hex(m.id().as_bytes()),
        "creator": hex(m.creator().as_bytes()),
        "created_at": m.created_at(),
    })
}

fn manifest_fields(m: &Manifest) -> Value {
    let t = m.terms();
    json!({
        "matter_id": hex(t.matter_id.as_bytes()),
        "document_id": hex(t.document_id.as_bytes()),
        "version": t.version.get(),
        "previous": hex_opt(t.previous.as_ref().map(|d| &d.0[..])),
        "payload_digest": hex(&t.payload_digest.0),
        "payload_len": t.payload_len,
        "key_commitment": hex(t.key_commitment.as_bytes()),
        "metadata_digest": hex(&t.metadata_digest.0),
        "created_at": t.created_at,
    })
}

fn grant_fields(g: &Grant) -> Value {
    let t = g.terms();
    json!({
        "grant_id": hex(t.grant_id.as_bytes()),
        "matter_id": hex(t.matter_id.as_bytes()),
        "document_id": match t.scope {
            Scope::Matter => Value::Null,
            Scope::Document(d) => Value::String(hex(d.as_bytes())),
        },
        "grantee_ed25519": hex(t.grantee.signing.as_bytes()),
        "grantee_x25519": hex(t.grantee.encryption.as_bytes()),
        "rights": t.rights.names().collect::<Vec<_>>(),
        "rights_bits": t.rights.bits(),
        "not_before": t.validity.not_before(),
        "not_after": t.validity.not_after(),
        "wrapped_key": t.wrapped_key.map(|k| json!({
            "version": k.version.get(),
            "stanza_digest": hex(&k.stanza_digest.0),
        })),
        "parent": hex_opt(t.parent.as_ref().map(|d| &d.0[..])),
        "issued_at": t.issued_at,
    })
}

fn revocation_fields(r: &Revocation) -> Value {
    json!({
        "matter_id": hex(r.matter_id().as_bytes()),
        "revoked": hex(&r.revoked().0),
        "revoked_at": r.revoked_at(),
    })
}

fn metadata_fields(m: &Metadata) -> Value {
    json!({
        "file_name": m.file_name(),
        "mime_type": m.mime_type(),
        "size": m.size(),
        "plaintext_digest": hex(m.plaintext_digest()),
    })
}

fn binding_json(b: &MetadataBinding) -> Value {
    json!({
        "matter_id": hex(b.matter_id.as_bytes()),
        "document_id": hex(b.document_id.as_bytes()),
        "version": b.version.get(),
    })
}

fn binding_from(v: &Value) -> MetadataBinding {
    MetadataBinding {
        matter_id: MatterId::from_bytes(
            unhex(v["matter_id"].as_str().unwrap()).try_into().unwrap(),
        ),
        document_id: DocumentId::from_bytes(
            unhex(v["document_id"].as_str().unwrap())
                .try_into()
                .unwrap(),
        ),
        version: VersionNumber::new(v["version"].as_u64().unwrap() as u32).unwrap(),
    }
}

fn signed_json<R: Record>(s: &Signed<R>, fields: Value) -> Value {
    json!({
        "fields": fields,
        "signer": hex(s.signer().as_bytes()),
        "bytes": hex(s.as_bytes()),
        "digest": hex(&s.digest().0),
    })
}

// ---------------------------------------------------------------------------
// Independent implementation of metadata sealing (spec: documents.md), to
// cross-check the library and to seal plaintexts it would refuse to write.

fn metadata_key(file_key: &[u8]) -> [u8; 32] {
    let mut key = [0u8; 32];
    Hkdf::<Sha256>::new(None, file_key)
        .expand(domain::METADATA_KEY, &mut key)
        .unwrap();
    key
}

fn aad(b: &MetadataBinding) -> Vec<u8> {
    join_map(&[
        (0, bstr(b.matter_id.as_bytes())),
        (1, bstr(b.document_id.as_bytes())),
        (2, uint(b.version.get().into())),
    ])
}

fn seal_raw(file_key: &[u8], binding: &MetadataBinding, plaintext: &[u8]) -> Vec<u8> {
    let cipher = ChaCha20Poly1305::new((&metadata_key(file_key)).into());
    let mut buf = plaintext.to_vec();
    let tag = cipher
        .encrypt_inout_detached(&Nonce::default(), &aad(binding), buf.as_mut_slice().into())
        .unwrap();
    buf.extend_from_slice(&tag);
    buf
}

// ---------------------------------------------------------------------------
// Generation

fn person_json(p: &Person) -> Value {
    let public = p.identity.public();
    json!({
        "rng_seed": p.seed,
        "ed25519_seed": hex(p.identity.signing_key().to_seed().expose_secret()),
        "ed25519": hex(public.signing.as_bytes()),
        "x25519": hex(public.encryption.as_bytes()),
        "age_recipient": public.encryption.to_string(),
        "fingerprint": public.fingerprint().to_string(),
    })
}

fn generate_records(f: &Fixture) -> Value {
    let fk1 = file_key(FILE_KEY_V1_SEED);
    let plaintext = minicbor::to_vec(&f.metadata).unwrap();
    assert_eq!(
        seal_raw(fk1.expose_secret(), &f.binding, &plaintext),
        f.sealed.as_bytes(),
        "the library seals as the spec says"
    );
    let people: BTreeMap<_, _> = [&f.creator, &f.alice, &f.bob, &f.mallory]
        .into_iter()
        .map(|p| (p.name, person_json(p)))
        .collect();
    json!({
        "description": "One valid instance of every lexvault v1 record, generated by core/tests/record_vectors.rs from ChaCha20Rng seeds ([seed; 32]). Ed25519 signatures are deterministic, so these bytes are reproducible from ed25519_seed and the fields. Times are Unix seconds.",
        "people": people,
        "key_bundle": signed_json(f.key_bundle.signed(), key_bundle_fields(f.key_bundle.bundle())),
        "matter": signed_json(f.matter.signed(), matter_fields(f.matter.record())),
        "metadata": {
            "file_key": hex(fk1.expose_secret()),
            "file_key_rng_seed": FILE_KEY_V1_SEED,
            "metadata_key": hex(&metadata_key(fk1.expose_secret())),
            "binding": binding_json(&f.binding),
            "aad": hex(&aad(&f.binding)),
            "fields": metadata_fields(&f.metadata),
            "plaintext": hex(&plaintext),
            "sealed": hex(f.sealed.as_bytes()),
            "sealed_digest": hex(&f.sealed.digest().0),
        },
        "key_commitments": [
            {
                "file_key": hex(fk1.expose_secret()),
                "commitment": hex(KeyCommitment::derive(&fk1).as_bytes()),
            },
            {
                "file_key": hex(file_key(FILE_KEY_V2_SEED).expose_secret()),
                "commitment": hex(KeyCommitment::derive(&file_key(FILE_KEY_V2_SEED)).as_bytes()),
            },
        ],
        "payload": {
            "description": "stand-in payload: 16 bytes 0xa5, then (i mod 256) for i in 0..1024; its segmented payload digest",
            "bytes": hex(&payload()),
            "digest": hex(&PayloadDigest::of(&payload()).0),
        },
        "stanza": {
            "description": "stand-in stanza text; its SHA-256 is the grant's stanza digest",
            "text": String::from_utf8_lossy(STANZA_TEXT),
            "digest": hex(&Sha256::digest(STANZA_TEXT)),
        },
        "manifest_v1": signed_json(&f.manifest_v1, manifest_fields(f.manifest_v1.record())),
        "manifest_v2": signed_json(&f.manifest_v2, manifest_fields(f.manifest_v2.record())),
        "grant_root": signed_json(&f.grant_root, grant_fields(f.grant_root.record())),
        "grant_leaf": signed_json(&f.grant_leaf, grant_fields(f.grant_leaf.record())),
        "revocation": signed_json(&f.revocation, revocation_fields(f.revocation.record())),
    })
}

struct Invalid {
    vectors: Vec<Value>,
}

impl Invalid {
    fn push(&mut self, record: &str, name: &str, bytes: Vec<u8>, error: &str) {
        let got = parse_error(record, &bytes);
        assert_eq!(got.as_deref(), Some(error), "{record} / {name}");
        self.vectors.push(json!({
            "record": record,
            "name": name,
            "bytes": hex(&bytes),
            "error": error,
        }));
    }
}

/// The mutations every signed record must survive. `body` is the valid
/// body; `key` signed it in `context`.
fn generic_invalid(
    out: &mut Invalid,
    record: &str,
    valid: &[u8],
    key: &SigningSecretKey,
    context: SignatureContext,
) {
    let (signer, body, sig) = open_envelope(valid);
    let resign = |b: &[u8]| sign_body(key, context, b);

    let mut bad_sig = sig.clone();
    bad_sig[63] ^= 0x01;
    out.push(
        record,
        "signature bit flipped",
        envelope(&signer, &body, &bad_sig),
        "BadSignature",
    );
    let mut bad_body = body.clone();
    *bad_body.last_mut().unwrap() ^= 0x01;
    out.push(
        record,
        "body bit flipped after signing",
        envelope(&signer, &bad_body, &sig),
        "BadSignature",
    );
    let other_context = if context == SignatureContext::GRANT {
        SignatureContext::REVOCATION
    } else {
        SignatureContext::GRANT
    };
    out.push(
        record,
        "signed in another record type's context",
        sign_body(key, other_context, &body),
        "BadSignature",
    );
    out.push(
        record,
        "envelope signer is a small-order point",
        envelope(&SMALL_ORDER_POINT, &body, &sig),
        "InvalidSigner",
    );
    let mut trailing = valid.to_vec();
    trailing.push(0x00);
    out.push(
        record,
        "byte after the envelope",
        trailing,
        "MalformedEnvelope",
    );
    out.push(
        record,
        "envelope with a fourth element",
        {
            let mut e = envelope(&signer, &body, &sig);
            e[0] = 0x84;
            e.push(0x00);
            e
        },
        "MalformedEnvelope",
    );
    out.push(
        record,
        "envelope is a map",
        {
            let mut e = envelope(&signer, &body, &sig);
            e[0] = 0xa3;
            e
        },
        "MalformedEnvelope",
    );

    // Validly signed, but the body is not canonical.
    let mut b = body.clone();
    b.push(0x00);
    out.push(
        record,
        "byte after the body map",
        resign(&b),
        "NotCanonical",
    );
    let mut entries = split_map(&body);
    entries.push((31, uint(0)));
    out.push(
        record,
        "unknown key 31",
        resign(&join_map(&entries)),
        "NotCanonical",
    );
    let mut entries = split_map(&body);
    entries.swap(1, 2);
    out.push(
        record,
        "keys 1 and 2 out of order",
        resign(&join_map(&entries)),
        "NotCanonical",
    );
    let mut entries = split_map(&body);
    let last = entries.last().unwrap().clone();
    entries.push(last);
    out.push(
        record,
        "last key repeated",
        resign(&join_map(&entries)),
        "NotCanonical",
    );
    out.push(
        record,
        "version as a two-byte integer",
        resign(&set(&body, 0, vec![0x18, 0x01])),
        "NotCanonical",
    );
    let mut entries = split_map(&body);
    let (k, v) = entries.pop().unwrap();
    let mut wide = vec![0x1b];
    wide.extend(Decoder::new(&v).u64().unwrap().to_be_bytes());
    entries.push((k, wide));
    out.push(
        record,
        "last field as an eight-byte integer",
        resign(&join_map(&entries)),
        "NotCanonical",
    );
    let mut indefinite = vec![0xbf];
    for (k, v) in split_map(&body) {
        indefinite.extend(uint(k));
        indefinite.extend(v);
    }
    indefinite.push(0xff);
    out.push(
        record,
        "indefinite-length map",
        resign(&indefinite),
        "NotCanonical",
    );

    // Validly signed, canonical-looking, but wrong in shape or value.
    let entries = split_map(&body);
    let last_key = entries.last().unwrap().0;
    out.push(
        record,
        "last field missing",
        resign(&remove(&body, last_key)),
        "Malformed",
    );
    out.push(record, "body is an array", resign(&[0x80]), "Malformed");
    out.push(record, "body is empty", resign(&[]), "Malformed");
    out.push(
        record,
        "version 2",
        resign(&set(&body, 0, uint(2))),
        "UnknownVersion",
    );
    out.push(
        record,
        "version 0",
        resign(&set(&body, 0, uint(0))),
        "UnknownVersion",
    );
    out.push(
        record,
        "version 2 with a field this version does not know",
        resign(&set(&set(&body, 0, uint(2)), 31, uint(0))),
        "UnknownVersion",
    );
    out.push(
        record,
        "version 256",
        resign(&set(&body, 0, uint(256))),
        "UnknownVersion",
    );
}

fn generate_invalid(f: &Fixture) -> Value {
    let mut out = Invalid {
        vectors: Vec::new(),
    };
    let alice = f.alice.identity.signing_key();
    let creator = f.creator.identity.signing_key();
    let mallory = f.mallory.identity.signing_key();

    // Key bundle.
    let kb = f.key_bundle.as_bytes();
    generic_invalid(
        &mut out,
        "key_bundle",
        kb,
        alice,
        SignatureContext::KEY_BUNDLE,
    );
    let (_, body, _) = open_envelope(kb);
    let resign = |b: &[u8]| sign_body(alice, SignatureContext::KEY_BUNDLE, b);
    out.push(
        "key_bundle",
        "signed by a key other than the one it publishes",
        sign_body(mallory, SignatureContext::KEY_BUNDLE, &body),
        "SignerMismatch",
    );
    out.push(
        "key_bundle",
        "small-order Ed25519 key",
        resign(&set(&body, 1, bstr(&SMALL_ORDER_POINT))),
        "InvalidSigningKey",
    );
    out.push(
        "key_bundle",
        "small-order X25519 key",
        resign(&set(&body, 2, bstr(&[0; 32]))),
        "InvalidEncryptionKey",
    );
    out.push(
        "key_bundle",
        "X25519 key of 31 bytes",
        resign(&set(&body, 2, bstr(&[7; 31]))),
        "Malformed",
    );
    out.push(
        "key_bundle",
        "display name empty",
        resign(&set(&body, 3, tstr(""))),
        "InvalidDisplayName",
    );
    out.push(
        "key_bundle",
        "display name of 129 bytes",
        resign(&set(&body, 3, tstr(&"a".repeat(129)))),
        "InvalidDisplayName",
    );
    out.push(
        "key_bundle",
        "display name with a right-to-left override",
        resign(&set(&body, 3, tstr("Alice\u{202e}nitraM"))),
        "InvalidDisplayName",
    );
    out.push(
        "key_bundle",
        "display name with a newline",
        resign(&set(&body, 3, tstr("Alice\nMartin"))),
        "InvalidDisplayName",
    );
    out.push(
        "key_bundle",
        "display name with trailing space",
        resign(&set(&body, 3, tstr("Alice "))),
        "InvalidDisplayName",
    );
    out.push(
        "key_bundle",
        "display name not UTF-8",
        resign(&set(&body, 3, vec![0x63, b'A', 0xff, b'e'])),
        "Malformed",
    );
    out.push(
        "key_bundle",
        "display name as a byte string",
        resign(&set(&body, 3, bstr(b"Alice"))),
        "Malformed",
    );

    // Matter.
    let m = f.matter.as_bytes();
    generic_invalid(&mut out, "matter", m, creator, SignatureContext::MATTER);
    let (_, body, _) = open_envelope(m);
    out.push(
        "matter",
        "signed by someone other than the creator it names",
        sign_body(mallory, SignatureContext::MATTER, &body),
        "SignerMismatch",
    );
    out.push(
        "matter",
        "small-order creator key",
        sign_body(
            creator,
            SignatureContext::MATTER,
            &set(&body, 2, bstr(&SMALL_ORDER_POINT)),
        ),
        "InvalidCreatorKey",
    );
    out.push(
        "matter",
        "matter id of 15 bytes",
        sign_body(
            creator,
            SignatureContext::MATTER,
            &set(&body, 1, bstr(&[1; 15])),
        ),
        "Malformed",
    );

    // Manifest.
    let v1 = f.manifest_v1.as_bytes();
    generic_invalid(
        &mut out,
        "manifest",
        v1,
        alice,
        SignatureContext::VERSION_MANIFEST,
    );
    let (_, body1, _) = open_envelope(v1);
    let (_, body2, _) = open_envelope(f.manifest_v2.as_bytes());
    let resign = |b: &[u8]| sign_body(alice, SignatureContext::VERSION_MANIFEST, b);
    out.push(
        "manifest",
        "version number 0",
        resign(&set(&body1, 3, uint(0))),
        "InvalidVersionNumber",
    );
    out.push(
        "manifest",
        "version number 2^32",
        resign(&set(&body1, 3, uint(1 << 32))),
        "Malformed",
    );
    out.push(
        "manifest",
        "version 1 naming a previous manifest",
        resign(&set(&body1, 4, bstr(&[9; 32]))),
        "PreviousMismatch",
    );
    out.push(
        "manifest",
        "version 2 without a previous manifest",
        resign(&remove(&body2, 4)),
        "PreviousMismatch",
    );
    out.push(
        "manifest",
        "version 2 with previous as null",
        resign(&set(&body2, 4, vec![0xf6])),
        "Malformed",
    );
    out.push(
        "manifest",
        "payload digest of 31 bytes",
        resign(&set(&body1, 5, bstr(&[0; 31]))),
        "Malformed",
    );
    out.push(
        "manifest",
        "key commitment as text",
        resign(&set(&body1, 7, tstr("x"))),
        "Malformed",
    );

    // Grant.
    let leaf = f.grant_leaf.as_bytes();
    generic_invalid(&mut out, "grant", leaf, alice, SignatureContext::GRANT);
    let (_, body, _) = open_envelope(leaf);
    let resign = |b: &[u8]| sign_body(alice, SignatureContext::GRANT, b);
    out.push(
        "grant",
        "no rights",
        resign(&set(&body, 6, uint(0))),
        "NoRights",
    );
    out.push(
        "grant",
        "unknown rights bit 0x20",
        resign(&set(&body, 6, uint(0x21))),
        "UnknownRights",
    );
    out.push(
        "grant",
        "rights beyond a byte",
        resign(&set(&body, 6, uint(0x101))),
        "UnknownRights",
    );
    out.push(
        "grant",
        "rights as a negative integer",
        resign(&set(&body, 6, vec![0x20])),
        "Malformed",
    );
    out.push(
        "grant",
        "not_after equal to not_before",
        resign(&set(&body, 8, uint(T0 + DAY))),
        "InvalidValidity",
    );
    out.push(
        "grant",
        "not_after before not_before",
        resign(&set(&body, 8, uint(T0))),
        "InvalidValidity",
    );
    out.push(
        "grant",
        "wrapped key on a whole-matter grant",
        resign(&remove(&body, 3)),
        "BindingWithoutDocument",
    );
    out.push(
        "grant",
        "wrapped key for version 0",
        resign(&set(
            &body,
            9,
            join_map(&[(0, uint(0)), (1, bstr(&[1; 32]))]),
        )),
        "InvalidVersionNumber",
    );
    out.push(
        "grant",
        "wrapped key with an unknown key",
        resign(&set(
            &body,
            9,
            join_map(&[(0, uint(1)), (1, bstr(&[1; 32])), (2, uint(0))]),
        )),
        "NotCanonical",
    );
    out.push(
        "grant",
        "small-order grantee X25519 key",
        resign(&set(&body, 5, bstr(&SMALL_ORDER_POINT))),
        "InvalidGranteeKey",
    );
    out.push(
        "grant",
        "small-order grantee Ed25519 key",
        resign(&set(&body, 4, bstr(&SMALL_ORDER_POINT))),
        "InvalidGranteeKey",
    );
    out.push(
        "grant",
        "document id as null",
        resign(&set(&body, 3, vec![0xf6])),
        "Malformed",
    );
    out.push(
        "grant",
        "parent digest of 33 bytes",
        resign(&set(&body, 10, bstr(&[0; 33]))),
        "Malformed",
    );

    // Revocation.
    generic_invalid(
        &mut out,
        "revocation",
        f.revocation.as_bytes(),
        alice,
        SignatureContext::REVOCATION,
    );

    // Sealed metadata.
    let fk = file_key(FILE_KEY_V1_SEED);
    let fk = fk.expose_secret();
    let sealed = f.sealed.as_bytes();
    let mut metadata = Vec::new();
    let mut meta =
        |name: &str, file_key: &[u8], binding: &MetadataBinding, sealed: Vec<u8>, error: &str| {
            let key = FileKey::from_array(&mut file_key.try_into().unwrap());
            let got = SealedMetadata::from_bytes(sealed.clone()).open(&key, binding);
            assert_eq!(
                got.err().map(|e| error_name(&e)).as_deref(),
                Some(error),
                "metadata / {name}"
            );
            metadata.push(json!({
                "name": name,
                "file_key": hex(file_key),
                "binding": binding_json(binding),
                "sealed": hex(&sealed),
                "error": error,
            }));
        };
    let b = f.binding;
    meta(
        "wrong matter id",
        fk,
        &MetadataBinding {
            matter_id: *f.other_matter.id(),
            ..b
        },
        sealed.to_vec(),
        "DecryptionFailed",
    );
    meta(
        "wrong document id",
        fk,
        &MetadataBinding {
            document_id: DocumentId::from_bytes([0; 16]),
            ..b
        },
        sealed.to_vec(),
        "DecryptionFailed",
    );
    meta(
        "wrong version",
        fk,
        &MetadataBinding {
            version: VersionNumber::new(2).unwrap(),
            ..b
        },
        sealed.to_vec(),
        "DecryptionFailed",
    );
    meta(
        "wrong file key",
        file_key(FILE_KEY_V2_SEED).expose_secret(),
        &b,
        sealed.to_vec(),
        "DecryptionFailed",
    );
    let mut t = sealed.to_vec();
    *t.last_mut().unwrap() ^= 0x80;
    meta("tag bit flipped", fk, &b, t, "DecryptionFailed");
    let mut t = sealed.to_vec();
    t[0] ^= 0x01;
    meta("ciphertext bit flipped", fk, &b, t, "DecryptionFailed");
    meta(
        "last byte cut",
        fk,
        &b,
        sealed[..sealed.len() - 1].to_vec(),
        "DecryptionFailed",
    );
    meta(
        "tag only",
        fk,
        &b,
        sealed[sealed.len() - 16..].to_vec(),
        "DecryptionFailed",
    );
    meta(
        "shorter than a tag",
        fk,
        &b,
        sealed[..15].to_vec(),
        "DecryptionFailed",
    );
    meta("empty", fk, &b, Vec::new(), "DecryptionFailed");
    meta(
        "longer than 2048 bytes",
        fk,
        &b,
        vec![0; 2049],
        "DecryptionFailed",
    );
    // Authentic ciphertexts whose plaintext is not valid metadata.
    let plain = minicbor::to_vec(&f.metadata).unwrap();
    let mut authentic = |name: &str, plaintext: Vec<u8>, error: &str| {
        meta(name, fk, &b, seal_raw(fk, &b, &plaintext), error);
    };
    authentic(
        "file name with a slash",
        set(&plain, 1, tstr("../etc/passwd")),
        "InvalidFileName",
    );
    authentic(
        "file name with a right-to-left override",
        set(&plain, 1, tstr("invoice\u{202e}fdp.exe")),
        "InvalidFileName",
    );
    authentic(
        "file name of 1025 bytes",
        set(&plain, 1, tstr(&"n".repeat(1025))),
        "InvalidFileName",
    );
    authentic(
        "file name '..'",
        set(&plain, 1, tstr("..")),
        "InvalidFileName",
    );
    authentic(
        "MIME type without a slash",
        set(&plain, 2, tstr("pdf")),
        "InvalidMimeType",
    );
    authentic(
        "MIME type of 256 bytes",
        set(&plain, 2, tstr(&format!("a/{}", "b".repeat(254)))),
        "InvalidMimeType",
    );
    authentic(
        "metadata version 2",
        set(&plain, 0, uint(2)),
        "UnknownVersion",
    );
    authentic("unknown key", set(&plain, 5, uint(0)), "NotCanonical");
    authentic("size missing", remove(&plain, 3), "Malformed");
    authentic("not CBOR", b"hello".to_vec(), "Malformed");

    // Manifest checks against a file key and a previous version.
    let checks = json!([
        {
            "name": "file key of another version",
            "manifest": hex(f.manifest_v1.as_bytes()),
            "file_key": hex(file_key(FILE_KEY_V2_SEED).expose_secret()),
            "error": "KeyCommitmentMismatch",
        },
        {
            "name": "file key of this version",
            "manifest": hex(f.manifest_v2.as_bytes()),
            "file_key": hex(file_key(FILE_KEY_V2_SEED).expose_secret()),
            "error": null,
        },
    ]);
    let v3_fork = Signed::sign(
        Manifest::new(ManifestTerms {
            version: VersionNumber::new(3).unwrap(),
            previous: Some(f.manifest_v1.digest()),
            ..f.manifest_v2.record().terms().clone()
        })
        .unwrap(),
        alice,
    );
    let succession = json!([
        {"name": "v1 then v2", "previous": hex(f.manifest_v1.as_bytes()), "next": hex(f.manifest_v2.as_bytes()), "error": null},
        {"name": "rollback: v2 then v1", "previous": hex(f.manifest_v2.as_bytes()), "next": hex(f.manifest_v1.as_bytes()), "error": "NotSuccessor"},
        {"name": "replay: v2 then v2", "previous": hex(f.manifest_v2.as_bytes()), "next": hex(f.manifest_v2.as_bytes()), "error": "NotSuccessor"},
        {"name": "v3 that skips v2", "previous": hex(f.manifest_v2.as_bytes()), "next": hex(v3_fork.as_bytes()), "error": "NotSuccessor"},
    ]);

    json!({
        "description": "Inputs lexvault must reject, generated by core/tests/record_vectors.rs. `error` is the variant lexvault-core returns, without the layers that wrap it; other implementations need only reject. Mutated bodies are re-signed with the legitimate key unless the name says otherwise, so each vector fails for the reason named and no other.",
        "signed_records": out.vectors,
        "sealed_metadata": metadata,
        "manifest_file_key_checks": checks,
        "manifest_succession": succession,
    })
}

/// The grants the chain vectors draw on, by name.
fn chain_grants(
    f: &Fixture,
) -> (
    BTreeMap<String, Signed<Grant>>,
    BTreeMap<String, Signed<Revocation>>,
) {
    let m = &f.matter;
    let alice = &f.alice.identity;
    let creator = &f.creator.identity;
    let mut grants = BTreeMap::new();
    let mut id = 40u8;
    let mut next_id = || {
        id += 1;
        GrantId::generate(&mut seeded_rng(id))
    };
    let leaf = |parent: &Signed<Grant>| GrantTerms {
        grant_id: GrantId::from_bytes([0; 16]),
        ..leaf_terms(m, parent, f.document_id, &f.bob, 0)
    };
    let root = f.grant_root.clone();
    let mut add = |name: &str, g: Signed<Grant>| {
        grants.insert(name.to_owned(), g);
    };
    add("root", root.clone());
    add("leaf", f.grant_leaf.clone());
    let sign =
        |t: GrantTerms, by: &Identity| Signed::sign(Grant::new(t).unwrap(), by.signing_key());
    add(
        "leaf_escalating_rights",
        sign(
            GrantTerms {
                grant_id: next_id(),
                rights: Rights::VIEW | Rights::UPLOAD,
                ..leaf(&root)
            },
            alice,
        ),
    );
    add(
        "leaf_signed_by_mallory",
        sign(
            GrantTerms {
                grant_id: next_id(),
                ..leaf(&root)
            },
            &f.mallory.identity,
        ),
    );
    add(
        "leaf_outliving_parent",
        sign(
            GrantTerms {
                grant_id: next_id(),
                validity: Validity::new(T0 + DAY, Some(T0 + 400 * DAY)).unwrap(),
                ..leaf(&root)
            },
            alice,
        ),
    );
    add(
        "leaf_open_ended",
        sign(
            GrantTerms {
                grant_id: next_id(),
                validity: Validity::starting(T0 + DAY),
                ..leaf(&root)
            },
            alice,
        ),
    );
    add(
        "leaf_starting_before_parent",
        sign(
            GrantTerms {
                grant_id: next_id(),
                validity: Validity::new(T0 - 1, Some(T0 + DAY)).unwrap(),
                ..leaf(&root)
            },
            alice,
        ),
    );
    add(
        "leaf_in_other_matter",
        sign(
            GrantTerms {
                grant_id: next_id(),
                matter_id: *f.other_matter.id(),
                ..leaf(&root)
            },
            alice,
        ),
    );
    add(
        "leaf_without_parent",
        sign(
            GrantTerms {
                grant_id: next_id(),
                parent: None,
                ..leaf(&root)
            },
            alice,
        ),
    );
    add(
        "creator_grant_with_parent",
        sign(
            GrantTerms {
                grant_id: next_id(),
                ..leaf(&root)
            },
            creator,
        ),
    );
    add(
        "leaf_with_unknown_parent",
        sign(
            GrantTerms {
                grant_id: next_id(),
                parent: Some(RecordDigest([0x77; 32])),
                ..leaf(&root)
            },
            alice,
        ),
    );
    let root_one_doc = sign(
        GrantTerms {
            grant_id: next_id(),
            scope: Scope::Document(f.document_id),
            ..root.record().terms().clone()
        },
        creator,
    );
    add("root_one_document", root_one_doc.clone());
    add(
        "leaf_whole_matter_under_one_document",
        sign(
            GrantTerms {
                grant_id: next_id(),
                scope: Scope::Matter,
                wrapped_key: None,
                ..leaf(&root_one_doc)
            },
            alice,
        ),
    );
    add(
        "leaf_other_document_under_one_document",
        sign(
            GrantTerms {
                grant_id: next_id(),
                scope: Scope::Document(DocumentId::from_bytes([0x0d; 16])),
                wrapped_key: None,
                ..leaf(&root_one_doc)
            },
            alice,
        ),
    );
    let root_no_share = sign(
        GrantTerms {
            grant_id: next_id(),
            rights: Rights::VIEW | Rights::DOWNLOAD,
            ..root.record().terms().clone()
        },
        creator,
    );
    add("root_without_share", root_no_share.clone());
    add(
        "leaf_under_root_without_share",
        sign(
            GrantTerms {
                grant_id: next_id(),
                ..leaf(&root_no_share)
            },
            alice,
        ),
    );
    // A relay: bob re-shares what alice re-shared, all the way down.
    let people: Vec<Identity> = (0..=16u8)
        .map(|i| Identity::generate(&mut seeded_rng(100 + i)))
        .collect();
    let mut parent = sign(
        GrantTerms {
            grant_id: next_id(),
            grantee: people[0].public(),
            rights: Rights::ALL,
            ..root.record().terms().clone()
        },
        creator,
    );
    add("relay_01", parent.clone());
    for i in 1..people.len() {
        let g = sign(
            GrantTerms {
                grant_id: next_id(),
                grantee: people[i].public(),
                rights: Rights::ALL,
                parent: Some(parent.digest()),
                ..root.record().terms().clone()
            },
            &people[i - 1],
        );
        add(&format!("relay_{:02}", i + 1), g.clone());
        parent = g;
    }

    let mut revocations = BTreeMap::new();
    let revoke = |target: &Signed<Grant>, by: &Identity, matter: &MatterId| {
        Signed::sign(
            Revocation::new(*matter, target.digest(), T0 + 10 * DAY),
            by.signing_key(),
        )
    };
    let mid = m.id();
    revocations.insert("leaf_by_alice".to_owned(), f.revocation.clone());
    revocations.insert(
        "leaf_by_creator".to_owned(),
        revoke(&f.grant_leaf, creator, mid),
    );
    revocations.insert("root_by_creator".to_owned(), revoke(&root, creator, mid));
    revocations.insert("root_by_alice".to_owned(), revoke(&root, alice, mid));
    revocations.insert(
        "leaf_by_bob".to_owned(),
        revoke(&f.grant_leaf, &f.bob.identity, mid),
    );
    revocations.insert(
        "leaf_by_mallory".to_owned(),
        revoke(&f.grant_leaf, &f.mallory.identity, mid),
    );
    revocations.insert(
        "leaf_in_other_matter".to_owned(),
        revoke(&f.grant_leaf, creator, f.other_matter.id()),
    );
    revocations.insert(
        "unknown_grant".to_owned(),
        Signed::sign(
            Revocation::new(*mid, RecordDigest([0x66; 32]), T0),
            creator.signing_key(),
        ),
    );
    (grants, revocations)
}

/// (name, matter, grant, available grants, revocations, now, expected error)
type ChainCase<'a> = (
    &'a str,
    &'a str,
    &'a str,
    &'a [&'a str],
    &'a [&'a str],
    u64,
    Option<&'a str>,
);

fn generate_chains(f: &Fixture) -> Value {
    let (grants, revocations) = chain_grants(f);
    let mid = T0 + 5 * DAY;
    let revoked_at = T0 + 10 * DAY;
    let cases: &[ChainCase<'_>] = &[
        ("creator's grant alone", "main", "root", &[], &[], mid, None),
        ("delegated grant", "main", "leaf", &["root"], &[], mid, None),
        (
            "first second of the window",
            "main",
            "leaf",
            &["root"],
            &[],
            T0 + DAY,
            None,
        ),
        (
            "second before the window",
            "main",
            "leaf",
            &["root"],
            &[],
            T0 + DAY - 1,
            Some("NotYetValid"),
        ),
        (
            "last second of the window",
            "main",
            "leaf",
            &["root"],
            &[],
            T0 + 30 * DAY - 1,
            None,
        ),
        (
            "end of the window",
            "main",
            "leaf",
            &["root"],
            &[],
            T0 + 30 * DAY,
            Some("Expired"),
        ),
        (
            "parent not provided",
            "main",
            "leaf",
            &[],
            &[],
            mid,
            Some("MissingParent"),
        ),
        (
            "parent never existed",
            "main",
            "leaf_with_unknown_parent",
            &["root"],
            &[],
            mid,
            Some("MissingParent"),
        ),
        (
            "rights the parent lacks",
            "main",
            "leaf_escalating_rights",
            &["root"],
            &[],
            mid,
            Some("RightsEscalation"),
        ),
        (
            "grantor is not the parent's grantee",
            "main",
            "leaf_signed_by_mallory",
            &["root"],
            &[],
            mid,
            Some("BrokenChain"),
        ),
        (
            "window ends after the parent's",
            "main",
            "leaf_outliving_parent",
            &["root"],
            &[],
            mid,
            Some("ValidityEscalation"),
        ),
        (
            "open-ended under a bounded parent",
            "main",
            "leaf_open_ended",
            &["root"],
            &[],
            mid,
            Some("ValidityEscalation"),
        ),
        (
            "window starts before the parent's",
            "main",
            "leaf_starting_before_parent",
            &["root"],
            &[],
            T0,
            Some("ValidityEscalation"),
        ),
        (
            "grant in another matter",
            "main",
            "leaf_in_other_matter",
            &["root"],
            &[],
            mid,
            Some("WrongMatter"),
        ),
        (
            "checked against another matter record",
            "other",
            "leaf",
            &["root"],
            &[],
            mid,
            Some("WrongMatter"),
        ),
        (
            "no parent, not the creator",
            "main",
            "leaf_without_parent",
            &["root"],
            &[],
            mid,
            Some("NotRootedAtCreator"),
        ),
        (
            "creator's grant naming a parent",
            "main",
            "creator_grant_with_parent",
            &["root"],
            &[],
            mid,
            Some("UnexpectedParent"),
        ),
        (
            "whole matter under one document",
            "main",
            "leaf_whole_matter_under_one_document",
            &["root_one_document"],
            &[],
            mid,
            Some("ScopeEscalation"),
        ),
        (
            "other document under one document",
            "main",
            "leaf_other_document_under_one_document",
            &["root_one_document"],
            &[],
            mid,
            Some("ScopeEscalation"),
        ),
        (
            "parent cannot share",
            "main",
            "leaf_under_root_without_share",
            &["root_without_share"],
            &[],
            mid,
            Some("NotDelegable"),
        ),
        (
            "revoked by its grantor",
            "main",
            "leaf",
            &["root"],
            &["leaf_by_alice"],
            revoked_at,
            Some("Revoked"),
        ),
        (
            "revoked later than now",
            "main",
            "leaf",
            &["root"],
            &["leaf_by_alice"],
            revoked_at - 1,
            None,
        ),
        (
            "revoked by the creator",
            "main",
            "leaf",
            &["root"],
            &["leaf_by_creator"],
            revoked_at,
            Some("Revoked"),
        ),
        (
            "parent revoked",
            "main",
            "leaf",
            &["root"],
            &["root_by_creator"],
            revoked_at,
            Some("Revoked"),
        ),
        (
            "parent 'revoked' by its grantee: ignored",
            "main",
            "leaf",
            &["root"],
            &["root_by_alice"],
            revoked_at,
            None,
        ),
        (
            "'revoked' by its grantee: ignored",
            "main",
            "leaf",
            &["root"],
            &["leaf_by_bob"],
            revoked_at,
            None,
        ),
        (
            "'revoked' by a stranger: ignored",
            "main",
            "leaf",
            &["root"],
            &["leaf_by_mallory"],
            revoked_at,
            None,
        ),
        (
            "revocation in another matter: ignored",
            "main",
            "leaf",
            &["root"],
            &["leaf_in_other_matter"],
            revoked_at,
            None,
        ),
        (
            "revoked and expired: revocation reported",
            "main",
            "leaf",
            &["root"],
            &["leaf_by_alice"],
            T0 + 40 * DAY,
            Some("Revoked"),
        ),
        (
            "chain of 16 grants",
            "main",
            "relay_16",
            &[
                "relay_01", "relay_02", "relay_03", "relay_04", "relay_05", "relay_06", "relay_07",
                "relay_08", "relay_09", "relay_10", "relay_11", "relay_12", "relay_13", "relay_14",
                "relay_15",
            ],
            &[],
            mid,
            None,
        ),
        (
            "chain of 17 grants",
            "main",
            "relay_17",
            &[
                "relay_01", "relay_02", "relay_03", "relay_04", "relay_05", "relay_06", "relay_07",
                "relay_08", "relay_09", "relay_10", "relay_11", "relay_12", "relay_13", "relay_14",
                "relay_15", "relay_16",
            ],
            &[],
            mid,
            Some("TooDeep"),
        ),
    ];
    let matters = [("main", &f.matter), ("other", &f.other_matter)];
    let mut chains = Vec::new();
    for &(name, matter, grant, available, revs, now, error) in cases {
        let m = matters.iter().find(|(n, _)| *n == matter).unwrap().1;
        let known: Vec<_> = available.iter().map(|a| grants[*a].clone()).collect();
        let rs: Vec<_> = revs.iter().map(|r| revocations[*r].clone()).collect();
        let got = grant::verify_grant_chain(m, &grants[grant], &known[..], &rs, now);
        let want_rights = got
            .as_ref()
            .ok()
            .map(|v| v.rights().names().collect::<Vec<_>>());
        assert_eq!(
            got.as_ref().err().map(error_name).as_deref(),
            error,
            "{name}"
        );
        chains.push(json!({
            "name": name,
            "matter": matter,
            "grant": grant,
            "available": available,
            "revocations": revs,
            "now": now,
            "error": error,
            "rights": want_rights,
            "chain_length": got.as_ref().ok().map(|v| v.chain().len()),
        }));
    }
    let revocation_cases: &[(&str, &str, &[&str], Option<&str>)] = &[
        ("grantor revokes", "leaf_by_alice", &["root", "leaf"], None),
        (
            "creator revokes a delegated grant",
            "leaf_by_creator",
            &["root", "leaf"],
            None,
        ),
        (
            "creator revokes its own grant",
            "root_by_creator",
            &["root"],
            None,
        ),
        (
            "grantee revokes the grant to itself",
            "root_by_alice",
            &["root"],
            Some("UnauthorisedRevoker"),
        ),
        (
            "grantee revokes the grant to itself, deeper",
            "leaf_by_bob",
            &["root", "leaf"],
            Some("UnauthorisedRevoker"),
        ),
        (
            "a stranger revokes",
            "leaf_by_mallory",
            &["root", "leaf"],
            Some("UnauthorisedRevoker"),
        ),
        (
            "revocation names another matter",
            "leaf_in_other_matter",
            &["root", "leaf"],
            Some("WrongMatter"),
        ),
        (
            "revoked grant not provided",
            "unknown_grant",
            &["root", "leaf"],
            Some("UnknownGrant"),
        ),
        (
            "revoked grant's parent not provided",
            "leaf_by_alice",
            &["leaf"],
            Some("MissingParent"),
        ),
    ];
    let mut revocation_checks = Vec::new();
    for &(name, revocation, available, error) in revocation_cases {
        let known: Vec<_> = available.iter().map(|a| grants[*a].clone()).collect();
        let got = grant::verify_revocation(&f.matter, &revocations[revocation], &known[..]);
        assert_eq!(
            got.as_ref().err().map(error_name).as_deref(),
            error,
            "{name}"
        );
        revocation_checks.push(json!({
            "name": name,
            "revocation": revocation,
            "available": available,
            "error": error,
        }));
    }
    json!({
        "description": "Grant-chain verification at a time `now`, generated by core/tests/record_vectors.rs. Grants and revocations are signed records (hex) referred to by name; `available` lists the grants given to resolve parents. `error` is null when the grant verifies, and then `rights` are the effective rights and `chain_length` the number of grants from this one to the creator's.",
        "matters": {
            "main": hex(f.matter.as_bytes()),
            "other": hex(f.other_matter.as_bytes()),
        },
        "grants": grants.iter().map(|(k, v)| (k.clone(), Value::String(hex(v.as_bytes())))).collect::<serde_json::Map<_, _>>(),
        "revocations": revocations.iter().map(|(k, v)| (k.clone(), Value::String(hex(v.as_bytes())))).collect::<serde_json::Map<_, _>>(),
        "chains": chains,
        "revocation_checks": revocation_checks,
    })
}

#[test]
fn generated_vectors_match_the_committed_files() {
    let f = fixture();
    check_vector_file(RECORDS, &generate_records(&f));
    check_vector_file(INVALID, &generate_invalid(&f));
    check_vector_file(CHAINS, &generate_chains(&f));
}

// ---------------------------------------------------------------------------
// Checking the committed files

fn bytes_at(v: &Value, key: &str) -> Vec<u8> {
    unhex(
        v[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} is not a string")),
    )
}

fn parse_error(record: &str, bytes: &[u8]) -> Option<String> {
    let name = |r: Result<(), String>| r.err();
    name(match record {
        "key_bundle" => key_bundle::verify_key_bundle(bytes)
            .map(|_| ())
            .map_err(|e| error_name(&e)),
        "matter" => matter::verify_matter(bytes)
            .map(|_| ())
            .map_err(|e| error_name(&e)),
        "manifest" => manifest::verify_manifest(bytes)
            .map(|_| ())
            .map_err(|e| error_name(&e)),
        "grant" => grant::parse_grant(bytes)
            .map(|_| ())
            .map_err(|e| error_name(&e)),
        "revocation" => grant::parse_revocation(bytes)
            .map(|_| ())
            .map_err(|e| error_name(&e)),
        other => panic!("unknown record type {other}"),
    })
}

fn check_signed<R: Record>(entry: &Value, signed: &Signed<R>, fields: Value) {
    assert_eq!(fields, entry["fields"]);
    assert_eq!(hex(signed.signer().as_bytes()), entry["signer"]);
    assert_eq!(hex(&signed.digest().0), entry["digest"]);
    assert_eq!(hex(signed.as_bytes()), entry["bytes"]);
}

#[test]
fn committed_vectors_hold() {
    let records = read_vector_file(RECORDS);

    // Every positive record parses, re-encodes to the same bytes, and has
    // the stored fields.
    let kb = key_bundle::verify_key_bundle(&bytes_at(&records["key_bundle"], "bytes")).unwrap();
    check_signed(
        &records["key_bundle"],
        kb.signed(),
        key_bundle_fields(kb.bundle()),
    );
    assert_eq!(
        kb.bundle().display_name(),
        "Alice Martin (Martin & Rao LLP)"
    );
    assert_eq!(
        records["people"]["alice"]["fingerprint"],
        kb.fingerprint().to_string()
    );
    assert_eq!(
        minicbor::to_vec(kb.bundle()).unwrap(),
        open_envelope(kb.as_bytes()).1
    );

    let m = matter::verify_matter(&bytes_at(&records["matter"], "bytes")).unwrap();
    check_signed(&records["matter"], m.signed(), matter_fields(m.record()));
    assert_eq!(
        hex(m.creator().as_bytes()),
        records["people"]["creator"]["ed25519"]
    );

    let v1 = manifest::verify_manifest(&bytes_at(&records["manifest_v1"], "bytes")).unwrap();
    let v2 = manifest::verify_manifest(&bytes_at(&records["manifest_v2"], "bytes")).unwrap();
    check_signed(&records["manifest_v1"], &v1, manifest_fields(v1.record()));
    check_signed(&records["manifest_v2"], &v2, manifest_fields(v2.record()));
    assert_eq!(manifest::verify_succession(&v1, &v2), Ok(()));
    assert_eq!(v1.record().matter_id(), m.id());
    let payload = bytes_at(&records["payload"], "bytes");
    assert_eq!(
        v1.record()
            .check_payload(&PayloadDigest::of(&payload), payload.len() as u64),
        Ok(())
    );

    for c in records["key_commitments"].as_array().unwrap() {
        let fk = FileKey::from_array(&mut bytes_at(c, "file_key").try_into().unwrap());
        assert_eq!(hex(KeyCommitment::derive(&fk).as_bytes()), c["commitment"]);
    }

    let md = &records["metadata"];
    let fk = FileKey::from_array(&mut bytes_at(md, "file_key").try_into().unwrap());
    let binding = binding_from(&md["binding"]);
    assert_eq!(hex(&aad(&binding)), md["aad"]);
    assert_eq!(hex(&metadata_key(fk.expose_secret())), md["metadata_key"]);
    let sealed = SealedMetadata::from_bytes(bytes_at(md, "sealed"));
    let opened = sealed.open(&fk, &binding).unwrap();
    assert_eq!(metadata_fields(&opened), md["fields"]);
    assert_eq!(hex(&minicbor::to_vec(&opened).unwrap()), md["plaintext"]);
    assert_eq!(hex(&sealed.digest().0), md["sealed_digest"]);
    assert_eq!(v1.record().check_metadata(&sealed.digest()), Ok(()));
    assert_eq!(v1.record().check_file_key(&fk), Ok(()));
    assert_eq!(hex(opened.seal(&fk, &binding).as_bytes()), md["sealed"]);

    let root = grant::parse_grant(&bytes_at(&records["grant_root"], "bytes")).unwrap();
    let leaf = grant::parse_grant(&bytes_at(&records["grant_leaf"], "bytes")).unwrap();
    check_signed(&records["grant_root"], &root, grant_fields(root.record()));
    check_signed(&records["grant_leaf"], &leaf, grant_fields(leaf.record()));
    assert_eq!(
        leaf.record().wrapped_key().map(|k| hex(&k.stanza_digest.0)),
        records["stanza"]["digest"].as_str().map(str::to_owned)
    );
    let rev = grant::parse_revocation(&bytes_at(&records["revocation"], "bytes")).unwrap();
    check_signed(
        &records["revocation"],
        &rev,
        revocation_fields(rev.record()),
    );
    assert_eq!(rev.record().revoked(), &leaf.digest());
    let v = grant::verify_grant_chain(&m, &leaf, &[root.clone()][..], &[], T0 + 2 * DAY).unwrap();
    let Scope::Document(doc) = leaf.record().scope() else {
        panic!("the stored leaf covers one document")
    };
    assert!(v.allows(Rights::VIEW, doc, T0 + 2 * DAY));
    assert!(!v.allows(Rights::DOWNLOAD, doc, T0 + 2 * DAY));

    // Every negative vector fails, for the stated reason.
    let invalid = read_vector_file(INVALID);
    let mut count = 0;
    for v in invalid["signed_records"].as_array().unwrap() {
        let got = parse_error(v["record"].as_str().unwrap(), &bytes_at(v, "bytes"));
        assert_eq!(
            got.as_deref(),
            v["error"].as_str(),
            "{} / {}",
            v["record"],
            v["name"]
        );
        count += 1;
    }
    for v in invalid["sealed_metadata"].as_array().unwrap() {
        let fk = FileKey::from_array(&mut bytes_at(v, "file_key").try_into().unwrap());
        let got = SealedMetadata::from_bytes(bytes_at(v, "sealed"))
            .open(&fk, &binding_from(&v["binding"]));
        assert_eq!(
            got.err().map(|e| error_name(&e)).as_deref(),
            v["error"].as_str(),
            "metadata / {}",
            v["name"]
        );
        count += 1;
    }
    for v in invalid["manifest_file_key_checks"].as_array().unwrap() {
        let mf = manifest::verify_manifest(&bytes_at(v, "manifest")).unwrap();
        let fk = FileKey::from_array(&mut bytes_at(v, "file_key").try_into().unwrap());
        let got = mf.record().check_file_key(&fk);
        assert_eq!(
            got.err().map(|e| error_name(&e)).as_deref(),
            v["error"].as_str(),
            "{}",
            v["name"]
        );
    }
    for v in invalid["manifest_succession"].as_array().unwrap() {
        let p = manifest::verify_manifest(&bytes_at(v, "previous")).unwrap();
        let n = manifest::verify_manifest(&bytes_at(v, "next")).unwrap();
        let got = manifest::verify_succession(&p, &n);
        assert_eq!(
            got.err().map(|e| error_name(&e)).as_deref(),
            v["error"].as_str(),
            "{}",
            v["name"]
        );
    }
    assert!(count >= 150, "only {count} negative record vectors");

    // Every chain verdict holds.
    let chains = read_vector_file(CHAINS);
    let matter_of = |name: &Value| {
        matter::verify_matter(&bytes_at(&chains["matters"], name.as_str().unwrap())).unwrap()
    };
    let grant_of = |name: &Value| {
        grant::parse_grant(&bytes_at(&chains["grants"], name.as_str().unwrap())).unwrap()
    };
    let revocation_of = |name: &Value| {
        grant::parse_revocation(&bytes_at(&chains["revocations"], name.as_str().unwrap())).unwrap()
    };
    for c in chains["chains"].as_array().unwrap() {
        let known: Vec<_> = c["available"]
            .as_array()
            .unwrap()
            .iter()
            .map(grant_of)
            .collect();
        let revs: Vec<_> = c["revocations"]
            .as_array()
            .unwrap()
            .iter()
            .map(revocation_of)
            .collect();
        let got = grant::verify_grant_chain(
            &matter_of(&c["matter"]),
            &grant_of(&c["grant"]),
            &known[..],
            &revs,
            c["now"].as_u64().unwrap(),
        );
        match got {
            Ok(v) => {
                assert!(
                    c["error"].is_null(),
                    "{} verified but should fail",
                    c["name"]
                );
                let rights: Vec<_> = v.rights().names().collect();
                assert_eq!(json!(rights), c["rights"], "{}", c["name"]);
                assert_eq!(json!(v.chain().len()), c["chain_length"], "{}", c["name"]);
            }
            Err(e) => assert_eq!(
                Some(error_name(&e).as_str()),
                c["error"].as_str(),
                "{}",
                c["name"]
            ),
        }
    }
    for c in chains["revocation_checks"].as_array().unwrap() {
        let known: Vec<_> = c["available"]
            .as_array()
            .unwrap()
            .iter()
            .map(grant_of)
            .collect();
        let got = grant::verify_revocation(
            &matter_of(&json!("main")),
            &revocation_of(&c["revocation"]),
            &known[..],
        );
        assert_eq!(
            got.err().map(|e| error_name(&e)).as_deref(),
            c["error"].as_str(),
            "{}",
            c["name"]
        );
    }
}
