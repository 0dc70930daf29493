//! The age v1 file format (spec: `spec/age.md`).
