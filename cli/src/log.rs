//! The client's log monitor (spec: `spec/log.md` §Server API): every
//! receipt the server sends is checked, and every sync demands a
//! consistency proof from the newest checkpoint this client has verified.
//!
//! The monitor keeps a [`LogState`]: the log's verifier key, pinned on
//! first use, and the newest signed checkpoint verified under it. A server
//! that shows this client a history that does not extend the pinned one is
//! caught with [`LogError::Fork`], which carries both signed checkpoints:
//! two notes signed by the same log key that no consistency proof links are
//! evidence anyone can check.
//!
//! The state is saved as TOML:
//!
//! ```toml
//! verifier_key = "lexvault/0123456789abcdef+1a2b3c4d+AR…"
//! checkpoint = "lexvault/0123456789abcdef\n42\n…\n\n— lexvault/… …\n"
//! ```

use std::fmt;

use lexvault_core::api::{self, LogCheckpoint, LogProof, Receipt};
use lexvault_core::checkpoint::{Checkpoint, CheckpointError};
use lexvault_core::keys::SigningSecretKey;
use lexvault_core::log_entry::{LogEntry, LogEntryError};
use lexvault_core::merkle::{self, Hash, ProofError};
use lexvault_core::note::{NoteKeyError, NoteVerifier};
use lexvault_core::request::{RequestError, SignedRequest};
use lexvault_core::transparency::{
    self, Forked, LogKeyError, consistency_needed, consistency_path, verify_consistency,
};

use crate::client::{Client, ClientError};

/// What a client remembers of the log between runs.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogState {
    /// The log's note verifier key string (`name+id+key`), pinned on first
    /// use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verifier_key: Option<String>,
    /// The newest checkpoint verified under that key: the whole signed
    /// note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
}

impl LogState {
    /// The state as TOML, for the profile's `log.state` file.
    pub fn to_toml(&self) -> Result<String, LogError> {
        toml::to_string(self).map_err(|_| LogError::State)
    }

    /// Reads a state saved with [`Self::to_toml`].
    pub fn from_toml(text: &str) -> Result<Self, LogError> {
        toml::from_str(text).map_err(|_| LogError::State)
    }

    /// The pinned verifier key, parsed.
    pub fn verifier(&self) -> Result<Option<NoteVerifier>, LogError> {
        self.verifier_key
            .as_deref()
            .map(|k| k.parse::<NoteVerifier>().map_err(LogError::LogKey))
            .transpose()
    }
}

/// Why the log monitor refused what the server sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// A receipt is not the canonical encoding of a `Receipt`.
    #[error("the server sent a malformed log receipt")]
    MalformedReceipt,
    /// A served checkpoint is not UTF-8 text.
    #[error("the server sent a malformed log checkpoint")]
    MalformedCheckpoint,
    /// A receipt's entry does not parse.
    #[error("the log entry in a receipt is malformed: {0}")]
    Entry(#[from] LogEntryError),
    /// A receipt's index is not its entry's index.
    #[error("the receipt's index does not match its entry")]
    IndexMismatch,
    /// The entry's evidence is not a valid signed request.
    #[error("the log entry's evidence is not a valid signed request: {0}")]
    Evidence(RequestError),
    /// The entry's evidence was signed by someone else, or its actor is not
    /// the signer: the receipt is not for this client's request.
    #[error("the log entry is not for this client's own request")]
    NotOurRequest,
    /// A checkpoint does not verify under the pinned log key.
    #[error("a log checkpoint does not verify under the pinned log key: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// The inclusion proof does not place the entry in the checkpoint.
    #[error("the receipt's inclusion proof does not verify: {0}")]
    Inclusion(ProofError),
    /// The served checkpoint is not consistent with the pinned one. Both
    /// are signed by the log key: keep them as evidence.
    #[error(
        "the server's log has forked: the checkpoint it serves is not consistent with the one \
         pinned earlier; keep both as evidence\n--- pinned checkpoint ---\n{pinned}--- served \
         checkpoint ---\n{served}"
    )]
    Fork {
        /// The pinned signed checkpoint note.
        pinned: String,
        /// The served signed checkpoint note.
        served: String,
    },
    /// The log key string is invalid.
    #[error("the log key is invalid: {0}")]
    LogKey(NoteKeyError),
    /// The log key's name is not the origin the spec derives from the key.
    #[error("the log key's name is not lexvault/<first 16 hex digits of SHA-256 of the key>")]
    UnexpectedOrigin,
    /// The saved log state cannot be read or written.
    #[error("the saved log state is unreadable; delete it to trust the server's log key again")]
    State,
    /// Talking to the server failed.
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// The checkpoint origin of the log whose note key is `verifier` (see
/// [`transparency::expected_origin`]).
#[must_use]
pub fn expected_origin(verifier: &NoteVerifier) -> String {
    transparency::expected_origin(verifier)
}

/// Parses a log key string and checks its name is the derived origin.
pub fn parse_log_key(text: &str) -> Result<NoteVerifier, LogError> {
    transparency::parse_log_key(text).map_err(|e| match e {
        LogKeyError::Invalid(e) => LogError::LogKey(e),
        _ => LogError::UnexpectedOrigin,
    })
}

/// Opens a signed checkpoint note with the log key.
pub fn open_checkpoint(note: &str, verifier: &NoteVerifier) -> Result<Checkpoint, LogError> {
    Ok(transparency::open_checkpoint(note, verifier)?)
}

/// The log monitor: stateless; its memory is the caller's [`LogState`].
#[derive(Debug, Clone, Copy, Default)]
pub struct LogMonitor;

impl LogMonitor {
    /// Verifies receipts received for this client's own requests (from
    /// [`Client::take_receipts`]), in arrival order, and advances `state`.
    ///
    /// For each receipt: strict decoding, the entry parses and is at the
    /// receipt's index, its evidence is a request signed by `key` (and the
    /// entry's actor is `key`), the checkpoint verifies under the pinned log
    /// key, the inclusion proof places the entry in it, and the checkpoint
    /// is consistent with the newest one pinned.
    pub fn check_receipts(
        client: &Client,
        key: &SigningSecretKey,
        state: &mut LogState,
        receipts: Vec<Vec<u8>>,
    ) -> Result<(), LogError> {
        if receipts.is_empty() {
            return Ok(());
        }
        let verifier = Self::pinned_or_fetch(client, key, state)?;
        let ours = key.public_key();
        for bytes in receipts {
            let receipt: Receipt = api::decode(&bytes).map_err(|_| LogError::MalformedReceipt)?;
            let entry = LogEntry::from_bytes(&receipt.entry)?;
            if entry.index != receipt.index {
                return Err(LogError::IndexMismatch);
            }
            let request =
                SignedRequest::from_evidence(&entry.evidence).map_err(LogError::Evidence)?;
            if *request.signer() != ours || *entry.actor != ours.to_bytes() {
                return Err(LogError::NotOurRequest);
            }
            let note =
                std::str::from_utf8(&receipt.checkpoint).map_err(|_| LogError::MalformedReceipt)?;
            let checkpoint = open_checkpoint(note, &verifier)?;
            let proof: Vec<Hash> = receipt.proof.iter().map(|h| **h).collect();
            merkle::verify_inclusion(
                entry.index,
                checkpoint.size,
                &merkle::leaf_hash(&receipt.entry),
                &proof,
                &checkpoint.root,
            )
            .map_err(LogError::Inclusion)?;
            Self::advance(client, key, state, &verifier, note, &checkpoint, false)?;
        }
        Ok(())
    }

    /// Fetches the newest checkpoint and checks it is consistent with the
    /// pinned one (pinning the log key on first use). Returns the served
    /// signed note and its body.
    pub fn sync(
        client: &Client,
        key: &SigningSecretKey,
        state: &mut LogState,
    ) -> Result<(String, Checkpoint), LogError> {
        let answer: LogCheckpoint = client.get(key, "/v1/log/checkpoint")?;
        let verifier = match state.verifier()? {
            Some(v) => v,
            None => Self::pin(state, &answer.verifier_key)?,
        };
        let note = String::from_utf8(answer.checkpoint.to_vec())
            .map_err(|_| LogError::MalformedCheckpoint)?;
        let checkpoint = open_checkpoint(&note, &verifier)?;
        Self::advance(client, key, state, &verifier, &note, &checkpoint, true)?;
        Ok((note, checkpoint))
    }

    fn pin(state: &mut LogState, key: &str) -> Result<NoteVerifier, LogError> {
        let verifier = parse_log_key(key)?;
        state.verifier_key = Some(verifier.to_string());
        Ok(verifier)
    }

    /// The pinned log key, or the served one pinned now (first use).
    pub(crate) fn pinned_or_fetch(
        client: &Client,
        key: &SigningSecretKey,
        state: &mut LogState,
    ) -> Result<NoteVerifier, LogError> {
        if let Some(v) = state.verifier()? {
            return Ok(v);
        }
        let answer: LogCheckpoint = client.get(key, "/v1/log/checkpoint")?;
        Self::pin(state, &answer.verifier_key)
    }

    /// Checks `served` against the pinned checkpoint and keeps the newer.
    /// When `served` is the log's *newest* checkpoint, one smaller than the
    /// pinned is a rollback: both signed notes are the evidence, and there
    /// is nothing to ask the server.
    pub(crate) fn advance(
        client: &Client,
        key: &SigningSecretKey,
        state: &mut LogState,
        verifier: &NoteVerifier,
        served_note: &str,
        served: &Checkpoint,
        newest: bool,
    ) -> Result<(), LogError> {
        let Some(pinned_note) = state.checkpoint.clone() else {
            state.checkpoint = Some(served_note.to_owned());
            return Ok(());
        };
        let pinned = open_checkpoint(&pinned_note, verifier)?;
        let fork = |_: Forked| LogError::Fork {
            pinned: pinned_note.clone(),
            served: served_note.to_owned(),
        };
        if let Some((from, to)) = consistency_needed(&pinned, served, newest).map_err(fork)? {
            let proof: LogProof = client.get(key, &consistency_path(from, to))?;
            let hashes: Vec<Hash> = proof.hashes.iter().map(|h| **h).collect();
            verify_consistency(&pinned, served, &hashes).map_err(fork)?;
        }
        if served.size > pinned.size {
            state.checkpoint = Some(served_note.to_owned());
        }
        Ok(())
    }
}

impl fmt::Display for LogState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "log key {}",
            self.verifier_key.as_deref().unwrap_or("(not pinned)")
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use lexvault_core::keys::SigningSecretKey;
    use lexvault_core::note::NoteSigner;
    use sha2::{Digest as _, Sha256};

    #[test]
    fn state_round_trips_as_toml() {
        let state = LogState {
            verifier_key: Some("a+01020304+AQ".into()),
            checkpoint: Some("o\n1\nroot\n\n— o abc\n".into()),
        };
        assert_eq!(
            LogState::from_toml(&state.to_toml().unwrap()).unwrap(),
            state
        );
        assert_eq!(LogState::from_toml("").unwrap(), LogState::default());
        assert!(LogState::from_toml("verifier_key = 3").is_err());
    }

    #[test]
    fn log_keys_must_carry_the_derived_origin() {
        let secret = SigningSecretKey::generate(&mut crate::client::os_rng());
        let public = secret.public_key();
        let name = format!(
            "lexvault/{}",
            &hex::encode(Sha256::digest(public.as_bytes()))[..16]
        );
        let good = NoteSigner::new(&name, secret).unwrap().verifier();
        assert!(parse_log_key(&good.to_string()).is_ok());
        let other = SigningSecretKey::generate(&mut crate::client::os_rng());
        let bad = NoteSigner::new(&name, other).unwrap().verifier();
        assert!(matches!(
            parse_log_key(&bad.to_string()),
            Err(LogError::UnexpectedOrigin)
        ));
    }
}
