//! The CLI against the reference age implementation, and signing in on a
//! new device: an exported document decrypts with the `age` crate under the
//! party's `AGE-SECRET-KEY-1…` identity; a file the `age` crate encrypted to
//! the party's `age1…` recipient imports into the vault; a password login on
//! a fresh machine recovers the same identity.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::str::FromStr as _;

use lexvault_tests::TestServer;
use lexvault_tests::cli::CliUser;

fn firm_with_attorney(server: &TestServer) -> (CliUser, String) {
    let admin = CliUser::new(&server.url, "admin password");
    let _ = admin.json(&["init", "--name", "Firm Admin", "--argon2-memory-mib", "19"]);
    let bundle = admin.home.path().join("admin.bundle");
    let _ = admin.json(&["whoami", "--bundle", bundle.to_str().unwrap()]);
    lexvault_server::admin::init_admin(server.data_dir(), &bundle).unwrap();
    let attorney = CliUser::new(&server.url, "attorney password");
    let key = attorney.enrol("Ada Attorney");
    let _ = admin.json(&["member", "certify", &key, "--role", "attorney"]);
    let matter = attorney.json(&["matter", "create"])["matter"]
        .as_str()
        .unwrap()
        .to_owned();
    (attorney, matter)
}

#[test]
fn exports_decrypt_with_the_age_crate_and_age_files_import() {
    let server = TestServer::start();
    let (attorney, matter) = firm_with_attorney(&server);
    let text: Vec<u8> = (0..150_000u32).map(|i| (i % 241) as u8).collect();
    let file = attorney.home.path().join("exhibit.bin");
    std::fs::write(&file, &text).unwrap();
    let document = attorney.json(&["put", &matter, file.to_str().unwrap()])["document"]
        .as_str()
        .unwrap()
        .to_owned();

    // Export, binary and armored, and decrypt with the reference crate.
    let key_file = attorney.home.path().join("age-identity.txt");
    let _ = attorney.json(&["whoami", "--age-identity", key_file.to_str().unwrap()]);
    let key_text = std::fs::read_to_string(&key_file).unwrap();
    let secret = key_text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .unwrap();
    let identity = age::x25519::Identity::from_str(secret).unwrap();
    for armor in [false, true] {
        let out = attorney.home.path().join(format!("export-{armor}.age"));
        let mut args = vec!["export", document.as_str(), "-o", out.to_str().unwrap()];
        if armor {
            args.push("--armor");
        }
        let _ = attorney.json(&args);
        let bytes = std::fs::read(&out).unwrap();
        let plaintext = if armor {
            let reader = age::armor::ArmoredReader::new(&bytes[..]);
            let decryptor = age::Decryptor::new(reader).unwrap();
            let mut r = decryptor
                .decrypt(std::iter::once(&identity as &dyn age::Identity))
                .unwrap();
            let mut v = Vec::new();
            std::io::Read::read_to_end(&mut r, &mut v).unwrap();
            v
        } else {
            age::decrypt(&identity, &bytes).unwrap()
        };
        assert_eq!(plaintext, text, "armor: {armor}");
    }
    // Another identity cannot decrypt the export.
    let stranger = age::x25519::Identity::generate();
    let bytes = std::fs::read(attorney.home.path().join("export-false.age")).unwrap();
    assert!(age::decrypt(&stranger, &bytes).is_err());

    // A file the age crate encrypted to the attorney's recipient imports.
    let recipient_text = attorney.json(&["whoami"])["recipient"]
        .as_str()
        .unwrap()
        .to_owned();
    let recipient = age::x25519::Recipient::from_str(&recipient_text).unwrap();
    let original = b"witness statement, encrypted elsewhere with stock age".repeat(1000);
    let sealed = age::encrypt(&recipient, &original).unwrap();
    let incoming = attorney.home.path().join("statement.pdf.age");
    std::fs::write(&incoming, sealed).unwrap();
    let imported = attorney.json(&["import", &matter, incoming.to_str().unwrap()]);
    let id = imported["document"].as_str().unwrap().to_owned();
    let got = attorney.json(&["get", &id, "-o", "statement.pdf"]);
    assert_eq!(got["name"], "statement.pdf");
    assert_eq!(
        std::fs::read(attorney.home.path().join("statement.pdf")).unwrap(),
        original
    );
    // A file for someone else does not import, and nothing is created.
    let other = age::encrypt(&stranger.to_public(), b"not for you").unwrap();
    let foreign = attorney.home.path().join("foreign.age");
    std::fs::write(&foreign, other).unwrap();
    let refused = attorney.run(&["import", &matter, foreign.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    let listing = attorney.json(&["ls", &matter]);
    assert_eq!(listing.as_array().unwrap().len(), 2);
}

#[test]
fn password_login_on_a_new_device_recovers_the_identity() {
    let server = TestServer::start();
    let (attorney, matter) = firm_with_attorney(&server);
    let _ = attorney.json(&["register", "--login", "ada"]);
    let file = attorney.home.path().join("memo.txt");
    std::fs::write(&file, b"privileged memo").unwrap();
    let document = attorney.json(&["put", &matter, file.to_str().unwrap()])["document"]
        .as_str()
        .unwrap()
        .to_owned();

    let laptop = CliUser::new(&server.url, "attorney password");
    let signed_in = laptop.json(&["login", "ada"]);
    assert_eq!(
        signed_in["key"],
        attorney.json(&["whoami"])["key"],
        "the same identity"
    );
    let _ = laptop.json(&["get", &document, "-o", "memo.txt"]);
    assert_eq!(
        std::fs::read(laptop.home.path().join("memo.txt")).unwrap(),
        b"privileged memo"
    );

    // For automation the password can come from a file descriptor, which
    // wins over the environment.
    let scripted = CliUser::new(&server.url, "wrong password");
    let mut child = std::process::Command::new(lexvault_tests::cli::binary())
        .args(["--json", "--password-fd", "0", "login", "ada"])
        .env("LEXVAULT_HOME", scripted.home.path())
        .env("LEXVAULT_SERVER", &server.url)
        .env("LEXVAULT_PASSWORD", "wrong password")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"attorney password\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let thief = CliUser::new(&server.url, "wrong password");
    let out = thief.run(&["login", "ada"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("login failed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!thief.home.path().join("identity.sealed").exists());
}
