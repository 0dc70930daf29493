//! The listener over a real socket: HTTPS with a self-signed certificate,
//! TLS 1.2, failed handshakes, plain HTTP, and graceful shutdown.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use lexvault_server::config::TlsFiles;
use lexvault_server::serve::{TlsError, load_tls, serve};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;
use ureq::tls::{Certificate, RootCerts, TlsConfig};

/// A self-signed certificate for 127.0.0.1, written as PEM files.
struct Identity {
    _dir: tempfile::TempDir,
    files: TlsFiles,
    cert_der: CertificateDer<'static>,
}

fn identity() -> Identity {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files = TlsFiles {
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
    };
    std::fs::write(&files.cert, cert.pem()).unwrap();
    std::fs::write(&files.key, signing_key.serialize_pem()).unwrap();
    Identity {
        _dir: dir,
        files,
        cert_der: cert.der().clone(),
    }
}

fn hello_app() -> Router {
    Router::new().route("/hello", get(|| async { "hello" }))
}

/// Starts `serve` on 127.0.0.1:0; the sender stops it.
async fn start(
    app: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> (
    SocketAddr,
    oneshot::Sender<()>,
    JoinHandle<std::io::Result<()>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let server = tokio::spawn(serve(listener, app, tls, shutdown));
    (addr, stop, server)
}

/// A ureq agent that trusts only `cert`.
fn agent_trusting(cert: &CertificateDer<'static>) -> ureq::Agent {
    let roots = RootCerts::Specific(Arc::new(vec![Certificate::from_der(cert).to_owned()]));
    ureq::Agent::config_builder()
        .tls_config(TlsConfig::builder().root_certs(roots).build())
        .build()
        .new_agent()
}

/// GETs `url` with ureq on a blocking thread; returns status and body.
async fn get_with(agent: ureq::Agent, url: String) -> Result<(u16, String), ureq::Error> {
    tokio::task::spawn_blocking(move || {
        let mut response = agent.get(&url).call()?;
        let body = response.body_mut().read_to_string()?;
        Ok((response.status().as_u16(), body))
    })
    .await
    .unwrap()
}

/// Waits until `addr` refuses connections: the server stopped accepting.
async fn wait_until_refused(addr: SocketAddr) {
    while TcpStream::connect(addr).await.is_ok() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn https_serves_a_client_that_trusts_the_certificate() {
    let identity = identity();
    let tls = load_tls(&identity.files).unwrap();
    let (addr, stop, server) = start(hello_app(), Some(tls)).await;
    let url = format!("https://{addr}/hello");

    let (status, body) = get_with(agent_trusting(&identity.cert_der), url.clone())
        .await
        .unwrap();
    assert_eq!((status, body.as_str()), (200, "hello"));

    // A client that does not trust the certificate is refused, and the
    // server keeps going after the failed handshake.
    let untrusting = ureq::Agent::new_with_defaults();
    assert!(get_with(untrusting, url.clone()).await.is_err());
    let (status, _) = get_with(agent_trusting(&identity.cert_der), url)
        .await
        .unwrap();
    assert_eq!(status, 200);

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_on_the_tls_port_does_not_stop_the_server() {
    let identity = identity();
    let (addr, stop, server) = start(hello_app(), Some(load_tls(&identity.files).unwrap())).await;

    let mut plain = TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut reply = Vec::new();
    // The server answers with a TLS alert at most and closes the connection.
    let _ = plain.read_to_end(&mut reply).await;
    assert!(!reply.starts_with(b"HTTP/"), "{reply:?}");

    let (status, body) = get_with(
        agent_trusting(&identity.cert_der),
        format!("https://{addr}/hello"),
    )
    .await
    .unwrap();
    assert_eq!((status, body.as_str()), (200, "hello"));

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

/// Sends one HTTP/1.1 request over a rustls client limited to `versions`,
/// offering ALPN h2 and http/1.1; returns the negotiated version, the
/// negotiated ALPN protocol and the raw response.
async fn raw_tls_request(
    addr: SocketAddr,
    cert: &CertificateDer<'static>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> (rustls::ProtocolVersion, Option<Vec<u8>>, String) {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.clone()).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(versions)
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let server_name = ServerName::IpAddress(addr.ip().into());
    let mut stream = connector.connect(server_name, tcp).await.unwrap();
    let (_, session) = stream.get_ref();
    let version = session.protocol_version().unwrap();
    let alpn = session.alpn_protocol().map(<[u8]>::to_vec);
    stream
        .write_all(b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    (version, alpn, response)
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_1_2_and_1_3_clients_get_http_1_1() {
    let identity = identity();
    let (addr, stop, server) = start(hello_app(), Some(load_tls(&identity.files).unwrap())).await;

    for (offered, expected) in [
        (&rustls::version::TLS12, rustls::ProtocolVersion::TLSv1_2),
        (&rustls::version::TLS13, rustls::ProtocolVersion::TLSv1_3),
    ] {
        let (version, alpn, response) = raw_tls_request(addr, &identity.cert_der, &[offered]).await;
        assert_eq!(version, expected);
        assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]));
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.ends_with("hello"), "{response}");
    }

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

/// A router whose `/slow` handler reports that it started, then waits to
/// be released.
fn slow_app() -> (Router, mpsc::Receiver<()>, Arc<Notify>) {
    let (entered_tx, entered) = mpsc::channel(1);
    let release = Arc::new(Notify::new());
    let handler_release = release.clone();
    let app = Router::new().route(
        "/slow",
        get(move || {
            let entered = entered_tx.clone();
            let release = handler_release.clone();
            async move {
                entered.send(()).await.unwrap();
                release.notified().await;
                "finished"
            }
        }),
    );
    (app, entered, release)
}

/// Shutdown while a request is in flight: the server stops accepting, the
/// request still completes, and `serve` returns `Ok`.
async fn graceful_shutdown_finishes_the_request_in_flight(
    tls: Option<Arc<rustls::ServerConfig>>,
    agent: ureq::Agent,
    scheme: &str,
) {
    let (app, mut entered, release) = slow_app();
    let (addr, stop, server) = start(app, tls).await;
    let request = tokio::spawn(get_with(agent, format!("{scheme}://{addr}/slow")));
    entered.recv().await.unwrap();

    stop.send(()).unwrap();
    wait_until_refused(addr).await;
    assert!(
        !server.is_finished(),
        "serve returned with a request in flight"
    );

    release.notify_one();
    let (status, body) = request.await.unwrap().unwrap();
    assert_eq!((status, body.as_str()), (200, "finished"));
    server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_shuts_down_gracefully() {
    graceful_shutdown_finishes_the_request_in_flight(
        None,
        ureq::Agent::new_with_defaults(),
        "http",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn https_shuts_down_gracefully() {
    let identity = identity();
    let tls = load_tls(&identity.files).unwrap();
    graceful_shutdown_finishes_the_request_in_flight(
        Some(tls),
        agent_trusting(&identity.cert_der),
        "https",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_serves_and_stops() {
    let (addr, stop, server) = start(hello_app(), None).await;
    let (status, body) = get_with(
        ureq::Agent::new_with_defaults(),
        format!("http://{addr}/hello"),
    )
    .await
    .unwrap();
    assert_eq!((status, body.as_str()), (200, "hello"));
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn load_tls_names_the_bad_file() {
    let good = identity();
    let dir = tempfile::tempdir().unwrap();

    // No certificate in the file.
    let empty = write(dir.path(), "empty.pem", "");
    let error = load_tls(&TlsFiles {
        cert: empty.clone(),
        key: good.files.key.clone(),
    })
    .unwrap_err();
    assert!(matches!(error, TlsError::Certificate { .. }), "{error:?}");
    assert!(error.to_string().contains("empty.pem"), "{error}");

    // A missing key file.
    let error = load_tls(&TlsFiles {
        cert: good.files.cert.clone(),
        key: dir.path().join("missing-key.pem"),
    })
    .unwrap_err();
    assert!(matches!(error, TlsError::PrivateKey { .. }), "{error:?}");
    assert!(error.to_string().contains("missing-key.pem"), "{error}");

    // A malformed key: the message does not quote the file's contents.
    let malformed = write(
        dir.path(),
        "malformed.pem",
        "-----BEGIN PRIVATE KEY-----\nsecret*material!\n-----END PRIVATE KEY-----\n",
    );
    let error = load_tls(&TlsFiles {
        cert: good.files.cert.clone(),
        key: malformed,
    })
    .unwrap_err();
    assert!(matches!(error, TlsError::PrivateKey { .. }), "{error:?}");
    assert!(!error.to_string().contains("secret"), "{error}");

    // The key of another certificate.
    let other = identity();
    let error = load_tls(&TlsFiles {
        cert: good.files.cert.clone(),
        key: other.files.key.clone(),
    })
    .unwrap_err();
    assert!(matches!(error, TlsError::Rejected { .. }), "{error:?}");
}
