//! What the journal tests share: reading the journal file from outside, checking the
//! TransactionEvents a CSMS received for gaps, duplicates and order, and running the gateway
//! under a file-size limit that stands in for a full or read-only disk.
// Each test binary uses a different part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ocpp_gw::sim::csms::Record;
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;

use super::common::gateway::{is_call, Gateway, WAIT};

/// Messages the journal in `data` holds (0 while it does not exist yet).
pub fn journal_rows(data: &Path, like: &str) -> usize {
    let path = data.join("journal.db");
    let Ok(conn) = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY) else {
        return 0;
    };
    conn.query_row(
        "SELECT count(*) FROM messages WHERE payload LIKE ?1",
        [format!("%{like}%")],
        |r| r.get::<_, i64>(0),
    )
    .map_or(0, |n| n as usize)
}

/// Waits up to `WAIT` for `cond`.
pub fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let until = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The TransactionEvent payloads among `records`, in arrival order.
pub fn tx_events(records: &[Record]) -> Vec<Value> {
    records
        .iter()
        .filter(|r| is_call(r, "TransactionEvent"))
        .map(|r| r.frame[3].clone())
        .collect()
}

/// The transaction id of a TransactionEvent payload.
pub fn tx_id(event: &Value) -> String {
    event["transactionInfo"]["transactionId"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Per transaction, in first-arrival order of each seqNo: checks that seqNos are 0..n without
/// a gap, that a repeated seqNo repeats the same content, that seqNo 0 is Started, that at most
/// the last is Ended, and that they arrived in seqNo order apart from repeats. Returns the
/// events of each transaction by seqNo, and the number of repeats.
pub fn check_events(events: &[Value]) -> (BTreeMap<String, Vec<Value>>, usize) {
    let mut by_tx: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut repeats = 0;
    for e in events {
        let seq = e["seqNo"].as_u64().expect("seqNo") as usize;
        let list = by_tx.entry(tx_id(e)).or_default();
        if seq < list.len() {
            assert_eq!(&list[seq], e, "seqNo {seq} repeated with other content");
            repeats += 1;
            continue;
        }
        assert_eq!(
            seq,
            list.len(),
            "gap before seqNo {seq}: {e}\nall: {events:#?}"
        );
        list.push(e.clone());
    }
    for (tx, list) in &by_tx {
        assert_eq!(list[0]["eventType"], "Started", "{tx}: {list:#?}");
        let ended = list.iter().position(|e| e["eventType"] == "Ended");
        if let Some(i) = ended {
            assert_eq!(i, list.len() - 1, "{tx}: events after Ended");
        }
    }
    (by_tx, repeats)
}

/// The gateway with SIGXFSZ ignored and no file allowed to grow past `limit` bytes (`None`: no
/// limit), so a write past it fails with EFBIG like one on a full disk instead of killing the
/// process. Its log goes through a pipe to `log`, which no limit applies to; `env` is added to
/// its environment.
pub fn start_limited(
    config: &Path,
    log: &Path,
    limit: Option<u64>,
    env: &[(&str, &str)],
) -> Gateway {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ocpp-gw"));
    command
        .args(["run", "--config"])
        .arg(config)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let limit = rlimit(limit);
    // SAFETY: signal(2) and setrlimit(2) are async-signal-safe; nothing else runs between
    // fork and exec.
    unsafe {
        command.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let mut file = std::fs::File::create(log).unwrap();
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut file));
    Gateway(child)
}

/// Sets the largest file the running gateway may write to `bytes` (`None`: no limit).
pub fn limit_file_size(gw: &Gateway, bytes: Option<u64>) {
    let limit = rlimit(bytes);
    // SAFETY: prlimit(2) on our own child with a valid rlimit and no old-value pointer.
    let rc = unsafe {
        libc::prlimit(
            gw.0.id() as libc::pid_t,
            libc::RLIMIT_FSIZE,
            &limit,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
}

fn rlimit(bytes: Option<u64>) -> libc::rlimit {
    libc::rlimit {
        rlim_cur: bytes.unwrap_or(libc::RLIM_INFINITY),
        rlim_max: libc::RLIM_INFINITY,
    }
}
