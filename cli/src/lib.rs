//! The lexvault client library: the vault's HTTP API spoken over the core,
//! used by the `lexvault` CLI, the integration tests and the adversarial
//! tests alike.
