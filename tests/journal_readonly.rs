//! A data_dir the gateway cannot write, with transactions waiting in its journal: the gateway
//! refuses to start (exit 1, naming the data_dir) instead of running without them, and never
//! tells systemd it is ready. The journal is left as it was.

mod common;
mod journal_support;

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use common::gateway::{loopback, scratch, write_config, Gateway};
use journal_support::{journal_rows, start_limited, wait_until};
use ocpp_gw::sim::modbus_charger::ModbusChargerSim;

#[test]
fn an_unwritable_data_dir_with_a_pending_journal_stops_the_start_before_ready() {
    let charger = ModbusChargerSim::start(loopback()).unwrap();
    let dir = scratch("journal_readonly");
    let data = dir.join("data");
    // No CSMS: the transaction stays in the journal.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let config = write_config(&dir, &format!("ws://{closed}/ocpp"), &[charger.addr()], "");
    let gw = Gateway::start(&config, &dir.join("gateway.log"));
    charger.set_status(1);
    wait_until("Started journaled", || {
        journal_rows(&data, "\"Started\"") == 1
    });
    drop(gw); // SIGKILL

    // No file may grow: as good as a read-only data_dir, and so for root too.
    let notify = dir.join("notify.sock");
    let socket = UnixDatagram::bind(&notify).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let log = dir.join("gateway2.log");
    let mut gw = start_limited(
        &config,
        &log,
        Some(0),
        &[("NOTIFY_SOCKET", notify.to_str().unwrap())],
    );
    let until = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = gw.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < until,
            "still running with an unwritable data_dir; log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(1));
    std::thread::sleep(Duration::from_millis(100));
    let text = std::fs::read_to_string(&log).unwrap();
    let expected = format!("data_dir: {} not writable", data.display());
    assert!(text.contains(&expected), "{text}");
    let mut buf = [0u8; 1024];
    while let Ok(n) = socket.recv(&mut buf) {
        let message = String::from_utf8_lossy(&buf[..n]);
        assert!(
            !message.lines().any(|l| l == "READY=1"),
            "READY sent: {message}"
        );
    }
    assert_eq!(journal_rows(&data, "\"Started\""), 1, "journal untouched");
}
