//! Password login (OPAQUE) and the release of sealed key backups (spec:
//! `spec/login.md` §API).
//!
//! The server never receives the password or anything that opens the keys:
//! registration stores the client's OPAQUE upload and the sealed backup the
//! client made; a login runs OPAQUE against that upload and, once the
//! client has proven it knows the password, releases the sealed backup for
//! the client to open locally.
//!
//! Every failure to log in — unknown name, wrong password, expired or
//! replayed attempt — is the one [`login_failed`] answer, and an unknown
//! name gets a challenge of the same form as a real one, so the answers do
//! not reveal which login names exist.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse as _, Response};
use axum::routing::post;
use lexvault_core::api::{
    self, LoginChallenge, LoginFinish, LoginResult, LoginStart, PasswordRegistrationFinish,
    PasswordRegistrationResponse, PasswordRegistrationStart,
};
use lexvault_core::backup::{Argon2Params, BackupError, SealedBackup};
use lexvault_core::binding::login_name_subject;
use lexvault_core::login::{
    CredentialFinalization, CredentialRequest, PasswordFile, RegistrationRequest,
    RegistrationUpload, ServerLogin, ServerSetup, server_registration_response,
};
use lexvault_core::sign_in;
use minicbor::{Decode, Encode};
use rand_core::UnwrapErr;

use super::{cbor, event};
use crate::app::AppState;
use crate::auth::{Caller, Signed, read_message_body, require_content_type};
use crate::error::ApiError;
use crate::store::EventKind;
use crate::store::login::{
    BeginAttempt, FailureLimit, LoginName, NewAttempt, NewPassword, SetPassword,
};

/// How long a started login may take to finish, in seconds.
pub const ATTEMPT_LIFETIME_SECS: u64 = 5 * 60;
/// The period over which failed logins are counted, in seconds.
pub const FAILURE_WINDOW_SECS: u64 = 60 * 60;
pub use lexvault_core::sign_in::{MAX_LOGIN_NAME_LEN, MIN_LOGIN_NAME_LEN};

/// The login routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/login/registration/start", post(registration_start))
        .route("/v1/login/registration/finish", post(registration_finish))
        .route("/v1/login/start", post(login_start))
        .route("/v1/login/finish", post(login_finish))
}

// ---------------------------------------------------------------------------
// Answers

/// The one answer for every failed login: unknown name, wrong password,
/// expired, replayed or unknown attempt.
#[must_use]
pub fn login_failed() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "login-failed",
        "login failed: check the login name and password, then start again",
    )
}

/// The answer when a login name has used up its failed attempts.
fn too_many_attempts(retry_in_secs: u64) -> ApiError {
    let minutes = retry_in_secs.div_ceil(60).max(1);
    let unit = if minutes == 1 { "minute" } else { "minutes" };
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too-many-attempts",
        format!("too many failed logins for this login name; try again in {minutes} {unit}"),
    )
}

fn malformed(what: &str) -> ApiError {
    ApiError::bad_request(
        "malformed-login-message",
        format!("the {what} is not a valid OPAQUE message"),
    )
}

// ---------------------------------------------------------------------------
// Login names

/// Normalises a login name as typed (spec: `spec/login.md` §API, Login
/// names): surrounding white space is removed and ASCII letters are lowered;
/// the result must be 3 to 64 characters of `a-z 0-9 . _ @ -`.
///
/// # Errors
///
/// A 400 `invalid-login-name` naming the rule.
pub fn normalize_login_name(raw: &str) -> Result<LoginName, ApiError> {
    // One rule for the server and every client (`core::sign_in`).
    sign_in::normalize_login_name(raw)
        .map_err(|rule| ApiError::bad_request("invalid-login-name", rule.to_string()))
}

// ---------------------------------------------------------------------------
// Shared steps

/// The operating system's random generator (panics only if the OS has no
/// randomness to give, when nothing secure can be done anyway).
fn os_rng() -> UnwrapErr<getrandom::SysRng> {
    UnwrapErr(getrandom::SysRng)
}

/// Reads an unsigned CBOR message body: the calls a device makes before it
/// has keys.
async fn unsigned_message<T>(headers: &HeaderMap, body: Body) -> Result<T, ApiError>
where
    T: for<'b> Decode<'b, ()> + Encode<()>,
{
    let bytes = read_message_body(body).await?;
    require_content_type(headers, api::CBOR)?;
    api::decode(&bytes).map_err(|why| {
        ApiError::bad_request(
            "malformed-body",
            format!("the body is not a valid message for this call: {why}"),
        )
    })
}

/// The server's OPAQUE setup, created from the OS generator on first use.
async fn server_setup(state: &AppState) -> Result<ServerSetup, ApiError> {
    let stored = match state.store(|s| s.server_setup()).await? {
        Some(stored) => stored,
        None => {
            let fresh = ServerSetup::generate(&mut os_rng()).to_bytes();
            state.store(move |s| s.create_server_setup(&fresh)).await?
        }
    };
    ServerSetup::from_bytes(stored.expose_secret())
        .map_err(|_| ApiError::internal(&"the stored OPAQUE server setup is malformed"))
}

/// Checks that the caller has published its key bundle: a login opens an
/// identity, so there must be one.
async fn require_registered(state: &AppState, caller: &Caller) -> Result<(), ApiError> {
    let key = caller.key_bytes();
    match state.store(move |s| s.identity(&key)).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::forbidden(
            "not-registered",
            "publish your key bundle before setting a password",
        )),
    }
}

fn name_taken() -> ApiError {
    ApiError::conflict(
        "login-name-taken",
        "another person already uses this login name; choose another",
    )
}

/// Parses a sealed backup as a client will, refusing parameters outside the
/// limits (spec: `spec/backup.md` §Parsing).
fn parse_backup(bytes: &[u8]) -> Result<SealedBackup, ApiError> {
    SealedBackup::from_bytes(bytes).map_err(|why| match why {
        BackupError::WeakParameters => ApiError::bad_request(
            "weak-backup-parameters",
            format!(
                "the key backup's Argon2id parameters are below the minimum (m = {} KiB, t = {}, \
                 p = {}); seal it again with stronger ones",
                Argon2Params::MIN_M_COST_KIB,
                Argon2Params::MIN_T_COST,
                Argon2Params::MIN_P_COST
            ),
        ),
        BackupError::ExcessiveParameters => ApiError::bad_request(
            "excessive-backup-parameters",
            "the key backup's Argon2id parameters exceed what clients will run; seal it again \
             with the defaults",
        ),
        other => ApiError::bad_request(
            "malformed-backup",
            format!("the sealed key backup is not valid: {other}"),
        ),
    })
}

// ---------------------------------------------------------------------------
// Registration (signed, from a device that holds the keys)

/// `POST /v1/login/registration/start`: the OPRF step of registering a
/// password for the caller under a login name.
async fn registration_start(
    State(state): State<AppState>,
    call: Signed<PasswordRegistrationStart>,
) -> Result<Response, ApiError> {
    let name = normalize_login_name(&call.body.login_name)?;
    let request = RegistrationRequest::from_bytes(&call.body.request)
        .map_err(|_| malformed("registration request"))?;
    require_registered(&state, &call.caller).await?;
    let lookup = name.clone();
    let owner = state.store(move |s| s.login_owner(&lookup)).await?;
    if owner.is_some_and(|o| o != call.caller.key_bytes()) {
        return Err(name_taken());
    }
    let setup = server_setup(&state).await?;
    let response = server_registration_response(&setup, &request, name.as_bytes())
        .map_err(|e| ApiError::internal(&e))?;
    Ok(cbor(
        StatusCode::OK,
        &PasswordRegistrationResponse {
            response: response.to_bytes().into(),
        },
    ))
}

/// `POST /v1/login/registration/finish`: stores the password file and the
/// sealed key backup for the caller, replacing an earlier login.
async fn registration_finish(
    State(state): State<AppState>,
    call: Signed<PasswordRegistrationFinish>,
) -> Result<Response, ApiError> {
    let name = normalize_login_name(&call.body.login_name)?;
    let upload = RegistrationUpload::from_bytes(&call.body.upload)
        .map_err(|_| malformed("registration upload"))?;
    let backup = parse_backup(&call.body.sealed_backup)?;
    require_registered(&state, &call.caller).await?;
    let subject = login_name_subject(&name);
    let password = NewPassword {
        login_name: name,
        signing_key: call.caller.key_bytes(),
        password_file: PasswordFile::from_upload(upload).to_bytes(),
        sealed_backup: backup.to_bytes(),
    };
    let mut ev = event(EventKind::PasswordSet, &call.caller, state.now());
    ev.subject = Some(subject);
    match state.store(move |s| s.set_password(password, ev)).await? {
        SetPassword::Stored => Ok(StatusCode::NO_CONTENT.into_response()),
        SetPassword::NameTaken => Err(name_taken()),
    }
}

// ---------------------------------------------------------------------------
// Login (unsigned: the new device has no keys yet)

/// `POST /v1/login/start`: answers the client's OPAQUE credential request,
/// from a fake record for an unknown name, and keeps the pending state
/// under a fresh attempt id.
async fn login_start(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let message: LoginStart = unsigned_message(&headers, body).await?;
    let name = normalize_login_name(&message.login_name)?;
    let request =
        CredentialRequest::from_bytes(&message.request).map_err(|_| malformed("login request"))?;
    let setup = server_setup(&state).await?;
    let lookup = name.clone();
    let file = state
        .store(move |s| s.password_file(&lookup))
        .await?
        .map(|bytes| PasswordFile::from_bytes(&bytes))
        .transpose()
        .map_err(|_| ApiError::internal(&"a stored password file is malformed"))?;

    let (server, response) = ServerLogin::start(
        &setup,
        file.as_ref(),
        &request,
        name.as_bytes(),
        &mut os_rng(),
    )
    .map_err(|e| ApiError::internal(&e))?;
    let mut attempt = [0u8; 16];
    getrandom::fill(&mut attempt).map_err(|e| ApiError::internal(&e))?;

    let now = state.now();
    let pending = NewAttempt {
        attempt,
        login_name: name,
        state: server.to_bytes(),
        started_at: now,
        expires_at: now.saturating_add(ATTEMPT_LIFETIME_SECS),
    };
    let limit = FailureLimit {
        since: now.saturating_sub(FAILURE_WINDOW_SECS),
        max: state.limits.login_attempts_per_hour,
    };
    match state
        .store(move |s| s.begin_attempt(pending, limit))
        .await?
    {
        BeginAttempt::Started => Ok(cbor(
            StatusCode::OK,
            &LoginChallenge {
                attempt: attempt.into(),
                response: response.to_bytes().into(),
            },
        )),
        BeginAttempt::Limited { oldest } => {
            // The oldest failure stops counting once it is older than the
            // window.
            let free_at = oldest.saturating_add(FAILURE_WINDOW_SECS + 1);
            Err(too_many_attempts(free_at.saturating_sub(now)))
        }
    }
}

/// `POST /v1/login/finish`: checks the client's OPAQUE finalization against
/// the pending attempt (used once) and, on success, releases the sealed key
/// backup and the key bundle.
async fn login_finish(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let message: LoginFinish = unsigned_message(&headers, body).await?;
    let finalization = CredentialFinalization::from_bytes(&message.finalization)
        .map_err(|_| malformed("login finalization"))?;
    let attempt = *message.attempt;
    let now = state.now();
    let pending = state
        .store(move |s| s.take_attempt(&attempt, now))
        .await?
        .ok_or_else(login_failed)?;
    let server = ServerLogin::from_bytes(pending.state.expose_secret()).map_err(|_| {
        tracing::error!("a stored pending login state is malformed");
        login_failed()
    })?;
    server.finish(&finalization).map_err(|_| login_failed())?;
    let name = pending.login_name;
    let release = state
        .store(move |s| s.complete_login(&attempt, &name))
        .await?
        .ok_or_else(login_failed)?;
    Ok(cbor(
        StatusCode::OK,
        &LoginResult {
            sealed_backup: release.sealed_backup.into(),
            bundle: release.bundle.into(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_names_are_normalised() {
        assert_eq!(
            normalize_login_name("  Ada.Lovelace@Firm-1_x ").ok(),
            Some("ada.lovelace@firm-1_x".to_owned())
        );
        assert_eq!(normalize_login_name("abc").ok(), Some("abc".to_owned()));
        let longest = "a".repeat(MAX_LOGIN_NAME_LEN);
        assert_eq!(normalize_login_name(&longest).ok(), Some(longest.clone()));
    }

    #[test]
    fn bad_login_names_are_refused() {
        let too_long = "a".repeat(MAX_LOGIN_NAME_LEN + 1);
        for bad in [
            "",
            "ab",
            "  ab  ",
            "ada lovelace",
            "adä",
            "ada/x",
            "ada+x",
            &too_long,
            "a\u{0}b",
        ] {
            let err = normalize_login_name(bad).err();
            assert_eq!(err.map(|e| e.code), Some("invalid-login-name"), "{bad:?}");
        }
    }

    #[test]
    fn rate_limit_message_says_when() {
        assert!(too_many_attempts(30).message.contains("1 minute"));
        assert!(too_many_attempts(3601).message.contains("61 minutes"));
        assert_eq!(too_many_attempts(0).status, StatusCode::TOO_MANY_REQUESTS);
    }
}
