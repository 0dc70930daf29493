//! RFC 6962 / RFC 9162 proof vectors from transparency-dev/merkle, vendored
//! under `spec/vectors/merkle/` (Apache-2.0; see the README there).
//!
//! Each JSON file is one case: an inclusion proof (`leafIdx`, `treeSize`,
//! `root`, `leafHash`, `proof`) or a consistency proof (`size1`, `size2`,
//! `root1`, `root2`, `proof`), with `wantErr`. Every file is run; the
//! counts are asserted so that a file that stops being read fails the test.
//!
//! Hashes are base64. lexvault's API takes 32-byte [`Hash`] values, so a
//! value of another length cannot be passed: the case is rejected while
//! decoding, which counts as the verifier rejecting it. One family of values
//! is different: the generator's placeholders `don't care 1` and
//! `don't care 2`, which stand for "any root" in the cases about equal and
//! empty sizes. They are mapped to 32-byte stand-ins (SHA-256 of the
//! placeholder), keeping equal placeholders equal and different ones
//! different, which is what those cases test.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use lexvault_core::merkle::{self, Hash};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// Files under `inclusion/` and `consistency/`, and how many expect success.
const INCLUSION_CASES: usize = 98;
const INCLUSION_SUCCESSES: usize = 6;
const CONSISTENCY_CASES: usize = 98;
const CONSISTENCY_SUCCESSES: usize = 6;
/// `happy-path.json` files: five inclusion, five consistency.
const HAPPY_PATHS: usize = 10;

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// A base64 value as a [`Hash`], or `None` when it cannot be one.
fn hash(v: &Value) -> Option<Hash> {
    let bytes = STANDARD.decode(v.as_str().unwrap()).unwrap();
    if bytes.starts_with(b"don't care") {
        return Some(Sha256::digest(&bytes).into());
    }
    bytes.try_into().ok()
}

/// The proof's hashes; `null` is the empty proof.
fn proof(v: &Value) -> Option<Vec<Hash>> {
    match v {
        Value::Null => Some(Vec::new()),
        Value::Array(items) => items.iter().map(hash).collect(),
        other => panic!("proof is not an array: {other}"),
    }
}

fn run_inclusion(case: &Value) -> bool {
    let index = case["leafIdx"].as_u64().unwrap();
    let size = case["treeSize"].as_u64().unwrap();
    let (Some(leaf), Some(root), Some(proof)) = (
        hash(&case["leafHash"]),
        hash(&case["root"]),
        proof(&case["proof"]),
    ) else {
        return false;
    };
    merkle::verify_inclusion(index, size, &leaf, &proof, &root).is_ok()
}

fn run_consistency(case: &Value) -> bool {
    let size1 = case["size1"].as_u64().unwrap();
    let size2 = case["size2"].as_u64().unwrap();
    let (Some(root1), Some(root2), Some(proof)) = (
        hash(&case["root1"]),
        hash(&case["root2"]),
        proof(&case["proof"]),
    ) else {
        return false;
    };
    merkle::verify_consistency(size1, size2, &proof, &root1, &root2).is_ok()
}

/// Runs every case in `dir`; returns (cases, successes).
fn run_all(dir: &str, run: fn(&Value) -> bool) -> (usize, usize) {
    let files = json_files(&support::vectors_dir().join("merkle").join(dir));
    let mut successes = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let case: Value = serde_json::from_str(&text).unwrap();
        let want_err = case["wantErr"].as_bool().unwrap();
        let ok = run(&case);
        assert_eq!(
            ok,
            !want_err,
            "{}: {} (wantErr {want_err})",
            file.display(),
            case["desc"]
        );
        successes += usize::from(ok);
    }
    (files.len(), successes)
}

#[test]
fn inclusion_vectors() {
    let (cases, successes) = run_all("inclusion", run_inclusion);
    println!("merkle inclusion vectors: {cases} cases, {successes} valid proofs accepted");
    assert_eq!((cases, successes), (INCLUSION_CASES, INCLUSION_SUCCESSES));
}

#[test]
fn consistency_vectors() {
    let (cases, successes) = run_all("consistency", run_consistency);
    println!("merkle consistency vectors: {cases} cases, {successes} valid proofs accepted");
    assert_eq!(
        (cases, successes),
        (CONSISTENCY_CASES, CONSISTENCY_SUCCESSES)
    );
}

/// The leaf data of the RFC 6962 reference test tree (from the
/// certificate-transparency test suite), which the happy-path vectors use.
const REFERENCE_LEAVES: [&[u8]; 8] = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
];

/// Our proof generation reproduces every happy-path vector exactly: same
/// roots, same proof hashes, same order.
#[test]
fn generated_proofs_match_happy_paths() {
    let tree: Vec<Hash> = REFERENCE_LEAVES
        .iter()
        .map(|d| merkle::leaf_hash(d))
        .collect();
    let mut checked = 0;
    for kind in ["inclusion", "consistency"] {
        for file in json_files(&support::vectors_dir().join("merkle").join(kind)) {
            if file.file_name().is_none_or(|n| n != "happy-path.json") {
                continue;
            }
            let case: Value =
                serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            let want = proof(&case["proof"]).unwrap();
            if kind == "inclusion" {
                let size = case["treeSize"].as_u64().unwrap() as usize;
                let index = case["leafIdx"].as_u64().unwrap();
                assert_eq!(hash(&case["root"]), Some(merkle::root(&tree[..size])));
                assert_eq!(merkle::inclusion_proof(&tree[..size], index).unwrap(), want);
            } else {
                let size1 = case["size1"].as_u64().unwrap();
                let size2 = case["size2"].as_u64().unwrap();
                assert_eq!(
                    hash(&case["root1"]),
                    Some(merkle::root(&tree[..size1 as usize]))
                );
                assert_eq!(
                    hash(&case["root2"]),
                    Some(merkle::root(&tree[..size2 as usize]))
                );
                assert_eq!(
                    merkle::consistency_proof(&tree, size1, size2).unwrap(),
                    want
                );
            }
            checked += 1;
        }
    }
    println!("merkle happy paths regenerated byte for byte: {checked}");
    assert_eq!(checked, HAPPY_PATHS);
}
