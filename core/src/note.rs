//! C2SP signed notes with Ed25519 note keys (spec: `spec/log.md` §Signed
//! notes; C2SP `signed-note`, v1.0.0).
//!
//! A signed note is a UTF-8 text ending in a newline, a blank line, and one
//! or more signature lines `— <key name> <base64(key ID || signature)>`.
//! The log signs its checkpoints ([`crate::checkpoint`]) as notes; witnesses
//! add cosignature lines to the same note.
//!
//! Reading follows "verify the bytes, then decode": [`open_note`] checks the
//! note's syntax, verifies every signature from a known key over the exact
//! text bytes with lexvault's strict Ed25519 rule (`spec/signatures.md`),
//! ignores signatures from unknown keys, and fails unless at least one known
//! key signed. Only then may the caller parse the text.
//!
//! ```
//! use lexvault_core::keys::SigningSecretKey;
//! use lexvault_core::note::{self, NoteSigner};
//! # use rand_core::SeedableRng;
//! # let mut rng = rand_chacha::ChaCha20Rng::from_seed([0; 32]);
//!
//! let signer = NoteSigner::new("firm.example/lexvault/log", SigningSecretKey::generate(&mut rng))?;
//! let signed = note::sign_note("hello\n", &signer)?;
//! let opened = note::open_note(signed.as_bytes(), &[signer.verifier()])?;
//! assert_eq!(opened.text(), "hello\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;
use core::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};

use crate::keys::{SIGNATURE_LEN, SigningPublicKey, SigningSecretKey};
use crate::secret::{SecretBytes, SecretString};

/// Signature type byte of an Ed25519 note signature (C2SP signed-note).
pub const ED25519_TYPE: u8 = 0x01;

/// The most signature lines [`open_note`] accepts. The C2SP spec requires
/// accepting at least 16; a log signature plus a witness quorum fits easily.
pub const MAX_SIGNATURES: usize = 32;

/// The longest note [`open_note`] accepts, in bytes.
pub const MAX_NOTE_LEN: usize = 64 * 1024;

/// Prefix of every signature line: em dash (U+2014) and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// Prefix of an encoded signer key.
const SIGNER_KEY_PREFIX: &str = "PRIVATE+KEY+";

/// Why a note key string, or a key name, was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteKeyError {
    /// Not of the form `<name>+<8 lowercase hex>+<base64>` (with the
    /// `PRIVATE+KEY+` prefix for a signer key), or a part is malformed.
    #[error("malformed note key")]
    Malformed,
    /// The key name is empty or contains a space or a `+`.
    #[error("invalid key name")]
    InvalidName,
    /// The key ID does not match the name and key.
    #[error("note key ID does not match its name and key")]
    KeyIdMismatch,
    /// The signature type byte is not the one expected.
    #[error("unsupported note key type")]
    UnsupportedType,
    /// The Ed25519 public key is not canonical or has small order.
    #[error("invalid Ed25519 note key")]
    InvalidKey,
}

/// Why a signed note was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// Not a well-formed signed note: invalid UTF-8, a control character, no
    /// blank line before the signatures, an empty or malformed signature
    /// line, or text that does not end in a newline.
    #[error("malformed signed note")]
    Malformed,
    /// Longer than [`MAX_NOTE_LEN`] or more than [`MAX_SIGNATURES`]
    /// signatures.
    #[error("signed note too large")]
    TooLarge,
    /// Two known verifiers share a key name and key ID.
    #[error("ambiguous verifier keys")]
    AmbiguousVerifier,
    /// A signature from a known key did not verify.
    #[error("signature from a known key did not verify")]
    InvalidSignature,
    /// No known key signed the note.
    #[error("no known key signed the note")]
    NoKnownSignature,
}

/// Whether `name` is a valid key name: non-empty, without Unicode spaces
/// or `+` (C2SP signed-note §Format).
#[must_use]
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

/// The key ID: the first four bytes, big-endian, of
/// SHA-256(`name` || 0x0A || `key_type` || `public_key`) (C2SP
/// signed-note §Signatures).
#[must_use]
pub fn key_id(name: &str, key_type: u8, public_key: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([key_type]);
    h.update(public_key);
    let digest: [u8; 32] = h.finalize().into();
    let [a, b, c, d, ..] = digest;
    u32::from_be_bytes([a, b, c, d])
}

/// Standard base64 with canonical padding, and canonical trailing bits
/// checked by re-encoding.
pub(crate) fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let bytes = STANDARD.decode(s).ok()?;
    (STANDARD.encode(&bytes) == s).then_some(bytes)
}

/// Parses an encoded Ed25519-based verifier key `<name>+<id>+<base64(type ||
/// key)>` whose type byte must be `key_type`.
pub(crate) fn parse_verifier_key(
    s: &str,
    key_type: u8,
) -> Result<(String, u32, SigningPublicKey), NoteKeyError> {
    let (name, rest) = s.split_once('+').ok_or(NoteKeyError::Malformed)?;
    let (id_hex, key64) = rest.split_once('+').ok_or(NoteKeyError::Malformed)?;
    if !is_valid_key_name(name) {
        return Err(NoteKeyError::InvalidName);
    }
    let id = parse_key_id(id_hex)?;
    let key = decode_base64(key64).ok_or(NoteKeyError::Malformed)?;
    if key.is_empty() {
        return Err(NoteKeyError::Malformed);
    }
    // The ID covers the type byte and the key together.
    let (type_byte, public) = key.split_first().ok_or(NoteKeyError::Malformed)?;
    if key_id(name, *type_byte, public) != id {
        return Err(NoteKeyError::KeyIdMismatch);
    }
    if *type_byte != key_type {
        return Err(NoteKeyError::UnsupportedType);
    }
    let public: &[u8; 32] = public.try_into().map_err(|_| NoteKeyError::Malformed)?;
    let public = SigningPublicKey::from_bytes(public).map_err(|_| NoteKeyError::InvalidKey)?;
    Ok((name.to_owned(), id, public))
}

/// Encodes a verifier key `<name>+<id>+<base64(type || key)>`.
pub(crate) fn format_verifier_key(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    id: u32,
    key_type: u8,
    key: &SigningPublicKey,
) -> fmt::Result {
    let mut bytes = [0u8; 33];
    let (t, k) = bytes.split_at_mut(1);
    t.copy_from_slice(&[key_type]);
    k.copy_from_slice(key.as_bytes());
    write!(f, "{name}+{id:08x}+{}", STANDARD.encode(bytes))
}

/// Exactly eight lowercase hex digits.
fn parse_key_id(s: &str) -> Result<u32, NoteKeyError> {
    if s.len() != 8 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(NoteKeyError::Malformed);
    }
    u32::from_str_radix(s, 16).map_err(|_| NoteKeyError::Malformed)
}

/// A known Ed25519 note key: its name, key ID and public key.
///
/// The text form is the C2SP verifier key
/// `<name>+<key ID as 8 hex>+<base64(0x01 || 32-byte public key)>`.
#[derive(Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    id: u32,
    key: SigningPublicKey,
}

impl NoteVerifier {
    /// A verifier for `key` under `name`.
    pub fn new(name: &str, key: SigningPublicKey) -> Result<Self, NoteKeyError> {
        if !is_valid_key_name(name) {
            return Err(NoteKeyError::InvalidName);
        }
        Ok(Self {
            name: name.to_owned(),
            id: key_id(name, ED25519_TYPE, key.as_bytes()),
            key,
        })
    }

    /// The key name.
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

    /// Verifies an Ed25519 signature over the note text.
    fn verify(&self, text: &[u8], signature: &[u8]) -> bool {
        let Ok(signature) = <&[u8; SIGNATURE_LEN]>::try_from(signature) else {
            return false;
        };
        self.key.verify_raw(text, signature).is_ok()
    }
}

impl FromStr for NoteVerifier {
    type Err = NoteKeyError;

    /// Parses a verifier key strictly: lowercase hex ID, canonical base64,
    /// type 0x01, a matching key ID, and a strict Ed25519 key.
    fn from_str(s: &str) -> Result<Self, NoteKeyError> {
        let (name, id, key) = parse_verifier_key(s, ED25519_TYPE)?;
        Ok(Self { name, id, key })
    }
}

impl fmt::Display for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        format_verifier_key(f, &self.name, self.id, ED25519_TYPE, &self.key)
    }
}

impl fmt::Debug for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NoteVerifier({self})")
    }
}

/// An Ed25519 note signing key with its name. Never cloned or printed.
///
/// The text form is the signer key
/// `PRIVATE+KEY+<name>+<key ID>+<base64(0x01 || 32-byte seed)>`, as in Go's
/// `golang.org/x/mod/sumdb/note`.
pub struct NoteSigner {
    name: String,
    id: u32,
    key: SigningSecretKey,
}

impl NoteSigner {
    /// A signer for `key` under `name`.
    pub fn new(name: &str, key: SigningSecretKey) -> Result<Self, NoteKeyError> {
        if !is_valid_key_name(name) {
            return Err(NoteKeyError::InvalidName);
        }
        Ok(Self {
            name: name.to_owned(),
            id: key_id(name, ED25519_TYPE, key.public_key().as_bytes()),
            key,
        })
    }

    /// Parses an encoded signer key. The key ID must match the public key
    /// derived from the seed.
    pub fn from_signer_key(s: &str) -> Result<Self, NoteKeyError> {
        let rest = s
            .strip_prefix(SIGNER_KEY_PREFIX)
            .ok_or(NoteKeyError::Malformed)?;
        let (name, rest) = rest.split_once('+').ok_or(NoteKeyError::Malformed)?;
        let (id_hex, key64) = rest.split_once('+').ok_or(NoteKeyError::Malformed)?;
        if !is_valid_key_name(name) {
            return Err(NoteKeyError::InvalidName);
        }
        let id = parse_key_id(id_hex)?;
        let mut bytes =
            zeroize::Zeroizing::new(decode_base64(key64).ok_or(NoteKeyError::Malformed)?);
        let (type_byte, seed) = bytes.split_first_mut().ok_or(NoteKeyError::Malformed)?;
        if *type_byte != ED25519_TYPE {
            return Err(NoteKeyError::UnsupportedType);
        }
        let seed = SecretBytes::<32>::try_from_slice(seed).ok_or(NoteKeyError::Malformed)?;
        let signer = Self::new(name, SigningSecretKey::from_seed(&seed))?;
        if signer.id != id {
            return Err(NoteKeyError::KeyIdMismatch);
        }
        Ok(signer)
    }

    /// The encoded signer key. It is a secret.
    #[must_use]
    pub fn to_signer_key(&self) -> SecretString {
        let seed = self.key.to_seed();
        let mut bytes = zeroize::Zeroizing::new([0u8; 33]);
        if let Some((t, s)) = bytes.split_first_mut() {
            *t = ED25519_TYPE;
            s.copy_from_slice(seed.expose_secret());
        }
        let encoded = zeroize::Zeroizing::new(STANDARD.encode(bytes.as_slice()));
        SecretString::new(format!(
            "{SIGNER_KEY_PREFIX}{}+{:08x}+{}",
            self.name,
            self.id,
            encoded.as_str()
        ))
    }

    /// The key name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    #[must_use]
    pub const fn key_id(&self) -> u32 {
        self.id
    }

    /// The matching verifier.
    #[must_use]
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            id: self.id,
            key: self.key.public_key(),
        }
    }

    /// The signature line over `text` (already checked by the caller).
    fn signature(&self, text: &str) -> NoteSignature {
        NoteSignature {
            name: self.name.clone(),
            key_id: self.id,
            signature: self.key.sign_raw(text.as_bytes()).to_vec(),
        }
    }
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NoteSigner({}+{:08x}, [REDACTED])", self.name, self.id)
    }
}

/// One signature line of a note, verified or not.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NoteSignature {
    name: String,
    key_id: u32,
    signature: Vec<u8>,
}

impl NoteSignature {
    /// A signature line from its parts. `signature` excludes the key ID.
    pub fn new(name: &str, key_id: u32, signature: Vec<u8>) -> Result<Self, NoteError> {
        if !is_valid_key_name(name) || signature.is_empty() {
            return Err(NoteError::Malformed);
        }
        Ok(Self {
            name: name.to_owned(),
            key_id,
            signature,
        })
    }

    /// The key name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    #[must_use]
    pub const fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The signature bytes after the key ID.
    #[must_use]
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The line `— <name> <base64(key ID || signature)>\n`.
    #[must_use]
    pub fn to_line(&self) -> String {
        let mut raw = Vec::with_capacity(4 + self.signature.len());
        raw.extend_from_slice(&self.key_id.to_be_bytes());
        raw.extend_from_slice(&self.signature);
        format!("{SIGNATURE_PREFIX}{} {}\n", self.name, STANDARD.encode(raw))
    }

    fn parse_line(line: &str) -> Result<Self, NoteError> {
        let rest = line
            .strip_prefix(SIGNATURE_PREFIX)
            .ok_or(NoteError::Malformed)?;
        let (name, b64) = rest.split_once(' ').ok_or(NoteError::Malformed)?;
        if !is_valid_key_name(name) {
            return Err(NoteError::Malformed);
        }
        let raw = decode_base64(b64).ok_or(NoteError::Malformed)?;
        let Some(([a, b, c, d], signature)) = raw.split_first_chunk::<4>() else {
            return Err(NoteError::Malformed);
        };
        if signature.is_empty() {
            return Err(NoteError::Malformed);
        }
        Ok(Self {
            name: name.to_owned(),
            key_id: u32::from_be_bytes([*a, *b, *c, *d]),
            signature: signature.to_vec(),
        })
    }
}

/// A syntactically valid signed note whose signatures have not been
/// verified. Its text must not be trusted; see [`open_note`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct UnverifiedNote {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl UnverifiedNote {
    /// Parses a signed note strictly (C2SP signed-note §Format), without
    /// verifying any signature.
    pub fn parse(bytes: &[u8]) -> Result<Self, NoteError> {
        if bytes.len() > MAX_NOTE_LEN {
            return Err(NoteError::TooLarge);
        }
        let note = core::str::from_utf8(bytes).map_err(|_| NoteError::Malformed)?;
        if note.chars().any(|c| c < ' ' && c != '\n') {
            return Err(NoteError::Malformed);
        }
        // The text ends at the last blank line, keeping its own final newline.
        let split = note.rfind("\n\n").ok_or(NoteError::Malformed)?;
        let (text, sigs) = note
            .split_at_checked(split + 1)
            .ok_or(NoteError::Malformed)?;
        let sigs = sigs.strip_prefix('\n').ok_or(NoteError::Malformed)?;
        let sigs = sigs.strip_suffix('\n').ok_or(NoteError::Malformed)?;
        let mut signatures = Vec::new();
        for line in sigs.split('\n') {
            if signatures.len() == MAX_SIGNATURES {
                return Err(NoteError::TooLarge);
            }
            signatures.push(NoteSignature::parse_line(line)?);
        }
        Ok(Self {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The text, unverified.
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Every signature line, in order.
    #[must_use]
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Verifies the note against `known` keys (C2SP signed-note
    /// §Signatures): every signature whose name and key ID match a known key
    /// must verify; the others are ignored; at least one must match.
    pub fn verify(self, known: &[NoteVerifier]) -> Result<VerifiedNote, NoteError> {
        let mut verified_by = Vec::new();
        for sig in &self.signatures {
            let mut matching = known
                .iter()
                .filter(|v| v.name == sig.name && v.id == sig.key_id);
            let Some(verifier) = matching.next() else {
                continue;
            };
            if matching.next().is_some() {
                return Err(NoteError::AmbiguousVerifier);
            }
            if !verifier.verify(self.text.as_bytes(), &sig.signature) {
                return Err(NoteError::InvalidSignature);
            }
            if !verified_by.contains(verifier) {
                verified_by.push(verifier.clone());
            }
        }
        if verified_by.is_empty() {
            return Err(NoteError::NoKnownSignature);
        }
        Ok(VerifiedNote {
            note: self,
            verified_by,
        })
    }

    /// The encoded note: text, blank line, signature lines.
    #[must_use]
    pub fn to_text(&self) -> String {
        encode(&self.text, &self.signatures)
    }
}

/// A note at least one known key signed; see [`open_note`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VerifiedNote {
    note: UnverifiedNote,
    verified_by: Vec<NoteVerifier>,
}

impl VerifiedNote {
    /// The verified text, ending in a newline.
    #[must_use]
    pub fn text(&self) -> &str {
        &self.note.text
    }

    /// The known keys whose signatures verified, each once, in the order
    /// they first signed.
    #[must_use]
    pub fn verified_by(&self) -> &[NoteVerifier] {
        &self.verified_by
    }

    /// Every signature line, including those from unknown keys (witness
    /// cosignatures, for example), in order.
    #[must_use]
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.note.signatures
    }

    /// The encoded note, byte for byte as it was opened.
    #[must_use]
    pub fn to_text(&self) -> String {
        self.note.to_text()
    }
}

/// Opens a signed note: parses it strictly and verifies it against the
/// `known` keys (C2SP signed-note). Fails unless at least one known key
/// signed it and every signature from a known key verifies.
pub fn open_note(bytes: &[u8], known: &[NoteVerifier]) -> Result<VerifiedNote, NoteError> {
    UnverifiedNote::parse(bytes)?.verify(known)
}

/// Signs `text` with `signer` and encodes the note.
///
/// `text` must be a valid note text: ending in a newline, with no control
/// character other than newline. (Empty lines are allowed, even at the end:
/// a reader splits at the *last* blank line, so the text reads back
/// unchanged.)
pub fn sign_note(text: &str, signer: &NoteSigner) -> Result<String, NoteError> {
    check_text(text)?;
    Ok(encode(text, &[signer.signature(text)]))
}

/// Checks that `text` can be the text of a note.
pub(crate) fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') || text.chars().any(|c| c < ' ' && c != '\n') {
        return Err(NoteError::Malformed);
    }
    if text.len() > MAX_NOTE_LEN {
        return Err(NoteError::TooLarge);
    }
    Ok(())
}

/// Text, blank line, signature lines.
fn encode(text: &str, signatures: &[NoteSignature]) -> String {
    let mut out = String::with_capacity(text.len() + 1 + 100 * signatures.len());
    out.push_str(text);
    out.push('\n');
    for sig in signatures {
        out.push_str(&sig.to_line());
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn signer(name: &str, seed: u8) -> NoteSigner {
        let key = SigningSecretKey::generate(&mut ChaCha20Rng::from_seed([seed; 32]));
        NoteSigner::new(name, key).unwrap()
    }

    #[test]
    fn round_trips() {
        let s = signer("log.example/a", 1);
        let note = sign_note("one\n\ntwo\n", &s).unwrap();
        let opened = open_note(note.as_bytes(), &[s.verifier()]).unwrap();
        assert_eq!(opened.text(), "one\n\ntwo\n");
        assert_eq!(opened.to_text(), note);
        assert_eq!(opened.verified_by(), &[s.verifier()]);
        let v: NoteVerifier = s.verifier().to_string().parse().unwrap();
        assert_eq!(v, s.verifier());
        let again = NoteSigner::from_signer_key(s.to_signer_key().expose_secret()).unwrap();
        assert_eq!(again.verifier(), s.verifier());
    }

    #[test]
    fn unknown_keys_are_ignored_but_one_known_is_required() {
        let a = signer("a.example", 1);
        let b = signer("b.example", 2);
        let note = sign_note("text\n", &a).unwrap();
        let extra = b.signature("text\n").to_line();
        let both = format!("{note}{extra}");
        // b's signature is from an unknown key: ignored.
        let opened = open_note(both.as_bytes(), &[a.verifier()]).unwrap();
        assert_eq!(opened.signatures().len(), 2);
        assert_eq!(
            open_note(both.as_bytes(), &[]),
            Err(NoteError::NoKnownSignature)
        );
        // Same name, different key: unknown, so ignored.
        let impostor = signer("a.example", 3);
        assert_eq!(
            open_note(note.as_bytes(), &[impostor.verifier()]),
            Err(NoteError::NoKnownSignature)
        );
        // A bad signature from a known key rejects the note.
        let bad_b = b.signature("other\n").to_line();
        let tampered = format!("{note}{bad_b}");
        assert_eq!(
            open_note(tampered.as_bytes(), &[a.verifier(), b.verifier()]),
            Err(NoteError::InvalidSignature)
        );
        assert_eq!(
            open_note(note.as_bytes(), &[a.verifier(), a.verifier()]),
            Err(NoteError::AmbiguousVerifier)
        );
    }

    #[test]
    fn malformed_notes_are_rejected() {
        let s = signer("a.example", 1);
        let good = sign_note("text\n", &s).unwrap();
        let line = good.strip_prefix("text\n\n").unwrap().to_owned();
        let cases: Vec<String> = vec![
            String::new(),
            "text\n".into(),
            "text\n\n".into(),
            format!("text\n{line}"),
            format!("text\n\n{}", line.trim_end()),
            format!("text\n\n{line}\n"),
            format!("text\n\n{line}{line}\n"),
            format!("te\rxt\n\n{line}"),
            format!("te\txt\n\n{line}"),
            format!("text\n\n{}", line.replace('\u{2014}', "-")),
            format!("text\n\n{}", line.replace("\u{2014} ", "\u{2014}  ")),
            format!("text\n\n{}", line.replace(" a.example ", " a+b ")),
            format!("text\n\n{}", line.replace('=', "")),
            format!("text\n\n\u{2014} a.example AAAAAA==\n"),
            format!("text\n\n\u{2014} a.example AAAAAAA=\n"),
            format!("text\n\n\u{2014} a.example \n"),
        ];
        for case in &cases {
            assert!(
                open_note(case.as_bytes(), &[s.verifier()]).is_err(),
                "{case:?}"
            );
        }
        assert_eq!(
            UnverifiedNote::parse(b"text\n\n\xff\n"),
            Err(NoteError::Malformed)
        );
        let many = format!("text\n\n{}", line.repeat(MAX_SIGNATURES + 1));
        assert_eq!(
            open_note(many.as_bytes(), &[s.verifier()]),
            Err(NoteError::TooLarge)
        );
        let max = format!("text\n\n{}", line.repeat(MAX_SIGNATURES));
        assert!(open_note(max.as_bytes(), &[s.verifier()]).is_ok());
    }

    #[test]
    fn texts_that_cannot_round_trip_are_not_signed() {
        let s = signer("a.example", 1);
        for text in ["\n", "blank at end\n\n", "\n\nblank lines first\n"] {
            let note = sign_note(text, &s).unwrap();
            assert_eq!(
                open_note(note.as_bytes(), &[s.verifier()]).unwrap().text(),
                text
            );
        }
        for text in ["", "no newline", "tab\there\n", "cr\r\n"] {
            assert!(sign_note(text, &s).is_err(), "{text:?}");
        }
        assert_eq!(
            NoteSigner::new(
                "has space",
                SigningSecretKey::generate(&mut ChaCha20Rng::from_seed([0; 32]))
            )
            .map(|_| ()),
            Err(NoteKeyError::InvalidName)
        );
    }
}
