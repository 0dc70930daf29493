//! `lexvault link …`: share links, for the sharer and for a recipient.

use std::fs;
use std::path::{Path, PathBuf};

use lexvault_client::client::{Client, now, os_rng};
use lexvault_client::links::{
    LinkId, LinkOpener, LinkTerms, create_link, list_links, parse_link_url, revoke_link,
};
use lexvault_client::vault::hex_id;
use lexvault_core::keys::SigningSecretKey;
use lexvault_core::secret::{SecretBytes, SecretString};
use lexvault_core::signed::RecordDigest;
use serde_json::json;

use super::Failure;
use super::vault::{Context, parse_document, parse_duration, parse_matter};

/// Environment variable holding a link passphrase, for automation.
pub const LINK_PASSPHRASE_ENV: &str = "LEXVAULT_LINK_PASSPHRASE";

fn link_passphrase(ctx: &Context, confirm: bool) -> Result<SecretString, Failure> {
    if let Ok(p) = std::env::var(LINK_PASSPHRASE_ENV) {
        return Ok(SecretString::new(p));
    }
    let _ = ctx;
    super::profile::PasswordSource { fd: None }
        .read("Link passphrase", confirm)
        .map_err(|f| Failure::usage(format!("{}; or set {LINK_PASSPHRASE_ENV}", f.message)))
}

/// `lexvault link create DOCUMENT`.
pub fn create(
    ctx: &Context,
    document: &str,
    expires: &str,
    max_downloads: Option<u32>,
    passphrase: bool,
    claim_once: bool,
) -> Result<(), Failure> {
    let document = parse_document(document)?;
    let expires_at = now().saturating_add(parse_duration(expires)?);
    let vault = ctx.vault()?;
    let phrase = passphrase.then(|| link_passphrase(ctx, true)).transpose()?;
    let opened = vault.open_latest(&document)?;
    let link = create_link(
        &vault,
        opened.matter.id(),
        &document,
        &LinkTerms {
            expires_at,
            max_opens: max_downloads,
            passphrase: phrase.as_ref(),
            claim_once,
        },
    )
    .map_err(|e| Failure::new(e.to_string()));
    super::audit::after_call(ctx, &vault)?;
    let link = link?;
    let url = link.url(vault.client().base_url());
    ctx.emit(
        &format!(
            "{}\nSend this link to the recipient{}. It opens {} until {expires_at} (Unix time){}.\n\
             The part after '#' is the key: it never reaches the server and is not stored.",
            url.expose_secret(),
            if passphrase {
                ", and the passphrase another way"
            } else {
                ""
            },
            opened.metadata.file_name(),
            max_downloads
                .map(|n| format!(", at most {n} times"))
                .unwrap_or_default()
        ),
        &json!({
            "link": link.id.to_hex(),
            "url": url.expose_secret(),
            "expires_at": expires_at,
            "max_downloads": max_downloads,
            "passphrase": passphrase,
            "claim_once": claim_once,
        }),
    );
    Ok(())
}

/// `lexvault link list MATTER`.
pub fn list(ctx: &Context, matter: &str) -> Result<(), Failure> {
    let matter = parse_matter(matter)?;
    let vault = ctx.vault()?;
    let links = list_links(&vault, &matter).map_err(|e| Failure::new(e.to_string()));
    super::audit::after_call(ctx, &vault)?;
    let links = links?;
    let t = now();
    let state = |l: &lexvault_core::api::LinkStatus| {
        if l.revoked {
            "revoked"
        } else if l.locked {
            "locked"
        } else if t >= l.expires_at {
            "expired"
        } else if l.max_opens.is_some_and(|m| l.opens >= m) {
            "used up"
        } else {
            "live"
        }
    };
    let human = links
        .iter()
        .map(|l| {
            format!(
                "{}  document {}  {}  opened {}{}",
                hex_id(&l.link_id[..]),
                hex_id(&l.document_id[..]),
                state(l),
                l.opens,
                l.max_opens.map(|m| format!("/{m}")).unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let rows: Vec<serde_json::Value> = links
        .iter()
        .map(|l| {
            json!({
                "link": hex_id(&l.link_id[..]),
                "document": hex_id(&l.document_id[..]),
                "state": state(l),
                "opens": l.opens,
                "max_opens": l.max_opens,
                "expires_at": l.expires_at,
                "passphrase": l.passphrase,
                "claim_once": l.claim_once,
                "claimed": l.claimed,
            })
        })
        .collect();
    ctx.emit(
        if human.is_empty() {
            "No links."
        } else {
            &human
        },
        &json!(rows),
    );
    Ok(())
}

/// `lexvault link revoke MATTER LINK`: stops the link and revokes its grant.
pub fn revoke(ctx: &Context, matter: &str, link: &str) -> Result<(), Failure> {
    let matter = parse_matter(matter)?;
    let link = LinkId::parse(link).map_err(|e| Failure::usage(e.to_string()))?;
    let vault = ctx.vault()?;
    let grant = list_links(&vault, &matter)
        .map_err(|e| Failure::new(e.to_string()))?
        .into_iter()
        .find(|l| hex_id(&l.link_id[..]) == link.to_hex())
        .map(|l| RecordDigest(*l.grant));
    let revoked = revoke_link(&vault, &matter, &link, grant.as_ref())
        .map_err(|e| Failure::new(e.to_string()));
    super::audit::after_call(ctx, &vault)?;
    revoked?;
    ctx.emit(
        &format!("Revoked link {}", link.to_hex()),
        &json!({ "revoked": link.to_hex() }),
    );
    Ok(())
}

/// The key this profile claims claim-once links with, created on first use.
fn claim_key(ctx: &Context) -> Result<SigningSecretKey, Failure> {
    let path = ctx.profile.dir().join("link-claim.key");
    if let Ok(bytes) = fs::read(&path) {
        let mut seed: [u8; 32] = bytes
            .try_into()
            .map_err(|_| Failure::new(format!("{} is damaged; delete it", path.display())))?;
        return Ok(SigningSecretKey::from_seed(&SecretBytes::from_array(
            &mut seed,
        )));
    }
    let key = SigningSecretKey::generate(&mut os_rng());
    super::profile::write_private(&path, key.to_seed().expose_secret())?;
    Ok(key)
}

/// `lexvault link open URL`: opens a share link as its recipient, verifies
/// and decrypts the document.
pub fn open(ctx: &Context, url: &str, output: Option<&Path>) -> Result<(), Failure> {
    let (id, fragment) = parse_link_url(url).map_err(|e| Failure::usage(e.to_string()))?;
    let base = url
        .split_once("/l/")
        .map(|(b, _)| b)
        .ok_or_else(|| Failure::usage("this is not a lexvault share link"))?;
    let client = Client::new(base)?;
    let claim = claim_key(ctx)?;
    let passphrase = match std::env::var(LINK_PASSPHRASE_ENV) {
        Ok(p) => Some(SecretString::new(p)),
        Err(_) => None,
    };
    let opener = match LinkOpener::new(&client, id, &fragment, passphrase.as_ref(), Some(&claim)) {
        Err(lexvault_client::links::LinkClientError::PassphraseRequired) => {
            let p = link_passphrase(ctx, false)?;
            return open_with(ctx, &client, id, &fragment, Some(&p), &claim, output);
        }
        other => other.map_err(|e| Failure::new(e.to_string()))?,
    };
    finish_open(ctx, &opener, output)
}

fn open_with(
    ctx: &Context,
    client: &Client,
    id: LinkId,
    fragment: &SecretString,
    passphrase: Option<&SecretString>,
    claim: &SigningSecretKey,
    output: Option<&Path>,
) -> Result<(), Failure> {
    let opener = LinkOpener::new(client, id, fragment, passphrase, Some(claim))
        .map_err(|e| Failure::new(e.to_string()))?;
    finish_open(ctx, &opener, output)
}

fn finish_open(
    ctx: &Context,
    opener: &LinkOpener<'_>,
    output: Option<&Path>,
) -> Result<(), Failure> {
    let opened = opener.open().map_err(|e| Failure::new(e.to_string()))?;
    let name = opened.version.metadata.file_name().to_owned();
    let output: PathBuf = output.map_or_else(
        || PathBuf::from(super::vault::safe_file_name(&name)),
        Path::to_path_buf,
    );
    let partial = super::vault::partial_path(&output);
    let mut scratch = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&partial)
        .map_err(|e| Failure::new(format!("cannot write {}: {e}", partial.display())))?;
    let saved = super::with_output(Some(&output), |out| {
        opener
            .download(&opened, &mut scratch, out)
            .map_err(|e| std::io::Error::other(e.to_string()))
    });
    let _ = fs::remove_file(&partial);
    saved?;
    ctx.emit(
        &format!(
            "Saved {} ({} bytes, verified){}",
            output.display(),
            opened.version.metadata.size(),
            opened
                .opens_left
                .map(|n| format!("; the link opens {n} more time(s)"))
                .unwrap_or_default()
        ),
        &json!({
            "output": output.display().to_string(),
            "name": name,
            "size": opened.version.metadata.size(),
            "opens_left": opened.opens_left,
        }),
    );
    Ok(())
}
