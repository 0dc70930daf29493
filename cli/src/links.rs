//! Share links: creating, listing, revoking and opening them.
