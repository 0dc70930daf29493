-- 5: per-actor chains. Each recorded request carries its actor's sequence
-- number and the leaf hash of the actor's previous request's entry; the
-- first entry a request produces keeps the sequence number here (the
-- request's further entries, such as the grants of an upload, have NULL),
-- so an actor's head is one indexed lookup.
ALTER TABLE events ADD COLUMN chain_seq INTEGER CHECK (chain_seq >= 0);
CREATE INDEX events_actor_head ON events (actor, leaf) WHERE chain_seq IS NOT NULL;
