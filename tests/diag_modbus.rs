//! `ocpp-gw diag modbus-tcp` against the simulated charger over loopback.

use std::net::TcpListener;
use std::process::{Command, Output};

use ocpp_gw::sim::modbus_charger::{ModbusChargerSim, REG_STATUS, REG_VOLTAGE_DV};

fn diag(port: u16, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ocpp-gw"))
        .args(["diag", "modbus-tcp", "--host", "127.0.0.1", "--port"])
        .arg(port.to_string())
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

#[test]
fn reads_and_writes_registers_and_coils() {
    let sim = ModbusChargerSim::start(([127, 0, 0, 1], 0).into()).unwrap();
    let port = sim.addr().port();
    sim.set_register(REG_STATUS, 4);
    sim.set_register(REG_VOLTAGE_DV, 0xFFFE);

    let out = diag(port, &["--unit", "1", "read", "holding", "0", "2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("2 holding register(s) from address 0"),
        "{stdout}"
    );
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .skip(2)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["0", "40001", "0x0004", "4", "4"]);
    assert_eq!(rows[1], ["1", "40002", "0x0000", "0", "0"]);
    assert!(stdout.lines().all(|l| l.len() <= 80));

    // Input registers read the same table in the simulator; signed view of 0xFFFE is -2.
    let out = diag(port, &["--unit", "7", "read", "input", "15"]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("     15    30016   0xFFFE   65534      -2"),
        "{stdout}"
    );

    let out = diag(
        port,
        &["--unit", "1", "write", "holding", "0x20", "17", "0x0102"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("wrote 2 holding register(s) from address 32"));
    assert_eq!((sim.register(32), sim.register(33)), (17, 0x0102));

    let out = diag(port, &["--unit", "1", "write", "coil", "5", "on"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = diag(port, &["--unit", "1", "read", "coil", "4", "3"]);
    let stdout = text(&out.stdout);
    let values: Vec<&str> = stdout
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().last())
        .collect();
    assert_eq!(values, ["0", "1", "0"]);
}

#[test]
fn says_why_a_device_cannot_be_reached() {
    // Nothing listens: refused, with the likely causes.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let out = diag(port, &["--unit", "1", "read", "holding", "0"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let words = stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(words.contains("connection refused"), "{stderr}");
    assert!(words.contains("gateway daemon"), "{stderr}");
    assert!(stderr.lines().all(|l| l.chars().count() <= 80), "{stderr}");

    // A device that accepts but never answers (busy with another client, wrong unit).
    let sim = ModbusChargerSim::start(([127, 0, 0, 1], 0).into()).unwrap();
    sim.set_silent(true);
    let out = diag(sim.addr().port(), &["--unit", "1", "read", "holding", "0"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let words = stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(words.contains("no answer within"), "{stderr}");
}

#[test]
fn bad_usage_exits_2() {
    for args in [
        &["--unit", "1", "read", "holding", "0", "200"][..],
        &["read", "holding", "0"],
        &["--unit", "1", "write", "input", "0", "1"],
    ] {
        let out = diag(502, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains("usage:"));
    }
}

fn diag_rtu(path: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ocpp-gw"))
        .args(["diag", "modbus-rtu", "--port", path, "--baud", "19200"])
        .args(args)
        .output()
        .expect("run ocpp-gw")
}

#[test]
fn rtu_reads_and_writes_over_a_serial_line() {
    let sim = ocpp_gw::sim::modbus_rtu::ModbusRtuSim::start([3], None).unwrap();
    let path = sim.path().to_str().unwrap().to_string();
    let bank = sim.bank(3).unwrap();
    bank.set_status(1);
    let out = diag_rtu(&path, &["--unit", "3", "read", "holding", "0", "1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("unit 3: 1 holding register(s) from address 0"),
        "{stdout}"
    );
    assert!(stdout.contains("0x0001"), "{stdout}");

    let out = diag_rtu(&path, &["--unit", "3", "write", "holding", "20", "1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(bank.register(20), 1);

    // A unit nobody answers for: a clear failure, not a hang.
    let out = diag_rtu(&path, &["--unit", "9", "read", "holding", "0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("ocpp-gw diag modbus-rtu:"),
        "{}",
        text(&out.stderr)
    );
}
