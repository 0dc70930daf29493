//! The vault commands: identities, matters, documents, grants and the log.

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Seek as _};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use lexvault_client::client::{Client, now, os_rng};
use lexvault_client::log::LogMonitor;
use lexvault_client::transparency::{ForeignBinding, LogView};
use lexvault_client::vault::{OpenedVersion, Share, Vault, decrypt_payload, hex_id};
use lexvault_core::age::{self, Decryptor, Header, StreamReader};
use lexvault_core::backup::SealedBackup;
use lexvault_core::grant::{Rights, Scope, Validity};
use lexvault_core::key_bundle::KeyBundle;
use lexvault_core::keys::{Identity, PublicIdentity, SigningPublicKey};
use lexvault_core::manifest::DocumentId;
use lexvault_core::matter::MatterId;
use lexvault_core::membership::Role;
use lexvault_core::signed::RecordDigest;
use serde_json::json;

use super::Failure;
use super::profile::{PasswordSource, Profile, argon2_params};

/// What every vault command needs.
#[derive(Debug)]
pub struct Context {
    /// The local profile.
    pub profile: Profile,
    /// `--server`, if given.
    pub server: Option<String>,
    /// Where the password comes from.
    pub password: PasswordSource,
    /// `--json`.
    pub json: bool,
}

impl Context {
    /// Prints a result: `human` for people, `value` with `--json`.
    pub fn emit(&self, human: &str, value: &serde_json::Value) {
        if self.json {
            println!("{value}");
        } else if !human.is_empty() {
            println!("{human}");
        }
    }

    /// A client of the server.
    pub fn client(&self) -> Result<Client, Failure> {
        Ok(Client::new(&self.profile.server(self.server.as_deref())?)?)
    }

    /// Unlocks the identity and connects, checking key bindings against
    /// the profile's pinned log state (saved by
    /// [`super::audit::after_call`]).
    pub fn vault(&self) -> Result<Vault, Failure> {
        let client = self.client()?;
        let password = self.password.read("Password", false)?;
        let identity = self.profile.unlock(&password)?;
        if let Some(position) = self.profile.chain_position(client.base_url()) {
            client.hold_position(&identity.public().signing, position);
        }
        let log = LogView::new(super::audit::load_state(self)?);
        Ok(Vault::with_log(client, identity, log))
    }

    fn progress(&self, len: u64, what: &str) -> ProgressBar {
        if self.json {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(len);
        if let Ok(style) = ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(what.to_owned());
        bar
    }
}

// ---------------------------------------------------------------------------
// Parsing arguments

/// Parses a 32-hex-digit matter id.
pub fn parse_matter(text: &str) -> Result<MatterId, Failure> {
    parse_hex::<16>(text, "matter id").map(MatterId::from_bytes)
}

/// Parses a 32-hex-digit document id.
pub fn parse_document(text: &str) -> Result<DocumentId, Failure> {
    parse_hex::<16>(text, "document id").map(DocumentId::from_bytes)
}

/// Parses a 64-hex-digit signing key.
pub fn parse_key(text: &str) -> Result<SigningPublicKey, Failure> {
    let bytes = parse_hex::<32>(text, "key")?;
    SigningPublicKey::from_bytes(&bytes)
        .map_err(|_| Failure::usage(format!("'{text}' is not a valid key")))
}

fn parse_hex<const N: usize>(text: &str, what: &str) -> Result<[u8; N], Failure> {
    let mut out = [0u8; N];
    let lower = text.trim().to_ascii_lowercase();
    hex::decode_to_slice(&lower, &mut out).map_err(|_| {
        Failure::usage(format!(
            "'{text}' is not a {what}: expected {} hex digits (see `lexvault ls` or `lexvault \
             whoami`)",
            2 * N
        ))
    })?;
    Ok(out)
}

/// Parses rights: `view,download,upload,share,sign` or `all`.
pub fn parse_rights(text: &str) -> Result<Rights, Failure> {
    let mut rights: Option<Rights> = None;
    for name in text.split(',').map(str::trim) {
        let right = match name {
            "view" => Rights::VIEW,
            "download" => Rights::DOWNLOAD,
            "upload" => Rights::UPLOAD,
            "share" => Rights::SHARE,
            "sign" => Rights::SIGN,
            "all" => Rights::ALL,
            other => {
                return Err(Failure::usage(format!(
                    "unknown right '{other}'; use view, download, upload, share, sign or all"
                )));
            }
        };
        rights = Some(rights.map_or(right, |r| r | right));
    }
    rights.ok_or_else(|| Failure::usage("name at least one right"))
}

/// Parses a duration like `30m`, `48h`, `7d` into seconds.
pub fn parse_duration(text: &str) -> Result<u64, Failure> {
    let bad = || {
        Failure::usage(format!(
            "'{text}' is not a duration; use e.g. 30m, 48h or 7d"
        ))
    };
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let n: u64 = number.parse().map_err(|_| bad())?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(scale).filter(|s| *s > 0).ok_or_else(bad)
}

fn rights_names(rights: Rights) -> String {
    rights.names().collect::<Vec<_>>().join(",")
}

// ---------------------------------------------------------------------------
// Identities

/// `lexvault init`: creates an identity sealed under a password.
pub fn init(
    ctx: &mut Context,
    name: &str,
    argon2_memory_mib: Option<u32>,
    force: bool,
) -> Result<(), Failure> {
    if ctx.profile.has_identity() && !force {
        return Err(Failure::new(format!(
            "an identity already exists in {}; pass --force to replace it (the old keys are \
             lost unless backed up)",
            ctx.profile.dir().display()
        )));
    }
    let params = argon2_params(argon2_memory_mib)?;
    let password = ctx.password.read("New password", true)?;
    let mut rng = os_rng();
    let identity = Identity::generate(&mut rng);
    let bundle = KeyBundle::create(&identity, name, now())
        .map_err(|e| Failure::usage(format!("--name: {e}")))?;
    let sealed = SealedBackup::seal(&identity, &password, params, &mut rng)
        .map_err(|e| Failure::new(format!("cannot seal the identity: {e}")))?;
    ctx.profile.store_identity(&sealed, &bundle)?;
    ctx.profile.settings.display_name = Some(name.to_owned());
    if let Some(server) = &ctx.server {
        ctx.profile.settings.server = Some(server.clone());
    }
    ctx.profile.save_settings()?;
    let public = identity.public();
    ctx.emit(
        &format!(
            "Created an identity for {name} in {}\nfingerprint: {}\nkey:         {}\nrecipient:   {}\n\
             Next: `lexvault register` publishes it to the server.",
            ctx.profile.dir().display(),
            public.fingerprint(),
            hex_id(public.signing.as_bytes()),
            public.encryption
        ),
        &json!({
            "name": name,
            "fingerprint": public.fingerprint().to_string(),
            "key": hex_id(public.signing.as_bytes()),
            "recipient": public.encryption.to_string(),
        }),
    );
    Ok(())
}

/// `lexvault register`: publishes the key bundle and, with a login name,
/// enables password login on new devices.
pub fn register(ctx: &mut Context, login_name: Option<&str>) -> Result<(), Failure> {
    let client = ctx.client()?;
    let password = ctx.password.read("Password", false)?;
    let vault = Vault::new(client, ctx.profile.unlock(&password)?);
    let bundle = ctx.profile.bundle()?;
    if bundle.identity() != &vault.identity().public() {
        return Err(Failure::new(
            "the stored key bundle does not match the identity",
        ));
    }
    let name = bundle.bundle().display_name().to_owned();
    match vault.register(&name) {
        Ok(_) => {}
        // Registering twice is harmless when the server holds this very key.
        Err(e) if e.code() == Some("already-exists") => {
            let (published, _) = vault.identity_of(&bundle.identity().signing)?;
            if published.identity() != bundle.identity() {
                return Err(e.into());
            }
        }
        Err(e) => return Err(e.into()),
    }
    if let Some(login_name) = login_name {
        let params = ctx.profile.sealed()?.params();
        lexvault_client::login::register_password(&vault, login_name, &password, params)?;
        ctx.profile.settings.login_name = Some(login_name.to_owned());
    }
    if let Some(server) = &ctx.server {
        ctx.profile.settings.server = Some(server.clone());
    }
    ctx.profile.save_settings()?;
    super::audit::after_call(ctx, &vault)?;
    ctx.emit(
        &format!(
            "Registered {name} with {}{}",
            vault.client().base_url(),
            login_name
                .map(|l| format!("; sign in on a new device with `lexvault login {l}`"))
                .unwrap_or_default()
        ),
        &json!({
            "registered": hex_id(bundle.identity().signing.as_bytes()),
            "login_name": login_name,
        }),
    );
    Ok(())
}

/// `lexvault login NAME`: signs in on a new device with the password
/// (OPAQUE: the server never sees it) and keeps the recovered identity
/// sealed under the same password.
pub fn login(ctx: &mut Context, login_name: &str, force: bool) -> Result<(), Failure> {
    if ctx.profile.has_identity() && !force {
        return Err(Failure::new(format!(
            "an identity already exists in {}; pass --force to replace it",
            ctx.profile.dir().display()
        )));
    }
    let client = ctx.client()?;
    let password = ctx.password.read("Password", false)?;
    let identity = lexvault_client::login::login(&client, login_name, &password)?;
    let vault = Vault::new(client, identity);
    let (bundle, _) = vault.identity_of(&vault.identity().public().signing)?;
    let sealed = SealedBackup::seal(
        vault.identity(),
        &password,
        lexvault_core::backup::Argon2Params::DEFAULT,
        &mut os_rng(),
    )
    .map_err(|e| Failure::new(format!("cannot seal the identity: {e}")))?;
    ctx.profile.store_identity(&sealed, &bundle)?;
    ctx.profile.settings.login_name = Some(login_name.to_owned());
    ctx.profile.settings.display_name = Some(bundle.bundle().display_name().to_owned());
    ctx.profile.settings.server = Some(vault.client().base_url().to_owned());
    ctx.profile.save_settings()?;
    super::audit::after_call(ctx, &vault)?;
    ctx.emit(
        &format!(
            "Signed in as {} ({})",
            bundle.bundle().display_name(),
            bundle.fingerprint()
        ),
        &json!({
            "name": bundle.bundle().display_name(),
            "fingerprint": bundle.fingerprint().to_string(),
            "key": hex_id(bundle.identity().signing.as_bytes()),
        }),
    );
    Ok(())
}

/// `lexvault whoami`: shows the identity; optionally writes the bundle or
/// a copy of the sealed identity.
pub fn whoami(
    ctx: &Context,
    bundle_out: Option<&Path>,
    backup_out: Option<&Path>,
    age_identity_out: Option<&Path>,
) -> Result<(), Failure> {
    let bundle = ctx.profile.bundle()?;
    let public = bundle.identity();
    if let Some(path) = bundle_out {
        super::profile::write_private(path, bundle.as_bytes())?;
    }
    if let Some(path) = backup_out {
        super::profile::write_private(path, &ctx.profile.sealed()?.to_bytes())?;
    }
    if let Some(path) = age_identity_out {
        let password = ctx.password.read("Password", false)?;
        let identity = ctx.profile.unlock(&password)?;
        let secret = identity.encryption_key().to_age_identity();
        let text = format!(
            "# lexvault identity of {}\n# public key: {}\n{}\n",
            bundle.bundle().display_name(),
            public.encryption,
            secret.expose_secret()
        );
        super::profile::write_private(path, text.as_bytes())?;
    }
    ctx.emit(
        &format!(
            "name:        {}\nfingerprint: {}\nkey:         {}\nrecipient:   {}\nserver:      {}",
            bundle.bundle().display_name(),
            public.fingerprint(),
            hex_id(public.signing.as_bytes()),
            public.encryption,
            ctx.profile.settings.server.as_deref().unwrap_or("(none)")
        ),
        &json!({
            "name": bundle.bundle().display_name(),
            "fingerprint": public.fingerprint().to_string(),
            "key": hex_id(public.signing.as_bytes()),
            "recipient": public.encryption.to_string(),
            "server": ctx.profile.settings.server,
        }),
    );
    Ok(())
}

/// `lexvault unlock --backup FILE`: installs a sealed identity copied from
/// another machine, after checking the password opens it.
pub fn unlock(ctx: &mut Context, backup: &Path) -> Result<(), Failure> {
    let bytes = fs::read(backup)
        .map_err(|e| Failure::new(format!("cannot read {}: {e}", backup.display())))?;
    let sealed = SealedBackup::from_bytes(&bytes).map_err(|e| {
        Failure::new(format!(
            "{} is not a lexvault backup: {e}",
            backup.display()
        ))
    })?;
    let password = ctx.password.read("Password", false)?;
    let identity = sealed
        .open(&password)
        .map_err(|e| Failure::new(format!("cannot open the backup: {e}; check the password")))?;
    let client = ctx.client()?;
    let vault = Vault::new(client, identity);
    let (bundle, _) = vault.identity_of(&vault.identity().public().signing)?;
    if bundle.identity() != &vault.identity().public() {
        return Err(Failure::new(
            "the server's key bundle does not match the backup",
        ));
    }
    ctx.profile.store_identity(&sealed, &bundle)?;
    if let Some(server) = &ctx.server {
        ctx.profile.settings.server = Some(server.clone());
    }
    ctx.profile.settings.display_name = Some(bundle.bundle().display_name().to_owned());
    ctx.profile.save_settings()?;
    super::audit::after_call(ctx, &vault)?;
    ctx.emit(
        &format!(
            "Unlocked {} on this machine",
            bundle.bundle().display_name()
        ),
        &json!({ "key": hex_id(bundle.identity().signing.as_bytes()) }),
    );
    Ok(())
}

/// `lexvault fingerprint KEY`: the fingerprint of a published identity.
pub fn fingerprint(ctx: &Context, key: Option<&str>) -> Result<(), Failure> {
    let Some(key) = key else {
        return whoami(ctx, None, None, None);
    };
    let key = parse_key(key)?;
    let vault = ctx.vault()?;
    let (bundle, _) = vault.identity_of(&key)?;
    super::audit::after_call(ctx, &vault)?;
    ctx.emit(
        &format!(
            "{}  {}",
            bundle.fingerprint(),
            bundle.bundle().display_name()
        ),
        &json!({
            "fingerprint": bundle.fingerprint().to_string(),
            "name": bundle.bundle().display_name(),
        }),
    );
    Ok(())
}

/// `lexvault member certify KEY --role ROLE` (administrator).
pub fn certify(ctx: &Context, key: &str, role: &str) -> Result<(), Failure> {
    let role = Role::from_name(role).ok_or_else(|| {
        Failure::usage(format!(
            "unknown role '{role}'; use attorney, paralegal or administrator"
        ))
    })?;
    let key = parse_key(key)?;
    let vault = ctx.vault()?;
    let (bundle, _) = vault.identity_of(&key)?;
    vault.certify(&bundle, role)?;
    super::audit::after_call(ctx, &vault)?;
    ctx.emit(
        &format!(
            "Certified {} ({}) as {}",
            bundle.bundle().display_name(),
            bundle.fingerprint(),
            role.name()
        ),
        &json!({ "key": hex_id(key.as_bytes()), "role": role.name() }),
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// Matters

/// `lexvault matter create`.
pub fn matter_create(ctx: &Context) -> Result<(), Failure> {
    let vault = ctx.vault()?;
    let matter = vault.create_matter()?;
    let id = hex_id(matter.id().as_bytes());
    super::audit::after_call(ctx, &vault)?;
    ctx.emit(&format!("Created matter {id}"), &json!({ "matter": id }));
    Ok(())
}

/// `lexvault matter list`.
pub fn matter_list(ctx: &Context) -> Result<(), Failure> {
    let vault = ctx.vault()?;
    let me = vault.identity().public().signing;
    let matters = vault.matters()?;
    let rows: Vec<serde_json::Value> = matters
        .iter()
        .map(|m| {
            json!({
                "matter": hex_id(m.id().as_bytes()),
                "created_at": m.record().created_at(),
                "mine": m.creator() == &me,
            })
        })
        .collect();
    let human = matters
        .iter()
        .map(|m| {
            format!(
                "{}  {}",
                hex_id(m.id().as_bytes()),
                if m.creator() == &me {
                    "created by you"
                } else {
                    "shared with you"
                }
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    super::audit::after_call(ctx, &vault)?;
    ctx.emit(
        if human.is_empty() {
            "No matters yet."
        } else {
            &human
        },
        &json!(rows),
    );
    Ok(())
}

/// `lexvault matter members MATTER`: the grants in force, with names.
pub fn matter_members(ctx: &Context, matter: &str) -> Result<(), Failure> {
    let matter = parse_matter(matter)?;
    let vault = ctx.vault()?;
    let (m, grants, revocations) = vault.grants(&matter)?;
    let t = now();
    let mut rows = Vec::new();
    let mut lines = Vec::new();
    for g in &grants {
        let record = g.record();
        let state = match lexvault_core::grant::verify_grant_chain(
            &m,
            g,
            grants.as_slice(),
            &revocations,
            t,
        ) {
            Ok(_) => "in force".to_owned(),
            Err(e) => e.to_string(),
        };
        let name = vault
            .identity_of(&record.grantee().signing)
            .map(|(b, _)| b.bundle().display_name().to_owned())
            .unwrap_or_else(|_| "(share link or unregistered)".into());
        let scope = match record.scope() {
            Scope::Matter => "whole matter".to_owned(),
            Scope::Document(d) => format!("document {}", hex_id(d.as_bytes())),
        };
        lines.push(format!(
            "{}  {name}: {} on {scope} [{state}]",
            hex_id(&g.digest().0),
            rights_names(record.rights())
        ));
        rows.push(json!({
            "grant": hex_id(&g.digest().0),
            "grantee": hex_id(record.grantee().signing.as_bytes()),
            "name": name,
            "rights": rights_names(record.rights()),
            "scope": scope,
            "state": state,
        }));
    }
    super::audit::after_call(ctx, &vault)?;
    ctx.emit(
        &format!(
            "Matter {} (creator {})\n{}",
            hex_id(matter.as_bytes()),
            hex_id(m.creator().as_bytes()),
            lines.join("\n")
        ),
        &json!({ "matter": hex_id(matter.as_bytes()), "grants": rows }),
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// Documents

fn share_with(vault: &Vault, spec: &str, validity: Validity) -> Result<Share, Failure> {
    let (key, rights) = match spec.split_once(':') {
        Some((k, r)) => (k, parse_rights(r)?),
        None => (spec, Rights::VIEW | Rights::DOWNLOAD),
    };
    let key = parse_key(key)?;
    let (bundle, _) = vault.identity_of(&key)?;
    Ok(Share {
        with: *bundle.identity(),
        rights,
        validity,
    })
}

fn validity_until(until: Option<&str>) -> Result<Validity, Failure> {
    let start = now();
    match until {
        None => Ok(Validity::starting(start)),
        Some(d) => {
            let end = start.saturating_add(parse_duration(d)?);
            Validity::new(start, Some(end)).ok_or_else(|| Failure::usage("the window is empty"))
        }
    }
}

/// `lexvault put MATTER FILE`.
#[allow(clippy::too_many_arguments)]
pub fn put(
    ctx: &Context,
    matter: &str,
    file: &Path,
    document: Option<&str>,
    name: Option<&str>,
    mime: &str,
    shares: &[String],
    until: Option<&str>,
) -> Result<(), Failure> {
    let matter = parse_matter(matter)?;
    let document = document.map(parse_document).transpose()?;
    let file_name = match name {
        Some(n) => n.to_owned(),
        None => file
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Failure::usage("give the document a name with --name"))?
            .to_owned(),
    };
    let len = fs::metadata(file)
        .map_err(|e| Failure::new(format!("cannot read {}: {e}", file.display())))?
        .len();
    let vault = ctx.vault()?;
    let validity = validity_until(until)?;
    let shares = shares
        .iter()
        .map(|s| share_with(&vault, s, validity))
        .collect::<Result<Vec<_>, _>>()?;
    let bar = ctx.progress(len, "uploading");
    let (id, version) = vault.put(
        &matter,
        document,
        &file_name,
        mime,
        || File::open(file).map(BufReader::new),
        &shares,
        &mut |sent| bar.set_position(sent),
    )?;
    bar.finish_and_clear();
    let id_hex = hex_id(id.as_bytes());
    super::audit::after_call(ctx, &vault)?;
    ctx.emit(
        &format!(
            "Uploaded {file_name} as document {id_hex}, version {}",
            version.get()
        ),
        &json!({ "document": id_hex, "version": version.get(), "name": file_name }),
    );
    Ok(())
}

/// `lexvault import MATTER FILE.age`: a standard age file encrypted to this
/// identity's `age1…` recipient becomes a vault document.
pub fn import(ctx: &Context, matter: &str, file: &Path, name: Option<&str>) -> Result<(), Failure> {
    let matter = parse_matter(matter)?;
    let vault = ctx.vault()?;
    let key = vault.identity().encryption_key();
    let file_name = match name {
        Some(n) => n.to_owned(),
        None => file
            .file_stem()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Failure::usage("give the document a name with --name"))?
            .to_owned(),
    };
    let open = || -> io::Result<Box<dyn Read>> {
        let input = BufReader::new(File::open(file)?);
        let decryptor = Decryptor::new(input).map_err(|e| io::Error::other(e.to_string()))?;
        let reader = decryptor
            .decrypt(&[age::Identity::from(key)])
            .map_err(|e| io::Error::other(format!("{e}; was it encrypted to your recipient?")))?;
        Ok(Box::new(reader))
    };
    let (id, version) = vault.put(
        &matter,
        None,
        &file_name,
        "application/octet-stream",
        open,
        &[],
        &mut |_| {},
    )?;
    let id_hex = hex_id(id.as_bytes());
    super::audit::after_call(ctx, &vault)?;
    ctx.emit(
        &format!("Imported {} as document {id_hex}", file.display()),
        &json!({ "document": id_hex, "version": version.get() }),
    );
    Ok(())
}

/// `lexvault ls MATTER`.
pub fn ls(ctx: &Context, matter: &str) -> Result<(), Failure> {
    let matter = parse_matter(matter)?;
    let vault = ctx.vault()?;
    let docs = vault.documents(&matter)?;
    let rows: Vec<serde_json::Value> = docs
        .iter()
        .map(|d| {
            json!({
                "document": hex_id(d.document_id().as_bytes()),
                "version": d.version().get(),
                "name": d.metadata.file_name(),
                "type": d.metadata.mime_type(),
                "size": d.metadata.size(),
                "uploader": hex_id(d.manifest.signer().as_bytes()),
            })
        })
        .collect();
    let human = docs
        .iter()
        .map(|d| {
            format!(
                "{}  v{}  {:>12}  {}",
                hex_id(d.document_id().as_bytes()),
                d.version().get(),
                d.metadata.size(),
                d.metadata.file_name()
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    super::audit::after_call(ctx, &vault)?;
    ctx.emit(
        if human.is_empty() {
            "No documents you may see."
        } else {
            &human
        },
        &json!(rows),
    );
    Ok(())
}

/// A safe local file name from an uploader-chosen name: its last
/// component, without path separators or leading dots.
pub fn safe_file_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim_start_matches('.')
        .trim()
        .to_owned();
    if cleaned.is_empty() {
        "document".to_owned()
    } else {
        cleaned
    }
}

/// The resumable ciphertext file kept beside `output` while downloading.
pub fn partial_path(output: &Path) -> PathBuf {
    let mut name = output
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".lexvault-download");
    output.with_file_name(name)
}

/// Downloads and verifies a version's payload into a resumable partial
/// file next to `output`.
fn fetch(
    ctx: &Context,
    vault: &Vault,
    opened: &OpenedVersion,
    output: &Path,
) -> Result<(File, PathBuf), Failure> {
    let partial = partial_path(output);
    let mut file = fs::OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(&partial)
        .map_err(|e| Failure::new(format!("cannot write {}: {e}", partial.display())))?;
    let bar = ctx.progress(opened.manifest.record().terms().payload_len, "downloading");
    let result = vault.fetch_payload(opened, &mut file, &mut |n| bar.set_position(n));
    bar.finish_and_clear();
    result?;
    file.rewind()
        .map_err(|e| Failure::new(format!("cannot read {}: {e}", partial.display())))?;
    Ok((file, partial))
}

/// `lexvault get DOCUMENT`: downloads, verifies and decrypts the latest
/// version; run again to resume an interrupted download.
pub fn get(ctx: &Context, document: &str, output: Option<&Path>) -> Result<(), Failure> {
    let document = parse_document(document)?;
    let vault = ctx.vault()?;
    let opened = vault.open_latest(&document)?;
    let output = output.map_or_else(
        || PathBuf::from(safe_file_name(opened.metadata.file_name())),
        Path::to_path_buf,
    );
    let (payload, partial) = fetch(ctx, &vault, &opened, &output)?;
    super::with_output(Some(&output), |out| {
        decrypt_payload(&opened, &payload, out).map_err(|e| io::Error::other(e.to_string()))
    })?;
    let _ = fs::remove_file(&partial);
    super::audit::after_call(ctx, &vault)?;
    ctx.emit(
        &format!(
            "Saved {} ({} bytes, version {}, verified)",
            output.display(),
            opened.metadata.size(),
            opened.version().get()
        ),
        &json!({
            "document": hex_id(document.as_bytes()),
            "version": opened.version().get(),
            "name": opened.metadata.file_name(),
            "output": output.display().to_string(),
            "size": opened.metadata.size(),
        }),
    );
    Ok(())
}

/// `lexvault export DOCUMENT -o FILE.age`: a standard age file for this
/// identity, which `age -d -i key.txt` and `rage` decrypt.
pub fn export(ctx: &Context, document: &str, output: &Path, armor: bool) -> Result<(), Failure> {
    let document = parse_document(document)?;
    let vault = ctx.vault()?;
    let opened = vault.open_latest(&document)?;
    let (mut payload, partial) = fetch(ctx, &vault, &opened, output)?;
    let header = Header::build(vec![opened.stanza.clone()], &opened.file_key)
        .map_err(|e| Failure::new(e.to_string()))?;
    super::with_output(Some(output), |out| {
        if armor {
            let mut armored = age::ArmoredWriter::new(out);
            age::assemble(&header, &mut payload, &mut armored)?;
            armored.finish()?;
            Ok(())
        } else {
            age::assemble(&header, &mut payload, out).map(|_| ())
        }
    })?;
    let _ = fs::remove_file(&partial);
    super::audit::after_call(ctx, &vault)?;
    ctx.emit(
        &format!(
            "Exported {} to {} (decrypt with your AGE-SECRET-KEY: `lexvault whoami` shows the \
             recipient)",
            opened.metadata.file_name(),
            output.display()
        ),
        &json!({ "output": output.display().to_string() }),
    );
    Ok(())
}

/// `lexvault rekey DOCUMENT`: re-encrypts the latest version under a fresh
/// file key for the grantees still in force, as a new version; a revoked
/// party's cached key opens nothing new.
pub fn rekey(ctx: &Context, document: &str) -> Result<(), Failure> {
    let document_id = parse_document(document)?;
    let vault = ctx.vault()?;
    let opened = vault.open_latest(&document_id)?;
    let dir = std::env::temp_dir();
    let scratch = dir.join(format!("lexvault-rekey-{}", hex_id(document_id.as_bytes())));
    let (payload_file, partial) = fetch(ctx, &vault, &opened, &scratch)?;
    let payload_file = std::sync::Arc::new(payload_file);
    let name = opened.metadata.file_name().to_owned();
    let mime = opened.metadata.mime_type().to_owned();
    let open = || -> io::Result<StreamReader<BufReader<File>>> {
        let mut f = payload_file.try_clone()?;
        f.rewind()?;
        StreamReader::new(&opened.file_key, BufReader::new(f))
    };
    let result = vault.put(
        opened.matter.id(),
        Some(document_id),
        &name,
        &mime,
        open,
        &[],
        &mut |_| {},
    );
    let _ = fs::remove_file(&partial);
    let (_, version) = result?;
    super::audit::after_call(ctx, &vault)?;
    ctx.emit(
        &format!(
            "Re-keyed {name}: version {} has a fresh key, wrapped only to grantees in force",
            version.get()
        ),
        &json!({ "document": hex_id(document_id.as_bytes()), "version": version.get() }),
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// Grants and the log

/// `lexvault grant MATTER --to KEY`.
pub fn grant(
    ctx: &Context,
    matter: &str,
    to: &str,
    document: Option<&str>,
    rights: &str,
    until: Option<&str>,
) -> Result<(), Failure> {
    let matter = parse_matter(matter)?;
    let rights = parse_rights(rights)?;
    let scope = match document {
        Some(d) => Scope::Document(parse_document(d)?),
        None => Scope::Matter,
    };
    let validity = validity_until(until)?;
    let vault = ctx.vault()?;
    let (bundle, _) = vault.identity_of(&parse_key(to)?)?;
    let grantee: PublicIdentity = *bundle.identity();
    let grant = vault.grant(&matter, scope, &grantee, rights, validity)?;
    let digest = hex_id(&grant.digest().0);
    super::audit::after_call(ctx, &vault)?;
    ctx.emit(
        &format!(
            "Granted {} to {} ({}); revoke with `lexvault revoke {} {digest}`",
            rights_names(rights),
            bundle.bundle().display_name(),
            bundle.fingerprint(),
            hex_id(matter.as_bytes())
        ),
        &json!({ "grant": digest, "rights": rights_names(rights) }),
    );
    Ok(())
}

/// `lexvault revoke MATTER GRANT`.
pub fn revoke(ctx: &Context, matter: &str, grant: &str) -> Result<(), Failure> {
    let matter = parse_matter(matter)?;
    let digest = RecordDigest(parse_hex::<32>(grant, "grant digest")?);
    let vault = ctx.vault()?;
    vault.revoke(&matter, &digest)?;
    super::audit::after_call(ctx, &vault)?;
    ctx.emit(
        &format!(
            "Revoked grant {grant}. The server refuses it from now on; run `lexvault rekey` on \
             its documents so a cached key opens nothing new."
        ),
        &json!({ "revoked": grant }),
    );
    Ok(())
}

/// Looks in the log for bindings of this identity's display name and
/// login name to other keys, and warns loudly about each on stderr.
fn own_name_alarm(ctx: &Context, vault: &Vault) -> Result<Vec<ForeignBinding>, Failure> {
    let foreign = vault
        .foreign_bindings(ctx.profile.settings.login_name.as_deref())
        .map_err(|e| Failure::new(format!("cannot check the log for your names: {e}")))?;
    for f in &foreign {
        eprintln!(
            "WARNING: the log binds your {} to a key that is not yours: fingerprint {}, key {},              log entry {}. If you did not make this key, tell the firm's administrator now.",
            f.name.label().replace('-', " "),
            f.fingerprint,
            hex_id(f.key.as_bytes()),
            f.index
        );
    }
    Ok(foreign)
}

fn foreign_json(foreign: &[ForeignBinding]) -> serde_json::Value {
    json!(
        foreign
            .iter()
            .map(|f| json!({
                "name": f.name.label(),
                "key": hex_id(f.key.as_bytes()),
                "fingerprint": f.fingerprint.to_string(),
                "index": f.index,
            }))
            .collect::<Vec<_>>()
    )
}

/// `lexvault log [MATTER]`: syncs with the log (consistency with the
/// pinned checkpoint), warns about every binding of this identity's names
/// to another key, and shows the matter's events with their actors.
pub fn log(ctx: &Context, matter: Option<&str>) -> Result<(), Failure> {
    let matter = matter.map(parse_matter).transpose()?;
    let vault = ctx.vault()?;
    vault
        .log()
        .update(|state| LogMonitor::sync(vault.client(), vault.identity().signing_key(), state))
        .map_err(|e| Failure::new(format!("refusing to continue: {e}")))?;
    let foreign = own_name_alarm(ctx, &vault)?;
    let Some(matter) = matter else {
        super::audit::after_call(ctx, &vault)?;
        let human = if foreign.is_empty() {
            "The log is consistent with what this device saw before; no other key is bound to \
             your names."
                .to_owned()
        } else {
            format!("{} binding(s) of your names to other keys", foreign.len())
        };
        ctx.emit(
            &human,
            &json!({ "foreign_bindings": foreign_json(&foreign) }),
        );
        return Ok(());
    };
    let events = vault.events(&matter)?;
    let mut names: std::collections::HashMap<[u8; 32], String> = std::collections::HashMap::new();
    let mut rows = Vec::new();
    let mut lines = Vec::new();
    for e in &events {
        let actor: [u8; 32] = *e.actor;
        let name = names
            .entry(actor)
            .or_insert_with(|| {
                SigningPublicKey::from_bytes(&actor)
                    .ok()
                    .and_then(|k| vault.identity_of(&k).ok())
                    .map(|(b, _)| b.bundle().display_name().to_owned())
                    .unwrap_or_else(|| "share link".to_owned())
            })
            .clone();
        let document = e.document_id.as_ref().map(|d| hex_id(&d[..]));
        lines.push(format!(
            "#{:<5} {}  {:<16} {}{}",
            e.seq,
            e.at,
            e.kind,
            name,
            document
                .as_ref()
                .map(|d| format!("  document {d}"))
                .unwrap_or_default()
        ));
        rows.push(json!({
            "seq": e.seq,
            "at": e.at,
            "kind": e.kind,
            "actor": hex_id(&actor),
            "actor_name": name,
            "document": document,
            "version": e.version,
        }));
    }
    super::audit::after_call(ctx, &vault)?;
    // The events stay a JSON array, as scripts read them; the warnings went
    // to stderr, and `lexvault log` without a matter lists them as JSON.
    ctx.emit(&lines.join("\n"), &json!(rows));
    Ok(())
}
