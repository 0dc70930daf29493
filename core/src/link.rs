//! Share-link secrets and the keys derived from them (spec: `spec/links.md`).
