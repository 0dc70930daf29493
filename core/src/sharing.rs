//! Sharing, sans-I/O: grants with their wrapped keys, share links and
//! revocations, assembled and signed the same way by the CLI and the
//! browser (spec: `spec/grants.md`, `spec/links.md`).
//!
//! Each function takes what the server served, already verified (the
//! matter's records, the opened version), and returns the signed records
//! and the request body to send. A file key is only ever wrapped to a
//! [`Grantee`], which exists only for a key bundle whose binding in the log
//! was verified ([`crate::transparency`]) or for the caller itself.

use rand_core::CryptoRng;

use crate::age::x25519::wrap_file_key;
use crate::api::{AddGrant, CreateLink, Revoke};
use crate::grant::{
    Grant, GrantError, GrantId, GrantTerms, Revocation, Rights, Scope, StanzaDigest, Validity,
    VerifiedGrant, WrappedKeyBinding, verify_grant_chain,
};
use crate::keys::{Identity, PublicIdentity};
use crate::link::{LinkError, LinkSecret};
use crate::matter::{MatterId, VerifiedMatter};
use crate::opening::OpenedVersion;
use crate::secret::SecretString;
use crate::signed::{RecordDigest, Signed};
use crate::transparency::BoundIdentity;

/// The rights a link's grant gives.
pub const LINK_RIGHTS: Rights = Rights::VIEW.union(Rights::DOWNLOAD);

/// How far before "now" a new link's grant starts, so that a server whose
/// clock is a little behind the sharer's already finds it in force.
pub const CLOCK_SKEW_SECS: u64 = 300;

/// Why a grant, link or revocation cannot be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShareError {
    /// The caller holds no grant in force that may share this scope.
    #[error("you may not share this; ask the matter's creator for the share right")]
    NotAllowed,
    /// The version to share is not of the scope's document or matter.
    #[error("the version to share is not of this document")]
    WrongVersion,
    /// A link's expiry is not after its start.
    #[error("the link's expiry must be in the future")]
    Expiry,
    /// The grant's terms are invalid.
    #[error("cannot make the grant: {0}")]
    Grant(GrantError),
    /// The link's passphrase cannot be used.
    #[error("the passphrase cannot be used: {0}")]
    Passphrase(LinkError),
}

/// Someone a file key may be wrapped to: a key bundle whose binding in the
/// log was verified, or the caller itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grantee(PublicIdentity);

impl Grantee {
    /// The identity of a bundle bound in the log.
    #[must_use]
    pub fn bound(identity: &BoundIdentity) -> Self {
        Self(*identity.bundle.identity())
    }

    /// The caller itself.
    #[must_use]
    pub fn myself(me: &Identity) -> Self {
        Self(me.public())
    }

    /// The public identity.
    #[must_use]
    pub const fn identity(&self) -> &PublicIdentity {
        &self.0
    }
}

/// A matter's verified records: the matter, its grants and revocations.
#[derive(Debug, Clone, Copy)]
pub struct Records<'a> {
    /// The verified matter record.
    pub matter: &'a VerifiedMatter,
    /// Its grants, signatures verified.
    pub grants: &'a [Signed<Grant>],
    /// Its revocations, signatures verified.
    pub revocations: &'a [Signed<Revocation>],
}

/// The authority `me` shares `scope` with: `None` as the matter's creator,
/// else `me`'s grant in force at `now` that may share the scope.
///
/// # Errors
/// [`ShareError::NotAllowed`] when there is none.
pub fn authority(
    records: Records<'_>,
    me: &Identity,
    scope: &Scope,
    now: u64,
) -> Result<Option<VerifiedGrant>, ShareError> {
    let me = me.public().signing;
    if records.matter.creator() == &me {
        return Ok(None);
    }
    records
        .grants
        .iter()
        .filter(|g| g.record().grantee().signing == me)
        .filter_map(|g| {
            verify_grant_chain(records.matter, g, records.grants, records.revocations, now).ok()
        })
        .find(|g| g.rights().contains(Rights::SHARE) && g.scope().covers(scope))
        .map(Some)
        .ok_or(ShareError::NotAllowed)
}

/// A signed grant and the body of `POST /v1/matters/{id}/grants`.
#[derive(Debug)]
pub struct NewGrant {
    /// The grant as signed.
    pub grant: Signed<Grant>,
    /// The request body.
    pub request: AddGrant,
}

/// Grants `to` the `rights` over `scope` for `validity`, signed by `me`
/// under its authority in `records`. For a single document, `version` is
/// its current version: its file key is wrapped to `to` (an age X25519
/// stanza) and the stanza's digest is bound into the grant.
///
/// # Errors
/// [`ShareError::NotAllowed`] without the share right over `scope`,
/// [`ShareError::WrongVersion`] when a document's grant has no version of
/// that document, or [`ShareError::Grant`] for invalid terms.
#[allow(clippy::too_many_arguments)]
pub fn grant<R: CryptoRng + ?Sized>(
    me: &Identity,
    records: Records<'_>,
    scope: Scope,
    to: Grantee,
    rights: Rights,
    validity: Validity,
    version: Option<&OpenedVersion>,
    now: u64,
    rng: &mut R,
) -> Result<NewGrant, ShareError> {
    let parent = authority(records, me, &scope, now)?;
    let mut stanza = None;
    let mut wrapped_key = None;
    if let Scope::Document(document) = &scope {
        let opened = version
            .filter(|v| v.document_id() == *document && v.matter.id() == records.matter.id())
            .ok_or(ShareError::WrongVersion)?;
        let s = wrap_file_key(&opened.file_key, &to.identity().encryption, rng);
        wrapped_key = Some(WrappedKeyBinding {
            version: opened.version(),
            stanza_digest: StanzaDigest(s.digest()),
        });
        stanza = Some(s.to_bytes());
    }
    let grant = Grant::new(GrantTerms {
        grant_id: GrantId::generate(rng),
        matter_id: *records.matter.id(),
        scope,
        grantee: *to.identity(),
        rights,
        validity,
        wrapped_key,
        parent: parent.map(|g| g.grant().digest()),
        issued_at: now,
    })
    .map_err(ShareError::Grant)?;
    let grant = Signed::sign(grant, me.signing_key());
    let request = AddGrant {
        grant: grant.as_bytes().to_vec().into(),
        stanza: stanza.map(Into::into),
    };
    Ok(NewGrant { grant, request })
}

/// `me`'s revocation of the grant whose digest is `grant`, and the body of
/// `POST /v1/matters/{id}/revocations`.
#[must_use]
pub fn revoke(
    me: &Identity,
    matter: &MatterId,
    grant: &RecordDigest,
    now: u64,
) -> (Signed<Revocation>, Revoke) {
    let revocation = Signed::sign(Revocation::new(*matter, *grant, now), me.signing_key());
    let request = Revoke {
        revocation: revocation.as_bytes().to_vec().into(),
    };
    (revocation, request)
}

/// The terms of a new link.
#[derive(Debug)]
pub struct LinkTerms<'a> {
    /// Unix seconds from which the link opens nothing (at most 90 days
    /// ahead).
    pub expires_at: u64,
    /// How many times it may be opened; `None`: no limit.
    pub max_opens: Option<u32>,
    /// A passphrase to tell the recipient another way; `None`: none.
    pub passphrase: Option<&'a SecretString>,
    /// Whether the first browser to open the link claims it.
    pub claim_once: bool,
}

/// A link just made: what to send, and the secret to show once.
pub struct NewLink {
    /// The link's id (the part of its URL the server sees).
    pub link_id: [u8; 16],
    /// The fragment to put after `#`: the link's secret. Show it to the
    /// sharer once; it is never sent to the server.
    pub fragment: SecretString,
    /// The link's grant, as signed.
    pub grant: Signed<Grant>,
    /// The body of `POST /v1/matters/{id}/links`.
    pub request: CreateLink,
}

impl core::fmt::Debug for NewLink {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("NewLink")
            .field("link_id", &crate::keys::hex_lower(&self.link_id))
            .field("fragment", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

/// Makes a share link to `version`, the latest version of one of the
/// matter's documents (spec: `spec/links.md`): derives the link's keys
/// from a fresh secret (mixed with the passphrase, if any), wraps the
/// version's file key to the link's X25519 key, and grants the link view
/// and download from now until it expires, under `me`'s authority.
///
/// # Errors
/// [`ShareError::Passphrase`], [`ShareError::NotAllowed`],
/// [`ShareError::WrongVersion`], [`ShareError::Expiry`] or
/// [`ShareError::Grant`].
pub fn create_link<R: CryptoRng + ?Sized>(
    me: &Identity,
    records: Records<'_>,
    version: &OpenedVersion,
    terms: &LinkTerms<'_>,
    now: u64,
    rng: &mut R,
) -> Result<NewLink, ShareError> {
    if version.matter.id() != records.matter.id() {
        return Err(ShareError::WrongVersion);
    }
    let secret = LinkSecret::generate(rng);
    let keys = match terms.passphrase {
        None => secret.derive_keys(),
        Some(p) => secret
            .derive_keys_with_passphrase(p)
            .map_err(ShareError::Passphrase)?,
    };
    let link = keys.public();
    let scope = Scope::Document(version.document_id());
    let authority = authority(records, me, &scope, now)?;
    let not_before = authority
        .as_ref()
        .map_or(0, |g| g.validity().not_before())
        .max(now.saturating_sub(CLOCK_SKEW_SECS));
    let validity = Validity::new(not_before, Some(terms.expires_at)).ok_or(ShareError::Expiry)?;
    let stanza = wrap_file_key(&version.file_key, &link.encryption, rng);
    let grant = Grant::new(GrantTerms {
        grant_id: GrantId::generate(rng),
        matter_id: *records.matter.id(),
        scope,
        grantee: link,
        rights: LINK_RIGHTS,
        validity,
        wrapped_key: Some(WrappedKeyBinding {
            version: version.version(),
            stanza_digest: StanzaDigest(stanza.digest()),
        }),
        parent: authority.map(|g| g.grant().digest()),
        issued_at: now,
    })
    .map_err(ShareError::Grant)?;
    let grant = Signed::sign(grant, me.signing_key());
    let mut link_id = [0u8; 16];
    rng.fill_bytes(&mut link_id);
    let request = CreateLink {
        link_id: link_id.into(),
        grant: grant.as_bytes().to_vec().into(),
        stanza: stanza.to_bytes().into(),
        expires_at: terms.expires_at,
        max_opens: terms.max_opens,
        passphrase: terms.passphrase.is_some(),
        claim_once: terms.claim_once,
    };
    Ok(NewLink {
        link_id,
        fragment: secret.to_fragment(),
        grant,
        request,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;
    use crate::age::Stanza;
    use crate::age::x25519::unwrap_file_key;
    use crate::grant::verify_revocation;
    use crate::key_bundle::KeyBundle;
    use crate::link::LinkSecret;
    use crate::manifest::{
        DocumentId, KeyCommitment, Manifest, ManifestTerms, PayloadDigest, VersionNumber,
    };
    use crate::matter::Matter;
    use crate::metadata::{Metadata, MetadataBinding};
    use crate::secret::FileKey;
    use crate::transparency::BoundIdentity;

    const NOW: u64 = 1_700_000_000;

    fn rng(seed: u64) -> ChaCha20Rng {
        ChaCha20Rng::seed_from_u64(seed)
    }

    /// A matter of `creator` with one document version, opened by the
    /// creator (the parts of a served version sharing needs).
    fn opened(creator: &Identity, rng: &mut ChaCha20Rng) -> OpenedVersion {
        let matter = Matter::create(rng, creator.signing_key(), 1);
        let document = DocumentId::generate(rng);
        let file_key = FileKey::generate(rng);
        let binding = MetadataBinding {
            matter_id: *matter.id(),
            document_id: document,
            version: VersionNumber::FIRST,
        };
        let metadata = Metadata::new("brief.pdf", "application/pdf", 5, [1; 32])
            .unwrap()
            .seal(&file_key, &binding);
        let manifest = Manifest::new(ManifestTerms {
            matter_id: *matter.id(),
            document_id: document,
            version: VersionNumber::FIRST,
            previous: None,
            payload_digest: PayloadDigest([2; 32]),
            payload_len: 100,
            key_commitment: KeyCommitment::derive(&file_key),
            metadata_digest: metadata.digest(),
            created_at: 2,
        })
        .unwrap();
        let stanza = wrap_file_key(&file_key, &creator.public().encryption, rng);
        OpenedVersion {
            matter,
            manifest: Signed::sign(manifest, creator.signing_key()),
            metadata: metadata.open(&file_key, &binding).unwrap(),
            file_key,
            stanza,
        }
    }

    fn bound(id: &Identity, name: &str) -> Grantee {
        Grantee::bound(&BoundIdentity {
            bundle: KeyBundle::create(id, name, 1).unwrap(),
            registration_index: 0,
            certificate: None,
            login_index: None,
        })
    }

    fn records<'a>(
        version: &'a OpenedVersion,
        grants: &'a [Signed<Grant>],
        revocations: &'a [Signed<Revocation>],
    ) -> Records<'a> {
        Records {
            matter: &version.matter,
            grants,
            revocations,
        }
    }

    fn unwraps_to(request_stanza: &[u8], to: &Identity, version: &OpenedVersion) -> bool {
        let stanza = Stanza::parse(request_stanza).unwrap();
        let key = unwrap_file_key(&stanza, to.encryption_key())
            .unwrap()
            .unwrap();
        version
            .manifest
            .record()
            .terms()
            .key_commitment
            .matches(&key)
    }

    #[test]
    fn a_document_grant_carries_the_key_wrapped_to_the_grantee_and_binds_it() {
        let mut rng = rng(1);
        let ada = Identity::generate(&mut rng);
        let maya = Identity::generate(&mut rng);
        let version = opened(&ada, &mut rng);
        let scope = Scope::Document(version.document_id());
        let new = grant(
            &ada,
            records(&version, &[], &[]),
            scope,
            bound(&maya, "Maya"),
            Rights::VIEW.union(Rights::DOWNLOAD),
            Validity::starting(NOW),
            Some(&version),
            NOW,
            &mut rng,
        )
        .unwrap();
        assert_eq!(new.request.grant.as_slice(), new.grant.as_bytes());
        let terms = new.grant.record();
        assert_eq!(terms.grantee(), &maya.public());
        assert_eq!(terms.parent(), None, "the creator needs no authority");
        let stanza = new.request.stanza.as_deref().unwrap();
        assert!(
            unwraps_to(stanza, &maya, &version),
            "the grantee opens the key"
        );
        let binding = terms.wrapped_key().unwrap();
        assert_eq!(binding.version, VersionNumber::FIRST);
        assert_eq!(
            binding.stanza_digest.0,
            Stanza::parse(stanza).unwrap().digest()
        );
        let none: &[Signed<Grant>] = &[];
        let verified = verify_grant_chain(&version.matter, &new.grant, none, &[], NOW).unwrap();
        assert!(verified.allows(Rights::DOWNLOAD, &version.document_id(), NOW));

        // A version of another document is refused.
        let other = opened(&ada, &mut rng);
        let refused = grant(
            &ada,
            records(&version, &[], &[]),
            scope,
            bound(&maya, "Maya"),
            Rights::VIEW,
            Validity::starting(NOW),
            Some(&other),
            NOW,
            &mut rng,
        );
        assert!(matches!(refused, Err(ShareError::WrongVersion)));
    }

    #[test]
    fn only_a_holder_of_the_share_right_shares_and_under_that_grant() {
        let mut rng = rng(2);
        let ada = Identity::generate(&mut rng);
        let maya = Identity::generate(&mut rng);
        let bea = Identity::generate(&mut rng);
        let version = opened(&ada, &mut rng);
        let scope = Scope::Document(version.document_id());
        let give = |rights: Rights, rng: &mut ChaCha20Rng| {
            grant(
                &ada,
                records(&version, &[], &[]),
                scope,
                bound(&maya, "Maya"),
                rights,
                Validity::starting(NOW),
                Some(&version),
                NOW,
                rng,
            )
            .unwrap()
            .grant
        };
        let viewer = [give(Rights::VIEW, &mut rng)];
        let onward = |grants: &[Signed<Grant>],
                      revocations: &[Signed<Revocation>],
                      rng: &mut ChaCha20Rng| {
            grant(
                &maya,
                records(&version, grants, revocations),
                scope,
                bound(&bea, "Bea"),
                Rights::VIEW,
                Validity::starting(NOW),
                Some(&version),
                NOW,
                rng,
            )
        };
        assert!(matches!(
            onward(&viewer, &[], &mut rng),
            Err(ShareError::NotAllowed)
        ));
        let sharer = [give(Rights::VIEW.union(Rights::SHARE), &mut rng)];
        let new = onward(&sharer, &[], &mut rng).unwrap();
        assert_eq!(new.grant.record().parent(), Some(&sharer[0].digest()));

        // Revoked, the share right is gone.
        let (revocation, request) = revoke(&ada, version.matter.id(), &sharer[0].digest(), NOW);
        assert_eq!(request.revocation.as_slice(), revocation.as_bytes());
        assert_eq!(revocation.record().revoked(), &sharer[0].digest());
        verify_revocation(&version.matter, &revocation, &sharer[..]).unwrap();
        assert!(matches!(
            onward(&sharer, &[revocation], &mut rng),
            Err(ShareError::NotAllowed)
        ));
    }

    #[test]
    fn a_link_is_granted_to_the_keys_its_fragment_derives() {
        let mut rng = rng(3);
        let ada = Identity::generate(&mut rng);
        let version = opened(&ada, &mut rng);
        let passphrase = SecretString::new("correct horse battery".into());
        for with in [None, Some(&passphrase)] {
            let terms = LinkTerms {
                expires_at: NOW + 86_400,
                max_opens: Some(3),
                passphrase: with,
                claim_once: true,
            };
            let new = create_link(
                &ada,
                records(&version, &[], &[]),
                &version,
                &terms,
                NOW,
                &mut rng,
            )
            .unwrap();
            let secret = LinkSecret::from_fragment(new.fragment.expose_secret()).unwrap();
            let keys = match with {
                None => secret.derive_keys(),
                Some(p) => secret.derive_keys_with_passphrase(p).unwrap(),
            };
            let record = new.grant.record();
            assert_eq!(record.grantee(), &keys.public());
            assert_eq!(record.rights(), LINK_RIGHTS);
            assert_eq!(record.validity().not_after(), Some(NOW + 86_400));
            assert_eq!(record.validity().not_before(), NOW - CLOCK_SKEW_SECS);
            assert!(unwraps_to(&new.request.stanza, keys.identity(), &version));
            assert_eq!(*new.request.link_id, new.link_id);
            assert_eq!(new.request.max_opens, Some(3));
            assert_eq!(new.request.passphrase, with.is_some());
            assert!(new.request.claim_once);
            assert!(!format!("{new:?}").contains(new.fragment.expose_secret()));
            // The server gets no part of the secret.
            let body = crate::api::encode(&new.request);
            let fragment = new.fragment.expose_secret().as_bytes();
            assert!(!body.windows(fragment.len()).any(|w| w == fragment));
        }
        let past = LinkTerms {
            expires_at: NOW - 2 * CLOCK_SKEW_SECS,
            max_opens: None,
            passphrase: None,
            claim_once: false,
        };
        assert!(matches!(
            create_link(
                &ada,
                records(&version, &[], &[]),
                &version,
                &past,
                NOW,
                &mut rng
            ),
            Err(ShareError::Expiry)
        ));
    }
}
