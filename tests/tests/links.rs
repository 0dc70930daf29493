//! Share links on a real server: open and download, passphrases and
//! lockout, open limits, expiry, revocation, claim-once, uniform refusals,
//! the event record, and a database that never holds the link secret.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::Cursor;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lexvault_client::client::{Client, now, os_rng};
use lexvault_client::links::{
    CreatedLink, LinkClientError, LinkId, LinkOpener, LinkResult, LinkTerms, OpenedLinkVersion,
    create_link, list_links, parse_link_url, revoke_link,
};
use lexvault_client::vault::Vault;
use lexvault_core::api::LinkInfo;
use lexvault_core::grant::{Rights, Scope, Validity};
use lexvault_core::keys::{EncryptionSecretKey, Identity, SigningSecretKey};
use lexvault_core::link::LinkSecret;
use lexvault_core::manifest::DocumentId;
use lexvault_core::matter::VerifiedMatter;
use lexvault_core::membership::Role;
use lexvault_core::secret::SecretString;
use lexvault_tests::Firm;

fn plaintext(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 37 % 253) as u8).collect()
}

/// A matter with one document of `text`, made by `owner`.
fn document(owner: &Vault, text: &[u8]) -> (VerifiedMatter, DocumentId) {
    let matter = owner.create_matter().unwrap();
    let (doc, _) = owner
        .put(
            matter.id(),
            None,
            "settlement.pdf",
            "application/pdf",
            || Ok(Cursor::new(text.to_vec())),
            &[],
            &mut |_| {},
        )
        .unwrap();
    (matter, doc)
}

fn terms(expires_in: u64) -> LinkTerms<'static> {
    LinkTerms {
        expires_at: now() + expires_in,
        max_opens: None,
        passphrase: None,
        claim_once: false,
    }
}

/// Opens `link` as an anonymous recipient and downloads its plaintext.
fn open_and_download(
    client: &Client,
    link: &CreatedLink,
    passphrase: Option<&SecretString>,
    claim: Option<&SigningSecretKey>,
) -> LinkResult<(Vec<u8>, OpenedLinkVersion)> {
    let opener = LinkOpener::new(client, link.id, &link.fragment, passphrase, claim)?;
    let opened = opener.open()?;
    let mut scratch = tempfile::tempfile()?;
    let mut out = Vec::new();
    opener.download(&opened, &mut scratch, &mut out)?;
    Ok((out, opened))
}

/// The link's keys as an ordinary identity, as someone holding the URL
/// could make them.
fn link_identity(link: &CreatedLink) -> Identity {
    let keys = LinkSecret::from_fragment(link.fragment.expose_secret())
        .unwrap()
        .derive_keys();
    Identity::from_keys(
        SigningSecretKey::from_seed(&keys.signing_key().to_seed()),
        EncryptionSecretKey::from_secret_bytes(&keys.encryption_key().to_secret_bytes()),
    )
}

fn is_unavailable<T: std::fmt::Debug>(r: LinkResult<T>) -> bool {
    matches!(r, Err(LinkClientError::Unavailable))
}

/// The raw refusal the unauthenticated info call gets.
fn info_refusal(client: &Client, id: &LinkId) -> (Option<u16>, Option<String>, String) {
    let err = client
        .get_unsigned::<LinkInfo>(&format!("/v1/links/{}", id.to_hex()))
        .unwrap_err();
    (err.status(), err.code().map(str::to_owned), err.to_string())
}

#[test]
fn link_opens_downloads_and_is_recorded_without_the_secret() {
    let firm = Firm::new();
    let attorney = firm.member("Ada Attorney", Role::Attorney);
    let text = plaintext(150_000);
    let (matter, doc) = document(&attorney, &text);

    let link = create_link(&attorney, matter.id(), &doc, &terms(3600)).unwrap();
    assert!(!link.status.revoked && link.status.opens == 0);
    let url = link.url("https://portal.example");
    let (id, fragment) = parse_link_url(url.expose_secret()).unwrap();
    assert_eq!(id, link.id);
    assert_eq!(fragment.expose_secret(), link.fragment.expose_secret());

    // An anonymous recipient, with nothing but the URL.
    let stranger = firm.server.client();
    let (out, opened) = open_and_download(&stranger, &link, None, None).unwrap();
    assert_eq!(out, text);
    assert_eq!(opened.version.metadata.file_name(), "settlement.pdf");
    assert_eq!(opened.version.document_id(), doc);
    assert_eq!(opened.opens_left, None);
    // The ticket also serves a second download without another open.
    let opener = LinkOpener::new(&stranger, link.id, &link.fragment, None, None).unwrap();
    let again = opener.open().unwrap();
    let mut scratch = tempfile::tempfile().unwrap();
    let mut out = Vec::new();
    opener.download(&again, &mut scratch, &mut out).unwrap();
    let mut fresh = tempfile::tempfile().unwrap();
    let mut out2 = Vec::new();
    opener.download(&again, &mut fresh, &mut out2).unwrap();
    assert_eq!(
        (out.as_slice(), out2.as_slice()),
        (text.as_slice(), text.as_slice())
    );
    let listed = list_links(&attorney, matter.id()).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].opens, 2);

    // A download cut short resumes with a Range request on the ticket.
    let mut partial = tempfile::tempfile().unwrap();
    {
        let mut head = vec![0u8; 4096];
        std::io::Seek::rewind(&mut scratch).unwrap();
        std::io::Read::read_exact(&mut scratch, &mut head).unwrap();
        std::io::Write::write_all(&mut partial, &head).unwrap();
    }
    let mut resumed = Vec::new();
    opener.download(&again, &mut partial, &mut resumed).unwrap();
    assert_eq!(resumed, text);

    // The link's key gets nothing through the ordinary document routes,
    // not even after a new version (whose key the uploader wraps to every
    // grantee in force, the link included): only the link's own gated
    // routes serve it, with their expiry, limits, lockout and claim.
    let keys_holder = opener.public();
    assert_eq!(link_identity(&link).public(), keys_holder);
    let as_link = Vault::new(firm.server.client(), link_identity(&link));
    let err = as_link.open_latest(&doc).unwrap_err();
    assert_eq!(err.code(), Some("not-found"), "{err}");
    attorney
        .put(
            matter.id(),
            Some(doc),
            "settlement v2.pdf",
            "application/pdf",
            || Ok(Cursor::new(plaintext(5_000))),
            &[],
            &mut |_| {},
        )
        .unwrap();
    let err = as_link.open_latest(&doc).unwrap_err();
    assert_eq!(err.code(), Some("not-found"), "{err}");
    assert!(as_link.matters().unwrap().is_empty());

    // A damaged fragment is refused before anything is sent.
    let damaged = SecretString::new(format!("{}=", link.fragment.expose_secret()));
    assert!(matches!(
        LinkOpener::new(&stranger, link.id, &damaged, None, None),
        Err(LinkClientError::Fragment(_))
    ));

    // Every step is an event; opens and downloads name the link's key.
    let link_key = opener.public().signing.to_bytes();
    let events = attorney.events(matter.id()).unwrap();
    let actor_of = |kind: &str| {
        events
            .iter()
            .filter(|e| e.kind == kind)
            .map(|e| *e.actor)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        actor_of("link-created"),
        vec![attorney.identity().public().signing.to_bytes()]
    );
    assert_eq!(actor_of("link-opened"), vec![link_key, link_key]);
    assert_eq!(actor_of("link-downloaded").len(), 4);
    assert!(actor_of("link-downloaded").iter().all(|k| *k == link_key));

    // An unknown link looks exactly like a dead one.
    let unknown = LinkId::from_bytes([9; 16]);
    let refusal = info_refusal(&stranger, &unknown);
    assert_eq!(refusal.0, Some(404));
    assert_eq!(refusal.1.as_deref(), Some("link-unavailable"));
    assert!(is_unavailable(LinkOpener::new(
        &stranger,
        unknown,
        &link.fragment,
        None,
        None
    )));
    revoke_link(&attorney, matter.id(), &link.id, None).unwrap();
    assert_eq!(info_refusal(&stranger, &link.id), refusal);

    // The server's files never held the link secret, in any encoding.
    let encoded = link.fragment.expose_secret().strip_prefix("v1.").unwrap();
    let raw = URL_SAFE_NO_PAD.decode(encoded).unwrap();
    assert_eq!(raw.len(), 32);
    drop(firm.admin);
    let data = firm.server.stop();
    let mut scanned = 0;
    for entry in std::fs::read_dir(data.path()).unwrap() {
        let path = entry.unwrap().path();
        if !path.is_file() {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        scanned += 1;
        assert!(
            !lexvault_tests::contains_bytes(&bytes, &raw),
            "{path:?} holds the secret"
        );
        assert!(
            !lexvault_tests::contains_bytes(&bytes, encoded.as_bytes()),
            "{path:?} holds the fragment"
        );
    }
    assert!(scanned >= 1);
}

#[test]
fn passphrase_is_needed_and_guessing_locks_the_link() {
    let firm = Firm::new();
    let attorney = firm.member("Ada Attorney", Role::Attorney);
    let text = plaintext(5_000);
    let (matter, doc) = document(&attorney, &text);
    let right = SecretString::new("correct horse battery staple".into());
    let wrong = SecretString::new("correct horse battery stable".into());
    let link = create_link(
        &attorney,
        matter.id(),
        &doc,
        &LinkTerms {
            passphrase: Some(&right),
            ..terms(3600)
        },
    )
    .unwrap();
    let recipient = firm.server.client();

    assert!(matches!(
        LinkOpener::new(&recipient, link.id, &link.fragment, None, None),
        Err(LinkClientError::PassphraseRequired)
    ));
    assert!(is_unavailable(open_and_download(
        &recipient,
        &link,
        Some(&wrong),
        None
    )));
    assert_eq!(
        open_and_download(&recipient, &link, Some(&right), None)
            .unwrap()
            .0,
        text
    );
    // Four more wrong guesses make five: the link locks for good.
    for _ in 0..4 {
        assert!(is_unavailable(open_and_download(
            &recipient,
            &link,
            Some(&wrong),
            None
        )));
    }
    assert!(is_unavailable(open_and_download(
        &recipient,
        &link,
        Some(&right),
        None
    )));
    let status = &list_links(&attorney, matter.id()).unwrap()[0];
    assert!(status.locked && status.passphrase);
    assert_eq!(status.opens, 1);
}

#[test]
fn open_limit_and_expiry_are_enforced() {
    let firm = Firm::new();
    let attorney = firm.member("Ada Attorney", Role::Attorney);
    let text = plaintext(20_000);
    let (matter, doc) = document(&attorney, &text);
    let recipient = firm.server.client();

    let twice = create_link(
        &attorney,
        matter.id(),
        &doc,
        &LinkTerms {
            max_opens: Some(2),
            ..terms(3600)
        },
    )
    .unwrap();
    let (_, first) = open_and_download(&recipient, &twice, None, None).unwrap();
    assert_eq!(first.opens_left, Some(1));
    let (_, second) = open_and_download(&recipient, &twice, None, None).unwrap();
    assert_eq!(second.opens_left, Some(0));
    assert!(is_unavailable(open_and_download(
        &recipient, &twice, None, None
    )));

    // Expiry in the past, or too far ahead, is refused at creation.
    let past = create_link(
        &attorney,
        matter.id(),
        &doc,
        &LinkTerms {
            expires_at: now().saturating_sub(10),
            ..terms(0)
        },
    );
    assert!(past.is_err());
    let far = create_link(&attorney, matter.id(), &doc, &terms(91 * 24 * 3600)).unwrap_err();
    assert!(
        matches!(&far, LinkClientError::Client(e) if e.code() == Some("invalid-link")),
        "{far}"
    );

    // A link that expires shortly: opens now, opens and downloads nothing
    // after, with the same answer as an unknown link.
    let brief = create_link(&attorney, matter.id(), &doc, &terms(2)).unwrap();
    let opener = LinkOpener::new(&recipient, brief.id, &brief.fragment, None, None).unwrap();
    let opened = opener.open().unwrap();
    let expired_at = brief.status.expires_at;
    while now() <= expired_at {
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    assert!(is_unavailable(opener.open()));
    let mut scratch = tempfile::tempfile().unwrap();
    assert!(is_unavailable(opener.download(
        &opened,
        &mut scratch,
        &mut Vec::new()
    )));
    assert_eq!(
        info_refusal(&recipient, &brief.id),
        info_refusal(&recipient, &LinkId::from_bytes([1; 16]))
    );
}

#[test]
fn revocation_stops_links_on_the_next_request() {
    let firm = Firm::new();
    let attorney = firm.member("Ada Attorney", Role::Attorney);
    let paralegal = firm.member("Pat Paralegal", Role::Paralegal);
    let outsider = firm.person("Oscar Outsider");
    let text = plaintext(40_000);
    let (matter, doc) = document(&attorney, &text);
    // The paralegal may share the matter: their links rest on that grant.
    let authority = attorney
        .grant(
            matter.id(),
            Scope::Matter,
            &paralegal.identity().public(),
            Rights::VIEW | Rights::DOWNLOAD | Rights::SHARE,
            Validity::starting(0),
        )
        .unwrap();
    let current = attorney.open_latest(&doc).unwrap();
    attorney
        .add_stanzas(&current, &[paralegal.identity().public()])
        .unwrap();
    let recipient = firm.server.client();

    let link = create_link(&paralegal, matter.id(), &doc, &terms(3600)).unwrap();
    assert!(link.grant.record().parent().is_some());
    let opener = LinkOpener::new(&recipient, link.id, &link.fragment, None, None).unwrap();
    let opened = opener.open().unwrap();

    // Only the link's creator or the matter's creator may revoke it.
    let err = revoke_link(&outsider, matter.id(), &link.id, None).unwrap_err();
    assert!(matches!(&err, LinkClientError::Client(e) if e.code() == Some("not-found")));
    revoke_link(
        &paralegal,
        matter.id(),
        &link.id,
        Some(&link.grant.digest()),
    )
    .unwrap();
    assert!(is_unavailable(opener.open()));
    let mut scratch = tempfile::tempfile().unwrap();
    assert!(is_unavailable(opener.download(
        &opened,
        &mut scratch,
        &mut Vec::new()
    )));
    let status = &list_links(&attorney, matter.id()).unwrap()[0];
    assert!(status.revoked);
    let (_, _, revocations) = attorney.grants(matter.id()).unwrap();
    assert!(
        revocations
            .iter()
            .any(|r| *r.record().revoked() == link.grant.digest())
    );

    // Revoking the sharer's own authority stops their links too.
    let second = create_link(&paralegal, matter.id(), &doc, &terms(3600)).unwrap();
    assert!(open_and_download(&recipient, &second, None, None).is_ok());
    attorney.revoke(matter.id(), &authority.digest()).unwrap();
    assert!(is_unavailable(open_and_download(
        &recipient, &second, None, None
    )));

    // Someone without the share right cannot make a link.
    assert!(create_link(&outsider, matter.id(), &doc, &terms(3600)).is_err());
    let events = attorney.events(matter.id()).unwrap();
    assert!(events.iter().any(|e| e.kind == "link-revoked"));
}

#[test]
fn claim_once_links_open_only_for_the_claimer() {
    let firm = Firm::new();
    let attorney = firm.member("Ada Attorney", Role::Attorney);
    let text = plaintext(10_000);
    let (matter, doc) = document(&attorney, &text);
    let link = create_link(
        &attorney,
        matter.id(),
        &doc,
        &LinkTerms {
            claim_once: true,
            ..terms(3600)
        },
    )
    .unwrap();

    let claimer_client = firm.server.client();
    let claim = SigningSecretKey::generate(&mut os_rng());
    let (out, _) = open_and_download(&claimer_client, &link, None, Some(&claim)).unwrap();
    assert_eq!(out, text);

    // A forwarded URL opens nothing, with or without a key of its own.
    let forwarded = firm.server.client();
    assert!(is_unavailable(open_and_download(
        &forwarded, &link, None, None
    )));
    let other_claim = SigningSecretKey::generate(&mut os_rng());
    assert!(is_unavailable(open_and_download(
        &forwarded,
        &link,
        None,
        Some(&other_claim)
    )));

    // The claimer reopens with their key.
    let (out, _) = open_and_download(&claimer_client, &link, None, Some(&claim)).unwrap();
    assert_eq!(out, text);
    let status = &list_links(&attorney, matter.id()).unwrap()[0];
    assert!(status.claim_once && status.claimed && !status.locked);
    assert_eq!(status.opens, 2);
    let claim_key = claim.public_key().to_bytes();
    let events = attorney.events(matter.id()).unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.kind == "link-downloaded" && *e.actor == claim_key)
    );

    // Without a claim key, a claim-once link is not opened at all.
    let unclaimed = create_link(
        &attorney,
        matter.id(),
        &doc,
        &LinkTerms {
            claim_once: true,
            ..terms(3600)
        },
    )
    .unwrap();
    assert!(is_unavailable(open_and_download(
        &forwarded, &unclaimed, None, None
    )));
    assert!(open_and_download(&forwarded, &unclaimed, None, Some(&other_claim)).is_ok());
}
