//! Key transparency's lookups: the log entries that bind identities, and
//! the identities registered under a name (spec: `spec/log.md` §Key
//! transparency).

use super::{DigestBytes, EventKind, IdentityRow, KeyBytes, StoreResult};

/// Finding the entries that bind identities, for the binding proofs served
/// with every identity.
///
/// Security contract: the answers are only hints for building proofs.
/// Clients check each entry against the record it is said to bind and its
/// inclusion in a signed checkpoint, so a store that answers wrongly can
/// make a client refuse an identity, never accept a wrong one. It can
/// leave an identity out of a name lookup; only the full log (the
/// auditor's) shows every binding.
pub trait BindingStore: Send + Sync + 'static {
    /// The leaf index of the newest event of `kind` by `actor` whose
    /// subject is `subject`.
    fn binding_leaf(
        &self,
        kind: EventKind,
        actor: &KeyBytes,
        subject: &DigestBytes,
    ) -> StoreResult<Option<u64>>;

    /// Every published identity whose key bundle's display name is exactly
    /// `display_name` (the same UTF-8 bytes), in key order.
    fn identities_named(&self, display_name: &str) -> StoreResult<Vec<(KeyBytes, IdentityRow)>>;
}
