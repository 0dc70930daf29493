-- 1: identities, matters, grants, documents, stanzas, events.
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;

CREATE TABLE identities (
    signing_key   BLOB PRIMARY KEY CHECK (length(signing_key) = 32),
    bundle        BLOB NOT NULL,
    certificate   BLOB
) STRICT, WITHOUT ROWID;

CREATE TABLE matters (
    id      BLOB PRIMARY KEY CHECK (length(id) = 16),
    creator BLOB NOT NULL,
    record  BLOB NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX matters_creator ON matters (creator);

CREATE TABLE grants (
    seq       INTEGER PRIMARY KEY,
    digest    BLOB NOT NULL UNIQUE,
    matter_id BLOB NOT NULL REFERENCES matters (id),
    grantee   BLOB NOT NULL,
    record    BLOB NOT NULL
) STRICT;
CREATE INDEX grants_matter ON grants (matter_id);
CREATE INDEX grants_grantee ON grants (grantee);

CREATE TABLE revocations (
    seq       INTEGER PRIMARY KEY,
    digest    BLOB NOT NULL UNIQUE,
    matter_id BLOB NOT NULL REFERENCES matters (id),
    record    BLOB NOT NULL
) STRICT;
CREATE INDEX revocations_matter ON revocations (matter_id);

CREATE TABLE documents (
    id        BLOB PRIMARY KEY CHECK (length(id) = 16),
    matter_id BLOB NOT NULL REFERENCES matters (id)
) STRICT, WITHOUT ROWID;
CREATE INDEX documents_matter ON documents (matter_id);

CREATE TABLE versions (
    document_id BLOB NOT NULL REFERENCES documents (id),
    version     INTEGER NOT NULL CHECK (version >= 1),
    manifest    BLOB NOT NULL,
    metadata    BLOB NOT NULL,
    blob        TEXT NOT NULL UNIQUE,
    payload_len INTEGER NOT NULL,
    PRIMARY KEY (document_id, version)
) STRICT, WITHOUT ROWID;

CREATE TABLE stanzas (
    document_id BLOB NOT NULL,
    version     INTEGER NOT NULL,
    recipient   BLOB NOT NULL,
    stanza      BLOB NOT NULL,
    PRIMARY KEY (document_id, version, recipient),
    FOREIGN KEY (document_id, version) REFERENCES versions (document_id, version)
) STRICT, WITHOUT ROWID;

CREATE TABLE events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    actor       BLOB NOT NULL,
    matter_id   BLOB,
    document_id BLOB,
    version     INTEGER,
    subject     BLOB,
    request     BLOB NOT NULL
) STRICT;
CREATE INDEX events_matter ON events (matter_id, seq);
CREATE INDEX events_at ON events (at);
CREATE TRIGGER events_are_append_only_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_are_append_only_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
