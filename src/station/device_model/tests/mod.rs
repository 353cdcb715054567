//! Shared fixtures for the device-model tests.

mod access;
mod honesty;
mod report;
mod store;

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::ocpp::messages::{
    GetVariableData, GetVariableResult, GetVariablesRequest, ReportBase, SetVariableData,
    SetVariableResult, SetVariableStatus, SetVariablesRequest, TxPoint,
};
use crate::station::Backoff;

const PASSWORD: &str = "0123456789abcdef-initial";

fn init() -> DeviceModelInit {
    DeviceModelInit {
        identity: "CP-1".into(),
        vendor_name: "Vendor".into(),
        model: "Model".into(),
        organization_name: "Org".into(),
        evse_count: 2,
        connector_type: "sType2".into(),
        supply_phases: 3,
        evse_max_power_w: Some(22_000.0),
        heartbeat_interval: Duration::from_secs(300),
        message_timeout: Duration::from_secs(30),
        backoff: Backoff {
            wait_minimum: Duration::from_secs(10),
            random_range: Duration::from_secs(5),
            repeat_times: 4,
        },
        ping_interval: Duration::from_secs(60),
        security_profile: 1,
        basic_auth_password: Some(PASSWORD.into()),
        certificate_entries: 0,
        auth_enabled: false,
        measurands: vec![
            "Energy.Active.Import.Register".into(),
            "Voltage".into(),
            "Current.Import".into(),
        ],
        tx_points: vec![
            TxPoint::EVConnected,
            TxPoint::Authorized,
            TxPoint::PowerPathClosed,
            TxPoint::EnergyTransfer,
        ],
        tx_start_point: vec![TxPoint::PowerPathClosed],
        tx_stop_point: vec![TxPoint::EVConnected],
    }
}

fn model() -> DeviceModel {
    DeviceModel::new(&init())
}

fn component(name: &str) -> Component {
    Component {
        name: name.into(),
        instance: None,
        evse: None,
    }
}

fn on_evse(name: &str, id: i32, connector_id: Option<i32>) -> Component {
    Component {
        evse: Some(Evse { id, connector_id }),
        ..component(name)
    }
}

fn variable(name: &str) -> Variable {
    Variable {
        name: name.into(),
        instance: None,
    }
}

fn instance(name: &str, instance: &str) -> Variable {
    Variable {
        name: name.into(),
        instance: Some(instance.into()),
    }
}

/// Template variables held in a map; `refuse` makes every write fail.
#[derive(Default)]
struct Device {
    vars: Vec<ExternalVariable>,
    values: BTreeMap<String, String>,
    refuse: bool,
}

impl Device {
    fn with(mut self, component: &str, var: &str, m: Mutability, t: DataType) -> Self {
        self.vars.push(ExternalVariable {
            component: component.into(),
            variable: var.into(),
            mutability: m,
            data_type: t,
            unit: None,
        });
        self
    }
}

impl ExternalVariables for Device {
    fn list(&self) -> Vec<ExternalVariable> {
        self.vars.clone()
    }

    fn get(&self, component: &str, variable: &str) -> Option<String> {
        self.values.get(&format!("{component}.{variable}")).cloned()
    }

    fn set(&mut self, component: &str, variable: &str, value: &str) -> Result<(), String> {
        if self.refuse {
            return Err("device busy".into());
        }
        self.values
            .insert(format!("{component}.{variable}"), value.to_owned());
        Ok(())
    }
}

fn get(
    m: &DeviceModel,
    ext: &dyn ExternalVariables,
    c: Component,
    v: Variable,
    a: Option<Attribute>,
) -> GetVariableResult {
    let req = GetVariablesRequest {
        get_variable_data: vec![GetVariableData {
            attribute_type: a,
            component: c,
            variable: v,
        }],
    };
    let mut res = m.get_variables(&req, ext).get_variable_result;
    assert_eq!(res.len(), 1);
    res.remove(0)
}

fn set(
    m: &mut DeviceModel,
    ext: &mut dyn ExternalVariables,
    c: Component,
    v: Variable,
    a: Option<Attribute>,
    value: &str,
) -> (SetVariableResult, Vec<Changed>) {
    let req = SetVariablesRequest {
        set_variable_data: vec![SetVariableData {
            attribute_type: a,
            attribute_value: value.into(),
            component: c,
            variable: v,
        }],
    };
    let (res, changed) = m.set_variables(&req, ext);
    let mut res = res.set_variable_result;
    assert_eq!(res.len(), 1);
    (res.remove(0), changed)
}

/// Every page of `cursor`, `per_page` entries each.
fn pages(
    m: &DeviceModel,
    ext: &dyn ExternalVariables,
    mut cursor: ReportCursor,
    per_page: usize,
) -> Vec<crate::ocpp::messages::NotifyReportRequest> {
    std::iter::from_fn(|| cursor.next_page(m, ext, per_page)).collect()
}

/// The data of every page of `cursor`.
fn drain(
    m: &DeviceModel,
    ext: &dyn ExternalVariables,
    cursor: ReportCursor,
) -> Vec<crate::ocpp::messages::ReportData> {
    pages(m, ext, cursor, 7)
        .into_iter()
        .flat_map(|p| p.report_data.unwrap_or_default())
        .collect()
}

/// The whole data of a GetBaseReport.
fn base_report(
    m: &DeviceModel,
    base: ReportBase,
    ext: &dyn ExternalVariables,
) -> Vec<crate::ocpp::messages::ReportData> {
    drain(m, ext, m.base_report(1, base, std::time::UNIX_EPOCH))
}

/// The whole data of a GetReport.
fn report(
    m: &DeviceModel,
    req: &crate::ocpp::messages::GetReportRequest,
    ext: &dyn ExternalVariables,
) -> Result<Vec<crate::ocpp::messages::ReportData>, crate::ocpp::messages::GenericDeviceModelStatus>
{
    m.report(req, ext, std::time::UNIX_EPOCH)
        .map(|cursor| drain(m, ext, cursor))
}
