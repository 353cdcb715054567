//! From config to what the hub runs: one charger spec (device plan + station settings) per device.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::Sender;

use crate::chan;
use crate::config::{Config, Connection, DeviceConfig};
use crate::device::{BusCmd, DeviceId, ModbusRtuDevice, ModbusTcpDevice, PoolCmd, RegisterRead};
use crate::mapping::Template;
use crate::ocpp::link::ConnectParams;
use crate::station::{Backoff, StationSettings};

/// Limit for each blocking step of opening a CSMS link.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Slow-class variables are read once every this many polls.
const SLOW_POLL_FACTOR: u32 = 10;

/// How the hub reaches one device.
#[derive(Debug, Clone, PartialEq)]
pub enum DevicePlan {
    ModbusTcp(ModbusTcpDevice),
    /// A unit on the bus of serial port `port`.
    ModbusRtu {
        port: String,
        device: ModbusRtuDevice,
    },
}

/// Everything the hub needs to run one charger: its device, its template, its station.
pub struct ChargerSpec {
    /// Shared by the device (`DeviceId`) and the link (`LinkId`).
    pub key: u32,
    /// The config's device id, for logs.
    pub name: String,
    pub template: Arc<Template>,
    pub plan: DevicePlan,
    pub station: StationSettings,
    pub connect: ConnectParams,
}

/// The hub's handles to the device worker threads.
pub struct Workers {
    pub modbus_tcp: Sender<PoolCmd>,
    /// One bus worker per serial port, by port.
    pub rtu: HashMap<String, Sender<BusCmd>>,
}

impl Workers {
    /// Hands a device to the worker that serves its protocol.
    pub fn add(&self, plan: &DevicePlan) {
        let sent = match plan {
            DevicePlan::ModbusTcp(d) => {
                chan::try_send(&self.modbus_tcp, PoolCmd::Add(d.clone()), "hub→modbus-tcp").is_ok()
            }
            DevicePlan::ModbusRtu { port, device } => self.rtu.get(port).is_some_and(|bus| {
                chan::try_send(bus, BusCmd::Add(device.clone()), "hub→modbus-rtu").is_ok()
            }),
        };
        if !sent {
            log::error!("device worker did not take {plan:?}; it will not be polled");
        }
    }
}

/// Specs for every device of `config` the gateway can serve, keyed from `*next_key` on.
pub fn charger_specs(
    config: &Config,
    tls: Option<Arc<rustls::ClientConfig>>,
    next_key: &mut u32,
) -> Vec<ChargerSpec> {
    let mut specs = Vec::new();
    for device in &config.devices {
        let Some(template) = config.templates.get(&device.template) else {
            continue;
        };
        let key = *next_key;
        let Some(plan) = device_plan(key, device, template) else {
            log::error!(
                "{}: protocol {} is not supported by this build; device skipped",
                device.id,
                device.protocol
            );
            continue;
        };
        *next_key += 1;
        specs.push(ChargerSpec {
            key,
            name: device.id.clone(),
            template: Arc::clone(template),
            plan,
            station: station_settings(config, device, template),
            connect: ConnectParams {
                url: format!("{}/{}", config.csms.url, device.ocpp_id),
                basic_auth: None,
                tls: tls.clone(),
                ping_interval: (!config.csms.ping_interval.is_zero())
                    .then_some(config.csms.ping_interval),
                connect_timeout: CONNECT_TIMEOUT,
            },
        });
    }
    specs
}

fn device_plan(key: u32, device: &DeviceConfig, template: &Template) -> Option<DevicePlan> {
    match &device.connection {
        Connection::ModbusTcp {
            ip, port, unit_id, ..
        } => Some(DevicePlan::ModbusTcp(ModbusTcpDevice {
            id: DeviceId(key),
            name: device.id.clone(),
            host: ip.clone(),
            port: *port,
            unit_id: *unit_id,
            poll_interval: device.poll_interval,
            slow_poll_interval: device.poll_interval * SLOW_POLL_FACTOR,
            reads: register_reads(template),
        })),
        Connection::ModbusRtu { port, unit_id, .. } => Some(DevicePlan::ModbusRtu {
            port: port.clone(),
            device: ModbusRtuDevice {
                id: DeviceId(key),
                name: device.id.clone(),
                unit_id: *unit_id,
                poll_interval: device.poll_interval,
                slow_poll_interval: device.poll_interval * SLOW_POLL_FACTOR,
                reads: register_reads(template),
            },
        }),
        Connection::EchonetLite { .. } => None,
    }
}

fn register_reads(template: &Template) -> Vec<RegisterRead> {
    template
        .variables
        .iter()
        .enumerate()
        .map(|(i, v)| v.register_read(i))
        .collect()
}

fn station_settings(
    config: &Config,
    device: &DeviceConfig,
    template: &Template,
) -> StationSettings {
    let csms = &config.csms;
    StationSettings {
        ocpp_id: device.ocpp_id.clone(),
        vendor_name: template
            .vendor_name
            .clone()
            .unwrap_or_else(|| "ocpp-gw".to_string()),
        model: template
            .model
            .clone()
            .unwrap_or_else(|| template.id.chars().take(20).collect()),
        firmware_version: format!("ocpp-gw {}", env!("CARGO_PKG_VERSION")),
        heartbeat_interval: csms.heartbeat_interval,
        response_timeout: csms.response_timeout,
        backoff: Backoff {
            wait_minimum: csms.reconnect_interval,
            random_range: csms.reconnect_random_range,
            repeat_times: csms.max_reconnect_attempts,
        },
        connectors: 1,
    }
}
