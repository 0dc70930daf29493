-- 2: share links (spec: spec/links.md §API).
--
-- A link row gates everything a link key may do: every open is one
-- conditional UPDATE of its row. The link secret is never here; only the
-- public key derived from it (grantee_key), and the grant and stanza the
-- sharer made for that key.
CREATE TABLE links (
    id              BLOB PRIMARY KEY CHECK (length(id) = 16),
    matter_id       BLOB NOT NULL REFERENCES matters (id),
    document_id     BLOB NOT NULL REFERENCES documents (id),
    version         INTEGER NOT NULL CHECK (version >= 1),
    creator         BLOB NOT NULL CHECK (length(creator) = 32),
    grantee_key     BLOB NOT NULL UNIQUE CHECK (length(grantee_key) = 32),
    grant_digest    BLOB NOT NULL UNIQUE REFERENCES grants (digest),
    stanza          BLOB NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    max_opens       INTEGER CHECK (max_opens IS NULL OR max_opens >= 1),
    opens           INTEGER NOT NULL DEFAULT 0,
    passphrase      INTEGER NOT NULL CHECK (passphrase IN (0, 1)),
    claim_once      INTEGER NOT NULL CHECK (claim_once IN (0, 1)),
    claimed_key     BLOB CHECK (claimed_key IS NULL OR length(claimed_key) = 32),
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    revoked         INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
) STRICT, WITHOUT ROWID;
CREATE INDEX links_matter ON links (matter_id, created_at);

-- Download tickets, stored as SHA-256 of the ticket, never the ticket.
CREATE TABLE link_tickets (
    ticket_hash BLOB PRIMARY KEY CHECK (length(ticket_hash) = 32),
    link_id     BLOB NOT NULL REFERENCES links (id),
    opener      BLOB NOT NULL CHECK (length(opener) = 32),
    expires_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX link_tickets_expiry ON link_tickets (expires_at);
