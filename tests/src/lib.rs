//! End-to-end and adversarial tests that drive a real lexvault server on
//! loopback through the same client library users get.
//!
//! [`TestServer`] runs the real server (SQLite, blob directory, every
//! route) on `127.0.0.1:0` in a fresh data directory; [`Firm`] sets up an
//! administrator and certified staff the way a firm would.

#![forbid(unsafe_code)]

pub mod browser;
pub mod cli;
pub mod hand_upload;
pub mod hostile;
pub mod server_process;
pub mod synthetic_log;
pub mod tamper;

/// The signature header value for a request built by hand to the server at
/// `addr`: `method` on `target` (path and query) over `body`, signed by
/// `key` at the position its next recorded request takes, as a fresh client
/// learns it from the server.
///
/// # Panics
/// If the server cannot be asked or the request cannot be signed.
#[must_use]
#[allow(clippy::expect_used)]
pub fn sign_by_hand(
    addr: SocketAddr,
    key: &SigningSecretKey,
    method: &str,
    target: &str,
    body: &[u8],
) -> String {
    let client = Client::new(&format!("http://{addr}")).expect("loopback address");
    let position = client.sync_chain(key).expect("the signer's chain head");
    Client::sign(method, target, BodyDigest::of(body), position, key).expect("sign")
}

/// The sorted file names in `dir` (blobs, staged files).
///
/// # Panics
/// If the directory cannot be read.
#[must_use]
#[allow(clippy::expect_used)]
pub fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read the directory")
        .map(|e| {
            e.expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// Whether `needle` (non-empty) occurs in `haystack`: for scanning a
/// server's files for what must never be there.
#[must_use]
pub fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((first, rest)) = needle.split_first() else {
        return false;
    };
    haystack
        .iter()
        .enumerate()
        .filter(|(_, b)| *b == first)
        .any(|(i, _)| haystack.get(i + 1..i + needle.len()) == Some(rest))
}

/// Every regular file under `dir`, recursively, sorted: for scanning a
/// server's storage.
///
/// # Panics
/// If a directory cannot be read.
#[must_use]
#[allow(clippy::expect_used)]
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).expect("read the directory") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use lexvault_client::client::{Client, os_rng};
use lexvault_client::vault::Vault;
use lexvault_core::key_bundle::KeyBundle;
use lexvault_core::keys::{EncryptionSecretKey, Identity, SigningSecretKey};
use lexvault_core::membership::Role;
use lexvault_core::request::BodyDigest;
use lexvault_server::app::{self, AppState, Limits};
use tempfile::TempDir;
use tokio::sync::oneshot;

/// A real server on loopback, stopped when dropped.
pub struct TestServer {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// The bound address.
    pub addr: SocketAddr,
    data: Option<TempDir>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("url", &self.url)
            .finish()
    }
}

impl TestServer {
    /// Starts a server with default limits in a fresh data directory.
    ///
    /// # Panics
    /// If the server cannot start: a test cannot go on without it.
    #[must_use]
    pub fn start() -> Self {
        Self::start_with(Limits::default())
    }

    /// Starts a server with `limits`.
    ///
    /// # Panics
    /// If the server cannot start.
    #[must_use]
    #[allow(clippy::expect_used)]
    pub fn start_with(limits: Limits) -> Self {
        let data = tempfile::tempdir().expect("temporary data directory");
        Self::start_in(data, limits)
    }

    /// Starts a server on an existing data directory (a restart).
    ///
    /// # Panics
    /// If the server cannot start.
    #[must_use]
    #[allow(clippy::expect_used)]
    pub fn start_in(data: TempDir, limits: Limits) -> Self {
        let state = AppState::open(data.path(), limits).expect("open the stores");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind loopback");
        let addr = listener.local_addr().expect("bound address");
        let (stop, stopped) = oneshot::channel::<()>();
        let app = app::router(state);
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                let shutdown = async {
                    let _ = stopped.await;
                };
                let _ = lexvault_server::serve::serve(listener, app, None, shutdown).await;
            });
        });
        Self {
            url: format!("http://{addr}"),
            addr,
            data: Some(data),
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The server's data directory.
    ///
    /// # Panics
    /// Never: the directory is only taken by [`Self::stop`], which consumes
    /// the server.
    #[must_use]
    #[allow(clippy::expect_used)]
    pub fn data_dir(&self) -> &Path {
        self.data.as_ref().expect("data directory").path()
    }

    /// The SQLite database file.
    #[must_use]
    pub fn database(&self) -> PathBuf {
        self.data_dir().join("lexvault.sqlite3")
    }

    /// A client of this server.
    ///
    /// # Panics
    /// Never for the server's own address.
    #[must_use]
    #[allow(clippy::expect_used)]
    pub fn client(&self) -> Client {
        Client::new(&self.url).expect("loopback address")
    }

    /// Stops the server and hands back its data directory.
    ///
    /// # Panics
    /// Never: see [`Self::data_dir`].
    #[must_use]
    #[allow(clippy::expect_used)]
    pub fn stop(mut self) -> TempDir {
        self.shutdown();
        self.data.take().expect("data directory")
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A firm on a test server: an administrator and helpers to add people.
pub struct Firm {
    /// The server.
    pub server: TestServer,
    /// The administrator's vault.
    pub admin: Vault,
}

impl std::fmt::Debug for Firm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Firm")
            .field("server", &self.server)
            .finish()
    }
}

impl Firm {
    /// Starts a server and runs the init step with a fresh administrator.
    ///
    /// # Panics
    /// If any step fails.
    #[must_use]
    pub fn new() -> Self {
        Self::on(TestServer::start())
    }

    /// Runs the init step on `server`.
    ///
    /// # Panics
    /// If any step fails.
    #[must_use]
    #[allow(clippy::expect_used)]
    pub fn on(server: TestServer) -> Self {
        let admin = Identity::generate(&mut os_rng());
        let bundle =
            KeyBundle::create(&admin, "Firm Administrator", lexvault_client::client::now())
                .expect("bundle");
        let file = server.data_dir().join("admin.bundle");
        std::fs::write(&file, bundle.as_bytes()).expect("write bundle");
        lexvault_server::admin::init_admin(server.data_dir(), &file).expect("init-admin");
        let admin = Vault::new(server.client(), admin);
        Self { server, admin }
    }

    /// A registered person who is not staff (a client, an expert).
    ///
    /// # Panics
    /// If registration fails.
    #[must_use]
    #[allow(clippy::expect_used)]
    pub fn person(&self, name: &str) -> Vault {
        let vault = Vault::new(self.server.client(), Identity::generate(&mut os_rng()));
        vault.register(name).expect("register");
        vault
    }

    /// A registered member of staff, certified with `role`.
    ///
    /// # Panics
    /// If any step fails.
    #[must_use]
    #[allow(clippy::expect_used)]
    pub fn member(&self, name: &str, role: Role) -> Vault {
        let vault = Vault::new(self.server.client(), Identity::generate(&mut os_rng()));
        let bundle = vault.register(name).expect("register");
        self.admin.certify(&bundle, role).expect("certify");
        vault
    }
}

/// A second copy of the same keys (an [`Identity`] is not `Clone`).
#[must_use]
pub fn same_identity(who: &Identity) -> Identity {
    Identity::from_keys(
        SigningSecretKey::from_seed(&who.signing_key().to_seed()),
        EncryptionSecretKey::from_secret_bytes(&who.encryption_key().to_secret_bytes()),
    )
}

/// The same person as `vault` on `server` (another server, or the same
/// one restarted), with a log state of its own.
#[must_use]
pub fn same_person_on(server: &TestServer, vault: &Vault) -> Vault {
    Vault::new(server.client(), same_identity(vault.identity()))
}

impl Default for Firm {
    fn default() -> Self {
        Self::new()
    }
}
