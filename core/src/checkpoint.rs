//! Checkpoints of the access log and their witness cosignatures (spec:
//! `spec/log.md` §Checkpoints and §Cosignatures; C2SP `tlog-checkpoint` and
//! `tlog-cosignature`).
//!
//! A checkpoint is the text of a [signed note](crate::note): the log's
//! origin line, the tree size in decimal, the base64 root hash, and optional
//! extension lines. The log signs it with its Ed25519 note key; witnesses
//! add timestamped Ed25519 cosignatures (`cosignature/v1`, signature type
//! 0x04) to the same note after checking consistency with what they saw
//! before. A client trusts a checkpoint once the log's signature and a
//! quorum of known witnesses' cosignatures verify.
//!
//! ```
//! use lexvault_core::checkpoint::{self, Checkpoint, WitnessSigner};
//! use lexvault_core::keys::SigningSecretKey;
//! use lexvault_core::merkle;
//! use lexvault_core::note::NoteSigner;
//! # use rand_core::SeedableRng;
//! # let mut rng = rand_chacha::ChaCha20Rng::from_seed([0; 32]);
//!
//! let origin = "firm.example/lexvault/log";
//! let log = NoteSigner::new(origin, SigningSecretKey::generate(&mut rng))?;
//! let witness = WitnessSigner::new("witness.example/w1", SigningSecretKey::generate(&mut rng))?;
//!
//! let body = Checkpoint::new(origin, 1, merkle::leaf_hash(b"first entry"))?;
//! let mut note = body.sign(&log)?;
//! note.push_str(&witness.cosign(&body.to_text(), 1_700_000_000)?.to_line());
//!
//! let (opened, verified) = Checkpoint::open(note.as_bytes(), origin, &log.verifier())?;
//! assert_eq!(opened, body);
//! let cosigned = checkpoint::verify_quorum(&verified, &[witness.key()], 1)?;
//! assert_eq!(cosigned[0].timestamp, 1_700_000_000);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;
use core::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::keys::{SIGNATURE_LEN, SigningPublicKey, SigningSecretKey};
use crate::merkle::Hash;
use crate::note::{
    self, NoteError, NoteKeyError, NoteSignature, NoteSigner, NoteVerifier, VerifiedNote,
};

/// Signature type byte of a timestamped Ed25519 cosignature (C2SP
/// tlog-cosignature, `cosignature/v1`).
pub const COSIGNATURE_TYPE: u8 = 0x04;

/// First line of the message a `cosignature/v1` signature covers.
const COSIGNATURE_HEADER: &str = "cosignature/v1\n";

/// Largest timestamp a cosignature may carry (C2SP tlog-cosignature).
pub const MAX_TIMESTAMP: u64 = (1 << 63) - 1;

/// Length of a cosignature after the key ID: an 8-byte timestamp and an
/// Ed25519 signature.
const COSIGNATURE_LEN: usize = 8 + SIGNATURE_LEN;

/// Why a checkpoint or its cosignatures were rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The note itself was rejected.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// The text is not a well-formed checkpoint body: fewer than three
    /// lines, an empty line, a size that is not canonical decimal, or a root
    /// that is not the base64 of 32 bytes.
    #[error("malformed checkpoint")]
    Malformed,
    /// The origin line is not the expected log's, or differs from the log
    /// key's name.
    #[error("checkpoint is from another log")]
    WrongOrigin,
    /// A cosignature line from a known witness is malformed or does not
    /// verify.
    #[error("a witness cosignature did not verify")]
    InvalidCosignature,
    /// Fewer known witnesses cosigned than the quorum requires.
    #[error("not enough witness cosignatures")]
    QuorumNotMet,
    /// The quorum is zero or larger than the number of distinct witnesses.
    #[error("invalid witness quorum")]
    InvalidQuorum,
    /// A cosignature timestamp above 2^63 - 1.
    #[error("cosignature timestamp out of range")]
    InvalidTimestamp,
}

/// A checkpoint body (C2SP tlog-checkpoint §Note text).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Checkpoint {
    /// The log's origin line, for lexvault `<firm host>/lexvault/log`.
    pub origin: String,
    /// The number of leaves in the tree.
    pub size: u64,
    /// The RFC 9162 Merkle tree hash at `size`.
    pub root: Hash,
    /// Extension lines, each non-empty. lexvault writes none.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// A checkpoint without extension lines. The origin must be a valid note
    /// key name (lexvault's log key is named after its origin).
    pub fn new(origin: &str, size: u64, root: Hash) -> Result<Self, CheckpointError> {
        if !note::is_valid_key_name(origin) {
            return Err(CheckpointError::Malformed);
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions: Vec::new(),
        })
    }

    /// Parses a checkpoint body strictly: origin, canonical decimal size, the
    /// canonical base64 of a 32-byte root, then non-empty extension lines,
    /// each line ending in a newline.
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let body = text.strip_suffix('\n').ok_or(CheckpointError::Malformed)?;
        let mut lines = body.split('\n');
        let origin = lines.next().ok_or(CheckpointError::Malformed)?;
        let size = lines.next().ok_or(CheckpointError::Malformed)?;
        let root = lines.next().ok_or(CheckpointError::Malformed)?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if origin.is_empty() || extensions.iter().any(String::is_empty) {
            return Err(CheckpointError::Malformed);
        }
        if origin.chars().any(char::is_control)
            || extensions.iter().any(|l| l.chars().any(char::is_control))
        {
            return Err(CheckpointError::Malformed);
        }
        let size = parse_size(size).ok_or(CheckpointError::Malformed)?;
        let root = note::decode_base64(root)
            .and_then(|r| <Hash>::try_from(r).ok())
            .ok_or(CheckpointError::Malformed)?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// The checkpoint body: the text the log signs.
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        );
        for line in &self.extensions {
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    /// Signs the body as a note with the log's key, whose name must be the
    /// origin.
    pub fn sign(&self, log: &NoteSigner) -> Result<String, CheckpointError> {
        if log.name() != self.origin {
            return Err(CheckpointError::WrongOrigin);
        }
        let text = self.to_text();
        // Refuse to sign a body that would not parse back to `self`.
        if Self::parse(&text).as_ref() != Ok(self) {
            return Err(CheckpointError::Malformed);
        }
        Ok(note::sign_note(&text, log)?)
    }

    /// Opens a signed checkpoint from the log at `origin`: verifies the
    /// note against the log's key (whose name must be `origin`), then parses
    /// the body and checks its origin line. Other signatures, such as
    /// witness cosignatures, stay in the returned note for
    /// [`verify_quorum`].
    pub fn open(
        note_bytes: &[u8],
        origin: &str,
        log: &NoteVerifier,
    ) -> Result<(Self, VerifiedNote), CheckpointError> {
        if log.name() != origin {
            return Err(CheckpointError::WrongOrigin);
        }
        let verified = note::open_note(note_bytes, core::slice::from_ref(log))?;
        let checkpoint = Self::parse(verified.text())?;
        if checkpoint.origin != origin {
            return Err(CheckpointError::WrongOrigin);
        }
        Ok((checkpoint, verified))
    }
}

/// ASCII decimal without leading zeros (`0` alone for the empty tree).
fn parse_size(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// The exact message a `cosignature/v1` signature covers:
/// `cosignature/v1\ntime <timestamp>\n` followed by the checkpoint body
/// (C2SP tlog-cosignature §Ed25519 signed message).
#[must_use]
pub fn cosignature_message(checkpoint_text: &str, timestamp: u64) -> Vec<u8> {
    format!("{COSIGNATURE_HEADER}time {timestamp}\n{checkpoint_text}").into_bytes()
}

/// A witness's cosigning key as clients know it: name, key ID and Ed25519
/// public key, with signature type 0x04.
///
/// The text form is the C2SP verifier key
/// `<name>+<key ID>+<base64(0x04 || 32-byte public key)>`.
#[derive(Clone, PartialEq, Eq)]
pub struct WitnessKey {
    name: String,
    id: u32,
    key: SigningPublicKey,
}

impl WitnessKey {
    /// The witness key for `key` under `name`.
    pub fn new(name: &str, key: SigningPublicKey) -> Result<Self, NoteKeyError> {
        if !note::is_valid_key_name(name) {
            return Err(NoteKeyError::InvalidName);
        }
        Ok(Self {
            name: name.to_owned(),
            id: note::key_id(name, COSIGNATURE_TYPE, key.as_bytes()),
            key,
        })
    }

    /// The witness's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    #[must_use]
    pub const fn key_id(&self) -> u32 {
        self.id
    }

    /// The Ed25519 public key.
    #[must_use]
    pub const fn public_key(&self) -> &SigningPublicKey {
        &self.key
    }

    /// Verifies one cosignature (the bytes after the key ID) over
    /// `checkpoint_text` and returns its timestamp.
    pub fn verify_cosignature(
        &self,
        checkpoint_text: &str,
        cosignature: &[u8],
    ) -> Result<u64, CheckpointError> {
        let cosignature: &[u8; COSIGNATURE_LEN] = cosignature
            .try_into()
            .map_err(|_| CheckpointError::InvalidCosignature)?;
        let (timestamp, signature) = cosignature.split_at(8);
        let timestamp = u64::from_be_bytes(
            timestamp
                .try_into()
                .map_err(|_| CheckpointError::InvalidCosignature)?,
        );
        let signature: &[u8; SIGNATURE_LEN] = signature
            .try_into()
            .map_err(|_| CheckpointError::InvalidCosignature)?;
        if timestamp > MAX_TIMESTAMP {
            return Err(CheckpointError::InvalidTimestamp);
        }
        self.key
            .verify_raw(&cosignature_message(checkpoint_text, timestamp), signature)
            .map_err(|_| CheckpointError::InvalidCosignature)?;
        Ok(timestamp)
    }
}

impl FromStr for WitnessKey {
    type Err = NoteKeyError;

    /// Parses a witness verifier key strictly (type byte 0x04).
    fn from_str(s: &str) -> Result<Self, NoteKeyError> {
        let (name, id, key) = note::parse_verifier_key(s, COSIGNATURE_TYPE)?;
        Ok(Self { name, id, key })
    }
}

impl fmt::Display for WitnessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        note::format_verifier_key(f, &self.name, self.id, COSIGNATURE_TYPE, &self.key)
    }
}

impl fmt::Debug for WitnessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WitnessKey({self})")
    }
}

/// A witness's cosigning key with its name, for a witness service and for
/// tests. Never cloned or printed.
pub struct WitnessSigner {
    public: WitnessKey,
    key: SigningSecretKey,
}

impl WitnessSigner {
    /// A witness signer for `key` under `name`.
    pub fn new(name: &str, key: SigningSecretKey) -> Result<Self, NoteKeyError> {
        Ok(Self {
            public: WitnessKey::new(name, key.public_key())?,
            key,
        })
    }

    /// The public witness key clients configure.
    #[must_use]
    pub fn key(&self) -> WitnessKey {
        self.public.clone()
    }

    /// Cosigns a checkpoint body at `timestamp` (Unix seconds; the caller
    /// supplies the time). The result is one signature line to append to
    /// the checkpoint's note.
    ///
    /// A witness must first check the checkpoint's log signature and its
    /// consistency with the last checkpoint it cosigned for that origin.
    pub fn cosign(
        &self,
        checkpoint_text: &str,
        timestamp: u64,
    ) -> Result<NoteSignature, CheckpointError> {
        if timestamp > MAX_TIMESTAMP {
            return Err(CheckpointError::InvalidTimestamp);
        }
        let signature = self
            .key
            .sign_raw(&cosignature_message(checkpoint_text, timestamp));
        let mut bytes = Vec::with_capacity(COSIGNATURE_LEN);
        bytes.extend_from_slice(&timestamp.to_be_bytes());
        bytes.extend_from_slice(&signature);
        Ok(NoteSignature::new(
            &self.public.name,
            self.public.id,
            bytes,
        )?)
    }
}

impl fmt::Debug for WitnessSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WitnessSigner({}, [REDACTED])", self.public)
    }
}

/// A verified witness cosignature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosigned {
    /// The witness that cosigned.
    pub witness: WitnessKey,
    /// When it cosigned, in Unix seconds, as the witness states it.
    pub timestamp: u64,
}

/// Verifies the cosignatures of known `witnesses` on an opened checkpoint
/// note and requires at least `quorum` distinct witnesses to have cosigned.
///
/// Cosignature lines from unknown keys are ignored (C2SP signed-note); a
/// line whose name and key ID match a known witness must verify, or the
/// whole checkpoint is rejected. Returns the verified cosignatures, one per
/// witness (the first line if a witness signed twice).
pub fn verify_quorum(
    note: &VerifiedNote,
    witnesses: &[WitnessKey],
    quorum: usize,
) -> Result<Vec<Cosigned>, CheckpointError> {
    let mut distinct: Vec<&WitnessKey> = Vec::new();
    for w in witnesses {
        if distinct.iter().any(|d| d.name == w.name && d.id == w.id) {
            if distinct.contains(&w) {
                continue;
            }
            // Two different keys under one name and ID: ambiguous.
            return Err(CheckpointError::Note(NoteError::AmbiguousVerifier));
        }
        distinct.push(w);
    }
    if quorum == 0 || quorum > distinct.len() {
        return Err(CheckpointError::InvalidQuorum);
    }
    let mut cosigned: Vec<Cosigned> = Vec::new();
    for sig in note.signatures() {
        let Some(witness) = distinct
            .iter()
            .find(|w| w.name == sig.name() && w.id == sig.key_id())
        else {
            continue;
        };
        let timestamp = witness.verify_cosignature(note.text(), sig.signature())?;
        if !cosigned.iter().any(|c| c.witness == **witness) {
            cosigned.push(Cosigned {
                witness: (*witness).clone(),
                timestamp,
            });
        }
    }
    if cosigned.len() < quorum {
        return Err(CheckpointError::QuorumNotMet);
    }
    Ok(cosigned)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::merkle;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    const ORIGIN: &str = "firm.example/lexvault/log";

    fn key(seed: u8) -> SigningSecretKey {
        SigningSecretKey::generate(&mut ChaCha20Rng::from_seed([seed; 32]))
    }

    #[test]
    fn body_round_trips_and_parses_strictly() {
        let mut c = Checkpoint::new(ORIGIN, 20_852_163, merkle::leaf_hash(b"x")).unwrap();
        assert_eq!(Checkpoint::parse(&c.to_text()).unwrap(), c);
        c.extensions.push("ext line".into());
        assert_eq!(Checkpoint::parse(&c.to_text()).unwrap(), c);
        let empty = Checkpoint::new(ORIGIN, 0, merkle::empty_root()).unwrap();
        assert_eq!(
            empty.to_text(),
            format!("{ORIGIN}\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n")
        );
        let root = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
        for bad in [
            String::new(),
            format!("{ORIGIN}\n1\n{root}"),
            format!("{ORIGIN}\n1\n"),
            format!("\n1\n{root}\n"),
            format!("{ORIGIN}\n01\n{root}\n"),
            format!("{ORIGIN}\n+1\n{root}\n"),
            format!("{ORIGIN}\n-1\n{root}\n"),
            format!("{ORIGIN}\n1 \n{root}\n"),
            format!("{ORIGIN}\n18446744073709551616\n{root}\n"),
            format!("{ORIGIN}\n1\n{}\n", &root[..43]),
            format!("{ORIGIN}\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=\n"),
            format!("{ORIGIN}\n1\nAAAA\n"),
            format!("{ORIGIN}\n1\n{root}\n\n"),
            format!("{ORIGIN}\n1\n{root}\next\n\n"),
        ] {
            assert_eq!(
                Checkpoint::parse(&bad),
                Err(CheckpointError::Malformed),
                "{bad:?}"
            );
        }
        assert_eq!(
            Checkpoint::parse(&format!("{ORIGIN}\n18446744073709551615\n{root}\n"))
                .unwrap()
                .size,
            u64::MAX
        );
    }

    #[test]
    fn signed_checkpoint_opens_only_for_its_log() {
        let log = NoteSigner::new(ORIGIN, key(1)).unwrap();
        let other = NoteSigner::new("other.example/lexvault/log", key(2)).unwrap();
        let c = Checkpoint::new(ORIGIN, 5, merkle::leaf_hash(b"x")).unwrap();
        let note = c.sign(&log).unwrap();
        let (opened, _) = Checkpoint::open(note.as_bytes(), ORIGIN, &log.verifier()).unwrap();
        assert_eq!(opened, c);
        assert_eq!(c.sign(&other), Err(CheckpointError::WrongOrigin));
        assert_eq!(
            Checkpoint::open(
                note.as_bytes(),
                "other.example/lexvault/log",
                &other.verifier()
            )
            .map(|_| ()),
            Err(CheckpointError::Note(NoteError::NoKnownSignature))
        );
        assert_eq!(
            Checkpoint::open(note.as_bytes(), ORIGIN, &other.verifier()).map(|_| ()),
            Err(CheckpointError::WrongOrigin)
        );
    }

    #[test]
    fn quorum_counts_distinct_known_witnesses() {
        let log = NoteSigner::new(ORIGIN, key(1)).unwrap();
        let w1 = WitnessSigner::new("w1.example", key(11)).unwrap();
        let w2 = WitnessSigner::new("w2.example", key(12)).unwrap();
        let w3 = WitnessSigner::new("w3.example", key(13)).unwrap();
        let stranger = WitnessSigner::new("stranger.example", key(14)).unwrap();
        let c = Checkpoint::new(ORIGIN, 7, merkle::leaf_hash(b"x")).unwrap();
        let body = c.to_text();
        let mut note = c.sign(&log).unwrap();
        for (w, t) in [(&w1, 100), (&w2, 200), (&w1, 300), (&stranger, 400)] {
            note.push_str(&w.cosign(&body, t).unwrap().to_line());
        }
        let (_, verified) = Checkpoint::open(note.as_bytes(), ORIGIN, &log.verifier()).unwrap();
        let known = [w1.key(), w2.key(), w3.key()];
        let got = verify_quorum(&verified, &known, 2).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].witness.name(), got[0].timestamp),
            ("w1.example", 100)
        );
        assert_eq!(
            (got[1].witness.name(), got[1].timestamp),
            ("w2.example", 200)
        );
        assert_eq!(
            verify_quorum(&verified, &known, 3),
            Err(CheckpointError::QuorumNotMet)
        );
        assert_eq!(
            verify_quorum(&verified, &known, 0),
            Err(CheckpointError::InvalidQuorum)
        );
        assert_eq!(
            verify_quorum(&verified, &[w1.key(), w1.key()], 2),
            Err(CheckpointError::InvalidQuorum)
        );

        // The witness key's text form round-trips, and is not a note key.
        let text = w1.key().to_string();
        assert_eq!(text.parse::<WitnessKey>().unwrap(), w1.key());
        assert_eq!(
            text.parse::<NoteVerifier>(),
            Err(NoteKeyError::UnsupportedType)
        );

        // A cosignature over another checkpoint, from a known witness,
        // rejects the note.
        let other = Checkpoint::new(ORIGIN, 8, merkle::leaf_hash(b"y")).unwrap();
        let mut forged = c.sign(&log).unwrap();
        forged.push_str(&w3.cosign(&other.to_text(), 1).unwrap().to_line());
        let (_, verified) = Checkpoint::open(forged.as_bytes(), ORIGIN, &log.verifier()).unwrap();
        assert_eq!(
            verify_quorum(&verified, &known, 1),
            Err(CheckpointError::InvalidCosignature)
        );
    }

    #[test]
    fn cosignature_message_and_timestamp_bound() {
        assert_eq!(
            cosignature_message("o\n1\nr\n", 1_679_315_147),
            b"cosignature/v1\ntime 1679315147\no\n1\nr\n"
        );
        let w = WitnessSigner::new("w.example", key(3)).unwrap();
        assert!(w.cosign("o\n1\nr\n", MAX_TIMESTAMP).is_ok());
        assert_eq!(
            w.cosign("o\n1\nr\n", MAX_TIMESTAMP + 1).map(|_| ()),
            Err(CheckpointError::InvalidTimestamp)
        );
        // A note-key (0x01) signature in a witness's name is not a
        // cosignature: its key ID differs, so it is ignored.
        let as_note = NoteSigner::new("w.example", key(3)).unwrap();
        assert_ne!(as_note.key_id(), w.key().key_id());
    }
}
