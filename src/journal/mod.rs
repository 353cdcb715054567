//! The durable journal: transaction-related messages that the CSMS has not acknowledged yet and
//! the resumable transaction state of every EVSE, in one SQLite file, so that neither a lost
//! link nor a `kill -9` nor a power cut loses a transaction.
//!
//! The station stays sans-IO: it says what to write as [`JournalOp`]s among its effects, in
//! order; the hub keeps them in each station's [`Backlog`] and carries them out with
//! [`Journal::apply`]. A failed commit stays in the backlog and is retried; until it is on
//! disk the station sends no transaction message, so the CSMS never hears of a message the
//! journal does not hold, nor acknowledges one whose removal is not on disk. At start the hub
//! reads each station's rows with [`Journal::load`].

mod backlog;
mod schema;
mod store;

pub use backlog::Backlog;
pub use store::{Journal, Stored, StoredMessage, StoredTx};

use std::path::PathBuf;

/// What the station asks the journal to do, in the order it must happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalOp {
    /// A transaction-related message was queued under `key` (keys grow within a station).
    Append {
        key: u64,
        action: String,
        /// The CALL payload as JSON text.
        payload: String,
    },
    /// The message under `key` left the queue.
    Remove { key: u64, reason: RemoveReason },
    /// The resumable state of the transaction on EVSE `evse` (1-based), as JSON text.
    SaveTx { evse: u32, state: String },
    /// EVSE `evse` no longer has a transaction.
    ClearTx { evse: u32 },
}

impl JournalOp {
    /// Whether losing this write in a crash could lose or garble an event the CSMS must get.
    /// A lost removal only makes an acknowledged message go out once more after a restart.
    pub fn needs_durability(&self) -> bool {
        !matches!(self, JournalOp::Remove { .. })
    }
}

/// Why a message left the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoveReason {
    /// The CSMS acknowledged it with a CALLRESULT.
    Delivered,
    /// It failed `MessageAttemptsTransactionEvent` times (or could not be read back).
    Rejected,
    /// The journal was full and this was the oldest message the bound policy may drop.
    Overflow,
}

/// Why the journal cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{path}: cannot move the unusable journal aside: {source}")]
    MoveAside {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: still unusable after moving the old file aside: {reason}")]
    Unusable { path: PathBuf, reason: String },
    #[error("{path}: cannot create its directory: {source}")]
    Directory {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

#[cfg(test)]
mod tests;
