//! Every device-model message, built from a real station's model, against the official
//! OCPP 2.0.1 JSON schemas.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{validate_payload, Kind};
use ocpp_gw::ocpp::messages::{
    Action, Attribute, Component, ComponentCriterion, ComponentVariable, ConnectorStatus, DataType,
    GenericDeviceModelStatus, GetBaseReport, GetBaseReportRequest, GetBaseReportResponse,
    GetReport, GetReportRequest, GetReportResponse, GetVariableData, GetVariables,
    GetVariablesRequest, Mutability, NotifyReport, NotifyReportRequest, NotifyReportResponse,
    ReportBase, SetVariableData, SetVariables, SetVariablesRequest, TxPoint, Variable,
};
use ocpp_gw::station::device_model::{
    DeviceModel, DeviceModelInit, ExternalVariable, ExternalVariables, ReportCursor,
};
use ocpp_gw::station::Backoff;
use serde::Serialize;

/// Every NotifyReport page of `cursor`, `per_page` entries each.
fn pages(
    model: &DeviceModel,
    device: &Device,
    mut cursor: ReportCursor,
    per_page: usize,
) -> Vec<NotifyReportRequest> {
    std::iter::from_fn(|| cursor.next_page(model, device, per_page)).collect()
}

/// A device with a few template variables of different kinds.
struct Device(BTreeMap<String, String>);

impl ExternalVariables for Device {
    fn list(&self) -> Vec<ExternalVariable> {
        let var = |variable: &str, mutability, data_type, unit: Option<&str>| ExternalVariable {
            component: "Meter".into(),
            variable: variable.into(),
            mutability,
            data_type,
            unit: unit.map(str::to_owned),
        };
        vec![
            var(
                "Temperature",
                Mutability::ReadOnly,
                DataType::decimal,
                Some("Celsius"),
            ),
            var("Mode", Mutability::ReadWrite, DataType::string, None),
            var("Pin", Mutability::WriteOnly, DataType::integer, None),
            // The active power: the EVSE's standard Power variable, valued by the device.
            ExternalVariable {
                component: "EVSE".into(),
                variable: "Power".into(),
                mutability: Mutability::ReadOnly,
                data_type: DataType::decimal,
                unit: Some("W".into()),
            },
        ]
    }

    fn get(&self, component: &str, variable: &str) -> Option<String> {
        self.0.get(&format!("{component}.{variable}")).cloned()
    }

    fn set(&mut self, component: &str, variable: &str, value: &str) -> Result<(), String> {
        self.0
            .insert(format!("{component}.{variable}"), value.to_owned());
        Ok(())
    }
}

fn station() -> (DeviceModel, Device) {
    let init = DeviceModelInit {
        identity: "GW-CP-0001".into(),
        vendor_name: "Legacy Chargers Inc.".into(),
        model: "AC22".into(),
        organization_name: "Example CPO".into(),
        evse_count: 2,
        connector_type: "cType2".into(),
        supply_phases: 3,
        evse_max_power_w: Some(22_080.0),
        heartbeat_interval: Duration::from_secs(300),
        message_timeout: Duration::from_secs(30),
        backoff: Backoff {
            wait_minimum: Duration::from_secs(30),
            random_range: Duration::from_secs(10),
            repeat_times: 10,
        },
        ping_interval: Duration::from_secs(60),
        security_profile: 2,
        basic_auth_password: Some("initial-password-0123".into()),
        certificate_entries: 1,
        auth_enabled: true,
        measurands: vec![
            "Energy.Active.Import.Register".into(),
            "Power.Active.Import".into(),
            "Current.Import".into(),
            "Voltage".into(),
        ],
        tx_points: vec![
            TxPoint::EVConnected,
            TxPoint::Authorized,
            TxPoint::PowerPathClosed,
            TxPoint::EnergyTransfer,
        ],
        tx_start_point: vec![TxPoint::EVConnected, TxPoint::Authorized],
        tx_stop_point: vec![TxPoint::EVConnected],
    };
    let mut model = DeviceModel::new(&init);
    model.set_station_availability(ConnectorStatus::Available);
    model.set_evse_availability(1, ConnectorStatus::Occupied);
    model.set_evse_availability(2, ConnectorStatus::Faulted);
    let device = Device(BTreeMap::from([
        ("Meter.Temperature".to_owned(), "41.5".to_owned()),
        ("EVSE.Power".to_owned(), "7360.5".to_owned()),
    ]));
    (model, device)
}

fn valid<A: Action>(kind: Kind, payload: &impl Serialize) {
    let value = serde_json::to_value(payload).expect("payload serializes");
    if let Err(e) = validate_payload(A::NAME, kind, &value) {
        panic!("{e}\n{value:#}");
    }
}

fn at() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(1_764_000_000_123)
}

fn component(name: &str) -> Component {
    Component {
        name: name.into(),
        instance: None,
        evse: None,
    }
}

fn variable(name: &str) -> Variable {
    Variable {
        name: name.into(),
        instance: None,
    }
}

#[test]
fn get_variables_of_every_variable_and_attribute() {
    let (model, device) = station();
    let full = model.base_report(1, ReportBase::FullInventory, at());
    let mut data: Vec<GetVariableData> = pages(&model, &device, full, 1000)
        .into_iter()
        .flat_map(|p| p.report_data.unwrap_or_default())
        .flat_map(|r| {
            let attributes: Vec<Option<Attribute>> = Attribute::ALL
                .iter()
                .map(|a| Some(*a))
                .chain([None])
                .collect();
            attributes.into_iter().map(move |a| GetVariableData {
                attribute_type: a,
                component: r.component.clone(),
                variable: r.variable.clone(),
            })
        })
        .collect();
    data.push(GetVariableData {
        attribute_type: None,
        component: component("NoSuchCtrlr"),
        variable: variable("X"),
    });
    data.push(GetVariableData {
        attribute_type: None,
        component: component("ChargingStation"),
        variable: variable("NoSuchVariable"),
    });
    let req = GetVariablesRequest {
        get_variable_data: data,
    };
    valid::<GetVariables>(Kind::Request, &req);
    let res = model.get_variables(&req, &device);
    assert_eq!(res.get_variable_result.len(), req.get_variable_data.len());
    valid::<GetVariables>(Kind::Response, &res);
}

#[test]
fn set_variables_accepted_and_refused() {
    let (mut model, mut device) = station();
    let data = |c: Component, v: Variable, a: Option<Attribute>, value: &str| SetVariableData {
        attribute_type: a,
        attribute_value: value.into(),
        component: c,
        variable: v,
    };
    let comm = component("OCPPCommCtrlr");
    let req = SetVariablesRequest {
        set_variable_data: vec![
            data(comm.clone(), variable("HeartbeatInterval"), None, "600"),
            data(comm.clone(), variable("HeartbeatInterval"), None, "-5"),
            data(
                comm.clone(),
                variable("HeartbeatInterval"),
                Some(Attribute::Target),
                "5",
            ),
            data(comm, variable("NetworkConfigurationPriority"), None, "1"),
            data(
                component("SecurityCtrlr"),
                variable("SecurityProfile"),
                None,
                "3",
            ),
            data(
                component("SecurityCtrlr"),
                variable("BasicAuthPassword"),
                None,
                "a-brand-new-password",
            ),
            data(
                component("TxCtrlr"),
                variable("TxStartPoint"),
                None,
                "DataSigned",
            ),
            data(component("Meter"), variable("Mode"), None, "eco"),
            data(component("Meter"), variable("Temperature"), None, "20"),
            data(component("Nope"), variable("Nope"), None, "1"),
            data(component("AuthCtrlr"), variable("Nope"), None, "1"),
        ],
    };
    valid::<SetVariables>(Kind::Request, &req);
    let (res, changed) = model.set_variables(&req, &mut device);
    // HeartbeatInterval, BasicAuthPassword and Meter.Mode; the priority was already "1".
    assert_eq!(changed.len(), 3);
    valid::<SetVariables>(Kind::Response, &res);
}

#[test]
fn base_reports_and_their_pages() {
    let (model, device) = station();
    for (i, base) in ReportBase::ALL.iter().enumerate() {
        let request_id = i32::try_from(i).expect("three bases");
        valid::<GetBaseReport>(
            Kind::Request,
            &GetBaseReportRequest {
                request_id,
                report_base: *base,
            },
        );
        valid::<GetBaseReport>(
            Kind::Response,
            &GetBaseReportResponse {
                status: GenericDeviceModelStatus::Accepted,
                status_info: None,
            },
        );
        let cursor = model.base_report(request_id, *base, at());
        let pages = pages(&model, &device, cursor, 7);
        assert!(pages.len() > 1, "{base}");
        for page in &pages {
            valid::<NotifyReport>(Kind::Request, page);
        }
    }
    valid::<NotifyReport>(Kind::Response, &NotifyReportResponse {});
    let empty = NotifyReportRequest {
        request_id: 9,
        generated_at: "2025-11-24T16:00:00.123Z".into(),
        report_data: None,
        tbc: false,
        seq_no: 0,
    };
    valid::<NotifyReport>(Kind::Request, &empty);
}

#[test]
fn custom_reports_and_their_pages() {
    let (model, device) = station();
    let req = GetReportRequest {
        component_variable: Some(vec![
            ComponentVariable {
                component: component("EVSE"),
                variable: None,
            },
            ComponentVariable {
                component: component("SecurityCtrlr"),
                variable: Some(variable("BasicAuthPassword")),
            },
            ComponentVariable {
                component: component("Meter"),
                variable: None,
            },
        ]),
        request_id: 5,
        component_criteria: Some(ComponentCriterion::ALL.to_vec()),
    };
    valid::<GetReport>(Kind::Request, &req);
    let data = model.report(&req, &device, at()).expect("EVSEs match");
    valid::<GetReport>(
        Kind::Response,
        &GetReportResponse {
            status: GenericDeviceModelStatus::Accepted,
            status_info: None,
        },
    );
    for page in pages(&model, &device, data, 3) {
        valid::<NotifyReport>(Kind::Request, &page);
    }
    let problems = GetReportRequest {
        component_variable: None,
        request_id: 6,
        component_criteria: Some(vec![ComponentCriterion::Problem]),
    };
    let faulted = model
        .report(&problems, &device, at())
        .expect("EVSE 2 is faulted");
    for page in pages(&model, &device, faulted, 100) {
        valid::<NotifyReport>(Kind::Request, &page);
    }
    let status = model
        .report(
            &GetReportRequest {
                component_variable: Some(vec![ComponentVariable {
                    component: component("Nope"),
                    variable: None,
                }]),
                request_id: 7,
                component_criteria: None,
            },
            &device,
            at(),
        )
        .expect_err("nothing matches");
    valid::<GetReport>(
        Kind::Response,
        &GetReportResponse {
            status,
            status_info: None,
        },
    );
}

#[test]
fn the_validator_catches_a_broken_page() {
    let (model, device) = station();
    let summary = model.base_report(1, ReportBase::SummaryInventory, at());
    let page = pages(&model, &device, summary, 100).remove(0);
    let mut value = serde_json::to_value(&page).expect("page serializes");
    value["reportData"] = serde_json::json!([]);
    assert!(validate_payload(NotifyReport::NAME, Kind::Request, &value).is_err());
    let mut dated = serde_json::to_value(NotifyReportRequest {
        generated_at: "yesterday".into(),
        ..page
    })
    .expect("page serializes");
    assert!(validate_payload(NotifyReport::NAME, Kind::Request, &dated).is_err());
    dated["generatedAt"] = serde_json::json!("2025-11-24T16:00:00.123Z");
    assert!(validate_payload(NotifyReport::NAME, Kind::Request, &dated).is_ok());
}
