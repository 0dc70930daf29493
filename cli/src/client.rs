//! The HTTP transport: signed requests to a lexvault server and its CBOR
//! answers (spec: `spec/api.md`, `spec/requests.md`).
//!
//! This layer signs and sends; it trusts nothing it receives. Verifying the
//! records inside the answers is [`crate::vault`]'s job.

use std::io::Read;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lexvault_core::api::{self, ErrorBody};
use lexvault_core::keys::SigningSecretKey;
use lexvault_core::request::{BodyDigest, RequestTarget, SIGNATURE_HEADER, SignedRequest};
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
}

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

    /// Keeps the receipt of `response`, if it has one, and turns an error
    /// answer into [`ClientError::Api`].
    fn check_status(
        &self,
        response: ureq::http::Response<ureq::Body>,
    ) -> ClientResult<ureq::http::Response<ureq::Body>> {
        if let Some(value) = response.headers().get(api::RECEIPT_HEADER) {
            let bytes = value
                .to_str()
                .ok()
                .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
                .unwrap_or_default();
            self.receipts
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(bytes);
        }
        check_status(response)
    }

    fn decode_answer<T>(&self, response: ureq::http::Response<ureq::Body>) -> ClientResult<T>
    where
        T: for<'b> Decode<'b, ()> + Encode<()>,
    {
        read_answer(self.check_status(response)?)
    }

    /// Signs a request for `method` on `path_and_query` with a body hashing
    /// to `digest`: the signature header's value.
    pub fn sign(
        method: &str,
        path_and_query: &str,
        digest: BodyDigest,
        key: &SigningSecretKey,
    ) -> ClientResult<String> {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let target = RequestTarget {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            body_digest: digest,
        };
        let signed = SignedRequest::sign(target, key, now(), &mut os_rng())
            .map_err(|e| ClientError::Invalid(format!("cannot sign the request: {e}")))?;
        Ok(signed.header_value())
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET path`, signed by `key`, answered with a CBOR `T`.
    pub fn get<T>(&self, key: &SigningSecretKey, path: &str) -> ClientResult<T>
    where
        T: for<'b> Decode<'b, ()> + Encode<()>,
    {
        let signature = Self::sign("GET", path, BodyDigest::empty(), key)?;
        let response = self
            .agent
            .get(self.url(path))
            .header(SIGNATURE_HEADER, &signature)
            .call()
            .map_err(transport)?;
        self.decode_answer(response)
    }

    /// `GET path` without a signature (the calls that precede having keys).
    pub fn get_unsigned<T>(&self, path: &str) -> ClientResult<T>
    where
        T: for<'b> Decode<'b, ()> + Encode<()>,
    {
        let response = self.agent.get(self.url(path)).call().map_err(transport)?;
        self.decode_answer(response)
    }

    /// `POST path` with a CBOR body, signed by `key`, answered with a CBOR
    /// `T`.
    pub fn post<B, T>(&self, key: &SigningSecretKey, path: &str, body: &B) -> ClientResult<T>
    where
        B: Encode<()>,
        T: for<'b> Decode<'b, ()> + Encode<()>,
    {
        let bytes = api::encode(body);
        let signature = Self::sign("POST", path, BodyDigest::of(&bytes), key)?;
        let response = self
            .agent
            .post(self.url(path))
            .header(SIGNATURE_HEADER, &signature)
            .header("content-type", api::CBOR)
            .send(&bytes[..])
            .map_err(transport)?;
        self.decode_answer(response)
    }

    /// `POST path` with a CBOR body, signed by `key`, answered with no body.
    pub fn post_empty_answer<B: Encode<()>>(
        &self,
        key: &SigningSecretKey,
        path: &str,
        body: &B,
    ) -> ClientResult<()> {
        let bytes = api::encode(body);
        let signature = Self::sign("POST", path, BodyDigest::of(&bytes), key)?;
        let response = self
            .agent
            .post(self.url(path))
            .header(SIGNATURE_HEADER, &signature)
            .header("content-type", api::CBOR)
            .send(&bytes[..])
            .map_err(transport)?;
        self.check_status(response).map(|_| ())
    }

    /// `DELETE path`, signed by `key`, answered with no body.
    pub fn delete(&self, key: &SigningSecretKey, path: &str) -> ClientResult<()> {
        let signature = Self::sign("DELETE", path, BodyDigest::empty(), key)?;
        let response = self
            .agent
            .delete(self.url(path))
            .header(SIGNATURE_HEADER, &signature)
            .call()
            .map_err(transport)?;
        self.check_status(response).map(|_| ())
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
        self.decode_answer(response)
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
        let signature = Self::sign("POST", path, BodyDigest::of(envelope), key)?;
        let head = [&envelope_len.to_be_bytes()[..], envelope].concat();
        let total = head.len() as u64 + payload_len;
        let mut body = std::io::Cursor::new(head).chain(payload);
        let response = self
            .agent
            .post(self.url(path))
            .header(SIGNATURE_HEADER, &signature)
            .header("content-type", api::UPLOAD)
            .header("content-length", total.to_string())
            .send(ureq::SendBody::from_reader(&mut body))
            .map_err(transport)?;
        self.decode_answer(response)
    }

    /// `GET path` for a payload, signed by `key`, from byte `offset` on.
    pub fn download(
        &self,
        key: &SigningSecretKey,
        path: &str,
        offset: u64,
    ) -> ClientResult<Download> {
        let signature = Self::sign("GET", path, BodyDigest::empty(), key)?;
        let mut request = self
            .agent
            .get(self.url(path))
            .header(SIGNATURE_HEADER, &signature);
        if offset > 0 {
            request = request.header("range", format!("bytes={offset}-"));
        }
        let response = self.check_status(request.call().map_err(transport)?)?;
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
