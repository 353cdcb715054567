//! Journal benchmarks (ignored in normal runs): the cost of one durable write, and replay
//! throughput of a 10,000-message backlog across 100 stations to a local CSMS.
//! Run: `scripts/bench-journal.sh`.

mod common;
mod journal_support;

use std::time::{Duration, Instant};

use common::gateway::{is_call, loopback, scratch, write_config, Gateway};
use ocpp_gw::journal::{Journal, JournalOp, RemoveReason};
use ocpp_gw::sim::csms::{CsmsOptions, CsmsSim};
use ocpp_gw::sim::modbus_charger::ModbusChargerSim;

const STATIONS: usize = 100;
const PER_STATION: usize = 100;

fn event(station: usize, seq: usize) -> String {
    serde_json::json!({
        "eventType": if seq == 0 { "Started" } else { "Updated" },
        "timestamp": "2026-01-01T00:00:00Z",
        "triggerReason": if seq == 0 { "CablePluggedIn" } else { "MeterValuePeriodic" },
        "seqNo": seq,
        "offline": true,
        "transactionInfo": {"transactionId": format!("bench-{station}"), "chargingState": "Charging"},
        "meterValue": [{"timestamp": "2026-01-01T00:00:00Z",
            "sampledValue": [{"value": 1000.0 + seq as f64, "measurand": "Energy.Active.Import.Register"}]}]
    })
    .to_string()
}

#[test]
#[ignore]
fn journal_write_cost_per_message() {
    let dir = scratch("journal_bench_write");
    let mut j = Journal::open(&dir.join("journal.db")).unwrap();
    let n = 500;
    let t = Instant::now();
    for key in 0..n {
        j.apply(
            "CP001",
            &[
                JournalOp::Append {
                    key,
                    action: "TransactionEvent".into(),
                    payload: event(1, key as usize),
                },
                JournalOp::SaveTx {
                    evse: 1,
                    state: format!("{{\"nextSeq\":{}}}", key + 1),
                },
            ],
        )
        .unwrap();
    }
    let append = t.elapsed() / n as u32;
    let t = Instant::now();
    for key in 0..n {
        j.apply(
            "CP001",
            &[JournalOp::Remove {
                key,
                reason: RemoveReason::Delivered,
            }],
        )
        .unwrap();
    }
    let remove = t.elapsed() / n as u32;
    println!("journal write: append+state (fsync) {append:?}/message, remove {remove:?}/message");
}

#[test]
#[ignore]
fn replay_of_a_10000_message_backlog_across_100_stations() {
    let dir = scratch("journal_bench_replay");
    let data = dir.join("data");
    {
        let mut j = Journal::open(&data.join("journal.db")).unwrap();
        for s in 1..=STATIONS {
            let ops: Vec<JournalOp> = (0..PER_STATION)
                .map(|seq| JournalOp::Append {
                    key: seq as u64,
                    action: "TransactionEvent".into(),
                    payload: event(s, seq),
                })
                .collect();
            j.apply(&format!("CP{s:03}"), &ops).unwrap();
        }
        assert_eq!(j.message_count().unwrap(), (STATIONS * PER_STATION) as u64);
    }
    let csms = CsmsSim::start(
        loopback(),
        CsmsOptions {
            max_records: 100_000,
            ..CsmsOptions::default()
        },
    )
    .unwrap();
    let chargers: Vec<ModbusChargerSim> = (0..STATIONS)
        .map(|_| ModbusChargerSim::start(loopback()).unwrap())
        .collect();
    let addrs: Vec<_> = chargers.iter().map(ModbusChargerSim::addr).collect();
    let config = write_config(&dir, &csms.url(), &addrs, "");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("log_level = \"debug\"", "log_level = \"warn\"");
    std::fs::write(&config, text).unwrap();
    let t = Instant::now();
    let _gw = Gateway::start(&config, &dir.join("gateway.log"));
    let total = STATIONS * PER_STATION;
    let count = || {
        csms.records()
            .iter()
            .filter(|r| is_call(r, "TransactionEvent"))
            .count()
    };
    let first = loop {
        if count() > 0 {
            break t.elapsed();
        }
        assert!(t.elapsed() < Duration::from_secs(60), "nothing replayed");
        std::thread::sleep(Duration::from_millis(5));
    };
    while count() < total {
        assert!(
            t.elapsed() < Duration::from_secs(300),
            "replay stalled at {}",
            count()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let all = t.elapsed();
    journal_support::wait_until("journal empty", || {
        journal_support::journal_rows(&data, "") == 0
    });
    let rate = total as f64 / (all - first).as_secs_f64();
    println!(
        "replay: {total} messages from {STATIONS} stations: first after {first:?}, all after \
         {all:?}: {rate:.0} messages/s"
    );
}
