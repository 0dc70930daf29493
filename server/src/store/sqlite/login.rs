//! [`LoginStore`](crate::store::LoginStore) on SQLite.

use super::SqliteStore;
use crate::store::LoginStore;

impl LoginStore for SqliteStore {}
