//! The self-signed identity key bundle (spec: `spec/identity.md`).
