//! Password login records (OPAQUE) and sealed key backups (spec:
//! `spec/login.md` §API).
//!
//! # Security contract
//!
//! An implementation keeps these promises, which the login routes rely on:
//!
//! - The server setup ([`LoginStore::server_setup`]) is the deployment's
//!   long-term login secret. It is created once, never replaced by
//!   [`LoginStore::create_server_setup`], and never logged.
//! - A login name belongs to at most one identity, and an identity has at
//!   most one login; [`LoginStore::set_password`] stores the password file
//!   and the sealed backup together, with their event, or not at all.
//! - A pending login state is handed out once: [`LoginStore::take_attempt`]
//!   removes it in the same step that reads it, so an attempt id cannot be
//!   finished twice, and an expired one is never returned.
//! - Every started attempt counts as a failure of its login name from the
//!   moment it starts until [`LoginStore::complete_login`] clears it, and
//!   [`LoginStore::begin_attempt`] checks the limit and records the attempt
//!   atomically, so concurrent starts cannot overrun the limit.

use lexvault_core::login::{SERVER_LOGIN_STATE_LEN, SERVER_SETUP_LEN};
use lexvault_core::secret::SecretBytes;

use super::{IdBytes, KeyBytes, NewEvent, StoreResult};

/// A normalised login name, as stored (spec: `spec/login.md` §API, Login
/// names). The routes normalise and check it before it reaches the store.
pub type LoginName = String;

/// A password login to store for an identity.
#[derive(Clone, Debug)]
pub struct NewPassword {
    /// The normalised login name.
    pub login_name: LoginName,
    /// The identity the login opens.
    pub signing_key: KeyBytes,
    /// The OPAQUE password file (the client's registration upload).
    pub password_file: Vec<u8>,
    /// The identity's secret keys, sealed under the password; parsed and
    /// checked by the caller.
    pub sealed_backup: Vec<u8>,
}

/// The outcome of [`LoginStore::set_password`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetPassword {
    /// The login is stored, replacing the identity's earlier one if any.
    Stored,
    /// Another identity holds the login name; nothing was stored.
    NameTaken,
}

/// A login started on the server, waiting for the client's finalization.
pub struct NewAttempt {
    /// The random attempt id given to the client.
    pub attempt: IdBytes,
    /// The normalised login name the attempt is for (existing or not).
    pub login_name: LoginName,
    /// The server's pending OPAQUE state.
    pub state: SecretBytes<SERVER_LOGIN_STATE_LEN>,
    /// When the attempt starts, Unix seconds.
    pub started_at: u64,
    /// After this (Unix seconds) the attempt can no longer be finished.
    pub expires_at: u64,
}

impl std::fmt::Debug for NewAttempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAttempt")
            .field("login_name", &self.login_name)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// How many failures a login name may have, and over which period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailureLimit {
    /// Failures counted are those at or after this time, Unix seconds.
    pub since: u64,
    /// A new attempt is refused when this many failures are counted.
    pub max: u32,
}

/// The outcome of [`LoginStore::begin_attempt`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BeginAttempt {
    /// The attempt is stored and counted.
    Started,
    /// The login name reached its limit; nothing was stored. The oldest
    /// counted failure was at `oldest` (Unix seconds).
    Limited {
        /// Time of the oldest failure still counted.
        oldest: u64,
    },
}

/// A pending attempt, taken out of the store.
pub struct PendingAttempt {
    /// The normalised login name the attempt is for.
    pub login_name: LoginName,
    /// The server's pending OPAQUE state.
    pub state: SecretBytes<SERVER_LOGIN_STATE_LEN>,
}

impl std::fmt::Debug for PendingAttempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingAttempt")
            .field("login_name", &self.login_name)
            .finish_non_exhaustive()
    }
}

/// What a successful login releases.
#[derive(Clone, Debug)]
pub struct LoginRelease {
    /// The sealed key backup.
    pub sealed_backup: Vec<u8>,
    /// The identity's signed key bundle.
    pub bundle: Vec<u8>,
}

/// Password files, sealed backups, pending logins and failed attempts.
pub trait LoginStore: Send + Sync + 'static {
    /// The server's OPAQUE setup, if one was created.
    fn server_setup(&self) -> StoreResult<Option<SecretBytes<SERVER_SETUP_LEN>>>;

    /// Stores `fresh` as the server's OPAQUE setup unless one exists, and
    /// returns the one in force (the existing one wins a race).
    fn create_server_setup(
        &self,
        fresh: &SecretBytes<SERVER_SETUP_LEN>,
    ) -> StoreResult<SecretBytes<SERVER_SETUP_LEN>>;

    /// The identity holding `login_name`, if any.
    fn login_owner(&self, login_name: &str) -> StoreResult<Option<KeyBytes>>;

    /// The password file stored under `login_name`, if any.
    fn password_file(&self, login_name: &str) -> StoreResult<Option<Vec<u8>>>;

    /// Stores a password login with its event, in one transaction: the
    /// identity's earlier login (under any name) is replaced; a name held by
    /// another identity is refused with [`SetPassword::NameTaken`].
    fn set_password(&self, password: NewPassword, event: NewEvent) -> StoreResult<SetPassword>;

    /// Starts a login attempt unless its login name has `limit.max` or more
    /// failures since `limit.since`. The attempt is stored, and counted as a
    /// failure, in the same transaction as the check. Also forgets expired
    /// attempts and failures older than `limit.since`.
    fn begin_attempt(&self, attempt: NewAttempt, limit: FailureLimit) -> StoreResult<BeginAttempt>;

    /// Removes and returns the pending attempt `attempt`, unless it is
    /// unknown, already taken, or expired at `now`. The attempt stays
    /// counted as a failure.
    fn take_attempt(&self, attempt: &IdBytes, now: u64) -> StoreResult<Option<PendingAttempt>>;

    /// Records that `attempt` succeeded (it no longer counts as a failure)
    /// and returns what the login releases for `login_name`; `None` if the
    /// name no longer has a login.
    fn complete_login(
        &self,
        attempt: &IdBytes,
        login_name: &str,
    ) -> StoreResult<Option<LoginRelease>>;
}
