//! `kill -9` of the real gateway during transactions and during replay: after a restart the
//! CSMS has every event, without gaps, and repeats only with the same content.

mod common;
mod journal_support;

use std::time::Duration;

use common::gateway::{loopback, scratch, wait_call, wait_status, write_config, Gateway};
use journal_support::{check_events, journal_rows, tx_events, tx_id, wait_until};
use ocpp_gw::sim::csms::{CsmsOptions, CsmsSim};
use ocpp_gw::sim::modbus_charger::ModbusChargerSim;
use ocpp_gw::util::rng::Rng;

#[test]
fn a_transaction_resumes_after_kill_9_and_ends_when_unplugged_later() {
    let csms = CsmsSim::start(loopback(), CsmsOptions::default()).unwrap();
    let charger = ModbusChargerSim::start(loopback()).unwrap();
    let dir = scratch("journal_resume");
    let config = write_config(&dir, &csms.url(), &[charger.addr()], "");
    let gw = Gateway::start(&config, &dir.join("gateway.log"));
    let ready = wait_status(&csms, "CP001", "Available", 0);
    charger.set_status(1);
    let started = wait_call(&csms, "CP001", "TransactionEvent", ready.seq, |p| {
        p["eventType"] == "Started"
    });
    let tx = tx_id(&started.frame[3]);
    drop(gw); // SIGKILL

    charger.set_power_w(7400.0);
    let _gw = Gateway::start(&config, &dir.join("gateway2.log"));
    let charging = wait_call(&csms, "CP001", "TransactionEvent", started.seq, |p| {
        p["triggerReason"] == "ChargingStateChanged"
    });
    assert_eq!(tx_id(&charging.frame[3]), tx, "same transaction");
    assert_eq!(charging.frame[3]["seqNo"], 1);
    charger.set_power_w(0.0);
    charger.set_status(0);
    let ended = wait_call(&csms, "CP001", "TransactionEvent", charging.seq, |p| {
        p["eventType"] == "Ended"
    });
    assert_eq!(tx_id(&ended.frame[3]), tx);
    let (by_tx, _) = check_events(&tx_events(&csms.records()));
    assert_eq!(by_tx.len(), 1);
    let errors = common::validate_records(&csms.records());
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn a_cable_pulled_while_the_gateway_was_down_ends_the_transaction_as_ev_disconnected() {
    let csms = CsmsSim::start(loopback(), CsmsOptions::default()).unwrap();
    let charger = ModbusChargerSim::start(loopback()).unwrap();
    let dir = scratch("journal_unplugged");
    let config = write_config(&dir, &csms.url(), &[charger.addr()], "");
    let gw = Gateway::start(&config, &dir.join("gateway.log"));
    let ready = wait_status(&csms, "CP001", "Available", 0);
    charger.set_status(1);
    let started = wait_call(&csms, "CP001", "TransactionEvent", ready.seq, |p| {
        p["eventType"] == "Started"
    });
    drop(gw);
    charger.set_status(0);
    let _gw = Gateway::start(&config, &dir.join("gateway2.log"));
    let ended = wait_call(&csms, "CP001", "TransactionEvent", started.seq, |p| {
        p["eventType"] == "Ended"
    });
    let p = &ended.frame[3];
    assert_eq!(tx_id(p), tx_id(&started.frame[3]));
    assert_eq!(p["seqNo"], 1);
    assert_eq!(p["triggerReason"], "EVCommunicationLost");
    assert_eq!(p["transactionInfo"]["stoppedReason"], "EVDisconnected");
    let errors = common::validate_records(&csms.records());
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn kill_9_during_replay_loses_nothing_and_repeats_only_the_unacknowledged() {
    let csms = CsmsSim::start(loopback(), CsmsOptions::default()).unwrap();
    let port = csms.addr();
    let charger = ModbusChargerSim::start(loopback()).unwrap();
    let dir = scratch("journal_replay_kill");
    let data = dir.join("data");
    let config = write_config(&dir, &csms.url(), &[charger.addr()], "");
    let gw = Gateway::start(&config, &dir.join("gateway.log"));
    wait_status(&csms, "CP001", "Available", 0);
    let mut all = csms.records();
    csms.stop();
    // Three offline transactions: nine or more queued events.
    for n in 1..=3 {
        charger.set_status(1);
        wait_until("Started", || journal_rows(&data, "\"Started\"") == n);
        let changes = journal_rows(&data, "\"ChargingStateChanged\"");
        charger.set_power_w(7400.0);
        wait_until("charging", || {
            journal_rows(&data, "\"ChargingStateChanged\"") > changes
        });
        charger.set_power_w(0.0);
        charger.set_status(0);
        wait_until("Ended", || journal_rows(&data, "\"Ended\"") == n);
    }
    let queued = journal_rows(&data, "");
    assert!(queued >= 9, "{queued}");

    let csms = CsmsSim::start(port, CsmsOptions::default()).unwrap();
    let first = wait_call(&csms, "CP001", "TransactionEvent", 0, |_| true);
    drop(gw);
    assert!(
        journal_rows(&data, "") > 0,
        "killed before the replay ended"
    );
    let _gw = Gateway::start(&config, &dir.join("gateway2.log"));
    wait_until("the journal to empty", || journal_rows(&data, "") == 0);
    all.extend(csms.records());
    let events = tx_events(&all);
    let (by_tx, repeats) = check_events(&events);
    assert_eq!(by_tx.len(), 3, "{events:#?}");
    assert!(by_tx
        .values()
        .all(|t| t.last().unwrap()["eventType"] == "Ended"));
    assert_eq!(
        by_tx.values().map(Vec::len).sum::<usize>(),
        queued,
        "every queued event, once"
    );
    assert!(repeats <= 1, "{repeats} repeats: {events:#?}");
    assert!(first.seq > 0);
    let errors = common::validate_records(&all);
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn fifty_kills_at_random_points_leave_no_gap_in_any_transaction() {
    let csms = CsmsSim::start(loopback(), CsmsOptions::default()).unwrap();
    let charger = ModbusChargerSim::start(loopback()).unwrap();
    let dir = scratch("journal_crash_loop");
    let data = dir.join("data");
    let config = write_config(&dir, &csms.url(), &[charger.addr()], "");
    let mut rng = Rng::seeded(7);
    for round in 0..50u32 {
        let gw = Gateway::start(&config, &dir.join("gateway.log"));
        // The charger keeps changing while the gateway runs, so events flow at every kill.
        for _ in 0..(rng.next_u64() % 4) {
            match rng.next_u64() % 3 {
                0 => charger.set_status(u16::from(charger.status() == 0)),
                1 => charger.set_power_w((rng.next_u64() % 2) as f32 * 7400.0),
                _ => charger.set_energy_wh(charger.energy_wh() + 10),
            }
            std::thread::sleep(Duration::from_millis(50 + rng.next_u64() % 200));
        }
        std::thread::sleep(Duration::from_millis(rng.next_u64() % 300));
        drop(gw);
        if round % 10 == 9 {
            eprintln!("round {round}: {} queued", journal_rows(&data, ""));
        }
    }
    charger.set_power_w(0.0);
    charger.set_status(0);
    let _gw = Gateway::start(&config, &dir.join("gateway.log"));
    wait_until("every transaction ended and delivered", || {
        let events = tx_events(&csms.records());
        journal_rows(&data, "") == 0 && {
            let (by_tx, _) = check_events(&events);
            by_tx
                .values()
                .all(|t| t.last().is_some_and(|e| e["eventType"] == "Ended"))
        }
    });
    let events = tx_events(&csms.records());
    let (by_tx, repeats) = check_events(&events);
    eprintln!(
        "{} transactions, {} events, {repeats} repeats",
        by_tx.len(),
        events.len()
    );
    assert!(by_tx.len() >= 3, "{events:#?}");
    let errors = common::validate_records(&csms.records());
    assert!(errors.is_empty(), "{errors:#?}");
}
