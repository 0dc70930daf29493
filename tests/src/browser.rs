//! Browser tests' and benchmarks' common ground: a firm on the real server
//! binary serving the built pages, and the Chromium driver
//! (`tests/browser/*.mjs`, through Node.js and playwright-core).
//!
//! Set-up code: a step that fails ends the test, so it panics.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::new_without_default
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use tempfile::TempDir;

use crate::cli::CliUser;
use crate::server_process::ServerProcess;

/// The repository's root.
#[must_use]
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The built browser pages.
///
/// # Panics
/// If they are not built.
#[must_use]
pub fn web_dir() -> PathBuf {
    let dir = repo().join("target/web");
    assert!(
        dir.join("link.html").is_file() && dir.join("assets/pkg").is_dir(),
        "the browser pages are not built: run scripts/build-web (scripts/test does)"
    );
    dir
}

/// Where screenshots are kept: `target/browser-artifacts`.
///
/// # Panics
/// If it cannot be created.
#[must_use]
pub fn artifacts() -> PathBuf {
    let dir = repo().join("target/browser-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Plays `scenario` in Chromium; returns the driver's report.
///
/// # Panics
/// If the driver cannot run or reports an error.
#[must_use]
pub fn browse(scenario: &Value) -> Value {
    node("driver.mjs", scenario)
}

/// Runs `script` in `tests/browser` with `scenario` as its argument; returns
/// the JSON it prints.
///
/// # Panics
/// If Node.js or playwright-core is missing, or the script fails or
/// reports an error.
#[must_use]
pub fn node(script: &str, scenario: &Value) -> Value {
    let browser = repo().join("tests/browser");
    assert!(
        browser.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed: run `npm ci` in tests/browser (scripts/test does)"
    );
    let out = Command::new("node")
        .arg(script)
        .arg(scenario.to_string())
        .current_dir(&browser)
        .stderr(Stdio::inherit())
        .output()
        .expect("run node (install Node.js)");
    assert!(out.status.success(), "the browser driver failed");
    let report: Value = serde_json::from_slice(&out.stdout).expect("the driver's JSON report");
    assert!(
        report.get("error").is_none(),
        "the browser scenario failed: {} (the page's console: {})",
        report["error"],
        report["console"]
    );
    report
}

/// The messages a driver report collected, joined, for assertions.
///
/// # Panics
/// If the report has no `messages` list.
#[must_use]
pub fn messages(report: &Value) -> String {
    report["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join(" | ")
}

/// A firm on a real server process that serves the pages: an attorney with
/// a matter. The server's log (debug level) goes to a file.
pub struct Firm {
    /// The server process.
    pub server: ServerProcess,
    /// An attorney, certified by the firm's administrator.
    pub attorney: CliUser,
    /// The attorney's matter.
    pub matter: String,
    /// The server's data directory is `data/store`.
    pub data: TempDir,
    log: PathBuf,
}

impl Firm {
    /// Starts the server and sets up the firm.
    ///
    /// # Panics
    /// If a step fails.
    #[must_use]
    pub fn new() -> Self {
        let data = tempfile::tempdir().unwrap();
        let log = data.path().join("server.log");
        // The administrator exists before the server starts (and so before
        // its address is known: commands that need it name it).
        let admin = CliUser::new("http://127.0.0.1:9", "admin password");
        let _ = admin.json(&["init", "--name", "Firm Admin", "--argon2-memory-mib", "19"]);
        let bundle = admin.home.path().join("admin.bundle");
        let _ = admin.json(&["whoami", "--bundle", bundle.to_str().unwrap()]);
        let store = data.path().join("store");
        lexvault_server::admin::init_admin(&store, &bundle).unwrap();
        let web = web_dir();
        let server = ServerProcess::start_with(
            &store,
            &[
                "--web-dir",
                web.to_str().unwrap(),
                "--log",
                "debug,tower_http=trace",
            ],
            Stdio::from(std::fs::File::create(&log).unwrap()),
        );
        let attorney = CliUser::new(&server.url, "attorney password");
        let key = attorney.enrol("Ada Attorney");
        let _ = admin.json(&[
            "member",
            "certify",
            &key,
            "--role",
            "attorney",
            "--server",
            &server.url,
        ]);
        let matter = attorney.json(&["matter", "create"])["matter"]
            .as_str()
            .unwrap()
            .to_owned();
        Self {
            server,
            attorney,
            matter,
            data,
            log,
        }
    }

    /// Uploads `bytes` as `name`; returns the document id.
    ///
    /// # Panics
    /// If the upload fails.
    #[must_use]
    pub fn put(&self, name: &str, bytes: &[u8]) -> String {
        let file = self.attorney.home.path().join(name);
        std::fs::write(&file, bytes).unwrap();
        self.attorney
            .json(&["put", &self.matter, file.to_str().unwrap()])["document"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Uploads `bytes` as `name`, shared with `key` for viewing and
    /// downloading (`put --share`); returns the document id.
    ///
    /// # Panics
    /// If the upload fails.
    #[must_use]
    pub fn put_shared(&self, name: &str, bytes: &[u8], key: &str) -> String {
        let file = self.attorney.home.path().join(name);
        std::fs::write(&file, bytes).unwrap();
        let share = format!("{key}:view,download");
        self.attorney.json(&[
            "put",
            &self.matter,
            file.to_str().unwrap(),
            "--share",
            &share,
        ])["document"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A client of the firm with their own identity, registered with a
    /// password login under `login` (`register --login`); returns them and
    /// their key.
    ///
    /// # Panics
    /// If a step fails.
    #[must_use]
    pub fn client_with_login(&self, name: &str, login: &str, password: &str) -> (CliUser, String) {
        let client = CliUser::new(&self.server.url, password);
        let init = client.json(&["init", "--name", name, "--argon2-memory-mib", "19"]);
        let registered = client.json(&["register", "--login", login]);
        assert_eq!(registered["login_name"], login);
        let key = init["key"].as_str().unwrap().to_owned();
        (client, key)
    }

    /// Makes a link with the CLI's `link create` options; returns its URL.
    ///
    /// # Panics
    /// If the link cannot be made.
    #[must_use]
    pub fn link(&self, document: &str, options: &[&str], passphrase: Option<&str>) -> String {
        let mut args = vec!["link", "create", document];
        args.extend_from_slice(options);
        let env: Vec<(&str, &str)> = passphrase
            .map(|p| vec![("LEXVAULT_LINK_PASSPHRASE", p)])
            .unwrap_or_default();
        self.attorney.json_env(&env, &args)["url"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Flips one bit in the middle of the one stored payload, under the
    /// server: a hostile or broken storage.
    ///
    /// # Panics
    /// If there is no single blob to change.
    pub fn flip_a_payload_bit(&self) {
        let blobs = self.data.path().join("store/blobs");
        let mut found = std::fs::read_dir(&blobs)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file());
        let blob = found.next().expect("the document's blob");
        assert!(found.next().is_none(), "one document's blob only");
        let mut bytes = std::fs::read(&blob).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x01;
        std::fs::write(&blob, &bytes).unwrap();
    }

    /// Everything the server logged so far.
    ///
    /// # Panics
    /// If the log cannot be read.
    #[must_use]
    pub fn server_log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }
}

/// A document that spans several 64 KiB chunks and ends inside one.
#[must_use]
pub fn document_bytes(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}
