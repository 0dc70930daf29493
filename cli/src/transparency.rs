//! Key transparency on the client (spec: `spec/log.md` §Key transparency).
//!
//! Before a client encrypts a file key to someone or grants them anything,
//! it checks that the key bundle the server serves for them is *bound* in
//! the access log: the server proves, against one signed checkpoint, the
//! inclusion of the entry in which that key asked to publish exactly that
//! bundle (and, when the client relies on a role, the entry in which the
//! administrator stored exactly that certificate). The checkpoint must open
//! under the pinned log key and be consistent with the pinned checkpoint,
//! so a binding shown to one client is in the history every client and
//! the auditor see.
//!
//! The same proofs let a client look for bindings of its own name that it
//! did not make ([`ForeignBinding`]).

use std::sync::{Arc, Mutex, PoisonError};

use lexvault_core::api::IdentityInfo;
use lexvault_core::keys::{Fingerprint, SigningPublicKey};
use lexvault_core::transparency::verify_binding_proofs;

use crate::client::Client;
use crate::log::{LogError, LogMonitor, LogState};

/// A client's log state shared between a [`crate::vault::Vault`], which
/// advances it when it checks binding proofs, and whoever loads and saves
/// it (the CLI's `log.state`). Clones share one state.
#[derive(Clone, Debug, Default)]
pub struct LogView(Arc<Mutex<LogState>>);

impl LogView {
    /// A view starting from `state`.
    #[must_use]
    pub fn new(state: LogState) -> Self {
        Self(Arc::new(Mutex::new(state)))
    }

    /// A copy of the current state, to save.
    #[must_use]
    pub fn snapshot(&self) -> LogState {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Runs `f` on the state. Whatever `f` pinned before failing stays
    /// pinned, as with receipts.
    pub fn update<T>(&self, f: impl FnOnce(&mut LogState) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

pub use lexvault_core::transparency::{BoundIdentity, Expect};

/// Why a served identity is not one the client may encrypt to or grant.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransparencyError {
    /// The served identity or its binding proofs do not verify.
    #[error(transparent)]
    Binding(#[from] lexvault_core::transparency::TransparencyError),
    /// The checkpoint is not consistent with the pinned checkpoint (a
    /// fork), or the server could not be asked for a consistency proof.
    #[error(transparent)]
    Log(#[from] LogError),
}

/// Verifies a served identity and its binding proofs against `state`,
/// advancing the pinned checkpoint if the proofs' checkpoint is newer.
pub fn verify_identity(
    client: &Client,
    key: &lexvault_core::keys::SigningSecretKey,
    state: &mut LogState,
    info: &IdentityInfo,
    expect: Expect<'_>,
) -> Result<BoundIdentity, TransparencyError> {
    let verifier = LogMonitor::pinned_or_fetch(client, key, state)?;
    let proven = verify_binding_proofs(info, expect, &verifier)?;
    // Only now, with every entry checked, does the checkpoint count: it
    // must extend (or be extended by) the one pinned.
    LogMonitor::advance(
        client,
        key,
        state,
        &verifier,
        &proven.note,
        &proven.checkpoint,
        false,
    )?;
    Ok(proven.identity)
}

/// How a foreign binding names this client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoundName {
    /// A key bundle with this client's display name.
    DisplayName,
    /// A password login under this client's login name.
    LoginName,
}

impl BoundName {
    /// The name's stable label (`display-name`, `login-name`).
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::DisplayName => "display-name",
            Self::LoginName => "login-name",
        }
    }
}

/// A binding in the log of this client's name to a key that is not its
/// own: someone else published a bundle under its display name, or holds
/// its login name.
#[derive(Debug, Clone)]
pub struct ForeignBinding {
    /// Which name.
    pub name: BoundName,
    /// The other key.
    pub key: SigningPublicKey,
    /// Its fingerprint.
    pub fingerprint: Fingerprint,
    /// The leaf index of the binding entry.
    pub index: u64,
}

/// `value` percent-encoded for a query: every byte but ASCII letters,
/// digits and `-._~` as `%XX`.
#[must_use]
pub fn query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_keep_only_unreserved_bytes() {
        assert_eq!(query_value("Ada Lovelace"), "Ada%20Lovelace");
        assert_eq!(query_value("a+b&c=d"), "a%2Bb%26c%3Dd");
        assert_eq!(query_value("Zoë"), "Zo%C3%AB");
        assert_eq!(query_value("x-y._~"), "x-y._~");
    }
}
