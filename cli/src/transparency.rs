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

use lexvault_core::api::{IdentityInfo, LogInclusion};
use lexvault_core::binding::{
    ADMINISTRATOR_SET, BindingError, verify_certification_entry, verify_login_entry,
    verify_registration_entry,
};
use lexvault_core::key_bundle::{KeyBundleError, VerifiedKeyBundle, verify_key_bundle};
use lexvault_core::keys::{Fingerprint, SigningPublicKey};
use lexvault_core::merkle::{self, Hash, ProofError};

use crate::client::Client;
use crate::log::{LogError, LogMonitor, LogState, open_checkpoint};

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

/// Why a served identity is not one the client may encrypt to or grant.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransparencyError {
    /// The served key bundle does not verify.
    #[error("the served key bundle is invalid: {0}")]
    InvalidBundle(KeyBundleError),
    /// The server answered for one key with another key's bundle.
    #[error("the server served another person's key bundle")]
    WrongBundle,
    /// The server sent no binding proofs: the bundle is not shown to be in
    /// the log.
    #[error("the server did not show that this key bundle is bound in the log")]
    NotInLog,
    /// The registration entry does not bind the served bundle.
    #[error("the log entry served as this key bundle's registration does not bind it: {0}")]
    Registration(BindingError),
    /// A certificate was served without the entry that binds it.
    #[error("the server did not show that this member certificate is bound in the log")]
    CertificateNotInLog,
    /// The certification entry does not bind the served certificate.
    #[error("the log entry served as this certificate's binding does not bind it: {0}")]
    Certification(BindingError),
    /// A login-name lookup answered without the entry binding the name.
    #[error("the server did not show that this login name is bound in the log")]
    LoginNotInLog,
    /// The login entry does not bind the name to the key.
    #[error("the log entry served as this login name's binding does not bind it: {0}")]
    Login(BindingError),
    /// A name lookup answered with an identity of another name.
    #[error("the server answered a name lookup with an identity of another name")]
    WrongName,
    /// A binding entry's index is not the index it is proven at.
    #[error("a binding entry's index does not match its proof")]
    IndexMismatch,
    /// A binding entry is not included in the served checkpoint.
    #[error("a binding entry is not included in the served checkpoint: {0}")]
    Inclusion(ProofError),
    /// The checkpoint does not open under the pinned log key, is not
    /// consistent with the pinned checkpoint (a fork), or the server could
    /// not be asked for a consistency proof.
    #[error(transparent)]
    Log(#[from] LogError),
}

/// A key bundle whose binding in the log this client verified.
#[derive(Debug, Clone)]
pub struct BoundIdentity {
    /// The verified bundle.
    pub bundle: VerifiedKeyBundle,
    /// The leaf index of the entry that binds it.
    pub registration_index: u64,
    /// The member certificate's exact bytes and its binding entry's index,
    /// when one was served and checked.
    pub certificate: Option<(Vec<u8>, u64)>,
    /// The leaf index of the entry binding the looked-up login name, for a
    /// lookup by login name.
    pub login_index: Option<u64>,
}

/// What a served identity must be bound as.
#[derive(Debug, Clone, Copy, Default)]
pub struct Expect<'a> {
    /// The key the identity was asked for, if one was.
    pub key: Option<&'a SigningPublicKey>,
    /// The administrator's key, when the client relies on a served member
    /// certificate (a certificate is then required to be bound).
    pub administrator: Option<&'a SigningPublicKey>,
    /// The normalized login name looked up, if any.
    pub login_name: Option<&'a str>,
    /// The identity is served as the firm's administrator: only the init
    /// step's `administrator-set` entry binds it.
    pub as_administrator: bool,
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
    let bundle = verify_key_bundle(&info.bundle).map_err(TransparencyError::InvalidBundle)?;
    if expect.key.is_some_and(|k| *k != bundle.identity().signing) {
        return Err(TransparencyError::WrongBundle);
    }
    let proofs = info.bindings.as_ref().ok_or(TransparencyError::NotInLog)?;
    let verifier = LogMonitor::pinned_or_fetch(client, key, state)?;
    let note =
        std::str::from_utf8(&proofs.checkpoint).map_err(|_| LogError::MalformedCheckpoint)?;
    let checkpoint = open_checkpoint(note, &verifier)?;
    let included = |inclusion: &LogInclusion| -> Result<(), TransparencyError> {
        let proof: Vec<Hash> = inclusion.proof.iter().map(|h| **h).collect();
        merkle::verify_inclusion(
            inclusion.index,
            checkpoint.size,
            &merkle::leaf_hash(&inclusion.entry),
            &proof,
            &checkpoint.root,
        )
        .map_err(TransparencyError::Inclusion)
    };

    included(&proofs.registration)?;
    let entry = verify_registration_entry(&proofs.registration.entry, &bundle)
        .map_err(TransparencyError::Registration)?;
    if entry.index != proofs.registration.index {
        return Err(TransparencyError::IndexMismatch);
    }
    if expect.as_administrator && entry.kind != ADMINISTRATOR_SET {
        return Err(TransparencyError::Registration(BindingError::WrongKind {
            expected: ADMINISTRATOR_SET,
            found: entry.kind,
        }));
    }

    let mut certificate = None;
    if let (Some(administrator), Some(bytes)) = (expect.administrator, &info.certificate) {
        let inclusion = proofs
            .certification
            .as_ref()
            .ok_or(TransparencyError::CertificateNotInLog)?;
        included(inclusion)?;
        let entry = verify_certification_entry(
            &inclusion.entry,
            bytes,
            &bundle.identity().signing,
            administrator,
        )
        .map_err(TransparencyError::Certification)?;
        if entry.index != inclusion.index {
            return Err(TransparencyError::IndexMismatch);
        }
        certificate = Some((bytes.to_vec(), entry.index));
    }

    let mut login_index = None;
    if let Some(name) = expect.login_name {
        let inclusion = proofs
            .login
            .as_ref()
            .ok_or(TransparencyError::LoginNotInLog)?;
        included(inclusion)?;
        let entry = verify_login_entry(&inclusion.entry, name, &bundle.identity().signing)
            .map_err(TransparencyError::Login)?;
        if entry.index != inclusion.index {
            return Err(TransparencyError::IndexMismatch);
        }
        login_index = Some(entry.index);
    }

    // Only now, with every entry checked, does the checkpoint count: it
    // must extend (or be extended by) the one pinned.
    LogMonitor::advance(client, key, state, &verifier, note, &checkpoint, false)?;
    Ok(BoundIdentity {
        registration_index: proofs.registration.index,
        bundle,
        certificate,
        login_index,
    })
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
