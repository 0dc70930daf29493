-- 4: the append-only Merkle log over the events, and its key.
CREATE TABLE log_leaves (
    idx   INTEGER PRIMARY KEY CHECK (idx >= 0),
    entry BLOB NOT NULL,
    hash  BLOB NOT NULL CHECK (length(hash) = 32)
) STRICT;
CREATE TRIGGER log_leaves_are_append_only_update BEFORE UPDATE ON log_leaves
    BEGIN SELECT RAISE(ABORT, 'the log is append-only'); END;
CREATE TRIGGER log_leaves_are_append_only_delete BEFORE DELETE ON log_leaves
    BEGIN SELECT RAISE(ABORT, 'the log is append-only'); END;

-- The hashes of the perfect subtrees above the leaves (level >= 1; the
-- subtree at `level` and `idx` covers leaves idx * 2^level to
-- (idx + 1) * 2^level - 1), stored as appends complete them, so any proof
-- takes O(log n) lookups.
CREATE TABLE log_nodes (
    level INTEGER NOT NULL CHECK (level >= 1),
    idx   INTEGER NOT NULL CHECK (idx >= 0),
    hash  BLOB NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, idx)
) STRICT, WITHOUT ROWID;
CREATE TRIGGER log_nodes_are_append_only_update BEFORE UPDATE ON log_nodes
    BEGIN SELECT RAISE(ABORT, 'the log is append-only'); END;
CREATE TRIGGER log_nodes_are_append_only_delete BEFORE DELETE ON log_nodes
    BEGIN SELECT RAISE(ABORT, 'the log is append-only'); END;

-- Each event's leaf, so views of the events are served from the log itself.
ALTER TABLE events ADD COLUMN leaf INTEGER;

CREATE TABLE log_key (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seed BLOB NOT NULL CHECK (length(seed) = 32)
) STRICT;
