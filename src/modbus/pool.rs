//! The Modbus TCP pool worker: one thread polls every device it is given, one at a time, with
//! one connection per endpoint shared by the unit ids behind it (TCP-to-RTU bridges).

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::io;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::client::TcpClient;
use super::error::ModbusError;
use super::tracker::{HubGone, ReadOutcome, Tracker};
use crate::chan::{self, SendError};
use crate::device::{DeviceEvent, DeviceId, ModbusTcpDevice, PoolCmd, WriteRequest, WriteValue};

/// Timeouts and failure handling shared by every device of one pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSettings {
    /// Longest wait for a TCP connection to an endpoint.
    pub connect_timeout: Duration,
    /// Longest wait for the answer to one request.
    pub response_timeout: Duration,
    /// Consecutive failed polls before a device is reported offline (0 behaves as 1).
    pub offline_after_failures: u32,
    /// Longest probe interval while a device is offline.
    pub max_backoff: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            connect_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(1),
            offline_after_failures: 3,
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// Starts the pool thread `name`; it runs until `PoolCmd::Shutdown` or until `cmds` disconnects.
pub fn spawn_tcp_pool(
    name: &str,
    settings: PoolSettings,
    events: Sender<DeviceEvent>,
    cmds: Receiver<PoolCmd>,
) -> io::Result<JoinHandle<()>> {
    let pool = Pool {
        name: name.to_owned(),
        settings,
        events,
        devices: HashMap::new(),
        links: HashMap::new(),
    };
    thread::Builder::new()
        .name(format!("mbtcp-{name}"))
        .spawn(move || pool.run(&cmds))
}

/// A connection is shared by every device with the same host and port.
type Endpoint = (String, u16);

/// Whether the thread keeps going.
enum Flow {
    Continue,
    Stop,
}

/// The state owned by the pool thread.
struct Pool {
    name: String,
    settings: PoolSettings,
    events: Sender<DeviceEvent>,
    devices: HashMap<DeviceId, Tracker>,
    /// Open connections; an entry is removed as soon as its connection breaks.
    links: HashMap<Endpoint, TcpClient>,
}

impl Pool {
    fn run(mut self, cmds: &Receiver<PoolCmd>) {
        log::info!("modbus tcp pool {}: started", self.name);
        loop {
            let next = match self.earliest_poll() {
                Some(due) => cmds.recv_deadline(due),
                None => cmds.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            // One poll per turn, so commands (Shutdown above all) wait for at most one device.
            let flow = match next {
                Ok(cmd) => self.handle(cmd),
                Err(RecvTimeoutError::Timeout) => self.poll_earliest(),
                Err(RecvTimeoutError::Disconnected) => Flow::Stop,
            };
            if let Flow::Stop = flow {
                break;
            }
        }
        log::info!(
            "modbus tcp pool {}: stopped, closing {} connection(s)",
            self.name,
            self.links.len()
        );
    }

    fn earliest_poll(&self) -> Option<Instant> {
        self.devices.values().map(|t| t.next_poll).min()
    }

    fn handle(&mut self, cmd: PoolCmd) -> Flow {
        match cmd {
            PoolCmd::Add(device) => {
                log::info!(
                    "modbus tcp pool {}: polling {} at {}:{} unit {} every {:?}",
                    self.name,
                    device.name,
                    device.host,
                    device.port,
                    device.unit_id,
                    device.poll_interval
                );
                self.devices
                    .insert(device.id, Tracker::new(device, Instant::now()));
                self.close_unused_links();
                Flow::Continue
            }
            PoolCmd::Remove(id) => {
                if let Some(t) = self.devices.remove(&id) {
                    log::info!("modbus tcp pool {}: removed {}", self.name, t.device.name);
                }
                self.close_unused_links();
                Flow::Continue
            }
            PoolCmd::Write(request) => self.write(request),
            PoolCmd::Shutdown => Flow::Stop,
        }
    }

    /// Carries out a write now (ahead of due polls) and reports its outcome to the hub.
    fn write(&mut self, request: WriteRequest) -> Flow {
        let result = match self.devices.get(&request.device) {
            None => Err("device is not polled by this pool".to_string()),
            Some(tracker) => write_device(
                &mut self.links,
                &self.settings,
                &tracker.device,
                &request.value,
            )
            .map_err(|e| e.to_string()),
        };
        if let Err(e) = &result {
            log::warn!("modbus tcp pool {}: write failed: {e}", self.name);
        }
        let event = DeviceEvent::Written {
            device: request.device,
            token: request.token,
            result,
        };
        // The hub never waits on us, so waiting for it cannot deadlock; a write outcome must
        // not be lost.
        let delivered = match chan::try_send(&self.events, event, "modbus-tcp→hub") {
            Ok(()) => true,
            Err(SendError::Full(event)) => self.events.send(event).is_ok(),
            Err(SendError::Closed(_)) => false,
        };
        if delivered {
            Flow::Continue
        } else {
            Flow::Stop
        }
    }

    fn close_unused_links(&mut self) {
        let devices = &self.devices;
        self.links.retain(|(host, port), _| {
            devices
                .values()
                .any(|t| t.device.host == *host && t.device.port == *port)
        });
    }

    fn poll_earliest(&mut self) -> Flow {
        let Some((&id, _)) = self.devices.iter().min_by_key(|(_, t)| t.next_poll) else {
            return Flow::Continue;
        };
        let Some(tracker) = self.devices.get_mut(&id) else {
            return Flow::Continue;
        };
        let started = Instant::now();
        let outcome = poll_device(&mut self.links, &self.settings, &tracker.device);
        let now = Instant::now();
        crate::metrics::poll_finished(&tracker.device.name, now - started, outcome.is_ok());
        let reported = match outcome {
            Ok(results) => tracker.succeeded(results, &self.events, now),
            Err(e) => tracker.failed(
                &e.to_string(),
                self.settings.offline_after_failures,
                self.settings.max_backoff,
                &self.events,
                now,
            ),
        };
        match reported {
            Ok(()) => Flow::Continue,
            Err(HubGone) => {
                log::info!(
                    "modbus tcp pool {}: device event receiver gone, stopping",
                    self.name
                );
                Flow::Stop
            }
        }
    }
}

/// The open connection to `device`'s endpoint, connecting first if there is none.
fn client_for<'a>(
    links: &'a mut HashMap<Endpoint, TcpClient>,
    settings: &PoolSettings,
    device: &ModbusTcpDevice,
) -> Result<&'a mut TcpClient, ModbusError> {
    Ok(match links.entry((device.host.clone(), device.port)) {
        Entry::Occupied(open) => open.into_mut(),
        Entry::Vacant(slot) => slot.insert(TcpClient::connect(
            &device.host,
            device.port,
            settings.connect_timeout,
            settings.response_timeout,
        )?),
    })
}

fn write_device(
    links: &mut HashMap<Endpoint, TcpClient>,
    settings: &PoolSettings,
    device: &ModbusTcpDevice,
    value: &WriteValue,
) -> Result<(), ModbusError> {
    let client = client_for(links, settings, device)?;
    let result = match value {
        WriteValue::Registers { address, values } => {
            client.write_registers(device.unit_id, *address, values)
        }
        WriteValue::Coils { address, values } => {
            client.write_coils(device.unit_id, *address, values)
        }
        WriteValue::Epc { .. } => return Err(ModbusError::NotModbus),
    };
    if client.is_broken() {
        links.remove(&(device.host.clone(), device.port));
    }
    result
}

/// Issues every read of `device`; exceptions are per-variable outcomes, any other error fails
/// the poll (and drops the connection if it broke).
fn poll_device(
    links: &mut HashMap<Endpoint, TcpClient>,
    settings: &PoolSettings,
    device: &ModbusTcpDevice,
) -> Result<Vec<(usize, ReadOutcome)>, ModbusError> {
    let endpoint = (device.host.clone(), device.port);
    let client = client_for(links, settings, device)?;
    let mut results = Vec::with_capacity(device.reads.len());
    for read in &device.reads {
        match client.read(device.unit_id, read.table, read.address, read.count) {
            Ok(value) => results.push((read.var, Ok(value))),
            // A bridge answering for a dead unit behind it is a failed poll, not a live device.
            Err(ModbusError::Exception(code)) if !code.is_gateway_failure() => {
                results.push((read.var, Err(code)));
            }
            Err(e) => {
                if client.is_broken() {
                    links.remove(&endpoint);
                }
                return Err(e);
            }
        }
    }
    Ok(results)
}
