//! The signed version manifest (spec: `spec/documents.md`).
