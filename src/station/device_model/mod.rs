//! The OCPP 2.0.1 device model of one virtual charging station: its components, variables and
//! their attributes, read and written by the CSMS (GetVariables, SetVariables), reported
//! (GetBaseReport, GetReport → NotifyReport) and kept across restarts.
//!
//! Pure: no threads, no sockets; the only file I/O is in [`read_store`] and [`write_store`].
//! Variables the template maps to the device come in through [`ExternalVariables`] and behave
//! like built-in ones.

mod access;
mod getters;
mod report;
mod standard;
mod store;
mod value;

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::ocpp::messages::{
    Attribute, Component, ConnectorStatus, DataType, Evse, Mutability, Variable,
    VariableCharacteristics,
};
use crate::util::time::rfc3339;

pub use getters::Limited;
pub use report::ReportCursor;
pub use standard::DeviceModelInit;
use standard::TIME_SOURCE_CSMS;
pub use store::{read_store, write_store, StoreError, STORE_FILE};

/// A standard variable the station reads through a typed getter of [`DeviceModel`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Setting {
    /// OCPPCommCtrlr.HeartbeatInterval.
    HeartbeatInterval,
    /// OCPPCommCtrlr.MessageTimeout[Default].
    MessageTimeout,
    /// OCPPCommCtrlr.MessageAttempts[TransactionEvent].
    MessageAttemptsTransactionEvent,
    /// OCPPCommCtrlr.MessageAttemptInterval[TransactionEvent].
    MessageAttemptIntervalTransactionEvent,
    /// OCPPCommCtrlr.OfflineThreshold.
    OfflineThreshold,
    /// OCPPCommCtrlr.ResetRetries.
    ResetRetries,
    /// OCPPCommCtrlr.RetryBackOffRandomRange.
    RetryBackOffRandomRange,
    /// OCPPCommCtrlr.RetryBackOffRepeatTimes.
    RetryBackOffRepeatTimes,
    /// OCPPCommCtrlr.RetryBackOffWaitMinimum.
    RetryBackOffWaitMinimum,
    /// OCPPCommCtrlr.WebSocketPingInterval.
    WebSocketPingInterval,
    /// OCPPCommCtrlr.NetworkConfigurationPriority.
    NetworkConfigurationPriority,
    /// OCPPCommCtrlr.NetworkProfileConnectionAttempts.
    NetworkProfileConnectionAttempts,
    /// OCPPCommCtrlr.UnlockOnEVSideDisconnect.
    UnlockOnEVSideDisconnect,
    /// OCPPCommCtrlr.FileTransferProtocols.
    FileTransferProtocols,
    /// TxCtrlr.EVConnectionTimeOut.
    EVConnectionTimeOut,
    /// TxCtrlr.StopTxOnEVSideDisconnect.
    StopTxOnEVSideDisconnect,
    /// TxCtrlr.StopTxOnInvalidId.
    StopTxOnInvalidId,
    /// TxCtrlr.TxStartPoint.
    TxStartPoint,
    /// TxCtrlr.TxStopPoint.
    TxStopPoint,
    /// TxCtrlr.MaxEnergyOnInvalidId.
    MaxEnergyOnInvalidId,
    /// SampledDataCtrlr.Enabled.
    SampledDataEnabled,
    /// SampledDataCtrlr.TxStartedMeasurands.
    SampledTxStartedMeasurands,
    /// SampledDataCtrlr.TxUpdatedMeasurands.
    SampledTxUpdatedMeasurands,
    /// SampledDataCtrlr.TxUpdatedInterval.
    SampledTxUpdatedInterval,
    /// SampledDataCtrlr.TxEndedMeasurands.
    SampledTxEndedMeasurands,
    /// SampledDataCtrlr.TxEndedInterval.
    SampledTxEndedInterval,
    /// AlignedDataCtrlr.Enabled.
    AlignedDataEnabled,
    /// AlignedDataCtrlr.Interval.
    AlignedDataInterval,
    /// AlignedDataCtrlr.Measurands.
    AlignedDataMeasurands,
    /// AlignedDataCtrlr.TxEndedInterval.
    AlignedDataTxEndedInterval,
    /// AlignedDataCtrlr.TxEndedMeasurands.
    AlignedDataTxEndedMeasurands,
    /// AuthCtrlr.Enabled.
    AuthEnabled,
    /// AuthCtrlr.AuthorizeRemoteStart.
    AuthorizeRemoteStart,
    /// AuthCtrlr.LocalAuthorizeOffline.
    LocalAuthorizeOffline,
    /// AuthCtrlr.LocalPreAuthorize.
    LocalPreAuthorize,
    /// DeviceDataCtrlr.ItemsPerMessage[GetReport].
    ItemsPerMessageGetReport,
    /// DeviceDataCtrlr.ItemsPerMessage[GetVariables].
    ItemsPerMessageGetVariables,
    /// DeviceDataCtrlr.ItemsPerMessage[SetVariables].
    ItemsPerMessageSetVariables,
    /// DeviceDataCtrlr.BytesPerMessage[GetReport].
    BytesPerMessageGetReport,
    /// DeviceDataCtrlr.BytesPerMessage[GetVariables].
    BytesPerMessageGetVariables,
    /// DeviceDataCtrlr.BytesPerMessage[SetVariables].
    BytesPerMessageSetVariables,
    /// SecurityCtrlr.SecurityProfile.
    SecurityProfile,
    /// SecurityCtrlr.Identity.
    Identity,
    /// SecurityCtrlr.BasicAuthPassword (write-only).
    BasicAuthPassword,
    /// SecurityCtrlr.OrganizationName.
    OrganizationName,
    /// SecurityCtrlr.CertificateEntries.
    CertificateEntries,
}

/// What a SetVariables changed, so the station can react (e.g. re-arm its heartbeat timer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changed {
    /// A standard variable; its new value is behind the matching getter.
    Setting(Setting),
    /// A template variable, already written through [`ExternalVariables::set`].
    External {
        /// Component name as the template spells it.
        component: String,
        /// Variable name as the template spells it.
        variable: String,
    },
}

/// A variable the template maps to the device, as the device model sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalVariable {
    /// Component name (no instance, no EVSE).
    pub component: String,
    /// Variable name.
    pub variable: String,
    /// Whether the CSMS may read or write it.
    pub mutability: Mutability,
    /// How its value is spelled.
    pub data_type: DataType,
    /// Its unit, if it has one.
    pub unit: Option<String>,
}

/// The template-mapped variables of a station's device, which the station owns.
pub trait ExternalVariables {
    /// Every mapped variable.
    fn list(&self) -> Vec<ExternalVariable>;
    /// The current value, if the device has reported one.
    fn get(&self, component: &str, variable: &str) -> Option<String>;
    /// Writes a value the model already checked against the data type; `Err` says why the
    /// device cannot take it.
    fn set(&mut self, component: &str, variable: &str, value: &str) -> Result<(), String>;
}

/// A device with no template-mapped variables.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoExternal;

impl ExternalVariables for NoExternal {
    fn list(&self) -> Vec<ExternalVariable> {
        Vec::new()
    }

    fn get(&self, _component: &str, _variable: &str) -> Option<String> {
        None
    }

    fn set(&mut self, _component: &str, _variable: &str, _value: &str) -> Result<(), String> {
        Err("no such variable".to_owned())
    }
}

/// One attribute of a variable and its value.
#[derive(Clone)]
struct Slot {
    attribute: Attribute,
    mutability: Mutability,
    persistent: bool,
    constant: bool,
    value: String,
    /// Set by the CSMS (or restored from the store) rather than from the station's config.
    changed: bool,
}

impl fmt::Debug for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A write-only value is a secret; it must not reach a log through `{:?}`.
        let value = match self.mutability {
            Mutability::WriteOnly => "<write-only>",
            _ => self.value.as_str(),
        };
        f.debug_struct("Slot")
            .field("attribute", &self.attribute)
            .field("mutability", &self.mutability)
            .field("value", &value)
            .field("changed", &self.changed)
            .finish()
    }
}

/// One variable of one component.
#[derive(Debug, Clone)]
struct Entry {
    component: Component,
    variable: Variable,
    characteristics: VariableCharacteristics,
    /// Actual first; at most four.
    slots: Vec<Slot>,
    setting: Option<Setting>,
}

impl Entry {
    fn slot(&self, attribute: Attribute) -> Option<&Slot> {
        self.slots.iter().find(|s| s.attribute == attribute)
    }

    fn slot_mut(&mut self, attribute: Attribute) -> Option<&mut Slot> {
        self.slots.iter_mut().find(|s| s.attribute == attribute)
    }

    fn actual(&self) -> Option<&str> {
        self.slot(Attribute::Actual).map(|s| s.value.as_str())
    }
}

/// The components and variables of one virtual charging station.
#[derive(Debug, Clone)]
pub struct DeviceModel {
    entries: Vec<Entry>,
    by_setting: HashMap<Setting, usize>,
    /// CSMS time minus host time, in ms, from the CSMS's last currentTime.
    csms_offset_ms: Option<i128>,
}

impl DeviceModel {
    /// The standard controllers and the station's EVSEs and connectors, with values from `init`.
    pub fn new(init: &DeviceModelInit) -> Self {
        let entries = standard::entries(init);
        let by_setting = entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.setting.map(|s| (s, i)))
            .collect();
        DeviceModel {
            entries,
            by_setting,
            csms_offset_ms: None,
        }
    }

    /// Takes the CSMS's `currentTime` (BootNotification or Heartbeat answer) received when the
    /// host clock read `wall`: from now on ClockCtrlr.DateTime follows the CSMS's clock.
    pub fn set_csms_time(&mut self, csms: SystemTime, wall: SystemTime) {
        self.csms_offset_ms = Some(millis(csms) - millis(wall));
        self.set_dynamic(
            "ClockCtrlr",
            None,
            "TimeSource",
            TIME_SOURCE_CSMS.to_owned(),
        );
    }

    /// The CSMS's time when the host clock reads `wall` (the host's time until it is known).
    pub fn csms_time(&self, wall: SystemTime) -> SystemTime {
        let offset = self.csms_offset_ms.unwrap_or(0);
        let shift = Duration::from_millis(u64::try_from(offset.unsigned_abs()).unwrap_or(u64::MAX));
        let shifted = if offset < 0 {
            wall.checked_sub(shift)
        } else {
            wall.checked_add(shift)
        };
        shifted.unwrap_or(wall)
    }

    /// Brings ClockCtrlr.DateTime to the time at `wall`, before it is read or reported.
    pub fn set_clock(&mut self, wall: SystemTime) {
        let now = rfc3339(self.csms_time(wall));
        self.set_dynamic("ClockCtrlr", None, "DateTime", now);
    }

    /// Sets ChargingStation.AvailabilityState (and Problem while Faulted).
    pub fn set_station_availability(&mut self, status: ConnectorStatus) {
        self.set_availability("ChargingStation", None, status);
    }

    /// Sets AvailabilityState (and Problem while Faulted) of EVSE `evse_id` and its connector.
    pub fn set_evse_availability(&mut self, evse_id: i32, status: ConnectorStatus) {
        self.set_availability("EVSE", Some((evse_id, None)), status);
        self.set_availability("Connector", Some((evse_id, Some(1))), status);
    }

    /// Sets OCPPCommCtrlr.HeartbeatInterval to the interval an accepted BootNotification gave,
    /// so GetVariables and later settings changes agree with the heartbeat actually sent.
    pub fn set_heartbeat_interval(&mut self, interval: Duration) {
        let slot = self
            .by_setting
            .get(&Setting::HeartbeatInterval)
            .and_then(|&i| self.entries.get_mut(i))
            .and_then(|e| e.slot_mut(Attribute::Actual));
        if let Some(slot) = slot {
            slot.value = interval.as_secs().to_string();
            slot.changed = true;
        }
    }

    fn set_availability(
        &mut self,
        component: &str,
        evse: Option<(i32, Option<i32>)>,
        status: ConnectorStatus,
    ) {
        self.set_dynamic(component, evse, "AvailabilityState", status.to_string());
        let problem = status == ConnectorStatus::Faulted;
        self.set_dynamic(component, evse, "Problem", problem.to_string());
    }

    /// Replaces the Actual value of a variable the station itself keeps up to date.
    fn set_dynamic(
        &mut self,
        component: &str,
        evse: Option<(i32, Option<i32>)>,
        variable: &str,
        value: String,
    ) {
        let evse = evse.map(|(id, connector_id)| Evse { id, connector_id });
        let slot = self
            .entries
            .iter_mut()
            .find(|e| {
                e.component.name == component
                    && e.component.evse == evse
                    && e.variable.name == variable
            })
            .and_then(|e| e.slot_mut(Attribute::Actual));
        match slot {
            Some(slot) => slot.value = value,
            None => log::debug!("device model has no {component}.{variable} for {evse:?}"),
        }
    }

    fn entry(&self, setting: Setting) -> Option<&Entry> {
        self.by_setting
            .get(&setting)
            .and_then(|&i| self.entries.get(i))
    }

    /// The Actual value of a standard variable.
    fn actual(&self, setting: Setting) -> Option<&str> {
        self.entry(setting).and_then(Entry::actual)
    }
}

/// The EVSE every template variable of an `EVSE` or `Connector` component belongs to: a
/// device is one EVSE with one connector.
const DEVICE_EVSE: i32 = 1;

/// Where a template variable sits: `EVSE` and `Connector` variables on the device's EVSE and
/// its connector, as a CSMS addresses them; other components have no EVSE.
fn external_component(x: &ExternalVariable) -> Component {
    let evse = if same_name(&x.component, "EVSE") {
        Some(Evse {
            id: DEVICE_EVSE,
            connector_id: None,
        })
    } else if same_name(&x.component, "Connector") {
        Some(Evse {
            id: DEVICE_EVSE,
            connector_id: Some(1),
        })
    } else {
        None
    };
    Component {
        name: x.component.clone(),
        instance: None,
        evse,
    }
}

impl DeviceModel {
    /// The built-in variable a template variable stands for (e.g. `EVSE.Power` mapped from the
    /// active power measurand): the two are one variable, valued by the device.
    fn twin_of(&self, x: &ExternalVariable) -> Option<usize> {
        let component = external_component(x);
        self.entries.iter().position(|e| {
            e.component == component
                && e.variable.instance.is_none()
                && same_name(&e.variable.name, &x.variable)
        })
    }

    /// The device's value of built-in entry `index` where a template variable stands for it.
    fn twin_value(
        &self,
        index: usize,
        ext: &dyn ExternalVariables,
        external: &[ExternalVariable],
    ) -> Option<String> {
        let x = external.iter().find(|x| self.twin_of(x) == Some(index))?;
        ext.get(&x.component, &x.variable)
    }
}

/// Milliseconds since the Unix epoch, negative before it.
fn millis(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i128::try_from(d.as_millis()).unwrap_or(i128::MAX),
        Err(e) => -i128::try_from(e.duration().as_millis()).unwrap_or(i128::MAX),
    }
}

/// The first `max` characters of `s`.
fn truncate(mut s: String, max: usize) -> String {
    if let Some((at, _)) = s.char_indices().nth(max) {
        s.truncate(at);
    }
    s
}

/// Names are case-insensitive on the wire.
fn same_name(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

fn same_instance(a: &Option<String>, b: &Option<String>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => same_name(a, b),
        _ => false,
    }
}

/// Exact addressing, as GetVariables and SetVariables use it.
fn same_component(want: &Component, have: &Component) -> bool {
    same_name(&want.name, &have.name)
        && same_instance(&want.instance, &have.instance)
        && want.evse == have.evse
}

fn same_variable(want: &Variable, have: &Variable) -> bool {
    same_name(&want.name, &have.name) && same_instance(&want.instance, &have.instance)
}

#[cfg(test)]
mod tests;
