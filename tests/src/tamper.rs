//! Tampering with a stopped server's database, as an attacker with the
//! disk can: the append-only triggers dropped, rows edited, leaves
//! appended the way the server appends them.

use std::path::Path;

use lexvault_core::log_entry::LogEntry;
use lexvault_core::merkle::{self, Hash};
use lexvault_server::app::Limits;
use rusqlite::{Connection, params};

use crate::TestServer;

/// Opens the database in `data` with every append-only trigger dropped.
///
/// # Panics
/// If the database cannot be opened or has fewer triggers than expected.
#[must_use]
#[allow(clippy::expect_used)]
pub fn open_db(data: &Path) -> Connection {
    let db = Connection::open(data.join("lexvault.sqlite3")).expect("open the database");
    // What the schema forbids, the disk's owner can undo: every
    // append-only trigger goes.
    let triggers: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        .expect("list triggers")
        .query_map([], |r| r.get(0))
        .expect("list triggers")
        .collect::<Result<_, _>>()
        .expect("list triggers");
    assert!(triggers.len() >= 4, "{triggers:?}");
    for name in triggers {
        db.execute_batch(&format!("DROP TRIGGER \"{name}\";"))
            .expect("drop a trigger");
    }
    db
}

/// Stops the server, lets `tamper` edit its database, and restarts it.
#[must_use]
pub fn restart(server: TestServer, tamper: impl FnOnce(&Connection)) -> TestServer {
    let data = server.stop();
    let db = open_db(data.path());
    tamper(&db);
    drop(db);
    TestServer::start_in(data, Limits::default())
}

/// Stops the server and starts it again next to a copy of itself (same
/// log key, same history so far): from here on the two can grow different
/// histories, as a server showing different views to different clients.
///
/// # Panics
/// If the data directory cannot be copied.
#[must_use]
#[allow(clippy::expect_used)]
pub fn split(server: TestServer) -> (TestServer, TestServer) {
    let data = server.stop();
    let copy = tempfile::tempdir().expect("temporary data directory");
    copy_dir(data.path(), copy.path());
    (
        TestServer::start_in(data, Limits::default()),
        TestServer::start_in(copy, Limits::default()),
    )
}

#[allow(clippy::expect_used)]
fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read the data directory") {
        let entry = entry.expect("a directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            std::fs::create_dir_all(&target).expect("create a directory");
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a file");
        }
    }
}

/// Appends a leaf as the server would: the leaf, the perfect subtrees it
/// completes, and its event row, so every proof the server builds from
/// the stored nodes is well formed.
///
/// # Panics
/// If the entry does not name the next index, or the database refuses.
#[allow(clippy::expect_used, clippy::indexing_slicing)]
pub fn append_leaf(db: &Connection, entry: &LogEntry) {
    let mut leaves: Vec<Hash> = {
        let mut stmt = db
            .prepare("SELECT hash FROM log_leaves ORDER BY idx")
            .expect("read leaves");
        stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))
            .expect("read leaves")
            .map(|h| {
                h.expect("a leaf hash")
                    .try_into()
                    .expect("a 32-byte leaf hash")
            })
            .collect()
    };
    let index = leaves.len() as u64;
    assert_eq!(entry.index, index, "the forged entry names its own index");
    let bytes = entry.to_bytes();
    let hash = merkle::leaf_hash(&bytes);
    let idx = i64::try_from(index).expect("index");
    db.execute(
        "INSERT INTO log_leaves (idx, entry, hash) VALUES (?1, ?2, ?3)",
        params![idx, bytes, hash.as_slice()],
    )
    .expect("insert the leaf");
    leaves.push(hash);
    let size = leaves.len();
    let mut level = 1u32;
    while size.is_multiple_of(1 << level) {
        let start = size - (1 << level);
        db.execute(
            "INSERT INTO log_nodes (level, idx, hash) VALUES (?1, ?2, ?3)",
            params![
                level,
                i64::try_from(start >> level).expect("index"),
                merkle::root(&leaves[start..size]).as_slice()
            ],
        )
        .expect("insert a node");
        level += 1;
    }
    db.execute(
        "INSERT INTO events
         (at, kind, actor, matter_id, document_id, version, subject, request, leaf)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            i64::try_from(entry.at).expect("time"),
            entry.kind,
            entry.actor.as_slice(),
            entry.matter_id.as_ref().map(|m| m.to_vec()),
            entry.document_id.as_ref().map(|d| d.to_vec()),
            entry.document_version,
            entry.subject.as_ref().map(|s| s.to_vec()),
            entry.evidence.to_vec(),
            idx,
        ],
    )
    .expect("insert the event");
}
