//! The browser pages: the share-link page at `/l/<id>` and the portal at
//! `/`, served from the directory `scripts/build-web` fills (spec:
//! `spec/api.md` §Browser pages).
//!
//! Everything here is public and static: the pages hold no secret and the
//! server learns nothing from serving them. A link's secret is in the URL
//! fragment, which browsers never send; every page is served with
//! `Referrer-Policy: no-referrer`, so it does not leak through a
//! `Referer` either, and with a Content-Security-Policy that allows only
//! this origin's own scripts (no inline script, no remote asset), so a
//! script injected into a page cannot run and read it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The policy of every page and asset. `'wasm-unsafe-eval'` lets the page
/// compile its own WebAssembly module and nothing else; `frame-src 'self'`
/// is the hidden frame that starts a streamed download.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self' \
     'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; \
     worker-src 'self'; manifest-src 'self'; frame-src 'self'; base-uri 'none'; form-action \
     'none'; frame-ancestors 'none'";

/// The file types the pages are made of, by extension.
const CONTENT_TYPES: &[(&str, &str)] = &[
    ("html", "text/html; charset=utf-8"),
    ("js", "text/javascript; charset=utf-8"),
    ("css", "text/css; charset=utf-8"),
    ("wasm", "application/wasm"),
    ("svg", "image/svg+xml"),
    ("png", "image/png"),
    ("json", "application/json"),
    ("webmanifest", "application/manifest+json"),
];

/// The routes of the pages in `dir`.
pub fn routes(dir: PathBuf) -> Router {
    Router::new()
        .route("/", get(portal))
        .route("/l/{id}", get(link_page))
        .route("/l/sw.js", get(download_worker))
        .route("/assets/{*path}", get(asset))
        .with_state(Arc::new(dir))
}

async fn portal(State(dir): State<Arc<PathBuf>>) -> Response {
    serve_file(&dir, "index.html").await
}

/// One page for every link id: the id is read by the page's script, and a
/// link that does not exist gets the same page (and the same answer to
/// opening it) as one that expired.
async fn link_page(State(dir): State<Arc<PathBuf>>, UrlPath(_id): UrlPath<String>) -> Response {
    serve_file(&dir, "link.html").await
}

/// The Service Worker that streams decrypted downloads, served from `/l/`
/// so that its scope covers the link pages' download addresses.
async fn download_worker(State(dir): State<Arc<PathBuf>>) -> Response {
    serve_file(&dir, "sw.js").await
}

async fn asset(State(dir): State<Arc<PathBuf>>, UrlPath(path): UrlPath<String>) -> Response {
    let safe = !path.is_empty()
        && path.split('/').all(|segment| {
            !segment.is_empty()
                && !segment.starts_with('.')
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        });
    if !safe {
        return not_found();
    }
    serve_file(&dir.join("assets"), &path).await
}

/// The headers every page and asset carries.
fn security_headers(headers: &mut HeaderMap) {
    let set = [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ),
        (
            HeaderName::from_static("cross-origin-resource-policy"),
            HeaderValue::from_static("same-origin"),
        ),
        // Pages change with each build and are small; revalidate always.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    for (name, value) in set {
        headers.insert(name, value);
    }
}

async fn serve_file(dir: &Path, name: &str) -> Response {
    let Some(content_type) = Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .and_then(|e| CONTENT_TYPES.iter().find(|(ext, _)| *ext == e))
        .map(|(_, t)| *t)
    else {
        return not_found();
    };
    let bytes = match tokio::fs::read(dir.join(name)).await {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return not_found(),
        Err(e) => {
            tracing::error!(error = %e, file = name, "cannot read a browser page");
            return with_headers(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain; charset=utf-8",
                Body::from("the page cannot be read; the server's log says why\n"),
            );
        }
    };
    with_headers(StatusCode::OK, content_type, Body::from(bytes))
}

fn not_found() -> Response {
    with_headers(
        StatusCode::NOT_FOUND,
        "text/plain; charset=utf-8",
        Body::from("not found\n"),
    )
}

fn with_headers(status: StatusCode, content_type: &'static str, body: Body) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    security_headers(headers);
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
