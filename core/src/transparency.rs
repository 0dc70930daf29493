//! Key transparency on a client, sans-I/O (spec: `spec/log.md` §Key
//! transparency).
//!
//! Before a client encrypts a file key to someone or grants them anything,
//! it checks that the key bundle the server serves for them is *bound* in
//! the access log: the server proves, against one signed checkpoint, the
//! inclusion of the entry in which that key asked to publish exactly that
//! bundle (and, when the client relies on a role, the entry in which the
//! administrator stored exactly that certificate, or for a login-name
//! lookup the entry binding the name). The checkpoint must open under the
//! pinned log key and be consistent with the pinned checkpoint, so a
//! binding shown to one client is in the history every client and the
//! auditor see.
//!
//! The CLI and the browser share this code: [`verify_binding_proofs`]
//! checks the served proofs, [`consistency_needed`] says which consistency
//! proof to fetch between the pinned and the served checkpoint, and
//! [`verify_consistency`] checks it. Fetching is the caller's.

use sha2::{Digest as _, Sha256};

use crate::api::{IdentityInfo, LogInclusion};
use crate::binding::{
    ADMINISTRATOR_SET, BindingError, verify_certification_entry, verify_login_entry,
    verify_registration_entry,
};
use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::key_bundle::{KeyBundleError, VerifiedKeyBundle, verify_key_bundle};
use crate::keys::{SigningPublicKey, hex_lower};
use crate::merkle::{self, Hash, ProofError};
use crate::note::{NoteKeyError, NoteVerifier};

/// Why a served identity is not one the client may encrypt to or grant.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransparencyError {
    /// The served key bundle does not verify.
    #[error("the served key bundle is invalid: {0}")]
    InvalidBundle(KeyBundleError),
    /// The server answered for one key with another key's bundle.
    #[error("the server served another person's key bundle")]
    WrongBundle,
    /// The server sent no binding proofs: the bundle is not shown to be in
    /// the log.
    #[error("the server did not show that this key bundle is bound in the log")]
    NotInLog,
    /// The registration entry does not bind the served bundle.
    #[error("the log entry served as this key bundle's registration does not bind it: {0}")]
    Registration(BindingError),
    /// A certificate was served without the entry that binds it.
    #[error("the server did not show that this member certificate is bound in the log")]
    CertificateNotInLog,
    /// The certification entry does not bind the served certificate.
    #[error("the log entry served as this certificate's binding does not bind it: {0}")]
    Certification(BindingError),
    /// A login-name lookup answered without the entry binding the name.
    #[error("the server did not show that this login name is bound in the log")]
    LoginNotInLog,
    /// The login entry does not bind the name to the key.
    #[error("the log entry served as this login name's binding does not bind it: {0}")]
    Login(BindingError),
    /// A name lookup answered with an identity of another name.
    #[error("the server answered a name lookup with an identity of another name")]
    WrongName,
    /// A binding entry's index is not the index it is proven at.
    #[error("a binding entry's index does not match its proof")]
    IndexMismatch,
    /// A binding entry is not included in the served checkpoint.
    #[error("a binding entry is not included in the served checkpoint: {0}")]
    Inclusion(ProofError),
    /// The served checkpoint is not UTF-8 text.
    #[error("the server sent a malformed log checkpoint")]
    MalformedCheckpoint,
    /// The served checkpoint does not open under the pinned log key.
    #[error("a log checkpoint does not verify under the pinned log key: {0}")]
    Checkpoint(CheckpointError),
}

/// A key bundle whose binding in the log was verified.
#[derive(Debug, Clone)]
pub struct BoundIdentity {
    /// The verified bundle.
    pub bundle: VerifiedKeyBundle,
    /// The leaf index of the entry that binds it.
    pub registration_index: u64,
    /// The member certificate's exact bytes and its binding entry's index,
    /// when one was served and checked.
    pub certificate: Option<(Vec<u8>, u64)>,
    /// The leaf index of the entry binding the looked-up login name, for a
    /// lookup by login name.
    pub login_index: Option<u64>,
}

/// What a served identity must be bound as.
#[derive(Debug, Clone, Copy, Default)]
pub struct Expect<'a> {
    /// The key the identity was asked for, if one was.
    pub key: Option<&'a SigningPublicKey>,
    /// The administrator's key, when the client relies on a served member
    /// certificate (a certificate is then required to be bound).
    pub administrator: Option<&'a SigningPublicKey>,
    /// The normalized login name looked up, if any.
    pub login_name: Option<&'a str>,
    /// The identity is served as the firm's administrator: only the init
    /// step's `administrator-set` entry binds it.
    pub as_administrator: bool,
}

/// An identity whose binding proofs verified against a served checkpoint.
/// The binding counts only once that checkpoint is shown consistent with
/// the pinned one ([`consistency_needed`], [`verify_consistency`]).
#[derive(Debug, Clone)]
pub struct ProvenIdentity {
    /// The identity and its binding entries.
    pub identity: BoundIdentity,
    /// The served signed checkpoint note the proofs are against.
    pub note: String,
    /// Its body, opened under the log key.
    pub checkpoint: Checkpoint,
}

/// Verifies a served identity's bundle and binding proofs (every entry
/// included in the served checkpoint, which opens under `verifier`, and
/// binding exactly what `expect` asks).
///
/// # Errors
/// A [`TransparencyError`] naming the first check that failed.
pub fn verify_binding_proofs(
    info: &IdentityInfo,
    expect: Expect<'_>,
    verifier: &NoteVerifier,
) -> Result<ProvenIdentity, TransparencyError> {
    let bundle = verify_key_bundle(&info.bundle).map_err(TransparencyError::InvalidBundle)?;
    if expect.key.is_some_and(|k| *k != bundle.identity().signing) {
        return Err(TransparencyError::WrongBundle);
    }
    let proofs = info.bindings.as_ref().ok_or(TransparencyError::NotInLog)?;
    let note = std::str::from_utf8(&proofs.checkpoint)
        .map_err(|_| TransparencyError::MalformedCheckpoint)?;
    let checkpoint = open_checkpoint(note, verifier).map_err(TransparencyError::Checkpoint)?;
    let included = |inclusion: &LogInclusion| -> Result<(), TransparencyError> {
        let proof: Vec<Hash> = inclusion.proof.iter().map(|h| **h).collect();
        merkle::verify_inclusion(
            inclusion.index,
            checkpoint.size,
            &merkle::leaf_hash(&inclusion.entry),
            &proof,
            &checkpoint.root,
        )
        .map_err(TransparencyError::Inclusion)
    };

    included(&proofs.registration)?;
    let entry = verify_registration_entry(&proofs.registration.entry, &bundle)
        .map_err(TransparencyError::Registration)?;
    if entry.index != proofs.registration.index {
        return Err(TransparencyError::IndexMismatch);
    }
    if expect.as_administrator && entry.kind != ADMINISTRATOR_SET {
        return Err(TransparencyError::Registration(BindingError::WrongKind {
            expected: ADMINISTRATOR_SET,
            found: entry.kind,
        }));
    }

    let mut certificate = None;
    if let (Some(administrator), Some(bytes)) = (expect.administrator, &info.certificate) {
        let inclusion = proofs
            .certification
            .as_ref()
            .ok_or(TransparencyError::CertificateNotInLog)?;
        included(inclusion)?;
        let entry = verify_certification_entry(
            &inclusion.entry,
            bytes,
            &bundle.identity().signing,
            administrator,
        )
        .map_err(TransparencyError::Certification)?;
        if entry.index != inclusion.index {
            return Err(TransparencyError::IndexMismatch);
        }
        certificate = Some((bytes.to_vec(), entry.index));
    }

    let mut login_index = None;
    if let Some(name) = expect.login_name {
        let inclusion = proofs
            .login
            .as_ref()
            .ok_or(TransparencyError::LoginNotInLog)?;
        included(inclusion)?;
        let entry = verify_login_entry(&inclusion.entry, name, &bundle.identity().signing)
            .map_err(TransparencyError::Login)?;
        if entry.index != inclusion.index {
            return Err(TransparencyError::IndexMismatch);
        }
        login_index = Some(entry.index);
    }

    Ok(ProvenIdentity {
        identity: BoundIdentity {
            registration_index: proofs.registration.index,
            bundle,
            certificate,
            login_index,
        },
        note: note.to_owned(),
        checkpoint,
    })
}

/// Why a log key string cannot be pinned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogKeyError {
    /// The log key string is invalid.
    #[error("the log key is invalid: {0}")]
    Invalid(NoteKeyError),
    /// The log key's name is not the origin the spec derives from the key.
    #[error("the log key's name is not lexvault/<first 16 hex digits of SHA-256 of the key>")]
    UnexpectedOrigin,
}

/// The checkpoint origin of the log whose note key is `verifier` (spec:
/// `spec/log.md` §Server API): `lexvault/<first 16 hex digits of SHA-256 of
/// the public key>`.
#[must_use]
pub fn expected_origin(verifier: &NoteVerifier) -> String {
    let digest = Sha256::digest(verifier.public_key().as_bytes());
    let hex = hex_lower(&digest);
    format!("lexvault/{}", hex.get(..16).unwrap_or_default())
}

/// Parses a log key string and checks its name is the derived origin.
///
/// # Errors
/// [`LogKeyError`] for an invalid key or a name that is not its origin.
pub fn parse_log_key(text: &str) -> Result<NoteVerifier, LogKeyError> {
    let verifier: NoteVerifier = text.parse().map_err(LogKeyError::Invalid)?;
    if verifier.name() != expected_origin(&verifier) {
        return Err(LogKeyError::UnexpectedOrigin);
    }
    Ok(verifier)
}

/// Opens a signed checkpoint note with the log key.
///
/// # Errors
/// When the note does not open under `verifier` or its body is malformed.
pub fn open_checkpoint(note: &str, verifier: &NoteVerifier) -> Result<Checkpoint, CheckpointError> {
    let (checkpoint, _) = Checkpoint::open(note.as_bytes(), verifier.name(), verifier)?;
    Ok(checkpoint)
}

/// A served checkpoint that no consistency proof can link to the pinned
/// one: both signed notes are evidence of a fork.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the log has forked: the served checkpoint is not consistent with the pinned one")]
pub struct Forked;

/// What it takes to show `served` consistent with `pinned`: nothing
/// (`None`), or the consistency proof between the two sizes `(from, to)`,
/// smaller first. When `served` is the log's *newest* checkpoint, one
/// smaller than the pinned is a rollback.
///
/// # Errors
/// [`Forked`] for two different roots at one size, or a rollback.
pub fn consistency_needed(
    pinned: &Checkpoint,
    served: &Checkpoint,
    newest: bool,
) -> Result<Option<(u64, u64)>, Forked> {
    if newest && served.size < pinned.size {
        return Err(Forked);
    }
    let (old, new) = ordered(pinned, served);
    if old.size == new.size {
        return if old.root == new.root {
            Ok(None)
        } else {
            Err(Forked)
        };
    }
    if old.size == 0 {
        return Ok(None);
    }
    Ok(Some((old.size, new.size)))
}

/// Checks the consistency proof `proof` between `pinned` and `served` (in
/// whichever order their sizes put them).
///
/// # Errors
/// [`Forked`] when the proof does not link them.
pub fn verify_consistency(
    pinned: &Checkpoint,
    served: &Checkpoint,
    proof: &[Hash],
) -> Result<(), Forked> {
    let (old, new) = ordered(pinned, served);
    merkle::verify_consistency(old.size, new.size, proof, &old.root, &new.root).map_err(|_| Forked)
}

fn ordered<'a>(a: &'a Checkpoint, b: &'a Checkpoint) -> (&'a Checkpoint, &'a Checkpoint) {
    if b.size >= a.size { (a, b) } else { (b, a) }
}

/// The path that asks the server for the consistency proof between two
/// sizes.
#[must_use]
pub fn consistency_path(from: u64, to: u64) -> String {
    format!("/v1/log/consistency?from={from}&to={to}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;
    use crate::api::{self, BindingProofs, RegisterIdentity};
    use crate::binding::REGISTERED;
    use crate::key_bundle::KeyBundle;
    use crate::keys::{Identity, SigningSecretKey};
    use crate::log_entry::{LOG_ENTRY_VERSION, LogEntry};
    use crate::note::NoteSigner;
    use crate::request::{BodyDigest, ChainPosition, RequestTarget, SignedRequest};

    /// A log of the given entries, signed with a fresh log key.
    pub(crate) struct TestLog {
        pub signer: NoteSigner,
        pub leaves: Vec<Vec<u8>>,
    }

    impl TestLog {
        pub fn new(seed: u8) -> Self {
            let secret = SigningSecretKey::generate(&mut ChaCha20Rng::from_seed([seed; 32]));
            let public = secret.public_key();
            let name = format!(
                "lexvault/{}",
                &hex_lower(&Sha256::digest(public.as_bytes()))[..16]
            );
            Self {
                signer: NoteSigner::new(&name, secret).unwrap(),
                leaves: Vec::new(),
            }
        }

        pub fn root(&self, size: usize) -> Hash {
            let hashes: Vec<Hash> = self.leaves[..size]
                .iter()
                .map(|l| merkle::leaf_hash(l))
                .collect();
            merkle::root(&hashes)
        }

        pub fn checkpoint(&self, size: usize) -> (String, Checkpoint) {
            let c = Checkpoint::new(self.signer.name(), size as u64, self.root(size)).unwrap();
            (c.sign(&self.signer).unwrap(), c)
        }

        pub fn inclusion(&self, index: usize, size: usize) -> LogInclusion {
            let hashes: Vec<Hash> = self.leaves[..size]
                .iter()
                .map(|l| merkle::leaf_hash(l))
                .collect();
            LogInclusion {
                index: index as u64,
                entry: self.leaves[index].clone().into(),
                proof: merkle::inclusion_proof(&hashes, index as u64)
                    .unwrap()
                    .into_iter()
                    .map(Into::into)
                    .collect(),
            }
        }

        /// Appends `id`'s registration of `bundle`; returns its index.
        pub fn register(&mut self, id: &Identity, bundle: &VerifiedKeyBundle) -> usize {
            let body = api::encode(&RegisterIdentity {
                bundle: bundle.as_bytes().to_vec().into(),
            });
            let target = RequestTarget {
                method: "POST".into(),
                path: "/v1/identities".into(),
                query: String::new(),
                body_digest: BodyDigest::of(&body),
            };
            let request = SignedRequest::sign(
                target,
                ChainPosition::FIRST,
                id.signing_key(),
                1_700_000_000,
                &mut ChaCha20Rng::from_seed([9; 32]),
            )
            .unwrap();
            let index = self.leaves.len();
            self.leaves.push(
                LogEntry {
                    version: LOG_ENTRY_VERSION,
                    index: index as u64,
                    at: 1_700_000_000,
                    kind: REGISTERED.into(),
                    actor: id.public().signing.to_bytes().into(),
                    matter_id: None,
                    document_id: None,
                    document_version: None,
                    subject: Some(bundle.digest().0.into()),
                    evidence: request.as_bytes().to_vec().into(),
                }
                .to_bytes(),
            );
            index
        }

        /// What the server serves for `bundle` registered at `index`, with
        /// proofs against the checkpoint of `size`.
        pub fn served(
            &self,
            bundle: &VerifiedKeyBundle,
            index: usize,
            size: usize,
        ) -> IdentityInfo {
            IdentityInfo {
                bundle: bundle.as_bytes().to_vec().into(),
                certificate: None,
                bindings: Some(BindingProofs {
                    checkpoint: self.checkpoint(size).0.into_bytes().into(),
                    registration: self.inclusion(index, size),
                    certification: None,
                    login: None,
                }),
            }
        }
    }

    pub(crate) fn person(seed: u8, name: &str) -> (Identity, VerifiedKeyBundle) {
        let id = Identity::generate(&mut ChaCha20Rng::from_seed([seed; 32]));
        let bundle = KeyBundle::create(&id, name, 1).unwrap();
        (id, bundle)
    }

    #[test]
    fn a_registered_bundle_is_bound_and_nothing_else_is() {
        let mut log = TestLog::new(1);
        let (ada, ada_bundle) = person(2, "Ada");
        let (bob, bob_bundle) = person(3, "Bob");
        let a = log.register(&ada, &ada_bundle);
        let b = log.register(&bob, &bob_bundle);
        let verifier = log.signer.verifier();
        let key = ada.public().signing;
        let expect = Expect {
            key: Some(&key),
            ..Expect::default()
        };

        let proven =
            verify_binding_proofs(&log.served(&ada_bundle, a, 2), expect, &verifier).unwrap();
        assert_eq!(proven.identity.bundle.identity(), &ada.public());
        assert_eq!(proven.identity.registration_index, 0);
        assert_eq!(proven.checkpoint.size, 2);

        // No proofs: not shown to be in the log.
        let mut bare = log.served(&ada_bundle, a, 2);
        bare.bindings = None;
        assert!(matches!(
            verify_binding_proofs(&bare, expect, &verifier),
            Err(TransparencyError::NotInLog)
        ));
        // Bob's binding under Ada's bundle: swapped.
        let mut swapped = log.served(&ada_bundle, a, 2);
        swapped.bindings = log.served(&bob_bundle, b, 2).bindings;
        assert!(matches!(
            verify_binding_proofs(&swapped, expect, &verifier),
            Err(TransparencyError::Registration(_))
        ));
        // Bob's bundle when Ada's key was asked for.
        assert!(matches!(
            verify_binding_proofs(&log.served(&bob_bundle, b, 2), expect, &verifier),
            Err(TransparencyError::WrongBundle)
        ));
        // A proof that does not place the entry in the checkpoint.
        let mut moved = log.served(&ada_bundle, a, 2);
        if let Some(p) = moved.bindings.as_mut() {
            p.registration.proof[0] = [7u8; 32].into();
        }
        assert!(matches!(
            verify_binding_proofs(&moved, expect, &verifier),
            Err(TransparencyError::Inclusion(_))
        ));
        // A checkpoint signed by another log key.
        let other = TestLog::new(4).signer.verifier();
        assert!(matches!(
            verify_binding_proofs(&log.served(&ada_bundle, a, 2), expect, &other),
            Err(TransparencyError::Checkpoint(_))
        ));
        // A login-name lookup needs the login binding.
        let by_name = Expect {
            login_name: Some("ada"),
            ..expect
        };
        assert!(matches!(
            verify_binding_proofs(&log.served(&ada_bundle, a, 2), by_name, &verifier),
            Err(TransparencyError::LoginNotInLog)
        ));
    }

    #[test]
    fn checkpoints_must_be_consistent_with_the_pinned_one() {
        let mut log = TestLog::new(1);
        for seed in 10..15 {
            let (id, bundle) = person(seed, "P");
            log.register(&id, &bundle);
        }
        let (_, two) = log.checkpoint(2);
        let (_, five) = log.checkpoint(5);
        assert_eq!(consistency_needed(&two, &two, false), Ok(None));
        assert_eq!(consistency_needed(&two, &five, true), Ok(Some((2, 5))));
        assert_eq!(consistency_needed(&five, &two, false), Ok(Some((2, 5))));
        assert_eq!(consistency_needed(&five, &two, true), Err(Forked));

        let hashes: Vec<Hash> = log.leaves.iter().map(|l| merkle::leaf_hash(l)).collect();
        let proof = merkle::consistency_proof(&hashes, 2, 5).unwrap();
        assert_eq!(verify_consistency(&two, &five, &proof), Ok(()));
        assert_eq!(verify_consistency(&five, &two, &proof), Ok(()));

        // Another history of the same size: a fork, and no proof links it.
        let mut other = TestLog::new(1);
        for seed in 20..25 {
            let (id, bundle) = person(seed, "Q");
            other.register(&id, &bundle);
        }
        let (_, forked) = other.checkpoint(5);
        assert_eq!(consistency_needed(&five, &forked, false), Err(Forked));
        assert_eq!(verify_consistency(&two, &forked, &proof), Err(Forked));
    }

    #[test]
    fn log_keys_must_carry_the_derived_origin() {
        let log = TestLog::new(1);
        let good = log.signer.verifier();
        assert_eq!(
            parse_log_key(&good.to_string()).unwrap().name(),
            good.name()
        );
        let other = SigningSecretKey::generate(&mut ChaCha20Rng::from_seed([2; 32]));
        let bad = NoteSigner::new(log.signer.name(), other)
            .unwrap()
            .verifier();
        assert_eq!(
            parse_log_key(&bad.to_string()).unwrap_err(),
            LogKeyError::UnexpectedOrigin
        );
        assert_eq!(consistency_path(2, 5), "/v1/log/consistency?from=2&to=5");
    }
}
