//! Key transparency: the log entries that bind identities to keys (spec:
//! `spec/log.md` §Key transparency).
//!
//! A key bundle is *bound* when the access log holds an entry that
//! publishes exactly that bundle at its key's own request; a member
//! certificate is bound when the log holds the administrator's request that
//! stored exactly that certificate; a login name is bound to a key by that
//! key's `password-set` entry. This module checks one entry against the
//! record it is said to bind. Inclusion of the entry in a checkpoint, and
//! the checkpoint's consistency with what a client has seen before, are
//! the log monitor's part.

use sha2::{Digest as _, Sha256};

use crate::api::{self, CertifyMember, RegisterIdentity};
use crate::domain::LOGIN_NAME_SUBJECT;
use crate::key_bundle::VerifiedKeyBundle;
use crate::keys::{SigningPublicKey, hex_lower};
use crate::log_entry::{LogEntry, LogEntryError};
use crate::request::{BodyDigest, RequestError, RequestTarget, SignedRequest};
use crate::signed::RecordDigest;

/// The kind of the entry that publishes a key bundle.
pub const REGISTERED: &str = "registered";
/// The kind of the init step's entry that names the administrator.
pub const ADMINISTRATOR_SET: &str = "administrator-set";
/// The kind of the entry that stores a member certificate.
pub const CERTIFIED: &str = "certified";
/// The kind of the entry that binds a login name to a key.
pub const PASSWORD_SET: &str = "password-set";

/// The path of the call that finishes registering a password.
pub const PASSWORD_SET_PATH: &str = "/v1/login/registration/finish";

/// Why a log entry does not bind the record it is served with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BindingError {
    /// The entry bytes do not parse.
    #[error("the binding entry is malformed: {0}")]
    Entry(#[from] LogEntryError),
    /// The entry records another kind of event.
    #[error("the binding entry is a `{found}` entry, not `{expected}`")]
    WrongKind {
        /// The kind required.
        expected: &'static str,
        /// The kind found.
        found: String,
    },
    /// The entry's subject is not the digest of the served record.
    #[error("the binding entry names another record than the one served")]
    SubjectMismatch,
    /// The entry's actor is not the key whose act it must be.
    #[error("the binding entry was made by another key")]
    WrongActor,
    /// The evidence is not a valid signed request.
    #[error("the binding entry's evidence is not a valid signed request: {0}")]
    Evidence(RequestError),
    /// The evidence was signed by another key than the entry's actor.
    #[error("the binding entry's evidence was signed by another key")]
    EvidenceSigner,
    /// The signed request is not the call that publishes the served record.
    #[error("the binding entry's signed request did not publish the served record")]
    RequestMismatch,
}

/// The subject of a `password-set` entry: SHA-256 of
/// [`LOGIN_NAME_SUBJECT`], a zero byte, and the normalized login name.
#[must_use]
pub fn login_name_subject(normalized_name: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(LOGIN_NAME_SUBJECT);
    h.update([0u8]);
    h.update(normalized_name.as_bytes());
    h.finalize().into()
}

/// Checks that `entry` binds `bundle`: a `registered` entry by the bundle's
/// key whose evidence is that key's `POST /v1/identities` with exactly this
/// bundle, or the `administrator-set` entry whose evidence is the bundle
/// itself. In both, the subject is the bundle's record digest.
pub fn verify_registration_entry(
    entry: &[u8],
    bundle: &VerifiedKeyBundle,
) -> Result<LogEntry, BindingError> {
    let entry = LogEntry::from_bytes(entry)?;
    let key = bundle.identity().signing;
    check_subject_and_actor(&entry, &bundle.digest().0, &key)?;
    match entry.kind.as_str() {
        REGISTERED => {
            let body = api::encode(&RegisterIdentity {
                bundle: bundle.as_bytes().to_vec().into(),
            });
            check_request(&entry, &key, "/v1/identities", Some(&body))?;
        }
        ADMINISTRATOR_SET => {
            if *entry.evidence != bundle.as_bytes() {
                return Err(BindingError::RequestMismatch);
            }
        }
        _ => {
            return Err(BindingError::WrongKind {
                expected: REGISTERED,
                found: entry.kind,
            });
        }
    }
    Ok(entry)
}

/// Checks that `entry` binds the member certificate `certificate` (its
/// exact signed bytes) of `member`: a `certified` entry by `administrator`
/// whose evidence is the administrator's request that stored exactly this
/// certificate.
pub fn verify_certification_entry(
    entry: &[u8],
    certificate: &[u8],
    member: &SigningPublicKey,
    administrator: &SigningPublicKey,
) -> Result<LogEntry, BindingError> {
    let entry = LogEntry::from_bytes(entry)?;
    expect_kind(&entry, CERTIFIED)?;
    check_subject_and_actor(&entry, &RecordDigest::of(certificate).0, administrator)?;
    let body = api::encode(&CertifyMember {
        certificate: certificate.to_vec().into(),
    });
    let path = format!(
        "/v1/identities/{}/certificate",
        hex_lower(member.as_bytes())
    );
    check_request(&entry, administrator, &path, Some(&body))?;
    Ok(entry)
}

/// Checks that `entry` binds the login name whose normalized form is
/// `login_name` to `key`: a `password-set` entry by `key`, whose subject is
/// [`login_name_subject`] and whose evidence is that key's request to
/// finish a password registration. (The request's body is not in the log,
/// so the name itself is the server's statement, made in the log under the
/// key's request.)
pub fn verify_login_entry(
    entry: &[u8],
    login_name: &str,
    key: &SigningPublicKey,
) -> Result<LogEntry, BindingError> {
    let entry = LogEntry::from_bytes(entry)?;
    expect_kind(&entry, PASSWORD_SET)?;
    check_subject_and_actor(&entry, &login_name_subject(login_name), key)?;
    check_request(&entry, key, PASSWORD_SET_PATH, None)?;
    Ok(entry)
}

fn expect_kind(entry: &LogEntry, expected: &'static str) -> Result<(), BindingError> {
    if entry.kind == expected {
        Ok(())
    } else {
        Err(BindingError::WrongKind {
            expected,
            found: entry.kind.clone(),
        })
    }
}

fn check_subject_and_actor(
    entry: &LogEntry,
    subject: &[u8; 32],
    actor: &SigningPublicKey,
) -> Result<(), BindingError> {
    if entry.subject.as_deref() != Some(subject) {
        return Err(BindingError::SubjectMismatch);
    }
    if *entry.actor != actor.to_bytes() {
        return Err(BindingError::WrongActor);
    }
    Ok(())
}

/// The evidence is a request signed by `signer` to `POST path`, with
/// `body` when the body is known.
fn check_request(
    entry: &LogEntry,
    signer: &SigningPublicKey,
    path: &str,
    body: Option<&[u8]>,
) -> Result<(), BindingError> {
    let request = SignedRequest::from_evidence(&entry.evidence).map_err(BindingError::Evidence)?;
    if request.signer() != signer {
        return Err(BindingError::EvidenceSigner);
    }
    let RequestTarget {
        method,
        path: signed_path,
        query,
        body_digest,
    } = request.request().target();
    let body_ok = body.is_none_or(|b| *body_digest == BodyDigest::of(b));
    if method != "POST" || signed_path != path || !query.is_empty() || !body_ok {
        return Err(BindingError::RequestMismatch);
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;
    use crate::key_bundle::KeyBundle;
    use crate::keys::Identity;
    use crate::log_entry::LOG_ENTRY_VERSION;
    use crate::membership::{MemberCertificate, Role};

    fn rng() -> ChaCha20Rng {
        ChaCha20Rng::from_seed([5; 32])
    }

    fn entry(kind: &str, actor: &SigningPublicKey, subject: [u8; 32], evidence: &[u8]) -> Vec<u8> {
        LogEntry {
            version: LOG_ENTRY_VERSION,
            index: 3,
            at: 1_700_000_000,
            kind: kind.into(),
            actor: actor.to_bytes().into(),
            matter_id: None,
            document_id: None,
            document_version: None,
            subject: Some(subject.into()),
            evidence: evidence.to_vec().into(),
        }
        .to_bytes()
    }

    fn post(key: &Identity, path: &str, body: &[u8]) -> Vec<u8> {
        let target = RequestTarget {
            method: "POST".into(),
            path: path.into(),
            query: String::new(),
            body_digest: BodyDigest::of(body),
        };
        SignedRequest::sign(
            target,
            crate::request::ChainPosition::FIRST,
            key.signing_key(),
            1_700_000_000,
            &mut rng(),
        )
        .unwrap()
        .as_bytes()
        .to_vec()
    }

    fn registration(id: &Identity, bundle: &VerifiedKeyBundle) -> Vec<u8> {
        let body = api::encode(&RegisterIdentity {
            bundle: bundle.as_bytes().to_vec().into(),
        });
        post(id, "/v1/identities", &body)
    }

    #[test]
    fn a_registration_binds_only_its_own_bundle() {
        let alice = Identity::generate(&mut ChaCha20Rng::from_seed([1; 32]));
        let bundle = KeyBundle::create(&alice, "Alice", 1).unwrap();
        let key = alice.public().signing;
        let good = entry(
            REGISTERED,
            &key,
            bundle.digest().0,
            &registration(&alice, &bundle),
        );
        assert!(verify_registration_entry(&good, &bundle).is_ok());

        // The same key's other bundle is not bound by it.
        let other = KeyBundle::create(&alice, "Alice B", 2).unwrap();
        assert_eq!(
            verify_registration_entry(&good, &other),
            Err(BindingError::SubjectMismatch)
        );
        // A subject naming the bundle over a request for another bundle.
        let swapped = entry(
            REGISTERED,
            &key,
            other.digest().0,
            &registration(&alice, &bundle),
        );
        assert_eq!(
            verify_registration_entry(&swapped, &other),
            Err(BindingError::RequestMismatch)
        );
        // Someone else's request, with the entry's actor set to the key.
        let mallory = Identity::generate(&mut ChaCha20Rng::from_seed([2; 32]));
        let forged = entry(
            REGISTERED,
            &key,
            bundle.digest().0,
            &registration(&mallory, &bundle),
        );
        assert_eq!(
            verify_registration_entry(&forged, &bundle),
            Err(BindingError::EvidenceSigner)
        );
        let by_mallory = entry(
            REGISTERED,
            &mallory.public().signing,
            bundle.digest().0,
            &registration(&mallory, &bundle),
        );
        assert_eq!(
            verify_registration_entry(&by_mallory, &bundle),
            Err(BindingError::WrongActor)
        );
        // Another call's entry.
        let viewed = entry(
            "viewed",
            &key,
            bundle.digest().0,
            &registration(&alice, &bundle),
        );
        assert!(matches!(
            verify_registration_entry(&viewed, &bundle),
            Err(BindingError::WrongKind { .. })
        ));
        // The init step binds the administrator's bundle by carrying it.
        let init = entry(
            ADMINISTRATOR_SET,
            &key,
            bundle.digest().0,
            bundle.as_bytes(),
        );
        assert!(verify_registration_entry(&init, &bundle).is_ok());
        let init_other = entry(ADMINISTRATOR_SET, &key, bundle.digest().0, other.as_bytes());
        assert_eq!(
            verify_registration_entry(&init_other, &bundle),
            Err(BindingError::RequestMismatch)
        );
    }

    #[test]
    fn a_certification_is_the_administrators_request_for_that_certificate() {
        let admin = Identity::generate(&mut ChaCha20Rng::from_seed([3; 32]));
        let member = Identity::generate(&mut ChaCha20Rng::from_seed([4; 32]));
        let bundle = KeyBundle::create(&member, "Bo", 1).unwrap();
        let certificate = MemberCertificate::issue(&bundle, Role::Attorney, 2, admin.signing_key());
        let cert = certificate.as_bytes();
        let member_key = member.public().signing;
        let admin_key = admin.public().signing;
        let path = format!(
            "/v1/identities/{}/certificate",
            hex_lower(member_key.as_bytes())
        );
        let body = api::encode(&CertifyMember {
            certificate: cert.to_vec().into(),
        });
        let good = entry(
            CERTIFIED,
            &admin_key,
            RecordDigest::of(cert).0,
            &post(&admin, &path, &body),
        );
        assert!(verify_certification_entry(&good, cert, &member_key, &admin_key).is_ok());
        // Not the administrator.
        assert_eq!(
            verify_certification_entry(&good, cert, &member_key, &member_key),
            Err(BindingError::WrongActor)
        );
        // Filed under another member's path.
        let elsewhere = entry(
            CERTIFIED,
            &admin_key,
            RecordDigest::of(cert).0,
            &post(&admin, "/v1/identities/00/certificate", &body),
        );
        assert_eq!(
            verify_certification_entry(&elsewhere, cert, &member_key, &admin_key),
            Err(BindingError::RequestMismatch)
        );
    }

    #[test]
    fn a_login_entry_names_the_login_and_the_key() {
        let ada = Identity::generate(&mut ChaCha20Rng::from_seed([6; 32]));
        let key = ada.public().signing;
        let evidence = post(&ada, PASSWORD_SET_PATH, b"body");
        let good = entry(PASSWORD_SET, &key, login_name_subject("ada"), &evidence);
        assert!(verify_login_entry(&good, "ada", &key).is_ok());
        assert_eq!(
            verify_login_entry(&good, "bob", &key),
            Err(BindingError::SubjectMismatch)
        );
        assert_ne!(login_name_subject("ada"), login_name_subject("ad"));
    }
}
