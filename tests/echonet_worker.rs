//! The ECHONET Lite worker against simulated nodes on loopback addresses.
//!
//! Every test has its own gateway address (127.61.1.x) and node addresses (127.61.2.x), so
//! tests running in parallel never share a socket.

#![cfg(feature = "sim")]

use std::net::Ipv4Addr;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender};
use ocpp_gw::device::{
    DeviceEvent, DeviceId, EchonetDevice, EpcRead, PollClass, RawValue, WorkerCmd, WriteRequest,
    WriteValue,
};
use ocpp_gw::echonet::{spawn_worker, Esv, Settings};
use ocpp_gw::sim::echonet_charger::{EchonetChargerSim, SimConfig};

/// Generous bound for anything to happen on a loaded machine.
const WAIT: Duration = Duration::from_secs(10);

struct Gateway {
    cmds: Sender<WorkerCmd<EchonetDevice>>,
    events: Receiver<DeviceEvent>,
    thread: Option<JoinHandle<()>>,
}

impl Gateway {
    fn start(last_octet: u8) -> Gateway {
        let settings = Settings {
            interface: Ipv4Addr::new(127, 61, 1, last_octet),
            response_timeout: Duration::from_millis(200),
            retries: 2,
            max_in_flight_per_node: 2,
            offline_after_failures: 2,
            max_backoff: Duration::from_millis(400),
            ..Settings::default()
        };
        let (cmds, cmd_rx) = bounded(16);
        let (event_tx, events) = bounded(256);
        let thread = spawn_worker(settings, event_tx, cmd_rx).unwrap();
        Gateway {
            cmds,
            events,
            thread: Some(thread),
        }
    }

    fn add(&self, device: EchonetDevice) {
        self.cmds.send(WorkerCmd::Add(device)).unwrap();
    }

    /// The first event `pick` accepts, skipping others; panics after `WAIT`.
    fn wait_for<T>(&self, what: &str, mut pick: impl FnMut(&DeviceEvent) -> Option<T>) -> T {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.events.recv_deadline(deadline) {
                Ok(e) => {
                    if let Some(v) = pick(&e) {
                        return v;
                    }
                }
                Err(_) => panic!("timed out waiting for {what}"),
            }
        }
    }

    fn wait_online(&self) {
        self.wait_for("Online", |e| {
            matches!(e, DeviceEvent::Online { .. }).then_some(())
        });
    }

    /// Waits for a Values event that carries `var` = `bytes`.
    fn wait_value(&self, var: usize, bytes: &[u8]) {
        let want = RawValue::Bytes(bytes.to_vec());
        self.wait_for(&format!("var {var} = {bytes:02X?}"), |e| match e {
            DeviceEvent::Values { values, .. } => values
                .iter()
                .any(|(v, raw)| *v == var && *raw == want)
                .then_some(()),
            _ => None,
        });
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.cmds.send(WorkerCmd::Shutdown);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

fn sim(last_octet: u8, class: u16) -> EchonetChargerSim {
    let mut config = SimConfig::charger(Ipv4Addr::new(127, 61, 2, last_octet));
    config.class = class;
    EchonetChargerSim::start(config).unwrap()
}

/// Vehicle status (var 0) every poll and cumulative energy (var 1) in the slow class.
fn device(sim: &EchonetChargerSim, eoj: Option<u32>, poll: Duration) -> EchonetDevice {
    EchonetDevice {
        id: DeviceId(1),
        name: "el1".into(),
        ip: sim.addr().ip().to_string(),
        eoj,
        poll_interval: poll,
        slow_poll_interval: poll,
        reads: vec![
            EpcRead {
                var: 0,
                epc: 0xC7,
                class: PollClass::Fast,
            },
            EpcRead {
                var: 1,
                epc: 0xD8,
                class: PollClass::Slow,
            },
        ],
    }
}

#[test]
fn polls_values_and_confirms_an_announcement_with_one_get() {
    let node = sim(1, 0x02A1);
    node.set_property(0xD8, &[0, 0, 0x30, 0x39]);
    let gw = Gateway::start(1);
    // Polled once; the next poll is far beyond the test.
    gw.add(device(&node, Some(0x02A101), Duration::from_secs(3600)));
    gw.wait_online();
    gw.wait_value(1, &[0, 0, 0x30, 0x39]);
    let gets = node.requests().len();
    node.set_property(0xC7, &[0x41]);
    gw.wait_value(0, &[0x41]);
    // Anyone can send an INF with the node's address: the change is reported once a Get,
    // long before the next poll, confirms it.
    let confirm = node.requests().split_off(gets);
    assert!(
        matches!(confirm.as_slice(), [(_, Esv::Get)]),
        "one confirming Get: {confirm:?}"
    );
}

#[test]
fn a_dropped_answer_is_recovered_by_retransmission() {
    let node = sim(2, 0x02A1);
    node.drop_answers(1);
    let gw = Gateway::start(2);
    gw.add(device(&node, Some(0x02A101), Duration::from_secs(3600)));
    gw.wait_online();
    gw.wait_value(0, &[0x30]);
    let requests = node.requests();
    let (tid, esv) = requests[0];
    assert_eq!(esv, Esv::Get);
    assert_eq!(requests[1], (tid, Esv::Get), "sent again with the same TID");
}

#[test]
fn a_refused_property_is_skipped_and_the_device_stays_online() {
    let node = sim(3, 0x02A1);
    node.refuse(0xD8);
    let gw = Gateway::start(3);
    gw.add(device(&node, Some(0x02A101), Duration::from_millis(100)));
    gw.wait_online();
    let values = gw.wait_for("Values", |e| match e {
        DeviceEvent::Values { values, .. } => Some(values.clone()),
        _ => None,
    });
    assert_eq!(values, vec![(0, RawValue::Bytes(vec![0x30]))]);
    node.set_property(0xC7, &[0x40]);
    gw.wait_value(0, &[0x40]);
    // Several polls later the device is still online: no Offline came meanwhile.
    let polls = node.requests().len();
    let deadline = Instant::now() + WAIT;
    while node.requests().len() < polls + 3 {
        assert!(Instant::now() < deadline, "polling stopped");
        if let Ok(e) = gw.events.recv_timeout(Duration::from_millis(100)) {
            assert!(!matches!(e, DeviceEvent::Offline { .. }), "{e:?}");
        }
    }
}

#[test]
fn a_vanished_node_goes_offline_and_comes_back_by_itself() {
    let node = sim(4, 0x02A1);
    let gw = Gateway::start(4);
    gw.add(device(&node, Some(0x02A101), Duration::from_millis(100)));
    gw.wait_online();
    gw.wait_value(0, &[0x30]);
    node.set_vanished(true);
    let reason = gw.wait_for("Offline", |e| match e {
        DeviceEvent::Offline { reason, .. } => Some(reason.clone()),
        _ => None,
    });
    assert!(reason.contains("no answer"), "{reason}");
    node.set_vanished(false);
    gw.wait_online();
    gw.wait_value(0, &[0x30]);
}

#[test]
fn a_setc_write_is_answered() {
    let node = sim(5, 0x02A1);
    let gw = Gateway::start(5);
    gw.add(device(&node, Some(0x02A101), Duration::from_secs(3600)));
    gw.wait_online();
    let write = |token, epc, edt: &[u8]| {
        let request = WriteRequest {
            device: DeviceId(1),
            token,
            value: WriteValue::Epc {
                epc,
                edt: edt.to_vec(),
            },
        };
        gw.cmds.send(WorkerCmd::Write(request)).unwrap();
        gw.wait_for("Written", |e| match e {
            DeviceEvent::Written {
                token: t, result, ..
            } if *t == token => Some(result.clone()),
            _ => None,
        })
    };
    assert_eq!(write(1, 0xDA, &[0x42]), Ok(()));
    assert_eq!(node.property(0xDA), Some(vec![0x42]));
    assert_eq!(node.written(), vec![(0xDA, vec![0x42])]);
    let refused = write(2, 0xC7, &[0x41]).unwrap_err();
    assert!(refused.contains("C7"), "{refused}");
    assert_eq!(node.property(0xC7), Some(vec![0x30]));
}

#[test]
fn discovery_binds_a_device_configured_without_an_object() {
    let node = sim(6, 0x027E);
    let gw = Gateway::start(6);
    gw.add(device(&node, None, Duration::from_secs(3600)));
    gw.wait_online();
    gw.wait_value(0, &[0x30]);
    node.set_property(0xC7, &[0x43]);
    gw.wait_value(0, &[0x43]);
}
