//! One charger as the hub sees it: its device readings, decoded through its template, and the
//! station they drive.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::device::{DeviceEvent, RawValue};
use crate::mapping::{OcppName, Template, Value};
use crate::ocpp::link::ConnectParams;
use crate::ocpp::messages::{ConnectorStatus, Measurand};
use crate::station::device_model::write_store;
use crate::station::evse::{EvseInputs, Sample};
use crate::station::{DeviceCommand, Station};

use super::{DevicePlan, Workers};

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
            DeviceEvent::Written { token, result, .. } => match result {
                Ok(()) => log::debug!("{}: write {token} done", self.name),
                Err(e) => log::warn!("{}: write {token} failed: {e}", self.name),
            },
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

    /// Carries out a station's device command through the template's control variables.
    pub fn command(&mut self, command: DeviceCommand, _workers: &Workers) {
        log::warn!(
            "{}: {command:?}: the template maps no control variable for it",
            self.name
        );
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

    /// Writes a template variable the CSMS set through SetVariables.
    pub fn write_variable(
        &mut self,
        component: &str,
        variable: &str,
        value: &str,
        _workers: &Workers,
    ) {
        log::warn!(
            "{}: {component}.{variable} = {value}: no template variable to write",
            self.name
        );
    }

    /// Keeps what the CSMS set in the device model across restarts.
    pub fn persist(&self, values: &serde_json::Value) {
        if let Err(e) = write_store(&self.store_dir, values) {
            log::error!("{}: cannot store the device model: {e}", self.name);
        }
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
                (OcppName::Measurand(name), Value::Number(number)) => {
                    if let Some(measurand) = Measurand::parse(name) {
                        inputs.samples.push(Sample {
                            measurand,
                            phase: None,
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
}
