//! Transactions inferred from the simulated charger's registers, through the real binary.

mod common;

use common::gateway::{loopback, scratch, wait_call, wait_status, write_config, Gateway};
use ocpp_gw::sim::csms::{CsmsOptions, CsmsSim};
use ocpp_gw::sim::modbus_charger::ModbusChargerSim;

#[test]
fn e02_cable_first_transaction_from_plug_to_unplug() {
    let csms = CsmsSim::start(loopback(), CsmsOptions::default()).unwrap();
    let charger = ModbusChargerSim::start(loopback()).unwrap();
    charger.set_energy_wh(5_000);
    let dir = scratch("e02_cable_first");
    let config = write_config(&dir, &csms.url(), &[charger.addr()], "");
    let _gw = Gateway::start(&config, &dir.join("gateway.log"));
    let ready = wait_status(&csms, "CP001", "Available", 0);

    charger.set_status(1);
    let started = wait_call(&csms, "CP001", "TransactionEvent", ready.seq, |p| {
        p["eventType"] == "Started"
    });
    let p = &started.frame[3];
    assert_eq!(p["triggerReason"], "CablePluggedIn");
    assert_eq!(p["seqNo"], 0);
    assert_eq!(p["idToken"]["type"], "NoAuthorization");
    assert_eq!(p["evse"]["id"], 1);
    let begin = &p["meterValue"][0]["sampledValue"][0];
    assert_eq!(
        (begin["context"].as_str(), begin["value"].as_f64()),
        (Some("Transaction.Begin"), Some(5000.0))
    );
    let tx = p["transactionInfo"]["transactionId"]
        .as_str()
        .unwrap()
        .to_string();
    wait_status(&csms, "CP001", "Occupied", ready.seq);

    charger.set_power_w(7400.0);
    let charging = wait_call(&csms, "CP001", "TransactionEvent", started.seq, |p| {
        p["triggerReason"] == "ChargingStateChanged"
    });
    assert_eq!(
        charging.frame[3]["transactionInfo"]["chargingState"],
        "Charging"
    );
    assert_eq!(charging.frame[3]["seqNo"], 1);

    charger.set_energy_wh(6_500);
    charger.set_power_w(0.0);
    charger.set_status(0);
    let ended = wait_call(&csms, "CP001", "TransactionEvent", charging.seq, |p| {
        p["eventType"] == "Ended"
    });
    let p = &ended.frame[3];
    assert_eq!(p["transactionInfo"]["transactionId"], tx.as_str());
    assert_eq!(p["triggerReason"], "EVCommunicationLost");
    assert_eq!(p["transactionInfo"]["stoppedReason"], "EVDisconnected");
    // SampledDataCtrlr.TxEndedInterval 0: the begin and the end reading, in that order.
    let reading = |i: usize| {
        let s = &p["meterValue"][i]["sampledValue"][0];
        (s["context"].as_str(), s["value"].as_f64())
    };
    assert_eq!(p["meterValue"].as_array().map(Vec::len), Some(2));
    assert_eq!(reading(0), (Some("Transaction.Begin"), Some(5000.0)));
    assert_eq!(reading(1), (Some("Transaction.End"), Some(6500.0)));

    // seqNo without gaps from 0 across every event of the transaction.
    let seqs: Vec<i64> = csms
        .records()
        .iter()
        .filter(|r| common::gateway::is_call(r, "TransactionEvent"))
        .filter(|r| r.frame[3]["transactionInfo"]["transactionId"] == tx.as_str())
        .map(|r| r.frame[3]["seqNo"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (0..seqs.len() as i64).collect::<Vec<_>>());
    let errors = common::validate_records(&csms.records());
    assert!(errors.is_empty(), "{errors:#?}");
}

/// Holding registers of the control variables in etc/templates/generic_modbus_charger.toml.
const REG_CHARGING: u16 = 20;
const REG_CURRENT_LIMIT_DA: u16 = 21;
const REG_UNLOCK: u16 = 24;

/// Waits until the simulated charger's register holds `value`.
fn wait_register(charger: &ModbusChargerSim, addr: u16, value: u16) {
    let until = std::time::Instant::now() + common::gateway::WAIT;
    while charger.register(addr) != value {
        assert!(
            std::time::Instant::now() < until,
            "register {addr} never became {value}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The CSMS's answer (CALLRESULT payload) to the CALL with `id`.
fn answer(csms: &CsmsSim, id: &str) -> serde_json::Value {
    csms.wait_for(common::gateway::WAIT, |r| {
        r.dir == ocpp_gw::sim::csms::Dir::In && r.frame[0] == 3 && r.frame[1] == id
    })
    .map(|r| r.frame[2].clone())
    .unwrap_or_else(|| panic!("no answer to {id}"))
}

#[test]
fn f01_f03_remote_start_and_stop_reach_the_charger() {
    let csms = CsmsSim::start(loopback(), CsmsOptions::default()).unwrap();
    let charger = ModbusChargerSim::start(loopback()).unwrap();
    let dir = scratch("f01_remote_start");
    let config = write_config(&dir, &csms.url(), &[charger.addr()], "");
    let _gw = Gateway::start(&config, &dir.join("gateway.log"));
    let ready = wait_status(&csms, "CP001", "Available", 0);

    let id = csms
        .call(
            "CP001",
            "RequestStartTransaction",
            serde_json::json!({"remoteStartId": 77, "idToken": {"idToken": "APP-1", "type": "Central"}}),
        )
        .unwrap();
    assert_eq!(answer(&csms, &id)["status"], "Accepted");
    wait_register(&charger, REG_CHARGING, 1);

    charger.set_status(1);
    let started = wait_call(&csms, "CP001", "TransactionEvent", ready.seq, |p| {
        p["eventType"] == "Started"
    });
    assert_eq!(started.frame[3]["transactionInfo"]["remoteStartId"], 77);
    assert_eq!(started.frame[3]["idToken"]["idToken"], "APP-1");
    let tx = started.frame[3]["transactionInfo"]["transactionId"].clone();

    let id = csms
        .call(
            "CP001",
            "UnlockConnector",
            serde_json::json!({"evseId": 1, "connectorId": 1}),
        )
        .unwrap();
    assert_eq!(answer(&csms, &id)["status"], "OngoingAuthorizedTransaction");

    let id = csms
        .call(
            "CP001",
            "SetVariables",
            serde_json::json!({"setVariableData": [{"attributeValue": "16", "component": {"name": "EVSE"}, "variable": {"name": "CurrentLimit"}}]}),
        )
        .unwrap();
    assert_eq!(
        answer(&csms, &id)["setVariableResult"][0]["attributeStatus"],
        "Accepted"
    );
    wait_register(&charger, REG_CURRENT_LIMIT_DA, 160);

    let id = csms
        .call(
            "CP001",
            "RequestStopTransaction",
            serde_json::json!({"transactionId": tx}),
        )
        .unwrap();
    assert_eq!(answer(&csms, &id)["status"], "Accepted");
    wait_register(&charger, REG_CHARGING, 0);
    let ended = wait_call(&csms, "CP001", "TransactionEvent", started.seq, |p| {
        p["eventType"] == "Ended"
    });
    assert_eq!(ended.frame[3]["triggerReason"], "RemoteStop");
    assert_eq!(ended.frame[3]["transactionInfo"]["stoppedReason"], "Remote");

    charger.set_status(0);
    wait_status(&csms, "CP001", "Available", ended.seq);
    let id = csms
        .call(
            "CP001",
            "UnlockConnector",
            serde_json::json!({"evseId": 1, "connectorId": 1}),
        )
        .unwrap();
    assert_eq!(answer(&csms, &id)["status"], "Unlocked");
    wait_register(&charger, REG_UNLOCK, 1);
    let errors = common::validate_records(&csms.records());
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn f02_remote_start_after_remote_stop_starts_a_new_transaction() {
    let (rig, ready) = common::gateway::Rig::booted("f02_after_remote_stop");
    rig.charger.set_status(1);
    let started = rig.wait_call("TransactionEvent", ready.seq, |p| {
        p["eventType"] == "Started"
    });
    let first = started.frame[3]["transactionInfo"]["transactionId"].clone();
    let answer = rig.call(
        "RequestStopTransaction",
        serde_json::json!({"transactionId": first}),
    );
    assert_eq!(answer["status"], "Accepted");
    wait_register(&rig.charger, REG_CHARGING, 0);
    let ended = rig.wait_call("TransactionEvent", started.seq, |p| {
        p["eventType"] == "Ended"
    });
    assert_eq!(ended.frame[3]["triggerReason"], "RemoteStop");

    // The vehicle stays plugged in; the CSMS starts charging again.
    let answer = rig.call(
        "RequestStartTransaction",
        serde_json::json!({"remoteStartId": 99, "idToken": {"idToken": "APP-99", "type": "Central"}}),
    );
    assert_eq!(answer["status"], "Accepted");
    wait_register(&rig.charger, REG_CHARGING, 1);
    let next = rig.wait_call("TransactionEvent", ended.seq, |p| {
        p["eventType"] == "Started"
    });
    let p = &next.frame[3];
    assert_eq!(p["triggerReason"], "RemoteStart");
    assert_eq!(p["transactionInfo"]["remoteStartId"], 99);
    assert_eq!(p["idToken"]["idToken"], "APP-99");
    assert_eq!(p["seqNo"], 0);
    let second = p["transactionInfo"]["transactionId"].clone();
    assert_ne!(second, first);

    // The energy that flows now is billed to the new transaction.
    rig.charger.set_power_w(7_400.0);
    let charging = rig.wait_call("TransactionEvent", next.seq, |p| {
        p["transactionInfo"]["chargingState"] == "Charging"
    });
    assert_eq!(
        charging.frame[3]["transactionInfo"]["transactionId"],
        second
    );
    common::gateway::assert_records_valid(&rig.csms);
}
