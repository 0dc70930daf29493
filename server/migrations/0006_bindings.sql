-- Key transparency: find the entry that binds a record by its subject
-- (a key bundle's, a certificate's or a login name's digest) without
-- scanning the events.
CREATE INDEX events_subject ON events (subject, kind) WHERE subject IS NOT NULL;
