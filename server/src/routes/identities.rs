//! Identities: publishing key bundles, looking them up, the administrator
//! and member certificates.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use lexvault_core::api::{CertifyMember, IdentityInfo, RegisterIdentity};
use lexvault_core::key_bundle::verify_key_bundle;
use lexvault_core::membership::verify_member_certificate;

use super::{cbor, event, parse_key};
use crate::app::AppState;
use crate::auth::{Signed, SignedEmpty};
use crate::error::ApiError;
use crate::store::EventKind;

/// `GET /v1/admin`: the firm administrator's key bundle.
pub async fn administrator(
    State(state): State<AppState>,
    SignedEmpty(_caller): SignedEmpty,
) -> Result<Response, ApiError> {
    let bundle = state
        .store(|s| s.administrator())
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(cbor(
        StatusCode::OK,
        &IdentityInfo {
            bundle: bundle.into(),
            certificate: None,
        },
    ))
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
    let ev = event(EventKind::Registered, &call.caller, state.now());
    state
        .store(move |s| s.register_identity(&key, &bytes, ev))
        .await?;
    Ok(cbor(
        StatusCode::CREATED,
        &IdentityInfo {
            bundle: bundle.as_bytes().to_vec().into(),
            certificate: None,
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
    Ok(cbor(
        StatusCode::OK,
        &IdentityInfo {
            bundle: row.bundle.into(),
            certificate: row.certificate.map(Into::into),
        },
    ))
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
        },
    ))
}
