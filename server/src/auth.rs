//! Signed-request authentication (spec: `spec/requests.md`).
//!
//! Every call carries a signed request record in the `lexvault-signature`
//! header. The server checks the signature over the exact record bytes,
//! that the record names this method, path, query and body digest, that its
//! timestamp is within the configured window, and that its nonce is new;
//! then it knows the caller's key and keeps the record as the event's
//! evidence. Every failure is answered with the one
//! [`ApiError::unauthenticated`].
//!
//! ## Replay protection without a write per request
//!
//! Nonces live in memory ([`ReplayCache`]) for as long as a request with
//! them could pass the time check. Every request that changes state records
//! an event in the same transaction as the change, with the signed request
//! as evidence; at start the cache is seeded from the evidence of the
//! events of the last window. So after a restart no state-changing request
//! can be replayed either, and the server spends no extra durable write on
//! the nonce. (A replayed read that records nothing re-reads what its
//! signer may read, and its answer goes back over the same connection.)

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Mutex, PoisonError};

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use lexvault_core::api;
use lexvault_core::keys::SigningPublicKey;
use lexvault_core::request::{
    BodyDigest, ChainPosition, RequestTarget, SIGNATURE_HEADER, SignedRequest,
};
use minicbor::{Decode, Encode};

use crate::app::AppState;
use crate::error::ApiError;
use crate::store::ReceiptSlot;

/// An authenticated caller.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The key that signed the request.
    pub key: SigningPublicKey,
    /// The exact signed request record: the evidence kept with the event.
    pub evidence: Vec<u8>,
    /// Where the request stands in the caller's own history.
    pub position: ChainPosition,
    /// Where the store reports the call's log entry, for its receipt.
    pub receipt: Option<ReceiptSlot>,
}

impl Caller {
    /// The caller's key bytes, as stored.
    #[must_use]
    pub fn key_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }
}

/// Authenticates the request whose head is `parts` and whose signed body
/// bytes hash to `body_digest`.
pub async fn authenticate(
    state: &AppState,
    parts: &Parts,
    body_digest: BodyDigest,
) -> Result<Caller, ApiError> {
    let signed = signed_request(&parts.headers)?;
    let arrived = RequestTarget {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        body_digest,
    };
    let now = state.now();
    let window = state.limits.request_window_secs;
    if let Err(why) = signed.check(&arrived, now, window) {
        tracing::debug!(%why, "request refused");
        return Err(ApiError::unauthenticated());
    }
    if !state.replay.remember(&signed, window, now) {
        tracing::debug!("replayed request refused");
        return Err(ApiError::unauthenticated());
    }
    Ok(Caller {
        key: *signed.signer(),
        evidence: signed.as_bytes().to_vec(),
        position: signed.request().position(),
        receipt: parts.extensions.get::<ReceiptSlot>().cloned(),
    })
}

/// The nonces of the requests that could still pass the time check.
#[derive(Debug, Default)]
pub struct ReplayCache {
    seen: Mutex<ReplayState>,
}

#[derive(Debug, Default)]
struct ReplayState {
    /// (signer, nonce) → the first second at which the request is stale.
    expiry: HashMap<([u8; 32], [u8; 16]), u64>,
    next_sweep: u64,
}

impl ReplayCache {
    /// Records `request`'s nonce; `false` if it was recorded before (a
    /// replay). Forgets nonces whose requests have gone stale.
    pub fn remember(&self, request: &SignedRequest, window_secs: u64, now: u64) -> bool {
        let key = (request.signer().to_bytes(), *request.request().nonce());
        let expires_at = request
            .request()
            .timestamp()
            .saturating_add(window_secs)
            .saturating_add(1);
        let mut state = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if now >= state.next_sweep {
            state.expiry.retain(|_, at| *at > now);
            state.next_sweep = now.saturating_add(window_secs.max(1));
        }
        match state.expiry.entry(key) {
            Entry::Occupied(_) => false,
            Entry::Vacant(slot) => {
                slot.insert(expires_at);
                true
            }
        }
    }

    /// Seeds the cache with the stored evidence of recent events.
    pub fn seed(&self, evidence: &[Vec<u8>], window_secs: u64, now: u64) {
        for bytes in evidence {
            if let Ok(request) = SignedRequest::from_evidence(bytes) {
                let _ = self.remember(&request, window_secs, now);
            }
        }
    }
}

/// Parses and verifies the signature header, without the checks that need
/// the request.
pub fn signed_request(headers: &HeaderMap) -> Result<SignedRequest, ApiError> {
    let value = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(ApiError::unauthenticated)?;
    SignedRequest::from_header(value).map_err(|why| {
        tracing::debug!(%why, "request signature refused");
        ApiError::unauthenticated()
    })
}

/// Checks that a body's content type is `expected`.
pub fn require_content_type(headers: &HeaderMap, expected: &'static str) -> Result<(), ApiError> {
    let ok = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case(expected));
    if ok {
        Ok(())
    } else {
        Err(ApiError::unsupported_media_type(expected))
    }
}

/// Reads a whole message body of at most [`api::MAX_MESSAGE_LEN`] bytes.
pub async fn read_message_body(body: Body) -> Result<bytes::Bytes, ApiError> {
    axum::body::to_bytes(body, api::MAX_MESSAGE_LEN)
        .await
        .map_err(|_| {
            ApiError::too_large(format!(
                "the body is over {} bytes, or was cut short",
                api::MAX_MESSAGE_LEN
            ))
        })
}

/// A signed request with a CBOR body of type `T`.
#[derive(Debug)]
pub struct Signed<T> {
    /// Who signed it.
    pub caller: Caller,
    /// The decoded body.
    pub body: T,
}

impl<T> FromRequest<AppState> for Signed<T>
where
    T: for<'b> Decode<'b, ()> + Encode<()> + Send,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        let bytes = read_message_body(body).await?;
        let caller = authenticate(state, &parts, BodyDigest::of(&bytes)).await?;
        require_content_type(&parts.headers, api::CBOR)?;
        let body = api::decode(&bytes).map_err(|why| {
            ApiError::bad_request(
                "malformed-body",
                format!("the body is not a valid message for this call: {why}"),
            )
        })?;
        Ok(Self { caller, body })
    }
}

/// A signed request without a body.
#[derive(Debug)]
pub struct SignedEmpty(pub Caller);

impl FromRequest<AppState> for SignedEmpty {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        let bytes = read_message_body(body).await?;
        let caller = authenticate(state, &parts, BodyDigest::of(&bytes)).await?;
        if !bytes.is_empty() {
            return Err(ApiError::bad_request(
                "unexpected-body",
                "this call takes no body",
            ));
        }
        Ok(Self(caller))
    }
}
