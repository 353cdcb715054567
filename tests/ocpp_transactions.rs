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
    let end = &p["meterValue"][0]["sampledValue"][0];
    assert_eq!(
        (end["context"].as_str(), end["value"].as_f64()),
        (Some("Transaction.End"), Some(6500.0))
    );

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
