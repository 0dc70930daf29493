//! `spec/vectors/segmented-digests.json`: the segmented digest of
//! `spec/documents.md` §Segmented digest, for both kinds, at the lengths
//! where segmentation can go wrong (none, part of one segment, exactly one,
//! one and a byte, several), and segment-digest lists a verifier must
//! refuse or that must give another root.
//!
//! The inputs are too long to store: byte i of every input is `i mod 251`,
//! and each vector gives the length. The segment digests are listed, so an
//! implementation that takes digests computed elsewhere (as the browser
//! does) can be checked on its own.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use lexvault_core::manifest::{PayloadDigest, PayloadHasher};
use lexvault_core::metadata::{PlaintextHasher, plaintext_digest};
use lexvault_core::segmented::{self, DigestKind, SEGMENT_LEN, root_from_segments};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use support::{check_vector_file, hex, read_vector_file, unhex};

const FILE: &str = "segmented-digests.json";

const LENGTHS: [usize; 6] = [
    0,
    1000,
    SEGMENT_LEN - 1,
    SEGMENT_LEN,
    SEGMENT_LEN + 1,
    3 * SEGMENT_LEN + 17,
];

fn input(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

fn kind_name(kind: DigestKind) -> &'static str {
    match kind {
        DigestKind::Payload => "payload",
        DigestKind::Plaintext => "plaintext",
    }
}

fn kind_from(name: &Value) -> DigestKind {
    match name.as_str().unwrap() {
        "payload" => DigestKind::Payload,
        "plaintext" => DigestKind::Plaintext,
        other => panic!("unknown kind {other}"),
    }
}

/// Segment digests by plain SHA-256 of each 1 MiB slice: what a browser
/// computes with `crypto.subtle.digest`, independent of the hasher.
fn segment_digests(bytes: &[u8]) -> Vec<[u8; 32]> {
    bytes
        .chunks(SEGMENT_LEN)
        .map(|s| Sha256::digest(s).into())
        .collect()
}

fn concat(digests: &[[u8; 32]]) -> Vec<u8> {
    digests.concat()
}

fn generate() -> Value {
    let mut valid = Vec::new();
    for kind in [DigestKind::Payload, DigestKind::Plaintext] {
        for len in LENGTHS {
            let bytes = input(len);
            let digests = segment_digests(&bytes);
            valid.push(json!({
                "kind": kind_name(kind),
                "len": len,
                "segment_digests": digests.iter().map(|d| hex(d)).collect::<Vec<_>>(),
                "root": hex(&segmented::digest(kind, &bytes)),
            }));
        }
    }

    // Lists that describe no input of the stated length, and lists that fit
    // but describe other bytes: the first are refused outright, the second
    // give a root other than the input's.
    let bytes = input(2 * SEGMENT_LEN + 5);
    let digests = segment_digests(&bytes);
    let len = bytes.len();
    let root = segmented::digest(DigestKind::Payload, &bytes);
    let mut swapped = digests.clone();
    swapped.swap(0, 1);
    let mut flipped = digests.clone();
    flipped[2][31] ^= 1;
    let refused = |description: &str, len: usize, list: &[[u8; 32]]| {
        json!({
            "description": description,
            "kind": "payload",
            "len": len,
            "segment_digests": list.iter().map(|d| hex(d)).collect::<Vec<_>>(),
            "result": "refused",
        })
    };
    let other = |description: &str, kind: DigestKind, len: usize, list: &[[u8; 32]]| {
        json!({
            "description": description,
            "kind": kind_name(kind),
            "len": len,
            "segment_digests": list.iter().map(|d| hex(d)).collect::<Vec<_>>(),
            "result": "another root",
        })
    };
    let empty_segment: [u8; 32] = Sha256::digest([]).into();
    let invalid = vec![
        refused("one segment digest missing", len, &digests[..2]),
        refused(
            "one segment digest too many",
            len,
            &[digests.clone(), vec![digests[0]]].concat(),
        ),
        refused(
            "empty input described by one empty segment",
            0,
            &[empty_segment],
        ),
        refused(
            "a whole number of segments with an empty segment after them",
            2 * SEGMENT_LEN,
            &[digests[0], digests[1], empty_segment],
        ),
        other(
            "first two segments swapped",
            DigestKind::Payload,
            len,
            &swapped,
        ),
        other(
            "last segment digest altered",
            DigestKind::Payload,
            len,
            &flipped,
        ),
        other(
            "length one short, same segment count",
            DigestKind::Payload,
            len - 1,
            &digests,
        ),
        other(
            "the plaintext kind over payload segments",
            DigestKind::Plaintext,
            len,
            &digests,
        ),
    ];
    json!({
        "description": "segmented SHA-256 digests (spec/documents.md §Segmented digest); byte i of every input is i mod 251",
        "segment_len": SEGMENT_LEN,
        "labels": {
            "payload": String::from_utf8(DigestKind::Payload.label().to_vec()).unwrap(),
            "plaintext": String::from_utf8(DigestKind::Plaintext.label().to_vec()).unwrap(),
        },
        "invalid_root_of": hex(&root),
        "valid": valid,
        "invalid": invalid,
    })
}

#[test]
fn generated_vectors_match_the_committed_file() {
    check_vector_file(FILE, &generate());
}

fn digests_at(v: &Value) -> Vec<u8> {
    v["segment_digests"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| unhex(d.as_str().unwrap()))
        .collect()
}

#[test]
fn committed_vectors_hold() {
    let file = read_vector_file(FILE);
    assert_eq!(file["segment_len"], SEGMENT_LEN);
    let valid = file["valid"].as_array().unwrap();
    assert_eq!(valid.len(), 2 * LENGTHS.len());
    for v in valid {
        let kind = kind_from(&v["kind"]);
        let len = usize::try_from(v["len"].as_u64().unwrap()).unwrap();
        let bytes = input(len);
        let root = unhex(v["root"].as_str().unwrap());
        let listed = digests_at(v);
        assert_eq!(listed, concat(&segment_digests(&bytes)), "{v}");
        assert_eq!(
            root_from_segments(kind, len as u64, &listed).map(Vec::from),
            Some(root.clone()),
            "{v}"
        );
        // Streamed through each kind's hasher, in pieces that straddle
        // segment boundaries.
        let (streamed, streamed_len) = match kind {
            DigestKind::Payload => {
                let mut h = PayloadHasher::new();
                bytes.chunks(65_552).for_each(|p| h.update(p));
                let (d, l) = h.finalize();
                (d.0, l)
            }
            DigestKind::Plaintext => {
                let mut h = PlaintextHasher::new();
                bytes.chunks(65_536 * 3 + 1).for_each(|p| h.update(p));
                h.finalize()
            }
        };
        assert_eq!(
            (streamed.to_vec(), streamed_len),
            (root.clone(), len as u64)
        );
        let whole = match kind {
            DigestKind::Payload => PayloadDigest::of(&bytes).0,
            DigestKind::Plaintext => plaintext_digest(&bytes),
        };
        assert_eq!(whole.to_vec(), root);
    }

    let invalid_root = unhex(file["invalid_root_of"].as_str().unwrap());
    let invalid = file["invalid"].as_array().unwrap();
    assert_eq!(invalid.len(), 8);
    for v in invalid {
        let kind = kind_from(&v["kind"]);
        let len = v["len"].as_u64().unwrap();
        let got = root_from_segments(kind, len, &digests_at(v));
        match v["result"].as_str().unwrap() {
            "refused" => assert_eq!(got, None, "{v}"),
            "another root" => {
                let got = got.unwrap_or_else(|| panic!("a fitting list is not refused: {v}"));
                assert_ne!(got.to_vec(), invalid_root, "{v}");
            }
            other => panic!("unknown result {other}"),
        }
    }
}
