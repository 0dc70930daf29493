//! Matters and their creator record (spec: `spec/grants.md`).
