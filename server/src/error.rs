//! API errors: a status, a stable machine code and a message for people.
//!
//! Every authentication failure is the one [`ApiError::unauthenticated`];
//! everything a caller may not see is the one [`ApiError::not_found`], so
//! an answer never tells whether a document exists. Internal failures are
//! logged with their detail and answered without it.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lexvault_core::api::{self, ErrorBody};

use crate::store::StoreError;

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The stable machine code.
    pub code: &'static str,
    /// What went wrong and what to do next.
    pub message: Cow<'static, str>,
}

impl ApiError {
    /// An error with its parts.
    pub fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// The one answer for anything missing or not visible to the caller.
    #[must_use]
    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "nothing here, or you may not see it; check the id and ask whoever shared it",
        )
    }

    /// The one answer for every authentication failure.
    #[must_use]
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "authentication-failed",
            "the request could not be authenticated; check your identity and your clock",
        )
    }

    /// A malformed request.
    pub fn bad_request(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// A request that conflicts with what is stored.
    pub fn conflict(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// An action the caller is known but not allowed to take, on something
    /// they may see (otherwise the answer is [`Self::not_found`]).
    pub fn forbidden(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    /// A body of the wrong content type.
    #[must_use]
    pub fn unsupported_media_type(expected: &'static str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            format!("send the body as {expected}"),
        )
    }

    /// A body over the size limit.
    pub fn too_large(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too-large", message)
    }

    /// A failure of the server itself; `detail` is logged, not sent.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed; try again, and tell the firm's IT if it persists",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::AlreadyExists => Self::conflict("already-exists", "that already exists"),
            StoreError::Conflict(why) => Self::conflict("conflict", why),
            StoreError::OutOfSequence => Self::conflict(
                api::OUT_OF_SEQUENCE,
                "this request does not follow your latest log entry (another device or \
                 program of yours went first); fetch your latest entry and sign again",
            ),
            StoreError::Database(detail) => Self::internal(&detail),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = api::encode(&ErrorBody {
            code: self.code.to_owned(),
            message: self.message.into_owned(),
        });
        let mut response = (self.status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(api::CBOR));
        response
    }
}
