//! Admin → hub requests and the snapshots the hub answers with.
//!
//! The admin thread sends a [`Query`] carrying a reply channel of capacity one and waits on it
//! with a deadline; the hub answers between two messages with `try_send`, so a slow or vanished
//! admin thread never holds the hub up.

use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use crate::config::Config;
use crate::config::Protocol;
use crate::device::DeviceEvent;
use crate::mapping::Value;
use crate::metrics::{self, HubGauges};
use crate::ocpp::link::LinkEvent;
use crate::ocpp::messages::ConnectorStatus;
use crate::station::local::{CommandOutcome, LocalCommand};
use crate::station::Registration;

use super::charger::Charger;
use super::{DevicePlan, Hub};

/// `ocpp_name` of the value shown as a device's power.
const POWER: &str = "MeterValue.Power.Active.Import";
/// `ocpp_name` of the value shown as a device's energy meter.
const ENERGY: &str = "MeterValue.Energy.Active.Import.Register";

/// A question to the hub; the answer goes to `reply`.
#[derive(Debug)]
pub enum Query {
    /// The depths of the hub's queues (cheap: for every metrics scrape).
    Gauges { reply: Sender<HubGauges> },
    /// The hub's queues and a summary of every device, ordered by device id.
    Status { reply: Sender<GatewaySnapshot> },
    /// One device and its mapped variables; `None` when no device has this id.
    Device {
        id: String,
        reply: Sender<Option<DeviceDetail>>,
    },
    /// An operator's command for the station of one device; `None` when no device has this id.
    Command {
        id: String,
        command: LocalCommand,
        reply: Sender<Option<CommandOutcome>>,
    },
    /// Apply a config that was loaded and checked already; answered once applied.
    Reload {
        config: Box<Config>,
        reply: Sender<()>,
    },
}

/// The gateway as the hub sees it.
#[derive(Debug, Clone)]
pub struct GatewaySnapshot {
    pub queues: HubGauges,
    pub devices: Vec<DeviceSummary>,
}

/// Whether a device answers its worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceLink {
    /// The worker has not reported yet.
    Unknown,
    Online,
    Offline,
}

impl DeviceLink {
    /// Lower-case name for JSON and pages.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceLink::Unknown => "unknown",
            DeviceLink::Online => "online",
            DeviceLink::Offline => "offline",
        }
    }
}

/// A measured value with the unit its template gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub value: f64,
    pub unit: Option<String>,
}

/// One device and its station, in brief.
#[derive(Debug, Clone)]
pub struct DeviceSummary {
    /// The config's device id.
    pub id: String,
    pub ocpp_id: String,
    pub protocol: Protocol,
    pub template: String,
    pub device_link: DeviceLink,
    pub csms_connected: bool,
    pub registration: Registration,
    /// Connector 1 as the device reports it.
    pub connector_status: Option<ConnectorStatus>,
    /// The transaction running on EVSE 1.
    pub transaction_id: Option<String>,
    pub power: Option<Reading>,
    pub energy: Option<Reading>,
    pub last_error: Option<String>,
    /// Time since the device last answered a poll (or reported a value).
    pub last_reading_age: Option<Duration>,
}

/// One mapped variable and its latest value.
#[derive(Debug, Clone)]
pub struct VariableSnapshot {
    /// As written in the template (`MeterValue.Voltage`).
    pub ocpp_name: String,
    pub value: Option<Value>,
    pub unit: Option<String>,
    /// Time since the worker reported this value; workers report a value when it changes, so
    /// while the device answers, an old value is still current. `None` before the first.
    pub age: Option<Duration>,
}

/// A device with every mapped variable.
#[derive(Debug, Clone)]
pub struct DeviceDetail {
    pub summary: DeviceSummary,
    pub variables: Vec<VariableSnapshot>,
}

impl Hub {
    /// Answers `query`; `devices`, `links` and `admin` are the hub's inbound queues.
    pub(super) fn answer(
        &mut self,
        query: Query,
        devices: &Receiver<DeviceEvent>,
        links: &Receiver<LinkEvent>,
        admin: &Receiver<Query>,
    ) {
        let now = Instant::now();
        let queues = HubGauges {
            device_event_queue: devices.len(),
            link_event_queue: links.len(),
            admin_queue: admin.len(),
            modbus_tcp_queue: self.workers.modbus_tcp.len(),
        };
        match query {
            Query::Gauges { reply } => {
                let _ = reply.try_send(queues);
            }
            Query::Status { reply } => {
                let mut summaries: Vec<DeviceSummary> =
                    self.chargers.values().map(|c| c.summary(now)).collect();
                summaries.sort_by(|a, b| a.id.cmp(&b.id));
                let snapshot = GatewaySnapshot {
                    queues,
                    devices: summaries,
                };
                // A reply nobody waits for any more is simply dropped.
                let _ = reply.try_send(snapshot);
            }
            Query::Device { id, reply } => {
                let detail = self
                    .chargers
                    .values()
                    .find(|c| c.name == id)
                    .map(|c| c.detail(now));
                let _ = reply.try_send(detail);
            }
            Query::Command { id, command, reply } => {
                let outcome = self.command(&id, command, now);
                let _ = reply.try_send(outcome);
            }
            Query::Reload { config, reply } => {
                self.reload(*config);
                let _ = reply.try_send(());
            }
        }
    }

    /// Gives the station of device `id` the command and carries out its effects at once.
    fn command(&mut self, id: &str, command: LocalCommand, now: Instant) -> Option<CommandOutcome> {
        let (key, charger) = self.chargers.iter_mut().find(|(_, c)| c.name == id)?;
        let key = *key;
        let outcome = charger
            .station
            .local_command(now, command, &mut self.effects);
        self.drive(key);
        Some(outcome)
    }
}

impl Charger {
    fn summary(&self, now: Instant) -> DeviceSummary {
        let protocol = match &self.plan {
            DevicePlan::ModbusTcp(_) => Protocol::ModbusTcp,
            DevicePlan::ModbusRtu { .. } => Protocol::ModbusRtu,
            DevicePlan::Echonet(_) => Protocol::EchonetLite,
        };
        let device_link = match self.online {
            None => DeviceLink::Unknown,
            Some(true) => DeviceLink::Online,
            Some(false) => DeviceLink::Offline,
        };
        let changed = self.values.iter().flatten().map(|(_, at)| *at).max();
        let polled = metrics::device(&self.name).last_good_poll();
        let last_read = changed.max(polled);
        DeviceSummary {
            id: self.name.clone(),
            ocpp_id: self.station.ocpp_id().to_string(),
            protocol,
            template: self.template.id.clone(),
            device_link,
            csms_connected: self.station.is_connected(),
            registration: self.station.registration(),
            connector_status: self.station.connector_status(0).and_then(|(now, _)| now),
            transaction_id: self.station.transaction_id(0).map(String::from),
            power: self.reading(POWER),
            energy: self.reading(ENERGY),
            last_error: self.last_error.clone(),
            last_reading_age: last_read.map(|at| now.saturating_duration_since(at)),
        }
    }

    fn detail(&self, now: Instant) -> DeviceDetail {
        let variables = self
            .template
            .variables
            .iter()
            .zip(&self.values)
            .map(|(var, slot)| VariableSnapshot {
                ocpp_name: var.ocpp_name.to_string(),
                value: slot.as_ref().map(|(v, _)| v.clone()),
                unit: var.unit.clone(),
                age: slot
                    .as_ref()
                    .map(|(_, at)| now.saturating_duration_since(*at)),
            })
            .collect();
        DeviceDetail {
            summary: self.summary(now),
            variables,
        }
    }

    /// The current numeric value of the variable mapped to `ocpp_name`, if any.
    fn reading(&self, ocpp_name: &str) -> Option<Reading> {
        let index = self
            .template
            .variables
            .iter()
            .position(|v| v.ocpp_name.to_string() == ocpp_name)?;
        match self.values.get(index) {
            Some(Some((Value::Number(value), _))) => Some(Reading {
                value: *value,
                unit: self
                    .template
                    .variables
                    .get(index)
                    .and_then(|v| v.unit.clone()),
            }),
            _ => None,
        }
    }
}
