//! [`LogStore`](crate::store::LogStore) on SQLite.

use lexvault_core::merkle::{self, Hash, ProofError, SubtreeHashes};
use lexvault_core::signed::RecordDigest;
use rusqlite::{Connection, OptionalExtension as _, params};

use super::{SqliteStore, fixed, lock, to_i64};
use crate::store::{LogStore, StoreError, StoreResult};

/// The stored leaves and perfect subtrees as a proof source; a database
/// error is kept and reported instead of the proof.
struct StoredSubtrees<'c> {
    conn: &'c Connection,
    error: Option<StoreError>,
}

impl<'c> StoredSubtrees<'c> {
    fn new(conn: &'c Connection) -> Self {
        Self { conn, error: None }
    }

    fn lookup(&self, start: u64, end: u64) -> StoreResult<Option<Hash>> {
        let n = end.saturating_sub(start);
        let hash: Option<Vec<u8>> = if n == 1 {
            self.conn
                .prepare_cached("SELECT hash FROM log_leaves WHERE idx = ?1")?
                .query_row([to_i64(start)?], |r| r.get(0))
                .optional()?
        } else {
            let level = i64::from(n.trailing_zeros());
            self.conn
                .prepare_cached("SELECT hash FROM log_nodes WHERE level = ?1 AND idx = ?2")?
                .query_row(params![level, to_i64(start >> level)?], |r| r.get(0))
                .optional()?
        };
        Ok(hash.map(fixed::<32>).transpose()?)
    }

    fn finish(self, proof: Result<Vec<Hash>, ProofError>) -> StoreResult<Vec<Hash>> {
        if let Some(e) = self.error {
            return Err(e);
        }
        proof.map_err(|e| match e {
            ProofError::Unavailable => {
                StoreError::Database("a log node is missing: the database was altered".into())
            }
            _ => StoreError::Conflict("the proof's sizes are not within the log"),
        })
    }
}

impl SubtreeHashes for StoredSubtrees<'_> {
    fn perfect_subtree(&mut self, start: u64, end: u64) -> Option<Hash> {
        match self.lookup(start, end) {
            Ok(hash) => hash,
            Err(e) => {
                self.error = Some(e);
                None
            }
        }
    }
}

impl LogStore for SqliteStore {
    fn log_key_seed(&self, fresh: [u8; 32]) -> StoreResult<[u8; 32]> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO log_key (id, seed) VALUES (1, ?1) ON CONFLICT DO NOTHING",
                params![fresh.as_slice()],
            )?;
            let seed: Vec<u8> =
                tx.query_row("SELECT seed FROM log_key WHERE id = 1", [], |r| r.get(0))?;
            Ok(fixed(seed)?)
        })
    }

    fn log_head(&self) -> StoreResult<(u64, Hash)> {
        let writer = lock(&self.writer);
        Ok((writer.tree.size(), writer.tree.root()))
    }

    fn log_entries(&self, start: u64, end: u64) -> StoreResult<Vec<Vec<u8>>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT entry FROM log_leaves WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
            )?;
            let rows = stmt.query_map(params![to_i64(start)?, to_i64(end)?], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn log_inclusion_proof(&self, index: u64, size: u64) -> StoreResult<Vec<Hash>> {
        self.read(|c| {
            let mut source = StoredSubtrees::new(c);
            let proof = merkle::inclusion_proof_from(&mut source, index, size);
            source.finish(proof)
        })
    }

    fn log_consistency_proof(&self, from: u64, to: u64) -> StoreResult<Vec<Hash>> {
        self.read(|c| {
            let mut source = StoredSubtrees::new(c);
            let proof = merkle::consistency_proof_from(&mut source, from, to);
            source.finish(proof)
        })
    }

    fn records_with_digests(&self, digests: &[[u8; 32]]) -> StoreResult<Vec<Vec<u8>>> {
        self.read(|c| {
            let mut out = Vec::new();
            // Records stored with their digest.
            for table in ["grants", "revocations"] {
                let mut stmt =
                    c.prepare_cached(&format!("SELECT record FROM {table} WHERE digest = ?1"))?;
                for d in digests {
                    if let Some(record) = stmt
                        .query_row([d.as_slice()], |r| r.get::<_, Vec<u8>>(0))
                        .optional()?
                    {
                        out.push(record);
                    }
                }
            }
            // Records whose digest is computed: matters, manifests, key
            // bundles and member certificates.
            let sources = [
                "SELECT record FROM matters",
                "SELECT manifest FROM versions",
                "SELECT bundle FROM identities",
                "SELECT certificate FROM identities WHERE certificate IS NOT NULL",
            ];
            for sql in sources {
                let mut stmt = c.prepare_cached(sql)?;
                let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
                for record in rows {
                    let record = record?;
                    if digests.contains(&RecordDigest::of(&record).0) {
                        out.push(record);
                    }
                }
            }
            Ok(out)
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use lexvault_core::log_entry::LogEntry;
    use lexvault_core::merkle;

    use std::sync::Arc;

    use lexvault_core::request::ChainPosition;

    use super::*;
    use crate::store::{EventKind, EventLog, NewEvent, ReceiptSlot, StoreError};

    fn event(n: u8) -> NewEvent {
        NewEvent {
            at: u64::from(n),
            kind: EventKind::Viewed,
            actor: [n; 32],
            matter_id: None,
            document_id: None,
            version: None,
            subject: None,
            request: vec![n],
            chain: None,
            receipt: None,
        }
    }

    #[test]
    fn stored_nodes_give_the_same_proofs_as_the_leaves() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.sqlite3");
        let store = SqliteStore::open(&path).unwrap();
        let mut leaves = Vec::new();
        for n in 0..45u8 {
            store.record(event(n)).unwrap();
            let entry = store.log_entries(u64::from(n), u64::from(n) + 1).unwrap();
            assert_eq!(LogEntry::from_bytes(&entry[0]).unwrap().index, u64::from(n));
            leaves.push(merkle::leaf_hash(&entry[0]));
            let size = leaves.len() as u64;
            assert_eq!(store.log_head().unwrap(), (size, merkle::root(&leaves)));
            for index in 0..size {
                assert_eq!(
                    store.log_inclusion_proof(index, size).unwrap(),
                    merkle::inclusion_proof(&leaves, index).unwrap()
                );
            }
            for from in 1..=size {
                assert_eq!(
                    store.log_consistency_proof(from, size).unwrap(),
                    merkle::consistency_proof(&leaves, from, size).unwrap()
                );
            }
        }
        // Reopening rebuilds the same tree; a proof beyond it is refused.
        drop(store);
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.log_head().unwrap(), (45, merkle::root(&leaves)));
        assert!(store.log_inclusion_proof(45, 45).is_err());
        assert!(store.log_consistency_proof(0, 45).is_err());
    }

    /// Events queued while the writer is busy are appended as one group by
    /// whichever caller takes the writer next; each caller still gets its
    /// own answer and receipt, and a refused event leaves the others be.
    #[test]
    fn queued_events_commit_as_one_group_with_a_receipt_each() {
        const CALLERS: u8 = 12;
        const REFUSED: u8 = 5;
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("log.sqlite3")).unwrap());
        // The writer is busy: every caller queues.
        let busy = super::lock(&store.writer);
        let callers: Vec<_> = (0..CALLERS)
            .map(|n| {
                let store = Arc::clone(&store);
                std::thread::spawn(move || {
                    let slot = ReceiptSlot::default();
                    let mut e = event(n);
                    e.receipt = Some(slot.clone());
                    if n == REFUSED {
                        // Not this actor's first request: out of sequence.
                        e.chain = Some(ChainPosition::FIRST.next([1; 32]));
                    }
                    let answer = store.record(e);
                    let appended = slot.lock().unwrap().take();
                    (n, answer, appended)
                })
            })
            .collect();
        while super::lock(&store.pending).len() < usize::from(CALLERS) {
            std::thread::yield_now();
        }
        drop(busy);

        let mut indices = Vec::new();
        let mut leaves = Vec::new();
        for caller in callers {
            let (n, answer, appended) = caller.join().unwrap();
            if n == REFUSED {
                assert!(
                    matches!(answer, Err(StoreError::OutOfSequence)),
                    "{answer:?}"
                );
                assert_eq!(appended, None, "a refused event has no receipt");
                continue;
            }
            answer.unwrap();
            let appended = appended.expect("a receipt for every appended event");
            let entry = LogEntry::from_bytes(&appended.entry).unwrap();
            assert_eq!(entry.evidence.as_slice(), &[n], "each caller's own entry");
            assert!(
                merkle::verify_inclusion(
                    appended.index,
                    appended.size,
                    &merkle::leaf_hash(&appended.entry),
                    &appended.proof,
                    &appended.root,
                )
                .is_ok()
            );
            indices.push(appended.index);
            leaves.push((appended.index, merkle::leaf_hash(&appended.entry)));
        }
        indices.sort_unstable();
        let expected: Vec<u64> = (0..u64::from(CALLERS) - 1).collect();
        assert_eq!(indices, expected, "one leaf each, without a gap");
        leaves.sort_unstable();
        let hashes: Vec<_> = leaves.into_iter().map(|(_, h)| h).collect();
        assert_eq!(
            store.log_head().unwrap(),
            (u64::from(CALLERS) - 1, merkle::root(&hashes))
        );
    }
}
