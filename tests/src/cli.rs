//! Driving the real `lexvault` binary, as a person at a terminal would.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use tempfile::TempDir;

/// The `lexvault` binary of this build, built on first use with the same
/// profile as the tests.
///
/// # Panics
/// If it cannot be built: the test cannot run without it.
#[must_use]
pub fn binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| build("lexvault-cli", "lexvault"))
}

/// The `lexvault-server` binary of this build, built on first use with the
/// same profile as the tests (for tests that must kill a real process).
///
/// # Panics
/// If it cannot be built.
#[must_use]
pub fn server_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| build("lexvault-server", "lexvault-server"))
}

/// Builds `bin` of `package` with the tests' profile; returns its path.
#[allow(clippy::expect_used, clippy::panic)]
fn build(package: &str, bin: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> → target/<profile>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target directory")
        .to_owned();
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build.args(["build", "--quiet", "-p", package, "--bin", bin]);
    if release {
        build.arg("--release");
    }
    let status = build.status().expect("run cargo build");
    if !status.success() {
        panic!("cargo build of the {bin} binary failed");
    }
    profile_dir.join(bin)
}

/// One person with their own profile directory and password.
pub struct CliUser {
    /// Their profile directory.
    pub home: TempDir,
    server: String,
    password: String,
}

impl std::fmt::Debug for CliUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CliUser")
            .field("home", &self.home.path())
            .finish()
    }
}

impl CliUser {
    /// A person using the server at `server`, with a fresh profile.
    ///
    /// # Panics
    /// If no temporary directory can be made.
    #[must_use]
    #[allow(clippy::expect_used)]
    pub fn new(server: &str, password: &str) -> Self {
        Self {
            home: tempfile::tempdir().expect("profile directory"),
            server: server.to_owned(),
            password: password.to_owned(),
        }
    }

    /// Runs `lexvault ARGS` with this person's profile, server and password.
    ///
    /// # Panics
    /// If the binary cannot be started.
    #[must_use]
    #[allow(clippy::expect_used)]
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_env(&[], args)
    }

    /// Runs `lexvault ARGS` with extra environment variables.
    ///
    /// # Panics
    /// If the binary cannot be started.
    #[must_use]
    #[allow(clippy::expect_used)]
    pub fn run_env(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        Command::new(binary())
            .args(args)
            .env("LEXVAULT_HOME", self.home.path())
            .env("LEXVAULT_SERVER", &self.server)
            .env("LEXVAULT_PASSWORD", &self.password)
            .envs(env.iter().copied())
            .current_dir(self.home.path())
            .output()
            .expect("run lexvault")
    }

    /// Runs `lexvault --json ARGS`, requires success, and parses the output.
    ///
    /// # Panics
    /// If the command fails or prints something that is not JSON.
    #[must_use]
    #[allow(clippy::expect_used, clippy::panic)]
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        self.json_env(&[], args)
    }

    /// [`Self::json`] with extra environment variables.
    ///
    /// # Panics
    /// If the command fails or prints something that is not JSON.
    #[must_use]
    #[allow(clippy::expect_used, clippy::panic)]
    pub fn json_env(&self, env: &[(&str, &str)], args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run_env(env, &all);
        if !out.status.success() {
            panic!(
                "lexvault {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        serde_json::from_slice(&out.stdout).expect("JSON output")
    }

    /// Creates and registers an identity named `name` (cheap Argon2id for
    /// tests); returns its key.
    ///
    /// # Panics
    /// If a step fails.
    #[must_use]
    #[allow(clippy::expect_used)]
    pub fn enrol(&self, name: &str) -> String {
        let init = self.json(&["init", "--name", name, "--argon2-memory-mib", "19"]);
        let _ = self.json(&["register"]);
        init.get("key")
            .and_then(serde_json::Value::as_str)
            .expect("key")
            .to_owned()
    }
}
