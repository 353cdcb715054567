//! Device model (block B, B05–B08): GetVariables, SetVariables, GetBaseReport, GetReport and
//! NotifyReport, with the component/variable addressing they share.

use serde::{Deserialize, Serialize};

use super::{Action, Evse, StatusInfo};
pub use crate::ocpp::types::{
    Attribute, ComponentCriterion, DataType, GenericDeviceModelStatus, GetVariableStatus,
    Mutability, ReportBase, SetVariableStatus, TxPoint,
};

/// A physical or logical component (`ComponentType`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Component {
    /// Component name (case-insensitive, at most 50 characters).
    pub name: String,
    /// Instance name where the component exists more than once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The EVSE (and connector) the component belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evse: Option<Evse>,
}

/// A variable of a component (`VariableType`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Variable {
    /// Variable name (case-insensitive, at most 50 characters).
    pub name: String,
    /// Instance name where the variable exists more than once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
}

/// GetVariables: the CSMS reads variables.
#[derive(Debug, Clone, Copy)]
pub struct GetVariables;

impl Action for GetVariables {
    const NAME: &'static str = "GetVariables";
    type Request = GetVariablesRequest;
    type Response = GetVariablesResponse;
}

/// GetVariables CALL payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetVariablesRequest {
    /// What to read (at least one).
    pub get_variable_data: Vec<GetVariableData>,
}

/// One variable to read (`GetVariableDataType`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetVariableData {
    /// The attribute to read; `Actual` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute_type: Option<Attribute>,
    /// The component.
    pub component: Component,
    /// The variable.
    pub variable: Variable,
}

/// GetVariables CALLRESULT payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetVariablesResponse {
    /// One result per requested variable, in request order.
    pub get_variable_result: Vec<GetVariableResult>,
}

/// The result of reading one variable (`GetVariableResultType`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetVariableResult {
    /// Whether it was read.
    pub attribute_status: GetVariableStatus,
    /// Why not, in more detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute_status_info: Option<StatusInfo>,
    /// The attribute as requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute_type: Option<Attribute>,
    /// The value (at most 2500 characters); present only when Accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute_value: Option<String>,
    /// The component as requested.
    pub component: Component,
    /// The variable as requested.
    pub variable: Variable,
}

impl GetVariableResult {
    /// Schema `maxLength` of `attributeValue`.
    pub const VALUE_MAX: usize = 2500;
}

/// SetVariables: the CSMS writes variables.
#[derive(Debug, Clone, Copy)]
pub struct SetVariables;

impl Action for SetVariables {
    const NAME: &'static str = "SetVariables";
    type Request = SetVariablesRequest;
    type Response = SetVariablesResponse;
}

/// SetVariables CALL payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetVariablesRequest {
    /// What to write (at least one).
    pub set_variable_data: Vec<SetVariableData>,
}

/// One variable to write (`SetVariableDataType`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetVariableData {
    /// The attribute to write; `Actual` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute_type: Option<Attribute>,
    /// The new value (at most 1000 characters).
    pub attribute_value: String,
    /// The component.
    pub component: Component,
    /// The variable.
    pub variable: Variable,
}

impl SetVariableData {
    /// Schema `maxLength` of `attributeValue`.
    pub const VALUE_MAX: usize = 1000;
}

/// SetVariables CALLRESULT payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetVariablesResponse {
    /// One result per written variable, in request order.
    pub set_variable_result: Vec<SetVariableResult>,
}

/// The result of writing one variable (`SetVariableResultType`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetVariableResult {
    /// The attribute as requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute_type: Option<Attribute>,
    /// Whether it was written.
    pub attribute_status: SetVariableStatus,
    /// Why not, in more detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute_status_info: Option<StatusInfo>,
    /// The component as requested.
    pub component: Component,
    /// The variable as requested.
    pub variable: Variable,
}

/// GetBaseReport: the CSMS asks for a predefined report.
#[derive(Debug, Clone, Copy)]
pub struct GetBaseReport;

impl Action for GetBaseReport {
    const NAME: &'static str = "GetBaseReport";
    type Request = GetBaseReportRequest;
    type Response = GetBaseReportResponse;
}

/// GetBaseReport CALL payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetBaseReportRequest {
    /// Id the NotifyReport messages carry.
    pub request_id: i32,
    /// Which report.
    pub report_base: ReportBase,
}

/// GetBaseReport CALLRESULT payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetBaseReportResponse {
    /// Whether the report follows.
    pub status: GenericDeviceModelStatus,
    /// Why, in more detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_info: Option<StatusInfo>,
}

/// GetReport: the CSMS asks for a filtered report.
#[derive(Debug, Clone, Copy)]
pub struct GetReport;

impl Action for GetReport {
    const NAME: &'static str = "GetReport";
    type Request = GetReportRequest;
    type Response = GetReportResponse;
}

/// GetReport CALL payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetReportRequest {
    /// Only these components (and variables, where given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component_variable: Option<Vec<ComponentVariable>>,
    /// Id the NotifyReport messages carry.
    pub request_id: i32,
    /// Only components matching at least one of these (at most 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component_criteria: Option<Vec<ComponentCriterion>>,
}

/// A component, optionally narrowed to one variable (`ComponentVariableType`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentVariable {
    /// The component.
    pub component: Component,
    /// The variable; every variable of the component when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variable: Option<Variable>,
}

/// GetReport CALLRESULT payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetReportResponse {
    /// Whether the report follows.
    pub status: GenericDeviceModelStatus,
    /// Why, in more detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_info: Option<StatusInfo>,
}

/// NotifyReport: one page of a report the CSMS asked for.
#[derive(Debug, Clone, Copy)]
pub struct NotifyReport;

impl Action for NotifyReport {
    const NAME: &'static str = "NotifyReport";
    type Request = NotifyReportRequest;
    type Response = NotifyReportResponse;
}

/// NotifyReport CALL payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotifyReportRequest {
    /// The requestId of the GetReport or GetBaseReport.
    pub request_id: i32,
    /// When the report was generated, RFC 3339.
    pub generated_at: String,
    /// This page's entries (absent on an empty report).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_data: Option<Vec<ReportData>>,
    /// More pages follow.
    #[serde(default)]
    pub tbc: bool,
    /// Page number, from 0.
    pub seq_no: i32,
}

/// One variable in a report (`ReportDataType`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportData {
    /// The component.
    pub component: Component,
    /// The variable.
    pub variable: Variable,
    /// Its attributes (one to four).
    pub variable_attribute: Vec<VariableAttribute>,
    /// Its fixed properties.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variable_characteristics: Option<VariableCharacteristics>,
}

/// One attribute of a reported variable (`VariableAttributeType`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VariableAttribute {
    /// Which attribute; `Actual` when absent.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub attribute_type: Option<Attribute>,
    /// The value; absent only for write-only attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Who may read and write it; `ReadWrite` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutability: Option<Mutability>,
    /// The value survives a reboot.
    #[serde(default)]
    pub persistent: bool,
    /// The station never changes the value by itself.
    #[serde(default)]
    pub constant: bool,
}

/// The fixed properties of a variable (`VariableCharacteristicsType`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VariableCharacteristics {
    /// Unit of the value (at most 16 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// How the value is spelled.
    pub data_type: DataType,
    /// Lowest value (for strings and lists: shortest length).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_limit: Option<f64>,
    /// Highest value (for strings and lists: longest length).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_limit: Option<f64>,
    /// Allowed entries of an OptionList, MemberList or SequenceList, comma-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_list: Option<String>,
    /// The variable can be monitored (NotifyEvent); this gateway monitors nothing.
    pub supports_monitoring: bool,
}

/// NotifyReport CALLRESULT payload (empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyReportResponse {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ocpp::messages::test_support::check_deep as check;
    use serde_json::json;

    use crate::ocpp::messages::{call, decode_request, decode_response};

    fn heartbeat() -> (Component, Variable) {
        let c = serde_json::from_value(json!({"name": "OCPPCommCtrlr"}));
        let v = serde_json::from_value(json!({"name": "HeartbeatInterval"}));
        (c.expect("a component"), v.expect("a variable"))
    }

    #[test]
    fn enums_use_their_spec_spelling() {
        assert_eq!(json!(DataType::dateTime), json!("dateTime"));
        assert_eq!(json!(DataType::string), json!("string"));
        assert_eq!(DataType::parse("OptionList"), Some(DataType::OptionList));
        assert_eq!(DataType::ALL.len(), 8);
        assert_eq!(Attribute::ALL.len(), 4);
        assert_eq!(GetVariableStatus::ALL.len(), 5);
        assert_eq!(SetVariableStatus::ALL.len(), 6);
        assert_eq!(Mutability::ALL.len(), 3);
        assert_eq!(ReportBase::ALL.len(), 3);
        assert_eq!(ComponentCriterion::ALL.len(), 4);
        assert_eq!(GenericDeviceModelStatus::ALL.len(), 4);
        assert_eq!(TxPoint::parse("EVConnected"), Some(TxPoint::EVConnected));
    }

    #[test]
    fn get_variables_round_trip() {
        let (component, variable) = heartbeat();
        let connector = Component {
            name: "Connector".into(),
            instance: None,
            evse: Some(Evse {
                id: 1,
                connector_id: Some(1),
            }),
        };
        check(
            &GetVariablesRequest {
                get_variable_data: vec![
                    GetVariableData {
                        attribute_type: None,
                        component: component.clone(),
                        variable: variable.clone(),
                    },
                    GetVariableData {
                        attribute_type: Some(Attribute::MaxSet),
                        component: connector.clone(),
                        variable: Variable {
                            name: "AvailabilityState".into(),
                            instance: None,
                        },
                    },
                ],
            },
            json!({"getVariableData": [
                {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}},
                {"attributeType": "MaxSet",
                 "component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}},
                 "variable": {"name": "AvailabilityState"}}]}),
        );
        check(
            &GetVariablesResponse {
                get_variable_result: vec![GetVariableResult {
                    attribute_status: GetVariableStatus::Rejected,
                    attribute_status_info: Some(StatusInfo {
                        reason_code: "WriteOnly".into(),
                        additional_info: None,
                    }),
                    attribute_type: Some(Attribute::Actual),
                    attribute_value: None,
                    component,
                    variable: Variable {
                        name: "BasicAuthPassword".into(),
                        instance: Some("x".into()),
                    },
                }],
            },
            json!({"getVariableResult": [{
                "attributeStatus": "Rejected", "attributeStatusInfo": {"reasonCode": "WriteOnly"},
                "attributeType": "Actual", "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "BasicAuthPassword", "instance": "x"}}]}),
        );
    }

    #[test]
    fn set_variables_round_trip() {
        let (component, variable) = heartbeat();
        check(
            &SetVariablesRequest {
                set_variable_data: vec![SetVariableData {
                    attribute_type: None,
                    attribute_value: "600".into(),
                    component: component.clone(),
                    variable: variable.clone(),
                }],
            },
            json!({"setVariableData": [{"attributeValue": "600",
                "component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]}),
        );
        check(
            &SetVariablesResponse {
                set_variable_result: vec![SetVariableResult {
                    attribute_type: None,
                    attribute_status: SetVariableStatus::Accepted,
                    attribute_status_info: None,
                    component,
                    variable,
                }],
            },
            json!({"setVariableResult": [{"attributeStatus": "Accepted",
                "component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]}),
        );
    }

    #[test]
    fn reports_round_trip() {
        check(
            &GetBaseReportRequest {
                request_id: 7,
                report_base: ReportBase::SummaryInventory,
            },
            json!({"requestId": 7, "reportBase": "SummaryInventory"}),
        );
        check(
            &GetBaseReportResponse {
                status: GenericDeviceModelStatus::Accepted,
                status_info: None,
            },
            json!({"status": "Accepted"}),
        );
        let (component, variable) = heartbeat();
        check(
            &GetReportRequest {
                component_variable: Some(vec![ComponentVariable {
                    component: component.clone(),
                    variable: None,
                }]),
                request_id: 8,
                component_criteria: Some(vec![ComponentCriterion::Problem]),
            },
            json!({"componentVariable": [{"component": {"name": "OCPPCommCtrlr"}}],
                   "requestId": 8, "componentCriteria": ["Problem"]}),
        );
        check(
            &GetReportResponse {
                status: GenericDeviceModelStatus::EmptyResultSet,
                status_info: None,
            },
            json!({"status": "EmptyResultSet"}),
        );
        check(
            &NotifyReportRequest {
                request_id: 8,
                generated_at: "2024-01-01T00:00:00.000Z".into(),
                report_data: Some(vec![ReportData {
                    component,
                    variable,
                    variable_attribute: vec![VariableAttribute {
                        attribute_type: Some(Attribute::Actual),
                        value: Some("300".into()),
                        mutability: Some(Mutability::ReadWrite),
                        persistent: true,
                        constant: false,
                    }],
                    variable_characteristics: Some(VariableCharacteristics {
                        unit: Some("s".into()),
                        data_type: DataType::integer,
                        min_limit: Some(1.0),
                        max_limit: None,
                        values_list: None,
                        supports_monitoring: false,
                    }),
                }]),
                tbc: true,
                seq_no: 0,
            },
            json!({"requestId": 8, "generatedAt": "2024-01-01T00:00:00.000Z", "tbc": true, "seqNo": 0,
                   "reportData": [{"component": {"name": "OCPPCommCtrlr"},
                                   "variable": {"name": "HeartbeatInterval"},
                                   "variableAttribute": [{"type": "Actual", "value": "300",
                                       "mutability": "ReadWrite", "persistent": true, "constant": false}],
                                   "variableCharacteristics": {"unit": "s", "dataType": "integer",
                                       "minLimit": 1.0, "supportsMonitoring": false}}]}),
        );
        check(&NotifyReportResponse {}, json!({}));
    }

    #[test]
    fn decode_names_the_bad_field() {
        let bad = json!({"getVariableData": [{"component": {"name": "X"}, "variable": {}}]});
        let err = decode_request::<GetVariables>(&bad).expect_err("variable has no name");
        assert_eq!(err.action, "GetVariables");
        assert_eq!(err.path, "getVariableData[0].variable");
        let bad_base = json!({"requestId": 1, "reportBase": "Everything"});
        assert_eq!(
            decode_request::<GetBaseReport>(&bad_base).map_err(|e| e.path),
            Err("reportBase".to_owned())
        );
        assert_eq!(
            decode_response::<NotifyReport>(&json!({})).ok(),
            Some(NotifyReportResponse {})
        );
        let frame = call::<GetReport>(
            "1",
            &GetReportRequest {
                component_variable: None,
                request_id: 3,
                component_criteria: None,
            },
        )
        .ok();
        assert_eq!(
            frame.map(|f| f.to_text()),
            Some(r#"[2,"1","GetReport",{"requestId":3}]"#.to_owned())
        );
    }
}
