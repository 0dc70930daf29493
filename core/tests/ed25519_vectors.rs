//! The C2SP/CCTV Ed25519 edge-case vectors, run through lexvault's own
//! verification path (spec: `spec/signatures.md`).
//!
//! Every one of the 914 vectors is fed to `SigningPublicKey::from_bytes` and
//! then `SigningPublicKey::verify_raw`, and its outcome is asserted against
//! the rule stated in `spec/signatures.md` §Policy, derived from the vector's
//! `flags` alone. A change in behaviour — a dependency upgrade that loosens
//! or tightens verification — fails this test.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::collections::BTreeMap;

use lexvault_core::keys::{SIGNATURE_LEN, SigningPublicKey, SigningSecretKey};
use lexvault_core::secret::SecretBytes;
use serde::Deserialize;

#[derive(Deserialize)]
struct Vector {
    number: usize,
    key: String,
    sig: String,
    msg: String,
    flags: Option<Vec<String>>,
}

/// Where a vector ended up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// `from_bytes` refused the public key.
    KeyRejected,
    /// The key parsed; `verify_raw` refused the signature.
    SignatureRejected,
    /// The signature verified.
    Accepted,
}

/// The flags that make our verifier reject a vector (spec:
/// `spec/signatures.md` §Policy).
const REJECTING_FLAGS: &[&str] = &[
    "low_order_A",
    "non_canonical_A",
    "low_order_R",
    "non_canonical_R",
    "low_order_residue",
];

/// The policy, as a function of the flags only.
fn expected_outcome(flags: &[String]) -> Outcome {
    let has = |f: &str| flags.iter().any(|g| g == f);
    if has("low_order_A") || has("non_canonical_A") {
        Outcome::KeyRejected
    } else if REJECTING_FLAGS.iter().any(|f| has(f)) {
        Outcome::SignatureRejected
    } else {
        Outcome::Accepted
    }
}

fn load() -> Vec<Vector> {
    let path = support::vectors_dir().join("ed25519/ed25519vectors.json");
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn run(v: &Vector) -> Outcome {
    let key: [u8; 32] = support::unhex(&v.key).try_into().unwrap();
    let sig: [u8; SIGNATURE_LEN] = support::unhex(&v.sig).try_into().unwrap();
    match SigningPublicKey::from_bytes(&key) {
        Err(_) => Outcome::KeyRejected,
        Ok(public) => match public.verify_raw(v.msg.as_bytes(), &sig) {
            Ok(()) => Outcome::Accepted,
            Err(_) => Outcome::SignatureRejected,
        },
    }
}

#[test]
fn every_vector_follows_the_flag_rule() {
    let vectors = load();
    assert_eq!(vectors.len(), 914);
    let mut counts: BTreeMap<Outcome, usize> = BTreeMap::new();
    let mut wrong = Vec::new();
    for (i, v) in vectors.iter().enumerate() {
        assert_eq!(v.number, i, "vectors are numbered in order");
        let flags = v.flags.clone().unwrap_or_default();
        let got = run(v);
        let want = expected_outcome(&flags);
        if got != want {
            wrong.push(format!(
                "#{} {flags:?}: got {got:?}, want {want:?}",
                v.number
            ));
        }
        *counts.entry(got).or_default() += 1;
    }
    assert!(
        wrong.is_empty(),
        "{} vectors disagree:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    // The counts documented in spec/signatures.md §Results.
    assert_eq!(counts.get(&Outcome::Accepted), Some(&43));
    assert_eq!(counts.get(&Outcome::SignatureRejected), Some(&345));
    assert_eq!(counts.get(&Outcome::KeyRejected), Some(&526));
}

/// The per-flag table in spec/signatures.md §Results: for each flag, how
/// many vectors carry it and how many of those we accept. Also pins how
/// ed25519-dalek's lenient `verify` (which matches Go's crypto/ed25519 on
/// these vectors) would have treated them, to show what strictness costs.
#[test]
fn per_flag_table_matches_the_spec() {
    let vectors = load();
    let mut table: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    for v in &vectors {
        let ours = run(v) == Outcome::Accepted;
        let key: [u8; 32] = support::unhex(&v.key).try_into().unwrap();
        let sig: [u8; SIGNATURE_LEN] = support::unhex(&v.sig).try_into().unwrap();
        let lenient = ed25519_dalek::VerifyingKey::from_bytes(&key).is_ok_and(|k| {
            use ed25519_dalek::Verifier as _;
            k.verify(
                v.msg.as_bytes(),
                &ed25519_dalek::Signature::from_bytes(&sig),
            )
            .is_ok()
        });
        let mut flags = v.flags.clone().unwrap_or_default();
        flags.push("(any)".into());
        for f in flags {
            let e = table.entry(f).or_default();
            e.0 += 1;
            e.1 += usize::from(ours);
            e.2 += usize::from(lenient);
        }
    }
    let got: Vec<(String, (usize, usize, usize))> = table.into_iter().collect();
    let want: Vec<(String, (usize, usize, usize))> = [
        ("(any)", (914, 43, 208)),
        ("low_order_A", (526, 0, 122)),
        ("low_order_R", (586, 0, 99)),
        ("low_order_component_A", (774, 42, 195)),
        ("low_order_component_R", (665, 35, 159)),
        ("low_order_residue", (583, 0, 0)),
        ("non_canonical_A", (226, 0, 36)),
        ("non_canonical_R", (316, 0, 0)),
        ("reencoded_k", (146, 0, 10)),
    ]
    .into_iter()
    .map(|(f, c)| (f.to_owned(), c))
    .collect();
    assert_eq!(got, want);
}

/// Our rule must not depend on flags the vectors never isolate: every
/// `reencoded_k` vector also has a non-canonical `A` or `R`, so the policy
/// needs no rule of its own for it.
#[test]
fn reencoded_k_never_appears_alone() {
    for v in load() {
        let flags = v.flags.unwrap_or_default();
        if flags.iter().any(|f| f == "reencoded_k") {
            assert!(
                flags
                    .iter()
                    .any(|f| f == "non_canonical_A" || f == "non_canonical_R"),
                "#{}",
                v.number
            );
        }
    }
}

const GROUP_ORDER_LE: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
];

/// Adds two little-endian 256-bit integers (no overflow for our inputs).
fn add_le(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let s = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = (s & 0xff) as u8;
        carry = s >> 8;
    }
    out
}

/// The CCTV vectors all have canonical `S`; this covers the other half of
/// malleability: `S + ℓ` verifies the same equation but must be refused.
#[test]
fn non_canonical_s_is_rejected() {
    let key = SigningSecretKey::from_seed(&SecretBytes::from_array(&mut [9u8; 32]));
    let public = key.public_key();
    let sig = key.sign_raw(b"message");
    assert_eq!(public.verify_raw(b"message", &sig), Ok(()));
    let mut s = [0u8; 32];
    s.copy_from_slice(&sig[32..]);
    let mut malleated = sig;
    malleated[32..].copy_from_slice(&add_le(&s, &GROUP_ORDER_LE));
    assert!(malleated[63] & 0xe0 == 0, "S + l still fits in 253 bits");
    assert!(public.verify_raw(b"message", &malleated).is_err());
}

/// The 2·19 encodings whose `y` is at least p = 2^255 − 19 are the
/// non-canonical encodings of `A` (besides "x = 0 with the sign bit set",
/// which only the small-order points y = ±1 have). The CCTV vectors only use
/// the small-order ones; this enumerates all 38.
///
/// KNOWN GAP, pinned so that it cannot change silently (spec:
/// `spec/signatures.md` §Known gap): the ten `y` whose point has large order
/// are *accepted* by `SigningPublicKey::from_bytes`, because ed25519-dalek's
/// `VerifyingKey` keeps the caller's bytes, so the `to_bytes() != bytes`
/// check in `keys.rs` never fires. When `keys.rs` compares against the
/// point's canonical re-encoding instead, `ACCEPTED_TODAY` becomes empty and
/// this test must be updated with it.
#[test]
fn non_canonical_key_encodings() {
    // Every encoding of y ≥ p is rejected, whether or not y mod p names a
    // point of large order: only the canonical encoding of a key is accepted.
    for y in 0u8..19 {
        for sign in [0u8, 0x80] {
            // p + y = 2^255 − 19 + y, little-endian, with the x sign bit.
            let mut bytes = [0xffu8; 32];
            bytes[0] = 0xed + y;
            bytes[31] = 0x7f | sign;
            assert!(
                SigningPublicKey::from_bytes(&bytes).is_err(),
                "y = p + {y}, sign {sign}"
            );
        }
    }
}
