//! `lexvault`: the firm's and the auditor's command-line client.
//!
//! Every command is a thin shell over the client library
//! (`lexvault_client`) and the crypto core: it parses arguments, reads the
//! password, and prints what happened for people or, with `--json`, for
//! scripts.

mod cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use cmd::Failure;
use cmd::profile::{HOME_ENV, PasswordSource, Profile};
use cmd::vault::Context;

const AFTER_HELP: &str = "\
EXAMPLES:
    lexvault --server https://vault.firm.example init --name \"Ada Attorney\"
    lexvault register --login ada
    lexvault --server https://vault.firm.example login ada        (on a new device)
    lexvault matter create
    lexvault put 3f2a…(matter) settlement.pdf --share 9c1e…(client's key):view,download
    lexvault ls 3f2a…
    lexvault get 7b9d…(document) -o settlement.pdf
    lexvault grant 3f2a… --to 9c1e… --document 7b9d… --rights view --until 30d
    lexvault revoke 3f2a… 51c0…(grant)
    lexvault rekey 7b9d…
    lexvault export 7b9d… -o settlement.pdf.age      (then: age -d -i key.txt …)
    lexvault link create 7b9d… --expires 48h --max-downloads 2 --passphrase
    lexvault link open 'https://vault.firm.example/l/5e…#v1.…'
    lexvault log 3f2a…

PASSWORD: typed at a prompt; for automation set LEXVAULT_PASSWORD or pass
--password-fd N (one line is read from that descriptor).

EXIT CODES: 0 success, 1 failure (the message says what to do), 2 usage error.";

/// lexvault — end-to-end encrypted document vault (command-line client).
#[derive(Debug, Parser)]
#[command(name = "lexvault", version, after_help = AFTER_HELP)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct Global {
    /// Profile directory (default: the platform's config directory).
    #[arg(long, global = true, env = HOME_ENV, value_name = "DIR")]
    home: Option<PathBuf>,
    /// Server address, e.g. https://vault.firm.example (remembered).
    #[arg(long, global = true, env = "LEXVAULT_SERVER", value_name = "URL")]
    server: Option<String>,
    /// Print results as JSON, one value per command, for scripts.
    #[arg(long, global = true)]
    json: bool,
    /// Read the password from this file descriptor instead of prompting.
    #[arg(long, global = true, value_name = "N")]
    password_fd: Option<u32>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create an identity on this machine, sealed under a password.
    Init {
        /// Your name as others will see it.
        #[arg(long)]
        name: String,
        /// Argon2id memory for sealing, in MiB (default 64; at least 19).
        #[arg(long, value_name = "MIB")]
        argon2_memory_mib: Option<u32>,
        /// Replace an existing identity.
        #[arg(long)]
        force: bool,
    },
    /// Publish your key bundle to the server.
    Register {
        /// Also enable password login on new devices under this name.
        #[arg(long, value_name = "NAME")]
        login: Option<String>,
    },
    /// Sign in on a new device with your login name and password.
    Login {
        /// The login name chosen at `register --login`.
        name: String,
        /// Replace an identity already on this machine.
        #[arg(long)]
        force: bool,
    },
    /// Install a sealed identity copied from another machine.
    Unlock {
        /// The file `lexvault whoami --backup` wrote.
        #[arg(long, value_name = "FILE")]
        backup: PathBuf,
    },
    /// Show your identity: name, fingerprint, key, age recipient.
    Whoami {
        /// Also write your public key bundle here (for `lexvault-server init-admin`).
        #[arg(long, value_name = "FILE")]
        bundle: Option<PathBuf>,
        /// Also write a copy of your sealed identity here (for `lexvault unlock`).
        #[arg(long, value_name = "FILE")]
        backup: Option<PathBuf>,
        /// Also write your AGE-SECRET-KEY-1… identity here (owner-only), for
        /// decrypting exports with stock age or rage. Guard this file.
        #[arg(long, value_name = "FILE")]
        age_identity: Option<PathBuf>,
    },
    /// Show the fingerprint of a published identity (yours without KEY).
    Fingerprint {
        /// The identity's key (64 hex digits).
        key: Option<String>,
    },
    /// Firm membership (administrator).
    #[command(subcommand)]
    Member(MemberCommand),
    /// Matters.
    #[command(subcommand)]
    Matter(MatterCommand),
    /// Encrypt and upload a document (or a new version of one).
    Put {
        /// The matter id.
        matter: String,
        /// The file to upload.
        file: PathBuf,
        /// Upload a new version of this document.
        #[arg(long, value_name = "DOCUMENT")]
        document: Option<String>,
        /// The document's name (default: the file's name).
        #[arg(long)]
        name: Option<String>,
        /// The document's MIME type.
        #[arg(long, default_value = "application/octet-stream")]
        mime: String,
        /// Share with KEY, optionally with rights (KEY:view,download). Repeatable.
        #[arg(long, value_name = "KEY[:RIGHTS]")]
        share: Vec<String>,
        /// How long shares last, e.g. 48h or 30d (default: until revoked).
        #[arg(long, value_name = "DURATION")]
        until: Option<String>,
    },
    /// List the documents of a matter you may see.
    Ls {
        /// The matter id.
        matter: String,
    },
    /// Download, verify and decrypt a document; run again to resume.
    Get {
        /// The document id.
        document: String,
        /// Where to save it (default: its name, in this directory).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Grant rights over a matter or one document.
    Grant {
        /// The matter id.
        matter: String,
        /// The grantee's key (64 hex digits).
        #[arg(long, value_name = "KEY")]
        to: String,
        /// Only this document (default: the whole matter).
        #[arg(long)]
        document: Option<String>,
        /// view, download, upload, share, sign or all (comma-separated).
        #[arg(long, default_value = "view,download")]
        rights: String,
        /// How long the grant lasts, e.g. 48h or 30d (default: until revoked).
        #[arg(long, value_name = "DURATION")]
        until: Option<String>,
    },
    /// Revoke a grant (its digest from `matter members`).
    Revoke {
        /// The matter id.
        matter: String,
        /// The grant's digest (64 hex digits).
        grant: String,
    },
    /// Re-encrypt the latest version under a fresh key for the grantees in force.
    Rekey {
        /// The document id.
        document: String,
    },
    /// Export a document as a standard age file for your own key.
    Export {
        /// The document id.
        document: String,
        /// The age file to write.
        #[arg(short, long)]
        output: PathBuf,
        /// Write ASCII armor.
        #[arg(short, long)]
        armor: bool,
    },
    /// Import an age file encrypted to your recipient as a new document.
    Import {
        /// The matter id.
        matter: String,
        /// The age file.
        file: PathBuf,
        /// The document's name (default: the file's name without .age).
        #[arg(long)]
        name: Option<String>,
    },
    /// Share links: anonymous, limited, optionally passphrase-protected.
    #[command(subcommand)]
    Link(LinkCommand),
    /// Check the log: consistency with what this device saw, a warning for
    /// every key bound to your display or login name that is not yours, and
    /// a matter's events with who did what.
    Log {
        /// The matter id (omit to only check the log).
        matter: Option<String>,
    },
    /// Export the firm's access log (administrator), or verify an export offline.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Create a standalone age identity (not a vault identity).
    Keygen {
        /// Write the identity here instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Encrypt a file to age recipients (standard age output).
    Encrypt {
        /// An age1… recipient. Repeatable.
        #[arg(short, long = "recipient", required = true)]
        recipients: Vec<String>,
        /// Write ASCII armor.
        #[arg(short, long)]
        armor: bool,
        /// Write here instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// The input (default: stdin).
        input: Option<PathBuf>,
    },
    /// Decrypt an age file with an identity file.
    Decrypt {
        /// A file of AGE-SECRET-KEY-1… lines.
        #[arg(short, long, required = true)]
        identity: PathBuf,
        /// Write here instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// The input (default: stdin).
        input: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum MemberCommand {
    /// Certify a registered person as a member of staff.
    Certify {
        /// Their key (64 hex digits).
        key: String,
        /// attorney, paralegal or administrator.
        #[arg(long)]
        role: String,
    },
}

#[derive(Debug, Subcommand)]
enum LinkCommand {
    /// Create a share link to a document's latest version.
    Create {
        /// The document id.
        document: String,
        /// How long the link works, e.g. 48h or 7d (at most 90d).
        #[arg(long, default_value = "48h")]
        expires: String,
        /// How many times it may be opened.
        #[arg(long, value_name = "N")]
        max_downloads: Option<u32>,
        /// Protect it with a passphrase (prompted, or LEXVAULT_LINK_PASSPHRASE).
        #[arg(long)]
        passphrase: bool,
        /// The first browser or device to open it keeps it; a forwarded link opens nothing.
        #[arg(long)]
        claim_once: bool,
    },
    /// List a matter's links and their state.
    List {
        /// The matter id.
        matter: String,
    },
    /// Revoke a link (and its grant).
    Revoke {
        /// The matter id.
        matter: String,
        /// The link id.
        link: String,
    },
    /// Open a share link you received, and save the document.
    Open {
        /// The whole link, including the part after '#'.
        url: String,
        /// Where to save it (default: its name, in this directory).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Export the whole log with its records to a file (administrator).
    Export {
        /// The audit bundle to write.
        #[arg(short, long)]
        output: PathBuf,
        /// Also include this signed checkpoint (e.g. from a client). Repeatable.
        #[arg(long, value_name = "FILE")]
        checkpoint: Vec<PathBuf>,
    },
    /// Verify an audit bundle offline; exits 1 on any violation.
    Verify {
        /// The audit bundle.
        file: PathBuf,
        /// The log key to pin (default: the bundle's own, with a warning).
        #[arg(long, value_name = "KEY")]
        log_key: Option<String>,
        /// A witness verifier key whose cosignatures count. Repeatable.
        #[arg(long, value_name = "KEY")]
        witness: Vec<String>,
        /// How many distinct witnesses must cosign each checkpoint.
        #[arg(long, value_name = "K")]
        quorum: Option<usize>,
        /// A receipt a client kept (raw bytes), checked against the history. Repeatable.
        #[arg(long, value_name = "FILE")]
        receipt: Vec<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum MatterCommand {
    /// Create a matter.
    Create,
    /// List your matters.
    List,
    /// Show a matter's grants and who holds them.
    Members {
        /// The matter id.
        matter: String,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    match run(cli) {
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

fn run(cli: Cli) -> Result<(), Failure> {
    use cmd::{age_files, links, vault};
    // The standalone age commands need no profile.
    match &cli.command {
        Command::Keygen { output } => return age_files::keygen(output.as_deref()),
        Command::Encrypt {
            recipients,
            armor,
            output,
            input,
        } => return age_files::encrypt(recipients, *armor, output.as_deref(), input.as_deref()),
        Command::Decrypt {
            identity,
            output,
            input,
        } => return age_files::decrypt(identity, output.as_deref(), input.as_deref()),
        _ => {}
    }
    let mut ctx = Context {
        profile: Profile::locate(cli.global.home.as_deref())?,
        server: cli.global.server,
        password: PasswordSource {
            fd: cli.global.password_fd,
        },
        json: cli.global.json,
    };
    match cli.command {
        Command::Init {
            name,
            argon2_memory_mib,
            force,
        } => vault::init(&mut ctx, &name, argon2_memory_mib, force),
        Command::Register { login } => vault::register(&mut ctx, login.as_deref()),
        Command::Login { name, force } => vault::login(&mut ctx, &name, force),
        Command::Unlock { backup } => vault::unlock(&mut ctx, &backup),
        Command::Whoami {
            bundle,
            backup,
            age_identity,
        } => vault::whoami(
            &ctx,
            bundle.as_deref(),
            backup.as_deref(),
            age_identity.as_deref(),
        ),
        Command::Fingerprint { key } => vault::fingerprint(&ctx, key.as_deref()),
        Command::Member(MemberCommand::Certify { key, role }) => vault::certify(&ctx, &key, &role),
        Command::Matter(MatterCommand::Create) => vault::matter_create(&ctx),
        Command::Matter(MatterCommand::List) => vault::matter_list(&ctx),
        Command::Matter(MatterCommand::Members { matter }) => vault::matter_members(&ctx, &matter),
        Command::Put {
            matter,
            file,
            document,
            name,
            mime,
            share,
            until,
        } => vault::put(
            &ctx,
            &matter,
            &file,
            document.as_deref(),
            name.as_deref(),
            &mime,
            &share,
            until.as_deref(),
        ),
        Command::Ls { matter } => vault::ls(&ctx, &matter),
        Command::Get { document, output } => vault::get(&ctx, &document, output.as_deref()),
        Command::Grant {
            matter,
            to,
            document,
            rights,
            until,
        } => vault::grant(
            &ctx,
            &matter,
            &to,
            document.as_deref(),
            &rights,
            until.as_deref(),
        ),
        Command::Revoke { matter, grant } => vault::revoke(&ctx, &matter, &grant),
        Command::Rekey { document } => vault::rekey(&ctx, &document),
        Command::Export {
            document,
            output,
            armor,
        } => vault::export(&ctx, &document, &output, armor),
        Command::Import { matter, file, name } => {
            vault::import(&ctx, &matter, &file, name.as_deref())
        }
        Command::Log { matter } => vault::log(&ctx, matter.as_deref()),
        Command::Link(LinkCommand::Create {
            document,
            expires,
            max_downloads,
            passphrase,
            claim_once,
        }) => links::create(
            &ctx,
            &document,
            &expires,
            max_downloads,
            passphrase,
            claim_once,
        ),
        Command::Link(LinkCommand::List { matter }) => links::list(&ctx, &matter),
        Command::Link(LinkCommand::Revoke { matter, link }) => links::revoke(&ctx, &matter, &link),
        Command::Link(LinkCommand::Open { url, output }) => {
            links::open(&ctx, &url, output.as_deref())
        }
        Command::Audit(AuditCommand::Export { output, checkpoint }) => {
            cmd::audit::export(&ctx, &output, &checkpoint)
        }
        Command::Audit(AuditCommand::Verify {
            file,
            log_key,
            witness,
            quorum,
            receipt,
        }) => cmd::audit::verify(
            &ctx,
            &file,
            &cmd::audit::VerifyArgs {
                log_key,
                witnesses: witness,
                quorum,
                receipts: receipt,
            },
        ),
        Command::Keygen { .. } | Command::Encrypt { .. } | Command::Decrypt { .. } => Ok(()),
    }
}
