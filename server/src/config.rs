//! The server's settings and command line.
//!
//! Every setting is resolved, lowest to highest precedence, from
//!
//! 1. the built-in default,
//! 2. the TOML config file named by `--config` or `LEXVAULT_CONFIG` (keys in
//!    snake_case: `listen`, `data_dir`, …; an unknown key is an error),
//! 3. its `LEXVAULT_*` environment variable (an empty variable counts as
//!    unset),
//! 4. its command-line flag.
//!
//! Every value given at any level is checked, even one that a higher level
//! overrides: a typo fails loudly instead of lying in wait. Relative paths in
//! the config file are relative to the file's directory; relative paths from
//! the environment or flags are relative to the working directory.
//!
//! Every [`ConfigError`] says which flag, variable or file key is at fault and
//! how to fix it. [`load_from`] takes the arguments and the environment as
//! parameters, so the whole resolution is testable without touching the
//! process; [`load`] is the same over the real process.

use std::ffi::OsString;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use serde::Deserialize;
use tracing_subscriber::EnvFilter;

/// Default for [`Settings::listen`]: loopback only, port 8080.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8080));
/// Default for [`Settings::data_dir`].
pub const DEFAULT_DATA_DIR: &str = "./lexvault-data";
/// Default for [`Settings::max_upload_bytes`]: 5 GiB.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 5 << 30;
/// Default for [`Settings::request_window_secs`]: five minutes.
pub const DEFAULT_REQUEST_WINDOW_SECS: u64 = 300;
/// The accepted range of [`Settings::request_window_secs`].
pub const REQUEST_WINDOW_SECS_RANGE: RangeInclusive<u64> = 5..=3600;
/// Default for [`Settings::log`].
pub const DEFAULT_LOG: &str = "info";
/// Default for [`Settings::login_attempts_per_hour`].
pub const DEFAULT_LOGIN_ATTEMPTS_PER_HOUR: u32 = 10;
/// The environment variable naming the config file (the `--config` flag wins).
pub const CONFIG_ENV: &str = "LEXVAULT_CONFIG";

/// The server's resolved and validated settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Address and port to listen on (`--listen`, `LEXVAULT_LISTEN`,
    /// `listen`); default [`DEFAULT_LISTEN`].
    pub listen: SocketAddr,
    /// Directory of the metadata database and the ciphertext blobs
    /// (`--data-dir`, `LEXVAULT_DATA_DIR`, `data_dir`); default
    /// [`DEFAULT_DATA_DIR`]. It exists as a directory or its parent does;
    /// loading does not create it.
    pub data_dir: PathBuf,
    /// Largest accepted upload in bytes, never 0 (`--max-upload-bytes`,
    /// `LEXVAULT_MAX_UPLOAD_BYTES`, `max_upload_bytes`; plain bytes or a size
    /// such as `512MiB`, see [`parse_byte_size`]); default
    /// [`DEFAULT_MAX_UPLOAD_BYTES`].
    pub max_upload_bytes: u64,
    /// Allowed clock skew, in seconds, between a signed request's timestamp
    /// and the server's clock (`--request-window-secs`,
    /// `LEXVAULT_REQUEST_WINDOW_SECS`, `request_window_secs`); within
    /// [`REQUEST_WINDOW_SECS_RANGE`], default [`DEFAULT_REQUEST_WINDOW_SECS`].
    pub request_window_secs: u64,
    /// Serve HTTPS with these files, or plain HTTP (for a TLS-terminating
    /// proxy in front) when `None`.
    pub tls: Option<TlsFiles>,
    /// A `tracing` [`EnvFilter`] directive (`--log`, `LEXVAULT_LOG`, `log`);
    /// default [`DEFAULT_LOG`]. Known to parse.
    pub log: String,
    /// Login attempts allowed per account per hour, at least 1
    /// (`--login-attempts-per-hour`, `LEXVAULT_LOGIN_ATTEMPTS_PER_HOUR`,
    /// `login_attempts_per_hour`); default [`DEFAULT_LOGIN_ATTEMPTS_PER_HOUR`].
    pub login_attempts_per_hour: u32,
    /// Directory of the built browser pages, the share-link page and the
    /// portal (`--web-dir`, `LEXVAULT_WEB_DIR`, `web_dir`; `scripts/build-web`
    /// builds it into `target/web`). `None`: the server serves the API
    /// only. It held `link.html` when the settings were loaded.
    pub web_dir: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN,
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            request_window_secs: DEFAULT_REQUEST_WINDOW_SECS,
            tls: None,
            log: DEFAULT_LOG.to_owned(),
            login_attempts_per_hour: DEFAULT_LOGIN_ATTEMPTS_PER_HOUR,
            web_dir: None,
        }
    }
}

/// The PEM files of the server's TLS identity; both existed and were
/// readable when the settings were loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain, leaf first (`--tls-cert`, `LEXVAULT_TLS_CERT`,
    /// `tls_cert`).
    pub cert: PathBuf,
    /// Private key of the leaf certificate, unencrypted PKCS#8, PKCS#1 or
    /// SEC1 (`--tls-key`, `LEXVAULT_TLS_KEY`, `tls_key`).
    pub key: PathBuf,
}

/// What the command line asks the server to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Run the relay server (`serve`, the default when no command is given).
    Serve,
    /// Register the firm's admin identity from a key-bundle file, then exit
    /// (`init-admin --bundle <FILE>`).
    InitAdmin {
        /// The key-bundle file, as given (not yet read).
        bundle: PathBuf,
    },
}

/// Where a setting's value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// The built-in default of the setting with this config-file key.
    Default(&'static str),
    /// A command-line flag, such as `--listen`.
    Flag(&'static str),
    /// An environment variable, such as `LEXVAULT_LISTEN`.
    Env(&'static str),
    /// A key of the config file.
    File {
        /// The config file.
        path: PathBuf,
        /// The key, such as `listen`.
        key: &'static str,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default(key) => write!(f, "the default {key}"),
            Self::Flag(flag) => write!(f, "flag {flag}"),
            Self::Env(name) => write!(f, "environment variable {name}"),
            Self::File { path, key } => {
                write!(f, "key `{key}` in config file {}", path.display())
            }
        }
    }
}

/// Why the settings could not be loaded. Each variant names the source at
/// fault and says how to fix it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The command line did not parse, or asked for `--help` or `--version`.
    /// Its message is clap's own; `main` should call [`clap::Error::exit`],
    /// which prints it and exits with clap's code (0 for help and version).
    #[error(transparent)]
    Cli(#[from] clap::Error),
    /// The config file could not be read or is not valid.
    #[error("config file {} (named by {origin}): {problem}; {fix}", path.display())]
    ConfigFile {
        /// The config file.
        path: PathBuf,
        /// Where its path came from (`--config` or `LEXVAULT_CONFIG`).
        origin: Origin,
        /// What is wrong.
        problem: String,
        /// How to fix it.
        fix: String,
    },
    /// A setting has an invalid value.
    #[error("{origin} is {value:?}: {problem}; {fix}")]
    Invalid {
        /// Where the value came from.
        origin: Origin,
        /// The value as given.
        value: String,
        /// What is wrong with it.
        problem: String,
        /// How to fix it.
        fix: String,
    },
    /// Only one of the TLS certificate and private key was given.
    #[error(
        "TLS needs both a certificate and a private key, but only the {given_what} was given \
         ({given}); {fix}"
    )]
    TlsIncomplete {
        /// `certificate` or `private key`.
        given_what: &'static str,
        /// Where the one that was given came from.
        given: Origin,
        /// How to fix it.
        fix: String,
    },
}

/// Parses a byte size: plain bytes (`5368709120`), or a whole number with a
/// unit, case-insensitive and optionally spaced: `B`; binary `KiB`, `MiB`,
/// `GiB`, `TiB`; decimal `KB`, `MB`, `GB`, `TB`. `None` if it is not one,
/// or overflows `u64`.
///
/// ```
/// use lexvault_server::config::parse_byte_size;
///
/// assert_eq!(parse_byte_size("5GiB"), Some(5 << 30));
/// assert_eq!(parse_byte_size("512 MiB"), Some(512 << 20));
/// assert_eq!(parse_byte_size("2MB"), Some(2_000_000));
/// assert_eq!(parse_byte_size("1.5GiB"), None);
/// ```
pub fn parse_byte_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at_checked(digits_end)?;
    if digits.is_empty() {
        return None;
    }
    let number: u64 = digits.parse().ok()?;
    let multiplier: u64 = match unit.trim_start().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        _ => return None,
    };
    number.checked_mul(multiplier)
}

/// Loads the command and settings of this process: [`load_from`] over
/// [`std::env::args_os`] and [`std::env::var`] (a variable that is not
/// UTF-8 counts as unset).
///
/// # Errors
///
/// As [`load_from`].
pub fn load() -> Result<(Command, Settings), ConfigError> {
    load_from(std::env::args_os(), &|name| std::env::var(name).ok())
}

/// Parses the command line `args` (program name first), reads the config
/// file if one is named, reads the environment through `env`, and returns
/// the command and the validated settings.
///
/// # Errors
///
/// [`ConfigError::Cli`] for a command line that does not parse and for
/// `--help` and `--version`; otherwise the first invalid value, naming its
/// flag, variable or file key.
pub fn load_from(
    args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Command, Settings), ConfigError> {
    let cli = Cli::try_parse_from(args)?;
    let command = match cli.command {
        None | Some(CliCommand::Serve) => Command::Serve,
        Some(CliCommand::InitAdmin { bundle }) => Command::InitAdmin { bundle },
    };
    // An empty variable counts as unset, so that `LEXVAULT_TLS_CERT=` in a
    // unit file or container spec turns a setting off.
    let env = |name: &str| env(name).filter(|value| !value.is_empty());

    let config_path = match cli.config {
        Some(path) => Some((path, Origin::Flag("--config"))),
        None => env(CONFIG_ENV).map(|path| (PathBuf::from(path), Origin::Env(CONFIG_ENV))),
    };
    let file = match config_path {
        Some((path, origin)) => ConfigFile::read(path, origin)?,
        None => ConfigFile::default(),
    };

    let layers = |key: &'static Key, from_file: Option<toml::Value>, flag: Option<String>| {
        Ok::<_, ConfigError>([
            file.layer(key, from_file)?,
            env(key.env).map(|value| (Origin::Env(key.env), Raw::Text(value))),
            flag.map(|value| (Origin::Flag(key.flag), Raw::Text(value))),
        ])
    };
    let values = file.values.clone();
    let mut settings = Settings::default();

    if let Some(listen) = resolve(layers(&LISTEN, values.listen, cli.listen)?, parse_listen)? {
        settings.listen = listen.value;
    }
    let data_dir = resolve(
        layers(&DATA_DIR, values.data_dir, cli.data_dir)?,
        parse_path,
    )?
    .map(|dir| file.anchor(dir))
    .unwrap_or_else(|| Sourced {
        value: PathBuf::from(DEFAULT_DATA_DIR),
        origin: Origin::Default(DATA_DIR.file),
    });
    check_data_dir(&data_dir)?;
    settings.data_dir = data_dir.value;
    if let Some(max) = resolve(
        layers(
            &MAX_UPLOAD_BYTES,
            values.max_upload_bytes,
            cli.max_upload_bytes,
        )?,
        parse_max_upload_bytes,
    )? {
        settings.max_upload_bytes = max.value;
    }
    if let Some(window) = resolve(
        layers(
            &REQUEST_WINDOW_SECS,
            values.request_window_secs,
            cli.request_window_secs,
        )?,
        parse_request_window,
    )? {
        settings.request_window_secs = window.value;
    }
    if let Some(log) = resolve(layers(&LOG, values.log, cli.log)?, parse_log)? {
        settings.log = log.value;
    }
    if let Some(attempts) = resolve(
        layers(
            &LOGIN_ATTEMPTS_PER_HOUR,
            values.login_attempts_per_hour,
            cli.login_attempts_per_hour,
        )?,
        parse_login_attempts,
    )? {
        settings.login_attempts_per_hour = attempts.value;
    }
    if let Some(web_dir) = resolve(layers(&WEB_DIR, values.web_dir, cli.web_dir)?, parse_path)? {
        let web_dir = file.anchor(web_dir);
        check_web_dir(&web_dir)?;
        settings.web_dir = Some(web_dir.value);
    }

    let cert = resolve(
        layers(&TLS_CERT, values.tls_cert, cli.tls_cert)?,
        parse_path,
    )?
    .map(|cert| file.anchor(cert));
    let key = resolve(layers(&TLS_KEY, values.tls_key, cli.tls_key)?, parse_path)?
        .map(|key| file.anchor(key));
    settings.tls = match (cert, key) {
        (None, None) => None,
        (Some(cert), None) => {
            return Err(ConfigError::TlsIncomplete {
                given_what: "certificate",
                given: cert.origin,
                fix: format!(
                    "give the private key too with {}, or remove the certificate to serve \
                     plain HTTP",
                    TLS_KEY.everywhere()
                ),
            });
        }
        (None, Some(key)) => {
            return Err(ConfigError::TlsIncomplete {
                given_what: "private key",
                given: key.origin,
                fix: format!(
                    "give the certificate chain too with {}, or remove the key to serve \
                     plain HTTP",
                    TLS_CERT.everywhere()
                ),
            });
        }
        (Some(cert), Some(key)) => {
            check_readable_file(&cert)?;
            check_readable_file(&key)?;
            Some(TlsFiles {
                cert: cert.value,
                key: key.value,
            })
        }
    };
    Ok((command, settings))
}

/// The examples that end `-h` and `--help`.
macro_rules! help_examples {
    () => {
        "\
Settings come from, lowest to highest precedence: built-in defaults, the config
file (--config or LEXVAULT_CONFIG), LEXVAULT_* environment variables, flags.

Examples:
  # Plain HTTP on loopback, behind a TLS-terminating reverse proxy
  lexvault-server --data-dir /var/lib/lexvault

  # HTTPS on every interface
  lexvault-server --listen 0.0.0.0:8443 --data-dir /var/lib/lexvault \\
      --tls-cert /etc/lexvault/cert.pem --tls-key /etc/lexvault/key.pem

  # Register the firm's admin identity once, before the first start
  lexvault-server --data-dir /var/lib/lexvault init-admin --bundle admin.bundle"
    };
}

const HELP_SHORT: &str = concat!(
    help_examples!(),
    "\n\nSee --help for a config file example."
);

const HELP_LONG: &str = concat!(
    help_examples!(),
    "\
\n
Config file (TOML, same names in snake_case; relative paths are relative to
the file), e.g. /etc/lexvault/server.toml used with --config:
  listen = \"0.0.0.0:8443\"
  data_dir = \"/var/lib/lexvault\"
  max_upload_bytes = \"5GiB\"
  request_window_secs = 300
  tls_cert = \"cert.pem\"
  tls_key = \"key.pem\"
  log = \"info,lexvault_server=debug\"
  login_attempts_per_hour = 10
  web_dir = \"/usr/share/lexvault/web\""
);

/// lexvault's zero-knowledge relay server: it stores and relays only
/// ciphertext, wrapped keys and signed records.
#[derive(Debug, Parser)]
#[command(
    name = "lexvault-server",
    version,
    after_help = HELP_SHORT,
    after_long_help = HELP_LONG,
)]
struct Cli {
    #[command(subcommand)]
    command: Option<CliCommand>,

    /// TOML config file to read settings from [env: LEXVAULT_CONFIG]
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,

    /// Address and port to listen on [env: LEXVAULT_LISTEN] [default: 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR:PORT", global = true)]
    listen: Option<String>,

    /// Directory for the database and the ciphertext [env: LEXVAULT_DATA_DIR] [default: ./lexvault-data]
    #[arg(long, value_name = "DIR", global = true)]
    data_dir: Option<String>,

    /// Largest upload, in bytes or with a unit such as 512MiB or 5GiB [env: LEXVAULT_MAX_UPLOAD_BYTES] [default: 5GiB]
    #[arg(long, value_name = "SIZE", global = true)]
    max_upload_bytes: Option<String>,

    /// Allowed clock skew of signed requests, 5 to 3600 seconds [env: LEXVAULT_REQUEST_WINDOW_SECS] [default: 300]
    #[arg(long, value_name = "SECONDS", global = true)]
    request_window_secs: Option<String>,

    /// PEM certificate chain for HTTPS; needs --tls-key [env: LEXVAULT_TLS_CERT]
    #[arg(long, value_name = "FILE", global = true)]
    tls_cert: Option<String>,

    /// PEM private key for HTTPS; needs --tls-cert [env: LEXVAULT_TLS_KEY]
    #[arg(long, value_name = "FILE", global = true)]
    tls_key: Option<String>,

    /// Log filter, such as info or warn,lexvault_server=debug [env: LEXVAULT_LOG] [default: info]
    #[arg(long, value_name = "FILTER", global = true)]
    log: Option<String>,

    /// Login attempts allowed per account per hour [env: LEXVAULT_LOGIN_ATTEMPTS_PER_HOUR] [default: 10]
    #[arg(long, value_name = "N", global = true)]
    login_attempts_per_hour: Option<String>,

    /// Directory of the built browser pages (scripts/build-web makes target/web) [env: LEXVAULT_WEB_DIR] [default: none, API only]
    #[arg(long, value_name = "DIR", global = true)]
    web_dir: Option<String>,
}

#[derive(Debug, Subcommand)]
enum CliCommand {
    /// Run the relay server (the default when no command is given)
    Serve,
    /// Register the firm's admin identity from a key-bundle file, then exit
    InitAdmin {
        /// The admin's key-bundle file, as exported by the `lexvault` client
        #[arg(long, value_name = "FILE")]
        bundle: PathBuf,
    },
}

/// One setting's names at each level.
struct Key {
    file: &'static str,
    env: &'static str,
    flag: &'static str,
}

impl Key {
    /// Every way to set it, for messages.
    fn everywhere(&self) -> String {
        format!(
            "{}, {} or `{}` in the config file",
            self.flag, self.env, self.file
        )
    }
}

const LISTEN: Key = Key {
    file: "listen",
    env: "LEXVAULT_LISTEN",
    flag: "--listen",
};
const DATA_DIR: Key = Key {
    file: "data_dir",
    env: "LEXVAULT_DATA_DIR",
    flag: "--data-dir",
};
const MAX_UPLOAD_BYTES: Key = Key {
    file: "max_upload_bytes",
    env: "LEXVAULT_MAX_UPLOAD_BYTES",
    flag: "--max-upload-bytes",
};
const REQUEST_WINDOW_SECS: Key = Key {
    file: "request_window_secs",
    env: "LEXVAULT_REQUEST_WINDOW_SECS",
    flag: "--request-window-secs",
};
const TLS_CERT: Key = Key {
    file: "tls_cert",
    env: "LEXVAULT_TLS_CERT",
    flag: "--tls-cert",
};
const TLS_KEY: Key = Key {
    file: "tls_key",
    env: "LEXVAULT_TLS_KEY",
    flag: "--tls-key",
};
const LOG: Key = Key {
    file: "log",
    env: "LEXVAULT_LOG",
    flag: "--log",
};
const LOGIN_ATTEMPTS_PER_HOUR: Key = Key {
    file: "login_attempts_per_hour",
    env: "LEXVAULT_LOGIN_ATTEMPTS_PER_HOUR",
    flag: "--login-attempts-per-hour",
};
const WEB_DIR: Key = Key {
    file: "web_dir",
    env: "LEXVAULT_WEB_DIR",
    flag: "--web-dir",
};

/// The config file's keys; values are checked per setting, so that an
/// error names the key.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileValues {
    listen: Option<toml::Value>,
    data_dir: Option<toml::Value>,
    max_upload_bytes: Option<toml::Value>,
    request_window_secs: Option<toml::Value>,
    tls_cert: Option<toml::Value>,
    tls_key: Option<toml::Value>,
    log: Option<toml::Value>,
    login_attempts_per_hour: Option<toml::Value>,
    web_dir: Option<toml::Value>,
}

/// The config file, if any, and its values.
#[derive(Default)]
struct ConfigFile {
    path: Option<PathBuf>,
    values: FileValues,
}

impl ConfigFile {
    fn read(path: PathBuf, origin: Origin) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) => {
                return Err(ConfigError::ConfigFile {
                    problem: format!("cannot read it: {error}"),
                    fix: format!(
                        "check the path and its permissions, or unset {origin} to run \
                         without a config file"
                    ),
                    path,
                    origin,
                });
            }
        };
        match toml::from_str::<FileValues>(&text) {
            Ok(values) => Ok(Self {
                path: Some(path),
                values,
            }),
            Err(error) => {
                let line = error.span().map(|span| {
                    let before = text.get(..span.start).unwrap_or_default();
                    before.matches('\n').count() + 1
                });
                let problem = match line {
                    Some(line) => format!("line {line}: {}", error.message()),
                    None => error.message().to_owned(),
                };
                let fix = if error.message().starts_with("unknown field") {
                    "remove or rename that key; the keys are listen, data_dir, \
                     max_upload_bytes, request_window_secs, tls_cert, tls_key, log and \
                     login_attempts_per_hour"
                } else {
                    "fix the TOML (see the example in `lexvault-server --help`)"
                };
                Err(ConfigError::ConfigFile {
                    problem,
                    fix: fix.to_owned(),
                    path,
                    origin,
                })
            }
        }
    }

    /// The file's value for `key` as a layer.
    fn layer(
        &self,
        key: &'static Key,
        value: Option<toml::Value>,
    ) -> Result<Option<(Origin, Raw)>, ConfigError> {
        let (Some(path), Some(value)) = (&self.path, value) else {
            return Ok(None);
        };
        let origin = Origin::File {
            path: path.clone(),
            key: key.file,
        };
        let raw = match value {
            toml::Value::String(text) => Raw::Text(text),
            toml::Value::Integer(number) => Raw::Integer(number),
            other => {
                return Err(ConfigError::Invalid {
                    origin,
                    value: other.to_string(),
                    problem: format!("a value of type {} is not allowed here", other.type_str()),
                    fix: "give a string (in quotes) or, for numbers, an integer".to_owned(),
                });
            }
        };
        Ok(Some((origin, raw)))
    }

    /// Makes a relative path from the config file relative to the file's
    /// directory.
    fn anchor(&self, path: Sourced<PathBuf>) -> Sourced<PathBuf> {
        match (&path.origin, &self.path) {
            (Origin::File { .. }, Some(file)) if path.value.is_relative() => {
                let base = file.parent().unwrap_or(Path::new(""));
                Sourced {
                    value: base.join(&path.value),
                    origin: path.origin,
                }
            }
            _ => path,
        }
    }
}

/// A value as given, before parsing.
enum Raw {
    Text(String),
    Integer(i64),
}

impl fmt::Display for Raw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Text(text) => f.write_str(text),
            Self::Integer(number) => write!(f, "{number}"),
        }
    }
}

/// A parsed value and where it came from.
struct Sourced<T> {
    value: T,
    origin: Origin,
}

/// What is wrong with a value, and how to fix it.
struct Problem {
    problem: String,
    fix: String,
}

impl Problem {
    fn new(problem: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

/// Parses every given layer (file, environment, flag) and keeps the last.
fn resolve<T>(
    layers: [Option<(Origin, Raw)>; 3],
    parse: fn(&Raw) -> Result<T, Problem>,
) -> Result<Option<Sourced<T>>, ConfigError> {
    let mut winner = None;
    for (origin, raw) in layers.into_iter().flatten() {
        match parse(&raw) {
            Ok(value) => winner = Some(Sourced { value, origin }),
            Err(Problem { problem, fix }) => {
                return Err(ConfigError::Invalid {
                    origin,
                    value: raw.to_string(),
                    problem,
                    fix,
                });
            }
        }
    }
    Ok(winner)
}

fn text(raw: &Raw, fix: &str) -> Result<String, Problem> {
    match raw {
        Raw::Text(text) if text.trim().is_empty() => Err(Problem::new("it is empty", fix)),
        Raw::Text(text) => Ok(text.clone()),
        Raw::Integer(_) => Err(Problem::new(
            "a string is expected, not a number",
            format!("put it in quotes; {fix}"),
        )),
    }
}

fn integer(raw: &Raw, fix: &str) -> Result<i128, Problem> {
    match raw {
        Raw::Integer(number) => Ok(i128::from(*number)),
        Raw::Text(text) => text
            .trim()
            .parse::<i128>()
            .map_err(|_| Problem::new("it is not a whole number", fix)),
    }
}

fn parse_listen(raw: &Raw) -> Result<SocketAddr, Problem> {
    const FIX: &str = "give an IP address and a port, such as 127.0.0.1:8080 or [::]:8443";
    text(raw, FIX)?
        .trim()
        .parse()
        .map_err(|_| Problem::new("it is not an IP address and port", FIX))
}

fn parse_path(raw: &Raw) -> Result<PathBuf, Problem> {
    text(raw, "give a file or directory path").map(PathBuf::from)
}

fn parse_max_upload_bytes(raw: &Raw) -> Result<u64, Problem> {
    const FIX: &str = "give a positive size in bytes or with a unit, such as 5368709120, \
                       512MiB or 5GiB (units B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)";
    let bytes = match raw {
        Raw::Integer(number) => u64::try_from(*number).ok(),
        Raw::Text(text) => parse_byte_size(text),
    };
    match bytes {
        Some(0) => Err(Problem::new("uploads cannot be limited to 0 bytes", FIX)),
        Some(bytes) => Ok(bytes),
        None => Err(Problem::new("it is not a byte size", FIX)),
    }
}

fn parse_request_window(raw: &Raw) -> Result<u64, Problem> {
    let fix = format!(
        "give a number of seconds from {} to {} (default {DEFAULT_REQUEST_WINDOW_SECS})",
        REQUEST_WINDOW_SECS_RANGE.start(),
        REQUEST_WINDOW_SECS_RANGE.end()
    );
    let seconds = integer(raw, &fix)?;
    u64::try_from(seconds)
        .ok()
        .filter(|seconds| REQUEST_WINDOW_SECS_RANGE.contains(seconds))
        .ok_or_else(|| Problem::new("it is out of range", fix))
}

fn parse_log(raw: &Raw) -> Result<String, Problem> {
    const FIX: &str = "give a tracing filter such as info, warn or info,lexvault_server=debug";
    let directive = text(raw, FIX)?;
    match EnvFilter::builder().parse(&directive) {
        Ok(_) => Ok(directive),
        Err(error) => Err(Problem::new(
            format!("it is not a log filter ({error})"),
            FIX,
        )),
    }
}

fn parse_login_attempts(raw: &Raw) -> Result<u32, Problem> {
    let fix =
        format!("give a whole number of at least 1 (default {DEFAULT_LOGIN_ATTEMPTS_PER_HOUR})");
    let attempts = integer(raw, &fix)?;
    u32::try_from(attempts)
        .ok()
        .filter(|attempts| *attempts >= 1)
        .ok_or_else(|| Problem::new("it is out of range", fix))
}

fn invalid(path: &Sourced<PathBuf>, problem: String, fix: String) -> ConfigError {
    ConfigError::Invalid {
        origin: path.origin.clone(),
        value: path.value.display().to_string(),
        problem,
        fix,
    }
}

/// The data directory exists as a directory, or its parent does so that the
/// server can create it.
fn check_data_dir(dir: &Sourced<PathBuf>) -> Result<(), ConfigError> {
    let choose_another = format!("or choose another directory with {}", DATA_DIR.everywhere());
    match std::fs::metadata(&dir.value) {
        Ok(metadata) if metadata.is_dir() => Ok(()),
        Ok(_) => Err(invalid(
            dir,
            "it exists but is not a directory".to_owned(),
            format!("move that file away {choose_another}"),
        )),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let parent = dir
                .value
                .parent()
                .filter(|parent| !parent.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            match std::fs::metadata(parent) {
                Ok(metadata) if metadata.is_dir() => Ok(()),
                Ok(_) => Err(invalid(
                    dir,
                    format!("its parent {} is not a directory", parent.display()),
                    format!("fix the path {choose_another}"),
                )),
                Err(error) => Err(invalid(
                    dir,
                    format!(
                        "it does not exist and its parent directory {} cannot be used ({error})",
                        parent.display()
                    ),
                    format!(
                        "create the directory first (mkdir -p {}) {choose_another}",
                        dir.value.display()
                    ),
                )),
            }
        }
        Err(error) => Err(invalid(
            dir,
            format!("it cannot be inspected ({error})"),
            format!("check the permissions of its parent directories {choose_another}"),
        )),
    }
}

/// The file exists, is a regular file, and can be opened for reading.
/// The browser pages' directory must hold a built share-link page.
fn check_web_dir(dir: &Sourced<PathBuf>) -> Result<(), ConfigError> {
    let page = dir.value.join("link.html");
    if page.is_file() {
        return Ok(());
    }
    Err(invalid(
        dir,
        format!(
            "it holds no built browser pages ({} is missing)",
            page.display()
        ),
        format!(
            "build them with scripts/build-web (into target/web), or leave {} unset to serve \
             the API only",
            WEB_DIR.everywhere()
        ),
    ))
}

fn check_readable_file(file: &Sourced<PathBuf>) -> Result<(), ConfigError> {
    const FIX: &str = "give the path of a readable PEM file, or fix its permissions";
    match std::fs::metadata(&file.value) {
        Ok(metadata) if metadata.is_dir() => Err(invalid(
            file,
            "it is a directory, not a file".to_owned(),
            FIX.to_owned(),
        )),
        Ok(_) => match std::fs::File::open(&file.value) {
            Ok(_) => Ok(()),
            Err(error) => Err(invalid(
                file,
                format!("it cannot be read ({error})"),
                FIX.to_owned(),
            )),
        },
        Err(error) => Err(invalid(
            file,
            format!("it cannot be read ({error})"),
            FIX.to_owned(),
        )),
    }
}
