//! One charger as the hub sees it: its device readings, decoded through its template, and the
//! station they drive.

use std::sync::Arc;
use std::time::Instant;

use crate::device::{DeviceEvent, RawValue};
use crate::mapping::{OcppName, Template, Value};
use crate::ocpp::link::ConnectParams;
use crate::ocpp::messages::{ConnectorStatus, Measurand};
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
    pub connect: ConnectParams,
}

impl Charger {
    /// A charger with nothing read yet.
    pub fn new(
        name: String,
        template: Arc<Template>,
        plan: DevicePlan,
        station: Station,
        connect: ConnectParams,
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
