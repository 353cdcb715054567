//! OCPP 2.0.1 block B (provisioning) and A04 (security events) through the real binary: the
//! simulated Modbus charger, `ocpp-gw run`, and the simulated CSMS, asserting what the CSMS saw.

mod common;

use std::time::Duration;

use common::gateway::{assert_records_valid, sent_at, wait_register, Rig, STATION};
use ocpp_gw::ocpp::types::RegistrationStatus;
use ocpp_gw::sim::csms::{CsmsOptions, Dir, Record};
use serde_json::{json, Value};

/// Holding register of `Control.Reset` in etc/templates/generic_modbus_charger.toml.
const REG_RESET: u16 = 23;
/// Holding register of `Control.Charging`.
const REG_CHARGING: u16 = 20;
/// Holding register of `Control.CurrentLimit` (0.1 A).
const REG_CURRENT_LIMIT_DA: u16 = 21;

/// The actions of the station's CALLs, in order.
fn actions(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .filter(|r| r.station == STATION && r.dir == Dir::In && r.frame[0] == 2)
        .map(|r| r.frame[2].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The CSMS's answer record to the station's CALL `call`.
fn csms_answer(rig: &Rig, call: &Record) -> Record {
    rig.csms
        .wait_for(common::gateway::WAIT, |r| {
            r.dir == Dir::Out && r.frame[0] == 3 && r.frame[1] == call.frame[1]
        })
        .expect("the CSMS simulator answers every CALL")
}

fn options(status: RegistrationStatus, interval: i32) -> CsmsOptions {
    CsmsOptions {
        boot_status: status,
        boot_interval: interval,
        ..CsmsOptions::default()
    }
}

#[test]
fn b01_a04_cold_boot_statuses_startup_event_and_heartbeat_at_the_csms_interval() {
    let rig = Rig::start(
        "b01_cold_boot",
        options(RegistrationStatus::Accepted, 2),
        "",
    );
    let boot = rig.wait_call("BootNotification", 0, |_| true);
    assert_eq!(boot.frame[3]["reason"], "PowerUp");
    assert_eq!(boot.frame[3]["chargingStation"]["vendorName"], "Generic");
    assert_eq!(boot.frame[3]["chargingStation"]["model"], "MB-AC22");
    let available = rig.wait_status("Available", boot.seq);
    assert_eq!(
        (
            &available.frame[3]["evseId"],
            &available.frame[3]["connectorId"]
        ),
        (&json!(1), &json!(1))
    );
    // A04: the CSMS hears that the device started.
    let startup = rig.wait_call("SecurityEventNotification", boot.seq, |_| true);
    assert_eq!(startup.frame[3]["type"], "StartupOfTheDevice");
    let first = rig.wait_call("Heartbeat", boot.seq, |_| true);
    let second = rig.wait_call("Heartbeat", first.seq, |_| true);
    // The CSMS's 2 s interval, not the configured 300 s: lower bound only, the machine is loaded.
    let gap = sent_at(&second).duration_since(sent_at(&first)).unwrap();
    assert!(
        gap >= Duration::from_millis(1900),
        "heartbeats {gap:?} apart"
    );
    // The status and the startup event both come before any heartbeat; which of the two is
    // first depends on whether the charger was polled before the boot was accepted.
    let first_five = actions(&rig.csms.records())[..5].to_vec();
    assert_eq!(first_five[0], "BootNotification");
    let mut middle = first_five[1..3].to_vec();
    middle.sort();
    assert_eq!(middle, ["SecurityEventNotification", "StatusNotification"]);
    assert_eq!(first_five[3..], ["Heartbeat", "Heartbeat"]);

    // The interval the CSMS gave is OCPPCommCtrlr.HeartbeatInterval, and stays in force when
    // the CSMS changes an unrelated variable.
    let interval = rig.get_variable("OCPPCommCtrlr", "HeartbeatInterval");
    assert_eq!(interval["attributeValue"], "2");
    assert_eq!(
        rig.set_variable("SampledDataCtrlr", "TxUpdatedInterval", "30"),
        "Accepted"
    );
    let after_set = rig.csms.records().last().map_or(0, |r| r.seq);
    rig.wait_call("Heartbeat", after_set, |_| true);
    assert_records_valid(&rig.csms);
}

#[test]
fn b02_boot_pending_sends_nothing_but_boot_and_answers_the_csms() {
    let rig = Rig::start(
        "b02_boot_pending",
        options(RegistrationStatus::Pending, 1),
        "",
    );
    let first = rig.wait_call("BootNotification", 0, |_| true);
    // A vehicle arrives while pending: its transaction must wait for the registration.
    rig.charger.set_status(1);
    // The station boots again after the CSMS's interval.
    let second = rig.wait_call("BootNotification", first.seq, |_| true);
    let interval = rig.get_variable("OCPPCommCtrlr", "HeartbeatInterval");
    assert_eq!(interval["attributeStatus"], "Accepted");
    // B02.FR.05: no transaction is started for the CSMS while pending.
    let start = rig.call(
        "RequestStartTransaction",
        json!({"evseId": 1, "remoteStartId": 7, "idToken": {"idToken": "APP-1", "type": "Central"}}),
    );
    assert_eq!(start["status"], "Rejected");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        rig.charger.register(REG_CHARGING),
        0,
        "charging never enabled"
    );
    // F06 while pending: what the CSMS asks for is sent even before the registration.
    let trigger = rig.call("TriggerMessage", json!({"requestedMessage": "Heartbeat"}));
    assert_eq!(trigger["status"], "Accepted");
    let heartbeat = rig.wait_call("Heartbeat", second.seq, |_| true);
    // F06 while pending: the CSMS may ask for the BootNotification at once.
    rig.csms
        .set_boot_status(None, RegistrationStatus::Accepted, 300);
    let trigger = rig.call(
        "TriggerMessage",
        json!({"requestedMessage": "BootNotification"}),
    );
    assert_eq!(trigger["status"], "Accepted");
    let triggered = rig.wait_call("BootNotification", heartbeat.seq, |p| {
        p["reason"] == "Triggered"
    });
    let accepted = rig
        .csms
        .wait_for(common::gateway::WAIT, |r| {
            r.dir == Dir::Out && r.frame[0] == 3 && r.frame[2]["status"] == "Accepted"
        })
        .expect("an accepted boot");
    assert!(accepted.seq > triggered.seq);
    let started = rig.wait_call("TransactionEvent", accepted.seq, |p| {
        p["eventType"] == "Started"
    });
    assert_eq!(started.frame[3]["triggerReason"], "CablePluggedIn");
    rig.wait_status("Occupied", accepted.seq);

    let before: Vec<Record> = rig
        .csms
        .records()
        .into_iter()
        .filter(|r| r.seq < accepted.seq)
        .collect();
    let sent = actions(&before);
    assert!(sent.len() >= 3, "{sent:?}");
    assert!(
        sent.iter()
            .all(|a| a == "BootNotification" || a == "Heartbeat"),
        "sent while pending: {sent:?}"
    );
    assert_eq!(
        sent.iter().filter(|a| *a == "Heartbeat").count(),
        1,
        "only the triggered Heartbeat"
    );
    assert_records_valid(&rig.csms);
}

#[test]
fn b03_boot_rejected_refuses_the_csms_until_the_interval_or_a_triggered_boot() {
    let rig = Rig::start(
        "b03_boot_rejected",
        options(RegistrationStatus::Rejected, 3),
        "",
    );
    let first = rig.wait_call("BootNotification", 0, |_| true);
    csms_answer(&rig, &first);
    // The CSMS tries to talk to the rejected station: refused with SecurityError.
    let refused = rig.call_frame(
        "GetVariables",
        json!({"getVariableData": [
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
        ]}),
    );
    assert_eq!(refused[0], 4, "{refused}");
    assert_eq!(refused[2], "SecurityError");
    let second = rig.wait_call("BootNotification", first.seq, |_| true);
    assert_eq!(second.frame[3]["reason"], "PowerUp", "its own retry");
    let gap = sent_at(&second).duration_since(sent_at(&first)).unwrap();
    assert!(
        gap >= Duration::from_millis(2900),
        "booted again after {gap:?}"
    );
    let between: Vec<Record> = rig
        .csms
        .records()
        .into_iter()
        .filter(|r| r.seq > first.seq && r.seq < second.seq && r.dir == Dir::In)
        .collect();
    assert!(
        between.iter().all(|r| r.frame[0] == 4),
        "station sent more than refusals while rejected: {between:#?}"
    );
    // The one request a rejected station serves: boot again now.
    csms_answer(&rig, &second);
    rig.csms
        .set_boot_status(None, RegistrationStatus::Accepted, 300);
    let trigger = rig.call(
        "TriggerMessage",
        json!({"requestedMessage": "BootNotification"}),
    );
    assert_eq!(trigger["status"], "Accepted");
    let third = rig.wait_call("BootNotification", second.seq, |p| {
        p["reason"] == "Triggered"
    });
    let gap = sent_at(&third).duration_since(sent_at(&second)).unwrap();
    assert!(
        gap < Duration::from_millis(2900),
        "at once, not after {gap:?}"
    );
    rig.wait_status("Available", third.seq);
    assert_records_valid(&rig.csms);
}

#[test]
fn b05_set_variables_statuses_device_write_and_persistence() {
    let (mut rig, _) = Rig::booted("b05_set_variables");
    let answer = rig.call(
        "SetVariables",
        json!({"setVariableData": [
            {"attributeValue": "16", "component": {"name": "EVSE"}, "variable": {"name": "CurrentLimit"}},
            {"attributeValue": "45", "component": {"name": "SampledDataCtrlr"}, "variable": {"name": "TxUpdatedInterval"}},
            {"attributeValue": "1", "component": {"name": "NoSuchCtrlr"}, "variable": {"name": "Enabled"}},
            {"attributeValue": "1", "component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "NoSuchVariable"}},
            {"attributeValue": "abc", "component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}},
            {"attributeValue": "Faulted", "component": {"name": "ChargingStation"}, "variable": {"name": "AvailabilityState"}},
            {"attributeValue": "10", "attributeType": "Target", "component": {"name": "SampledDataCtrlr"}, "variable": {"name": "TxEndedInterval"}},
        ]}),
    );
    let statuses: Vec<&str> = answer["setVariableResult"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["attributeStatus"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "Accepted",
            "Accepted",
            "UnknownComponent",
            "UnknownVariable",
            "Rejected",
            "Rejected",
            "NotSupportedAttributeType"
        ]
    );
    // The template variable reaches the charger, in its units (0.1 A).
    wait_register(&rig.charger, REG_CURRENT_LIMIT_DA, 160);

    // Values set by the CSMS survive a restart of the gateway.
    let booted = rig.csms.records().last().map_or(0, |r| r.seq);
    rig.restart(2);
    rig.wait_status("Available", booted);
    let restored = rig.get_variable("SampledDataCtrlr", "TxUpdatedInterval");
    assert_eq!(restored["attributeValue"], "45");
    assert_records_valid(&rig.csms);
}

#[test]
fn b06_get_variables_standard_and_template_variables() {
    let (rig, _) = Rig::booted("b06_get_variables");
    rig.charger.set_register(REG_CURRENT_LIMIT_DA, 63);
    // The charger is polled every 200 ms; wait until the gateway has read the new limit.
    let until = std::time::Instant::now() + common::gateway::WAIT;
    let limit = loop {
        let limit = rig.get_variable("EVSE", "CurrentLimit");
        let amps = limit["attributeValue"]
            .as_str()
            .and_then(|v| v.parse::<f64>().ok());
        if amps.is_some_and(|a| (a - 6.3).abs() < 0.01) {
            break limit;
        }
        assert!(
            std::time::Instant::now() < until,
            "limit never read: {limit}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(limit["attributeStatus"], "Accepted");
    assert_eq!(limit["attributeValue"], "6.3");

    let answer = rig.call(
        "GetVariables",
        json!({"getVariableData": [
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}},
            {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "Identity"}},
            {"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "AvailabilityState"}},
            {"component": {"name": "NoSuchCtrlr"}, "variable": {"name": "Enabled"}},
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "NoSuchVariable"}},
            {"component": {"name": "EVSE"}, "variable": {"name": "Charging"}},
            {"attributeType": "Target", "component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}},
        ]}),
    );
    let results = answer["getVariableResult"].as_array().unwrap();
    let got: Vec<(&str, Option<&str>)> = results
        .iter()
        .map(|r| {
            (
                r["attributeStatus"].as_str().unwrap(),
                r["attributeValue"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("Accepted", Some("300")),
            ("Accepted", Some(STATION)),
            ("Accepted", Some("Available")),
            ("UnknownComponent", None),
            ("UnknownVariable", None),
            ("Rejected", None),
            ("NotSupportedAttributeType", None),
        ]
    );
    assert_records_valid(&rig.csms);
}

/// The NotifyReport pages answering request `request_id`, in order, once the last has come.
fn report_pages(rig: &Rig, request_id: i64, after: u64) -> Vec<Value> {
    rig.wait_call("NotifyReport", after, |p| {
        p["requestId"] == request_id && p["tbc"] != true
    });
    rig.calls_after("NotifyReport", after)
        .into_iter()
        .map(|r| r.frame[3].clone())
        .filter(|p| p["requestId"] == request_id)
        .collect()
}

/// Every (component, variable) a report names.
fn reported(pages: &[Value]) -> Vec<(String, String)> {
    pages
        .iter()
        .flat_map(|p| p["reportData"].as_array().cloned().unwrap_or_default())
        .map(|d| {
            (
                d["component"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                d["variable"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

fn assert_paged(pages: &[Value]) {
    assert!(!pages.is_empty());
    for (i, page) in pages.iter().enumerate() {
        assert_eq!(page["seqNo"], i as i64, "{page}");
        assert_eq!(page["tbc"] == true, i + 1 < pages.len(), "{page}");
        assert!(page["reportData"].as_array().is_some_and(|d| d.len() <= 32));
    }
}

#[test]
fn b07_b08_base_reports_and_report_with_criteria() {
    let (rig, ready) = Rig::booted("b07_b08_reports");
    let answer = rig.call(
        "GetBaseReport",
        json!({"requestId": 1, "reportBase": "FullInventory"}),
    );
    assert_eq!(answer["status"], "Accepted");
    let full = report_pages(&rig, 1, ready.seq);
    assert!(full.len() >= 2, "a full inventory spans pages of 32");
    assert_paged(&full);
    let names = reported(&full);
    for (c, v) in [
        ("OCPPCommCtrlr", "HeartbeatInterval"),
        ("TxCtrlr", "TxStartPoint"),
        ("SampledDataCtrlr", "TxUpdatedInterval"),
        ("AlignedDataCtrlr", "Interval"),
        ("AuthCtrlr", "Enabled"),
        ("DeviceDataCtrlr", "ItemsPerMessage"),
        ("SecurityCtrlr", "SecurityProfile"),
        ("ChargingStation", "AvailabilityState"),
        ("EVSE", "AvailabilityState"),
        ("Connector", "ConnectorType"),
        ("EVSE", "CurrentLimit"),
    ] {
        assert!(
            names.contains(&(c.to_string(), v.to_string())),
            "{c}.{v} missing from the full inventory"
        );
    }

    let answer = rig.call(
        "GetBaseReport",
        json!({"requestId": 2, "reportBase": "ConfigurationInventory"}),
    );
    assert_eq!(answer["status"], "Accepted");
    let config = report_pages(&rig, 2, ready.seq);
    assert_paged(&config);
    let config_names = reported(&config);
    assert!(config_names.contains(&("OCPPCommCtrlr".into(), "HeartbeatInterval".into())));
    assert!(config_names.len() < names.len());

    let answer = rig.call(
        "GetBaseReport",
        json!({"requestId": 3, "reportBase": "SummaryInventory"}),
    );
    assert_eq!(answer["status"], "Accepted");
    assert_paged(&report_pages(&rig, 3, ready.seq));

    // B08: criteria and component/variable filters.
    let answer = rig.call(
        "GetReport",
        json!({"requestId": 4, "componentVariable": [
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
        ]}),
    );
    assert_eq!(answer["status"], "Accepted");
    let one = report_pages(&rig, 4, ready.seq);
    assert_eq!(
        reported(&one),
        [("OCPPCommCtrlr".to_string(), "HeartbeatInterval".to_string())]
    );
    // Criteria: no component has a problem until the charger reports a fault.
    let answer = rig.call(
        "GetReport",
        json!({"requestId": 5, "componentCriteria": ["Problem"]}),
    );
    assert_eq!(answer["status"], "EmptyResultSet");
    rig.charger.set_status(4);
    rig.wait_status("Faulted", ready.seq);
    let answer = rig.call(
        "GetReport",
        json!({"requestId": 7, "componentCriteria": ["Problem"]}),
    );
    assert_eq!(answer["status"], "Accepted");
    let problems = report_pages(&rig, 7, ready.seq);
    assert!(reported(&problems).contains(&("EVSE".into(), "Problem".into())));
    let answer = rig.call(
        "GetReport",
        json!({"requestId": 6, "componentVariable": [{"component": {"name": "NoSuchCtrlr"}}]}),
    );
    assert_eq!(answer["status"], "EmptyResultSet");
    assert_records_valid(&rig.csms);
}

#[test]
fn b11_b12_reset_on_idle_is_scheduled_and_immediate_ends_the_transaction() {
    let (rig, ready) = Rig::booted("b11_b12_reset");
    // B11: Immediate without a transaction: the device is reset, the station reconnects and
    // boots with RemoteReset.
    let answer = rig.call("Reset", json!({"type": "Immediate"}));
    assert_eq!(answer["status"], "Accepted");
    wait_register(&rig.charger, REG_RESET, 1);
    let boot = rig.wait_call("BootNotification", ready.seq, |p| {
        p["reason"] == "RemoteReset"
    });
    assert_eq!(rig.csms.connection_count(STATION), 2);
    rig.wait_call("SecurityEventNotification", boot.seq, |p| {
        p["type"] == "ResetOrReboot"
    });
    let back = rig.wait_status("Available", boot.seq);
    rig.charger.set_register(REG_RESET, 0);

    // B12: OnIdle during a transaction waits for it to end.
    rig.charger.set_status(1);
    let started = rig.wait_call("TransactionEvent", back.seq, |p| {
        p["eventType"] == "Started"
    });
    let answer = rig.call("Reset", json!({"type": "OnIdle"}));
    assert_eq!(answer["status"], "Scheduled");
    let scheduled_at = rig.csms.records().last().map_or(0, |r| r.seq);
    rig.charger.set_status(0);
    let ended = rig.wait_call("TransactionEvent", started.seq, |p| {
        p["eventType"] == "Ended"
    });
    assert_eq!(
        ended.frame[3]["transactionInfo"]["stoppedReason"],
        "EVDisconnected"
    );
    assert!(ended.seq > scheduled_at);
    let boot = rig.wait_call("BootNotification", ended.seq, |p| {
        p["reason"] == "RemoteReset"
    });
    assert_eq!(rig.csms.connection_count(STATION), 3);
    let back = rig.wait_status("Available", boot.seq);

    // B12: Immediate during a transaction ends it with ResetCommand / ImmediateReset.
    rig.charger.set_status(1);
    let started = rig.wait_call("TransactionEvent", back.seq, |p| {
        p["eventType"] == "Started"
    });
    let tx = started.frame[3]["transactionInfo"]["transactionId"].clone();
    let answer = rig.call("Reset", json!({"type": "Immediate"}));
    assert_eq!(answer["status"], "Accepted");
    let ended = rig.wait_call("TransactionEvent", started.seq, |p| {
        p["eventType"] == "Ended"
    });
    assert_eq!(ended.frame[3]["transactionInfo"]["transactionId"], tx);
    assert_eq!(ended.frame[3]["triggerReason"], "ResetCommand");
    assert_eq!(
        ended.frame[3]["transactionInfo"]["stoppedReason"],
        "ImmediateReset"
    );
    // Sent before the station went away, not after it came back.
    rig.wait_call("BootNotification", ended.seq, |p| {
        p["reason"] == "RemoteReset"
    });
    assert!(
        !rig.calls_after("TransactionEvent", ended.seq)
            .iter()
            .any(|r| r.frame[3]["eventType"] == "Started"),
        "the cable still plugged in after the reset must not start a transaction by itself"
    );
    assert_records_valid(&rig.csms);
}
