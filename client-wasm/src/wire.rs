//! The few CBOR messages the pages read or write themselves (spec:
//! `spec/api.md`): error answers, a link's public state, and the body of
//! an open. Records that need verifying never pass through here; they go
//! to [`crate::link`] whole.

use lexvault_core::api::{self, ErrorBody, LinkInfo, OpenLink};
use wasm_bindgen::prelude::*;

use crate::js_error;

/// An error answer's stable code and message.
#[wasm_bindgen(getter_with_clone)]
pub struct ServerError {
    /// The stable machine code, such as `link-unavailable`.
    pub code: String,
    /// What went wrong and what to do next, for people.
    pub message: String,
}

/// Decodes an error answer; `undefined` when the body is not one.
#[wasm_bindgen(js_name = decodeError)]
#[must_use]
pub fn decode_error(body: &[u8]) -> Option<ServerError> {
    api::decode::<ErrorBody>(body).ok().map(|e| ServerError {
        code: e.code,
        message: e.message,
    })
}

/// A link's public state (`GET /v1/links/{id}`).
#[wasm_bindgen]
pub struct LinkState {
    passphrase: bool,
    claim_once: bool,
}

#[wasm_bindgen]
impl LinkState {
    /// Decodes the answer.
    ///
    /// # Errors
    /// When it is not a link's state.
    #[wasm_bindgen(constructor)]
    pub fn new(body: &[u8]) -> Result<LinkState, JsError> {
        let info: LinkInfo = api::decode(body)
            .map_err(|e| js_error(format!("the server sent an invalid answer: {e}")))?;
        Ok(Self {
            passphrase: info.passphrase,
            claim_once: info.claim_once,
        })
    }

    /// Whether the link needs a passphrase.
    #[wasm_bindgen(getter)]
    #[must_use]
    pub fn passphrase(&self) -> bool {
        self.passphrase
    }

    /// Whether the first browser to open the link claims it.
    #[wasm_bindgen(getter, js_name = claimOnce)]
    #[must_use]
    pub fn claim_once(&self) -> bool {
        self.claim_once
    }
}

/// The body of `POST /v1/links/{id}/open`: `claim_key` (hex) claims a
/// claim-once link for the browser that keeps that key.
///
/// # Errors
/// When `claim_key` is not 32 bytes of hex.
#[wasm_bindgen(js_name = openLinkBody)]
pub fn open_link_body(claim_key: Option<String>) -> Result<Vec<u8>, JsError> {
    let claim_key = claim_key
        .map(|k| {
            let bytes: [u8; 32] = hex::decode(k)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| js_error("a claim key is 32 bytes of hex"))?;
            Ok::<_, JsError>(bytes.into())
        })
        .transpose()?;
    Ok(api::encode(&OpenLink { claim_key }))
}
