//! The access log's read side: checkpoints, entries, proofs, and the
//! auditor's bundle (spec: `spec/log.md` §Server API).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use lexvault_core::api::{ActorHead, LogBundle, LogCheckpoint, LogEntries, LogProof};
use lexvault_core::key_bundle::verify_key_bundle;
use lexvault_core::log_entry::LogEntry;

use super::cbor;
use crate::app::AppState;
use crate::auth::SignedEmpty;
use crate::error::ApiError;
use crate::store::{Appended, StoreError};

/// Most entries one call returns.
pub const MAX_ENTRIES: u64 = 1000;

fn number(query: &HashMap<String, String>, name: &'static str) -> Result<u64, ApiError> {
    let text = query
        .get(name)
        .ok_or_else(|| ApiError::bad_request("missing-parameter", format!("give ?{name}=N")))?;
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text.len() == 1 || !text.starts_with('0'));
    canonical
        .then(|| text.parse().ok())
        .flatten()
        .ok_or_else(|| ApiError::bad_request("malformed-parameter", format!("{name} is a number")))
}

fn out_of_range() -> ApiError {
    ApiError::bad_request(
        "out-of-range",
        "the range is not within the log; fetch the newest checkpoint for its size",
    )
}

/// `GET /v1/log/checkpoint`.
pub async fn checkpoint(
    State(state): State<AppState>,
    SignedEmpty(_caller): SignedEmpty,
) -> Result<Response, ApiError> {
    let (size, root) = state.store(|s| s.log_head()).await?;
    let note = state
        .log
        .checkpoint(size, root)
        .map_err(|e| ApiError::internal(&e))?;
    Ok(cbor(
        StatusCode::OK,
        &LogCheckpoint {
            checkpoint: note.into_bytes().into(),
            verifier_key: state.log.verifier_key(),
        },
    ))
}

/// `GET /v1/log/head`: the caller's newest chained entry, with its
/// inclusion proof in a freshly signed checkpoint, so a device that has not
/// followed the caller's history can sign its next request (spec:
/// `spec/log.md` §Actor chains).
pub async fn head(
    State(state): State<AppState>,
    SignedEmpty(caller): SignedEmpty,
) -> Result<Response, ApiError> {
    let actor = caller.key_bytes();
    let last = state
        .store(move |s| {
            let Some(head) = s.actor_head(&actor)? else {
                return Ok(None);
            };
            let (size, root) = s.log_head()?;
            let entry = s
                .log_entries(head.index, head.index + 1)?
                .pop()
                .ok_or(StoreError::Database("an actor's head has no leaf".into()))?;
            let proof = s.log_inclusion_proof(head.index, size)?;
            Ok(Some(Appended {
                index: head.index,
                entry,
                size,
                root,
                proof,
            }))
        })
        .await?;
    let last = last
        .map(|appended| state.log.receipt(&appended))
        .transpose()
        .map_err(|e| ApiError::internal(&e))?;
    Ok(cbor(StatusCode::OK, &ActorHead { last }))
}

/// The entries `start..end` for the administrator (entries name who did
/// what: the firm's administrator audits them, not every party).
async fn entries_range(
    state: &AppState,
    caller: &crate::auth::Caller,
    query: &HashMap<String, String>,
) -> Result<(u64, Vec<Vec<u8>>), ApiError> {
    let admin = state.store(|s| s.administrator()).await?;
    let is_admin = admin
        .and_then(|b| verify_key_bundle(&b).ok())
        .is_some_and(|b| b.identity().signing == caller.key);
    if !is_admin {
        return Err(ApiError::forbidden(
            "not-administrator",
            "the log's entries are for the firm's administrator and auditors",
        ));
    }
    let start = number(query, "start")?;
    let end = number(query, "end")?;
    let (size, _) = state.store(|s| s.log_head()).await?;
    if start > end || end > size || end - start > MAX_ENTRIES {
        return Err(out_of_range());
    }
    let entries = state.store(move |s| s.log_entries(start, end)).await?;
    Ok((start, entries))
}

/// `GET /v1/log/entries?start=S&end=E` (administrator).
pub async fn entries(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    SignedEmpty(caller): SignedEmpty,
) -> Result<Response, ApiError> {
    let (_, entries) = entries_range(&state, &caller, &query).await?;
    Ok(cbor(
        StatusCode::OK,
        &LogEntries {
            entries: entries.into_iter().map(Into::into).collect(),
        },
    ))
}

/// `GET /v1/log/bundle?start=S&end=E` (administrator): entries with the
/// signed records their subjects name.
pub async fn bundle(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    SignedEmpty(caller): SignedEmpty,
) -> Result<Response, ApiError> {
    let (_, entries) = entries_range(&state, &caller, &query).await?;
    let mut digests = Vec::new();
    for bytes in &entries {
        let entry = LogEntry::from_bytes(bytes).map_err(|e| ApiError::internal(&e))?;
        if let Some(subject) = entry.subject {
            digests.push(*subject);
        }
    }
    let records = state
        .store(move |s| s.records_with_digests(&digests))
        .await?;
    Ok(cbor(
        StatusCode::OK,
        &LogBundle {
            entries: entries.into_iter().map(Into::into).collect(),
            records: records.into_iter().map(Into::into).collect(),
        },
    ))
}

/// `GET /v1/log/inclusion?index=I&size=N`.
pub async fn inclusion(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    SignedEmpty(_caller): SignedEmpty,
) -> Result<Response, ApiError> {
    let index = number(&query, "index")?;
    let size = number(&query, "size")?;
    let (head, _) = state.store(|s| s.log_head()).await?;
    if index >= size || size > head {
        return Err(out_of_range());
    }
    let proof = state
        .store(move |s| s.log_inclusion_proof(index, size))
        .await?;
    Ok(cbor(
        StatusCode::OK,
        &LogProof {
            hashes: proof.into_iter().map(Into::into).collect(),
        },
    ))
}

/// `GET /v1/log/consistency?from=M&to=N`.
pub async fn consistency(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    SignedEmpty(_caller): SignedEmpty,
) -> Result<Response, ApiError> {
    let from = number(&query, "from")?;
    let to = number(&query, "to")?;
    let (head, _) = state.store(|s| s.log_head()).await?;
    if from == 0 || from > to || to > head {
        return Err(out_of_range());
    }
    let proof = state
        .store(move |s| s.log_consistency_proof(from, to))
        .await?;
    Ok(cbor(
        StatusCode::OK,
        &LogProof {
            hashes: proof.into_iter().map(Into::into).collect(),
        },
    ))
}
