//! The station's link to the CSMS under faults, through the real binary between the
//! simulators: a CSMS that does not answer a StatusNotification in time, one that closes every
//! WebSocket as soon as it opens, and how the gateway closes its WebSockets (issue #12).

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::gateway::{
    loopback, scratch, wait_register, write_config, Gateway, Rig, STATION, WAIT,
};
use ocpp_gw::sim::csms::{CsmsOptions, CsmsSim, Dir};
use ocpp_gw::sim::modbus_charger::{ModbusChargerSim, STATUS_FAULTED};
use serde_json::json;

/// Holding register of `Control.Reset` in etc/templates/generic_modbus_charger.toml.
const REG_RESET: u16 = 23;

/// Waits until `csms` got a close frame from the station with `code`.
fn wait_close_code(csms: &CsmsSim, code: u16) {
    let until = std::time::Instant::now() + WAIT;
    while !csms.close_codes(STATION).contains(&Some(code)) {
        assert!(
            std::time::Instant::now() < until,
            "no close code {code}; got {:?}",
            csms.close_codes(STATION)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn b01_a_status_the_csms_did_not_answer_in_time_is_sent_again() {
    let rig = Rig::start(
        "status_timeout",
        CsmsOptions::default(),
        "response_timeout_sec = 2",
    );
    let ready = rig.wait_status("Available", 0);
    // Only once that status is answered, or its answer could be the one withheld.
    rig.csms
        .wait_for(WAIT, |r| {
            r.dir == Dir::Out && r.frame[0] == 3 && r.frame[1] == ready.frame[1]
        })
        .expect("the Available status answered");
    rig.csms.withhold_answers(STATION, "StatusNotification", 1);
    rig.charger.set_status(STATUS_FAULTED);
    let first = rig.wait_status("Faulted", ready.seq);
    // Unanswered: the CSMS may never have taken it, so the station says it again.
    let again = rig.wait_status("Faulted", first.seq);
    assert_ne!(first.frame[1], again.frame[1], "a new CALL");
    common::gateway::assert_records_valid(&rig.csms);
}

#[test]
fn reconnect_back_off_grows_while_the_csms_closes_every_connection_at_once() {
    let csms = CsmsSim::start(loopback(), CsmsOptions::default()).unwrap();
    csms.set_close_at_once(STATION, true);
    let charger = ModbusChargerSim::start(loopback()).unwrap();
    let dir = scratch("back_off_close_at_once");
    let config = write_config(&dir, &csms.url(), &[charger.addr()], "");
    let _gw = Gateway::start(&config, &dir.join("gateway.log"));
    let until = std::time::Instant::now() + WAIT;
    while csms.opened_at(STATION).len() < 4 {
        assert!(
            std::time::Instant::now() < until,
            "only {} connections",
            csms.opened_at(STATION).len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let opened = csms.opened_at(STATION);
    let gaps: Vec<Duration> = opened.windows(2).map(|w| w[1] - w[0]).collect();
    // reconnect_interval_sec = 1, random range 1 s: about 1, 2 and 4 s (+ up to 1 s each).
    assert!(gaps[1] >= Duration::from_millis(1900), "{gaps:?}");
    assert!(gaps[2] >= Duration::from_millis(3900), "{gaps:?}");
}

#[test]
fn b11_a_reset_closes_with_1000_and_a_shutdown_with_1001() {
    let (mut rig, _) = Rig::booted("close_codes");
    let answer = rig.call("Reset", json!({"type": "Immediate"}));
    assert_eq!(answer["status"], "Accepted");
    wait_register(&rig.charger, REG_RESET, 1);
    wait_close_code(&rig.csms, 1000);
    rig.wait_call("BootNotification", 0, |p| p["reason"] == "RemoteReset");
    let status = rig.gw.terminate(WAIT);
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    wait_close_code(&rig.csms, 1001);
}

#[test]
fn a04_refused_connection_attempts_reach_the_csms_as_one_security_event_with_a_count() {
    let options = CsmsOptions {
        basic_auth: Some(HashMap::from([(
            STATION.to_string(),
            "the-right-passw0rd".to_string(),
        )])),
        ..CsmsOptions::default()
    };
    let keys = "security_profile = 1\nbasic_auth_password = \"a-wrong-passw0rd\"";
    let rig = Rig::start("coalesced_security_events", options, keys);
    let until = std::time::Instant::now() + WAIT;
    while rig.csms.refusals().len() < 3 {
        assert!(std::time::Instant::now() < until, "fewer than 3 refusals");
        std::thread::sleep(Duration::from_millis(50));
    }
    rig.csms
        .set_basic_auth_password(STATION, "a-wrong-passw0rd");
    rig.wait_status("Available", 0);
    let refused = rig.csms.refusals().len();
    // The start-up event is queued after the failures', so once it is there all of them are.
    rig.wait_call("SecurityEventNotification", 0, |p| {
        p["type"] == "StartupOfTheDevice"
    });
    let events = rig.calls_after("SecurityEventNotification", 0);
    let failed: Vec<_> = events
        .iter()
        .filter(|r| r.frame[3]["type"] == "FailedToAuthenticateAtCsms")
        .collect();
    assert_eq!(
        failed.len(),
        1,
        "one event for {refused} refusals: {events:#?}"
    );
    let info = failed[0].frame[3]["techInfo"].as_str().unwrap_or_default();
    assert!(
        info.starts_with(&format!("{refused} times; latest: ")),
        "{info}"
    );
    common::gateway::assert_records_valid(&rig.csms);
}
