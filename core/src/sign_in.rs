//! The client's side of a password sign-in around the OPAQUE exchange
//! (spec: `spec/login.md` §API): the login name rule, the one failed-login
//! message, and accepting the identity a successful login releases.
//!
//! The CLI (`lexvault login`) and the browser portal both sign in through
//! this module and [`crate::login`], and only add the two HTTP calls, so
//! they accept the same releases and refuse the same ones.

use crate::api::LoginResult;
use crate::backup::{BackupError, SealedBackup};
use crate::key_bundle::{KeyBundleError, VerifiedKeyBundle, verify_key_bundle};
use crate::keys::Identity;
use crate::secret::SecretString;

/// The one message for every failed login: wrong password, unknown login
/// name, expired or replayed attempt. Deliberately detail-free.
pub const LOGIN_FAILED: &str = "login failed: check the login name and password";

/// The shortest login name, in characters.
pub const MIN_LOGIN_NAME_LEN: usize = 3;
/// The longest login name, in characters.
pub const MAX_LOGIN_NAME_LEN: usize = 64;

/// A login name that breaks the rule of [`normalize_login_name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a login name is 3 to 64 characters of a-z, 0-9, '.', '_', '@' and '-'")]
pub struct InvalidLoginName;

/// Normalises a login name as the server does (spec: `spec/login.md` §API,
/// Login names): trims white space, lowers ASCII letters, and requires 3 to
/// 64 characters of `a-z 0-9 . _ @ -`.
///
/// # Errors
/// [`InvalidLoginName`] naming the rule. The check is syntactic only.
pub fn normalize_login_name(raw: &str) -> Result<String, InvalidLoginName> {
    let name = raw.trim().to_ascii_lowercase();
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._@-".contains(&b);
    if (MIN_LOGIN_NAME_LEN..=MAX_LOGIN_NAME_LEN).contains(&name.len()) && name.bytes().all(allowed)
    {
        Ok(name)
    } else {
        Err(InvalidLoginName)
    }
}

/// Why the release of a successful login was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecoveryError {
    /// The sealed backup does not parse, does not open under the password,
    /// or asks for parameters the client refuses.
    #[error("the key backup the server released is unusable: {0}")]
    Backup(BackupError),
    /// The released key bundle is not a bundle self-signed by its key.
    #[error("the key bundle the server released is invalid: {0}")]
    Bundle(KeyBundleError),
    /// The bundle is valid but publishes other keys than the backup holds.
    #[error("the key bundle the server released is not the recovered identity's")]
    NotTheIdentity,
}

/// Opens what a successful login released (spec: `spec/login.md` §API,
/// Login, step 4): the sealed backup opens under `password`, and the
/// identity inside is accepted only if the released key bundle verifies as
/// self-signed and names exactly the recovered public keys. Argon2id runs
/// here, at the backup's own (bounded) parameters.
///
/// # Errors
/// [`RecoveryError`] naming what did not verify; nothing is returned then.
pub fn recover_identity(
    released: &LoginResult,
    password: &SecretString,
) -> Result<(Identity, VerifiedKeyBundle), RecoveryError> {
    let backup =
        SealedBackup::from_bytes(&released.sealed_backup).map_err(RecoveryError::Backup)?;
    let identity = backup.open(password).map_err(RecoveryError::Backup)?;
    let bundle = verify_key_bundle(&released.bundle).map_err(RecoveryError::Bundle)?;
    if *bundle.identity() != identity.public() {
        return Err(RecoveryError::NotTheIdentity);
    }
    Ok((identity, bundle))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng as _;

    use super::*;
    use crate::backup::Argon2Params;
    use crate::key_bundle::KeyBundle;

    #[test]
    fn login_names_match_the_server_rule() {
        assert_eq!(
            normalize_login_name(" Ada@Firm.example ").ok(),
            Some("ada@firm.example".to_owned())
        );
        assert_eq!(normalize_login_name("abc").ok(), Some("abc".to_owned()));
        assert!(normalize_login_name(&"x".repeat(64)).is_ok());
        for bad in ["ab", "ada lovelace", "adä", &"x".repeat(65), ""] {
            assert_eq!(normalize_login_name(bad), Err(InvalidLoginName), "{bad:?}");
        }
    }

    fn release(identity: &Identity, bundle_of: &Identity, pw: &str, seed: u64) -> LoginResult {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let sealed = SealedBackup::seal(
            identity,
            &SecretString::new(pw.to_owned()),
            Argon2Params::MINIMUM,
            &mut rng,
        )
        .unwrap();
        let bundle = KeyBundle::create(bundle_of, "Carla Client", 1).unwrap();
        LoginResult {
            sealed_backup: sealed.to_bytes().into(),
            bundle: bundle.as_bytes().to_vec().into(),
        }
    }

    #[test]
    fn the_released_identity_is_accepted_only_with_its_own_bundle() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let me = Identity::generate(&mut rng);
        let other = Identity::generate(&mut rng);
        let pw = SecretString::new("client password".to_owned());

        let (identity, bundle) = recover_identity(&release(&me, &me, "client password", 2), &pw)
            .expect("the person's own release");
        assert_eq!(identity.public(), me.public());
        assert_eq!(bundle.bundle().display_name(), "Carla Client");

        let swapped = release(&me, &other, "client password", 3);
        assert_eq!(
            recover_identity(&swapped, &pw).err(),
            Some(RecoveryError::NotTheIdentity)
        );
        let wrong_password = release(&me, &me, "another password", 4);
        assert!(matches!(
            recover_identity(&wrong_password, &pw),
            Err(RecoveryError::Backup(_))
        ));
        let mut damaged = release(&me, &me, "client password", 5);
        damaged.bundle = vec![0u8; 8].into();
        assert!(matches!(
            recover_identity(&damaged, &pw),
            Err(RecoveryError::Bundle(_))
        ));
    }
}
