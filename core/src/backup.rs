//! Secret keys sealed under a password (spec: `spec/backup.md`).
