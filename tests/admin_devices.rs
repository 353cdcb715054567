//! Device add, update and delete through the admin API of the real binary: the config file is
//! edited and applied live, stations boot, restart and disconnect, bad edits change nothing.

mod admin_common;
mod common;

use std::net::SocketAddr;
use std::path::PathBuf;

use admin_common::{loopback, scratch, send, write_config, Gateway, Tokens, WAIT};
use common::gateway::{assert_records_valid, wait_call};
use ocpp_gw::sim::csms::{CsmsOptions, CsmsSim, Dir};
use ocpp_gw::sim::modbus_charger::ModbusChargerSim;
use serde_json::{json, Value};

struct Setup {
    _gateway: Gateway,
    config: PathBuf,
    url: String,
    tokens: Tokens,
    sims: Vec<ModbusChargerSim>,
    csms: CsmsSim,
}

/// The gateway with charger-1 configured; a second simulated charger waits to be added.
fn setup(name: &str) -> Setup {
    let dir = scratch(name);
    let csms = CsmsSim::start(loopback(), CsmsOptions::default()).unwrap();
    let sims: Vec<_> = (0..2)
        .map(|_| ModbusChargerSim::start(loopback()).unwrap())
        .collect();
    let tokens = Tokens::new();
    let log_file = dir.join("gateway.log");
    let system = format!(
        "log_file = \"{}\"\n\n[system.admin]\nbind = \"127.0.0.1:0\"\ntokens = {}\n",
        log_file.display(),
        tokens.config
    );
    let config = write_config(&dir, &system, &csms.url(), &[sims[0].addr()]);
    let gateway = Gateway::start(&config, &log_file);
    let url = gateway.admin_url("API, status page and metrics");
    Setup {
        _gateway: gateway,
        config,
        url,
        tokens,
        sims,
        csms,
    }
}

fn device(id: &str, ocpp_id: &str, charger: SocketAddr) -> Value {
    json!({
        "id": id,
        "template": "generic_modbus_charger",
        "protocol": "modbus_tcp",
        "ocpp_id": ocpp_id,
        "poll_interval_ms": 200,
        "connection": {"ip": charger.ip().to_string(), "port": charger.port(), "unit_id": 1},
    })
}

fn boot(csms: &CsmsSim, station: &str, after: u64) -> u64 {
    wait_call(csms, station, "BootNotification", after, |_| true).seq
}

#[test]
fn devices_need_the_admin_role() {
    let s = setup("admin-devices-roles");
    let body = device("charger-2", "CP002", s.sims[1].addr()).to_string();
    let t = &s.tokens;
    for (method, path) in [
        ("POST", "/api/v1/devices"),
        ("PUT", "/api/v1/devices/charger-1"),
        ("DELETE", "/api/v1/devices/charger-1"),
    ] {
        assert_eq!(send(&s.url, method, path, None, &body).status, 401);
        for token in [&t.viewer, &t.operator] {
            let answer = send(&s.url, method, path, Some(token), &body);
            assert_eq!(answer.status, 403, "{method} {path}");
        }
    }
    let before = std::fs::read_to_string(&s.config).unwrap();
    let added = send(&s.url, "POST", "/api/v1/devices", Some(&t.admin), &body);
    assert_eq!(added.status, 201, "{}", added.body);
    assert_ne!(std::fs::read_to_string(&s.config).unwrap(), before);
}

#[test]
fn add_update_delete_are_applied_live() {
    let s = setup("admin-devices-live");
    let admin = Some(s.tokens.admin.as_str());
    let first = boot(&s.csms, "CP001", 0);

    let new = device("charger-2", "CP002", s.sims[1].addr());
    let added = send(&s.url, "POST", "/api/v1/devices", admin, &new.to_string());
    assert_eq!(added.status, 201, "{}", added.body);
    let booted = boot(&s.csms, "CP002", 0);
    let listed = send(&s.url, "GET", "/api/v1/devices/charger-2", admin, "");
    assert_eq!(listed.status, 200);

    let again = send(&s.url, "POST", "/api/v1/devices", admin, &new.to_string());
    assert_eq!(again.status, 409, "{}", again.body);
    let same_ocpp = device("charger-3", "CP001", s.sims[1].addr()).to_string();
    let clash = send(&s.url, "POST", "/api/v1/devices", admin, &same_ocpp);
    assert_eq!(clash.status, 409, "{}", clash.body);

    let mut changed = new.clone();
    changed["poll_interval_ms"] = json!(300);
    let updated = send(
        &s.url,
        "PUT",
        "/api/v1/devices/charger-2",
        admin,
        &changed.to_string(),
    );
    assert_eq!(updated.status, 200, "{}", updated.body);
    let rebooted = boot(&s.csms, "CP002", booted);
    assert!(rebooted > booted);
    let missing = send(
        &s.url,
        "PUT",
        "/api/v1/devices/nope",
        admin,
        &changed.to_string(),
    );
    assert_eq!(missing.status, 404);

    assert!(s.csms.connected("CP002"));
    let deleted = send(&s.url, "DELETE", "/api/v1/devices/charger-2", admin, "");
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    let gone = send(&s.url, "GET", "/api/v1/devices/charger-2", admin, "");
    assert_eq!(gone.status, 404);
    let closed = admin_common::wait_for(WAIT, || (!s.csms.connected("CP002")).then_some(()));
    assert!(closed.is_some(), "CP002 is still connected");
    assert_eq!(
        send(&s.url, "DELETE", "/api/v1/devices/charger-2", admin, "").status,
        404
    );
    let text = std::fs::read_to_string(&s.config).unwrap();
    assert!(!text.contains("charger-2"), "{text}");
    assert!(text.contains("charger-1"), "{text}");
    // CP001 kept its connection through all of this.
    assert!(
        s.csms
            .records()
            .iter()
            .filter(|r| r.station == "CP001" && r.seq > first)
            .all(|r| !(r.dir == Dir::In && r.frame[2] == "BootNotification")),
        "CP001 booted again"
    );
    assert_records_valid(&s.csms);
}

#[test]
fn a_bad_device_changes_nothing() {
    let s = setup("admin-devices-bad");
    let admin = Some(s.tokens.admin.as_str());
    boot(&s.csms, "CP001", 0);
    let before = std::fs::read_to_string(&s.config).unwrap();
    let mut bad = device("charger-2", "CP002", s.sims[1].addr());
    bad["template"] = json!("no-such-template");
    bad["connection"]["port"] = json!("502");
    let answer = send(&s.url, "POST", "/api/v1/devices", admin, &bad.to_string());
    assert_eq!(answer.status, 422, "{}", answer.body);
    let body = answer.json();
    let problems = body["problems"].as_array().unwrap();
    assert!(problems.len() >= 2, "{body}");
    assert!(body["error"].is_string());
    let missing = send(&s.url, "POST", "/api/v1/devices", admin, r#"{"id": "x"}"#);
    assert_eq!(missing.status, 422, "{}", missing.body);
    let not_json = send(&s.url, "POST", "/api/v1/devices", admin, "[1]");
    assert_eq!(not_json.status, 400);
    // An id that would split a log line or break a URL path is refused with its key.
    for (key, value) in [
        ("id", "x\"\nINFO forged"),
        ("id", &"x".repeat(65)),
        ("ocpp_id", "CP 9"),
    ] {
        let mut odd = device("charger-9", "CP009", s.sims[1].addr());
        odd[key] = json!(value);
        let answer = send(&s.url, "POST", "/api/v1/devices", admin, &odd.to_string());
        assert_eq!(answer.status, 422, "{}", answer.body);
        assert!(
            answer.body.contains(&format!("{key}: ")) && answer.body.contains("A-Z a-z 0-9"),
            "{}",
            answer.body
        );
    }
    assert_eq!(std::fs::read_to_string(&s.config).unwrap(), before);
    let dir = s.config.parent().unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".edit"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
