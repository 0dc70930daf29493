//! [`LoginStore`](crate::store::LoginStore) on SQLite (schema:
//! `server/migrations/0003_login.sql`).

use lexvault_core::login::{SERVER_LOGIN_STATE_LEN, SERVER_SETUP_LEN};
use lexvault_core::secret::SecretBytes;
use rusqlite::{Connection, OptionalExtension as _, params};

use super::{SqliteStore, append_event, fixed, from_i64, to_i64};
use crate::store::login::{
    BeginAttempt, FailureLimit, LoginRelease, NewAttempt, NewPassword, PendingAttempt, SetPassword,
};
use crate::store::{IdBytes, KeyBytes, LoginStore, StoreError, StoreResult};

/// Copies a secret blob out of a row without an intermediate `Vec`.
fn secret_column<const N: usize>(
    row: &rusqlite::Row<'_>,
    index: usize,
) -> rusqlite::Result<SecretBytes<N>> {
    let bytes = row.get_ref(index)?.as_blob()?;
    SecretBytes::try_from_slice(bytes).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            rusqlite::types::Type::Blob,
            "stored secret has the wrong length".into(),
        )
    })
}

fn read_setup(c: &Connection) -> StoreResult<Option<SecretBytes<SERVER_SETUP_LEN>>> {
    Ok(
        c.query_row("SELECT setup FROM login_setup WHERE id = 1", [], |r| {
            secret_column(r, 0)
        })
        .optional()?,
    )
}

impl LoginStore for SqliteStore {
    fn server_setup(&self) -> StoreResult<Option<SecretBytes<SERVER_SETUP_LEN>>> {
        self.read(read_setup)
    }

    fn create_server_setup(
        &self,
        fresh: &SecretBytes<SERVER_SETUP_LEN>,
    ) -> StoreResult<SecretBytes<SERVER_SETUP_LEN>> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO login_setup (id, setup) VALUES (1, ?1) ON CONFLICT DO NOTHING",
                [fresh.expose_secret().as_slice()],
            )?;
            read_setup(tx)?.ok_or(StoreError::Database(
                "the login setup vanished while it was stored".into(),
            ))
        })
    }

    fn login_owner(&self, login_name: &str) -> StoreResult<Option<KeyBytes>> {
        self.read(|c| {
            let key: Option<Vec<u8>> = c
                .query_row(
                    "SELECT signing_key FROM logins WHERE login_name = ?1",
                    [login_name],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(key.map(fixed).transpose()?)
        })
    }

    fn password_file(&self, login_name: &str) -> StoreResult<Option<Vec<u8>>> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT password_file FROM logins WHERE login_name = ?1",
                [login_name],
                |r| r.get(0),
            )
            .optional()?)
        })
    }

    fn set_password(
        &self,
        password: NewPassword,
        event: crate::store::NewEvent,
    ) -> StoreResult<SetPassword> {
        self.write(|tx| {
            let owner: Option<Vec<u8>> = tx
                .query_row(
                    "SELECT signing_key FROM logins WHERE login_name = ?1",
                    [&password.login_name],
                    |r| r.get(0),
                )
                .optional()?;
            if owner.is_some_and(|o| o != password.signing_key) {
                return Ok(SetPassword::NameTaken);
            }
            // One login per identity: a new name replaces the old one.
            tx.execute(
                "DELETE FROM logins WHERE signing_key = ?1",
                [password.signing_key.as_slice()],
            )?;
            tx.execute(
                "INSERT INTO logins (login_name, signing_key, password_file, sealed_backup)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    password.login_name,
                    password.signing_key.as_slice(),
                    password.password_file,
                    password.sealed_backup,
                ],
            )?;
            append_event(tx, &event)?;
            Ok(SetPassword::Stored)
        })
    }

    fn begin_attempt(&self, attempt: NewAttempt, limit: FailureLimit) -> StoreResult<BeginAttempt> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM login_attempts WHERE expires_at <= ?1",
                [to_i64(attempt.started_at)?],
            )?;
            tx.execute(
                "DELETE FROM login_failures WHERE at < ?1",
                [to_i64(limit.since)?],
            )?;
            let (count, oldest): (i64, Option<i64>) = tx.query_row(
                "SELECT count(*), min(at) FROM login_failures
                 WHERE login_name = ?1 AND at >= ?2",
                params![attempt.login_name, to_i64(limit.since)?],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            if count >= i64::from(limit.max) {
                return Ok(BeginAttempt::Limited {
                    oldest: oldest.map_or(limit.since, from_i64),
                });
            }
            tx.execute(
                "INSERT INTO login_attempts (id, login_name, state, expires_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    attempt.attempt.as_slice(),
                    attempt.login_name,
                    attempt.state.expose_secret().as_slice(),
                    to_i64(attempt.expires_at)?,
                ],
            )?;
            tx.execute(
                "INSERT INTO login_failures (attempt, login_name, at) VALUES (?1, ?2, ?3)",
                params![
                    attempt.attempt.as_slice(),
                    attempt.login_name,
                    to_i64(attempt.started_at)?,
                ],
            )?;
            Ok(BeginAttempt::Started)
        })
    }

    fn take_attempt(&self, attempt: &IdBytes, now: u64) -> StoreResult<Option<PendingAttempt>> {
        self.write(|tx| {
            let taken = tx
                .query_row(
                    "DELETE FROM login_attempts WHERE id = ?1
                     RETURNING login_name, state, expires_at",
                    [attempt.as_slice()],
                    |r| {
                        let pending = PendingAttempt {
                            login_name: r.get(0)?,
                            state: secret_column::<SERVER_LOGIN_STATE_LEN>(r, 1)?,
                        };
                        Ok((pending, r.get::<_, i64>(2)?))
                    },
                )
                .optional()?;
            Ok(taken
                .and_then(|(pending, expires_at)| (from_i64(expires_at) > now).then_some(pending)))
        })
    }

    fn complete_login(
        &self,
        attempt: &IdBytes,
        login_name: &str,
    ) -> StoreResult<Option<LoginRelease>> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM login_failures WHERE attempt = ?1",
                [attempt.as_slice()],
            )?;
            Ok(tx
                .query_row(
                    "SELECT l.sealed_backup, i.bundle FROM logins l
                     JOIN identities i ON i.signing_key = l.signing_key
                     WHERE l.login_name = ?1",
                    [login_name],
                    |r| {
                        Ok(LoginRelease {
                            sealed_backup: r.get(0)?,
                            bundle: r.get(1)?,
                        })
                    },
                )
                .optional()?)
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db.sqlite3")).unwrap();
        (dir, store)
    }

    fn attempt(id: u8, name: &str, at: u64) -> NewAttempt {
        NewAttempt {
            attempt: [id; 16],
            login_name: name.to_owned(),
            state: SecretBytes::from_array(&mut [id; SERVER_LOGIN_STATE_LEN]),
            started_at: at,
            expires_at: at + 300,
        }
    }

    #[test]
    fn the_server_setup_is_created_once() {
        let (_dir, store) = store();
        assert!(store.server_setup().unwrap().is_none());
        let first = SecretBytes::from_array(&mut [1; SERVER_SETUP_LEN]);
        let second = SecretBytes::from_array(&mut [2; SERVER_SETUP_LEN]);
        let kept = store.create_server_setup(&first).unwrap();
        assert_eq!(kept.expose_secret(), first.expose_secret());
        let kept = store.create_server_setup(&second).unwrap();
        assert_eq!(kept.expose_secret(), first.expose_secret());
        let loaded = store.server_setup().unwrap().unwrap();
        assert_eq!(loaded.expose_secret(), first.expose_secret());
    }

    #[test]
    fn attempts_are_taken_once_and_expire() {
        let (_dir, store) = store();
        let limit = FailureLimit { since: 0, max: 10 };
        assert_eq!(
            store.begin_attempt(attempt(1, "ada", 1000), limit).unwrap(),
            BeginAttempt::Started
        );
        assert_eq!(
            store.begin_attempt(attempt(2, "ada", 1000), limit).unwrap(),
            BeginAttempt::Started
        );
        let taken = store.take_attempt(&[1; 16], 1299).unwrap().unwrap();
        assert_eq!(taken.login_name, "ada");
        assert_eq!(taken.state.expose_secret(), &[1; SERVER_LOGIN_STATE_LEN]);
        assert!(store.take_attempt(&[1; 16], 1299).unwrap().is_none());
        // At its expiry the attempt is gone for good.
        assert!(store.take_attempt(&[2; 16], 1300).unwrap().is_none());
        assert!(store.take_attempt(&[2; 16], 1000).unwrap().is_none());
    }

    #[test]
    fn every_attempt_counts_until_it_succeeds() {
        let (_dir, store) = store();
        let limit = FailureLimit { since: 500, max: 2 };
        // A failure before the window is forgotten.
        store
            .begin_attempt(attempt(1, "ada", 100), FailureLimit { since: 0, max: 2 })
            .unwrap();
        store.begin_attempt(attempt(2, "ada", 600), limit).unwrap();
        store.begin_attempt(attempt(3, "ada", 700), limit).unwrap();
        assert_eq!(
            store.begin_attempt(attempt(4, "ada", 800), limit).unwrap(),
            BeginAttempt::Limited { oldest: 600 }
        );
        // Other names have their own count.
        assert_eq!(
            store.begin_attempt(attempt(5, "bob", 800), limit).unwrap(),
            BeginAttempt::Started
        );
        // A success no longer counts (even when the name has no login).
        assert!(store.complete_login(&[3; 16], "ada").unwrap().is_none());
        assert_eq!(
            store.begin_attempt(attempt(6, "ada", 800), limit).unwrap(),
            BeginAttempt::Started
        );
    }
}
