//! Signed requests (spec: `spec/requests.md`) that follow the signer's
//! actor chain (spec: `spec/log.md` §Actor chains) the way the CLI's client
//! does: the position moves on with each receipt for a request this signer
//! sent, and after a `409 out-of-sequence` the page fetches the signer's
//! head (`GET /v1/log/head`, signed by [`Signer::sign_head`]) and hands it
//! to [`Signer::follow_head`], which refuses a head the signer did not sign
//! or one behind where it already stands.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lexvault_core::actor_chain::{position_after_head, position_after_receipt};
use lexvault_core::api::{self, ActorHead, Receipt};
use lexvault_core::keys::SigningSecretKey;
use lexvault_core::request::{BodyDigest, ChainPosition, RequestTarget, SignedRequest};
use lexvault_core::secret::SecretBytes;
use wasm_bindgen::prelude::*;

use crate::{js_error, now, rng};

/// One Ed25519 key that signs requests, and where its chain stands.
#[wasm_bindgen]
pub struct Signer {
    key: SigningSecretKey,
    position: Option<ChainPosition>,
    sent: Vec<SignedRequest>,
}

/// How many signed requests a signer remembers while their answers (and
/// receipts) are outstanding.
const OUTSTANDING: usize = 16;

impl Signer {
    pub(crate) fn new(key: SigningSecretKey) -> Self {
        Self {
            key,
            position: None,
            sent: Vec::new(),
        }
    }

    fn sign_at(
        &self,
        method: &str,
        path_and_query: &str,
        digest: BodyDigest,
        position: ChainPosition,
    ) -> Result<SignedRequest, JsError> {
        let target = RequestTarget::new(method, path_and_query, digest);
        SignedRequest::sign(target, position, &self.key, now(), &mut rng()).map_err(js_error)
    }
}

#[wasm_bindgen]
impl Signer {
    /// A new random key: what a browser keeps to claim a claim-once link.
    #[wasm_bindgen(js_name = generate)]
    pub fn generate() -> Signer {
        Self::new(SigningSecretKey::generate(&mut rng()))
    }

    /// The key with this 32-byte seed (as [`Self::seed`] gave it).
    #[wasm_bindgen(js_name = fromSeed)]
    pub fn from_seed(seed: &[u8]) -> Result<Signer, JsError> {
        let seed = SecretBytes::<32>::try_from_slice(seed)
            .ok_or_else(|| js_error("a signing key seed is 32 bytes"))?;
        Ok(Self::new(SigningSecretKey::from_seed(&seed)))
    }

    /// The key's 32-byte seed, for the browser to keep.
    #[must_use]
    pub fn seed(&self) -> Vec<u8> {
        self.key.to_seed().expose_secret().to_vec()
    }

    /// The public key, as lower-case hex.
    #[wasm_bindgen(getter, js_name = publicKey)]
    #[must_use]
    pub fn public_key(&self) -> String {
        hex::encode(self.key.public_key().to_bytes())
    }

    /// The `lexvault-signature` header value for `method` on
    /// `path_and_query` with `body`, at the signer's position.
    pub fn sign(
        &mut self,
        method: &str,
        path_and_query: &str,
        body: &[u8],
    ) -> Result<String, JsError> {
        let position = self.position.unwrap_or(ChainPosition::FIRST);
        let signed = self.sign_at(method, path_and_query, BodyDigest::of(body), position)?;
        let header = signed.header_value();
        if self.sent.len() == OUTSTANDING {
            self.sent.remove(0);
        }
        self.sent.push(signed);
        Ok(header)
    }

    /// The header for `GET /v1/log/head`, which records nothing.
    #[wasm_bindgen(js_name = signHead)]
    pub fn sign_head(&self) -> Result<String, JsError> {
        let position = self.position.unwrap_or(ChainPosition::FIRST);
        self.sign_at("GET", "/v1/log/head", BodyDigest::empty(), position)
            .map(|s| s.header_value())
    }

    /// Moves the chain past the entry a `lexvault-receipt` header names, if
    /// that entry is one of this signer's requests. Anything else is
    /// ignored: receipts are the log monitor's business, not the chain's.
    #[wasm_bindgen(js_name = followReceipt)]
    pub fn follow_receipt(&mut self, header: &str) {
        let Some(receipt) = URL_SAFE_NO_PAD
            .decode(header)
            .ok()
            .and_then(|bytes| api::decode::<Receipt>(&bytes).ok())
        else {
            return;
        };
        let found = self
            .sent
            .iter()
            .enumerate()
            .find_map(|(i, sent)| position_after_receipt(sent, &receipt).map(|p| (i, p)));
        if let Some((i, next)) = found {
            self.position = Some(next);
            self.sent.swap_remove(i);
        }
    }

    /// Takes the signer's head as `GET /v1/log/head` answered it (CBOR).
    ///
    /// # Errors
    /// When the head is not an entry this key signed, or is behind, or
    /// beside, where this signer already stands: the server lost or
    /// replaced the signer's entries.
    #[wasm_bindgen(js_name = followHead)]
    pub fn follow_head(&mut self, answer: &[u8]) -> Result<(), JsError> {
        let head: ActorHead = api::decode(answer)
            .map_err(|e| js_error(format!("the server sent an invalid answer: {e}")))?;
        let next = position_after_head(&self.key.public_key(), &head, self.position)
            .map_err(|e| js_error(format!("verification failed: {e}")))?;
        self.position = Some(next);
        Ok(())
    }
}
