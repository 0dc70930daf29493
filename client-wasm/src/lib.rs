//! # lexvault-client-wasm
//!
//! Thin wasm-bindgen bindings over `lexvault-core` for the browser: chunked
//! decryption and encryption, stanza unwrapping, manifest and grant
//! verification, link key derivation and sealed-key unlock. Each binding
//! will be one to three lines that call the core. Nothing is bound yet; see
//! the project's issues for the browser milestone.

#![forbid(unsafe_code)]
