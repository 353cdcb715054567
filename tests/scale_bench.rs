//! Benchmark, run by hand (see BENCHMARKS.md): the cost of 1,000 stations on one gateway —
//! resident memory, threads, and how often the process wakes while nothing happens.

mod common;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use common::gateway::{loopback, scratch, Gateway};
use ocpp_gw::sim::csms::{CsmsOptions, CsmsSim};
use ocpp_gw::sim::modbus_charger::ModbusChargerSim;

/// Units behind each simulated endpoint (Modbus TCP bridges carry many).
const UNITS_PER_ENDPOINT: u32 = 200;

fn proc_field(pid: u32, task: Option<&str>, field: &str) -> u64 {
    let path = match task {
        Some(t) => format!("/proc/{pid}/task/{t}/status"),
        None => format!("/proc/{pid}/status"),
    };
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Context switches of every thread of `pid`: each one is a wake-up.
fn switches(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .map(|t| {
            let t = t.file_name().to_string_lossy().to_string();
            proc_field(pid, Some(&t), "voluntary_ctxt_switches:")
                + proc_field(pid, Some(&t), "nonvoluntary_ctxt_switches:")
        })
        .sum()
}

#[test]
#[ignore = "benchmark: cargo test --release --test scale_bench -- --ignored --nocapture"]
fn cost_of_1000_stations() {
    let stations: u32 = std::env::var("OCPPGW_BENCH_STATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let csms = CsmsSim::start(loopback(), CsmsOptions::default()).unwrap();
    let endpoints: Vec<ModbusChargerSim> = (0..stations.div_ceil(UNITS_PER_ENDPOINT))
        .map(|_| ModbusChargerSim::start(loopback()).unwrap())
        .collect();
    let dir = scratch("scale_bench");
    let mut text = format!(
        "[system]\nlog_level = \"warn\"\ndata_dir = \"{}\"\n\n[csms]\nurl = \"{}\"\n\
         heartbeat_interval_sec = 300\nping_interval_sec = 60\n",
        dir.join("data").display(),
        csms.url()
    );
    for i in 0..stations {
        let sim = &endpoints[(i / UNITS_PER_ENDPOINT) as usize];
        let _ = write!(
            text,
            "\n[[devices]]\nid = \"c{i}\"\ntemplate = \"generic_modbus_charger\"\n\
             protocol = \"modbus_tcp\"\nocpp_id = \"CP{i:04}\"\npoll_interval_ms = 60000\n\
             [devices.connection]\nip = \"127.0.0.1\"\nport = {}\nunit_id = {}\n",
            sim.addr().port(),
            i % UNITS_PER_ENDPOINT + 1
        );
    }
    let config = dir.join("ocpp-gw.toml");
    std::fs::write(&config, text).unwrap();
    let started = Instant::now();
    let gw = Gateway::start(&config, &dir.join("gateway.log"));
    let pid = gw.0.id();
    let statuses = |csms: &CsmsSim| {
        csms.records()
            .iter()
            .filter(|r| common::gateway::status_of(r).is_some())
            .count() as u32
    };
    while statuses(&csms) < stations {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "stations did not all report"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let ready = started.elapsed();
    // Let start-up work settle; then 30 s with no timer due (nothing should wake at all),
    // then two minutes that hold a full round of polls and WebSocket pings (each every 60 s).
    std::thread::sleep(Duration::from_secs(5));
    let rate = |seconds: u64| {
        let (s0, t0) = (switches(pid), Instant::now());
        std::thread::sleep(Duration::from_secs(seconds));
        (switches(pid) - s0) as f64 / t0.elapsed().as_secs_f64()
    };
    let quiet = rate(30);
    let rss_kib = proc_field(pid, None, "VmRSS:");
    let threads = proc_field(pid, None, "Threads:");
    let steady = rate(120);
    println!(
        "{stations} stations: all reporting after {:.1} s; RSS {:.1} MiB ({:.1} KiB per station); \
         {threads} threads; wake-ups/s: {quiet:.1} between timers, {steady:.1} with a poll and a \
         ping per station per minute",
        ready.as_secs_f64(),
        rss_kib as f64 / 1024.0,
        rss_kib as f64 / f64::from(stations),
    );
}
