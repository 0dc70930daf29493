//! The server benchmark: `cargo bench -p lexvault-tests --bench server`.
//!
//! Runs the real `lexvault-server` binary (built here in release mode) as a
//! separate process on loopback, sets up a firm the way an administrator
//! would, and measures
//!
//! 1. the upload of a large document (1 GiB by default) through the client
//!    library, plaintext generated as it streams;
//! 2. the download of its ciphertext payload as one signed GET read to a
//!    sink (the median of several runs), and once through the verified
//!    client path (`Vault::open_latest` + `fetch_payload` to a file);
//! 3. signed downloads of a small document per second, each one an
//!    authenticated request that appends an event to SQLite, with 1 and 32
//!    concurrent clients;
//! 4. the same downloads from nginx serving the same ciphertext files on
//!    loopback, when `/usr/sbin/nginx` exists, with the lexvault/nginx
//!    ratios;
//!
//! and samples the server's peak resident memory (`VmHWM`) after each phase.
//! The results go to standard output as a table and to
//! `target/bench-server.json`. See `docs/benchmarks.md`.
//!
//! Environment knobs: `LEXVAULT_BENCH_SIZE_MIB` (large document size,
//! default 1024), `LEXVAULT_BENCH_SECS` (seconds per small-document run,
//! default 10), `LEXVAULT_BENCH_RUNS` (large-download repetitions, default
//! 3), `LEXVAULT_BENCH_SMALL_BYTES` (small document plaintext, default 4096),
//! `LEXVAULT_BENCH_SERVER` (a server binary to run instead of building one).

// A benchmark stops at the first thing that goes wrong, loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::fmt::Write as _;
use std::io::{self, BufRead as _, BufReader, Read, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lexvault_client::client::{Client, now, os_rng};
use lexvault_client::vault::{Vault, hex_id};
use lexvault_core::api::{self, Receipt};
use lexvault_core::grant::{Rights, Scope, Validity};
use lexvault_core::key_bundle::KeyBundle;
use lexvault_core::keys::Identity;
use lexvault_core::log_entry::LogEntry;
use lexvault_core::manifest::DocumentId;
use lexvault_core::matter::MatterId;
use lexvault_core::membership::Role;
use lexvault_core::request::{BodyDigest, ChainPosition, SIGNATURE_HEADER};

const MIB: f64 = 1024.0 * 1024.0;
const NGINX: &str = "/usr/sbin/nginx";
/// Client read buffer for payload bodies (the client library's own size).
const READ_BUFFER: usize = 256 * 1024;
const CONCURRENCY: [usize; 2] = [1, 32];

fn main() {
    let size_mib = env_u64("LEXVAULT_BENCH_SIZE_MIB", 1024);
    let secs = env_u64("LEXVAULT_BENCH_SECS", 10);
    let runs = env_u64("LEXVAULT_BENCH_RUNS", 3).max(1);
    let small_bytes = env_u64("LEXVAULT_BENCH_SMALL_BYTES", 4096);
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace.join("target"), PathBuf::from);

    let server_bin = build_server(&workspace, &target);
    let data = tempfile::tempdir().expect("data directory");
    let mut server = LexvaultServer::start(&server_bin, data.path());
    println!(
        "lexvault-server pid {} on {} (data in {})",
        server.child.id(),
        server.url,
        data.path().display()
    );

    let mut report = Report {
        machine: machine(),
        ..Report::default()
    };
    report.param("large_document_mib", size_mib);
    report.param("small_document_bytes", small_bytes);
    report.param("seconds_per_concurrency_run", secs);
    report.param("large_download_runs", runs);
    report.memory("server after setup", server.peak_rss_kib());

    // The firm: an attorney with a matter.
    let attorney = Arc::new(server.firm_attorney());
    let matter = attorney.create_matter().expect("create matter");

    // Phase 1: the large upload.
    let size = size_mib * 1024 * 1024;
    let started = Instant::now();
    let mut sending_since: Option<Instant> = None;
    let (large, _) = attorney
        .put(
            matter.id(),
            None,
            "large.bin",
            "application/octet-stream",
            || Ok(PatternReader::new(size)),
            &[],
            &mut |_| {
                sending_since.get_or_insert_with(Instant::now);
            },
        )
        .expect("large upload");
    let finished = Instant::now();
    let sending = finished - sending_since.expect("the upload sent bytes");
    let large_path = payload_path(&large);
    let large_blob = blob_by_size(data.path(), payload_len(&attorney, &large));
    let ciphertext_len = std::fs::metadata(&large_blob).expect("blob").len();
    report.throughput(
        "upload: encrypt + send (pass 2 of Vault::put)",
        "lexvault",
        ciphertext_len,
        sending,
    );
    report.throughput(
        "upload: whole Vault::put (2 encryption passes)",
        "lexvault",
        ciphertext_len,
        finished - started,
    );
    report.memory("server after large upload", server.peak_rss_kib());

    // Phase 2: the large download, raw signed GET to a sink; nginx
    // alternates with lexvault so that neither enjoys a warmer machine.
    let nginx = Nginx::start(data.path());
    let mut lexvault_runs = Vec::new();
    let mut nginx_runs = Vec::new();
    for _ in 0..runs {
        lexvault_runs.push(timed_get(
            &server.addr,
            &large_path,
            Some(&attorney),
            ciphertext_len,
        ));
        if let Some(nginx) = &nginx {
            nginx_runs.push(timed_get(
                &nginx.addr,
                &nginx.path_of(&large_blob),
                None,
                ciphertext_len,
            ));
        }
    }
    let lexvault_large = report.throughput_median(
        "large download: signed GET to sink",
        "lexvault",
        ciphertext_len,
        lexvault_runs,
    );
    let nginx_large = (!nginx_runs.is_empty()).then(|| {
        report.throughput_median(
            "large download: signed GET to sink",
            "nginx",
            ciphertext_len,
            nginx_runs,
        )
    });
    report.memory("server after large downloads", server.peak_rss_kib());

    // The verified client path once: download to a file, hash, check.
    let started = Instant::now();
    let opened = attorney.open_latest(&large).expect("open large");
    let mut file = tempfile::tempfile().expect("payload file");
    attorney
        .fetch_payload(&opened, &mut file, &mut |_| {})
        .expect("fetch large");
    report.throughput(
        "large download: Vault::open_latest + fetch_payload (to file, verified)",
        "lexvault",
        ciphertext_len,
        started.elapsed(),
    );
    drop(file);
    report.memory("server after verified download", server.peak_rss_kib());

    // Phase 3: small documents per second, each an authenticated GET that
    // appends a download event.
    let (small, _) = attorney
        .put(
            matter.id(),
            None,
            "small.bin",
            "application/octet-stream",
            || Ok(PatternReader::new(small_bytes)),
            &[],
            &mut |_| {},
        )
        .expect("small upload");
    let small_len = payload_len(&attorney, &small);
    let small_blob = blob_by_size(data.path(), small_len);
    let mut ratios = Vec::new();
    ratios.push((
        "large download MiB/s".to_owned(),
        nginx_large.map(|n| lexvault_large / n),
    ));
    // One reader per connection: each download is the next request in its
    // reader's own chain, so one person's requests go one after another.
    let readers = server.readers(
        &attorney,
        matter.id(),
        CONCURRENCY.into_iter().max().unwrap_or(1),
    );
    for clients in CONCURRENCY {
        let lexvault = hammer(
            &server.addr,
            &payload_path(&small),
            &readers[..clients],
            small_len,
            clients,
            Duration::from_secs(secs),
        );
        let lexvault_rate = report.rate("small download", "lexvault", clients, &lexvault);
        let nginx_rate = nginx.as_ref().map(|nginx| {
            let result = hammer(
                &nginx.addr,
                &nginx.path_of(&small_blob),
                &[],
                small_len,
                clients,
                Duration::from_secs(secs),
            );
            report.rate("small download", "nginx", clients, &result)
        });
        ratios.push((
            format!("small download req/s, {clients} client(s)"),
            nginx_rate.map(|n| lexvault_rate / n),
        ));
    }
    report.memory("server after small downloads", server.peak_rss_kib());
    report.memory("bench client process", peak_rss_kib(std::process::id()));
    report.ratios = ratios;
    if nginx.is_none() {
        report.note(format!(
            "nginx comparison skipped: {NGINX} not found (apt-get install nginx)"
        ));
    }

    drop(nginx);
    drop(server);
    report.print();
    let json = target.join("bench-server.json");
    std::fs::write(&json, report.json()).expect("write the JSON report");
    println!("\nwritten to {}", json.display());
}

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a whole number")),
        Err(_) => default,
    }
}

/// Builds the server in release mode (a no-op when it is up to date) and
/// returns the binary's path; `LEXVAULT_BENCH_SERVER` names another binary
/// instead (to measure a candidate change side by side).
fn build_server(workspace: &Path, target: &Path) -> PathBuf {
    if let Some(bin) = std::env::var_os("LEXVAULT_BENCH_SERVER") {
        return PathBuf::from(bin);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet", "-p", "lexvault-server"])
        .current_dir(workspace)
        .status()
        .expect("run cargo build");
    assert!(status.success(), "cargo build -p lexvault-server failed");
    let bin = target.join("release").join("lexvault-server");
    assert!(bin.exists(), "{} is missing after the build", bin.display());
    bin
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

fn wait_for_port(addr: &str, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(addr).is_err() {
        if let Some(status) = child.try_wait().expect("child status") {
            panic!("{what} exited before listening: {status}");
        }
        assert!(Instant::now() < deadline, "{what} did not listen on {addr}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `VmHWM` of a process: its peak resident set, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc status")
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".to_owned(), |k| k.trim().to_owned());
    format!("{cpus} CPUs ({model}), Linux {kernel}")
}

// ---------------------------------------------------------------------
// The processes under test

/// The real server binary, run as its own process; killed when dropped.
struct LexvaultServer {
    child: Child,
    addr: String,
    url: String,
    admin: Option<Identity>,
}

impl LexvaultServer {
    /// Runs `init-admin` with a fresh administrator, then `serve`.
    fn start(bin: &Path, data: &Path) -> Self {
        let admin = Identity::generate(&mut os_rng());
        let bundle = KeyBundle::create(&admin, "Bench Administrator", now()).expect("bundle");
        let bundle_file = data.join("admin.bundle");
        std::fs::write(&bundle_file, bundle.as_bytes()).expect("write bundle");
        let init = Command::new(bin)
            .arg("init-admin")
            .arg("--bundle")
            .arg(&bundle_file)
            .arg("--data-dir")
            .arg(data)
            .args(["--log", "warn"])
            .stdout(Stdio::null())
            .status()
            .expect("run init-admin");
        assert!(init.success(), "init-admin failed");

        let addr = format!("127.0.0.1:{}", free_port());
        let mut child = Command::new(bin)
            .arg("serve")
            .arg("--data-dir")
            .arg(data)
            .args(["--listen", &addr, "--log", "warn"])
            .stdout(Stdio::null())
            .spawn()
            .expect("start lexvault-server");
        wait_for_port(&addr, &mut child, "lexvault-server");
        Self {
            child,
            url: format!("http://{addr}"),
            addr,
            admin: Some(admin),
        }
    }

    /// Registers an attorney and has the administrator certify them.
    fn firm_attorney(&mut self) -> Vault {
        let client = || Client::new(&self.url).expect("server address");
        let admin = Vault::new(client(), self.admin.take().expect("one firm per server"));
        let attorney = Vault::new(client(), Identity::generate(&mut os_rng()));
        let bundle = attorney.register("Bench Attorney").expect("register");
        admin.certify(&bundle, Role::Attorney).expect("certify");
        attorney
    }

    /// `n` registered people, each granted view and download of
    /// `matter` by `attorney`.
    fn readers(&self, attorney: &Vault, matter: &MatterId, n: usize) -> Vec<Arc<Vault>> {
        (0..n)
            .map(|i| {
                let reader = Vault::new(
                    Client::new(&self.url).expect("server address"),
                    Identity::generate(&mut os_rng()),
                );
                reader.register(&format!("Reader {i}")).expect("register");
                attorney
                    .grant(
                        matter,
                        Scope::Matter,
                        &reader.identity().public(),
                        Rights::VIEW | Rights::DOWNLOAD,
                        Validity::new(0, None).expect("an open validity"),
                    )
                    .expect("grant");
                Arc::new(reader)
            })
            .collect()
    }

    fn peak_rss_kib(&self) -> u64 {
        peak_rss_kib(self.child.id())
    }
}

impl Drop for LexvaultServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// nginx serving the server's blob directory, as a static file server with
/// sendfile; killed when dropped.
struct Nginx {
    child: Child,
    addr: String,
    dir: tempfile::TempDir,
}

impl Nginx {
    /// `None` (with a message) when nginx is not installed.
    fn start(data: &Path) -> Option<Self> {
        if !Path::new(NGINX).exists() {
            println!("nginx comparison skipped: {NGINX} not found (apt-get install nginx)");
            return None;
        }
        let dir = tempfile::tempdir().expect("nginx directory");
        let addr = format!("127.0.0.1:{}", free_port());
        let d = dir.path().display();
        // As root, nginx would hand its workers to `nobody`, who cannot read
        // the private data directory: keep them as the current user.
        let user = if is_root() { "user root;\n" } else { "" };
        let blobs = data.join("blobs");
        let conf = format!(
            "{user}daemon off;\nworker_processes 2;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log warn;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  \
             keepalive_requests 100000000;\n  default_type application/octet-stream;\n  \
             client_body_temp_path {d}/client_body;\n  proxy_temp_path {d}/proxy;\n  \
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  \
             scgi_temp_path {d}/scgi;\n  \
             server {{\n    listen {addr};\n    root {};\n  }}\n}}\n",
            blobs.display()
        );
        let conf_file = dir.path().join("nginx.conf");
        std::fs::write(&conf_file, conf).expect("write nginx.conf");
        let mut child = Command::new(NGINX)
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(&conf_file)
            .stdout(Stdio::null())
            .spawn()
            .expect("start nginx");
        wait_for_port(&addr, &mut child, "nginx");
        println!("nginx pid {} on http://{addr}", child.id());
        Some(Self { child, addr, dir })
    }

    fn path_of(&self, blob: &Path) -> String {
        let name = blob.file_name().expect("blob name").to_string_lossy();
        format!("/{name}")
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // `-s stop` has the master stop its workers (SIGTERM); killing the
        // master (SIGKILL) would leave the workers running.
        let stopped = Command::new(NGINX)
            .arg("-p")
            .arg(self.dir.path())
            .arg("-e")
            .arg(self.dir.path().join("error.log"))
            .arg("-c")
            .arg(self.dir.path().join("nginx.conf"))
            .args(["-s", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !stopped {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .map(|u| u.split_whitespace().next() == Some("0"))
        })
        .unwrap_or(false)
}

fn payload_path(document: &DocumentId) -> String {
    format!(
        "/v1/documents/{}/versions/1/payload",
        hex_id(document.as_bytes())
    )
}

fn payload_len(vault: &Vault, document: &DocumentId) -> u64 {
    let opened = vault.open_latest(document).expect("open document");
    opened.manifest.record().terms().payload_len
}

/// The stored blob of that length (the server names blobs at random).
fn blob_by_size(data: &Path, len: u64) -> PathBuf {
    std::fs::read_dir(data.join("blobs"))
        .expect("blob directory")
        .map(|e| e.expect("blob entry").path())
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.len() == len))
        .expect("the document's blob")
}

/// Deterministic plaintext of `len` bytes, generated as it is read.
struct PatternReader {
    left: u64,
    block: Vec<u8>,
    at: usize,
}

impl PatternReader {
    fn new(len: u64) -> Self {
        let block = (0..64 * 1024).map(|i: u32| (i * 31 % 251) as u8).collect();
        Self {
            left: len,
            block,
            at: 0,
        }
    }
}

impl Read for PatternReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf
            .len()
            .min(self.block.len() - self.at)
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        buf[..n].copy_from_slice(&self.block[self.at..self.at + n]);
        self.at = (self.at + n) % self.block.len();
        self.left -= n as u64;
        Ok(n)
    }
}

// ---------------------------------------------------------------------
// The load generator: a minimal HTTP/1.1 keep-alive client, the same for
// lexvault and nginx, so that the client's cost is identical on both sides.

struct HttpConnection {
    addr: String,
    reader: Option<BufReader<TcpStream>>,
    buffer: Vec<u8>,
    /// Who signs, and where their next recorded request goes.
    signer: Option<(Arc<Vault>, ChainPosition)>,
}

impl HttpConnection {
    /// A connection whose requests `signer` signs, if given.
    fn new(addr: &str, signer: Option<Arc<Vault>>) -> Self {
        let signer = signer.map(|vault| {
            let client = vault.client();
            let key = vault.identity().signing_key();
            let position = client
                .held_position(&key.public_key())
                .map_or_else(|| client.sync_chain(key), Ok)
                .expect("the reader's chain head");
            (vault, position)
        });
        Self {
            addr: addr.to_owned(),
            reader: None,
            buffer: vec![0; READ_BUFFER],
            signer,
        }
    }

    /// `GET path`, signed by the connection's signer if it has one; reads
    /// the body to a sink and checks its length, and follows the signer's
    /// chain past the receipt's entry, as a client does.
    fn get(&mut self, path: &str, expected_len: u64) {
        let mut request = format!("GET {path} HTTP/1.1\r\nhost: {}\r\n", self.addr);
        let mut sent = None;
        if let Some((vault, position)) = &self.signer {
            let signed = Client::sign_request(
                "GET",
                path,
                BodyDigest::empty(),
                *position,
                vault.identity().signing_key(),
            )
            .expect("sign request");
            write!(request, "{SIGNATURE_HEADER}: {}\r\n", signed.header_value()).expect("format");
            sent = Some(signed);
        }
        request.push_str("\r\n");
        let reader = match &mut self.reader {
            Some(reader) => reader,
            None => {
                let stream = TcpStream::connect(&self.addr).expect("connect");
                stream.set_nodelay(true).expect("nodelay");
                self.reader
                    .insert(BufReader::with_capacity(64 * 1024, stream))
            }
        };
        reader
            .get_mut()
            .write_all(request.as_bytes())
            .expect("send request");

        let mut line = String::new();
        reader.read_line(&mut line).expect("status line");
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {line:?}"));
        let mut len = None;
        let mut close = false;
        loop {
            line.clear();
            reader.read_line(&mut line).expect("header line");
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').expect("header");
            if name.eq_ignore_ascii_case(api::RECEIPT_HEADER)
                && let (Some(sent), Some((vault, position))) = (&sent, &mut self.signer)
            {
                let receipt: Receipt = URL_SAFE_NO_PAD
                    .decode(value.trim())
                    .ok()
                    .and_then(|bytes| api::decode(&bytes).ok())
                    .expect("a receipt");
                let entry = LogEntry::from_bytes(&receipt.entry).expect("a log entry");
                *position = sent.request().position().next(entry.leaf_hash());
                // The vault's own calls continue from here.
                vault.client().hold_position(sent.signer(), *position);
            } else if name.eq_ignore_ascii_case("content-length") {
                len = Some(value.trim().parse::<u64>().expect("content-length"));
            } else if name.eq_ignore_ascii_case("connection") {
                close = value.trim().eq_ignore_ascii_case("close");
            }
        }
        let len = len.expect("a content-length");
        let mut left = len;
        while left > 0 {
            let want = self
                .buffer
                .len()
                .min(usize::try_from(left).unwrap_or(usize::MAX));
            let n = reader.read(&mut self.buffer[..want]).expect("body");
            assert!(n > 0, "the connection closed mid-body");
            left -= n as u64;
        }
        assert!(
            status == 200 && len == expected_len,
            "GET {path}: HTTP {status}, {len} bytes, expected 200 and {expected_len}"
        );
        if close {
            self.reader = None;
        }
    }
}

fn timed_get(addr: &str, path: &str, signer: Option<&Arc<Vault>>, expected_len: u64) -> Duration {
    let mut connection = HttpConnection::new(addr, signer.cloned());
    let started = Instant::now();
    connection.get(path, expected_len);
    started.elapsed()
}

/// What one concurrency run measured.
struct LoadResult {
    requests: u64,
    elapsed: Duration,
    /// Sorted request latencies, in microseconds.
    latencies_us: Vec<u32>,
}

impl LoadResult {
    fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        let last = self.latencies_us.len().saturating_sub(1);
        let at = ((last as f64) * p).round() as usize;
        f64::from(self.latencies_us.get(at).copied().unwrap_or(0)) / 1000.0
    }
}

/// `clients` threads, each with its own connection, each sending GETs one
/// after another for `duration`.
fn hammer(
    addr: &str,
    path: &str,
    signers: &[Arc<Vault>],
    expected_len: u64,
    clients: usize,
    duration: Duration,
) -> LoadResult {
    // One warm-up request per connection, outside the clock. Each
    // connection has a signer of its own (none for nginx).
    let mut connections: Vec<HttpConnection> = (0..clients)
        .map(|i| {
            let mut c = HttpConnection::new(addr, signers.get(i).cloned());
            c.get(path, expected_len);
            c
        })
        .collect();
    let started = Instant::now();
    let deadline = started + duration;
    let threads: Vec<_> = connections
        .drain(..)
        .map(|mut connection| {
            let path = path.to_owned();
            std::thread::spawn(move || {
                let mut latencies = Vec::new();
                loop {
                    let sent = Instant::now();
                    if sent >= deadline {
                        break;
                    }
                    connection.get(&path, expected_len);
                    let took = u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX);
                    latencies.push(took);
                }
                latencies
            })
        })
        .collect();
    let mut latencies_us: Vec<u32> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("client thread"))
        .collect();
    let elapsed = started.elapsed();
    latencies_us.sort_unstable();
    LoadResult {
        requests: latencies_us.len() as u64,
        elapsed,
        latencies_us,
    }
}

// ---------------------------------------------------------------------
// The report

#[derive(Default)]
struct Report {
    machine: String,
    params: Vec<(String, u64)>,
    throughputs: Vec<Throughput>,
    rates: Vec<Rate>,
    memory: Vec<(String, u64)>,
    ratios: Vec<(String, Option<f64>)>,
    notes: Vec<String>,
}

struct Throughput {
    what: String,
    server: String,
    bytes: u64,
    /// Every run's seconds, in run order.
    runs: Vec<f64>,
    median_mib_s: f64,
}

struct Rate {
    what: String,
    server: String,
    clients: usize,
    requests: u64,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

impl Report {
    fn param(&mut self, name: &str, value: u64) {
        self.params.push((name.to_owned(), value));
    }

    fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    fn memory(&mut self, when: &str, kib: u64) {
        println!("peak RSS, {when}: {:.1} MiB", kib as f64 / 1024.0);
        self.memory.push((when.to_owned(), kib));
    }

    fn throughput(&mut self, what: &str, server: &str, bytes: u64, took: Duration) -> f64 {
        self.throughput_median(what, server, bytes, vec![took])
    }

    /// Records the runs and returns the median MiB/s.
    fn throughput_median(
        &mut self,
        what: &str,
        server: &str,
        bytes: u64,
        runs: Vec<Duration>,
    ) -> f64 {
        let runs: Vec<f64> = runs.iter().map(Duration::as_secs_f64).collect();
        let mut sorted = runs.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[sorted.len() / 2];
        let mib_s = bytes as f64 / MIB / median;
        println!("{what} [{server}]: {mib_s:.0} MiB/s (runs: {runs:.3?} s)");
        self.throughputs.push(Throughput {
            what: what.to_owned(),
            server: server.to_owned(),
            bytes,
            runs,
            median_mib_s: mib_s,
        });
        mib_s
    }

    /// Records a concurrency run and returns its requests per second.
    fn rate(&mut self, what: &str, server: &str, clients: usize, result: &LoadResult) -> f64 {
        let rate = Rate {
            what: what.to_owned(),
            server: server.to_owned(),
            clients,
            requests: result.requests,
            per_second: result.per_second(),
            p50_ms: result.percentile_ms(0.50),
            p99_ms: result.percentile_ms(0.99),
        };
        println!(
            "{what} [{server}], {clients} client(s): {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
            rate.per_second, rate.p50_ms, rate.p99_ms
        );
        let per_second = rate.per_second;
        self.rates.push(rate);
        per_second
    }

    fn print(&self) {
        println!("\n== lexvault server benchmark ==");
        println!("machine: {}", self.machine);
        for (name, value) in &self.params {
            println!("{name}: {value}");
        }
        println!("\n| measurement | server | MiB/s (median) | runs (s) |");
        println!("|---|---|---:|---|");
        for t in &self.throughputs {
            let runs: Vec<String> = t.runs.iter().map(|s| format!("{s:.3}")).collect();
            println!(
                "| {} | {} | {:.0} | {} |",
                t.what,
                t.server,
                t.median_mib_s,
                runs.join(", ")
            );
        }
        println!("\n| measurement | server | clients | requests | req/s | p50 ms | p99 ms |");
        println!("|---|---|---:|---:|---:|---:|---:|");
        for r in &self.rates {
            println!(
                "| {} | {} | {} | {} | {:.0} | {:.2} | {:.2} |",
                r.what, r.server, r.clients, r.requests, r.per_second, r.p50_ms, r.p99_ms
            );
        }
        println!("\n| peak RSS (VmHWM) | MiB |");
        println!("|---|---:|");
        for (when, kib) in &self.memory {
            println!("| {when} | {:.1} |", *kib as f64 / 1024.0);
        }
        println!("\n| lexvault / nginx | ratio |");
        println!("|---|---:|");
        for (what, ratio) in &self.ratios {
            match ratio {
                Some(r) => println!("| {what} | {r:.3} |"),
                None => println!("| {what} | (no nginx) |"),
            }
        }
        for note in &self.notes {
            println!("\nnote: {note}");
        }
    }

    /// The report as JSON (written by hand: the bench needs no JSON crate).
    fn json(&self) -> String {
        let s = |text: &str| format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""));
        let number = |x: f64| {
            if x.is_finite() {
                format!("{x:.3}")
            } else {
                "null".to_owned()
            }
        };
        let params: Vec<String> = self
            .params
            .iter()
            .map(|(name, value)| format!("{}: {value}", s(name)))
            .collect();
        let throughputs: Vec<String> = self
            .throughputs
            .iter()
            .map(|t| {
                let runs: Vec<String> = t.runs.iter().map(|r| number(*r)).collect();
                format!(
                    "{{\"what\": {}, \"server\": {}, \"bytes\": {}, \"runs_s\": [{}], \
                     \"median_mib_s\": {}}}",
                    s(&t.what),
                    s(&t.server),
                    t.bytes,
                    runs.join(", "),
                    number(t.median_mib_s)
                )
            })
            .collect();
        let rates: Vec<String> = self
            .rates
            .iter()
            .map(|r| {
                format!(
                    "{{\"what\": {}, \"server\": {}, \"clients\": {}, \"requests\": {}, \
                     \"per_second\": {}, \"p50_ms\": {}, \"p99_ms\": {}}}",
                    s(&r.what),
                    s(&r.server),
                    r.clients,
                    r.requests,
                    number(r.per_second),
                    number(r.p50_ms),
                    number(r.p99_ms)
                )
            })
            .collect();
        let memory: Vec<String> = self
            .memory
            .iter()
            .map(|(when, kib)| format!("{{\"when\": {}, \"vm_hwm_kib\": {kib}}}", s(when)))
            .collect();
        let ratios: Vec<String> = self
            .ratios
            .iter()
            .map(|(what, ratio)| {
                format!(
                    "{{\"what\": {}, \"lexvault_over_nginx\": {}}}",
                    s(what),
                    ratio.map_or_else(|| "null".to_owned(), number)
                )
            })
            .collect();
        let notes: Vec<String> = self.notes.iter().map(|n| s(n)).collect();
        format!(
            "{{\n  \"machine\": {},\n  \"parameters\": {{{}}},\n  \"throughput\": [\n    {}\n  ],\n  \
             \"request_rates\": [\n    {}\n  ],\n  \"peak_rss\": [\n    {}\n  ],\n  \
             \"ratios\": [\n    {}\n  ],\n  \"notes\": [{}]\n}}\n",
            s(&self.machine),
            params.join(", "),
            throughputs.join(",\n    "),
            rates.join(",\n    "),
            memory.join(",\n    "),
            ratios.join(",\n    "),
            notes.join(", ")
        )
    }
}
