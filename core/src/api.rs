//! The server API's message bodies (spec: `spec/api.md`).
//!
//! Every request and response body is one of these CBOR maps, encoded and
//! decoded with the same strictness as records ([`crate::codec`]). Signed
//! records travel inside them as their exact bytes, so a receiver verifies
//! the signature over what the signer produced; nothing here is trusted
//! until the record inside has been verified.
//!
//! The client library, the browser bindings and the server all use these
//! types, so the three cannot drift apart.

use minicbor::bytes::{ByteArray, ByteVec};
use minicbor::{Decode, Encode};

use crate::codec::{self, CodecError};

/// Content type of a CBOR body.
pub const CBOR: &str = "application/cbor";
/// Content type of a document upload: a big-endian `u32` length, that many
/// bytes of [`UploadEnvelope`], then the age payload.
pub const UPLOAD: &str = "application/vnd.lexvault.upload";
/// The largest message body, other than an upload's payload, in bytes.
pub const MAX_MESSAGE_LEN: usize = 1024 * 1024;

/// Encodes a message deterministically.
#[must_use]
pub fn encode<T: Encode<()>>(message: &T) -> Vec<u8> {
    codec::encode(message)
}

/// Decodes a message, accepting only its canonical encoding and at most
/// [`MAX_MESSAGE_LEN`] bytes.
pub fn decode<'b, T>(bytes: &'b [u8]) -> Result<T, CodecError>
where
    T: Decode<'b, ()> + Encode<()>,
{
    codec::decode_canonical_bounded(bytes, MAX_MESSAGE_LEN)
}

/// An error answer: a stable machine code and a message for people.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct ErrorBody {
    /// Stable, lower-case, dash-separated code (`not-found`, …).
    #[n(0)]
    pub code: String,
    /// What went wrong and what to do next.
    #[n(1)]
    pub message: String,
}

// ---------------------------------------------------------------------------
// Identities

/// `POST /v1/identities`: publish a self-signed key bundle. The request
/// must be signed by the bundle's own key.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct RegisterIdentity {
    /// The signed key bundle.
    #[n(0)]
    pub bundle: ByteVec,
}

/// `GET /v1/identities/{key}` and `GET /v1/admin`: a published identity,
/// with the log entries that bind it (spec: `spec/log.md` §Key
/// transparency).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct IdentityInfo {
    /// The signed key bundle.
    #[n(0)]
    pub bundle: ByteVec,
    /// The administrator's member certificate, for members of staff.
    #[n(1)]
    pub certificate: Option<ByteVec>,
    /// The log entries that bind the bundle (and the certificate), with
    /// their inclusion proofs in one signed checkpoint. Absent from the
    /// answer to a registration, which carries a receipt instead.
    #[n(2)]
    pub bindings: Option<BindingProofs>,
}

/// The log entries binding a key bundle, and its member certificate when
/// one is served, each proven included in the same signed checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct BindingProofs {
    /// A signed checkpoint (C2SP signed note) whose tree includes the
    /// entries below.
    #[n(0)]
    pub checkpoint: ByteVec,
    /// The `registered` (or `administrator-set`) entry whose subject is the
    /// bundle's record digest.
    #[n(1)]
    pub registration: LogInclusion,
    /// The `certified` entry whose subject is the served certificate's
    /// record digest.
    #[n(2)]
    pub certification: Option<LogInclusion>,
    /// The newest `password-set` entry of the bundle's key whose subject is
    /// the login name looked up: only in answers to a lookup by login name.
    #[n(3)]
    pub login: Option<LogInclusion>,
}

/// One log entry with its inclusion proof in a checkpoint given beside it.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct LogInclusion {
    /// The entry's leaf index.
    #[n(0)]
    pub index: u64,
    /// The entry's canonical bytes (`log_entry::LogEntry`).
    #[n(1)]
    pub entry: ByteVec,
    /// The inclusion proof of the entry in the checkpoint's tree.
    #[n(2)]
    pub proof: Vec<ByteArray<32>>,
}

/// `GET /v1/identities?display-name=…` or `?login-name=…`: every
/// registered identity the server binds to that name, each with its
/// binding proofs.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct IdentityList {
    /// The identities, oldest registration first.
    #[n(0)]
    pub identities: Vec<IdentityInfo>,
}

/// `POST /v1/identities/{key}/certificate`: the administrator certifies a
/// member.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct CertifyMember {
    /// The signed member certificate.
    #[n(0)]
    pub certificate: ByteVec,
}

// ---------------------------------------------------------------------------
// Matters, documents, grants

/// `POST /v1/matters`: create a matter.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct CreateMatter {
    /// The signed matter record.
    #[n(0)]
    pub matter: ByteVec,
}

/// `GET /v1/matters`: the matters the caller created or holds a grant in.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct MatterList {
    /// Signed matter records.
    #[n(0)]
    pub matters: Vec<ByteVec>,
}

/// A wrapped file key addressed to one party.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct RecipientStanza {
    /// The party's Ed25519 key.
    #[n(0)]
    pub recipient: ByteArray<32>,
    /// The age X25519 stanza, in its canonical text form.
    #[n(1)]
    pub stanza: ByteVec,
}

/// The first part of an upload body: everything but the payload.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct UploadEnvelope {
    /// The uploader's signed version manifest.
    #[n(0)]
    pub manifest: ByteVec,
    /// The sealed metadata.
    #[n(1)]
    pub metadata: ByteVec,
    /// The version's file key, wrapped to each party who may open it.
    #[n(2)]
    pub stanzas: Vec<RecipientStanza>,
    /// New signed grants that come with the version.
    #[n(3)]
    pub grants: Vec<ByteVec>,
}

/// One version of a document, as the caller may see it.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct VersionView {
    /// The signed manifest.
    #[n(0)]
    pub manifest: ByteVec,
    /// The sealed metadata.
    #[n(1)]
    pub metadata: ByteVec,
    /// The stanza wrapping this version's file key to the caller, if any.
    #[n(2)]
    pub stanza: Option<ByteVec>,
    /// The signed grant that gave the manifest's signer the right to upload
    /// this version, then every grant up its chain: what a receiver needs
    /// to check the uploader's authority
    /// (`grant::verify_upload_authority`). Omitted when empty, as it is for
    /// a version the matter's creator signed.
    #[cbor(n(3), skip_if = "Vec::is_empty")]
    pub uploader_grants: Vec<ByteVec>,
}

/// `GET /v1/documents/{id}`: a document, with what the caller needs to
/// verify and open it.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct DocumentView {
    /// The signed matter record.
    #[n(0)]
    pub matter: ByteVec,
    /// Every version, oldest first.
    #[n(1)]
    pub versions: Vec<VersionView>,
    /// The signed grants in the matter that concern the caller's access:
    /// their own grants and every grant up their chains.
    #[n(2)]
    pub grants: Vec<ByteVec>,
    /// The matter's signed revocations.
    #[n(3)]
    pub revocations: Vec<ByteVec>,
}

/// `GET /v1/matters/{id}/documents`: the documents the caller may see.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct DocumentList {
    /// Each document's id and latest version.
    #[n(0)]
    pub documents: Vec<DocumentSummary>,
}

/// A document in a listing.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct DocumentSummary {
    /// The document id.
    #[n(0)]
    pub document_id: ByteArray<16>,
    /// The latest version.
    #[n(1)]
    pub latest: VersionView,
}

/// `POST /v1/matters/{id}/grants`: store a grant, and the stanza it binds.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct AddGrant {
    /// The signed grant.
    #[n(0)]
    pub grant: ByteVec,
    /// The stanza the grant's wrapped-key binding names.
    #[n(1)]
    pub stanza: Option<ByteVec>,
}

/// `POST /v1/matters/{id}/revocations`: revoke a grant.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct Revoke {
    /// The signed revocation.
    #[n(0)]
    pub revocation: ByteVec,
}

/// `GET /v1/matters/{id}/grants`: a matter's grants and revocations.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct GrantList {
    /// The matter record.
    #[n(0)]
    pub matter: ByteVec,
    /// Signed grants, in the order they were stored.
    #[n(1)]
    pub grants: Vec<ByteVec>,
    /// Signed revocations, in the order they were stored.
    #[n(2)]
    pub revocations: Vec<ByteVec>,
}

/// `POST /v1/matters/{id}/stanzas`: add wrapped keys for existing grantees
/// (after a re-key, or for a grant added later).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct AddStanzas {
    /// The document.
    #[n(0)]
    pub document_id: ByteArray<16>,
    /// The version the stanzas wrap the file key of.
    #[n(1)]
    pub version: u32,
    /// The stanzas.
    #[n(2)]
    pub stanzas: Vec<RecipientStanza>,
}

// ---------------------------------------------------------------------------
// Events

/// `GET /v1/matters/{id}/events`: the matter's events, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct EventList {
    /// The events.
    #[n(0)]
    pub events: Vec<EventView>,
}

/// One recorded event.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct EventView {
    /// Position in the server's one append-only event sequence, from 1:
    /// the log entry's index plus one.
    #[n(0)]
    pub seq: u64,
    /// Server time of the event, Unix seconds.
    #[n(1)]
    pub at: u64,
    /// What happened (`registered`, `uploaded`, `downloaded`, …).
    #[n(2)]
    pub kind: String,
    /// Who did it: the Ed25519 key that signed the request.
    #[n(3)]
    pub actor: ByteArray<32>,
    /// The document concerned, if any.
    #[n(4)]
    pub document_id: Option<ByteArray<16>>,
    /// The document version concerned, if any.
    #[n(5)]
    pub version: Option<u32>,
    /// The signed request that caused the event: the evidence.
    #[n(6)]
    pub request: ByteVec,
    /// The digest of the record the event concerns (grant, revocation,
    /// manifest, link), if any.
    #[n(7)]
    pub subject: Option<ByteArray<32>>,
    /// The event's log entry (`log_entry::LogEntry`), which the fields
    /// above repeat: a client checks they agree, and the log's receipts and
    /// audits cover the entry.
    #[n(8)]
    pub entry: ByteVec,
}

// ---------------------------------------------------------------------------
// Share links

/// `POST /v1/matters/{id}/links`: create a share link to a document.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct CreateLink {
    /// The link's random id (the public part of its URL).
    #[n(0)]
    pub link_id: ByteArray<16>,
    /// The signed grant to the link's derived identity.
    #[n(1)]
    pub grant: ByteVec,
    /// The stanza wrapping the document's current file key to the link.
    #[n(2)]
    pub stanza: ByteVec,
    /// Unix seconds after which the link opens nothing.
    #[n(3)]
    pub expires_at: u64,
    /// How many times the link may be opened; absent: no limit.
    #[n(4)]
    pub max_opens: Option<u32>,
    /// Whether the link's keys are mixed with a passphrase.
    #[n(5)]
    pub passphrase: bool,
    /// Whether the first browser to open the link claims it.
    #[n(6)]
    pub claim_once: bool,
}

/// `GET /v1/links/{id}`: what a browser must know before opening a link.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct LinkInfo {
    /// Whether to ask for a passphrase.
    #[n(0)]
    pub passphrase: bool,
    /// Whether the link is claimed by the first browser that opens it.
    #[n(1)]
    pub claim_once: bool,
}

/// `POST /v1/links/{id}/open`: open a link (signed with the link's key, or
/// with the claiming browser's key once claimed).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct OpenLink {
    /// For a claim-once link's first open: the key the browser keeps.
    #[n(0)]
    pub claim_key: Option<ByteArray<32>>,
}

/// The answer to opening a link: what the browser needs to verify and
/// decrypt, and a ticket to fetch the payload with.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct OpenedLink {
    /// The signed matter record.
    #[n(0)]
    pub matter: ByteVec,
    /// The link's grant, then every grant up its chain.
    #[n(1)]
    pub grants: Vec<ByteVec>,
    /// The version to open.
    #[n(2)]
    pub version: VersionView,
    /// Lets the payload be fetched (and resumed) for a while without
    /// opening the link again.
    #[n(3)]
    pub ticket: ByteArray<16>,
    /// Opens left after this one; absent: no limit.
    #[n(4)]
    pub opens_left: Option<u32>,
}

/// `GET /v1/matters/{id}/links`: the matter's links and their state.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct LinkList {
    /// The links, newest first.
    #[n(0)]
    pub links: Vec<LinkStatus>,
}

/// One link's state.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct LinkStatus {
    /// The link id.
    #[n(0)]
    pub link_id: ByteArray<16>,
    /// The document it opens.
    #[n(1)]
    pub document_id: ByteArray<16>,
    /// Unix seconds after which it opens nothing.
    #[n(2)]
    pub expires_at: u64,
    /// Open limit; absent: none.
    #[n(3)]
    pub max_opens: Option<u32>,
    /// Times opened.
    #[n(4)]
    pub opens: u32,
    /// Whether it was revoked.
    #[n(5)]
    pub revoked: bool,
    /// Whether it needs a passphrase.
    #[n(6)]
    pub passphrase: bool,
    /// Whether it is claim-once, and claimed.
    #[n(7)]
    pub claim_once: bool,
    /// Whether a browser has claimed it.
    #[n(8)]
    pub claimed: bool,
    /// Whether failed attempts locked it.
    #[n(9)]
    pub locked: bool,
    /// The record digest of the link's grant, so its sharer can also revoke
    /// the grant itself.
    #[n(10)]
    pub grant: ByteArray<32>,
}

// ---------------------------------------------------------------------------
// Password login (OPAQUE)

/// `POST /v1/login/registration/start`: begin registering a password for the
/// calling identity under a login name.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct PasswordRegistrationStart {
    /// The login name people type on a new device.
    #[n(0)]
    pub login_name: String,
    /// The OPAQUE registration request.
    #[n(1)]
    pub request: ByteVec,
}

/// The server's OPAQUE registration response.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct PasswordRegistrationResponse {
    /// The OPAQUE registration response.
    #[n(0)]
    pub response: ByteVec,
}

/// `POST /v1/login/registration/finish`: store the password file and the
/// sealed key backup.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct PasswordRegistrationFinish {
    /// The login name.
    #[n(0)]
    pub login_name: String,
    /// The OPAQUE registration upload.
    #[n(1)]
    pub upload: ByteVec,
    /// The identity's secret keys sealed under the password (`backup`).
    #[n(2)]
    pub sealed_backup: ByteVec,
}

/// `POST /v1/login/start` (unsigned: the device has no keys yet).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct LoginStart {
    /// The login name.
    #[n(0)]
    pub login_name: String,
    /// The OPAQUE credential request.
    #[n(1)]
    pub request: ByteVec,
}

/// The server's OPAQUE credential response.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct LoginChallenge {
    /// Names the login attempt in [`LoginFinish`].
    #[n(0)]
    pub attempt: ByteArray<16>,
    /// The OPAQUE credential response.
    #[n(1)]
    pub response: ByteVec,
}

/// `POST /v1/login/finish` (unsigned).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct LoginFinish {
    /// The attempt from [`LoginChallenge`].
    #[n(0)]
    pub attempt: ByteArray<16>,
    /// The OPAQUE credential finalization.
    #[n(1)]
    pub finalization: ByteVec,
}

/// What a successful login releases.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct LoginResult {
    /// The sealed key backup, to open with the password on the device.
    #[n(0)]
    pub sealed_backup: ByteVec,
    /// The identity's signed key bundle.
    #[n(1)]
    pub bundle: ByteVec,
}

// ---------------------------------------------------------------------------
// The access log (spec: `spec/log.md` §Server API)

/// The response header that carries a [`Receipt`] when a call recorded an
/// event.
pub const RECEIPT_HEADER: &str = "lexvault-receipt";

/// Proof that a call's event was appended: the entry, a signed checkpoint
/// that includes it, and the inclusion proof. Sent base64url (unpadded) in
/// the [`RECEIPT_HEADER`] header.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct Receipt {
    /// The entry's leaf index.
    #[n(0)]
    pub index: u64,
    /// The entry's canonical bytes (`log_entry::LogEntry`).
    #[n(1)]
    pub entry: ByteVec,
    /// A signed checkpoint (C2SP signed note) whose tree includes the entry.
    #[n(2)]
    pub checkpoint: ByteVec,
    /// The inclusion proof of the entry in that checkpoint's tree.
    #[n(3)]
    pub proof: Vec<ByteArray<32>>,
}

/// The error code of a recorded call whose chain position
/// (`request::ChainPosition`) is not the next one in the caller's history:
/// the caller fetches its head (`GET /v1/log/head`) and signs again.
pub const OUT_OF_SEQUENCE: &str = "out-of-sequence";

/// `GET /v1/log/head`: the caller's newest log entry, whose position its
/// next recorded request follows.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct ActorHead {
    /// The entry with its inclusion proof in a signed checkpoint; `None`
    /// when the caller has made no recorded request yet.
    #[n(0)]
    pub last: Option<Receipt>,
}

/// `GET /v1/log/checkpoint`: the newest signed checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct LogCheckpoint {
    /// The signed note.
    #[n(0)]
    pub checkpoint: ByteVec,
    /// The log's note verifier key (`name+hash+key`), for clients that have
    /// not pinned it yet (trust on first use; compare it out of band).
    #[n(1)]
    pub verifier_key: String,
}

/// `GET /v1/log/entries?start=S&end=E`: entries `S..E` (at most 1000).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct LogEntries {
    /// Each entry's canonical bytes, in order from `S`.
    #[n(0)]
    pub entries: Vec<ByteVec>,
}

/// `GET /v1/log/bundle?start=S&end=E` (the firm's administrator): entries
/// `S..E` and the signed records their subjects name, for the auditor.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct LogBundle {
    /// Each entry's canonical bytes, in order from `S`.
    #[n(0)]
    pub entries: Vec<ByteVec>,
    /// Signed records (matters, grants, revocations, manifests, key
    /// bundles, member certificates) whose digests the entries name.
    #[n(1)]
    pub records: Vec<ByteVec>,
}

/// `GET /v1/log/inclusion?index=I&size=N` and
/// `GET /v1/log/consistency?from=M&to=N`: a Merkle proof.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(map)]
pub struct LogProof {
    /// The proof's hashes, in RFC 9162 order.
    #[n(0)]
    pub hashes: Vec<ByteArray<32>>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn identities_with_binding_proofs_round_trip_canonically() {
        let inclusion = |index| LogInclusion {
            index,
            entry: vec![7, 7].into(),
            proof: vec![[1u8; 32].into(), [2u8; 32].into()],
        };
        let info = IdentityInfo {
            bundle: vec![1].into(),
            certificate: Some(vec![2].into()),
            bindings: Some(BindingProofs {
                checkpoint: b"origin\n3\nroot\n".to_vec().into(),
                registration: inclusion(0),
                certification: Some(inclusion(2)),
                login: None,
            }),
        };
        let list = IdentityList {
            identities: vec![info.clone()],
        };
        let bytes = encode(&list);
        assert_eq!(decode::<IdentityList>(&bytes).unwrap(), list);
        // Without proofs, an answer is the one older clients know.
        let bare = IdentityInfo {
            bindings: None,
            ..info
        };
        let old_form = encode(&bare);
        assert_eq!(decode::<IdentityInfo>(&old_form).unwrap(), bare);
        assert_eq!(old_form.first(), Some(&0xa2), "a map of two fields");
    }

    #[test]
    fn messages_round_trip_canonically() {
        let m = DocumentView {
            matter: vec![1, 2, 3].into(),
            versions: vec![VersionView {
                manifest: vec![4].into(),
                metadata: vec![5].into(),
                stanza: None,
                uploader_grants: vec![],
            }],
            grants: vec![vec![6].into()],
            revocations: vec![],
        };
        let bytes = encode(&m);
        assert_eq!(decode::<DocumentView>(&bytes).unwrap(), m);
        // An explicit null where a field is absent is not canonical.
        let mut with_null = bytes.clone();
        assert_eq!(with_null.first(), Some(&0xa4));
        let version = encode(&VersionView {
            manifest: vec![4].into(),
            metadata: vec![5].into(),
            stanza: None,
            uploader_grants: vec![],
        });
        let pos = with_null
            .windows(version.len())
            .position(|w| w == version.as_slice())
            .unwrap();
        with_null.splice(pos..pos + version.len(), {
            let mut v = version.clone();
            v[0] = 0xa3;
            v.extend_from_slice(&[0x02, 0xf6]);
            v
        });
        assert!(decode::<DocumentView>(&with_null).is_err());
        assert!(decode::<DocumentView>(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn uploader_grants_are_omitted_when_empty() {
        let bare = VersionView {
            manifest: vec![4].into(),
            metadata: vec![5].into(),
            stanza: Some(vec![6].into()),
            uploader_grants: vec![],
        };
        let old_form = encode(&bare);
        assert_eq!(old_form.first(), Some(&0xa3), "a map of three fields");
        assert_eq!(decode::<VersionView>(&old_form).unwrap(), bare);
        let with = VersionView {
            uploader_grants: vec![vec![7].into(), vec![8].into()],
            ..bare
        };
        let bytes = encode(&with);
        assert_eq!(bytes.first(), Some(&0xa4));
        assert_eq!(decode::<VersionView>(&bytes).unwrap(), with);
        // An explicit empty list is not the canonical form of none.
        let mut explicit = old_form.clone();
        explicit[0] = 0xa4;
        explicit.extend_from_slice(&[0x03, 0x80]);
        assert!(decode::<VersionView>(&explicit).is_err());
    }

    #[test]
    fn oversized_messages_are_refused() {
        let big = MatterList {
            matters: vec![vec![0u8; MAX_MESSAGE_LEN].into()],
        };
        assert_eq!(
            decode::<MatterList>(&encode(&big)).unwrap_err(),
            CodecError::TooLarge
        );
    }
}
