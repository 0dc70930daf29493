//! Matters: creating and listing them, their grants, revocations and
//! events.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use lexvault_core::api::{
    AddGrant, CreateMatter, EventList, EventView, GrantList, MatterList, Revoke,
};
use lexvault_core::grant::{Rights, Scope, parse_grant, parse_revocation, verify_revocation};
use lexvault_core::key_bundle::verify_key_bundle;
use lexvault_core::log_entry::LogEntry;
use lexvault_core::matter::{MatterId, verify_matter};
use lexvault_core::membership::verify_member_certificate;

use super::{cbor, event, parse_id};
use crate::access::MatterAccess;
use crate::app::AppState;
use crate::auth::{Caller, Signed, SignedEmpty};
use crate::error::ApiError;
use crate::store::{EventKind, NewGrant};

/// `POST /v1/matters`: a certified member creates a matter.
pub async fn create(
    State(state): State<AppState>,
    call: Signed<CreateMatter>,
) -> Result<Response, ApiError> {
    let matter = verify_matter(&call.body.matter).map_err(|why| {
        ApiError::bad_request(
            "invalid-matter",
            format!("the matter record is invalid: {why}"),
        )
    })?;
    if matter.creator() != &call.caller.key {
        return Err(ApiError::bad_request(
            "not-your-matter",
            "sign the matter record with your own key",
        ));
    }
    require_member(&state, &call.caller).await?;
    let id = *matter.id().as_bytes();
    let creator = call.caller.key_bytes();
    let record = matter.as_bytes().to_vec();
    let mut ev = event(EventKind::MatterCreated, &call.caller, state.now());
    ev.matter_id = Some(id);
    ev.subject = Some(matter.digest().0);
    state
        .store(move |s| s.create_matter(&id, &creator, &record, ev))
        .await?;
    Ok(cbor(
        StatusCode::CREATED,
        &MatterList {
            matters: vec![matter.as_bytes().to_vec().into()],
        },
    ))
}

/// Checks that the caller is a member of staff the administrator certified.
async fn require_member(state: &AppState, caller: &Caller) -> Result<(), ApiError> {
    let key = caller.key_bytes();
    let (admin, identity) = state
        .store(move |s| Ok((s.administrator()?, s.identity(&key)?)))
        .await?;
    let not_member = || {
        ApiError::forbidden(
            "not-a-member",
            "only members certified by the firm's administrator create matters; ask them to \
             certify you",
        )
    };
    let admin = admin
        .and_then(|b| verify_key_bundle(&b).ok())
        .ok_or_else(not_member)?;
    let identity = identity.ok_or_else(not_member)?;
    let bundle = verify_key_bundle(&identity.bundle).map_err(|e| ApiError::internal(&e))?;
    if admin.identity().signing == caller.key {
        return Ok(());
    }
    let certificate = identity.certificate.ok_or_else(not_member)?;
    verify_member_certificate(&certificate, &admin.identity().signing, &bundle)
        .map_err(|_| not_member())?;
    Ok(())
}

/// `GET /v1/matters`: the matters the caller created or holds a grant in
/// force in.
pub async fn list(
    State(state): State<AppState>,
    SignedEmpty(caller): SignedEmpty,
) -> Result<Response, ApiError> {
    let key = caller.key_bytes();
    let records = state.store(move |s| s.matters_for(&key)).await?;
    let now = state.now();
    let mut matters = Vec::new();
    for record in records {
        let matter = verify_matter(&record).map_err(|e| ApiError::internal(&e))?;
        let Some(access) = MatterAccess::load(&state, *matter.id()).await? else {
            continue;
        };
        if access.is_visible_to(&caller.key, now) {
            matters.push(record.into());
        }
    }
    Ok(cbor(StatusCode::OK, &MatterList { matters }))
}

/// `GET /v1/matters/{id}/grants`: the matter's grants and revocations; all
/// of them for its creator and those who may share across the matter, the
/// caller's own chains otherwise.
pub async fn grants(
    State(state): State<AppState>,
    Path(matter): Path<String>,
    SignedEmpty(caller): SignedEmpty,
) -> Result<Response, ApiError> {
    let id = MatterId::from_bytes(parse_id(&matter)?);
    let access = MatterAccess::load_visible(&state, id, &caller.key).await?;
    let now = state.now();
    let grants = if access.allows(&caller.key, Rights::SHARE, None, now) {
        access
            .grants
            .iter()
            .map(|g| g.as_bytes().to_vec().into())
            .collect()
    } else {
        access
            .chains_of(&caller.key, now)
            .into_iter()
            .map(Into::into)
            .collect()
    };
    Ok(cbor(
        StatusCode::OK,
        &GrantList {
            matter: access.matter.as_bytes().to_vec().into(),
            grants,
            revocations: access.revocation_bytes(),
        },
    ))
}

/// `POST /v1/matters/{id}/grants`: store a grant whose chain verifies now,
/// signed by the caller, with the stanza it binds.
pub async fn add_grant(
    State(state): State<AppState>,
    Path(matter): Path<String>,
    call: Signed<AddGrant>,
) -> Result<Response, ApiError> {
    let id = MatterId::from_bytes(parse_id(&matter)?);
    let access = MatterAccess::load_visible(&state, id, &call.caller.key).await?;
    let grant = parse_grant(&call.body.grant).map_err(|why| {
        ApiError::bad_request("invalid-grant", format!("the grant is invalid: {why}"))
    })?;
    if grant.record().matter_id() != &id {
        return Err(ApiError::bad_request(
            "wrong-matter",
            "the grant is for another matter",
        ));
    }
    if grant.signer() != &call.caller.key {
        return Err(ApiError::bad_request(
            "not-your-grant",
            "sign the request with the key that signed the grant",
        ));
    }
    let now = state.now();
    access
        .verify_arriving(&grant, std::slice::from_ref(&grant), now)
        .map_err(|why| {
            ApiError::forbidden("grant-refused", format!("the grant confers nothing: {why}"))
        })?;
    let stanza = bound_stanza(
        &state,
        &grant,
        call.body.stanza.as_ref().map(|s| s.as_slice()),
    )
    .await?;

    let record = grant.record();
    let mut ev = event(EventKind::Granted, &call.caller, now);
    ev.matter_id = Some(*id.as_bytes());
    ev.subject = Some(grant.digest().0);
    if let Scope::Document(d) = record.scope() {
        ev.document_id = Some(*d.as_bytes());
    }
    ev.version = record.wrapped_key().map(|w| w.version.get());
    let new = NewGrant {
        digest: grant.digest().0,
        matter_id: *id.as_bytes(),
        grantee: record.grantee().signing.to_bytes(),
        record: grant.as_bytes().to_vec(),
    };
    state.store(move |s| s.add_grant(new, stanza, ev)).await?;
    Ok(cbor(
        StatusCode::CREATED,
        &GrantList {
            matter: access.matter.as_bytes().to_vec().into(),
            grants: vec![grant.as_bytes().to_vec().into()],
            revocations: Vec::new(),
        },
    ))
}

/// Checks the stanza that comes with a grant against the grant's
/// wrapped-key binding: (document, version, stanza bytes) to store.
pub(crate) async fn bound_stanza(
    state: &AppState,
    grant: &lexvault_core::signed::Signed<lexvault_core::grant::Grant>,
    stanza: Option<&[u8]>,
) -> Result<Option<([u8; 16], u32, Vec<u8>)>, ApiError> {
    let record = grant.record();
    match (record.wrapped_key(), record.scope(), stanza) {
        (None, _, None) => Ok(None),
        (None, _, Some(_)) => Err(ApiError::bad_request(
            "unbound-stanza",
            "a stanza comes only with a grant that binds it",
        )),
        (Some(_), _, None) => Err(ApiError::bad_request(
            "missing-stanza",
            "the grant binds a stanza; send it with the grant",
        )),
        (Some(binding), Scope::Document(document), Some(bytes)) => {
            let parsed = super::x25519_stanza(bytes).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid-stanza",
                    "the stanza is not a canonical age X25519 stanza",
                )
            })?;
            if parsed.digest() != binding.stanza_digest.0 {
                return Err(ApiError::bad_request(
                    "stanza-mismatch",
                    "the stanza is not the one the grant binds",
                ));
            }
            let doc = *document.as_bytes();
            let version = binding.version.get();
            let row = state.store(move |s| s.document(&doc)).await?;
            let exists = row.is_some_and(|r| {
                r.matter_id == *record.matter_id().as_bytes()
                    && r.versions.iter().any(|v| v.version == version)
            });
            if !exists {
                return Err(ApiError::not_found());
            }
            Ok(Some((doc, version, parsed.to_bytes())))
        }
        // Parsing refuses a binding without a single document.
        (Some(_), Scope::Matter, Some(_)) => Err(ApiError::bad_request(
            "unbound-stanza",
            "a whole-matter grant cannot bind a stanza",
        )),
    }
}

/// `POST /v1/matters/{id}/revocations`: revoke a grant, by its grantor, anyone
/// up its chain, or the matter's creator.
pub async fn revoke(
    State(state): State<AppState>,
    Path(matter): Path<String>,
    call: Signed<Revoke>,
) -> Result<Response, ApiError> {
    let id = MatterId::from_bytes(parse_id(&matter)?);
    let access = MatterAccess::load_visible(&state, id, &call.caller.key).await?;
    let revocation = parse_revocation(&call.body.revocation).map_err(|why| {
        ApiError::bad_request(
            "invalid-revocation",
            format!("the revocation is invalid: {why}"),
        )
    })?;
    if revocation.signer() != &call.caller.key {
        return Err(ApiError::bad_request(
            "not-your-revocation",
            "sign the request with the key that signed the revocation",
        ));
    }
    verify_revocation(&access.matter, &revocation, access.grants.as_slice()).map_err(|why| {
        ApiError::forbidden(
            "revocation-refused",
            format!("the revocation is refused: {why}"),
        )
    })?;
    let revoked = access
        .grants
        .iter()
        .find(|g| g.digest() == *revocation.record().revoked());
    let mut ev = event(EventKind::Revoked, &call.caller, state.now());
    ev.matter_id = Some(*id.as_bytes());
    ev.subject = Some(revocation.digest().0);
    if let Some(Scope::Document(d)) = revoked.map(|g| g.record().scope()) {
        ev.document_id = Some(*d.as_bytes());
    }
    let digest = revocation.digest().0;
    let bytes = revocation.as_bytes().to_vec();
    let matter_id = *id.as_bytes();
    state
        .store(move |s| s.add_revocation(&matter_id, &digest, &bytes, ev))
        .await?;
    Ok(cbor(
        StatusCode::CREATED,
        &GrantList {
            matter: access.matter.as_bytes().to_vec().into(),
            grants: Vec::new(),
            revocations: vec![revocation.as_bytes().to_vec().into()],
        },
    ))
}

/// `GET /v1/matters/{id}/events`: the matter's events, for its creator and
/// those who may share across it.
pub async fn events(
    State(state): State<AppState>,
    Path(matter): Path<String>,
    SignedEmpty(caller): SignedEmpty,
) -> Result<Response, ApiError> {
    let id = MatterId::from_bytes(parse_id(&matter)?);
    let access = MatterAccess::load_visible(&state, id, &caller.key).await?;
    if !access.allows(&caller.key, Rights::SHARE, None, state.now()) {
        return Err(ApiError::forbidden(
            "not-allowed",
            "only the matter's creator and those who may share across it see its events",
        ));
    }
    let matter_id = *id.as_bytes();
    let entries = state
        .store(move |s| s.events_for_matter(&matter_id))
        .await?;
    let events = entries
        .into_iter()
        .map(|bytes| {
            let entry = LogEntry::from_bytes(&bytes).map_err(|e| ApiError::internal(&e))?;
            Ok(EventView {
                seq: entry.index.saturating_add(1),
                at: entry.at,
                kind: entry.kind,
                actor: entry.actor,
                document_id: entry.document_id,
                version: entry.document_version,
                request: entry.evidence,
                subject: entry.subject,
                entry: bytes.into(),
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(cbor(StatusCode::OK, &EventList { events }))
}
