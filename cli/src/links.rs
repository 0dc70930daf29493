//! Share links: creating, listing, revoking and opening them (spec:
//! `spec/links.md`).
//!
//! A sharer makes a link with [`create_link`]: a fresh link secret, the
//! keys derived from it (mixed with a passphrase if one is set), the
//! document's current file key wrapped to the link's X25519 key, and a
//! grant to the link's identity that ends when the link expires. Only the
//! public keys, the grant and the stanza reach the server; the secret
//! travels in the URL fragment `/l/<link id>#v1.<secret>`.
//!
//! A recipient without a lexvault identity opens it with [`LinkOpener`],
//! which verifies everything the server serves exactly as a party's
//! [`Vault`] does — the matter record, the grant chain from the link's
//! grant to the matter's creator, the wrapped-key binding, the manifest,
//! the key commitment and the metadata — before a byte is decrypted.

use std::io::Write;

use lexvault_core::api::{LinkInfo, LinkList, LinkStatus, OpenLink, OpenedLink};
use lexvault_core::grant::{Grant, Scope, VerifiedGrant};
use lexvault_core::keys::{PublicIdentity, SigningSecretKey};
use lexvault_core::link::{LinkError, LinkKeys, LinkSecret};
use lexvault_core::manifest::DocumentId;
use lexvault_core::matter::MatterId;
use lexvault_core::opening;
use lexvault_core::secret::SecretString;
use lexvault_core::sharing::{self, Records, ShareError};
use lexvault_core::signed::{RecordDigest, Signed};
use rand_core::Rng as _;

use crate::client::{Client, ClientError, now, os_rng};
use crate::vault::{OpenedVersion, Vault, decrypt_payload, fetch_into, hex_id, opened, shared};

pub use lexvault_core::sharing::{LINK_RIGHTS, LinkTerms};

/// The server's code for every refusal to a link holder.
const UNAVAILABLE_CODE: &str = "link-unavailable";

/// Why a share-link operation failed. Never carries the link secret or the
/// passphrase.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkClientError {
    /// The link is unknown, expired, revoked, used up, locked after failed
    /// attempts, claimed by someone else, or the passphrase is wrong: the
    /// server does not say which.
    #[error(
        "this link has expired, was revoked or used up, or does not exist (or the passphrase is \
         wrong); check the passphrase, or ask whoever sent it for a new link"
    )]
    Unavailable,
    /// The text after `#` is not a link secret.
    #[error(
        "the link is incomplete or damaged ({0}); copy the whole link, including the part after '#'"
    )]
    Fragment(LinkError),
    /// The link needs a passphrase and none was given.
    #[error("this link needs a passphrase; ask whoever sent it to tell you")]
    PassphraseRequired,
    /// The passphrase could not be used.
    #[error("the passphrase cannot be used: {0}")]
    Passphrase(LinkError),
    /// The link id is not 32 lower-case hex digits.
    #[error("the link id is malformed; copy the whole link")]
    MalformedId,
    /// Anything else: the server refused, could not be reached, or served
    /// records that do not verify.
    #[error(transparent)]
    Client(ClientError),
}

impl From<ClientError> for LinkClientError {
    fn from(e: ClientError) -> Self {
        if e.code() == Some(UNAVAILABLE_CODE) {
            Self::Unavailable
        } else {
            Self::Client(e)
        }
    }
}

impl From<std::io::Error> for LinkClientError {
    fn from(e: std::io::Error) -> Self {
        Self::Client(ClientError::Io(e))
    }
}

/// A shorthand for share-link results.
pub type LinkResult<T> = Result<T, LinkClientError>;

/// A link's public id: the part of its URL the server sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinkId([u8; 16]);

impl LinkId {
    /// A fresh random id.
    #[must_use]
    pub fn generate() -> Self {
        let mut bytes = [0u8; 16];
        os_rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// The id from its bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// Parses 32 lower-case hex digits.
    ///
    /// # Errors
    /// [`LinkClientError::MalformedId`] for anything else.
    pub fn parse(text: &str) -> LinkResult<Self> {
        if text.len() != 32 || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(LinkClientError::MalformedId);
        }
        let mut bytes = [0u8; 16];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| LinkClientError::MalformedId)?;
        Ok(Self(bytes))
    }

    /// The id's bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The id as 32 lower-case hex digits.
    #[must_use]
    pub fn to_hex(&self) -> String {
        hex_id(&self.0)
    }

    /// The page path of the link, without the fragment: `/l/<id>`.
    #[must_use]
    pub fn page_path(&self) -> String {
        format!("/l/{}", self.to_hex())
    }

    fn api_path(&self, rest: &str) -> String {
        format!("/v1/links/{}{rest}", self.to_hex())
    }
}

/// Splits a share link `…/l/<id>#v1.<secret>` into its id and fragment.
///
/// # Errors
/// [`LinkClientError::MalformedId`] if the URL has no `/l/<id>` path, or
/// [`LinkClientError::Fragment`] if it has no fragment.
pub fn parse_link_url(url: &str) -> LinkResult<(LinkId, SecretString)> {
    let (before, fragment) = url
        .split_once('#')
        .ok_or(LinkClientError::Fragment(LinkError::MalformedFragment))?;
    let (_, id) = before
        .rsplit_once("/l/")
        .ok_or(LinkClientError::MalformedId)?;
    Ok((LinkId::parse(id)?, SecretString::new(fragment.to_owned())))
}

/// A link just made.
pub struct CreatedLink {
    /// Its id.
    pub id: LinkId,
    /// The fragment to put after `#`: the link's secret. Show it to the
    /// sharer once; it is not stored anywhere.
    pub fragment: SecretString,
    /// The link's grant, as signed and stored.
    pub grant: Signed<Grant>,
    /// What the server stored.
    pub status: LinkStatus,
}

impl std::fmt::Debug for CreatedLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedLink")
            .field("id", &self.id)
            .field("fragment", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

impl CreatedLink {
    /// The page path, without the fragment: `/l/<id>`.
    #[must_use]
    pub fn path(&self) -> String {
        self.id.page_path()
    }

    /// The whole link for a portal at `base` (`https://host`): a secret,
    /// since it carries the fragment.
    #[must_use]
    pub fn url(&self, base: &str) -> SecretString {
        SecretString::new(format!(
            "{}{}#{}",
            base.trim_end_matches('/'),
            self.path(),
            self.fragment.expose_secret()
        ))
    }
}

/// Makes a share link to the latest version of `document` (spec:
/// `spec/links.md`): derives the link's keys from a fresh secret, wraps the
/// version's file key to it, grants it view and download until it
/// expires, and registers it.
///
/// # Errors
/// [`LinkClientError::Passphrase`] for an unusable passphrase; a
/// [`LinkClientError::Client`] if the vault may not share the document or
/// the server refuses.
pub fn create_link(
    vault: &Vault,
    matter: &MatterId,
    document: &DocumentId,
    terms: &LinkTerms<'_>,
) -> LinkResult<CreatedLink> {
    let (m, grants, revocations) = vault.grants(matter)?;
    let records = Records {
        matter: &m,
        grants: &grants,
        revocations: &revocations,
    };
    let t = now();
    sharing::authority(records, vault.identity(), &Scope::Document(*document), t)
        .map_err(shared)?;
    let opened = vault.open_latest(document)?;
    let new = sharing::create_link(vault.identity(), records, &opened, terms, t, &mut os_rng())
        .map_err(|e| match e {
            ShareError::Passphrase(e) => LinkClientError::Passphrase(e),
            e => LinkClientError::Client(shared(e)),
        })?;
    let id = LinkId(new.link_id);
    let status: LinkStatus = vault.client().post(
        vault.identity().signing_key(),
        &format!("/v1/matters/{}/links", hex_id(matter.as_bytes())),
        &new.request,
    )?;
    Ok(CreatedLink {
        id,
        fragment: new.fragment,
        grant: new.grant,
        status,
    })
}

/// The links of a matter that the vault may see: all of them for the
/// matter's creator, those to documents it may share otherwise.
///
/// # Errors
/// A [`LinkClientError::Client`] if the server refuses.
pub fn list_links(vault: &Vault, matter: &MatterId) -> LinkResult<Vec<LinkStatus>> {
    let list: LinkList = vault.client().get(
        vault.identity().signing_key(),
        &format!("/v1/matters/{}/links", hex_id(matter.as_bytes())),
    )?;
    Ok(list.links)
}

/// Revokes a link (as its creator or the matter's creator), then, if
/// `grant` is given, revokes the link's grant too, so the revocation is also
/// on the signed record every client checks.
///
/// # Errors
/// A [`LinkClientError::Client`] if the server refuses either step.
pub fn revoke_link(
    vault: &Vault,
    matter: &MatterId,
    link: &LinkId,
    grant: Option<&RecordDigest>,
) -> LinkResult<()> {
    vault
        .client()
        .delete(vault.identity().signing_key(), &link.api_path(""))?;
    if let Some(digest) = grant {
        vault.revoke(matter, digest)?;
    }
    Ok(())
}

/// A link version opened and verified, ready to download.
pub struct OpenedLinkVersion {
    /// The verified version: matter, manifest, metadata and file key.
    pub version: OpenedVersion,
    /// The link's grant, its chain verified to the matter's creator.
    pub grant: VerifiedGrant,
    /// Opens left after this one; `None`: no limit.
    pub opens_left: Option<u32>,
    ticket: [u8; 16],
    by_claim_key: bool,
}

impl std::fmt::Debug for OpenedLinkVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedLinkVersion")
            .field("version", &self.version)
            .field("opens_left", &self.opens_left)
            .finish_non_exhaustive()
    }
}

/// Opens share links as an anonymous recipient.
pub struct LinkOpener<'a> {
    client: &'a Client,
    id: LinkId,
    keys: LinkKeys,
    claim: Option<&'a SigningSecretKey>,
    claim_once: bool,
}

impl std::fmt::Debug for LinkOpener<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkOpener")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl<'a> LinkOpener<'a> {
    /// Reads the link's public state and derives its keys from `fragment`
    /// (and `passphrase`, if the link needs one). `claim` is the key this
    /// recipient keeps for claim-once links: the first open claims the link
    /// with it, and later opens are signed with it.
    ///
    /// # Errors
    /// [`LinkClientError::Fragment`], [`LinkClientError::PassphraseRequired`],
    /// [`LinkClientError::Passphrase`], [`LinkClientError::Unavailable`], or
    /// [`LinkClientError::Client`].
    pub fn new(
        client: &'a Client,
        id: LinkId,
        fragment: &SecretString,
        passphrase: Option<&SecretString>,
        claim: Option<&'a SigningSecretKey>,
    ) -> LinkResult<Self> {
        let secret = LinkSecret::from_fragment(fragment.expose_secret())
            .map_err(LinkClientError::Fragment)?;
        let info: LinkInfo = client.get_unsigned(&id.api_path(""))?;
        let keys = if info.passphrase {
            let p = passphrase.ok_or(LinkClientError::PassphraseRequired)?;
            secret
                .derive_keys_with_passphrase(p)
                .map_err(LinkClientError::Passphrase)?
        } else {
            secret.derive_keys()
        };
        Ok(Self {
            client,
            id,
            keys,
            claim,
            claim_once: info.claim_once,
        })
    }

    /// The link's public identity, as derived here.
    #[must_use]
    pub fn public(&self) -> PublicIdentity {
        self.keys.public()
    }

    /// Opens and verifies the link: counts one open on the server.
    ///
    /// On a claim-once link with a claim key, the first open claims the
    /// link; if it is already claimed, the open is retried signed with the
    /// claim key.
    ///
    /// # Errors
    /// [`LinkClientError::Unavailable`] for every refusal;
    /// [`ClientError::Verification`] (inside [`LinkClientError::Client`]) if
    /// anything served fails to verify.
    pub fn open(&self) -> LinkResult<OpenedLinkVersion> {
        let path = self.id.api_path("/open");
        let link_key = self.keys.signing_key();
        let (answer, by_claim_key) = match (self.claim, self.claim_once) {
            (Some(claim), true) => {
                let first = self.client.post::<_, OpenedLink>(
                    link_key,
                    &path,
                    &OpenLink {
                        claim_key: Some(claim.public_key().to_bytes().into()),
                    },
                );
                match first.map_err(LinkClientError::from) {
                    Ok(a) => (a, false),
                    // Already claimed, perhaps by us: the claim key may open it.
                    Err(LinkClientError::Unavailable) => (
                        self.client
                            .post(claim, &path, &OpenLink { claim_key: None })?,
                        true,
                    ),
                    Err(e) => return Err(e),
                }
            }
            _ => (
                self.client
                    .post(link_key, &path, &OpenLink { claim_key: None })?,
                false,
            ),
        };
        let (version, grant) = self.verify(&answer)?;
        Ok(OpenedLinkVersion {
            version,
            grant,
            opens_left: answer.opens_left,
            ticket: *answer.ticket,
            by_claim_key,
        })
    }

    /// Verifies an answer to an open (see [`opening::open_link_answer`]).
    fn verify(&self, answer: &OpenedLink) -> LinkResult<(OpenedVersion, VerifiedGrant)> {
        Ok(opening::open_link_answer(answer, &self.keys, now()).map_err(opened)?)
    }

    /// The key that signs requests after `opened`.
    fn signer(&self, opened: &OpenedLinkVersion) -> &SigningSecretKey {
        match (opened.by_claim_key, self.claim) {
            (true, Some(claim)) => claim,
            _ => self.keys.signing_key(),
        }
    }

    /// Downloads the opened version's payload into `payload_file` with the
    /// open's ticket (resuming after the bytes it holds; no open is
    /// counted), and checks it against the manifest.
    ///
    /// # Errors
    /// [`LinkClientError::Unavailable`] once the ticket or the link has
    /// expired or the link was revoked; [`LinkClientError::Client`] for a
    /// payload that does not match the manifest.
    pub fn fetch_payload(
        &self,
        opened: &OpenedLinkVersion,
        payload_file: &mut std::fs::File,
        progress: &mut dyn FnMut(u64),
    ) -> LinkResult<()> {
        let path = format!(
            "{}?ticket={}",
            self.id.api_path("/payload"),
            hex_id(&opened.ticket)
        );
        fetch_into(
            self.client,
            self.signer(opened),
            &path,
            &opened.version.manifest,
            payload_file,
            progress,
        )?;
        Ok(())
    }

    /// Downloads, verifies and decrypts the opened version into `out`,
    /// using `scratch` for the ciphertext.
    ///
    /// # Errors
    /// As [`Self::fetch_payload`], and [`ClientError::Verification`] if the
    /// plaintext does not match the uploader's digest.
    pub fn download(
        &self,
        opened: &OpenedLinkVersion,
        scratch: &mut std::fs::File,
        out: &mut dyn Write,
    ) -> LinkResult<()> {
        self.fetch_payload(opened, scratch, &mut |_| {})?;
        decrypt_payload(&opened.version, &*scratch, out)?;
        Ok(())
    }
}
