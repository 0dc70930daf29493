//! A document's life on a real server: upload with a share, verified
//! download, uniform refusals for everyone else, revocation, resumed
//! downloads and the event record.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::{Cursor, Write as _};

use lexvault_client::client::ClientError;
use lexvault_client::vault::{Share, decrypt_payload};
use lexvault_core::grant::{Rights, Scope, Validity};
use lexvault_core::membership::Role;
use lexvault_tests::Firm;

fn plaintext(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

fn download(
    vault: &lexvault_client::vault::Vault,
    id: &lexvault_core::manifest::DocumentId,
) -> Result<(Vec<u8>, String), ClientError> {
    let opened = vault.open_latest(id)?;
    let mut payload = tempfile::tempfile()?;
    vault.fetch_payload(&opened, &mut payload, &mut |_| {})?;
    let mut out = Vec::new();
    decrypt_payload(&opened, &payload, &mut out)?;
    Ok((out, opened.metadata.file_name().to_owned()))
}

#[test]
fn share_download_refuse_revoke_and_record() {
    let firm = Firm::new();
    let attorney = firm.member("Ada Attorney", Role::Attorney);
    let client = firm.person("Carla Client");
    let relative = firm.person("Rory Relative");

    let matter = attorney.create_matter().unwrap();
    let text = plaintext(200_000);
    let share = Share {
        with: client.identity().public(),
        rights: Rights::VIEW | Rights::DOWNLOAD,
        validity: Validity::starting(0),
    };
    let (doc, version) = attorney
        .put(
            matter.id(),
            None,
            "draft settlement.pdf",
            "application/pdf",
            || Ok(Cursor::new(text.clone())),
            &[share],
            &mut |_| {},
        )
        .unwrap();
    assert_eq!(version.get(), 1);

    // The attorney and the client both open the same verified bytes.
    assert_eq!(
        download(&attorney, &doc).unwrap(),
        (text.clone(), "draft settlement.pdf".to_owned())
    );
    assert_eq!(download(&client, &doc).unwrap().0, text);
    assert_eq!(client.matters().unwrap().len(), 1);

    // The relative learns nothing: the same not-found as for a random id.
    let err = relative.open_latest(&doc).unwrap_err();
    assert_eq!(err.code(), Some("not-found"), "{err}");
    let unknown = lexvault_core::manifest::DocumentId::from_bytes([7; 16]);
    assert_eq!(
        relative.open_latest(&unknown).unwrap_err().code(),
        Some("not-found")
    );
    assert!(relative.matters().unwrap().is_empty());
    assert_eq!(
        relative.grants(matter.id()).unwrap_err().code(),
        Some("not-found")
    );

    // Staff certification is required to create matters.
    assert_eq!(
        client.create_matter().unwrap_err().code(),
        Some("not-a-member")
    );

    // A new version reaches the client automatically; resuming works.
    let text2 = plaintext(70_000);
    let (_, v2) = attorney
        .put(
            matter.id(),
            Some(doc),
            "draft settlement v2.pdf",
            "application/pdf",
            || Ok(Cursor::new(text2.clone())),
            &[],
            &mut |_| {},
        )
        .unwrap();
    assert_eq!(v2.get(), 2);
    let opened = client.open_latest(&doc).unwrap();
    let mut payload = tempfile::tempfile().unwrap();
    // Pretend an earlier attempt stopped after 1000 bytes of the payload.
    {
        let mut full = tempfile::tempfile().unwrap();
        client
            .fetch_payload(&opened, &mut full, &mut |_| {})
            .unwrap();
        let mut head = vec![0u8; 1000];
        std::io::Read::read_exact(&mut full, &mut head).unwrap();
        payload.write_all(&head).unwrap();
    }
    client
        .fetch_payload(&opened, &mut payload, &mut |_| {})
        .unwrap();
    let mut out = Vec::new();
    decrypt_payload(&opened, &payload, &mut out).unwrap();
    assert_eq!(out, text2);

    // Revocation takes effect on the next request.
    let (_, grants, _) = attorney.grants(matter.id()).unwrap();
    let to_client = grants
        .iter()
        .find(|g| g.record().grantee().signing == client.identity().public().signing)
        .unwrap();
    attorney.revoke(matter.id(), &to_client.digest()).unwrap();
    assert_eq!(
        client.open_latest(&doc).unwrap_err().code(),
        Some("not-found")
    );

    // A later grant over the whole matter opens it again.
    attorney
        .grant(
            matter.id(),
            Scope::Matter,
            &client.identity().public(),
            Rights::VIEW,
            Validity::starting(0),
        )
        .unwrap();
    assert!(client.open_latest(&doc).is_ok());

    // Every step is an event with its actor and its signed request.
    let events = attorney.events(matter.id()).unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    for kind in [
        "matter-created",
        "uploaded",
        "viewed",
        "downloaded",
        "revoked",
        "granted",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    let client_key = client.identity().public().signing.to_bytes();
    assert!(
        events
            .iter()
            .any(|e| e.kind == "downloaded" && *e.actor == client_key)
    );
    assert!(
        !events
            .iter()
            .any(|e| *e.actor == relative.identity().public().signing.to_bytes())
    );
    // Clients may not read the matter's log.
    assert_eq!(
        client.events(matter.id()).unwrap_err().code(),
        Some("not-allowed")
    );
}

/// A partner who is not the matter's creator, holding the upload right
/// through a grant, uploads a document: a member, a share link and the
/// listing all accept it, also after the partner's grant is revoked, since
/// the revocation comes after the upload.
#[test]
fn a_grantee_with_the_upload_right_uploads_and_others_open_it() {
    use lexvault_client::links::{LinkOpener, LinkTerms, create_link};
    use lexvault_client::vault::Vault;

    let firm = Firm::new();
    let attorney = firm.member("Ada Attorney", Role::Attorney);
    let partner = firm.person("Pat Partner");
    let reader = firm.person("Rita Reader");
    let matter = attorney.create_matter().unwrap();
    let to_partner = attorney
        .grant(
            matter.id(),
            Scope::Matter,
            &partner.identity().public(),
            Rights::VIEW | Rights::DOWNLOAD | Rights::UPLOAD | Rights::SHARE,
            Validity::starting(0),
        )
        .unwrap();
    // The reader's own access comes from the creator, not from the partner.
    attorney
        .grant(
            matter.id(),
            Scope::Matter,
            &reader.identity().public(),
            Rights::VIEW | Rights::DOWNLOAD,
            Validity::starting(0),
        )
        .unwrap();

    let text = plaintext(90_000);
    let (doc, _) = partner
        .put(
            matter.id(),
            None,
            "partner memo.pdf",
            "application/pdf",
            || Ok(Cursor::new(text.clone())),
            &[Share {
                with: reader.identity().public(),
                rights: Rights::VIEW | Rights::DOWNLOAD,
                validity: Validity::starting(0),
            }],
            &mut |_| {},
        )
        .unwrap();

    let opens = |who: &Vault| {
        assert_eq!(
            download(who, &doc).unwrap(),
            (text.clone(), "partner memo.pdf".to_owned())
        );
        let listed = who.documents(matter.id()).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].metadata.file_name(), "partner memo.pdf");
    };
    opens(&reader);
    opens(&partner);

    // A share link the partner makes opens it too.
    let link = create_link(
        &partner,
        matter.id(),
        &doc,
        &LinkTerms {
            expires_at: lexvault_client::client::now() + 3600,
            max_opens: None,
            passphrase: None,
            claim_once: false,
        },
    )
    .unwrap();
    let anonymous = firm.server.client();
    let opener = LinkOpener::new(&anonymous, link.id, &link.fragment, None, None).unwrap();
    let opened = opener.open().unwrap();
    let mut scratch = tempfile::tempfile().unwrap();
    let mut out = Vec::new();
    opener.download(&opened, &mut scratch, &mut out).unwrap();
    assert_eq!(out, text);

    // Revoked a second later (revocations take effect from their time, in
    // whole seconds): the upload made before it still stands.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    attorney.revoke(matter.id(), &to_partner.digest()).unwrap();
    opens(&reader);
    // The partner may no longer upload.
    let refused = partner
        .put(
            matter.id(),
            Some(doc),
            "partner memo v2.pdf",
            "application/pdf",
            || Ok(Cursor::new(text.clone())),
            &[],
            &mut |_| {},
        )
        .unwrap_err();
    assert_eq!(refused.code(), Some("not-found"), "{refused}");
}

/// Clients judge an uploader's authority at the manifest's creation time,
/// so the server refuses a version whose manifest claims a time the
/// uploader's grant does not cover, and accepts the same upload made now.
#[test]
fn an_upload_made_outside_the_uploaders_window_is_refused() {
    use lexvault_client::client::now;
    use lexvault_core::api::MatterList;
    use lexvault_tests::hand_upload::HandUpload;

    let firm = Firm::new();
    let attorney = firm.member("Ada Attorney", Role::Attorney);
    let partner = firm.person("Pat Partner");
    let matter = attorney.create_matter().unwrap();
    attorney
        .grant(
            matter.id(),
            Scope::Matter,
            &partner.identity().public(),
            Rights::VIEW | Rights::DOWNLOAD | Rights::UPLOAD,
            Validity::starting(now()),
        )
        .unwrap();
    let send = |u: &HandUpload| {
        partner.client().upload::<MatterList>(
            partner.identity().signing_key(),
            &u.path,
            &u.envelope,
            Cursor::new(u.payload.clone()),
            u.payload.len() as u64,
        )
    };
    let text = plaintext(10_000);
    let backdated = HandUpload::made_at(partner.identity(), matter.id(), &text, now() - 3600);
    let refused = send(&backdated).unwrap_err();
    assert_eq!(refused.code(), Some("not-allowed"), "{refused}");

    let made_now = HandUpload::new(partner.identity(), matter.id(), &text);
    send(&made_now).unwrap();
    let opened = partner.open_latest(&made_now.document).unwrap();
    assert_eq!(opened.metadata.file_name(), "hand made.pdf");
}
