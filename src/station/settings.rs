//! What a station is told about itself at creation: identity, timers, what the template maps
//! and lets the CSMS do.

use std::time::Duration;

use super::backoff::Backoff;
use super::queue::Retry;
use super::transaction::TxSettings;
use super::variables::BootIdentity;
use crate::ocpp::messages::Measurand;

/// What the template lets the CSMS do to the device.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// `Control.Charging` is mapped: remote start/stop can reach the charger.
    pub start_stop: bool,
    /// `Control.Unlock` is mapped.
    pub unlock: bool,
    /// `Control.Reset` is mapped.
    pub reset: bool,
    /// `Control.Availability` is mapped.
    pub availability: bool,
}

/// What a station needs to know about itself.
#[derive(Debug, Clone)]
pub struct StationSettings {
    /// The station identity (last URL path segment).
    pub ocpp_id: String,
    pub vendor_name: String,
    pub model: String,
    /// The charger's serial number, once the device reported it (`Identity.SerialNumber`).
    pub serial_number: Option<String>,
    /// The charger's firmware version, once the device reported it (`Identity.FirmwareVersion`).
    pub firmware_version: Option<String>,
    /// Where those two come from, and how long the first boot waits for them.
    pub identity: BootIdentity,
    /// Heartbeat interval until the CSMS sets its own.
    pub heartbeat_interval: Duration,
    /// How long to wait for the CALLRESULT of one of our CALLs.
    pub response_timeout: Duration,
    pub backoff: Backoff,
    /// WebSocket ping interval until the CSMS sets WebSocketPingInterval; zero: no pings.
    pub ping_interval: Duration,
    /// The configured security profile (0 for a plain ws:// link without authentication;
    /// SecurityCtrlr.SecurityProfile reports it as 1).
    pub security_profile: u8,
    /// BasicAuthPassword until the CSMS sets another.
    pub basic_auth_password: Option<String>,
    /// The measurands the template maps.
    pub measurands: Vec<Measurand>,
    /// EVSEs, one connector each, numbered from 1.
    pub evses: usize,
    /// AC phases the charger is connected to (ChargingStation/EVSE/Connector.SupplyPhases).
    pub supply_phases: u8,
    pub tx: TxSettings,
    /// AlignedDataCtrlr.Interval (zero: off) and AlignedDataCtrlr.Measurands.
    pub aligned_interval: Duration,
    pub aligned_measurands: Vec<Measurand>,
    /// Retries of transaction-related messages.
    pub retry: Retry,
    pub capabilities: Capabilities,
}
