//! Firm membership: the administrator's certificate of a member's key bundle
//! and role (spec: `spec/identity.md` §Member certificate).
//!
//! A firm has one administrator identity, set by an explicit init step on
//! the server. The administrator signs a [`MemberCertificate`] for each
//! member of staff, naming the digest of the member's exact key bundle and
//! their [`Role`]; only certified members may create matters.
//!
//! ```text
//! MemberCertificate = {
//!   0: 1,              ; version
//!   1: bstr .size 32,  ; member's Ed25519 key
//!   2: bstr .size 32,  ; record digest of the member's signed key bundle
//!   3: uint,           ; role: 1 attorney, 2 paralegal, 3 administrator
//!   4: uint,           ; issued at, Unix seconds
//! }
//! ```

use minicbor::{Decode, Encode};

use crate::domain::SignatureContext;
use crate::key_bundle::VerifiedKeyBundle;
use crate::keys::{SigningPublicKey, SigningSecretKey};
use crate::signed::{RecordDigest, Signed, SignedRecordError, wire};

/// The only member certificate version this crate reads and writes.
pub const MEMBER_CERTIFICATE_VERSION: u8 = 1;

/// A member's role in the firm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// A lawyer: creates matters and shares documents.
    Attorney,
    /// Staff working for attorneys: creates matters and uploads documents.
    Paralegal,
    /// Runs the firm's vault: certifies members.
    Administrator,
}

impl Role {
    /// The role's wire code.
    #[must_use]
    pub const fn code(self) -> u8 {
        match self {
            Self::Attorney => 1,
            Self::Paralegal => 2,
            Self::Administrator => 3,
        }
    }

    /// The role with a wire code.
    #[must_use]
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Attorney),
            2 => Some(Self::Paralegal),
            3 => Some(Self::Administrator),
            _ => None,
        }
    }

    /// The role's name, as the CLI and the API show it.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Attorney => "attorney",
            Self::Paralegal => "paralegal",
            Self::Administrator => "administrator",
        }
    }

    /// The role named `name` (see [`Self::name`]).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Attorney, Self::Paralegal, Self::Administrator]
            .into_iter()
            .find(|r| r.name() == name)
    }
}

/// Why a member certificate was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MembershipError {
    /// The envelope, the signature or the body's encoding is invalid.
    #[error(transparent)]
    Record(#[from] SignedRecordError),
    /// The record's version is not [`MEMBER_CERTIFICATE_VERSION`].
    #[error("unknown member certificate version {0}")]
    UnknownVersion(u64),
    /// The member key is not a valid Ed25519 key.
    #[error("member certificate names an invalid member key")]
    InvalidMemberKey,
    /// The role code is not one this version defines.
    #[error("member certificate has unknown role {0}")]
    UnknownRole(u64),
    /// The certificate is not signed by the firm's administrator.
    #[error("member certificate is not signed by the firm's administrator")]
    NotByAdministrator,
    /// The certificate names another key bundle than the one given.
    #[error("member certificate is for another key bundle")]
    BundleMismatch,
}

/// The administrator's statement that a key bundle belongs to a member with
/// a role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberCertificate {
    member: SigningPublicKey,
    bundle: RecordDigest,
    role: Role,
    issued_at: u64,
}

impl MemberCertificate {
    /// Certifies `bundle` with `role`, signed by the administrator's key.
    #[must_use]
    pub fn issue(
        bundle: &VerifiedKeyBundle,
        role: Role,
        issued_at: u64,
        administrator: &SigningSecretKey,
    ) -> Signed<Self> {
        let record = Self {
            member: bundle.identity().signing,
            bundle: bundle.digest(),
            role,
            issued_at,
        };
        Signed::sign(record, administrator)
    }

    /// The member's signing key.
    #[must_use]
    pub fn member(&self) -> &SigningPublicKey {
        &self.member
    }

    /// Digest of the certified key bundle.
    #[must_use]
    pub fn bundle(&self) -> &RecordDigest {
        &self.bundle
    }

    /// The member's role.
    #[must_use]
    pub fn role(&self) -> Role {
        self.role
    }

    /// When the certificate was issued, in Unix seconds.
    #[must_use]
    pub fn issued_at(&self) -> u64 {
        self.issued_at
    }
}

#[derive(Clone, Encode, Decode)]
#[cbor(map)]
pub(crate) struct MemberCertificateWire {
    #[n(0)]
    version: u8,
    #[cbor(n(1), with = "minicbor::bytes")]
    member: [u8; 32],
    #[cbor(n(2), with = "minicbor::bytes")]
    bundle: [u8; 32],
    #[n(3)]
    role: u8,
    #[n(4)]
    issued_at: u64,
}

impl wire::WireForm for MemberCertificate {
    const VERSION: u8 = MEMBER_CERTIFICATE_VERSION;
    type Wire = MemberCertificateWire;
    type Error = MembershipError;

    fn from_wire(w: MemberCertificateWire) -> Result<Self, MembershipError> {
        if w.version != MEMBER_CERTIFICATE_VERSION {
            return Err(MembershipError::UnknownVersion(w.version.into()));
        }
        let member = SigningPublicKey::from_bytes(&w.member)
            .map_err(|_| MembershipError::InvalidMemberKey)?;
        let role = Role::from_code(w.role).ok_or(MembershipError::UnknownRole(w.role.into()))?;
        Ok(Self {
            member,
            bundle: RecordDigest(w.bundle),
            role,
            issued_at: w.issued_at,
        })
    }

    fn to_wire(&self) -> MemberCertificateWire {
        MemberCertificateWire {
            version: MEMBER_CERTIFICATE_VERSION,
            member: self.member.to_bytes(),
            bundle: self.bundle.0,
            role: self.role.code(),
            issued_at: self.issued_at,
        }
    }

    fn unknown_version(version: u64) -> MembershipError {
        MembershipError::UnknownVersion(version)
    }
}

signed_record!(MemberCertificate, SignatureContext::MEMBER_CERTIFICATE);

/// Parses a member certificate and checks that the administrator signed it
/// for exactly `bundle`.
pub fn verify_member_certificate(
    bytes: &[u8],
    administrator: &SigningPublicKey,
    bundle: &VerifiedKeyBundle,
) -> Result<Signed<MemberCertificate>, MembershipError> {
    let signed = wire::parse_signed::<MemberCertificate>(bytes)?;
    if signed.signer() != administrator {
        return Err(MembershipError::NotByAdministrator);
    }
    let record = signed.record();
    if record.bundle != bundle.digest() || record.member != bundle.identity().signing {
        return Err(MembershipError::BundleMismatch);
    }
    Ok(signed)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;
    use crate::key_bundle::KeyBundle;
    use crate::keys::Identity;

    #[test]
    fn certificate_binds_administrator_bundle_and_role() {
        let mut rng = ChaCha20Rng::from_seed([3; 32]);
        let admin = Identity::generate(&mut rng);
        let member = Identity::generate(&mut rng);
        let other = Identity::generate(&mut rng);
        let bundle = KeyBundle::create(&member, "Ada Attorney", 10).unwrap();
        let other_bundle = KeyBundle::create(&other, "Oscar", 10).unwrap();

        let cert = MemberCertificate::issue(&bundle, Role::Attorney, 20, admin.signing_key());
        let ok =
            verify_member_certificate(cert.as_bytes(), &admin.public().signing, &bundle).unwrap();
        assert_eq!(ok.record().role(), Role::Attorney);

        assert_eq!(
            verify_member_certificate(cert.as_bytes(), &member.public().signing, &bundle)
                .unwrap_err(),
            MembershipError::NotByAdministrator
        );
        assert_eq!(
            verify_member_certificate(cert.as_bytes(), &admin.public().signing, &other_bundle)
                .unwrap_err(),
            MembershipError::BundleMismatch
        );
        let forged =
            MemberCertificate::issue(&bundle, Role::Administrator, 20, member.signing_key());
        assert!(
            verify_member_certificate(forged.as_bytes(), &admin.public().signing, &bundle).is_err()
        );
    }

    #[test]
    fn role_codes_and_names_round_trip() {
        for role in [Role::Attorney, Role::Paralegal, Role::Administrator] {
            assert_eq!(Role::from_code(role.code()), Some(role));
            assert_eq!(Role::from_name(role.name()), Some(role));
        }
        assert_eq!(Role::from_code(0), None);
        assert_eq!(Role::from_code(4), None);
        assert_eq!(Role::from_name("client"), None);
    }
}
