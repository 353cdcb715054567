use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use rusqlite::Connection;

use super::schema::{self, Verdict, APPLICATION_ID, MIGRATIONS};
use super::*;

/// An empty directory of its own for each test.
fn scratch(name: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "ocpp-gw-journal-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn append(key: u64, payload: &str) -> JournalOp {
    JournalOp::Append {
        key,
        action: "TransactionEvent".into(),
        payload: payload.into(),
    }
}

/// Files in `dir` whose name starts with `prefix`.
fn files(dir: &Path, prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort();
    names
}

#[test]
fn rows_survive_reopening_in_queue_order_per_station() {
    let dir = scratch("roundtrip");
    let path = dir.join("sub/journal.db");
    let mut j = Journal::open(&path).unwrap();
    j.apply("CP1", &[append(2, "{\"b\":1}"), append(1, "{\"a\":1}")])
        .unwrap();
    j.apply(
        "CP1",
        &[JournalOp::SaveTx {
            evse: 1,
            state: "{}".into(),
        }],
    )
    .unwrap();
    j.apply("CP2", &[append(7, "{}")]).unwrap();
    j.apply(
        "CP1",
        &[
            append(3, "{\"c\":1}"),
            JournalOp::Remove {
                key: 1,
                reason: RemoveReason::Delivered,
            },
        ],
    )
    .unwrap();
    drop(j);

    let j = Journal::open(&path).unwrap();
    let cp1 = j.load("CP1").unwrap();
    let keys: Vec<u64> = cp1.messages.iter().map(|m| m.key).collect();
    assert_eq!(keys, [2, 3]);
    assert_eq!(cp1.messages[0].payload, "{\"b\":1}");
    assert_eq!(
        cp1.transactions,
        [StoredTx {
            evse: 1,
            state: "{}".into()
        }]
    );
    assert_eq!(j.load("CP2").unwrap().messages.len(), 1);
    assert_eq!(j.load("CP3").unwrap(), Stored::default());
    assert_eq!(j.message_count().unwrap(), 3);
    let mut j = j;
    j.apply("CP1", &[JournalOp::ClearTx { evse: 1 }]).unwrap();
    assert!(j.load("CP1").unwrap().transactions.is_empty());
    assert!(files(&dir.join("sub"), "journal.db.corrupt").is_empty());
}

#[test]
fn a_fresh_journal_is_ours_at_the_latest_version_in_wal_mode() {
    let dir = scratch("fresh");
    let path = dir.join("journal.db");
    drop(Journal::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    assert_eq!(
        schema::inspect(&conn).unwrap(),
        Verdict::Ours {
            version: MIGRATIONS.len()
        }
    );
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn migrations_run_in_order_from_the_stored_version_and_keep_rows() {
    let dir = scratch("migrate");
    let mut conn = Connection::open(dir.join("j.db")).unwrap();
    let v1 = "CREATE TABLE messages (station TEXT, key INTEGER, action TEXT, payload TEXT)";
    schema::migrate(&mut conn, 0, &[v1]).unwrap();
    conn.execute("INSERT INTO messages VALUES ('CP1', 1, 'A', '{}')", [])
        .unwrap();
    assert_eq!(
        schema::inspect(&conn).unwrap(),
        Verdict::Ours { version: 1 }
    );

    let v2 = "ALTER TABLE messages ADD COLUMN note TEXT DEFAULT 'x'";
    schema::migrate(&mut conn, 1, &[v1, v2]).unwrap();
    let (version, app): (i64, i32) = conn
        .query_row(
            "SELECT * FROM pragma_user_version, pragma_application_id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((version, app), (2, APPLICATION_ID));
    let note: String = conn
        .query_row("SELECT note FROM messages WHERE key = 1", [], |r| r.get(0))
        .unwrap();
    assert_eq!(note, "x");

    // A failing step leaves the schema as it was.
    let bad = "CREATE TABLE messages (x)";
    assert!(schema::migrate(&mut conn, 2, &[v1, v2, bad]).is_err());
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2);
}

#[test]
fn a_file_that_is_not_a_database_is_moved_aside() {
    let dir = scratch("garbage");
    let path = dir.join("journal.db");
    std::fs::write(&path, vec![0x5a; 8192]).unwrap();
    let mut j = Journal::open(&path).unwrap();
    j.apply("CP1", &[append(0, "{}")]).unwrap();
    let aside = files(&dir, "journal.db.corrupt-");
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(
        std::fs::read(dir.join(&aside[0])).unwrap(),
        vec![0x5a; 8192]
    );
}

#[test]
fn a_foreign_database_is_moved_aside_not_reused() {
    let dir = scratch("foreign");
    let path = dir.join("journal.db");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE invoices (id INTEGER); INSERT INTO invoices VALUES (1);")
        .unwrap();
    drop(conn);
    let j = Journal::open(&path).unwrap();
    assert_eq!(j.message_count().unwrap(), 0);
    let aside = files(&dir, "journal.db.corrupt-");
    assert_eq!(aside.len(), 1, "{aside:?}");
    let old = Connection::open(dir.join(&aside[0])).unwrap();
    let n: i64 = old
        .query_row("SELECT count(*) FROM invoices", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn a_journal_of_a_newer_schema_or_with_extra_tables_is_moved_aside() {
    for (name, sql) in [
        (
            "newer",
            format!("PRAGMA user_version = {}", MIGRATIONS.len() + 1),
        ),
        ("extra", "CREATE TABLE extra (x)".to_string()),
    ] {
        let dir = scratch(name);
        let path = dir.join("journal.db");
        drop(Journal::open(&path).unwrap());
        Connection::open(&path)
            .unwrap()
            .execute_batch(&sql)
            .unwrap();
        drop(Journal::open(&path).unwrap());
        assert_eq!(files(&dir, "journal.db.corrupt-").len(), 1, "{name}");
        let conn = Connection::open(&path).unwrap();
        assert_eq!(
            schema::inspect(&conn).unwrap(),
            Verdict::Ours {
                version: MIGRATIONS.len()
            },
            "{name}"
        );
    }
}

#[test]
fn only_removals_may_skip_the_fsync() {
    assert!(append(0, "{}").needs_durability());
    assert!(JournalOp::ClearTx { evse: 1 }.needs_durability());
    assert!(!JournalOp::Remove {
        key: 0,
        reason: RemoveReason::Delivered
    }
    .needs_durability());
}
