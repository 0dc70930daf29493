//! # lexvault-client-wasm
//!
//! Thin wasm-bindgen bindings over `lexvault-core` for the browser: the
//! share-link page and the portal call these, and do their own `fetch`.
//! Every check that decides whether to trust what the server served runs
//! in the core, the same code the CLI runs; each binding converts types
//! and errors and calls it.
//!
//! - [`signer`]: signed requests that follow the signer's actor chain.
//! - [`document`]: a verified, opened version, as the pages show it.
//! - [`link`]: share-link keys from the URL fragment, and verifying an open.
//! - [`payload`]: streaming decryption of a verified version's payload,
//!   on the page's thread or one 1 MiB segment per Web Worker.
//! - [`portal`]: password sign-in (OPAQUE) and the signed-in person's
//!   verified matters and documents; their keys stay in wasm.
//! - [`sharing`]: the portal's grants, share links, revocations and
//!   access events, and the key-transparency check before any sharing.
//! - [`upload`]: a new document encrypted in the browser and sealed into
//!   its upload envelope.
//! - [`wire`]: the few plain messages the pages read and write themselves.
//!
//! Errors reach JavaScript as `Error` objects whose message is the core's
//! message: it never carries a secret.

#![forbid(unsafe_code)]

pub mod document;
pub mod link;
pub mod payload;
pub mod portal;
pub mod sharing;
pub mod signer;
pub mod upload;
pub mod wire;

use rand_core::UnwrapErr;
use wasm_bindgen::JsError;

/// The browser's random source.
fn rng() -> UnwrapErr<getrandom::SysRng> {
    UnwrapErr(getrandom::SysRng)
}

/// Seconds since the Unix epoch, by the browser's clock.
fn now() -> u64 {
    // `Date.now()` is milliseconds as an f64; it is never negative here.
    let millis = js_now();
    if millis.is_finite() && millis > 0.0 {
        (millis / 1000.0) as u64
    } else {
        0
    }
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = Date, js_name = now)]
    fn js_now() -> f64;
}

/// An error for JavaScript with `what`'s message.
fn js_error(what: impl core::fmt::Display) -> JsError {
    JsError::new(&what.to_string())
}
