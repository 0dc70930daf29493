//! Password login (OPAQUE) and the release of sealed key backups.

use axum::Router;

use crate::app::AppState;

/// The login routes.
pub fn routes() -> Router<AppState> {
    Router::new()
}
