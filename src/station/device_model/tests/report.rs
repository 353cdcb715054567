//! GetBaseReport, GetReport filters and NotifyReport paging.

use std::time::{SystemTime, UNIX_EPOCH};

use super::*;
use crate::ocpp::messages::{
    ComponentCriterion, ComponentVariable, GenericDeviceModelStatus, GetReportRequest, ReportData,
};

fn names(data: &[ReportData]) -> Vec<String> {
    data.iter()
        .map(|r| {
            let evse = r
                .component
                .evse
                .as_ref()
                .map(|e| format!("[{}]", e.id))
                .unwrap_or_default();
            let instance = r
                .variable
                .instance
                .as_ref()
                .map(|i| format!("[{i}]"))
                .unwrap_or_default();
            format!("{}{evse}.{}{instance}", r.component.name, r.variable.name)
        })
        .collect()
}

fn request(
    cv: Option<Vec<ComponentVariable>>,
    criteria: Option<Vec<ComponentCriterion>>,
) -> GetReportRequest {
    GetReportRequest {
        component_variable: cv,
        request_id: 1,
        component_criteria: criteria,
    }
}

fn cv(c: Component, v: Option<Variable>) -> ComponentVariable {
    ComponentVariable {
        component: c,
        variable: v,
    }
}

#[test]
fn full_inventory_has_every_required_variable() {
    let m = model();
    let dev = Device::default().with("Meter", "Serial", Mutability::ReadOnly, DataType::string);
    let full = names(&m.base_report(ReportBase::FullInventory, &dev));
    let required = [
        "OCPPCommCtrlr.HeartbeatInterval",
        "OCPPCommCtrlr.MessageTimeout[Default]",
        "OCPPCommCtrlr.MessageAttempts[TransactionEvent]",
        "OCPPCommCtrlr.MessageAttemptInterval[TransactionEvent]",
        "OCPPCommCtrlr.OfflineThreshold",
        "OCPPCommCtrlr.ResetRetries",
        "OCPPCommCtrlr.RetryBackOffRandomRange",
        "OCPPCommCtrlr.RetryBackOffRepeatTimes",
        "OCPPCommCtrlr.RetryBackOffWaitMinimum",
        "OCPPCommCtrlr.WebSocketPingInterval",
        "OCPPCommCtrlr.NetworkConfigurationPriority",
        "OCPPCommCtrlr.NetworkProfileConnectionAttempts",
        "OCPPCommCtrlr.UnlockOnEVSideDisconnect",
        "OCPPCommCtrlr.FileTransferProtocols",
        "TxCtrlr.EVConnectionTimeOut",
        "TxCtrlr.StopTxOnEVSideDisconnect",
        "TxCtrlr.StopTxOnInvalidId",
        "TxCtrlr.TxStartPoint",
        "TxCtrlr.TxStopPoint",
        "TxCtrlr.MaxEnergyOnInvalidId",
        "SampledDataCtrlr.Enabled",
        "SampledDataCtrlr.TxEndedMeasurands",
        "SampledDataCtrlr.TxEndedInterval",
        "SampledDataCtrlr.TxStartedMeasurands",
        "SampledDataCtrlr.TxUpdatedMeasurands",
        "SampledDataCtrlr.TxUpdatedInterval",
        "AlignedDataCtrlr.Enabled",
        "AlignedDataCtrlr.Interval",
        "AlignedDataCtrlr.Measurands",
        "AlignedDataCtrlr.TxEndedInterval",
        "AlignedDataCtrlr.TxEndedMeasurands",
        "AuthCtrlr.Enabled",
        "AuthCtrlr.AuthorizeRemoteStart",
        "AuthCtrlr.LocalAuthorizeOffline",
        "AuthCtrlr.LocalPreAuthorize",
        "DeviceDataCtrlr.ItemsPerMessage[GetReport]",
        "DeviceDataCtrlr.ItemsPerMessage[GetVariables]",
        "DeviceDataCtrlr.ItemsPerMessage[SetVariables]",
        "DeviceDataCtrlr.BytesPerMessage[GetReport]",
        "DeviceDataCtrlr.BytesPerMessage[GetVariables]",
        "DeviceDataCtrlr.BytesPerMessage[SetVariables]",
        "SecurityCtrlr.SecurityProfile",
        "SecurityCtrlr.Identity",
        "SecurityCtrlr.BasicAuthPassword",
        "SecurityCtrlr.OrganizationName",
        "SecurityCtrlr.CertificateEntries",
        "ChargingStation.AvailabilityState",
        "ChargingStation.Available",
        "ChargingStation.Model",
        "ChargingStation.VendorName",
        "EVSE[1].AvailabilityState",
        "EVSE[2].Available",
        "EVSE[2].Power",
        "EVSE[1].SupplyPhases",
        "Connector[2].AvailabilityState",
        "Connector[1].Available",
        "Connector[1].ConnectorType",
        "Connector[2].SupplyPhases",
        "Meter.Serial",
    ];
    for r in required {
        assert!(full.iter().any(|n| n == r), "{r} missing from {full:?}");
    }
    let mut unique = full.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), full.len(), "a variable is reported twice");
}

#[test]
fn configuration_inventory_is_what_the_csms_may_write() {
    let m = model();
    let data = m.base_report(ReportBase::ConfigurationInventory, &NoExternal);
    let n = names(&data);
    assert!(n.contains(&"OCPPCommCtrlr.HeartbeatInterval".to_owned()));
    assert!(n.contains(&"SecurityCtrlr.BasicAuthPassword".to_owned()));
    assert!(!n.contains(&"SecurityCtrlr.SecurityProfile".to_owned()));
    assert!(!n.iter().any(|v| v.starts_with("EVSE")));
    for r in &data {
        for a in &r.variable_attribute {
            assert_ne!(a.mutability, Some(Mutability::ReadOnly), "{:?}", r.variable);
            assert!(a.persistent, "{:?}", r.variable);
        }
    }
}

#[test]
fn summary_inventory_is_availability_and_problems() {
    let m = model();
    let n = names(&m.base_report(ReportBase::SummaryInventory, &NoExternal));
    // ChargingStation, 2 EVSEs and 2 connectors, three variables each.
    assert_eq!(n.len(), 15, "{n:?}");
    assert!(n.iter().all(|v| v.ends_with(".AvailabilityState")
        || v.ends_with(".Available")
        || v.ends_with(".Problem")));
}

#[test]
fn report_selects_components_and_variables() {
    let m = model();
    let x = NoExternal;
    let all_comm = m.report(
        &request(Some(vec![cv(component("OCPPCommCtrlr"), None)]), None),
        &x,
    );
    assert_eq!(all_comm.map(|d| d.len()), Ok(14));
    let every_evse = m.report(
        &request(
            Some(vec![cv(component("evse"), Some(variable("Power")))]),
            None,
        ),
        &x,
    );
    assert_eq!(
        every_evse.map(|d| names(&d)),
        Ok(vec!["EVSE[1].Power".to_owned(), "EVSE[2].Power".to_owned()])
    );
    let one = m.report(
        &request(
            Some(vec![cv(
                on_evse("Connector", 2, None),
                Some(variable("AvailabilityState")),
            )]),
            None,
        ),
        &x,
    );
    assert_eq!(
        one.map(|d| names(&d)),
        Ok(vec!["Connector[2].AvailabilityState".to_owned()])
    );
    // A variable without instance selects every instance.
    let items = m.report(
        &request(
            Some(vec![cv(
                component("DeviceDataCtrlr"),
                Some(variable("ItemsPerMessage")),
            )]),
            None,
        ),
        &x,
    );
    assert_eq!(items.map(|d| d.len()), Ok(3));
    let unknown = m.report(&request(Some(vec![cv(component("Nope"), None)]), None), &x);
    assert_eq!(unknown, Err(GenericDeviceModelStatus::EmptyResultSet));
    let everything = m.report(&request(None, None), &x).map(|d| d.len());
    assert_eq!(
        everything,
        Ok(m.base_report(ReportBase::FullInventory, &x).len())
    );
}

#[test]
fn report_criteria() {
    let mut m = model();
    let x = NoExternal;
    let components = |m: &DeviceModel, c: Vec<ComponentCriterion>| -> Vec<String> {
        let mut n: Vec<String> = m
            .report(&request(None, Some(c)), &x)
            .unwrap_or_default()
            .iter()
            .map(|r| {
                let evse = r.component.evse.as_ref().map(|e| format!("[{}]", e.id));
                format!("{}{}", r.component.name, evse.unwrap_or_default())
            })
            .collect();
        n.dedup();
        n
    };
    assert!(components(&m, vec![ComponentCriterion::Problem]).is_empty());
    assert_eq!(
        m.report(&request(None, Some(vec![ComponentCriterion::Problem])), &x),
        Err(GenericDeviceModelStatus::EmptyResultSet)
    );
    m.set_evse_availability(2, ConnectorStatus::Faulted);
    assert_eq!(
        components(&m, vec![ComponentCriterion::Problem]),
        ["EVSE[2]", "Connector[2]"]
    );
    // AuthCtrlr is disabled by this config; components without Enabled count as enabled.
    let enabled = components(&m, vec![ComponentCriterion::Enabled]);
    assert!(!enabled.contains(&"AuthCtrlr".to_owned()), "{enabled:?}");
    assert!(enabled.contains(&"SampledDataCtrlr".to_owned()));
    assert!(enabled.contains(&"OCPPCommCtrlr".to_owned()));
    let either = components(
        &m,
        vec![ComponentCriterion::Enabled, ComponentCriterion::Problem],
    );
    assert!(either.contains(&"EVSE[2]".to_owned()));
    assert!(!either.contains(&"AuthCtrlr".to_owned()));
    // Both filters: only the named component, and only if it meets the criteria.
    let auth = request(
        Some(vec![cv(component("AuthCtrlr"), None)]),
        Some(vec![ComponentCriterion::Enabled]),
    );
    assert_eq!(
        m.report(&auth, &x),
        Err(GenericDeviceModelStatus::EmptyResultSet)
    );
    let available = components(
        &m,
        vec![ComponentCriterion::Available, ComponentCriterion::Active],
    );
    assert_eq!(available.len(), 12, "{available:?}");
}

#[test]
fn pages_follow_items_per_message() {
    let data = model().base_report(ReportBase::SummaryInventory, &NoExternal);
    assert_eq!(data.len(), 15);
    let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let pages = notify_report_pages(42, data.clone(), 4, at);
    let shape: Vec<(i32, bool, usize)> = pages
        .iter()
        .map(|p| (p.seq_no, p.tbc, p.report_data.as_ref().map_or(0, Vec::len)))
        .collect();
    assert_eq!(
        shape,
        [(0, true, 4), (1, true, 4), (2, true, 4), (3, false, 3)]
    );
    assert!(pages
        .iter()
        .all(|p| p.request_id == 42 && p.generated_at == "2023-11-14T22:13:20.000Z"));
    let joined: Vec<ReportData> = pages
        .into_iter()
        .flat_map(|p| p.report_data.unwrap_or_default())
        .collect();
    assert_eq!(joined, data);
    let exact = notify_report_pages(1, data.clone(), 5, at);
    let shape: Vec<(i32, bool)> = exact.iter().map(|p| (p.seq_no, p.tbc)).collect();
    assert_eq!(shape, [(0, true), (1, true), (2, false)]);
    let single = notify_report_pages(1, data.clone(), 100, at);
    assert_eq!(single.len(), 1);
    assert!(!single[0].tbc);
    assert_eq!(
        notify_report_pages(1, data, 0, at).len(),
        15,
        "0 counts as 1"
    );
    let empty = notify_report_pages(1, Vec::new(), 4, SystemTime::UNIX_EPOCH);
    assert_eq!(empty.len(), 1);
    assert_eq!(
        (
            empty[0].seq_no,
            empty[0].tbc,
            empty[0].report_data.is_none()
        ),
        (0, false, true)
    );
}
