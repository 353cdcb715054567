//! Opening the journal file (moving a foreign or damaged one aside) and reading and writing
//! its rows.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, ErrorCode};

use super::schema::{self, Verdict, MIGRATIONS};
use super::{JournalError, JournalOp};

/// One message that waited for the CSMS when the journal was last written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    pub key: u64,
    pub action: String,
    pub payload: String,
}

/// The saved state of one EVSE's open transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTx {
    /// 1-based EVSE id.
    pub evse: u32,
    pub state: String,
}

/// Everything the journal holds for one station.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stored {
    /// In the order they were queued.
    pub messages: Vec<StoredMessage>,
    pub transactions: Vec<StoredTx>,
}

/// The open journal file. Owned by the hub thread.
pub struct Journal {
    conn: Connection,
    path: PathBuf,
    /// The connection currently commits with `synchronous=FULL`.
    full_sync: bool,
}

/// Why one attempt to open the file failed.
enum OpenFailure {
    /// The file is not a usable journal of ours; it goes aside.
    Unusable(String),
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for OpenFailure {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
                OpenFailure::Unusable(e.to_string())
            }
            _ => OpenFailure::Sqlite(e),
        }
    }
}

impl Journal {
    /// Opens (or creates) the journal at `path`. A file that is damaged, not ours, or of a
    /// newer schema is renamed to `<path>.corrupt-<unix time>` (with its `-wal`/`-shm`), logged
    /// as an error, and a fresh journal takes its place.
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| JournalError::Directory {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let sqlite = |source| JournalError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        match try_open(path) {
            Ok(journal) => Ok(journal),
            Err(OpenFailure::Sqlite(e)) => Err(sqlite(e)),
            Err(OpenFailure::Unusable(reason)) => {
                let aside = move_aside(path)?;
                log::error!(
                    "journal {}: {reason}; moved aside to {} and starting a fresh journal",
                    path.display(),
                    aside.display()
                );
                try_open(path).map_err(|e| match e {
                    OpenFailure::Sqlite(e) => sqlite(e),
                    OpenFailure::Unusable(reason) => JournalError::Unusable {
                        path: path.to_path_buf(),
                        reason,
                    },
                })
            }
        }
    }

    /// The file this journal writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Everything stored for `station`, messages in queue order.
    pub fn load(&self, station: &str) -> Result<Stored, JournalError> {
        self.read(station).map_err(|source| self.error(source))
    }

    fn read(&self, station: &str) -> rusqlite::Result<Stored> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT key, action, payload FROM messages WHERE station = ?1 ORDER BY key",
        )?;
        let messages = stmt
            .query_map([station], |r| {
                Ok(StoredMessage {
                    key: r.get::<_, i64>(0)? as u64,
                    action: r.get(1)?,
                    payload: r.get(2)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT evse, state FROM transactions WHERE station = ?1 ORDER BY evse",
        )?;
        let transactions = stmt
            .query_map([station], |r| {
                Ok(StoredTx {
                    evse: r.get(0)?,
                    state: r.get(1)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(Stored {
            messages,
            transactions,
        })
    }

    /// Writes `ops` of `station` in one transaction. It is committed durably (fsync) when any
    /// op needs it; a batch of removals alone is committed without waiting for the disk, and
    /// the next durable commit makes it durable too (the WAL is written in order).
    pub fn apply(&mut self, station: &str, ops: &[JournalOp]) -> Result<(), JournalError> {
        if ops.is_empty() {
            return Ok(());
        }
        let durable = ops.iter().any(JournalOp::needs_durability);
        self.write(station, ops, durable)
            .map_err(|source| self.error(source))
    }

    fn write(&mut self, station: &str, ops: &[JournalOp], durable: bool) -> rusqlite::Result<()> {
        if durable != self.full_sync {
            let mode = if durable { "FULL" } else { "NORMAL" };
            self.conn.pragma_update(None, "synchronous", mode)?;
            self.full_sync = durable;
        }
        let tx = self.conn.transaction()?;
        for op in ops {
            match op {
                JournalOp::Append {
                    key,
                    action,
                    payload,
                } => {
                    tx.prepare_cached(
                        "INSERT OR REPLACE INTO messages (station, key, action, payload) \
                         VALUES (?1, ?2, ?3, ?4)",
                    )?
                    .execute(params![
                        station,
                        *key as i64,
                        action,
                        payload
                    ])?;
                }
                JournalOp::Remove { key, .. } => {
                    tx.prepare_cached("DELETE FROM messages WHERE station = ?1 AND key = ?2")?
                        .execute(params![station, *key as i64])?;
                }
                JournalOp::SaveTx { evse, state } => {
                    tx.prepare_cached(
                        "INSERT OR REPLACE INTO transactions (station, evse, state) \
                         VALUES (?1, ?2, ?3)",
                    )?
                    .execute(params![station, evse, state])?;
                }
                JournalOp::ClearTx { evse } => {
                    tx.prepare_cached("DELETE FROM transactions WHERE station = ?1 AND evse = ?2")?
                        .execute(params![station, evse])?;
                }
            }
        }
        tx.commit()
    }

    /// Messages stored for every station.
    pub fn message_count(&self) -> Result<u64, JournalError> {
        self.conn
            .query_row("SELECT count(*) FROM messages", [], |r| r.get::<_, i64>(0))
            .map(|n| n.max(0) as u64)
            .map_err(|source| self.error(source))
    }

    fn error(&self, source: rusqlite::Error) -> JournalError {
        JournalError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }
}

/// One attempt: open, check, migrate, set the durability pragmas.
fn try_open(path: &Path) -> Result<Journal, OpenFailure> {
    let mut conn = Connection::open(path)?;
    let version = match schema::inspect(&conn)? {
        Verdict::Fresh => 0,
        Verdict::Ours { version } => version,
        Verdict::Unusable(reason) => return Err(OpenFailure::Unusable(reason)),
    };
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        log::warn!(
            "journal {}: WAL refused (journal_mode {mode}); commits stay durable",
            path.display()
        );
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    schema::migrate(&mut conn, version, MIGRATIONS)?;
    Ok(Journal {
        conn,
        path: path.to_path_buf(),
        full_sync: true,
    })
}

/// Renames `path` and its WAL and shared-memory files to `<path>.corrupt-<unix time>[-wal|-shm]`
/// so that the next open starts empty and the old bytes stay for an investigation.
fn move_aside(path: &Path) -> Result<PathBuf, JournalError> {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let base = path.as_os_str().to_string_lossy().into_owned();
    let mut aside = PathBuf::from(format!("{base}.corrupt-{secs}"));
    let mut n = 1;
    while aside.exists() {
        aside = PathBuf::from(format!("{base}.corrupt-{secs}.{n}"));
        n += 1;
    }
    let rename = |from: PathBuf, to: PathBuf| {
        std::fs::rename(&from, to).map_err(|source| JournalError::MoveAside { path: from, source })
    };
    rename(path.to_path_buf(), aside.clone())?;
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{base}{suffix}"));
        if side.exists() {
            let target = PathBuf::from(format!("{}{suffix}", aside.display()));
            rename(side, target)?;
        }
    }
    Ok(aside)
}
