//! Audit bundles: the whole access log with the records it names, exported
//! by the firm's administrator and verified offline by anyone (spec:
//! `spec/log.md`).
//!
//! [`export`] fetches the newest checkpoint, then every entry and the
//! signed records the entries name (`GET /v1/log/bundle`, at most
//! [`PAGE`] entries a call). [`verify`] replays the bundle without a
//! server: checkpoint signatures (and a witness quorum), the Merkle root at
//! every checkpoint size, each entry's form, index and evidence, the records
//! the entries name, the access rules, and receipts clients kept.
//!
//! # The audit bundle file
//!
//! Canonical CBOR (the same deterministic encoding as every lexvault
//! record):
//!
//! ```text
//! AuditBundle = {
//!   0: 1,          ; version
//!   1: tstr,       ; the log's note verifier key (name+id+key)
//!   2: [* tstr],   ; signed checkpoints (C2SP signed notes), newest included
//!   3: [* bstr],   ; log entries 0..n, the exact leaf data
//!   4: [* bstr],   ; signed records named by the entries' subjects
//! }
//! ```

use std::collections::{HashMap, HashSet};
use std::fmt;

use lexvault_core::api::{self, LogBundle, Receipt};
use lexvault_core::checkpoint::{self, WitnessKey};
use lexvault_core::grant::{self, Grant, Revocation, Rights};
use lexvault_core::key_bundle;
use lexvault_core::keys::{SigningPublicKey, SigningSecretKey};
use lexvault_core::log_entry::LogEntry;
use lexvault_core::manifest::{self, DocumentId};
use lexvault_core::matter::{self, MatterId, VerifiedMatter};
use lexvault_core::membership::MemberCertificate;
use lexvault_core::merkle::{self, CompactTree, Hash};
use lexvault_core::note::NoteVerifier;
use lexvault_core::request::SignedRequest;
use lexvault_core::signed::{RecordDigest, Signed};
use minicbor::bytes::ByteVec;
use minicbor::{Decode, Encode};

use crate::client::{Client, ClientError};
use crate::log::{self, LogError, LogMonitor, LogState};

/// The only audit bundle version this module reads and writes.
pub const AUDIT_BUNDLE_VERSION: u8 = 1;

/// The most entries asked for in one `GET /v1/log/bundle` call.
pub const PAGE: u64 = 1000;

/// The kind of the entry whose evidence is the administrator's key bundle.
pub const ADMINISTRATOR_SET: &str = "administrator-set";

/// An exported audit bundle (see the module documentation for its bytes).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct AuditBundle {
    /// Always [`AUDIT_BUNDLE_VERSION`].
    #[n(0)]
    pub version: u8,
    /// The log's note verifier key string.
    #[n(1)]
    pub verifier_key: String,
    /// Signed checkpoint notes.
    #[n(2)]
    pub checkpoints: Vec<String>,
    /// The log's entries, from index 0.
    #[n(3)]
    pub entries: Vec<ByteVec>,
    /// The signed records the entries name.
    #[n(4)]
    pub records: Vec<ByteVec>,
}

/// Why an audit bundle could not be exported or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The file is not a canonical audit bundle of a known version.
    #[error("not an audit bundle (or an unknown version of one)")]
    Malformed,
    /// The server's log failed the monitor's checks.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The server sent a page that does not match what was asked.
    #[error("the server sent an invalid log page: {0}")]
    Page(String),
    /// Talking to the server failed.
    #[error(transparent)]
    Client(#[from] ClientError),
}

impl AuditBundle {
    /// The bundle's canonical bytes.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        api::encode(self)
    }

    /// Reads a bundle, accepting only its canonical encoding.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, AuditError> {
        let bundle: Self = minicbor::decode(bytes).map_err(|_| AuditError::Malformed)?;
        if bundle.version != AUDIT_BUNDLE_VERSION || bundle.to_bytes() != bytes {
            return Err(AuditError::Malformed);
        }
        Ok(bundle)
    }
}

/// Exports the whole log as the administrator `key`: syncs `state` (the
/// checkpoint must be consistent with what this client saw before), then
/// fetches entries and records up to the newest checkpoint. `extra`
/// checkpoints (signed notes, e.g. from clients' receipts) are added.
pub fn export(
    client: &Client,
    key: &SigningSecretKey,
    state: &mut LogState,
    extra: Vec<String>,
) -> Result<AuditBundle, AuditError> {
    let (note, checkpoint) = LogMonitor::sync(client, key, state)?;
    let verifier = state
        .verifier()?
        .ok_or_else(|| AuditError::Page("no log key".into()))?;
    let mut entries = Vec::new();
    let mut records = Vec::new();
    let mut seen = HashSet::new();
    let mut start = 0u64;
    while start < checkpoint.size {
        let end = start.saturating_add(PAGE).min(checkpoint.size);
        let page: LogBundle =
            client.get(key, &format!("/v1/log/bundle?start={start}&end={end}"))?;
        if page.entries.len() as u64 != end - start {
            return Err(AuditError::Page(format!(
                "asked for entries {start}..{end}, got {}",
                page.entries.len()
            )));
        }
        entries.extend(page.entries);
        for record in page.records {
            if seen.insert(RecordDigest::of(&record)) {
                records.push(record);
            }
        }
        start = end;
    }
    let mut checkpoints = vec![note];
    for c in extra {
        if !checkpoints.contains(&c) {
            checkpoints.push(c);
        }
    }
    Ok(AuditBundle {
        version: AUDIT_BUNDLE_VERSION,
        verifier_key: verifier.to_string(),
        checkpoints,
        entries,
        records,
    })
}

/// How to verify a bundle.
#[derive(Debug, Default)]
pub struct VerifyOptions {
    /// The log key to verify checkpoints with; `None` trusts the bundle's
    /// own (reported as unpinned).
    pub log_key: Option<NoteVerifier>,
    /// Witnesses whose cosignatures count.
    pub witnesses: Vec<WitnessKey>,
    /// How many distinct witnesses must cosign each checkpoint (with
    /// witnesses configured; 1 if unset).
    pub quorum: Option<usize>,
    /// Receipts clients kept (the raw `Receipt` bytes).
    pub receipts: Vec<Vec<u8>>,
    /// How many threads verify signatures (0: the machine's parallelism).
    pub threads: usize,
}

/// What kind of rule an audit finding breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ViolationKind {
    /// The log key string is unusable.
    InvalidLogKey,
    /// A checkpoint does not verify under the log key.
    CheckpointSignature,
    /// A checkpoint lacks the configured witness quorum.
    WitnessQuorum,
    /// A checkpoint's root is not the root recomputed from the entries.
    RootMismatch,
    /// A checkpoint covers more entries than the bundle holds.
    MissingEntries,
    /// Entries lie beyond the newest checkpoint: no signed head covers them.
    UncoveredEntries,
    /// An entry does not parse.
    MalformedEntry,
    /// An entry's index is not its position.
    IndexMismatch,
    /// An entry's evidence does not verify.
    InvalidEvidence,
    /// An entry's evidence was signed by someone other than its actor.
    EvidenceSignerMismatch,
    /// A record in the bundle does not parse or verify.
    InvalidRecord,
    /// An entry names a record that the bundle lacks.
    MissingRecord,
    /// An entry names a record of the wrong type or matter.
    SubjectMismatch,
    /// A record in the bundle is named by no entry.
    UnreferencedRecord,
    /// A view or download not covered by the matter's creator or a grant in
    /// force at the time.
    AccessWithoutGrant,
    /// A receipt is malformed or its checkpoint does not verify.
    InvalidReceipt,
    /// A receipt's entry is not the bundle's entry at its index.
    ReceiptMismatch,
    /// A receipt's checkpoint is not consistent with the bundle's history.
    ReceiptFork,
    /// A login name the log bound to one key is bound to another key later.
    LoginNameRebound,
}

impl ViolationKind {
    /// The kind's stable name, as printed and in JSON.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::InvalidLogKey => "invalid-log-key",
            Self::CheckpointSignature => "checkpoint-signature",
            Self::WitnessQuorum => "witness-quorum",
            Self::RootMismatch => "root-mismatch",
            Self::MissingEntries => "missing-entries",
            Self::UncoveredEntries => "uncovered-entries",
            Self::MalformedEntry => "malformed-entry",
            Self::IndexMismatch => "index-mismatch",
            Self::InvalidEvidence => "invalid-evidence",
            Self::EvidenceSignerMismatch => "evidence-signer-mismatch",
            Self::InvalidRecord => "invalid-record",
            Self::MissingRecord => "missing-record",
            Self::SubjectMismatch => "subject-mismatch",
            Self::UnreferencedRecord => "unreferenced-record",
            Self::AccessWithoutGrant => "access-without-grant",
            Self::InvalidReceipt => "invalid-receipt",
            Self::ReceiptMismatch => "receipt-mismatch",
            Self::ReceiptFork => "receipt-fork",
            Self::LoginNameRebound => "login-name-rebound",
        }
    }
}

impl fmt::Display for ViolationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One broken rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The entry concerned, if one is.
    pub entry: Option<u64>,
    /// The rule broken.
    pub kind: ViolationKind,
    /// What exactly.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.entry {
            Some(i) => write!(f, "entry {i}: {}: {}", self.kind, self.detail),
            None => write!(f, "{}: {}", self.kind, self.detail),
        }
    }
}

/// What [`verify`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditReport {
    /// Entries in the bundle.
    pub entries: u64,
    /// Records in the bundle.
    pub records: u64,
    /// Checkpoints that verified, and whose root matched the entries.
    pub checkpoints_verified: u64,
    /// The newest verified checkpoint's size.
    pub tree_size: u64,
    /// Views and downloads whose authority was replayed.
    pub accesses_checked: u64,
    /// Receipts checked.
    pub receipts: u64,
    /// Whether the log key came from the bundle itself.
    pub unpinned_key: bool,
    /// Every broken rule, in the order found.
    pub violations: Vec<Violation>,
}

impl AuditReport {
    /// Whether nothing was found.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }

    /// Whether some violation is of `kind`, optionally at `entry`.
    #[must_use]
    pub fn has(&self, kind: ViolationKind, entry: Option<u64>) -> bool {
        self.violations
            .iter()
            .any(|v| v.kind == kind && (entry.is_none() || v.entry == entry))
    }

    fn push(&mut self, entry: Option<u64>, kind: ViolationKind, detail: impl Into<String>) {
        self.violations.push(Violation {
            entry,
            kind,
            detail: detail.into(),
        });
    }

    /// The report as JSON.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "ok": self.is_clean(),
            "entries": self.entries,
            "records": self.records,
            "checkpoints_verified": self.checkpoints_verified,
            "tree_size": self.tree_size,
            "accesses_checked": self.accesses_checked,
            "receipts": self.receipts,
            "unpinned_key": self.unpinned_key,
            "violations": self.violations.iter().map(|v| serde_json::json!({
                "entry": v.entry,
                "kind": v.kind.name(),
                "detail": v.detail,
            })).collect::<Vec<_>>(),
        })
    }
}

impl fmt::Display for AuditReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.unpinned_key {
            writeln!(
                f,
                "warning: the log key was taken from the bundle itself; pass --log-key to pin it"
            )?;
        }
        writeln!(
            f,
            "{} entries, {} records, {} checkpoints verified (tree size {}), {} accesses \
             checked, {} receipts",
            self.entries,
            self.records,
            self.checkpoints_verified,
            self.tree_size,
            self.accesses_checked,
            self.receipts
        )?;
        if self.violations.is_empty() {
            write!(f, "no violations")
        } else {
            writeln!(f, "{} violations:", self.violations.len())?;
            for (i, v) in self.violations.iter().enumerate() {
                if i > 0 {
                    writeln!(f)?;
                }
                write!(f, "  {v}")?;
            }
            Ok(())
        }
    }
}

/// A record of the bundle, parsed and verified.
enum Record {
    Matter(VerifiedMatter),
    Grant(Signed<Grant>),
    Revocation(Signed<Revocation>),
    Manifest(MatterId),
    Certificate,
    KeyBundle,
}

impl Record {
    fn parse(bytes: &[u8]) -> Option<Self> {
        if let Ok(m) = matter::verify_matter(bytes) {
            return Some(Self::Matter(m));
        }
        if let Ok(g) = grant::parse_grant(bytes) {
            return Some(Self::Grant(g));
        }
        if let Ok(r) = grant::parse_revocation(bytes) {
            return Some(Self::Revocation(r));
        }
        if let Ok(m) = manifest::verify_manifest(bytes) {
            return Some(Self::Manifest(*m.record().matter_id()));
        }
        if Signed::<MemberCertificate>::from_bytes(bytes).is_ok() {
            return Some(Self::Certificate);
        }
        if key_bundle::verify_key_bundle(bytes).is_ok() {
            return Some(Self::KeyBundle);
        }
        None
    }

    /// The matter a record belongs to, for the records that have one.
    fn matter(&self) -> Option<MatterId> {
        match self {
            Self::Matter(m) => Some(*m.id()),
            Self::Grant(g) => Some(*g.record().matter_id()),
            Self::Revocation(r) => Some(*r.record().matter_id()),
            Self::Manifest(m) => Some(*m),
            Self::Certificate | Self::KeyBundle => None,
        }
    }

    const fn type_name(&self) -> &'static str {
        match self {
            Self::Matter(_) => "matter",
            Self::Grant(_) => "grant",
            Self::Revocation(_) => "revocation",
            Self::Manifest(_) => "manifest",
            Self::Certificate => "member certificate",
            Self::KeyBundle => "key bundle",
        }
    }
}

/// The record type an entry of `kind` names as its subject, if the kind
/// names one the bundle must hold.
fn subject_type(kind: &str) -> Option<&'static str> {
    match kind {
        "matter-created" => Some("matter"),
        "granted" => Some("grant"),
        // The server names the revoked grant (see `AccessReplay::apply`);
        // a revocation record is accepted too.
        "revoked" => Some("grant or revocation"),
        "uploaded" => Some("manifest"),
        "certified" => Some("member certificate"),
        "registered" | ADMINISTRATOR_SET => Some("key bundle"),
        _ => None,
    }
}

/// Key transparency: a login name (a `password-set` entry's subject) stays
/// bound to the first key the log binds it to; the same name under another
/// key is a violation, since a server that rebinds a name can hand a new
/// device someone else's keys.
fn check_login_binding(
    first: &mut HashMap<[u8; 32], ([u8; 32], u64)>,
    index: u64,
    entry: &LogEntry,
    report: &mut AuditReport,
) {
    let (true, Some(subject)) = (entry.kind == "password-set", &entry.subject) else {
        return;
    };
    let (owner, at) = *first.entry(**subject).or_insert((*entry.actor, index));
    if owner != *entry.actor {
        report.push(
            Some(index),
            ViolationKind::LoginNameRebound,
            format!(
                "the login name bound to {} at entry {at} is bound here to {}",
                hex::encode(owner),
                hex::encode(*entry.actor)
            ),
        );
    }
}

/// What the parallel phase learns about one entry.
struct Checked {
    leaf: Hash,
    entry: Option<LogEntry>,
    violations: Vec<(ViolationKind, String)>,
}

fn check_entry(position: u64, bytes: &[u8]) -> Checked {
    let leaf = merkle::leaf_hash(bytes);
    let mut violations = Vec::new();
    let entry = match LogEntry::from_bytes(bytes) {
        Ok(e) => e,
        Err(e) => {
            violations.push((ViolationKind::MalformedEntry, e.to_string()));
            return Checked {
                leaf,
                entry: None,
                violations,
            };
        }
    };
    if entry.index != position {
        violations.push((
            ViolationKind::IndexMismatch,
            format!("the entry says it is entry {}", entry.index),
        ));
    }
    let signer: Result<SigningPublicKey, String> = if entry.kind == ADMINISTRATOR_SET {
        key_bundle::verify_key_bundle(&entry.evidence)
            .map(|b| b.identity().signing)
            .map_err(|e| e.to_string())
    } else {
        SignedRequest::from_evidence(&entry.evidence)
            .map(|r| *r.signer())
            .map_err(|e| e.to_string())
    };
    match signer {
        Err(e) => violations.push((ViolationKind::InvalidEvidence, e)),
        Ok(s) if s.to_bytes() != *entry.actor => violations.push((
            ViolationKind::EvidenceSignerMismatch,
            format!(
                "evidence signed by {}, entry names actor {}",
                hex::encode(s.to_bytes()),
                hex::encode(*entry.actor)
            ),
        )),
        Ok(_) => {}
    }
    // The replay needs no evidence: free it, a large log is held whole.
    let entry = LogEntry {
        evidence: Vec::new().into(),
        ..entry
    };
    Checked {
        leaf,
        entry: Some(entry),
        violations,
    }
}

/// Runs `f` over `items` on `threads` threads, keeping the order.
fn parallel_map<T: Sync, U: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(u64, &T) -> U + Sync,
) -> Vec<U> {
    let threads = threads.max(1);
    let chunk = items.len().div_ceil(threads).max(1);
    if threads == 1 || items.len() < 64 {
        return items
            .iter()
            .enumerate()
            .map(|(i, t)| f(i as u64, t))
            .collect();
    }
    std::thread::scope(|scope| {
        let f = &f;
        let handles: Vec<_> = items
            .chunks(chunk)
            .enumerate()
            .map(|(c, part)| {
                scope.spawn(move || {
                    let base = (c * chunk) as u64;
                    part.iter()
                        .enumerate()
                        .map(|(i, t)| f(base + i as u64, t))
                        .collect::<Vec<U>>()
                })
            })
            .collect();
        // A worker that panicked would drop its chunk and misalign the
        // replay: carry the panic on instead.
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// A checkpoint that verified, with the note it came from.
struct Head {
    size: u64,
    root: Hash,
    what: String,
}

/// Verifies `bundle` offline (see the module documentation). Never fails:
/// everything found is in the report.
#[must_use]
pub fn verify(bundle: &AuditBundle, options: &VerifyOptions) -> AuditReport {
    let mut report = AuditReport {
        entries: bundle.entries.len() as u64,
        records: bundle.records.len() as u64,
        ..AuditReport::default()
    };
    let threads = if options.threads == 0 {
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    } else {
        options.threads
    };

    // The log key.
    let verifier = match &options.log_key {
        Some(k) => Some(k.clone()),
        None => {
            report.unpinned_key = true;
            match log::parse_log_key(&bundle.verifier_key) {
                Ok(v) => Some(v),
                Err(e) => {
                    report.push(None, ViolationKind::InvalidLogKey, e.to_string());
                    None
                }
            }
        }
    };

    // Checkpoints: the bundle's, then those of receipts.
    let mut heads: Vec<Head> = Vec::new();
    if let Some(verifier) = &verifier {
        for (i, note) in bundle.checkpoints.iter().enumerate() {
            let what = format!("checkpoint {}", i + 1);
            match open_head(note, verifier, options) {
                Ok((size, root)) => heads.push(Head { size, root, what }),
                Err((kind, e)) => report.push(None, kind, format!("{what}: {e}")),
            }
        }
    }

    // Entries: form, index and evidence, in parallel.
    let checked = parallel_map(&bundle.entries, threads, |i, bytes| check_entry(i, bytes));
    // Records: parsed and verified, in parallel.
    let parsed = parallel_map(&bundle.records, threads, |_, bytes| {
        (RecordDigest::of(bytes), Record::parse(bytes))
    });
    let mut records: HashMap<RecordDigest, Record> = HashMap::new();
    for (i, (digest, record)) in parsed.into_iter().enumerate() {
        match record {
            Some(r) => {
                records.insert(digest, r);
            }
            None => report.push(
                None,
                ViolationKind::InvalidRecord,
                format!("record {} does not parse or verify", i + 1),
            ),
        }
    }

    // Receipts: decoded now, their checkpoints become heads to check.
    let mut receipt_heads: Vec<(usize, u64, Hash)> = Vec::new();
    for (n, bytes) in options.receipts.iter().enumerate() {
        report.receipts += 1;
        let what = format!("receipt {}", n + 1);
        let Ok(receipt) = api::decode::<Receipt>(bytes) else {
            report.push(
                None,
                ViolationKind::InvalidReceipt,
                format!("{what}: malformed"),
            );
            continue;
        };
        let at = Some(receipt.index);
        let in_bundle = usize::try_from(receipt.index)
            .ok()
            .and_then(|i| bundle.entries.get(i));
        if in_bundle.map(|e| &e[..]) != Some(&receipt.entry[..]) {
            report.push(
                at,
                ViolationKind::ReceiptMismatch,
                format!("{what}: the receipt's entry is not the bundle's entry at its index"),
            );
        }
        let Some(verifier) = &verifier else { continue };
        let opened = std::str::from_utf8(&receipt.checkpoint)
            .map_err(|e| e.to_string())
            .and_then(|note| log::open_checkpoint(note, verifier).map_err(|e| e.to_string()));
        let cp = match opened {
            Ok(cp) => cp,
            Err(e) => {
                report.push(at, ViolationKind::InvalidReceipt, format!("{what}: {e}"));
                continue;
            }
        };
        let proof: Vec<Hash> = receipt.proof.iter().map(|h| **h).collect();
        if let Err(e) = merkle::verify_inclusion(
            receipt.index,
            cp.size,
            &merkle::leaf_hash(&receipt.entry),
            &proof,
            &cp.root,
        ) {
            report.push(
                at,
                ViolationKind::InvalidReceipt,
                format!("{what}: inclusion proof: {e}"),
            );
        }
        receipt_heads.push((n, cp.size, cp.root));
    }

    // Sequential replay: roots at every checkpoint size, subjects and
    // access rules.
    let mut wanted: Vec<u64> = heads
        .iter()
        .map(|h| h.size)
        .chain(receipt_heads.iter().map(|r| r.1))
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut roots: HashMap<u64, Hash> = HashMap::new();
    let mut tree = CompactTree::new();
    if wanted.first() == Some(&0) {
        roots.insert(0, tree.root());
    }
    let mut access = AccessReplay::default();
    let mut login_names: HashMap<[u8; 32], ([u8; 32], u64)> = HashMap::new();
    let mut referenced: HashSet<RecordDigest> = HashSet::new();
    for (i, c) in checked.into_iter().enumerate() {
        let index = i as u64;
        for (kind, detail) in c.violations {
            report.push(Some(index), kind, detail);
        }
        tree.push(c.leaf);
        if wanted.binary_search(&tree.size()).is_ok() {
            roots.insert(tree.size(), tree.root());
        }
        let Some(entry) = c.entry else { continue };
        if let Some(subject) = &entry.subject {
            let digest = RecordDigest(**subject);
            referenced.insert(digest);
            let expected = subject_type(&entry.kind);
            match (records.get(&digest), expected) {
                (None, Some(t)) => report.push(
                    Some(index),
                    ViolationKind::MissingRecord,
                    format!(
                        "the {t} named by this {} entry is not in the bundle",
                        entry.kind
                    ),
                ),
                (Some(r), Some(t)) if !t.split(" or ").any(|t| t == r.type_name()) => report.push(
                    Some(index),
                    ViolationKind::SubjectMismatch,
                    format!("a {} entry names a {}", entry.kind, r.type_name()),
                ),
                (Some(r), _)
                    if r.matter().is_some()
                        && entry.matter_id.is_some()
                        && r.matter().map(|m| *m.as_bytes())
                            != entry.matter_id.as_ref().map(|m| **m) =>
                {
                    report.push(
                        Some(index),
                        ViolationKind::SubjectMismatch,
                        format!("the {} named belongs to another matter", r.type_name()),
                    );
                }
                _ => {}
            }
        }
        access.apply(index, &entry, &records, &mut report);
        check_login_binding(&mut login_names, index, &entry, &mut report);
    }
    for digest in records.keys() {
        if !referenced.contains(digest) {
            report.push(
                None,
                ViolationKind::UnreferencedRecord,
                format!("record {} is named by no entry", hex::encode(digest.0)),
            );
        }
    }

    // Roots against checkpoints.
    let n = report.entries;
    for head in &heads {
        match roots.get(&head.size) {
            None => report.push(
                None,
                ViolationKind::MissingEntries,
                format!(
                    "{} covers {} entries, the bundle holds {n}",
                    head.what, head.size
                ),
            ),
            Some(root) if *root != head.root => report.push(
                None,
                ViolationKind::RootMismatch,
                format!(
                    "{} (size {}) does not match the entries' Merkle root",
                    head.what, head.size
                ),
            ),
            Some(_) => {
                report.checkpoints_verified += 1;
                report.tree_size = report.tree_size.max(head.size);
            }
        }
    }
    if verifier.is_some() && report.tree_size < n {
        report.push(
            None,
            ViolationKind::UncoveredEntries,
            format!(
                "entries {}..{n} are covered by no verified checkpoint",
                report.tree_size
            ),
        );
    }
    for (n, size, root) in receipt_heads {
        if roots.get(&size) != Some(&root) {
            report.push(
                None,
                ViolationKind::ReceiptFork,
                format!(
                    "receipt {}: its checkpoint (size {size}) is not consistent with the bundle's history",
                    n + 1
                ),
            );
        }
    }
    report
}

fn open_head(
    note: &str,
    verifier: &NoteVerifier,
    options: &VerifyOptions,
) -> Result<(u64, Hash), (ViolationKind, String)> {
    let (cp, verified) = checkpoint::Checkpoint::open(note.as_bytes(), verifier.name(), verifier)
        .map_err(|e| (ViolationKind::CheckpointSignature, e.to_string()))?;
    if !options.witnesses.is_empty() {
        checkpoint::verify_quorum(&verified, &options.witnesses, options.quorum.unwrap_or(1))
            .map_err(|e| (ViolationKind::WitnessQuorum, e.to_string()))?;
    }
    Ok((cp.size, cp.root))
}

/// The access rules, replayed in log order: who created each matter, and
/// the grants and revocations recorded so far.
#[derive(Default)]
struct AccessReplay {
    matters: HashMap<MatterId, VerifiedMatter>,
    grants: HashMap<RecordDigest, Signed<Grant>>,
    /// Grants by matter and grantee signing key.
    held: HashMap<(MatterId, [u8; 32]), Vec<RecordDigest>>,
    revocations: HashMap<MatterId, Vec<Signed<Revocation>>>,
    /// Grants revoked by a `revoked` entry that names the grant itself
    /// (the server's form), with the entry's time.
    revoked_at: HashMap<RecordDigest, u64>,
}

impl AccessReplay {
    fn apply(
        &mut self,
        index: u64,
        entry: &LogEntry,
        records: &HashMap<RecordDigest, Record>,
        report: &mut AuditReport,
    ) {
        let subject = entry
            .subject
            .as_ref()
            .and_then(|s| records.get(&RecordDigest(**s)));
        match (entry.kind.as_str(), subject) {
            ("matter-created", Some(Record::Matter(m))) => {
                self.matters.insert(*m.id(), m.clone());
            }
            ("granted", Some(Record::Grant(g))) => {
                let record = g.record();
                let key = (*record.matter_id(), record.grantee().signing.to_bytes());
                self.held.entry(key).or_default().push(g.digest());
                self.grants.insert(g.digest(), g.clone());
            }
            ("revoked", Some(Record::Revocation(r))) => {
                self.revocations
                    .entry(*r.record().matter_id())
                    .or_default()
                    .push(r.clone());
            }
            ("revoked", Some(Record::Grant(g))) => {
                // The entry's evidence is the actor's signed request to
                // revoke; it counts if the actor may revoke that grant.
                if self.may_revoke(&entry.actor, g) {
                    self.revoked_at.entry(g.digest()).or_insert(entry.at);
                } else {
                    report.push(
                        Some(index),
                        ViolationKind::SubjectMismatch,
                        "the actor may not revoke the grant this entry names",
                    );
                }
            }
            ("viewed", _) => self.check(index, entry, Rights::VIEW, report),
            ("downloaded", _) => self.check(index, entry, Rights::DOWNLOAD, report),
            _ => {}
        }
    }

    /// The matter's creator or a grantor up the grant's chain (spec:
    /// `spec/grants.md` §Revocation).
    fn may_revoke(&self, actor: &[u8; 32], grant: &Signed<Grant>) -> bool {
        let creator = self
            .matters
            .get(grant.record().matter_id())
            .is_some_and(|m| m.creator().to_bytes() == *actor);
        let mut link = Some(grant);
        for _ in 0..=grant::MAX_CHAIN_DEPTH {
            let Some(g) = link else { break };
            if g.signer().to_bytes() == *actor {
                return true;
            }
            link = g.record().parent().and_then(|p| self.grants.get(p));
        }
        creator
    }

    fn check(&self, index: u64, entry: &LogEntry, rights: Rights, report: &mut AuditReport) {
        report.accesses_checked += 1;
        let (Some(matter_id), Some(document)) = (&entry.matter_id, &entry.document_id) else {
            report.push(
                Some(index),
                ViolationKind::AccessWithoutGrant,
                format!("a {} entry names no matter or document", entry.kind),
            );
            return;
        };
        let matter_id = MatterId::from_bytes(**matter_id);
        let document = DocumentId::from_bytes(**document);
        let Some(matter) = self.matters.get(&matter_id) else {
            report.push(
                Some(index),
                ViolationKind::AccessWithoutGrant,
                format!(
                    "{} in a matter whose creation is not in the log",
                    entry.kind
                ),
            );
            return;
        };
        if matter.creator().to_bytes() == *entry.actor {
            return;
        }
        let none = Vec::new();
        let revocations = self.revocations.get(&matter_id).unwrap_or(&none);
        let mut why = String::from("no grant to the actor was recorded before");
        for digest in self
            .held
            .get(&(matter_id, *entry.actor))
            .map_or(&[][..], Vec::as_slice)
        {
            let Some(g) = self.grants.get(digest) else {
                continue;
            };
            match grant::verify_grant_chain(matter, g, &self.grants, revocations, entry.at) {
                Ok(v)
                    if v.chain()
                        .iter()
                        .any(|d| self.revoked_at.get(d).is_some_and(|at| *at <= entry.at)) =>
                {
                    why = "the actor's grant had been revoked".into();
                }
                Ok(v) if v.allows(rights, &document, entry.at) => return,
                Ok(_) => why = "the actor's grants do not cover this right and document".into(),
                Err(e) => why = format!("the actor's grant does not hold: {e}"),
            }
        }
        report.push(
            Some(index),
            ViolationKind::AccessWithoutGrant,
            format!("{} by {}: {why}", entry.kind, hex::encode(*entry.actor)),
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bundles_round_trip_canonically() {
        let bundle = AuditBundle {
            version: AUDIT_BUNDLE_VERSION,
            verifier_key: "k".into(),
            checkpoints: vec!["c\n".into()],
            entries: vec![vec![1, 2].into()],
            records: vec![vec![3].into()],
        };
        let bytes = bundle.to_bytes();
        assert_eq!(AuditBundle::from_bytes(&bytes).unwrap(), bundle);
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(AuditBundle::from_bytes(&trailing).is_err());
        let mut v2 = bundle;
        v2.version = 2;
        assert!(AuditBundle::from_bytes(&v2.to_bytes()).is_err());
    }

    #[test]
    fn an_empty_bundle_has_nothing_covered() {
        let report = verify(
            &AuditBundle {
                version: AUDIT_BUNDLE_VERSION,
                verifier_key: "not a key".into(),
                checkpoints: Vec::new(),
                entries: vec![vec![0xff].into()],
                records: Vec::new(),
            },
            &VerifyOptions::default(),
        );
        assert!(report.unpinned_key);
        assert!(report.has(ViolationKind::InvalidLogKey, None));
        assert!(report.has(ViolationKind::MalformedEntry, Some(0)));
    }

    #[test]
    fn parallel_map_keeps_order() {
        let items: Vec<u64> = (0..1000).collect();
        for threads in [1, 2, 3, 7] {
            let out = parallel_map(&items, threads, |i, x| (i, *x * 2));
            assert!(
                out.iter()
                    .enumerate()
                    .all(|(n, (i, x))| *i == n as u64 && *x == 2 * n as u64)
            );
        }
    }
}
