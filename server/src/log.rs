//! The transparency log's signing side: the log key, checkpoints and
//! receipts (spec: `spec/log.md`).
//!
//! The store appends every event as a leaf and reports where it landed
//! ([`crate::store::Appended`]); this module signs a checkpoint for that
//! tree size and packs the receipt the call's answer carries.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lexvault_core::api::{self, Receipt};
use lexvault_core::checkpoint::Checkpoint;
use lexvault_core::keys::SigningSecretKey;
use lexvault_core::merkle::Hash;
use lexvault_core::note::NoteSigner;
use lexvault_core::secret::SecretBytes;
use sha2::{Digest as _, Sha256};

use crate::app::AppState;
use crate::store::{Appended, LogStore, ReceiptSlot, StoreError};

/// The log's key and name.
pub struct TransparencyLog {
    signer: NoteSigner,
    origin: String,
}

impl std::fmt::Debug for TransparencyLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransparencyLog")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl TransparencyLog {
    /// Loads the log key from the store, creating it on first use.
    pub fn open(store: &dyn LogStore) -> Result<Self, StoreError> {
        let mut fresh = [0u8; 32];
        getrandom::fill(&mut fresh).map_err(|e| StoreError::Database(e.to_string()))?;
        let mut seed = store.log_key_seed(fresh)?;
        let key = SigningSecretKey::from_seed(&SecretBytes::from_array(&mut seed));
        let digest = Sha256::digest(key.public_key().as_bytes());
        let origin = format!(
            "lexvault/{}",
            hex::encode(digest.get(..8).unwrap_or_default())
        );
        let signer = NoteSigner::new(&origin, key)
            .map_err(|e| StoreError::Database(format!("log key: {e}")))?;
        Ok(Self { signer, origin })
    }

    /// The checkpoint origin: this log's name.
    #[must_use]
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The verifier key string clients pin (`name+hash+key`).
    #[must_use]
    pub fn verifier_key(&self) -> String {
        self.signer.verifier().to_string()
    }

    /// A signed checkpoint (C2SP signed note) for the tree of `size` leaves
    /// with `root`.
    pub fn checkpoint(&self, size: u64, root: Hash) -> Result<String, String> {
        Checkpoint::new(&self.origin, size, root)
            .and_then(|c| c.sign(&self.signer))
            .map_err(|e| e.to_string())
    }

    /// The receipt for an appended entry: the entry, a checkpoint signed
    /// for the tree it was proven in, and the proof.
    pub fn receipt(&self, appended: &Appended) -> Result<Receipt, String> {
        Ok(Receipt {
            index: appended.index,
            entry: appended.entry.clone().into(),
            checkpoint: self
                .checkpoint(appended.size, appended.root)?
                .into_bytes()
                .into(),
            proof: appended.proof.iter().map(|h| (*h).into()).collect(),
        })
    }

    /// [`Self::receipt`] as the `lexvault-receipt` header value.
    pub fn receipt_header(&self, appended: &Appended) -> Result<HeaderValue, String> {
        let receipt = self.receipt(appended)?;
        HeaderValue::try_from(URL_SAFE_NO_PAD.encode(api::encode(&receipt)))
            .map_err(|e| e.to_string())
    }
}

/// Gives each call a receipt slot, and answers a call whose event was
/// appended with its receipt in the `lexvault-receipt` header.
pub async fn attach_receipt(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let slot = ReceiptSlot::default();
    request.extensions_mut().insert(slot.clone());
    let mut response = next.run(request).await;
    let appended = slot
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    if let Some(appended) = appended {
        match state.log.receipt_header(&appended) {
            Ok(value) => {
                response.headers_mut().insert(api::RECEIPT_HEADER, value);
            }
            Err(error) => tracing::error!(%error, "cannot sign a receipt"),
        }
    }
    response
}
