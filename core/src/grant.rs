//! Grants, revocations and authority chains (spec: `spec/grants.md`).
//!
//! A [`Grant`] gives a grantee [`Rights`] over a whole matter or one
//! document for a validity window. Its grantor is the envelope's signer, and
//! the grantor's own authority is the grant named by `parent` — unless the
//! grantor is the matter's creator, who needs no grant. Following `parent`
//! links must therefore end at a grant signed by the creator named in the
//! signed [`crate::matter::Matter`] record; [`verify_grant_chain`] walks and
//! checks that chain. A [`Revocation`] ends a grant (and everything
//! delegated from it) from a given time.
//!
//! ```text
//! Grant = {
//!   0: 1,                        ; version
//!   1: bstr .size 16,            ; grant id (random)
//!   2: bstr .size 16,            ; matter id
//!   ? 3: bstr .size 16,          ; document id; absent = the whole matter
//!   4: bstr .size 32,            ; grantee Ed25519 key
//!   5: bstr .size 32,            ; grantee X25519 key
//!   6: uint,                     ; rights: bit set of view 1, download 2,
//!                                ;   upload 4, share 8, sign 16; non-zero
//!   7: uint,                     ; not before, Unix seconds (inclusive)
//!   ? 8: uint,                   ; not after, Unix seconds (exclusive), > not before
//!   ? 9: { 0: uint,              ; wrapped key: document version number (>= 1)
//!          1: bstr .size 32 },   ;   SHA-256 of the age X25519 stanza; needs key 3
//!   ? 10: bstr .size 32,         ; parent: digest of the grantor's signed grant;
//!                                ;   absent iff the grantor is the matter creator
//!   11: uint,                    ; issued at, Unix seconds
//! }
//!
//! Revocation = {
//!   0: 1,                        ; version
//!   1: bstr .size 16,            ; matter id
//!   2: bstr .size 32,            ; digest of the revoked signed grant
//!   3: uint,                     ; revoked at, Unix seconds
//! }
//! ```

use core::fmt;
use core::ops::BitOr;
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use minicbor::{Decode, Encode};

use crate::domain::SignatureContext;
use crate::keys::{EncryptionPublicKey, PublicIdentity, SigningPublicKey, hex_lower};
use crate::manifest::{DocumentId, Manifest, VersionNumber};
use crate::matter::{MatterId, VerifiedMatter};
use crate::signed::wire;
use crate::signed::{RecordDigest, Signed, SignedRecordError};

/// The only grant version this crate reads and writes.
pub const GRANT_VERSION: u8 = 1;

/// The only revocation version this crate reads and writes.
pub const REVOCATION_VERSION: u8 = 1;

/// The most grants a chain may hold, the grant under test and the
/// creator's grant included.
pub const MAX_CHAIN_DEPTH: usize = 16;

// ---------------------------------------------------------------------------
// Field types

random_id! {
    /// A grant's 16-byte random identifier. It makes every grant's bytes, and
    /// so its digest, unique even when the terms repeat.
    GrantId
}

/// A non-empty set of rights (spec: `spec/grants.md` §Rights).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rights(u8);

impl Rights {
    /// Open the document in the portal.
    pub const VIEW: Self = Self(1 << 0);
    /// Export the document as an age file.
    pub const DOWNLOAD: Self = Self(1 << 1);
    /// Upload new documents or versions.
    pub const UPLOAD: Self = Self(1 << 2);
    /// Delegate rights one holds to others.
    pub const SHARE: Self = Self(1 << 3);
    /// E-sign a document version.
    pub const SIGN: Self = Self(1 << 4);
    /// Every right this version defines.
    pub const ALL: Self = Self(0x1f);

    const NAMES: [(Self, &'static str); 5] = [
        (Self::VIEW, "view"),
        (Self::DOWNLOAD, "download"),
        (Self::UPLOAD, "upload"),
        (Self::SHARE, "share"),
        (Self::SIGN, "sign"),
    ];

    /// The set with these bits; `None` if it is empty or has a bit this
    /// version does not define.
    #[must_use]
    pub const fn from_bits(bits: u8) -> Option<Self> {
        if bits == 0 || bits & !Self::ALL.0 != 0 {
            None
        } else {
            Some(Self(bits))
        }
    }

    /// The bits.
    #[must_use]
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether every right in `other` is in `self`.
    #[must_use]
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// The rights in either set.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// The names of the rights in the set, lowest bit first.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES
            .into_iter()
            .filter(move |(r, _)| self.contains(*r))
            .map(|(_, name)| name)
    }
}

impl BitOr for Rights {
    type Output = Self;

    fn bitor(self, rhs: Self) -> Self {
        self.union(rhs)
    }
}

impl fmt::Debug for Rights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rights(")?;
        for (i, name) in self.names().enumerate() {
            if i > 0 {
                f.write_str("|")?;
            }
            f.write_str(name)?;
        }
        f.write_str(")")
    }
}

/// What a grant covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every document in the matter, present and future.
    Matter,
    /// One document, every version.
    Document(DocumentId),
}

impl Scope {
    /// Whether everything `inner` covers is covered by `self`.
    #[must_use]
    pub fn covers(&self, inner: &Scope) -> bool {
        match (self, inner) {
            (Scope::Matter, _) => true,
            (Scope::Document(a), Scope::Document(b)) => a == b,
            (Scope::Document(_), Scope::Matter) => false,
        }
    }

    /// Whether `document` is covered.
    #[must_use]
    pub fn includes(&self, document: &DocumentId) -> bool {
        self.covers(&Scope::Document(*document))
    }
}

/// A validity window: from `not_before` (inclusive) to `not_after`
/// (exclusive), or open-ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Validity {
    not_before: u64,
    not_after: Option<u64>,
}

impl Validity {
    /// A window; `None` unless `not_after` is later than `not_before`.
    #[must_use]
    pub const fn new(not_before: u64, not_after: Option<u64>) -> Option<Self> {
        match not_after {
            Some(end) if end <= not_before => None,
            _ => Some(Self {
                not_before,
                not_after,
            }),
        }
    }

    /// An open-ended window from `not_before`.
    #[must_use]
    pub const fn starting(not_before: u64) -> Self {
        Self {
            not_before,
            not_after: None,
        }
    }

    /// The first second of validity.
    #[must_use]
    pub const fn not_before(&self) -> u64 {
        self.not_before
    }

    /// The first second after the window, if it ends.
    #[must_use]
    pub const fn not_after(&self) -> Option<u64> {
        self.not_after
    }

    /// Whether `now` is in the window.
    #[must_use]
    pub fn contains(&self, now: u64) -> bool {
        self.not_before <= now && self.not_after.is_none_or(|end| now < end)
    }

    /// Whether this window lies entirely inside `outer`.
    #[must_use]
    pub fn is_within(&self, outer: &Validity) -> bool {
        self.not_before >= outer.not_before
            && match (outer.not_after, self.not_after) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(outer_end), Some(end)) => end <= outer_end,
            }
    }
}

/// SHA-256 over the exact canonical text of an age stanza (spec:
/// `spec/age.md`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct StanzaDigest(pub [u8; 32]);

impl fmt::Debug for StanzaDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StanzaDigest({})", hex_lower(&self.0))
    }
}

/// Names the age X25519 stanza that wraps one version's file key to the
/// grantee, so the stanza a server hands out is the one the grantor made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WrappedKeyBinding {
    /// The document version whose file key the stanza wraps.
    pub version: VersionNumber,
    /// The stanza's digest.
    pub stanza_digest: StanzaDigest,
}

// ---------------------------------------------------------------------------
// Grant

/// Why a grant or a revocation record was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GrantError {
    /// The envelope, the signature or the body's encoding is invalid.
    #[error(transparent)]
    Record(#[from] SignedRecordError),
    /// The record's version is not [`GRANT_VERSION`] (or
    /// [`REVOCATION_VERSION`]).
    #[error("unknown grant record version {0}")]
    UnknownVersion(u64),
    /// The rights have a bit this version does not define.
    #[error("grant has unknown rights bits {0:#x}")]
    UnknownRights(u64),
    /// The rights are empty.
    #[error("grant gives no rights")]
    NoRights,
    /// A grantee key is invalid (not canonical, or of small order).
    #[error("grant names an invalid grantee key")]
    InvalidGranteeKey,
    /// `not_after` is not later than `not_before`.
    #[error("grant validity window is empty")]
    InvalidValidity,
    /// The wrapped-key binding names version 0.
    #[error("grant names document version 0")]
    InvalidVersionNumber,
    /// A whole-matter grant carries a wrapped-key binding, which can only
    /// name a stanza of one document.
    #[error("grant binds a wrapped key but covers no single document")]
    BindingWithoutDocument,
}

/// The fields of a grant, for [`Grant::new`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantTerms {
    /// A fresh random identifier.
    pub grant_id: GrantId,
    /// The matter the grant belongs to.
    pub matter_id: MatterId,
    /// What the grant covers.
    pub scope: Scope,
    /// Who receives the rights.
    pub grantee: PublicIdentity,
    /// The rights given.
    pub rights: Rights,
    /// When the grant is in force.
    pub validity: Validity,
    /// The stanza that wraps a version's file key to the grantee, if the
    /// grant carries one.
    pub wrapped_key: Option<WrappedKeyBinding>,
    /// The digest of the signed grant that gives the grantor authority;
    /// `None` exactly when the grantor is the matter's creator.
    pub parent: Option<RecordDigest>,
    /// When the grant was made, in Unix seconds.
    pub issued_at: u64,
}

/// A grant of rights (spec: `spec/grants.md` §Grant). The grantor is the
/// envelope's signer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant(GrantTerms);

impl Grant {
    /// Builds a grant, checking that a wrapped-key binding comes with a
    /// single-document scope.
    pub fn new(terms: GrantTerms) -> Result<Self, GrantError> {
        if terms.wrapped_key.is_some() && terms.scope == Scope::Matter {
            return Err(GrantError::BindingWithoutDocument);
        }
        Ok(Self(terms))
    }

    /// All fields.
    #[must_use]
    pub fn terms(&self) -> &GrantTerms {
        &self.0
    }

    /// The grant's identifier.
    #[must_use]
    pub fn grant_id(&self) -> &GrantId {
        &self.0.grant_id
    }

    /// The matter the grant belongs to.
    #[must_use]
    pub fn matter_id(&self) -> &MatterId {
        &self.0.matter_id
    }

    /// What the grant covers.
    #[must_use]
    pub fn scope(&self) -> &Scope {
        &self.0.scope
    }

    /// Who receives the rights.
    #[must_use]
    pub fn grantee(&self) -> &PublicIdentity {
        &self.0.grantee
    }

    /// The rights given.
    #[must_use]
    pub fn rights(&self) -> Rights {
        self.0.rights
    }

    /// When the grant is in force.
    #[must_use]
    pub fn validity(&self) -> &Validity {
        &self.0.validity
    }

    /// The wrapped-key binding, if any.
    #[must_use]
    pub fn wrapped_key(&self) -> Option<&WrappedKeyBinding> {
        self.0.wrapped_key.as_ref()
    }

    /// The grantor's authority, if the grantor is not the matter creator.
    #[must_use]
    pub fn parent(&self) -> Option<&RecordDigest> {
        self.0.parent.as_ref()
    }

    /// When the grant was made.
    #[must_use]
    pub fn issued_at(&self) -> u64 {
        self.0.issued_at
    }
}

#[derive(Clone, Encode, Decode)]
#[cbor(map)]
pub(crate) struct WrappedKeyWire {
    #[n(0)]
    version: u32,
    #[cbor(n(1), with = "minicbor::bytes")]
    stanza_digest: [u8; 32],
}

#[derive(Clone, Encode, Decode)]
#[cbor(map)]
pub(crate) struct GrantWire {
    #[n(0)]
    version: u8,
    #[cbor(n(1), with = "minicbor::bytes")]
    grant_id: [u8; 16],
    #[cbor(n(2), with = "minicbor::bytes")]
    matter_id: [u8; 16],
    #[cbor(n(3), with = "minicbor::bytes")]
    document_id: Option<[u8; 16]>,
    #[cbor(n(4), with = "minicbor::bytes")]
    grantee_signing: [u8; 32],
    #[cbor(n(5), with = "minicbor::bytes")]
    grantee_encryption: [u8; 32],
    // Wider than the rights need, so that any unknown bit is reported as
    // such rather than as a malformed integer.
    #[n(6)]
    rights: u64,
    #[n(7)]
    not_before: u64,
    #[n(8)]
    not_after: Option<u64>,
    #[n(9)]
    wrapped_key: Option<WrappedKeyWire>,
    #[cbor(n(10), with = "minicbor::bytes")]
    parent: Option<[u8; 32]>,
    #[n(11)]
    issued_at: u64,
}

impl wire::WireForm for Grant {
    const VERSION: u8 = GRANT_VERSION;
    type Wire = GrantWire;
    type Error = GrantError;

    fn from_wire(w: GrantWire) -> Result<Self, GrantError> {
        if w.version != GRANT_VERSION {
            return Err(GrantError::UnknownVersion(w.version.into()));
        }
        let signing = SigningPublicKey::from_bytes(&w.grantee_signing)
            .map_err(|_| GrantError::InvalidGranteeKey)?;
        let encryption = EncryptionPublicKey::from_bytes(&w.grantee_encryption)
            .map_err(|_| GrantError::InvalidGranteeKey)?;
        let rights = match w.rights {
            0 => return Err(GrantError::NoRights),
            bits => u8::try_from(bits)
                .ok()
                .and_then(Rights::from_bits)
                .ok_or(GrantError::UnknownRights(bits))?,
        };
        let validity =
            Validity::new(w.not_before, w.not_after).ok_or(GrantError::InvalidValidity)?;
        let wrapped_key = match w.wrapped_key {
            None => None,
            Some(k) => Some(WrappedKeyBinding {
                version: VersionNumber::new(k.version).ok_or(GrantError::InvalidVersionNumber)?,
                stanza_digest: StanzaDigest(k.stanza_digest),
            }),
        };
        Self::new(GrantTerms {
            grant_id: GrantId(w.grant_id),
            matter_id: MatterId::from_bytes(w.matter_id),
            scope: w.document_id.map_or(Scope::Matter, |d| {
                Scope::Document(DocumentId::from_bytes(d))
            }),
            grantee: PublicIdentity {
                signing,
                encryption,
            },
            rights,
            validity,
            wrapped_key,
            parent: w.parent.map(RecordDigest),
            issued_at: w.issued_at,
        })
    }

    fn to_wire(&self) -> GrantWire {
        let t = &self.0;
        GrantWire {
            version: GRANT_VERSION,
            grant_id: t.grant_id.0,
            matter_id: *t.matter_id.as_bytes(),
            document_id: match t.scope {
                Scope::Matter => None,
                Scope::Document(d) => Some(*d.as_bytes()),
            },
            grantee_signing: t.grantee.signing.to_bytes(),
            grantee_encryption: t.grantee.encryption.to_bytes(),
            rights: t.rights.bits().into(),
            not_before: t.validity.not_before,
            not_after: t.validity.not_after,
            wrapped_key: t.wrapped_key.map(|k| WrappedKeyWire {
                version: k.version.get(),
                stanza_digest: k.stanza_digest.0,
            }),
            parent: t.parent.map(|p| p.0),
            issued_at: t.issued_at,
        }
    }

    fn unknown_version(version: u64) -> GrantError {
        GrantError::UnknownVersion(version)
    }
}

signed_record!(Grant, SignatureContext::GRANT);

/// Parses a signed grant, checking its signature and every field (spec:
/// `spec/grants.md` §Grant). Whether the grantor had the authority to make
/// it is [`verify_grant_chain`]'s question.
pub fn parse_grant(bytes: &[u8]) -> Result<Signed<Grant>, GrantError> {
    wire::parse_signed::<Grant>(bytes)
}

// ---------------------------------------------------------------------------
// Revocation

/// A revocation of a grant (spec: `spec/grants.md` §Revocation). The
/// revoker is the envelope's signer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    matter_id: MatterId,
    revoked: RecordDigest,
    revoked_at: u64,
}

impl Revocation {
    /// Builds a revocation of the signed grant whose digest is `revoked`.
    #[must_use]
    pub fn new(matter_id: MatterId, revoked: RecordDigest, revoked_at: u64) -> Self {
        Self {
            matter_id,
            revoked,
            revoked_at,
        }
    }

    /// The matter of the revoked grant.
    #[must_use]
    pub fn matter_id(&self) -> &MatterId {
        &self.matter_id
    }

    /// The digest of the revoked signed grant.
    #[must_use]
    pub fn revoked(&self) -> &RecordDigest {
        &self.revoked
    }

    /// From when the grant is revoked, in Unix seconds.
    #[must_use]
    pub fn revoked_at(&self) -> u64 {
        self.revoked_at
    }
}

#[derive(Clone, Encode, Decode)]
#[cbor(map)]
pub(crate) struct RevocationWire {
    #[n(0)]
    version: u8,
    #[cbor(n(1), with = "minicbor::bytes")]
    matter_id: [u8; 16],
    #[cbor(n(2), with = "minicbor::bytes")]
    revoked: [u8; 32],
    #[n(3)]
    revoked_at: u64,
}

impl wire::WireForm for Revocation {
    const VERSION: u8 = REVOCATION_VERSION;
    type Wire = RevocationWire;
    type Error = GrantError;

    fn from_wire(w: RevocationWire) -> Result<Self, GrantError> {
        if w.version != REVOCATION_VERSION {
            return Err(GrantError::UnknownVersion(w.version.into()));
        }
        Ok(Self::new(
            MatterId::from_bytes(w.matter_id),
            RecordDigest(w.revoked),
            w.revoked_at,
        ))
    }

    fn to_wire(&self) -> RevocationWire {
        RevocationWire {
            version: REVOCATION_VERSION,
            matter_id: *self.matter_id.as_bytes(),
            revoked: self.revoked.0,
            revoked_at: self.revoked_at,
        }
    }

    fn unknown_version(version: u64) -> GrantError {
        GrantError::UnknownVersion(version)
    }
}

signed_record!(Revocation, SignatureContext::REVOCATION);

/// Parses a signed revocation (spec: `spec/grants.md` §Revocation).
/// Whether the revoker was allowed to revoke is [`verify_revocation`]'s
/// question.
pub fn parse_revocation(bytes: &[u8]) -> Result<Signed<Revocation>, GrantError> {
    wire::parse_signed::<Revocation>(bytes)
}

// ---------------------------------------------------------------------------
// Chains

/// Finds signed grants by digest, to resolve `parent` links.
///
/// The answers need not be trusted: the chain check recomputes the digest
/// of every grant it is given, so a lookup backed by the server's storage is
/// fine.
pub trait GrantLookup {
    /// The grant whose exact bytes hash to `digest`, if known.
    fn grant_by_digest(&self, digest: &RecordDigest) -> Option<&Signed<Grant>>;
}

impl GrantLookup for [Signed<Grant>] {
    fn grant_by_digest(&self, digest: &RecordDigest) -> Option<&Signed<Grant>> {
        self.iter().find(|g| g.digest() == *digest)
    }
}

impl GrantLookup for BTreeMap<RecordDigest, Signed<Grant>> {
    fn grant_by_digest(&self, digest: &RecordDigest) -> Option<&Signed<Grant>> {
        self.get(digest)
    }
}

impl<S: BuildHasher> GrantLookup for HashMap<RecordDigest, Signed<Grant>, S> {
    fn grant_by_digest(&self, digest: &RecordDigest) -> Option<&Signed<Grant>> {
        self.get(digest)
    }
}

/// Why a grant does not confer authority (spec: `spec/grants.md` §Chain
/// verification).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// A grant in the chain, or a revocation, belongs to another matter.
    #[error("grant belongs to another matter")]
    WrongMatter,
    /// The parent grant with this digest was not provided.
    #[error("parent grant is missing")]
    MissingParent(RecordDigest),
    /// The grant to revoke was not provided.
    #[error("revoked grant is unknown")]
    UnknownGrant(RecordDigest),
    /// A grant's signer is not the grantee of the parent grant it names.
    #[error("grantor is not the grantee of the parent grant")]
    BrokenChain,
    /// A grant without a parent is not signed by the matter's creator.
    #[error("chain does not start at the matter's creator")]
    NotRootedAtCreator,
    /// A grant signed by the matter's creator names a parent.
    #[error("the matter creator's grant names a parent")]
    UnexpectedParent,
    /// The parent grant does not include the right to share.
    #[error("parent grant does not allow sharing")]
    NotDelegable,
    /// A grant gives rights its parent does not hold.
    #[error("grant gives rights its parent does not hold")]
    RightsEscalation,
    /// A grant covers more than its parent.
    #[error("grant covers more than its parent")]
    ScopeEscalation,
    /// A grant's validity window extends outside its parent's.
    #[error("grant is valid outside its parent's window")]
    ValidityEscalation,
    /// The chain is longer than [`MAX_CHAIN_DEPTH`].
    #[error("grant chain is too long")]
    TooDeep,
    /// The chain returns to a grant already in it.
    #[error("grant chain has a cycle")]
    Cycle,
    /// A grant in the chain was revoked by someone allowed to, at or before
    /// the time checked.
    #[error("grant has been revoked")]
    Revoked,
    /// The grant's window ended at or before the time checked.
    #[error("grant has expired")]
    Expired,
    /// The grant's window starts after the time checked.
    #[error("grant is not yet valid")]
    NotYetValid,
    /// The revocation's signer is not allowed to revoke that grant.
    #[error("revoker is not allowed to revoke this grant")]
    UnauthorisedRevoker,
}

/// A grant whose whole chain of authority verified at a given time.
#[derive(Debug, Clone)]
pub struct VerifiedGrant {
    grant: Signed<Grant>,
    chain: Vec<RecordDigest>,
}

impl VerifiedGrant {
    /// The signed grant.
    #[must_use]
    pub fn grant(&self) -> &Signed<Grant> {
        &self.grant
    }

    /// Who made the grant.
    #[must_use]
    pub fn grantor(&self) -> &SigningPublicKey {
        self.grant.signer()
    }

    /// Who holds the rights.
    #[must_use]
    pub fn grantee(&self) -> &PublicIdentity {
        self.grant.record().grantee()
    }

    /// The effective rights. Every grant up the chain holds at least these.
    #[must_use]
    pub fn rights(&self) -> Rights {
        self.grant.record().rights()
    }

    /// What the rights cover.
    #[must_use]
    pub fn scope(&self) -> &Scope {
        self.grant.record().scope()
    }

    /// When the rights hold. Every grant up the chain holds at least this
    /// window.
    #[must_use]
    pub fn validity(&self) -> &Validity {
        self.grant.record().validity()
    }

    /// Digests of the chain's signed grants, from this grant to the one the
    /// matter's creator signed.
    #[must_use]
    pub fn chain(&self) -> &[RecordDigest] {
        &self.chain
    }

    /// Whether the grant allows every right in `rights` on `document` at
    /// `now`.
    ///
    /// Revocations were checked when the grant was verified; a caller that
    /// asks about a later `now` must verify again with the revocations it
    /// knows by then.
    #[must_use]
    pub fn allows(&self, rights: Rights, document: &DocumentId, now: u64) -> bool {
        self.rights().contains(rights)
            && self.scope().includes(document)
            && self.validity().contains(now)
    }
}

struct Link<'a> {
    digest: RecordDigest,
    grant: &'a Signed<Grant>,
}

/// Verifies that `grant` confers authority in `matter` at `now` (spec:
/// `spec/grants.md` §Chain verification).
///
/// Follows `parent` links through `lookup` to a grant signed by the
/// matter's creator, checking at each step that the grantor is the parent's
/// grantee, that the parent may share, and that the child's rights, scope
/// and window lie within the parent's. Then checks that no grant in the
/// chain is revoked by `revocations` at or before `now` (revocations by
/// anyone not allowed to revoke are ignored), and that `now` lies in the
/// grant's window. Signatures were checked when the records were parsed.
pub fn verify_grant_chain<L: GrantLookup + ?Sized>(
    matter: &VerifiedMatter,
    grant: &Signed<Grant>,
    lookup: &L,
    revocations: &[Signed<Revocation>],
    now: u64,
) -> Result<VerifiedGrant, ChainError> {
    let chain = resolve_chain(matter, grant, lookup)?;
    for (i, link) in chain.iter().enumerate() {
        let later_links = chain.get(i..).unwrap_or_default();
        let revoked = revocations.iter().any(|r| {
            let rec = r.record();
            rec.matter_id() == matter.id()
                && *rec.revoked() == link.digest
                && rec.revoked_at() <= now
                && may_revoke(r.signer(), matter, later_links)
        });
        if revoked {
            return Err(ChainError::Revoked);
        }
    }
    let validity = grant.record().validity();
    if now < validity.not_before() {
        return Err(ChainError::NotYetValid);
    }
    if !validity.contains(now) {
        return Err(ChainError::Expired);
    }
    Ok(VerifiedGrant {
        grant: grant.clone(),
        chain: chain.iter().map(|l| l.digest).collect(),
    })
}

/// Verifies that a revocation's signer may revoke the grant it names: the
/// grant's grantor, any grantor up its chain, or the matter's creator
/// (spec: `spec/grants.md` §Revocation).
///
/// The revoked grant and its ancestors are resolved through `lookup`, and
/// the chain must be well formed; its time window and earlier revocations
/// do not matter.
pub fn verify_revocation<L: GrantLookup + ?Sized>(
    matter: &VerifiedMatter,
    revocation: &Signed<Revocation>,
    lookup: &L,
) -> Result<(), ChainError> {
    let record = revocation.record();
    if record.matter_id() != matter.id() {
        return Err(ChainError::WrongMatter);
    }
    let revoked = lookup
        .grant_by_digest(record.revoked())
        .filter(|g| g.digest() == *record.revoked())
        .ok_or(ChainError::UnknownGrant(*record.revoked()))?;
    let chain = resolve_chain(matter, revoked, lookup)?;
    if may_revoke(revocation.signer(), matter, &chain) {
        Ok(())
    } else {
        Err(ChainError::UnauthorisedRevoker)
    }
}

// ---------------------------------------------------------------------------
// Acting under a grant

/// Where someone's authority to act in a matter comes from.
#[derive(Debug, Clone)]
pub enum Authority {
    /// They created the matter, which needs no grant.
    Creator,
    /// A grant to them whose chain verified at the time checked.
    Grant(Box<VerifiedGrant>),
}

/// Why someone had no authority to act in a matter at a given time (spec:
/// `spec/grants.md` §Acting under a grant).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthorityError {
    /// The record acted on (a manifest) belongs to another matter.
    #[error("the record belongs to another matter")]
    WrongMatter,
    /// They are not the matter's creator and no grant to them was given.
    #[error("they hold no grant in the matter")]
    NoGrant,
    /// A grant to them holds, but does not give the rights over the
    /// document.
    #[error("their grants do not cover this right and document")]
    NotCovered,
    /// A grant to them does not hold at that time: its chain is broken,
    /// revoked, expired or not yet valid.
    #[error("their grant does not hold: {0}")]
    Chain(ChainError),
}

/// Whether `grant` gives every right in `rights` over `document` at `at`:
/// its chain verifies at `at` against `revocations` ([`verify_grant_chain`])
/// and its rights, scope and window cover the act.
pub fn grant_allows<L: GrantLookup + ?Sized>(
    matter: &VerifiedMatter,
    grant: &Signed<Grant>,
    lookup: &L,
    revocations: &[Signed<Revocation>],
    rights: Rights,
    document: &DocumentId,
    at: u64,
) -> Result<VerifiedGrant, AuthorityError> {
    let verified = verify_grant_chain(matter, grant, lookup, revocations, at)
        .map_err(AuthorityError::Chain)?;
    if verified.allows(rights, document, at) {
        Ok(verified)
    } else {
        Err(AuthorityError::NotCovered)
    }
}

/// Whether `actor` held every right in `rights` over `document` in
/// `matter` at `at` (spec: `spec/grants.md` §Acting under a grant): they
/// are the matter's creator, or one of the `grants` to them
/// ([`grant_allows`]) allows it. Grants to anyone else are skipped; parents
/// are resolved through `lookup`.
///
/// A revocation dated after `at` does not undo what was done at `at`.
/// When no grant allows the act, the error is that of the last grant to
/// `actor` tried.
#[allow(clippy::too_many_arguments)] // the act, and the records it is judged by
pub fn authority_at<'g, L, I>(
    matter: &VerifiedMatter,
    actor: &SigningPublicKey,
    rights: Rights,
    document: &DocumentId,
    at: u64,
    grants: I,
    lookup: &L,
    revocations: &[Signed<Revocation>],
) -> Result<Authority, AuthorityError>
where
    L: GrantLookup + ?Sized,
    I: IntoIterator<Item = &'g Signed<Grant>>,
{
    if actor == matter.creator() {
        return Ok(Authority::Creator);
    }
    let mut why = AuthorityError::NoGrant;
    for grant in grants
        .into_iter()
        .filter(|g| &g.record().grantee().signing == actor)
    {
        match grant_allows(matter, grant, lookup, revocations, rights, document, at) {
            Ok(verified) => return Ok(Authority::Grant(Box::new(verified))),
            Err(e) => why = e,
        }
    }
    Err(why)
}

/// Whether the signer of a verified `manifest` was entitled to upload it
/// to `matter` (spec: `spec/grants.md` §Acting under a grant): the manifest
/// names the matter, and its signer is the matter's creator or holds, in
/// `grants`, a grant with the upload right over the document whose chain
/// holds at the manifest's creation time ([`authority_at`]).
///
/// A grant revoked after the version was created still covers it.
pub fn verify_upload_authority<'g, L, I>(
    matter: &VerifiedMatter,
    manifest: &Signed<Manifest>,
    grants: I,
    lookup: &L,
    revocations: &[Signed<Revocation>],
) -> Result<Authority, AuthorityError>
where
    L: GrantLookup + ?Sized,
    I: IntoIterator<Item = &'g Signed<Grant>>,
{
    let terms = manifest.record();
    if terms.matter_id() != matter.id() {
        return Err(AuthorityError::WrongMatter);
    }
    authority_at(
        matter,
        manifest.signer(),
        Rights::UPLOAD,
        terms.document_id(),
        terms.terms().created_at,
        grants,
        lookup,
        revocations,
    )
}

/// Whether `revoker` may revoke the first grant of `chain`.
fn may_revoke(revoker: &SigningPublicKey, matter: &VerifiedMatter, chain: &[Link<'_>]) -> bool {
    revoker == matter.creator() || chain.iter().any(|l| l.grant.signer() == revoker)
}

/// Walks `parent` links from `leaf` to the creator's grant, checking every
/// structural rule. Returns the chain, leaf first.
fn resolve_chain<'a, L: GrantLookup + ?Sized>(
    matter: &VerifiedMatter,
    leaf: &'a Signed<Grant>,
    lookup: &'a L,
) -> Result<Vec<Link<'a>>, ChainError> {
    let mut chain = vec![Link {
        digest: leaf.digest(),
        grant: leaf,
    }];
    let mut child = leaf;
    loop {
        let record = child.record();
        if record.matter_id() != matter.id() {
            return Err(ChainError::WrongMatter);
        }
        let is_creator = child.signer() == matter.creator();
        let Some(parent_digest) = record.parent() else {
            return if is_creator {
                Ok(chain)
            } else {
                Err(ChainError::NotRootedAtCreator)
            };
        };
        if is_creator {
            return Err(ChainError::UnexpectedParent);
        }
        if chain.len() >= MAX_CHAIN_DEPTH {
            return Err(ChainError::TooDeep);
        }
        if chain.iter().any(|l| l.digest == *parent_digest) {
            return Err(ChainError::Cycle);
        }
        // The lookup is untrusted: accept only the grant that hashes to the
        // digest the child signed.
        let parent = lookup
            .grant_by_digest(parent_digest)
            .filter(|p| p.digest() == *parent_digest)
            .ok_or(ChainError::MissingParent(*parent_digest))?;
        check_delegation(parent.record(), child)?;
        chain.push(Link {
            digest: *parent_digest,
            grant: parent,
        });
        child = parent;
    }
}

/// The rules between one grant and the parent it names.
fn check_delegation(parent: &Grant, child: &Signed<Grant>) -> Result<(), ChainError> {
    let c = child.record();
    if parent.matter_id() != c.matter_id() {
        return Err(ChainError::WrongMatter);
    }
    if parent.grantee().signing != *child.signer() {
        return Err(ChainError::BrokenChain);
    }
    if !parent.rights().contains(Rights::SHARE) {
        return Err(ChainError::NotDelegable);
    }
    if !parent.rights().contains(c.rights()) {
        return Err(ChainError::RightsEscalation);
    }
    if !parent.scope().covers(c.scope()) {
        return Err(ChainError::ScopeEscalation);
    }
    if !c.validity().is_within(parent.validity()) {
        return Err(ChainError::ValidityEscalation);
    }
    Ok(())
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use super::*;
    use crate::keys::Identity;
    use crate::matter::Matter;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    const T0: u64 = 1_700_000_000;
    const DAY: u64 = 86_400;

    fn rng(seed: u8) -> ChaCha20Rng {
        ChaCha20Rng::from_seed([seed; 32])
    }

    struct World {
        creator: Identity,
        alice: Identity,
        bob: Identity,
        mallory: Identity,
        matter: VerifiedMatter,
        doc: DocumentId,
    }

    fn world() -> World {
        let creator = Identity::generate(&mut rng(1));
        let matter = Matter::create(&mut rng(10), creator.signing_key(), T0);
        World {
            creator,
            alice: Identity::generate(&mut rng(2)),
            bob: Identity::generate(&mut rng(3)),
            mallory: Identity::generate(&mut rng(4)),
            matter,
            doc: DocumentId::from_bytes([0xd0; 16]),
        }
    }

    fn terms(w: &World, grantee: &Identity, rights: Rights) -> GrantTerms {
        GrantTerms {
            grant_id: GrantId::generate(&mut rng(rights.bits())),
            matter_id: *w.matter.id(),
            scope: Scope::Matter,
            grantee: grantee.public(),
            rights,
            validity: Validity::new(T0, Some(T0 + 365 * DAY)).unwrap(),
            wrapped_key: None,
            parent: None,
            issued_at: T0,
        }
    }

    fn sign(t: GrantTerms, by: &Identity) -> Signed<Grant> {
        Signed::sign(Grant::new(t).unwrap(), by.signing_key())
    }

    /// creator → alice (view|download|share, whole matter) → bob (view, one
    /// document, 30 days).
    fn chain(w: &World) -> (Signed<Grant>, Signed<Grant>) {
        let root = sign(
            terms(w, &w.alice, Rights::VIEW | Rights::DOWNLOAD | Rights::SHARE),
            &w.creator,
        );
        let leaf = sign(
            GrantTerms {
                scope: Scope::Document(w.doc),
                validity: Validity::new(T0 + 10, Some(T0 + 30 * DAY)).unwrap(),
                parent: Some(root.digest()),
                wrapped_key: Some(WrappedKeyBinding {
                    version: VersionNumber::FIRST,
                    stanza_digest: StanzaDigest([5; 32]),
                }),
                ..terms(w, &w.bob, Rights::VIEW)
            },
            &w.alice,
        );
        (root, leaf)
    }

    fn verify(
        w: &World,
        leaf: &Signed<Grant>,
        known: &[Signed<Grant>],
        revocations: &[Signed<Revocation>],
        now: u64,
    ) -> Result<Rights, ChainError> {
        verify_grant_chain(&w.matter, leaf, known, revocations, now).map(|v| v.rights())
    }

    #[test]
    fn rights_bits_are_strict() {
        assert_eq!(Rights::from_bits(0), None);
        assert_eq!(Rights::from_bits(0x20), None);
        assert_eq!(Rights::from_bits(0x1f), Some(Rights::ALL));
        assert!(Rights::ALL.contains(Rights::SIGN | Rights::VIEW));
        assert!(!Rights::VIEW.contains(Rights::VIEW | Rights::SHARE));
        assert_eq!(
            format!("{:?}", Rights::VIEW | Rights::SHARE),
            "Rights(view|share)"
        );
    }

    #[test]
    fn windows_nest() {
        let outer = Validity::new(10, Some(20)).unwrap();
        assert!(outer.contains(10) && outer.contains(19));
        assert!(!outer.contains(9) && !outer.contains(20));
        assert!(Validity::new(10, Some(20)).unwrap().is_within(&outer));
        assert!(Validity::new(12, Some(15)).unwrap().is_within(&outer));
        assert!(!Validity::new(9, Some(15)).unwrap().is_within(&outer));
        assert!(!Validity::new(12, Some(21)).unwrap().is_within(&outer));
        assert!(!Validity::starting(12).is_within(&outer));
        assert!(outer.is_within(&Validity::starting(0)));
        assert_eq!(Validity::new(10, Some(10)), None);
    }

    #[test]
    fn grants_round_trip() {
        let w = world();
        let (root, leaf) = chain(&w);
        for g in [&root, &leaf] {
            let parsed = parse_grant(g.as_bytes()).map(|p| p.record().clone());
            assert_eq!(parsed.as_ref(), Ok(g.record()));
        }
        let rev = Signed::sign(
            Revocation::new(*w.matter.id(), leaf.digest(), T0 + 5),
            w.alice.signing_key(),
        );
        let parsed = parse_revocation(rev.as_bytes()).map(|p| p.record().clone());
        assert_eq!(parsed.as_ref(), Ok(rev.record()));
    }

    #[test]
    fn a_binding_needs_a_document() {
        let w = world();
        let t = GrantTerms {
            wrapped_key: Some(WrappedKeyBinding {
                version: VersionNumber::FIRST,
                stanza_digest: StanzaDigest([0; 32]),
            }),
            ..terms(&w, &w.bob, Rights::VIEW)
        };
        assert_eq!(Grant::new(t), Err(GrantError::BindingWithoutDocument));
    }

    #[test]
    fn a_valid_chain_verifies() {
        let w = world();
        let (root, leaf) = chain(&w);
        let known = [root.clone()];
        let v = verify_grant_chain(&w.matter, &leaf, &known[..], &[], T0 + DAY).unwrap();
        assert_eq!(v.rights(), Rights::VIEW);
        assert_eq!(v.chain(), &[leaf.digest(), root.digest()]);
        assert_eq!(v.grantor(), &w.alice.signing_key().public_key());
        assert!(v.allows(Rights::VIEW, &w.doc, T0 + DAY));
        assert!(!v.allows(Rights::DOWNLOAD, &w.doc, T0 + DAY));
        assert!(!v.allows(Rights::VIEW, &DocumentId::from_bytes([1; 16]), T0 + DAY));
        assert!(!v.allows(Rights::VIEW, &w.doc, T0 + 31 * DAY));
        // The creator's own grant is a chain of one.
        assert_eq!(
            verify(&w, &root, &[], &[], T0),
            Ok(Rights::VIEW | Rights::DOWNLOAD | Rights::SHARE)
        );
        // Other lookups work the same.
        let map: BTreeMap<_, _> = [(root.digest(), root.clone())].into();
        assert!(verify_grant_chain(&w.matter, &leaf, &map, &[], T0 + DAY).is_ok());
        let map: HashMap<_, _> = [(root.digest(), root.clone())].into();
        assert!(verify_grant_chain(&w.matter, &leaf, &map, &[], T0 + DAY).is_ok());
    }

    #[test]
    fn time_is_checked_at_the_leaf() {
        let w = world();
        let (root, leaf) = chain(&w);
        let known = [root];
        assert_eq!(
            verify(&w, &leaf, &known, &[], T0 + 9),
            Err(ChainError::NotYetValid)
        );
        assert_eq!(verify(&w, &leaf, &known, &[], T0 + 10), Ok(Rights::VIEW));
        assert_eq!(
            verify(&w, &leaf, &known, &[], T0 + 30 * DAY - 1),
            Ok(Rights::VIEW)
        );
        assert_eq!(
            verify(&w, &leaf, &known, &[], T0 + 30 * DAY),
            Err(ChainError::Expired)
        );
    }

    #[test]
    fn delegation_rules_are_enforced() {
        let w = world();
        let (root, _) = chain(&w);
        let known = [root.clone()];
        let child = |t: GrantTerms, by: &Identity| {
            sign(
                GrantTerms {
                    parent: Some(root.digest()),
                    ..t
                },
                by,
            )
        };
        let base = || terms(&w, &w.bob, Rights::VIEW);
        let cases = [
            (
                child(terms(&w, &w.bob, Rights::VIEW | Rights::UPLOAD), &w.alice),
                ChainError::RightsEscalation,
            ),
            (child(base(), &w.mallory), ChainError::BrokenChain),
            (
                child(
                    GrantTerms {
                        validity: Validity::new(T0, Some(T0 + 366 * DAY)).unwrap(),
                        ..base()
                    },
                    &w.alice,
                ),
                ChainError::ValidityEscalation,
            ),
            (
                child(
                    GrantTerms {
                        validity: Validity::starting(T0),
                        ..base()
                    },
                    &w.alice,
                ),
                ChainError::ValidityEscalation,
            ),
            (
                child(
                    GrantTerms {
                        validity: Validity::new(T0 - 1, Some(T0 + DAY)).unwrap(),
                        ..base()
                    },
                    &w.alice,
                ),
                ChainError::ValidityEscalation,
            ),
            (
                child(
                    GrantTerms {
                        matter_id: MatterId::from_bytes([0xee; 16]),
                        ..base()
                    },
                    &w.alice,
                ),
                ChainError::WrongMatter,
            ),
            (sign(base(), &w.alice), ChainError::NotRootedAtCreator),
            (child(base(), &w.creator), ChainError::UnexpectedParent),
            (
                sign(
                    GrantTerms {
                        parent: Some(RecordDigest([9; 32])),
                        ..base()
                    },
                    &w.alice,
                ),
                ChainError::MissingParent(RecordDigest([9; 32])),
            ),
        ];
        for (i, (grant, want)) in cases.into_iter().enumerate() {
            assert_eq!(
                verify(&w, &grant, &known, &[], T0 + DAY),
                Err(want),
                "case {i}"
            );
        }
    }

    #[test]
    fn scope_and_share_are_enforced() {
        let w = world();
        let doc_root = sign(
            GrantTerms {
                scope: Scope::Document(w.doc),
                ..terms(&w, &w.alice, Rights::VIEW | Rights::SHARE)
            },
            &w.creator,
        );
        let everything_but_share =
            Rights::from_bits(Rights::ALL.bits() & !Rights::SHARE.bits()).unwrap();
        let no_share = sign(terms(&w, &w.alice, everything_but_share), &w.creator);
        let known = [doc_root.clone(), no_share.clone()];
        let under = |parent: &Signed<Grant>, scope: Scope| {
            sign(
                GrantTerms {
                    scope,
                    parent: Some(parent.digest()),
                    ..terms(&w, &w.bob, Rights::VIEW)
                },
                &w.alice,
            )
        };
        assert_eq!(
            verify(
                &w,
                &under(&doc_root, Scope::Document(w.doc)),
                &known,
                &[],
                T0
            ),
            Ok(Rights::VIEW)
        );
        assert_eq!(
            verify(&w, &under(&doc_root, Scope::Matter), &known, &[], T0),
            Err(ChainError::ScopeEscalation)
        );
        assert_eq!(
            verify(
                &w,
                &under(&doc_root, Scope::Document(DocumentId::from_bytes([1; 16]))),
                &known,
                &[],
                T0
            ),
            Err(ChainError::ScopeEscalation)
        );
        assert_eq!(
            verify(&w, &under(&no_share, Scope::Matter), &known, &[], T0),
            Err(ChainError::NotDelegable)
        );
    }

    #[test]
    fn a_lookup_that_lies_is_not_believed() {
        struct Liar(Signed<Grant>);
        impl GrantLookup for Liar {
            fn grant_by_digest(&self, _: &RecordDigest) -> Option<&Signed<Grant>> {
                Some(&self.0)
            }
        }
        let w = world();
        let (root, leaf) = chain(&w);
        // Another creator grant to alice, equally valid, but not the one
        // the leaf names.
        let other = sign(terms(&w, &w.alice, Rights::ALL), &w.creator);
        assert_ne!(other.digest(), root.digest());
        assert_eq!(
            verify_grant_chain(&w.matter, &leaf, &Liar(other), &[], T0 + DAY).map(|_| ()),
            Err(ChainError::MissingParent(root.digest()))
        );
    }

    #[test]
    fn depth_is_bounded() {
        let w = world();
        let people: Vec<Identity> = (0..=MAX_CHAIN_DEPTH)
            .map(|i| Identity::generate(&mut rng(100 + i as u8)))
            .collect();
        let mut grants = vec![sign(terms(&w, &people[0], Rights::ALL), &w.creator)];
        for i in 1..=MAX_CHAIN_DEPTH {
            let parent = grants.last().unwrap().digest();
            grants.push(sign(
                GrantTerms {
                    parent: Some(parent),
                    ..terms(&w, &people[i], Rights::ALL)
                },
                &people[i - 1],
            ));
        }
        // 16 grants: allowed. 17: too deep.
        assert_eq!(
            verify(&w, &grants[MAX_CHAIN_DEPTH - 1], &grants, &[], T0),
            Ok(Rights::ALL)
        );
        assert_eq!(
            verify(&w, &grants[MAX_CHAIN_DEPTH], &grants, &[], T0),
            Err(ChainError::TooDeep)
        );
    }

    #[test]
    fn revocations_take_effect_from_their_time_if_authorised() {
        let w = world();
        let (root, leaf) = chain(&w);
        let known = [root.clone(), leaf.clone()];
        let revoke = |target: &Signed<Grant>, by: &Identity, at: u64| {
            Signed::sign(
                Revocation::new(*w.matter.id(), target.digest(), at),
                by.signing_key(),
            )
        };
        let at = T0 + 2 * DAY;
        // The grantor, a grantor up the chain, or the creator may revoke.
        for by in [&w.alice, &w.creator] {
            let r = revoke(&leaf, by, at);
            assert_eq!(verify_revocation(&w.matter, &r, &known[..]), Ok(()));
            assert_eq!(
                verify(&w, &leaf, &known, std::slice::from_ref(&r), at),
                Err(ChainError::Revoked)
            );
            assert_eq!(
                verify(&w, &leaf, &known, std::slice::from_ref(&r), at - 1),
                Ok(Rights::VIEW)
            );
        }
        // Revoking the parent revokes what was delegated from it.
        let r = revoke(&root, &w.creator, at);
        assert_eq!(
            verify(&w, &leaf, &known, std::slice::from_ref(&r), at),
            Err(ChainError::Revoked)
        );
        // Alice may not revoke the creator's grant to her; bob and mallory
        // may revoke nothing here. Such revocations are ignored.
        for (target, by) in [(&root, &w.alice), (&leaf, &w.bob), (&leaf, &w.mallory)] {
            let r = revoke(target, by, at);
            assert_eq!(
                verify_revocation(&w.matter, &r, &known[..]),
                Err(ChainError::UnauthorisedRevoker)
            );
            assert_eq!(
                verify(&w, &leaf, &known, std::slice::from_ref(&r), at),
                Ok(Rights::VIEW)
            );
        }
        // A revocation in another matter is ignored too.
        let elsewhere = Signed::sign(
            Revocation::new(MatterId::from_bytes([0xee; 16]), leaf.digest(), at),
            w.creator.signing_key(),
        );
        assert_eq!(
            verify(&w, &leaf, &known, std::slice::from_ref(&elsewhere), at),
            Ok(Rights::VIEW)
        );
        assert_eq!(
            verify_revocation(&w.matter, &elsewhere, &known[..]),
            Err(ChainError::WrongMatter)
        );
        let unknown = Signed::sign(
            Revocation::new(*w.matter.id(), RecordDigest([3; 32]), at),
            w.creator.signing_key(),
        );
        assert_eq!(
            verify_revocation(&w.matter, &unknown, &known[..]),
            Err(ChainError::UnknownGrant(RecordDigest([3; 32])))
        );
    }

    #[test]
    fn a_grant_for_another_matter_record_is_rejected() {
        let w = world();
        let (root, leaf) = chain(&w);
        let other = Matter::create(&mut rng(11), w.creator.signing_key(), T0);
        assert_eq!(
            verify_grant_chain(&other, &leaf, &[root][..], &[], T0 + DAY).map(|_| ()),
            Err(ChainError::WrongMatter)
        );
    }

    fn manifest(w: &World, by: &Identity, doc: DocumentId, created_at: u64) -> Signed<Manifest> {
        use crate::manifest::{KeyCommitment, ManifestTerms, PayloadDigest};
        use crate::metadata::MetadataDigest;
        let terms = ManifestTerms {
            matter_id: *w.matter.id(),
            document_id: doc,
            version: VersionNumber::FIRST,
            previous: None,
            payload_digest: PayloadDigest([1; 32]),
            payload_len: 1,
            key_commitment: KeyCommitment::from_bytes([2; 32]),
            metadata_digest: MetadataDigest([3; 32]),
            created_at,
        };
        Signed::sign(Manifest::new(terms).unwrap(), by.signing_key())
    }

    fn may_upload(
        w: &World,
        m: &Signed<Manifest>,
        grants: &[Signed<Grant>],
        revocations: &[Signed<Revocation>],
    ) -> Result<Option<RecordDigest>, AuthorityError> {
        verify_upload_authority(&w.matter, m, grants, grants, revocations).map(|a| match a {
            Authority::Creator => None,
            Authority::Grant(g) => Some(g.grant().digest()),
        })
    }

    #[test]
    fn the_creator_may_upload_without_a_grant() {
        let w = world();
        let m = manifest(&w, &w.creator, w.doc, T0);
        assert_eq!(may_upload(&w, &m, &[], &[]), Ok(None));
    }

    #[test]
    fn an_uploader_needs_the_upload_right_over_the_document() {
        let w = world();
        let doc = |d: DocumentId| Scope::Document(d);
        let other_doc = DocumentId::from_bytes([0xd1; 16]);
        // alice: upload and share over the matter; bob, under alice: upload
        // over one document; mallory: view only.
        let alice = sign(
            terms(&w, &w.alice, Rights::UPLOAD | Rights::SHARE),
            &w.creator,
        );
        let bob = sign(
            GrantTerms {
                scope: doc(w.doc),
                parent: Some(alice.digest()),
                ..terms(&w, &w.bob, Rights::UPLOAD)
            },
            &w.alice,
        );
        let mallory = sign(terms(&w, &w.mallory, Rights::VIEW), &w.creator);
        let known = [alice.clone(), bob.clone(), mallory];
        let at = T0 + DAY;

        let by_alice = manifest(&w, &w.alice, other_doc, at);
        assert_eq!(
            may_upload(&w, &by_alice, &known, &[]),
            Ok(Some(alice.digest()))
        );
        let by_bob = manifest(&w, &w.bob, w.doc, at);
        assert_eq!(may_upload(&w, &by_bob, &known, &[]), Ok(Some(bob.digest())));
        let bob_elsewhere = manifest(&w, &w.bob, other_doc, at);
        assert_eq!(
            may_upload(&w, &bob_elsewhere, &known, &[]),
            Err(AuthorityError::NotCovered)
        );
        let by_viewer = manifest(&w, &w.mallory, w.doc, at);
        assert_eq!(
            may_upload(&w, &by_viewer, &known, &[]),
            Err(AuthorityError::NotCovered)
        );
        // An outsider, even shown everyone else's grants.
        let outsider = Identity::generate(&mut rng(9));
        let by_outsider = manifest(&w, &outsider, w.doc, at);
        assert_eq!(
            may_upload(&w, &by_outsider, &known, &[]),
            Err(AuthorityError::NoGrant)
        );
        // Bob's chain without alice's grant does not verify.
        assert_eq!(
            verify_upload_authority(
                &w.matter,
                &by_bob,
                std::slice::from_ref(&bob),
                std::slice::from_ref(&bob),
                &[]
            )
            .map(|_| ()),
            Err(AuthorityError::Chain(ChainError::MissingParent(
                alice.digest()
            )))
        );
        // A manifest of another matter.
        let elsewhere = Matter::create(&mut rng(12), w.creator.signing_key(), T0);
        assert_eq!(
            verify_upload_authority(&elsewhere, &by_alice, &known, &known[..], &[]).map(|_| ()),
            Err(AuthorityError::WrongMatter)
        );
    }

    #[test]
    fn an_upload_is_judged_at_its_creation_time() {
        let w = world();
        // alice may upload during the grant's year.
        let alice = sign(terms(&w, &w.alice, Rights::UPLOAD), &w.creator);
        let known = [alice.clone()];
        let at = |t| manifest(&w, &w.alice, w.doc, t);
        assert_eq!(
            may_upload(&w, &at(T0 - 1), &known, &[]),
            Err(AuthorityError::Chain(ChainError::NotYetValid))
        );
        assert_eq!(
            may_upload(&w, &at(T0), &known, &[]),
            Ok(Some(alice.digest()))
        );
        assert_eq!(
            may_upload(&w, &at(T0 + 365 * DAY), &known, &[]),
            Err(AuthorityError::Chain(ChainError::Expired))
        );

        // Revoked at T0 + 10 DAY: an earlier upload stands, one at or after
        // the revocation does not.
        let revoked_at = T0 + 10 * DAY;
        let revocation = Signed::sign(
            Revocation::new(*w.matter.id(), alice.digest(), revoked_at),
            w.creator.signing_key(),
        );
        let revocations = std::slice::from_ref(&revocation);
        assert_eq!(
            may_upload(&w, &at(revoked_at - 1), &known, revocations),
            Ok(Some(alice.digest()))
        );
        assert_eq!(
            may_upload(&w, &at(revoked_at), &known, revocations),
            Err(AuthorityError::Chain(ChainError::Revoked))
        );
        // A revocation by someone not allowed to revoke is ignored.
        let forged = Signed::sign(
            Revocation::new(*w.matter.id(), alice.digest(), T0),
            w.mallory.signing_key(),
        );
        assert_eq!(
            may_upload(&w, &at(revoked_at), &known, std::slice::from_ref(&forged)),
            Ok(Some(alice.digest()))
        );
    }

    #[test]
    fn any_grant_of_the_actor_may_give_the_authority() {
        let w = world();
        // An expired upload grant and a later one: the later one counts.
        let old = sign(
            GrantTerms {
                validity: Validity::new(T0, Some(T0 + DAY)).unwrap(),
                ..terms(&w, &w.alice, Rights::UPLOAD)
            },
            &w.creator,
        );
        let new = sign(
            GrantTerms {
                grant_id: GrantId([7; 16]),
                validity: Validity::starting(T0 + 2 * DAY),
                ..terms(&w, &w.alice, Rights::UPLOAD)
            },
            &w.creator,
        );
        let known = [old.clone(), new.clone()];
        let actor = w.alice.public().signing;
        let act = |t| {
            authority_at(
                &w.matter,
                &actor,
                Rights::UPLOAD,
                &w.doc,
                t,
                &known,
                &known[..],
                &[],
            )
            .map(|a| match a {
                Authority::Creator => None,
                Authority::Grant(g) => Some(g.grant().digest()),
            })
        };
        assert_eq!(act(T0), Ok(Some(old.digest())));
        assert_eq!(act(T0 + 3 * DAY), Ok(Some(new.digest())));
        // Between the two: the error of the last grant tried.
        assert_eq!(
            act(T0 + DAY),
            Err(AuthorityError::Chain(ChainError::NotYetValid))
        );
    }
}
