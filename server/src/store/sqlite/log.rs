//! [`LogStore`](crate::store::LogStore) on SQLite.

use lexvault_core::merkle::Hash;
use lexvault_core::signed::RecordDigest;
use rusqlite::{OptionalExtension as _, params};

use super::{SqliteStore, fixed, lock, to_i64};
use crate::store::{LogStore, StoreResult};

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

    fn log_leaf_hashes(&self, size: u64) -> StoreResult<Vec<Hash>> {
        self.read(|c| {
            let mut stmt =
                c.prepare_cached("SELECT hash FROM log_leaves WHERE idx < ?1 ORDER BY idx")?;
            let rows = stmt.query_map(params![to_i64(size)?], |r| fixed::<32>(r.get(0)?))?;
            Ok(rows.collect::<Result<_, _>>()?)
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
