//! The access log's parsers: log entries, signed notes, checkpoints:
//! errors, never panics; what is accepted round-trips.
#![no_main]

use lexvault_core::checkpoint::Checkpoint;
use lexvault_core::log_entry::LogEntry;
use lexvault_core::note::UnverifiedNote;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = LogEntry::from_bytes(data) {
        assert_eq!(e.to_bytes(), data);
    }
    if let Ok(n) = UnverifiedNote::parse(data) {
        assert_eq!(n.to_text().as_bytes(), data);
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(c) = Checkpoint::parse(text)
    {
        assert_eq!(c.to_text(), text);
    }
});
