//! The application: shared state and the API's routes.

use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};

use crate::access::VerifiedRecords;
use crate::auth::ReplayCache;
use crate::error::ApiError;
use crate::log::TransparencyLog;
use crate::routes;
use crate::store::blobs::DirectoryBlobs;
use crate::store::sqlite::SqliteStore;
use crate::store::{BlobStore, MetadataStore, StoreResult};

/// Limits the handlers enforce.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest accepted document payload, in bytes.
    pub max_upload_bytes: u64,
    /// Allowed distance between a signed request's timestamp and the
    /// server's clock, in seconds.
    pub request_window_secs: u64,
    /// Failed password logins allowed per account per hour.
    pub login_attempts_per_hour: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_upload_bytes: 5 * 1024 * 1024 * 1024,
            request_window_secs: 300,
            login_attempts_per_hour: 10,
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    store: Arc<dyn MetadataStore>,
    /// The nonces of recent signed requests.
    pub replay: Arc<ReplayCache>,
    /// The transparency log's key.
    pub log: Arc<TransparencyLog>,
    /// Records whose signatures were verified in this process.
    pub verified: Arc<VerifiedRecords>,
    /// Ciphertext payloads.
    pub blobs: Arc<dyn BlobStore>,
    /// Limits to enforce.
    pub limits: Limits,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State over the given stores, with the replay cache seeded from the
    /// events of the last request window.
    pub fn new(
        store: Arc<dyn MetadataStore>,
        blobs: Arc<dyn BlobStore>,
        limits: Limits,
    ) -> StoreResult<Self> {
        let log = Arc::new(TransparencyLog::open(store.as_ref())?);
        let state = Self {
            store,
            blobs,
            limits,
            replay: Arc::new(ReplayCache::default()),
            log,
            verified: Arc::default(),
        };
        let now = state.now();
        let window = limits.request_window_secs;
        // A request is fresh for `window` either side of its timestamp, and
        // its event was recorded within that span.
        let since = now.saturating_sub(window.saturating_mul(2).saturating_add(1));
        let evidence = state.store.requests_since(since)?;
        state.replay.seed(&evidence, window, now);
        Ok(state)
    }

    /// Opens the default stores under `data_dir` (SQLite and a blob
    /// directory), creating them if needed, and removes blobs a crash left
    /// unreferenced.
    pub fn open(data_dir: &Path, limits: Limits) -> Result<Self, OpenError> {
        std::fs::create_dir_all(data_dir).map_err(|e| OpenError::DataDir(e.to_string()))?;
        let store = SqliteStore::open(&data_dir.join("lexvault.sqlite3"))
            .map_err(|e| OpenError::Database(e.to_string()))?;
        let blobs =
            DirectoryBlobs::open(data_dir).map_err(|e| OpenError::DataDir(e.to_string()))?;
        let keep = crate::store::DocumentStore::referenced_blobs(&store)
            .map_err(|e| OpenError::Database(e.to_string()))?;
        let removed = blobs
            .remove_orphans(&keep)
            .map_err(|e| OpenError::DataDir(e.to_string()))?;
        if removed > 0 {
            tracing::info!(
                removed,
                "removed blobs left unreferenced by an interrupted upload"
            );
        }
        Self::new(Arc::new(store), Arc::new(blobs), limits)
            .map_err(|e| OpenError::Database(e.to_string()))
    }

    /// Runs a storage operation on the blocking pool, off the async
    /// runtime.
    pub async fn store<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn MetadataStore) -> StoreResult<T> + Send + 'static,
    {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .map_err(|e| ApiError::internal(&e))?
            .map_err(ApiError::from)
    }

    /// The metadata store, for callers outside the async runtime (the init
    /// step, tests).
    #[must_use]
    pub fn metadata(&self) -> &dyn MetadataStore {
        self.store.as_ref()
    }

    /// The server's clock, in Unix seconds.
    #[must_use]
    pub fn now(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// Why the stores could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The data directory could not be created or read.
    #[error("cannot use the data directory: {0}; check that it exists and is writable")]
    DataDir(String),
    /// The database could not be opened or migrated.
    #[error("cannot open the database: {0}")]
    Database(String),
}

/// No lexvault path needs percent-encoding: refusing it keeps one spelling
/// per resource, so the path a request signs names its ids literally.
async fn refuse_percent_encoding(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if request.uri().path().contains('%') {
        return axum::response::IntoResponse::into_response(ApiError::bad_request(
            "malformed-id",
            "ids and keys in paths are plain lower-case hex; do not percent-encode them",
        ));
    }
    next.run(request).await
}

/// The API's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/admin", get(routes::identities::administrator))
        .route(
            "/v1/identities",
            post(routes::identities::register).get(routes::identities::by_name),
        )
        .route("/v1/identities/{key}", get(routes::identities::lookup))
        .route(
            "/v1/identities/{key}/certificate",
            post(routes::identities::certify),
        )
        .route(
            "/v1/matters",
            post(routes::matters::create).get(routes::matters::list),
        )
        .route(
            "/v1/matters/{matter}/documents",
            get(routes::documents::list),
        )
        .route(
            "/v1/matters/{matter}/grants",
            get(routes::matters::grants).post(routes::matters::add_grant),
        )
        .route(
            "/v1/matters/{matter}/revocations",
            post(routes::matters::revoke),
        )
        .route(
            "/v1/matters/{matter}/stanzas",
            post(routes::documents::add_stanzas),
        )
        .route("/v1/matters/{matter}/events", get(routes::matters::events))
        .route("/v1/documents/{document}", get(routes::documents::view))
        .route(
            "/v1/documents/{document}/versions",
            post(routes::upload::upload),
        )
        .route(
            "/v1/documents/{document}/versions/{version}/payload",
            get(routes::documents::download),
        )
        .route("/v1/log/checkpoint", get(routes::log::checkpoint))
        .route("/v1/log/head", get(routes::log::head))
        .route("/v1/log/entries", get(routes::log::entries))
        .route("/v1/log/bundle", get(routes::log::bundle))
        .route("/v1/log/inclusion", get(routes::log::inclusion))
        .route("/v1/log/consistency", get(routes::log::consistency))
        .merge(routes::links::routes())
        .merge(routes::login::routes())
        // Uploads stream past the default limit; message bodies are bounded
        // where they are read.
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::log::attach_receipt,
        ))
        .layer(axum::middleware::from_fn(refuse_percent_encoding))
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "this path does not take that method; see spec/api.md",
            )
        })
        .with_state(state)
}
