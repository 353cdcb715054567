//! The Modbus RTU bus worker against the RTU simulator over a real pseudo-terminal pair.

#![cfg(feature = "sim")]

mod common;

use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender};
use ocpp_gw::config::{self, Parity};
use ocpp_gw::daemon::Daemon;
use ocpp_gw::device::{
    BusCmd, DeviceEvent, DeviceId, ModbusRtuDevice, ModbusTable, PollClass, RawValue, RegisterRead,
    WriteRequest, WriteValue,
};
use ocpp_gw::modbus::pdu::ExceptionCode;
use ocpp_gw::modbus::rtu::SerialLine;
use ocpp_gw::modbus::{spawn_rtu_bus, RtuBus, RtuBusSettings, RtuCounts};
use ocpp_gw::sim::csms::{CsmsOptions, CsmsSim, Dir, Record};
use ocpp_gw::sim::modbus_rtu::{Fault, ModbusRtuSim};
use ocpp_gw::sim::register_bank::{REG_ENERGY_WH, REG_STATUS, STATUS_FAULTED, STATUS_OCCUPIED};

/// Generous bound for anything to happen on a loaded machine.
const WAIT: Duration = Duration::from_secs(10);

const LINE: SerialLine = SerialLine {
    baud_rate: 115_200,
    data_bits: 8,
    parity: Parity::None,
    stop_bits: 1,
};

fn settings(sim: &ModbusRtuSim) -> RtuBusSettings {
    RtuBusSettings {
        // Long enough that a loaded machine never turns a slow answer into a timeout.
        response_timeout: Duration::from_millis(500),
        turnaround: Duration::from_millis(20),
        max_backoff: Duration::from_millis(400),
        ..RtuBusSettings::new(&sim.path().display().to_string(), LINE)
    }
}

/// Unit `unit` as device `unit`, reading the status (var 0) and the energy register (var 1).
fn device(unit: u8) -> ModbusRtuDevice {
    ModbusRtuDevice {
        id: DeviceId(u32::from(unit)),
        name: format!("unit{unit}"),
        unit_id: unit,
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
                table: ModbusTable::InputRegister,
                address: REG_ENERGY_WH,
                count: 2,
                class: PollClass::Slow,
            },
        ],
        offline_after_failures: 2,
    }
}

struct Harness {
    events: Events,
    cmds: Sender<BusCmd>,
    bus: RtuBus,
}

impl Harness {
    fn start(settings: RtuBusSettings, devices: impl IntoIterator<Item = ModbusRtuDevice>) -> Self {
        let (event_tx, rx) = bounded(256);
        let (cmds, cmd_rx) = bounded(64);
        for d in devices {
            cmds.send(BusCmd::Add(d)).unwrap();
        }
        let bus = spawn_rtu_bus(settings, event_tx, cmd_rx).unwrap();
        Harness {
            events: Events {
                rx,
                pending: Vec::new(),
            },
            cmds,
            bus,
        }
    }

    fn counts(&self) -> RtuCounts {
        self.bus.stats.snapshot()
    }

    fn shutdown(self) {
        self.cmds.send(BusCmd::Shutdown).unwrap();
        join_within(self.bus.thread, WAIT);
    }
}

/// Events of several devices, taken one device at a time without losing the others'.
struct Events {
    rx: Receiver<DeviceEvent>,
    pending: Vec<DeviceEvent>,
}

impl Events {
    fn next_of(&mut self, device: u32) -> DeviceEvent {
        let device = DeviceId(device);
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

    /// Skips `device`'s events until one matches `want`.
    fn wait_for(&mut self, device: u32, want: impl Fn(&DeviceEvent) -> bool) -> DeviceEvent {
        loop {
            let event = self.next_of(device);
            if want(&event) {
                return event;
            }
        }
    }
}

fn online(id: u32) -> DeviceEvent {
    DeviceEvent::Online {
        device: DeviceId(id),
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

/// Joins `thread`, failing the test instead of hanging if it does not end.
fn join_within(thread: JoinHandle<()>, timeout: Duration) {
    let (done_tx, done_rx) = bounded(1);
    thread::spawn(move || {
        let _ = done_tx.send(thread.join().is_ok());
    });
    assert_eq!(
        done_rx.recv_timeout(timeout),
        Ok(true),
        "bus thread ended cleanly"
    );
}

/// Waits until `cond` holds, failing after the generous timeout.
fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn twenty_five_units_share_one_bus() {
    let units: Vec<u8> = (1..=25).collect();
    let sim = ModbusRtuSim::start(units.clone(), None).unwrap();
    for &u in &units {
        let bank = sim.bank(u).unwrap();
        bank.set_status(u16::from(u) % 5);
        bank.set_energy_wh(u32::from(u) * 1000);
    }
    let mut h = Harness::start(settings(&sim), units.iter().map(|&u| device(u)));
    for &u in &units {
        let id = u32::from(u);
        assert_eq!(h.events.next_of(id), online(id));
        let wh = id * 1000;
        assert_eq!(
            h.events.next_of(id),
            values(
                id,
                &[
                    (0, &[u16::from(u) % 5]),
                    (1, &[(wh >> 16) as u16, wh as u16])
                ]
            ),
            "unit {u}: status and energy in one planned read"
        );
    }
    sim.bank(13).unwrap().set_status(STATUS_FAULTED);
    h.events
        .wait_for(13, |e| *e == values(13, &[(0, &[STATUS_FAULTED])]));
    let c = h.counts();
    assert_eq!((c.crc_errors, c.timeouts, c.garbage), (0, 0, 0));
    assert!(c.answered >= 25);
    h.shutdown();
}

#[test]
fn damaged_answers_are_retried_rejected_and_counted() {
    let faults = [
        (1, Fault::CorruptCrc),
        (2, Fault::Garbage),
        (3, Fault::WrongUnit),
        (4, Fault::Truncate),
        (5, Fault::WrongFunction),
    ];
    let sim = ModbusRtuSim::start([1, 2, 3, 4, 5], None).unwrap();
    // Two bad answers in a row are within the two retries: every first poll still succeeds.
    for (unit, fault) in faults {
        sim.set_fault(unit, fault, Some(2));
        sim.bank(unit).unwrap().set_status(u16::from(unit));
    }
    let mut h = Harness::start(settings(&sim), faults.map(|(unit, _)| device(unit)));
    for (unit, fault) in faults {
        let id = u32::from(unit);
        assert_eq!(h.events.next_of(id), online(id), "{fault:?}");
        assert_eq!(
            h.events.next_of(id),
            values(id, &[(0, &[u16::from(unit)]), (1, &[0, 0])]),
            "{fault:?}"
        );
    }
    let c = h.counts();
    assert_eq!(
        (
            c.crc_errors,
            c.garbage,
            c.wrong_unit,
            c.truncated,
            c.wrong_function
        ),
        (2, 2, 2, 2, 2),
        "each damaged answer rejected and counted: {c:?}"
    );
    assert_eq!(c.retries, 10, "{c:?}");
    assert_eq!(c.timeouts, 0, "{c:?}");
    sim.bank(4).unwrap().set_status(STATUS_OCCUPIED);
    h.events
        .wait_for(4, |e| *e == values(4, &[(0, &[STATUS_OCCUPIED])]));
    h.shutdown();
}

#[test]
fn a_unit_refusing_every_read_goes_offline_until_it_answers() {
    let sim = ModbusRtuSim::start([4], None).unwrap();
    sim.set_fault(4, Fault::Exception(ExceptionCode::IllegalDataAddress), None);
    let mut h = Harness::start(settings(&sim), [device(4)]);
    // A unit refusing everything tells nothing about the charger (issue #12).
    match h.events.next_of(4) {
        DeviceEvent::Offline { reason, .. } => {
            assert!(reason.contains("every read refused"), "{reason}");
        }
        other => panic!("expected Offline, got {other:?}"),
    }
    wait_until("exceptions", || h.counts().exceptions >= 3);
    assert_eq!(h.counts().retries, 0, "exceptions are not retried");
    sim.clear_fault(4);
    assert_eq!(h.events.next_of(4), online(4));
    assert_eq!(
        h.events.next_of(4),
        values(4, &[(0, &[0]), (1, &[0, 0])]),
        "values arrive once the unit stops refusing"
    );
    h.shutdown();
}

#[test]
fn silent_unit_goes_offline_and_comes_back() {
    let sim = ModbusRtuSim::start([1, 2], None).unwrap();
    let mut h = Harness::start(settings(&sim), [device(1), device(2)]);
    for id in [1, 2] {
        assert_eq!(h.events.next_of(id), online(id));
    }
    sim.set_fault(2, Fault::Silent, None);
    match h
        .events
        .wait_for(2, |e| !matches!(e, DeviceEvent::Values { .. }))
    {
        DeviceEvent::Offline { reason, .. } => assert!(reason.contains("timeout"), "{reason}"),
        other => panic!("expected Offline, got {other:?}"),
    }
    // The live unit keeps being served while the silent one is probed.
    sim.bank(1).unwrap().set_status(STATUS_OCCUPIED);
    h.events
        .wait_for(1, |e| *e == values(1, &[(0, &[STATUS_OCCUPIED])]));
    assert!(h.counts().timeouts >= 3, "each poll tried 1 + 2 retries");

    sim.clear_fault(2);
    assert_eq!(h.events.next_of(2), online(2));
    assert_eq!(
        h.events.next_of(2),
        values(2, &[(0, &[0]), (1, &[0, 0])]),
        "every value is reported again after coming back"
    );
    h.shutdown();
}

#[test]
fn writes_jump_the_queue_and_broadcasts_reach_every_unit() {
    let sim = ModbusRtuSim::start([1, 2, 3], None).unwrap();
    let everyone = ModbusRtuDevice {
        id: DeviceId(100),
        name: "all units".into(),
        unit_id: 0,
        reads: Vec::new(),
        ..device(0)
    };
    let mut h = Harness::start(settings(&sim), [device(1), device(2), device(3), everyone]);
    assert_eq!(h.events.next_of(2), online(2));
    let write = |device, token, value| {
        BusCmd::Write(WriteRequest {
            device: DeviceId(device),
            token,
            value,
        })
    };
    h.cmds
        .send(write(
            2,
            7,
            WriteValue::Registers {
                address: 20,
                values: vec![0x1234, 0x5678],
            },
        ))
        .unwrap();
    h.cmds
        .send(write(
            100,
            8,
            WriteValue::Coils {
                address: 3,
                values: vec![true],
            },
        ))
        .unwrap();
    h.cmds
        .send(write(
            55,
            9,
            WriteValue::Registers {
                address: 0,
                values: vec![1],
            },
        ))
        .unwrap();
    let written = |e: &DeviceEvent| matches!(e, DeviceEvent::Written { .. });
    let outcome = |e: DeviceEvent| match e {
        DeviceEvent::Written { token, result, .. } => (token, result.is_ok()),
        other => panic!("{other:?}"),
    };
    assert_eq!(outcome(h.events.wait_for(2, written)), (7, true));
    assert_eq!(outcome(h.events.wait_for(100, written)), (8, true));
    assert_eq!(outcome(h.events.wait_for(55, written)), (9, false));
    let bank = sim.bank(2).unwrap();
    assert_eq!((bank.register(20), bank.register(21)), (0x1234, 0x5678));
    // A broadcast is done once sent; the units carry it out during the turnaround.
    wait_until("the broadcast to reach every unit", || {
        [1, 2, 3].iter().all(|&u| sim.bank(u).unwrap().coil(3))
    });
    assert_eq!(h.counts().broadcasts, 1);
    h.shutdown();
}

#[test]
fn a_missing_port_takes_its_units_offline_and_is_retried() {
    let settings = RtuBusSettings::new("/dev/ocpp-gw-no-such-port", LINE);
    let unit = ModbusRtuDevice {
        offline_after_failures: 1,
        ..device(1)
    };
    let mut h = Harness::start(settings, [unit]);
    match h.events.next_of(1) {
        DeviceEvent::Offline { reason, .. } => {
            assert!(reason.contains("/dev/ocpp-gw-no-such-port"), "{reason}")
        }
        other => panic!("expected Offline, got {other:?}"),
    }
    assert!(h.counts().port_errors >= 1);
    h.shutdown();
}

/// The connector status in a StatusNotification the station sent, if `r` is one.
fn status_of(r: &Record) -> Option<(&str, &str)> {
    let frame = &r.frame;
    (r.dir == Dir::In && frame[0] == 2 && frame[2] == "StatusNotification")
        .then(|| frame[3]["connectorStatus"].as_str())
        .flatten()
        .map(|status| (r.station.as_str(), status))
}

/// Waits for `station` to report `status` in a record after `after`.
fn wait_status(csms: &CsmsSim, station: &str, status: &str, after: u64) -> Record {
    csms.wait_for(Duration::from_secs(20), |r| {
        r.seq > after && status_of(r) == Some((station, status))
    })
    .unwrap_or_else(|| panic!("no {status} from {station}; CSMS saw {:#?}", csms.records()))
}

#[test]
fn daemon_presents_rtu_units_as_stations_that_fault_and_recover() {
    let sim = ModbusRtuSim::start([1, 2], None).unwrap();
    let csms = CsmsSim::start(([127, 0, 0, 1], 0).into(), CsmsOptions::default()).unwrap();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("rtu_daemon");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let templates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("etc/templates");
    let mut text = format!(
        "[system]\ndata_dir = {data:?}\ntemplates_dir = {templates:?}\n\n\
         [csms]\nurl = {url:?}\nreconnect_interval_sec = 1\nreconnect_random_range_sec = 1\n",
        data = dir.join("data").display().to_string(),
        templates = templates.display().to_string(),
        url = csms.url(),
    );
    for unit in [1, 2] {
        text.push_str(&format!(
            "\n[[devices]]\nid = \"rtu-{unit}\"\ntemplate = \"generic_modbus_charger\"\n\
             protocol = \"modbus_rtu\"\nocpp_id = \"RTU{unit}\"\npoll_interval_ms = 100\n\
             connection = {{ port = {port:?}, baud_rate = 115200, unit_id = {unit}, \
             response_timeout_ms = 300 }}\n",
            port = sim.path().display().to_string(),
        ));
    }
    let path = dir.join("ocpp-gw.toml");
    std::fs::write(&path, text).unwrap();
    let config = config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let daemon = Daemon::start(&config).unwrap();

    wait_status(&csms, "RTU1", "Available", 0);
    wait_status(&csms, "RTU2", "Available", 0);
    sim.bank(1).unwrap().set_status(STATUS_OCCUPIED);
    wait_status(&csms, "RTU1", "Occupied", 0);
    sim.set_fault(2, Fault::Silent, None);
    let down = wait_status(&csms, "RTU2", "Unavailable", 0);
    sim.clear_fault(2);
    wait_status(&csms, "RTU2", "Available", down.seq);

    daemon.stop();
    let errors = common::validate_records(&csms.records());
    assert!(errors.is_empty(), "schema violations: {errors:#?}");
}

#[test]
fn each_unit_goes_offline_after_its_own_number_of_failed_polls() {
    let sim = ModbusRtuSim::start([1, 2], None).unwrap();
    for unit in [1, 2] {
        sim.set_fault(
            unit,
            Fault::Exception(ExceptionCode::IllegalDataAddress),
            None,
        );
    }
    let quick = ModbusRtuDevice {
        offline_after_failures: 1,
        ..device(1)
    };
    let patient = ModbusRtuDevice {
        offline_after_failures: 5,
        ..device(2)
    };
    let mut h = Harness::start(settings(&sim), [quick, patient]);
    // Each refused poll is two requests (the status and the energy register).
    assert!(matches!(h.events.next_of(1), DeviceEvent::Offline { .. }));
    let quick_requests = sim.requests(1);
    assert!(
        quick_requests < 10,
        "unit 1 went offline after {quick_requests} requests, not after its first poll"
    );
    assert!(matches!(h.events.next_of(2), DeviceEvent::Offline { .. }));
    let patient_requests = sim.requests(2);
    assert!(
        patient_requests >= 10,
        "unit 2 went offline after {patient_requests} requests, before its fifth poll"
    );
    h.shutdown();
}
