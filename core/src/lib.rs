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
//! ## Example
//!
//! Encrypt a document to a person's age recipient and decrypt it again. The
//! output is a standard age file.
//!
//! ```
//! use std::io::{Read, Write};
//! use lexvault_core::age::{self, Decryptor, Identity, Recipients};
//! use lexvault_core::keys::Identity as Person;
//! use lexvault_core::secret::FileKey;
//! # use rand_core::SeedableRng;
//! # let mut rng = rand_chacha::ChaCha20Rng::from_seed([0; 32]);
//! // Clients pass the OS generator; the core never reads one itself.
//!
//! let client = Person::generate(&mut rng);
//! let recipients = [client.public().encryption];
//!
//! let file_key = FileKey::generate(&mut rng);
//! let mut writer = age::encrypt(&file_key, Recipients::X25519(&recipients), Vec::new(), &mut rng)?;
//! writer.write_all(b"draft settlement agreement")?;
//! let file = writer.finish()?;
//!
//! let mut plaintext = Vec::new();
//! Decryptor::new(&file[..])?
//!     .decrypt(&[Identity::from(client.encryption_key())])?
//!     .read_to_end(&mut plaintext)?;
//! assert_eq!(plaintext, b"draft settlement agreement");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Modules
//!
//! - [`keys`]: Ed25519 and X25519 identity keys, fingerprints, and the
//!   `age1…` / `AGE-SECRET-KEY-1…` encodings; [`key_bundle`]: the
//!   self-signed key bundle that publishes them.
//! - [`age`]: the complete age v1 file format.
//! - [`metadata`], [`manifest`]: a document version's encrypted metadata and
//!   its signed manifest; [`segmented`]: the segmented SHA-256 digest both
//!   use to pin the payload and the plaintext.
//! - [`upload`]: making a new version: the payload sealed as it streams,
//!   and the upload envelope; [`opening`]: checking and opening one.
//! - [`matter`], [`grant`]: matters, grants, revocations and authority chains.
//! - [`sharing`]: grants with wrapped keys, revocations and share links,
//!   assembled and signed for the CLI and the browser alike;
//!   [`transparency`]: checking a key bundle's binding in the access log;
//!   [`events`]: checking a matter's events against their log entries.
//! - [`backup`]: secret keys sealed under a password.
//! - [`link`]: share-link secrets and the keys derived from them.
//! - [`login`]: OPAQUE password login (RFC 9807) for signing in on a new
//!   device.
//! - [`membership`]: the firm administrator's certificates of members.
//! - [`request`]: signed API requests; [`api`]: the server API's message
//!   bodies.
//! - [`codec`], [`signed`], [`domain`]: deterministic CBOR, the signed-record
//!   envelope, and every domain-separation label.
//! - [`secret`]: secret-holding types and the constant-time comparison.
//! - [`merkle`]: RFC 9162 Merkle tree hashing, inclusion and consistency
//!   proofs; [`note`]: C2SP signed notes with Ed25519 note keys;
//!   [`checkpoint`]: C2SP tlog-checkpoint bodies and witness cosignatures
//!   (tlog-cosignature) for the verifiable access log.

#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

/// Defines a 16-byte random identifier newtype (matters, documents,
/// grants): generated from the caller's generator, compared and hashed as
/// bytes, shown in hex.
macro_rules! random_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; 16]);

        impl $name {
            /// Generates a fresh identifier.
            pub fn generate<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> Self {
                let mut id = [0u8; 16];
                rng.fill_bytes(&mut id);
                Self(id)
            }

            /// Wraps identifier bytes.
            #[must_use]
            pub const fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(bytes)
            }

            /// The identifier bytes.
            #[must_use]
            pub const fn as_bytes(&self) -> &[u8; 16] {
                &self.0
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, "{}({})", stringify!($name), crate::keys::hex_lower(&self.0))
            }
        }
    };
}

/// Implements minicbor's `Encode` and `Decode` for a signed record type
/// through its validated wire form (`signed::wire::WireForm`), and
/// `signed::Record` with the record's signature context.
macro_rules! signed_record {
    ($name:ident, $context:expr) => {
        impl minicbor::Encode<()> for $name {
            fn encode<W: minicbor::encode::Write>(
                &self,
                e: &mut minicbor::Encoder<W>,
                ctx: &mut (),
            ) -> Result<(), minicbor::encode::Error<W::Error>> {
                crate::signed::wire::encode(self, e, ctx)
            }
        }

        impl<'b> minicbor::Decode<'b, ()> for $name {
            fn decode(
                d: &mut minicbor::Decoder<'b>,
                ctx: &mut (),
            ) -> Result<Self, minicbor::decode::Error> {
                crate::signed::wire::decode(d, ctx)
            }
        }

        impl crate::signed::Record for $name {
            const CONTEXT: crate::domain::SignatureContext = $context;
        }
    };
}

pub mod actor_chain;
pub mod age;
pub mod api;
pub mod backup;
pub mod binding;
pub mod checkpoint;
pub mod codec;
pub mod domain;
pub mod events;
pub mod grant;
pub mod key_bundle;
pub mod keys;
pub mod link;
pub mod log_entry;
pub mod login;
pub mod manifest;
pub mod matter;
pub mod membership;
pub mod merkle;
pub mod metadata;
pub mod note;
pub mod opening;
pub mod request;
pub mod secret;
pub mod segmented;
pub mod sharing;
pub mod sign_in;
pub mod signed;
pub mod transparency;
pub mod upload;
