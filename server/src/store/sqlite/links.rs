//! [`LinkStore`](crate::store::LinkStore) on SQLite.

use rusqlite::{OptionalExtension as _, Row, params};

use super::{SqliteStore, append_event, fixed, from_i64, insert_grant, to_i64};
use crate::store::links::{
    LinkRow, MAX_FAILED_ATTEMPTS, NewLink, OpenAttempt, OpenedLinkRow, TicketTarget,
};
use crate::store::{DigestBytes, IdBytes, KeyBytes, LinkStore, NewEvent, NewGrant, StoreResult};

/// The columns [`link_row`] reads, in order.
const LINK_COLUMNS: &str = "id, matter_id, document_id, version, creator, grantee_key, \
     grant_digest, created_at, expires_at, max_opens, opens, passphrase, claim_once, \
     claimed_key IS NOT NULL, failed_attempts, revoked";

fn link_row(r: &Row<'_>) -> rusqlite::Result<LinkRow> {
    Ok(LinkRow {
        id: fixed(r.get(0)?)?,
        matter_id: fixed(r.get(1)?)?,
        document_id: fixed(r.get(2)?)?,
        version: r.get(3)?,
        creator: fixed(r.get(4)?)?,
        grantee_key: fixed(r.get(5)?)?,
        grant_digest: fixed(r.get(6)?)?,
        created_at: from_i64(r.get(7)?),
        expires_at: from_i64(r.get(8)?),
        max_opens: r.get(9)?,
        opens: r.get(10)?,
        passphrase: r.get(11)?,
        claim_once: r.get(12)?,
        claimed: r.get(13)?,
        failed_attempts: r.get(14)?,
        revoked: r.get(15)?,
    })
}

impl LinkStore for SqliteStore {
    fn create_link(&self, link: NewLink, grant: NewGrant, event: NewEvent) -> StoreResult<()> {
        self.write(|tx| {
            insert_grant(tx, &grant)?;
            tx.execute(
                "INSERT INTO links (id, matter_id, document_id, version, creator, grantee_key,
                     grant_digest, stanza, created_at, expires_at, max_opens, passphrase,
                     claim_once)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                params![
                    link.id.as_slice(),
                    link.matter_id.as_slice(),
                    link.document_id.as_slice(),
                    link.version,
                    link.creator.as_slice(),
                    link.grantee_key.as_slice(),
                    grant.digest.as_slice(),
                    link.stanza,
                    to_i64(link.created_at)?,
                    to_i64(link.expires_at)?,
                    link.max_opens,
                    link.passphrase,
                    link.claim_once,
                ],
            )?;
            append_event(tx, &event)?;
            Ok(())
        })
    }

    fn link(&self, id: &IdBytes) -> StoreResult<Option<LinkRow>> {
        self.read(|c| {
            Ok(c.query_row(
                &format!("SELECT {LINK_COLUMNS} FROM links WHERE id = ?1"),
                [id.as_slice()],
                link_row,
            )
            .optional()?)
        })
    }

    fn links_in(&self, matter: &IdBytes) -> StoreResult<Vec<LinkRow>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {LINK_COLUMNS} FROM links WHERE matter_id = ?1
                 ORDER BY created_at DESC, id"
            ))?;
            let rows = stmt.query_map([matter.as_slice()], link_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn open_link(
        &self,
        attempt: OpenAttempt,
        mut event: NewEvent,
    ) -> StoreResult<Option<OpenedLinkRow>> {
        let now = to_i64(attempt.now)?;
        let ticket_expiry = to_i64(attempt.now.saturating_add(attempt.ticket_lifetime))?;
        let caller = attempt.caller.as_slice();
        let claim = attempt.claim_key.as_ref().map(|k| k.as_slice());
        self.write(|tx| {
            // The one gate: every condition and the count in one statement.
            // Unclaimed, the link's own key opens it (a claim-once link only
            // with a key to claim it with); claimed, only the claim key.
            let opened = tx
                .query_row(
                    &format!(
                        "UPDATE links SET
                             opens = opens + 1,
                             claimed_key = CASE WHEN claim_once = 1 AND claimed_key IS NULL
                                                THEN ?3 ELSE claimed_key END
                         WHERE id = ?1
                           AND revoked = 0
                           AND expires_at > ?4
                           AND (max_opens IS NULL OR opens < max_opens)
                           AND failed_attempts < ?5
                           AND ((claimed_key IS NULL AND grantee_key = ?2
                                 AND (claim_once = 0 OR ?3 IS NOT NULL))
                                OR claimed_key = ?2)
                         RETURNING {LINK_COLUMNS}, stanza"
                    ),
                    params![
                        attempt.link_id.as_slice(),
                        caller,
                        claim,
                        now,
                        MAX_FAILED_ATTEMPTS
                    ],
                    |r| Ok((link_row(r)?, r.get::<_, Vec<u8>>(16)?)),
                )
                .optional()?;
            let Some((link, stanza)) = opened else {
                // On a link with a passphrase, a key that is neither the
                // link's nor its claimer's is a guess: a wrong passphrase
                // derives another key. Without a passphrase there is nothing
                // to guess online, and counting would only let anyone who
                // saw the link id lock it.
                tx.execute(
                    "UPDATE links SET failed_attempts = failed_attempts + 1
                     WHERE id = ?1 AND passphrase = 1 AND failed_attempts < ?3
                       AND grantee_key != ?2
                       AND (claimed_key IS NULL OR claimed_key != ?2)",
                    params![attempt.link_id.as_slice(), caller, MAX_FAILED_ATTEMPTS],
                )?;
                return Ok(None);
            };
            tx.execute("DELETE FROM link_tickets WHERE expires_at <= ?1", [now])?;
            tx.execute(
                "INSERT INTO link_tickets (ticket_hash, link_id, opener, expires_at)
                 VALUES (?1, ?2, ?3, min(?4, ?5))",
                params![
                    attempt.ticket_hash.as_slice(),
                    attempt.link_id.as_slice(),
                    caller,
                    ticket_expiry,
                    to_i64(link.expires_at)?
                ],
            )?;
            event.matter_id = Some(link.matter_id);
            event.document_id = Some(link.document_id);
            event.version = Some(link.version);
            event.subject = Some(link.grant_digest);
            append_event(tx, &event)?;
            Ok(Some(OpenedLinkRow { link, stanza }))
        })
    }

    fn ticket(
        &self,
        link: &IdBytes,
        ticket_hash: &DigestBytes,
        caller: &KeyBytes,
        now: u64,
    ) -> StoreResult<Option<TicketTarget>> {
        let now = to_i64(now)?;
        self.read(|c| {
            let row = c
                .query_row(
                    "SELECT l.matter_id, l.document_id, l.version FROM link_tickets t
                     JOIN links l ON l.id = t.link_id
                     WHERE t.ticket_hash = ?1 AND t.link_id = ?2 AND t.opener = ?3
                       AND t.expires_at > ?4 AND l.revoked = 0 AND l.expires_at > ?4",
                    params![
                        ticket_hash.as_slice(),
                        link.as_slice(),
                        caller.as_slice(),
                        now
                    ],
                    |r| {
                        Ok(TicketTarget {
                            matter_id: fixed(r.get(0)?)?,
                            document_id: fixed(r.get(1)?)?,
                            version: r.get(2)?,
                        })
                    },
                )
                .optional()?;
            Ok(row)
        })
    }

    fn revoke_link(
        &self,
        id: &IdBytes,
        caller: &KeyBytes,
        mut event: NewEvent,
    ) -> StoreResult<bool> {
        self.write(|tx| {
            let revoked = tx
                .query_row(
                    "UPDATE links SET revoked = 1
                     WHERE id = ?1
                       AND (creator = ?2
                            OR matter_id IN (SELECT id FROM matters WHERE creator = ?2))
                     RETURNING matter_id, document_id, version, grant_digest",
                    params![id.as_slice(), caller.as_slice()],
                    |r| {
                        Ok((
                            fixed::<16>(r.get(0)?)?,
                            fixed::<16>(r.get(1)?)?,
                            r.get::<_, u32>(2)?,
                            fixed::<32>(r.get(3)?)?,
                        ))
                    },
                )
                .optional()?;
            let Some((matter, document, version, grant)) = revoked else {
                return Ok(false);
            };
            tx.execute(
                "DELETE FROM link_tickets WHERE link_id = ?1",
                [id.as_slice()],
            )?;
            event.matter_id = Some(matter);
            event.document_id = Some(document);
            event.version = Some(version);
            event.subject = Some(grant);
            append_event(tx, &event)?;
            Ok(true)
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::{BlobName, DocumentStore as _, EventKind, MatterStore as _, NewVersion};

    const LINK: IdBytes = [3; 16];
    const LINK_KEY: KeyBytes = [4; 32];

    fn event(kind: EventKind, actor: KeyBytes) -> NewEvent {
        NewEvent {
            at: 1,
            kind,
            actor,
            matter_id: None,
            document_id: None,
            version: None,
            subject: None,
            request: vec![0],
            chain: None,
            receipt: None,
        }
    }

    /// A store with one matter, one document and a link to it.
    fn store_with_link(
        dir: &tempfile::TempDir,
        max_opens: Option<u32>,
        claim_once: bool,
        passphrase: bool,
    ) -> SqliteStore {
        let store = SqliteStore::open(&dir.path().join("db")).unwrap();
        let (matter, document, creator) = ([1; 16], [2; 16], [5; 32]);
        store
            .create_matter(
                &matter,
                &creator,
                b"matter",
                event(EventKind::MatterCreated, creator),
            )
            .unwrap();
        store
            .add_version(
                NewVersion {
                    matter_id: matter,
                    document_id: document,
                    version: 1,
                    manifest: vec![1],
                    metadata: vec![2],
                    blob: BlobName::random([6; 16]),
                    payload_len: 10,
                    stanzas: Vec::new(),
                    grants: Vec::new(),
                },
                event(EventKind::Uploaded, creator),
            )
            .unwrap();
        store
            .create_link(
                NewLink {
                    id: LINK,
                    matter_id: matter,
                    document_id: document,
                    version: 1,
                    creator,
                    grantee_key: LINK_KEY,
                    stanza: b"stanza".to_vec(),
                    created_at: 1,
                    expires_at: 1000,
                    max_opens,
                    passphrase,
                    claim_once,
                },
                NewGrant {
                    digest: [7; 32],
                    matter_id: matter,
                    grantee: LINK_KEY,
                    record: b"grant".to_vec(),
                },
                event(EventKind::LinkCreated, creator),
            )
            .unwrap();
        store
    }

    fn attempt(caller: KeyBytes, claim_key: Option<KeyBytes>, ticket: u8) -> OpenAttempt {
        OpenAttempt {
            link_id: LINK,
            caller,
            claim_key,
            now: 10,
            ticket_hash: [ticket; 32],
            ticket_lifetime: 3600,
        }
    }

    #[test]
    fn concurrent_opens_never_exceed_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(store_with_link(&dir, Some(3), false, false));
        let threads: Vec<_> = (0..12u8)
            .map(|i| {
                let store = Arc::clone(&store);
                std::thread::spawn(move || {
                    store
                        .open_link(
                            attempt(LINK_KEY, None, i),
                            event(EventKind::LinkOpened, LINK_KEY),
                        )
                        .unwrap()
                        .is_some()
                })
            })
            .collect();
        let opened = threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .filter(|ok| *ok)
            .count();
        assert_eq!(opened, 3);
        let link = store.link(&LINK).unwrap().unwrap();
        assert_eq!((link.opens, link.failed_attempts), (3, 0));
        assert!(!link.is_live(10));
    }

    #[test]
    fn wrong_keys_lock_and_claims_bind() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_link(&dir, None, true, true);
        let ev = || event(EventKind::LinkOpened, LINK_KEY);
        // A claim-once link does not open without a claim key, and that
        // is not a failed attempt.
        assert!(
            store
                .open_link(attempt(LINK_KEY, None, 1), ev())
                .unwrap()
                .is_none()
        );
        let claim = [8; 32];
        let opened = store
            .open_link(attempt(LINK_KEY, Some(claim), 2), ev())
            .unwrap()
            .unwrap();
        assert!(opened.link.claimed);
        assert_eq!(opened.stanza, b"stanza");
        // Claimed: the link's own key opens nothing, the claim key does.
        assert!(
            store
                .open_link(attempt(LINK_KEY, Some([9; 32]), 3), ev())
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .open_link(attempt(claim, None, 4), ev())
                .unwrap()
                .is_some()
        );
        assert_eq!(store.link(&LINK).unwrap().unwrap().failed_attempts, 0);
        // The ticket serves only its opener, for its link.
        assert!(store.ticket(&LINK, &[4; 32], &claim, 10).unwrap().is_some());
        assert!(
            store
                .ticket(&LINK, &[4; 32], &LINK_KEY, 10)
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .ticket(&LINK, &[4; 32], &claim, 5000)
                .unwrap()
                .is_none()
        );
        // Five strangers' keys lock it, even for the claimer.
        for i in 0..MAX_FAILED_ATTEMPTS {
            let stranger = [u8::try_from(i).unwrap() + 100; 32];
            assert!(
                store
                    .open_link(attempt(stranger, None, 5), ev())
                    .unwrap()
                    .is_none()
            );
        }
        assert!(
            store
                .open_link(attempt(claim, None, 6), ev())
                .unwrap()
                .is_none()
        );
        let link = store.link(&LINK).unwrap().unwrap();
        assert_eq!(link.failed_attempts, MAX_FAILED_ATTEMPTS);
        // Only its creator or the matter's creator revokes it.
        assert!(!store.revoke_link(&LINK, &[9; 32], ev()).unwrap());
        assert!(store.revoke_link(&LINK, &[5; 32], ev()).unwrap());
        assert!(store.ticket(&LINK, &[4; 32], &claim, 10).unwrap().is_none());
        assert!(store.link(&LINK).unwrap().unwrap().revoked);
    }

    #[test]
    fn strangers_cannot_lock_a_link_without_a_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_link(&dir, None, false, false);
        let ev = || event(EventKind::LinkOpened, LINK_KEY);
        for i in 0..2 * MAX_FAILED_ATTEMPTS {
            let stranger = [u8::try_from(i).unwrap() + 100; 32];
            assert!(
                store
                    .open_link(attempt(stranger, None, 1), ev())
                    .unwrap()
                    .is_none()
            );
        }
        assert_eq!(store.link(&LINK).unwrap().unwrap().failed_attempts, 0);
        assert!(
            store
                .open_link(attempt(LINK_KEY, None, 2), ev())
                .unwrap()
                .is_some()
        );
    }
}
