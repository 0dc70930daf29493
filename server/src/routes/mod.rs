//! The API's handlers, one module per concept.

pub mod documents;
pub mod identities;
pub mod links;
pub mod log;
pub mod login;
pub mod matters;
pub mod upload;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lexvault_core::api;
use minicbor::Encode;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::store::{EventKind, NewEvent};

/// Parses a 16-byte id written as 32 lower-case hex digits.
pub fn parse_id(text: &str) -> Result<[u8; 16], ApiError> {
    parse_hex(text)
        .ok_or_else(|| ApiError::bad_request("malformed-id", "an id is 32 lower-case hex digits"))
}

/// Parses a 32-byte key written as 64 lower-case hex digits.
pub fn parse_key(text: &str) -> Result<[u8; 32], ApiError> {
    parse_hex(text)
        .ok_or_else(|| ApiError::bad_request("malformed-key", "a key is 64 lower-case hex digits"))
}

fn parse_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

/// Parses a canonical age X25519 stanza: the only kind a wrapped file key
/// is stored as.
#[must_use]
pub fn x25519_stanza(bytes: &[u8]) -> Option<lexvault_core::age::Stanza> {
    lexvault_core::age::Stanza::parse(bytes)
        .ok()
        .filter(|s| s.tag() == "X25519" && s.to_bytes() == bytes)
}

/// A CBOR answer.
pub fn cbor<T: Encode<()>>(status: StatusCode, message: &T) -> Response {
    let mut response = (status, api::encode(message)).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(api::CBOR));
    response
}

/// The event a caller's request causes, at `at`.
#[must_use]
pub fn event(kind: EventKind, caller: &Caller, at: u64) -> NewEvent {
    NewEvent {
        at,
        kind,
        actor: caller.key_bytes(),
        matter_id: None,
        document_id: None,
        version: None,
        subject: None,
        request: caller.evidence.clone(),
        chain: Some(caller.position),
        receipt: caller.receipt.clone(),
    }
}
