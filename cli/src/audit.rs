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
use lexvault_core::grant::{
    self, AuthorityError, ChainError, Grant, GrantLookup, Revocation, Rights, Scope,
};
use lexvault_core::key_bundle;
use lexvault_core::keys::{SigningPublicKey, SigningSecretKey};
use lexvault_core::log_entry::{LogEntry, LogEntryError};
use lexvault_core::manifest::{self, DocumentId, Manifest, VersionNumber};
use lexvault_core::matter::{self, MatterId, VerifiedMatter};
use lexvault_core::membership::MemberCertificate;
use lexvault_core::merkle::{self, CompactTree, Hash};
use lexvault_core::note::NoteVerifier;
use lexvault_core::request::{ChainPosition, Request, SignedRequest};
use lexvault_core::signed::{self, RecordDigest, Signed, SignedRecordError};
use minicbor::bytes::ByteVec;
use minicbor::{Decode, Encode};
use sha2::{Digest as _, Sha256};

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

/// How [`verify_with`] checks the signatures of the entries' evidence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureCheck {
    /// In Ed25519 batches, each failing batch verified again one by one to
    /// name the entry (see `spec/log.md` §Audit bundles for how this
    /// differs from the strict policy).
    #[default]
    Batch,
    /// One by one, under the strict policy of `spec/signatures.md`.
    Strict,
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
    /// An upload by someone who is neither the matter's creator nor holds a
    /// grant with the upload right over the document in force at the time.
    UploadWithoutRight,
    /// An uploaded version that does not follow the document's latest
    /// version in the log (or starts a document at another version than 1).
    VersionOutOfOrder,
    /// A grant stored whose chain confers no authority at the time, or
    /// that the caller of the grant call did not sign.
    GrantWithoutAuthority,
    /// A revocation by someone not allowed to revoke that grant, or not
    /// signed by the caller.
    RevocationWithoutAuthority,
    /// A share link created by someone without the share right over the
    /// document at the time.
    ShareWithoutRight,
    /// A share link whose grant is not one the server accepts: not signed
    /// by the caller, not exactly view and download on the entry's one
    /// document, not ending within the longest lifetime, or not bound to
    /// the document's latest version.
    InvalidLinkGrant,
    /// A share-link entry that names no link created before it.
    UnknownLink,
    /// A share link opened or its payload fetched after it was revoked, or
    /// after its grant (or one up its chain) was.
    LinkUsedAfterRevocation,
    /// A share link opened or its payload fetched after it expired.
    LinkUsedAfterExpiry,
    /// A share link used while its grant's chain does not hold.
    LinkGrantNotInForce,
    /// A share link opened by a key that is neither the link's nor the key
    /// that claimed it.
    LinkUsedByWrongKey,
    /// A share link's payload fetched by a key that did not open the link
    /// within the download ticket's lifetime before.
    LinkDownloadWithoutOpen,
    /// A share link revoked by someone other than its creator or the
    /// matter's creator.
    LinkRevocationWithoutAuthority,
    /// A receipt is malformed or its checkpoint does not verify.
    InvalidReceipt,
    /// A receipt's entry is not the bundle's entry at its index.
    ReceiptMismatch,
    /// A receipt's checkpoint is not consistent with the bundle's history.
    ReceiptFork,
    /// An actor's request does not follow its previous one: a sequence
    /// number skipped or repeated, or a previous-entry hash that is not the
    /// actor's previous entry — an entry dropped, reordered or replayed.
    ActorChainBreak,
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
            Self::UploadWithoutRight => "upload-without-right",
            Self::VersionOutOfOrder => "version-out-of-order",
            Self::GrantWithoutAuthority => "grant-without-authority",
            Self::RevocationWithoutAuthority => "revocation-without-authority",
            Self::ShareWithoutRight => "share-without-right",
            Self::InvalidLinkGrant => "invalid-link-grant",
            Self::UnknownLink => "unknown-link",
            Self::LinkUsedAfterRevocation => "link-used-after-revocation",
            Self::LinkUsedAfterExpiry => "link-used-after-expiry",
            Self::LinkGrantNotInForce => "link-grant-not-in-force",
            Self::LinkUsedByWrongKey => "link-used-by-wrong-key",
            Self::LinkDownloadWithoutOpen => "link-download-without-open",
            Self::LinkRevocationWithoutAuthority => "link-revocation-without-authority",
            Self::InvalidReceipt => "invalid-receipt",
            Self::ReceiptMismatch => "receipt-mismatch",
            Self::ReceiptFork => "receipt-fork",
            Self::ActorChainBreak => "actor-chain-break",
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
    /// Uploads, grants, revocations and share-link entries whose authority
    /// was replayed.
    pub authority_checked: u64,
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
            "authority_checked": self.authority_checked,
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
             and {} other acts of authority checked, {} receipts",
            self.entries,
            self.records,
            self.checkpoints_verified,
            self.tree_size,
            self.accesses_checked,
            self.authority_checked,
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
    Manifest(Signed<Manifest>),
    Certificate,
    KeyBundle,
}

/// The record types entries name, to parse each record as the type its
/// entries expect before trying every type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RecordType {
    Matter,
    Grant,
    Revocation,
    Manifest,
    Certificate,
    KeyBundle,
}

impl Record {
    /// Parses `bytes` as `expected` if given and it fits, else as any type.
    /// Every attempt verifies a signature, so the right first guess saves
    /// up to five verifications a record.
    fn parse(bytes: &[u8], expected: Option<RecordType>) -> Option<Self> {
        if let Some(record) = expected.and_then(|t| Self::parse_as(t, bytes)) {
            return Some(record);
        }
        [
            RecordType::Matter,
            RecordType::Grant,
            RecordType::Revocation,
            RecordType::Manifest,
            RecordType::Certificate,
            RecordType::KeyBundle,
        ]
        .into_iter()
        .filter(|t| Some(*t) != expected)
        .find_map(|t| Self::parse_as(t, bytes))
    }

    fn parse_as(kind: RecordType, bytes: &[u8]) -> Option<Self> {
        match kind {
            RecordType::Matter => matter::verify_matter(bytes).ok().map(Self::Matter),
            RecordType::Grant => grant::parse_grant(bytes).ok().map(Self::Grant),
            RecordType::Revocation => grant::parse_revocation(bytes).ok().map(Self::Revocation),
            RecordType::Manifest => manifest::verify_manifest(bytes).ok().map(Self::Manifest),
            RecordType::Certificate => Signed::<MemberCertificate>::from_bytes(bytes)
                .ok()
                .map(|_| Self::Certificate),
            RecordType::KeyBundle => key_bundle::verify_key_bundle(bytes)
                .ok()
                .map(|_| Self::KeyBundle),
        }
    }

    /// The matter a record belongs to, for the records that have one.
    fn matter(&self) -> Option<MatterId> {
        match self {
            Self::Matter(m) => Some(*m.id()),
            Self::Grant(g) => Some(*g.record().matter_id()),
            Self::Revocation(r) => Some(*r.record().matter_id()),
            Self::Manifest(m) => Some(*m.record().matter_id()),
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

/// The entry kinds the replay acts on (spec: `spec/api.md` §Events).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    AdministratorSet,
    Registered,
    Certified,
    MatterCreated,
    Granted,
    Revoked,
    Uploaded,
    Viewed,
    Downloaded,
    LinkCreated,
    LinkOpened,
    LinkDownloaded,
    LinkRevoked,
    /// A login name bound to a key: the subject is the name's digest, not
    /// a record.
    PasswordSet,
    /// A kind the auditor gives no rule (`password-set`, `keys-added`, …).
    Other,
}

impl Kind {
    fn from_name(name: &str) -> Self {
        match name {
            ADMINISTRATOR_SET => Self::AdministratorSet,
            "registered" => Self::Registered,
            "certified" => Self::Certified,
            "matter-created" => Self::MatterCreated,
            "granted" => Self::Granted,
            "revoked" => Self::Revoked,
            "uploaded" => Self::Uploaded,
            "viewed" => Self::Viewed,
            "downloaded" => Self::Downloaded,
            "link-created" => Self::LinkCreated,
            "link-opened" => Self::LinkOpened,
            "link-downloaded" => Self::LinkDownloaded,
            "link-revoked" => Self::LinkRevoked,
            "password-set" => Self::PasswordSet,
            _ => Self::Other,
        }
    }

    const fn name(self) -> &'static str {
        match self {
            Self::AdministratorSet => ADMINISTRATOR_SET,
            Self::Registered => "registered",
            Self::Certified => "certified",
            Self::MatterCreated => "matter-created",
            Self::Granted => "granted",
            Self::Revoked => "revoked",
            Self::Uploaded => "uploaded",
            Self::Viewed => "viewed",
            Self::Downloaded => "downloaded",
            Self::LinkCreated => "link-created",
            Self::LinkOpened => "link-opened",
            Self::LinkDownloaded => "link-downloaded",
            Self::LinkRevoked => "link-revoked",
            Self::PasswordSet => "password-set",
            Self::Other => "other",
        }
    }

    /// The record types an entry of this kind names as its subject, if the
    /// kind names one the bundle must hold. The server's `revoked` entries
    /// name the revocation; a grant is accepted too (see
    /// `AccessReplay::revoked`).
    const fn subject_types(self) -> &'static [RecordType] {
        match self {
            Self::MatterCreated => &[RecordType::Matter],
            Self::Granted | Self::LinkCreated => &[RecordType::Grant],
            Self::Revoked => &[RecordType::Revocation, RecordType::Grant],
            Self::Uploaded => &[RecordType::Manifest],
            Self::Certified => &[RecordType::Certificate],
            Self::AdministratorSet | Self::Registered => &[RecordType::KeyBundle],
            _ => &[],
        }
    }
}

impl RecordType {
    const fn name(self) -> &'static str {
        match self {
            Self::Matter => "matter",
            Self::Grant => "grant",
            Self::Revocation => "revocation",
            Self::Manifest => "manifest",
            Self::Certificate => "member certificate",
            Self::KeyBundle => "key bundle",
        }
    }
}

/// What the replay needs of an entry: everything but its evidence, which
/// the parallel phase has verified (a large log is held whole, so the
/// evidence is not kept).
struct Event {
    at: u64,
    kind: Kind,
    /// The evidence is an upload request: a `granted` entry for a grant
    /// that came with an upload (the server logs those after the
    /// `uploaded` entry, with the same evidence).
    via_upload: bool,
    actor: [u8; 32],
    matter: Option<MatterId>,
    document: Option<DocumentId>,
    version: Option<u32>,
    subject: Option<RecordDigest>,
    /// Where the request stands in its actor's chain, with the digest of
    /// the evidence (to tell a request's further entries from the next
    /// request); `None` when the evidence is not a request.
    chain: Option<(ChainPosition, [u8; 32])>,
}

/// What the parallel phase learns about one entry.
struct Checked {
    leaf: Hash,
    event: Option<Event>,
    violations: Vec<(ViolationKind, String)>,
}

/// Entries (or records) whose signatures are verified in one Ed25519
/// batch. Larger batches share more of the multi-scalar multiplication: at
/// 1,024 the audit benchmark used a third less CPU than at 256.
pub const SIGNATURE_BATCH: usize = 1024;

/// Checks the entries `base..base + entries.len()`: their form, index and
/// evidence, the evidence's signatures in one batch unless `strict`.
fn check_entries(base: u64, entries: &[ByteVec], strict: bool) -> Vec<Checked> {
    let parsed: Vec<(Hash, Result<LogEntry, LogEntryError>)> = entries
        .iter()
        .map(|bytes| (merkle::leaf_hash(bytes), LogEntry::from_bytes(bytes)))
        .collect();
    let is_request = |e: &LogEntry| e.kind != ADMINISTRATOR_SET;
    let requests: Vec<&[u8]> = parsed
        .iter()
        .filter_map(|(_, e)| e.as_ref().ok().filter(|e| is_request(e)))
        .map(|e| &e.evidence[..])
        .collect();
    let mut verified = if strict {
        requests
            .iter()
            .map(|b| Signed::<Request>::from_bytes(b))
            .collect::<Vec<_>>()
    } else {
        signed::from_bytes_batch::<Request>(&requests)
    }
    .into_iter();
    let mut out = Vec::with_capacity(parsed.len());
    for (i, (leaf, entry)) in parsed.into_iter().enumerate() {
        let position = base + i as u64;
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                out.push(Checked {
                    leaf,
                    event: None,
                    violations: vec![(ViolationKind::MalformedEntry, e.to_string())],
                });
                continue;
            }
        };
        let request = if is_request(&entry) {
            verified.next()
        } else {
            None
        };
        out.push(check_entry(position, leaf, entry, request));
    }
    out
}

/// Checks one parsed entry, given its evidence's verdict if it is a
/// signed request.
fn check_entry(
    position: u64,
    leaf: Hash,
    entry: LogEntry,
    request: Option<Result<Signed<Request>, SignedRecordError>>,
) -> Checked {
    let mut violations = Vec::new();
    if entry.index != position {
        violations.push((
            ViolationKind::IndexMismatch,
            format!("the entry says it is entry {}", entry.index),
        ));
    }
    let kind = Kind::from_name(&entry.kind);
    let mut via_upload = false;
    let mut chain = None;
    let signer: Result<SigningPublicKey, String> = match request {
        None => key_bundle::verify_key_bundle(&entry.evidence)
            .map(|b| b.identity().signing)
            .map_err(|e| e.to_string()),
        Some(Ok(r)) => {
            let target = r.record().target();
            via_upload = target.method == "POST" && target.path.ends_with("/versions");
            chain = Some((
                r.record().position(),
                Sha256::digest(&entry.evidence[..]).into(),
            ));
            Ok(*r.signer())
        }
        // The request module's own reading names the broken rule.
        Some(Err(e)) => Err(SignedRequest::from_evidence(&entry.evidence)
            .err()
            .map_or_else(|| e.to_string(), |e| e.to_string())),
    };
    // Only a request its actor signed places the actor in its chain.
    if !matches!(&signer, Ok(s) if s.to_bytes() == *entry.actor) {
        chain = None;
    }
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
    let event = Event {
        at: entry.at,
        kind,
        via_upload,
        actor: *entry.actor,
        matter: entry.matter_id.map(|m| MatterId::from_bytes(*m)),
        document: entry.document_id.map(|d| DocumentId::from_bytes(*d)),
        version: entry.document_version,
        subject: entry.subject.map(|s| RecordDigest(*s)),
        chain,
    };
    Checked {
        leaf,
        event: Some(event),
        violations,
    }
}

/// A record's bytes, digest and the type its entries expect.
type TypedRecord<'a> = (&'a [u8], RecordDigest, Option<RecordType>);

/// Parses and verifies a group of records, each as the type its entries
/// expect: grants, revocations and manifests with their signatures checked
/// in one batch per type unless `strict` (a record the batch does not
/// accept, or of another type, is parsed on its own, strictly, as any
/// type — see [`Record::parse`]).
fn parse_records(group: &[TypedRecord<'_>], strict: bool) -> Vec<(RecordDigest, Option<Record>)> {
    let mut parsed: Vec<Option<Record>> = Vec::with_capacity(group.len());
    parsed.resize_with(group.len(), || None);
    if !strict {
        let of_type = |t: RecordType| -> (Vec<usize>, Vec<&[u8]>) {
            group
                .iter()
                .enumerate()
                .filter(|(_, (_, _, e))| *e == Some(t))
                .map(|(i, (bytes, _, _))| (i, *bytes))
                .unzip()
        };
        let (at, items) = of_type(RecordType::Grant);
        for (i, r) in at
            .into_iter()
            .zip(signed::from_bytes_batch::<Grant>(&items))
        {
            if let Some(slot) = parsed.get_mut(i) {
                *slot = r.ok().map(Record::Grant);
            }
        }
        let (at, items) = of_type(RecordType::Revocation);
        for (i, r) in at
            .into_iter()
            .zip(signed::from_bytes_batch::<Revocation>(&items))
        {
            if let Some(slot) = parsed.get_mut(i) {
                *slot = r.ok().map(Record::Revocation);
            }
        }
        let (at, items) = of_type(RecordType::Manifest);
        for (i, r) in at
            .into_iter()
            .zip(signed::from_bytes_batch::<Manifest>(&items))
        {
            if let Some(slot) = parsed.get_mut(i) {
                *slot = r.ok().map(Record::Manifest);
            }
        }
    }
    group
        .iter()
        .zip(parsed)
        .map(|((bytes, digest, expected), batched)| {
            (*digest, batched.or_else(|| Record::parse(bytes, *expected)))
        })
        .collect()
}

/// Each actor's chain as the log shows it (spec: `spec/log.md` §Actor
/// chains): per actor, its last request's position, evidence digest and
/// first entry's leaf hash.
#[derive(Default)]
struct ActorChains {
    heads: HashMap<[u8; 32], (ChainPosition, [u8; 32], Hash, u64)>,
}

impl ActorChains {
    /// Checks that `event`'s request follows its actor's previous one.
    fn follow(&mut self, index: u64, event: &Event, leaf: Hash, report: &mut AuditReport) {
        let Some((position, evidence)) = event.chain else {
            return;
        };
        let head = self.heads.get(&event.actor);
        if head.is_some_and(|(_, last, _, _)| *last == evidence) {
            return; // a further entry of the same request
        }
        let expected = head.map_or(ChainPosition::FIRST, |(p, _, first_leaf, _)| {
            p.next(*first_leaf)
        });
        if position != expected {
            let after = head.map_or_else(
                || "as the actor's first request".to_owned(),
                |(_, _, _, at)| format!("after the actor's request at entry {at}"),
            );
            let what = if position.sequence == expected.sequence {
                "names another previous entry".to_owned()
            } else {
                format!("is number {}", position.sequence)
            };
            report.push(
                Some(index),
                ViolationKind::ActorChainBreak,
                format!(
                    "the request {what}; expected number {} {after}: an entry of this actor \
                     is missing, reordered or replayed",
                    expected.sequence
                ),
            );
        }
        self.heads
            .insert(event.actor, (position, evidence, leaf, index));
    }
}

/// Key transparency: a login name (a `password-set` entry's subject) stays
/// bound to the first key the log binds it to; the same name under another
/// key is a violation, since a server that rebinds a name can hand a new
/// device someone else's keys.
#[derive(Default)]
struct LoginBindings {
    first: HashMap<RecordDigest, ([u8; 32], u64)>,
}

impl LoginBindings {
    fn follow(&mut self, index: u64, event: &Event, report: &mut AuditReport) {
        let (Kind::PasswordSet, Some(name)) = (event.kind, event.subject) else {
            return;
        };
        let (owner, at) = *self.first.entry(name).or_insert((event.actor, index));
        if owner != event.actor {
            report.push(
                Some(index),
                ViolationKind::LoginNameRebound,
                format!(
                    "the login name bound to {} at entry {at} is bound here to {}",
                    hex::encode(owner),
                    hex::encode(event.actor)
                ),
            );
        }
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

/// Entries checked in parallel per batch: bounds what is held besides the
/// replay's compact [`Event`]s.
const BATCH: usize = 1 << 15;

/// A checkpoint that verified, with the note it came from.
struct Head {
    size: u64,
    root: Hash,
    what: String,
}

/// Verifies `bundle` offline (see the module documentation), the
/// evidence's signatures in batches ([`SignatureCheck::Batch`]). Never
/// fails: everything found is in the report.
#[must_use]
pub fn verify(bundle: &AuditBundle, options: &VerifyOptions) -> AuditReport {
    verify_with(bundle, options, SignatureCheck::Batch)
}

/// [`verify`], with the evidence's signatures checked as `signatures` says.
#[must_use]
pub fn verify_with(
    bundle: &AuditBundle,
    options: &VerifyOptions,
    signatures: SignatureCheck,
) -> AuditReport {
    let strict = signatures == SignatureCheck::Strict;
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

    // Entries: form, index and evidence, in parallel batch by batch; the
    // Merkle roots at every checkpoint size as the leaves come in order.
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
    let mut events: Vec<Option<Event>> = Vec::with_capacity(bundle.entries.len());
    let mut chains = ActorChains::default();
    let mut logins = LoginBindings::default();
    for (b, batch) in bundle.entries.chunks(BATCH).enumerate() {
        let base = (b * BATCH) as u64;
        let groups: Vec<&[ByteVec]> = batch.chunks(SIGNATURE_BATCH).collect();
        let checked = parallel_map(&groups, threads, |g, group| {
            let first = base + g * SIGNATURE_BATCH as u64;
            check_entries(first, group, strict)
        });
        for (i, c) in checked.into_iter().flatten().enumerate() {
            let index = base + i as u64;
            for (kind, detail) in c.violations {
                report.push(Some(index), kind, detail);
            }
            if let Some(event) = &c.event {
                chains.follow(index, event, c.leaf, &mut report);
                logins.follow(index, event, &mut report);
            }
            tree.push(c.leaf);
            if wanted.binary_search(&tree.size()).is_ok() {
                roots.insert(tree.size(), tree.root());
            }
            events.push(c.event);
        }
    }

    // Records: each parsed (its signature verified) once, in parallel, as
    // the type the entries naming it expect.
    let mut expected: HashMap<RecordDigest, RecordType> = HashMap::new();
    for e in events.iter().flatten() {
        if let (Some(subject), Some(t)) = (e.subject, e.kind.subject_types().first()) {
            expected.entry(subject).or_insert(*t);
        }
    }
    let typed: Vec<TypedRecord<'_>> = bundle
        .records
        .iter()
        .map(|bytes| {
            let digest = RecordDigest::of(bytes);
            (&bytes[..], digest, expected.get(&digest).copied())
        })
        .collect();
    drop(expected);
    let groups: Vec<&[TypedRecord<'_>]> = typed.chunks(SIGNATURE_BATCH).collect();
    let parsed: Vec<(RecordDigest, Option<Record>)> =
        parallel_map(&groups, threads, |_, group| parse_records(group, strict))
            .into_iter()
            .flatten()
            .collect();
    let mut records: HashMap<RecordDigest, Record> = HashMap::with_capacity(parsed.len());
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

    // Sequential replay: subjects and access rules, in log order.
    let mut replay = AccessReplay::new(&records, &events);
    let mut referenced: HashSet<RecordDigest> = HashSet::new();
    for (i, event) in events.iter().enumerate() {
        let Some(event) = event else { continue };
        let index = i as u64;
        if let Some(digest) = event.subject {
            referenced.insert(digest);
            check_subject(index, event, records.get(&digest), &mut report);
        }
        replay.apply(i, event, &mut report);
    }
    report.accesses_checked = replay.accesses_checked;
    report.authority_checked = replay.authority_checked;
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

/// The record an entry names: present, of the type its kind names, and of
/// the entry's matter.
fn check_subject(index: u64, event: &Event, record: Option<&Record>, report: &mut AuditReport) {
    let expected = event.kind.subject_types();
    let kind = event.kind.name();
    match (record, expected.first()) {
        (None, Some(t)) => report.push(
            Some(index),
            ViolationKind::MissingRecord,
            format!(
                "the {} named by this {kind} entry is not in the bundle",
                t.name()
            ),
        ),
        (Some(r), Some(_)) if !expected.iter().any(|t| t.name() == r.type_name()) => {
            report.push(
                Some(index),
                ViolationKind::SubjectMismatch,
                format!("a {kind} entry names a {}", r.type_name()),
            );
        }
        (Some(r), _)
            if r.matter().is_some() && event.matter.is_some() && r.matter() != event.matter =>
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

/// The grants recorded so far, by digest, borrowed from the bundle's
/// records; with the grants arriving in the same call, when there are.
struct KnownGrants<'a> {
    recorded: HashMap<RecordDigest, &'a Signed<Grant>>,
}

struct WithArriving<'k, 'a> {
    known: &'k KnownGrants<'a>,
    arriving: &'k [&'a Signed<Grant>],
}

impl GrantLookup for KnownGrants<'_> {
    fn grant_by_digest(&self, digest: &RecordDigest) -> Option<&Signed<Grant>> {
        self.recorded.get(digest).copied()
    }
}

impl GrantLookup for WithArriving<'_, '_> {
    fn grant_by_digest(&self, digest: &RecordDigest) -> Option<&Signed<Grant>> {
        self.known.grant_by_digest(digest).or_else(|| {
            self.arriving
                .iter()
                .find(|g| g.digest() == *digest)
                .copied()
        })
    }
}

/// A share link, as the log shows it (keyed by its grant's digest).
struct LinkState<'a> {
    grant: &'a Signed<Grant>,
    /// Who made it.
    creator: [u8; 32],
    /// The link's own key: the grant's grantee.
    key: [u8; 32],
    /// The entry that revoked it, by someone allowed to.
    revoked_by_entry: Option<u64>,
    /// Opens by the link's own key.
    opens_by_link_key: u64,
    /// The key that claimed a claim-once link (inferred: the only other
    /// key that may open it, after the claiming open by the link's key).
    claimer: Option<[u8; 32]>,
    /// The last open by the link's key and by its claimer, for download
    /// tickets.
    last_open: Vec<([u8; 32], u64)>,
}

/// The longest a share link may live (spec: `spec/links.md` §API).
pub const MAX_LINK_LIFETIME_SECS: u64 = 90 * 24 * 60 * 60;

/// How long a link's download ticket lasts after the open that issued it
/// (spec: `spec/links.md` §API: an hour).
pub const LINK_TICKET_LIFETIME_SECS: u64 = 60 * 60;

/// The access rules, replayed in log order: who created each matter, the
/// grants, revocations, documents and share links recorded so far.
struct AccessReplay<'a> {
    records: &'a HashMap<RecordDigest, Record>,
    events: &'a [Option<Event>],
    matters: HashMap<MatterId, &'a VerifiedMatter>,
    grants: KnownGrants<'a>,
    /// Grants by matter and grantee signing key.
    held: HashMap<(MatterId, [u8; 32]), Vec<RecordDigest>>,
    revocations: HashMap<MatterId, Vec<Signed<Revocation>>>,
    /// Grants revoked by a `revoked` entry that names the grant itself,
    /// with the entry's time.
    revoked_at: HashMap<RecordDigest, u64>,
    /// Each document's matter and latest manifest.
    documents: HashMap<DocumentId, &'a Signed<Manifest>>,
    /// Share links by their grant's digest.
    links: HashMap<RecordDigest, LinkState<'a>>,
    /// The keys of share links: they open documents only through their
    /// link, never through a grant's generic access.
    link_keys: HashSet<[u8; 32]>,
    accesses_checked: u64,
    authority_checked: u64,
}

impl<'a> AccessReplay<'a> {
    fn new(records: &'a HashMap<RecordDigest, Record>, events: &'a [Option<Event>]) -> Self {
        Self {
            records,
            events,
            matters: HashMap::new(),
            grants: KnownGrants {
                recorded: HashMap::new(),
            },
            held: HashMap::new(),
            revocations: HashMap::new(),
            revoked_at: HashMap::new(),
            documents: HashMap::new(),
            links: HashMap::new(),
            link_keys: HashSet::new(),
            accesses_checked: 0,
            authority_checked: 0,
        }
    }

    fn apply(&mut self, position: usize, event: &Event, report: &mut AuditReport) {
        let index = position as u64;
        let records = self.records;
        let subject = event.subject.as_ref().and_then(|s| records.get(s));
        match (event.kind, subject) {
            (Kind::MatterCreated, Some(Record::Matter(m))) => {
                self.matters.insert(*m.id(), m);
            }
            (Kind::Granted, Some(Record::Grant(g))) => self.granted(position, event, g, report),
            (Kind::Revoked, Some(Record::Revocation(r))) => self.revoked(index, event, r, report),
            (Kind::Revoked, Some(Record::Grant(g))) => {
                // The entry's evidence is the actor's signed request to
                // revoke; it counts if the actor may revoke that grant.
                self.authority_checked += 1;
                if self.may_revoke(&event.actor, g) {
                    self.revoked_at.entry(g.digest()).or_insert(event.at);
                } else {
                    report.push(
                        Some(index),
                        ViolationKind::RevocationWithoutAuthority,
                        "the actor may not revoke the grant this entry names",
                    );
                }
            }
            (Kind::Uploaded, Some(Record::Manifest(m))) => self.uploaded(index, event, m, report),
            (Kind::Viewed, _) => self.check(index, event, Rights::VIEW, report),
            (Kind::Downloaded, _) => self.check(index, event, Rights::DOWNLOAD, report),
            (Kind::LinkCreated, Some(Record::Grant(g))) => {
                self.link_created(index, event, g, report);
            }
            (Kind::LinkOpened | Kind::LinkDownloaded | Kind::LinkRevoked, _) => {
                self.link_used(index, event, report);
            }
            _ => {}
        }
    }

    fn matter_of(&self, event: &Event) -> Result<&'a VerifiedMatter, String> {
        let Some(matter_id) = &event.matter else {
            return Err(format!("a {} entry names no matter", event.kind.name()));
        };
        self.matters.get(matter_id).copied().ok_or_else(|| {
            format!(
                "{} in a matter whose creation is not in the log",
                event.kind.name()
            )
        })
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
            link = g
                .record()
                .parent()
                .and_then(|p| self.grants.grant_by_digest(p));
        }
        creator
    }

    /// Whether `actor` holds every right in `rights` over `document` at
    /// `at` in `matter`: its creator, or a grantee whose grant's chain is
    /// in force then (the server's `MatterAccess::allows`). The error says
    /// why not.
    fn allows(
        &self,
        matter: &VerifiedMatter,
        actor: &[u8; 32],
        rights: Rights,
        document: &DocumentId,
        at: u64,
    ) -> Result<(), String> {
        if matter.creator().to_bytes() == *actor {
            return Ok(());
        }
        if self.link_keys.contains(actor) {
            return Err("a share link's key acts only through its link".into());
        }
        let none = Vec::new();
        let revocations = self.revocations.get(matter.id()).unwrap_or(&none);
        let mut why = String::from("no grant to the actor was recorded before");
        for digest in self
            .held
            .get(&(*matter.id(), *actor))
            .map_or(&[][..], Vec::as_slice)
        {
            let Some(g) = self.grants.grant_by_digest(digest) else {
                continue;
            };
            // The rule every client applies (`grant::authority_at`), plus
            // the revocations only the log shows.
            match grant::grant_allows(matter, g, &self.grants, revocations, rights, document, at) {
                Ok(v)
                    if v.chain()
                        .iter()
                        .any(|d| self.revoked_at.get(d).is_some_and(|t| *t <= at)) =>
                {
                    why = "the actor's grant had been revoked".into();
                }
                Ok(_) => return Ok(()),
                Err(AuthorityError::Chain(e)) => {
                    why = format!("the actor's grant does not hold: {e}");
                }
                Err(_) => why = "the actor's grants do not cover this right and document".into(),
            }
        }
        Err(why)
    }

    /// A view or a download: by the matter's creator or under a grant in
    /// force.
    fn check(&mut self, index: u64, event: &Event, rights: Rights, report: &mut AuditReport) {
        self.accesses_checked += 1;
        let verdict = match (self.matter_of(event), &event.document) {
            (Err(e), _) => Err(e),
            (Ok(_), None) => Err(format!("a {} entry names no document", event.kind.name())),
            (Ok(matter), Some(document)) => {
                self.allows(matter, &event.actor, rights, document, event.at)
            }
        };
        if let Err(why) = verdict {
            report.push(
                Some(index),
                ViolationKind::AccessWithoutGrant,
                format!(
                    "{} by {}: {why}",
                    event.kind.name(),
                    hex::encode(event.actor)
                ),
            );
        }
    }

    /// A `granted` entry: the grant's chain must confer authority at that
    /// moment, and a grant made by the grant call is signed by its caller
    /// (the server's `add_grant` and upload checks).
    fn granted(
        &mut self,
        position: usize,
        event: &Event,
        g: &'a Signed<Grant>,
        report: &mut AuditReport,
    ) {
        self.authority_checked += 1;
        let index = position as u64;
        let record = g.record();
        let digest = g.digest();
        let verdict = self.matter_of(event).and_then(|matter| {
            if !event.via_upload && g.signer().to_bytes() != event.actor {
                return Err("the grant is signed by someone other than the actor".into());
            }
            let arriving = self.arriving_with(position, event);
            let lookup = WithArriving {
                known: &self.grants,
                arriving: &arriving,
            };
            let none = Vec::new();
            let revocations = self.revocations.get(matter.id()).unwrap_or(&none);
            grant::verify_grant_chain(matter, g, &lookup, revocations, event.at)
                .map(|_| ())
                .map_err(|e| format!("the grant confers nothing: {e}"))
        });
        if let Err(why) = verdict {
            report.push(Some(index), ViolationKind::GrantWithoutAuthority, why);
        }
        // Recorded either way: what rests on it is judged by its chain.
        let key = (*record.matter_id(), record.grantee().signing.to_bytes());
        self.held.entry(key).or_default().push(digest);
        self.grants.recorded.insert(digest, g);
    }

    /// The grants that came with the same upload as the `granted` entry at
    /// `position`: the run of `granted` entries with the same upload
    /// evidence around it (the server appends them together). They may be
    /// one another's parents.
    fn arriving_with(&self, position: usize, event: &Event) -> Vec<&'a Signed<Grant>> {
        if !event.via_upload {
            return Vec::new();
        }
        let records = self.records;
        let same_call = |e: &&Option<Event>| {
            e.as_ref().is_some_and(|e| {
                e.kind == Kind::Granted
                    && e.via_upload
                    && e.actor == event.actor
                    && e.at == event.at
            })
        };
        let before = self
            .events
            .get(..position)
            .unwrap_or_default()
            .iter()
            .rev()
            .take_while(same_call);
        let after = self
            .events
            .get(position..)
            .unwrap_or_default()
            .iter()
            .take_while(same_call);
        before
            .chain(after)
            .filter_map(|e| e.as_ref()?.subject)
            .filter_map(|s| match records.get(&s) {
                Some(Record::Grant(g)) => Some(g),
                _ => None,
            })
            .collect()
    }

    /// A `revoked` entry naming the revocation: signed by the actor, who
    /// must be allowed to revoke that grant (spec: `spec/grants.md`
    /// §Revocation).
    fn revoked(
        &mut self,
        index: u64,
        event: &Event,
        r: &'a Signed<Revocation>,
        report: &mut AuditReport,
    ) {
        self.authority_checked += 1;
        let verdict = self.matter_of(event).and_then(|matter| {
            if r.signer().to_bytes() != event.actor {
                return Err("the revocation is signed by someone other than the actor".into());
            }
            grant::verify_revocation(matter, r, &self.grants)
                .map_err(|e| format!("the revocation is refused: {e}"))
        });
        match verdict {
            Ok(()) => self
                .revocations
                .entry(*r.record().matter_id())
                .or_default()
                .push(r.clone()),
            Err(why) => report.push(Some(index), ViolationKind::RevocationWithoutAuthority, why),
        }
    }

    /// An `uploaded` entry: the manifest is the uploader's and the
    /// entry's, the uploader may upload that document then, and the
    /// version follows the document's latest one.
    fn uploaded(
        &mut self,
        index: u64,
        event: &Event,
        m: &'a Signed<Manifest>,
        report: &mut AuditReport,
    ) {
        self.authority_checked += 1;
        let terms = m.record();
        if m.signer().to_bytes() != event.actor {
            report.push(
                Some(index),
                ViolationKind::SubjectMismatch,
                "the manifest is signed by someone other than the uploader",
            );
        }
        if event.document != Some(*terms.document_id())
            || event.version != Some(terms.version().get())
        {
            report.push(
                Some(index),
                ViolationKind::SubjectMismatch,
                "the manifest is for another document or version than the entry",
            );
        }
        let document = terms.document_id();
        let allowed = self.matter_of(event).and_then(|matter| {
            self.allows(matter, &event.actor, Rights::UPLOAD, document, event.at)
        });
        if let Err(why) = allowed {
            report.push(
                Some(index),
                ViolationKind::UploadWithoutRight,
                format!("uploaded by {}: {why}", hex::encode(event.actor)),
            );
        }
        let follows = match self.documents.get(document) {
            None => terms.version() == VersionNumber::FIRST && terms.previous().is_none(),
            Some(latest) => manifest::verify_succession(latest, m).is_ok(),
        };
        if !follows {
            report.push(
                Some(index),
                ViolationKind::VersionOutOfOrder,
                format!(
                    "version {} does not follow the document's latest version in the log",
                    terms.version().get()
                ),
            );
        }
        self.documents.insert(*document, m);
    }

    /// A `link-created` entry: the grant is the server's form of a link
    /// grant, signed by the actor, who may share the document then (spec:
    /// `spec/links.md` §API).
    fn link_created(
        &mut self,
        index: u64,
        event: &Event,
        g: &'a Signed<Grant>,
        report: &mut AuditReport,
    ) {
        self.authority_checked += 1;
        let record = g.record();
        let digest = g.digest();
        let form = self.link_grant_form(event, g);
        if let Err(why) = &form {
            report.push(Some(index), ViolationKind::InvalidLinkGrant, why.clone());
        }
        let allowed = self.matter_of(event).and_then(|matter| {
            let Scope::Document(document) = record.scope() else {
                return Ok(());
            };
            self.allows(matter, &event.actor, Rights::SHARE, document, event.at)?;
            let none = Vec::new();
            let revocations = self.revocations.get(matter.id()).unwrap_or(&none);
            let lookup = WithArriving {
                known: &self.grants,
                arriving: std::slice::from_ref(&g),
            };
            grant::verify_grant_chain(matter, g, &lookup, revocations, event.at)
                .map(|_| ())
                .map_err(|e| format!("the link's grant confers nothing: {e}"))
        });
        if let Err(why) = allowed {
            report.push(
                Some(index),
                ViolationKind::ShareWithoutRight,
                format!("link created by {}: {why}", hex::encode(event.actor)),
            );
        }
        let key = record.grantee().signing.to_bytes();
        self.grants.recorded.insert(digest, g);
        self.link_keys.insert(key);
        self.links.entry(digest).or_insert(LinkState {
            grant: g,
            creator: event.actor,
            key,
            revoked_by_entry: None,
            opens_by_link_key: 0,
            claimer: None,
            last_open: Vec::new(),
        });
    }

    /// The server's checks of a link's grant, on the terms the log holds.
    fn link_grant_form(&self, event: &Event, g: &Signed<Grant>) -> Result<(), String> {
        let record = g.record();
        if g.signer().to_bytes() != event.actor {
            return Err("the link's grant is signed by someone other than the actor".into());
        }
        let Scope::Document(document) = record.scope() else {
            return Err("a link's grant covers exactly one document".into());
        };
        if event.document != Some(*document) {
            return Err("the link's grant is for another document than the entry".into());
        }
        if record.rights() != Rights::VIEW.union(Rights::DOWNLOAD) {
            return Err("a link's grant gives exactly the view and download rights".into());
        }
        let lifetime_ok = record.validity().not_after().is_some_and(|end| {
            end > event.at && end <= event.at.saturating_add(MAX_LINK_LIFETIME_SECS)
        });
        if !lifetime_ok {
            return Err(format!(
                "a link's grant ends in the future and within {} days",
                MAX_LINK_LIFETIME_SECS / 86_400
            ));
        }
        let latest = self
            .documents
            .get(document)
            .map(|m| m.record().version().get());
        let bound = record.wrapped_key().map(|w| w.version.get());
        if bound.is_none() || bound != latest {
            return Err("the link's grant does not bind the document's latest version".into());
        }
        Ok(())
    }

    /// `link-opened`, `link-downloaded` and `link-revoked`: the link exists;
    /// it is opened by its own key (or its claimer) while it is neither
    /// revoked nor expired and its grant's chain is in force; its payload
    /// is fetched by a key that opened it within the ticket's hour; it is
    /// revoked by its creator or the matter's.
    fn link_used(&mut self, index: u64, event: &Event, report: &mut AuditReport) {
        self.authority_checked += 1;
        let kind = event.kind.name();
        let Some(link) = event.subject.as_ref().and_then(|s| self.links.get(s)) else {
            report.push(
                Some(index),
                ViolationKind::UnknownLink,
                format!("a {kind} entry names no link created before it"),
            );
            return;
        };
        let matter = self.matters.get(link.grant.record().matter_id()).copied();
        if event.kind == Kind::LinkRevoked {
            let allowed = event.actor == link.creator
                || matter.is_some_and(|m| m.creator().to_bytes() == event.actor);
            if !allowed {
                report.push(
                    Some(index),
                    ViolationKind::LinkRevocationWithoutAuthority,
                    format!(
                        "link revoked by {}, neither its creator nor the matter's",
                        hex::encode(event.actor)
                    ),
                );
            } else if let Some(link) = event.subject.and_then(|s| self.links.get_mut(&s)) {
                link.revoked_by_entry.get_or_insert(index);
            }
            return;
        }
        if let Some(by) = link.revoked_by_entry {
            report.push(
                Some(index),
                ViolationKind::LinkUsedAfterRevocation,
                format!("{kind} after the link was revoked (entry {by})"),
            );
        } else if let Some(matter) = matter {
            let none = Vec::new();
            let revocations = self.revocations.get(matter.id()).unwrap_or(&none);
            match grant::verify_grant_chain(matter, link.grant, &self.grants, revocations, event.at)
            {
                Ok(_) => {}
                Err(ChainError::Expired) => report.push(
                    Some(index),
                    ViolationKind::LinkUsedAfterExpiry,
                    format!("{kind} after the link expired"),
                ),
                Err(ChainError::Revoked) => report.push(
                    Some(index),
                    ViolationKind::LinkUsedAfterRevocation,
                    format!("{kind} after the link's grant, or one up its chain, was revoked"),
                ),
                Err(e) => report.push(
                    Some(index),
                    ViolationKind::LinkGrantNotInForce,
                    format!("{kind}: the link's grant does not hold: {e}"),
                ),
            }
        }
        let (link_key, claimer) = (link.key, link.claimer);
        let opened_at = link
            .last_open
            .iter()
            .find(|(k, _)| *k == event.actor)
            .map(|(_, t)| *t);
        let opens_by_link_key = link.opens_by_link_key;
        if event.kind == Kind::LinkDownloaded {
            let ticket = opened_at.is_some_and(|t| {
                event.at >= t && event.at < t.saturating_add(LINK_TICKET_LIFETIME_SECS)
            });
            if !ticket {
                report.push(
                    Some(index),
                    ViolationKind::LinkDownloadWithoutOpen,
                    format!(
                        "payload fetched by {} without opening the link in the hour before",
                        hex::encode(event.actor)
                    ),
                );
            }
            return;
        }
        // An open. Unclaimed, the link's key opens it; a claim-once link is
        // claimed by its first open, after which only the claimer opens it.
        let wrong_key = if event.actor == link_key {
            claimer
                .is_some()
                .then(|| "opened by the link's key after it was claimed".to_owned())
        } else if claimer == Some(event.actor) || (claimer.is_none() && opens_by_link_key == 1) {
            // The claimer, or the key claiming it after the first open.
            None
        } else {
            Some(format!(
                "opened by {}, neither the link's key nor the key that claimed it",
                hex::encode(event.actor)
            ))
        };
        if let Some(why) = wrong_key {
            report.push(Some(index), ViolationKind::LinkUsedByWrongKey, why);
            return;
        }
        if let Some(link) = event.subject.and_then(|s| self.links.get_mut(&s)) {
            if event.actor == link.key {
                link.opens_by_link_key += 1;
            } else {
                link.claimer = Some(event.actor);
            }
            match link.last_open.iter_mut().find(|(k, _)| *k == event.actor) {
                Some(last) => last.1 = event.at,
                None => link.last_open.push((event.actor, event.at)),
            }
        }
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
