//! The share-link page in real headless Chromium (Debian's `chromium`,
//! driven by npm's `playwright-core` from `tests/browser/driver.mjs`)
//! against the real server binary on loopback, with documents and links
//! made by the real CLI.
//!
//! Needs the built pages (`scripts/build-web`), `npm ci` in
//! `tests/browser`, and `/usr/bin/chromium`; `scripts/test` prepares all
//! three, and `.ci/run` installs Chromium. Screenshots at phone and desktop
//! sizes are kept in `target/browser-artifacts/`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use lexvault_tests::browser::{Firm, artifacts, browse, document_bytes, messages, web_dir};
use serde_json::{Value, json};
use tempfile::TempDir;

fn secret_of(url: &str) -> &str {
    url.split_once("#v1.").unwrap().1
}

#[test]
fn a_document_opens_through_its_link_and_saves_byte_for_byte() {
    let firm = Firm::new();
    let original = document_bytes(3 * 65_536 * 7 + 1_234, 1);
    let document = firm.put("Settlement draft.pdf", &original);
    let url = firm.link(&document, &[], None);
    let out = TempDir::new().unwrap();
    let saved = out.path().join("saved.pdf");
    let report = browse(&json!({
        "kind": "link", "url": url, "save": true, "viewport": "phone",
        "downloadTo": saved, "screenshots": artifacts(), "name": "link-phone",
    }));
    assert_eq!(report["first"], "start", "a click-through comes first");
    assert_eq!(report["fileName"], "Settlement draft.pdf");
    assert_eq!(report["suggestedName"], "Settlement draft.pdf");
    assert_eq!(report["end"], "done", "{}", messages(&report));
    assert_eq!(
        report["via"], "stream",
        "saved through the Service Worker stream"
    );
    assert_eq!(
        report["decryptedOn"], "workers",
        "two segments: decrypted on the page's workers"
    );
    assert_eq!(std::fs::read(&saved).unwrap(), original);
    assert_eq!(report["screenshots"].as_array().unwrap().len(), 3);

    // The same link at desktop size, for the screenshots, without saving.
    let desktop = browse(&json!({
        "kind": "link", "url": url, "save": false, "viewport": "desktop",
        "screenshots": artifacts(), "name": "link-desktop",
    }));
    assert_eq!(desktop["state"], "ready");

    // The secret never reached the server: not in any request the browser
    // sent (address, headers or body), nor in any line of the server's log.
    let secret = secret_of(&url);
    for report in [&report, &desktop] {
        let requests = report["requests"].as_array().unwrap();
        assert!(requests.len() >= 8, "the driver saw the page's requests");
        for request in requests {
            let text = request.to_string();
            assert!(
                !text.contains(secret),
                "a request carried the link secret: {text}"
            );
            assert!(
                !text.contains("#v1."),
                "a request carried the fragment: {text}"
            );
        }
        let headers: Vec<&Value> = requests.iter().map(|r| &r["headers"]).collect();
        // (The driver shows a suppressed Referer as an empty one.)
        assert!(
            headers
                .iter()
                .all(|h| h.get("referer").is_none_or(|r| r == "")),
            "no request carries a Referer"
        );
    }
    let log = firm.server_log();
    assert!(
        log.contains("/v1/links/"),
        "the server logged the link's requests"
    );
    assert!(
        !log.contains(secret),
        "the server's log holds the link secret"
    );

    // The pages are served with the policies that keep it so.
    let page = ureq::get(&format!("{}/l/{}", firm.server.url, "0".repeat(32)))
        .call()
        .unwrap();
    let header = |name: &str| {
        page.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("referrer-policy"), "no-referrer");
    let csp = header("content-security-policy");
    assert!(
        csp.contains("script-src 'self' 'wasm-unsafe-eval';"),
        "{csp}"
    );
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let html = std::fs::read_to_string(web_dir().join("link.html")).unwrap();
    assert!(
        !html.contains("<script>") && !html.contains("onclick"),
        "no inline script in the page"
    );
    drop(firm.data);
}

#[test]
fn a_passphrase_link_refuses_a_wrong_passphrase_then_opens() {
    let firm = Firm::new();
    let original = document_bytes(200_000, 2);
    let document = firm.put("Expert report.docx", &original);
    let url = firm.link(
        &document,
        &["--passphrase", "--max-downloads", "3"],
        Some("correct horse battery staple"),
    );
    let out = TempDir::new().unwrap();
    let saved = out.path().join("report.docx");
    let report = browse(&json!({
        "kind": "link", "url": url, "save": true, "viewport": "phone",
        "passphrases": ["Correct Horse", "correct horse battery staple"],
        "downloadTo": saved, "screenshots": artifacts(), "name": "passphrase",
    }));
    let first = report["messages"][0].as_str().unwrap_or_default();
    assert!(
        first.contains("passphrase is wrong"),
        "a wrong passphrase is refused with a clear message: {first}"
    );
    assert_eq!(report["state"], "ready", "{}", messages(&report));
    assert_eq!(report["end"], "done", "{}", messages(&report));
    assert_eq!(std::fs::read(&saved).unwrap(), original);
    assert_eq!(
        report["opensLeft"], "2 opens left",
        "a wrong passphrase opens nothing, so it uses up no open"
    );
}

#[test]
fn an_expired_link_shows_its_message() {
    let firm = Firm::new();
    let document = firm.put("Old draft.txt", b"superseded");
    let url = firm.link(&document, &["--expires", "2s"], None);
    std::thread::sleep(std::time::Duration::from_secs(3));
    let report = browse(&json!({
        "kind": "link", "url": url, "save": true, "viewport": "phone",
        "screenshots": artifacts(), "name": "expired",
    }));
    assert_eq!(report["state"], "problem");
    assert!(
        messages(&report).contains("has expired, was revoked or used up"),
        "{}",
        messages(&report)
    );
    // A damaged link is caught in the page, before anything is fetched.
    let damaged = &url[..url.len() - 3];
    let report = browse(&json!({
        "kind": "link", "url": damaged, "viewport": "phone", "name": "damaged",
    }));
    assert_eq!(report["first"], "problem");
    assert!(messages(&report).contains("incomplete or damaged"));
    let api_calls = report["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["url"].as_str().unwrap().contains("/v1/"))
        .count();
    assert_eq!(api_calls, 0, "a damaged link asks the server nothing");
}

#[test]
fn a_claim_once_link_stays_with_the_first_browser() {
    let firm = Firm::new();
    let document = firm.put("Engagement letter.pdf", &document_bytes(70_000, 3));
    let url = firm.link(&document, &["--claim-once"], None);
    let first = browse(&json!({
        "kind": "link", "url": url, "save": false, "viewport": "phone", "name": "claim-first",
    }));
    assert_eq!(first["state"], "ready", "{}", messages(&first));
    // Another browser (a fresh profile) holding the forwarded link.
    let forwarded = browse(&json!({
        "kind": "link", "url": url, "save": false, "viewport": "phone", "name": "claim-forwarded",
    }));
    assert_eq!(forwarded["state"], "problem");
    assert!(messages(&forwarded).contains("has expired, was revoked or used up"));
}

/// Saves a document of `size` bytes through its link after one bit of its
/// stored payload, in the middle, was flipped: the page must refuse it
/// with `message` and the browser must keep no file.
fn a_tampered_payload_is_refused(size: usize, message: &str, name: &str) {
    let firm = Firm::new();
    let original = document_bytes(size, 4);
    let document = firm.put("Ledger.xlsx", &original);
    let url = firm.link(&document, &[], None);
    firm.flip_a_payload_bit();
    let out = TempDir::new().unwrap();
    let saved = out.path().join("ledger.xlsx");
    let report = browse(&json!({
        "kind": "link", "url": url, "save": true, "viewport": "phone",
        "downloadTo": saved, "screenshots": artifacts(), "name": name,
    }));
    assert_eq!(report["end"], "problem");
    let shown = messages(&report);
    assert!(
        shown.contains("did not verify and was not saved") && shown.contains(message),
        "{shown}"
    );
    assert!(
        report.get("downloadFailure").is_some_and(|f| !f.is_null()) || !saved.exists(),
        "the browser did not keep the file"
    );
}

#[test]
fn a_tampered_payload_is_not_saved() {
    // One segment: decrypted on the page's own thread.
    a_tampered_payload_is_refused(5 * 65_536 + 17, "the payload does not decrypt", "tampered");
}

#[test]
fn a_tampered_payload_decrypted_on_the_workers_is_not_saved() {
    // Three segments; the flipped bit is in the second, which a worker
    // refuses.
    a_tampered_payload_is_refused(
        3 << 20,
        "segment 1 does not authenticate",
        "tampered-workers",
    );
}
