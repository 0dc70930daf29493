//! The local profile: where this machine keeps its identity and settings.
//!
//! A profile is a directory (the platform's config directory by default,
//! `--home` or `LEXVAULT_HOME` to choose another) holding:
//!
//! - `identity.sealed`: the secret keys sealed under the password with
//!   Argon2id (`lexvault_core::backup`), readable only by the owner;
//! - `bundle.cbor`: the self-signed public key bundle;
//! - `profile.toml`: the server address and the login name;
//! - `chain.state`: where this identity's chain of recorded requests stood
//!   on a server (spec `log.md` §Actor chains), so that a server which
//!   later shows an earlier head is caught.
//!
//! Nothing secret is ever written unsealed.

use std::fs;
use std::io::{self, BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use lexvault_core::backup::{Argon2Params, SealedBackup};
use lexvault_core::key_bundle::{VerifiedKeyBundle, verify_key_bundle};
use lexvault_core::keys::Identity;
use lexvault_core::request::ChainPosition;
use lexvault_core::secret::SecretString;
use serde::{Deserialize, Serialize};

use super::Failure;

/// Environment variable naming the profile directory.
pub const HOME_ENV: &str = "LEXVAULT_HOME";
/// Environment variable holding the password, for automation.
pub const PASSWORD_ENV: &str = "LEXVAULT_PASSWORD";

/// Settings kept in `profile.toml`.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The server's address.
    pub server: Option<String>,
    /// The name this identity logs in with on a new device.
    pub login_name: Option<String>,
    /// The display name published in the key bundle.
    pub display_name: Option<String>,
}

/// A profile directory.
#[derive(Debug)]
pub struct Profile {
    dir: PathBuf,
    /// Its settings.
    pub settings: Settings,
}

impl Profile {
    /// The profile at `home`, or the platform's default.
    pub fn locate(home: Option<&Path>) -> Result<Self, Failure> {
        let dir = match home {
            Some(h) => h.to_owned(),
            None => directories::ProjectDirs::from("", "", "lexvault")
                .map(|d| d.config_dir().to_owned())
                .ok_or_else(|| {
                    Failure::new(format!(
                        "cannot find a home directory; set {HOME_ENV} or pass --home"
                    ))
                })?,
        };
        let settings_path = dir.join("profile.toml");
        let settings = match fs::read_to_string(&settings_path) {
            Ok(text) => toml::from_str(&text).map_err(|e| {
                Failure::new(format!("{} is not valid: {e}", settings_path.display()))
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Settings::default(),
            Err(e) => {
                return Err(Failure::new(format!(
                    "cannot read {}: {e}",
                    settings_path.display()
                )));
            }
        };
        Ok(Self { dir, settings })
    }

    /// The profile directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn sealed_path(&self) -> PathBuf {
        self.dir.join("identity.sealed")
    }

    fn bundle_path(&self) -> PathBuf {
        self.dir.join("bundle.cbor")
    }

    /// Whether an identity is stored here.
    #[must_use]
    pub fn has_identity(&self) -> bool {
        self.sealed_path().exists()
    }

    /// Saves the settings.
    pub fn save_settings(&self) -> Result<(), Failure> {
        let text = toml::to_string(&self.settings).map_err(|e| Failure::new(e.to_string()))?;
        write_private(&self.dir.join("profile.toml"), text.as_bytes())
    }

    /// Stores a sealed identity and its bundle (replacing any).
    pub fn store_identity(
        &self,
        sealed: &SealedBackup,
        bundle: &VerifiedKeyBundle,
    ) -> Result<(), Failure> {
        write_private(&self.sealed_path(), &sealed.to_bytes())?;
        write_private(&self.bundle_path(), bundle.as_bytes())
    }

    /// The sealed identity.
    pub fn sealed(&self) -> Result<SealedBackup, Failure> {
        let bytes = fs::read(self.sealed_path()).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                Failure::new(format!(
                    "no identity in {}; create one with `lexvault init --name \"Your Name\"` or \
                     sign in with `lexvault login`",
                    self.dir.display()
                ))
            } else {
                Failure::new(format!("cannot read the identity: {e}"))
            }
        })?;
        SealedBackup::from_bytes(&bytes)
            .map_err(|e| Failure::new(format!("the stored identity is damaged: {e}")))
    }

    /// The public key bundle.
    pub fn bundle(&self) -> Result<VerifiedKeyBundle, Failure> {
        let bytes = fs::read(self.bundle_path())
            .map_err(|e| Failure::new(format!("cannot read the key bundle: {e}")))?;
        verify_key_bundle(&bytes)
            .map_err(|e| Failure::new(format!("the stored key bundle is damaged: {e}")))
    }

    /// Opens the identity with the password.
    pub fn unlock(&self, password: &SecretString) -> Result<Identity, Failure> {
        self.sealed()?.open(password).map_err(|e| {
            Failure::new(format!(
                "cannot unlock the identity: {e}; check the password"
            ))
        })
    }

    fn chain_path(&self) -> PathBuf {
        self.dir.join("chain.state")
    }

    /// The chain position this identity had reached on `server` when last
    /// saved: lines `server`, sequence number, previous hash in hex.
    /// Nothing for another server or an unreadable file (the server's
    /// answers are then checked from scratch).
    #[must_use]
    pub fn chain_position(&self, server: &str) -> Option<ChainPosition> {
        let text = fs::read_to_string(self.chain_path()).ok()?;
        let mut lines = text.lines();
        if lines.next()? != server {
            return None;
        }
        let sequence = lines.next()?.parse().ok()?;
        let previous = hex::decode(lines.next()?).ok()?.try_into().ok()?;
        Some(ChainPosition { sequence, previous })
    }

    /// Saves the chain position reached on `server`.
    pub fn save_chain_position(
        &self,
        server: &str,
        position: ChainPosition,
    ) -> Result<(), Failure> {
        let text = format!(
            "{server}\n{}\n{}\n",
            position.sequence,
            hex::encode(position.previous)
        );
        write_private(&self.chain_path(), text.as_bytes())
    }

    /// The server address: `--server`, then the profile's.
    pub fn server(&self, flag: Option<&str>) -> Result<String, Failure> {
        flag.map(str::to_owned)
            .or_else(|| self.settings.server.clone())
            .ok_or_else(|| {
                Failure::usage(
                    "no server address; pass --server https://vault.example (it is remembered)",
                )
            })
    }
}

/// Writes a file readable only by its owner, atomically (temporary file,
/// fsync, rename).
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let fail = |e: io::Error| Failure::new(format!("cannot write {}: {e}", path.display()));
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(fail)?;
    }
    let temp = path.with_extension("lexvault-partial");
    let result = super::create_private(&temp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&temp, path)
    });
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result.map_err(fail)
}

/// Where the password comes from.
#[derive(Debug, Clone, Copy)]
pub struct PasswordSource {
    /// A file descriptor to read one line from (`--password-fd`).
    pub fd: Option<u32>,
}

impl PasswordSource {
    /// Reads the password: from the descriptor, then `LEXVAULT_PASSWORD`,
    /// then a prompt on the terminal (twice when `confirm`).
    pub fn read(&self, prompt: &str, confirm: bool) -> Result<SecretString, Failure> {
        if let Some(fd) = self.fd {
            let file = fs::File::open(format!("/dev/fd/{fd}"))
                .map_err(|e| Failure::new(format!("cannot read the password from fd {fd}: {e}")))?;
            let mut line = String::new();
            io::BufReader::new(file)
                .read_line(&mut line)
                .map_err(|e| Failure::new(format!("cannot read the password from fd {fd}: {e}")))?;
            let password = line.trim_end_matches(['\r', '\n']).to_owned();
            return non_empty(SecretString::new(password));
        }
        if let Ok(password) = std::env::var(PASSWORD_ENV) {
            return non_empty(SecretString::new(password));
        }
        if !io::stdin().is_terminal() {
            return Err(Failure::usage(format!(
                "a password is needed; type it at a terminal, or set {PASSWORD_ENV}, or pass \
                 --password-fd"
            )));
        }
        let first = rpassword::prompt_password(format!("{prompt}: "))
            .map_err(|e| Failure::new(format!("cannot read the password: {e}")))?;
        if confirm {
            let second = rpassword::prompt_password("Repeat it: ")
                .map_err(|e| Failure::new(format!("cannot read the password: {e}")))?;
            if first != second {
                return Err(Failure::new("the passwords differ; nothing was changed"));
            }
        }
        non_empty(SecretString::new(first))
    }
}

fn non_empty(password: SecretString) -> Result<SecretString, Failure> {
    if password.expose_secret().is_empty() {
        Err(Failure::usage("the password is empty"))
    } else {
        Ok(password)
    }
}

/// Argon2id parameters for sealing with `memory_mib` of memory (default:
/// the library's default).
pub fn argon2_params(memory_mib: Option<u32>) -> Result<Argon2Params, Failure> {
    let default = Argon2Params::DEFAULT;
    match memory_mib {
        None => Ok(default),
        Some(mib) => {
            Argon2Params::new(mib.saturating_mul(1024), default.t_cost(), default.p_cost()).map_err(
                |e| {
                    Failure::usage(format!(
                        "--argon2-memory-mib {mib}: {e}; use {} to {} MiB",
                        Argon2Params::MIN_M_COST_KIB / 1024,
                        Argon2Params::MAX_M_COST_KIB / 1024
                    ))
                },
            )
        }
    }
}
