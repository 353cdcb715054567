//! A full disk under the real gateway (a file-size limit on its process, raised again later):
//! no transaction message reaches the CSMS before it is journaled, the failure shows in the
//! metrics, everything flows in order once space returns, and a `kill -9` afterwards replays
//! nothing the CSMS already acknowledged.

mod common;
mod journal_support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::Duration;

use common::gateway::{loopback, scratch, wait_call, wait_status, write_config, Gateway};
use journal_support::{journal_rows, limit_file_size, start_limited, tx_events, tx_id, wait_until};
use ocpp_gw::sim::csms::{CsmsOptions, CsmsSim};
use ocpp_gw::sim::modbus_charger::ModbusChargerSim;

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// The value of an unlabelled sample on the Prometheus endpoint at `port`.
fn metric(port: u16, name: &str) -> Option<f64> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

fn count(events: &[serde_json::Value], tx: &str, kind: &str) -> usize {
    events
        .iter()
        .filter(|e| tx_id(e) == tx && e["eventType"] == kind)
        .count()
}

#[test]
fn a_full_disk_holds_transaction_messages_back_and_a_restart_replays_nothing_acknowledged() {
    let csms = CsmsSim::start(loopback(), CsmsOptions::default()).unwrap();
    let port = csms.addr();
    let charger = ModbusChargerSim::start(loopback()).unwrap();
    let dir = scratch("journal_disk_full");
    let data = dir.join("data");
    let metrics_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = write_config(
        &dir,
        &csms.url(),
        &[charger.addr()],
        &format!("\n[system.metrics]\nprometheus_port = {metrics_port}\n"),
    );
    let gw = start_limited(&config, &dir.join("gateway.log"), None, &[]);
    wait_status(&csms, "CP001", "Available", 0);
    csms.stop();
    charger.set_status(1);
    wait_until("Started journaled", || {
        journal_rows(&data, "\"Started\"") == 1
    });

    // The disk fills up: no journal file may grow any more.
    let db = data.join("journal.db");
    let full = file_len(&db).max(file_len(&data.join("journal.db-wal")));
    limit_file_size(&gw, Some(full));
    let csms = CsmsSim::start(port, CsmsOptions::default()).unwrap();
    // Started was on disk before the disk filled, so it goes out; its removal cannot be
    // written, and the Ended event cannot be journaled.
    let started = wait_call(&csms, "CP001", "TransactionEvent", 0, |p| {
        p["eventType"] == "Started"
    });
    let tx = tx_id(&started.frame[3]);
    charger.set_status(0);
    let early = csms.wait_for(Duration::from_secs(4), |r| {
        common::gateway::is_call(r, "TransactionEvent") && r.frame[3]["eventType"] == "Ended"
    });
    assert!(
        early.is_none(),
        "Ended reached the CSMS before it was journaled: {early:?}"
    );
    assert_eq!(journal_rows(&data, "\"Started\""), 1, "removal not written");
    assert!(metric(metrics_port, "ocppgw_journal_write_errors_total").unwrap() >= 1.0);
    assert_eq!(metric(metrics_port, "ocppgw_journal_healthy"), Some(0.0));

    // Space returns: the removal, then Ended, in order.
    limit_file_size(&gw, None);
    let ended = wait_call(&csms, "CP001", "TransactionEvent", started.seq, |p| {
        p["eventType"] == "Ended"
    });
    assert_eq!(tx_id(&ended.frame[3]), tx);
    wait_until("the journal to empty", || journal_rows(&data, "") == 0);
    wait_until("healthy again", || {
        metric(metrics_port, "ocppgw_journal_healthy") == Some(1.0)
    });

    drop(gw); // SIGKILL
    let _gw = Gateway::start(&config, &dir.join("gateway2.log"));
    let booted = wait_call(&csms, "CP001", "BootNotification", ended.seq, |_| true);
    wait_status(&csms, "CP001", "Available", booted.seq);
    // Anything replayed would go out right after boot.
    std::thread::sleep(Duration::from_secs(2));
    let events = tx_events(&csms.records());
    assert_eq!(count(&events, &tx, "Started"), 1, "{events:#?}");
    assert_eq!(count(&events, &tx, "Ended"), 1, "{events:#?}");
    let errors = common::validate_records(&csms.records());
    assert!(errors.is_empty(), "{errors:#?}");
}
