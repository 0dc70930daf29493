//! `lexvault`: the firm's and the auditor's command-line client.

fn main() {}
