//! What device workers and the hub say to each other: registers and raw values, never OCPP.

use std::time::Duration;

/// Gateway-wide handle of one configured device; never reused within a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId(pub u32);

/// The four Modbus data tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ModbusTable {
    Coil,
    DiscreteInput,
    InputRegister,
    HoldingRegister,
}

/// A raw reading of one mapped variable, before the template gives it a meaning.
#[derive(Debug, Clone, PartialEq)]
pub enum RawValue {
    /// 16-bit registers in the order the device returned them.
    Registers(Vec<u16>),
    /// Coils or discrete inputs.
    Bits(Vec<bool>),
    /// An ECHONET Lite property value (EDT) as received.
    Bytes(Vec<u8>),
}

/// How often a variable is read: status-like variables every poll, slow counters less often.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum PollClass {
    /// Every `poll_interval`.
    #[default]
    Fast,
    /// Every `slow_poll_interval`.
    Slow,
}

/// One mapped variable a device worker must read: `var` is its index in the template.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisterRead {
    pub var: usize,
    pub table: ModbusTable,
    pub address: u16,
    pub count: u16,
    pub class: PollClass,
}

/// One mapped ECHONET Lite property a worker must read: `var` is its index in the template.
#[derive(Debug, Clone, PartialEq)]
pub struct EpcRead {
    pub var: usize,
    pub epc: u8,
    pub class: PollClass,
}

/// Everything a Modbus TCP pool needs to poll one device.
#[derive(Debug, Clone, PartialEq)]
pub struct ModbusTcpDevice {
    pub id: DeviceId,
    /// The config's device id, for logs.
    pub name: String,
    pub host: String,
    pub port: u16,
    pub unit_id: u8,
    pub poll_interval: Duration,
    pub slow_poll_interval: Duration,
    pub reads: Vec<RegisterRead>,
    /// Consecutive failed polls (a poll whose every read was refused counts) before the device
    /// is reported offline; 0 behaves as 1.
    pub offline_after_failures: u32,
}

/// Everything an ECHONET Lite worker needs to poll one object of one node.
#[derive(Debug, Clone, PartialEq)]
pub struct EchonetDevice {
    pub id: DeviceId,
    /// The config's device id, for logs.
    pub name: String,
    pub ip: String,
    /// EOJ (class group, class, instance); `None` binds the first EV charger object the node
    /// announces.
    pub eoj: Option<u32>,
    pub poll_interval: Duration,
    pub slow_poll_interval: Duration,
    pub reads: Vec<EpcRead>,
}

/// A write the hub asks a device worker to make; answered by `DeviceEvent::Written`.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteRequest {
    pub device: DeviceId,
    /// Chosen by the hub to match the answer to its request.
    pub token: u64,
    pub value: WriteValue,
}

/// What to write, in the device's own terms.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteValue {
    /// Holding registers from `address` (FC06 for one, FC16 for more).
    Registers { address: u16, values: Vec<u16> },
    /// Coils from `address` (FC05 for one, FC15 for more).
    Coils { address: u16, values: Vec<bool> },
    /// One ECHONET Lite property (SetC).
    Epc { epc: u8, edt: Vec<u8> },
}

/// Device worker → hub.
#[derive(Debug, Clone, PartialEq)]
pub enum DeviceEvent {
    /// Variables whose raw value changed since last reported (all of them after coming online).
    Values {
        device: DeviceId,
        values: Vec<(usize, RawValue)>,
    },
    /// The device answered after being unknown or offline.
    Online { device: DeviceId },
    /// The device stopped answering (after the configured number of consecutive failures).
    Offline { device: DeviceId, reason: String },
    /// The outcome of a `WriteRequest`.
    Written {
        device: DeviceId,
        token: u64,
        result: Result<(), String>,
    },
}

impl DeviceEvent {
    /// The device the event is about.
    pub fn device(&self) -> DeviceId {
        match self {
            DeviceEvent::Values { device, .. }
            | DeviceEvent::Online { device }
            | DeviceEvent::Offline { device, .. }
            | DeviceEvent::Written { device, .. } => *device,
        }
    }
}

/// Hub → a device worker that polls devices of type `D`.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkerCmd<D> {
    /// Start polling a device (replaces one with the same id).
    Add(D),
    /// Stop polling a device and close its connection when no other device uses it.
    Remove(DeviceId),
    /// Write to a device ahead of any poll that is due.
    Write(WriteRequest),
    /// Close every connection and end the thread.
    Shutdown,
}

/// Hub → a Modbus TCP pool.
pub type PoolCmd = WorkerCmd<ModbusTcpDevice>;

/// Everything an RTU bus needs to poll one unit on it; the bus owns the port and line settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ModbusRtuDevice {
    pub id: DeviceId,
    /// The config's device id, for logs.
    pub name: String,
    /// 1..=247; 0 is the broadcast address: writes reach every unit and nothing is polled.
    pub unit_id: u8,
    pub poll_interval: Duration,
    pub slow_poll_interval: Duration,
    pub reads: Vec<RegisterRead>,
    /// Consecutive failed polls (a poll whose every read was refused counts) before the device
    /// is reported offline; 0 behaves as 1.
    pub offline_after_failures: u32,
}

/// Hub → a Modbus RTU bus (one per serial port).
pub type BusCmd = WorkerCmd<ModbusRtuDevice>;
