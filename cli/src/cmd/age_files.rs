//! The standalone age commands: `keygen`, `encrypt`, `decrypt`. Their
//! output is standard age, which stock `age` and `rage` read too.

use std::fs::{self, File};
use std::io::{self, BufReader, Read};
use std::path::Path;

use lexvault_client::client::os_rng;
use lexvault_core::age::{self, ArmoredWriter, Decryptor, Identity, Recipients};
use lexvault_core::keys::{EncryptionPublicKey, EncryptionSecretKey};
use lexvault_core::secret::FileKey;

use super::{Failure, with_output};

/// `lexvault keygen`.
pub fn keygen(output: Option<&Path>) -> Result<(), Failure> {
    let key = EncryptionSecretKey::generate(&mut os_rng());
    let recipient = key.public_key();
    let identity = key.to_age_identity();
    eprintln!("Public key: {recipient}");
    with_output(output, |out| {
        writeln!(out, "# created by lexvault {}", env!("CARGO_PKG_VERSION"))?;
        writeln!(out, "# public key: {recipient}")?;
        writeln!(out, "{}", identity.expose_secret())
    })
}

/// `lexvault encrypt`.
pub fn encrypt(
    recipients: &[String],
    armor: bool,
    output: Option<&Path>,
    input: Option<&Path>,
) -> Result<(), Failure> {
    let recipients = recipients
        .iter()
        .map(|r| {
            r.parse::<EncryptionPublicKey>()
                .map_err(|e| Failure::new(format!("recipient '{r}': {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut input = open_input(input)?;
    let mut rng = os_rng();
    let file_key = FileKey::generate(&mut rng);
    with_output(output, |out| {
        let to_io = |e: age::EncryptError| io::Error::other(e.to_string());
        if armor {
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

/// `lexvault decrypt`.
pub fn decrypt(
    identity: &Path,
    output: Option<&Path>,
    input: Option<&Path>,
) -> Result<(), Failure> {
    let keys = read_identity_file(identity)?;
    let identities: Vec<Identity<'_>> = keys.iter().map(Identity::from).collect();
    let input = open_input(input)?;
    let decryptor = Decryptor::new(BufReader::new(input))
        .map_err(|e| Failure::new(format!("cannot read the age file: {e}")))?;
    let mut reader = decryptor.decrypt(&identities).map_err(|e| {
        Failure::new(format!(
            "cannot decrypt: {e}; check that the identity file matches a recipient"
        ))
    })?;
    with_output(output, |out| io::copy(&mut reader, out).map(|_| ()))
}

pub fn read_identity_file(path: &Path) -> Result<Vec<EncryptionSecretKey>, Failure> {
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

pub fn open_input(path: Option<&Path>) -> Result<Box<dyn Read>, Failure> {
    match path {
        None => Ok(Box::new(io::stdin().lock())),
        Some(p) if p == Path::new("-") => Ok(Box::new(io::stdin().lock())),
        Some(p) => File::open(p)
            .map(|f| Box::new(f) as Box<dyn Read>)
            .map_err(|e| Failure::new(format!("cannot open {}: {e}", p.display()))),
    }
}
