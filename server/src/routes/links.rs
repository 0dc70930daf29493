//! Share links (spec: `spec/links.md` §API): creating, listing, revoking
//! and opening them, and fetching the payload with a ticket.
//!
//! The server never sees a link's secret, only the public keys derived from
//! it and the grant the sharer signed to them. Every request made with a
//! link is signed by the link's key (or, once a claim-once link is claimed,
//! by the claimer's key), so each open is in the matter's event log. Every
//! refusal to a link holder — unknown, expired, revoked, used up, locked,
//! wrong key — is the one [`link_unavailable`] answer.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use lexvault_core::api::{
    CreateLink, LinkInfo, LinkList, LinkStatus, OpenLink, OpenedLink, VersionView,
};
use lexvault_core::grant::{Rights, Scope, VerifiedGrant, parse_grant, verify_grant_chain};
use lexvault_core::keys::SigningPublicKey;
use lexvault_core::manifest::DocumentId;
use lexvault_core::matter::MatterId;
use sha2::{Digest as _, Sha256};

use super::documents::{payload_response, uploader_grants};
use super::{cbor, event, parse_id};
use crate::access::MatterAccess;
use crate::app::AppState;
use crate::auth::{Signed, SignedEmpty};
use crate::error::ApiError;
use crate::store::links::{LinkRow, MAX_FAILED_ATTEMPTS, NewLink, OpenAttempt};
use crate::store::{EventKind, NewGrant, VersionRow};

/// The longest a link may live: 90 days.
pub const MAX_LINK_LIFETIME_SECS: u64 = 90 * 24 * 60 * 60;

/// How long a download ticket lasts (never past the link's expiry).
pub const TICKET_LIFETIME_SECS: u64 = 60 * 60;

/// The rights a link's grant gives: exactly these.
const LINK_RIGHTS: Rights = Rights::VIEW.union(Rights::DOWNLOAD);

/// The share-link routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/matters/{matter}/links", post(create).get(list))
        .route("/v1/links/{link}", get(info).delete(revoke))
        .route("/v1/links/{link}/open", post(open))
        .route("/v1/links/{link}/payload", get(payload))
}

/// The one answer to a link holder for every refusal, so nobody learns
/// whether a link exists or why it does not open.
#[must_use]
pub fn link_unavailable() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "link-unavailable",
        "this link has expired, was revoked or used up, or does not exist; ask whoever sent it \
         for a new one",
    )
}

/// Parses a link id in a path; a malformed one is the uniform refusal.
fn link_id(text: &str) -> Result<[u8; 16], ApiError> {
    parse_id(text).map_err(|_| link_unavailable())
}

fn invalid_link(message: impl Into<std::borrow::Cow<'static, str>>) -> ApiError {
    ApiError::bad_request("invalid-link", message)
}

fn status_of(row: &LinkRow) -> LinkStatus {
    LinkStatus {
        link_id: row.id.into(),
        document_id: row.document_id.into(),
        expires_at: row.expires_at,
        max_opens: row.max_opens,
        opens: row.opens,
        revoked: row.revoked,
        passphrase: row.passphrase,
        claim_once: row.claim_once,
        claimed: row.claimed,
        locked: row.failed_attempts >= MAX_FAILED_ATTEMPTS,
        grant: row.grant_digest.into(),
    }
}

/// `POST /v1/matters/{id}/links`: the sharer registers a link: its grant to
/// the link's derived identity, the stanza wrapping the latest version's
/// file key to it, and its limits.
pub async fn create(
    State(state): State<AppState>,
    Path(matter): Path<String>,
    call: Signed<CreateLink>,
) -> Result<Response, ApiError> {
    let matter_id = MatterId::from_bytes(parse_id(&matter)?);
    let access = MatterAccess::load_visible(&state, matter_id, &call.caller.key).await?;
    let now = state.now();
    let body = call.body;
    let grant = parse_grant(&body.grant)
        .map_err(|why| invalid_link(format!("the link's grant is invalid: {why}")))?;
    let record = grant.record();
    if grant.signer() != &call.caller.key {
        return Err(invalid_link(
            "sign the request with the key that signed the link's grant",
        ));
    }
    if record.matter_id() != &matter_id {
        return Err(invalid_link("the link's grant is for another matter"));
    }
    let Scope::Document(document) = *record.scope() else {
        return Err(invalid_link("a link's grant covers exactly one document"));
    };
    if !access.allows(&call.caller.key, Rights::SHARE, Some(&document), now) {
        return Err(ApiError::forbidden(
            "not-allowed",
            "you may not share this document; ask the matter's creator for the share right",
        ));
    }
    if record.rights() != LINK_RIGHTS {
        return Err(invalid_link(
            "a link's grant gives exactly the view and download rights",
        ));
    }
    if body.expires_at <= now || body.expires_at > now.saturating_add(MAX_LINK_LIFETIME_SECS) {
        return Err(invalid_link(format!(
            "a link expires in the future and within {} days; pick another expiry",
            MAX_LINK_LIFETIME_SECS / 86_400
        )));
    }
    if record.validity().not_after() != Some(body.expires_at) {
        return Err(invalid_link(
            "the link's grant must end exactly when the link expires",
        ));
    }
    if body.max_opens == Some(0) {
        return Err(invalid_link(
            "a link opens at least once; leave the limit out for none",
        ));
    }

    // The stanza is the one the grant binds, for the latest version.
    let doc = *document.as_bytes();
    let row = state
        .store(move |s| s.document(&doc))
        .await?
        .filter(|r| r.matter_id == *matter_id.as_bytes())
        .ok_or_else(ApiError::not_found)?;
    let latest = row.versions.last().ok_or_else(ApiError::not_found)?;
    let binding = record.wrapped_key().ok_or_else(|| {
        invalid_link("the link's grant must bind the stanza that wraps the file key to the link")
    })?;
    if binding.version.get() != latest.version {
        return Err(ApiError::conflict(
            "not-latest-version",
            "the link must open the document's latest version; fetch it and make the link again",
        ));
    }
    let stanza = super::x25519_stanza(&body.stanza)
        .ok_or_else(|| invalid_link("the stanza is not a canonical age X25519 stanza"))?;
    if stanza.digest() != binding.stanza_digest.0 {
        return Err(invalid_link(
            "the stanza is not the one the link's grant binds",
        ));
    }

    access
        .verify_arriving(&grant, std::slice::from_ref(&grant), now)
        .map_err(|why| {
            ApiError::forbidden(
                "grant-refused",
                format!("the link's grant confers nothing: {why}"),
            )
        })?;

    let link = NewLink {
        id: *body.link_id,
        matter_id: *matter_id.as_bytes(),
        document_id: doc,
        version: latest.version,
        creator: call.caller.key_bytes(),
        grantee_key: record.grantee().signing.to_bytes(),
        stanza: stanza.to_bytes(),
        created_at: now,
        expires_at: body.expires_at,
        max_opens: body.max_opens,
        passphrase: body.passphrase,
        claim_once: body.claim_once,
    };
    let new_grant = NewGrant {
        digest: grant.digest().0,
        matter_id: *matter_id.as_bytes(),
        grantee: link.grantee_key,
        record: grant.as_bytes().to_vec(),
    };
    let status = LinkStatus {
        link_id: link.id.into(),
        document_id: doc.into(),
        expires_at: link.expires_at,
        max_opens: link.max_opens,
        opens: 0,
        revoked: false,
        passphrase: link.passphrase,
        claim_once: link.claim_once,
        claimed: false,
        locked: false,
        grant: grant.digest().0.into(),
    };
    let mut ev = event(EventKind::LinkCreated, &call.caller, now);
    ev.matter_id = Some(link.matter_id);
    ev.document_id = Some(doc);
    ev.version = Some(link.version);
    ev.subject = Some(new_grant.digest);
    state
        .store(move |s| s.create_link(link, new_grant, ev))
        .await?;
    Ok(cbor(StatusCode::CREATED, &status))
}

/// `GET /v1/matters/{id}/links`: the matter's links, for its creator and
/// for those who may share the documents they open.
pub async fn list(
    State(state): State<AppState>,
    Path(matter): Path<String>,
    SignedEmpty(caller): SignedEmpty,
) -> Result<Response, ApiError> {
    let matter_id = MatterId::from_bytes(parse_id(&matter)?);
    let access = MatterAccess::load_visible(&state, matter_id, &caller.key).await?;
    let id = *matter_id.as_bytes();
    let rows = state.store(move |s| s.links_in(&id)).await?;
    let now = state.now();
    let links = rows
        .iter()
        .filter(|r| {
            access.allows(
                &caller.key,
                Rights::SHARE,
                Some(&DocumentId::from_bytes(r.document_id)),
                now,
            )
        })
        .map(status_of)
        .collect();
    Ok(cbor(StatusCode::OK, &LinkList { links }))
}

/// `GET /v1/links/{id}` (unsigned): whether a live link needs a passphrase
/// and is claim-once — what the page must know before deriving keys.
pub async fn info(
    State(state): State<AppState>,
    Path(link): Path<String>,
) -> Result<Response, ApiError> {
    let id = link_id(&link)?;
    let now = state.now();
    let row = state
        .store(move |s| s.link(&id))
        .await?
        .filter(|r| r.is_live(now))
        .ok_or_else(link_unavailable)?;
    Ok(cbor(
        StatusCode::OK,
        &LinkInfo {
            passphrase: row.passphrase,
            claim_once: row.claim_once,
        },
    ))
}

/// The link's grant, verified with its whole chain at `now` against the
/// matter's current grants and revocations: revoking the sharer's authority
/// stops the link too.
async fn grant_in_force(
    state: &AppState,
    row: &LinkRow,
    now: u64,
) -> Result<(MatterAccess, VerifiedGrant), ApiError> {
    let access = MatterAccess::load(state, MatterId::from_bytes(row.matter_id))
        .await?
        .ok_or_else(link_unavailable)?;
    let grant = access
        .grants
        .iter()
        .find(|g| g.digest().0 == row.grant_digest)
        .ok_or_else(link_unavailable)?;
    let verified = verify_grant_chain(
        &access.matter,
        grant,
        access.grants.as_slice(),
        &access.revocations,
        now,
    )
    .map_err(|why| {
        tracing::debug!(%why, "a link's grant no longer confers authority");
        link_unavailable()
    })?;
    Ok((access, verified))
}

/// The stored version a link opens.
async fn link_version(
    state: &AppState,
    document: [u8; 16],
    version: u32,
) -> Result<VersionRow, ApiError> {
    state
        .store(move |s| s.document(&document))
        .await?
        .and_then(|d| d.versions.into_iter().find(|v| v.version == version))
        .ok_or_else(link_unavailable)
}

/// `POST /v1/links/{id}/open`: signed by the link's key (or by the claim
/// key once claimed). Counts one open, and answers with what the opener
/// needs to verify and decrypt the version, and a download ticket.
pub async fn open(
    State(state): State<AppState>,
    Path(link): Path<String>,
    call: Signed<OpenLink>,
) -> Result<Response, ApiError> {
    let id = link_id(&link)?;
    let claim_key = match call.body.claim_key {
        None => None,
        Some(k) => {
            let key = SigningPublicKey::from_bytes(&k).map_err(|_| {
                ApiError::bad_request("invalid-claim-key", "the claim key is not a valid key")
            })?;
            if key == call.caller.key {
                return Err(ApiError::bad_request(
                    "invalid-claim-key",
                    "claim the link with a fresh key of your own, not the link's key",
                ));
            }
            Some(key.to_bytes())
        }
    };
    let now = state.now();
    let row = state
        .store(move |s| s.link(&id))
        .await?
        .ok_or_else(link_unavailable)?;
    let (access, verified) = grant_in_force(&state, &row, now).await?;

    let mut ticket = [0u8; 16];
    getrandom::fill(&mut ticket).map_err(|e| ApiError::internal(&e))?;
    let attempt = OpenAttempt {
        link_id: id,
        caller: call.caller.key_bytes(),
        claim_key,
        now,
        ticket_hash: Sha256::digest(ticket).into(),
        ticket_lifetime: TICKET_LIFETIME_SECS,
    };
    let ev = event(EventKind::LinkOpened, &call.caller, now);
    let opened = state
        .store(move |s| s.open_link(attempt, ev))
        .await?
        .ok_or_else(link_unavailable)?;

    let version = link_version(&state, opened.link.document_id, opened.link.version).await?;
    let grants = verified
        .chain()
        .iter()
        .filter_map(|d| access.grants.iter().find(|g| g.digest() == *d))
        .map(|g| g.as_bytes().to_vec().into())
        .collect();
    Ok(cbor(
        StatusCode::OK,
        &OpenedLink {
            matter: access.matter.as_bytes().to_vec().into(),
            grants,
            version: VersionView {
                uploader_grants: uploader_grants(&state, &access, &version)?,
                manifest: version.manifest.into(),
                metadata: version.metadata.into(),
                stanza: Some(opened.stanza.into()),
            },
            ticket: ticket.into(),
            opens_left: opened
                .link
                .max_opens
                .map(|max| max.saturating_sub(opened.link.opens)),
        },
    ))
}

/// Parses the query `ticket=<32 lower-case hex digits>`.
fn parse_ticket(query: Option<&str>) -> Result<[u8; 16], ApiError> {
    query
        .and_then(|q| q.strip_prefix("ticket="))
        .and_then(|t| parse_id(t).ok())
        .ok_or_else(|| {
            ApiError::bad_request(
                "malformed-ticket",
                "pass the ticket from opening the link as ?ticket=<32 hex digits>",
            )
        })
}

/// `GET /v1/links/{id}/payload?ticket=…`: signed by the key that opened
/// the link. Streams the version's age payload (HTTP Range honoured)
/// without counting another open, while the ticket lasts and the link is
/// neither revoked nor expired.
pub async fn payload(
    State(state): State<AppState>,
    Path(link): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    SignedEmpty(caller): SignedEmpty,
) -> Result<Response, ApiError> {
    let id = link_id(&link)?;
    let ticket = parse_ticket(query.as_deref())?;
    let ticket_hash: [u8; 32] = Sha256::digest(ticket).into();
    let now = state.now();
    let key = caller.key_bytes();
    let (row, target) = state
        .store(move |s| Ok((s.link(&id)?, s.ticket(&id, &ticket_hash, &key, now)?)))
        .await?;
    let (Some(row), Some(target)) = (row, target) else {
        return Err(link_unavailable());
    };
    grant_in_force(&state, &row, now).await?;
    let version = link_version(&state, target.document_id, target.version).await?;
    let mut ev = event(EventKind::LinkDownloaded, &caller, now);
    ev.matter_id = Some(target.matter_id);
    ev.document_id = Some(target.document_id);
    ev.version = Some(target.version);
    ev.subject = Some(row.grant_digest);
    state.store(move |s| s.record(ev)).await?;
    payload_response(&state, &version, &headers).await
}

/// `DELETE /v1/links/{id}`: the link's creator or the matter's creator
/// revokes it; it opens nothing from the next request on, and its
/// download tickets die with it.
pub async fn revoke(
    State(state): State<AppState>,
    Path(link): Path<String>,
    SignedEmpty(caller): SignedEmpty,
) -> Result<Response, ApiError> {
    let id = parse_id(&link)?;
    let key = caller.key_bytes();
    let ev = event(EventKind::LinkRevoked, &caller, state.now());
    let revoked = state.store(move |s| s.revoke_link(&id, &key, ev)).await?;
    if revoked {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found())
    }
}
