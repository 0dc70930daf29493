//! Domain-separation labels: every HKDF `info` string and every signature
//! context lexvault defines (spec: `spec/README.md` §Labels).
//!
//! Each constant is used for exactly one purpose. Their bytes are part of the
//! wire format, so a golden test below pins them: changing one is a protocol
//! change and needs a new version.
//!
//! The age format's own labels (`age-encryption.org/v1/X25519`, `payload`,
//! `header`, …) belong to age and live in [`crate::age`].

/// HKDF-SHA-256 `info` for the key that seals a version's encrypted metadata.
pub const METADATA_KEY: &[u8] = b"lexvault/v1/metadata-key";
/// HKDF-SHA-256 `info` for the key commitment of a file key.
pub const KEY_COMMITMENT: &[u8] = b"lexvault/v1/key-commitment";
/// HKDF-SHA-256 `info` for the key that seals a key backup.
pub const BACKUP_SEAL_KEY: &[u8] = b"lexvault/v1/backup-seal-key";
/// HKDF-SHA-256 `info` for a share link's Ed25519 seed.
pub const LINK_SIGNING_KEY: &[u8] = b"lexvault/v1/link-signing-key";
/// HKDF-SHA-256 `info` for a share link's X25519 secret.
pub const LINK_ENCRYPTION_KEY: &[u8] = b"lexvault/v1/link-encryption-key";
/// HKDF-SHA-256 `info` for the Argon2id salt of a share link's passphrase.
pub const LINK_PASSPHRASE_SALT: &[u8] = b"lexvault/v1/link-passphrase-salt";
/// HKDF-SHA-256 salt when deriving share-link keys.
pub const LINK_HKDF_SALT: &[u8] = b"lexvault/v1/link";
/// SHA-256 prefix of an identity's fingerprint.
pub const FINGERPRINT: &[u8] = b"lexvault/v1/fingerprint";
/// SHA-256 prefix of the subject a `password-set` log entry carries: the
/// digest of the login name it binds.
pub const LOGIN_NAME_SUBJECT: &[u8] = b"lexvault/v1/login-name";
/// SHA-256 prefix of a payload's segmented digest (manifest field 5).
pub const PAYLOAD_DIGEST: &[u8] = b"lexvault/v1/payload-digest";
/// SHA-256 prefix of a plaintext's segmented digest (metadata field 4).
pub const PLAINTEXT_DIGEST: &[u8] = b"lexvault/v1/plaintext-digest";

/// The context an Ed25519 signature is made in.
///
/// The signed message is `context || 0x00 || body`. No context contains a NUL
/// byte, so no signature made in one context verifies in another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignatureContext(&'static [u8]);

impl SignatureContext {
    /// A self-signed identity key bundle.
    pub const KEY_BUNDLE: Self = Self(b"lexvault/v1/key-bundle");
    /// The record that creates a matter and names its creator.
    pub const MATTER: Self = Self(b"lexvault/v1/matter");
    /// A document version manifest, signed by its uploader.
    pub const VERSION_MANIFEST: Self = Self(b"lexvault/v1/version-manifest");
    /// A grant of rights, signed by its grantor.
    pub const GRANT: Self = Self(b"lexvault/v1/grant");
    /// A revocation of a grant.
    pub const REVOCATION: Self = Self(b"lexvault/v1/revocation");
    /// An API request, signed by its caller.
    pub const REQUEST: Self = Self(b"lexvault/v1/request");
    /// The firm administrator's certificate of a member and their role.
    pub const MEMBER_CERTIFICATE: Self = Self(b"lexvault/v1/member-certificate");

    /// The context's bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &'static [u8] {
        self.0
    }

    /// The exact message an Ed25519 signature covers: `context || 0x00 || body`.
    #[must_use]
    pub fn message(&self, body: &[u8]) -> Vec<u8> {
        let mut m = Vec::with_capacity(self.0.len() + 1 + body.len());
        m.extend_from_slice(self.0);
        m.push(0);
        m.extend_from_slice(body);
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_pinned() {
        // Golden bytes: changing any of these breaks every stored record.
        let pinned: &[(&[u8], &str)] = &[
            (METADATA_KEY, "lexvault/v1/metadata-key"),
            (KEY_COMMITMENT, "lexvault/v1/key-commitment"),
            (BACKUP_SEAL_KEY, "lexvault/v1/backup-seal-key"),
            (LINK_SIGNING_KEY, "lexvault/v1/link-signing-key"),
            (LINK_ENCRYPTION_KEY, "lexvault/v1/link-encryption-key"),
            (LINK_PASSPHRASE_SALT, "lexvault/v1/link-passphrase-salt"),
            (LINK_HKDF_SALT, "lexvault/v1/link"),
            (FINGERPRINT, "lexvault/v1/fingerprint"),
            (LOGIN_NAME_SUBJECT, "lexvault/v1/login-name"),
            (PAYLOAD_DIGEST, "lexvault/v1/payload-digest"),
            (PLAINTEXT_DIGEST, "lexvault/v1/plaintext-digest"),
            (
                SignatureContext::KEY_BUNDLE.as_bytes(),
                "lexvault/v1/key-bundle",
            ),
            (SignatureContext::MATTER.as_bytes(), "lexvault/v1/matter"),
            (
                SignatureContext::VERSION_MANIFEST.as_bytes(),
                "lexvault/v1/version-manifest",
            ),
            (SignatureContext::GRANT.as_bytes(), "lexvault/v1/grant"),
            (
                SignatureContext::REVOCATION.as_bytes(),
                "lexvault/v1/revocation",
            ),
            (SignatureContext::REQUEST.as_bytes(), "lexvault/v1/request"),
            (
                SignatureContext::MEMBER_CERTIFICATE.as_bytes(),
                "lexvault/v1/member-certificate",
            ),
        ];
        for (label, text) in pinned {
            assert_eq!(*label, text.as_bytes());
        }
        let mut seen: Vec<&[u8]> = pinned.iter().map(|(l, _)| *l).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(
            seen.len(),
            pinned.len(),
            "every label is used for one purpose"
        );
    }

    #[test]
    fn signature_message_is_context_nul_body() {
        let m = SignatureContext::GRANT.message(b"xyz");
        assert_eq!(m, b"lexvault/v1/grant\0xyz");
    }
}
