//! Password login on a new device (OPAQUE) and password registration
//! (spec: `spec/login.md` §API).
//!
//! [`register_password`] runs on a device that holds the keys: it seals the
//! identity's secret keys under the password ([`SealedBackup`]) and
//! registers the password with the server through OPAQUE, so the server
//! stores a password file and the sealed blob but never the password or
//! anything that opens the keys.
//!
//! [`login`] runs on a new device with nothing but the login name and the
//! password: OPAQUE proves the password to the server, which then releases
//! the sealed backup; the backup is opened here, and the identity it holds
//! is accepted only if the key bundle the server published for it is
//! self-signed by that very identity.
//!
//! Passwords are used as their UTF-8 bytes, as given; callers normalise
//! them to NFC first (spec: `spec/backup.md` §Key derivation).

use lexvault_core::api::{
    LoginChallenge, LoginFinish, LoginResult, LoginStart, PasswordRegistrationFinish,
    PasswordRegistrationResponse, PasswordRegistrationStart,
};
use lexvault_core::backup::{Argon2Params, BackupError, SealedBackup};
use lexvault_core::keys::Identity;
use lexvault_core::login::RegistrationResponse;
use lexvault_core::login::{ClientLogin, ClientRegistration, CredentialResponse, LoginError};
use lexvault_core::secret::SecretString;
use lexvault_core::sign_in::{self, RecoveryError};

use crate::client::{Client, ClientError, ClientResult, os_rng};
use crate::vault::Vault;

pub use lexvault_core::sign_in::{LOGIN_FAILED, MAX_LOGIN_NAME_LEN, MIN_LOGIN_NAME_LEN};

const REGISTRATION_START: &str = "/v1/login/registration/start";
const REGISTRATION_FINISH: &str = "/v1/login/registration/finish";
const LOGIN_START: &str = "/v1/login/start";
const LOGIN_FINISH: &str = "/v1/login/finish";

/// The error every failed login gives ([`LOGIN_FAILED`]).
#[must_use]
pub fn login_failed() -> ClientError {
    ClientError::Invalid(LOGIN_FAILED.to_owned())
}

/// Whether `error` is the one failed-login error.
#[must_use]
pub fn is_login_failure(error: &ClientError) -> bool {
    matches!(error, ClientError::Invalid(message) if message == LOGIN_FAILED)
}

/// Normalises a login name as the server does (spec: `spec/login.md` §API,
/// Login names): trims white space, lowers ASCII letters, and requires 3 to
/// 64 characters of `a-z 0-9 . _ @ -` (see
/// [`lexvault_core::sign_in::normalize_login_name`]).
///
/// # Errors
///
/// [`ClientError::Invalid`] naming the rule.
pub fn normalize_login_name(raw: &str) -> ClientResult<String> {
    sign_in::normalize_login_name(raw).map_err(|e| ClientError::Invalid(e.to_string()))
}

fn password_problem(e: LoginError) -> ClientError {
    match e {
        LoginError::InvalidPasswordLength => {
            ClientError::Invalid("a password must be between 1 and 65535 bytes long".into())
        }
        other => ClientError::Protocol(format!("the login exchange failed: {other}")),
    }
}

fn backup_problem(e: BackupError) -> ClientError {
    match e {
        BackupError::OutOfMemory | BackupError::PasswordTooLong => {
            ClientError::Invalid(format!("cannot derive the backup key: {e}"))
        }
        other => ClientError::Verification(format!(
            "the key backup the server released is unusable: {other}"
        )),
    }
}

/// Sets (or replaces) the password login of `vault`'s identity under
/// `login_name` (spec: `spec/login.md` §API, Registration).
///
/// Seals the identity's secret keys under `password` with `backup_params`
/// (pass [`Argon2Params::default()`]), and registers the password with the
/// server through OPAQUE; both are stored together. The identity must have
/// published its key bundle.
///
/// # Errors
///
/// [`ClientError::Invalid`] for a bad login name or password length;
/// [`ClientError::Api`] with code `login-name-taken` if another person uses
/// the name, `not-registered` if the identity is not published; transport
/// and protocol errors as usual.
pub fn register_password(
    vault: &Vault,
    login_name: &str,
    password: &SecretString,
    backup_params: Argon2Params,
) -> ClientResult<()> {
    let name = normalize_login_name(login_name)?;
    let key = vault.identity().signing_key();
    let mut rng = os_rng();

    let (registration, request) =
        ClientRegistration::start(password, &mut rng).map_err(password_problem)?;
    let answer: PasswordRegistrationResponse = vault.client().post(
        key,
        REGISTRATION_START,
        &PasswordRegistrationStart {
            login_name: name.clone(),
            request: request.to_bytes().into(),
        },
    )?;
    let response = RegistrationResponse::from_bytes(&answer.response)
        .map_err(|e| ClientError::Protocol(format!("the registration response is invalid: {e}")))?;
    let upload = registration
        .finish(password, &response, &mut rng)
        .map_err(password_problem)?;

    let sealed = SealedBackup::seal(vault.identity(), password, backup_params, &mut rng)
        .map_err(|e| ClientError::Invalid(format!("cannot seal the key backup: {e}")))?;
    vault.client().post_empty_answer(
        key,
        REGISTRATION_FINISH,
        &PasswordRegistrationFinish {
            login_name: name,
            upload: upload.to_bytes().into(),
            sealed_backup: sealed.to_bytes().into(),
        },
    )
}

/// Maps the server's failed-login answer to the one [`login_failed`] error;
/// other answers (a rate limit, a bad name) keep their own message.
fn server_login_problem(e: ClientError) -> ClientError {
    if e.code() == Some("login-failed") {
        login_failed()
    } else {
        e
    }
}

/// Logs in with `login_name` and `password` on a device that holds no keys,
/// and returns the identity recovered from the sealed key backup (spec:
/// `spec/login.md` §API, Login).
///
/// The recovered identity is accepted only if the key bundle the server
/// released for it is self-signed by its key and names both its public
/// keys.
///
/// # Errors
///
/// The one [`login_failed`] error (see [`is_login_failure`]) for a wrong
/// password or an unknown login name; [`ClientError::Api`] with code
/// `too-many-attempts` when the login name is rate limited;
/// [`ClientError::Verification`] if the released backup or bundle does not
/// belong together; transport and protocol errors as usual.
pub fn login(client: &Client, login_name: &str, password: &SecretString) -> ClientResult<Identity> {
    let name = normalize_login_name(login_name)?;
    let (state, request) = ClientLogin::start(password, &mut os_rng()).map_err(password_problem)?;
    let challenge: LoginChallenge = client
        .post_unsigned(
            LOGIN_START,
            &LoginStart {
                login_name: name,
                request: request.to_bytes().into(),
            },
        )
        .map_err(server_login_problem)?;
    let response = CredentialResponse::from_bytes(&challenge.response)
        .map_err(|e| ClientError::Protocol(format!("the login challenge is invalid: {e}")))?;
    // A wrong password or an unknown name fails here, on the device: the
    // server's response does not authenticate. The session key is not
    // needed: what the login releases is sealed under the password already.
    let (finalization, _session_key) = state.finish(password, &response).map_err(|e| match e {
        LoginError::AuthenticationFailed => login_failed(),
        other => password_problem(other),
    })?;
    let released: LoginResult = client
        .post_unsigned(
            LOGIN_FINISH,
            &LoginFinish {
                attempt: challenge.attempt,
                finalization: finalization.to_bytes().into(),
            },
        )
        .map_err(server_login_problem)?;

    let (identity, _bundle) =
        sign_in::recover_identity(&released, password).map_err(|e| match e {
            RecoveryError::Backup(e) => backup_problem(e),
            other => ClientError::Verification(other.to_string()),
        })?;
    Ok(identity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_names_match_the_server_rule() {
        assert_eq!(
            normalize_login_name(" Ada@Firm.example ").ok(),
            Some("ada@firm.example".to_owned())
        );
        for bad in ["ab", "ada lovelace", "adä", &"x".repeat(65)] {
            assert!(normalize_login_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_login_failure_is_recognised() {
        assert!(is_login_failure(&login_failed()));
        assert!(!is_login_failure(&ClientError::Invalid("other".into())));
        assert_eq!(login_failed().to_string(), LOGIN_FAILED);
    }
}
