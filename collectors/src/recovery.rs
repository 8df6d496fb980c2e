//! Recovers a dirty hive in memory from its `.LOG1`/`.LOG2` transaction logs.

use std::path::PathBuf;

/// One transaction log, read into memory.
#[derive(Clone, Debug)]
pub struct TransactionLogInput {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// A log that was looked at but not used, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedLog {
    /// The log file.
    pub path: PathBuf,
    /// Why it was not applied.
    pub reason: String,
}

/// The result of applying transaction logs to a copy of a primary hive.
#[derive(Clone, Debug)]
pub struct Recovered {
    /// The recovered hive: base block and hive bins, with sequence numbers made equal and the
    /// checksum recomputed.
    pub bytes: Vec<u8>,
    /// The logs applied, in the order they were applied.
    pub applied_logs: Vec<PathBuf>,
    /// Log entries (new format) or dirty pages (old format) written back.
    pub applied_units: u32,
    /// Logs that were present but not used.
    pub skipped: Vec<SkippedLog>,
}

/// Why no recovery could be made.
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    /// None of the logs holds data that applies to this hive.
    #[error("no transaction log applies to this hive")]
    NoApplicableLog,
}

/// Applies `logs` to a copy of `primary`.
pub fn recover(
    _primary: &[u8],
    _logs: &[TransactionLogInput],
) -> Result<Recovered, RecoveryError> {
    Err(RecoveryError::NoApplicableLog)
}
