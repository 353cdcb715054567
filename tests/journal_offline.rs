//! A whole transaction while the CSMS is unreachable, replayed in order after it comes back.

mod common;
mod journal_support;

use common::gateway::{loopback, scratch, wait_call, wait_status, write_config, Gateway};
use journal_support::{check_events, journal_rows, tx_events, wait_until};
use ocpp_gw::sim::csms::{CsmsOptions, CsmsSim};
use ocpp_gw::sim::modbus_charger::ModbusChargerSim;

#[test]
fn a_transaction_run_while_the_csms_is_down_arrives_whole_and_in_order() {
    let csms = CsmsSim::start(loopback(), CsmsOptions::default()).unwrap();
    let port = csms.addr();
    let charger = ModbusChargerSim::start(loopback()).unwrap();
    charger.set_energy_wh(1_000);
    let dir = scratch("journal_offline");
    let data = dir.join("data");
    let config = write_config(&dir, &csms.url(), &[charger.addr()], "");
    let _gw = Gateway::start(&config, &dir.join("gateway.log"));
    wait_status(&csms, "CP001", "Available", 0);
    let before = csms.records();
    csms.stop();

    // Plug, charge, unplug, each seen by the gateway (it journals every event) while offline.
    charger.set_status(1);
    wait_until("Started in the journal", || {
        journal_rows(&data, "\"Started\"") == 1
    });
    charger.set_power_w(7400.0);
    wait_until("charging in the journal", || {
        journal_rows(&data, "\"ChargingStateChanged\"") == 1
    });
    charger.set_energy_wh(4_000);
    charger.set_power_w(0.0);
    charger.set_status(0);
    wait_until("Ended in the journal", || {
        journal_rows(&data, "\"Ended\"") == 1
    });

    let csms = CsmsSim::start(port, CsmsOptions::default()).unwrap();
    let ended = wait_call(&csms, "CP001", "TransactionEvent", 0, |p| {
        p["eventType"] == "Ended"
    });
    wait_until("the journal to empty", || journal_rows(&data, "") == 0);
    let records = csms.records();
    let events = tx_events(&records);
    let (by_tx, repeats) = check_events(&events);
    assert_eq!(repeats, 0, "no duplicates: {events:#?}");
    assert_eq!(by_tx.len(), 1, "{events:#?}");
    let tx = by_tx.values().next().unwrap();
    assert!(tx.len() >= 3, "{tx:#?}");
    assert!(tx.iter().all(|e| e["offline"] == true), "{tx:#?}");
    assert_eq!(tx[1]["transactionInfo"]["chargingState"], "Charging");
    assert_eq!(
        ended.frame[3]["transactionInfo"]["stoppedReason"],
        "EVDisconnected"
    );
    // Replayed before anything newer: no StatusNotification precedes the last queued event.
    let last_event = records
        .iter()
        .filter(|r| common::gateway::is_call(r, "TransactionEvent"))
        .map(|r| r.seq)
        .max()
        .unwrap();
    assert!(records
        .iter()
        .filter(|r| common::gateway::status_of(r).is_some())
        .all(|r| r.seq > last_event));
    let mut all = before;
    all.extend(records);
    let errors = common::validate_records(&all);
    assert!(errors.is_empty(), "{errors:#?}");
}
