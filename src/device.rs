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
}

/// One mapped variable a device worker must read: `var` is its index in the template.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisterRead {
    pub var: usize,
    pub table: ModbusTable,
    pub address: u16,
    pub count: u16,
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
    pub reads: Vec<RegisterRead>,
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
}

/// Hub → a Modbus TCP pool.
#[derive(Debug, Clone, PartialEq)]
pub enum PoolCmd {
    /// Start polling a device (replaces one with the same id).
    Add(ModbusTcpDevice),
    /// Stop polling a device and close its connection.
    Remove(DeviceId),
    /// Close every connection and end the thread.
    Shutdown,
}
