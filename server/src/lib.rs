//! # lexvault-server
//!
//! The zero-knowledge relay server: it will store and relay only ciphertext,
//! wrapped keys and signed records (axum over rusqlite, with storage behind
//! narrow traits), verify every grant chain before storing it, and keep the
//! append-only access log. Nothing is implemented yet; see the project's
//! issues for the server milestone.

#![forbid(unsafe_code)]
