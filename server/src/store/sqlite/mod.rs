//! The metadata store on SQLite (bundled, WAL).
//!
//! One writer connection serialises every change, each in an immediate
//! transaction that also appends the change's event; readers use their own
//! connections, so reads go on while a write commits. `synchronous = FULL`
//! makes a commit durable before the server acknowledges it.
//!
//! Events that change nothing else (views, downloads, link payloads) are
//! the bulk of the writes, so they are committed in groups: each waits in a
//! queue, and whichever caller takes the writer next appends every waiting
//! event in one transaction (each under its own savepoint, so one refused
//! event does not sink the others) with one durable commit, then hands
//! each caller its own result and receipt. The schema is
//! created and upgraded by the embedded [`MIGRATIONS`] at open, tracked by
//! `PRAGMA user_version`.

mod bindings;
mod links;
mod log;
mod login;

use std::cell::RefCell;
use std::ops::Deref;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError, mpsc};

use rusqlite::{Connection, OptionalExtension as _, Transaction, TransactionBehavior, params};

use lexvault_core::log_entry::{LOG_ENTRY_VERSION, LogEntry};
use lexvault_core::merkle::{self, CompactTree};
use lexvault_core::request::ChainPosition;

use super::{
    ActorHead, Appended, BlobName, DigestBytes, DocumentRow, DocumentStore, EventKind, EventLog,
    GrantRow, IdBytes, IdentityRow, IdentityStore, KeyBytes, MatterStore, NewEvent, NewGrant,
    NewVersion, ReceiptSlot, StanzaRow, StoreError, StoreResult, VersionRow,
};

/// The schema, one migration per entry (`server/migrations/`); entry `i`
/// upgrades `user_version` `i` to `i + 1`. Append only: never edit a
/// released migration.
pub const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/0001_vault.sql"),
    include_str!("../../../migrations/0002_links.sql"),
    include_str!("../../../migrations/0003_login.sql"),
    include_str!("../../../migrations/0004_log.sql"),
    include_str!("../../../migrations/0005_actor_chains.sql"),
    include_str!("../../../migrations/0006_bindings.sql"),
];

/// How many reader connections to keep open.
const READERS: usize = 4;

/// The SQLite metadata store.
pub struct SqliteStore {
    writer: Mutex<Writer>,
    /// Events waiting for the next group commit ([`EventLog::record`]).
    pending: Mutex<Vec<PendingAppend>>,
    readers: Mutex<Vec<Connection>>,
    path: std::path::PathBuf,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a connection mid-
    // transaction (rusqlite rolls back on drop), so the data is usable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The one writing connection and the log's tree, which only it appends
/// to, in commit order.
struct Writer {
    conn: Connection,
    tree: CompactTree,
}

/// An event waiting to be appended, and where its caller waits for the
/// result.
struct PendingAppend {
    event: NewEvent,
    reply: mpsc::SyncSender<StoreResult<u64>>,
}

/// A write transaction: the rusqlite transaction, and the log leaves its
/// events append (made visible in the tree only if it commits).
pub(crate) struct WriteTx<'c> {
    tx: Transaction<'c>,
    /// The log's tree with this transaction's leaves.
    tree: RefCell<CompactTree>,
    appended: RefCell<Vec<(Appended, Option<ReceiptSlot>)>>,
}

impl<'c> Deref for WriteTx<'c> {
    type Target = Transaction<'c>;

    fn deref(&self) -> &Transaction<'c> {
        &self.tx
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, runs any pending
    /// migrations, and rebuilds the log's tree from its leaves.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let mut conn = Connection::open(path)?;
        configure(&conn)?;
        migrate(&mut conn)?;
        let tree = load_tree(&conn)?;
        Ok(Self {
            writer: Mutex::new(Writer { conn, tree }),
            pending: Mutex::new(Vec::new()),
            readers: Mutex::new(Vec::new()),
            path: path.to_owned(),
        })
    }

    /// Runs `f` in an immediate transaction on the writer, committing if it
    /// returns `Ok`; then appends the transaction's log leaves to the tree
    /// and fills their receipt slots.
    fn write<T>(&self, f: impl FnOnce(&WriteTx<'_>) -> StoreResult<T>) -> StoreResult<T> {
        let mut guard = lock(&self.writer);
        let Writer { conn, tree } = &mut *guard;
        let tx = begin(conn, tree)?;
        let out = f(&tx)?;
        commit(tx, tree)?;
        Ok(out)
    }

    /// Appends `event` in the next group commit: queues it, then either
    /// finds it appended by the caller that held the writer before, or
    /// takes the writer and appends everything queued.
    fn append_grouped(&self, event: NewEvent) -> StoreResult<u64> {
        let (reply, result) = mpsc::sync_channel(1);
        lock(&self.pending).push(PendingAppend { event, reply });
        let mut writer = lock(&self.writer);
        // A group is appended and answered before the writer is let go, so
        // an answer is either here now or still in the queue.
        if let Ok(answer) = result.try_recv() {
            return answer;
        }
        let group = std::mem::take(&mut *lock(&self.pending));
        writer.append_group(group);
        drop(writer);
        result
            .recv()
            .unwrap_or_else(|_| Err(StoreError::Database("an event append was lost".into())))
    }

    /// Runs `f` on a reader connection.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let pooled = lock(&self.readers).pop();
        let conn = match pooled {
            Some(c) => c,
            None => {
                let c = Connection::open(&self.path)?;
                configure(&c)?;
                c
            }
        };
        let out = f(&conn);
        let mut readers = lock(&self.readers);
        if readers.len() < READERS {
            readers.push(conn);
        }
        out
    }
}

fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let current = usize::try_from(current).unwrap_or(usize::MAX);
    if current > MIGRATIONS.len() {
        return Err(StoreError::Database(format!(
            "the database is at schema version {current}, newer than this server knows \
             ({}); run a newer lexvault-server",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(
            None,
            "user_version",
            i64::try_from(i + 1).unwrap_or(i64::MAX),
        )?;
        tx.commit()?;
    }
    Ok(())
}

fn to_i64(n: u64) -> StoreResult<i64> {
    i64::try_from(n).map_err(|_| StoreError::Conflict("number out of range"))
}

fn from_i64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Starts an immediate transaction on the writer's connection with the
/// log's tree as of now.
fn begin<'c>(conn: &'c mut Connection, tree: &mut CompactTree) -> StoreResult<WriteTx<'c>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Another process (the init step) may have appended since: the
    // database, locked now, is the authority.
    catch_up(&tx, tree)?;
    Ok(WriteTx {
        tree: RefCell::new(tree.clone()),
        tx,
        appended: RefCell::default(),
    })
}

/// Commits `tx`; then its leaves are `tree`'s and their receipt slots are
/// filled.
fn commit(tx: WriteTx<'_>, tree: &mut CompactTree) -> StoreResult<()> {
    let WriteTx {
        tx,
        tree: grown,
        appended,
    } = tx;
    tx.commit()?;
    *tree = grown.into_inner();
    for (appended, slot) in appended.into_inner() {
        if let Some(slot) = slot {
            *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(appended);
        }
    }
    Ok(())
}

impl Writer {
    /// Appends a group of events in one transaction, each under its own
    /// savepoint, and answers each caller: its event's refusal, the
    /// transaction's failure, or its event id.
    fn append_group(&mut self, group: Vec<PendingAppend>) {
        let (events, replies): (Vec<NewEvent>, Vec<_>) =
            group.into_iter().map(|p| (p.event, p.reply)).unzip();
        let answers = match self.try_append_group(&events) {
            Ok(answers) => answers,
            Err(e) => {
                let why = e.to_string();
                events
                    .iter()
                    .map(|_| Err(StoreError::Database(why.clone())))
                    .collect()
            }
        };
        for (reply, answer) in replies.into_iter().zip(answers) {
            // The caller may have given up; nothing to do then.
            let _ = reply.send(answer);
        }
    }

    fn try_append_group(&mut self, events: &[NewEvent]) -> StoreResult<Vec<StoreResult<u64>>> {
        let Self { conn, tree } = self;
        let tx = begin(conn, tree)?;
        let mut answers = Vec::with_capacity(events.len());
        for event in events {
            let tree_before = tx.tree.borrow().clone();
            let appended_before = tx.appended.borrow().len();
            tx.execute_batch("SAVEPOINT append")?;
            let answer = append_event(&tx, event);
            if answer.is_ok() {
                tx.execute_batch("RELEASE append")?;
            } else {
                tx.execute_batch("ROLLBACK TO append; RELEASE append")?;
                *tx.tree.borrow_mut() = tree_before;
                tx.appended.borrow_mut().truncate(appended_before);
            }
            answers.push(answer);
        }
        commit(tx, tree)?;
        Ok(answers)
    }
}

/// Rebuilds the log's compact tree from the stored leaves, checking that
/// the indices run from 0 without a gap.
fn load_tree(conn: &Connection) -> StoreResult<CompactTree> {
    let mut tree = CompactTree::new();
    catch_up(conn, &mut tree)?;
    Ok(tree)
}

/// Appends to `tree` the leaves stored after its size.
fn catch_up(conn: &Connection, tree: &mut CompactTree) -> StoreResult<()> {
    let mut stmt =
        conn.prepare_cached("SELECT idx, hash FROM log_leaves WHERE idx >= ?1 ORDER BY idx")?;
    let mut rows = stmt.query([to_i64(tree.size())?])?;
    while let Some(row) = rows.next()? {
        let idx: i64 = row.get(0)?;
        if from_i64(idx) != tree.size() {
            return Err(StoreError::Database(format!(
                "the log has a gap at leaf {}: the database was altered",
                tree.size()
            )));
        }
        tree.push(fixed(row.get(1)?)?);
    }
    Ok(())
}

/// The actor's head (the first entry of its last recorded request) and
/// that request's evidence.
fn actor_head(conn: &Connection, actor: &KeyBytes) -> StoreResult<Option<(ActorHead, Vec<u8>)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT e.chain_seq, e.leaf, l.hash, e.request
         FROM events e JOIN log_leaves l ON l.idx = e.leaf
         WHERE e.actor = ?1 AND e.chain_seq IS NOT NULL
         ORDER BY e.leaf DESC LIMIT 1",
    )?;
    Ok(stmt
        .query_row([actor.as_slice()], |r| {
            let head = ActorHead {
                sequence: from_i64(r.get(0)?),
                index: from_i64(r.get(1)?),
                leaf_hash: fixed(r.get(2)?)?,
            };
            Ok((head, r.get(3)?))
        })
        .optional()?)
}

/// Whether a request at `position` with `evidence` may be recorded for an
/// actor whose head is `head`: `Ok(true)` if it is the actor's next
/// request, `Ok(false)` if it is the request that made the head (a further
/// entry of the same request), and [`StoreError::OutOfSequence`] otherwise.
fn follows_head(
    head: Option<&(ActorHead, Vec<u8>)>,
    position: ChainPosition,
    evidence: &[u8],
) -> StoreResult<bool> {
    if head.is_some_and(|(_, head_evidence)| head_evidence.as_slice() == evidence) {
        return Ok(false);
    }
    if position == ActorHead::next_position(head.map(|(h, _)| h)) {
        Ok(true)
    } else {
        Err(StoreError::OutOfSequence)
    }
}

/// Appends an event, and its log leaf, inside the caller's transaction,
/// after checking the request's position in its actor's chain.
pub(crate) fn append_event(tx: &WriteTx<'_>, e: &NewEvent) -> StoreResult<u64> {
    let chain_seq = match e.chain {
        Some(position) => {
            let head = actor_head(&tx.tx, &e.actor)?;
            follows_head(head.as_ref(), position, &e.request)?
                .then(|| to_i64(position.sequence))
                .transpose()?
        }
        None => None,
    };
    let mut tree = tx.tree.borrow_mut();
    let index = tree.size();
    let entry = LogEntry {
        version: LOG_ENTRY_VERSION,
        index,
        at: e.at,
        kind: e.kind.name().to_owned(),
        actor: e.actor.into(),
        matter_id: e.matter_id.map(Into::into),
        document_id: e.document_id.map(Into::into),
        document_version: e.version,
        subject: e.subject.map(Into::into),
        evidence: e.request.clone().into(),
    };
    let bytes = entry.to_bytes();
    let hash = merkle::leaf_hash(&bytes);
    tx.execute(
        "INSERT INTO log_leaves (idx, entry, hash) VALUES (?1, ?2, ?3)",
        params![to_i64(index)?, bytes, hash.as_slice()],
    )?;
    // The perfect subtrees this leaf completes: one per trailing set bit of
    // the old size, as the compact tree merges them.
    let mut carry = hash;
    let mut level: i64 = 0;
    let mut node_index = index;
    for left in tree.subtrees().iter().rev() {
        if node_index & 1 == 0 {
            break;
        }
        carry = merkle::node_hash(left, &carry);
        level += 1;
        node_index >>= 1;
        tx.execute(
            "INSERT INTO log_nodes (level, idx, hash) VALUES (?1, ?2, ?3)",
            params![level, to_i64(node_index)?, carry.as_slice()],
        )?;
    }
    let proof = tree.push_with_proof(hash);
    tx.appended.borrow_mut().push((
        Appended {
            index,
            entry: bytes,
            size: tree.size(),
            root: tree.root(),
            proof,
        },
        e.receipt.clone(),
    ));
    drop(tree);
    tx.execute(
        "INSERT INTO events
         (at, kind, actor, matter_id, document_id, version, subject, request, leaf, chain_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            to_i64(e.at)?,
            e.kind.name(),
            e.actor.as_slice(),
            e.matter_id.as_ref().map(|m| m.as_slice()),
            e.document_id.as_ref().map(|d| d.as_slice()),
            e.version,
            e.subject.as_ref().map(|s| s.as_slice()),
            e.request,
            to_i64(index)?,
            chain_seq,
        ],
    )?;
    Ok(from_i64(tx.last_insert_rowid()))
}

fn fixed<const N: usize>(v: Vec<u8>) -> rusqlite::Result<[u8; N]> {
    v.try_into().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Blob,
            "stored value has the wrong length".into(),
        )
    })
}

const ADMINISTRATOR: &str = "administrator";

impl IdentityStore for SqliteStore {
    fn administrator(&self) -> StoreResult<Option<Vec<u8>>> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT i.bundle FROM settings s JOIN identities i ON i.signing_key = s.value
                 WHERE s.name = ?1",
                [ADMINISTRATOR],
                |r| r.get(0),
            )
            .optional()?)
        })
    }

    fn set_administrator(&self, key: &KeyBytes, bundle: &[u8], event: NewEvent) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO settings (name, value) VALUES (?1, ?2)",
                params![ADMINISTRATOR, key.as_slice()],
            )?;
            tx.execute(
                "INSERT INTO identities (signing_key, bundle) VALUES (?1, ?2)
                 ON CONFLICT (signing_key) DO NOTHING",
                params![key.as_slice(), bundle],
            )?;
            append_event(tx, &event)?;
            Ok(())
        })
    }

    fn register_identity(&self, key: &KeyBytes, bundle: &[u8], event: NewEvent) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO identities (signing_key, bundle) VALUES (?1, ?2)",
                params![key.as_slice(), bundle],
            )?;
            append_event(tx, &event)?;
            Ok(())
        })
    }

    fn identity(&self, key: &KeyBytes) -> StoreResult<Option<IdentityRow>> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT bundle, certificate FROM identities WHERE signing_key = ?1",
                [key.as_slice()],
                |r| {
                    Ok(IdentityRow {
                        bundle: r.get(0)?,
                        certificate: r.get(1)?,
                    })
                },
            )
            .optional()?)
        })
    }

    fn certify(&self, key: &KeyBytes, certificate: &[u8], event: NewEvent) -> StoreResult<()> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE identities SET certificate = ?2 WHERE signing_key = ?1",
                params![key.as_slice(), certificate],
            )?;
            if n != 1 {
                return Err(StoreError::Conflict("the identity is not registered"));
            }
            append_event(tx, &event)?;
            Ok(())
        })
    }
}

impl MatterStore for SqliteStore {
    fn create_matter(
        &self,
        id: &IdBytes,
        creator: &KeyBytes,
        record: &[u8],
        event: NewEvent,
    ) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO matters (id, creator, record) VALUES (?1, ?2, ?3)",
                params![id.as_slice(), creator.as_slice(), record],
            )?;
            append_event(tx, &event)?;
            Ok(())
        })
    }

    fn matter(&self, id: &IdBytes) -> StoreResult<Option<Vec<u8>>> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT record FROM matters WHERE id = ?1",
                [id.as_slice()],
                |r| r.get(0),
            )
            .optional()?)
        })
    }

    fn matters_for(&self, key: &KeyBytes) -> StoreResult<Vec<Vec<u8>>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT record FROM matters WHERE creator = ?1
                 UNION
                 SELECT m.record FROM matters m JOIN grants g ON g.matter_id = m.id
                 WHERE g.grantee = ?1",
            )?;
            let rows = stmt.query_map([key.as_slice()], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn grants(&self, matter: &IdBytes) -> StoreResult<Vec<GrantRow>> {
        self.read(|c| {
            let mut stmt =
                c.prepare_cached("SELECT record FROM grants WHERE matter_id = ?1 ORDER BY seq")?;
            let rows =
                stmt.query_map([matter.as_slice()], |r| Ok(GrantRow { record: r.get(0)? }))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn revocations(&self, matter: &IdBytes) -> StoreResult<Vec<Vec<u8>>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT record FROM revocations WHERE matter_id = ?1 ORDER BY seq",
            )?;
            let rows = stmt.query_map([matter.as_slice()], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn add_grant(
        &self,
        grant: NewGrant,
        stanza: Option<(IdBytes, u32, Vec<u8>)>,
        event: NewEvent,
    ) -> StoreResult<()> {
        self.write(|tx| {
            insert_grant(tx, &grant)?;
            if let Some((document, version, stanza)) = stanza {
                insert_stanza(tx, &document, version, &grant.grantee, &stanza)?;
            }
            append_event(tx, &event)?;
            Ok(())
        })
    }

    fn add_revocation(
        &self,
        matter: &IdBytes,
        digest: &DigestBytes,
        record: &[u8],
        event: NewEvent,
    ) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO revocations (digest, matter_id, record) VALUES (?1, ?2, ?3)",
                params![digest.as_slice(), matter.as_slice(), record],
            )?;
            append_event(tx, &event)?;
            Ok(())
        })
    }
}

fn insert_grant(tx: &WriteTx<'_>, grant: &NewGrant) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO grants (digest, matter_id, grantee, record) VALUES (?1, ?2, ?3, ?4)",
        params![
            grant.digest.as_slice(),
            grant.matter_id.as_slice(),
            grant.grantee.as_slice(),
            grant.record
        ],
    )?;
    Ok(())
}

/// Inserts a stanza; one already stored for the same recipient and version
/// is kept (the first wrapped key stands; a grant naming another digest is
/// refused before this point).
fn insert_stanza(
    tx: &WriteTx<'_>,
    document: &IdBytes,
    version: u32,
    recipient: &KeyBytes,
    stanza: &[u8],
) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO stanzas (document_id, version, recipient, stanza) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT DO NOTHING",
        params![document.as_slice(), version, recipient.as_slice(), stanza],
    )?;
    Ok(())
}

fn versions_of(c: &Connection, document: &IdBytes) -> StoreResult<Vec<VersionRow>> {
    let mut stmt = c.prepare_cached(
        "SELECT version, manifest, metadata, blob, payload_len FROM versions
         WHERE document_id = ?1 ORDER BY version",
    )?;
    let rows = stmt.query_map([document.as_slice()], |r| {
        let blob: String = r.get(3)?;
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, blob, r.get::<_, i64>(4)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (version, manifest, metadata, blob, len) = row?;
        let blob = BlobName::parse(&blob)
            .ok_or(StoreError::Database("stored blob name is malformed".into()))?;
        out.push(VersionRow {
            version,
            manifest,
            metadata,
            blob,
            payload_len: from_i64(len),
        });
    }
    Ok(out)
}

impl DocumentStore for SqliteStore {
    fn add_version(&self, v: NewVersion, event: NewEvent) -> StoreResult<()> {
        self.write(|tx| {
            let matter_exists: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM matters WHERE id = ?1)",
                [v.matter_id.as_slice()],
                |r| r.get(0),
            )?;
            if !matter_exists {
                return Err(StoreError::Conflict("the matter does not exist"));
            }
            let owner: Option<Vec<u8>> = tx
                .query_row(
                    "SELECT matter_id FROM documents WHERE id = ?1",
                    [v.document_id.as_slice()],
                    |r| r.get(0),
                )
                .optional()?;
            match owner {
                None => {
                    tx.execute(
                        "INSERT INTO documents (id, matter_id) VALUES (?1, ?2)",
                        params![v.document_id.as_slice(), v.matter_id.as_slice()],
                    )?;
                }
                Some(m) if m == v.matter_id => {}
                Some(_) => return Err(StoreError::Conflict("the document is in another matter")),
            }
            let latest: u32 = tx.query_row(
                "SELECT coalesce(max(version), 0) FROM versions WHERE document_id = ?1",
                [v.document_id.as_slice()],
                |r| r.get(0),
            )?;
            if Some(v.version) != latest.checked_add(1) {
                return Err(StoreError::Conflict(
                    "the version is not the next one; fetch the document and retry",
                ));
            }
            tx.execute(
                "INSERT INTO versions (document_id, version, manifest, metadata, blob, payload_len)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    v.document_id.as_slice(),
                    v.version,
                    v.manifest,
                    v.metadata,
                    v.blob.as_str(),
                    to_i64(v.payload_len)?
                ],
            )?;
            for (recipient, stanza) in &v.stanzas {
                insert_stanza(tx, &v.document_id, v.version, recipient, stanza)?;
            }
            append_event(tx, &event)?;
            // Each grant that comes with the version is an event of its own,
            // after the upload, with the upload's request as evidence.
            for grant in &v.grants {
                insert_grant(tx, grant)?;
                let granted = NewEvent {
                    kind: EventKind::Granted,
                    subject: Some(grant.digest),
                    receipt: None,
                    ..event.clone()
                };
                append_event(tx, &granted)?;
            }
            Ok(())
        })
    }

    fn document(&self, id: &IdBytes) -> StoreResult<Option<DocumentRow>> {
        self.read(|c| {
            let matter: Option<Vec<u8>> = c
                .query_row(
                    "SELECT matter_id FROM documents WHERE id = ?1",
                    [id.as_slice()],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(matter) = matter else {
                return Ok(None);
            };
            Ok(Some(DocumentRow {
                document_id: *id,
                matter_id: fixed(matter)?,
                versions: versions_of(c, id)?,
            }))
        })
    }

    fn documents_in(&self, matter: &IdBytes) -> StoreResult<Vec<DocumentRow>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT id FROM documents WHERE matter_id = ?1")?;
            let ids = stmt
                .query_map([matter.as_slice()], |r| r.get::<_, Vec<u8>>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                let id: IdBytes = fixed(id)?;
                out.push(DocumentRow {
                    document_id: id,
                    matter_id: *matter,
                    versions: versions_of(c, &id)?,
                });
            }
            Ok(out)
        })
    }

    fn stanza(
        &self,
        document: &IdBytes,
        version: u32,
        recipient: &KeyBytes,
    ) -> StoreResult<Option<Vec<u8>>> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT stanza FROM stanzas WHERE document_id = ?1 AND version = ?2
                 AND recipient = ?3",
                params![document.as_slice(), version, recipient.as_slice()],
                |r| r.get(0),
            )
            .optional()?)
        })
    }

    fn add_stanzas(
        &self,
        document: &IdBytes,
        version: u32,
        stanzas: &[StanzaRow],
        event: NewEvent,
    ) -> StoreResult<()> {
        self.write(|tx| {
            for (recipient, stanza) in stanzas {
                insert_stanza(tx, document, version, recipient, stanza)?;
            }
            append_event(tx, &event)?;
            Ok(())
        })
    }

    fn referenced_blobs(&self) -> StoreResult<Vec<BlobName>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT blob FROM versions")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            let mut out = Vec::new();
            for name in rows {
                if let Some(n) = BlobName::parse(&name?) {
                    out.push(n);
                }
            }
            Ok(out)
        })
    }
}

impl EventLog for SqliteStore {
    fn record(&self, event: NewEvent) -> StoreResult<u64> {
        self.append_grouped(event)
    }

    fn actor_head(&self, actor: &KeyBytes) -> StoreResult<Option<ActorHead>> {
        self.read(|c| Ok(actor_head(c, actor)?.map(|(head, _)| head)))
    }

    fn requests_since(&self, since: u64) -> StoreResult<Vec<Vec<u8>>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT request FROM events WHERE at >= ?1")?;
            let rows = stmt.query_map([to_i64(since)?], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn events_for_matter(&self, matter: &IdBytes) -> StoreResult<Vec<Vec<u8>>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT l.entry FROM events e JOIN log_leaves l ON l.idx = e.leaf
                 WHERE e.matter_id = ?1 ORDER BY e.leaf",
            )?;
            let rows = stmt.query_map([matter.as_slice()], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }
}
