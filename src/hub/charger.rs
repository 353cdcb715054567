//! One charger as the hub sees it: its device readings, decoded through its template, and the
//! station they drive.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::device::WriteRequest;
use crate::device::WriteValue;
use crate::device::{DeviceEvent, RawValue};
use crate::mapping::{self, MappingError, ValueKind};
use crate::mapping::{OcppName, Template, Value};
use crate::ocpp::link::ConnectParams;
use crate::ocpp::messages::{self, ChargingState, ConnectorStatus, Measurand};
use crate::ocpp::messages::{DataType, Mutability};
use crate::station::device_model::write_store;
use crate::station::device_model::ExternalVariable;
use crate::station::evse::{EvseInputs, Sample};
use crate::station::ExternalDef;
use crate::station::{DeviceCommand, Station, WriteReport};

use super::{DevicePlan, WorkerOp, Workers};

/// Writes whose outcome may be awaited at once; commands come from one CSMS, one at a time,
/// so only a worker that stopped reporting ever reaches this.
const MAX_WRITES_IN_FLIGHT: usize = 64;

/// A write on its way to the device: what it was for, to report its outcome.
#[derive(Debug, Clone)]
struct Write {
    command: Option<DeviceCommand>,
    component: String,
    variable: String,
    value: String,
}

impl Write {
    fn what(&self) -> String {
        format!("{}.{} = {}", self.component, self.variable, self.value)
    }
}

/// A device, its decoded readings and its virtual station.
pub struct Charger {
    pub(super) name: String,
    pub(super) template: Arc<Template>,
    /// `None` until the device worker has reported either way.
    pub(super) online: Option<bool>,
    /// Latest decoded value of each template variable and when it was read.
    pub(super) values: Vec<Option<(Value, Instant)>>,
    /// Why the device last failed, for operators.
    pub(super) last_error: Option<String>,
    /// How the device is reached, as handed to its worker.
    pub plan: DevicePlan,
    pub station: Station,
    /// The link settings from config; the station's device model refines them per connection.
    connect: ConnectParams,
    store_dir: PathBuf,
    /// Numbers device writes, to match their outcomes.
    write_token: u64,
    /// Writes handed to the device worker whose outcome has not come back, oldest first.
    writes: VecDeque<(u64, Write)>,
    /// Write outcomes for the station, oldest first.
    reports: Vec<WriteReport>,
    /// The station has taken back what the journal held for it.
    pub(super) journaled: bool,
}

impl Charger {
    /// A charger with nothing read yet.
    pub fn new(
        name: String,
        template: Arc<Template>,
        plan: DevicePlan,
        station: Station,
        connect: ConnectParams,
        store_dir: PathBuf,
    ) -> Self {
        Charger {
            values: vec![None; template.variables.len()],
            name,
            template,
            online: None,
            last_error: None,
            plan,
            station,
            connect,
            store_dir,
            write_token: 0,
            writes: VecDeque::new(),
            reports: Vec::new(),
            journaled: false,
        }
    }

    /// Takes in what the device worker saw.
    pub fn apply(&mut self, event: DeviceEvent) {
        match event {
            DeviceEvent::Online { .. } => {
                log::info!("{}: device online", self.name);
                self.online = Some(true);
            }
            DeviceEvent::Offline { reason, .. } => {
                log::warn!("{}: device offline: {reason}", self.name);
                self.online = Some(false);
                self.last_error = Some(reason);
            }
            DeviceEvent::Values { values, .. } => {
                for (index, raw) in values {
                    self.decode(index, &raw);
                }
            }
            DeviceEvent::Written { token, result, .. } => {
                let Some(at) = self.writes.iter().position(|(t, _)| *t == token) else {
                    log::warn!("{}: outcome of unknown write {token}", self.name);
                    return;
                };
                let Some((_, write)) = self.writes.remove(at) else {
                    return;
                };
                self.finished(write, result);
            }
        }
    }

    fn decode(&mut self, index: usize, raw: &RawValue) {
        let Some(var) = self.template.variables.get(index) else {
            return;
        };
        match var.decode(raw) {
            Ok(value) => {
                log::debug!("{}: {} = {value}", self.name, var.ocpp_name.as_str());
                if let Some(slot) = self.values.get_mut(index) {
                    *slot = Some((value, Instant::now()));
                }
            }
            Err(e) => {
                log::warn!("{}: {}: {e}", self.name, var.ocpp_name.as_str());
                self.last_error = Some(format!("{}: {e}", var.ocpp_name.as_str()));
                if let Some(slot) = self.values.get_mut(index) {
                    *slot = None;
                }
            }
        }
    }

    /// Carries out a station's device command through the template's control variable.
    pub fn command(&mut self, command: DeviceCommand, workers: &Workers) {
        let (role, text) = match command {
            DeviceCommand::Charging { start, .. } => (
                OcppName::ControlCharging,
                if start { "Start" } else { "Stop" },
            ),
            DeviceCommand::Unlock { .. } => (OcppName::ControlUnlock, "Unlock"),
            DeviceCommand::Reset => (OcppName::ControlReset, "Reset"),
            DeviceCommand::Availability { operative } => (
                OcppName::ControlAvailability,
                if operative {
                    "Operative"
                } else {
                    "Inoperative"
                },
            ),
        };
        let Some((_, var)) = self.template.variable(&role) else {
            log::warn!("{}: {command:?}: the template maps no {role}", self.name);
            let write = Write {
                command: Some(command),
                component: "EVSE".to_string(),
                variable: role.as_str().trim_start_matches("Control.").to_string(),
                value: text.to_string(),
            };
            self.finished(write, Err(format!("the template maps no {role}")));
            return;
        };
        let encoded = var.encode(&Value::Text(text.to_string()));
        let write = Write {
            command: Some(command),
            component: var.component().to_string(),
            variable: var.variable_name().to_string(),
            value: text.to_string(),
        };
        self.write(encoded, write, workers);
    }

    /// Writes a template variable the CSMS set through SetVariables.
    pub fn write_variable(
        &mut self,
        component: &str,
        variable: &str,
        value: &str,
        workers: &Workers,
    ) {
        let Some((_, var)) = self.template.exposed(component, variable, None) else {
            log::warn!(
                "{}: {component}.{variable}: no such template variable",
                self.name
            );
            return;
        };
        let encoded = var.parse_value(value).and_then(|v| var.encode(&v));
        let write = Write {
            command: None,
            component: component.to_string(),
            variable: variable.to_string(),
            value: value.to_string(),
        };
        self.write(encoded, write, workers);
    }

    fn write(
        &mut self,
        encoded: Result<WriteValue, MappingError>,
        write: Write,
        workers: &Workers,
    ) {
        let value = match encoded {
            Ok(value) => value,
            Err(e) => {
                log::warn!("{}: cannot write {}: {e}", self.name, write.what());
                self.finished(write, Err(format!("cannot encode the value: {e}")));
                return;
            }
        };
        self.write_token += 1;
        let token = self.write_token;
        log::info!("{}: writing {} (write {token})", self.name, write.what());
        let request = WriteRequest {
            device: self.plan.device_id(),
            token,
            value,
        };
        if !workers.send(&self.plan, WorkerOp::Write(request)) {
            self.finished(
                write,
                Err("the device worker did not take the write".into()),
            );
            return;
        }
        if self.writes.len() >= MAX_WRITES_IN_FLIGHT {
            // A worker that never reports would otherwise grow this without end.
            if let Some((_, lost)) = self.writes.pop_front() {
                self.finished(lost, Err("no outcome reported by the device worker".into()));
            }
        }
        self.writes.push_back((token, write));
    }

    /// Keeps a write's outcome for the station and the device status.
    fn finished(&mut self, write: Write, result: Result<(), String>) {
        match &result {
            Ok(()) => log::info!("{}: wrote {}", self.name, write.what()),
            Err(e) => {
                log::warn!("{}: writing {} failed: {e}", self.name, write.what());
                self.last_error = Some(format!("writing {} failed: {e}", write.what()));
            }
        }
        if self.reports.len() >= MAX_WRITES_IN_FLIGHT {
            self.reports.remove(0);
        }
        self.reports.push(WriteReport {
            command: write.command,
            component: write.component,
            variable: write.variable,
            value: write.value,
            result,
        });
    }

    /// True when write outcomes wait for the station.
    pub fn has_reports(&self) -> bool {
        !self.reports.is_empty()
    }

    /// Write outcomes the station has not been given yet.
    pub fn take_reports(&mut self) -> Vec<WriteReport> {
        std::mem::take(&mut self.reports)
    }

    /// The link settings for the next connection: WebSocketPingInterval and BasicAuthPassword
    /// as the device model holds them now (B09: a new password is used from the next connection).
    pub fn connect_params(&self) -> ConnectParams {
        let mut params = self.connect.clone();
        let ping = self.station.ping_interval();
        params.ping_interval = (!ping.is_zero()).then_some(ping);
        if let (Some((_, password)), Some(current)) =
            (&mut params.basic_auth, self.station.basic_auth_password())
        {
            *password = current.to_string();
        }
        params
    }

    /// Keeps what the CSMS set in the device model across restarts.
    pub fn persist(&self, values: &serde_json::Value) {
        if let Err(e) = write_store(&self.store_dir, values) {
            log::error!("{}: cannot store the device model: {e}", self.name);
        }
    }

    /// The device answered and at least one of its variables has been read since the start.
    pub fn has_readings(&self) -> bool {
        self.online == Some(true) && self.values.iter().any(Option::is_some)
    }

    /// What the device readings say about the EVSE, in the station's terms.
    pub fn evse_inputs(&self) -> EvseInputs {
        let mut inputs = EvseInputs {
            online: self.online,
            ..EvseInputs::default()
        };
        for (var, slot) in self.template.variables.iter().zip(&self.values) {
            let Some((value, _)) = slot else { continue };
            match (&var.ocpp_name, value) {
                (OcppName::ConnectorStatus, Value::Text(text)) => {
                    inputs.connector_status = ConnectorStatus::parse(text);
                }
                (OcppName::VehicleConnected, v) => inputs.vehicle_connected = Some(truthy(v)),
                (OcppName::ChargingState, Value::Text(text)) => {
                    inputs.charging_state = ChargingState::parse(text);
                }
                (OcppName::Fault, v) => inputs.faulted |= truthy(v),
                (OcppName::IdToken, Value::Text(text)) => inputs.id_token = Some(text.clone()),
                (OcppName::Measurand(name), Value::Number(number)) => {
                    if let Some(measurand) = Measurand::parse(name) {
                        inputs.samples.push(Sample {
                            measurand,
                            phase: var.phase.and_then(|p| messages::Phase::parse(p.as_str())),
                            value: *number,
                            unit: var.unit.clone(),
                        });
                    }
                }
                _ => {}
            }
        }
        inputs
    }

    /// The template variables the device model exposes, with their current values.
    pub fn external_values(&self) -> HashMap<(String, String), String> {
        self.template
            .variables
            .iter()
            .zip(&self.values)
            .filter(|(var, _)| var.instance().is_none())
            .filter_map(|(var, slot)| {
                let (value, _) = slot.as_ref()?;
                let key = (var.component().to_string(), var.variable_name().to_string());
                Some((key, value.to_string()))
            })
            .collect()
    }
}

/// Whether a role value means "yes": true, non-zero, or a non-empty text other than "false".
fn truthy(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::Number(n) => *n != 0.0,
        Value::Text(t) => !t.is_empty() && t != "false",
    }
}

/// The template's variables as device-model variables. Per-phase measurands share a name and
/// differ only by instance, which template variables cannot be addressed by; they stay out.
pub fn exposed_variables(template: &Template) -> Vec<ExternalDef> {
    template
        .variables
        .iter()
        .filter(|v| v.instance().is_none())
        .map(|v| {
            let (data_type, options) = match v.value_kind() {
                ValueKind::Integer => (DataType::integer, Vec::new()),
                ValueKind::Decimal => (DataType::decimal, Vec::new()),
                ValueKind::Boolean => (DataType::boolean, Vec::new()),
                ValueKind::Options(texts) => (DataType::string, texts),
                ValueKind::Text => (DataType::string, Vec::new()),
            };
            ExternalDef {
                variable: ExternalVariable {
                    component: v.component().to_string(),
                    variable: v.variable_name().to_string(),
                    mutability: match v.mutability() {
                        mapping::Mutability::ReadOnly => Mutability::ReadOnly,
                        mapping::Mutability::WriteOnly => Mutability::WriteOnly,
                        mapping::Mutability::ReadWrite => Mutability::ReadWrite,
                    },
                    data_type,
                    unit: v.unit.clone(),
                },
                options,
                min: v.min,
                max: v.max,
            }
        })
        .collect()
}
