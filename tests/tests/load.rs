//! A bounded load test on loopback: for `LEXVAULT_LOAD_SECS` seconds
//! (default 60) people work on one matter at the same time — an attorney
//! uploads documents shared with a client, two clients open and download
//! them, a partner grants and revokes access, and another creates share
//! links that strangers open and download. Every operation must succeed,
//! each person's work is verified end to end by the client library, and
//! afterwards the whole log audits clean. Latencies are printed (p50, p99
//! per operation); they are reported, not asserted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::Cursor;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lexvault_client::audit::{self, VerifyOptions};
use lexvault_client::client::{ClientError, now, os_rng};
use lexvault_client::links::{LinkOpener, LinkTerms, create_link};
use lexvault_client::log::{self, LogState};
use lexvault_client::vault::{Share, Vault, decrypt_payload};
use lexvault_core::grant::{Rights, Scope, Validity};
use lexvault_core::manifest::DocumentId;
use lexvault_core::matter::MatterId;
use lexvault_core::membership::Role;
use lexvault_tests::Firm;
use rand_core::Rng as _;

/// What one kind of operation measured.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    errors: Vec<String>,
}

/// The tallies of every operation kind, shared by the workers.
#[derive(Default, Clone)]
struct Tallies(Arc<Mutex<Vec<(&'static str, Tally)>>>);

impl Tallies {
    /// Runs `op`, recording its latency or its error under `kind`.
    fn time<T>(&self, kind: &'static str, op: impl FnOnce() -> Result<T, String>) -> Option<T> {
        let started = Instant::now();
        let result = op();
        let took = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let mut all = self.0.lock().unwrap();
        let index = match all.iter().position(|(k, _)| *k == kind) {
            Some(i) => i,
            None => {
                all.push((kind, Tally::default()));
                all.len() - 1
            }
        };
        let tally = &mut all[index].1;
        match result {
            Ok(value) => {
                tally.latencies_us.push(took);
                Some(value)
            }
            Err(e) => {
                tally.errors.push(e);
                None
            }
        }
    }
}

fn percentile_ms(sorted: &[u64], p: f64) -> f64 {
    let last = sorted.len().saturating_sub(1);
    sorted[((last as f64) * p).round() as usize] as f64 / 1000.0
}

fn text(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// A random small document: 1 to 64 KiB.
fn document_bytes() -> Vec<u8> {
    let mut rng = os_rng();
    let mut bytes = vec![0u8; 1024 + (rng.next_u32() as usize % (63 * 1024))];
    rng.fill_bytes(&mut bytes);
    bytes
}

/// Downloads and verifies the latest version of `doc` as `reader`.
fn download(reader: &Vault, doc: &DocumentId) -> Result<usize, ClientError> {
    let opened = reader.open_latest(doc)?;
    let mut payload = tempfile::tempfile()?;
    reader.fetch_payload(&opened, &mut payload, &mut |_| {})?;
    let mut out = Vec::new();
    decrypt_payload(&opened, &payload, &mut out)?;
    Ok(out.len())
}

fn pick(documents: &Mutex<Vec<DocumentId>>) -> Option<DocumentId> {
    let documents = documents.lock().unwrap();
    let n = documents.len();
    (n > 0).then(|| documents[os_rng().next_u32() as usize % n])
}

#[test]
fn a_minute_of_concurrent_work_succeeds_and_audits_clean() {
    let seconds: u64 = std::env::var("LEXVAULT_LOAD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let firm = Firm::new();
    let lead = firm.member("Lena Lead", Role::Attorney);
    let uploader = firm.member("Ursula Uploader", Role::Paralegal);
    let partner = firm.member("Pat Partner", Role::Attorney);
    let sharer = firm.member("Sam Sharer", Role::Attorney);
    let client = firm.person("Carla Client");
    let expert = firm.person("Eddie Expert");
    let others: Vec<Vault> = (0..3).map(|i| firm.person(&format!("Other {i}"))).collect();
    let matter = lead.create_matter().unwrap();
    let everything = Validity::starting(0);
    for (who, rights) in [
        (&uploader, Rights::ALL),
        (&partner, Rights::ALL),
        (&sharer, Rights::ALL),
        (&expert, Rights::VIEW | Rights::DOWNLOAD),
    ] {
        lead.grant(
            matter.id(),
            Scope::Matter,
            &who.identity().public(),
            rights,
            everything,
        )
        .unwrap();
    }
    let matter_id: MatterId = *matter.id();
    let documents: Arc<Mutex<Vec<DocumentId>>> = Arc::default();
    let tallies = Tallies::default();
    let deadline = Instant::now() + Duration::from_secs(seconds);

    std::thread::scope(|scope| {
        // The paralegal uploads, sharing each document with the client.
        scope.spawn(|| {
            // Each party's copy of the file key is wrapped to them at
            // upload, with a document grant: the client, and those whose
            // matter grants let them read, grant and link it.
            let shares: Vec<Share> = [&client, &expert, &partner, &sharer]
                .into_iter()
                .map(|party| Share {
                    with: party.identity().public(),
                    rights: Rights::VIEW | Rights::DOWNLOAD,
                    validity: everything,
                })
                .collect();
            while Instant::now() < deadline {
                let bytes = document_bytes();
                let uploaded = tallies.time("upload", || {
                    uploader
                        .put(
                            &matter_id,
                            None,
                            "exhibit.pdf",
                            "application/pdf",
                            || Ok(Cursor::new(bytes.clone())),
                            &shares,
                            &mut |_| {},
                        )
                        .map_err(text)
                });
                if let Some((doc, _)) = uploaded {
                    documents.lock().unwrap().push(doc);
                }
            }
        });
        // The client (document grants) and the expert (a matter grant)
        // download what is there.
        for reader in [&client, &expert] {
            let documents = &documents;
            let tallies = &tallies;
            scope.spawn(move || {
                while Instant::now() < deadline {
                    let Some(doc) = pick(documents) else {
                        std::thread::sleep(Duration::from_millis(20));
                        continue;
                    };
                    tallies.time("download", || download(reader, &doc).map_err(text));
                }
            });
        }
        // The partner grants one of the others a view and revokes it.
        scope.spawn(|| {
            let mut turn = 0usize;
            while Instant::now() < deadline {
                let Some(doc) = pick(&documents) else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                let to = others[turn % others.len()].identity().public();
                turn += 1;
                let granted = tallies.time("grant", || {
                    partner
                        .grant(
                            &matter_id,
                            Scope::Document(doc),
                            &to,
                            Rights::VIEW,
                            everything,
                        )
                        .map_err(text)
                });
                if let Some(grant) = granted {
                    tallies.time("revoke", || {
                        partner.revoke(&matter_id, &grant.digest()).map_err(text)
                    });
                }
            }
        });
        // Another attorney makes share links that strangers open.
        scope.spawn(|| {
            while Instant::now() < deadline {
                let Some(doc) = pick(&documents) else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                let terms = LinkTerms {
                    expires_at: now() + 3600,
                    max_opens: Some(2),
                    passphrase: None,
                    claim_once: false,
                };
                let Some(link) = tallies.time("link create", || {
                    create_link(&sharer, &matter_id, &doc, &terms).map_err(text)
                }) else {
                    continue;
                };
                let stranger = firm.server.client();
                tallies.time("link open and download", || {
                    let opener = LinkOpener::new(&stranger, link.id, &link.fragment, None, None)
                        .map_err(text)?;
                    let opened = opener.open().map_err(text)?;
                    let mut scratch = tempfile::tempfile().map_err(text)?;
                    let mut out = Vec::new();
                    opener
                        .download(&opened, &mut scratch, &mut out)
                        .map_err(text)?;
                    Ok(out.len())
                });
            }
        });
    });

    let all = std::mem::take(&mut *tallies.0.lock().unwrap());
    println!("\n{seconds} s of concurrent work on one matter:");
    println!("| operation | done | errors | p50 ms | p99 ms |");
    println!("|---|---:|---:|---:|---:|");
    let mut errors = Vec::new();
    for (kind, tally) in &all {
        let mut latencies = tally.latencies_us.clone();
        latencies.sort_unstable();
        let (p50, p99) = if latencies.is_empty() {
            (0.0, 0.0)
        } else {
            (
                percentile_ms(&latencies, 0.50),
                percentile_ms(&latencies, 0.99),
            )
        };
        println!(
            "| {kind} | {} | {} | {p50:.1} | {p99:.1} |",
            latencies.len(),
            tally.errors.len()
        );
        errors.extend(tally.errors.iter().map(|e| format!("{kind}: {e}")));
    }
    let mut distinct = errors.clone();
    distinct.sort();
    distinct.dedup();
    assert!(errors.is_empty(), "{} errors: {distinct:#?}", errors.len());
    for kind in [
        "upload",
        "download",
        "grant",
        "revoke",
        "link create",
        "link open and download",
    ] {
        let done = all
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(0, |(_, t)| t.latencies_us.len());
        assert!(done > 0, "no {kind} completed");
    }

    // Everything that happened is in the log, and the log audits clean.
    let bundle = audit::export(
        firm.admin.client(),
        firm.admin.identity().signing_key(),
        &mut LogState::default(),
        vec![],
    )
    .unwrap();
    let options = VerifyOptions {
        log_key: Some(log::parse_log_key(&bundle.verifier_key).unwrap()),
        ..VerifyOptions::default()
    };
    let report = audit::verify(&bundle, &options);
    assert!(report.is_clean(), "{report}");
    println!("the log of {} entries audits clean", bundle.entries.len());
}
