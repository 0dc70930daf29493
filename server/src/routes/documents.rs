//! Documents: listing, viewing, downloading with HTTP Range, and adding
//! wrapped keys.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lexvault_core::api::{AddStanzas, DocumentList, DocumentSummary, DocumentView, VersionView};
use lexvault_core::grant::Rights;
use lexvault_core::keys::SigningPublicKey;
use lexvault_core::manifest::DocumentId;
use lexvault_core::matter::MatterId;
use minicbor::bytes::ByteVec;

use super::{cbor, event, parse_id};
use crate::access::MatterAccess;
use crate::app::AppState;
use crate::auth::{Signed, SignedEmpty};
use crate::error::ApiError;
use crate::store::{DocumentRow, EventKind, StanzaRow, VersionRow};

/// Most stanzas one call may add.
const MAX_STANZAS: usize = 1024;

/// A document the caller may see with `rights`, with its matter's records;
/// everything else is the uniform not-found.
async fn visible_document(
    state: &AppState,
    id: [u8; 16],
    caller: &SigningPublicKey,
    rights: Rights,
) -> Result<(DocumentRow, MatterAccess), ApiError> {
    let row = state
        .store(move |s| s.document(&id))
        .await?
        .ok_or_else(ApiError::not_found)?;
    let access = MatterAccess::load(state, MatterId::from_bytes(row.matter_id))
        .await?
        .ok_or_else(ApiError::not_found)?;
    if access.allows(
        caller,
        rights,
        Some(&DocumentId::from_bytes(id)),
        state.now(),
    ) {
        Ok((row, access))
    } else {
        Err(ApiError::not_found())
    }
}

/// A stored version as `caller` sees it: with their stanza, if any, and
/// the uploader's grant chain.
async fn version_view(
    state: &AppState,
    access: &MatterAccess,
    document: [u8; 16],
    v: &VersionRow,
    caller: [u8; 32],
) -> Result<VersionView, ApiError> {
    let version = v.version;
    let stanza = state
        .store(move |s| s.stanza(&document, version, &caller))
        .await?;
    Ok(VersionView {
        manifest: v.manifest.clone().into(),
        metadata: v.metadata.clone().into(),
        stanza: stanza.map(Into::into),
        uploader_grants: uploader_grants(state, access, v)?,
    })
}

/// The grant chain that gave a stored version's uploader the right to
/// upload it (empty for the matter's creator).
pub fn uploader_grants(
    state: &AppState,
    access: &MatterAccess,
    v: &VersionRow,
) -> Result<Vec<ByteVec>, ApiError> {
    let manifest = state
        .verified
        .manifest(&v.manifest)
        .map_err(|e| ApiError::internal(&e))?;
    Ok(access
        .uploader_chain(&manifest)
        .into_iter()
        .map(Into::into)
        .collect())
}

/// `GET /v1/matters/{id}/documents`: the documents of a matter the caller
/// may view, each with its latest version.
pub async fn list(
    State(state): State<AppState>,
    Path(matter): Path<String>,
    SignedEmpty(caller): SignedEmpty,
) -> Result<Response, ApiError> {
    let id = MatterId::from_bytes(parse_id(&matter)?);
    let access = MatterAccess::load_visible(&state, id, &caller.key).await?;
    let matter_id = *id.as_bytes();
    let rows = state.store(move |s| s.documents_in(&matter_id)).await?;
    let now = state.now();
    let mut documents = Vec::new();
    for row in rows {
        let document = DocumentId::from_bytes(row.document_id);
        if !access.allows(&caller.key, Rights::VIEW, Some(&document), now) {
            continue;
        }
        if let Some(latest) = row.versions.last() {
            documents.push(DocumentSummary {
                document_id: row.document_id.into(),
                latest: version_view(&state, &access, row.document_id, latest, caller.key_bytes())
                    .await?,
            });
        }
    }
    Ok(cbor(StatusCode::OK, &DocumentList { documents }))
}

/// `GET /v1/documents/{id}`: a document's versions, the caller's wrapped
/// keys and the records that prove their access. Recorded as a view.
pub async fn view(
    State(state): State<AppState>,
    Path(document): Path<String>,
    SignedEmpty(caller): SignedEmpty,
) -> Result<Response, ApiError> {
    let id = parse_id(&document)?;
    let (row, access) = visible_document(&state, id, &caller.key, Rights::VIEW).await?;
    let now = state.now();
    let mut versions = Vec::with_capacity(row.versions.len());
    for v in &row.versions {
        versions.push(version_view(&state, &access, id, v, caller.key_bytes()).await?);
    }
    let mut ev = event(EventKind::Viewed, &caller, now);
    ev.matter_id = Some(row.matter_id);
    ev.document_id = Some(id);
    ev.version = row.versions.last().map(|v| v.version);
    state.store(move |s| s.record(ev)).await?;
    Ok(cbor(
        StatusCode::OK,
        &DocumentView {
            matter: access.matter.as_bytes().to_vec().into(),
            versions,
            grants: access
                .chains_of(&caller.key, now)
                .into_iter()
                .map(Into::into)
                .collect(),
            revocations: access.revocation_bytes(),
        },
    ))
}

/// `GET /v1/documents/{id}/versions/{n}/payload`: the version's age payload,
/// whole or one byte range. Recorded as a download.
pub async fn download(
    State(state): State<AppState>,
    Path((document, version)): Path<(String, String)>,
    headers: HeaderMap,
    SignedEmpty(caller): SignedEmpty,
) -> Result<Response, ApiError> {
    let id = parse_id(&document)?;
    let version = parse_version(&version)?;
    let (row, _) = visible_document(&state, id, &caller.key, Rights::DOWNLOAD).await?;
    let v = row
        .versions
        .iter()
        .find(|v| v.version == version)
        .ok_or_else(ApiError::not_found)?;
    let mut ev = event(EventKind::Downloaded, &caller, state.now());
    ev.matter_id = Some(row.matter_id);
    ev.document_id = Some(id);
    ev.version = Some(version);
    state.store(move |s| s.record(ev)).await?;
    payload_response(&state, v, &headers).await
}

/// Answers with a stored payload, honouring a single `Range: bytes=` range.
pub async fn payload_response(
    state: &AppState,
    v: &VersionRow,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let total = v.payload_len;
    let range = match headers.get(header::RANGE) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|r| parse_range(r, total))
                .ok_or_else(|| range_not_satisfiable(total))?,
        ),
    };
    let (start, len) = range.unwrap_or((0, total));
    let stream = state
        .blobs
        .read(&v.blob, start, len)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let mut response = Body::from_stream(stream).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if range.is_some() {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        let end = (start + len).saturating_sub(1);
        let value = HeaderValue::try_from(format!("bytes {start}-{end}/{total}"))
            .map_err(|e| ApiError::internal(&e))?;
        response.headers_mut().insert(header::CONTENT_RANGE, value);
    }
    Ok(response)
}

/// Parses a version number in its one spelling: decimal digits, no sign,
/// no leading zero, from 1.
pub fn parse_version(text: &str) -> Result<u32, ApiError> {
    let canonical =
        !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && !text.starts_with('0');
    canonical
        .then(|| text.parse::<u32>().ok())
        .flatten()
        .ok_or_else(|| ApiError::bad_request("malformed-version", "a version is a number from 1"))
}

fn range_not_satisfiable(total: u64) -> ApiError {
    ApiError::new(
        StatusCode::RANGE_NOT_SATISFIABLE,
        "range-not-satisfiable",
        format!("ask for one range within the payload's {total} bytes, as bytes=start-[end]"),
    )
}

/// Parses one `bytes=start-end`, `bytes=start-` or `bytes=-suffix` range
/// within `total` bytes into (start, length).
fn parse_range(value: &str, total: u64) -> Option<(u64, u64)> {
    let spec = value.strip_prefix("bytes=")?.trim();
    let (first, last) = spec.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if first.is_empty() {
        if !digits(last) {
            return None;
        }
        let suffix: u64 = last.parse().ok()?;
        if suffix == 0 || total == 0 {
            return None;
        }
        let len = suffix.min(total);
        return Some((total - len, len));
    }
    if !digits(first) {
        return None;
    }
    let start: u64 = first.parse().ok()?;
    if start >= total {
        return None;
    }
    let end = if last.is_empty() {
        total - 1
    } else if digits(last) {
        last.parse::<u64>().ok()?.min(total - 1)
    } else {
        return None;
    };
    (end >= start).then(|| (start, end - start + 1))
}

/// `POST /v1/matters/{id}/stanzas`: add wrapped keys to an existing version
/// (after a re-key, or for someone granted later). The caller must be able
/// to share the document.
pub async fn add_stanzas(
    State(state): State<AppState>,
    Path(matter): Path<String>,
    call: Signed<AddStanzas>,
) -> Result<Response, ApiError> {
    let matter_id = MatterId::from_bytes(parse_id(&matter)?);
    let document = *call.body.document_id;
    let version = call.body.version;
    let (row, _) = visible_document(&state, document, &call.caller.key, Rights::SHARE).await?;
    if row.matter_id != *matter_id.as_bytes() || !row.versions.iter().any(|v| v.version == version)
    {
        return Err(ApiError::not_found());
    }
    if call.body.stanzas.len() > MAX_STANZAS {
        return Err(ApiError::too_large(format!(
            "send at most {MAX_STANZAS} stanzas per call"
        )));
    }
    let stanzas = parse_stanzas(&call.body.stanzas)?;
    let mut ev = event(EventKind::KeysAdded, &call.caller, state.now());
    ev.matter_id = Some(row.matter_id);
    ev.document_id = Some(document);
    ev.version = Some(version);
    state
        .store(move |s| s.add_stanzas(&document, version, &stanzas, ev))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Checks that each recipient is a valid key and each stanza a canonical age
/// X25519 stanza; returns them as stored.
pub(crate) fn parse_stanzas(
    stanzas: &[lexvault_core::api::RecipientStanza],
) -> Result<Vec<StanzaRow>, ApiError> {
    stanzas
        .iter()
        .map(|s| {
            SigningPublicKey::from_bytes(&s.recipient).map_err(|_| {
                ApiError::bad_request(
                    "invalid-recipient",
                    "a stanza names an invalid recipient key",
                )
            })?;
            let parsed = super::x25519_stanza(&s.stanza).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid-stanza",
                    "a stanza is not a canonical age X25519 stanza",
                )
            })?;
            Ok((*s.recipient, parsed.to_bytes()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn versions_have_one_spelling() {
        assert_eq!(super::parse_version("1").ok(), Some(1));
        assert_eq!(super::parse_version("42").ok(), Some(42));
        for bad in ["", "0", "01", "+1", "-1", "1.0", "4294967296", " 1"] {
            assert!(super::parse_version(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ranges_parse_within_the_payload() {
        assert_eq!(parse_range("bytes=0-", 10), Some((0, 10)));
        assert_eq!(parse_range("bytes=2-4", 10), Some((2, 3)));
        assert_eq!(parse_range("bytes=2-100", 10), Some((2, 8)));
        assert_eq!(parse_range("bytes=-3", 10), Some((7, 3)));
        assert_eq!(parse_range("bytes=-30", 10), Some((0, 10)));
        assert_eq!(parse_range("bytes=10-", 10), None);
        assert_eq!(parse_range("bytes=4-2", 10), None);
        assert_eq!(parse_range("bytes=-0", 10), None);
        assert_eq!(parse_range("bytes=0-1,3-4", 10), None);
        assert_eq!(parse_range("items=0-1", 10), None);
        assert_eq!(parse_range("bytes=+1-2", 10), None);
        assert_eq!(parse_range("bytes=0-", 0), None);
    }
}
