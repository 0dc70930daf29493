//! Share links' state.

/// Share links: creation, the conditional state changes of opening and
/// revoking, and listing.
pub trait LinkStore: Send + Sync + 'static {}
