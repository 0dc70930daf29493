//! `cargo bench -p lexvault-tests --bench browser_decrypt`: decrypting a
//! document in headless Chromium, lexvault's wasm (the share-link page's
//! own modules: ChaCha20-Poly1305 per chunk in wasm on the page's
//! decryption workers, both segmented SHA-256 digests with the browser's
//! `crypto.subtle`, checked in wasm; the same on the page's own thread; and
//! the wasm decryption alone, the same work as libsodium's pull)
//! beside npm's `libsodium-wrappers` secretstream on the same plaintext in
//! the same page (`tests/browser/bench.mjs`). The document is uploaded with
//! the real CLI to the real server and opened through a real share link.
//!
//! `LEXVAULT_BENCH_MIB` (default 256) sets the size and
//! `LEXVAULT_BENCH_RUNS` (default 5) the alternating runs; medians are
//! printed in MB/s (10^6 bytes per second). Then a document of
//! `LEXVAULT_BENCH_STREAM_MIB` (default 1024; 0 skips it) is saved through
//! the link page as a recipient saves it, and the browser's resident
//! memory is sampled while it streams.
//! Needs what the browser tests need: `scripts/build-web`, `npm ci` in
//! `tests/browser`, and Chromium.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use lexvault_tests::browser::{Firm, document_bytes, node};
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
    let bytes = document_bytes(size, 9);
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
    let one_thread: Vec<f64> = report["oneThread"]
        .as_array()
        .unwrap()
        .iter()
        .map(rate)
        .collect();
    let alone: Vec<f64> = report["decryptOnly"]
        .as_array()
        .unwrap()
        .iter()
        .map(rate)
        .collect();
    let workers = &report["workers"];
    println!("in-browser decryption of {mib} MiB, {runs} alternating runs (MB/s)");
    println!("  lexvault (decrypt + verify, {workers} workers): {ours:.0?}");
    println!("  libsodium-wrappers secretstream:      {sodium:.0?}");
    println!("  lexvault on the page's thread alone:  {one_thread:.0?}");
    println!("  lexvault wasm decryption, no digests: {alone:.0?}");
    let (a, b, c, d) = (
        median(&ours),
        median(&sodium),
        median(&one_thread),
        median(&alone),
    );
    println!(
        "  medians: lexvault {a:.0} MB/s, libsodium {b:.0} MB/s, ratio {:.2}x; \
         on one thread {c:.0} MB/s, ratio {:.2}x; decryption alone {d:.0} MB/s, ratio {:.2}x",
        a / b,
        c / b,
        d / b
    );

    // Saving a large document through the page, as a recipient does: the
    // browser's memory while it streams.
    let stream_mib = env_or("LEXVAULT_BENCH_STREAM_MIB", 1024);
    if stream_mib == 0 {
        return;
    }
    let large = document_bytes(usize::try_from(stream_mib << 20).unwrap(), 10);
    let document = firm.put("large.bin", &large);
    drop(large);
    let url = firm.link(&document, &[], None);
    let report = node("bench.mjs", &json!({ "url": url, "mode": "stream" }));
    assert_eq!(
        report["done"], true,
        "the page saved the document: {report}"
    );
    let mib = |v: &Value| v.as_f64().unwrap() / f64::from(1u32 << 20);
    println!(
        "saving {stream_mib} MiB through the link page: {:.1} s; all Chromium processes' resident \
         memory {:.0} MiB before, {:.0} MiB at the peak (+{:.0} MiB)",
        report["seconds"].as_f64().unwrap(),
        mib(&report["baseline"]),
        mib(&report["peak"]),
        mib(&report["peak"]) - mib(&report["baseline"]),
    );
}
