//! One charger as the hub sees it: its device readings, decoded through its template, and the
//! station they drive.

use std::sync::Arc;
use std::time::Instant;

use crate::device::{DeviceEvent, RawValue};
use crate::mapping::{OcppName, Template, Value};
use crate::ocpp::link::ConnectParams;
use crate::ocpp::messages::ConnectorStatus;
use crate::station::Station;

use super::DevicePlan;

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
    status_var: Option<usize>,
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
        let status_var = template
            .variable(&OcppName::ConnectorStatus)
            .map(|(i, _)| i);
        Charger {
            values: vec![None; template.variables.len()],
            name,
            template,
            online: None,
            last_error: None,
            status_var,
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

    /// Tells the station what its connector status is now.
    pub fn sync_connector_status(&mut self) {
        let status = match self.online {
            None => None,
            // The charger cannot be used while we cannot talk to it.
            Some(false) => Some(ConnectorStatus::Unavailable),
            Some(true) => match self.status_var {
                None => Some(ConnectorStatus::Available),
                Some(i) => match self.values.get(i) {
                    Some(Some((Value::Text(text), _))) => ConnectorStatus::parse(text),
                    _ => None,
                },
            },
        };
        self.station.set_connector_status(0, status);
    }
}
