//! The Modbus TCP pool worker: one thread polls every device it is given, one request at a time.
//! Each endpoint (host:port) has `pool_size` persistent connections; the unit ids behind it
//! (TCP-to-RTU bridges) are spread over them, so a unit whose timeout breaks a connection only
//! disturbs the units sharing that connection. Failed connects back off per connection.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::client::{ModbusClient, TcpClient};
use super::error::ModbusError;
use super::planner::{PlanLimits, DEFAULT_MAX_READ_GAP};
use super::poller::{Health, Polled};
use super::tracker::HubGone;
use crate::chan::{self, SendError};
use crate::device::{DeviceEvent, DeviceId, ModbusTcpDevice, PoolCmd, WriteRequest, WriteValue};

/// First wait after a failed connect; it doubles per failure up to `max_backoff`.
const RECONNECT_MIN: Duration = Duration::from_millis(500);

/// Connection settings of one endpoint, shared by every unit id behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointSettings {
    /// Longest wait for a TCP connection.
    pub connect_timeout: Duration,
    /// Longest wait for the answer to one request.
    pub response_timeout: Duration,
    /// Connections kept open to the endpoint (at least 1).
    pub pool_size: usize,
    /// Most unused registers one merged read may span.
    pub max_read_gap: u16,
}

impl Default for EndpointSettings {
    fn default() -> Self {
        EndpointSettings {
            connect_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(1),
            pool_size: 1,
            max_read_gap: DEFAULT_MAX_READ_GAP,
        }
    }
}

/// Settings of one pool: per-endpoint connection settings and back-off; how many failed polls
/// make a device offline is its own (`ModbusTcpDevice::offline_after_failures`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSettings {
    /// For endpoints not listed in `endpoints`.
    pub defaults: EndpointSettings,
    /// By `(host, port)`.
    pub endpoints: BTreeMap<(String, u16), EndpointSettings>,
    /// Longest probe interval while a device is offline, and longest reconnect back-off.
    pub max_backoff: Duration,
}

impl PoolSettings {
    /// The settings of `host:port`.
    pub fn endpoint(&self, host: &str, port: u16) -> &EndpointSettings {
        self.endpoints
            .get(&(host.to_owned(), port))
            .unwrap_or(&self.defaults)
    }
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            defaults: EndpointSettings::default(),
            endpoints: BTreeMap::new(),
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

/// One connection of an endpoint: host, port, slot in `0..pool_size`.
type LinkKey = (String, u16, usize);

/// Whether the thread keeps going.
enum Flow {
    Continue,
    Stop,
}

/// A device and the connection it uses.
struct Device {
    spec: ModbusTcpDevice,
    polled: Polled,
    link: LinkKey,
}

/// One connection, open or waiting to reconnect.
#[derive(Default)]
struct Link {
    client: Option<TcpClient>,
    /// Consecutive failed connects.
    failures: u32,
    /// No connect before this, after a failure.
    retry_at: Option<Instant>,
    last_error: String,
}

/// The state owned by the pool thread.
struct Pool {
    name: String,
    settings: PoolSettings,
    events: Sender<DeviceEvent>,
    devices: HashMap<DeviceId, Device>,
    links: HashMap<LinkKey, Link>,
}

impl Pool {
    fn run(mut self, cmds: &Receiver<PoolCmd>) {
        log::info!("modbus tcp pool {}: started", self.name);
        loop {
            let next = match self.earliest_poll() {
                Some(due) => cmds.recv_deadline(due),
                None => cmds.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            // One poll per turn, so commands (writes, Shutdown) wait for at most one device.
            let flow = match next {
                Ok(cmd) => self.handle(cmd),
                Err(RecvTimeoutError::Timeout) => self.poll_earliest(),
                Err(RecvTimeoutError::Disconnected) => Flow::Stop,
            };
            if let Flow::Stop = flow {
                break;
            }
        }
        let open = self.links.values().filter(|l| l.client.is_some()).count();
        log::info!(
            "modbus tcp pool {}: stopped, closing {open} connection(s)",
            self.name
        );
    }

    fn earliest_poll(&self) -> Option<Instant> {
        self.devices.values().map(|d| d.polled.next_poll()).min()
    }

    fn handle(&mut self, cmd: PoolCmd) -> Flow {
        match cmd {
            PoolCmd::Add(device) => {
                self.add(device);
                Flow::Continue
            }
            PoolCmd::Remove(id) => {
                if let Some(d) = self.devices.remove(&id) {
                    log::info!("modbus tcp pool {}: removed {}", self.name, d.spec.name);
                }
                self.close_unused_links();
                Flow::Continue
            }
            PoolCmd::Write(request) => self.write(request),
            PoolCmd::Shutdown => Flow::Stop,
        }
    }

    fn add(&mut self, spec: ModbusTcpDevice) {
        // A replaced device gives up its connection slot before the least used one is chosen.
        self.devices.remove(&spec.id);
        let endpoint = self.settings.endpoint(&spec.host, spec.port);
        let slot = (0..endpoint.pool_size.max(1))
            .min_by_key(|slot| {
                self.devices
                    .values()
                    .filter(|d| d.link == (spec.host.clone(), spec.port, *slot))
                    .count()
            })
            .unwrap_or(0);
        log::info!(
            "modbus tcp pool {}: polling {} at {}:{} unit {} (connection {}) every {:?}",
            self.name,
            spec.name,
            spec.host,
            spec.port,
            spec.unit_id,
            slot + 1,
            spec.poll_interval
        );
        let polled = Polled::new(
            spec.id,
            &spec.name,
            spec.poll_interval,
            spec.slow_poll_interval,
            &spec.reads,
            &PlanLimits::with_gap(endpoint.max_read_gap),
            Instant::now(),
        );
        let link = (spec.host.clone(), spec.port, slot);
        self.devices.insert(spec.id, Device { spec, polled, link });
        self.close_unused_links();
    }

    /// Carries out a write now (ahead of due polls) and reports its outcome to the hub.
    fn write(&mut self, request: WriteRequest) -> Flow {
        let result =
            match self.devices.get(&request.device) {
                None => Err("device is not polled by this pool".to_string()),
                Some(device) => {
                    let endpoint = self.settings.endpoint(&device.spec.host, device.spec.port);
                    let unit = device.spec.unit_id;
                    let max_backoff = self.settings.max_backoff;
                    with_client(&mut self.links, &device.link, endpoint, max_backoff, |c| {
                        match &request.value {
                            WriteValue::Registers { address, values } => {
                                c.write_registers(unit, *address, values)
                            }
                            WriteValue::Coils { address, values } => {
                                c.write_coils(unit, *address, values)
                            }
                            WriteValue::Epc { .. } => Err(ModbusError::NotModbus),
                        }
                    })
                    .map_err(|e| e.to_string())
                }
            };
        if let Err(e) = &result {
            log::warn!("modbus tcp pool {}: write failed: {e}", self.name);
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

    fn close_unused_links(&mut self) {
        let devices = &self.devices;
        self.links
            .retain(|key, _| devices.values().any(|d| d.link == *key));
    }

    fn poll_earliest(&mut self) -> Flow {
        let Some(device) = self
            .devices
            .values_mut()
            .min_by_key(|d| d.polled.next_poll())
        else {
            return Flow::Continue;
        };
        let endpoint = self.settings.endpoint(&device.spec.host, device.spec.port);
        let health = Health {
            offline_after: device.spec.offline_after_failures,
            max_backoff: self.settings.max_backoff,
        };
        let max_backoff = self.settings.max_backoff;
        let unit = device.spec.unit_id;
        let links = &mut self.links;
        let key = &device.link;
        let read = |table, address, count| {
            with_client(links, key, endpoint, max_backoff, |c| {
                c.read(unit, table, address, count)
            })
        };
        match device.polled.poll(read, health, &self.events) {
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

/// Runs `op` on the connection `key`, connecting first if it is closed and not backing off;
/// a connection the operation broke is dropped so the next use reconnects.
fn with_client<T>(
    links: &mut HashMap<LinkKey, Link>,
    key: &LinkKey,
    endpoint: &EndpointSettings,
    max_backoff: Duration,
    op: impl FnOnce(&mut TcpClient) -> Result<T, ModbusError>,
) -> Result<T, ModbusError> {
    let link = links.entry(key.clone()).or_default();
    let (host, port, _) = key;
    if link.client.is_none() {
        let now = Instant::now();
        if let Some(at) = link.retry_at.filter(|at| now < *at) {
            return Err(ModbusError::ConnectBackoff {
                endpoint: format!("{host}:{port}"),
                retry_in: at - now,
                last: link.last_error.clone(),
            });
        }
        match TcpClient::connect(
            host,
            *port,
            endpoint.connect_timeout,
            endpoint.response_timeout,
        ) {
            Ok(client) => {
                if link.failures > 0 {
                    log::info!(
                        "{host}:{port}: connected after {} failure(s)",
                        link.failures
                    );
                }
                link.failures = 0;
                link.retry_at = None;
                link.client = Some(client);
            }
            Err(e) => {
                link.failures = link.failures.saturating_add(1);
                let wait = reconnect_wait(link.failures, max_backoff);
                link.retry_at = Some(Instant::now() + wait);
                link.last_error = e.to_string();
                return Err(e);
            }
        }
    }
    let Some(client) = link.client.as_mut() else {
        return Err(ModbusError::Disconnected);
    };
    let result = op(client);
    if client.is_broken() {
        link.client = None;
    }
    result
}

/// Back-off after `failures` consecutive failed connects.
fn reconnect_wait(failures: u32, max_backoff: Duration) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    RECONNECT_MIN
        .saturating_mul(1 << doublings)
        .min(max_backoff.max(RECONNECT_MIN))
}

/// Hands `event` to the hub even if its inbox is momentarily full: the hub never waits on us,
/// so waiting for it cannot deadlock, and a write outcome must not be lost. False if it is gone.
pub(super) fn deliver(events: &Sender<DeviceEvent>, event: DeviceEvent) -> bool {
    match chan::try_send(events, event, "modbus→hub") {
        Ok(()) => true,
        Err(SendError::Full(event)) => events.send(event).is_ok(),
        Err(SendError::Closed(_)) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_wait_doubles_up_to_the_cap() {
        let cap = Duration::from_secs(5);
        let waits: Vec<_> = (1..=6)
            .map(|f| reconnect_wait(f, cap).as_millis())
            .collect();
        assert_eq!(waits, [500, 1000, 2000, 4000, 5000, 5000]);
        assert_eq!(reconnect_wait(u32::MAX, cap), cap);
        assert_eq!(reconnect_wait(1, Duration::ZERO), RECONNECT_MIN);
    }

    #[test]
    fn endpoint_settings_fall_back_to_defaults() {
        let mut s = PoolSettings::default();
        let special = EndpointSettings {
            pool_size: 3,
            ..EndpointSettings::default()
        };
        s.endpoints
            .insert(("10.0.0.1".into(), 502), special.clone());
        assert_eq!(s.endpoint("10.0.0.1", 502), &special);
        assert_eq!(s.endpoint("10.0.0.1", 503), &EndpointSettings::default());
    }
}
