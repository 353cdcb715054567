//! The device model inside the station: GetVariables/SetVariables, reports, template-mapped
//! variables, and keeping the station's timers in step with what the CSMS set.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use super::device_model::{
    Changed, DeviceModel, DeviceModelInit, ExternalVariable, ExternalVariables, Limited,
};
use super::handlers::{decode, encode};
use super::{Effect, Retry, Station, StationSettings};
use crate::ocpp::frame::{ErrorCode, Frame};
use crate::ocpp::messages::{
    Action, GenericDeviceModelStatus, GetBaseReport, GetBaseReportResponse, GetReport,
    GetReportResponse, GetVariables, Measurand, NotifyReport, SetVariables, StatusInfo, TxPoint,
};
use crate::ocpp::types::ChargingStation;
use crate::util::time::parse_rfc3339;

/// One template variable as the device model exposes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalDef {
    pub variable: ExternalVariable,
    /// The texts an enum variable accepts; empty for other kinds.
    pub options: Vec<String>,
    /// The template's `min` and `max` for a number the CSMS may set.
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// The template variables (component, variable) holding the charger's identity for
/// BootNotification, and how long the first boot waits for the device to report them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootIdentity {
    /// `Identity.SerialNumber`, if mapped.
    pub serial_number: Option<(String, String)>,
    /// `Identity.FirmwareVersion`, if mapped.
    pub firmware_version: Option<(String, String)>,
    /// The longest the first BootNotification waits for a mapped value.
    pub wait: Duration,
}

/// The variables a template maps to the device, as the station sees them.
#[derive(Debug, Default)]
pub struct External {
    defs: Vec<ExternalDef>,
    values: HashMap<(String, String), String>,
    /// Writes accepted by SetVariables, for the hub to carry to the device.
    writes: Vec<(String, String, String)>,
}

impl External {
    /// Variables with these definitions.
    pub fn new(defs: Vec<ExternalDef>) -> Self {
        External {
            defs,
            ..External::default()
        }
    }
}

impl ExternalVariables for External {
    fn list(&self) -> Vec<ExternalVariable> {
        self.defs.iter().map(|d| d.variable.clone()).collect()
    }

    fn get(&self, component: &str, variable: &str) -> Option<String> {
        self.values
            .get(&(component.to_string(), variable.to_string()))
            .cloned()
    }

    fn set(&mut self, component: &str, variable: &str, value: &str) -> Result<(), String> {
        let def = self.defs.iter().find(|d| {
            d.variable.component.eq_ignore_ascii_case(component)
                && d.variable.variable.eq_ignore_ascii_case(variable)
        });
        if let Some(def) = def {
            if !def.options.is_empty() && !def.options.iter().any(|o| o == value) {
                return Err(format!("must be one of {}", def.options.join(", ")));
            }
            // The device model checked the data type already, so a number parses here.
            if let Ok(number) = value.parse::<f64>() {
                if def.min.is_some_and(|min| number < min)
                    || def.max.is_some_and(|max| number > max)
                {
                    let bound = |b: Option<f64>| b.map_or("-".to_string(), |b| b.to_string());
                    return Err(format!("outside {}..{}", bound(def.min), bound(def.max)));
                }
            }
        }
        self.writes.push((
            component.to_string(),
            variable.to_string(),
            value.to_string(),
        ));
        Ok(())
    }
}

/// The device model a station with `settings` starts from.
pub(super) fn model_init(settings: &StationSettings) -> DeviceModelInit {
    DeviceModelInit {
        identity: settings.ocpp_id.clone(),
        vendor_name: settings.vendor_name.clone(),
        model: settings.model.clone(),
        organization_name: settings.vendor_name.clone(),
        evse_count: settings.evses,
        connector_type: "cType2".into(),
        supply_phases: settings.supply_phases,
        evse_max_power_w: None,
        heartbeat_interval: settings.heartbeat_interval,
        message_timeout: settings.response_timeout,
        backoff: settings.backoff,
        ping_interval: settings.ping_interval,
        security_profile: settings.security_profile,
        basic_auth_password: settings.basic_auth_password.clone(),
        certificate_entries: 0,
        auth_enabled: settings.tx.auth_enabled,
        measurands: settings
            .measurands
            .iter()
            .map(|m| m.as_str().to_string())
            .collect(),
        tx_points: vec![
            TxPoint::EVConnected,
            TxPoint::Authorized,
            TxPoint::PowerPathClosed,
            TxPoint::EnergyTransfer,
        ],
        tx_start_point: settings.tx.start_points.clone(),
        tx_stop_point: settings.tx.stop_points.clone(),
    }
}

fn measurands(names: Vec<String>) -> Vec<Measurand> {
    names.iter().filter_map(|n| Measurand::parse(n)).collect()
}

impl Station {
    /// The device model (for status reports and tests).
    pub fn device_model(&self) -> &DeviceModel {
        &self.model
    }

    /// WebSocketPingInterval as the CSMS last set it; zero turns pings off.
    pub fn ping_interval(&self) -> Duration {
        self.model.websocket_ping_interval()
    }

    /// BasicAuthPassword for the next connection (B09: a new password is used from then on).
    pub fn basic_auth_password(&self) -> Option<&str> {
        self.model.basic_auth_password()
    }

    /// Restores what the CSMS set before a restart; the station's timers follow.
    pub fn restore_device_model(&mut self, stored: &Value) {
        match self.model.restore(stored) {
            Ok(0) => {}
            Ok(n) => {
                log::info!("{}: restored {n} device-model value(s)", self.ocpp_id());
                self.follow_model();
            }
            Err(e) => log::warn!("{}: stored device model not used: {e}", self.ocpp_id()),
        }
    }

    /// The template-mapped variables of this station's device.
    pub fn define_external(&mut self, defs: Vec<ExternalDef>) {
        self.external = External::new(defs);
    }

    /// The current values of the template-mapped variables.
    pub fn set_external_values(&mut self, values: HashMap<(String, String), String>) {
        self.external.values = values;
        let identity = &self.settings.identity;
        // Cut to the schema's lengths: a CSMS must not reject the BootNotification for them.
        let value = |key: &Option<(String, String)>, max: usize| {
            let v = self.external.values.get(key.as_ref()?)?.trim();
            (!v.is_empty()).then(|| v.chars().take(max).collect::<String>())
        };
        let serial = value(&identity.serial_number, ChargingStation::SERIAL_NUMBER_MAX);
        let firmware = value(
            &identity.firmware_version,
            ChargingStation::FIRMWARE_VERSION_MAX,
        );
        if serial.is_some() {
            self.settings.serial_number = serial;
        }
        if firmware.is_some() {
            self.settings.firmware_version = firmware;
        }
    }

    /// When the next BootNotification may go: the first one also waits for the charger's
    /// mapped identity, until `identity_until` at the latest.
    pub(super) fn boot_due(&self) -> Instant {
        let s = &self.settings;
        let missing = (s.identity.serial_number.is_some() && s.serial_number.is_none())
            || (s.identity.firmware_version.is_some() && s.firmware_version.is_none());
        if missing {
            self.boot_at.max(self.identity_until)
        } else {
            self.boot_at
        }
    }

    /// Re-derives every timer and transaction setting from the device model.
    fn follow_model(&mut self) {
        let m = &self.model;
        let s = &mut self.settings;
        self.heartbeat_interval = m.heartbeat_interval();
        s.response_timeout = m.message_timeout();
        s.backoff = m.backoff();
        s.retry = Retry {
            attempts: m.message_attempts_transaction_event(),
            interval: m.message_attempt_interval_transaction_event(),
        };
        s.tx.start_points = m.tx_start_points();
        s.tx.stop_points = m.tx_stop_points();
        s.tx.auth_enabled = m.auth_enabled();
        s.tx.authorize_remote_start = m.authorize_remote_start();
        s.tx.ev_connection_timeout = m.ev_connection_timeout();
        s.tx.started_measurands = measurands(m.tx_started_measurands());
        s.tx.updated_measurands = measurands(m.tx_updated_measurands());
        s.tx.ended_measurands = measurands(m.tx_ended_measurands());
        s.tx.ended_interval = if m.sampled_data_enabled() {
            m.tx_ended_interval()
        } else {
            Duration::ZERO
        };
        s.tx.aligned_ended_interval = if m.aligned_data_enabled() {
            m.aligned_tx_ended_interval()
        } else {
            Duration::ZERO
        };
        s.tx.aligned_ended_measurands = measurands(m.aligned_tx_ended_measurands());
        s.tx.stop_tx_on_ev_side_disconnect = m.stop_tx_on_ev_side_disconnect();
        s.tx.stop_tx_on_invalid_id = m.stop_tx_on_invalid_id();
        s.tx.max_energy_on_invalid_id_wh = m.max_energy_on_invalid_id();
        s.tx.updated_interval = if m.sampled_data_enabled() {
            m.tx_updated_interval()
        } else {
            Duration::ZERO
        };
        s.aligned_measurands = measurands(m.aligned_measurands());
        s.aligned_interval = if m.aligned_data_enabled() {
            m.aligned_interval()
        } else {
            Duration::ZERO
        };
        // A new aligned interval starts counting from the next clock boundary.
        self.next_clock = None;
    }

    /// Keeps the CSMS's clock from the `currentTime` of a BootNotification or Heartbeat answer.
    pub(super) fn csms_time(&mut self, payload: &Value, wall: SystemTime) {
        match payload.get("currentTime").and_then(Value::as_str) {
            Some(text) => match parse_rfc3339(text) {
                Some(csms) => self.model.set_csms_time(csms, wall),
                None => log::warn!("{}: bad currentTime {text:?}", self.ocpp_id()),
            },
            None => log::warn!("{}: answer without currentTime", self.ocpp_id()),
        }
    }

    /// B06: GetVariables.
    pub(super) fn get_variables(
        &mut self,
        payload: &Value,
        wall: SystemTime,
    ) -> Result<Value, Frame> {
        let req = decode::<GetVariables>(payload)?;
        self.model.set_clock(wall);
        self.check_size(req.get_variable_data.len(), Limited::GetVariables)?;
        encode(&self.model.get_variables(&req, &self.external))
    }

    /// B05: SetVariables; template variables are written to the device, changes persist.
    pub(super) fn set_variables(
        &mut self,
        payload: &Value,
        out: &mut Vec<Effect>,
    ) -> Result<Value, Frame> {
        let req = decode::<SetVariables>(payload)?;
        self.check_size(req.set_variable_data.len(), Limited::SetVariables)?;
        let (response, changed) = self.model.set_variables(&req, &mut self.external);
        for (component, variable, value) in self.external.writes.drain(..) {
            out.push(Effect::WriteVariable {
                component,
                variable,
                value,
            });
        }
        if changed.iter().any(|c| matches!(c, Changed::Setting(_))) {
            self.follow_model();
            out.push(Effect::Persist(self.model.persisted()));
        }
        encode(&response)
    }

    /// B07: GetBaseReport; the report follows as NotifyReport pages.
    pub(super) fn get_base_report(
        &mut self,
        payload: &Value,
        wall: SystemTime,
    ) -> Result<Value, Frame> {
        let req = decode::<GetBaseReport>(payload)?;
        let (status, status_info) = match self.report_in_progress() {
            Some(busy) => busy,
            None => {
                self.report = Some(
                    self.model
                        .base_report(req.request_id, req.report_base, wall),
                );
                (GenericDeviceModelStatus::Accepted, None)
            }
        };
        encode(&GetBaseReportResponse {
            status,
            status_info,
        })
    }

    /// B08: GetReport with criteria; EmptyResultSet when nothing matches.
    pub(super) fn get_report(&mut self, payload: &Value, wall: SystemTime) -> Result<Value, Frame> {
        let req = decode::<GetReport>(payload)?;
        let requested = req.component_variable.as_ref().map_or(0, Vec::len);
        self.check_size(requested, Limited::GetReport)?;
        let (status, status_info) = match self.report_in_progress() {
            Some(busy) => busy,
            None => match self.model.report(&req, &self.external, wall) {
                Ok(cursor) => {
                    self.report = Some(cursor);
                    (GenericDeviceModelStatus::Accepted, None)
                }
                Err(status) => (status, None),
            },
        };
        encode(&GetReportResponse {
            status,
            status_info,
        })
    }

    /// The answer to a report request while another report is still being sent: one report at
    /// a time keeps what a CSMS can make the station hold to one cursor (B07/B08 Rejected).
    fn report_in_progress(&self) -> Option<(GenericDeviceModelStatus, Option<StatusInfo>)> {
        let cursor = self.report.as_ref()?;
        let page_queued = self.extra.count(NotifyReport::NAME) > 0;
        // A finished report whose last page was answered is over, pumped or not.
        if cursor.is_finished() && !page_queued {
            return None;
        }
        Some((
            GenericDeviceModelStatus::Rejected,
            Some(StatusInfo {
                reason_code: "ReportInProgress".to_owned(),
                additional_info: Some(format!(
                    "report {} is still being sent",
                    cursor.request_id()
                )),
            }),
        ))
    }

    /// A one-off message the CSMS refused or did not answer: a report missing a page ends
    /// there, rather than going on with a gap in its seqNo.
    pub(super) fn extra_failed(&mut self, action: &str) {
        if action != NotifyReport::NAME {
            return;
        }
        if let Some(cursor) = self.report.take() {
            log::warn!(
                "{}: NotifyReport of report {} failed; the report ends here",
                self.ocpp_id(),
                cursor.request_id()
            );
        }
    }

    /// Hands the next page of the running report to the send queue once the previous one was
    /// answered; the report ends when its last page was.
    pub(super) fn feed_report(&mut self, wall: SystemTime) {
        let Station {
            report,
            model,
            external,
            extra,
            ..
        } = self;
        let Some(cursor) = report else { return };
        if extra.count(NotifyReport::NAME) > 0 {
            return;
        }
        model.set_clock(wall);
        let per_page = model.items_per_message(Limited::GetReport);
        let Some(page) = cursor.next_page(model, external, per_page) else {
            *report = None;
            return;
        };
        match serde_json::to_value(page) {
            Ok(payload) => extra.push_back((NotifyReport::NAME, payload)),
            Err(e) => {
                log::error!("{}: cannot encode NotifyReport: {e}", self.settings.ocpp_id);
                *report = None;
            }
        }
    }

    /// Requests over ItemsPerMessage are refused whole, as B06/B05 require.
    fn check_size(&self, items: usize, limit: Limited) -> Result<(), Frame> {
        let max = self.model.items_per_message(limit);
        if items > max {
            return Err(Frame::error(
                "",
                ErrorCode::OccurrenceConstraintViolation,
                format!("{items} entries, at most {max} per message"),
            ));
        }
        if items == 0 && limit != Limited::GetReport {
            return Err(Frame::error(
                "",
                ErrorCode::OccurrenceConstraintViolation,
                "at least one entry is required",
            ));
        }
        Ok(())
    }
}

/// A station's model, with what the CSMS may already have set restored.
pub(super) fn build_model(settings: &StationSettings) -> DeviceModel {
    DeviceModel::new(&model_init(settings))
}
