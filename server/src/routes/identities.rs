//! Identities: publishing key bundles, looking them up, the administrator
//! and member certificates.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use lexvault_core::api::{
    BindingProofs, CertifyMember, IdentityInfo, IdentityList, LogInclusion, RegisterIdentity,
};
use lexvault_core::binding::login_name_subject;
use lexvault_core::key_bundle::{MAX_DISPLAY_NAME_LEN, verify_key_bundle};
use lexvault_core::membership::verify_member_certificate;
use lexvault_core::merkle::Hash;
use lexvault_core::signed::RecordDigest;

use super::login::normalize_login_name;
use super::{cbor, event, parse_key};
use crate::app::AppState;
use crate::auth::{Signed, SignedEmpty};
use crate::error::ApiError;
use crate::store::{
    DigestBytes, EventKind, IdentityRow, KeyBytes, MetadataStore, StoreError, StoreResult,
};

/// The most identities a name lookup answers with.
const MAX_NAMED: usize = 100;

/// `GET /v1/admin`: the firm administrator's key bundle.
pub async fn administrator(
    State(state): State<AppState>,
    SignedEmpty(_caller): SignedEmpty,
) -> Result<Response, ApiError> {
    let bundle = state
        .store(|s| s.administrator())
        .await?
        .ok_or_else(ApiError::not_found)?;
    let key = verify_key_bundle(&bundle)
        .map_err(|e| ApiError::internal(&format!("the stored administrator bundle: {e}")))?
        .identity()
        .signing
        .to_bytes();
    let row = IdentityRow {
        bundle,
        certificate: None,
    };
    let info = with_proofs(&state, vec![(key, row)], None)
        .await?
        .pop()
        .ok_or_else(ApiError::not_found)?;
    Ok(cbor(StatusCode::OK, &info))
}

/// `POST /v1/identities`: publish the caller's own key bundle.
pub async fn register(
    State(state): State<AppState>,
    call: Signed<RegisterIdentity>,
) -> Result<Response, ApiError> {
    let bundle = verify_key_bundle(&call.body.bundle).map_err(|why| {
        ApiError::bad_request(
            "invalid-key-bundle",
            format!("the key bundle is invalid: {why}"),
        )
    })?;
    if bundle.identity().signing != call.caller.key {
        return Err(ApiError::bad_request(
            "not-your-bundle",
            "sign the registration with the key the bundle publishes",
        ));
    }
    let key = call.caller.key_bytes();
    let bytes = bundle.as_bytes().to_vec();
    let mut ev = event(EventKind::Registered, &call.caller, state.now());
    ev.subject = Some(bundle.digest().0);
    state
        .store(move |s| s.register_identity(&key, &bytes, ev))
        .await?;
    Ok(cbor(
        StatusCode::CREATED,
        &IdentityInfo {
            bundle: bundle.as_bytes().to_vec().into(),
            certificate: None,
            bindings: None,
        },
    ))
}

/// `GET /v1/identities/{key}`: a published identity.
pub async fn lookup(
    State(state): State<AppState>,
    Path(key): Path<String>,
    SignedEmpty(_caller): SignedEmpty,
) -> Result<Response, ApiError> {
    let key = parse_key(&key)?;
    let row = state
        .store(move |s| s.identity(&key))
        .await?
        .ok_or_else(ApiError::not_found)?;
    let info = with_proofs(&state, vec![(key, row)], None)
        .await?
        .pop()
        .ok_or_else(ApiError::not_found)?;
    Ok(cbor(StatusCode::OK, &info))
}

/// `GET /v1/identities?display-name=NAME` or `?login-name=NAME`: every
/// published identity whose bundle carries exactly that display name, or
/// the identity holding that login name, each with its binding proofs.
pub async fn by_name(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    SignedEmpty(_caller): SignedEmpty,
) -> Result<Response, ApiError> {
    let unexpected = || {
        ApiError::bad_request(
            "malformed-query",
            "look identities up with exactly one of display-name or login-name",
        )
    };
    if query.len() != 1 {
        return Err(unexpected());
    }
    let (rows, login) = if let Some(name) = query.get("display-name") {
        if name.is_empty() || name.len() > MAX_DISPLAY_NAME_LEN {
            return Err(ApiError::bad_request(
                "invalid-display-name",
                format!("a display name is 1 to {MAX_DISPLAY_NAME_LEN} bytes"),
            ));
        }
        let name = name.clone();
        let rows = state.store(move |s| s.identities_named(&name)).await?;
        (rows, None)
    } else if let Some(name) = query.get("login-name") {
        let name = normalize_login_name(name)?;
        let subject = login_name_subject(&name);
        let rows = state
            .store(move |s| {
                let Some(owner) = s.login_owner(&name)? else {
                    return Ok(Vec::new());
                };
                Ok(s.identity(&owner)?
                    .map(|row| (owner, row))
                    .into_iter()
                    .collect())
            })
            .await?;
        (rows, Some(subject))
    } else {
        return Err(unexpected());
    };
    let mut rows = rows;
    rows.truncate(MAX_NAMED);
    let identities = with_proofs(&state, rows, login).await?;
    Ok(cbor(StatusCode::OK, &IdentityList { identities }))
}

/// Where the entries binding one identity sit in the log.
struct Found {
    registration: LogInclusion,
    certification: Option<LogInclusion>,
    login: Option<LogInclusion>,
}

/// The identities, each with the entries that bind it, proven against one
/// checkpoint of the current tree. An identity whose registration entry
/// the log lacks is served without proofs: clients refuse to rely on it.
async fn with_proofs(
    state: &AppState,
    rows: Vec<(KeyBytes, IdentityRow)>,
    login: Option<DigestBytes>,
) -> Result<Vec<IdentityInfo>, ApiError> {
    let (size, root, found) = state
        .store(move |s| {
            let (size, root) = s.log_head()?;
            let found = rows
                .into_iter()
                .map(|(key, row)| {
                    let found = find_bindings(s, size, &key, &row, login.as_ref())?;
                    Ok((row, found))
                })
                .collect::<StoreResult<Vec<_>>>()?;
            Ok((size, root, found))
        })
        .await?;
    let checkpoint = checkpoint(state, size, root)?;
    Ok(found
        .into_iter()
        .map(|(row, found)| IdentityInfo {
            bundle: row.bundle.into(),
            certificate: row.certificate.map(Into::into),
            bindings: found.map(|f| BindingProofs {
                checkpoint: checkpoint.clone().into_bytes().into(),
                registration: f.registration,
                certification: f.certification,
                login: f.login,
            }),
        })
        .collect())
}

fn checkpoint(state: &AppState, size: u64, root: Hash) -> Result<String, ApiError> {
    state
        .log
        .checkpoint(size, root)
        .map_err(|e| ApiError::internal(&e))
}

fn find_bindings(
    s: &dyn MetadataStore,
    size: u64,
    key: &KeyBytes,
    row: &IdentityRow,
    login: Option<&DigestBytes>,
) -> StoreResult<Option<Found>> {
    let within = |leaf: Option<u64>| leaf.filter(|i| *i < size);
    let digest = RecordDigest::of(&row.bundle).0;
    let registration = match within(s.binding_leaf(EventKind::Registered, key, &digest)?) {
        Some(i) => Some(i),
        None => within(s.binding_leaf(EventKind::AdministratorSet, key, &digest)?),
    };
    let Some(registration) = registration else {
        tracing::warn!("an identity has no registration entry in the log");
        return Ok(None);
    };
    let certification = match &row.certificate {
        Some(certificate) => {
            let admin = s
                .administrator()?
                .and_then(|b| verify_key_bundle(&b).ok())
                .map(|b| b.identity().signing.to_bytes());
            match admin {
                Some(admin) => within(s.binding_leaf(
                    EventKind::Certified,
                    &admin,
                    &RecordDigest::of(certificate).0,
                )?),
                None => None,
            }
        }
        None => None,
    };
    let login = match login {
        Some(subject) => within(s.binding_leaf(EventKind::PasswordSet, key, subject)?),
        None => None,
    };
    let inclusion = |index: u64| -> StoreResult<LogInclusion> {
        let entry = s
            .log_entries(index, index + 1)?
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::Database("a log leaf is missing".into()))?;
        let proof = s.log_inclusion_proof(index, size)?;
        Ok(LogInclusion {
            index,
            entry: entry.into(),
            proof: proof.into_iter().map(Into::into).collect(),
        })
    };
    Ok(Some(Found {
        registration: inclusion(registration)?,
        certification: certification.map(inclusion).transpose()?,
        login: login.map(inclusion).transpose()?,
    }))
}

/// `POST /v1/identities/{key}/certificate`: the administrator certifies a
/// registered member.
pub async fn certify(
    State(state): State<AppState>,
    Path(key): Path<String>,
    call: Signed<CertifyMember>,
) -> Result<Response, ApiError> {
    let key = parse_key(&key)?;
    let (admin, member) = state
        .store(move |s| Ok((s.administrator()?, s.identity(&key)?)))
        .await?;
    let admin = admin
        .and_then(|b| verify_key_bundle(&b).ok())
        .ok_or_else(|| {
            ApiError::conflict(
                "no-administrator",
                "the firm has no administrator yet; run `lexvault-server init-admin`",
            )
        })?;
    if admin.identity().signing != call.caller.key {
        return Err(ApiError::forbidden(
            "not-administrator",
            "only the firm's administrator certifies members",
        ));
    }
    let member = member
        .and_then(|m| verify_key_bundle(&m.bundle).ok())
        .ok_or_else(ApiError::not_found)?;
    let certificate =
        verify_member_certificate(&call.body.certificate, &admin.identity().signing, &member)
            .map_err(|why| {
                ApiError::bad_request(
                    "invalid-certificate",
                    format!("the member certificate is invalid: {why}"),
                )
            })?;
    let bytes = certificate.as_bytes().to_vec();
    let mut ev = event(EventKind::Certified, &call.caller, state.now());
    ev.subject = Some(certificate.digest().0);
    state.store(move |s| s.certify(&key, &bytes, ev)).await?;
    Ok(cbor(
        StatusCode::OK,
        &IdentityInfo {
            bundle: member.as_bytes().to_vec().into(),
            certificate: Some(certificate.as_bytes().to_vec().into()),
            bindings: None,
        },
    ))
}
