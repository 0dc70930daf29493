//! A matter's events as a client checks them (spec: `spec/log.md`,
//! `spec/api.md` §Events): each event the server lists must say exactly
//! what its log entry says, and the entry's evidence must be a request
//! signed by the event's actor.

use crate::api::{EventList, EventView};
use crate::binding::ADMINISTRATOR_SET;
use crate::log_entry::{LogEntry, LogEntryError};
use crate::matter::MatterId;
use crate::request::{RequestError, SignedRequest};

/// Why a served event list does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// An event's log entry does not parse.
    #[error("an event's log entry is malformed: {0}")]
    Entry(LogEntryError),
    /// An event says something its log entry does not, or is of another
    /// matter.
    #[error("an event does not match its log entry")]
    Mismatch,
    /// An event's evidence is not a valid signed request.
    #[error("an event's evidence is not a valid signed request: {0}")]
    Evidence(RequestError),
    /// An event's evidence was signed by another key than its actor.
    #[error("an event's evidence was signed by someone else")]
    WrongSigner,
}

/// Checks every event of `list`, served as `matter`'s events.
///
/// # Errors
/// The first [`EventError`] found.
pub fn verify_events(matter: &MatterId, list: &EventList) -> Result<(), EventError> {
    list.events.iter().try_for_each(|e| verify_event(matter, e))
}

/// Checks one event of `matter` against its log entry and evidence.
///
/// # Errors
/// An [`EventError`].
pub fn verify_event(matter: &MatterId, event: &EventView) -> Result<(), EventError> {
    let entry = LogEntry::from_bytes(&event.entry).map_err(EventError::Entry)?;
    let agrees = entry.index.checked_add(1) == Some(event.seq)
        && entry.at == event.at
        && entry.kind == event.kind
        && entry.actor == event.actor
        && entry.document_id == event.document_id
        && entry.document_version == event.version
        && entry.subject == event.subject
        && entry.evidence == event.request
        && entry.matter_id.as_deref() == Some(matter.as_bytes());
    if !agrees {
        return Err(EventError::Mismatch);
    }
    // The init step's evidence is the administrator's bundle; all others
    // are signed requests by the actor.
    if event.kind == ADMINISTRATOR_SET {
        return Ok(());
    }
    let request = SignedRequest::from_evidence(&event.request).map_err(EventError::Evidence)?;
    if request.signer().as_bytes() != &*event.actor {
        return Err(EventError::WrongSigner);
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;
    use crate::keys::Identity;
    use crate::log_entry::LOG_ENTRY_VERSION;
    use crate::request::{BodyDigest, ChainPosition, RequestTarget};

    /// `actor`'s download of a document of `matter`, signed by `signer`,
    /// as the server lists it.
    fn download(matter: &MatterId, actor: &Identity, signer: &Identity) -> EventView {
        let mut rng = ChaCha20Rng::from_seed([4; 32]);
        let request = SignedRequest::sign(
            RequestTarget {
                method: "GET".into(),
                path: "/v1/documents/00/versions/1/payload".into(),
                query: String::new(),
                body_digest: BodyDigest::of(b""),
            },
            ChainPosition::FIRST,
            signer.signing_key(),
            1_700_000_000,
            &mut rng,
        )
        .unwrap();
        let entry = LogEntry {
            version: LOG_ENTRY_VERSION,
            index: 6,
            at: 1_700_000_001,
            kind: "downloaded".into(),
            actor: actor.public().signing.to_bytes().into(),
            matter_id: Some((*matter.as_bytes()).into()),
            document_id: Some([9; 16].into()),
            document_version: Some(1),
            subject: None,
            evidence: request.as_bytes().to_vec().into(),
        };
        EventView {
            seq: 7,
            at: entry.at,
            kind: entry.kind.clone(),
            actor: entry.actor,
            document_id: entry.document_id,
            version: entry.document_version,
            request: entry.evidence.clone(),
            subject: None,
            entry: entry.to_bytes().into(),
        }
    }

    #[test]
    fn events_must_say_what_their_entries_say_and_be_signed_by_their_actor() {
        let mut rng = ChaCha20Rng::from_seed([3; 32]);
        let matter = MatterId::generate(&mut rng);
        let maya = Identity::generate(&mut rng);
        let eve = Identity::generate(&mut rng);
        let honest = download(&matter, &maya, &maya);
        let list = EventList {
            events: vec![honest.clone()],
        };
        assert_eq!(verify_events(&matter, &list), Ok(()));

        // Of another matter.
        let other = MatterId::generate(&mut rng);
        assert_eq!(verify_event(&other, &honest), Err(EventError::Mismatch));
        // The view says another time, kind, version or sequence number.
        let mut later = honest.clone();
        later.at += 1;
        assert_eq!(verify_event(&matter, &later), Err(EventError::Mismatch));
        let mut viewed = honest.clone();
        viewed.kind = "viewed".into();
        assert_eq!(verify_event(&matter, &viewed), Err(EventError::Mismatch));
        let mut version = honest.clone();
        version.version = Some(2);
        assert_eq!(verify_event(&matter, &version), Err(EventError::Mismatch));
        let mut seq = honest.clone();
        seq.seq = 6;
        assert_eq!(verify_event(&matter, &seq), Err(EventError::Mismatch));
        // Blamed on Maya, signed by Eve.
        let framed = download(&matter, &maya, &eve);
        assert_eq!(verify_event(&matter, &framed), Err(EventError::WrongSigner));
        // A malformed entry.
        let mut broken = honest;
        broken.entry = vec![0xff].into();
        assert!(matches!(
            verify_event(&matter, &broken),
            Err(EventError::Entry(_))
        ));
    }
}
