//! [`LinkStore`](crate::store::LinkStore) on SQLite.

use super::SqliteStore;
use crate::store::LinkStore;

impl LinkStore for SqliteStore {}
