//! Password login records (OPAQUE) and sealed key backups.

/// Password files, sealed backups, pending logins and failed attempts.
pub trait LoginStore: Send + Sync + 'static {}
