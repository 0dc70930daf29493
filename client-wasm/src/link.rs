//! Share links (spec: `spec/links.md`): the keys derived from the URL
//! fragment (and the passphrase, when the link has one), and verifying the
//! server's answer to an open.

use lexvault_core::api::{self, OpenedLink};
use lexvault_core::keys::SigningSecretKey;
use lexvault_core::link::{LinkKeys, LinkSecret};
use lexvault_core::opening::{OpenedVersion, open_link_answer};
use lexvault_core::secret::SecretString;
use wasm_bindgen::prelude::*;

use crate::payload::DocumentDecryptor;
use crate::signer::Signer;
use crate::{js_error, now};

/// A share link's keys, derived in the browser from the fragment.
#[wasm_bindgen]
pub struct LinkKeyring {
    keys: LinkKeys,
}

#[wasm_bindgen]
impl LinkKeyring {
    /// Derives the link's keys from its fragment (`v1.…`, without `#`)
    /// and, for a link that has one, its passphrase (normalised to NFC by
    /// the caller). Argon2id runs here for a passphrase: 64 MiB, a second
    /// or so.
    ///
    /// # Errors
    /// When the fragment is not a link secret, or the passphrase cannot be
    /// used (empty, too long, or memory for Argon2id is short).
    #[wasm_bindgen(constructor)]
    pub fn new(fragment: &str, passphrase: Option<String>) -> Result<LinkKeyring, JsError> {
        let secret = LinkSecret::from_fragment(fragment).map_err(|e| {
            js_error(format!(
                "the link is incomplete or damaged ({e}); copy the whole link, including the part \
                 after '#'"
            ))
        })?;
        let keys = match passphrase {
            None => secret.derive_keys(),
            Some(p) => secret
                .derive_keys_with_passphrase(&SecretString::new(p))
                .map_err(|e| js_error(format!("the passphrase cannot be used: {e}")))?,
        };
        Ok(Self { keys })
    }

    /// A signer for the link's own key, which opens the link.
    #[must_use]
    pub fn signer(&self) -> Signer {
        Signer::new(SigningSecretKey::from_seed(
            &self.keys.signing_key().to_seed(),
        ))
    }

    /// Verifies the server's answer to `POST /v1/links/{id}/open` (CBOR):
    /// the matter, the link's grant chain, the wrapped key, the manifest,
    /// the key commitment and the metadata, all before a byte is
    /// decrypted.
    ///
    /// # Errors
    /// A verification failure naming what did not verify.
    pub fn open(&self, answer: &[u8]) -> Result<LinkDocument, JsError> {
        let answer: OpenedLink = api::decode(answer)
            .map_err(|e| js_error(format!("the server sent an invalid answer: {e}")))?;
        let (version, _grant) = open_link_answer(&answer, &self.keys, now())
            .map_err(|e| js_error(format!("verification failed: {e}")))?;
        Ok(LinkDocument {
            version,
            ticket: hex::encode(*answer.ticket),
            opens_left: answer.opens_left,
        })
    }
}

/// The document a share link opened, verified.
#[wasm_bindgen]
pub struct LinkDocument {
    version: OpenedVersion,
    ticket: String,
    opens_left: Option<u32>,
}

#[wasm_bindgen]
impl LinkDocument {
    /// The file name the uploader gave.
    #[wasm_bindgen(getter, js_name = fileName)]
    #[must_use]
    pub fn file_name(&self) -> String {
        self.version.metadata.file_name().to_owned()
    }

    /// The MIME type the uploader gave.
    #[wasm_bindgen(getter, js_name = mimeType)]
    #[must_use]
    pub fn mime_type(&self) -> String {
        self.version.metadata.mime_type().to_owned()
    }

    /// The plaintext size in bytes.
    #[wasm_bindgen(getter)]
    #[must_use]
    pub fn size(&self) -> f64 {
        // Sizes stay far below 2^53.
        self.version.metadata.size() as f64
    }

    /// The payload's size in bytes (what the download transfers).
    #[wasm_bindgen(getter, js_name = payloadSize)]
    #[must_use]
    pub fn payload_size(&self) -> f64 {
        self.version.payload_len() as f64
    }

    /// The version number.
    #[wasm_bindgen(getter)]
    #[must_use]
    pub fn version(&self) -> u32 {
        self.version.version().get()
    }

    /// The ticket that fetches the payload without counting another open.
    #[wasm_bindgen(getter)]
    #[must_use]
    pub fn ticket(&self) -> String {
        self.ticket.clone()
    }

    /// Opens left after this one; `undefined` when unlimited.
    #[wasm_bindgen(getter, js_name = opensLeft)]
    #[must_use]
    pub fn opens_left(&self) -> Option<u32> {
        self.opens_left
    }

    /// A decryptor for the payload.
    #[must_use]
    pub fn decryptor(&self) -> DocumentDecryptor {
        DocumentDecryptor::new(self.version.payload_opener())
    }
}
