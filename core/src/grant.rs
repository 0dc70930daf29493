//! Grants, revocations and authority chains (spec: `spec/grants.md`).
