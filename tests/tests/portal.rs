//! The portal (`/`) in real headless Chromium against the real server
//! binary, with the firm, the client and the documents made by the real
//! CLI: a client signs in with their password through OPAQUE in the
//! browser, sees the matter and the document the attorney shared with them
//! (and not the one they did not), and downloads it byte for byte through
//! the Service Worker stream; a wrong password shows the one login-failed
//! message and nothing else.
//!
//! Needs what `tests/tests/browser.rs` needs (the built pages, `npm ci` in
//! `tests/browser`, Chromium). Screenshots at phone and desktop sizes are
//! kept in `target/browser-artifacts/portal-*.png`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use lexvault_core::sign_in::LOGIN_FAILED;
use lexvault_tests::browser::{Firm, artifacts, browse, document_bytes, messages, web_dir};
use lexvault_tests::{contains_bytes, files_under};
use serde_json::{Value, json};
use tempfile::TempDir;

const PASSWORD: &str = "Client password of Carla";

/// The requests the browser sent whose address contains `part`.
fn requests_to<'a>(report: &'a Value, part: &str) -> Vec<&'a Value> {
    report["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["url"].as_str().unwrap().contains(part))
        .collect()
}

#[test]
fn a_client_signs_in_sees_what_was_shared_and_downloads_it() {
    let firm = Firm::new();
    let (_client, key) = firm.client_with_login("Carla Client", "carla", PASSWORD);
    // Two 1 MiB segments, so the portal decrypts it on its workers.
    let original = document_bytes((1 << 20) + 4 * 65_536 + 4_321, 7);
    let shared = firm.put_shared("Engagement letter.pdf", &original, &key);
    let unshared = firm.put("Internal memo.txt", b"for the firm only");
    assert_ne!(shared, unshared);

    let out = TempDir::new().unwrap();
    let saved = out.path().join("letter.pdf");
    let report = browse(&json!({
        "kind": "portal", "url": format!("{}/", firm.server.url), "login": "Carla",
        "passwords": ["not the password", PASSWORD], "matter": firm.matter,
        "save": "Engagement letter.pdf", "viewport": "phone", "downloadTo": saved,
        "screenshots": artifacts(), "name": "portal-phone",
    }));
    assert_eq!(
        report["first"], "login-form",
        "the sign-in form comes first"
    );

    // The wrong password: the one message, the form again, nothing else.
    let wrong = &report["attempts"][0];
    assert_eq!(wrong["state"], "login-form", "{wrong}");
    assert_eq!(wrong["message"], LOGIN_FAILED);
    assert_eq!(wrong["visible"], json!(["login-form", "problem"]));
    assert!(wrong["who"].is_null(), "nobody is signed in: {wrong}");
    assert_eq!(wrong["passwordField"], "", "the password field is cleared");

    // The right one: signed in as the person the bundle names.
    let right = &report["attempts"][1];
    assert_eq!(right["state"], "matters", "{right} {}", messages(&report));
    assert_eq!(right["who"], "Carla Client");
    assert_eq!(report["storage"], 0, "nothing kept in localStorage");
    // The wrong password failed on the device: only the right one was
    // finished with the server.
    assert_eq!(requests_to(&report, "/v1/login/start").len(), 2);
    assert_eq!(requests_to(&report, "/v1/login/finish").len(), 1);

    assert_eq!(report["matters"], json!([firm.matter]));
    assert_eq!(
        report["documents"],
        json!(["Engagement letter.pdf"]),
        "the shared document, and not the unshared one"
    );
    assert_eq!(report["suggestedName"], "Engagement letter.pdf");
    assert_eq!(report["end"], "done", "{}", messages(&report));
    assert_eq!(report["via"], "stream", "saved through the Service Worker");
    assert_eq!(report["decryptedOn"], "workers");
    assert_eq!(report["progress"].as_f64(), Some(1.0), "the bar is full");
    assert_eq!(std::fs::read(&saved).unwrap(), original);
    let api: Vec<String> = report["responses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["url"].as_str().unwrap().contains("/v1/"))
        .map(|r| format!("{} {}", r["status"], r["url"]))
        .collect();
    assert_eq!(
        requests_to(
            &report,
            &format!("/v1/documents/{shared}/versions/1/payload")
        )
        .len(),
        1,
        "{api:#?}"
    );
    assert!(
        !api.iter().any(|r| r.starts_with("409")),
        "the page learns its chain's head before its first recorded request: {api:#?}"
    );
    assert_eq!(requests_to(&report, "/v1/log/head").len(), 1, "{api:#?}");
    assert!(report["screenshots"].as_array().unwrap().len() >= 5);

    // The password never left the browser: no request carries it, in its
    // address, headers or body, and the server's log does not hold it.
    for request in report["requests"].as_array().unwrap() {
        let text = request.to_string();
        assert!(!text.contains(PASSWORD), "a request carried the password");
        if let Some(body) = request["body"].as_str() {
            let body = STANDARD.decode(body).unwrap();
            assert!(
                !contains_bytes(&body, PASSWORD.as_bytes()),
                "a request body carried the password: {}",
                request["url"]
            );
        }
    }
    let log = firm.server_log();
    assert!(
        log.contains("/v1/login/finish"),
        "the server logged the login"
    );
    assert!(
        !log.contains(PASSWORD),
        "the server's log holds the password"
    );

    // The page is served under the strict policy, with no inline script.
    let page = ureq::get(&format!("{}/", firm.server.url)).call().unwrap();
    let csp = page
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        csp.contains("script-src 'self' 'wasm-unsafe-eval';"),
        "{csp}"
    );
    let html = std::fs::read_to_string(web_dir().join("index.html")).unwrap();
    assert!(html.contains("/assets/portal.js"));
    assert!(
        !html.contains("<script>")
            && !html.contains("<style")
            && !html.contains(" onclick=")
            && !html.contains(" onsubmit=")
            && !html.contains(" style="),
        "no inline script or style in the portal"
    );

    // At desktop size, for the screenshots: sign in and list the documents.
    let desktop = browse(&json!({
        "kind": "portal", "url": format!("{}/", firm.server.url), "login": "carla",
        "passwords": [PASSWORD], "matter": firm.matter, "viewport": "desktop",
        "screenshots": artifacts(), "name": "portal-desktop",
    }));
    assert_eq!(desktop["state"], "documents", "{}", messages(&desktop));
    assert_eq!(desktop["documents"], json!(["Engagement letter.pdf"]));
    drop(firm.data);
}

#[test]
fn an_unknown_login_name_fails_like_a_wrong_password() {
    let firm = Firm::new();
    let (_client, _key) = firm.client_with_login("Carla Client", "carla", PASSWORD);
    let report = browse(&json!({
        "kind": "portal", "url": format!("{}/", firm.server.url), "login": "nobody",
        "passwords": [PASSWORD], "viewport": "phone",
        "screenshots": artifacts(), "name": "portal-unknown",
    }));
    let attempt = &report["attempts"][0];
    assert_eq!(attempt["state"], "login-form", "{attempt}");
    assert_eq!(attempt["message"], LOGIN_FAILED);
    assert_eq!(attempt["visible"], json!(["login-form", "problem"]));
    assert_eq!(requests_to(&report, "/v1/login/finish").len(), 0);
    assert!(
        requests_to(&report, "/v1/matters").is_empty(),
        "nothing is listed without signing in"
    );
}

#[test]
fn a_tampered_payload_is_not_saved_from_the_portal() {
    let firm = Firm::new();
    let (_client, key) = firm.client_with_login("Carla Client", "carla", PASSWORD);
    let original = document_bytes(3 * 65_536 + 99, 8);
    let _ = firm.put_shared("Ledger.xlsx", &original, &key);
    // The server's storage is changed under it: one bit in the middle.
    firm.flip_a_payload_bit();
    let out = TempDir::new().unwrap();
    let saved = out.path().join("ledger.xlsx");
    let report = browse(&json!({
        "kind": "portal", "url": format!("{}/", firm.server.url), "login": "carla",
        "passwords": [PASSWORD], "matter": firm.matter, "save": "Ledger.xlsx",
        "viewport": "phone", "downloadTo": saved,
        "screenshots": artifacts(), "name": "portal-tampered",
    }));
    assert_eq!(report["end"], "problem", "{}", messages(&report));
    assert!(
        messages(&report).contains("did not verify and was not saved"),
        "{}",
        messages(&report)
    );
    assert!(
        report.get("downloadFailure").is_some_and(|f| !f.is_null()) || !saved.exists(),
        "the browser did not keep the file"
    );
}

/// A file whose name the metadata may not hold is refused before a byte of
/// it is encrypted, with a message that says what to do, and nothing is
/// sent.
#[test]
fn a_file_whose_name_may_not_be_used_is_refused_before_it_is_encrypted() {
    let firm = Firm::new();
    let (_carla, carla_key) = firm.client_with_login("Carla Client", "carla", PASSWORD);
    let _ = firm.attorney.json(&[
        "grant",
        &firm.matter,
        "--to",
        &carla_key,
        "--rights",
        "view,download,upload",
    ]);
    let files = TempDir::new().unwrap();
    // A backslash: a path separator elsewhere, so no file name may hold one.
    let path = files.path().join("Draft\\v2.pdf");
    std::fs::write(&path, document_bytes(70_000, 13)).unwrap();
    let report = browse(&json!({
        "kind": "portal", "url": format!("{}/", firm.server.url), "login": "carla",
        "passwords": [PASSWORD], "matter": firm.matter, "upload": path,
        "viewport": "phone", "screenshots": artifacts(), "name": "portal-bad-name",
    }));
    assert_eq!(report["uploadEnd"], "problem", "{report}");
    let shown = messages(&report);
    assert!(
        shown.contains(
            "The document was not uploaded: the file name may not be used: rename the file"
        ),
        "{shown}"
    );
    assert!(
        requests_to(&report, "/versions").is_empty(),
        "nothing was sent"
    );
}

/// A paralegal with the upload right signs in to the portal and uploads a
/// document: it is encrypted in the browser, so the server's storage
/// holds neither its bytes nor its name. The paralegal's CLI then verifies
/// and opens it (the manifest, his authority, the digests) and grants it
/// to the client, who downloads it in her portal byte for byte; a new
/// version uploaded from the portal reaches her the same way.
#[test]
fn a_member_uploads_in_the_browser_and_another_member_downloads_it() {
    const PARALEGAL_PASSWORD: &str = "Paralegal password of Paul";
    let firm = Firm::new();
    let (paul, paul_key) = firm.client_with_login("Paul Paralegal", "paul", PARALEGAL_PASSWORD);
    let (_carla, carla_key) = firm.client_with_login("Carla Client", "carla", PASSWORD);
    let _ = firm.attorney.json(&[
        "grant",
        &firm.matter,
        "--to",
        &paul_key,
        "--rights",
        "view,download,upload,share",
    ]);

    let original = document_bytes(5 * 65_536 + 1_234, 11);
    let files = TempDir::new().unwrap();
    let name = "Witness statement.pdf";
    let path = files.path().join(name);
    std::fs::write(&path, &original).unwrap();
    let report = browse(&json!({
        "kind": "portal", "url": format!("{}/", firm.server.url), "login": "paul",
        "passwords": [PARALEGAL_PASSWORD], "matter": firm.matter, "upload": path,
        "viewport": "phone", "screenshots": artifacts(), "name": "portal-upload",
    }));
    assert_eq!(report["uploadEnd"], "uploaded", "{}", messages(&report));
    assert_eq!(
        report["uploadProgress"].as_f64(),
        Some(1.0),
        "the bar is full"
    );
    assert_eq!(
        report["documents"],
        json!([name]),
        "the new document is listed"
    );
    let document = report["uploaded"].as_str().unwrap().to_owned();

    // Only ciphertext left the browser: the server stores what it was sent
    // (the payload as a blob, the envelope in its database), and neither
    // holds the document's bytes or its name.
    let uploads = requests_to(&report, &format!("/v1/documents/{document}/versions"));
    assert_eq!(uploads.len(), 1, "one upload");
    let sample = &original[70_000..70_064];
    let stored = files_under(&firm.data.path().join("store"));
    assert!(
        stored
            .iter()
            .any(|f| std::fs::metadata(f).unwrap().len() > original.len() as u64),
        "the payload is among the stored files"
    );
    for stored in stored {
        let bytes = std::fs::read(&stored).unwrap();
        assert!(
            !contains_bytes(&bytes, sample),
            "{} holds plaintext",
            stored.display()
        );
        assert!(
            !contains_bytes(&bytes, name.as_bytes()),
            "{} holds the name",
            stored.display()
        );
    }

    // Paul's own CLI verifies what his browser uploaded (the manifest, his
    // authority, the digests) and opens it.
    let got = paul.json(&["get", &document, "-o", "from-the-portal.pdf"]);
    assert_eq!(got["name"], name);
    assert_eq!(
        std::fs::read(paul.home.path().join("from-the-portal.pdf")).unwrap(),
        original
    );

    // Granted to the client, it downloads in her portal byte for byte.
    let _ = paul.json(&[
        "grant",
        &firm.matter,
        "--to",
        &carla_key,
        "--document",
        &document,
    ]);
    let out = TempDir::new().unwrap();
    let saved = out.path().join("statement.pdf");
    let download = browse(&json!({
        "kind": "portal", "url": format!("{}/", firm.server.url), "login": "carla",
        "passwords": [PASSWORD], "matter": firm.matter, "save": name,
        "viewport": "desktop", "downloadTo": saved,
        "screenshots": artifacts(), "name": "portal-upload-download",
    }));
    assert_eq!(download["end"], "done", "{}", messages(&download));
    assert_eq!(std::fs::read(&saved).unwrap(), original);

    // Paul uploads the signed statement as version 2 from the portal; the
    // client's grant carries over, so she downloads the new version.
    let signed = document_bytes(2 * 65_536 + 77, 12);
    let signed_name = "Witness statement (signed).pdf";
    let signed_path = files.path().join(signed_name);
    std::fs::write(&signed_path, &signed).unwrap();
    let revised = browse(&json!({
        "kind": "portal", "url": format!("{}/", firm.server.url), "login": "paul",
        "passwords": [PARALEGAL_PASSWORD], "matter": firm.matter, "upload": signed_path,
        "uploadVersionOf": name, "viewport": "phone",
        "screenshots": artifacts(), "name": "portal-new-version",
    }));
    assert_eq!(revised["uploadEnd"], "uploaded", "{}", messages(&revised));
    assert_eq!(revised["uploaded"], document.as_str(), "the same document");
    assert_eq!(
        revised["documents"],
        json!([signed_name]),
        "its latest version is listed"
    );
    assert!(
        revised["uploadedDetails"]
            .as_str()
            .unwrap()
            .contains("version 2"),
        "{}",
        revised["uploadedDetails"]
    );
    assert!(
        revised["uploadedWho"]
            .as_str()
            .unwrap()
            .contains("Version 2"),
        "{}",
        revised["uploadedWho"]
    );
    let saved_again = out.path().join("statement-signed.pdf");
    let again = browse(&json!({
        "kind": "portal", "url": format!("{}/", firm.server.url), "login": "carla",
        "passwords": [PASSWORD], "matter": firm.matter, "save": signed_name,
        "viewport": "phone", "downloadTo": saved_again,
        "screenshots": artifacts(), "name": "portal-new-version-download",
    }));
    assert_eq!(again["end"], "done", "{}", messages(&again));
    assert_eq!(std::fs::read(&saved_again).unwrap(), signed);
}
