//! The HTTP transport: signed requests to a lexvault server and its CBOR
//! answers (spec: `spec/api.md`, `spec/requests.md`).
//!
//! This layer signs and sends; it trusts nothing it receives. Verifying the
//! records inside the answers is [`crate::vault`]'s job.
//!
//! Every signed request carries the signer's position in its own history
//! (spec: `spec/log.md` §Actor chains). The client follows each signer's
//! chain from the receipts of its recorded calls. When it does not know
//! where a chain stands (a new device, a new process) or another device of
//! the same signer went first, the server refuses the recorded call with
//! `409 out-of-sequence`; the client then fetches the signer's head
//! (`GET /v1/log/head`), checks that it is an entry the signer signed and
//! never behind what this client has seen itself, and signs again. A
//! streamed upload, which cannot be sent twice, fetches the head first.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lexvault_core::actor_chain::{self, HeadError};
use lexvault_core::api::{self, ActorHead, ErrorBody, Receipt};
use lexvault_core::keys::{SigningPublicKey, SigningSecretKey};
use lexvault_core::request::{
    BodyDigest, ChainPosition, RequestTarget, SIGNATURE_HEADER, SignedRequest,
};
use minicbor::{Decode, Encode};
use rand_core::UnwrapErr;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error.
    #[error("{message} ({code}, HTTP {status})")]
    Api {
        /// HTTP status.
        status: u16,
        /// The server's stable error code.
        code: String,
        /// The server's message.
        message: String,
    },
    /// The server could not be reached, or the connection failed.
    #[error("cannot reach the server: {0}; check the server address and that it is running")]
    Transport(String),
    /// The server's answer is not what the protocol says.
    #[error("the server sent an invalid answer: {0}")]
    Protocol(String),
    /// A record the server served failed verification: the server, or
    /// someone in between, is not behaving honestly. Nothing was trusted.
    #[error("verification failed: {0}; the server may have been tampered with")]
    Verification(String),
    /// A local file could not be read or written.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Something the caller asked for is not possible.
    #[error("{0}")]
    Invalid(String),
}

impl ClientError {
    /// The server's error code, for an [`Self::Api`] error.
    #[must_use]
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status, for an [`Self::Api`] error.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A shorthand for client results.
pub type ClientResult<T> = Result<T, ClientError>;

/// The operating system's random generator.
pub fn os_rng() -> UnwrapErr<getrandom::SysRng> {
    UnwrapErr(getrandom::SysRng)
}

/// The local clock, in Unix seconds.
#[must_use]
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A body being downloaded.
pub struct Download {
    /// HTTP status: 200 for the whole payload, 206 for a range.
    pub status: u16,
    /// Bytes in this answer.
    pub len: Option<u64>,
    /// The bytes.
    pub body: Box<dyn Read + Send>,
}

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download")
            .field("status", &self.status)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// A connection to one lexvault server.
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    base: String,
    /// Receipts the server sent (header `lexvault-receipt`, decoded from
    /// base64url; empty when undecodable), in arrival order, for the log
    /// monitor to verify.
    receipts: Arc<Mutex<Vec<Vec<u8>>>>,
    /// For each signing key used: the position its next recorded request
    /// takes.
    chains: Arc<Mutex<HashMap<[u8; 32], ChainPosition>>>,
    /// The keys whose position in `chains` this client learned from the
    /// server (a receipt or the head), rather than was handed
    /// ([`Self::hold_position`]: a saved place another device may have
    /// moved past).
    learned: Arc<Mutex<HashSet<[u8; 32]>>>,
}

type HttpResponse = ureq::http::Response<ureq::Body>;

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("base", &self.base).finish()
    }
}

impl Client {
    /// A client of the server at `base_url` (`http://host:port` or
    /// `https://…`, without a path).
    pub fn new(base_url: &str) -> ClientResult<Self> {
        let base = base_url.trim_end_matches('/');
        let rest = base
            .strip_prefix("http://")
            .or_else(|| base.strip_prefix("https://"));
        if rest.is_none_or(|r| r.is_empty() || r.contains(['/', '?', '#'])) {
            return Err(ClientError::Invalid(format!(
                "'{base_url}' is not a server address; use http://host:port or https://host"
            )));
        }
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .max_idle_connections_per_host(64)
            .build();
        Ok(Self {
            agent: ureq::Agent::new_with_config(config),
            base: base.to_owned(),
            receipts: Arc::default(),
            chains: Arc::default(),
            learned: Arc::default(),
        })
    }

    /// The server address.
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Takes the receipts received since the last call, oldest first.
    #[must_use]
    pub fn take_receipts(&self) -> Vec<Vec<u8>> {
        std::mem::take(&mut *self.receipts.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn keep_receipt(&self, bytes: Vec<u8>) {
        self.receipts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(bytes);
    }

    fn chains(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], ChainPosition>> {
        self.chains.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps the receipt of the answer to `sent`, if it has one, for the log
    /// monitor, and moves the signer's chain past the entry it names when
    /// that entry is `sent`'s.
    fn follow_receipt(&self, sent: &SignedRequest, response: &HttpResponse) {
        let Some(value) = response.headers().get(api::RECEIPT_HEADER) else {
            return;
        };
        let bytes = value
            .to_str()
            .ok()
            .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
            .unwrap_or_default();
        let next = api::decode::<Receipt>(&bytes)
            .ok()
            .and_then(|r| actor_chain::position_after_receipt(sent, &r));
        if let Some(next) = next {
            self.chains().insert(sent.signer().to_bytes(), next);
            self.learned().insert(sent.signer().to_bytes());
        }
        self.keep_receipt(bytes);
    }

    /// The position this client holds for `key`'s next recorded request,
    /// if it knows one.
    #[must_use]
    pub fn held_position(&self, key: &SigningPublicKey) -> Option<ChainPosition> {
        self.chains().get(&key.to_bytes()).copied()
    }

    /// Holds `position` for `key`'s next recorded request: what a device
    /// that saved its place (or a test) starts from. The server refusing
    /// it makes the client catch up, never go back.
    pub fn hold_position(&self, key: &SigningPublicKey, position: ChainPosition) {
        self.chains().insert(key.to_bytes(), position);
        self.learned().remove(&key.to_bytes());
    }

    fn learned(&self) -> std::sync::MutexGuard<'_, HashSet<[u8; 32]>> {
        self.learned.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Where `key`'s next recorded request goes, asking the server the
    /// first time.
    fn position(&self, key: &SigningSecretKey) -> ClientResult<ChainPosition> {
        let known = self.chains().get(&key.public_key().to_bytes()).copied();
        match known {
            Some(position) => Ok(position),
            None => self.sync_chain(key),
        }
    }

    /// Fetches `key`'s head from the server and takes the position after
    /// it, after checking that the head is an entry `key` signed and is not
    /// behind, or beside, the position this client already holds. The
    /// head's receipt goes to the log monitor like any other.
    pub fn sync_chain(&self, key: &SigningSecretKey) -> ClientResult<ChainPosition> {
        let me = key.public_key();
        let held = self.chains().get(&me.to_bytes()).copied();
        // The head call records nothing, so the position it is signed at
        // is never checked.
        let signed = Self::sign_request(
            "GET",
            "/v1/log/head",
            BodyDigest::empty(),
            held.unwrap_or(ChainPosition::FIRST),
            key,
        )?;
        let response = self
            .agent
            .get(self.url("/v1/log/head"))
            .header(SIGNATURE_HEADER, signed.header_value())
            .call()
            .map_err(transport)?;
        let head: ActorHead = read_answer(check_status(response)?)?;
        let next = actor_chain::position_after_head(&me, &head, held);
        // A head that is ours goes to the log monitor, even one behind us.
        if let (Ok(_) | Err(HeadError::Behind { .. }), Some(receipt)) = (&next, &head.last) {
            self.keep_receipt(api::encode(receipt));
        }
        let next = next.map_err(|e| verification(e.to_string()))?;
        self.chains().insert(me.to_bytes(), next);
        self.learned().insert(me.to_bytes());
        Ok(next)
    }

    /// Signs a request for `method` on `path_and_query` with a body hashing
    /// to `digest`, at `position` in the signer's chain.
    pub fn sign_request(
        method: &str,
        path_and_query: &str,
        digest: BodyDigest,
        position: ChainPosition,
        key: &SigningSecretKey,
    ) -> ClientResult<SignedRequest> {
        let target = RequestTarget::new(method, path_and_query, digest);
        SignedRequest::sign(target, position, key, now(), &mut os_rng())
            .map_err(|e| ClientError::Invalid(format!("cannot sign the request: {e}")))
    }

    /// [`Self::sign_request`]'s header value.
    pub fn sign(
        method: &str,
        path_and_query: &str,
        digest: BodyDigest,
        position: ChainPosition,
        key: &SigningSecretKey,
    ) -> ClientResult<String> {
        Self::sign_request(method, path_and_query, digest, position, key).map(|s| s.header_value())
    }

    /// Signs a request at `key`'s current position, sends it with `send`
    /// (given the signature header's value), keeps its receipt and turns an
    /// error answer into [`ClientError::Api`]. When another device of the
    /// same signer went first, it catches up with the signer's head and,
    /// if `retry` allows (the body can be sent again), signs and sends once
    /// more.
    fn send_signed(
        &self,
        key: &SigningSecretKey,
        method: &str,
        path_and_query: &str,
        digest: BodyDigest,
        retry: bool,
        mut send: impl FnMut(&str) -> Result<HttpResponse, ureq::Error>,
    ) -> ClientResult<HttpResponse> {
        let mut attempts = if retry { 2 } else { 1 };
        loop {
            attempts -= 1;
            // A call that can be sent again learns an unknown head from the
            // server's refusal, if the call is recorded at all; one that
            // cannot asks first.
            let position = if retry {
                self.chains()
                    .get(&key.public_key().to_bytes())
                    .copied()
                    .unwrap_or(ChainPosition::FIRST)
            } else {
                self.position(key)?
            };
            let signed = Self::sign_request(method, path_and_query, digest, position, key)?;
            let response = send(&signed.header_value()).map_err(transport)?;
            self.follow_receipt(&signed, &response);
            match check_status(response) {
                Err(e) if e.code() == Some(api::OUT_OF_SEQUENCE) => {
                    self.sync_chain(key)?;
                    if attempts == 0 {
                        return Err(e);
                    }
                }
                other => return other,
            }
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET path`, signed by `key`, answered with a CBOR `T`.
    pub fn get<T>(&self, key: &SigningSecretKey, path: &str) -> ClientResult<T>
    where
        T: for<'b> Decode<'b, ()> + Encode<()>,
    {
        let url = self.url(path);
        let response =
            self.send_signed(key, "GET", path, BodyDigest::empty(), true, |signature| {
                self.agent
                    .get(&url)
                    .header(SIGNATURE_HEADER, signature)
                    .call()
            })?;
        read_answer(response)
    }

    /// `GET path` without a signature (the calls that precede having keys).
    pub fn get_unsigned<T>(&self, path: &str) -> ClientResult<T>
    where
        T: for<'b> Decode<'b, ()> + Encode<()>,
    {
        let response = self.agent.get(self.url(path)).call().map_err(transport)?;
        read_answer(check_status(response)?)
    }

    /// `POST path` with a CBOR body, signed by `key`, answered with a CBOR
    /// `T`.
    pub fn post<B, T>(&self, key: &SigningSecretKey, path: &str, body: &B) -> ClientResult<T>
    where
        B: Encode<()>,
        T: for<'b> Decode<'b, ()> + Encode<()>,
    {
        let response = self.post_signed(key, path, body)?;
        read_answer(response)
    }

    fn post_signed<B: Encode<()>>(
        &self,
        key: &SigningSecretKey,
        path: &str,
        body: &B,
    ) -> ClientResult<HttpResponse> {
        let bytes = api::encode(body);
        let url = self.url(path);
        self.send_signed(
            key,
            "POST",
            path,
            BodyDigest::of(&bytes),
            true,
            |signature| {
                self.agent
                    .post(&url)
                    .header(SIGNATURE_HEADER, signature)
                    .header("content-type", api::CBOR)
                    .send(&bytes[..])
            },
        )
    }

    /// `POST path` with a CBOR body, signed by `key`, answered with no body.
    pub fn post_empty_answer<B: Encode<()>>(
        &self,
        key: &SigningSecretKey,
        path: &str,
        body: &B,
    ) -> ClientResult<()> {
        self.post_signed(key, path, body).map(|_| ())
    }

    /// `DELETE path`, signed by `key`, answered with no body.
    pub fn delete(&self, key: &SigningSecretKey, path: &str) -> ClientResult<()> {
        let url = self.url(path);
        self.send_signed(
            key,
            "DELETE",
            path,
            BodyDigest::empty(),
            true,
            |signature| {
                self.agent
                    .delete(&url)
                    .header(SIGNATURE_HEADER, signature)
                    .call()
            },
        )
        .map(|_| ())
    }

    /// `POST path` with a CBOR body and no signature.
    pub fn post_unsigned<B, T>(&self, path: &str, body: &B) -> ClientResult<T>
    where
        B: Encode<()>,
        T: for<'b> Decode<'b, ()> + Encode<()>,
    {
        let bytes = api::encode(body);
        let response = self
            .agent
            .post(self.url(path))
            .header("content-type", api::CBOR)
            .send(&bytes[..])
            .map_err(transport)?;
        read_answer(check_status(response)?)
    }

    /// Streams an upload: the envelope's length, the envelope, then
    /// `payload` (spec: `spec/api.md` §Upload). The signature covers the
    /// envelope.
    pub fn upload<T>(
        &self,
        key: &SigningSecretKey,
        path: &str,
        envelope: &[u8],
        payload: impl Read,
        payload_len: u64,
    ) -> ClientResult<T>
    where
        T: for<'b> Decode<'b, ()> + Encode<()>,
    {
        let envelope_len = u32::try_from(envelope.len())
            .map_err(|_| ClientError::Invalid("the upload envelope is too large".into()))?;
        let head = [&envelope_len.to_be_bytes()[..], envelope].concat();
        let total = head.len() as u64 + payload_len;
        let mut body = Some(std::io::Cursor::new(head).chain(payload));
        let url = self.url(path);
        // A streamed payload cannot be sent twice: no retry. And a server
        // that refuses it as out of sequence does so before reading it,
        // which a client still sending sees only as a broken connection:
        // a position saved by an earlier run (another device may have gone
        // on since) is checked first.
        if !self.learned().contains(&key.public_key().to_bytes()) {
            self.sync_chain(key)?;
        }
        let response = self.send_signed(
            key,
            "POST",
            path,
            BodyDigest::of(envelope),
            false,
            |signature| {
                let mut body = body.take().ok_or(ureq::Error::ConnectionFailed)?;
                self.agent
                    .post(&url)
                    .header(SIGNATURE_HEADER, signature)
                    .header("content-type", api::UPLOAD)
                    .header("content-length", total.to_string())
                    .send(ureq::SendBody::from_reader(&mut body))
            },
        )?;
        read_answer(response)
    }

    /// `GET path` for a payload, signed by `key`, from byte `offset` on.
    pub fn download(
        &self,
        key: &SigningSecretKey,
        path: &str,
        offset: u64,
    ) -> ClientResult<Download> {
        let url = self.url(path);
        let response =
            self.send_signed(key, "GET", path, BodyDigest::empty(), true, |signature| {
                let mut request = self.agent.get(&url).header(SIGNATURE_HEADER, signature);
                if offset > 0 {
                    request = request.header("range", format!("bytes={offset}-"));
                }
                request.call()
            })?;
        let status = response.status().as_u16();
        if offset > 0 && status != 206 {
            return Err(ClientError::Protocol(
                "the server ignored the range of a resumed download".into(),
            ));
        }
        let len = response
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        Ok(Download {
            status,
            len,
            body: Box::new(response.into_body().into_reader()),
        })
    }
}

fn verification(why: impl Into<String>) -> ClientError {
    ClientError::Verification(why.into())
}

fn transport(e: ureq::Error) -> ClientError {
    ClientError::Transport(e.to_string())
}

fn check_status(
    mut response: ureq::http::Response<ureq::Body>,
) -> ClientResult<ureq::http::Response<ureq::Body>> {
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(response);
    }
    let bytes = response
        .body_mut()
        .with_config()
        .limit(api::MAX_MESSAGE_LEN as u64)
        .read_to_vec()
        .unwrap_or_default();
    Err(match api::decode::<ErrorBody>(&bytes) {
        Ok(body) => ClientError::Api {
            status,
            code: body.code,
            message: body.message,
        },
        Err(_) => ClientError::Api {
            status,
            code: "unknown".into(),
            message: format!("the server answered HTTP {status}"),
        },
    })
}

/// Reads and decodes a successful answer's body.
fn read_answer<T>(mut response: ureq::http::Response<ureq::Body>) -> ClientResult<T>
where
    T: for<'b> Decode<'b, ()> + Encode<()>,
{
    let bytes = response
        .body_mut()
        .with_config()
        .limit(api::MAX_MESSAGE_LEN as u64)
        .read_to_vec()
        .map_err(|e| ClientError::Protocol(e.to_string()))?;
    api::decode(&bytes).map_err(|e| ClientError::Protocol(e.to_string()))
}
