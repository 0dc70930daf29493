//! Encrypted document metadata (spec: `spec/documents.md`).
