//! `lexvault`: the firm's and the auditor's command-line client.
//!
//! Until the server milestone lands, the client offers the age-compatible
//! commands of the crypto core: it generates identities and encrypts and
//! decrypts standard age files, which stock `age` and `rage` read too. The
//! vault commands (`init`, `put`, `get`, `grant`, …) build on these.

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use lexvault_core::age::{self, ArmoredWriter, Decryptor, Identity, Recipients};
use lexvault_core::keys::{EncryptionPublicKey, EncryptionSecretKey};
use lexvault_core::secret::FileKey;
use rand_core::UnwrapErr;

const USAGE: &str = "\
lexvault — end-to-end encrypted document vault (command-line client)

USAGE:
    lexvault keygen [-o FILE]
    lexvault encrypt -r RECIPIENT [-r RECIPIENT ...] [-a] [-o OUTPUT] [INPUT]
    lexvault decrypt -i IDENTITY_FILE [-o OUTPUT] [INPUT]

COMMANDS:
    keygen    Create an identity: prints its age1… recipient on stderr and
              writes the AGE-SECRET-KEY-1… identity to FILE (or stdout).
    encrypt   Encrypt INPUT (or stdin) to age1… recipients as an age file.
    decrypt   Decrypt an age file (binary or armored) with an identity file.

OPTIONS:
    -r, --recipient   An age1… recipient (repeatable).
    -i, --identity    A file of AGE-SECRET-KEY-1… lines ('#' lines ignored).
    -a, --armor       Write the ASCII-armored form.
    -o, --output      Write here instead of stdout. The file appears only
                      when the command succeeds; nothing partial is left.

EXAMPLES:
    lexvault keygen -o client.key
    lexvault encrypt -r age1... -o settlement.pdf.age settlement.pdf
    lexvault decrypt -i client.key -o settlement.pdf settlement.pdf.age

EXIT CODES: 0 success, 1 failure (see the message), 2 usage error.";

/// A failure to report: the message says what went wrong and what to do.
struct Failure {
    message: String,
    usage: bool,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            usage: true,
        }
    }
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            usage: false,
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("lexvault: {}", failure.message);
            if failure.usage {
                eprintln!("Run 'lexvault --help' for usage.");
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

#[derive(Default)]
struct Options {
    recipients: Vec<String>,
    identity: Option<PathBuf>,
    output: Option<PathBuf>,
    armor: bool,
    input: Option<PathBuf>,
}

fn parse_options(args: &[String]) -> Result<Options, Failure> {
    let mut options = Options::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| Failure::usage(format!("{name} needs a value")))
        };
        match arg.as_str() {
            "-r" | "--recipient" => options.recipients.push(value(arg)?),
            "-i" | "--identity" => options.identity = Some(value(arg)?.into()),
            "-o" | "--output" => options.output = Some(value(arg)?.into()),
            "-a" | "--armor" => options.armor = true,
            flag if flag.starts_with('-') && flag != "-" => {
                return Err(Failure::usage(format!("unknown option {flag}")));
            }
            path => {
                if options.input.replace(path.into()).is_some() {
                    return Err(Failure::usage("give at most one input file"));
                }
            }
        }
    }
    Ok(options)
}

fn run(args: &[String]) -> Result<(), Failure> {
    let Some((command, rest)) = args.split_first() else {
        println!("{USAGE}");
        return Ok(());
    };
    match command.as_str() {
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        "-V" | "--version" => {
            println!("lexvault {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        "keygen" => keygen(parse_options(rest)?),
        "encrypt" => encrypt(parse_options(rest)?),
        "decrypt" => decrypt(parse_options(rest)?),
        other => Err(Failure::usage(format!("unknown command '{other}'"))),
    }
}

fn rng() -> UnwrapErr<getrandom::SysRng> {
    UnwrapErr(getrandom::SysRng)
}

fn keygen(options: Options) -> Result<(), Failure> {
    let key = EncryptionSecretKey::generate(&mut rng());
    let recipient = key.public_key();
    let identity = key.to_age_identity();
    eprintln!("Public key: {recipient}");
    with_output(options.output.as_deref(), |out| {
        writeln!(out, "# created by lexvault {}", env!("CARGO_PKG_VERSION"))?;
        writeln!(out, "# public key: {recipient}")?;
        writeln!(out, "{}", identity.expose_secret())
    })
}

fn encrypt(options: Options) -> Result<(), Failure> {
    if options.recipients.is_empty() {
        return Err(Failure::usage(
            "encrypt needs at least one -r age1… recipient",
        ));
    }
    let recipients = options
        .recipients
        .iter()
        .map(|r| {
            r.parse::<EncryptionPublicKey>()
                .map_err(|e| Failure::new(format!("recipient '{r}': {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut input = open_input(options.input.as_deref())?;
    let mut rng = rng();
    let file_key = FileKey::generate(&mut rng);
    with_output(options.output.as_deref(), |out| {
        let to_io = |e: age::EncryptError| io::Error::other(e.to_string());
        if options.armor {
            let armored = ArmoredWriter::new(out);
            let mut writer = age::encrypt(
                &file_key,
                Recipients::X25519(&recipients),
                armored,
                &mut rng,
            )
            .map_err(to_io)?;
            io::copy(&mut input, &mut writer)?;
            writer.finish()?.finish()?;
        } else {
            let mut writer =
                age::encrypt(&file_key, Recipients::X25519(&recipients), out, &mut rng)
                    .map_err(to_io)?;
            io::copy(&mut input, &mut writer)?;
            writer.finish()?;
        }
        Ok(())
    })
}

fn decrypt(options: Options) -> Result<(), Failure> {
    let Some(identity_path) = options.identity.as_deref() else {
        return Err(Failure::usage("decrypt needs -i IDENTITY_FILE"));
    };
    let keys = read_identity_file(identity_path)?;
    let identities: Vec<Identity<'_>> = keys.iter().map(Identity::from).collect();
    let input = open_input(options.input.as_deref())?;
    let decryptor = Decryptor::new(BufReader::new(input))
        .map_err(|e| Failure::new(format!("cannot read the age file: {e}")))?;
    let mut reader = decryptor.decrypt(&identities).map_err(|e| {
        Failure::new(format!(
            "cannot decrypt: {e}; check that the identity file matches a recipient"
        ))
    })?;
    with_output(options.output.as_deref(), |out| {
        io::copy(&mut reader, out).map(|_| ())
    })
}

fn read_identity_file(path: &Path) -> Result<Vec<EncryptionSecretKey>, Failure> {
    let text = fs::read_to_string(path)
        .map_err(|e| Failure::new(format!("cannot read identity file {}: {e}", path.display())))?;
    let keys = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .enumerate()
        .map(|(n, line)| {
            EncryptionSecretKey::from_age_identity(line).map_err(|e| {
                Failure::new(format!(
                    "identity file {}, key {}: {e}",
                    path.display(),
                    n + 1
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if keys.is_empty() {
        return Err(Failure::new(format!(
            "identity file {} holds no AGE-SECRET-KEY-1… line; create one with 'lexvault keygen'",
            path.display()
        )));
    }
    Ok(keys)
}

fn open_input(path: Option<&Path>) -> Result<Box<dyn Read>, Failure> {
    match path {
        None => Ok(Box::new(io::stdin().lock())),
        Some(p) if p == Path::new("-") => Ok(Box::new(io::stdin().lock())),
        Some(p) => File::open(p)
            .map(|f| Box::new(f) as Box<dyn Read>)
            .map_err(|e| Failure::new(format!("cannot open {}: {e}", p.display()))),
    }
}

/// Creates a new file readable only by its owner: outputs are identity
/// files and decrypted privileged documents.
fn create_private(path: &Path) -> io::Result<File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Runs `write` against stdout or against a temporary file beside `path`
/// that is renamed into place only when `write` succeeds.
fn with_output(
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
