//! `lexvault audit export|verify`, and the log monitor's check after every
//! command that talks to the server.

use std::fs;
use std::path::{Path, PathBuf};

use lexvault_client::audit::{self, AuditBundle, VerifyOptions};
use lexvault_client::log::{self, LogError, LogMonitor, LogState};
use lexvault_client::vault::Vault;
use lexvault_core::checkpoint::WitnessKey;
use serde_json::json;

use super::Failure;
use super::profile::write_private;
use super::vault::Context;

/// The profile file that keeps the pinned log key and newest checkpoint.
pub const LOG_STATE_FILE: &str = "log.state";

fn state_path(ctx: &Context) -> PathBuf {
    ctx.profile.dir().join(LOG_STATE_FILE)
}

/// Loads the profile's log state (empty on first use).
pub fn load_state(ctx: &Context) -> Result<LogState, Failure> {
    let path = state_path(ctx);
    match fs::read_to_string(&path) {
        Ok(text) => LogState::from_toml(&text).map_err(|e| Failure::new(e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(LogState::default()),
        Err(e) => Err(Failure::new(format!("cannot read {}: {e}", path.display()))),
    }
}

/// Saves the profile's log state.
pub fn save_state(ctx: &Context, state: &LogState) -> Result<(), Failure> {
    let text = state.to_toml().map_err(|e| Failure::new(e.to_string()))?;
    write_private(&state_path(ctx), text.as_bytes())
}

fn log_failure(e: &LogError) -> Failure {
    Failure::new(match e {
        LogError::Fork { .. } => format!("refusing to continue: {e}"),
        _ => format!("the server's log receipts do not verify: {e}"),
    })
}

/// Verifies every receipt `vault`'s client collected, against the
/// profile's pinned log state, and saves the advanced state. Call after
/// each command that talked to the server; a fork is a hard failure that
/// prints both signed checkpoints.
pub fn after_call(ctx: &Context, vault: &Vault) -> Result<(), Failure> {
    let receipts = vault.client().take_receipts();
    let result = vault.log().update(|state| {
        LogMonitor::check_receipts(
            vault.client(),
            vault.identity().signing_key(),
            state,
            receipts,
        )
    });
    // Whatever verified before a failure stays pinned, binding proofs'
    // checkpoints included.
    save_state(ctx, &vault.log().snapshot())?;
    result.map_err(|e| log_failure(&e))?;
    // The receipts verified: the chain position they moved to is kept.
    let me = vault.identity().public().signing;
    if let Some(position) = vault.client().held_position(&me) {
        ctx.profile
            .save_chain_position(vault.client().base_url(), position)?;
    }
    Ok(())
}

/// `lexvault audit export -o FILE [--checkpoint FILE]…` (administrator).
pub fn export(ctx: &Context, output: &Path, checkpoints: &[PathBuf]) -> Result<(), Failure> {
    let mut extra = Vec::new();
    for path in checkpoints {
        extra.push(
            fs::read_to_string(path)
                .map_err(|e| Failure::new(format!("cannot read {}: {e}", path.display())))?,
        );
    }
    let vault = ctx.vault()?;
    let result = vault.log().update(|state| {
        audit::export(vault.client(), vault.identity().signing_key(), state, extra)
    });
    after_call(ctx, &vault)?;
    let bundle = result.map_err(|e| match e {
        audit::AuditError::Log(e) => log_failure(&e),
        e => Failure::new(e.to_string()),
    })?;
    write_private(output, &bundle.to_bytes())?;
    ctx.emit(
        &format!(
            "exported {} entries and {} records to {}",
            bundle.entries.len(),
            bundle.records.len(),
            output.display()
        ),
        &json!({
            "entries": bundle.entries.len(),
            "records": bundle.records.len(),
            "checkpoints": bundle.checkpoints.len(),
            "log_key": bundle.verifier_key,
            "file": output.display().to_string(),
        }),
    );
    Ok(())
}

/// The options of `lexvault audit verify`.
#[derive(Debug, Default)]
pub struct VerifyArgs {
    /// The pinned log key string.
    pub log_key: Option<String>,
    /// Witness verifier key strings.
    pub witnesses: Vec<String>,
    /// The witness quorum.
    pub quorum: Option<usize>,
    /// Files of raw receipt bytes.
    pub receipts: Vec<PathBuf>,
}

/// `lexvault audit verify FILE …`: offline, no server. Fails (exit 1) on
/// any violation.
pub fn verify(ctx: &Context, file: &Path, args: &VerifyArgs) -> Result<(), Failure> {
    let read = |path: &Path| {
        fs::read(path).map_err(|e| Failure::new(format!("cannot read {}: {e}", path.display())))
    };
    let bundle = AuditBundle::from_bytes(&read(file)?)
        .map_err(|e| Failure::new(format!("{}: {e}", file.display())))?;
    let log_key = args
        .log_key
        .as_deref()
        .map(log::parse_log_key)
        .transpose()
        .map_err(|e| Failure::usage(format!("--log-key: {e}")))?;
    let witnesses = args
        .witnesses
        .iter()
        .map(|w| {
            w.parse::<WitnessKey>()
                .map_err(|e| Failure::usage(format!("--witness {w}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if args.quorum.is_some() && witnesses.is_empty() {
        return Err(Failure::usage("--quorum needs at least one --witness"));
    }
    if args.quorum.is_some_and(|q| q == 0 || q > witnesses.len()) {
        return Err(Failure::usage(
            "--quorum must be between 1 and the number of witnesses",
        ));
    }
    let receipts = args
        .receipts
        .iter()
        .map(|p| read(p))
        .collect::<Result<Vec<_>, _>>()?;
    let options = VerifyOptions {
        log_key,
        witnesses,
        quorum: args.quorum,
        receipts,
        threads: 0,
    };
    let report = audit::verify(&bundle, &options);
    ctx.emit(&report.to_string(), &report.to_json());
    if report.is_clean() {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "the audit found {} violations",
            report.violations.len()
        )))
    }
}
