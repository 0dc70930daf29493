//! Following one's own actor chain from what the server answers (spec:
//! `spec/log.md` §Actor chains).
//!
//! A client learns where its chain stands in two ways: from the receipt of
//! a request it just made (the entry that request produced), and, when it
//! does not know or another device went first, from the head the server
//! reports (`GET /v1/log/head`). Both are checked here, so every client
//! follows its chain by the same rules and refuses a server that shows it
//! a head it did not sign or one behind where it already stands.

use crate::api::{ActorHead, Receipt};
use crate::keys::SigningPublicKey;
use crate::log_entry::{LogEntry, LogEntryError};
use crate::request::{ChainPosition, SignedRequest};

/// Why a served head cannot be where the signer's chain stands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeadError {
    /// The head's log entry does not parse.
    #[error("your latest log entry is malformed: {0}")]
    Malformed(LogEntryError),
    /// The head is not an entry the signer's own signed request produced.
    #[error("the server showed an entry you did not sign as your latest")]
    NotYours,
    /// The head is behind, or beside, the position the client already
    /// holds: the server lost or replaced the signer's entries.
    #[error(
        "the server's log lost or replaced your own entries: it says your next request is number \
         {next}, but you already made {held} (or a different one)"
    )]
    Behind {
        /// The sequence number the server's head implies.
        next: u64,
        /// The sequence number the client holds.
        held: u64,
    },
}

/// The position after `sent`, if `receipt` names the entry `sent` produced;
/// `None` for a receipt of anything else (or one that does not parse).
#[must_use]
pub fn position_after_receipt(sent: &SignedRequest, receipt: &Receipt) -> Option<ChainPosition> {
    let entry = LogEntry::from_bytes(&receipt.entry).ok()?;
    (entry.evidence.as_slice() == sent.as_bytes())
        .then(|| sent.request().position().next(entry.leaf_hash()))
}

/// The position after `me`'s head as the server served it, checked against
/// the position the client already holds, if any.
///
/// # Errors
/// [`HeadError`] when the head is malformed, not `me`'s own signed entry,
/// or behind or beside `held`.
pub fn position_after_head(
    me: &SigningPublicKey,
    head: &ActorHead,
    held: Option<ChainPosition>,
) -> Result<ChainPosition, HeadError> {
    let next = match &head.last {
        None => ChainPosition::FIRST,
        Some(receipt) => {
            let entry = LogEntry::from_bytes(&receipt.entry).map_err(HeadError::Malformed)?;
            let evidence = SignedRequest::from_evidence(&entry.evidence)
                .ok()
                .filter(|r| r.signer() == me && entry.actor.as_slice() == me.as_bytes())
                .ok_or(HeadError::NotYours)?;
            evidence.request().position().next(entry.leaf_hash())
        }
    };
    if let Some(held) = held
        && (next.sequence < held.sequence
            || (next.sequence == held.sequence && next.previous != held.previous))
    {
        return Err(HeadError::Behind {
            next: next.sequence,
            held: held.sequence,
        });
    }
    Ok(next)
}
