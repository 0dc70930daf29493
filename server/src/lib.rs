//! # lexvault-server
//!
//! The zero-knowledge relay server: it stores and relays only ciphertext,
//! wrapped keys and signed records, verifies every grant chain before
//! storing it, and records every event in an append-only table.
//!
//! - [`app`]: shared state and the routes; [`routes`]: the handlers.
//! - [`auth`]: signed-request authentication; [`access`]: who may see what.
//! - [`store`]: storage behind narrow traits (SQLite and a blob directory).
//! - [`admin`]: the init step that names the firm's administrator.
//! - [`log`]: the transparency log's key, checkpoints and receipts.
//! - [`config`], [`serve`], [`telemetry`]: settings, the listener (with
//!   optional TLS) and logging.

#![forbid(unsafe_code)]

pub mod access;
pub mod admin;
pub mod app;
pub mod auth;
pub mod config;
pub mod error;
pub mod log;
pub mod routes;
pub mod serve;
pub mod store;
pub mod telemetry;
pub mod web;
