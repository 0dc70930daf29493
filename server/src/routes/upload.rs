//! Uploading a document version: one streaming request.
//!
//! The body is a big-endian `u32` length, that many bytes of CBOR
//! [`UploadEnvelope`] (the signed manifest, the sealed metadata, wrapped
//! keys and grants), then the age payload. The request signature covers the
//! envelope's digest; the envelope's signed manifest covers the payload's
//! digest and length, which the server checks as the bytes stream past into
//! a staged blob. Only when every check has passed is the blob made durable
//! and, after it, the database rows that reference it committed in one
//! transaction: a dropped connection or a refused upload leaves nothing.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use bytes::{Buf as _, BytesMut};
use futures_util::StreamExt as _;
use lexvault_core::api::{self, UploadEnvelope};
use lexvault_core::grant::{Grant, Rights, Scope, parse_grant};
use lexvault_core::manifest::{
    DocumentId, Manifest, PayloadHasher, VersionNumber, verify_manifest, verify_succession,
};
use lexvault_core::matter::MatterId;
use lexvault_core::metadata::{MAX_SEALED_METADATA_LEN, SealedMetadata};
use lexvault_core::request::BodyDigest;
use lexvault_core::signed::Signed;

use super::documents::parse_stanzas;
use super::{cbor, event, parse_id};
use crate::access::MatterAccess;
use crate::app::AppState;
use crate::auth::{authenticate, require_content_type};
use crate::error::ApiError;
use crate::store::{ActorHead, EventKind, NewGrant, NewVersion, StanzaRow, StoreError};

/// Most wrapped keys or grants one upload may carry.
const MAX_PARTIES: usize = 1024;

/// `POST /v1/documents/{id}/versions`.
pub async fn upload(state: State<AppState>, document: Path<String>, request: Request) -> Response {
    match receive(state, document, request).await {
        Ok(response) => response,
        Err(refusal) => {
            // A refusal can come before the payload was read, while the
            // client is still sending it: the connection cannot carry
            // another request, and a client that pooled it would fail its
            // next call.
            let mut response = refusal.into_response();
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}

async fn receive(
    State(state): State<AppState>,
    Path(document): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let document_id = DocumentId::from_bytes(parse_id(&document)?);
    let (parts, body) = request.into_parts();
    require_content_type(&parts.headers, api::UPLOAD)?;
    let max_body = state
        .limits
        .max_upload_bytes
        .saturating_add(4 + api::MAX_MESSAGE_LEN as u64);
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max_body) {
        return Err(too_large(&state));
    }

    let mut body = BodyReader::new(body);
    let envelope_len = body.read_u32().await?;
    if envelope_len as usize > api::MAX_MESSAGE_LEN {
        return Err(ApiError::too_large("the upload envelope is too large"));
    }
    let envelope_bytes = body.read_exact(envelope_len as usize).await?;
    let caller = authenticate(&state, &parts, BodyDigest::of(&envelope_bytes)).await?;
    let envelope: UploadEnvelope = api::decode(&envelope_bytes).map_err(|why| {
        ApiError::bad_request(
            "malformed-body",
            format!("the upload envelope is invalid: {why}"),
        )
    })?;

    let manifest = verify_manifest(&envelope.manifest).map_err(|why| {
        ApiError::bad_request(
            "invalid-manifest",
            format!("the manifest is invalid: {why}"),
        )
    })?;
    let terms = manifest.record();
    if terms.document_id() != &document_id {
        return Err(ApiError::bad_request(
            "wrong-document",
            "the manifest is for another document",
        ));
    }
    if manifest.signer() != &caller.key {
        return Err(ApiError::bad_request(
            "not-your-manifest",
            "sign the request with the key that signed the manifest",
        ));
    }
    if terms.terms().payload_len > state.limits.max_upload_bytes {
        return Err(too_large(&state));
    }
    let now = state.now();
    let matter_id = *terms.matter_id();
    let access = MatterAccess::load(&state, matter_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !access.allows(&caller.key, Rights::UPLOAD, Some(&document_id), now) {
        return Err(ApiError::not_found());
    }
    // Clients judge the uploader's authority at the manifest's creation
    // time: refuse a version they would all refuse.
    if access.upload_authority(&manifest).is_none() {
        return Err(ApiError::forbidden(
            "not-allowed",
            "your upload right does not cover the manifest's creation time; check your \
             device's clock and upload again",
        ));
    }
    check_succession(&state, &manifest, matter_id).await?;

    if envelope.metadata.len() > MAX_SEALED_METADATA_LEN {
        return Err(ApiError::bad_request(
            "invalid-metadata",
            "the sealed metadata is too long",
        ));
    }
    let metadata = SealedMetadata::from_bytes(envelope.metadata.to_vec());
    terms.check_metadata(&metadata.digest()).map_err(|_| {
        ApiError::bad_request(
            "metadata-mismatch",
            "the sealed metadata is not the manifest's",
        )
    })?;
    if envelope.stanzas.len() > MAX_PARTIES || envelope.grants.len() > MAX_PARTIES {
        return Err(ApiError::too_large(format!(
            "send at most {MAX_PARTIES} wrapped keys and {MAX_PARTIES} grants per upload"
        )));
    }
    let stanzas = parse_stanzas(&envelope.stanzas)?;
    let mut recipients: Vec<[u8; 32]> = stanzas.iter().map(|(r, _)| *r).collect();
    recipients.sort_unstable();
    recipients.dedup();
    if recipients.len() != stanzas.len() {
        return Err(ApiError::bad_request(
            "duplicate-recipient",
            "send one wrapped key per recipient",
        ));
    }
    let grants = check_grants(&access, &envelope, &manifest, &stanzas, now)?;
    // The store checks the chain position when it records the upload; a
    // request that cannot follow the caller's head is refused now, before
    // the payload is read.
    let actor = caller.key_bytes();
    let head = state.store(move |s| s.actor_head(&actor)).await?;
    if ActorHead::next_position(head.as_ref()) != caller.position {
        return Err(StoreError::OutOfSequence.into());
    }

    // The payload: hashed and counted as it streams into a staged blob.
    let expected_len = terms.terms().payload_len;
    let mut staged = state
        .blobs
        .stage()
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let mut hasher = PayloadHasher::new();
    let mut received: u64 = 0;
    while let Some(chunk) = body.next_chunk().await? {
        received = received.saturating_add(chunk.len() as u64);
        if received > expected_len {
            return Err(payload_mismatch());
        }
        hasher.update(&chunk);
        staged
            .write(&chunk)
            .await
            .map_err(|e| ApiError::internal(&e))?;
    }
    let (digest, len) = hasher.finalize();
    terms
        .check_payload(&digest, len)
        .map_err(|_| payload_mismatch())?;
    let blob = staged.persist().await.map_err(|e| ApiError::internal(&e))?;

    let version = terms.version().get();
    let mut ev = event(EventKind::Uploaded, &caller, now);
    ev.matter_id = Some(*matter_id.as_bytes());
    ev.document_id = Some(*document_id.as_bytes());
    ev.version = Some(version);
    ev.subject = Some(manifest.digest().0);
    let new = NewVersion {
        matter_id: *matter_id.as_bytes(),
        document_id: *document_id.as_bytes(),
        version,
        manifest: manifest.as_bytes().to_vec(),
        metadata: metadata.as_bytes().to_vec(),
        blob: blob.clone(),
        payload_len: len,
        stanzas,
        grants,
    };
    if let Err(e) = state.store(move |s| s.add_version(new, ev)).await {
        if let Err(cleanup) = state.blobs.remove(&blob).await {
            tracing::warn!(%cleanup, "could not remove the blob of a refused upload");
        }
        return Err(e);
    }
    Ok(cbor(
        StatusCode::CREATED,
        &api::MatterList {
            matters: vec![access.matter.as_bytes().to_vec().into()],
        },
    ))
}

fn too_large(state: &AppState) -> ApiError {
    ApiError::too_large(format!(
        "documents are limited to {} bytes on this server; ask the firm's IT to raise \
         max_upload_bytes",
        state.limits.max_upload_bytes
    ))
}

fn payload_mismatch() -> ApiError {
    ApiError::bad_request(
        "payload-mismatch",
        "the payload does not match the manifest's digest and length; upload again",
    )
}

/// Version 1 starts a document; any later version must follow the stored
/// latest one exactly (same matter and document, next number, previous
/// digest).
async fn check_succession(
    state: &AppState,
    manifest: &Signed<Manifest>,
    matter: MatterId,
) -> Result<(), ApiError> {
    let id = *manifest.record().document_id().as_bytes();
    let row = state.store(move |s| s.document(&id)).await?;
    let latest = row.as_ref().and_then(|r| r.versions.last());
    match (row.as_ref(), latest) {
        (Some(r), _) if r.matter_id != *matter.as_bytes() => Err(ApiError::not_found()),
        (_, None) => {
            let first = manifest.record().version() == VersionNumber::FIRST
                && manifest.record().previous().is_none();
            if first {
                Ok(())
            } else {
                Err(ApiError::conflict(
                    "not-next-version",
                    "a new document starts at version 1 with no previous manifest",
                ))
            }
        }
        (_, Some(v)) => {
            let previous = verify_manifest(&v.manifest).map_err(|e| ApiError::internal(&e))?;
            verify_succession(&previous, manifest).map_err(|_| {
                ApiError::conflict(
                    "not-next-version",
                    "the manifest does not follow the latest version; fetch the document and \
                     upload again",
                )
            })
        }
    }
}

/// Verifies the grants that come with a version: each in this matter, its
/// chain in force now (earlier grants and these may be parents), and any
/// wrapped-key binding naming this version and a stanza sent with it.
fn check_grants(
    access: &MatterAccess,
    envelope: &UploadEnvelope,
    manifest: &Signed<Manifest>,
    stanzas: &[StanzaRow],
    now: u64,
) -> Result<Vec<NewGrant>, ApiError> {
    let parsed = envelope
        .grants
        .iter()
        .map(|g| parse_grant(g))
        .collect::<Result<Vec<Signed<Grant>>, _>>()
        .map_err(|why| {
            ApiError::bad_request("invalid-grant", format!("a grant is invalid: {why}"))
        })?;
    let terms = manifest.record();
    parsed
        .iter()
        .map(|grant| {
            let record = grant.record();
            if record.matter_id() != terms.matter_id() {
                return Err(ApiError::bad_request(
                    "wrong-matter",
                    "a grant is for another matter",
                ));
            }
            access.verify_arriving(grant, &parsed, now).map_err(|why| {
                ApiError::forbidden("grant-refused", format!("a grant confers nothing: {why}"))
            })?;
            if let Some(binding) = record.wrapped_key() {
                let grantee = record.grantee().signing.to_bytes();
                let bound = binding.version == terms.version()
                    && record.scope() == &Scope::Document(*terms.document_id())
                    && stanzas.iter().any(|(r, s)| {
                        *r == grantee
                            && super::x25519_stanza(s)
                                .is_some_and(|p| p.digest() == binding.stanza_digest.0)
                    });
                if !bound {
                    return Err(ApiError::bad_request(
                        "stanza-mismatch",
                        "a grant binds a stanza this upload does not carry",
                    ));
                }
            }
            Ok(NewGrant {
                digest: grant.digest().0,
                matter_id: *terms.matter_id().as_bytes(),
                grantee: record.grantee().signing.to_bytes(),
                record: grant.as_bytes().to_vec(),
            })
        })
        .collect()
}

/// Reads a request body in order: exact-length heads, then the rest chunk
/// by chunk.
struct BodyReader {
    stream: axum::body::BodyDataStream,
    pending: BytesMut,
}

impl BodyReader {
    fn new(body: Body) -> Self {
        Self {
            stream: body.into_data_stream(),
            pending: BytesMut::new(),
        }
    }

    async fn fill(&mut self, n: usize) -> Result<(), ApiError> {
        while self.pending.len() < n {
            match self.stream.next().await {
                Some(Ok(chunk)) => self.pending.extend_from_slice(&chunk),
                Some(Err(_)) => return Err(interrupted()),
                None => {
                    return Err(ApiError::bad_request(
                        "truncated-body",
                        "the upload ended before its envelope did",
                    ));
                }
            }
        }
        Ok(())
    }

    async fn read_u32(&mut self) -> Result<u32, ApiError> {
        self.fill(4).await?;
        Ok(self.pending.get_u32())
    }

    async fn read_exact(&mut self, n: usize) -> Result<bytes::Bytes, ApiError> {
        self.fill(n).await?;
        Ok(self.pending.split_to(n).freeze())
    }

    async fn next_chunk(&mut self) -> Result<Option<bytes::Bytes>, ApiError> {
        if !self.pending.is_empty() {
            return Ok(Some(self.pending.split().freeze()));
        }
        match self.stream.next().await {
            Some(Ok(chunk)) => Ok(Some(chunk)),
            Some(Err(_)) => Err(interrupted()),
            None => Ok(None),
        }
    }
}

fn interrupted() -> ApiError {
    ApiError::bad_request("interrupted", "the upload was interrupted; upload again")
}
