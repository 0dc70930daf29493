//! The real `lexvault-server` binary as a child process on loopback, for
//! tests that kill it, read its log, or point a real browser at it.

use std::ffi::OsStr;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::cli::server_binary;

/// A running server process; killed when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    /// Its base URL, `http://127.0.0.1:<port>`.
    pub url: String,
}

impl ServerProcess {
    /// Starts the server on `data` with warnings only in its log.
    ///
    /// # Panics
    /// If it cannot start or does not listen within 30 s.
    #[must_use]
    pub fn start(data: &Path) -> Self {
        Self::start_with(data, &["--log", "warn"], Stdio::null())
    }

    /// Starts the server on `data` with extra arguments (settings such as
    /// `--web-dir`, `--log`) and its log written to `stderr`.
    ///
    /// # Panics
    /// If it cannot start or does not listen within 30 s.
    #[must_use]
    #[allow(clippy::expect_used, clippy::unwrap_used)]
    pub fn start_with(data: &Path, args: &[impl AsRef<OsStr>], stderr: Stdio) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let addr = format!("127.0.0.1:{port}");
        let mut child = Command::new(server_binary())
            .arg("serve")
            .arg("--data-dir")
            .arg(data)
            .args(["--listen", &addr])
            .args(args)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start lexvault-server");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(&addr).is_err() {
            assert!(
                child.try_wait().unwrap().is_none(),
                "the server exited at start"
            );
            assert!(Instant::now() < deadline, "the server did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            url: format!("http://{addr}"),
        }
    }

    /// SIGKILL: no shutdown, no flush, no goodbye.
    ///
    /// # Panics
    /// If the process cannot be killed or reaped.
    #[allow(clippy::expect_used)]
    pub fn kill(mut self) {
        self.child.kill().expect("kill the server");
        self.child.wait().expect("reap the server");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
