//! Share links' state (spec: `spec/links.md` §API).
//!
//! A link row gates everything done with a link's key: opening it is one
//! conditional state change that checks revocation, expiry, the open limit,
//! the lockout after failed attempts and the signing key together, so two
//! concurrent opens can never both take the last one. The store holds only
//! public keys, the sharer's signed grant and the stanza they made; the link
//! secret never reaches the server.

use super::{DigestBytes, IdBytes, KeyBytes, NewEvent, NewGrant, StoreResult};

/// Opens of a passphrase link signed by a key that is neither the link's
/// nor its claimer's (a wrong passphrase derives another key) after which
/// the link is locked for good.
pub const MAX_FAILED_ATTEMPTS: u32 = 5;

/// A link to store, with its verified grant.
#[derive(Clone, Debug)]
pub struct NewLink {
    /// The link id.
    pub id: IdBytes,
    /// The matter.
    pub matter_id: IdBytes,
    /// The document the link opens.
    pub document_id: IdBytes,
    /// The version whose file key the stanza wraps.
    pub version: u32,
    /// Who made the link (the grant's signer).
    pub creator: KeyBytes,
    /// The link's Ed25519 key, derived from its secret: the grant's grantee.
    pub grantee_key: KeyBytes,
    /// The stanza wrapping the version's file key to the link.
    pub stanza: Vec<u8>,
    /// Server time of creation, Unix seconds.
    pub created_at: u64,
    /// Unix seconds from which the link opens nothing.
    pub expires_at: u64,
    /// Open limit; `None`: no limit.
    pub max_opens: Option<u32>,
    /// Whether the link's keys are mixed with a passphrase.
    pub passphrase: bool,
    /// Whether the first opener claims the link.
    pub claim_once: bool,
}

/// A stored link, as its creator and the matter's sharers see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkRow {
    /// The link id.
    pub id: IdBytes,
    /// The matter.
    pub matter_id: IdBytes,
    /// The document.
    pub document_id: IdBytes,
    /// The version the stanza opens.
    pub version: u32,
    /// Who made the link.
    pub creator: KeyBytes,
    /// The link's key.
    pub grantee_key: KeyBytes,
    /// The digest of the link's grant.
    pub grant_digest: DigestBytes,
    /// Creation time.
    pub created_at: u64,
    /// Expiry.
    pub expires_at: u64,
    /// Open limit.
    pub max_opens: Option<u32>,
    /// Times opened.
    pub opens: u32,
    /// Whether a passphrase is needed.
    pub passphrase: bool,
    /// Whether the link is claim-once.
    pub claim_once: bool,
    /// Whether someone claimed it.
    pub claimed: bool,
    /// Failed attempts so far.
    pub failed_attempts: u32,
    /// Whether it was revoked.
    pub revoked: bool,
}

impl LinkRow {
    /// Whether the link would open for the right key at `now`: not revoked,
    /// not expired, not used up and not locked.
    #[must_use]
    pub fn is_live(&self, now: u64) -> bool {
        !self.revoked
            && now < self.expires_at
            && self.max_opens.is_none_or(|max| self.opens < max)
            && self.failed_attempts < MAX_FAILED_ATTEMPTS
    }
}

/// An attempt to open a link.
#[derive(Clone, Debug)]
pub struct OpenAttempt {
    /// The link.
    pub link_id: IdBytes,
    /// The key that signed the request.
    pub caller: KeyBytes,
    /// For a claim-once link's first open: the key that claims it.
    pub claim_key: Option<KeyBytes>,
    /// Server time.
    pub now: u64,
    /// SHA-256 of the download ticket to issue.
    pub ticket_hash: DigestBytes,
    /// Most seconds the ticket lasts (never past the link's expiry).
    pub ticket_lifetime: u64,
}

/// What a successful open returns.
#[derive(Clone, Debug)]
pub struct OpenedLinkRow {
    /// The link, after this open was counted.
    pub link: LinkRow,
    /// The stanza wrapping the version's file key to the link.
    pub stanza: Vec<u8>,
}

/// What a valid download ticket names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TicketTarget {
    /// The matter.
    pub matter_id: IdBytes,
    /// The document.
    pub document_id: IdBytes,
    /// The version.
    pub version: u32,
}

/// Share links: creation, the conditional state changes of opening and
/// revoking, and listing.
///
/// Security contract: [`Self::open_link`] and [`Self::revoke_link`] are each
/// one atomic conditional change, so limits hold under concurrency; a link
/// that is revoked, expired, used up or locked opens for no one; and every
/// change appends its event in the same transaction.
pub trait LinkStore: Send + Sync + 'static {
    /// Stores a link with its grant (into the matter's grants, so chain
    /// verification sees it) and the creation event, in one transaction.
    /// Fails with [`super::StoreError::AlreadyExists`] if the link id, the
    /// link key or the grant is already stored.
    fn create_link(&self, link: NewLink, grant: NewGrant, event: NewEvent) -> StoreResult<()>;

    /// A link, whatever its state.
    fn link(&self, id: &IdBytes) -> StoreResult<Option<LinkRow>>;

    /// A matter's links, newest first.
    fn links_in(&self, matter: &IdBytes) -> StoreResult<Vec<LinkRow>>;

    /// Opens a link if it is live and `attempt.caller` may open it: the
    /// link's key while unclaimed (with a claim key if the link is
    /// claim-once, which then claims it), the claim key once claimed.
    /// Counts the open, issues the ticket and appends `event` (its matter,
    /// document and version filled in from the link).
    ///
    /// `None` when it does not open. On a link with a passphrase, a caller
    /// that is neither the link's key nor its claim key then counts as a
    /// failed attempt, the [`MAX_FAILED_ATTEMPTS`]th of which locks the
    /// link. (Without a passphrase there is nothing to guess, and counting
    /// would let anyone who saw the link id lock it.)
    fn open_link(
        &self,
        attempt: OpenAttempt,
        event: NewEvent,
    ) -> StoreResult<Option<OpenedLinkRow>>;

    /// The version a download ticket lets `caller` fetch at `now`: the
    /// ticket was issued to `caller` for `link`, has not expired, and the
    /// link is neither revoked nor expired.
    fn ticket(
        &self,
        link: &IdBytes,
        ticket_hash: &DigestBytes,
        caller: &KeyBytes,
        now: u64,
    ) -> StoreResult<Option<TicketTarget>>;

    /// Revokes a link if `caller` made it or created its matter, appending
    /// `event` (its matter and document filled in); `false` if there is no
    /// such link or the caller may not revoke it. Revoking twice is
    /// harmless.
    fn revoke_link(&self, id: &IdBytes, caller: &KeyBytes, event: NewEvent) -> StoreResult<bool>;
}
