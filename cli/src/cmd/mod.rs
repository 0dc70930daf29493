//! The commands of the `lexvault` binary, as thin shells over the client
//! library (`lexvault_client`) and the core.

pub mod age_files;
pub mod audit;
pub mod links;
pub mod profile;
pub mod vault;

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// A failure to report: the message says what went wrong and what to do.
#[derive(Debug)]
pub struct Failure {
    /// The message.
    pub message: String,
    /// Whether it is a usage error (exit code 2) rather than a failure (1).
    pub usage: bool,
}

impl Failure {
    /// A usage error.
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            usage: true,
        }
    }

    /// A failure.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            usage: false,
        }
    }
}

impl From<lexvault_client::client::ClientError> for Failure {
    fn from(e: lexvault_client::client::ClientError) -> Self {
        Self::new(e.to_string())
    }
}

/// Creates a new file readable only by its owner: outputs are identity
/// files and decrypted privileged documents.
pub fn create_private(path: &Path) -> io::Result<File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Runs `write` against stdout or against a temporary file beside `path`
/// that is renamed into place only when `write` succeeds.
pub fn with_output(
    path: Option<&Path>,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), Failure> {
    let Some(path) = path else {
        let stdout = io::stdout();
        let mut lock = stdout.lock();
        return write(&mut lock)
            .and_then(|()| lock.flush())
            .map_err(|e| Failure::new(e.to_string()));
    };
    let mut temp_name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    temp_name.push(".lexvault-partial");
    let temp = path.with_file_name(temp_name);
    let result = create_private(&temp).and_then(|mut file| {
        write(&mut file)?;
        file.sync_all()?;
        fs::rename(&temp, path)
    });
    result.map_err(|e| {
        let _ = fs::remove_file(&temp);
        Failure::new(format!("{}: {e}; nothing was written", path.display()))
    })
}
