//! Storage, behind narrow traits in the vault's own terms.
//!
//! Handlers speak to two kinds of storage: a metadata store (identities,
//! matters, grants, versions, stanzas, events, links, login records) and a
//! blob store (ciphertext payloads). The default implementations are SQLite
//! ([`sqlite`]) and a directory ([`blobs`]); another database or an object
//! store implements the same traits without touching a handler.
//!
//! The metadata traits are synchronous: the server calls them on the
//! blocking thread pool ([`crate::app::AppState::store`]), so no database
//! call ever runs on the async runtime. Every operation that changes state
//! also appends its [`NewEvent`] in the same transaction, so the event
//! table never disagrees with the state it describes.
//!
//! Records are stored as the exact signed bytes the client sent; the store
//! keeps the few fields it must query by (ids, keys, digests) beside them.
//! Nothing in here can read a document, a file name or a key.

pub mod bindings;
pub mod blobs;
pub mod links;
pub mod log;
pub mod login;
pub mod sqlite;

pub use bindings::BindingStore;
pub use links::LinkStore;
pub use log::{Appended, LogStore, ReceiptSlot};
pub use login::LoginStore;

use std::io;
use std::pin::Pin;

use bytes::Bytes;
use futures_util::Stream;
use futures_util::future::BoxFuture;
use lexvault_core::request::ChainPosition;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was violated: the thing already exists.
    #[error("already exists")]
    AlreadyExists,
    /// A precondition of the operation does not hold (the version is not the
    /// next one, the matter does not exist, …); the message says which.
    #[error("{0}")]
    Conflict(&'static str),
    /// The request's chain position is not the next one in its actor's
    /// history (another device or process of the same actor went first).
    #[error("out of sequence")]
    OutOfSequence,
    /// The database failed.
    #[error("database: {0}")]
    Database(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(f, _) = &e
            && f.code == rusqlite::ErrorCode::ConstraintViolation
        {
            return Self::AlreadyExists;
        }
        Self::Database(e.to_string())
    }
}

/// A shorthand for storage results.
pub type StoreResult<T> = Result<T, StoreError>;

/// A 32-byte Ed25519 public key, as stored.
pub type KeyBytes = [u8; 32];
/// A 16-byte random identifier (matter, document, link), as stored.
pub type IdBytes = [u8; 16];
/// A 32-byte SHA-256 digest, as stored.
pub type DigestBytes = [u8; 32];

/// A wrapped file key for one recipient: (recipient's key, stanza bytes).
pub type StanzaRow = (KeyBytes, Vec<u8>);

/// One event to append: who did what, with the signed request as evidence.
#[derive(Clone, Debug)]
pub struct NewEvent {
    /// Server time, Unix seconds.
    pub at: u64,
    /// What happened.
    pub kind: EventKind,
    /// Who did it: the key that signed the request.
    pub actor: KeyBytes,
    /// The matter concerned, if any.
    pub matter_id: Option<IdBytes>,
    /// The document concerned, if any.
    pub document_id: Option<IdBytes>,
    /// The version concerned, if any.
    pub version: Option<u32>,
    /// Digest of the record concerned (grant, revocation, manifest, link).
    pub subject: Option<DigestBytes>,
    /// The exact signed request bytes.
    pub request: Vec<u8>,
    /// The request's position in its actor's chain, which the store checks
    /// against the actor's last entry; `None` for the init step, whose
    /// evidence is not a request.
    pub chain: Option<ChainPosition>,
    /// Where the store puts the event's log position once committed, for
    /// the call's receipt.
    pub receipt: Option<ReceiptSlot>,
}

/// The kinds of event the server records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// The firm's administrator was set by the init step.
    AdministratorSet,
    /// An identity published its key bundle.
    Registered,
    /// The administrator certified a member.
    Certified,
    /// A password login was registered for an identity.
    PasswordSet,
    /// A matter was created.
    MatterCreated,
    /// A document version was uploaded.
    Uploaded,
    /// A grant was stored.
    Granted,
    /// A grant was revoked.
    Revoked,
    /// Wrapped keys were added for a version.
    KeysAdded,
    /// A document's metadata and keys were fetched.
    Viewed,
    /// A document's payload was fetched.
    Downloaded,
    /// A share link was created.
    LinkCreated,
    /// A share link was opened.
    LinkOpened,
    /// A share link's payload was fetched.
    LinkDownloaded,
    /// A share link was revoked.
    LinkRevoked,
}

impl EventKind {
    /// The kind's stable name, as stored and shown.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::AdministratorSet => "administrator-set",
            Self::Registered => "registered",
            Self::Certified => "certified",
            Self::PasswordSet => "password-set",
            Self::MatterCreated => "matter-created",
            Self::Uploaded => "uploaded",
            Self::Granted => "granted",
            Self::Revoked => "revoked",
            Self::KeysAdded => "keys-added",
            Self::Viewed => "viewed",
            Self::Downloaded => "downloaded",
            Self::LinkCreated => "link-created",
            Self::LinkOpened => "link-opened",
            Self::LinkDownloaded => "link-downloaded",
            Self::LinkRevoked => "link-revoked",
        }
    }
}

/// A published identity.
#[derive(Clone, Debug)]
pub struct IdentityRow {
    /// The signed key bundle.
    pub bundle: Vec<u8>,
    /// The administrator's certificate, for members.
    pub certificate: Option<Vec<u8>>,
}

/// A stored grant.
#[derive(Clone, Debug)]
pub struct GrantRow {
    /// The signed grant bytes.
    pub record: Vec<u8>,
}

/// One document version.
#[derive(Clone, Debug)]
pub struct VersionRow {
    /// The version number, from 1.
    pub version: u32,
    /// The signed manifest.
    pub manifest: Vec<u8>,
    /// The sealed metadata.
    pub metadata: Vec<u8>,
    /// The payload's blob.
    pub blob: BlobName,
    /// The payload's length.
    pub payload_len: u64,
}

/// A document and its versions, oldest first.
#[derive(Clone, Debug)]
pub struct DocumentRow {
    /// The document id.
    pub document_id: IdBytes,
    /// The matter it belongs to.
    pub matter_id: IdBytes,
    /// Its versions, oldest first.
    pub versions: Vec<VersionRow>,
}

/// A new version to store, with everything that comes with it.
#[derive(Clone, Debug)]
pub struct NewVersion {
    /// The matter (must exist).
    pub matter_id: IdBytes,
    /// The document (created with version 1; must be in the matter after).
    pub document_id: IdBytes,
    /// Must be exactly one more than the latest stored version.
    pub version: u32,
    /// The signed manifest.
    pub manifest: Vec<u8>,
    /// The sealed metadata.
    pub metadata: Vec<u8>,
    /// The persisted payload blob.
    pub blob: BlobName,
    /// The payload length.
    pub payload_len: u64,
    /// Wrapped keys: (recipient key, stanza bytes).
    pub stanzas: Vec<StanzaRow>,
    /// New grants: verified by the caller before storing.
    pub grants: Vec<NewGrant>,
}

/// A verified grant to store.
#[derive(Clone, Debug)]
pub struct NewGrant {
    /// Digest of the signed bytes.
    pub digest: DigestBytes,
    /// The matter.
    pub matter_id: IdBytes,
    /// The grantee's signing key.
    pub grantee: KeyBytes,
    /// The signed bytes.
    pub record: Vec<u8>,
}

/// Identities, membership and the firm's administrator.
pub trait IdentityStore: Send + Sync + 'static {
    /// The administrator's signed key bundle, once set.
    fn administrator(&self) -> StoreResult<Option<Vec<u8>>>;
    /// Sets the administrator and publishes their bundle; fails with
    /// [`StoreError::AlreadyExists`] if one is set.
    fn set_administrator(&self, key: &KeyBytes, bundle: &[u8], event: NewEvent) -> StoreResult<()>;
    /// Publishes a key bundle.
    fn register_identity(&self, key: &KeyBytes, bundle: &[u8], event: NewEvent) -> StoreResult<()>;
    /// A published identity.
    fn identity(&self, key: &KeyBytes) -> StoreResult<Option<IdentityRow>>;
    /// Stores a member certificate (replacing an earlier one).
    fn certify(&self, key: &KeyBytes, certificate: &[u8], event: NewEvent) -> StoreResult<()>;
}

/// Matters, grants and revocations.
pub trait MatterStore: Send + Sync + 'static {
    /// Stores a new matter.
    fn create_matter(
        &self,
        id: &IdBytes,
        creator: &KeyBytes,
        record: &[u8],
        event: NewEvent,
    ) -> StoreResult<()>;
    /// A matter's signed record.
    fn matter(&self, id: &IdBytes) -> StoreResult<Option<Vec<u8>>>;
    /// The matters `key` created or holds any grant in.
    fn matters_for(&self, key: &KeyBytes) -> StoreResult<Vec<Vec<u8>>>;
    /// A matter's grants, in the order stored.
    fn grants(&self, matter: &IdBytes) -> StoreResult<Vec<GrantRow>>;
    /// A matter's revocations, in the order stored.
    fn revocations(&self, matter: &IdBytes) -> StoreResult<Vec<Vec<u8>>>;
    /// Stores a verified grant and, if it carries one, its stanza.
    fn add_grant(
        &self,
        grant: NewGrant,
        stanza: Option<(IdBytes, u32, Vec<u8>)>,
        event: NewEvent,
    ) -> StoreResult<()>;
    /// Stores a verified revocation.
    fn add_revocation(
        &self,
        matter: &IdBytes,
        digest: &DigestBytes,
        record: &[u8],
        event: NewEvent,
    ) -> StoreResult<()>;
}

/// Documents, their versions and wrapped keys.
pub trait DocumentStore: Send + Sync + 'static {
    /// Stores a version atomically with its stanzas, grants and event.
    fn add_version(&self, version: NewVersion, event: NewEvent) -> StoreResult<()>;
    /// A document and all its versions.
    fn document(&self, id: &IdBytes) -> StoreResult<Option<DocumentRow>>;
    /// The documents of a matter with their versions.
    fn documents_in(&self, matter: &IdBytes) -> StoreResult<Vec<DocumentRow>>;
    /// The stanza wrapping a version's key to `recipient`.
    fn stanza(
        &self,
        document: &IdBytes,
        version: u32,
        recipient: &KeyBytes,
    ) -> StoreResult<Option<Vec<u8>>>;
    /// Adds stanzas to an existing version (existing ones are kept).
    fn add_stanzas(
        &self,
        document: &IdBytes,
        version: u32,
        stanzas: &[StanzaRow],
        event: NewEvent,
    ) -> StoreResult<()>;
    /// Every blob a version references, for cleaning orphans at start.
    fn referenced_blobs(&self) -> StoreResult<Vec<BlobName>>;
}

/// The append-only event table.
pub trait EventLog: Send + Sync + 'static {
    /// Appends an event that changes no other state (a view, a download).
    fn record(&self, event: NewEvent) -> StoreResult<u64>;
    /// The head of `actor`'s chain: the first entry of its last recorded
    /// request; `None` before its first.
    fn actor_head(&self, actor: &KeyBytes) -> StoreResult<Option<ActorHead>>;
    /// The signed requests (evidence) of the events recorded at or after
    /// `since`: what the replay cache is seeded with at start.
    fn requests_since(&self, since: u64) -> StoreResult<Vec<Vec<u8>>>;
    /// A matter's events as their log entries' canonical bytes, oldest
    /// first: the view is served from the log itself.
    fn events_for_matter(&self, matter: &IdBytes) -> StoreResult<Vec<Vec<u8>>>;
}

/// The head of an actor's chain (spec: `spec/log.md` §Actor chains).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActorHead {
    /// The sequence number of the actor's last recorded request.
    pub sequence: u64,
    /// The leaf index of that request's first entry.
    pub index: u64,
    /// That entry's leaf hash.
    pub leaf_hash: [u8; 32],
}

impl ActorHead {
    /// The position the actor's next recorded request must carry, after
    /// `head` (`None`: the actor has none yet).
    #[must_use]
    pub fn next_position(head: Option<&Self>) -> ChainPosition {
        head.map_or(ChainPosition::FIRST, |h| ChainPosition {
            sequence: h.sequence.saturating_add(1),
            previous: h.leaf_hash,
        })
    }
}

/// Everything the server stores besides blobs.
pub trait MetadataStore:
    IdentityStore
    + MatterStore
    + DocumentStore
    + EventLog
    + LinkStore
    + LoginStore
    + LogStore
    + BindingStore
{
}

impl<T> MetadataStore for T where
    T: IdentityStore
        + MatterStore
        + DocumentStore
        + EventLog
        + LinkStore
        + LoginStore
        + LogStore
        + BindingStore
{
}

// ---------------------------------------------------------------------------
// Blobs

/// The name of a stored blob: 32 lower-case hex characters, random.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobName(String);

impl BlobName {
    /// Parses a stored name, accepting only the canonical form.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        (name.len() == 32 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| Self(name.to_owned()))
    }

    /// A fresh random name.
    #[must_use]
    pub fn random(bytes: [u8; 16]) -> Self {
        Self(hex::encode(bytes))
    }

    /// The name as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A stream of blob bytes.
pub type BlobStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// Ciphertext payload storage.
pub trait BlobStore: Send + Sync + 'static {
    /// Starts writing a new blob. Nothing is visible until
    /// [`StagedBlob::persist`] returns; dropping the staged blob discards it.
    fn stage(&self) -> BoxFuture<'_, io::Result<Box<dyn StagedBlob>>>;
    /// Streams `len` bytes of a blob from `offset`.
    fn read(&self, name: &BlobName, offset: u64, len: u64)
    -> BoxFuture<'_, io::Result<BlobStream>>;
    /// Removes a blob (after a failed commit).
    fn remove(&self, name: &BlobName) -> BoxFuture<'_, io::Result<()>>;
    /// Removes every blob and leftover temporary file not in `keep`;
    /// returns how many were removed.
    fn remove_orphans(&self, keep: &[BlobName]) -> io::Result<usize>;
}

/// A blob being written.
pub trait StagedBlob: Send {
    /// Appends bytes.
    fn write<'a>(&'a mut self, bytes: &'a [u8]) -> BoxFuture<'a, io::Result<()>>;
    /// Makes the blob durable under its final name and returns the name.
    fn persist(self: Box<Self>) -> BoxFuture<'static, io::Result<BlobName>>;
}
