//! Signed API requests (spec: `spec/requests.md`).
//!
//! Every call to the server is signed by the caller's Ed25519 key over the
//! method, the path, the query, a digest of the body, a timestamp, a random
//! nonce, and the caller's position in its own history: the sequence number
//! of its next log entry and the hash of its previous one ([`ChainPosition`]). The signed request travels in one header as a standard
//! signed-record envelope ([`crate::signed`]), so the exact bytes the server
//! checked are the evidence it keeps and an auditor re-verifies later.
//!
//! ```text
//! Request = {
//!   0: 1,              ; version
//!   1: tstr,           ; method, upper case ("GET", "POST", …)
//!   2: tstr,           ; path as sent, percent-encoded, starting with "/"
//!   3: tstr,           ; query as sent, without "?" ("" when none)
//!   4: bstr .size 32,  ; SHA-256 of the signed body bytes
//!   5: uint,           ; timestamp, Unix seconds
//!   6: bstr .size 16,  ; nonce (random)
//!   7: uint,           ; the caller's sequence number for this request
//!   8: bstr .size 32,  ; leaf hash of the caller's previous log entry
//! }
//! ```
//!
//! This module checks everything that needs no state: the signature, the
//! match between what was signed and what arrived, and the time window. The
//! server keeps the nonces it has seen for the window and refuses a reuse.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use minicbor::{Decode, Encode};
use rand_core::CryptoRng;
use sha2::{Digest as _, Sha256};

use crate::domain::SignatureContext;
use crate::keys::{SigningPublicKey, SigningSecretKey};
use crate::signed::{Signed, SignedRecordError, wire};

/// The only request record version this crate reads and writes.
pub const REQUEST_VERSION: u8 = 1;

/// The HTTP header that carries a signed request.
pub const SIGNATURE_HEADER: &str = "lexvault-signature";

/// Longest accepted method name.
pub const MAX_METHOD_LEN: usize = 16;
/// Longest accepted path or query, in bytes.
pub const MAX_TARGET_LEN: usize = 2048;
/// Longest accepted header value: a request record's envelope in base64url.
pub const MAX_HEADER_LEN: usize = 8 * 1024;

/// SHA-256 of a request's signed body bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct BodyDigest(pub [u8; 32]);

impl BodyDigest {
    /// The digest of `body`.
    #[must_use]
    pub fn of(body: &[u8]) -> Self {
        Self(Sha256::digest(body).into())
    }

    /// The digest of an empty body.
    #[must_use]
    pub fn empty() -> Self {
        Self::of(&[])
    }
}

impl core::fmt::Debug for BodyDigest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "BodyDigest({})", crate::keys::hex_lower(&self.0))
    }
}

/// What a request is aimed at: everything the signature binds except time
/// and nonce.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestTarget {
    /// Upper-case HTTP method.
    pub method: String,
    /// The path exactly as sent (percent-encoded), starting with `/`.
    pub path: String,
    /// The query exactly as sent, without the `?`; empty when there is none.
    pub query: String,
    /// Digest of the signed body bytes.
    pub body_digest: BodyDigest,
}

impl RequestTarget {
    /// The target of `method` on `path_and_query` (the path, then `?` and
    /// the query if there is one, exactly as sent) with a body hashing to
    /// `body_digest`.
    #[must_use]
    pub fn new(method: &str, path_and_query: &str, body_digest: BodyDigest) -> Self {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            body_digest,
        }
    }

    fn validate(&self) -> Result<(), RequestError> {
        let method_ok = !self.method.is_empty()
            && self.method.len() <= MAX_METHOD_LEN
            && self.method.bytes().all(|b| b.is_ascii_uppercase());
        let path_ok = self.path.starts_with('/')
            && self.path.len() <= MAX_TARGET_LEN
            && self.path.bytes().all(is_target_byte);
        let query_ok = self.query.len() <= MAX_TARGET_LEN && self.query.bytes().all(is_target_byte);
        if method_ok && path_ok && query_ok {
            Ok(())
        } else {
            Err(RequestError::InvalidTarget)
        }
    }
}

/// Visible ASCII except `#` (a fragment never reaches a server) and `?` in
/// the path is allowed by the generic check; the path/query split is the
/// caller's.
fn is_target_byte(b: u8) -> bool {
    b.is_ascii_graphic() && b != b'#'
}

/// Why a signed request was refused.
///
/// Servers answer every variant with the same authentication failure; the
/// detail is for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The header is not base64url, or too long.
    #[error("request signature header is malformed")]
    MalformedHeader,
    /// The envelope, the signature or the body's encoding is invalid.
    #[error(transparent)]
    Record(#[from] SignedRecordError),
    /// The record's version is not [`REQUEST_VERSION`].
    #[error("unknown request record version {0}")]
    UnknownVersion(u64),
    /// The method, path or query is not well formed.
    #[error("request target is malformed")]
    InvalidTarget,
    /// What was signed is not the request that arrived.
    #[error("signed request does not match the request")]
    TargetMismatch,
    /// The timestamp is outside the allowed window around the server's clock.
    #[error("request timestamp is outside the allowed window")]
    Stale,
}

/// Where a request stands in its signer's own history (spec:
/// `spec/log.md` §Actor chains).
///
/// Every request an actor makes that the server records is the next link of
/// that actor's chain: its `sequence` is one more than the previous recorded
/// request's, and `previous` is the leaf hash of the last log entry that
/// request produced. An actor's first recorded request is
/// [`ChainPosition::FIRST`]. Because the actor signs both, a server that
/// drops, reorders or invents an actor's entries breaks a chain it cannot
/// re-sign.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ChainPosition {
    /// The actor's sequence number for this request, from 0.
    pub sequence: u64,
    /// The leaf hash of the actor's previous log entry; all zeros for the
    /// first.
    pub previous: [u8; 32],
}

impl ChainPosition {
    /// The position of an actor's first recorded request.
    pub const FIRST: Self = Self {
        sequence: 0,
        previous: [0; 32],
    };

    /// The position that follows a request at `self` whose last log entry
    /// has `leaf_hash`.
    #[must_use]
    pub fn next(self, leaf_hash: [u8; 32]) -> Self {
        Self {
            sequence: self.sequence.saturating_add(1),
            previous: leaf_hash,
        }
    }
}

/// A request record (spec: `spec/requests.md`). The caller is the envelope's
/// signer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    target: RequestTarget,
    timestamp: u64,
    nonce: [u8; 16],
    position: ChainPosition,
}

impl Request {
    /// What the request is aimed at.
    #[must_use]
    pub fn target(&self) -> &RequestTarget {
        &self.target
    }

    /// When the caller made the request, in Unix seconds.
    #[must_use]
    pub fn timestamp(&self) -> u64 {
        self.timestamp
    }

    /// The caller's random nonce.
    #[must_use]
    pub fn nonce(&self) -> &[u8; 16] {
        &self.nonce
    }

    /// Where the request stands in the caller's history.
    #[must_use]
    pub fn position(&self) -> ChainPosition {
        self.position
    }
}

#[derive(Clone, Encode, Decode)]
#[cbor(map)]
pub(crate) struct RequestWire {
    #[n(0)]
    version: u8,
    #[n(1)]
    method: String,
    #[n(2)]
    path: String,
    #[n(3)]
    query: String,
    #[cbor(n(4), with = "minicbor::bytes")]
    body_digest: [u8; 32],
    #[n(5)]
    timestamp: u64,
    #[cbor(n(6), with = "minicbor::bytes")]
    nonce: [u8; 16],
    #[n(7)]
    sequence: u64,
    #[cbor(n(8), with = "minicbor::bytes")]
    previous: [u8; 32],
}

impl wire::WireForm for Request {
    const VERSION: u8 = REQUEST_VERSION;
    type Wire = RequestWire;
    type Error = RequestError;

    fn from_wire(w: RequestWire) -> Result<Self, RequestError> {
        if w.version != REQUEST_VERSION {
            return Err(RequestError::UnknownVersion(w.version.into()));
        }
        let target = RequestTarget {
            method: w.method,
            path: w.path,
            query: w.query,
            body_digest: BodyDigest(w.body_digest),
        };
        target.validate()?;
        Ok(Self {
            target,
            timestamp: w.timestamp,
            nonce: w.nonce,
            position: ChainPosition {
                sequence: w.sequence,
                previous: w.previous,
            },
        })
    }

    fn to_wire(&self) -> RequestWire {
        RequestWire {
            version: REQUEST_VERSION,
            method: self.target.method.clone(),
            path: self.target.path.clone(),
            query: self.target.query.clone(),
            body_digest: self.target.body_digest.0,
            timestamp: self.timestamp,
            nonce: self.nonce,
            sequence: self.position.sequence,
            previous: self.position.previous,
        }
    }

    fn unknown_version(version: u64) -> RequestError {
        RequestError::UnknownVersion(version)
    }
}

signed_record!(Request, SignatureContext::REQUEST);

/// A request whose signature verified.
#[derive(Clone, Debug)]
pub struct SignedRequest(Signed<Request>);

impl SignedRequest {
    /// Signs a request to `target`, at `position` in the signer's history,
    /// at `now`, with a fresh nonce.
    pub fn sign<R: CryptoRng + ?Sized>(
        target: RequestTarget,
        position: ChainPosition,
        key: &SigningSecretKey,
        now: u64,
        rng: &mut R,
    ) -> Result<Self, RequestError> {
        target.validate()?;
        let mut nonce = [0u8; 16];
        rng.fill_bytes(&mut nonce);
        let record = Request {
            target,
            timestamp: now,
            nonce,
            position,
        };
        Ok(Self(Signed::sign(record, key)))
    }

    /// Parses and verifies a header value: the signature over the exact
    /// record bytes, the record's form, and nothing else (see [`Self::check`]).
    pub fn from_header(value: &str) -> Result<Self, RequestError> {
        if value.len() > MAX_HEADER_LEN {
            return Err(RequestError::MalformedHeader);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(value)
            .map_err(|_| RequestError::MalformedHeader)?;
        Self::from_evidence(&bytes)
    }

    /// Parses and verifies stored evidence bytes ([`Self::as_bytes`]).
    pub fn from_evidence(bytes: &[u8]) -> Result<Self, RequestError> {
        wire::parse_signed::<Request>(bytes).map(Self)
    }

    /// Checks that the request is the one that arrived and that its
    /// timestamp is within `window_secs` of `now` either way.
    pub fn check(
        &self,
        arrived: &RequestTarget,
        now: u64,
        window_secs: u64,
    ) -> Result<(), RequestError> {
        let signed = self.0.record();
        if signed.target != *arrived {
            return Err(RequestError::TargetMismatch);
        }
        if signed.timestamp.abs_diff(now) > window_secs {
            return Err(RequestError::Stale);
        }
        Ok(())
    }

    /// The header value: the signed envelope in unpadded base64url.
    #[must_use]
    pub fn header_value(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0.as_bytes())
    }

    /// Who signed the request.
    #[must_use]
    pub fn signer(&self) -> &SigningPublicKey {
        self.0.signer()
    }

    /// The signed record.
    #[must_use]
    pub fn request(&self) -> &Request {
        self.0.record()
    }

    /// The exact signed envelope bytes: the evidence a server keeps.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;
    use crate::keys::Identity;

    fn target() -> RequestTarget {
        RequestTarget {
            method: "GET".into(),
            path: "/v1/documents/00ff".into(),
            query: "version=2".into(),
            body_digest: BodyDigest::empty(),
        }
    }

    fn signed() -> (Identity, SignedRequest) {
        let mut rng = ChaCha20Rng::from_seed([7; 32]);
        let who = Identity::generate(&mut rng);
        let req = SignedRequest::sign(
            target(),
            ChainPosition::FIRST,
            who.signing_key(),
            1_000,
            &mut rng,
        )
        .unwrap();
        (who, req)
    }

    #[test]
    fn header_round_trip_verifies() {
        let (who, req) = signed();
        let parsed = SignedRequest::from_header(&req.header_value()).unwrap();
        assert_eq!(parsed.signer(), &who.public().signing);
        assert_eq!(parsed.as_bytes(), req.as_bytes());
        parsed.check(&target(), 1_000, 300).unwrap();
        parsed.check(&target(), 1_300, 300).unwrap();
        parsed.check(&target(), 700, 300).unwrap();
    }

    #[test]
    fn every_bound_field_is_checked() {
        let (_, req) = signed();
        let mut others = Vec::new();
        for change in 0..4 {
            let mut t = target();
            match change {
                0 => t.method = "POST".into(),
                1 => t.path = "/v1/documents/00fe".into(),
                2 => t.query = "version=3".into(),
                _ => t.body_digest = BodyDigest::of(b"x"),
            }
            others.push(t);
        }
        for t in others {
            assert_eq!(req.check(&t, 1_000, 300), Err(RequestError::TargetMismatch));
        }
        assert_eq!(req.check(&target(), 1_301, 300), Err(RequestError::Stale));
        assert_eq!(req.check(&target(), 699, 300), Err(RequestError::Stale));
    }

    #[test]
    fn tampered_headers_are_refused() {
        let (_, req) = signed();
        let bytes = req.as_bytes().to_vec();
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x01;
            assert!(SignedRequest::from_evidence(&b).is_err(), "byte {i}");
        }
        assert_eq!(
            SignedRequest::from_header("not base64!").unwrap_err(),
            RequestError::MalformedHeader
        );
        let long = "A".repeat(MAX_HEADER_LEN + 1);
        assert_eq!(
            SignedRequest::from_header(&long).unwrap_err(),
            RequestError::MalformedHeader
        );
    }

    #[test]
    fn malformed_targets_cannot_be_signed() {
        let mut rng = ChaCha20Rng::from_seed([1; 32]);
        let who = Identity::generate(&mut rng);
        let bad = [
            ("get", "/x", ""),
            ("GET", "x", ""),
            ("GET", "/x#frag", ""),
            ("GET", "/x", "a b"),
            ("", "/x", ""),
        ];
        for (method, path, query) in bad {
            let t = RequestTarget {
                method: method.into(),
                path: path.into(),
                query: query.into(),
                body_digest: BodyDigest::empty(),
            };
            assert_eq!(
                SignedRequest::sign(t, ChainPosition::FIRST, who.signing_key(), 0, &mut rng)
                    .unwrap_err(),
                RequestError::InvalidTarget
            );
        }
    }

    #[test]
    fn the_chain_position_is_signed() {
        let mut rng = ChaCha20Rng::from_seed([3; 32]);
        let who = Identity::generate(&mut rng);
        let position = ChainPosition::FIRST.next([9; 32]).next([8; 32]);
        assert_eq!(position.sequence, 2);
        let req = SignedRequest::sign(target(), position, who.signing_key(), 5, &mut rng).unwrap();
        let parsed = SignedRequest::from_evidence(req.as_bytes()).unwrap();
        assert_eq!(parsed.request().position(), position);
        assert_eq!(parsed.request().position().previous, [8; 32]);
    }

    #[test]
    fn nonces_differ_between_requests() {
        let mut rng = ChaCha20Rng::from_seed([2; 32]);
        let who = Identity::generate(&mut rng);
        let a = SignedRequest::sign(
            target(),
            ChainPosition::FIRST,
            who.signing_key(),
            5,
            &mut rng,
        )
        .unwrap();
        let b = SignedRequest::sign(
            target(),
            ChainPosition::FIRST,
            who.signing_key(),
            5,
            &mut rng,
        )
        .unwrap();
        assert_ne!(a.request().nonce(), b.request().nonce());
    }
}
