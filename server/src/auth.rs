//! Signed-request authentication (spec: `spec/requests.md`).
//!
//! Every call carries a signed request record in the `lexvault-signature`
//! header. The server checks the signature over the exact record bytes,
//! that the record names this method, path, query and body digest, that its
//! timestamp is within the configured window, and that its nonce is new;
//! then it knows the caller's key and keeps the record as the event's
//! evidence. Every failure is answered with the one
//! [`ApiError::unauthenticated`].

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use lexvault_core::api;
use lexvault_core::keys::SigningPublicKey;
use lexvault_core::request::{BodyDigest, RequestTarget, SIGNATURE_HEADER, SignedRequest};
use minicbor::{Decode, Encode};

use crate::app::AppState;
use crate::error::ApiError;

/// An authenticated caller.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The key that signed the request.
    pub key: SigningPublicKey,
    /// The exact signed request record: the evidence kept with the event.
    pub evidence: Vec<u8>,
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
    let signer = signed.signer().to_bytes();
    let nonce = *signed.request().nonce();
    let expires_at = signed.request().timestamp().saturating_add(window + 1);
    let fresh = state
        .store(move |s| s.remember_nonce(&signer, &nonce, expires_at, now))
        .await?;
    if !fresh {
        tracing::debug!("replayed request refused");
        return Err(ApiError::unauthenticated());
    }
    Ok(Caller {
        key: *signed.signer(),
        evidence: signed.as_bytes().to_vec(),
    })
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
