//! The Modbus RTU bus worker: one thread per serial port polls the units on it in turn, one
//! request on the wire at a time. Writes jump the poll queue; a unit id 0 device broadcasts its
//! writes. Failed requests are retried; a unit failing whole polls goes offline and is probed
//! with back-off. A port that cannot be opened (an unplugged USB adapter) is reopened with
//! back-off too.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::error::ModbusError;
use super::pdu::{PduError, Request, Response};
use super::planner::{PlanLimits, DEFAULT_MAX_READ_GAP};
use super::poller::{Health, Polled};
use super::pool::deliver;
use super::rtu::{self, SerialLine, BROADCAST};
use super::rtu_stats::RtuStats;
use super::serial::{self, Wire};
use super::tracker::HubGone;
use crate::device::{
    BusCmd, DeviceEvent, DeviceId, ModbusRtuDevice, ModbusTable, RawValue, WriteRequest, WriteValue,
};

/// First wait after a failed port open; it doubles per failure up to `max_backoff`.
const REOPEN_MIN: Duration = Duration::from_secs(1);

/// Settings of one bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtuBusSettings {
    /// Serial device path, e.g. `/dev/ttyS0`.
    pub port: String,
    pub line: SerialLine,
    /// Longest wait for a response to start, after the request has left the line.
    pub response_timeout: Duration,
    /// Silence after a broadcast, while every unit carries it out.
    pub turnaround: Duration,
    /// Most unused registers one merged read may span.
    pub max_read_gap: u16,
    /// Extra attempts for a request that timed out or came back damaged.
    pub retries: u32,
    /// Longest probe interval while a unit is offline, and longest reopen back-off.
    pub max_backoff: Duration,
}

impl RtuBusSettings {
    /// Defaults for `port` at `line`.
    pub fn new(port: &str, line: SerialLine) -> RtuBusSettings {
        RtuBusSettings {
            port: port.to_owned(),
            line,
            response_timeout: Duration::from_secs(1),
            turnaround: Duration::from_millis(100),
            max_read_gap: DEFAULT_MAX_READ_GAP,
            retries: 2,
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// A running bus thread and its counters.
#[derive(Debug)]
pub struct RtuBus {
    pub thread: JoinHandle<()>,
    pub stats: Arc<RtuStats>,
}

/// Starts the bus thread for `settings.port`; it runs until `BusCmd::Shutdown` or until `cmds`
/// disconnects. The port is opened by the thread, so a missing port is a runtime condition
/// (devices go offline, the port is retried), not a start-up failure.
pub fn spawn_rtu_bus(
    settings: RtuBusSettings,
    events: Sender<DeviceEvent>,
    cmds: Receiver<BusCmd>,
) -> io::Result<RtuBus> {
    let stats = Arc::new(RtuStats::default());
    let name = format!("mbrtu-{}", short_port_name(&settings.port));
    let bus = Bus {
        settings,
        stats: Arc::clone(&stats),
        events,
        wire: None,
        open_failures: 0,
        reopen_at: Instant::now(),
        devices: HashMap::new(),
        broadcasters: HashMap::new(),
    };
    let thread = thread::Builder::new()
        .name(name)
        .spawn(move || bus.run(&cmds))?;
    Ok(RtuBus { thread, stats })
}

/// `/dev/ttyUSB0` → `ttyUSB0`, for the thread name (the kernel keeps 15 bytes of it).
fn short_port_name(port: &str) -> &str {
    port.rsplit('/').next().unwrap_or(port)
}

/// Whether the thread keeps going.
enum Flow {
    Continue,
    Stop,
}

/// A polled unit.
struct Unit {
    spec: ModbusRtuDevice,
    polled: Polled,
}

/// The state owned by the bus thread.
struct Bus {
    settings: RtuBusSettings,
    stats: Arc<RtuStats>,
    events: Sender<DeviceEvent>,
    /// The open port; `None` until opened and after an I/O error.
    wire: Option<Wire>,
    open_failures: u32,
    /// No open attempt before this.
    reopen_at: Instant,
    devices: HashMap<DeviceId, Unit>,
    /// Unit id 0 devices: writes only, never polled.
    broadcasters: HashMap<DeviceId, ModbusRtuDevice>,
}

impl Bus {
    fn run(mut self, cmds: &Receiver<BusCmd>) {
        log::info!(
            "modbus rtu bus {}: started ({} baud)",
            self.settings.port,
            self.settings.line.baud_rate
        );
        loop {
            let next = match self.earliest_poll() {
                Some(due) => cmds.recv_deadline(due),
                None => cmds.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            // Queued commands come first, so a write waits for at most the poll in progress.
            let flow = match next {
                Ok(cmd) => self.handle(cmd),
                Err(RecvTimeoutError::Timeout) => self.poll_earliest(),
                Err(RecvTimeoutError::Disconnected) => Flow::Stop,
            };
            if let Flow::Stop = flow {
                break;
            }
        }
        log::info!("modbus rtu bus {}: stopped", self.settings.port);
    }

    fn earliest_poll(&self) -> Option<Instant> {
        self.devices.values().map(|u| u.polled.next_poll()).min()
    }

    fn handle(&mut self, cmd: BusCmd) -> Flow {
        match cmd {
            BusCmd::Add(device) => {
                self.add(device);
                Flow::Continue
            }
            BusCmd::Remove(id) => {
                let name = match (self.devices.remove(&id), self.broadcasters.remove(&id)) {
                    (Some(unit), _) => Some(unit.spec.name),
                    (None, Some(spec)) => Some(spec.name),
                    (None, None) => None,
                };
                if let Some(name) = name {
                    log::info!("modbus rtu bus {}: removed {name}", self.settings.port);
                }
                Flow::Continue
            }
            BusCmd::Write(request) => self.write(request),
            BusCmd::Shutdown => Flow::Stop,
        }
    }

    fn add(&mut self, spec: ModbusRtuDevice) {
        self.devices.remove(&spec.id);
        self.broadcasters.remove(&spec.id);
        if spec.unit_id == BROADCAST {
            if !spec.reads.is_empty() {
                log::warn!(
                    "{}: unit 0 is the broadcast address; its {} read(s) are never polled",
                    spec.name,
                    spec.reads.len()
                );
            }
            self.broadcasters.insert(spec.id, spec);
            return;
        }
        log::info!(
            "modbus rtu bus {}: polling {} (unit {}) every {:?}",
            self.settings.port,
            spec.name,
            spec.unit_id,
            spec.poll_interval
        );
        let polled = Polled::new(
            spec.id,
            &spec.name,
            spec.poll_interval,
            spec.slow_poll_interval,
            &spec.reads,
            &PlanLimits::with_gap(self.settings.max_read_gap),
            Instant::now(),
        );
        self.devices.insert(spec.id, Unit { spec, polled });
    }

    /// Carries out a write now (ahead of due polls) and reports its outcome to the hub.
    fn write(&mut self, request: WriteRequest) -> Flow {
        let unit = match (
            self.devices.get(&request.device),
            self.broadcasters.get(&request.device),
        ) {
            (Some(u), _) => Some(u.spec.unit_id),
            (None, Some(b)) => Some(b.unit_id),
            (None, None) => None,
        };
        let result = match unit {
            None => Err("device is not on this bus".to_string()),
            Some(unit) => write_request(&request.value)
                .and_then(|req| self.transact(unit, &req).map(drop))
                .map_err(|e| e.to_string()),
        };
        if let Err(e) = &result {
            log::warn!("modbus rtu bus {}: write failed: {e}", self.settings.port);
        }
        let event = DeviceEvent::Written {
            device: request.device,
            token: request.token,
            result,
        };
        if deliver(&self.events, event) {
            Flow::Continue
        } else {
            Flow::Stop
        }
    }

    fn poll_earliest(&mut self) -> Flow {
        // Ties go to the lowest id, so units due together are served in a stable order.
        let Some(id) = self
            .devices
            .iter()
            .min_by_key(|(id, u)| (u.polled.next_poll(), **id))
            .map(|(id, _)| *id)
        else {
            return Flow::Continue;
        };
        // Taken out for the poll so the read closure can borrow the bus.
        let Some(mut unit) = self.devices.remove(&id) else {
            return Flow::Continue;
        };
        let health = Health {
            offline_after: unit.spec.offline_after_failures,
            max_backoff: self.settings.max_backoff,
        };
        let unit_id = unit.spec.unit_id;
        let events = self.events.clone();
        let outcome = unit
            .polled
            .poll(|t, a, c| self.read(unit_id, t, a, c), health, &events);
        self.devices.insert(id, unit);
        match outcome {
            Ok(()) => Flow::Continue,
            Err(HubGone) => {
                log::info!(
                    "modbus rtu bus {}: device event receiver gone, stopping",
                    self.settings.port
                );
                Flow::Stop
            }
        }
    }

    fn read(
        &mut self,
        unit: u8,
        table: ModbusTable,
        address: u16,
        count: u16,
    ) -> Result<RawValue, ModbusError> {
        let request = Request::read(table, address, count);
        let response = self.transact(unit, &request)?;
        let actual = response.as_ref().map_or(0, Response::function_code);
        // Response::decode only returns variants of the request's function, and only a
        // broadcast (never polled) has no answer at all.
        response
            .and_then(Response::into_raw)
            .ok_or(ModbusError::Pdu(PduError::FunctionMismatch {
                expected: request.function().code(),
                actual,
            }))
    }

    /// One request with retries; `None` for a broadcast.
    fn transact(&mut self, unit: u8, request: &Request) -> Result<Option<Response>, ModbusError> {
        let frame = rtu::encode(unit, &request.encode()?)?;
        let (timeout, turnaround) = (self.settings.response_timeout, self.settings.turnaround);
        let mut attempt = 0;
        loop {
            let result = self
                .wire()?
                .exchange(unit, request, &frame, timeout, turnaround);
            RtuStats::bump(&self.stats.requests);
            self.stats.record(&result);
            match result {
                Err(e) if is_retryable(&e) && attempt < self.settings.retries => {
                    attempt += 1;
                    RtuStats::bump(&self.stats.retries);
                    log::debug!(
                        "modbus rtu bus {}: unit {unit}: {e}; retry {attempt}",
                        self.settings.port
                    );
                }
                Err(e @ (ModbusError::Io(_) | ModbusError::Disconnected)) => {
                    log::warn!(
                        "modbus rtu bus {}: port failed ({e}); reopening",
                        self.settings.port
                    );
                    self.wire = None;
                    return Err(e);
                }
                other => return other,
            }
        }
    }

    /// The open line, opening the port if it is closed and not backing off.
    fn wire(&mut self) -> Result<&mut Wire, ModbusError> {
        if self.wire.is_none() {
            let now = Instant::now();
            if now < self.reopen_at {
                return Err(ModbusError::Serial {
                    port: self.settings.port.clone(),
                    message: format!("not open; next attempt in {:?}", self.reopen_at - now),
                });
            }
            match serial::open(&self.settings.port, &self.settings.line) {
                Ok(port) => {
                    log::info!("modbus rtu bus {}: port open", self.settings.port);
                    self.open_failures = 0;
                    self.wire = Some(Wire::new(port, self.settings.line));
                }
                Err(e) => {
                    RtuStats::bump(&self.stats.port_errors);
                    self.open_failures = self.open_failures.saturating_add(1);
                    let doublings = (self.open_failures - 1).min(16);
                    let wait = REOPEN_MIN
                        .saturating_mul(1 << doublings)
                        .min(self.settings.max_backoff.max(REOPEN_MIN));
                    self.reopen_at = Instant::now() + wait;
                    if self.open_failures == 1 {
                        log::warn!("modbus rtu bus: {e}");
                    }
                    return Err(e);
                }
            }
        }
        self.wire.as_mut().ok_or(ModbusError::Disconnected)
    }
}

/// Failures a second attempt may cure: silence, noise, a collision.
fn is_retryable(e: &ModbusError) -> bool {
    matches!(
        e,
        ModbusError::Timeout
            | ModbusError::Rtu(_)
            | ModbusError::UnitMismatch { .. }
            | ModbusError::Pdu(_)
    )
}

/// The request for a write: FC06/FC16 for registers, FC05/FC15 for coils.
fn write_request(value: &WriteValue) -> Result<Request, ModbusError> {
    Request::for_write(value).ok_or(ModbusError::NotModbus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_pick_single_or_multiple_functions() {
        let one = WriteValue::Registers {
            address: 3,
            values: vec![9],
        };
        assert_eq!(
            write_request(&one).unwrap(),
            Request::WriteSingleRegister {
                address: 3,
                value: 9
            }
        );
        let coils = WriteValue::Coils {
            address: 1,
            values: vec![true, false],
        };
        assert!(matches!(
            write_request(&coils).unwrap(),
            Request::WriteMultipleCoils { .. }
        ));
        let epc = WriteValue::Epc {
            epc: 0x80,
            edt: vec![0x30],
        };
        assert!(matches!(write_request(&epc), Err(ModbusError::NotModbus)));
    }

    #[test]
    fn thread_names_fit_the_kernel_limit() {
        assert_eq!(short_port_name("/dev/ttyUSB0"), "ttyUSB0");
        assert_eq!(short_port_name("COM3"), "COM3");
    }
}
