//! Opening a served document version: the checks that tie a served
//! manifest, wrapped key and sealed metadata together before a byte is
//! decrypted (the uploader's authority among them), and the streaming decryption that checks the payload against
//! the manifest and the plaintext against the uploader's digest (spec:
//! `spec/documents.md` §A recipient's order of checks, `spec/links.md`
//! §Opening a link).
//!
//! Every client — the CLI, the share-link page and the portal — opens
//! versions through this module, so they refuse the same servers for the
//! same reasons.

use crate::age::stream::{ENCRYPTED_CHUNK_SIZE, PAYLOAD_NONCE_LEN, PayloadDecryptor};
use crate::age::{self, Stanza};
use crate::api::{DocumentSummary, GrantList, OpenedLink, VersionView};
use crate::grant::{
    AuthorityError, Grant, Revocation, Rights, Scope, VerifiedGrant, parse_grant, parse_revocation,
    verify_grant_chain, verify_upload_authority,
};
use crate::keys::Identity;
use crate::link::LinkKeys;
use crate::manifest::{
    DocumentId, Manifest, PayloadDigest, PayloadHasher, VersionNumber, verify_manifest,
};
use crate::matter::{VerifiedMatter, verify_matter};
use crate::metadata::{Metadata, MetadataBinding, PlaintextHasher, SealedMetadata};
use crate::secret::FileKey;
use crate::segmented::{self, DigestKind};
use crate::signed::Signed;

pub mod segments;

/// Why a served version could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The server holds no key for the caller: the version was not shared
    /// with them.
    #[error("this version's key was not shared with you; ask whoever shared the document")]
    NotShared,
    /// Something served does not verify: the server, or someone in
    /// between, is not behaving honestly. The text says what.
    #[error("{0}")]
    Verification(String),
}

fn verification(what: impl core::fmt::Display) -> OpenError {
    OpenError::Verification(what.to_string())
}

/// A document version the caller opened and verified.
pub struct OpenedVersion {
    /// The matter.
    pub matter: VerifiedMatter,
    /// The verified manifest.
    pub manifest: Signed<Manifest>,
    /// The decrypted metadata.
    pub metadata: Metadata,
    /// The version's file key.
    pub file_key: FileKey,
    /// The stanza the server served for the caller (verified to open the
    /// committed key).
    pub stanza: Stanza,
}

impl core::fmt::Debug for OpenedVersion {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OpenedVersion")
            .field("matter", self.matter.id())
            .field("document", self.manifest.record().document_id())
            .field("version", &self.manifest.record().version())
            .finish_non_exhaustive()
    }
}

impl OpenedVersion {
    /// The document id.
    #[must_use]
    pub fn document_id(&self) -> DocumentId {
        *self.manifest.record().document_id()
    }

    /// The version number.
    #[must_use]
    pub fn version(&self) -> VersionNumber {
        self.manifest.record().version()
    }

    /// The payload's length, as the manifest commits to it.
    #[must_use]
    pub fn payload_len(&self) -> u64 {
        self.manifest.record().terms().payload_len
    }

    /// A copy of the file key, for a decryptor that outlives `self`.
    fn copy_file_key(&self) -> FileKey {
        // `from_array` zeroises the copy.
        let mut file_key = *self.file_key.expose_secret();
        FileKey::from_array(&mut file_key)
    }

    /// A decryptor for this version's payload.
    #[must_use]
    pub fn payload_opener(&self) -> PayloadOpener {
        PayloadOpener::new(self)
    }

    /// A decryptor for this version's payload that leaves the hashing to
    /// the caller (see [`BarePayloadOpener`]).
    #[must_use]
    pub fn bare_payload_opener(&self) -> BarePayloadOpener {
        BarePayloadOpener::new(self)
    }
}

/// Opens one served version for `me`: the stanza unwraps a file key that
/// the manifest commits to, and the metadata opens under the manifest's
/// binding. `manifest` is the verified form of `view.manifest`.
///
/// # Errors
/// [`OpenError::NotShared`] when no key was served for `me`;
/// [`OpenError::Verification`] when anything served does not verify.
pub fn open_version(
    matter: &VerifiedMatter,
    manifest: &Signed<Manifest>,
    view: &VersionView,
    me: &Identity,
) -> Result<OpenedVersion, OpenError> {
    let terms = manifest.record();
    if terms.matter_id() != matter.id() {
        return Err(verification("the manifest belongs to another matter"));
    }
    if verify_manifest(&view.manifest).map(|m| m.digest()) != Ok(manifest.digest()) {
        return Err(verification("the served manifest changed"));
    }
    let stanza_bytes = view.stanza.as_ref().ok_or(OpenError::NotShared)?;
    let stanza = Stanza::parse(stanza_bytes).map_err(verification)?;
    let file_key = age::x25519::unwrap_file_key(&stanza, me.encryption_key())
        .map_err(verification)?
        .ok_or_else(|| verification("the served key is not wrapped to you"))?;
    terms.check_file_key(&file_key).map_err(verification)?;
    let sealed = SealedMetadata::from_bytes(view.metadata.to_vec());
    terms
        .check_metadata(&sealed.digest())
        .map_err(verification)?;
    let metadata = sealed
        .open(
            &file_key,
            &MetadataBinding {
                matter_id: *terms.matter_id(),
                document_id: *terms.document_id(),
                version: terms.version(),
            },
        )
        .map_err(verification)?;
    Ok(OpenedVersion {
        matter: matter.clone(),
        manifest: manifest.clone(),
        metadata,
        file_key,
        stanza,
    })
}

/// Checks that the signer of `manifest` was entitled to upload it (spec:
/// `spec/grants.md` §The uploader's authority): the matter's creator, or a
/// grantee whose upload right over the document held when the version was
/// made. The uploader's grant chain comes with the version (`view`);
/// parents may also be among the `known` grants. A revocation dated after
/// the version does not undo it.
///
/// # Errors
/// [`OpenError::Verification`] naming the version whose signer may not
/// upload, and why.
pub fn check_uploader(
    matter: &VerifiedMatter,
    manifest: &Signed<Manifest>,
    view: &VersionView,
    known: &[Signed<Grant>],
    revocations: &[Signed<Revocation>],
) -> Result<(), OpenError> {
    let mut grants = view
        .uploader_grants
        .iter()
        .map(|g| parse_grant(g).map_err(verification))
        .collect::<Result<Vec<_>, _>>()?;
    grants.extend(known.iter().cloned());
    match verify_upload_authority(matter, manifest, &grants, grants.as_slice(), revocations) {
        Ok(_) => Ok(()),
        Err(AuthorityError::WrongMatter) => {
            Err(verification("the manifest belongs to another matter"))
        }
        Err(why) => Err(verification(format!(
            "the signer of version {} may not upload in this matter: {why}",
            manifest.record().version().get()
        ))),
    }
}

/// A matter's record, grants and revocations, every signature verified.
pub type MatterRecords = (VerifiedMatter, Vec<Signed<Grant>>, Vec<Signed<Revocation>>);

/// Verifies a served grant list (`GET /v1/matters/{id}/grants`): the
/// matter record, every grant's and revocation's signature, and that every
/// grant belongs to that matter. Grant chains are checked where a grant is
/// used.
///
/// # Errors
/// [`OpenError::Verification`] naming the first record that fails.
pub fn verify_grant_list(list: &GrantList) -> Result<MatterRecords, OpenError> {
    let matter = verify_matter(&list.matter).map_err(verification)?;
    let grants = list
        .grants
        .iter()
        .map(|g| parse_grant(g).map_err(verification))
        .collect::<Result<Vec<_>, _>>()?;
    let revocations = list
        .revocations
        .iter()
        .map(|r| parse_revocation(r).map_err(verification))
        .collect::<Result<Vec<_>, _>>()?;
    if grants.iter().any(|g| g.record().matter_id() != matter.id()) {
        return Err(verification("a grant of another matter was served"));
    }
    Ok((matter, grants, revocations))
}

/// Opens one document of a matter's listing (`GET
/// /v1/matters/{id}/documents`) for `me`: its latest manifest verifies and
/// names the listed document, its signer was entitled to upload it (with
/// the matter's verified `grants` and `revocations`), and its wrapped key
/// and metadata open ([`open_version`]).
///
/// # Errors
/// [`OpenError::NotShared`] when no key was served for `me`;
/// [`OpenError::Verification`] when anything served does not verify.
pub fn open_listed_document(
    matter: &VerifiedMatter,
    grants: &[Signed<Grant>],
    revocations: &[Signed<Revocation>],
    listed: &DocumentSummary,
    me: &Identity,
) -> Result<OpenedVersion, OpenError> {
    let manifest = verify_manifest(&listed.latest.manifest).map_err(verification)?;
    if manifest.record().document_id().as_bytes() != &*listed.document_id {
        return Err(verification("a listing names the wrong document"));
    }
    check_uploader(matter, &manifest, &listed.latest, grants, revocations)?;
    open_version(matter, &manifest, &listed.latest, me)
}

/// Verifies the server's answer to opening a share link, for the holder
/// of `keys`, at time `now`: the matter record, the link's grant to these
/// keys and its chain to the matter's creator, the wrapped key the grant
/// binds, the manifest of the version the grant names, the key commitment
/// and the metadata. Returns the opened version and the verified grant.
///
/// # Errors
/// [`OpenError::Verification`] naming the first check that fails.
pub fn open_link_answer(
    answer: &OpenedLink,
    keys: &LinkKeys,
    now: u64,
) -> Result<(OpenedVersion, VerifiedGrant), OpenError> {
    let matter = verify_matter(&answer.matter).map_err(verification)?;
    let grants = answer
        .grants
        .iter()
        .map(|g| parse_grant(g).map_err(verification))
        .collect::<Result<Vec<_>, _>>()?;
    let link_grant = grants
        .first()
        .ok_or_else(|| verification("the server served no grant for the link"))?;
    if link_grant.record().grantee() != &keys.public() {
        return Err(verification("the served grant is not to this link's keys"));
    }
    let grant = verify_grant_chain(&matter, link_grant, grants.as_slice(), &[], now)
        .map_err(verification)?;
    let Scope::Document(document) = *grant.scope() else {
        return Err(verification("the link's grant covers more than a document"));
    };
    if !grant.allows(Rights::VIEW, &document, now) {
        return Err(verification("the link's grant does not allow viewing"));
    }
    let binding = grant
        .grant()
        .record()
        .wrapped_key()
        .ok_or_else(|| verification("the link's grant binds no wrapped key"))?;
    let stanza_bytes = answer
        .version
        .stanza
        .as_ref()
        .ok_or_else(|| verification("the server served no wrapped key for the link"))?;
    let stanza = Stanza::parse(stanza_bytes).map_err(verification)?;
    if stanza.digest() != binding.stanza_digest.0 {
        return Err(verification(
            "the served wrapped key is not the one the link's grant binds",
        ));
    }
    let manifest = verify_manifest(&answer.version.manifest).map_err(verification)?;
    if manifest.record().document_id() != &document
        || manifest.record().version() != binding.version
    {
        return Err(verification(
            "the served manifest is not the version the link opens",
        ));
    }
    check_uploader(&matter, &manifest, &answer.version, &grants, &[])?;
    let opened = open_version(&matter, &manifest, &answer.version, keys.identity())?;
    Ok((opened, grant))
}

/// Decrypts a served payload as it arrives, holding at most one chunk,
/// and checks it and its plaintext against the manifest and the metadata
/// as it goes: the native clients' path.
///
/// Feed the payload's bytes in order with [`Self::update`], in pieces of
/// any size; each authenticated chunk's plaintext is appended to the
/// caller's buffer as soon as it is complete. [`Self::finish`] then checks
/// that the payload ended at its last chunk, that it hashes to the
/// manifest's digest and length, and that the plaintext hashes to the
/// uploader's digest and size. Only after `finish` succeeds is the
/// plaintext final: a caller that streams it onward (to a file, to a
/// browser download) must discard or fail what it wrote when `finish`
/// fails. Every chunk released before that was authenticated under the
/// committed file key, so nothing released was forged; at worst it is a
/// prefix.
///
/// It is a [`BarePayloadOpener`] with the two segmented hashers beside it;
/// a caller that can hash faster elsewhere (the browser) uses that
/// directly.
#[derive(Debug)]
pub struct PayloadOpener {
    bare: BarePayloadOpener,
    payload: PayloadHasher,
    plaintext: PlaintextHasher,
}

impl PayloadOpener {
    /// Starts decrypting `opened`'s payload.
    #[must_use]
    pub fn new(opened: &OpenedVersion) -> Self {
        Self {
            bare: BarePayloadOpener::new(opened),
            payload: PayloadHasher::new(),
            plaintext: PlaintextHasher::new(),
        }
    }

    /// The plaintext bytes released so far.
    #[must_use]
    pub fn plaintext_len(&self) -> u64 {
        self.bare.plaintext_len()
    }

    /// Feeds the next payload bytes; appends the plaintext of every chunk
    /// they complete to `out`.
    ///
    /// # Errors
    /// As [`BarePayloadOpener::update`].
    pub fn update(&mut self, payload: &[u8], out: &mut Vec<u8>) -> Result<(), OpenError> {
        let start = out.len();
        self.bare.update(payload, out)?;
        self.payload.update(payload);
        self.plaintext.update(out.get(start..).unwrap_or_default());
        Ok(())
    }

    /// The payload has ended: decrypts the last partial chunk into `out`
    /// and checks the whole payload and plaintext.
    ///
    /// # Errors
    /// [`OpenError::Verification`] when the payload is truncated, does not
    /// match the manifest, or its plaintext does not match the uploader's
    /// digest. What was released must then be discarded.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), OpenError> {
        let start = out.len();
        let ended = self.bare.end(out)?;
        self.plaintext.update(out.get(start..).unwrap_or_default());
        let (payload, _) = self.payload.finalize();
        let (plaintext, _) = self.plaintext.finalize();
        ended.check_digests(&payload, &plaintext)
    }
}

/// Decrypts a served payload as it arrives, holding at most one chunk,
/// without hashing it: the caller computes the segment digests of the
/// payload and of the plaintext ([`crate::segmented`]) itself and hands
/// them to [`EndedPayload::check_segments`]. The browser does, with its
/// native SHA-256.
///
/// The same rules hold as for [`PayloadOpener`]: the plaintext is final
/// only once the check succeeds.
pub struct BarePayloadOpener {
    file_key: FileKey,
    expected: Expected,
    decryptor: Option<PayloadDecryptor>,
    pending: Vec<u8>,
    received: u64,
    plaintext_len: u64,
    failed: bool,
}

/// What the payload and its plaintext must hash to.
struct Expected {
    manifest: Signed<Manifest>,
    plaintext: Metadata,
}

impl Expected {
    /// What `opened`'s payload and plaintext must hash to.
    fn of(opened: &OpenedVersion) -> Self {
        Self {
            manifest: opened.manifest.clone(),
            plaintext: opened.metadata.clone(),
        }
    }

    /// Checks the payload's digest and length against the manifest, and
    /// the plaintext's against the uploader's digest and size, in
    /// constant time.
    fn check(
        &self,
        payload: &PayloadDigest,
        payload_len: u64,
        plaintext: &[u8; 32],
        plaintext_len: u64,
    ) -> Result<(), OpenError> {
        if self
            .manifest
            .record()
            .check_payload(payload, payload_len)
            .is_err()
        {
            return Err(verification(
                "the downloaded payload does not match the manifest",
            ));
        }
        if !self.plaintext.matches_plaintext(plaintext, plaintext_len) {
            return Err(verification(
                "the plaintext does not match the uploader's digest",
            ));
        }
        Ok(())
    }
}

impl core::fmt::Debug for BarePayloadOpener {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BarePayloadOpener")
            .field("received", &self.received)
            .field("plaintext_len", &self.plaintext_len)
            .finish_non_exhaustive()
    }
}

impl BarePayloadOpener {
    /// Starts decrypting `opened`'s payload.
    #[must_use]
    pub fn new(opened: &OpenedVersion) -> Self {
        Self {
            file_key: opened.copy_file_key(),
            expected: Expected::of(opened),
            decryptor: None,
            pending: Vec::with_capacity(ENCRYPTED_CHUNK_SIZE),
            received: 0,
            plaintext_len: 0,
            failed: false,
        }
    }

    /// The plaintext bytes released so far.
    #[must_use]
    pub fn plaintext_len(&self) -> u64 {
        self.plaintext_len
    }

    /// Feeds the next payload bytes; appends the plaintext of every chunk
    /// they complete to `out`.
    ///
    /// # Errors
    /// [`OpenError::Verification`] when a chunk does not authenticate or
    /// the payload runs past the manifest's length; the opener then refuses
    /// everything after.
    pub fn update(&mut self, mut payload: &[u8], out: &mut Vec<u8>) -> Result<(), OpenError> {
        if self.failed {
            return Err(verification("the payload already failed to decrypt"));
        }
        self.received = self.received.saturating_add(payload.len() as u64);
        if self.received > self.expected.manifest.record().terms().payload_len {
            return Err(self.fail("the server sent more bytes than the manifest says"));
        }
        while !payload.is_empty() {
            let want = if self.decryptor.is_none() {
                PAYLOAD_NONCE_LEN
            } else {
                ENCRYPTED_CHUNK_SIZE
            };
            let take = want.saturating_sub(self.pending.len()).min(payload.len());
            let (head, rest) = payload.split_at(take);
            self.pending.extend_from_slice(head);
            payload = rest;
            if self.pending.len() == want {
                self.complete(out)?;
            }
        }
        Ok(())
    }

    /// The buffer holds a whole nonce or a whole chunk: take it.
    fn complete(&mut self, out: &mut Vec<u8>) -> Result<(), OpenError> {
        match self.decryptor.as_mut() {
            None => {
                let nonce: [u8; PAYLOAD_NONCE_LEN] = self
                    .pending
                    .as_slice()
                    .try_into()
                    .map_err(|_| verification("the payload's nonce is malformed"))?;
                self.decryptor = Some(PayloadDecryptor::new(&self.file_key, &nonce));
                self.pending.clear();
                Ok(())
            }
            Some(_) => self.decrypt_pending(out),
        }
    }

    fn decrypt_pending(&mut self, out: &mut Vec<u8>) -> Result<(), OpenError> {
        let Some(decryptor) = self.decryptor.as_mut() else {
            return Err(self.fail("the payload is truncated inside its nonce"));
        };
        match decryptor.decrypt_chunk(&mut self.pending) {
            Ok(plain) => {
                self.plaintext_len = self.plaintext_len.saturating_add(plain.len() as u64);
                out.extend_from_slice(plain);
                self.pending.clear();
                Ok(())
            }
            Err(e) => Err(self.fail(format!("the payload does not decrypt: {e}"))),
        }
    }

    /// The payload has ended: decrypts the last partial chunk into `out`
    /// and checks that the payload ended at its last chunk. The digests
    /// are still to be checked, on what this returns.
    ///
    /// # Errors
    /// [`OpenError::Verification`] when the payload is truncated or its
    /// last chunk does not authenticate. What was released must then be
    /// discarded.
    pub fn end(mut self, out: &mut Vec<u8>) -> Result<EndedPayload, OpenError> {
        if self.failed {
            return Err(verification("the payload already failed to decrypt"));
        }
        if !self.pending.is_empty() {
            self.decrypt_pending(out)?;
        }
        let finished = self.decryptor.as_ref().map(PayloadDecryptor::finish);
        if finished != Some(Ok(())) {
            return Err(verification("the payload is truncated"));
        }
        Ok(EndedPayload {
            expected: self.expected,
            payload_len: self.received,
            plaintext_len: self.plaintext_len,
        })
    }

    fn fail(&mut self, what: impl core::fmt::Display) -> OpenError {
        self.failed = true;
        verification(what)
    }
}

/// A payload that decrypted to its end, awaiting the check of its digests.
/// Its plaintext is not final until a check succeeds.
pub struct EndedPayload {
    expected: Expected,
    payload_len: u64,
    plaintext_len: u64,
}

impl core::fmt::Debug for EndedPayload {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EndedPayload")
            .field("payload_len", &self.payload_len)
            .field("plaintext_len", &self.plaintext_len)
            .finish_non_exhaustive()
    }
}

impl EndedPayload {
    /// The plaintext bytes released.
    #[must_use]
    pub fn plaintext_len(&self) -> u64 {
        self.plaintext_len
    }

    /// Checks the payload and its plaintext from their segment digests,
    /// computed by the caller ([`crate::segmented::root_from_segments`]):
    /// each argument is the concatenated 32-byte SHA-256 digests of the
    /// 1 MiB segments, in order, of the payload as received and of the
    /// plaintext as released.
    ///
    /// # Errors
    /// [`OpenError::Verification`] when either does not match (or the
    /// number of digests does not fit the length).
    pub fn check_segments(
        &self,
        payload_segments: &[u8],
        plaintext_segments: &[u8],
    ) -> Result<(), OpenError> {
        let payload = PayloadDigest::from_segments(self.payload_len, payload_segments)
            .ok_or_else(|| verification("the payload's segment digests do not fit its length"))?;
        let plaintext = segmented::root_from_segments(
            DigestKind::Plaintext,
            self.plaintext_len,
            plaintext_segments,
        )
        .ok_or_else(|| verification("the plaintext's segment digests do not fit its length"))?;
        self.check_digests(&payload, &plaintext)
    }

    /// Checks the payload's digest against the manifest's digest and
    /// length, and the plaintext's against the uploader's digest and size,
    /// in constant time.
    ///
    /// # Errors
    /// [`OpenError::Verification`] saying which does not match.
    pub fn check_digests(
        &self,
        payload: &PayloadDigest,
        plaintext: &[u8; 32],
    ) -> Result<(), OpenError> {
        self.expected
            .check(payload, self.payload_len, plaintext, self.plaintext_len)
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use std::io::Write as _;

    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng as _;
    use sha2::{Digest as _, Sha256};

    use super::*;
    use crate::age::StreamWriter;
    use crate::age::stream::CHUNK_SIZE;
    use crate::manifest::{KeyCommitment, ManifestTerms};
    use crate::matter::Matter;

    /// A version of `plaintext` uploaded by `uploader` in a fresh matter,
    /// its key wrapped to `reader`: what the server would serve, and the
    /// payload.
    fn version(
        uploader: &Identity,
        reader: &Identity,
        plaintext: &[u8],
        rng: &mut ChaCha20Rng,
    ) -> (VerifiedMatter, Signed<Manifest>, VersionView, Vec<u8>) {
        let matter = Matter::create(rng, uploader.signing_key(), 1);
        let document = DocumentId::generate(rng);
        let file_key = FileKey::generate(rng);
        let mut writer = StreamWriter::new(&file_key, Vec::new(), rng).unwrap();
        writer.write_all(plaintext).unwrap();
        let payload = writer.finish().unwrap();
        let mut hasher = PayloadHasher::new();
        hasher.update(&payload);
        let (payload_digest, payload_len) = hasher.finalize();
        let binding = MetadataBinding {
            matter_id: *matter.id(),
            document_id: document,
            version: VersionNumber::FIRST,
        };
        let metadata = Metadata::new(
            "brief.pdf",
            "application/pdf",
            plaintext.len() as u64,
            crate::metadata::plaintext_digest(plaintext),
        )
        .unwrap()
        .seal(&file_key, &binding);
        let manifest = Manifest::new(ManifestTerms {
            matter_id: *matter.id(),
            document_id: document,
            version: VersionNumber::FIRST,
            previous: None,
            payload_digest,
            payload_len,
            key_commitment: KeyCommitment::derive(&file_key),
            metadata_digest: metadata.digest(),
            created_at: 2,
        })
        .unwrap();
        let manifest = Signed::sign(manifest, uploader.signing_key());
        let stanza = age::x25519::wrap_file_key(&file_key, &reader.public().encryption, rng);
        let view = VersionView {
            manifest: manifest.as_bytes().to_vec().into(),
            metadata: metadata.as_bytes().to_vec().into(),
            stanza: Some(stanza.to_bytes().into()),
            uploader_grants: Vec::new(),
        };
        (matter, manifest, view, payload)
    }

    pub(super) fn open_new(plaintext: &[u8], seed: u64) -> (OpenedVersion, Vec<u8>) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let me = Identity::generate(&mut rng);
        let (matter, manifest, view, payload) = version(&me, &me, plaintext, &mut rng);
        (
            open_version(&matter, &manifest, &view, &me).unwrap(),
            payload,
        )
    }

    /// Feeds `payload` in pieces of `piece` bytes and finishes.
    fn decrypt(opened: &OpenedVersion, payload: &[u8], piece: usize) -> Result<Vec<u8>, OpenError> {
        let mut opener = opened.payload_opener();
        let mut out = Vec::new();
        for part in payload.chunks(piece) {
            opener.update(part, &mut out)?;
        }
        opener.finish(&mut out)?;
        Ok(out)
    }

    #[test]
    fn every_size_around_chunk_boundaries_decrypts_in_pieces_of_every_size() {
        for len in [
            0,
            1,
            CHUNK_SIZE - 1,
            CHUNK_SIZE,
            CHUNK_SIZE + 1,
            3 * CHUNK_SIZE + 5,
        ] {
            let plaintext: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let (opened, payload) = open_new(&plaintext, len as u64);
            for piece in [
                1,
                7,
                16,
                ENCRYPTED_CHUNK_SIZE - 1,
                ENCRYPTED_CHUNK_SIZE,
                1 << 20,
            ] {
                if piece == 1 && len > CHUNK_SIZE {
                    continue; // byte by byte is covered by the small sizes
                }
                let got = decrypt(&opened, &payload, piece);
                assert_eq!(
                    got.as_deref(),
                    Ok(&plaintext[..]),
                    "len {len}, piece {piece}"
                );
            }
        }
    }

    #[test]
    fn chunks_are_released_as_they_complete_not_at_the_end() {
        let plaintext = vec![7u8; 2 * CHUNK_SIZE + 10];
        let (opened, payload) = open_new(&plaintext, 1);
        let mut opener = opened.payload_opener();
        let mut out = Vec::new();
        let first = PAYLOAD_NONCE_LEN + ENCRYPTED_CHUNK_SIZE;
        opener.update(&payload[..first], &mut out).unwrap();
        assert_eq!(out.len(), CHUNK_SIZE, "the first chunk is out");
        assert_eq!(opener.plaintext_len(), CHUNK_SIZE as u64);
    }

    #[test]
    fn altered_truncated_or_extended_payloads_are_refused() {
        let plaintext: Vec<u8> = (0..3 * CHUNK_SIZE + 100).map(|i| i as u8).collect();
        let (opened, payload) = open_new(&plaintext, 2);
        let refused = |payload: &[u8], what: &str| {
            let got = decrypt(&opened, payload, 4096);
            assert!(
                matches!(got, Err(OpenError::Verification(_))),
                "{what}: {got:?}"
            );
        };
        let mut flipped = payload.clone();
        flipped[PAYLOAD_NONCE_LEN + CHUNK_SIZE + 3] ^= 1;
        refused(&flipped, "a flipped bit");
        let mut nonce = payload.clone();
        nonce[0] ^= 1;
        refused(&nonce, "a changed nonce");
        let at_boundary = PAYLOAD_NONCE_LEN + 2 * ENCRYPTED_CHUNK_SIZE;
        refused(&payload[..at_boundary], "cut at a chunk boundary");
        refused(&payload[..at_boundary + 50], "cut inside a chunk");
        refused(&payload[..PAYLOAD_NONCE_LEN - 1], "cut inside the nonce");
        refused(&[], "empty");
        let mut longer = payload.clone();
        longer.extend_from_slice(&[0; 32]);
        refused(&longer, "extended after the last chunk");
        let mut swapped = payload.clone();
        let (a, b) = (PAYLOAD_NONCE_LEN, PAYLOAD_NONCE_LEN + ENCRYPTED_CHUNK_SIZE);
        let first: Vec<u8> = swapped[a..b].to_vec();
        swapped.copy_within(b..b + ENCRYPTED_CHUNK_SIZE, a);
        swapped[b..b + ENCRYPTED_CHUNK_SIZE].copy_from_slice(&first);
        refused(&swapped, "two chunks reordered");
        // Another version's payload under this manifest.
        let (_, other) = open_new(&plaintext, 3);
        refused(&other, "another version's payload");
    }

    #[test]
    fn a_payload_reencrypted_by_a_key_holder_is_refused_by_the_manifest_digest() {
        let plaintext = vec![5u8; CHUNK_SIZE + 9];
        let (opened, _) = open_new(&plaintext, 6);
        // Anyone the key was shared with can encrypt other bytes under it;
        // only the uploader's signed digest tells them apart.
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let mut writer = StreamWriter::new(&opened.file_key, Vec::new(), &mut rng).unwrap();
        writer.write_all(&vec![6u8; plaintext.len()]).unwrap();
        let forged = writer.finish().unwrap();
        assert_eq!(
            decrypt(&opened, &forged, 1 << 16).err(),
            Some(verification(
                "the downloaded payload does not match the manifest"
            ))
        );
    }

    #[test]
    fn an_opener_refuses_everything_after_a_failure() {
        let (opened, payload) = open_new(&[1u8; 100], 4);
        let mut opener = opened.payload_opener();
        let mut out = Vec::new();
        let mut bad = payload.clone();
        bad[PAYLOAD_NONCE_LEN] ^= 1;
        opener.update(&bad, &mut out).unwrap();
        // The last (short) chunk is decrypted only at the end.
        assert!(opener.finish(&mut out).is_err());
        assert!(out.is_empty(), "nothing released from a forged chunk");
        let mut opener = opened.payload_opener();
        let mut longer = payload;
        longer.extend_from_slice(&[0u8; ENCRYPTED_CHUNK_SIZE]);
        assert!(opener.update(&longer, &mut out).is_err());
        assert!(opener.update(&[0], &mut out).is_err(), "stays failed");
    }

    /// The segment digests a browser computes with its native SHA-256.
    pub(super) fn segment_digests(bytes: &[u8]) -> Vec<u8> {
        bytes
            .chunks(segmented::SEGMENT_LEN)
            .flat_map(|s| <[u8; 32]>::from(Sha256::digest(s)))
            .collect()
    }

    /// Makes the payload's and the plaintext's segment digest lists.
    type SegmentLists = dyn Fn(&[u8], &[u8]) -> (Vec<u8>, Vec<u8>);

    /// Decrypts with the bare opener, then checks segment digests made by
    /// `segments` from the payload and the released plaintext.
    fn decrypt_bare(
        opened: &OpenedVersion,
        payload: &[u8],
        segments: impl FnOnce(&[u8], &[u8]) -> (Vec<u8>, Vec<u8>),
    ) -> Result<Vec<u8>, OpenError> {
        let mut opener = opened.bare_payload_opener();
        let mut out = Vec::new();
        for part in payload.chunks(300_000) {
            opener.update(part, &mut out)?;
        }
        let ended = opener.end(&mut out)?;
        let (p, q) = segments(payload, &out);
        ended.check_segments(&p, &q)?;
        Ok(out)
    }

    #[test]
    fn the_bare_opener_checks_segment_digests_computed_outside() {
        let honest = |p: &[u8], q: &[u8]| (segment_digests(p), segment_digests(q));
        for len in [
            0,
            10,
            segmented::SEGMENT_LEN,
            2 * segmented::SEGMENT_LEN + 7,
        ] {
            let plaintext: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
            let (opened, payload) = open_new(&plaintext, 20 + len as u64);
            assert_eq!(
                decrypt_bare(&opened, &payload, honest).as_deref(),
                Ok(&plaintext[..]),
                "len {len}"
            );
        }

        // Not periodic in 1 MiB, so no two segments are alike.
        let plaintext: Vec<u8> = (0..2 * segmented::SEGMENT_LEN + 7)
            .map(|i| (i % 251) as u8)
            .collect();
        let (opened, payload) = open_new(&plaintext, 30);
        let refused = |what: &str, segments: &SegmentLists| {
            let got = decrypt_bare(&opened, &payload, |p, q| segments(p, q));
            assert!(
                matches!(got, Err(OpenError::Verification(_))),
                "{what}: {:?}",
                got.map(|plaintext| plaintext.len())
            );
        };
        refused("a payload segment digest changed", &|p, q| {
            let mut p = segment_digests(p);
            p[40] ^= 1;
            (p, segment_digests(q))
        });
        refused("a plaintext segment digest changed", &|p, q| {
            let mut q = segment_digests(q);
            q[95] ^= 1;
            (segment_digests(p), q)
        });
        refused("plaintext segments reordered", &|p, q| {
            let mut q = segment_digests(q);
            q[..64].rotate_left(32);
            (segment_digests(p), q)
        });
        refused("a payload segment digest missing", &|p, q| {
            let p = segment_digests(p);
            (p[32..].to_vec(), segment_digests(q))
        });
        refused("the two lists swapped", &|p, q| {
            (segment_digests(q), segment_digests(p))
        });
        refused("whole-input SHA-256 instead of segments", &|p, q| {
            (Sha256::digest(p).to_vec(), Sha256::digest(q).to_vec())
        });

        // Another payload encrypted under the same key: it decrypts, and
        // only the digest check refuses it.
        let mut rng = ChaCha20Rng::seed_from_u64(31);
        let mut writer = StreamWriter::new(&opened.file_key, Vec::new(), &mut rng).unwrap();
        writer.write_all(&plaintext).unwrap();
        let forged = writer.finish().unwrap();
        assert_eq!(
            decrypt_bare(&opened, &forged, honest).err(),
            Some(verification(
                "the downloaded payload does not match the manifest"
            ))
        );
    }

    #[test]
    fn a_version_not_shared_with_me_or_wrapped_to_another_is_refused() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let uploader = Identity::generate(&mut rng);
        let other = Identity::generate(&mut rng);
        let (matter, manifest, view, _) = version(&uploader, &other, b"memo", &mut rng);
        let got = open_version(&matter, &manifest, &view, &uploader);
        assert_eq!(
            got.err(),
            Some(verification("the served key is not wrapped to you"))
        );
        let mut unshared = view.clone();
        unshared.stanza = None;
        let got = open_version(&matter, &manifest, &unshared, &other);
        assert_eq!(got.err(), Some(OpenError::NotShared));
        assert!(open_version(&matter, &manifest, &view, &other).is_ok());
        // A manifest from another matter.
        let elsewhere = Matter::create(&mut rng, uploader.signing_key(), 1);
        let got = open_version(&elsewhere, &manifest, &view, &other);
        assert_eq!(
            got.err(),
            Some(verification("the manifest belongs to another matter"))
        );
    }
}
