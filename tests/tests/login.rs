//! Password login on a new device against a real server (spec:
//! `spec/login.md` §API): registration, recovery of the identity, the one
//! failure for wrong passwords and unknown names, rate limiting, replayed
//! attempts, weak backups, that the password never reaches the disk, and a
//! hostile server that releases keys other than the person's.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::Cursor;

use lexvault_client::client::{Client, ClientError, os_rng};
use lexvault_client::login::{is_login_failure, login, register_password};
use lexvault_client::vault::{Share, Vault, decrypt_payload};
use lexvault_core::api::{
    LoginChallenge, LoginFinish, LoginResult, LoginStart, PasswordRegistrationFinish,
    PasswordRegistrationResponse, PasswordRegistrationStart,
};
use lexvault_core::backup::{Argon2Params, SealedBackup};
use lexvault_core::grant::{Rights, Validity};
use lexvault_core::login::{
    CREDENTIAL_RESPONSE_LEN, ClientLogin, ClientRegistration, CredentialResponse,
    RegistrationResponse,
};
use lexvault_core::membership::Role;
use lexvault_core::secret::SecretString;
use lexvault_server::app::Limits;
use lexvault_tests::{Firm, TestServer};

fn password(s: &str) -> SecretString {
    SecretString::new(s.to_owned())
}

/// Registers `vault`'s password with the cheapest backup parameters the
/// client accepts.
fn register(vault: &Vault, name: &str, pw: &str) {
    register_password(vault, name, &password(pw), Argon2Params::MINIMUM).expect("register");
}

/// Starts a login by hand: the client state and the server's challenge.
fn start(client: &Client, name: &str, pw: &str) -> (ClientLogin, LoginChallenge) {
    let (state, request) = ClientLogin::start(&password(pw), &mut os_rng()).unwrap();
    let challenge: LoginChallenge = client
        .post_unsigned(
            "/v1/login/start",
            &LoginStart {
                login_name: name.to_owned(),
                request: request.to_bytes().into(),
            },
        )
        .unwrap();
    (state, challenge)
}

fn finish(client: &Client, message: &LoginFinish) -> Result<LoginResult, ClientError> {
    client.post_unsigned("/v1/login/finish", message)
}

fn assert_login_failure(result: Result<impl std::fmt::Debug, ClientError>) {
    let err = result.unwrap_err();
    assert!(is_login_failure(&err), "{err:?}");
    assert_eq!(
        err.to_string(),
        "login failed: check the login name and password"
    );
}

fn assert_rate_limited(result: Result<impl std::fmt::Debug, ClientError>) {
    let err = result.unwrap_err();
    assert_eq!(err.status(), Some(429), "{err:?}");
    assert_eq!(err.code(), Some("too-many-attempts"));
    assert!(err.to_string().contains("try again in"), "{err}");
}

#[test]
fn a_new_device_recovers_the_identity_and_opens_what_was_shared() {
    let firm = Firm::new();
    let attorney = firm.member("Ada Attorney", Role::Attorney);
    let carla = firm.person("Carla Client");
    register(&carla, "carla@example.com", "correct horse battery staple");

    // A new device: a fresh client, no keys; the name as typed.
    let device = firm.server.client();
    let recovered = login(
        &device,
        "  Carla@Example.com ",
        &password("correct horse battery staple"),
    )
    .unwrap();
    assert_eq!(recovered.public(), carla.identity().public());

    // The recovered identity opens a document shared with Carla.
    let matter = attorney.create_matter().unwrap();
    let text = b"settlement terms".repeat(1000);
    let share = Share {
        with: carla.identity().public(),
        rights: Rights::VIEW | Rights::DOWNLOAD,
        validity: Validity::starting(0),
    };
    let (doc, _) = attorney
        .put(
            matter.id(),
            None,
            "terms.txt",
            "text/plain",
            || Ok(Cursor::new(text.clone())),
            &[share],
            &mut |_| {},
        )
        .unwrap();
    let on_device = Vault::new(device, recovered);
    let opened = on_device.open_latest(&doc).unwrap();
    let mut payload = tempfile::tempfile().unwrap();
    on_device
        .fetch_payload(&opened, &mut payload, &mut |_| {})
        .unwrap();
    let mut out = Vec::new();
    decrypt_payload(&opened, &payload, &mut out).unwrap();
    assert_eq!(out, text);
}

#[test]
fn wrong_passwords_and_unknown_names_fail_alike() {
    let firm = Firm::new();
    let carla = firm.person("Carla Client");
    register(&carla, "carla", "correct horse battery staple");
    let device = firm.server.client();

    assert_login_failure(login(&device, "carla", &password("wrong horse")));
    assert_login_failure(login(&device, "nobody-here", &password("wrong horse")));

    // The server's answers have the same form for both: a challenge of the
    // same length, then the same refusal for a finalization that fails.
    let (_, known) = start(&device, "carla", "guess");
    let (_, unknown) = start(&device, "nobody-here", "guess");
    assert_eq!(known.response.len(), CREDENTIAL_RESPONSE_LEN);
    assert_eq!(unknown.response.len(), known.response.len());
    assert!(CredentialResponse::from_bytes(&unknown.response).is_ok());
    assert_ne!(known.attempt, unknown.attempt);
    let mut errors = Vec::new();
    for challenge in [&known, &unknown] {
        let err = finish(
            &device,
            &LoginFinish {
                attempt: challenge.attempt,
                finalization: vec![0x42; 64].into(),
            },
        )
        .unwrap_err();
        errors.push((err.status(), err.code().map(str::to_owned), err.to_string()));
    }
    assert_eq!(errors[0], errors[1]);
    assert_eq!(errors[0].0, Some(401));
    assert_eq!(errors[0].1.as_deref(), Some("login-failed"));

    // An attempt id the server never issued fails the same way.
    let err = finish(
        &device,
        &LoginFinish {
            attempt: [9; 16].into(),
            finalization: vec![0x42; 64].into(),
        },
    )
    .unwrap_err();
    assert_eq!(err.code(), Some("login-failed"));

    // A malformed name is refused before anything else.
    let err = login(&device, "no spaces allowed", &password("x")).unwrap_err();
    assert!(err.to_string().contains("login name"), "{err}");
}

#[test]
fn failed_logins_are_rate_limited_per_name_known_or_not() {
    let limits = Limits {
        login_attempts_per_hour: 3,
        ..Limits::default()
    };
    let firm = Firm::on(TestServer::start_with(limits));
    let carla = firm.person("Carla Client");
    let dora = firm.person("Dora Defendant");
    register(&carla, "carla", "carla's password");
    register(&dora, "dora", "dora's password");
    let device = firm.server.client();

    // Successful logins do not count.
    for _ in 0..4 {
        login(&device, "dora", &password("dora's password")).unwrap();
    }

    for _ in 0..3 {
        assert_login_failure(login(&device, "carla", &password("guess")));
        assert_login_failure(login(&device, "nobody", &password("guess")));
    }
    // Now even the right password waits, and an unknown name answers alike.
    assert_rate_limited(login(&device, "carla", &password("carla's password")));
    assert_rate_limited(login(&device, "nobody", &password("guess")));
    assert_rate_limited(login(&device, " Carla ", &password("guess")));

    // Other names are not affected.
    login(&device, "dora", &password("dora's password")).unwrap();
}

#[test]
fn an_unfinished_attempt_counts_as_a_failure() {
    let limits = Limits {
        login_attempts_per_hour: 2,
        ..Limits::default()
    };
    let firm = Firm::on(TestServer::start_with(limits));
    let carla = firm.person("Carla Client");
    register(&carla, "carla", "carla's password");
    let device = firm.server.client();

    // A guesser learns the outcome from the challenge alone and never
    // finishes; the attempts still count.
    let _ = start(&device, "carla", "guess one");
    let _ = start(&device, "carla", "guess two");
    assert_rate_limited(login(&device, "carla", &password("carla's password")));
}

#[test]
fn an_attempt_finishes_once() {
    let firm = Firm::new();
    let carla = firm.person("Carla Client");
    register(&carla, "carla", "carla's password");
    let device = firm.server.client();

    let pw = password("carla's password");
    let (state, challenge) = start(&device, "carla", "carla's password");
    let response = CredentialResponse::from_bytes(&challenge.response).unwrap();
    let (finalization, _) = state.finish(&pw, &response).unwrap();
    let message = LoginFinish {
        attempt: challenge.attempt,
        finalization: finalization.to_bytes().into(),
    };
    let released = finish(&device, &message).unwrap();
    let identity = SealedBackup::from_bytes(&released.sealed_backup)
        .unwrap()
        .open(&pw)
        .unwrap();
    assert_eq!(identity.public(), carla.identity().public());

    // The same finalization, replayed, is refused like any failure.
    let err = finish(&device, &message).unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert_eq!(err.code(), Some("login-failed"));
}

#[test]
fn login_names_belong_to_one_identity_which_may_replace_its_password() {
    let firm = Firm::new();
    let carla = firm.person("Carla Client");
    let mallory = firm.person("Mallory");
    register(&carla, "carla", "first password");

    let err = register_password(
        &mallory,
        "CARLA",
        &password("mallory's"),
        Argon2Params::MINIMUM,
    )
    .unwrap_err();
    assert_eq!(err.status(), Some(409));
    assert_eq!(err.code(), Some("login-name-taken"));

    let device = firm.server.client();
    register(&carla, "carla", "second password");
    assert_login_failure(login(&device, "carla", &password("first password")));
    let identity = login(&device, "carla", &password("second password")).unwrap();
    assert_eq!(identity.public(), carla.identity().public());

    // A new name replaces the old one, which becomes free.
    register(&carla, "carla.client", "second password");
    assert_login_failure(login(&device, "carla", &password("second password")));
    login(&device, "carla.client", &password("second password")).unwrap();
    register(&mallory, "carla", "mallory's");

    // Only published identities may set a password.
    let stranger = Vault::new(
        firm.server.client(),
        lexvault_core::keys::Identity::generate(&mut os_rng()),
    );
    let err = register_password(&stranger, "stranger", &password("x"), Argon2Params::MINIMUM)
        .unwrap_err();
    assert_eq!(err.code(), Some("not-registered"));
}

#[test]
fn a_backup_with_weak_parameters_is_refused() {
    let firm = Firm::new();
    let carla = firm.person("Carla Client");
    let client = carla.client();
    let key = carla.identity().signing_key();
    let pw = password("carla's password");

    let (registration, request) = ClientRegistration::start(&pw, &mut os_rng()).unwrap();
    let answer: PasswordRegistrationResponse = client
        .post(
            key,
            "/v1/login/registration/start",
            &PasswordRegistrationStart {
                login_name: "carla".into(),
                request: request.to_bytes().into(),
            },
        )
        .unwrap();
    let response = RegistrationResponse::from_bytes(&answer.response).unwrap();
    let upload = registration.finish(&pw, &response, &mut os_rng()).unwrap();

    // A canonical record whose memory cost is 1 MiB: {0: 1, 1: 1024, …}.
    let sealed = SealedBackup::seal(carla.identity(), &pw, Argon2Params::MINIMUM, &mut os_rng())
        .unwrap()
        .to_bytes();
    assert_eq!(sealed[..6], [0xa7, 0x00, 0x01, 0x01, 0x19, 0x4c]);
    let mut weak = sealed.clone();
    weak[5] = 0x04;
    let finish_with = |backup: Vec<u8>| {
        client.post_empty_answer(
            key,
            "/v1/login/registration/finish",
            &PasswordRegistrationFinish {
                login_name: "carla".into(),
                upload: upload.to_bytes().into(),
                sealed_backup: backup.into(),
            },
        )
    };
    let err = finish_with(weak).unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert_eq!(err.code(), Some("weak-backup-parameters"));
    let err = finish_with(b"not a backup".to_vec()).unwrap_err();
    assert_eq!(err.code(), Some("malformed-backup"));

    // Nothing was stored: the password does not log in.
    assert_login_failure(login(&firm.server.client(), "carla", &pw));
    // The same upload with a sound backup is accepted.
    finish_with(sealed).unwrap();
    login(&firm.server.client(), "carla", &pw).unwrap();
}

#[test]
fn the_password_and_the_keys_never_reach_the_database() {
    let firm = Firm::new();
    let carla = firm.person("Carla Client");
    let secret_password = "Zq7-unmistakable-password-4711";
    register(&carla, "carla", secret_password);
    let device = firm.server.client();
    login(&device, "carla", &password(secret_password)).unwrap();
    assert_login_failure(login(&device, "carla", &password("Zq7-wrong-guess-0815")));

    let seed = carla.identity().signing_key().to_seed();
    let needles: [&[u8]; 3] = [
        secret_password.as_bytes(),
        b"Zq7-wrong-guess-0815",
        seed.expose_secret(),
    ];
    let mut scanned = 0;
    let mut login_name_seen = false;
    for entry in std::fs::read_dir(firm.server.data_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("lexvault.sqlite3") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        scanned += bytes.len();
        // A control: what the server does store is found by this scan.
        login_name_seen |= bytes.windows(5).any(|w| w == b"carla");
        for needle in needles {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "a secret appears in {name}"
            );
        }
    }
    assert!(scanned > 0, "no database file was scanned");
    assert!(login_name_seen, "the scan does not see stored rows");
}

/// A hostile server for one login name: it runs OPAQUE honestly, so the
/// password checks out, then releases whatever backup and bundle it likes.
struct HostileServer {
    url: String,
}

impl HostileServer {
    fn start(name: &str, pw: &SecretString, backup: Vec<u8>, bundle: Vec<u8>) -> Self {
        use lexvault_core::login::{
            CredentialFinalization, CredentialRequest, PasswordFile, ServerLogin, ServerSetup,
            server_registration_response,
        };
        use std::io::{BufRead as _, BufReader, Read as _, Write as _};
        use std::sync::{Arc, Mutex};

        let setup = ServerSetup::generate(&mut os_rng());
        let (registration, request) = ClientRegistration::start(pw, &mut os_rng()).unwrap();
        let response = server_registration_response(&setup, &request, name.as_bytes()).unwrap();
        let upload = registration.finish(pw, &response, &mut os_rng()).unwrap();
        let file = PasswordFile::from_upload(upload);
        let name = name.as_bytes().to_vec();
        let pending: Arc<Mutex<Option<ServerLogin>>> = Arc::default();
        let release = LoginResult {
            sealed_backup: backup.into(),
            bundle: bundle.into(),
        };

        let answer = move |path: &str, body: &[u8]| -> Vec<u8> {
            match path {
                "/v1/login/start" => {
                    let start: LoginStart = lexvault_core::api::decode(body).unwrap();
                    let request = CredentialRequest::from_bytes(&start.request).unwrap();
                    let (state, response) =
                        ServerLogin::start(&setup, Some(&file), &request, &name, &mut os_rng())
                            .unwrap();
                    *pending.lock().unwrap() = Some(state);
                    lexvault_core::api::encode(&LoginChallenge {
                        attempt: [1; 16].into(),
                        response: response.to_bytes().into(),
                    })
                }
                "/v1/login/finish" => {
                    let finish: LoginFinish = lexvault_core::api::decode(body).unwrap();
                    let finalization =
                        CredentialFinalization::from_bytes(&finish.finalization).unwrap();
                    let state = pending.lock().unwrap().take().unwrap();
                    state.finish(&finalization).unwrap();
                    lexvault_core::api::encode(&release)
                }
                other => panic!("unexpected call {other}"),
            }
        };
        let answer = Arc::new(answer);

        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let answer = Arc::clone(&answer);
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut stream = stream;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let path = line.split(' ').nth(1).unwrap_or("").to_owned();
                        let mut len = 0;
                        loop {
                            let mut header = String::new();
                            reader.read_line(&mut header).unwrap();
                            let header = header.trim_end();
                            if header.is_empty() {
                                break;
                            }
                            if let Some((k, v)) = header.split_once(':')
                                && k.eq_ignore_ascii_case("content-length")
                            {
                                len = v.trim().parse().unwrap();
                            }
                        }
                        let mut body = vec![0; len];
                        reader.read_exact(&mut body).unwrap();
                        let out = answer(&path, &body);
                        write!(
                            stream,
                            "HTTP/1.1 200 OK\r\ncontent-type: application/cbor\r\n\
                             content-length: {}\r\n\r\n",
                            out.len()
                        )
                        .unwrap();
                        stream.write_all(&out).unwrap();
                    }
                });
            }
        });
        Self { url }
    }

    fn client(&self) -> Client {
        Client::new(&self.url).unwrap()
    }
}

#[test]
fn a_server_that_releases_the_wrong_keys_is_caught() {
    use lexvault_core::key_bundle::KeyBundle;
    use lexvault_core::keys::Identity;

    let pw = password("carla's password");
    let carla = Identity::generate(&mut os_rng());
    let mallory = Identity::generate(&mut os_rng());
    let sealed = |who: &Identity| {
        SealedBackup::seal(who, &pw, Argon2Params::MINIMUM, &mut os_rng())
            .unwrap()
            .to_bytes()
    };
    let bundle = |who: &Identity| {
        KeyBundle::create(who, "someone", lexvault_client::client::now())
            .unwrap()
            .as_bytes()
            .to_vec()
    };

    // The control: an honest release is accepted by the same harness.
    let honest = HostileServer::start("carla", &pw, sealed(&carla), bundle(&carla));
    let identity = login(&honest.client(), "carla", &pw).unwrap();
    assert_eq!(identity.public(), carla.public());

    // Carla's keys with another person's bundle, and another person's keys
    // (sealed under the same password) with Carla's bundle.
    for (backup, published) in [
        (sealed(&carla), bundle(&mallory)),
        (sealed(&mallory), bundle(&carla)),
    ] {
        let server = HostileServer::start("carla", &pw, backup, published);
        let err = login(&server.client(), "carla", &pw).unwrap_err();
        assert!(matches!(err, ClientError::Verification(_)), "{err:?}");
    }

    // A backup sealed under another password does not open.
    let other = SealedBackup::seal(
        &carla,
        &password("another password"),
        Argon2Params::MINIMUM,
        &mut os_rng(),
    )
    .unwrap()
    .to_bytes();
    let server = HostileServer::start("carla", &pw, other, bundle(&carla));
    let err = login(&server.client(), "carla", &pw).unwrap_err();
    assert!(matches!(err, ClientError::Verification(_)), "{err:?}");
}
