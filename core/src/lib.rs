//! # lexvault-core
//!
//! The client crypto core of lexvault, an end-to-end encrypted document
//! vault. Everything that touches a key or a plaintext lives here, and
//! nothing here does I/O: functions take byte slices, `Read`/`Write` and
//! caller buffers, randomness is an argument (`rand_core::CryptoRng`), and
//! time is an argument. The same code runs natively in the CLI and server and
//! as WebAssembly in the browser.
//!
//! The normative description of every format is in the repository's `spec/`
//! directory; items here cite the section they implement.
//!
//! ## Modules
//!
//! - [`keys`]: Ed25519 and X25519 identity keys, fingerprints, and the
//!   `age1…` / `AGE-SECRET-KEY-1…` encodings.
//! - [`age`]: the complete age v1 file format.
//! - [`codec`], [`signed`], [`domain`]: deterministic CBOR, the signed-record
//!   envelope, and every domain-separation label.
//! - [`secret`]: secret-holding types and the constant-time comparison.

#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod codec;
pub mod domain;
pub mod keys;
pub mod secret;
pub mod signed;
