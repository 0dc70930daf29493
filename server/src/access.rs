//! Who may see and do what in a matter, decided from verified records.
//!
//! The server loads a matter's signed record, grants and revocations, and
//! answers with the core's own chain verification
//! ([`lexvault_core::grant::verify_grant_chain`]) at the current time, so
//! the server and every client apply one rule. Stored records were
//! verified when they arrived; they are parsed (and their signatures
//! checked) again here, so a row edited in the database grants nothing.
//! What this process has verified once it remembers by the SHA-256 of the
//! exact bytes ([`VerifiedRecords`]): a matter with many parties is not
//! re-verified signature by signature on every request, and an edited row,
//! whose bytes differ, is verified afresh.

use lexvault_core::grant::{
    Authority, ChainError, Grant, Revocation, Rights, VerifiedGrant, parse_grant, parse_revocation,
    verify_grant_chain, verify_upload_authority,
};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use lexvault_core::keys::SigningPublicKey;
use lexvault_core::manifest::{DocumentId, Manifest, ManifestError, verify_manifest};
use lexvault_core::matter::{MatterId, VerifiedMatter, verify_matter};
use lexvault_core::signed::Signed;
use sha2::{Digest as _, Sha256};

use crate::app::AppState;
use crate::error::ApiError;

/// How many verified records of one type a process remembers; when full,
/// it starts over (a bound on memory, not a policy).
const REMEMBERED_RECORDS: usize = 16 * 1024;

/// Records of one type whose signatures this process verified, by the
/// SHA-256 of their exact bytes.
#[derive(Debug)]
struct Remembered<T> {
    verified: Mutex<HashMap<[u8; 32], T>>,
}

impl<T> Default for Remembered<T> {
    fn default() -> Self {
        Self {
            verified: Mutex::default(),
        }
    }
}

impl<T: Clone> Remembered<T> {
    /// `bytes` verified by `verify`, or as verified before.
    fn get_or_verify<E>(
        &self,
        bytes: &[u8],
        verify: impl FnOnce(&[u8]) -> Result<T, E>,
    ) -> Result<T, E> {
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        let known = self
            .verified
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&digest)
            .cloned();
        if let Some(record) = known {
            return Ok(record);
        }
        let record = verify(bytes)?;
        let mut verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
        if verified.len() >= REMEMBERED_RECORDS {
            verified.clear();
        }
        verified.insert(digest, record.clone());
        Ok(record)
    }
}

/// The matter records, grants, revocations and manifests this process has
/// verified.
#[derive(Debug, Default)]
pub struct VerifiedRecords {
    matters: Remembered<VerifiedMatter>,
    grants: Remembered<Signed<Grant>>,
    revocations: Remembered<Signed<Revocation>>,
    manifests: Remembered<Signed<Manifest>>,
}

impl VerifiedRecords {
    /// A stored manifest, verified (or as verified before).
    pub fn manifest(&self, bytes: &[u8]) -> Result<Signed<Manifest>, ManifestError> {
        self.manifests.get_or_verify(bytes, verify_manifest)
    }
}

/// A matter's records, verified.
#[derive(Debug, Clone)]
pub struct MatterAccess {
    /// The matter record.
    pub matter: VerifiedMatter,
    /// Every stored grant, in order.
    pub grants: Vec<Signed<Grant>>,
    /// Every stored revocation, in order.
    pub revocations: Vec<Signed<Revocation>>,
    /// The keys of the matter's share links. A link's grant opens the
    /// document only through the link routes, which enforce its expiry,
    /// open limit, lockout and claim; the generic routes give link keys
    /// nothing.
    pub link_keys: Vec<[u8; 32]>,
}

impl MatterAccess {
    /// Loads a matter; `None` if it does not exist.
    pub async fn load(state: &AppState, id: MatterId) -> Result<Option<Self>, ApiError> {
        let raw = state
            .store(move |s| {
                let Some(matter) = s.matter(id.as_bytes())? else {
                    return Ok(None);
                };
                let grants = s.grants(id.as_bytes())?;
                let revocations = s.revocations(id.as_bytes())?;
                let links: Vec<[u8; 32]> = s
                    .links_in(id.as_bytes())?
                    .into_iter()
                    .map(|l| l.grantee_key)
                    .collect();
                Ok(Some((matter, grants, revocations, links)))
            })
            .await?;
        let Some((matter, grants, revocations, link_keys)) = raw else {
            return Ok(None);
        };
        let known = &state.verified;
        let matter = known
            .matters
            .get_or_verify(&matter, verify_matter)
            .map_err(|e| ApiError::internal(&e))?;
        let grants = grants
            .iter()
            .map(|g| known.grants.get_or_verify(&g.record, parse_grant))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ApiError::internal(&e))?;
        let revocations = revocations
            .iter()
            .map(|r| known.revocations.get_or_verify(r, parse_revocation))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ApiError::internal(&e))?;
        Ok(Some(Self {
            matter,
            grants,
            revocations,
            link_keys,
        }))
    }

    /// Loads a matter the caller may see: its creator, or someone holding a
    /// grant in force in it. Anything else is the uniform not-found.
    pub async fn load_visible(
        state: &AppState,
        id: MatterId,
        caller: &SigningPublicKey,
    ) -> Result<Self, ApiError> {
        let access = Self::load(state, id)
            .await?
            .ok_or_else(ApiError::not_found)?;
        if access.is_visible_to(caller, state.now()) {
            Ok(access)
        } else {
            Err(ApiError::not_found())
        }
    }

    /// Whether `key` may see the matter at `now`: its creator, or someone
    /// holding a grant in force in it.
    #[must_use]
    pub fn is_visible_to(&self, key: &SigningPublicKey, now: u64) -> bool {
        self.is_creator(key) || !self.grants_of(key, now).is_empty()
    }

    /// Whether `key` created the matter.
    #[must_use]
    pub fn is_creator(&self, key: &SigningPublicKey) -> bool {
        self.matter.creator() == key
    }

    /// The grants to `key` whose chains verify at `now`; none for a share
    /// link's key (see [`Self::link_keys`]).
    #[must_use]
    pub fn grants_of(&self, key: &SigningPublicKey, now: u64) -> Vec<VerifiedGrant> {
        if self.link_keys.contains(key.as_bytes()) {
            return Vec::new();
        }
        self.grants
            .iter()
            .filter(|g| &g.record().grantee().signing == key)
            .filter_map(|g| {
                verify_grant_chain(
                    &self.matter,
                    g,
                    self.grants.as_slice(),
                    &self.revocations,
                    now,
                )
                .ok()
            })
            .collect()
    }

    /// Whether `key` holds every right in `rights` over `document` (or, for
    /// `None`, over the whole matter) at `now`.
    #[must_use]
    pub fn allows(
        &self,
        key: &SigningPublicKey,
        rights: Rights,
        document: Option<&DocumentId>,
        now: u64,
    ) -> bool {
        if self.is_creator(key) {
            return true;
        }
        self.grants_of(key, now).iter().any(|g| {
            g.rights().contains(rights)
                && match document {
                    Some(d) => g.scope().includes(d),
                    None => g.scope() == &lexvault_core::grant::Scope::Matter,
                }
        })
    }

    /// Verifies the chain of `grant` at `now`, where `arriving` (which holds
    /// `grant`) are grants sent with the request and not yet stored: they
    /// may be parents too.
    pub fn verify_arriving(
        &self,
        grant: &Signed<Grant>,
        arriving: &[Signed<Grant>],
        now: u64,
    ) -> Result<VerifiedGrant, ChainError> {
        let mut lookup = self.grants.clone();
        lookup.extend(arriving.iter().cloned());
        verify_grant_chain(
            &self.matter,
            grant,
            lookup.as_slice(),
            &self.revocations,
            now,
        )
    }

    /// Whether `manifest`'s signer was entitled to upload it: the matter's
    /// creator, or a grantee whose upload right over the document held at
    /// the manifest's creation time (the rule every client applies,
    /// [`verify_upload_authority`]).
    pub fn upload_authority(&self, manifest: &Signed<Manifest>) -> Option<Authority> {
        let signer = manifest.signer();
        if self.link_keys.contains(signer.as_bytes()) {
            return None;
        }
        verify_upload_authority(
            &self.matter,
            manifest,
            &self.grants,
            self.grants.as_slice(),
            &self.revocations,
        )
        .ok()
    }

    /// The signed bytes of the grant that gave `manifest`'s signer the
    /// right to upload it, then of every grant up its chain: what a client
    /// needs to check the uploader's authority. Empty for the matter's
    /// creator, who needs no grant, and for an uploader without authority
    /// (whose version every client refuses).
    #[must_use]
    pub fn uploader_chain(&self, manifest: &Signed<Manifest>) -> Vec<Vec<u8>> {
        let Some(Authority::Grant(verified)) = self.upload_authority(manifest) else {
            return Vec::new();
        };
        verified
            .chain()
            .iter()
            .filter_map(|d| self.grants.iter().find(|g| g.digest() == *d))
            .map(|g| g.as_bytes().to_vec())
            .collect()
    }

    /// The signed bytes of every stored revocation, in order.
    #[must_use]
    pub fn revocation_bytes(&self) -> Vec<minicbor::bytes::ByteVec> {
        self.revocations
            .iter()
            .map(|r| r.as_bytes().to_vec().into())
            .collect()
    }

    /// The signed bytes of `key`'s grants in force and of every grant up
    /// their chains, each once: what a client needs to verify its access.
    #[must_use]
    pub fn chains_of(&self, key: &SigningPublicKey, now: u64) -> Vec<Vec<u8>> {
        let mut digests = Vec::new();
        for g in self.grants_of(key, now) {
            for d in g.chain() {
                if !digests.contains(d) {
                    digests.push(*d);
                }
            }
        }
        self.grants
            .iter()
            .filter(|g| digests.contains(&g.digest()))
            .map(|g| g.as_bytes().to_vec())
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn records_are_verified_once_per_exact_bytes() {
        let remembered = Remembered::<usize>::default();
        let calls = Cell::new(0);
        let verify = |bytes: &[u8]| -> Result<usize, &'static str> {
            calls.set(calls.get() + 1);
            if bytes.starts_with(b"good") {
                Ok(bytes.len())
            } else {
                Err("bad signature")
            }
        };
        assert_eq!(remembered.get_or_verify(b"good grant", verify), Ok(10));
        assert_eq!(remembered.get_or_verify(b"good grant", verify), Ok(10));
        assert_eq!(calls.get(), 1, "the same bytes are not verified again");
        // One byte changed: verified afresh, and a failure is not kept.
        assert_eq!(remembered.get_or_verify(b"good grunt", verify), Ok(10));
        assert_eq!(
            remembered.get_or_verify(b"bad grant", verify),
            Err("bad signature")
        );
        assert_eq!(
            remembered.get_or_verify(b"bad grant", verify),
            Err("bad signature")
        );
        assert_eq!(calls.get(), 4);
    }
}
