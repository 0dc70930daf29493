//! The portal's sharing (spec: `spec/api.md` §Browser pages): granting a
//! document to a member of the matter, share links, revocations, and a
//! document's access events. Every record is assembled, signed and checked
//! by `lexvault_core` (`sharing`, `transparency`, `events`), the same code
//! as the CLI; these bindings decode what the page fetched and encode what
//! it sends.
//!
//! A file key is wrapped to a person only through a [`BindingCheck`] that
//! verified their key bundle's binding in the log against the log key and
//! checkpoint the page pinned for the signed-in person.

use lexvault_core::api::{
    self, EventList, GrantList, IdentityInfo, LinkList, LogCheckpoint, LogProof,
};
use lexvault_core::events::verify_events;
use lexvault_core::grant::{Rights, Scope, Validity};
use lexvault_core::key_bundle::verify_key_bundle;
use lexvault_core::keys::SigningPublicKey;
use lexvault_core::matter::MatterId;
use lexvault_core::merkle::Hash;
use lexvault_core::opening::{MatterRecords, verify_grant_list};
use lexvault_core::secret::SecretString;
use lexvault_core::sharing::{self, Grantee, LinkTerms, Records};
use lexvault_core::signed::RecordDigest;
use lexvault_core::transparency::{
    BoundIdentity, Expect, consistency_needed, consistency_path, open_checkpoint, parse_log_key,
    verify_binding_proofs, verify_consistency,
};
use wasm_bindgen::prelude::*;

use crate::document::OpenedDocument;
use crate::portal::Session;
use crate::{js_error, now, rng};

fn invalid_answer(e: impl core::fmt::Display) -> JsError {
    js_error(format!("the server sent an invalid answer: {e}"))
}

fn failed(e: impl core::fmt::Display) -> JsError {
    js_error(format!("verification failed: {e}"))
}

fn fork() -> JsError {
    js_error(
        "verification failed: the server's log has forked: what it shows now is not consistent \
         with what this browser saw before; do not share anything and tell the firm's \
         administrator",
    )
}

fn hex32(text: &str, what: &str) -> Result<[u8; 32], JsError> {
    hex::decode(text)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| js_error(format!("{what} is not 64 hex digits")))
}

fn hex16(text: &str, what: &str) -> Result<[u8; 16], JsError> {
    hex::decode(text)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| js_error(format!("{what} is not 32 hex digits")))
}

/// Verifies a matter's grant list (CBOR) as `matter_id`'s.
fn records(matter_id: &str, grants: &[u8]) -> Result<MatterRecords, JsError> {
    let list: GrantList = api::decode(grants).map_err(invalid_answer)?;
    let records = verify_grant_list(&list).map_err(failed)?;
    if hex::encode(records.0.id().as_bytes()) != matter_id {
        return Err(failed("the server served another matter's record"));
    }
    Ok(records)
}

/// Seconds as JavaScript holds them, for a time in the future: `None` for
/// none.
fn seconds(value: Option<f64>) -> Result<Option<u64>, JsError> {
    value
        .map(|v| {
            if v.is_finite() && v > 0.0 && v < 1e15 {
                Ok(v as u64)
            } else {
                Err(js_error("the expiry is not a date"))
            }
        })
        .transpose()
}

/// The log key to pin from the answer to `GET /v1/log/checkpoint` (CBOR),
/// checked to carry the origin the spec derives from it.
///
/// # Errors
/// When the answer or the key is malformed.
#[wasm_bindgen(js_name = logKeyToPin)]
pub fn log_key_to_pin(answer: &[u8]) -> Result<String, JsError> {
    let answer: LogCheckpoint = api::decode(answer).map_err(invalid_answer)?;
    Ok(parse_log_key(&answer.verifier_key)
        .map_err(invalid_answer)?
        .to_string())
}

/// A served identity checked for its binding in the log. Only a complete
/// check (`bound`) can be granted to.
#[wasm_bindgen]
pub struct BindingCheck {
    bound: Option<BoundIdentity>,
    consistency_path: Option<String>,
    checkpoint: Option<String>,
}

#[wasm_bindgen]
impl BindingCheck {
    /// Whether the binding is verified: bound in a checkpoint consistent
    /// with the pinned one.
    #[wasm_bindgen(getter)]
    #[must_use]
    pub fn bound(&self) -> bool {
        self.bound.is_some()
    }

    /// The consistency proof to fetch (signed `GET`) and check again with,
    /// when the served checkpoint and the pinned one differ in size.
    #[wasm_bindgen(getter, js_name = consistencyPath)]
    #[must_use]
    pub fn consistency_path(&self) -> Option<String> {
        self.consistency_path.clone()
    }

    /// The checkpoint note to pin now, when the verified one is newer than
    /// the pinned one (or none was pinned).
    #[wasm_bindgen(getter)]
    #[must_use]
    pub fn checkpoint(&self) -> Option<String> {
        self.checkpoint.clone()
    }

    /// The bound bundle's display name.
    #[wasm_bindgen(getter, js_name = displayName)]
    #[must_use]
    pub fn display_name(&self) -> Option<String> {
        self.bound
            .as_ref()
            .map(|b| b.bundle.bundle().display_name().to_owned())
    }
}

/// A person the page may show: a key bundle that is self-signed (its
/// binding is checked before anything is shared with them).
#[wasm_bindgen(getter_with_clone)]
pub struct PortalPerson {
    /// The signing key, as lower-case hex.
    pub key: String,
    /// The display name in their bundle.
    #[wasm_bindgen(js_name = displayName)]
    pub display_name: String,
    /// Their fingerprint.
    pub fingerprint: String,
}

/// A grant on a document, as the page lists it.
#[wasm_bindgen(getter_with_clone)]
pub struct PortalGrant {
    /// The grant's record digest, as lower-case hex.
    pub digest: String,
    /// The grantee's signing key, as lower-case hex.
    pub grantee: String,
    /// The rights, comma-separated.
    pub rights: String,
    /// When it ends, in seconds since the Unix epoch; `undefined`: never.
    #[wasm_bindgen(js_name = expiresAt)]
    pub expires_at: Option<f64>,
    /// Whether it was revoked.
    pub revoked: bool,
    /// Whether the signed-in person granted it.
    pub mine: bool,
}

/// A share link just made. `url_fragment` is its secret: show it once.
#[wasm_bindgen(getter_with_clone)]
pub struct NewPortalLink {
    /// The link id, as lower-case hex.
    pub id: String,
    /// The body of `POST /v1/matters/{id}/links` (CBOR).
    pub body: Vec<u8>,
    /// The link's page path and fragment: `/l/<id>#<secret>`. Never send
    /// it to the server.
    pub url: String,
}

/// A share link of the matter, as the server reports it.
#[wasm_bindgen(getter_with_clone)]
pub struct PortalLink {
    /// The link id, as lower-case hex.
    pub id: String,
    /// The document, as lower-case hex.
    #[wasm_bindgen(js_name = documentId)]
    pub document_id: String,
    /// When it expires, in seconds since the Unix epoch.
    #[wasm_bindgen(js_name = expiresAt)]
    pub expires_at: f64,
    /// The open limit; `undefined`: none.
    #[wasm_bindgen(js_name = maxOpens)]
    pub max_opens: Option<u32>,
    /// Opens so far.
    pub opens: u32,
    /// Revoked.
    pub revoked: bool,
    /// Needs a passphrase.
    pub passphrase: bool,
    /// Claim-once.
    #[wasm_bindgen(js_name = claimOnce)]
    pub claim_once: bool,
    /// Claimed by a browser.
    pub claimed: bool,
    /// Locked after failed passphrase attempts.
    pub locked: bool,
    /// The digest of the link's grant, as lower-case hex.
    pub grant: String,
}

/// One verified access event.
#[wasm_bindgen(getter_with_clone)]
pub struct PortalEvent {
    /// Its position in the log, from 1.
    pub seq: f64,
    /// When, in seconds since the Unix epoch.
    pub at: f64,
    /// What happened (`viewed`, `downloaded`, `link-opened`, …).
    pub kind: String,
    /// Who: the signing key, as lower-case hex.
    pub actor: String,
    /// The document version, if any.
    pub version: Option<u32>,
}

fn parse_rights(text: &str) -> Result<Rights, JsError> {
    const KNOWN: [Rights; 5] = [
        Rights::VIEW,
        Rights::DOWNLOAD,
        Rights::UPLOAD,
        Rights::SHARE,
        Rights::SIGN,
    ];
    let mut rights: Option<Rights> = None;
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let right = KNOWN
            .into_iter()
            .find(|r| r.names().next() == Some(name))
            .ok_or_else(|| js_error(format!("unknown right '{name}'")))?;
        rights = Some(rights.map_or(right, |r| r.union(right)));
    }
    rights.ok_or_else(|| js_error("choose at least one right"))
}

#[wasm_bindgen]
impl Session {
    /// The people of a matter one may share with: its creator and everyone
    /// holding a grant in it other than a share link, without the signed-in
    /// person. `grants` answers `GET /v1/matters/{id}/grants`, `links`
    /// answers `GET /v1/matters/{id}/links` (CBOR); keys as lower-case hex.
    ///
    /// # Errors
    /// When an answer does not verify.
    #[wasm_bindgen(js_name = memberKeys)]
    pub fn member_keys(
        &self,
        matter_id: &str,
        grants: &[u8],
        links: &[u8],
    ) -> Result<Vec<String>, JsError> {
        let (matter, grants, _) = records(matter_id, grants)?;
        let links: LinkList = api::decode(links).map_err(invalid_answer)?;
        let me = self.identity.public().signing;
        let mut keys = vec![*matter.creator()];
        for g in &grants {
            let digest = g.digest();
            let key = g.record().grantee().signing;
            if !links.links.iter().any(|l| *l.grant == digest.0) && !keys.contains(&key) {
                keys.push(key);
            }
        }
        Ok(keys
            .into_iter()
            .filter(|k| *k != me)
            .map(|k| hex::encode(k.as_bytes()))
            .collect())
    }

    /// A served identity (the answer to `GET /v1/identities/{key}`, CBOR),
    /// its bundle self-signed by `key`, to show by name.
    ///
    /// # Errors
    /// When the bundle does not verify or is another key's.
    pub fn person(&self, answer: &[u8], key: &str) -> Result<PortalPerson, JsError> {
        let info: IdentityInfo = api::decode(answer).map_err(invalid_answer)?;
        let bundle = verify_key_bundle(&info.bundle).map_err(failed)?;
        if hex::encode(bundle.identity().signing.as_bytes()) != key {
            return Err(failed("the server served another person's key bundle"));
        }
        Ok(PortalPerson {
            key: key.to_owned(),
            display_name: bundle.bundle().display_name().to_owned(),
            fingerprint: bundle.fingerprint().to_string(),
        })
    }

    /// Checks the binding in the log of the identity served for `key`
    /// (`answer` to `GET /v1/identities/{key}`, CBOR) against the pinned
    /// log key and checkpoint (`pinned`, none yet on first use). When the
    /// served checkpoint and the pinned one differ in size, the result asks
    /// for a consistency proof: fetch `consistencyPath` and call again with
    /// its answer as `proof`.
    ///
    /// # Errors
    /// When the binding does not verify, or the log has forked.
    #[wasm_bindgen(js_name = checkBinding)]
    pub fn check_binding(
        &self,
        answer: &[u8],
        key: &str,
        log_key: &str,
        pinned: Option<String>,
        proof: Option<Vec<u8>>,
    ) -> Result<BindingCheck, JsError> {
        let info: IdentityInfo = api::decode(answer).map_err(invalid_answer)?;
        let key = SigningPublicKey::from_bytes(&hex32(key, "the key")?)
            .map_err(|e| js_error(format!("the key is invalid: {e}")))?;
        let verifier = parse_log_key(log_key)
            .map_err(|e| js_error(format!("the pinned log key is unusable: {e}")))?;
        let expect = Expect {
            key: Some(&key),
            ..Expect::default()
        };
        let proven = verify_binding_proofs(&info, expect, &verifier).map_err(|e| {
            js_error(format!(
                "this person's keys cannot be trusted, so nothing was shared with them: {e}"
            ))
        })?;
        let Some(pinned_note) = pinned else {
            return Ok(BindingCheck {
                bound: Some(proven.identity),
                consistency_path: None,
                checkpoint: Some(proven.note),
            });
        };
        let pinned = open_checkpoint(&pinned_note, &verifier).map_err(|e| {
            js_error(format!(
                "the log checkpoint this browser pinned does not open: {e}"
            ))
        })?;
        if let Some((from, to)) =
            consistency_needed(&pinned, &proven.checkpoint, false).map_err(|_| fork())?
        {
            let Some(proof) = proof else {
                return Ok(BindingCheck {
                    bound: None,
                    consistency_path: Some(consistency_path(from, to)),
                    checkpoint: None,
                });
            };
            let proof: LogProof = api::decode(&proof).map_err(invalid_answer)?;
            let hashes: Vec<Hash> = proof.hashes.iter().map(|h| **h).collect();
            verify_consistency(&pinned, &proven.checkpoint, &hashes).map_err(|_| fork())?;
        }
        let newer = proven.checkpoint.size > pinned.size;
        Ok(BindingCheck {
            bound: Some(proven.identity),
            consistency_path: None,
            checkpoint: newer.then_some(proven.note),
        })
    }

    /// The body of `POST /v1/matters/{id}/grants` granting `document` (its
    /// latest version, as listed) to the person of `check` with `rights`
    /// (comma-separated) until `expires_at` (seconds; `undefined`: no
    /// end). `grants` answers `GET /v1/matters/{id}/grants` (CBOR). The
    /// version's file key is wrapped to them and bound into the signed
    /// grant.
    ///
    /// # Errors
    /// When the binding was not verified, the answer does not verify, or
    /// the signed-in person may not share the document.
    #[wasm_bindgen(js_name = grantDocument)]
    pub fn grant_document(
        &self,
        document: &OpenedDocument,
        grants: &[u8],
        check: &BindingCheck,
        rights: &str,
        expires_at: Option<f64>,
    ) -> Result<Vec<u8>, JsError> {
        let bound = check.bound.as_ref().ok_or_else(|| {
            js_error("this person's keys were not verified in the log; nothing was shared")
        })?;
        let version = document.opened();
        let matter_id = hex::encode(version.matter.id().as_bytes());
        let (matter, grants, revocations) = records(&matter_id, grants)?;
        let t = now();
        let validity = Validity::new(t, seconds(expires_at)?)
            .ok_or_else(|| js_error("the expiry must be in the future"))?;
        let new = sharing::grant(
            &self.identity,
            Records {
                matter: &matter,
                grants: &grants,
                revocations: &revocations,
            },
            Scope::Document(version.document_id()),
            Grantee::bound(bound),
            parse_rights(rights)?,
            validity,
            Some(version),
            t,
            &mut rng(),
        )
        .map_err(js_error)?;
        Ok(api::encode(&new.request))
    }

    /// The grants on `document_id` (hex) in the matter's grant list
    /// (`grants`, CBOR), newest last, without share links' grants
    /// (`links`, CBOR).
    ///
    /// # Errors
    /// When an answer does not verify.
    #[wasm_bindgen(js_name = documentGrants)]
    pub fn document_grants(
        &self,
        matter_id: &str,
        grants: &[u8],
        links: &[u8],
        document_id: &str,
    ) -> Result<Vec<PortalGrant>, JsError> {
        let (_, grants, revocations) = records(matter_id, grants)?;
        let links: LinkList = api::decode(links).map_err(invalid_answer)?;
        let document =
            lexvault_core::manifest::DocumentId::from_bytes(hex16(document_id, "the document id")?);
        let me = self.identity.public().signing;
        Ok(grants
            .iter()
            .filter(|g| *g.record().scope() == Scope::Document(document))
            .filter(|g| !links.links.iter().any(|l| *l.grant == g.digest().0))
            .map(|g| {
                let digest = g.digest();
                PortalGrant {
                    digest: hex::encode(digest.0),
                    grantee: hex::encode(g.record().grantee().signing.as_bytes()),
                    rights: g.record().rights().names().collect::<Vec<_>>().join(", "),
                    expires_at: g.record().validity().not_after().map(|t| t as f64),
                    revoked: revocations.iter().any(|r| *r.record().revoked() == digest),
                    mine: g.signer() == &me,
                }
            })
            .collect())
    }

    /// The body of `POST /v1/matters/{id}/revocations` revoking the grant
    /// whose digest is `grant` (hex).
    ///
    /// # Errors
    /// When an id is malformed.
    pub fn revocation(&self, matter_id: &str, grant: &str) -> Result<Vec<u8>, JsError> {
        let matter = MatterId::from_bytes(hex16(matter_id, "the matter id")?);
        let grant = RecordDigest(hex32(grant, "the grant")?);
        let (_, request) = sharing::revoke(&self.identity, &matter, &grant, now());
        Ok(api::encode(&request))
    }

    /// A new share link to `document` (its latest version, as listed),
    /// with the CLI's options: expiry (seconds), open limit, passphrase,
    /// claim-once. `grants` answers `GET /v1/matters/{id}/grants` (CBOR).
    ///
    /// # Errors
    /// When the answer does not verify, the signed-in person may not share
    /// the document, or the terms are unusable.
    #[wasm_bindgen(js_name = createLink)]
    pub fn create_link(
        &self,
        document: &OpenedDocument,
        grants: &[u8],
        expires_at: f64,
        max_opens: Option<u32>,
        passphrase: Option<String>,
        claim_once: bool,
    ) -> Result<NewPortalLink, JsError> {
        let version = document.opened();
        let matter_id = hex::encode(version.matter.id().as_bytes());
        let (matter, grants, revocations) = records(&matter_id, grants)?;
        let expires_at =
            seconds(Some(expires_at))?.ok_or_else(|| js_error("the expiry is not a date"))?;
        let passphrase = passphrase.filter(|p| !p.is_empty()).map(SecretString::new);
        let new = sharing::create_link(
            &self.identity,
            Records {
                matter: &matter,
                grants: &grants,
                revocations: &revocations,
            },
            version,
            &LinkTerms {
                expires_at,
                max_opens,
                passphrase: passphrase.as_ref(),
                claim_once,
            },
            now(),
            &mut rng(),
        )
        .map_err(js_error)?;
        let id = hex::encode(new.link_id);
        Ok(NewPortalLink {
            url: format!("/l/{id}#{}", new.fragment.expose_secret()),
            id,
            body: api::encode(&new.request),
        })
    }

    /// The links of a matter (`answer` to `GET /v1/matters/{id}/links`,
    /// CBOR) to `document_id` (hex).
    ///
    /// # Errors
    /// When the answer is malformed.
    pub fn links(&self, answer: &[u8], document_id: &str) -> Result<Vec<PortalLink>, JsError> {
        let list: LinkList = api::decode(answer).map_err(invalid_answer)?;
        Ok(list
            .links
            .iter()
            .filter(|l| hex::encode(*l.document_id) == document_id)
            .map(|l| PortalLink {
                id: hex::encode(*l.link_id),
                document_id: hex::encode(*l.document_id),
                expires_at: l.expires_at as f64,
                max_opens: l.max_opens,
                opens: l.opens,
                revoked: l.revoked,
                passphrase: l.passphrase,
                claim_once: l.claim_once,
                claimed: l.claimed,
                locked: l.locked,
                grant: hex::encode(*l.grant),
            })
            .collect())
    }

    /// A document's access events: `answer` to `GET
    /// /v1/matters/{id}/events` (CBOR), every event checked against its log
    /// entry and its evidence signed by its actor, then those of
    /// `document_id` (hex), oldest first.
    ///
    /// # Errors
    /// When any event of the matter does not verify.
    pub fn events(
        &self,
        matter_id: &str,
        answer: &[u8],
        document_id: &str,
    ) -> Result<Vec<PortalEvent>, JsError> {
        let matter = MatterId::from_bytes(hex16(matter_id, "the matter id")?);
        let document = hex16(document_id, "the document id")?;
        let list: EventList = api::decode(answer).map_err(invalid_answer)?;
        verify_events(&matter, &list).map_err(failed)?;
        Ok(list
            .events
            .iter()
            .filter(|e| e.document_id.as_deref() == Some(&document))
            .map(|e| PortalEvent {
                seq: e.seq as f64,
                at: e.at as f64,
                kind: e.kind.clone(),
                actor: hex::encode(*e.actor),
                version: e.version,
            })
            .collect())
    }
}
