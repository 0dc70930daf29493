//! End-to-end and adversarial tests that drive a real lexvault server on
//! loopback through the same client library users get. They arrive with the
//! server; the crypto core's own tests live in `core/`.

#![forbid(unsafe_code)]
