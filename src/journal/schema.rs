//! The journal's schema, its migrations and the checks that tell our file from a foreign or
//! damaged one.

use rusqlite::Connection;

/// `PRAGMA application_id` of an ocpp-gw journal ("OCPG").
pub(super) const APPLICATION_ID: i32 = 0x4F43_5047;

/// Schema steps: step `n` takes `user_version` from `n` to `n + 1`. Append only; never edit a
/// released step.
pub(super) const MIGRATIONS: &[&str] = &["\
    CREATE TABLE messages (\
        station TEXT NOT NULL,\
        key INTEGER NOT NULL,\
        action TEXT NOT NULL,\
        payload TEXT NOT NULL,\
        PRIMARY KEY (station, key)\
    ) WITHOUT ROWID;\
    CREATE TABLE transactions (\
        station TEXT NOT NULL,\
        evse INTEGER NOT NULL,\
        state TEXT NOT NULL,\
        PRIMARY KEY (station, evse)\
    ) WITHOUT ROWID;"];

/// The tables a journal of the current schema has.
const TABLES: &[&str] = &["messages", "transactions"];

/// What an opened file turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Empty: a new journal.
    Fresh,
    /// A journal of ours at schema `version` (possibly older than this build's).
    Ours { version: usize },
    /// Something we must not touch: moved aside with this reason.
    Unusable(String),
}

/// Looks at an open database without changing it.
pub(super) fn inspect(conn: &Connection) -> rusqlite::Result<Verdict> {
    let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    if check != "ok" {
        return Ok(Verdict::Unusable(format!(
            "integrity check failed: {check}"
        )));
    }
    let application_id: i32 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let mut stmt = conn.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    )?;
    let tables = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    if application_id == 0 && version == 0 && tables.is_empty() {
        return Ok(Verdict::Fresh);
    }
    if application_id != APPLICATION_ID {
        return Ok(Verdict::Unusable(format!(
            "not an ocpp-gw journal (application_id {application_id:#x}, tables {tables:?})"
        )));
    }
    let version = usize::try_from(version).unwrap_or(usize::MAX);
    if version > MIGRATIONS.len() {
        return Ok(Verdict::Unusable(format!(
            "schema version {version} is newer than this build's {}",
            MIGRATIONS.len()
        )));
    }
    if let Some(foreign) = tables.iter().find(|t| !TABLES.contains(&t.as_str())) {
        return Ok(Verdict::Unusable(format!("foreign table {foreign:?}")));
    }
    Ok(Verdict::Ours { version })
}

/// Brings the schema from `from` up to `steps.len()`, all or nothing.
pub(super) fn migrate(conn: &mut Connection, from: usize, steps: &[&str]) -> rusqlite::Result<()> {
    if from >= steps.len() {
        return Ok(());
    }
    let tx = conn.transaction()?;
    for (version, step) in steps.iter().enumerate().skip(from) {
        log::info!("journal: schema {version} → {}", version + 1);
        tx.execute_batch(step)?;
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.pragma_update(None, "user_version", steps.len() as i64)?;
    tx.commit()
}
