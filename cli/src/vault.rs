//! The vault as a party uses it: every operation verified end to end.
//!
//! A [`Vault`] is one person's (or one link's) view of a server. It
//! encrypts and signs before anything leaves the machine, and verifies
//! every record the server serves before using it: the matter record, the
//! grant chains, the manifest and its succession, the key commitment, the
//! metadata binding, and the payload's digest before a single byte of
//! plaintext is released. A server that swaps, drops or forges anything is
//! reported as [`ClientError::Verification`].

use std::io::{self, Read, Seek, SeekFrom, Write};

use lexvault_core::age;
use lexvault_core::age::stream::{
    CHUNK_SIZE, ENCRYPTED_CHUNK_SIZE, EncryptingReader, PayloadEncryptor, StreamReader,
};
use lexvault_core::api::{
    AddStanzas, CertifyMember, CreateMatter, DocumentList, DocumentView, EventList, EventView,
    GrantList, IdentityInfo, IdentityList, MatterList, RecipientStanza, RegisterIdentity,
    VersionView,
};
use lexvault_core::events::verify_events;
use lexvault_core::grant::{
    Grant, Revocation, Rights, Scope, Validity, VerifiedGrant, parse_grant, parse_revocation,
    verify_grant_chain,
};
use lexvault_core::key_bundle::{KeyBundle, VerifiedKeyBundle, verify_key_bundle};
use lexvault_core::keys::{Identity, PublicIdentity, SigningPublicKey};
use lexvault_core::manifest::{
    DocumentId, Manifest, PayloadHasher, VersionNumber, verify_manifest, verify_succession,
};
use lexvault_core::matter::{Matter, MatterId, VerifiedMatter, verify_matter};
use lexvault_core::membership::{MemberCertificate, Role, verify_member_certificate};
use lexvault_core::metadata::PlaintextHasher;
use lexvault_core::opening::{self, OpenError};
use lexvault_core::secret::FileKey;
use lexvault_core::sharing::{self, Grantee, Records, ShareError};
use lexvault_core::signed::{RecordDigest, Signed};
use lexvault_core::transparency::TransparencyError as BindingRefused;
use lexvault_core::upload::{NewVersion, PayloadSealer, carried_recipients, seal_version};

use crate::client::{Client, ClientError, ClientResult, now, os_rng};
use crate::log::LogError;
use crate::transparency::{
    BoundIdentity, BoundName, Expect, ForeignBinding, LogView, TransparencyError, query_value,
    verify_identity,
};

/// Hex of bytes, as paths carry ids and keys.
#[must_use]
pub fn hex_id(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

fn verification(what: impl std::fmt::Display) -> ClientError {
    ClientError::Verification(what.to_string())
}

/// A refusal to share as the vault reports it: the caller asked for
/// something it may not do.
pub(crate) fn shared(e: ShareError) -> ClientError {
    ClientError::Invalid(e.to_string())
}

/// A failed binding check as the vault reports it: talking to the server
/// stays a transport or API error; anything else is a verification failure.
fn unbound(e: TransparencyError) -> ClientError {
    match e {
        TransparencyError::Log(LogError::Client(c)) => c,
        e => verification(e),
    }
}

pub use lexvault_core::opening::MatterRecords;

pub use lexvault_core::upload::Share;

pub use lexvault_core::opening::OpenedVersion;

/// A document and all its versions, verified.
#[derive(Debug)]
pub struct VerifiedDocument {
    /// The matter.
    pub matter: VerifiedMatter,
    /// The manifests, oldest first, each the successor of the one before.
    pub versions: Vec<(Signed<Manifest>, VersionView)>,
    /// The caller's grants in force (empty for the matter's creator).
    pub access: Vec<VerifiedGrant>,
    /// The grants served with the document.
    pub grants: Vec<Signed<Grant>>,
    /// The revocations served with the document.
    pub revocations: Vec<Signed<Revocation>>,
}

/// One person's verified view of a lexvault server.
pub struct Vault {
    client: Client,
    me: Identity,
    log: LogView,
    /// For each document opened through this vault, the newest version
    /// seen and its manifest's digest: a server that later serves an older
    /// latest version, or another manifest under a version already seen,
    /// is rolling the document back or forking it.
    seen: std::sync::Mutex<std::collections::HashMap<DocumentId, (VersionNumber, RecordDigest)>>,
    /// For each matter, the revocations this vault made or was served: the
    /// server serves every revocation of a matter to everyone who may see
    /// it, so one missing later was hidden (a revoked grant replayed).
    revoked: std::sync::Mutex<
        std::collections::HashMap<MatterId, std::collections::HashSet<RecordDigest>>,
    >,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("server", &self.client.base_url())
            .field("me", &self.me.public().fingerprint().to_string())
            .finish()
    }
}

impl Vault {
    /// `me`'s view of the server behind `client`, with a log state of its
    /// own that pins the log key and checkpoint on first use.
    #[must_use]
    pub fn new(client: Client, me: Identity) -> Self {
        Self::with_log(client, me, LogView::default())
    }

    /// `me`'s view of the server behind `client`, checking key bindings
    /// against `log` (shared with whoever saves it).
    #[must_use]
    pub fn with_log(client: Client, me: Identity, log: LogView) -> Self {
        Self {
            client,
            me,
            log,
            seen: std::sync::Mutex::default(),
            revoked: std::sync::Mutex::default(),
        }
    }

    /// The log state this vault checks key bindings against.
    #[must_use]
    pub fn log(&self) -> &LogView {
        &self.log
    }

    /// Checks that `served` still holds every revocation of `matter` this
    /// vault knows of, and remembers the served ones.
    fn check_revocations_kept(
        &self,
        matter: &MatterId,
        served: &[Signed<Revocation>],
    ) -> ClientResult<()> {
        let mut revoked = self
            .revoked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let known = revoked.entry(*matter).or_default();
        let hidden = known
            .iter()
            .filter(|d| !served.iter().any(|r| r.digest() == **d))
            .count();
        if hidden > 0 {
            return Err(verification(format!(
                "the server hid {hidden} revocation(s) of this matter you have already seen: \
                 a revoked grant is being replayed"
            )));
        }
        known.extend(served.iter().map(Signed::digest));
        Ok(())
    }

    /// Checks a served history of `id` (oldest first, already verified to
    /// follow one another) against the newest version this vault has seen,
    /// and remembers its latest version.
    fn check_not_rolled_back(
        &self,
        id: &DocumentId,
        history: &[&Signed<Manifest>],
    ) -> ClientResult<()> {
        self.check_not_rolled_back_then(id, history, || Ok(()))
    }

    /// [`Self::check_not_rolled_back`], remembering the latest version only
    /// if `then` (the history's remaining checks) accepts it too.
    fn check_not_rolled_back_then(
        &self,
        id: &DocumentId,
        history: &[&Signed<Manifest>],
        then: impl FnOnce() -> ClientResult<()>,
    ) -> ClientResult<()> {
        let Some(latest) = history.last() else {
            return Ok(());
        };
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let served = latest.record().version();
        if let Some((version, digest)) = seen.get(id).copied() {
            if served < version {
                return Err(verification(format!(
                    "the server served version {} as the latest, older than version {} you have \
                     already seen: the document was rolled back",
                    served.get(),
                    version.get()
                )));
            }
            let same = history
                .iter()
                .find(|m| m.record().version() == version)
                .is_none_or(|m| m.digest() == digest);
            if !same {
                return Err(verification(format!(
                    "the server replaced version {} you have already seen",
                    version.get()
                )));
            }
        }
        then()?;
        seen.insert(*id, (served, latest.digest()));
        Ok(())
    }

    /// The transport.
    #[must_use]
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Who this vault acts as.
    #[must_use]
    pub fn identity(&self) -> &Identity {
        &self.me
    }

    fn key(&self) -> &lexvault_core::keys::SigningSecretKey {
        self.me.signing_key()
    }

    // -----------------------------------------------------------------
    // Identities

    /// Publishes this identity's key bundle under `display_name`.
    pub fn register(&self, display_name: &str) -> ClientResult<VerifiedKeyBundle> {
        let bundle = KeyBundle::create(&self.me, display_name, now())
            .map_err(|e| ClientError::Invalid(format!("cannot make the key bundle: {e}")))?;
        let _: IdentityInfo = self.client.post(
            self.key(),
            "/v1/identities",
            &RegisterIdentity {
                bundle: bundle.as_bytes().to_vec().into(),
            },
        )?;
        Ok(bundle)
    }

    /// The published key bundle of `key`, checked to be self-signed by that
    /// key, with its member certificate if any.
    pub fn identity_of(
        &self,
        key: &SigningPublicKey,
    ) -> ClientResult<(VerifiedKeyBundle, Option<Vec<u8>>)> {
        let info: IdentityInfo = self.client.get(
            self.key(),
            &format!("/v1/identities/{}", hex_id(key.as_bytes())),
        )?;
        let bundle = verify_key_bundle(&info.bundle).map_err(verification)?;
        if &bundle.identity().signing != key {
            return Err(verification(
                "the server served another person's key bundle",
            ));
        }
        Ok((bundle, info.certificate.map(|c| c.to_vec())))
    }

    /// The firm administrator's key bundle, bound in the log by the init
    /// step's entry.
    pub fn administrator(&self) -> ClientResult<VerifiedKeyBundle> {
        let info: IdentityInfo = self.client.get(self.key(), "/v1/admin")?;
        let expect = Expect {
            as_administrator: true,
            ..Expect::default()
        };
        self.verify_bound(&info, expect)
            .map(|b| b.bundle)
            .map_err(unbound)
    }

    /// The role the administrator certified `key` with, verified against
    /// `administrator` and bound in the log; `None` for people who are not
    /// staff.
    pub fn role_of(
        &self,
        key: &SigningPublicKey,
        administrator: &SigningPublicKey,
    ) -> ClientResult<Option<Role>> {
        let bound = self
            .bound_identity_as(key, Some(administrator))
            .map_err(unbound)?;
        match bound.certificate {
            None => Ok(None),
            Some((c, _)) => verify_member_certificate(&c, administrator, &bound.bundle)
                .map(|c| Some(c.record().role()))
                .map_err(verification),
        }
    }

    // -----------------------------------------------------------------
    // Key transparency

    fn verify_bound(
        &self,
        info: &IdentityInfo,
        expect: Expect<'_>,
    ) -> Result<BoundIdentity, TransparencyError> {
        self.log
            .update(|state| verify_identity(&self.client, self.key(), state, info, expect))
    }

    /// The key bundle of `key`, with its binding in the log verified: the
    /// registration entry publishes exactly this bundle at that key's own
    /// request, and is included in a checkpoint that opens under the pinned
    /// log key and is consistent with the pinned checkpoint (spec:
    /// `spec/log.md` §Key transparency).
    pub fn bound_identity(
        &self,
        key: &SigningPublicKey,
    ) -> Result<BoundIdentity, TransparencyError> {
        self.bound_identity_as(key, None)
    }

    /// [`Self::bound_identity`], and with `administrator` also the served
    /// member certificate's binding by that administrator.
    fn bound_identity_as(
        &self,
        key: &SigningPublicKey,
        administrator: Option<&SigningPublicKey>,
    ) -> Result<BoundIdentity, TransparencyError> {
        let info: IdentityInfo = self
            .client
            .get(
                self.key(),
                &format!("/v1/identities/{}", hex_id(key.as_bytes())),
            )
            .map_err(LogError::Client)?;
        let expect = Expect {
            key: Some(key),
            administrator,
            ..Expect::default()
        };
        self.verify_bound(&info, expect)
    }

    /// Refuses, before anything is encrypted to `party` or granted them,
    /// unless the bundle bound in the log for their key carries exactly
    /// these keys. This identity itself needs no check.
    fn require_bound(&self, party: &PublicIdentity) -> ClientResult<Grantee> {
        if party == &self.me.public() {
            return Ok(Grantee::myself(&self.me));
        }
        let bound = self.bound_identity(&party.signing).map_err(unbound)?;
        if bound.bundle.identity() != party {
            return Err(verification(
                "the key bundle bound in the log carries another encryption key",
            ));
        }
        Ok(Grantee::bound(&bound))
    }

    /// Every binding in the log of this identity's display name (and of
    /// `login_name`, if it has one) to a key that is not its own. The
    /// server can leave bindings out of a name lookup; those it shows are
    /// verified like any other, so an impostor it shows cannot be denied
    /// later.
    pub fn foreign_bindings(
        &self,
        login_name: Option<&str>,
    ) -> Result<Vec<ForeignBinding>, TransparencyError> {
        let me = self.me.public().signing;
        let own = self.bound_identity(&me)?;
        let display_name = own.bundle.bundle().display_name().to_owned();
        let mut foreign = Vec::new();
        let by_display: IdentityList = self
            .client
            .get(
                self.key(),
                &format!("/v1/identities?display-name={}", query_value(&display_name)),
            )
            .map_err(LogError::Client)?;
        for info in &by_display.identities {
            let bound = self.verify_bound(info, Expect::default())?;
            if bound.bundle.bundle().display_name() != display_name {
                return Err(TransparencyError::Binding(BindingRefused::WrongName));
            }
            if bound.bundle.identity().signing != me {
                foreign.push(ForeignBinding {
                    name: BoundName::DisplayName,
                    key: bound.bundle.identity().signing,
                    fingerprint: bound.bundle.fingerprint(),
                    index: bound.registration_index,
                });
            }
        }
        if let Some(name) = login_name {
            let name = crate::login::normalize_login_name(name).map_err(LogError::Client)?;
            let by_login: IdentityList = self
                .client
                .get(
                    self.key(),
                    &format!("/v1/identities?login-name={}", query_value(&name)),
                )
                .map_err(LogError::Client)?;
            for info in &by_login.identities {
                let expect = Expect {
                    login_name: Some(&name),
                    ..Expect::default()
                };
                let bound = self.verify_bound(info, expect)?;
                if bound.bundle.identity().signing != me {
                    foreign.push(ForeignBinding {
                        name: BoundName::LoginName,
                        key: bound.bundle.identity().signing,
                        fingerprint: bound.bundle.fingerprint(),
                        index: bound.login_index.unwrap_or(bound.registration_index),
                    });
                }
            }
        }
        Ok(foreign)
    }

    /// As the administrator: certifies `member` with `role`.
    pub fn certify(&self, member: &VerifiedKeyBundle, role: Role) -> ClientResult<()> {
        let certificate = MemberCertificate::issue(member, role, now(), self.key());
        let _: IdentityInfo = self.client.post(
            self.key(),
            &format!(
                "/v1/identities/{}/certificate",
                hex_id(member.identity().signing.as_bytes())
            ),
            &CertifyMember {
                certificate: certificate.as_bytes().to_vec().into(),
            },
        )?;
        Ok(())
    }

    // -----------------------------------------------------------------
    // Matters

    /// Creates a matter with this identity as its creator.
    pub fn create_matter(&self) -> ClientResult<VerifiedMatter> {
        let matter = Matter::create(&mut os_rng(), self.key(), now());
        let _: MatterList = self.client.post(
            self.key(),
            "/v1/matters",
            &CreateMatter {
                matter: matter.as_bytes().to_vec().into(),
            },
        )?;
        Ok(matter)
    }

    /// The matters this identity created or holds a grant in.
    pub fn matters(&self) -> ClientResult<Vec<VerifiedMatter>> {
        let list: MatterList = self.client.get(self.key(), "/v1/matters")?;
        list.matters
            .iter()
            .map(|m| verify_matter(m).map_err(verification))
            .collect()
    }

    /// A matter's grants and revocations, every signature and the matter
    /// record verified.
    pub fn grants(&self, matter: &MatterId) -> ClientResult<MatterRecords> {
        let list: GrantList = self.client.get(
            self.key(),
            &format!("/v1/matters/{}/grants", hex_id(matter.as_bytes())),
        )?;
        let (m, grants, revocations) = verify_grant_list(&list)?;
        if m.id() != matter {
            return Err(verification("the server served another matter's record"));
        }
        self.check_revocations_kept(matter, &revocations)?;
        Ok((m, grants, revocations))
    }

    /// The authority this identity shares with: `None` as the matter's
    /// creator, else its grant in force that may share `scope`.
    fn authority(
        &self,
        matter: &VerifiedMatter,
        grants: &[Signed<Grant>],
        revocations: &[Signed<Revocation>],
        scope: &Scope,
    ) -> ClientResult<Option<RecordDigest>> {
        let records = Records {
            matter,
            grants,
            revocations,
        };
        sharing::authority(records, &self.me, scope, now())
            .map(|g| g.map(|g| g.grant().digest()))
            .map_err(shared)
    }

    /// Grants `to` the `rights` over `scope` for `validity`. For a single
    /// document, the current version's file key is wrapped to them and bound
    /// into the grant.
    pub fn grant(
        &self,
        matter: &MatterId,
        scope: Scope,
        to: &PublicIdentity,
        rights: Rights,
        validity: Validity,
    ) -> ClientResult<Signed<Grant>> {
        let grantee = self.require_bound(to)?;
        let (m, grants, revocations) = self.grants(matter)?;
        let records = Records {
            matter: &m,
            grants: &grants,
            revocations: &revocations,
        };
        let t = now();
        sharing::authority(records, &self.me, &scope, t).map_err(shared)?;
        let opened = match &scope {
            Scope::Document(document) => Some(self.open_latest(document)?),
            Scope::Matter => None,
        };
        let new = sharing::grant(
            &self.me,
            records,
            scope,
            grantee,
            rights,
            validity,
            opened.as_ref(),
            t,
            &mut os_rng(),
        )
        .map_err(shared)?;
        let _: GrantList = self.client.post(
            self.key(),
            &format!("/v1/matters/{}/grants", hex_id(matter.as_bytes())),
            &new.request,
        )?;
        Ok(new.grant)
    }

    /// Revokes the grant whose digest is `grant`.
    pub fn revoke(&self, matter: &MatterId, grant: &RecordDigest) -> ClientResult<()> {
        let (revocation, request) = sharing::revoke(&self.me, matter, grant, now());
        let digest = revocation.digest();
        let _: GrantList = self.client.post(
            self.key(),
            &format!("/v1/matters/{}/revocations", hex_id(matter.as_bytes())),
            &request,
        )?;
        self.revoked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(*matter)
            .or_default()
            .insert(digest);
        Ok(())
    }

    /// A matter's events, each one's evidence (the signed request) checked
    /// to verify and to name the event's actor.
    pub fn events(&self, matter: &MatterId) -> ClientResult<Vec<EventView>> {
        let list: EventList = self.client.get(
            self.key(),
            &format!("/v1/matters/{}/events", hex_id(matter.as_bytes())),
        )?;
        verify_events(matter, &list).map_err(verification)?;
        Ok(list.events)
    }

    // -----------------------------------------------------------------
    // Documents

    /// Encrypts and uploads a new version of a document: version 1 of a new
    /// document when `document` is `None`. `open_source` is called twice
    /// (the file is encrypted once to learn the payload's digest for the
    /// manifest, once to send it), so nothing is buffered or stored.
    /// `progress` is told how many plaintext bytes were sent.
    #[allow(clippy::too_many_arguments)]
    pub fn put<R: Read>(
        &self,
        matter: &MatterId,
        document: Option<DocumentId>,
        file_name: &str,
        mime_type: &str,
        mut open_source: impl FnMut() -> io::Result<R>,
        shares: &[Share],
        progress: &mut dyn FnMut(u64),
    ) -> ClientResult<(DocumentId, VersionNumber)> {
        let (document_id, version, previous, carried) = match document {
            None => (
                DocumentId::generate(&mut os_rng()),
                VersionNumber::FIRST,
                None,
                Vec::new(),
            ),
            Some(id) => {
                let doc = self.document(&id)?;
                let (last, _) = doc
                    .versions
                    .last()
                    .ok_or_else(|| verification("the document has no versions"))?;
                if doc.matter.id() != matter {
                    return Err(ClientError::Invalid(
                        "the document is in another matter".into(),
                    ));
                }
                let next = last.record().version().next().ok_or_else(|| {
                    ClientError::Invalid("the document has too many versions".into())
                })?;
                // Everyone holding a grant in force on the document gets
                // the new version's key too.
                let (m, g, r) = self.grants(matter)?;
                let carried = carried_recipients(&m, &g, &r, &id, now());
                (id, next, Some(last.digest()), carried)
            }
        };
        // A new party's key is used only once its binding in the log is
        // verified. Those carried over hold a grant in force whose grantor
        // signed both their keys into it, checking the binding when it
        // granted (a share link's key is its creator's own derivation and
        // has no binding to check).
        for share in shares {
            self.require_bound(&share.with)?;
        }
        let mut rng = os_rng();
        let file_key = FileKey::generate(&mut rng);

        // Pass 1: the payload's and the plaintext's digests and lengths.
        let mut sealer = PayloadSealer::new(&file_key, &mut rng);
        let nonce = *sealer.nonce();
        {
            let mut source = open_source()?;
            let mut buf = vec![0u8; CHUNK_SIZE];
            let mut sealed = Vec::with_capacity(2 * ENCRYPTED_CHUNK_SIZE);
            loop {
                let n = match source.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e.into()),
                };
                sealer
                    .update(buf.get(..n).unwrap_or_default(), &mut sealed)
                    .map_err(io::Error::from)?;
                sealed.clear();
            }
        }
        let payload = sealer.finish(&mut Vec::new()).map_err(io::Error::from)?;
        let payload_len = payload.payload_len;

        let share_authority = if shares.is_empty() {
            None
        } else {
            let (m, g, r) = self.grants(matter)?;
            self.authority(&m, &g, &r, &Scope::Document(document_id))?
        };
        let envelope = seal_version(
            &NewVersion {
                matter_id: *matter,
                document_id,
                version,
                previous,
                file_name,
                mime_type,
                payload: &payload,
                recipients: &carried,
                shares,
                share_authority,
                created_at: now(),
            },
            &file_key,
            &self.me,
            &mut rng,
        )
        .map_err(|e| ClientError::Invalid(e.to_string()))?;

        // Pass 2: the same bytes again, streamed to the server. Refused
        // before the payload is read because another device of ours went
        // first (the client has caught up since), it is streamed once more.
        let path = format!("/v1/documents/{}/versions", hex_id(document_id.as_bytes()));
        let mut attempts = 2;
        loop {
            attempts -= 1;
            let mut sent: u64 = 0;
            let source = ProgressReader {
                inner: open_source()?,
                sent: &mut sent,
                progress: &mut *progress,
            };
            let payload =
                EncryptingReader::new(PayloadEncryptor::with_nonce(&file_key, nonce), source);
            let sent: ClientResult<MatterList> =
                self.client
                    .upload(self.key(), &path, &envelope, payload, payload_len);
            match sent {
                Err(e) if attempts > 0 && e.code() == Some(lexvault_core::api::OUT_OF_SEQUENCE) => {
                }
                other => {
                    other?;
                    return Ok((document_id, version));
                }
            }
        }
    }

    /// A document with every version's manifest verified, each the
    /// successor of the one before, and the caller's access verified.
    pub fn document(&self, id: &DocumentId) -> ClientResult<VerifiedDocument> {
        let view: DocumentView = self.client.get(
            self.key(),
            &format!("/v1/documents/{}", hex_id(id.as_bytes())),
        )?;
        let matter = verify_matter(&view.matter).map_err(verification)?;
        let grants = view
            .grants
            .iter()
            .map(|g| parse_grant(g).map_err(verification))
            .collect::<ClientResult<Vec<_>>>()?;
        let revocations = view
            .revocations
            .iter()
            .map(|r| parse_revocation(r).map_err(verification))
            .collect::<ClientResult<Vec<_>>>()?;
        let mut versions: Vec<(Signed<Manifest>, VersionView)> = Vec::new();
        for v in view.versions {
            let manifest = verify_manifest(&v.manifest).map_err(verification)?;
            let terms = manifest.record();
            if terms.document_id() != id || terms.matter_id() != matter.id() {
                return Err(verification(
                    "the server served a manifest of another document",
                ));
            }
            match versions.last() {
                None if terms.version() != VersionNumber::FIRST || terms.previous().is_some() => {
                    return Err(verification(
                        "the document's history does not start at version 1",
                    ));
                }
                Some((previous, _)) => {
                    verify_succession(previous, &manifest).map_err(|_| {
                        verification("the document's versions do not follow one another")
                    })?;
                }
                None => {}
            }
            versions.push((manifest, v));
        }
        let me = self.me.public().signing;
        let access = if matter.creator() == &me {
            Vec::new()
        } else {
            let t = now();
            let mine: Vec<VerifiedGrant> = grants
                .iter()
                .filter(|g| g.record().grantee().signing == me)
                .filter_map(|g| {
                    verify_grant_chain(&matter, g, grants.as_slice(), &revocations, t).ok()
                })
                .filter(|g| g.scope().includes(id))
                .collect();
            if mine.is_empty() {
                return Err(verification(
                    "the server served a document without a grant in force for you",
                ));
            }
            mine
        };
        self.check_revocations_kept(matter.id(), &revocations)?;
        let history: Vec<&Signed<Manifest>> = versions.iter().map(|(m, _)| m).collect();
        // A version the vault has seen replaced is reported as such; then
        // every version's uploader must have had the right to upload it.
        self.check_not_rolled_back_then(id, &history, || {
            versions.iter().try_for_each(|(manifest, view)| {
                check_uploader(&matter, manifest, view, &grants, &revocations)
            })
        })?;
        Ok(VerifiedDocument {
            matter,
            versions,
            access,
            grants,
            revocations,
        })
    }

    /// Opens the latest version of a document: verifies it, unwraps the
    /// file key and decrypts the metadata.
    pub fn open_latest(&self, id: &DocumentId) -> ClientResult<OpenedVersion> {
        let doc = self.document(id)?;
        let (manifest, view) = doc
            .versions
            .last()
            .ok_or_else(|| verification("the document has no versions"))?;
        open_version(&doc.matter, manifest, view, &self.me)
    }

    /// Downloads the payload of `opened` into `payload_file`, resuming after
    /// the bytes it already holds, and checks it against the manifest. Only
    /// a payload that matches is kept.
    pub fn fetch_payload(
        &self,
        opened: &OpenedVersion,
        payload_file: &mut std::fs::File,
        progress: &mut dyn FnMut(u64),
    ) -> ClientResult<()> {
        let path = format!(
            "/v1/documents/{}/versions/{}/payload",
            hex_id(opened.document_id().as_bytes()),
            opened.version().get()
        );
        fetch_into(
            &self.client,
            self.key(),
            &path,
            &opened.manifest,
            payload_file,
            progress,
        )
    }

    /// Adds wrapped keys of a version for more recipients.
    pub fn add_stanzas(
        &self,
        opened: &OpenedVersion,
        recipients: &[PublicIdentity],
    ) -> ClientResult<()> {
        for party in recipients {
            self.require_bound(party)?;
        }
        let stanzas = recipients
            .iter()
            .map(|p| RecipientStanza {
                recipient: p.signing.to_bytes().into(),
                stanza: age::x25519::wrap_file_key(&opened.file_key, &p.encryption, &mut os_rng())
                    .to_bytes()
                    .into(),
            })
            .collect();
        self.client.post_empty_answer(
            self.key(),
            &format!(
                "/v1/matters/{}/stanzas",
                hex_id(opened.matter.id().as_bytes())
            ),
            &AddStanzas {
                document_id: opened.document_id().as_bytes().to_owned().into(),
                version: opened.version().get(),
                stanzas,
            },
        )
    }

    /// The documents of a matter this identity may view, each latest
    /// version opened.
    pub fn documents(&self, matter: &MatterId) -> ClientResult<Vec<OpenedVersion>> {
        let list: DocumentList = self.client.get(
            self.key(),
            &format!("/v1/matters/{}/documents", hex_id(matter.as_bytes())),
        )?;
        let (m, grants, revocations) = self.grants(matter)?;
        list.documents
            .iter()
            .map(|d| {
                let opened = opening::open_listed_document(&m, &grants, &revocations, d, &self.me)
                    .map_err(opened)?;
                self.check_not_rolled_back(&opened.document_id(), &[&opened.manifest])?;
                Ok(opened)
            })
            .collect()
    }
}

/// Verifies a served grant list: the matter record and every signature
/// (see [`opening::verify_grant_list`]).
pub fn verify_grant_list(list: &GrantList) -> ClientResult<MatterRecords> {
    opening::verify_grant_list(list).map_err(opened)
}

/// Checks that the signer of `manifest` was entitled to upload it (see
/// [`opening::check_uploader`]).
pub fn check_uploader(
    matter: &VerifiedMatter,
    manifest: &Signed<Manifest>,
    view: &VersionView,
    known: &[Signed<Grant>],
    revocations: &[Signed<Revocation>],
) -> ClientResult<()> {
    opening::check_uploader(matter, manifest, view, known, revocations).map_err(opened)
}

/// Opens one served version for `me` (see [`opening::open_version`]).
pub fn open_version(
    matter: &VerifiedMatter,
    manifest: &Signed<Manifest>,
    view: &VersionView,
    me: &Identity,
) -> ClientResult<OpenedVersion> {
    opening::open_version(matter, manifest, view, me).map_err(opened)
}

/// An [`OpenError`] as the vault reports it.
pub(crate) fn opened(e: OpenError) -> ClientError {
    match e {
        e @ OpenError::NotShared => ClientError::Invalid(e.to_string()),
        OpenError::Verification(what) => ClientError::Verification(what),
        e => verification(e),
    }
}

/// Downloads a payload into `file`, resuming after its current length, and
/// checks the whole file against the manifest's digest and length. On a
/// mismatch the file is emptied.
pub fn fetch_into(
    client: &Client,
    key: &lexvault_core::keys::SigningSecretKey,
    path: &str,
    manifest: &Signed<Manifest>,
    file: &mut std::fs::File,
    progress: &mut dyn FnMut(u64),
) -> ClientResult<()> {
    let expected = manifest.record().terms().payload_len;
    let mut have = file.seek(SeekFrom::End(0))?;
    if have > expected {
        file.set_len(0)?;
        have = file.seek(SeekFrom::Start(0))?;
    }
    if have < expected {
        let mut download = client.download(key, path, have)?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = match download.body.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    file.flush()?;
                    return Err(ClientError::Transport(format!(
                        "the download was interrupted ({e}); run the same command again to resume"
                    )));
                }
            };
            have += n as u64;
            if have > expected {
                file.set_len(0)?;
                return Err(verification(
                    "the server sent more bytes than the manifest says",
                ));
            }
            file.write_all(buf.get(..n).unwrap_or_default())?;
            progress(have);
        }
        file.flush()?;
    }
    file.seek(SeekFrom::Start(0))?;
    let mut hasher = PayloadHasher::new();
    io::copy(file, &mut hasher)?;
    let (digest, len) = hasher.finalize();
    if manifest.record().check_payload(&digest, len).is_err() {
        file.set_len(0)?;
        return Err(verification(
            "the downloaded payload does not match the manifest; it was discarded",
        ));
    }
    file.seek(SeekFrom::Start(0))?;
    Ok(())
}

/// Decrypts a verified payload (`fetch_into` succeeded) to `out`, and
/// checks the plaintext against the metadata's digest and size.
pub fn decrypt_payload(
    opened: &OpenedVersion,
    payload: impl Read,
    out: &mut dyn Write,
) -> ClientResult<()> {
    let mut reader = StreamReader::new(&opened.file_key, payload)?;
    let mut hasher = PlaintextHasher::new();
    let mut size: u64 = 0;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = reader.read(&mut buf).map_err(verification)?;
        if n == 0 {
            break;
        }
        let chunk = buf.get(..n).unwrap_or_default();
        hasher.update(chunk);
        size += n as u64;
        out.write_all(chunk)?;
    }
    let (digest, _) = hasher.finalize();
    if !opened.metadata.matches_plaintext(&digest, size) {
        return Err(verification(
            "the plaintext does not match the uploader's digest",
        ));
    }
    Ok(())
}

struct ProgressReader<'a, R> {
    inner: R,
    sent: &'a mut u64,
    progress: &'a mut dyn FnMut(u64),
}

impl<R: Read> Read for ProgressReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        *self.sent += n as u64;
        (self.progress)(*self.sent);
        Ok(n)
    }
}
