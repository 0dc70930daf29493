//! The portal's sharing screens in real headless Chromium against the real
//! server binary, the firm and its documents made by the real CLI: an
//! attorney grants a document to another member of the matter, who signs
//! in and downloads it byte for byte; the attorney makes a share link that
//! the link page opens, revokes it, and the link page then refuses it; the
//! attorney sees the document's access events, the member's download among
//! them. A member whose served key bundle is not bound in the log (or whose
//! binding is swapped for another's) is refused before any key is wrapped
//! to them.
//!
//! Needs what `tests/tests/browser.rs` needs (the built pages, `npm ci` in
//! `tests/browser`, Chromium). Screenshots at phone and desktop sizes are
//! kept in `target/browser-artifacts/sharing-*.png`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use lexvault_core::api::{self, IdentityInfo};
use lexvault_tests::browser::{Firm, artifacts, browse, document_bytes, messages};
use lexvault_tests::hostile::HostileRelay;
use serde_json::{Value, json};
use tempfile::TempDir;

const ATTORNEY_PASSWORD: &str = "attorney password";
const MEMBER_PASSWORD: &str = "Member password of Maya";

/// The requests the browser sent whose address contains `part`, with
/// `method`.
fn requests<'a>(report: &'a Value, method: &str, part: &str) -> Vec<&'a Value> {
    report["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["method"] == method && r["url"].as_str().unwrap().contains(part))
        .collect()
}

/// A firm whose attorney signs in with a password, a member who holds a
/// grant in the attorney's matter (a letter shared with her), and a
/// document not yet shared with anyone.
struct Scene {
    firm: Firm,
    member_key: String,
    draft: String,
    draft_bytes: Vec<u8>,
}

fn scene() -> Scene {
    let firm = Firm::new();
    let _ = firm.attorney.json(&["register", "--login", "ada"]);
    let (_member, member_key) = firm.client_with_login("Maya Member", "maya", MEMBER_PASSWORD);
    let _ = firm.put_shared("Engagement letter.pdf", b"the letter", &member_key);
    let draft_bytes = document_bytes(3 * 65_536 + 777, 11);
    let draft = firm.put("Settlement draft.pdf", &draft_bytes);
    Scene {
        firm,
        member_key,
        draft,
        draft_bytes,
    }
}

fn sharing(url: &str, matter: &str, steps: &Value, viewport: &str, name: &str) -> Value {
    browse(&json!({
        "kind": "sharing", "url": url, "login": "ada", "password": ATTORNEY_PASSWORD,
        "matter": matter, "steps": steps, "viewport": viewport,
        "screenshots": artifacts(), "name": name,
    }))
}

#[test]
fn an_attorney_shares_links_revokes_and_sees_the_access_events() {
    let Scene {
        firm,
        member_key,
        draft,
        draft_bytes,
    } = scene();
    let url = format!("{}/", firm.server.url);
    let doc = "Settlement draft.pdf";

    // Grant the draft to the member, and make a link to it.
    let report = sharing(
        &url,
        &firm.matter,
        &json!([
            { "do": "grant", "document": doc, "member": member_key, "rights": ["view", "download"] },
            { "do": "link", "document": doc, "days": 7, "maxOpens": 5 },
        ]),
        "phone",
        "sharing-phone",
    );
    let granted = &report["steps"][0];
    assert_eq!(granted["state"], "sharing", "{}", messages(&report));
    assert_eq!(
        granted["members"],
        json!([member_key]),
        "the matter's member"
    );
    assert_eq!(granted["done"], "Shared with Maya Member.");
    assert!(
        granted["grants"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["grantee"] == member_key && g["state"] == "active"),
        "{granted}"
    );
    // The binding was checked before the grant was sent, against the log
    // key and checkpoint pinned for the attorney.
    let order: Vec<String> = report["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("{} {}", r["method"].as_str().unwrap(), r["url"]))
        .collect();
    let checkpoint = order
        .iter()
        .position(|r| r.contains("/v1/log/checkpoint"))
        .expect("the log key was fetched to pin");
    let grant = order
        .iter()
        .position(|r| r.starts_with("POST") && r.contains("/grants"))
        .expect("the grant was sent");
    assert!(checkpoint < grant, "{order:#?}");
    let storage = report["storage"].as_object().unwrap();
    assert_eq!(storage.len(), 1, "only the pinned log state is kept");
    let (pin_key, pin) = storage.iter().next().unwrap();
    assert!(pin_key.starts_with("lexvault.log."), "{pin_key}");
    let pin: Value = serde_json::from_str(pin.as_str().unwrap()).unwrap();
    assert!(pin["logKey"].as_str().unwrap().starts_with("lexvault/"));
    assert!(pin["checkpoint"].as_str().unwrap().contains('\n'));

    let linked = &report["steps"][1];
    assert_eq!(linked["state"], "sharing", "{}", messages(&report));
    let link_url = linked["url"].as_str().unwrap().to_owned();
    assert!(
        link_url.starts_with(&format!("{}/l/", firm.server.url)),
        "{link_url}"
    );
    assert_eq!(linked["copied"], true);
    let (before, secret) = link_url.split_once('#').unwrap();
    let link_id = before.rsplit_once("/l/").unwrap().1.to_owned();
    let listed: Vec<&Value> = linked["links"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["id"] == link_id.as_str())
        .collect();
    assert_eq!(listed.len(), 1, "{linked}");
    assert_eq!(listed[0]["state"], "active");
    assert!(
        listed[0]["text"]
            .as_str()
            .unwrap()
            .contains("opened 0 of 5")
    );
    // The link's secret reached no server: not in a request, not in the log.
    for request in report["requests"].as_array().unwrap() {
        assert!(
            !request.to_string().contains(secret),
            "a request carried the link's secret"
        );
    }
    assert!(!firm.server_log().contains(secret));

    // The member signs in and downloads the draft.
    let out = TempDir::new().unwrap();
    let saved = out.path().join("member.pdf");
    let member = browse(&json!({
        "kind": "portal", "url": url, "login": "maya", "passwords": [MEMBER_PASSWORD],
        "matter": firm.matter, "save": doc, "viewport": "phone", "downloadTo": saved,
        "screenshots": artifacts(), "name": "sharing-member",
    }));
    assert_eq!(member["end"], "done", "{}", messages(&member));
    assert_eq!(std::fs::read(&saved).unwrap(), draft_bytes);
    assert_eq!(
        requests(
            &member,
            "GET",
            &format!("/v1/documents/{draft}/versions/1/payload")
        )
        .len(),
        1
    );

    // The link page opens the link.
    let by_link = out.path().join("link.pdf");
    let opened = browse(&json!({
        "kind": "link", "url": link_url, "viewport": "phone", "save": true,
        "downloadTo": by_link, "screenshots": artifacts(), "name": "sharing-link-open",
    }));
    assert_eq!(opened["end"], "done", "{}", messages(&opened));
    assert_eq!(std::fs::read(&by_link).unwrap(), draft_bytes);

    // At desktop size: revoke the link, then the access events.
    let report = sharing(
        &url,
        &firm.matter,
        &json!([
            { "do": "revoke-link", "document": doc, "link": link_id },
            { "do": "activity", "document": doc },
        ]),
        "desktop",
        "sharing-desktop",
    );
    let revoked = &report["steps"][0];
    assert_eq!(revoked["state"], "sharing", "{}", messages(&report));
    let link = revoked["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == link_id.as_str())
        .unwrap();
    assert_eq!(link["state"], "revoked", "{link}");
    assert_eq!(
        requests(&report, "DELETE", &format!("/v1/links/{link_id}")).len(),
        1
    );
    assert_eq!(requests(&report, "POST", "/revocations").len(), 1);

    let activity = &report["steps"][1];
    assert_eq!(activity["state"], "sharing", "{}", messages(&report));
    let events = activity["events"].as_array().unwrap();
    let downloaded: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"] == "downloaded" && e["actor"] == member_key.as_str())
        .collect();
    assert_eq!(downloaded.len(), 1, "{events:#?}");
    assert!(
        downloaded[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("Maya Member downloaded it"),
        "{downloaded:?}"
    );
    for kind in [
        "uploaded",
        "granted",
        "link-created",
        "link-opened",
        "link-revoked",
    ] {
        assert!(
            events.iter().any(|e| e["kind"] == kind),
            "no {kind} event: {events:#?}"
        );
    }
    // Only the draft's events: the letter's upload and grant are not here.
    assert_eq!(
        events.iter().filter(|e| e["kind"] == "uploaded").count(),
        1,
        "{events:#?}"
    );

    // The revoked link: the link page says so.
    let refused = browse(&json!({
        "kind": "link", "url": link_url, "viewport": "phone",
        "screenshots": artifacts(), "name": "sharing-link-revoked",
    }));
    assert_eq!(refused["state"], "problem", "{refused}");
    assert!(
        messages(&refused).contains("was revoked"),
        "{}",
        messages(&refused)
    );
}

/// Plays the attorney granting the draft to the member through a relay
/// that rewrites the member's served identity with `rewrite`; returns the
/// report and how many answers the relay changed.
fn grant_through(
    scene: &Scene,
    name: &str,
    rewrite: impl Fn(&mut IdentityInfo, Option<&IdentityInfo>) + Send + 'static,
) -> (Value, usize) {
    let relay = HostileRelay::start_for_browser(&scene.firm.server.url);
    let member = format!("/v1/identities/{}", scene.member_key);
    let mut other: Option<IdentityInfo> = None;
    relay.play(move |method, path, answer| {
        if method != "GET" || !path.starts_with("/v1/identities/") || answer.status != 200 {
            return false;
        }
        let Ok(mut info) = api::decode::<IdentityInfo>(&answer.body) else {
            return false;
        };
        if path != member {
            other = Some(info);
            return false;
        }
        rewrite(&mut info, other.as_ref());
        answer.body = api::encode(&info);
        true
    });
    let report = sharing(
        &format!("{}/", relay.url),
        &scene.firm.matter,
        &json!([{ "do": "grant", "document": "Settlement draft.pdf", "member": scene.member_key }]),
        "phone",
        name,
    );
    (report, relay.tampered())
}

#[test]
fn a_member_whose_keys_are_not_bound_in_the_log_gets_nothing() {
    let scene = scene();
    // A second member, whose binding the relay can swap in.
    let (_bea, bea_key) =
        scene
            .firm
            .client_with_login("Bea Member", "bea", "Member password of Bea");
    let _ = scene.firm.put_shared("Bea's brief.pdf", b"brief", &bea_key);

    for (name, needle, strip) in [
        (
            "sharing-unbound",
            "did not show that this key bundle is bound in the log",
            true,
        ),
        (
            "sharing-swapped",
            "served as this key bundle's registration does not bind it",
            false,
        ),
    ] {
        let (report, tampered) = grant_through(&scene, name, move |info, other| {
            if strip {
                info.bindings = None;
            } else {
                info.bindings = other.and_then(|o| o.bindings.clone());
            }
        });
        assert!(tampered > 0, "the relay changed the member's identity");
        let step = &report["steps"][0];
        assert_eq!(step["state"], "problem", "{step}");
        let problem = step["problem"].as_str().unwrap();
        assert!(problem.contains("cannot be trusted"), "{problem}");
        assert!(problem.contains(needle), "{problem}");
        assert!(
            requests(&report, "POST", "/grants").is_empty(),
            "no grant, and so no wrapped key, was sent"
        );
    }
    // The honest server, with the same pages: the same member is granted.
    let report = sharing(
        &format!("{}/", scene.firm.server.url),
        &scene.firm.matter,
        &json!([{ "do": "grant", "document": "Settlement draft.pdf", "member": scene.member_key }]),
        "phone",
        "sharing-honest",
    );
    assert_eq!(
        report["steps"][0]["done"],
        "Shared with Maya Member.",
        "{}",
        messages(&report)
    );
}
