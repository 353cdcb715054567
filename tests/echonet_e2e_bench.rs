//! Benchmark, run by hand (see BENCHMARKS.md): with 100 ECHONET Lite chargers behind the real
//! binary, how long from a charger announcing a status change (INF) to the StatusNotification
//! arriving at the CSMS.

mod common;

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use common::gateway::{loopback, scratch, status_of, wait_status, Gateway, WAIT};
use ocpp_gw::sim::csms::{CsmsOptions, CsmsSim};
use ocpp_gw::sim::echonet_charger::{EchonetChargerSim, SimConfig};

const NODES: u8 = 100;
const GATEWAY: Ipv4Addr = Ipv4Addr::new(127, 72, 1, 1);

#[test]
#[ignore = "benchmark: cargo test --release --test echonet_e2e_bench -- --ignored --nocapture"]
fn inf_to_status_notification_latency_with_100_nodes() {
    let csms = CsmsSim::start(loopback(), CsmsOptions::default()).unwrap();
    let nodes: Vec<EchonetChargerSim> = (1..=NODES)
        .map(|i| {
            let mut config = SimConfig::charger(Ipv4Addr::new(127, 72, 2, i));
            config.notify = vec![(GATEWAY, 3610).into()];
            config.multicast = false;
            let node = EchonetChargerSim::start(config).unwrap();
            node.set_property(0xC7, &[0x30]);
            node.set_property(0x88, &[0x42]);
            node
        })
        .collect();
    let dir = scratch("echonet_e2e_bench");
    let mut text = format!(
        "[system]\nlog_level = \"warn\"\ndata_dir = \"{}\"\n\n[csms]\nurl = \"{}\"\n\n\
         [echonet]\ninterface = \"{GATEWAY}\"\n",
        dir.join("data").display(),
        csms.url()
    );
    for i in 1..=NODES {
        let _ = write!(
            text,
            "\n[[devices]]\nid = \"el-{i}\"\ntemplate = \"echonet_ev_charger\"\n\
             protocol = \"echonet_lite\"\nocpp_id = \"EL{i:03}\"\npoll_interval_ms = 600000\n\
             [devices.connection]\nip = \"127.72.2.{i}\"\neoj = \"0x02A101\"\n"
        );
    }
    let config = dir.join("ocpp-gw.toml");
    std::fs::write(&config, text).unwrap();
    let _gw = Gateway::start(&config, &dir.join("gateway.log"));
    for i in 1..=NODES {
        wait_status(&csms, &format!("EL{i:03}"), "Available", 0);
    }

    let mut latencies = Vec::new();
    for (edt, status) in [(0x41u8, "Occupied"), (0x30, "Available")] {
        for (i, node) in nodes.iter().enumerate() {
            let station = format!("EL{:03}", i + 1);
            let after = csms.records().last().map_or(0, |r| r.seq);
            let t0 = Instant::now();
            node.set_property(0xC7, &[edt]);
            csms.wait_for(WAIT, |r| {
                r.seq > after && r.station == station && status_of(r) == Some(status)
            })
            .unwrap_or_else(|| panic!("{station}: no {status}"));
            latencies.push(t0.elapsed());
        }
    }
    latencies.sort();
    let pick = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "INF -> StatusNotification, {} samples over {NODES} nodes: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        ms(pick(0.5)),
        ms(pick(0.99)),
        ms(pick(1.0))
    );
}
