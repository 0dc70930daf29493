-- 3: password login (OPAQUE) records, pending logins and failed attempts
-- (spec: spec/login.md §API).

-- The server's OPAQUE setup, its long-term login secret: exactly one row.
CREATE TABLE login_setup (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    setup BLOB NOT NULL CHECK (length(setup) = 128)
) STRICT;

-- One password login per identity, under a login name unique in the firm.
CREATE TABLE logins (
    login_name    TEXT PRIMARY KEY,
    signing_key   BLOB NOT NULL UNIQUE REFERENCES identities (signing_key),
    password_file BLOB NOT NULL CHECK (length(password_file) = 192),
    sealed_backup BLOB NOT NULL
) STRICT, WITHOUT ROWID;

-- Logins started and not yet finished: the server's pending OPAQUE state.
CREATE TABLE login_attempts (
    id         BLOB PRIMARY KEY CHECK (length(id) = 16),
    login_name TEXT NOT NULL,
    state      BLOB NOT NULL CHECK (length(state) = 192),
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX login_attempts_expiry ON login_attempts (expires_at);

-- Every started login counts here as a failure until it succeeds, whether
-- or not the login name exists.
CREATE TABLE login_failures (
    attempt    BLOB PRIMARY KEY CHECK (length(attempt) = 16),
    login_name TEXT NOT NULL,
    at         INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX login_failures_name ON login_failures (login_name, at);
CREATE INDEX login_failures_at ON login_failures (at);
