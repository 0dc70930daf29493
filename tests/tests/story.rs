//! The motivating story, end to end through the `lexvault` binary against a
//! real server: a family-law draft settlement shared with a client, never
//! with the opposing party, revoked, re-keyed, and every step on the record.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::Read as _;

use lexvault_client::vault::Vault;
use lexvault_core::age::stream::StreamReader;
use lexvault_core::manifest::DocumentId;
use lexvault_tests::TestServer;
use lexvault_tests::cli::CliUser;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn draft_settlement_story() {
    let server = TestServer::start();
    let url = server.url.clone();

    // The firm: its administrator, named by the server's init step.
    let admin = CliUser::new(&url, "admin password");
    let _ = admin.json(&["init", "--name", "Firm Admin", "--argon2-memory-mib", "19"]);
    let bundle_file = admin.home.path().join("admin.bundle");
    let _ = admin.json(&["whoami", "--bundle", bundle_file.to_str().unwrap()]);
    lexvault_server::admin::init_admin(server.data_dir(), &bundle_file).unwrap();
    let _ = admin.json(&["register"]); // already there: harmless

    let attorney = CliUser::new(&url, "attorney password");
    let attorney_key = attorney.enrol("Ada Attorney");
    let client = CliUser::new(&url, "client password");
    let client_key = client.enrol("Carla Client");
    let relative = CliUser::new(&url, "relative password");
    let _ = relative.enrol("Rory Relative");

    // Only certified staff create matters.
    let refused = attorney.run(&["matter", "create"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("certified"),
        "{}",
        stderr(&refused)
    );
    let _ = admin.json(&["member", "certify", &attorney_key, "--role", "attorney"]);

    // The attorney opens a family-law matter and uploads the draft,
    // granting the client view and download.
    let matter = attorney.json(&["matter", "create"])["matter"]
        .as_str()
        .unwrap()
        .to_owned();
    let draft: Vec<u8> = b"DRAFT SETTLEMENT AGREEMENT - Smith v Smith - privileged\n"
        .iter()
        .copied()
        .cycle()
        .take(300_000)
        .collect();
    let draft_path = attorney.home.path().join("draft-settlement.pdf");
    std::fs::write(&draft_path, &draft).unwrap();
    let share = format!("{client_key}:view,download");
    let put = attorney.json(&[
        "put",
        &matter,
        draft_path.to_str().unwrap(),
        "--mime",
        "application/pdf",
        "--share",
        &share,
    ]);
    let document = put["document"].as_str().unwrap().to_owned();

    // The client downloads and decrypts exactly the draft.
    let got = client.json(&["get", &document, "-o", "settlement.pdf"]);
    assert_eq!(got["name"], "draft-settlement.pdf");
    assert_eq!(
        std::fs::read(client.home.path().join("settlement.pdf")).unwrap(),
        draft
    );
    let listing = client.json(&["ls", &matter]);
    assert_eq!(listing[0]["document"], document.as_str());

    // The client forwards what they have to a relative on the other side:
    // the relative opens nothing and learns nothing.
    let forwarded = relative.run(&["get", &document, "-o", "stolen.pdf"]);
    assert_eq!(forwarded.status.code(), Some(1));
    assert!(
        stderr(&forwarded).contains("not-found"),
        "{}",
        stderr(&forwarded)
    );
    assert!(!relative.home.path().join("stolen.pdf").exists());
    let nothing = relative.run(&["ls", &matter]);
    assert_eq!(nothing.status.code(), Some(1));
    assert!(
        relative
            .json(&["matter", "list"])
            .as_array()
            .unwrap()
            .is_empty()
    );

    // A public link with a passphrase, a 48-hour expiry and two downloads.
    let passphrase = [("LEXVAULT_LINK_PASSPHRASE", "correct horse battery staple")];
    let link = attorney.json_env(
        &passphrase,
        &[
            "link",
            "create",
            &document,
            "--expires",
            "48h",
            "--max-downloads",
            "2",
            "--passphrase",
        ],
    );
    let link_url = link["url"].as_str().unwrap().to_owned();
    assert!(link_url.contains("#v1."), "{link_url}");
    let recipient = CliUser::new(&url, "unused");
    // Without the passphrase the link opens nothing.
    let wrong = recipient.run_env(
        &[("LEXVAULT_LINK_PASSPHRASE", "guess")],
        &["link", "open", &link_url, "-o", "guess.pdf"],
    );
    assert_eq!(wrong.status.code(), Some(1));
    assert!(!recipient.home.path().join("guess.pdf").exists());
    for (n, name) in [(1, "first.pdf"), (0, "second.pdf")] {
        let opened = recipient.json_env(&passphrase, &["link", "open", &link_url, "-o", name]);
        assert_eq!(opened["opens_left"], n);
        assert_eq!(
            std::fs::read(recipient.home.path().join(name)).unwrap(),
            draft
        );
    }
    let third = recipient.run_env(&passphrase, &["link", "open", &link_url, "-o", "third.pdf"]);
    assert_eq!(third.status.code(), Some(1));
    assert!(stderr(&third).contains("used up"), "{}", stderr(&third));
    assert!(!recipient.home.path().join("third.pdf").exists());
    let links = attorney.json(&["link", "list", &matter]);
    assert_eq!(links[0]["state"], "used up");
    assert_eq!(links[0]["opens"], 2);

    // What the client's machine holds before revocation: its stanza and
    // the file key of version 1 (a cached key, as a revoked party keeps).
    let client_vault = Vault::new(server.client(), {
        let profile = client.home.path().join("identity.sealed");
        let sealed =
            lexvault_core::backup::SealedBackup::from_bytes(&std::fs::read(profile).unwrap())
                .unwrap();
        sealed.open(&"client password".to_owned().into()).unwrap()
    });
    let doc_id = DocumentId::from_bytes(hex::decode(&document).unwrap().try_into().unwrap());
    let cached = client_vault.open_latest(&doc_id).unwrap();

    // Revocation takes effect on the next request.
    let members = attorney.json(&["matter", "members", &matter]);
    let grant = members["grants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["grantee"] == client_key.as_str())
        .unwrap()["grant"]
        .as_str()
        .unwrap()
        .to_owned();
    let _ = attorney.json(&["revoke", &matter, &grant]);
    let after = client.run(&["get", &document, "-o", "again.pdf"]);
    assert_eq!(after.status.code(), Some(1));
    assert!(stderr(&after).contains("not-found"), "{}", stderr(&after));

    // After a re-key the revoked client's cached key opens nothing new.
    let rekeyed = attorney.json(&["rekey", &document]);
    assert_eq!(rekeyed["version"], 2);
    let attorney_vault = Vault::new(server.client(), {
        let profile = attorney.home.path().join("identity.sealed");
        let sealed =
            lexvault_core::backup::SealedBackup::from_bytes(&std::fs::read(profile).unwrap())
                .unwrap();
        sealed.open(&"attorney password".to_owned().into()).unwrap()
    });
    let v2 = attorney_vault.open_latest(&doc_id).unwrap();
    assert_eq!(v2.version().get(), 2);
    assert!(
        v2.manifest
            .record()
            .check_file_key(&cached.file_key)
            .is_err()
    );
    let mut payload = tempfile::tempfile().unwrap();
    attorney_vault
        .fetch_payload(&v2, &mut payload, &mut |_| {})
        .unwrap();
    let mut reader = StreamReader::new(&cached.file_key, payload).unwrap();
    let mut plaintext = Vec::new();
    assert!(
        reader.read_to_end(&mut plaintext).is_err(),
        "the old key opened the new version"
    );
    // And the attorney still reads the re-keyed draft.
    let mine = attorney.json(&["get", &document, "-o", "v2.pdf"]);
    assert_eq!(mine["version"], 2);
    assert_eq!(
        std::fs::read(attorney.home.path().join("v2.pdf")).unwrap(),
        draft
    );

    // The matter's record shows every step, with its actor.
    let log = attorney.json(&["log", &matter]);
    let events: Vec<(String, String)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_owned(),
                e["actor_name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for expected in [
        ("matter-created", "Ada Attorney"),
        ("uploaded", "Ada Attorney"),
        ("viewed", "Carla Client"),
        ("downloaded", "Carla Client"),
        ("revoked", "Ada Attorney"),
        ("link-created", "Ada Attorney"),
        ("link-opened", "share link"),
        ("link-downloaded", "share link"),
    ] {
        assert!(
            events
                .iter()
                .any(|(k, a)| k == expected.0 && a == expected.1),
            "{expected:?} missing from {events:?}"
        );
    }
    assert_eq!(
        events.iter().filter(|(k, _)| k == "uploaded").count(),
        2,
        "the upload and the re-key: {events:?}"
    );
    assert!(!events.iter().any(|(_, a)| a == "Rory Relative"));
}
