//! `cargo bench -p lexvault-tests --bench browser_decrypt`: decrypting a
//! document in headless Chromium, lexvault's wasm (the share-link page's
//! own modules: ChaCha20-Poly1305 per chunk plus both SHA-256 checks)
//! beside npm's `libsodium-wrappers` secretstream on the same plaintext in
//! the same page (`tests/browser/bench.mjs`). The document is uploaded with
//! the real CLI to the real server and opened through a real share link.
//!
//! `LEXVAULT_BENCH_MIB` (default 256) sets the size and
//! `LEXVAULT_BENCH_RUNS` (default 5) the alternating runs; medians are
//! printed in MB/s (10^6 bytes per second).
//! Needs what the browser tests need: `scripts/build-web`, `npm ci` in
//! `tests/browser`, and Chromium.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use lexvault_tests::browser::{Firm, node};
use serde_json::{Value, json};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    }
}

fn main() {
    let mib = env_or("LEXVAULT_BENCH_MIB", 256);
    let runs = env_or("LEXVAULT_BENCH_RUNS", 5);
    let firm = Firm::new();
    let size = usize::try_from(mib << 20).unwrap();
    let bytes = lexvault_tests::browser::document_bytes(size, 9);
    let document = firm.put("bench.bin", &bytes);
    drop(bytes);
    let url = firm.link(&document, &[], None);
    let report = node("bench.mjs", &json!({ "url": url, "runs": runs }));
    let size = report["size"].as_f64().unwrap();
    let rate = |ms: &Value| size / 1e6 / (ms.as_f64().unwrap() / 1e3);
    let ours: Vec<f64> = report["lexvault"]
        .as_array()
        .unwrap()
        .iter()
        .map(rate)
        .collect();
    let sodium: Vec<f64> = report["libsodium"]
        .as_array()
        .unwrap()
        .iter()
        .map(rate)
        .collect();
    println!("in-browser decryption of {mib} MiB, {runs} alternating runs (MB/s)");
    println!("  lexvault wasm (verify + decrypt): {ours:.0?}");
    println!("  libsodium-wrappers secretstream:  {sodium:.0?}");
    let (a, b) = (median(&ours), median(&sodium));
    println!(
        "  medians: lexvault {a:.0} MB/s, libsodium {b:.0} MB/s, ratio {:.2}x",
        a / b
    );
}
