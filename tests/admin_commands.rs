//! Operator commands through the admin API of the real binary, between a simulated Modbus
//! charger and a simulated CSMS: what each role gets, what the charger and the CSMS see.

mod admin_common;
mod common;

use admin_common::{
    loopback, scratch, send, wait_for, write_config, Answer, Gateway, Tokens, WAIT,
};
use common::gateway::{assert_records_valid, wait_call, wait_register, wait_status};
use ocpp_gw::sim::csms::{CsmsOptions, CsmsSim};
use ocpp_gw::sim::modbus_charger::{ModbusChargerSim, STATUS_OCCUPIED};
use serde_json::Value;

/// Holding register the template maps `Control.Charging` to.
const REG_CHARGING: u16 = 20;
/// Holding register of `Control.Unlock`.
const REG_UNLOCK: u16 = 24;
/// Holding register of `Control.Availability`.
const REG_AVAILABILITY: u16 = 22;

struct Setup {
    gateway: Gateway,
    url: String,
    tokens: Tokens,
    charger: ModbusChargerSim,
    csms: CsmsSim,
}

fn setup(name: &str) -> Setup {
    let dir = scratch(name);
    let csms = CsmsSim::start(loopback(), CsmsOptions::default()).unwrap();
    let charger = ModbusChargerSim::start(loopback()).unwrap();
    let tokens = Tokens::new();
    let log_file = dir.join("gateway.log");
    let system = format!(
        "log_file = \"{}\"\n\n[system.admin]\nbind = \"127.0.0.1:0\"\ntokens = {}\n",
        log_file.display(),
        tokens.config
    );
    let config = write_config(&dir, &system, &csms.url(), &[charger.addr()]);
    let gateway = Gateway::start(&config, &log_file);
    let url = gateway.admin_url("API, status page and metrics");
    Setup {
        gateway,
        url,
        tokens,
        charger,
        csms,
    }
}

fn command(s: &Setup, name: &str, token: Option<&str>, body: &str) -> Answer {
    let path = format!("/api/v1/devices/charger-1/commands/{name}");
    send(&s.url, "POST", &path, token, body)
}

#[test]
fn commands_need_the_operator_role() {
    let s = setup("admin-commands-roles");
    wait_status(&s.csms, "CP001", "Available", 0);
    let t = &s.tokens;
    for name in ["start", "stop", "unlock", "reset", "availability"] {
        let body = if name == "availability" {
            r#"{"operative": true}"#
        } else {
            ""
        };
        assert_eq!(command(&s, name, None, body).status, 401, "{name}");
        assert_eq!(command(&s, name, Some("nope"), body).status, 401, "{name}");
        assert_eq!(
            command(&s, name, Some(&t.viewer), body).status,
            403,
            "{name}"
        );
        for token in [&t.operator, &t.admin] {
            let answer = command(&s, name, Some(token), body);
            assert_eq!(answer.status, 200, "{name}: {}", answer.body);
            assert!(answer.json()["status"].is_string(), "{}", answer.body);
        }
    }
    let unknown = send(
        &s.url,
        "POST",
        "/api/v1/devices/nope/commands/stop",
        Some(&t.operator),
        "",
    );
    assert_eq!(unknown.status, 404);
    let bad = command(&s, "availability", Some(&t.operator), r#"{"operative": 1}"#);
    assert_eq!(bad.status, 400);
    assert!(bad.json()["error"].is_string());
}

#[test]
fn start_and_stop_are_local_authorizations() {
    let s = setup("admin-commands-start-stop");
    let op = Some(s.tokens.operator.as_str());
    let ready = wait_status(&s.csms, "CP001", "Available", 0);

    let stop = command(&s, "stop", op, "").json();
    assert_eq!(stop["status"], "Rejected", "{stop}");
    assert_eq!(stop["reason"], "no transaction is running");
    let line = "ops (operator) from 127.0.0.1: POST /api/v1/devices/charger-1/commands/stop \
                -> 200: Rejected (no transaction is running)";
    let audited = admin_common::wait_for(WAIT, || {
        s.gateway
            .log_text()
            .lines()
            .any(|l| l.contains(" audit]") && l.contains(line))
            .then_some(())
    });
    assert!(audited.is_some(), "no audit line {line:?}");

    s.charger.set_status(STATUS_OCCUPIED);
    let started = wait_call(&s.csms, "CP001", "TransactionEvent", ready.seq, |p| {
        p["eventType"] == "Started"
    });
    let tx = started.frame[3]["transactionInfo"]["transactionId"].clone();

    let start = command(&s, "start", op, "").json();
    assert_eq!(start["status"], "Accepted", "{start}");
    assert_eq!(start["transactionId"], tx);
    wait_register(&s.charger, REG_CHARGING, 1);
    let authorized = wait_call(&s.csms, "CP001", "TransactionEvent", started.seq, |p| {
        p["triggerReason"] == "Authorized"
    });
    let p = &authorized.frame[3];
    assert_eq!(p["transactionInfo"]["transactionId"], tx);
    assert_eq!(p["idToken"]["type"], "Local");
    assert_eq!(p["idToken"]["idToken"], "ops");

    let again = command(&s, "start", op, "").json();
    assert_eq!(again["status"], "Rejected", "{again}");

    let stop = command(&s, "stop", op, "").json();
    assert_eq!(stop["status"], "Accepted", "{stop}");
    assert_eq!(stop["transactionId"], tx);
    wait_register(&s.charger, REG_CHARGING, 0);
    let ended = wait_call(&s.csms, "CP001", "TransactionEvent", authorized.seq, |p| {
        p["eventType"] == "Ended"
    });
    let p: &Value = &ended.frame[3];
    assert_eq!(p["triggerReason"], "StopAuthorized");
    assert_eq!(p["transactionInfo"]["stoppedReason"], "Local");
    assert_records_valid(&s.csms);
}

#[test]
fn unlock_availability_and_reset_take_the_csms_paths() {
    let s = setup("admin-commands-unlock-reset");
    let op = Some(s.tokens.operator.as_str());
    let ready = wait_status(&s.csms, "CP001", "Available", 0);

    let unlock = command(&s, "unlock", op, "").json();
    // Accepted: the unlock is written; its outcome reaches the device status, not this answer.
    assert_eq!(unlock["status"], "Accepted", "{unlock}");
    wait_register(&s.charger, REG_UNLOCK, 1);

    let off = command(&s, "availability", op, r#"{"operative": false}"#).json();
    assert_eq!(off["status"], "Accepted", "{off}");
    wait_register(&s.charger, REG_AVAILABILITY, 1);
    let unavailable = wait_status(&s.csms, "CP001", "Unavailable", ready.seq);
    let on = command(&s, "availability", op, r#"{"operative": true}"#).json();
    assert_eq!(on["status"], "Accepted", "{on}");
    wait_register(&s.charger, REG_AVAILABILITY, 0);
    let available = wait_status(&s.csms, "CP001", "Available", unavailable.seq);

    let reset = command(&s, "reset", op, "").json();
    assert_eq!(reset["status"], "Accepted", "{reset}");
    let boot = wait_call(&s.csms, "CP001", "BootNotification", available.seq, |_| {
        true
    });
    assert!(
        boot.connection > ready.connection,
        "the station reconnected"
    );
    assert_records_valid(&s.csms);
}

#[test]
fn a_write_the_charger_refuses_shows_in_the_device_status_and_reaches_the_csms() {
    let s = setup("admin-commands-refused-write");
    let op = Some(s.tokens.operator.as_str());
    let ready = wait_status(&s.csms, "CP001", "Available", 0);
    s.charger.bank().set_write_protected(REG_UNLOCK, true);
    let unlock = command(&s, "unlock", op, "").json();
    assert_eq!(unlock["status"], "Accepted", "{unlock}");
    let error = wait_for(WAIT, || {
        let device = send(&s.url, "GET", "/api/v1/devices/charger-1", op, "").json();
        device["last_error"]
            .as_str()
            .filter(|e| e.contains("Unlock"))
            .map(str::to_owned)
    })
    .expect("the failed write in the device status");
    assert!(error.contains("Connector.Unlock = Unlock"), "{error}");
    let event = wait_call(&s.csms, "CP001", "NotifyEvent", ready.seq, |p| {
        p["eventData"][0]["variable"]["instance"] == "Unlock"
    });
    assert_eq!(event.frame[3]["eventData"][0]["techCode"], "WriteFailed");
    assert_records_valid(&s.csms);
}
