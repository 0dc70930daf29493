//! The explicit init step that names the firm's administrator.
//!
//! A server has no administrator until the firm's IT person runs
//! `lexvault-server init-admin --bundle <file>` with the administrator's
//! self-signed key bundle (made on the administrator's own machine by the
//! `lexvault` CLI). There is no default administrator and no way to replace
//! one through the API.

use std::path::Path;

use lexvault_core::key_bundle::verify_key_bundle;
use lexvault_core::keys::Fingerprint;

use crate::app::{AppState, Limits};
use crate::store::{EventKind, NewEvent, StoreError};

/// Why the administrator could not be set.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The bundle file could not be read.
    #[error("cannot read the key bundle file: {0}")]
    Read(std::io::Error),
    /// The file is not a valid signed key bundle.
    #[error(
        "the file is not a valid lexvault key bundle ({0}); export it with `lexvault whoami --bundle`"
    )]
    InvalidBundle(String),
    /// An administrator is already set.
    #[error("this server already has an administrator; it cannot be replaced")]
    AlreadySet,
    /// The stores could not be opened or written.
    #[error("{0}")]
    Storage(String),
}

/// Sets the administrator of the server whose data lives in `data_dir` from
/// the key bundle in `bundle_file`; returns its fingerprint.
pub fn init_admin(data_dir: &Path, bundle_file: &Path) -> Result<Fingerprint, InitError> {
    let bytes = std::fs::read(bundle_file).map_err(InitError::Read)?;
    let bundle = verify_key_bundle(&bytes).map_err(|e| InitError::InvalidBundle(e.to_string()))?;
    let state = AppState::open(data_dir, Limits::default())
        .map_err(|e| InitError::Storage(e.to_string()))?;
    let key = bundle.identity().signing.to_bytes();
    let event = NewEvent {
        at: state.now(),
        kind: EventKind::AdministratorSet,
        actor: key,
        matter_id: None,
        document_id: None,
        version: None,
        subject: Some(bundle.digest().0),
        // No request: the self-signed bundle is the evidence.
        request: bundle.as_bytes().to_vec(),
        chain: None,
        receipt: None,
    };
    match state
        .metadata()
        .set_administrator(&key, bundle.as_bytes(), event)
    {
        Ok(()) => Ok(bundle.fingerprint()),
        Err(StoreError::AlreadyExists) => Err(InitError::AlreadySet),
        Err(e) => Err(InitError::Storage(e.to_string())),
    }
}
