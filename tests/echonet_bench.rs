//! INF → `DeviceEvent::Values` latency at the worker boundary with 100 simulated nodes, each
//! polled every second meanwhile, announcing by multicast and then by unicast. Ignored by
//! default (it is a measurement, not a check); run with
//!
//! ```sh
//! cargo test --test echonet_bench -- --ignored --nocapture
//! ```
//!
//! The latency runs from the simulator's announcement (encode + send) to the event arriving on
//! the hub's channel. With multicast every simulator also receives every other's
//! announcement, on the same two cores: a cost a real gateway does not pay for its chargers.

#![cfg(feature = "sim")]

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver};
use ocpp_gw::device::{
    DeviceEvent, DeviceId, EchonetDevice, EpcRead, PollClass, RawValue, WorkerCmd,
};
use ocpp_gw::echonet::{spawn_worker, Settings};
use ocpp_gw::sim::echonet_charger::{EchonetChargerSim, SimConfig};

const NODES: u8 = 100;
const SEQUENTIAL: usize = 2000;
const BURSTS: usize = 50;
const WAIT: Duration = Duration::from_secs(10);

fn device(i: u8, sim: &EchonetChargerSim) -> EchonetDevice {
    let read = |var, epc, class| EpcRead { var, epc, class };
    EchonetDevice {
        id: DeviceId(u32::from(i)),
        name: format!("el{i}"),
        ip: sim.addr().ip().to_string(),
        eoj: Some(0x02A101),
        poll_interval: Duration::from_secs(1),
        slow_poll_interval: Duration::from_secs(10),
        reads: vec![
            read(0, 0xC7, PollClass::Fast),
            read(1, 0x80, PollClass::Fast),
            read(2, 0xDA, PollClass::Fast),
            read(3, 0xD3, PollClass::Fast),
            read(4, 0xD8, PollClass::Slow),
        ],
    }
}

/// The device whose var 0 became `value`, if `e` says so.
fn vehicle_status(e: &DeviceEvent, value: u8) -> Option<DeviceId> {
    match e {
        DeviceEvent::Values { device, values } => values
            .iter()
            .any(|(var, raw)| *var == 0 && *raw == RawValue::Bytes(vec![value]))
            .then_some(*device),
        _ => None,
    }
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let i = ((sorted.len().saturating_sub(1)) as f64 * q).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{what}: n={} p50={:?} p99={:?} max={:?}",
        samples.len(),
        percentile(&samples, 0.50),
        percentile(&samples, 0.99),
        samples.last().copied().unwrap_or_default()
    );
}

fn wait_until(events: &Receiver<DeviceEvent>, mut done: impl FnMut(&DeviceEvent) -> bool) {
    let deadline = Instant::now() + WAIT;
    loop {
        let e = events
            .recv_deadline(deadline)
            .expect("no event within the deadline");
        if done(&e) {
            return;
        }
    }
}

#[test]
#[ignore = "benchmark: cargo test --test echonet_bench -- --ignored --nocapture"]
fn inf_to_device_event_latency_with_100_nodes() {
    measure("multicast", true);
    measure("unicast", false);
}

fn measure(how: &str, multicast: bool) {
    let gateway = Ipv4Addr::new(127, 61, 6, 1);
    let sims: Vec<EchonetChargerSim> = (1..=NODES)
        .map(|i| {
            let mut config = SimConfig::charger(Ipv4Addr::new(127, 61, 3, i));
            config.multicast = multicast;
            if !multicast {
                config.notify = vec![(gateway, 3610).into()];
            }
            EchonetChargerSim::start(config).unwrap()
        })
        .collect();
    let settings = Settings {
        interface: gateway,
        response_timeout: Duration::from_millis(500),
        ..Settings::default()
    };
    let (cmds, cmd_rx) = bounded(256);
    let (event_tx, events) = bounded(1024);
    let worker = spawn_worker(settings, event_tx, cmd_rx).unwrap();
    for (i, sim) in (1..=NODES).zip(&sims) {
        cmds.send(WorkerCmd::Add(device(i, sim))).unwrap();
    }
    let mut online = 0;
    wait_until(&events, |e| {
        online += usize::from(matches!(e, DeviceEvent::Online { .. }));
        online == usize::from(NODES)
    });

    let mut sequential = Vec::with_capacity(SEQUENTIAL);
    for n in 0..SEQUENTIAL {
        let k = n % sims.len();
        let (sim, id) = (&sims[k], DeviceId(k as u32 + 1));
        let value = if (n / sims.len()) % 2 == 0 {
            0x41
        } else {
            0x30
        };
        let t0 = Instant::now();
        sim.set_property(0xC7, &[value]);
        wait_until(&events, |e| vehicle_status(e, value) == Some(id));
        sequential.push(t0.elapsed());
    }
    report(&format!("{how}, one node at a time"), sequential);

    let mut burst = Vec::with_capacity(BURSTS * sims.len());
    for b in 0..BURSTS {
        let value = if b % 2 == 0 { 0x40 } else { 0x44 };
        let started: Vec<Instant> = sims
            .iter()
            .map(|sim| {
                let t0 = Instant::now();
                sim.set_property(0xC7, &[value]);
                t0
            })
            .collect();
        let mut seen = vec![false; sims.len()];
        let mut left = sims.len();
        wait_until(&events, |e| {
            if let Some(DeviceId(id)) = vehicle_status(e, value) {
                let i = id as usize - 1;
                if !seen[i] {
                    seen[i] = true;
                    left -= 1;
                    burst.push(started[i].elapsed());
                }
            }
            left == 0
        });
    }
    report(&format!("{how}, all 100 nodes at once"), burst);

    cmds.send(WorkerCmd::Shutdown).unwrap();
    worker.join().unwrap();
}
