//! Merkle tree hashing and proofs of RFC 9162 (spec: `spec/log.md`
//! §Merkle tree).
//!
//! The access log is an append-only list of entries whose Merkle tree hash
//! (RFC 9162 §2.1.1, unchanged from RFC 6962 §2.1) is signed in checkpoints.
//! This module computes leaf and node hashes, tree roots (all at once with
//! [`root`], or incrementally with [`CompactTree`] in O(log n) memory),
//! generates inclusion and consistency proofs for the server (§2.1.3.1,
//! §2.1.4.1), and verifies them for clients and auditors (§2.1.3.2,
//! §2.1.4.2). The two verifiers follow the RFC's numbered steps literally;
//! each step is marked in the code.
//!
//! Every function works on leaf *hashes*: compute them once with
//! [`leaf_hash`] over the exact entry bytes.
//!
//! ```
//! use lexvault_core::merkle::{self, CompactTree};
//!
//! let leaves: Vec<_> = (0u8..5).map(|i| merkle::leaf_hash(&[i])).collect();
//! let mut tree = CompactTree::new();
//! for leaf in &leaves {
//!     tree.push(*leaf);
//! }
//! let root = tree.root();
//! assert_eq!(root, merkle::root(&leaves));
//!
//! let proof = merkle::inclusion_proof(&leaves, 3)?;
//! merkle::verify_inclusion(3, 5, &leaves[3], &proof, &root)?;
//!
//! let old_root = merkle::root(&leaves[..2]);
//! let proof = merkle::consistency_proof(&leaves, 2, 5)?;
//! merkle::verify_consistency(2, 5, &proof, &old_root, &root)?;
//! # Ok::<(), merkle::ProofError>(())
//! ```

use sha2::{Digest as _, Sha256};

/// Length of a SHA-256 hash.
pub const HASH_LEN: usize = 32;

/// A SHA-256 hash: a leaf hash, an interior node hash or a tree root.
pub type Hash = [u8; HASH_LEN];

/// Domain-separation prefix of a leaf hash (RFC 9162 §2.1.1).
const LEAF_PREFIX: u8 = 0x00;
/// Domain-separation prefix of an interior node hash (RFC 9162 §2.1.1).
const NODE_PREFIX: u8 = 0x01;

/// Why a proof did not verify, or could not be generated.
///
/// Proofs are public data, so the variants say which check failed; none
/// of them carries a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// An inclusion proof's leaf index is not below the tree size.
    #[error("leaf index is not below the tree size")]
    IndexOutOfRange,
    /// A consistency proof's sizes are not `0 < size1 <= size2`.
    #[error("tree sizes are not 0 < size1 <= size2")]
    InvalidSizes,
    /// The proof has too few or too many hashes for the sizes given.
    #[error("proof has the wrong number of hashes")]
    WrongProofLength,
    /// The proof is well formed but leads to a different root.
    #[error("proof does not lead to the expected root")]
    RootMismatch,
    /// Proof generation: the requested tree is larger than the leaves given.
    #[error("tree size exceeds the number of leaves given")]
    TreeTooSmall,
    /// Proof generation: the source of subtree hashes could not provide one.
    #[error("a subtree hash is unavailable")]
    Unavailable,
}

/// The hash of a leaf: SHA-256(0x00 || `data`) (RFC 9162 §2.1.1).
#[must_use]
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([LEAF_PREFIX]);
    h.update(data);
    h.finalize().into()
}

/// The hash of an interior node: SHA-256(0x01 || `left` || `right`)
/// (RFC 9162 §2.1.1).
#[must_use]
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([NODE_PREFIX]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: SHA-256 of the empty string (RFC 9162
/// §2.1.1).
#[must_use]
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The Merkle tree hash MTH of a list of leaf hashes (RFC 9162 §2.1.1).
///
/// Runs in linear time and O(log n) extra memory.
#[must_use]
pub fn root(leaf_hashes: &[Hash]) -> Hash {
    let mut tree = CompactTree::new();
    for leaf in leaf_hashes {
        tree.push(*leaf);
    }
    tree.root()
}

/// An append-only Merkle tree that keeps only what it needs to compute the
/// root: the roots of the perfect subtrees that make up the tree, one per set
/// bit of the size (a "compact range" from index 0).
///
/// An auditor replaying the log pushes each entry's leaf hash and compares
/// [`CompactTree::root`] with every checkpoint it meets, in O(log n) memory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactTree {
    size: u64,
    /// Perfect subtree roots, largest (leftmost) first; their sizes are the
    /// set bits of `size`, from the most significant down.
    subtrees: Vec<Hash>,
}

impl CompactTree {
    /// An empty tree.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            size: 0,
            subtrees: Vec::new(),
        }
    }

    /// Restores a tree saved with [`CompactTree::size`] and
    /// [`CompactTree::subtrees`], so that an auditor can resume where it
    /// stopped. Returns `None` unless there is exactly one subtree hash per
    /// set bit of `size`.
    #[must_use]
    pub fn from_parts(size: u64, subtrees: Vec<Hash>) -> Option<Self> {
        (u64::from(size.count_ones()) == subtrees.len() as u64).then_some(Self { size, subtrees })
    }

    /// The number of leaves appended so far.
    #[must_use]
    pub const fn size(&self) -> u64 {
        self.size
    }

    /// The roots of the perfect subtrees that make up the tree, largest
    /// (leftmost) first: one per set bit of the size.
    #[must_use]
    pub fn subtrees(&self) -> &[Hash] {
        &self.subtrees
    }

    /// Appends a leaf hash (compute it with [`leaf_hash`]).
    pub fn push(&mut self, leaf_hash: Hash) {
        // Every trailing set bit of the old size is a perfect subtree of the
        // same size as the one being carried up; merge them, as in binary
        // addition.
        let mut carry = leaf_hash;
        let mut bits = self.size;
        while bits & 1 == 1 {
            let Some(left) = self.subtrees.pop() else {
                break;
            };
            carry = node_hash(&left, &carry);
            bits >>= 1;
        }
        self.subtrees.push(carry);
        self.size = self.size.saturating_add(1);
    }

    /// Appends a leaf hash and returns its inclusion proof in the grown
    /// tree: the audit path of the last leaf is the perfect subtrees of the
    /// tree before it, smallest (rightmost) first. This is how a log hands
    /// out a receipt for every append without keeping the leaves in memory.
    pub fn push_with_proof(&mut self, leaf_hash: Hash) -> Vec<Hash> {
        let proof = self.subtrees.iter().rev().copied().collect();
        self.push(leaf_hash);
        proof
    }

    /// Appends the leaf for entry bytes `data`: `push(leaf_hash(data))`.
    pub fn push_data(&mut self, data: &[u8]) {
        self.push(leaf_hash(data));
    }

    /// The Merkle tree hash at the current size (RFC 9162 §2.1.1).
    ///
    /// MTH splits a tree at the largest power of two below its size, so the
    /// root is the right-to-left fold of the perfect subtrees.
    #[must_use]
    pub fn root(&self) -> Hash {
        let mut subtrees = self.subtrees.iter().rev();
        let Some(last) = subtrees.next() else {
            return empty_root();
        };
        subtrees.fold(*last, |right, left| node_hash(left, &right))
    }
}

/// Verifies that `leaf_hash` is the leaf at `leaf_index` in the tree of
/// `tree_size` leaves with root `root`, given the inclusion `proof`.
///
/// Implements RFC 9162 §2.1.3.2 step by step.
pub fn verify_inclusion(
    leaf_index: u64,
    tree_size: u64,
    leaf_hash: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    // 1. leaf_index must be below tree_size.
    if leaf_index >= tree_size {
        return Err(ProofError::IndexOutOfRange);
    }
    // 2. fn = leaf_index, sn = tree_size - 1.
    let mut fn_ = leaf_index;
    let mut sn = tree_size - 1;
    // 3. r = hash.
    let mut r = *leaf_hash;
    // 4. For each p in the inclusion path:
    for p in proof {
        // a. sn = 0 with hashes left: the proof is too long.
        if sn == 0 {
            return Err(ProofError::WrongProofLength);
        }
        // b. p is a left sibling when fn is odd or on the right border.
        if fn_ & 1 == 1 || fn_ == sn {
            // i.
            r = node_hash(p, &r);
            // ii. Climb past the levels where the border node has no sibling.
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        // c.
        fn_ >>= 1;
        sn >>= 1;
    }
    // 5. sn = 0 (the path reached the root) and r = root.
    if sn != 0 {
        return Err(ProofError::WrongProofLength);
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Verifies that the tree of `size2` leaves with root `root2` extends the
/// tree of `size1` leaves with root `root1`, given the consistency `proof`.
///
/// Implements RFC 9162 §2.1.4.2 step by step, for `0 < size1 < size2`. Two
/// cases the RFC leaves out are settled as RFC 9162 §2.1.4.1 generates
/// them: equal sizes need an empty proof and equal roots. `size1 = 0` is
/// rejected ([`ProofError::InvalidSizes`]): the empty tree is a prefix of
/// every tree, so there is nothing to prove, and a caller that starts from
/// nothing must not call this at all.
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    proof: &[Hash],
    root1: &Hash,
    root2: &Hash,
) -> Result<(), ProofError> {
    if size1 == 0 || size1 > size2 {
        return Err(ProofError::InvalidSizes);
    }
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(ProofError::WrongProofLength);
        }
        if root1 != root2 {
            return Err(ProofError::RootMismatch);
        }
        return Ok(());
    }
    // 1. An empty consistency path fails.
    // 2. If size1 is a power of two, root1 is the path's implicit first
    //    element (we seed with it instead of copying the path).
    let (seed, rest) = if size1.is_power_of_two() {
        if proof.is_empty() {
            return Err(ProofError::WrongProofLength);
        }
        (root1, proof)
    } else {
        proof.split_first().ok_or(ProofError::WrongProofLength)?
    };
    // 3. fn = first - 1, sn = second - 1.
    let mut fn_ = size1 - 1;
    let mut sn = size2 - 1;
    // 4. While LSB(fn) is set, shift both right.
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    // 5. fr = sr = the first path element.
    let mut fr = *seed;
    let mut sr = *seed;
    // 6. For each subsequent c:
    for c in rest {
        // a.
        if sn == 0 {
            return Err(ProofError::WrongProofLength);
        }
        // b.
        if fn_ & 1 == 1 || fn_ == sn {
            // i., ii.
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            // iii.
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            // Otherwise c only extends the second tree.
            sr = node_hash(&sr, c);
        }
        // c.
        fn_ >>= 1;
        sn >>= 1;
    }
    // 7. sn = 0, fr = first_hash and sr = second_hash.
    if sn != 0 {
        return Err(ProofError::WrongProofLength);
    }
    if fr != *root1 || sr != *root2 {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Where proof generation gets the Merkle tree hash of a perfect, aligned
/// subtree: leaves `start..start + 2^k` with `start` a multiple of `2^k`.
/// A log that stores these hashes as it appends generates any proof with
/// O(log n) lookups instead of reading every leaf.
pub trait SubtreeHashes {
    /// MTH of the leaves `start..end`; `None` if unavailable.
    fn perfect_subtree(&mut self, start: u64, end: u64) -> Option<Hash>;
}

/// Leaf hashes in memory as a [`SubtreeHashes`].
struct Leaves<'a>(&'a [Hash]);

impl SubtreeHashes for Leaves<'_> {
    fn perfect_subtree(&mut self, start: u64, end: u64) -> Option<Hash> {
        let start = usize::try_from(start).ok()?;
        let end = usize::try_from(end).ok()?;
        self.0.get(start..end).map(root)
    }
}

/// The inclusion proof of leaf `index` in the tree of the first
/// `leaf_hashes.len()` leaves (RFC 9162 §2.1.3.1 PATH).
pub fn inclusion_proof(leaf_hashes: &[Hash], index: u64) -> Result<Vec<Hash>, ProofError> {
    inclusion_proof_from(&mut Leaves(leaf_hashes), index, leaf_hashes.len() as u64)
}

/// The consistency proof between the trees of the first `size1` and
/// `size2` of `leaf_hashes` (RFC 9162 §2.1.4.1 PROOF).
pub fn consistency_proof(
    leaf_hashes: &[Hash],
    size1: u64,
    size2: u64,
) -> Result<Vec<Hash>, ProofError> {
    if size2 > leaf_hashes.len() as u64 {
        return Err(ProofError::TreeTooSmall);
    }
    consistency_proof_from(&mut Leaves(leaf_hashes), size1, size2)
}

/// [`inclusion_proof`] over any [`SubtreeHashes`]: leaf `index` in the tree
/// of `size` leaves.
pub fn inclusion_proof_from(
    source: &mut dyn SubtreeHashes,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange);
    }
    let mut proof = Vec::new();
    path(source, index, 0, size, &mut proof)?;
    Ok(proof)
}

/// [`consistency_proof`] over any [`SubtreeHashes`].
pub fn consistency_proof_from(
    source: &mut dyn SubtreeHashes,
    size1: u64,
    size2: u64,
) -> Result<Vec<Hash>, ProofError> {
    if size1 == 0 || size1 > size2 {
        return Err(ProofError::InvalidSizes);
    }
    let mut proof = Vec::new();
    subproof(source, size1, 0, size2, true, &mut proof)?;
    Ok(proof)
}

/// The largest power of two strictly below `n`, for `n >= 2`.
fn split_point(n: u64) -> u64 {
    let below = n.saturating_sub(1).max(1);
    1 << (u64::BITS - 1 - below.leading_zeros())
}

/// MTH of the leaves `start..start + n`, split as RFC 9162 §2.1.1 splits
/// (every part it asks the source for is perfect and aligned, because the
/// ranges proof generation visits start at multiples of their split).
fn mth(source: &mut dyn SubtreeHashes, start: u64, n: u64) -> Result<Hash, ProofError> {
    if n == 0 {
        return Ok(empty_root());
    }
    if n.is_power_of_two() && start.is_multiple_of(n) {
        return source
            .perfect_subtree(start, start + n)
            .ok_or(ProofError::Unavailable);
    }
    let k = split_point(n);
    let left = mth(source, start, k)?;
    let right = mth(source, start + k, n - k)?;
    Ok(node_hash(&left, &right))
}

/// RFC 9162 §2.1.3.1 PATH(m, D\[start..start + n\]), appended to `out`
/// bottom-up.
fn path(
    source: &mut dyn SubtreeHashes,
    m: u64,
    start: u64,
    n: u64,
    out: &mut Vec<Hash>,
) -> Result<(), ProofError> {
    if n <= 1 {
        return Ok(());
    }
    let k = split_point(n);
    if m < k {
        path(source, m, start, k, out)?;
        out.push(mth(source, start + k, n - k)?);
    } else {
        path(source, m - k, start + k, n - k, out)?;
        out.push(mth(source, start, k)?);
    }
    Ok(())
}

/// RFC 9162 §2.1.4.1 SUBPROOF(m, D\[start..start + n\], b), appended to
/// `out` bottom-up.
fn subproof(
    source: &mut dyn SubtreeHashes,
    m: u64,
    start: u64,
    n: u64,
    b: bool,
    out: &mut Vec<Hash>,
) -> Result<(), ProofError> {
    if m == n {
        if !b {
            out.push(mth(source, start, n)?);
        }
        return Ok(());
    }
    if m > n || n < 2 {
        return Err(ProofError::TreeTooSmall);
    }
    let k = split_point(n);
    if m <= k {
        subproof(source, m, start, k, b, out)?;
        out.push(mth(source, start + k, n - k)?);
    } else {
        subproof(source, m - k, start + k, n - k, false, out)?;
        out.push(mth(source, start, k)?);
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    /// MTH exactly as RFC 9162 §2.1.1 writes it, recursively, as a reference.
    fn reference_root(leaves: &[Hash]) -> Hash {
        match leaves {
            [] => empty_root(),
            [one] => *one,
            _ => {
                let (l, r) = leaves.split_at(split_point(leaves.len() as u64) as usize);
                node_hash(&reference_root(l), &reference_root(r))
            }
        }
    }

    #[test]
    fn hashes_match_rfc_6962_test_data() {
        // Known values from the RFC 6962 reference test suite (the empty
        // tree and the empty leaf).
        assert_eq!(
            hex::encode(empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex::encode(leaf_hash(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
    }

    #[test]
    fn split_point_is_largest_power_below() {
        for (n, k) in [(2, 1), (3, 2), (4, 2), (5, 4), (8, 4), (9, 8), (1025, 1024)] {
            assert_eq!(split_point(n), k, "n = {n}");
        }
    }

    #[test]
    fn compact_tree_matches_reference_at_every_size() {
        let all = leaves(300);
        let mut tree = CompactTree::new();
        assert_eq!(tree.root(), empty_root());
        for (i, leaf) in all.iter().enumerate() {
            tree.push(*leaf);
            assert_eq!(tree.size(), i as u64 + 1);
            assert_eq!(tree.root(), reference_root(&all[..=i]), "size {}", i + 1);
        }
    }

    #[test]
    fn proofs_of_appended_leaves_match_generated_ones_and_verify() {
        let all = leaves(70);
        let mut tree = CompactTree::new();
        for (i, leaf) in all.iter().enumerate() {
            let proof = tree.push_with_proof(*leaf);
            let size = i as u64 + 1;
            assert_eq!(
                proof,
                inclusion_proof(&all[..=i], i as u64).unwrap(),
                "size {size}"
            );
            verify_inclusion(i as u64, size, leaf, &proof, &tree.root()).unwrap();
        }
    }

    /// A source that knows only perfect, aligned subtrees, as a log's
    /// stored nodes are: proof generation never asks it for anything else.
    struct PerfectOnly(Vec<Hash>);

    impl SubtreeHashes for PerfectOnly {
        fn perfect_subtree(&mut self, start: u64, end: u64) -> Option<Hash> {
            let n = end.checked_sub(start)?;
            let leaves = self.0.get(start as usize..end as usize)?;
            (n.is_power_of_two() && start.is_multiple_of(n)).then(|| root(leaves))
        }
    }

    #[test]
    fn proofs_need_only_perfect_aligned_subtrees() {
        let all = leaves(77);
        let mut source = PerfectOnly(all.clone());
        for size in 1..=77u64 {
            for index in 0..size {
                assert_eq!(
                    inclusion_proof_from(&mut source, index, size).unwrap(),
                    inclusion_proof(&all[..size as usize], index).unwrap()
                );
            }
            for old in 1..=size {
                assert_eq!(
                    consistency_proof_from(&mut source, old, size).unwrap(),
                    consistency_proof(&all, old, size).unwrap()
                );
            }
        }
        let mut nothing = PerfectOnly(Vec::new());
        assert_eq!(
            inclusion_proof_from(&mut nothing, 0, 2),
            Err(ProofError::Unavailable)
        );
    }

    #[test]
    fn compact_tree_resumes_from_its_parts() {
        let all = leaves(77);
        let mut tree = CompactTree::new();
        for leaf in &all[..50] {
            tree.push(*leaf);
        }
        let mut resumed = CompactTree::from_parts(tree.size(), tree.subtrees().to_vec()).unwrap();
        assert_eq!(resumed.subtrees().len(), 3); // 50 = 32 + 16 + 2
        for leaf in &all[50..] {
            resumed.push(*leaf);
        }
        assert_eq!(resumed.root(), root(&all));
        assert_eq!(CompactTree::from_parts(50, vec![[0; 32]; 2]), None);
        assert_eq!(CompactTree::from_parts(0, vec![]), Some(CompactTree::new()));
    }

    #[test]
    fn generation_rejects_bad_arguments() {
        let all = leaves(5);
        assert_eq!(inclusion_proof(&all, 5), Err(ProofError::IndexOutOfRange));
        assert_eq!(inclusion_proof(&[], 0), Err(ProofError::IndexOutOfRange));
        assert_eq!(consistency_proof(&all, 0, 3), Err(ProofError::InvalidSizes));
        assert_eq!(consistency_proof(&all, 4, 3), Err(ProofError::InvalidSizes));
        assert_eq!(consistency_proof(&all, 3, 6), Err(ProofError::TreeTooSmall));
        assert_eq!(consistency_proof(&all, 5, 5), Ok(vec![]));
    }

    #[test]
    fn exhaustive_small_trees() {
        let all = leaves(20);
        for n in 1..=20u64 {
            let tree = &all[..n as usize];
            let r = root(tree);
            for i in 0..n {
                let proof = inclusion_proof(tree, i).unwrap();
                assert_eq!(
                    verify_inclusion(i, n, &all[i as usize], &proof, &r),
                    Ok(()),
                    "inclusion {i} in {n}"
                );
            }
            for m in 1..=n {
                let proof = consistency_proof(tree, m, n).unwrap();
                let r1 = root(&all[..m as usize]);
                assert_eq!(
                    verify_consistency(m, n, &proof, &r1, &r),
                    Ok(()),
                    "consistency {m} -> {n}"
                );
            }
        }
    }

    #[test]
    fn consistency_from_empty_tree_is_rejected() {
        let r = empty_root();
        assert_eq!(
            verify_consistency(0, 0, &[], &r, &r),
            Err(ProofError::InvalidSizes)
        );
    }

    /// Every way of damaging an inclusion proof that must fail. `all` holds
    /// more leaves than the tree, so that a wrong size is checked against the
    /// honest root of that size: the tree size itself is bound only by the
    /// root (through the signed checkpoint), and some proofs are valid
    /// paths for several sizes.
    fn inclusion_mutations(index: u64, size: u64, all: &[Hash], proof: &[Hash], root: &Hash) {
        let leaf = &all[index as usize];
        // Wrong index in the same tree.
        for i in [
            index ^ 1,
            index.wrapping_add(1),
            index.wrapping_sub(1),
            index ^ 2,
        ] {
            if i != index {
                assert!(
                    verify_inclusion(i, size, leaf, proof, root).is_err(),
                    "index {i} accepted for {index}/{size}"
                );
            }
        }
        // Wrong size, against that size's root.
        for n in [size + 1, size * 2, size - 1, size / 2] {
            if n != size && (n as usize) <= all.len() {
                let r = super::root(&all[..n as usize]);
                assert!(
                    verify_inclusion(index, n, leaf, proof, &r).is_err(),
                    "size {n} accepted for {index}/{size}"
                );
            }
        }
        // One flipped bit in the leaf, the root or any proof hash.
        for byte in 0..HASH_LEN {
            let mut l = *leaf;
            l[byte] ^= 0x20;
            assert!(verify_inclusion(index, size, &l, proof, root).is_err());
            let mut r = *root;
            r[byte] ^= 0x01;
            assert!(verify_inclusion(index, size, leaf, proof, &r).is_err());
            for p in 0..proof.len() {
                let mut bad = proof.to_vec();
                bad[p][byte] ^= 0x80;
                assert!(verify_inclusion(index, size, leaf, &bad, root).is_err());
            }
        }
        // A hash removed, added or the order changed.
        if !proof.is_empty() {
            assert!(verify_inclusion(index, size, leaf, &proof[1..], root).is_err());
            assert!(verify_inclusion(index, size, leaf, &proof[..proof.len() - 1], root).is_err());
        }
        let mut longer = proof.to_vec();
        longer.push(*leaf);
        assert!(verify_inclusion(index, size, leaf, &longer, root).is_err());
        if proof.len() >= 2 && proof[0] != proof[1] {
            let mut swapped = proof.to_vec();
            swapped.swap(0, 1);
            assert!(verify_inclusion(index, size, leaf, &swapped, root).is_err());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn generated_inclusion_proofs_verify(size in 1u64..600, seed in any::<u64>()) {
            let all = leaves(2 * size + 2);
            let tree = &all[..size as usize];
            let index = seed % size;
            let r = root(tree);
            let proof = inclusion_proof(tree, index).unwrap();
            let leaf = all[index as usize];
            prop_assert_eq!(verify_inclusion(index, size, &leaf, &proof, &r), Ok(()));
            inclusion_mutations(index, size, &all, &proof, &r);
        }

        #[test]
        fn generated_consistency_proofs_verify(size2 in 2u64..600, seed in any::<u64>()) {
            let all = leaves(2 * size2 + 2);
            let size1 = 1 + seed % (size2 - 1);
            let r1 = root(&all[..size1 as usize]);
            let r2 = root(&all[..size2 as usize]);
            let proof = consistency_proof(&all, size1, size2).unwrap();
            prop_assert_eq!(verify_consistency(size1, size2, &proof, &r1, &r2), Ok(()));

            // Wrong sizes, each against the honest roots of those sizes (a
            // size is bound only by its root, as for inclusion).
            for (m, n) in [
                (size1 + 1, size2),
                (size1 - 1, size2),
                (size1 ^ 2, size2),
                (size1, size2 + 1),
                (size1, size2 - 1),
                (size1, size2 * 2),
            ] {
                if (m, n) != (size1, size2) {
                    let (h1, h2) = (root(&all[..m as usize]), root(&all[..n as usize]));
                    prop_assert!(verify_consistency(m, n, &proof, &h1, &h2).is_err());
                }
            }
            prop_assert!(verify_consistency(size1, size2, &proof, &r2, &r1).is_err());
            for byte in 0..HASH_LEN {
                let mut bad1 = r1;
                bad1[byte] ^= 0x04;
                prop_assert!(verify_consistency(size1, size2, &proof, &bad1, &r2).is_err());
                let mut bad2 = r2;
                bad2[byte] ^= 0x04;
                prop_assert!(verify_consistency(size1, size2, &proof, &r1, &bad2).is_err());
                for p in 0..proof.len() {
                    let mut bad = proof.clone();
                    bad[p][byte] ^= 0x10;
                    prop_assert!(verify_consistency(size1, size2, &bad, &r1, &r2).is_err());
                }
            }
            prop_assert!(verify_consistency(size1, size2, &proof[1..], &r1, &r2).is_err());
            let mut longer = proof.clone();
            longer.push(r1);
            prop_assert!(verify_consistency(size1, size2, &longer, &r1, &r2).is_err());
        }
    }
}
