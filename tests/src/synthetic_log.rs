//! Synthetic access logs for the auditor: audit bundles built entry by
//! entry through the real core APIs (real keys, real signed requests as
//! evidence, real matters, grants, revocations, manifests and share-link
//! grants, checkpoints signed by a real log key), without a server.
//!
//! [`LogBuilder`] appends one event at a time and enforces nothing, so a
//! test can write exactly the history it means, violations included.
//! [`firm_history`] drives it with the mix of events a firm produces —
//! registrations, matters, uploads, grants and sub-grants, revocations,
//! views, downloads and share links — keeping every rule the server
//! enforces, so the result verifies clean; the audit benchmark uses it at a
//! million entries.

// The builder indexes its own tables (people, matters, documents) with
// indices it drew below their lengths: nothing here is untrusted input.
#![allow(clippy::indexing_slicing)]

use std::collections::{HashMap, HashSet};

use lexvault_client::audit::{AUDIT_BUNDLE_VERSION, AuditBundle};
use lexvault_client::client::os_rng;
use lexvault_core::checkpoint::Checkpoint;
use lexvault_core::grant::{
    Grant, GrantId, GrantTerms, Revocation, Rights, Scope, StanzaDigest, Validity,
    WrappedKeyBinding,
};
use lexvault_core::key_bundle::{KeyBundle, VerifiedKeyBundle};
use lexvault_core::keys::{Identity, SigningPublicKey, SigningSecretKey};
use lexvault_core::link::LinkSecret;
use lexvault_core::log_entry::{LOG_ENTRY_VERSION, LogEntry};
use lexvault_core::manifest::{
    DocumentId, KeyCommitment, Manifest, ManifestTerms, PayloadDigest, VersionNumber,
};
use lexvault_core::matter::{Matter, MatterId, VerifiedMatter};
use lexvault_core::membership::{MemberCertificate, Role};
use lexvault_core::merkle::{self, CompactTree};
use lexvault_core::metadata::MetadataDigest;
use lexvault_core::note::NoteSigner;
use lexvault_core::request::{BodyDigest, ChainPosition, RequestTarget, SignedRequest};
use lexvault_core::secret::FileKey;
use lexvault_core::signed::{RecordDigest, Signed};
use rand_core::CryptoRng;

/// How long a share link lives in [`firm_history`]: a week.
pub const LINK_LIFETIME_SECS: u64 = 7 * 24 * 60 * 60;

/// The evidence of an entry: `key`'s signed request to `method path?query`
/// with `body`, made at `at`, at `position` in `key`'s chain. Every request
/// the builder signs goes through here, so a change to the request record
/// is made in one place.
///
/// # Panics
/// If the target is malformed (the builder's own paths never are).
#[must_use]
#[allow(clippy::expect_used, clippy::too_many_arguments)]
pub fn signed_request<R: CryptoRng + ?Sized>(
    key: &SigningSecretKey,
    position: ChainPosition,
    method: &str,
    path: &str,
    query: &str,
    body: &[u8],
    at: u64,
    rng: &mut R,
) -> Vec<u8> {
    let target = RequestTarget {
        method: method.into(),
        path: path.into(),
        query: query.into(),
        body_digest: BodyDigest::of(body),
    };
    SignedRequest::sign(target, position, key, at, rng)
        .expect("a well-formed request target")
        .as_bytes()
        .to_vec()
}

/// A share link as its creator made it.
pub struct SyntheticLink {
    /// The link's keys (derived from a fresh link secret).
    pub keys: Identity,
    /// The sharer's grant to the link's key.
    pub grant: Signed<Grant>,
    /// The link's id.
    pub id: [u8; 16],
}

/// What an entry is about (fields 5 to 8 of a log entry).
#[derive(Clone, Copy, Default)]
pub struct About {
    /// The matter.
    pub matter: Option<MatterId>,
    /// The document.
    pub document: Option<DocumentId>,
    /// The document version.
    pub version: Option<u32>,
    /// The digest of the record concerned.
    pub subject: Option<RecordDigest>,
}

/// Appends entries to a synthetic log, signs checkpoints, and packs the
/// audit bundle.
pub struct LogBuilder {
    log_key: NoteSigner,
    origin: String,
    entries: Vec<Vec<u8>>,
    records: Vec<Vec<u8>>,
    record_digests: HashSet<RecordDigest>,
    tree: CompactTree,
    checkpoints: Vec<String>,
    /// Each actor's next chain position.
    chains: HashMap<[u8; 32], ChainPosition>,
    now: u64,
}

impl std::fmt::Debug for LogBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogBuilder")
            .field("origin", &self.origin)
            .field("entries", &self.entries.len())
            .finish_non_exhaustive()
    }
}

fn hex_id(bytes: &[u8; 16]) -> String {
    hex::encode(bytes)
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    rand_core::Rng::fill_bytes(&mut os_rng(), &mut out);
    out
}

impl LogBuilder {
    /// A fresh log with its own log key, whose clock starts at `start`.
    ///
    /// # Panics
    /// Never: the origin is a valid key name.
    #[must_use]
    #[allow(clippy::expect_used)]
    pub fn new(start: u64) -> Self {
        let key = SigningSecretKey::generate(&mut os_rng());
        // The server's origin: the first 16 hex digits of SHA-256 of the
        // log's public key (spec: `spec/log.md` §Server API).
        let digest = RecordDigest::of(key.public_key().as_bytes());
        let origin = format!("lexvault/{}", hex::encode(digest.0.get(..8).unwrap_or(&[])));
        let log_key = NoteSigner::new(&origin, key).expect("a valid origin");
        Self {
            log_key,
            origin,
            entries: Vec::new(),
            records: Vec::new(),
            record_digests: HashSet::new(),
            tree: CompactTree::new(),
            checkpoints: Vec::new(),
            chains: HashMap::new(),
            now: start,
        }
    }

    /// The log's verifier key string.
    #[must_use]
    pub fn verifier_key(&self) -> String {
        self.log_key.verifier().to_string()
    }

    /// Entries so far.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.entries.len() as u64
    }

    /// Whether the log is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The log's clock, Unix seconds.
    #[must_use]
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Moves the clock on.
    pub fn advance(&mut self, secs: u64) {
        self.now = self.now.saturating_add(secs);
    }

    /// Adds a record to the bundle (once).
    pub fn add_record(&mut self, bytes: &[u8]) {
        if self.record_digests.insert(RecordDigest::of(bytes)) {
            self.records.push(bytes.to_vec());
        }
    }

    /// Appends an entry of `kind` by `actor` with `evidence`; returns its
    /// index.
    pub fn append(
        &mut self,
        kind: &str,
        actor: &SigningPublicKey,
        about: About,
        evidence: Vec<u8>,
    ) -> u64 {
        let index = self.len();
        let entry = LogEntry {
            version: LOG_ENTRY_VERSION,
            index,
            at: self.now,
            kind: kind.into(),
            actor: actor.to_bytes().into(),
            matter_id: about.matter.map(|m| (*m.as_bytes()).into()),
            document_id: about.document.map(|d| (*d.as_bytes()).into()),
            document_version: about.version,
            subject: about.subject.map(|s| s.0.into()),
            evidence: evidence.into(),
        };
        let bytes = entry.to_bytes();
        self.tree.push_data(&bytes);
        self.entries.push(bytes);
        index
    }

    /// Appends an entry whose evidence is `who`'s signed request.
    #[allow(clippy::too_many_arguments)]
    fn request_entry(
        &mut self,
        kind: &str,
        who: &SigningSecretKey,
        method: &str,
        path: &str,
        body: &[u8],
        about: About,
    ) -> u64 {
        let position = self.position_of(&who.public_key());
        let evidence = signed_request(
            who,
            position,
            method,
            path,
            "",
            body,
            self.now,
            &mut os_rng(),
        );
        let index = self.append(kind, &who.public_key(), about, evidence);
        self.chain_moved(&who.public_key(), position, index);
        index
    }

    /// Where `who`'s next request goes in its chain.
    fn position_of(&self, who: &SigningPublicKey) -> ChainPosition {
        self.chains
            .get(&who.to_bytes())
            .copied()
            .unwrap_or(ChainPosition::FIRST)
    }

    /// `who`'s request at `position` made the entry at `index`: its next
    /// request follows that entry.
    fn chain_moved(&mut self, who: &SigningPublicKey, position: ChainPosition, index: u64) {
        let leaf = usize::try_from(index)
            .ok()
            .and_then(|i| self.entries.get(i))
            .map(|bytes| merkle::leaf_hash(bytes));
        if let Some(leaf) = leaf {
            self.chains.insert(who.to_bytes(), position.next(leaf));
        }
    }

    /// Signs a checkpoint for the log as it stands.
    ///
    /// # Panics
    /// Never for this builder's origin.
    #[allow(clippy::expect_used)]
    pub fn checkpoint(&mut self) {
        let note = Checkpoint::new(&self.origin, self.tree.size(), self.tree.root())
            .and_then(|c| c.sign(&self.log_key))
            .expect("a valid checkpoint");
        if self.checkpoints.last() != Some(&note) {
            self.checkpoints.push(note);
        }
    }

    /// The bundle, with a checkpoint of the whole log.
    #[must_use]
    pub fn finish(mut self) -> AuditBundle {
        self.checkpoint();
        AuditBundle {
            version: AUDIT_BUNDLE_VERSION,
            verifier_key: self.verifier_key(),
            checkpoints: self.checkpoints,
            entries: self.entries.into_iter().map(Into::into).collect(),
            records: self.records.into_iter().map(Into::into).collect(),
        }
    }

    // Events, one method each, named for the entry kind.

    /// `administrator-set`: the init step, with the bundle as evidence.
    ///
    /// # Panics
    /// Never for a valid display name.
    #[allow(clippy::expect_used)]
    pub fn administrator_set(&mut self, admin: &Identity) -> VerifiedKeyBundle {
        let bundle = KeyBundle::create(admin, "Firm Administrator", self.now).expect("bundle");
        self.add_record(bundle.as_bytes());
        let about = About {
            subject: Some(bundle.digest()),
            ..About::default()
        };
        self.append(
            "administrator-set",
            &admin.public().signing,
            about,
            bundle.as_bytes().to_vec(),
        );
        bundle
    }

    /// `registered`: `who` publishes a key bundle.
    ///
    /// # Panics
    /// Never for a valid display name.
    #[allow(clippy::expect_used)]
    pub fn registered(&mut self, who: &Identity, name: &str) -> VerifiedKeyBundle {
        let bundle = KeyBundle::create(who, name, self.now).expect("bundle");
        self.request_entry(
            "registered",
            who.signing_key(),
            "POST",
            "/v1/identities",
            bundle.as_bytes(),
            About::default(),
        );
        bundle
    }

    /// `certified`: the administrator certifies a member.
    pub fn certified(&mut self, admin: &Identity, member: &VerifiedKeyBundle, role: Role) {
        let certificate = MemberCertificate::issue(member, role, self.now, admin.signing_key());
        self.add_record(certificate.as_bytes());
        let path = format!(
            "/v1/identities/{}/certificate",
            hex::encode(member.identity().signing.as_bytes())
        );
        let about = About {
            subject: Some(certificate.digest()),
            ..About::default()
        };
        self.request_entry(
            "certified",
            admin.signing_key(),
            "POST",
            &path,
            certificate.as_bytes(),
            about,
        );
    }

    /// `matter-created`.
    pub fn matter_created(&mut self, creator: &Identity) -> VerifiedMatter {
        let matter = Matter::create(&mut os_rng(), creator.signing_key(), self.now);
        self.add_record(matter.as_bytes());
        let about = About {
            matter: Some(*matter.id()),
            subject: Some(matter.digest()),
            ..About::default()
        };
        self.request_entry(
            "matter-created",
            creator.signing_key(),
            "POST",
            "/v1/matters",
            matter.as_bytes(),
            about,
        );
        matter
    }

    /// A grant signed by `grantor` (not logged: see [`Self::granted`]).
    ///
    /// # Panics
    /// If a binding comes with a whole-matter scope.
    #[must_use]
    #[allow(clippy::expect_used, clippy::too_many_arguments)]
    pub fn make_grant(
        &self,
        grantor: &SigningSecretKey,
        matter: &MatterId,
        scope: Scope,
        grantee: &Identity,
        rights: Rights,
        validity: Validity,
        wrapped_key: Option<WrappedKeyBinding>,
        parent: Option<RecordDigest>,
    ) -> Signed<Grant> {
        let terms = GrantTerms {
            grant_id: GrantId::generate(&mut os_rng()),
            matter_id: *matter,
            scope,
            grantee: grantee.public(),
            rights,
            validity,
            wrapped_key,
            parent,
            issued_at: self.now,
        };
        Signed::sign(Grant::new(terms).expect("a valid grant"), grantor)
    }

    /// `granted`: `actor` stores `grant` (the grant call).
    pub fn granted(&mut self, actor: &SigningSecretKey, grant: &Signed<Grant>) -> u64 {
        self.add_record(grant.as_bytes());
        let record = grant.record();
        let about = About {
            matter: Some(*record.matter_id()),
            document: match record.scope() {
                Scope::Document(d) => Some(*d),
                Scope::Matter => None,
            },
            version: record.wrapped_key().map(|w| w.version.get()),
            subject: Some(grant.digest()),
        };
        let path = format!(
            "/v1/matters/{}/grants",
            hex_id(record.matter_id().as_bytes())
        );
        self.request_entry("granted", actor, "POST", &path, grant.as_bytes(), about)
    }

    /// `revoked`: `actor` revokes `grant` from now on.
    pub fn revoked(&mut self, actor: &SigningSecretKey, grant: &Signed<Grant>) -> u64 {
        let record = grant.record();
        let revocation = Signed::sign(
            Revocation::new(*record.matter_id(), grant.digest(), self.now),
            actor,
        );
        self.add_record(revocation.as_bytes());
        let about = About {
            matter: Some(*record.matter_id()),
            document: match record.scope() {
                Scope::Document(d) => Some(*d),
                Scope::Matter => None,
            },
            version: None,
            subject: Some(revocation.digest()),
        };
        let path = format!(
            "/v1/matters/{}/revocations",
            hex_id(record.matter_id().as_bytes())
        );
        self.request_entry(
            "revoked",
            actor,
            "POST",
            &path,
            revocation.as_bytes(),
            about,
        )
    }

    /// `uploaded`: `actor` uploads the version after `previous` (or
    /// version 1) of `document`; returns the signed manifest.
    ///
    /// # Panics
    /// Never: the version follows `previous`.
    #[allow(clippy::expect_used)]
    pub fn uploaded(
        &mut self,
        actor: &SigningSecretKey,
        matter: &MatterId,
        document: &DocumentId,
        previous: Option<&Signed<Manifest>>,
    ) -> Signed<Manifest> {
        let version = previous.map_or(VersionNumber::FIRST, |p| {
            VersionNumber::new(p.record().version().get().saturating_add(1))
                .expect("a version above 1")
        });
        let terms = ManifestTerms {
            matter_id: *matter,
            document_id: *document,
            version,
            previous: previous.map(Signed::digest),
            payload_digest: PayloadDigest(random_bytes()),
            payload_len: 4096,
            key_commitment: KeyCommitment::derive(&FileKey::generate(&mut os_rng())),
            metadata_digest: MetadataDigest(random_bytes()),
            created_at: self.now,
        };
        let manifest = Signed::sign(Manifest::new(terms).expect("a valid manifest"), actor);
        self.add_record(manifest.as_bytes());
        let about = About {
            matter: Some(*matter),
            document: Some(*document),
            version: Some(version.get()),
            subject: Some(manifest.digest()),
        };
        let path = format!("/v1/documents/{}/versions", hex_id(document.as_bytes()));
        self.request_entry("uploaded", actor, "POST", &path, manifest.as_bytes(), about);
        manifest
    }

    /// `viewed`: `actor` fetches a document's metadata and keys.
    pub fn viewed(
        &mut self,
        actor: &SigningSecretKey,
        matter: &MatterId,
        document: &DocumentId,
        version: u32,
    ) -> u64 {
        let about = About {
            matter: Some(*matter),
            document: Some(*document),
            version: Some(version),
            subject: None,
        };
        let path = format!("/v1/documents/{}", hex_id(document.as_bytes()));
        self.request_entry("viewed", actor, "GET", &path, &[], about)
    }

    /// `downloaded`: `actor` fetches a version's payload.
    pub fn downloaded(
        &mut self,
        actor: &SigningSecretKey,
        matter: &MatterId,
        document: &DocumentId,
        version: u32,
    ) -> u64 {
        let about = About {
            matter: Some(*matter),
            document: Some(*document),
            version: Some(version),
            subject: None,
        };
        let path = format!(
            "/v1/documents/{}/versions/{version}/payload",
            hex_id(document.as_bytes())
        );
        self.request_entry("downloaded", actor, "GET", &path, &[], about)
    }

    /// `link-created`: `actor` shares `document` (at `version`) through a
    /// new link that expires at `expires_at`, under the authority of
    /// `parent` (`None` for the matter's creator).
    pub fn link_created(
        &mut self,
        actor: &SigningSecretKey,
        matter: &MatterId,
        document: &DocumentId,
        version: u32,
        expires_at: u64,
        parent: Option<RecordDigest>,
    ) -> (u64, SyntheticLink) {
        let secret = LinkSecret::generate(&mut os_rng());
        let derived = secret.derive_keys();
        let keys = Identity::from_keys(
            SigningSecretKey::from_seed(&derived.signing_key().to_seed()),
            lexvault_core::keys::EncryptionSecretKey::generate(&mut os_rng()),
        );
        let binding = VersionNumber::new(version).map(|version| WrappedKeyBinding {
            version,
            stanza_digest: StanzaDigest(random_bytes()),
        });
        let grant = self.make_grant(
            actor,
            matter,
            Scope::Document(*document),
            &keys,
            Rights::VIEW | Rights::DOWNLOAD,
            Validity::new(self.now, Some(expires_at)).unwrap_or(Validity::starting(self.now)),
            binding,
            parent,
        );
        self.add_record(grant.as_bytes());
        let about = About {
            matter: Some(*matter),
            document: Some(*document),
            version: Some(version),
            subject: Some(grant.digest()),
        };
        let path = format!("/v1/matters/{}/links", hex_id(matter.as_bytes()));
        let index = self.request_entry(
            "link-created",
            actor,
            "POST",
            &path,
            grant.as_bytes(),
            about,
        );
        let link = SyntheticLink {
            keys,
            grant,
            id: random_bytes(),
        };
        (index, link)
    }

    fn link_about(link: &SyntheticLink) -> About {
        let record = link.grant.record();
        About {
            matter: Some(*record.matter_id()),
            document: match record.scope() {
                Scope::Document(d) => Some(*d),
                Scope::Matter => None,
            },
            version: record.wrapped_key().map(|w| w.version.get()),
            subject: Some(link.grant.digest()),
        }
    }

    /// `link-opened`: `opener` (the link's key, or its claimer) opens it.
    pub fn link_opened(&mut self, link: &SyntheticLink, opener: &SigningSecretKey) -> u64 {
        let path = format!("/v1/links/{}/open", hex_id(&link.id));
        let about = Self::link_about(link);
        self.request_entry("link-opened", opener, "POST", &path, &link.id, about)
    }

    /// `link-downloaded`: `opener` fetches the payload with its ticket.
    pub fn link_downloaded(&mut self, link: &SyntheticLink, opener: &SigningSecretKey) -> u64 {
        let path = format!("/v1/links/{}/payload", hex_id(&link.id));
        let about = Self::link_about(link);
        let position = self.position_of(&opener.public_key());
        let evidence = signed_request(
            opener,
            position,
            "GET",
            &path,
            &format!("ticket={}", hex::encode(random_bytes::<16>())),
            &[],
            self.now,
            &mut os_rng(),
        );
        let index = self.append("link-downloaded", &opener.public_key(), about, evidence);
        self.chain_moved(&opener.public_key(), position, index);
        index
    }

    /// `link-revoked`: `actor` revokes the link.
    pub fn link_revoked(&mut self, link: &SyntheticLink, actor: &SigningSecretKey) -> u64 {
        let path = format!("/v1/links/{}", hex_id(&link.id));
        let about = Self::link_about(link);
        self.request_entry("link-revoked", actor, "DELETE", &path, &[], about)
    }
}

/// A small fast generator for the mix's choices (not for keys: those come
/// from the OS).
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).unwrap_or(0)
    }

    fn percent(&mut self) -> u64 {
        self.next() % 100
    }
}

struct Document {
    id: DocumentId,
    latest: Signed<Manifest>,
}

/// A grant the mix keeps in force until it revokes it.
struct Held {
    grantee: usize,
    grant: Signed<Grant>,
    /// Whether the grantee may upload and share across the matter.
    co_counsel: bool,
}

struct LinkState {
    link: SyntheticLink,
    expires_at: u64,
    /// The grant the link's sharer held (`None`: the matter's creator).
    parent: Option<RecordDigest>,
    creator: usize,
    /// When the link's key last opened it.
    opened_at: Option<u64>,
    revoked: bool,
}

struct MatterState {
    matter: VerifiedMatter,
    creator: usize,
    documents: Vec<Document>,
    held: Vec<Held>,
    links: Vec<LinkState>,
}

/// Staff and clients of the synthetic firm.
const ATTORNEYS: usize = 40;
const CLIENTS: usize = 400;

/// A firm's history of `entries` events (at least a few hundred), ending in
/// a bundle that verifies clean, with signed checkpoints at several sizes
/// (every tenth of the log, and the whole log).
///
/// The mix, per step: views 38 %, downloads 28 %, uploads 7 % (a third of
/// them new versions), grants 6 % (client grants, co-counsel across the
/// matter, and co-counsel's sub-grants), share links created 3 %, opened
/// 5 %, downloaded 4 %, revoked 1 %, grant revocations 1 %, new matters
/// 3 %.
#[must_use]
pub fn firm_history(entries: u64, seed: u64) -> AuditBundle {
    let start = 1_767_225_600; // 2026-01-01
    let mut log = LogBuilder::new(start);
    let mut dice = Dice(seed | 1);
    let admin = Identity::generate(&mut os_rng());
    log.administrator_set(&admin);
    let people: Vec<Identity> = (0..ATTORNEYS + CLIENTS)
        .map(|_| Identity::generate(&mut os_rng()))
        .collect();
    for (i, p) in people.iter().enumerate() {
        log.advance(30);
        let bundle = log.registered(p, &format!("Person {i}"));
        if i < ATTORNEYS {
            log.certified(&admin, &bundle, Role::Attorney);
        }
    }
    let mut matters: Vec<MatterState> = Vec::new();
    let step_every = (entries / 10).max(1);
    let mut next_checkpoint = step_every;

    while log.len() < entries {
        log.advance(1 + dice.next() % 20);
        if log.len() >= next_checkpoint {
            log.checkpoint();
            next_checkpoint += step_every;
        }
        let now = log.now();
        let roll = dice.percent();
        if matters.is_empty() || roll < 3 {
            let creator = dice.below(ATTORNEYS);
            let matter = log.matter_created(&people[creator]);
            matters.push(MatterState {
                matter,
                creator,
                documents: Vec::new(),
                held: Vec::new(),
                links: Vec::new(),
            });
            continue;
        }
        // Recent matters are the busy ones.
        let m = matters.len() - 1 - dice.below(matters.len().min(200));
        let state = &mut matters[m];
        let matter_id = *state.matter.id();
        // Who may upload and share here: the creator and co-counsel.
        let sharers: Vec<(usize, Option<RecordDigest>)> = std::iter::once((state.creator, None))
            .chain(
                state
                    .held
                    .iter()
                    .filter(|h| h.co_counsel)
                    .map(|h| (h.grantee, Some(h.grant.digest()))),
            )
            .collect();
        if state.documents.is_empty() || (7..14).contains(&roll) {
            let (who, _) = sharers[dice.below(sharers.len())];
            let key = people[who].signing_key();
            if state.documents.is_empty() || dice.percent() < 66 {
                let id = DocumentId::generate(&mut os_rng());
                let latest = log.uploaded(key, &matter_id, &id, None);
                state.documents.push(Document { id, latest });
            } else {
                let d = dice.below(state.documents.len());
                let doc = &mut state.documents[d];
                doc.latest = log.uploaded(key, &matter_id, &doc.id, Some(&doc.latest));
            }
            continue;
        }
        match roll {
            14..20 => {
                let (who, parent) = sharers[dice.below(sharers.len())];
                let grantee = ATTORNEYS + dice.below(CLIENTS);
                let co_counsel = parent.is_none() && dice.percent() < 25;
                let (scope, rights, grantee) = if co_counsel {
                    // Another attorney than the matter's creator.
                    let other = (state.creator + 1 + dice.below(ATTORNEYS - 1)) % ATTORNEYS;
                    (Scope::Matter, Rights::ALL, other)
                } else {
                    let d = &state.documents[dice.below(state.documents.len())];
                    (
                        Scope::Document(d.id),
                        Rights::VIEW | Rights::DOWNLOAD,
                        grantee,
                    )
                };
                let grant = log.make_grant(
                    people[who].signing_key(),
                    &matter_id,
                    scope,
                    &people[grantee],
                    rights,
                    Validity::starting(now),
                    None,
                    parent,
                );
                log.granted(people[who].signing_key(), &grant);
                state.held.push(Held {
                    grantee,
                    grant,
                    co_counsel,
                });
            }
            20..21 if !state.held.is_empty() => {
                let h = dice.below(state.held.len());
                let revoked = state.held.swap_remove(h);
                log.revoked(people[state.creator].signing_key(), &revoked.grant);
                // Everything that rested on it goes with it.
                let gone = revoked.grant.digest();
                state
                    .held
                    .retain(|h| h.grant.record().parent() != Some(&gone));
                for l in &mut state.links {
                    if l.parent == Some(gone) {
                        l.revoked = true;
                    }
                }
            }
            21..24 => {
                let (who, parent) = sharers[dice.below(sharers.len())];
                let d = &state.documents[dice.below(state.documents.len())];
                let (_, link) = log.link_created(
                    people[who].signing_key(),
                    &matter_id,
                    &d.id,
                    d.latest.record().version().get(),
                    now + LINK_LIFETIME_SECS,
                    parent,
                );
                state.links.push(LinkState {
                    link,
                    expires_at: now + LINK_LIFETIME_SECS,
                    parent,
                    creator: who,
                    opened_at: None,
                    revoked: false,
                });
            }
            24..34 if !state.links.is_empty() => {
                let l = dice.below(state.links.len());
                let link = &mut state.links[l];
                let live = !link.revoked && now < link.expires_at;
                let ticket_valid = link.opened_at.is_some_and(|t| now < t + 3600);
                if live && roll >= 29 && ticket_valid {
                    log.link_downloaded(&link.link, link.link.keys.signing_key());
                } else if live && roll == 24 {
                    let who = people[link.creator].signing_key();
                    link.revoked = true;
                    log.link_revoked(&link.link, who);
                } else if live {
                    link.opened_at = Some(now);
                    log.link_opened(&link.link, link.link.keys.signing_key());
                } else {
                    state.links.swap_remove(l);
                }
            }
            _ => {
                // A view or a download by the creator or a holder.
                let d = dice.below(state.documents.len());
                let doc = &state.documents[d];
                let holders: Vec<usize> = state
                    .held
                    .iter()
                    .filter(|h| h.grant.record().scope().includes(&doc.id))
                    .map(|h| h.grantee)
                    .collect();
                let who = if holders.is_empty() || dice.percent() < 20 {
                    state.creator
                } else {
                    holders[dice.below(holders.len())]
                };
                let version = doc.latest.record().version().get();
                let key = people[who].signing_key();
                if roll < 72 {
                    log.viewed(key, &matter_id, &doc.id, version);
                } else {
                    log.downloaded(key, &matter_id, &doc.id, version);
                }
            }
        }
    }
    log.finish()
}
