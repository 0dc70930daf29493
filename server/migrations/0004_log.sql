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

CREATE TABLE log_key (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seed BLOB NOT NULL CHECK (length(seed) = 32)
) STRICT;
