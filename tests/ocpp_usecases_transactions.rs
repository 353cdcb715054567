//! OCPP 2.0.1 blocks E (transactions) and J (meter values) through the real binary: the
//! simulated Modbus charger, `ocpp-gw run`, and the simulated CSMS, asserting what the CSMS saw.
//! E02, F02 and F03 are in tests/ocpp_transactions.rs. Test names follow the use-case ids of
//! the OCPP 2.0.1 specification (E06 stop options, E09 cable disconnected on the EV side, J01
//! meter values outside a transaction, J02 inside one).

mod common;

use std::time::UNIX_EPOCH;

use common::gateway::{assert_records_valid, status_of, wait_register, Rig, STATION};
use ocpp_gw::sim::csms::{CsmsOptions, Dir};
use ocpp_gw::util::time::parse_rfc3339;
use serde_json::{json, Value};

/// The first sampled value of a TransactionEvent or MeterValues payload.
fn first_sample(p: &Value) -> &Value {
    &p["meterValue"][0]["sampledValue"][0]
}

/// (measurand, unit, context) of every sampled value of a payload.
fn samples(p: &Value) -> Vec<(String, String, String)> {
    p["meterValue"][0]["sampledValue"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|s| {
            let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
            (
                text(&s["measurand"]),
                text(&s["unitOfMeasure"]["unit"]),
                text(&s["context"]),
            )
        })
        .collect()
}

/// Milliseconds since the epoch of a payload's first meterValue timestamp.
fn sampled_at_ms(p: &Value) -> u128 {
    let ts = p["meterValue"][0]["timestamp"].as_str().unwrap();
    parse_rfc3339(ts)
        .unwrap()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

#[test]
fn e06_e09_stop_ev_disconnected_ends_a_remote_start_and_the_token_does_not_carry_over() {
    let (rig, ready) = Rig::booted("e06_ev_disconnected");
    rig.charger.set_energy_wh(1_000);
    let answer = rig.call(
        "RequestStartTransaction",
        json!({"remoteStartId": 5, "idToken": {"idToken": "APP-6", "type": "Central"}}),
    );
    assert_eq!(answer["status"], "Accepted");
    rig.charger.set_status(1);
    let started = rig.wait_call("TransactionEvent", ready.seq, |p| {
        p["eventType"] == "Started"
    });
    assert_eq!(started.frame[3]["triggerReason"], "CablePluggedIn");
    assert_eq!(started.frame[3]["idToken"]["idToken"], "APP-6");
    let tx = started.frame[3]["transactionInfo"]["transactionId"].clone();
    rig.charger.set_power_w(3_600.0);
    rig.wait_call("TransactionEvent", started.seq, |p| {
        p["transactionInfo"]["chargingState"] == "Charging"
    });

    // The cable is pulled while energy flows.
    rig.charger.set_energy_wh(1_800);
    rig.charger.set_status(0);
    let ended = rig.wait_call("TransactionEvent", started.seq, |p| {
        p["eventType"] == "Ended"
    });
    let p = &ended.frame[3];
    assert_eq!(p["transactionInfo"]["transactionId"], tx);
    assert_eq!(p["triggerReason"], "EVCommunicationLost");
    assert_eq!(p["transactionInfo"]["stoppedReason"], "EVDisconnected");
    let end = &p["meterValue"][1]["sampledValue"][0];
    assert_eq!(end["context"], "Transaction.End");
    assert_eq!(end["value"], 1800.0);
    // E06/E09: the state the EVSE is in once the cable is out, not the last one sent.
    assert_eq!(p["transactionInfo"]["chargingState"], "Idle");
    let free = rig.wait_status("Available", ended.seq);

    // The next vehicle starts a transaction of its own, without the earlier token.
    rig.charger.set_power_w(0.0);
    rig.charger.set_status(1);
    let next = rig.wait_call("TransactionEvent", free.seq, |p| {
        p["eventType"] == "Started"
    });
    let p = &next.frame[3];
    assert_ne!(p["transactionInfo"]["transactionId"], tx);
    assert_eq!(p["seqNo"], 0);
    assert_eq!(p["idToken"]["type"], "NoAuthorization");
    assert!(p["transactionInfo"]["remoteStartId"].is_null());
    assert_records_valid(&rig.csms);
}

#[test]
fn e01_e06_energy_transfer_start_and_stop_points() {
    let (rig, ready) = Rig::booted("e01_e06_energy_transfer");
    assert_eq!(
        rig.set_variable("TxCtrlr", "TxStartPoint", "EnergyTransfer"),
        "Accepted"
    );
    assert_eq!(
        rig.set_variable("TxCtrlr", "TxStopPoint", "EnergyTransfer"),
        "Accepted"
    );
    rig.charger.set_status(1);
    let occupied = rig.wait_status("Occupied", ready.seq);
    // Plugged in but no energy flowing: no transaction yet.
    rig.charger.set_power_w(7_400.0);
    let started = rig.wait_call("TransactionEvent", ready.seq, |p| {
        p["eventType"] == "Started"
    });
    assert!(started.seq > occupied.seq);
    assert!(
        rig.calls_after("TransactionEvent", ready.seq)[0].seq == started.seq,
        "nothing before the energy transfer"
    );
    let p = &started.frame[3];
    assert_eq!(p["triggerReason"], "ChargingStateChanged");
    assert_eq!(p["transactionInfo"]["chargingState"], "Charging");
    assert_eq!(p["seqNo"], 0);

    // E08 with TxStopPoint EnergyTransfer: the EV stops drawing power, the cable stays in.
    rig.charger.set_power_w(0.0);
    let ended = rig.wait_call("TransactionEvent", started.seq, |p| {
        p["eventType"] == "Ended"
    });
    let p = &ended.frame[3];
    assert_eq!(p["triggerReason"], "ChargingStateChanged");
    assert_eq!(p["transactionInfo"]["stoppedReason"], "StoppedByEV");
    assert_eq!(p["seqNo"], 1);
    rig.charger.set_status(0);
    let free = rig.wait_status("Available", ended.seq);
    assert!(rig.calls_after("TransactionEvent", ended.seq).is_empty());
    assert!(free.seq > ended.seq);
    assert_records_valid(&rig.csms);
}

#[test]
fn e14_get_transaction_status() {
    let (rig, ready) = Rig::booted("e14_transaction_status");
    let answer = rig.call("GetTransactionStatus", json!({}));
    assert_eq!(answer["messagesInQueue"], false);
    assert!(answer["ongoingIndicator"].is_null());

    rig.charger.set_status(1);
    let started = rig.wait_call("TransactionEvent", ready.seq, |p| {
        p["eventType"] == "Started"
    });
    let tx = started.frame[3]["transactionInfo"]["transactionId"].clone();
    let answer = rig.call("GetTransactionStatus", json!({"transactionId": tx}));
    assert_eq!(answer["ongoingIndicator"], true);
    assert_eq!(answer["messagesInQueue"], false);
    let answer = rig.call(
        "GetTransactionStatus",
        json!({"transactionId": "no-such-tx"}),
    );
    assert_eq!(answer["ongoingIndicator"], false);

    rig.charger.set_status(0);
    rig.wait_call("TransactionEvent", started.seq, |p| {
        p["eventType"] == "Ended"
    });
    let answer = rig.call("GetTransactionStatus", json!({"transactionId": tx}));
    assert_eq!(answer["ongoingIndicator"], false);
    assert_eq!(answer["messagesInQueue"], false);
    assert_records_valid(&rig.csms);
}

#[test]
fn j02_sampled_meter_values_at_tx_updated_interval() {
    let (rig, ready) = Rig::booted("j01_sampled_meter_values");
    assert_eq!(
        rig.set_variable("SampledDataCtrlr", "TxUpdatedInterval", "2"),
        "Accepted"
    );
    assert_eq!(
        rig.set_variable(
            "SampledDataCtrlr",
            "TxUpdatedMeasurands",
            "Energy.Active.Import.Register,Current.Import,Voltage,SoC"
        ),
        "Accepted"
    );
    assert_eq!(
        rig.set_variable("SampledDataCtrlr", "TxUpdatedMeasurands", "Frequency"),
        "Rejected",
        "the template maps no frequency"
    );
    rig.charger.set_energy_wh(2_000);
    rig.charger.set_current_a(16.0);
    rig.charger.set_voltage_v(230.0);
    rig.charger.set_soc(40);
    rig.charger.set_status(1);
    let started = rig.wait_call("TransactionEvent", ready.seq, |p| {
        p["eventType"] == "Started"
    });
    let first = rig.wait_call("TransactionEvent", started.seq, |p| {
        p["triggerReason"] == "MeterValuePeriodic"
    });
    let second = rig.wait_call("TransactionEvent", first.seq, |p| {
        p["triggerReason"] == "MeterValuePeriodic"
    });
    for periodic in [&first, &second] {
        assert_eq!(periodic.frame[3]["eventType"], "Updated");
        let mut got = samples(&periodic.frame[3]);
        got.sort();
        let want = [
            ("Current.Import", "A"),
            ("Energy.Active.Import.Register", "Wh"),
            ("SoC", "Percent"),
            ("Voltage", "V"),
        ];
        let want: Vec<(String, String, String)> = want
            .iter()
            .map(|(m, u)| (m.to_string(), u.to_string(), "Sample.Periodic".to_string()))
            .collect();
        assert_eq!(got, want);
    }
    let values: Vec<f64> = first.frame[3]["meterValue"][0]["sampledValue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["value"].as_f64().unwrap())
        .collect();
    for v in [2000.0, 16.0, 230.0, 40.0] {
        assert!(values.contains(&v), "{v} missing from {values:?}");
    }
    let gap = sampled_at_ms(&second.frame[3]) - sampled_at_ms(&first.frame[3]);
    assert!(gap >= 1_900, "periodic samples {gap} ms apart");
    assert_records_valid(&rig.csms);
}

#[test]
fn j01_j02_clock_aligned_meter_values_outside_and_inside_a_transaction() {
    let (rig, ready) = Rig::booted("j02_clock_aligned");
    rig.charger.set_energy_wh(3_000);
    assert_eq!(
        rig.set_variable("AlignedDataCtrlr", "Interval", "2"),
        "Accepted"
    );
    // The first boundary may come before the gateway has polled the new energy value.
    let idle = rig.wait_call("MeterValues", ready.seq, |p| {
        p["meterValue"][0]["sampledValue"][0]["value"] == 3000.0
    });
    let p = &idle.frame[3];
    assert_eq!(p["evseId"], 1);
    assert_eq!(
        samples(p),
        [(
            "Energy.Active.Import.Register".to_string(),
            "Wh".to_string(),
            "Sample.Clock".to_string()
        )]
    );
    assert_eq!(first_sample(p)["value"], 3000.0);
    // Aligned to the clock: at a multiple of 2 s, give or take a loaded machine's wake-up.
    assert!(
        sampled_at_ms(p) % 2_000 < 1_000,
        "{}",
        p["meterValue"][0]["timestamp"]
    );

    // During a transaction the clock-aligned sample goes into it.
    rig.charger.set_status(1);
    let started = rig.wait_call("TransactionEvent", idle.seq, |p| {
        p["eventType"] == "Started"
    });
    let clock = rig.wait_call("TransactionEvent", started.seq, |p| {
        p["triggerReason"] == "MeterValueClock"
    });
    assert_eq!(first_sample(&clock.frame[3])["context"], "Sample.Clock");
    assert_eq!(
        clock.frame[3]["transactionInfo"]["transactionId"],
        started.frame[3]["transactionInfo"]["transactionId"]
    );

    assert_records_valid(&rig.csms);
}

/// Holding register of `Control.Charging` in etc/templates/generic_modbus_charger.toml.
const REG_CHARGING: u16 = 20;

#[test]
fn e05_invalid_token_stops_energy() {
    let (rig, ready) = Rig::booted("e05_invalid_token");
    rig.csms.set_transaction_token_status("STOLEN", "Invalid");
    rig.charger.set_energy_wh(1_000);
    let answer = rig.call(
        "RequestStartTransaction",
        json!({"remoteStartId": 12, "idToken": {"idToken": "STOLEN", "type": "Central"}}),
    );
    assert_eq!(answer["status"], "Accepted");
    wait_register(&rig.charger, REG_CHARGING, 1);
    rig.charger.set_status(1);
    rig.charger.set_power_w(7_000.0);
    let started = rig.wait_call("TransactionEvent", ready.seq, |p| {
        p["eventType"] == "Started"
    });
    assert_eq!(started.frame[3]["idToken"]["idToken"], "STOLEN");
    let verdict = rig
        .csms
        .wait_for(common::gateway::WAIT, |r| {
            r.dir == Dir::Out && r.frame[0] == 3 && r.frame[1] == started.frame[1]
        })
        .expect("the CSMS answered the Started event");
    assert_eq!(verdict.frame[2]["idTokenInfo"]["status"], "Invalid");

    // StopTxOnInvalidId is true by default: energy stops and the transaction ends.
    wait_register(&rig.charger, REG_CHARGING, 0);
    let ended = rig.wait_call("TransactionEvent", started.seq, |p| {
        p["eventType"] == "Ended"
    });
    let p = &ended.frame[3];
    assert_eq!(p["triggerReason"], "Deauthorized");
    assert_eq!(p["transactionInfo"]["stoppedReason"], "DeAuthorized");
    assert_eq!(
        p["transactionInfo"]["transactionId"],
        started.frame[3]["transactionInfo"]["transactionId"]
    );
    assert_records_valid(&rig.csms);
}

#[test]
fn g01_no_connector_status_before_the_first_device_reading() {
    let rig = Rig::start("g01_first_reading", CsmsOptions::default(), "");
    // A vehicle is plugged in, and the charger is slow to answer its first poll.
    rig.charger.set_silent(true);
    rig.charger.set_status(1);
    rig.wait_call("BootNotification", 0, |_| true);
    std::thread::sleep(std::time::Duration::from_millis(1_500));
    rig.charger.set_silent(false);
    let occupied = rig.wait_status("Occupied", 0);
    let statuses: Vec<String> = rig
        .csms
        .records()
        .iter()
        .filter(|r| r.station == STATION && r.seq <= occupied.seq)
        .filter_map(|r| status_of(r).map(String::from))
        .collect();
    assert!(
        !statuses.iter().any(|s| s == "Available"),
        "a status the device never gave: {statuses:?}"
    );
    assert_records_valid(&rig.csms);
}
