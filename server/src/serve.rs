//! The listener: plain HTTP/1.1, or HTTPS with TLS 1.2 and 1.3, with
//! graceful shutdown.
//!
//! Plain HTTP is for a deployment behind a TLS-terminating reverse proxy;
//! otherwise give the server a certificate ([`load_tls`]). Either way, when
//! the shutdown future completes the server stops accepting connections,
//! lets the requests in flight finish, and gives up on them after
//! [`SHUTDOWN_GRACE`].
//!
//! How `main` puts the modules together:
//!
//! ```no_run
//! use std::process::ExitCode;
//!
//! use lexvault_server::config::{self, Command, ConfigError};
//! use lexvault_server::{serve, telemetry};
//!
//! #[tokio::main]
//! async fn main() -> ExitCode {
//!     let (command, settings) = match config::load() {
//!         Ok(loaded) => loaded,
//!         // --help, --version and usage errors: clap prints and exits.
//!         Err(ConfigError::Cli(error)) => error.exit(),
//!         Err(error) => {
//!             eprintln!("lexvault-server: {error}");
//!             return ExitCode::from(2);
//!         }
//!     };
//!     if let Err(error) = telemetry::init(&settings.log) {
//!         eprintln!("lexvault-server: {error}");
//!         return ExitCode::FAILURE;
//!     }
//!     let Command::Serve = command else {
//!         return ExitCode::SUCCESS; // init-admin: see the admin module
//!     };
//!     let tls = match settings.tls.as_ref().map(serve::load_tls).transpose() {
//!         Ok(tls) => tls,
//!         Err(error) => {
//!             eprintln!("lexvault-server: {error}");
//!             return ExitCode::from(2);
//!         }
//!     };
//!     let app = axum::Router::new()
//!         .route("/v1/health", axum::routing::get(|| async { "ok" }))
//!         .layer(telemetry::http_trace_layer());
//!     let listener = match tokio::net::TcpListener::bind(settings.listen).await {
//!         Ok(listener) => listener,
//!         Err(error) => {
//!             eprintln!("lexvault-server: cannot listen on {}: {error}", settings.listen);
//!             return ExitCode::FAILURE;
//!         }
//!     };
//!     tracing::info!(address = %settings.listen, tls = tls.is_some(), "listening");
//!     match serve::serve(listener, app, tls, serve::shutdown_signal()).await {
//!         Ok(()) => ExitCode::SUCCESS,
//!         Err(error) => {
//!             tracing::error!(%error, "server failed");
//!             ExitCode::FAILURE
//!         }
//!     }
//! }
//! ```

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::serve::ListenerExt as _;
use futures_util::FutureExt;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::config::TlsFiles;

/// How long, after the shutdown signal, the server waits for requests in
/// flight before it returns anyway.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// How long a client may take to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a client may take to send a request's headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Why [`load_tls`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The certificate file could not be read or holds no usable PEM
    /// certificate.
    #[error(
        "cannot read a TLS certificate chain from {}: {source}; give a PEM file with the server's \
         certificate first and then its intermediates (--tls-cert, LEXVAULT_TLS_CERT or tls_cert)",
        path.display()
    )]
    Certificate {
        /// The certificate file.
        path: PathBuf,
        /// What went wrong.
        source: pem::Error,
    },
    /// The key file could not be read or holds no usable PEM private key.
    /// The PEM parser's detail is left out: it could quote key material.
    #[error(
        "cannot read a TLS private key from {}: {problem}; give a PEM file with an unencrypted \
         PKCS#8, PKCS#1 or SEC1 private key (--tls-key, LEXVAULT_TLS_KEY or tls_key)",
        path.display()
    )]
    PrivateKey {
        /// The key file.
        path: PathBuf,
        /// What went wrong, without the parser's detail.
        problem: String,
    },
    /// rustls refused the certificate and key, for example because the key
    /// is not the certificate's.
    #[error(
        "cannot use the TLS certificate {} with the key {}: {source}; check that the key belongs \
         to the first certificate of the chain",
        cert.display(),
        key.display()
    )]
    Rejected {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls's reason.
        source: rustls::Error,
    },
}

/// Loads the server's TLS configuration: the PEM certificate chain and
/// private key of `files`, the ring crypto provider, TLS 1.3 and 1.2 only,
/// and ALPN `http/1.1`.
///
/// # Errors
///
/// A [`TlsError`] naming the file at fault when a file cannot be read,
/// holds no certificate or key, or the key does not match the certificate.
pub fn load_tls(files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let cert_error = |source| TlsError::Certificate {
        path: files.cert.clone(),
        source,
    };
    let chain = CertificateDer::pem_file_iter(&files.cert)
        .map_err(cert_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(cert_error)?;
    if chain.is_empty() {
        return Err(cert_error(pem::Error::NoItemsFound));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|error| TlsError::PrivateKey {
        path: files.key.clone(),
        problem: match error {
            pem::Error::Io(error) => error.to_string(),
            pem::Error::NoItemsFound => "no PRIVATE KEY block found".to_owned(),
            _ => "malformed PEM".to_owned(),
        },
    })?;
    let rejected = |source| TlsError::Rejected {
        cert: files.cert.clone(),
        key: files.key.clone(),
        source,
    };
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(rejected)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(rejected)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serves `app` on `listener` until `shutdown` completes: over TLS when
/// `tls` is given, plain HTTP/1.1 otherwise.
///
/// After `shutdown` completes, no connection is accepted; requests in
/// flight finish, idle connections close, and after [`SHUTDOWN_GRACE`] the
/// function returns even if some are still open. A failed TLS handshake or
/// a failed connection is logged at debug level and does not stop the
/// server.
///
/// # Errors
///
/// An I/O error from the plain-HTTP server. Accept errors (such as running
/// out of file descriptors) are logged and retried, not returned.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    match tls {
        None => {
            // One shutdown future, awaited by both the server and the grace timer.
            let shutdown = shutdown.shared();
            let listener = listener.tap_io(set_nodelay);
            let server = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown.clone())
                .into_future();
            let grace_expired = async move {
                shutdown.await;
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            };
            tokio::select! {
                result = server => result,
                () = grace_expired => {
                    tracing::warn!(
                        grace_secs = SHUTDOWN_GRACE.as_secs(),
                        "shutting down with requests still in flight"
                    );
                    Ok(())
                }
            }
        }
        Some(config) => {
            serve_tls(listener, app, TlsAcceptor::from(config), shutdown).await;
            Ok(())
        }
    }
}

/// Completes when the stop signal is given (or its sender is gone).
async fn stopped(mut stop: watch::Receiver<bool>) {
    // An error means the sender is gone, which is also a stop.
    let _ = stop.wait_for(|stop| *stop).await;
}

async fn serve_tls(
    listener: TcpListener,
    app: Router,
    acceptor: TlsAcceptor,
    shutdown: impl Future<Output = ()>,
) {
    // Tells every connection to close once its request in flight is done.
    let (stop_tx, stop) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            // Reap finished connections so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let mut stream = stream;
                    set_nodelay(&mut stream);
                    connections.spawn(serve_connection(
                        acceptor.clone(),
                        stream,
                        peer,
                        app.clone(),
                        stop.clone(),
                    ));
                }
                Err(error) => accept_failed(error).await,
            },
        }
    }
    drop(listener);
    // The receivers live in the connections' tasks; none left is fine.
    let _ = stop_tx.send(true);
    tracing::info!(
        connections = connections.len(),
        "shutting down: no longer accepting connections"
    );
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            connections = connections.len(),
            grace_secs = SHUTDOWN_GRACE.as_secs(),
            "shutting down with connections still open"
        );
        connections.abort_all();
    }
}

/// Handles an accept error as hyper's and axum's servers do: errors of one
/// connection are skipped; others (such as too many open files) are logged
/// and retried after a pause rather than spinning or stopping the server.
async fn accept_failed(error: io::Error) {
    let per_connection = matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    );
    if per_connection {
        tracing::debug!(%error, "accept failed");
    } else {
        tracing::error!(%error, "accept failed; retrying in one second");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Completes the TLS handshake and serves HTTP/1.1 on one connection until
/// the client closes it or shutdown closes it after the request in flight.
async fn serve_connection(
    acceptor: TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    stop: watch::Receiver<bool>,
) {
    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream));
    let stream = tokio::select! {
        handshake = handshake => match handshake {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => {
                tracing::debug!(%peer, %error, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        },
        () = stopped(stop.clone()) => return,
    };
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = stopped(stop) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%peer, %error, "connection ended with an error");
    }
}

/// Completes on SIGINT (Ctrl-C) or, on Unix, SIGTERM, logging which.
///
/// If a handler cannot be installed the failure is logged and that signal
/// is not awaited; the process can still be stopped by the other signal or
/// by force.
pub async fn shutdown_signal() {
    let interrupt = async {
        match tokio::signal::ctrl_c().await {
            Ok(()) => {}
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGINT");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}

/// Turns off Nagle's algorithm: a small answer leaves as two writes (head,
/// then body), and with Nagle the body would wait for the client's delayed
/// acknowledgement of the head, about 40 ms on Linux.
fn set_nodelay(stream: &mut TcpStream) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "cannot set TCP_NODELAY");
    }
}
