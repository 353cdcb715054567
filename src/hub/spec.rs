//! From config to what the hub runs: one charger spec (device plan + station settings) per device.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::Sender;

use crate::chan;
use crate::config::{Config, Connection, DeviceConfig};
use crate::device::{
    BusCmd, DeviceId, EchonetDevice, ModbusRtuDevice, ModbusTcpDevice, PoolCmd, WorkerCmd,
    WriteRequest,
};
use crate::mapping::{OcppName, Phase, Template};
use crate::ocpp::link::ConnectParams;
use crate::ocpp::messages::Measurand;
use crate::station::transaction::TxSettings;
use crate::station::{Backoff, BootIdentity, Capabilities, Retry, StationSettings};

/// Slow-class variables are read once every this many polls.
const SLOW_POLL_FACTOR: u32 = 10;
/// AlignedDataCtrlr.Interval default: quarter-hour readings, as metering usually wants.
const ALIGNED_INTERVAL: Duration = Duration::from_secs(900);
/// How long the first BootNotification waits for a mapped charger identity: several polls of
/// even the slow class, yet short enough that a silent charger still gets its station online.
const IDENTITY_WAIT: Duration = Duration::from_secs(30);
/// MessageAttemptsTransactionEvent and MessageAttemptIntervalTransactionEvent defaults.
const TX_MESSAGE_RETRY: Retry = Retry {
    attempts: 3,
    interval: Duration::from_secs(60),
};

/// How the hub reaches one device.
#[derive(Debug, Clone, PartialEq)]
pub enum DevicePlan {
    ModbusTcp(ModbusTcpDevice),
    Echonet(EchonetDevice),
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
    /// Where the station keeps what the CSMS set in its device model.
    pub store_dir: PathBuf,
}

impl DevicePlan {
    /// The device this plan polls.
    pub fn device_id(&self) -> DeviceId {
        match self {
            DevicePlan::ModbusTcp(d) => d.id,
            DevicePlan::ModbusRtu { device, .. } => device.id,
            DevicePlan::Echonet(d) => d.id,
        }
    }
}

/// The hub's handles to the device worker threads.
pub struct Workers {
    pub modbus_tcp: Sender<PoolCmd>,
    /// One bus worker per serial port, by port.
    pub rtu: HashMap<String, Sender<BusCmd>>,
    /// Present when the gateway started with ECHONET Lite devices (it binds UDP 3610).
    pub echonet: Option<Sender<WorkerCmd<EchonetDevice>>>,
}

/// What the hub asks of a device's worker.
#[derive(Debug)]
pub enum WorkerOp {
    Add,
    Remove,
    Write(WriteRequest),
}

impl Workers {
    /// Hands `op` for the device of `plan` to the worker that serves its protocol; a full or
    /// closed channel is logged (the channel counts it). Returns whether the worker took it.
    pub fn send(&self, plan: &DevicePlan, op: WorkerOp) -> bool {
        let what = format!("{op:?}");
        let delivered = match plan {
            DevicePlan::ModbusTcp(d) => forward(&self.modbus_tcp, d, d.id, op, "hub→modbus-tcp"),
            DevicePlan::ModbusRtu { port, device } => match self.rtu.get(port) {
                Some(bus) => forward(bus, device, device.id, op, "hub→modbus-rtu"),
                None => {
                    log::error!(
                        "{}: serial port {port} added by a reload needs a restart",
                        device.name
                    );
                    false
                }
            },
            DevicePlan::Echonet(d) => match &self.echonet {
                Some(tx) => forward(tx, d, d.id, op, "hub→echonet"),
                None => {
                    log::error!(
                        "{}: ECHONET Lite devices added by a reload need a restart",
                        d.name
                    );
                    false
                }
            },
        };
        if !delivered {
            log::error!("device worker did not take {what} for {plan:?}");
        }
        delivered
    }
}

fn forward<D: Clone>(
    tx: &Sender<WorkerCmd<D>>,
    device: &D,
    id: DeviceId,
    op: WorkerOp,
    what: &str,
) -> bool {
    let cmd = match op {
        WorkerOp::Add => WorkerCmd::Add(device.clone()),
        WorkerOp::Remove => WorkerCmd::Remove(id),
        WorkerOp::Write(request) => WorkerCmd::Write(request),
    };
    chan::try_send(tx, cmd, what).is_ok()
}

/// Specs for every device of `config` the gateway can serve, keyed from `*next_key` on.
/// `tls` is the `wss://` client configuration (see [`crate::ocpp::link::client_config`]).
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
                // The user name is the station identity (A00.FR.204).
                basic_auth: config
                    .basic_auth_password(device)
                    .map(|password| (device.ocpp_id.clone(), password.expose().to_owned())),
                tls: tls.clone(),
                ping_interval: (!config.csms.ping_interval.is_zero())
                    .then_some(config.csms.ping_interval),
                connect_timeout: config.csms.connect_timeout,
            },
            store_dir: config
                .system
                .data_dir
                .join("stations")
                .join(&device.ocpp_id),
        });
    }
    specs
}

fn device_plan(key: u32, device: &DeviceConfig, template: &Template) -> Option<DevicePlan> {
    match &device.connection {
        Connection::ModbusTcp {
            ip,
            port,
            unit_id,
            offline_after_failures,
            ..
        } => Some(DevicePlan::ModbusTcp(ModbusTcpDevice {
            id: DeviceId(key),
            name: device.id.clone(),
            host: ip.clone(),
            port: *port,
            unit_id: *unit_id,
            poll_interval: device.poll_interval,
            slow_poll_interval: device.poll_interval * SLOW_POLL_FACTOR,
            reads: template.register_reads(),
            offline_after_failures: *offline_after_failures,
        })),
        Connection::ModbusRtu {
            port,
            unit_id,
            offline_after_failures,
            ..
        } => Some(DevicePlan::ModbusRtu {
            port: port.clone(),
            device: ModbusRtuDevice {
                id: DeviceId(key),
                name: device.id.clone(),
                unit_id: *unit_id,
                poll_interval: device.poll_interval,
                slow_poll_interval: device.poll_interval * SLOW_POLL_FACTOR,
                reads: template.register_reads(),
                offline_after_failures: *offline_after_failures,
            },
        }),
        Connection::EchonetLite { ip, eoj } => Some(DevicePlan::Echonet(EchonetDevice {
            id: DeviceId(key),
            name: device.id.clone(),
            ip: ip.clone(),
            eoj: *eoj,
            poll_interval: device.poll_interval,
            slow_poll_interval: device.poll_interval * SLOW_POLL_FACTOR,
            reads: template.epc_reads(),
        })),
    }
}

/// AC phases of the charger: one when the template maps values of L1 alone, three when it maps
/// any of L2 or L3, and three (the AC chargers served here) when it maps no per-phase value.
fn supply_phases(template: &Template) -> u8 {
    let mut phases = template.variables.iter().filter_map(|v| v.phase);
    let beyond_l1 = |p: Phase| !matches!(p, Phase::L1 | Phase::L1N | Phase::N);
    match phases.next() {
        Some(first) if !beyond_l1(first) && !phases.any(beyond_l1) => 1,
        _ => 3,
    }
}

/// The device-model (component, variable) of the template variable of `name`, if mapped.
fn mapped(template: &Template, name: &OcppName) -> Option<(String, String)> {
    template
        .variable(name)
        .map(|(_, v)| (v.component().to_string(), v.variable_name().to_string()))
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
        serial_number: None,
        firmware_version: None,
        identity: BootIdentity {
            serial_number: mapped(template, &OcppName::IdentitySerialNumber),
            firmware_version: mapped(template, &OcppName::IdentityFirmwareVersion),
            wait: IDENTITY_WAIT,
        },
        heartbeat_interval: csms.heartbeat_interval,
        response_timeout: csms.response_timeout,
        backoff: Backoff {
            wait_minimum: csms.reconnect_interval,
            random_range: csms.reconnect_random_range,
            repeat_times: csms.max_reconnect_attempts,
        },
        ping_interval: csms.ping_interval,
        security_profile: csms.security_profile.number(),
        basic_auth_password: config
            .basic_auth_password(device)
            .map(|p| p.expose().to_string()),
        measurands: template
            .variables
            .iter()
            .filter_map(|v| match &v.ocpp_name {
                OcppName::Measurand(name) => Measurand::parse(name),
                _ => None,
            })
            .collect(),
        evses: 1,
        supply_phases: supply_phases(template),
        tx: TxSettings {
            // A token reader means drivers authorize at the charger.
            auth_enabled: template.variable(&OcppName::IdToken).is_some(),
            ..TxSettings::default()
        },
        aligned_interval: ALIGNED_INTERVAL,
        aligned_measurands: vec![Measurand::EnergyActiveImportRegister],
        retry: TX_MESSAGE_RETRY,
        capabilities: Capabilities {
            start_stop: template.variable(&OcppName::ControlCharging).is_some(),
            unlock: template.variable(&OcppName::ControlUnlock).is_some(),
            reset: template.variable(&OcppName::ControlReset).is_some(),
            availability: template.variable(&OcppName::ControlAvailability).is_some(),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::device::{ModbusTable, PollClass};
    use crate::mapping::{Access, DataType, Order, Source, Variable};

    fn voltage(phase: Option<Phase>) -> Variable {
        let name = OcppName::Measurand("Voltage".into());
        Variable {
            component: "EVSE".into(),
            variable: "Voltage".into(),
            ocpp_name: name,
            phase,
            source: Source::Modbus {
                table: ModbusTable::HoldingRegister,
                address: 0,
                count: 1,
                order: Order::Abcd,
            },
            data_type: DataType::U16,
            bit: None,
            access: Access::Read,
            poll: PollClass::Slow,
            scale: 1.0,
            offset_value: 0.0,
            unit: None,
            enum_map: BTreeMap::new(),
            min: None,
            max: None,
        }
    }

    fn phases(of: &[Option<Phase>]) -> u8 {
        supply_phases(&Template {
            id: "t".into(),
            description: String::new(),
            extends: None,
            vendor_name: None,
            model: None,
            variables: of.iter().map(|p| voltage(*p)).collect(),
        })
    }

    #[test]
    fn supply_phases_follow_the_templates_phases() {
        assert_eq!(phases(&[Some(Phase::L1N)]), 1);
        assert_eq!(phases(&[Some(Phase::L1), None]), 1);
        assert_eq!(phases(&[Some(Phase::L1N), Some(Phase::L2N)]), 3);
        assert_eq!(phases(&[Some(Phase::L3)]), 3);
        assert_eq!(phases(&[None]), 3, "no per-phase value: three-phase AC");
    }
}
