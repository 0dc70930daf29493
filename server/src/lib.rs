//! # lexvault-server
//!
//! The zero-knowledge relay server: it stores and relays only ciphertext,
//! wrapped keys and signed records, verifies every grant chain before
//! storing it, and records every event in an append-only table.

#![forbid(unsafe_code)]

pub mod config;
pub mod serve;
pub mod telemetry;
