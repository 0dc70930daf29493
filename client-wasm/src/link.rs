//! Share links (spec: `spec/links.md`): the keys derived from the URL
//! fragment (and the passphrase, when the link has one), and verifying the
//! server's answer to an open.

use lexvault_core::api::{self, OpenedLink};
use lexvault_core::keys::SigningSecretKey;
use lexvault_core::link::{LinkKeys, LinkSecret};
use lexvault_core::opening::open_link_answer;
use lexvault_core::secret::SecretString;
use wasm_bindgen::prelude::*;

use crate::document::OpenedDocument;
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
    pub fn open(&self, answer: &[u8]) -> Result<OpenedDocument, JsError> {
        let answer: OpenedLink = api::decode(answer)
            .map_err(|e| js_error(format!("the server sent an invalid answer: {e}")))?;
        let (version, _grant) = open_link_answer(&answer, &self.keys, now())
            .map_err(|e| js_error(format!("verification failed: {e}")))?;
        Ok(OpenedDocument::link(
            version,
            hex::encode(*answer.ticket),
            answer.opens_left,
        ))
    }
}
