//! The portal (spec: `spec/api.md` §Browser pages): signing in with the
//! password through OPAQUE (spec: `spec/login.md` §API), and the signed-in
//! person's verified view of their matters and documents.
//!
//! The identity recovered from the key backup stays inside this module's
//! [`Session`]: JavaScript holds only a handle, signs through it and hands
//! it what the server answered; no secret key is ever returned to it.

use lexvault_core::api::{
    self, DocumentList, GrantList, LoginChallenge, LoginFinish, LoginStart, MatterList,
};
use lexvault_core::key_bundle::VerifiedKeyBundle;
use lexvault_core::keys::{Identity, SigningSecretKey};
use lexvault_core::login::{ClientLogin, CredentialResponse, LoginError};
use lexvault_core::matter::verify_matter;
use lexvault_core::opening::{OpenError, open_listed_document, verify_grant_list};
use lexvault_core::secret::SecretString;
use lexvault_core::sign_in::{self, LOGIN_FAILED};
use wasm_bindgen::prelude::*;

use crate::document::OpenedDocument;
use crate::signer::Signer;
use crate::{js_error, rng};

/// The one failed-login message, for the page to recognise and show.
#[wasm_bindgen(js_name = loginFailedMessage)]
#[must_use]
pub fn login_failed_message() -> String {
    LOGIN_FAILED.to_owned()
}

fn login_failed() -> JsError {
    js_error(LOGIN_FAILED)
}

/// One sign-in attempt: the OPAQUE client state and the password, held
/// here between the two calls and dropped (zeroised) with the attempt.
#[wasm_bindgen]
pub struct LoginAttempt {
    name: String,
    password: SecretString,
    state: Option<ClientLogin>,
    request: Vec<u8>,
}

#[wasm_bindgen]
impl LoginAttempt {
    /// Starts signing in as `login_name` with `password` (normalised to
    /// NFC by the page). A name that breaks the login-name rule, or a
    /// password of the wrong length, fails with the one login-failed
    /// message, like a wrong password.
    ///
    /// # Errors
    /// The login-failed message.
    #[wasm_bindgen(constructor)]
    pub fn new(login_name: &str, password: String) -> Result<LoginAttempt, JsError> {
        let name = sign_in::normalize_login_name(login_name).map_err(|_| login_failed())?;
        let password = SecretString::new(password);
        let (state, request) =
            ClientLogin::start(&password, &mut rng()).map_err(|_| login_failed())?;
        Ok(Self {
            name,
            password,
            state: Some(state),
            request: request.to_bytes().to_vec(),
        })
    }

    /// The body of `POST /v1/login/start` (CBOR).
    #[wasm_bindgen(js_name = startBody)]
    #[must_use]
    pub fn start_body(&self) -> Vec<u8> {
        api::encode(&LoginStart {
            login_name: self.name.clone(),
            request: self.request.clone().into(),
        })
    }

    /// Opens the server's challenge (the answer to `login/start`, CBOR)
    /// and returns the body of `POST /v1/login/finish`. A wrong password or
    /// an unknown name fails here, before anything more is sent. Argon2id
    /// runs here (19 MiB).
    ///
    /// # Errors
    /// The login-failed message; a malformed challenge is a server problem.
    pub fn finish(&mut self, challenge: &[u8]) -> Result<Vec<u8>, JsError> {
        let state = self.state.take().ok_or_else(login_failed)?;
        let challenge: LoginChallenge = api::decode(challenge)
            .map_err(|e| js_error(format!("the server sent an invalid answer: {e}")))?;
        let response = CredentialResponse::from_bytes(&challenge.response)
            .map_err(|e| js_error(format!("the server sent an invalid answer: {e}")))?;
        let (finalization, _session_key) =
            state
                .finish(&self.password, &response)
                .map_err(|e| match e {
                    LoginError::Malformed => {
                        js_error("the server sent an invalid answer: login message is malformed")
                    }
                    _ => login_failed(),
                })?;
        Ok(api::encode(&LoginFinish {
            attempt: challenge.attempt,
            finalization: finalization.to_bytes().to_vec().into(),
        }))
    }

    /// Opens what the login released (the answer to `login/finish`, CBOR):
    /// the sealed backup under the password, accepted only with the key
    /// bundle self-signed by the recovered identity. Argon2id runs here at
    /// the backup's parameters.
    ///
    /// # Errors
    /// A verification failure when the release does not belong together.
    pub fn open(&self, released: &[u8]) -> Result<Session, JsError> {
        let released = api::decode(released)
            .map_err(|e| js_error(format!("the server sent an invalid answer: {e}")))?;
        let (identity, bundle) = sign_in::recover_identity(&released, &self.password)
            .map_err(|e| js_error(format!("verification failed: {e}")))?;
        Ok(Session::new(identity, bundle))
    }
}

/// A signed-in person. Their secret keys never leave this object.
#[wasm_bindgen]
pub struct Session {
    pub(crate) identity: Identity,
    bundle: VerifiedKeyBundle,
    signer: Signer,
}

impl Session {
    fn new(identity: Identity, bundle: VerifiedKeyBundle) -> Self {
        let signer = Signer::new(SigningSecretKey::from_seed(
            &identity.signing_key().to_seed(),
        ));
        Self {
            identity,
            bundle,
            signer,
        }
    }
}

fn invalid_answer(e: impl core::fmt::Display) -> JsError {
    js_error(format!("the server sent an invalid answer: {e}"))
}

fn failed(e: OpenError) -> JsError {
    match e {
        e @ OpenError::NotShared => js_error(e),
        e => js_error(format!("verification failed: {e}")),
    }
}

#[wasm_bindgen]
impl Session {
    /// The display name in the person's own key bundle.
    #[wasm_bindgen(getter, js_name = displayName)]
    #[must_use]
    pub fn display_name(&self) -> String {
        self.bundle.bundle().display_name().to_owned()
    }

    /// The identity's fingerprint, as people compare it.
    #[wasm_bindgen(getter)]
    #[must_use]
    pub fn fingerprint(&self) -> String {
        self.bundle.fingerprint().to_string()
    }

    /// The signing key, as lower-case hex.
    #[wasm_bindgen(getter, js_name = publicKey)]
    #[must_use]
    pub fn public_key(&self) -> String {
        self.signer.public_key()
    }

    /// The `lexvault-signature` header for a request (see [`Signer::sign`]).
    ///
    /// # Errors
    /// When the request cannot be signed.
    pub fn sign(
        &mut self,
        method: &str,
        path_and_query: &str,
        body: &[u8],
    ) -> Result<String, JsError> {
        self.signer.sign(method, path_and_query, body)
    }

    /// The header for `GET /v1/log/head` (see [`Signer::sign_head`]).
    ///
    /// # Errors
    /// When the request cannot be signed.
    #[wasm_bindgen(js_name = signHead)]
    pub fn sign_head(&self) -> Result<String, JsError> {
        self.signer.sign_head()
    }

    /// Follows a receipt (see [`Signer::follow_receipt`]).
    #[wasm_bindgen(js_name = followReceipt)]
    pub fn follow_receipt(&mut self, header: &str) {
        self.signer.follow_receipt(header);
    }

    /// Takes the person's head (see [`Signer::follow_head`]).
    ///
    /// # Errors
    /// When the head is not theirs, or behind where they stand.
    #[wasm_bindgen(js_name = followHead)]
    pub fn follow_head(&mut self, answer: &[u8]) -> Result<(), JsError> {
        self.signer.follow_head(answer)
    }

    /// Verifies `GET /v1/matters` (CBOR): every matter record's signature.
    ///
    /// # Errors
    /// When an answer or a record does not verify.
    pub fn matters(&self, answer: &[u8]) -> Result<Vec<PortalMatter>, JsError> {
        let list: MatterList = api::decode(answer).map_err(invalid_answer)?;
        let me = self.identity.public().signing;
        list.matters
            .iter()
            .map(|m| {
                let matter =
                    verify_matter(m).map_err(|e| js_error(format!("verification failed: {e}")))?;
                Ok(PortalMatter {
                    id: hex::encode(matter.id().as_bytes()),
                    created_at: matter.record().created_at() as f64,
                    mine: matter.creator() == &me,
                })
            })
            .collect()
    }

    /// Verifies a matter's documents: `documents` answers `GET
    /// /v1/matters/{id}/documents` and `grants` answers `GET
    /// /v1/matters/{id}/grants` (CBOR). The matter record, every grant and
    /// revocation, each latest manifest and its uploader's authority, and
    /// the wrapped key and metadata are checked, as the CLI checks them.
    ///
    /// # Errors
    /// When `matter_id` is not the served matter's, or anything does not
    /// verify.
    pub fn documents(
        &self,
        matter_id: &str,
        documents: &[u8],
        grants: &[u8],
    ) -> Result<Vec<OpenedDocument>, JsError> {
        let grants: GrantList = api::decode(grants).map_err(invalid_answer)?;
        let list: DocumentList = api::decode(documents).map_err(invalid_answer)?;
        let (matter, grants, revocations) = verify_grant_list(&grants).map_err(failed)?;
        if hex::encode(matter.id().as_bytes()) != matter_id {
            return Err(js_error(
                "verification failed: the server served another matter's record",
            ));
        }
        list.documents
            .iter()
            .map(|listed| {
                open_listed_document(&matter, &grants, &revocations, listed, &self.identity)
                    .map(OpenedDocument::party)
                    .map_err(failed)
            })
            .collect()
    }
}

/// A matter the signed-in person may see, its record verified.
#[wasm_bindgen(getter_with_clone)]
pub struct PortalMatter {
    /// The matter id, as lower-case hex.
    pub id: String,
    /// When the matter was created, in seconds since the Unix epoch.
    #[wasm_bindgen(js_name = createdAt)]
    pub created_at: f64,
    /// Whether the signed-in person created it.
    pub mine: bool,
}
