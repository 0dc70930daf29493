//! The auditor's benchmark: `cargo bench -p lexvault-tests --bench audit`.
//!
//! Builds a synthetic firm history of a million log entries through the
//! real core APIs (`lexvault_tests::synthetic_log::firm_history`: real keys,
//! signed requests as evidence, matters, grants and sub-grants,
//! revocations, uploads, views, downloads and share links, with signed
//! checkpoints at every tenth of the log), caches it in the target
//! directory, checks that `lexvault_client::audit::verify` reports it
//! clean, then times `verify_with` (the median of several runs) with
//! strict one-by-one and with batch signature verification, on one thread
//! and on all of the machine's, and samples the process's peak resident
//! memory (`VmHWM`, reset before each run) and the CPU time it used (the
//! machine may be shared: CPU time says what the verification cost when
//! wall time includes waiting for a core). The results go
//! to standard output as a markdown table. See `docs/benchmarks.md`.
//!
//! Environment knobs: `LEXVAULT_BENCH_AUDIT_ENTRIES` (default 1000000),
//! `LEXVAULT_BENCH_RUNS` (runs per setting, default 3),
//! `LEXVAULT_BENCH_AUDIT_THREADS` (comma-separated thread counts, default
//! 1 and all), `LEXVAULT_BENCH_AUDIT_CHECKS` (`strict`, `batch`; default
//! both),
//! `LEXVAULT_BENCH_AUDIT_REBUILD=1` (build the history again even if
//! cached).

// A benchmark stops at the first thing that goes wrong, loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use lexvault_client::audit::{self, AuditBundle, SignatureCheck, VerifyOptions};
use lexvault_client::log;

fn main() {
    let entries = env_u64("LEXVAULT_BENCH_AUDIT_ENTRIES", 1_000_000);
    let runs = env_u64("LEXVAULT_BENCH_RUNS", 3).max(1);
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace.join("target"), PathBuf::from);
    let cache = target.join(format!("bench-audit-v1-{entries}.bundle"));

    let rebuild = std::env::var_os("LEXVAULT_BENCH_AUDIT_REBUILD").is_some();
    let bytes = match std::fs::read(&cache) {
        Ok(bytes) if !rebuild => {
            println!("history: cached in {}", cache.display());
            bytes
        }
        _ => {
            let started = Instant::now();
            let bundle = lexvault_tests::synthetic_log::firm_history(entries, 0x5eed);
            let bytes = bundle.to_bytes();
            println!(
                "history: built {} entries in {:.1} s, cached in {}",
                bundle.entries.len(),
                started.elapsed().as_secs_f64(),
                cache.display()
            );
            std::fs::write(&cache, &bytes).expect("write the cached history");
            bytes
        }
    };
    let started = Instant::now();
    let bundle = AuditBundle::from_bytes(&bytes).expect("a canonical bundle");
    let decode = started.elapsed();
    drop(bytes);
    let options = |threads| VerifyOptions {
        log_key: Some(log::parse_log_key(&bundle.verifier_key).expect("log key")),
        threads,
        ..VerifyOptions::default()
    };

    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let resident_before = status_kib("VmRSS");
    let mut rows = Vec::new();
    let settings: Vec<usize> = std::env::var("LEXVAULT_BENCH_AUDIT_THREADS")
        .ok()
        .map(|v| v.split(',').filter_map(|t| t.trim().parse().ok()).collect())
        .unwrap_or_else(|| if cores > 1 { vec![1, cores] } else { vec![1] });
    let checks: Vec<SignatureCheck> = match std::env::var("LEXVAULT_BENCH_AUDIT_CHECKS").as_deref()
    {
        Ok("strict") => vec![SignatureCheck::Strict],
        Ok("batch") => vec![SignatureCheck::Batch],
        _ => vec![SignatureCheck::Strict, SignatureCheck::Batch],
    };
    for (threads, check) in settings
        .iter()
        .flat_map(|t| checks.iter().map(move |c| (*t, *c)))
    {
        let mut times = Vec::new();
        let mut peak = 0;
        for _ in 0..runs {
            reset_peak_rss();
            let cpu_before = cpu_seconds();
            let started = Instant::now();
            let report = audit::verify_with(&bundle, &options(threads), check);
            times.push((started.elapsed(), cpu_seconds() - cpu_before));
            peak = peak.max(status_kib("VmHWM"));
            assert!(
                report.is_clean(),
                "the synthetic history must verify clean:\n{}",
                report
                    .violations
                    .iter()
                    .take(20)
                    .map(|v| format!("{v}\n"))
                    .collect::<String>()
            );
            assert_eq!(report.tree_size, bundle.entries.len() as u64);
        }
        times.sort_by_key(|t| t.0);
        let median = times[times.len() / 2];
        rows.push((threads, check, median, peak));
    }

    let n = bundle.entries.len() as f64;
    println!();
    println!(
        "audit verify: {} entries, {} records, {} checkpoints; bundle {:.0} MiB; decode {:.2} s; \
         resident before verify {:.0} MiB; median of {runs} runs",
        bundle.entries.len(),
        bundle.records.len(),
        bundle.checkpoints.len(),
        std::fs::metadata(&cache).map_or(0.0, |m| m.len() as f64 / 1048576.0),
        decode.as_secs_f64(),
        resident_before as f64 / 1024.0,
    );
    println!();
    println!(
        "| signatures | threads | median time | entries/s | CPU time of that run | \
         entries per CPU-second | peak RSS during verify |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (threads, check, median, peak) in &rows {
        let check = match check {
            SignatureCheck::Strict => "strict, one by one",
            _ => "batches (audit::SIGNATURE_BATCH)",
        };
        println!(
            "| {check} | {threads} | {:.2} s | {:.0} | {:.1} s | {:.0} | {:.0} MiB |",
            median.0.as_secs_f64(),
            n / median.0.as_secs_f64().max(1e-9),
            median.1,
            n / median.1.max(1e-9),
            *peak as f64 / 1024.0
        );
    }
    println!();
    println!("machine: {}", machine());
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A field of `/proc/self/status` in KiB (0 where there is none).
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field)?.strip_prefix(':').map(str::to_owned))
        })
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// User and system CPU time of the whole process so far, every thread
/// (exited ones included), from `/proc/self/stat` (clock ticks of 1/100 s).
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the parenthesised command name; utime and stime
            // are the 14th and 15th fields of the line.
            let rest = s.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let utime: f64 = fields.get(11)?.parse().ok()?;
            let stime: f64 = fields.get(12)?.parse().ok()?;
            Some((utime + stime) / 100.0)
        })
        .unwrap_or(0.0)
}

/// Resets `VmHWM` to the current resident size (Linux ≥ 4.0), so the next
/// reading is the peak of what follows.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    format!("{cpu}, {cores} threads")
}
