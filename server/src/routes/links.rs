//! Share links.

use axum::Router;

use crate::app::AppState;

/// The share-link routes.
pub fn routes() -> Router<AppState> {
    Router::new()
}
