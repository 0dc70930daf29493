//! OPAQUE login (spec: `spec/login.md`): registration and login end to end,
//! wrong passwords, unknown accounts, cross-account responses, tampering and
//! the byte forms of every message.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use lexvault_core::login::{
    CREDENTIAL_FINALIZATION_LEN, CREDENTIAL_REQUEST_LEN, CREDENTIAL_RESPONSE_LEN, ClientLogin,
    ClientRegistration, CredentialFinalization, CredentialRequest, CredentialResponse, LoginError,
    PASSWORD_FILE_LEN, PasswordFile, REGISTRATION_REQUEST_LEN, REGISTRATION_RESPONSE_LEN,
    REGISTRATION_UPLOAD_LEN, RegistrationRequest, RegistrationResponse, RegistrationUpload,
    SERVER_LOGIN_STATE_LEN, SERVER_SETUP_LEN, ServerLogin, ServerSetup, SessionKey,
    server_registration_response,
};
use lexvault_core::secret::SecretString;
use rand_chacha::ChaCha20Rng;
use support::seeded_rng;

const ALICE: [u8; 32] = [0xa1; 32];
const BOB: [u8; 32] = [0xb0; 32];

fn password(s: &str) -> SecretString {
    SecretString::new(s.into())
}

fn register(
    setup: &ServerSetup,
    credential_id: &[u8],
    pw: &SecretString,
    rng: &mut ChaCha20Rng,
) -> PasswordFile {
    let (state, request) = ClientRegistration::start(pw, rng).unwrap();
    let response = server_registration_response(setup, &request, credential_id).unwrap();
    PasswordFile::from_upload(state.finish(pw, &response, rng).unwrap())
}

/// Runs a whole login; `Ok` carries both sides' session keys.
fn login(
    setup: &ServerSetup,
    file: Option<&PasswordFile>,
    credential_id: &[u8],
    pw: &SecretString,
    rng: &mut ChaCha20Rng,
) -> Result<(SessionKey, SessionKey), LoginError> {
    let (client, request) = ClientLogin::start(pw, rng)?;
    let (server, response) = ServerLogin::start(setup, file, &request, credential_id, rng)?;
    let (finalization, client_key) = client.finish(pw, &response)?;
    let server_key = server.finish(&finalization)?;
    Ok((client_key, server_key))
}

/// Byte positions to flip in a message of `len` bytes: both ends, the
/// middle, and a spread in between.
fn flip_positions(len: usize) -> Vec<usize> {
    vec![0, 1, len / 3, len / 2, len * 2 / 3, len - 1]
}

fn flipped(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[at] ^= 0x01;
    out
}

#[test]
fn registration_then_login_agrees_on_the_session_key() {
    let mut rng = seeded_rng(1);
    let setup = ServerSetup::generate(&mut rng);
    let pw = password("correct horse battery staple");
    let file = register(&setup, &ALICE, &pw, &mut rng);

    let (client_key, server_key) = login(&setup, Some(&file), &ALICE, &pw, &mut rng).unwrap();
    assert_eq!(client_key, server_key);
    assert_eq!(client_key.expose_secret(), server_key.expose_secret());

    // A second login gives a fresh key.
    let (again, _) = login(&setup, Some(&file), &ALICE, &pw, &mut rng).unwrap();
    assert_ne!(again, client_key);
}

#[test]
fn wrong_password_fails_at_the_client_and_the_server() {
    let mut rng = seeded_rng(2);
    let setup = ServerSetup::generate(&mut rng);
    let file = register(&setup, &ALICE, &password("right"), &mut rng);

    let wrong = password("wrong");
    let (client, request) = ClientLogin::start(&wrong, &mut rng).unwrap();
    let (server, response) =
        ServerLogin::start(&setup, Some(&file), &request, &ALICE, &mut rng).unwrap();
    assert_eq!(
        client.finish(&wrong, &response).err(),
        Some(LoginError::AuthenticationFailed)
    );

    // Without the password the client has no valid finalization to send;
    // anything it makes up is refused.
    let forged = CredentialFinalization::from_bytes(&[0x5a; CREDENTIAL_FINALIZATION_LEN]).unwrap();
    assert_eq!(
        server.finish(&forged).err(),
        Some(LoginError::AuthenticationFailed)
    );

    // Nor does a finalization from another, successful session help.
    let right = password("right");
    let (client, request) = ClientLogin::start(&right, &mut rng).unwrap();
    let (_, response) =
        ServerLogin::start(&setup, Some(&file), &request, &ALICE, &mut rng).unwrap();
    let (finalization, _) = client.finish(&right, &response).unwrap();
    let (_, request) = ClientLogin::start(&right, &mut rng).unwrap();
    let (other_server, _) =
        ServerLogin::start(&setup, Some(&file), &request, &ALICE, &mut rng).unwrap();
    assert_eq!(
        other_server.finish(&finalization).err(),
        Some(LoginError::AuthenticationFailed)
    );
}

#[test]
fn unknown_account_gets_a_fake_response_of_the_same_length() {
    let mut rng = seeded_rng(3);
    let setup = ServerSetup::generate(&mut rng);
    let pw = password("correct horse battery staple");
    let file = register(&setup, &ALICE, &pw, &mut rng);

    let (_, request) = ClientLogin::start(&pw, &mut rng).unwrap();
    let (_, real) = ServerLogin::start(&setup, Some(&file), &request, &ALICE, &mut rng).unwrap();

    let (client, request) = ClientLogin::start(&pw, &mut rng).unwrap();
    let (server, fake) = ServerLogin::start(&setup, None, &request, &BOB, &mut rng).unwrap();
    assert_eq!(fake.to_bytes().len(), real.to_bytes().len());
    assert_eq!(fake.to_bytes().len(), CREDENTIAL_RESPONSE_LEN);
    assert_eq!(
        client.finish(&pw, &fake).err(),
        Some(LoginError::AuthenticationFailed)
    );
    let forged = CredentialFinalization::from_bytes(&[0; CREDENTIAL_FINALIZATION_LEN]).unwrap();
    assert_eq!(
        server.finish(&forged).err(),
        Some(LoginError::AuthenticationFailed)
    );
}

#[test]
fn a_response_for_one_account_does_not_complete_a_login_for_another() {
    let mut rng = seeded_rng(4);
    let setup = ServerSetup::generate(&mut rng);
    // Same password for both, so only the credential identifier differs.
    let pw = password("shared password");
    let alice = register(&setup, &ALICE, &pw, &mut rng);
    let bob = register(&setup, &BOB, &pw, &mut rng);

    assert!(login(&setup, Some(&alice), &ALICE, &pw, &mut rng).is_ok());
    assert!(login(&setup, Some(&bob), &BOB, &pw, &mut rng).is_ok());
    for (file, id) in [(&alice, &BOB), (&bob, &ALICE)] {
        assert_eq!(
            login(&setup, Some(file), id, &pw, &mut rng).err(),
            Some(LoginError::AuthenticationFailed)
        );
    }
}

#[test]
fn another_servers_setup_cannot_log_in() {
    let mut rng = seeded_rng(5);
    let setup = ServerSetup::generate(&mut rng);
    let other = ServerSetup::generate(&mut rng);
    let pw = password("correct horse battery staple");
    let file = register(&setup, &ALICE, &pw, &mut rng);
    assert_eq!(
        login(&other, Some(&file), &ALICE, &pw, &mut rng).err(),
        Some(LoginError::AuthenticationFailed)
    );
}

#[test]
fn tampered_registration_messages_never_yield_a_working_login() {
    let mut rng = seeded_rng(6);
    let setup = ServerSetup::generate(&mut rng);
    let pw = password("correct horse battery staple");

    // Flip a byte of message `which` (0 request, 1 response, 2 upload) and
    // see the registration either rejected or the later login fail.
    for which in 0..3 {
        let len = [
            REGISTRATION_REQUEST_LEN,
            REGISTRATION_RESPONSE_LEN,
            REGISTRATION_UPLOAD_LEN,
        ][which];
        for at in flip_positions(len) {
            let outcome = (|| {
                let (state, mut request) = ClientRegistration::start(&pw, &mut rng)?;
                if which == 0 {
                    request = RegistrationRequest::from_bytes(&flipped(&request.to_bytes(), at))?;
                }
                let mut response = server_registration_response(&setup, &request, &ALICE)?;
                if which == 1 {
                    response =
                        RegistrationResponse::from_bytes(&flipped(&response.to_bytes(), at))?;
                }
                let mut upload = state.finish(&pw, &response, &mut rng)?;
                if which == 2 {
                    upload = RegistrationUpload::from_bytes(&flipped(&upload.to_bytes(), at))?;
                }
                let file = PasswordFile::from_upload(upload);
                login(&setup, Some(&file), &ALICE, &pw, &mut rng)
            })();
            assert!(
                matches!(
                    outcome,
                    Err(LoginError::Malformed | LoginError::AuthenticationFailed)
                ),
                "message {which}, byte {at}: {:?}",
                outcome.map(|_| ())
            );
        }
    }
}

#[test]
fn tampered_login_messages_are_rejected() {
    let mut rng = seeded_rng(7);
    let setup = ServerSetup::generate(&mut rng);
    let pw = password("correct horse battery staple");
    let file = register(&setup, &ALICE, &pw, &mut rng);

    // 0 request, 1 response, 2 finalization, 3 the server's pending state.
    for which in 0..4 {
        let len = [
            CREDENTIAL_REQUEST_LEN,
            CREDENTIAL_RESPONSE_LEN,
            CREDENTIAL_FINALIZATION_LEN,
            SERVER_LOGIN_STATE_LEN,
        ][which];
        for at in flip_positions(len) {
            let outcome = (|| {
                let (client, mut request) = ClientLogin::start(&pw, &mut rng)?;
                if which == 0 {
                    request = CredentialRequest::from_bytes(&flipped(&request.to_bytes(), at))?;
                }
                let (mut server, mut response) =
                    ServerLogin::start(&setup, Some(&file), &request, &ALICE, &mut rng)?;
                if which == 1 {
                    response = CredentialResponse::from_bytes(&flipped(&response.to_bytes(), at))?;
                }
                let (mut finalization, client_key) = client.finish(&pw, &response)?;
                if which == 2 {
                    finalization =
                        CredentialFinalization::from_bytes(&flipped(&finalization.to_bytes(), at))?;
                }
                if which == 3 {
                    let state = server.to_bytes();
                    server = ServerLogin::from_bytes(&flipped(state.expose_secret(), at))?;
                }
                let server_key = server.finish(&finalization)?;
                Ok::<_, LoginError>(client_key == server_key)
            })();
            // The pending state is the server's own secret and carries no
            // integrity check: flipping a bit of its session-key part
            // still "finishes", but never with the client's key.
            assert!(
                matches!(
                    outcome,
                    Err(LoginError::Malformed | LoginError::AuthenticationFailed)
                ) || (which == 3 && outcome == Ok(false)),
                "message {which}, byte {at}: {outcome:?}"
            );
        }
    }
}

#[test]
fn every_byte_form_round_trips_with_its_documented_length() {
    let mut rng = seeded_rng(8);
    let setup = ServerSetup::generate(&mut rng);
    let setup_bytes = setup.to_bytes();
    assert_eq!(setup_bytes.expose_secret().len(), SERVER_SETUP_LEN);
    let setup = ServerSetup::from_bytes(setup_bytes.expose_secret()).unwrap();
    assert_eq!(
        setup.to_bytes().expose_secret(),
        setup_bytes.expose_secret()
    );

    let pw = password("correct horse battery staple");
    let (registration, request) = ClientRegistration::start(&pw, &mut rng).unwrap();
    let bytes = request.to_bytes();
    assert_eq!(bytes.len(), REGISTRATION_REQUEST_LEN);
    assert_eq!(
        RegistrationRequest::from_bytes(&bytes).unwrap().to_bytes(),
        bytes
    );

    let response = server_registration_response(&setup, &request, &ALICE).unwrap();
    let bytes = response.to_bytes();
    assert_eq!(bytes.len(), REGISTRATION_RESPONSE_LEN);
    let response = RegistrationResponse::from_bytes(&bytes).unwrap();
    assert_eq!(response.to_bytes(), bytes);

    let upload = registration.finish(&pw, &response, &mut rng).unwrap();
    let bytes = upload.to_bytes();
    assert_eq!(bytes.len(), REGISTRATION_UPLOAD_LEN);
    let upload = RegistrationUpload::from_bytes(&bytes).unwrap();
    assert_eq!(upload.to_bytes(), bytes);

    let file = PasswordFile::from_upload(upload);
    let stored = file.to_bytes();
    assert_eq!(stored.len(), PASSWORD_FILE_LEN);
    assert_eq!(stored, bytes, "the password file is the upload, stored");
    let file = PasswordFile::from_bytes(&stored).unwrap();
    assert_eq!(file.to_bytes(), stored);

    let (client, request) = ClientLogin::start(&pw, &mut rng).unwrap();
    let bytes = request.to_bytes();
    assert_eq!(bytes.len(), CREDENTIAL_REQUEST_LEN);
    let request = CredentialRequest::from_bytes(&bytes).unwrap();
    assert_eq!(request.to_bytes(), bytes);

    let (server, response) =
        ServerLogin::start(&setup, Some(&file), &request, &ALICE, &mut rng).unwrap();
    let state = server.to_bytes();
    assert_eq!(state.expose_secret().len(), SERVER_LOGIN_STATE_LEN);
    let server = ServerLogin::from_bytes(state.expose_secret()).unwrap();
    assert_eq!(server.to_bytes().expose_secret(), state.expose_secret());
    let bytes = response.to_bytes();
    assert_eq!(bytes.len(), CREDENTIAL_RESPONSE_LEN);
    let response = CredentialResponse::from_bytes(&bytes).unwrap();
    assert_eq!(response.to_bytes(), bytes);

    let (finalization, client_key) = client.finish(&pw, &response).unwrap();
    let bytes = finalization.to_bytes();
    assert_eq!(bytes.len(), CREDENTIAL_FINALIZATION_LEN);
    let finalization = CredentialFinalization::from_bytes(&bytes).unwrap();
    assert_eq!(finalization.to_bytes(), bytes);

    // Everything restored from bytes still completes the login.
    assert_eq!(server.finish(&finalization).unwrap(), client_key);
}

#[test]
fn truncated_or_extended_bytes_are_malformed() {
    type Parse = fn(&[u8]) -> Result<(), LoginError>;
    let parsers: [(&str, usize, Parse); 9] = [
        ("server setup", SERVER_SETUP_LEN, |b| {
            ServerSetup::from_bytes(b).map(drop)
        }),
        ("registration request", REGISTRATION_REQUEST_LEN, |b| {
            RegistrationRequest::from_bytes(b).map(drop)
        }),
        ("registration response", REGISTRATION_RESPONSE_LEN, |b| {
            RegistrationResponse::from_bytes(b).map(drop)
        }),
        ("registration upload", REGISTRATION_UPLOAD_LEN, |b| {
            RegistrationUpload::from_bytes(b).map(drop)
        }),
        ("password file", PASSWORD_FILE_LEN, |b| {
            PasswordFile::from_bytes(b).map(drop)
        }),
        ("credential request", CREDENTIAL_REQUEST_LEN, |b| {
            CredentialRequest::from_bytes(b).map(drop)
        }),
        ("credential response", CREDENTIAL_RESPONSE_LEN, |b| {
            CredentialResponse::from_bytes(b).map(drop)
        }),
        (
            "credential finalization",
            CREDENTIAL_FINALIZATION_LEN,
            |b| CredentialFinalization::from_bytes(b).map(drop),
        ),
        ("server login state", SERVER_LOGIN_STATE_LEN, |b| {
            ServerLogin::from_bytes(b).map(drop)
        }),
    ];

    let mut rng = seeded_rng(9);
    let setup = ServerSetup::generate(&mut rng);
    let pw = password("correct horse battery staple");
    let (registration, request) = ClientRegistration::start(&pw, &mut rng).unwrap();
    let response = server_registration_response(&setup, &request, &ALICE).unwrap();
    let upload = registration.finish(&pw, &response, &mut rng).unwrap();
    let file = PasswordFile::from_upload(upload.clone());
    let (client, login_request) = ClientLogin::start(&pw, &mut rng).unwrap();
    let (server, login_response) =
        ServerLogin::start(&setup, Some(&file), &login_request, &ALICE, &mut rng).unwrap();
    let (finalization, _) = client.finish(&pw, &login_response).unwrap();
    let valid: [Vec<u8>; 9] = [
        setup.to_bytes().expose_secret().to_vec(),
        request.to_bytes(),
        response.to_bytes(),
        upload.to_bytes(),
        file.to_bytes(),
        login_request.to_bytes(),
        login_response.to_bytes(),
        finalization.to_bytes(),
        server.to_bytes().expose_secret().to_vec(),
    ];

    for ((name, len, parse), bytes) in parsers.iter().zip(&valid) {
        assert_eq!(bytes.len(), *len, "{name}");
        assert_eq!(parse(bytes), Ok(()), "{name}");
        assert_eq!(parse(&[]), Err(LoginError::Malformed), "{name} empty");
        assert_eq!(
            parse(&bytes[..len - 1]),
            Err(LoginError::Malformed),
            "{name} truncated"
        );
        let mut extended = bytes.clone();
        extended.push(0);
        assert_eq!(
            parse(&extended),
            Err(LoginError::Malformed),
            "{name} extended"
        );
    }
}

#[test]
fn invalid_group_elements_are_malformed() {
    // 0xff.. is not a canonical Ristretto255 encoding.
    assert_eq!(
        RegistrationRequest::from_bytes(&[0xff; REGISTRATION_REQUEST_LEN]).err(),
        Some(LoginError::Malformed)
    );
    assert_eq!(
        CredentialRequest::from_bytes(&[0xff; CREDENTIAL_REQUEST_LEN]).err(),
        Some(LoginError::Malformed)
    );
    assert_eq!(
        PasswordFile::from_bytes(&[0xff; PASSWORD_FILE_LEN]).err(),
        Some(LoginError::Malformed)
    );
    assert_eq!(
        ServerSetup::from_bytes(&[0xff; SERVER_SETUP_LEN]).err(),
        Some(LoginError::Malformed)
    );
}
