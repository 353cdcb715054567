//! OCPP 2.0.1 use cases that unit tests covered but no test through the real binary did: C01
//! with E03 and E07 (a token at the charger's own reader), A01 (a new BasicAuthPassword used on
//! the next connection) and B04 (an idle station offline).

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::gateway::{assert_records_valid, wait_register, Rig, STATION, WAIT};
use ocpp_gw::sim::csms::CsmsOptions;
use serde_json::json;

/// Holding register 20: Control.Charging in generic_modbus_charger.
const REG_CHARGING: u16 = 20;
/// First of the holding registers the token reader template maps; the simulator leaves 30–33
/// free.
const REG_TOKEN: u16 = 30;
/// Registers of the token string: 2 characters each.
const TOKEN_REGS: u16 = 4;

/// generic_modbus_charger with a token reader: `Auth.IdToken` as an 8-character string.
const READER_TEMPLATE: (&str, &str) = (
    "reader_modbus_charger",
    r#"[template]
id = "reader_modbus_charger"
extends = "generic_modbus_charger"

[[template.variables]]
ocpp_name = "Auth.IdToken"
type = "modbus"
register = 40031
data_type = "string"
length = 4
"#,
);

/// Writes `token` (at most 8 ASCII characters, NUL-padded) into the reader's registers, high
/// byte first; an empty token clears the reader.
fn present(rig: &Rig, token: &str) {
    let mut bytes = token.as_bytes().to_vec();
    bytes.resize(usize::from(TOKEN_REGS) * 2, 0);
    for (i, pair) in bytes.chunks(2).enumerate() {
        let word = u16::from_be_bytes([pair[0], pair[1]]);
        rig.charger.set_register(REG_TOKEN + i as u16, word);
    }
}

/// Waits until the station's device model shows `token` at the reader (TokenReader.Token),
/// so the gateway has polled it.
fn wait_reader(rig: &Rig, token: &str) {
    let until = Instant::now() + WAIT;
    loop {
        let result = rig.get_variable("TokenReader", "Token");
        let shown = result["attributeValue"].as_str().unwrap_or_default();
        if result["attributeStatus"] == "Accepted" && shown == token {
            return;
        }
        assert!(
            Instant::now() < until,
            "the reader never showed {token:?}: {result}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn c01_e03_e07_a_token_at_the_reader_starts_and_stops_a_transaction() {
    let rig = Rig::start_templated(
        "c01_reader_token",
        CsmsOptions::default(),
        "",
        READER_TEMPLATE,
    );
    let ready = rig.wait_status("Available", 0);
    assert_eq!(rig.charger.register(REG_CHARGING), 0);

    // E03: the token comes first, before the cable.
    present(&rig, "TAG-0042");
    let authorize = rig.wait_call("Authorize", ready.seq, |p| {
        p["idToken"]["idToken"] == "TAG-0042"
    });
    assert_eq!(authorize.frame[3]["idToken"]["type"], "ISO14443");
    // The CSMS simulator accepts every token: only then is the charger enabled.
    wait_register(&rig.charger, REG_CHARGING, 1);
    assert!(
        rig.calls_after("TransactionEvent", ready.seq).is_empty(),
        "no transaction before the cable"
    );

    rig.charger.set_status(1);
    let started = rig.wait_call("TransactionEvent", authorize.seq, |p| {
        p["eventType"] == "Started"
    });
    let p = &started.frame[3];
    assert_eq!(p["idToken"]["idToken"], "TAG-0042");
    assert_eq!(p["idToken"]["type"], "ISO14443");
    assert_eq!(p["seqNo"], 0);
    let tx = p["transactionInfo"]["transactionId"].clone();
    rig.charger.set_power_w(7_400.0);
    let charging = rig.wait_call("TransactionEvent", started.seq, |p| {
        p["transactionInfo"]["chargingState"] == "Charging"
    });

    // E07: the card leaves the reader and is shown again while charging.
    present(&rig, "");
    wait_reader(&rig, "");
    present(&rig, "TAG-0042");
    let ended = rig.wait_call("TransactionEvent", charging.seq, |p| {
        p["eventType"] == "Ended"
    });
    let p = &ended.frame[3];
    assert_eq!(p["transactionInfo"]["transactionId"], tx);
    assert_eq!(p["triggerReason"], "StopAuthorized");
    assert_eq!(p["transactionInfo"]["stoppedReason"], "Local");
    wait_register(&rig.charger, REG_CHARGING, 0);
    assert_eq!(
        rig.calls_after("Authorize", authorize.seq).len(),
        0,
        "the token that started the transaction stops it without a new Authorize"
    );
    assert_records_valid(&rig.csms);
}

/// The password the station boots with in the profile 1 tests.
const PASSWORD: &str = "first-Basic-passw0rd";

/// A CSMS simulator demanding `PASSWORD` from `CP001`, and the `[csms]` lines that give it.
fn profile_1() -> (CsmsOptions, String) {
    let options = CsmsOptions {
        basic_auth: Some(HashMap::from([(STATION.to_string(), PASSWORD.to_string())])),
        ..CsmsOptions::default()
    };
    let keys = format!("security_profile = 1\nbasic_auth_password = \"{PASSWORD}\"");
    (options, keys)
}

/// Waits until the station holds its `n`th accepted connection.
fn wait_connection(rig: &Rig, n: u64) {
    let until = Instant::now() + WAIT;
    while !(rig.csms.connection_count(STATION) == n && rig.csms.connected(STATION)) {
        assert!(
            Instant::now() < until,
            "connection {n} never came; count {}, refusals {:?}",
            rig.csms.connection_count(STATION),
            rig.csms.refusals()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a01_a_new_basic_auth_password_is_used_on_the_next_connection() {
    let (options, keys) = profile_1();
    let rig = Rig::start("a01_new_password", options, &keys);
    let ready = rig.wait_status("Available", 0);
    let boots = rig.calls_after("BootNotification", 0).len();
    assert_eq!(boots, 1);

    let new_password = "second-Basic-passw0rd";
    assert_eq!(
        rig.set_variable("SecurityCtrlr", "BasicAuthPassword", new_password),
        "Accepted"
    );
    rig.csms.set_basic_auth_password(STATION, new_password);
    assert!(rig.csms.disconnect(STATION));
    wait_connection(&rig, 2);
    assert!(rig.csms.refusals().is_empty(), "{:?}", rig.csms.refusals());

    // Anything the station sends on the new connection comes after a boot it would send first.
    let answer = rig.call("TriggerMessage", json!({"requestedMessage": "Heartbeat"}));
    assert_eq!(answer["status"], "Accepted");
    let beat = rig.wait_call("Heartbeat", ready.seq, |_| true);
    assert_ne!(
        beat.connection, ready.connection,
        "sent on the new connection"
    );
    assert_eq!(
        rig.calls_after("BootNotification", 0).len(),
        1,
        "booted again"
    );
    assert!(
        !std::fs::read_to_string(rig.dir.join("gateway.log"))
            .unwrap_or_default()
            .contains(new_password),
        "the password reached the log"
    );
    assert_records_valid(&rig.csms);
}

/// Waits until the CSMS has refused the station's upgrade at least `n` times.
fn wait_refusals(rig: &Rig, n: usize) {
    let until = Instant::now() + WAIT;
    while rig.csms.refusals().len() < n {
        assert!(Instant::now() < until, "fewer than {n} refusals");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn b04_an_idle_station_offline_reports_what_changed_when_back_without_booting() {
    let (options, keys) = profile_1();
    let rig = Rig::start("b04_offline_idle", options, &keys);
    let ready = rig.wait_status("Available", 0);

    // The CSMS becomes unreachable for the station: its upgrades are refused from now on.
    rig.csms
        .set_basic_auth_password(STATION, "not-the-station-passw0rd");
    assert!(rig.csms.disconnect(STATION));
    wait_refusals(&rig, 1);
    let offline = rig.csms.records().last().map_or(0, |r| r.seq);
    rig.charger.set_status(3);
    // Further attempts while offline: the station keeps retrying, after the change was polled.
    wait_refusals(&rig, 2);

    rig.csms.set_basic_auth_password(STATION, PASSWORD);
    wait_connection(&rig, 2);
    let back = rig.wait_status("Unavailable", offline);
    assert_ne!(
        back.connection, ready.connection,
        "sent on the new connection"
    );
    assert_eq!(
        rig.calls_after("BootNotification", 0).len(),
        1,
        "booted again"
    );
    assert!(
        rig.calls_after("StatusNotification", ready.seq)
            .iter()
            .all(|r| r.connection == back.connection),
        "nothing was sent on the dropped connection"
    );
    assert_records_valid(&rig.csms);
}
