//! The Modbus TCP pool against the charger simulator over loopback.

#![cfg(feature = "sim")]

use std::collections::BTreeMap;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender};
use ocpp_gw::device::{
    DeviceEvent, DeviceId, ModbusTable, ModbusTcpDevice, PollClass, PoolCmd, RawValue,
    RegisterRead, WriteRequest, WriteValue,
};
use ocpp_gw::modbus::{spawn_tcp_pool, EndpointSettings, PoolSettings};
use ocpp_gw::sim::modbus_charger::{
    ModbusChargerSim, REG_ENERGY_WH, REG_STATUS, STATUS_FAULTED, STATUS_OCCUPIED,
};

/// Generous bound for anything to happen on a loaded machine.
const WAIT: Duration = Duration::from_secs(10);

fn settings() -> PoolSettings {
    PoolSettings {
        defaults: EndpointSettings {
            connect_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(1),
            pool_size: 1,
            max_read_gap: 10,
        },
        endpoints: BTreeMap::new(),
        max_backoff: Duration::from_millis(400),
    }
}

fn start_sim() -> ModbusChargerSim {
    ModbusChargerSim::start("127.0.0.1:0".parse().unwrap()).unwrap()
}

/// A device reading the status (var 0) and the energy register (var 1).
fn device(id: u32, sim: &ModbusChargerSim, unit_id: u8) -> ModbusTcpDevice {
    ModbusTcpDevice {
        id: DeviceId(id),
        name: format!("cp{id}"),
        host: sim.addr().ip().to_string(),
        port: sim.addr().port(),
        unit_id,
        poll_interval: Duration::from_millis(50),
        slow_poll_interval: Duration::from_millis(50),
        reads: vec![
            RegisterRead {
                var: 0,
                table: ModbusTable::HoldingRegister,
                address: REG_STATUS,
                count: 1,
                class: PollClass::Fast,
            },
            RegisterRead {
                var: 1,
                table: ModbusTable::HoldingRegister,
                address: REG_ENERGY_WH,
                count: 2,
                class: PollClass::Fast,
            },
        ],
        offline_after_failures: 2,
    }
}

struct Harness {
    events: Receiver<DeviceEvent>,
    cmds: Sender<PoolCmd>,
    thread: JoinHandle<()>,
}

fn start_pool() -> Harness {
    let (event_tx, events) = bounded(64);
    let (cmds, cmd_rx) = bounded(16);
    let thread = spawn_tcp_pool("test", settings(), event_tx, cmd_rx).unwrap();
    Harness {
        events,
        cmds,
        thread,
    }
}

fn next_event(events: &Receiver<DeviceEvent>) -> DeviceEvent {
    events
        .recv_timeout(WAIT)
        .expect("a device event within the timeout")
}

/// Events of several devices, taken one device at a time without losing the others'.
struct Events {
    rx: Receiver<DeviceEvent>,
    pending: Vec<DeviceEvent>,
}

impl Events {
    fn next_of(&mut self, device: DeviceId) -> DeviceEvent {
        if let Some(pos) = self.pending.iter().position(|e| e.device() == device) {
            return self.pending.remove(pos);
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let event = self
                .rx
                .recv_deadline(deadline)
                .expect("a device event within the timeout");
            if event.device() == device {
                return event;
            }
            self.pending.push(event);
        }
    }
}

fn values(id: u32, vals: &[(usize, &[u16])]) -> DeviceEvent {
    DeviceEvent::Values {
        device: DeviceId(id),
        values: vals
            .iter()
            .map(|(var, regs)| (*var, RawValue::Registers(regs.to_vec())))
            .collect(),
    }
}

fn online(id: u32) -> DeviceEvent {
    DeviceEvent::Online {
        device: DeviceId(id),
    }
}

/// Joins `thread`, failing the test instead of hanging if it does not end.
fn join_within(thread: JoinHandle<()>, timeout: Duration) {
    let (done_tx, done_rx) = bounded(1);
    thread::spawn(move || {
        let _ = done_tx.send(thread.join().is_ok());
    });
    assert_eq!(
        done_rx.recv_timeout(timeout),
        Ok(true),
        "pool thread ended cleanly"
    );
}

/// Waits until `sim` has served `extra` more requests.
fn wait_for_requests(sim: &ModbusChargerSim, extra: u64) {
    let target = sim.requests_served() + extra;
    let deadline = Instant::now() + WAIT;
    while sim.requests_served() < target {
        assert!(Instant::now() < deadline, "simulator is not being polled");
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn poll_report_changes_go_offline_come_back_remove_shutdown() {
    let sim = start_sim();
    sim.set_energy_wh(0x0001_0002);
    let pool = start_pool();
    pool.cmds.send(PoolCmd::Add(device(1, &sim, 1))).unwrap();

    assert_eq!(next_event(&pool.events), online(1));
    assert_eq!(
        next_event(&pool.events),
        values(1, &[(0, &[0]), (1, &[1, 2])])
    );

    sim.set_status(STATUS_OCCUPIED);
    assert_eq!(next_event(&pool.events), values(1, &[(0, &[1])]));

    sim.set_silent(true);
    match next_event(&pool.events) {
        DeviceEvent::Offline { device, reason } => {
            assert_eq!(device, DeviceId(1));
            assert!(!reason.is_empty());
        }
        other => panic!("expected Offline, got {other:?}"),
    }

    sim.set_silent(false);
    assert_eq!(next_event(&pool.events), online(1));
    assert_eq!(
        next_event(&pool.events),
        values(1, &[(0, &[1]), (1, &[1, 2])]),
        "every value is reported again after coming back"
    );

    // Commands are handled in order, so once device 2 is online the Remove has been handled.
    let other = start_sim();
    pool.cmds.send(PoolCmd::Remove(DeviceId(1))).unwrap();
    pool.cmds.send(PoolCmd::Add(device(2, &other, 1))).unwrap();
    assert_eq!(next_event(&pool.events), online(2));
    let served_after_remove = sim.requests_served();
    wait_for_requests(&other, 20);
    assert_eq!(sim.requests_served(), served_after_remove);

    pool.cmds.send(PoolCmd::Shutdown).unwrap();
    join_within(pool.thread, WAIT);
}

#[test]
fn dead_device_does_not_hold_up_a_live_one() {
    let dead = start_sim();
    dead.set_silent(true);
    let live = start_sim();
    let pool = start_pool();
    pool.cmds.send(PoolCmd::Add(device(1, &dead, 1))).unwrap();
    pool.cmds.send(PoolCmd::Add(device(2, &live, 1))).unwrap();
    let mut events = Events {
        rx: pool.events,
        pending: Vec::new(),
    };

    assert_eq!(events.next_of(DeviceId(2)), online(2));
    assert!(matches!(
        events.next_of(DeviceId(1)),
        DeviceEvent::Offline { .. }
    ));
    for status in [STATUS_OCCUPIED, STATUS_FAULTED, STATUS_OCCUPIED] {
        live.set_status(status);
        loop {
            let event = events.next_of(DeviceId(2));
            if event == values(2, &[(0, &[status])]) {
                break;
            }
        }
    }
    drop(pool.cmds);
    join_within(pool.thread, WAIT);
}

#[test]
fn unit_ids_behind_one_endpoint_are_polled_separately() {
    let sim = start_sim();
    sim.set_status(STATUS_OCCUPIED);
    let pool = start_pool();
    pool.cmds.send(PoolCmd::Add(device(1, &sim, 1))).unwrap();
    pool.cmds.send(PoolCmd::Add(device(2, &sim, 2))).unwrap();
    let mut events = Events {
        rx: pool.events,
        pending: Vec::new(),
    };
    for id in [1, 2] {
        assert_eq!(events.next_of(DeviceId(id)), online(id));
    }
    assert_eq!(
        sim.connections_accepted(),
        1,
        "pool_size 1: one shared connection"
    );
    sim.set_register(REG_ENERGY_WH + 1, 9);
    for id in [1, 2] {
        assert_eq!(
            events.next_of(DeviceId(id)),
            values(id, &[(0, &[1]), (1, &[0, 0])])
        );
        assert_eq!(events.next_of(DeviceId(id)), values(id, &[(1, &[0, 9])]));
    }
    pool.cmds.send(PoolCmd::Shutdown).unwrap();
    join_within(pool.thread, WAIT);
}

#[test]
fn unreachable_endpoint_goes_offline() {
    let sim = start_sim();
    let mut dev = device(3, &sim, 1);
    drop(sim);
    dev.poll_interval = Duration::from_millis(20);
    let pool = start_pool();
    pool.cmds.send(PoolCmd::Add(dev)).unwrap();
    match next_event(&pool.events) {
        DeviceEvent::Offline { device, reason } => {
            assert_eq!(device, DeviceId(3));
            assert!(reason.contains("connect"), "{reason}");
        }
        other => panic!("expected Offline, got {other:?}"),
    }
    pool.cmds.send(PoolCmd::Shutdown).unwrap();
    join_within(pool.thread, WAIT);
}

#[test]
fn writes_reach_the_device_ahead_of_polls_and_are_answered() {
    let sim = start_sim();
    let pool = start_pool();
    pool.cmds.send(PoolCmd::Add(device(1, &sim, 1))).unwrap();
    assert_eq!(next_event(&pool.events), online(1));
    let write = |token, value| {
        PoolCmd::Write(WriteRequest {
            device: DeviceId(1),
            token,
            value,
        })
    };
    pool.cmds
        .send(write(
            7,
            WriteValue::Registers {
                address: 20,
                values: vec![0x1234, 0x5678],
            },
        ))
        .unwrap();
    pool.cmds
        .send(write(
            8,
            WriteValue::Coils {
                address: 3,
                values: vec![true],
            },
        ))
        .unwrap();
    pool.cmds
        .send(PoolCmd::Write(WriteRequest {
            device: DeviceId(99),
            token: 9,
            value: WriteValue::Registers {
                address: 0,
                values: vec![1],
            },
        }))
        .unwrap();
    let mut written = Vec::new();
    while written.len() < 3 {
        if let DeviceEvent::Written { token, result, .. } = next_event(&pool.events) {
            written.push((token, result.is_ok()));
        }
    }
    assert_eq!(written, vec![(7, true), (8, true), (9, false)]);
    assert_eq!((sim.register(20), sim.register(21)), (0x1234, 0x5678));
    pool.cmds.send(PoolCmd::Shutdown).unwrap();
    join_within(pool.thread, WAIT);
}

#[test]
fn units_behind_an_endpoint_spread_over_pool_size_connections() {
    let sim = start_sim();
    let mut settings = settings();
    let endpoint = (sim.addr().ip().to_string(), sim.addr().port());
    settings.endpoints.insert(
        endpoint,
        EndpointSettings {
            pool_size: 2,
            ..settings.defaults.clone()
        },
    );
    let (event_tx, rx) = bounded(64);
    let (cmds, cmd_rx) = bounded(16);
    let thread = spawn_tcp_pool("pooled", settings, event_tx, cmd_rx).unwrap();
    let mut events = Events {
        rx,
        pending: Vec::new(),
    };
    for unit in 1..=3 {
        cmds.send(PoolCmd::Add(device(u32::from(unit), &sim, unit)))
            .unwrap();
    }
    for id in 1..=3 {
        assert_eq!(events.next_of(DeviceId(id)), online(id));
    }
    wait_for_requests(&sim, 20);
    assert_eq!(
        sim.connections_accepted(),
        2,
        "three units, two connections"
    );
    cmds.send(PoolCmd::Shutdown).unwrap();
    join_within(thread, WAIT);
}

#[test]
fn failed_connects_back_off_and_reconnect_when_the_endpoint_returns() {
    // A port nobody listens on until the simulator takes it over.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let mut dev = device(5, &start_sim(), 1);
    dev.port = addr.port();
    dev.poll_interval = Duration::from_millis(20);
    let pool = start_pool();
    pool.cmds.send(PoolCmd::Add(dev)).unwrap();
    match next_event(&pool.events) {
        DeviceEvent::Offline { reason, .. } => {
            // The second failed poll came from the back-off, without a connect attempt.
            assert!(reason.contains("next attempt in"), "{reason}");
        }
        other => panic!("expected Offline, got {other:?}"),
    }
    let sim = ModbusChargerSim::start(addr).unwrap();
    sim.set_status(STATUS_OCCUPIED);
    assert_eq!(next_event(&pool.events), online(5));
    assert_eq!(
        next_event(&pool.events),
        values(5, &[(0, &[STATUS_OCCUPIED]), (1, &[0, 0])])
    );
    assert_eq!(sim.connections_accepted(), 1);
    pool.cmds.send(PoolCmd::Shutdown).unwrap();
    join_within(pool.thread, WAIT);
}
