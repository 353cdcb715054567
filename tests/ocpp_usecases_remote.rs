//! OCPP 2.0.1 blocks F (remote control), G (availability), P (DataTransfer) and the OCPP-J
//! error paths through the real binary: the simulated Modbus charger, `ocpp-gw run`, and the
//! simulated CSMS, asserting what the CSMS saw. Remote start before the cable (F02) and F03
//! are in tests/ocpp_transactions.rs.

mod common;

use common::gateway::{assert_records_valid, wait_register, Rig};
use ocpp_gw::sim::csms::{Dir, Record};
use serde_json::json;

/// Holding registers of the control variables in etc/templates/generic_modbus_charger.toml.
const REG_CHARGING: u16 = 20;
const REG_AVAILABILITY: u16 = 22;
const REG_UNLOCK: u16 = 24;

#[test]
fn f01_remote_start_with_the_cable_plugged_in_first() {
    let (rig, ready) = Rig::booted("f01_remote_start_plugged");
    rig.charger.set_status(1);
    let started = rig.wait_call("TransactionEvent", ready.seq, |p| {
        p["eventType"] == "Started"
    });
    assert_eq!(started.frame[3]["triggerReason"], "CablePluggedIn");
    let tx = started.frame[3]["transactionInfo"]["transactionId"].clone();

    let answer = rig.call(
        "RequestStartTransaction",
        json!({"evseId": 1, "remoteStartId": 42, "idToken": {"idToken": "APP-2", "type": "Central"}}),
    );
    assert_eq!(answer["status"], "Accepted");
    // The transaction already running is the one the remote start authorizes.
    assert_eq!(answer["transactionId"], tx);
    wait_register(&rig.charger, REG_CHARGING, 1);
    let authorized = rig.wait_call("TransactionEvent", started.seq, |p| {
        p["triggerReason"] == "RemoteStart"
    });
    let p = &authorized.frame[3];
    assert_eq!(p["eventType"], "Updated");
    assert_eq!(p["transactionInfo"]["transactionId"], tx);
    assert_eq!(p["transactionInfo"]["remoteStartId"], 42);
    assert_eq!(p["idToken"]["idToken"], "APP-2");
    assert_eq!(p["seqNo"], 1);

    let answer = rig.call(
        "RequestStartTransaction",
        json!({"evseId": 3, "remoteStartId": 43, "idToken": {"idToken": "APP-2", "type": "Central"}}),
    );
    assert_eq!(answer["status"], "Rejected", "no EVSE 3");
    assert_records_valid(&rig.csms);
}

#[test]
fn f05_unlock_connector() {
    let (rig, _) = Rig::booted("f05_unlock_connector");
    let answer = rig.call("UnlockConnector", json!({"evseId": 1, "connectorId": 2}));
    assert_eq!(answer["status"], "UnknownConnector");
    let answer = rig.call("UnlockConnector", json!({"evseId": 2, "connectorId": 1}));
    assert_eq!(answer["status"], "UnknownConnector");
    assert_eq!(rig.charger.register(REG_UNLOCK), 0);
    let answer = rig.call("UnlockConnector", json!({"evseId": 1, "connectorId": 1}));
    assert_eq!(answer["status"], "Unlocked");
    // Answered from the write's outcome: the charger holds the command already.
    assert_eq!(rig.charger.register(REG_UNLOCK), 1);
    assert_records_valid(&rig.csms);
}

#[test]
fn f05_f01_writes_the_charger_refuses_are_told_to_the_csms() {
    let (rig, ready) = Rig::booted("f05_refused_writes");
    // The charger refuses writes of its unlock and charging commands (exception 2).
    rig.charger.bank().set_write_protected(REG_UNLOCK, true);
    rig.charger.bank().set_write_protected(REG_CHARGING, true);
    let answer = rig.call("UnlockConnector", json!({"evseId": 1, "connectorId": 1}));
    assert_eq!(
        answer["status"], "UnlockFailed",
        "the charger refused the write"
    );
    let event = rig.wait_call("NotifyEvent", ready.seq, |p| {
        p["eventData"][0]["variable"]["instance"] == "Unlock"
    });
    let data = &event.frame[3]["eventData"][0];
    assert_eq!(data["component"]["name"], "Connector");
    assert_eq!(data["variable"]["name"], "Problem");
    assert_eq!(data["actualValue"], "true");
    assert_eq!(data["techCode"], "WriteFailed");

    let answer = rig.call(
        "RequestStartTransaction",
        json!({"evseId": 1, "remoteStartId": 9, "idToken": {"idToken": "APP-9", "type": "Central"}}),
    );
    assert_eq!(answer["status"], "Accepted");
    let event = rig.wait_call("NotifyEvent", event.seq, |p| {
        p["eventData"][0]["variable"]["instance"] == "Charging"
    });
    let data = &event.frame[3]["eventData"][0];
    assert_eq!(
        data["component"],
        json!({"name": "EVSE", "evse": {"id": 1}})
    );
    assert!(data["techInfo"]
        .as_str()
        .is_some_and(|t| t.starts_with("Charging = Start not written")));
    assert_records_valid(&rig.csms);
}

#[test]
fn f06_trigger_message_for_each_kind() {
    let (rig, ready) = Rig::booted("f06_trigger_message");
    let trigger = |message: &str, evse: Option<i32>| {
        let mut payload = json!({"requestedMessage": message});
        if let Some(id) = evse {
            payload["evse"] = json!({"id": id});
        }
        rig.call("TriggerMessage", payload)["status"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let mark = || rig.csms.records().last().map_or(0, |r| r.seq);

    assert_eq!(
        trigger("BootNotification", None),
        "Rejected",
        "an accepted station does not boot again"
    );
    let at = mark();
    assert_eq!(trigger("Heartbeat", None), "Accepted");
    rig.wait_call("Heartbeat", at, |_| true);
    let at = mark();
    assert_eq!(trigger("StatusNotification", Some(1)), "Accepted");
    rig.wait_status("Available", at);
    assert_eq!(
        trigger("StatusNotification", None),
        "Rejected",
        "F06.FR.12: a status needs its EVSE"
    );
    // Triggered meter values are the clock-aligned measurands, not the transaction ones.
    assert_eq!(
        rig.set_variable(
            "AlignedDataCtrlr",
            "Measurands",
            "Energy.Active.Import.Register"
        ),
        "Accepted"
    );
    assert_eq!(
        rig.set_variable(
            "SampledDataCtrlr",
            "TxUpdatedMeasurands",
            "Power.Active.Import"
        ),
        "Accepted"
    );
    rig.charger.set_energy_wh(4_200);
    rig.charger.set_power_w(1_000.0);
    // Wait until the gateway has read the new energy register before asking for it.
    let until = std::time::Instant::now() + common::gateway::WAIT;
    let meter = loop {
        let at = mark();
        assert_eq!(trigger("MeterValues", Some(1)), "Accepted");
        let meter = rig.wait_call("MeterValues", at, |p| {
            p["meterValue"][0]["sampledValue"][0]["context"] == "Trigger"
        });
        let values = &meter.frame[3]["meterValue"][0]["sampledValue"];
        if values
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["value"] == 4200.0)
        {
            break meter;
        }
        assert!(std::time::Instant::now() < until, "energy never read");
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(meter.frame[3]["evseId"], 1);
    assert!(
        !meter.frame[3]["meterValue"][0]["sampledValue"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["measurand"] == "Power.Active.Import"),
        "{}",
        meter.frame[3]
    );
    assert_eq!(
        trigger("TransactionEvent", Some(1)),
        "Rejected",
        "no transaction runs"
    );
    assert_eq!(trigger("StatusNotification", Some(7)), "Rejected");
    for kind in ["LogStatusNotification", "FirmwareStatusNotification"] {
        let at = mark();
        assert_eq!(trigger(kind, None), "Accepted", "{kind}");
        let sent = rig.wait_call(kind, at, |_| true);
        assert_eq!(
            sent.frame[3],
            json!({"status": "Idle"}),
            "nothing runs here"
        );
    }
    assert_eq!(
        trigger("SignChargingStationCertificate", None),
        "NotImplemented"
    );

    rig.charger.set_status(1);
    let started = rig.wait_call("TransactionEvent", ready.seq, |p| {
        p["eventType"] == "Started"
    });
    assert_eq!(trigger("TransactionEvent", Some(1)), "Accepted");
    let triggered = rig.wait_call("TransactionEvent", started.seq, |p| {
        p["triggerReason"] == "Trigger"
    });
    assert_eq!(triggered.frame[3]["eventType"], "Updated");
    assert_eq!(
        triggered.frame[3]["transactionInfo"]["transactionId"],
        started.frame[3]["transactionInfo"]["transactionId"]
    );
    assert_records_valid(&rig.csms);
}

#[test]
fn g03_g04_change_availability_of_evse_and_station() {
    let (rig, ready) = Rig::booted("g03_g04_change_availability");
    // G03: one EVSE, idle: at once.
    let answer = rig.call(
        "ChangeAvailability",
        json!({"operationalStatus": "Inoperative", "evse": {"id": 1}}),
    );
    assert_eq!(answer["status"], "Accepted");
    let down = rig.wait_status("Unavailable", ready.seq);
    wait_register(&rig.charger, REG_AVAILABILITY, 1);
    let unavailable = rig.call(
        "GetVariables",
        json!({"getVariableData": [{
            "component": {"name": "EVSE", "evse": {"id": 1}},
            "variable": {"name": "AvailabilityState"},
        }]}),
    );
    assert_eq!(
        unavailable["getVariableResult"][0]["attributeValue"],
        "Unavailable"
    );
    let answer = rig.call(
        "ChangeAvailability",
        json!({"operationalStatus": "Operative", "evse": {"id": 1}}),
    );
    assert_eq!(answer["status"], "Accepted");
    let up = rig.wait_status("Available", down.seq);
    wait_register(&rig.charger, REG_AVAILABILITY, 0);
    let answer = rig.call(
        "ChangeAvailability",
        json!({"operationalStatus": "Inoperative", "evse": {"id": 5}}),
    );
    assert_eq!(answer["status"], "Rejected", "no EVSE 5");

    // G04: the whole station during a transaction: Scheduled, Unavailable once it ends.
    rig.charger.set_status(1);
    let started = rig.wait_call("TransactionEvent", up.seq, |p| p["eventType"] == "Started");
    let answer = rig.call(
        "ChangeAvailability",
        json!({"operationalStatus": "Inoperative"}),
    );
    assert_eq!(answer["status"], "Scheduled");
    assert_eq!(rig.charger.register(REG_AVAILABILITY), 0);
    rig.charger.set_status(0);
    let ended = rig.wait_call("TransactionEvent", started.seq, |p| {
        p["eventType"] == "Ended"
    });
    let after = rig.wait_status("Unavailable", started.seq);
    assert!(after.seq > ended.seq);
    wait_register(&rig.charger, REG_AVAILABILITY, 1);
    // Unavailable: a remote start is refused and a vehicle does not start a transaction.
    let answer = rig.call(
        "RequestStartTransaction",
        json!({"remoteStartId": 1, "idToken": {"idToken": "APP-3", "type": "Central"}}),
    );
    assert_eq!(answer["status"], "Rejected");
    rig.charger.set_status(1);
    // A few polls' time for the gateway to see the vehicle (a slow machine only hides a bug).
    std::thread::sleep(std::time::Duration::from_secs(1));
    let before = rig.csms.records().last().map_or(0, |r| r.seq);
    let answer = rig.call(
        "ChangeAvailability",
        json!({"operationalStatus": "Operative"}),
    );
    assert_eq!(answer["status"], "Accepted");
    rig.wait_status("Occupied", after.seq);
    let started = rig.wait_call("TransactionEvent", ended.seq, |p| {
        p["eventType"] == "Started"
    });
    assert!(
        started.seq > before,
        "a transaction started on an unavailable EVSE"
    );
    assert_eq!(started.frame[3]["triggerReason"], "CablePluggedIn");
    assert_records_valid(&rig.csms);
}

#[test]
fn p01_data_transfer_and_ocpp_j_error_paths() {
    let (rig, _) = Rig::booted("p01_data_transfer_errors");
    let answer = rig.call(
        "DataTransfer",
        json!({"vendorId": "com.example", "messageId": "hello", "data": "x"}),
    );
    assert_eq!(answer["status"], "UnknownVendorId");

    let error = |action: &str, payload| {
        let frame = rig.call_frame(action, payload);
        assert_eq!(frame[0], 4, "{action} should fail: {frame}");
        frame[2].as_str().unwrap_or_default().to_string()
    };
    assert_eq!(error("NoSuchAction", json!({})), "NotImplemented");
    assert_eq!(
        error(
            "CostUpdated",
            json!({"totalCost": 1.0, "transactionId": "t"})
        ),
        "NotSupported",
        "a 2.0.1 action this station does not handle"
    );
    assert_eq!(
        error("RequestStopTransaction", json!({})),
        "OccurrenceConstraintViolation"
    );
    assert_eq!(
        error("DataTransfer", json!({})),
        "OccurrenceConstraintViolation"
    );
    assert_eq!(
        error("RequestStopTransaction", json!({"transactionId": 5})),
        "TypeConstraintViolation"
    );
    assert_eq!(
        error("Reset", json!({"type": "Sometimes"})),
        "PropertyConstraintViolation"
    );
    // The station still works after all that.
    assert_eq!(
        rig.get_variable("OCPPCommCtrlr", "HeartbeatInterval")["attributeStatus"],
        "Accepted"
    );
    // The broken CALLs above break the schema on purpose; everything else must be valid.
    let records = rig.csms.records();
    let refused: Vec<String> = records
        .iter()
        .filter(|r| r.dir == Dir::In && r.frame[0] == 4)
        .filter_map(|r| r.frame[1].as_str().map(str::to_string))
        .collect();
    assert_eq!(refused.len(), 6);
    let rest: Vec<Record> = records
        .into_iter()
        .filter(|r| {
            !r.frame[1]
                .as_str()
                .is_some_and(|id| refused.iter().any(|x| x == id))
        })
        .collect();
    let errors = common::validate_records(&rest);
    assert!(errors.is_empty(), "schema violations: {errors:#?}");
}
