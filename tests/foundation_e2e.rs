//! The real `ocpp-gw` binary between a simulated Modbus TCP charger and a simulated CSMS.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::gateway::{loopback, scratch, status_of, Gateway, WAIT};
use ocpp_gw::sim::csms::{CsmsOptions, CsmsSim, Record};
use ocpp_gw::sim::modbus_charger::ModbusChargerSim;

fn write_config(dir: &Path, csms_url: &str, charger: SocketAddr) -> PathBuf {
    common::gateway::write_config(dir, csms_url, &[charger], "")
}

fn is_call(r: &Record, action: &str) -> bool {
    common::gateway::is_call(r, action)
}

fn wait_status(csms: &CsmsSim, status: &str) -> Record {
    csms.wait_for(WAIT, |r| status_of(r) == Some(status))
        .unwrap_or_else(|| {
            panic!(
                "no StatusNotification {status}; CSMS saw {:#?}",
                csms.records()
            )
        })
}

fn assert_schema_valid(records: &[Record]) {
    let errors = common::validate_records(records);
    assert!(errors.is_empty(), "schema violations: {errors:#?}");
}

#[test]
fn boots_and_reports_connector_status_as_the_charger_changes() {
    let csms = CsmsSim::start(loopback(), CsmsOptions::default()).unwrap();
    let charger = ModbusChargerSim::start(loopback()).unwrap();
    let dir = scratch("boot_and_status");
    let config = write_config(&dir, &csms.url(), charger.addr());
    let mut gw = Gateway::start(&config, &dir.join("gateway.log"));

    let boot = csms
        .wait_for(WAIT, |r| is_call(r, "BootNotification"))
        .expect("BootNotification");
    assert_eq!(boot.station, "CP001");
    assert_eq!(boot.frame[3]["reason"], "PowerUp");
    let available = wait_status(&csms, "Available");
    assert!(available.seq > boot.seq);

    charger.set_status(1);
    let occupied = wait_status(&csms, "Occupied");
    assert_eq!(occupied.frame[3]["evseId"], 1);
    assert_eq!(occupied.frame[3]["connectorId"], 1);

    let status = gw
        .terminate(Duration::from_secs(2))
        .expect("exit within 2 s of SIGTERM");
    assert!(status.success(), "exit status {status:?}");
    assert_schema_valid(&csms.records());
}

#[test]
fn an_unreachable_charger_makes_the_connector_unavailable_until_it_answers() {
    let csms = CsmsSim::start(loopback(), CsmsOptions::default()).unwrap();
    let charger = ModbusChargerSim::start(loopback()).unwrap();
    let dir = scratch("device_offline");
    let config = write_config(&dir, &csms.url(), charger.addr());
    let _gw = Gateway::start(&config, &dir.join("gateway.log"));

    wait_status(&csms, "Available");
    charger.set_silent(true);
    let unavailable = wait_status(&csms, "Unavailable");
    let problem = |value: &'static str| {
        move |r: &Record| {
            is_call(r, "NotifyEvent")
                && r.frame[3]["eventData"][0]["variable"]["name"] == "Problem"
                && r.frame[3]["eventData"][0]["actualValue"] == value
        }
    };
    let raised = csms
        .wait_for(WAIT, problem("true"))
        .expect("NotifyEvent: EVSE Problem true");
    assert_eq!(
        raised.frame[3]["eventData"][0]["component"]["evse"]["id"],
        1
    );
    charger.set_silent(false);
    let back = csms
        .wait_for(WAIT, |r| {
            r.seq > unavailable.seq && status_of(r) == Some("Available")
        })
        .expect("Available again once the charger answers");
    assert!(back.seq > unavailable.seq);
    let cleared = csms
        .wait_for(WAIT, problem("false"))
        .expect("NotifyEvent: EVSE Problem cleared");
    assert_eq!(cleared.frame[3]["eventData"][0]["cleared"], true);
    assert_schema_valid(&csms.records());
}

#[test]
fn a_dropped_csms_connection_is_reopened() {
    let csms = CsmsSim::start(loopback(), CsmsOptions::default()).unwrap();
    let charger = ModbusChargerSim::start(loopback()).unwrap();
    let dir = scratch("reconnect");
    let config = write_config(&dir, &csms.url(), charger.addr());
    let _gw = Gateway::start(&config, &dir.join("gateway.log"));

    wait_status(&csms, "Available");
    assert_eq!(csms.connection_count("CP001"), 1);
    csms.disconnect("CP001");
    let until = Instant::now() + WAIT;
    while csms.connection_count("CP001") < 2 || !csms.connected("CP001") {
        assert!(Instant::now() < until, "station did not reconnect");
        std::thread::sleep(Duration::from_millis(50));
    }
    // While the link was down the charger changed; the CSMS hears about it after reconnecting.
    charger.set_status(1);
    wait_status(&csms, "Occupied");
    assert_schema_valid(&csms.records());
}

fn run_gateway(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ocpp-gw"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn broken_configs_name_file_and_key_and_exit_2() {
    let dir = scratch("broken_configs");
    let good = write_config(
        &dir,
        "ws://127.0.0.1:9/ocpp",
        "127.0.0.1:502".parse().unwrap(),
    );
    let good_text = std::fs::read_to_string(&good).unwrap();
    let cases = [
        (
            "unknown_key",
            good_text.replace("heartbeat_interval_sec", "heartbeat_secs"),
            "csms.heartbeat_secs",
        ),
        (
            "wrong_type",
            good_text.replace("port = 502", "port = \"502\""),
            "devices[0].connection.port",
        ),
        (
            "missing_template",
            good_text.replace(
                "template = \"generic_modbus_charger\"",
                "template = \"nope\"",
            ),
            "devices[0].template",
        ),
    ];
    for (name, text, key) in cases {
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        let path_str = path.to_str().unwrap();
        for args in [
            vec!["check-config", path_str],
            vec!["run", "--config", path_str],
        ] {
            let (code, stderr) = run_gateway(&args);
            assert_eq!(code, 2, "{name} {args:?}: {stderr}");
            let line = stderr.lines().next().unwrap_or_default();
            assert!(
                line.starts_with(&format!("{path_str}: {key}: ")),
                "{name}: {stderr}"
            );
        }
    }
    let (code, out) = run_gateway(&["check-config", good.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
}
