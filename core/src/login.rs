//! Password login with OPAQUE (spec: `spec/login.md`).
//!
//! A person signs in on a new device with their password, and the server
//! never sees the password or anything it could test guesses against without
//! first stealing its own OPAQUE secret ([`ServerSetup`]). This module is a
//! thin, typed layer over the `opaque-ke` crate (RFC 9807) that fixes one
//! ciphersuite, binds every exchange to [`LOGIN_CONTEXT`], takes the
//! project's usual random generator, and gives every message a fixed-length
//! byte form. It does no I/O: the caller carries the bytes between client and
//! server.
//!
//! Each account's **credential identifier** is its normalised login name's
//! bytes (spec: `spec/login.md` §Credential identifier). The server derives the
//! account's OPRF key from it, so a response made for one account never
//! completes a login to another.
//!
//! ```
//! use lexvault_core::login::{
//!     server_registration_response, ClientLogin, ClientRegistration, PasswordFile, ServerLogin,
//!     ServerSetup,
//! };
//! use lexvault_core::secret::SecretString;
//! # use rand_core::SeedableRng as _;
//! # let mut rng = rand_chacha::ChaCha20Rng::from_seed([1; 32]);
//!
//! let setup = ServerSetup::generate(&mut rng); // once, on the server
//! let credential_id: &[u8] = b"ada@firm.example"; // the account's login name
//! let password = SecretString::new("correct horse battery staple".into());
//!
//! // Registration: one round trip; the server stores the password file.
//! let (registration, request) = ClientRegistration::start(&password, &mut rng)?;
//! let response = server_registration_response(&setup, &request, &credential_id)?;
//! let upload = registration.finish(&password, &response, &mut rng)?;
//! let file = PasswordFile::from_upload(upload);
//!
//! // Login, later, on another device.
//! let (client, request) = ClientLogin::start(&password, &mut rng)?;
//! let (server, response) =
//!     ServerLogin::start(&setup, Some(&file), &request, &credential_id, &mut rng)?;
//! let (finalization, client_key) = client.finish(&password, &response)?;
//! let server_key = server.finish(&finalization)?;
//! assert_eq!(client_key, server_key);
//! # Ok::<(), lexvault_core::login::LoginError>(())
//! ```

use core::fmt;

use opaque_ke::{ClientLoginFinishParameters, ClientRegistrationFinishParameters, Identifiers};
use opaque_ke::{ServerLoginStartParameters, ServerRegistration};
use rand_core::CryptoRng;
use zeroize::Zeroize as _;

use crate::secret::{SecretBytes, SecretString, constant_time_eq};

/// The OPAQUE context string both sides bind into the key exchange
/// transcript (spec: `spec/login.md` §Context).
///
/// A transcript made for another protocol or another version never
/// authenticates here.
pub const LOGIN_CONTEXT: &[u8] = b"lexvault/v1/opaque-login";

/// Length of a [`ServerSetup`]'s byte form: the OPRF seed (64 bytes), the
/// server's Ristretto255 secret key and the fake-record secret key (32 each).
pub const SERVER_SETUP_LEN: usize = 128;
/// Length of a [`RegistrationRequest`]: one blinded Ristretto255 element.
pub const REGISTRATION_REQUEST_LEN: usize = 32;
/// Length of a [`RegistrationResponse`]: the evaluated element and the
/// server's public key.
pub const REGISTRATION_RESPONSE_LEN: usize = 64;
/// Length of a [`RegistrationUpload`]: the client's public key (32), the
/// masking key (64) and the envelope (32-byte nonce, 64-byte tag).
pub const REGISTRATION_UPLOAD_LEN: usize = 192;
/// Length of a [`PasswordFile`]; it is the registration upload, stored.
pub const PASSWORD_FILE_LEN: usize = REGISTRATION_UPLOAD_LEN;
/// Length of a [`CredentialRequest`] (KE1): the blinded element, the
/// client's nonce and its ephemeral public key.
pub const CREDENTIAL_REQUEST_LEN: usize = 96;
/// Length of a [`CredentialResponse`] (KE2): the evaluated element, the
/// masking nonce, the masked response (128), the server's nonce, its
/// ephemeral public key and its MAC (64).
pub const CREDENTIAL_RESPONSE_LEN: usize = 320;
/// Length of a [`CredentialFinalization`] (KE3): the client's MAC.
pub const CREDENTIAL_FINALIZATION_LEN: usize = 64;
/// Length of a [`ServerLogin`] state's byte form: the client-MAC key, the
/// transcript hash and the session key, 64 bytes each.
pub const SERVER_LOGIN_STATE_LEN: usize = 192;
/// Length of a [`SessionKey`].
pub const SESSION_KEY_LEN: usize = 64;
/// The longest password OPAQUE's OPRF accepts, in bytes.
pub const MAX_PASSWORD_LEN: usize = u16::MAX as usize;

/// Why a login or registration step failed.
///
/// Nothing here carries a password, a key or a byte of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// Wrong password, an unknown account, or a message that was altered or
    /// made for another account or context. Deliberately detail-free.
    #[error("authentication failed")]
    AuthenticationFailed,
    /// Bytes that are not a well-formed value of the expected type (wrong
    /// length, or a group element that does not decode).
    #[error("login message is malformed")]
    Malformed,
    /// The password is empty or longer than [`MAX_PASSWORD_LEN`] bytes.
    #[error("password must be between 1 and 65535 bytes")]
    InvalidPasswordLength,
}

// ---------------------------------------------------------------------------
// Ciphersuite

/// lexvault's one OPAQUE ciphersuite (spec: `spec/login.md` §Ciphersuite):
/// the OPRF over Ristretto255 with SHA-512, 3DH key exchange over
/// Ristretto255 with SHA-512, and the key stretching function [`Ksf`].
struct Suite;

/// The key stretching function applied to the OPRF output: Argon2id v1.3,
/// m = 19456 KiB, t = 2, p = 1, a zero salt (the OPRF output is already
/// unique per account and server), output as long as the input
/// (spec: `spec/login.md` §Key stretching).
#[derive(Default)]
struct Ksf;

/// Argon2id memory cost of [`Ksf`], in KiB.
const KSF_M_COST_KIB: u32 = 19 * 1024;
/// Argon2id passes of [`Ksf`].
const KSF_T_COST: u32 = 2;

// opaque-ke 3 names its array types through generic-array 0.14, which
// marks itself deprecated in favour of 1.x; opaque-ke 3 has not moved.
#[allow(deprecated)]
impl opaque_ke::ksf::Ksf for Ksf {
    fn hash<L: generic_array::ArrayLength<u8>>(
        &self,
        input: generic_array::GenericArray<u8, L>,
    ) -> Result<generic_array::GenericArray<u8, L>, opaque_ke::errors::InternalError> {
        let params = argon2::Params::new(KSF_M_COST_KIB, KSF_T_COST, 1, Some(L::USIZE))
            .map_err(|_| opaque_ke::errors::InternalError::KsfError)?;
        let mut out = generic_array::GenericArray::<u8, L>::default();
        argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
            .hash_password_into(&input, &[0u8; 16], &mut out)
            .map_err(|_| opaque_ke::errors::InternalError::KsfError)?;
        Ok(out)
    }
}

impl opaque_ke::CipherSuite for Suite {
    type OprfCs = opaque_ke::Ristretto255;
    type KeGroup = opaque_ke::Ristretto255;
    type KeyExchange = opaque_ke::key_exchange::tripledh::TripleDh;
    type Ksf = Ksf;
}

/// Lends the project's rand_core 0.10 generator to opaque-ke, which is on
/// rand_core 0.6.
struct RngBridge<'a, R: CryptoRng + ?Sized>(&'a mut R);

impl<R: CryptoRng + ?Sized> rand_core_06::RngCore for RngBridge<'_, R> {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest);
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core_06::Error> {
        self.0.fill_bytes(dest);
        Ok(())
    }
}

// The wrapped generator is a `CryptoRng` by the bound above.
impl<R: CryptoRng + ?Sized> rand_core_06::CryptoRng for RngBridge<'_, R> {}

/// The password's bytes, checked against the OPRF's input limits up front so
/// that a bad length is reported as such rather than as a failed login.
fn password_bytes(password: &SecretString) -> Result<&[u8], LoginError> {
    let bytes = password.expose_secret().as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_PASSWORD_LEN {
        return Err(LoginError::InvalidPasswordLength);
    }
    Ok(bytes)
}

/// Moves opaque-ke's serialised secret into a [`SecretBytes`] and wipes the
/// temporary. opaque-ke's lengths are fixed by its types and pinned by the
/// tests, so the lengths always match.
fn secret_from<const N: usize>(bytes: &mut [u8]) -> SecretBytes<N> {
    debug_assert_eq!(bytes.len(), N);
    let mut array = [0u8; N];
    for (to, from) in array.iter_mut().zip(bytes.iter()) {
        *to = *from;
    }
    bytes.zeroize();
    SecretBytes::from_array(&mut array)
}

fn check_len(bytes: &[u8], len: usize) -> Result<(), LoginError> {
    if bytes.len() == len {
        Ok(())
    } else {
        Err(LoginError::Malformed)
    }
}

// ---------------------------------------------------------------------------
// Messages

/// Defines a public OPAQUE message wrapper with a fixed-length byte form.
macro_rules! login_message {
    ($(#[$meta:meta])* $name:ident, $len:ident) => {
        $(#[$meta])*
        #[derive(Clone)]
        pub struct $name(opaque_ke::$name<Suite>);

        impl $name {
            #[doc = concat!("The message's bytes, exactly [`", stringify!($len), "`] of them.")]
            #[must_use]
            pub fn to_bytes(&self) -> Vec<u8> {
                self.0.serialize().to_vec()
            }

            /// Parses a message.
            ///
            /// # Errors
            ///
            #[doc = concat!("[`LoginError::Malformed`] unless `bytes` is exactly [`", stringify!($len), "`] long")]
            /// and every group element in it decodes.
            pub fn from_bytes(bytes: &[u8]) -> Result<Self, LoginError> {
                check_len(bytes, $len)?;
                opaque_ke::$name::deserialize(bytes)
                    .map(Self)
                    .map_err(|_| LoginError::Malformed)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({} bytes)", stringify!($name), $len)
            }
        }
    };
}

login_message!(
    /// Registration, client to server: the blinded password.
    RegistrationRequest,
    REGISTRATION_REQUEST_LEN
);
login_message!(
    /// Registration, server to client: the OPRF evaluation and the server's
    /// public key.
    RegistrationResponse,
    REGISTRATION_RESPONSE_LEN
);
login_message!(
    /// Registration, client to server: the client's public key, masking key
    /// and envelope; the server keeps it as a [`PasswordFile`].
    RegistrationUpload,
    REGISTRATION_UPLOAD_LEN
);
login_message!(
    /// Login, client to server (KE1).
    CredentialRequest,
    CREDENTIAL_REQUEST_LEN
);
login_message!(
    /// Login, server to client (KE2). A response from a fake record has the
    /// same length and form as a real one.
    CredentialResponse,
    CREDENTIAL_RESPONSE_LEN
);
login_message!(
    /// Login, client to server (KE3): proof that the client holds the
    /// password.
    CredentialFinalization,
    CREDENTIAL_FINALIZATION_LEN
);

// ---------------------------------------------------------------------------
// Server setup

/// The server's long-term OPAQUE secret: the OPRF seed from which every
/// account's OPRF key is derived, the server's key-exchange key pair, and the
/// key pair behind fake records (spec: `spec/login.md` §Server setup).
///
/// Generated once per deployment and kept secret: with it and a copy of the
/// password files, an attacker can test password guesses offline.
pub struct ServerSetup(opaque_ke::ServerSetup<Suite>);

impl ServerSetup {
    /// Generates a fresh server setup.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self(opaque_ke::ServerSetup::new(&mut RngBridge(rng)))
    }

    /// The secret's byte form, exactly [`SERVER_SETUP_LEN`] bytes.
    #[must_use]
    pub fn to_bytes(&self) -> SecretBytes<SERVER_SETUP_LEN> {
        let mut bytes = self.0.serialize();
        secret_from(&mut bytes)
    }

    /// Restores a server setup from [`ServerSetup::to_bytes`].
    ///
    /// # Errors
    ///
    /// [`LoginError::Malformed`] unless `bytes` is exactly
    /// [`SERVER_SETUP_LEN`] long and both secret keys are valid scalars.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LoginError> {
        check_len(bytes, SERVER_SETUP_LEN)?;
        opaque_ke::ServerSetup::deserialize(bytes)
            .map(Self)
            .map_err(|_| LoginError::Malformed)
    }
}

impl fmt::Debug for ServerSetup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerSetup([REDACTED])")
    }
}

// ---------------------------------------------------------------------------
// Registration

/// The client's state between [`ClientRegistration::start`] and
/// [`ClientRegistration::finish`]. Secret, and kept in memory only.
pub struct ClientRegistration(opaque_ke::ClientRegistration<Suite>);

impl ClientRegistration {
    /// Starts registering `password`: blinds it for the server.
    ///
    /// # Errors
    ///
    /// [`LoginError::InvalidPasswordLength`] for an empty password or one
    /// longer than [`MAX_PASSWORD_LEN`] bytes.
    pub fn start<R: CryptoRng + ?Sized>(
        password: &SecretString,
        rng: &mut R,
    ) -> Result<(Self, RegistrationRequest), LoginError> {
        let started =
            opaque_ke::ClientRegistration::start(&mut RngBridge(rng), password_bytes(password)?)
                .map_err(|_| LoginError::InvalidPasswordLength)?;
        Ok((Self(started.state), RegistrationRequest(started.message)))
    }

    /// Finishes registration with the server's `response`: derives the
    /// account's static key pair from the password and seals it in the
    /// envelope the server will store.
    ///
    /// `password` must be the one given to [`ClientRegistration::start`].
    ///
    /// # Errors
    ///
    /// [`LoginError::AuthenticationFailed`] if the response is unusable (the
    /// server reflected the request back); [`LoginError::InvalidPasswordLength`]
    /// as in [`ClientRegistration::start`].
    pub fn finish<R: CryptoRng + ?Sized>(
        self,
        password: &SecretString,
        response: &RegistrationResponse,
        rng: &mut R,
    ) -> Result<RegistrationUpload, LoginError> {
        let finished = self
            .0
            .finish(
                &mut RngBridge(rng),
                password_bytes(password)?,
                response.0.clone(),
                ClientRegistrationFinishParameters::new(Identifiers::default(), None),
            )
            .map_err(|_| LoginError::AuthenticationFailed)?;
        // The export key is deliberately dropped: nothing in lexvault is
        // derived from it (the key backup has its own Argon2id).
        Ok(RegistrationUpload(finished.message))
    }
}

impl fmt::Debug for ClientRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientRegistration([REDACTED])")
    }
}

/// The server's registration step: evaluates the OPRF on the client's
/// blinded password under the key derived for `credential_id`.
///
/// `credential_id` is the account's login name bytes; logins for the
/// account must pass the same bytes to [`ServerLogin::start`]. The server
/// keeps no state between this call and the client's upload.
///
/// # Errors
///
/// [`LoginError::AuthenticationFailed`] if no OPRF key can be derived for
/// `credential_id` (probability about 2^-252).
pub fn server_registration_response(
    setup: &ServerSetup,
    request: &RegistrationRequest,
    credential_id: &[u8],
) -> Result<RegistrationResponse, LoginError> {
    ServerRegistration::start(&setup.0, request.0.clone(), credential_id)
        .map(|started| RegistrationResponse(started.message))
        .map_err(|_| LoginError::AuthenticationFailed)
}

/// What the server stores for an account: the client's registration upload
/// (spec: `spec/login.md` §Password file).
///
/// Not secret on its own, but with the [`ServerSetup`] it allows offline
/// guessing, so it is stored with the same care as a password hash.
#[derive(Clone)]
pub struct PasswordFile(ServerRegistration<Suite>);

impl PasswordFile {
    /// The record the server stores from the client's upload.
    #[must_use]
    pub fn from_upload(upload: RegistrationUpload) -> Self {
        Self(ServerRegistration::finish(upload.0))
    }

    /// The stored form, exactly [`PASSWORD_FILE_LEN`] bytes.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.serialize().to_vec()
    }

    /// Parses a stored password file.
    ///
    /// # Errors
    ///
    /// [`LoginError::Malformed`] unless `bytes` is exactly
    /// [`PASSWORD_FILE_LEN`] long and the client public key decodes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LoginError> {
        check_len(bytes, PASSWORD_FILE_LEN)?;
        ServerRegistration::deserialize(bytes)
            .map(Self)
            .map_err(|_| LoginError::Malformed)
    }
}

impl fmt::Debug for PasswordFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordFile(..)")
    }
}

// ---------------------------------------------------------------------------
// Login

/// The client's state between [`ClientLogin::start`] and
/// [`ClientLogin::finish`]. Secret, and kept in memory only.
pub struct ClientLogin(opaque_ke::ClientLogin<Suite>);

impl ClientLogin {
    /// Starts a login with `password`.
    ///
    /// # Errors
    ///
    /// [`LoginError::InvalidPasswordLength`] for an empty password or one
    /// longer than [`MAX_PASSWORD_LEN`] bytes.
    pub fn start<R: CryptoRng + ?Sized>(
        password: &SecretString,
        rng: &mut R,
    ) -> Result<(Self, CredentialRequest), LoginError> {
        let started = opaque_ke::ClientLogin::start(&mut RngBridge(rng), password_bytes(password)?)
            .map_err(|_| LoginError::InvalidPasswordLength)?;
        Ok((Self(started.state), CredentialRequest(started.message)))
    }

    /// Finishes the login with the server's `response`: opens the envelope,
    /// authenticates the server, and returns the message proving the client
    /// to the server together with the session key.
    ///
    /// # Errors
    ///
    /// [`LoginError::AuthenticationFailed`] for a wrong password, an unknown
    /// account (a fake record), a response made for another account or
    /// context, or any altered message; [`LoginError::InvalidPasswordLength`]
    /// as in [`ClientLogin::start`].
    pub fn finish(
        self,
        password: &SecretString,
        response: &CredentialResponse,
    ) -> Result<(CredentialFinalization, SessionKey), LoginError> {
        let finished = self
            .0
            .finish(
                password_bytes(password)?,
                response.0.clone(),
                ClientLoginFinishParameters::new(Some(LOGIN_CONTEXT), Identifiers::default(), None),
            )
            .map_err(|_| LoginError::AuthenticationFailed)?;
        let mut session_key = finished.session_key;
        let key = SessionKey(secret_from(&mut session_key));
        Ok((CredentialFinalization(finished.message), key))
    }
}

impl fmt::Debug for ClientLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientLogin([REDACTED])")
    }
}

/// The server's state between [`ServerLogin::start`] and
/// [`ServerLogin::finish`]. Secret: it holds the pending session key.
///
/// It has a byte form so that a server can keep it between two requests;
/// stored outside memory it must be protected like a session key. The form
/// carries no integrity check of its own: altered bytes make the login fail
/// or yield a key the client does not share, never a false success.
pub struct ServerLogin(opaque_ke::ServerLogin<Suite>);

impl ServerLogin {
    /// Answers a client's login request for the account `credential_id`.
    ///
    /// Pass the account's stored [`PasswordFile`], or `None` when no such
    /// account exists: the response is then computed from a fake record and
    /// is indistinguishable from a real one to anyone without the password,
    /// so the server does not reveal which accounts exist. The login then
    /// fails at the client (spec: `spec/login.md` §Unknown accounts).
    ///
    /// # Errors
    ///
    /// [`LoginError::AuthenticationFailed`] if no OPRF key can be derived for
    /// `credential_id` (probability about 2^-252).
    pub fn start<R: CryptoRng + ?Sized>(
        setup: &ServerSetup,
        password_file: Option<&PasswordFile>,
        request: &CredentialRequest,
        credential_id: &[u8],
        rng: &mut R,
    ) -> Result<(Self, CredentialResponse), LoginError> {
        let started = opaque_ke::ServerLogin::start(
            &mut RngBridge(rng),
            &setup.0,
            password_file.map(|file| file.0.clone()),
            request.0.clone(),
            credential_id,
            ServerLoginStartParameters {
                context: Some(LOGIN_CONTEXT),
                identifiers: Identifiers::default(),
            },
        )
        .map_err(|_| LoginError::AuthenticationFailed)?;
        Ok((Self(started.state), CredentialResponse(started.message)))
    }

    /// Checks the client's `finalization`; on success the client has proven
    /// it holds the password, and both sides share the returned session key.
    ///
    /// # Errors
    ///
    /// [`LoginError::AuthenticationFailed`] for a wrong password, an unknown
    /// account, or any altered message.
    pub fn finish(self, finalization: &CredentialFinalization) -> Result<SessionKey, LoginError> {
        let finished = self
            .0
            .finish(finalization.0.clone())
            .map_err(|_| LoginError::AuthenticationFailed)?;
        let mut session_key = finished.session_key;
        Ok(SessionKey(secret_from(&mut session_key)))
    }

    /// The pending state's byte form, exactly [`SERVER_LOGIN_STATE_LEN`]
    /// bytes.
    #[must_use]
    pub fn to_bytes(&self) -> SecretBytes<SERVER_LOGIN_STATE_LEN> {
        let mut bytes = self.0.serialize();
        secret_from(&mut bytes)
    }

    /// Restores a pending state from [`ServerLogin::to_bytes`].
    ///
    /// # Errors
    ///
    /// [`LoginError::Malformed`] unless `bytes` is exactly
    /// [`SERVER_LOGIN_STATE_LEN`] long.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LoginError> {
        check_len(bytes, SERVER_LOGIN_STATE_LEN)?;
        opaque_ke::ServerLogin::deserialize(bytes)
            .map(Self)
            .map_err(|_| LoginError::Malformed)
    }
}

impl fmt::Debug for ServerLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerLogin([REDACTED])")
    }
}

/// The key both sides share after a successful login (OPAQUE's
/// `session_key`, 64 bytes).
///
/// Compared in constant time; never printed.
pub struct SessionKey(SecretBytes<SESSION_KEY_LEN>);

impl SessionKey {
    /// The key bytes.
    #[must_use]
    pub fn expose_secret(&self) -> &[u8; SESSION_KEY_LEN] {
        self.0.expose_secret()
    }
}

impl PartialEq for SessionKey {
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(self.expose_secret(), other.expose_secret())
    }
}

impl Eq for SessionKey {}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng as _;

    use super::*;

    fn rng(seed: u8) -> ChaCha20Rng {
        ChaCha20Rng::from_seed([seed; 32])
    }

    #[test]
    fn rng_bridge_passes_bytes_through() {
        use rand_core_06::RngCore as _;
        let mut a = rng(1);
        let mut b = rng(1);
        let mut direct = [0u8; 40];
        let mut bridged = [0u8; 40];
        rand_core::Rng::fill_bytes(&mut a, &mut direct);
        RngBridge(&mut b).fill_bytes(&mut bridged);
        assert_eq!(direct, bridged);
        assert_eq!(
            rand_core::Rng::next_u64(&mut a),
            RngBridge(&mut b).next_u64()
        );
    }

    #[test]
    fn password_length_is_checked_before_the_oprf() {
        let mut rng = rng(2);
        let empty = SecretString::new(String::new());
        assert_eq!(
            ClientLogin::start(&empty, &mut rng).err(),
            Some(LoginError::InvalidPasswordLength)
        );
        let long = SecretString::new("x".repeat(MAX_PASSWORD_LEN + 1));
        assert_eq!(
            ClientRegistration::start(&long, &mut rng).err(),
            Some(LoginError::InvalidPasswordLength)
        );
        let longest = SecretString::new("x".repeat(MAX_PASSWORD_LEN));
        assert!(ClientRegistration::start(&longest, &mut rng).is_ok());
    }

    #[test]
    fn secrets_are_redacted() {
        let mut rng = rng(3);
        let setup = ServerSetup::generate(&mut rng);
        assert_eq!(format!("{setup:?}"), "ServerSetup([REDACTED])");
        let mut raw = [0x41u8; SESSION_KEY_LEN];
        let key = SessionKey(SecretBytes::from_array(&mut raw));
        assert_eq!(format!("{key:?}"), "SessionKey([REDACTED])");
    }

    #[test]
    fn errors_are_detail_free() {
        assert_eq!(
            LoginError::AuthenticationFailed.to_string(),
            "authentication failed"
        );
    }
}
