//! Issue #13: a CSMS flooding the station with report requests, through the real binary.
//! One report is sent at a time, one page at a time; every other request is Rejected and costs
//! the gateway nothing it keeps.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::gateway::{assert_records_valid, Rig, STATION, WAIT};
use ocpp_gw::sim::csms::{Dir, SimError};
use serde_json::{json, Value};

/// Report requests in the flood.
const FLOOD: usize = 2000;
/// What the gateway may grow by while answering the flood; queuing the reports costs about
/// 288 KB each (issue #13), i.e. hundreds of MB for this flood.
const RSS_GROWTH_LIMIT_KB: u64 = 40 * 1024;

/// The resident set of process `pid`, in KB.
fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS for {pid}"))
}

/// Sends a CALL, waiting while the simulator's outbox to the station is full.
fn send(rig: &Rig, action: &str, payload: Value) -> String {
    let until = Instant::now() + WAIT;
    loop {
        match rig.csms.call(STATION, action, payload.clone()) {
            Ok(id) => return id,
            Err(SimError::Busy(_)) if Instant::now() < until => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => panic!("cannot send {action}: {e}"),
        }
    }
}

#[test]
fn b07_b08_a_report_flood_keeps_one_report_in_flight() {
    let (rig, ready) = Rig::booted("report_flood");
    let pid = rig.gw.0.id();
    let before = rss_kb(pid);
    let ids: Vec<String> = (0..FLOOD)
        .map(|n| {
            let request_id = i64::try_from(n).unwrap_or(i64::MAX) + 1;
            if n % 2 == 0 {
                send(
                    &rig,
                    "GetBaseReport",
                    json!({"requestId": request_id, "reportBase": "FullInventory"}),
                )
            } else {
                send(&rig, "GetReport", json!({"requestId": request_id}))
            }
        })
        .collect();
    let last = ids.last().cloned().unwrap_or_default();
    rig.csms
        .wait_for(WAIT * 3, |r| {
            r.dir == Dir::In && r.frame[0] == 3 && r.frame[1] == last.as_str()
        })
        .expect("the station answers every request");
    let after = rss_kb(pid);
    assert!(
        after < before + RSS_GROWTH_LIMIT_KB,
        "RSS grew from {before} kB to {after} kB"
    );

    // Which requests were accepted: by the answer to each CALL, matched on its id.
    let records = rig.csms.records();
    let request_of: BTreeMap<&str, i64> = records
        .iter()
        .filter(|r| r.dir == Dir::Out && r.frame[0] == 2 && r.seq > ready.seq)
        .filter_map(|r| Some((r.frame[1].as_str()?, r.frame[3]["requestId"].as_i64()?)))
        .collect();
    let mut accepted = Vec::new();
    let mut rejected = 0;
    for r in records
        .iter()
        .filter(|r| r.dir == Dir::In && r.frame[0] == 3)
    {
        let Some(&request_id) = r.frame[1].as_str().and_then(|id| request_of.get(id)) else {
            continue;
        };
        match r.frame[2]["status"].as_str() {
            Some("Accepted") => accepted.push(request_id),
            Some("Rejected") => {
                assert_eq!(r.frame[2]["statusInfo"]["reasonCode"], "ReportInProgress");
                rejected += 1;
            }
            other => panic!("request {request_id} answered {other:?}"),
        }
    }
    assert_eq!(accepted.len() + rejected, FLOOD);
    assert!(
        rejected > FLOOD / 2,
        "a report in progress turns the flood away ({rejected} rejected)"
    );
    assert_eq!(accepted.first(), Some(&1), "the first request is served");

    // Wait for the last accepted report to end, then read every page the CSMS received.
    let final_id = *accepted.last().unwrap_or(&1);
    rig.wait_call("NotifyReport", ready.seq, |p| {
        p["requestId"] == final_id && p["tbc"] != true
    });
    let pages: Vec<Value> = rig
        .calls_after("NotifyReport", ready.seq)
        .into_iter()
        .map(|r| r.frame[3].clone())
        .collect();
    // One report at a time: the pages of each accepted report are contiguous, complete and in
    // seqNo order, and follow the order the reports were accepted in.
    let mut reports: Vec<(i64, Vec<Value>)> = Vec::new();
    for page in pages {
        let id = page["requestId"].as_i64().unwrap_or(-1);
        match reports.last_mut() {
            Some((current, list)) if *current == id => list.push(page),
            _ => {
                assert!(
                    reports.iter().all(|(done, _)| *done != id),
                    "pages of report {id} interleave with another report"
                );
                reports.push((id, vec![page]));
            }
        }
    }
    let order: Vec<i64> = reports.iter().map(|(id, _)| *id).collect();
    assert_eq!(order, accepted);
    for (id, list) in &reports {
        for (i, page) in list.iter().enumerate() {
            assert_eq!(page["seqNo"], i as i64, "report {id}: {page}");
            assert_eq!(
                page["tbc"] == true,
                i + 1 < list.len(),
                "report {id}: {page}"
            );
            assert!(page["reportData"]
                .as_array()
                .is_some_and(|d| !d.is_empty() && d.len() <= 32));
        }
    }
    let first = &reports[0].1;
    assert!(first.len() > 1, "a full inventory spans several pages");
    assert_records_valid(&rig.csms);
}
