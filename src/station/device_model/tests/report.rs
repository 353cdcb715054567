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
    let full = names(&base_report(&m, ReportBase::FullInventory, &dev));
    let required = [
        "OCPPCommCtrlr.HeartbeatInterval",
        "OCPPCommCtrlr.MessageTimeout[Default]",
        "OCPPCommCtrlr.MessageAttempts[TransactionEvent]",
        "OCPPCommCtrlr.MessageAttemptInterval[TransactionEvent]",
        "OCPPCommCtrlr.OfflineThreshold",
        "OCPPCommCtrlr.ResetRetries",
        "ClockCtrlr.DateTime",
        "ClockCtrlr.TimeSource",
        "ChargingStation.SupplyPhases",
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
    let data = base_report(&m, ReportBase::ConfigurationInventory, &NoExternal);
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
    let n = names(&base_report(&m, ReportBase::SummaryInventory, &NoExternal));
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
    let all_comm = report(
        &m,
        &request(Some(vec![cv(component("OCPPCommCtrlr"), None)]), None),
        &x,
    );
    assert_eq!(all_comm.map(|d| d.len()), Ok(14));
    let every_evse = report(
        &m,
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
    let one = report(
        &m,
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
    let items = report(
        &m,
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
    let unknown = report(
        &m,
        &request(Some(vec![cv(component("Nope"), None)]), None),
        &x,
    );
    assert_eq!(unknown, Err(GenericDeviceModelStatus::EmptyResultSet));
    let everything = report(&m, &request(None, None), &x).map(|d| d.len());
    assert_eq!(
        everything,
        Ok(base_report(&m, ReportBase::FullInventory, &x).len())
    );
}

#[test]
fn report_criteria() {
    let mut m = model();
    let x = NoExternal;
    let components = |m: &DeviceModel, c: Vec<ComponentCriterion>| -> Vec<String> {
        let mut n: Vec<String> = report(m, &request(None, Some(c)), &x)
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
        report(
            &m,
            &request(None, Some(vec![ComponentCriterion::Problem])),
            &x
        ),
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
        report(&m, &auth, &x),
        Err(GenericDeviceModelStatus::EmptyResultSet)
    );
    let available = components(
        &m,
        vec![ComponentCriterion::Available, ComponentCriterion::Active],
    );
    assert_eq!(available.len(), 14, "{available:?}");
}

#[test]
fn pages_follow_items_per_message() {
    let m = model();
    let x = NoExternal;
    let data = base_report(&m, ReportBase::SummaryInventory, &x);
    assert_eq!(data.len(), 15);
    let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let summary = |id| m.base_report(id, ReportBase::SummaryInventory, at);
    let four = pages(&m, &x, summary(42), 4);
    let shape: Vec<(i32, bool, usize)> = four
        .iter()
        .map(|p| (p.seq_no, p.tbc, p.report_data.as_ref().map_or(0, Vec::len)))
        .collect();
    assert_eq!(
        shape,
        [(0, true, 4), (1, true, 4), (2, true, 4), (3, false, 3)]
    );
    assert!(four
        .iter()
        .all(|p| p.request_id == 42 && p.generated_at == "2023-11-14T22:13:20.000Z"));
    let joined: Vec<ReportData> = four
        .into_iter()
        .flat_map(|p| p.report_data.unwrap_or_default())
        .collect();
    assert_eq!(joined, data);
    let exact = pages(&m, &x, summary(1), 5);
    let shape: Vec<(i32, bool)> = exact.iter().map(|p| (p.seq_no, p.tbc)).collect();
    assert_eq!(shape, [(0, true), (1, true), (2, false)]);
    let single = pages(&m, &x, summary(1), 100);
    assert_eq!(single.len(), 1);
    assert!(!single[0].tbc);
    assert_eq!(pages(&m, &x, summary(1), 0).len(), 15, "0 counts as 1");
}

#[test]
fn a_cursor_ends_after_its_last_page() {
    let m = model();
    let mut cursor = m.base_report(1, ReportBase::SummaryInventory, SystemTime::UNIX_EPOCH);
    assert!(!cursor.is_finished());
    let only = cursor.next_page(&m, &NoExternal, 1000);
    assert!(only.is_some_and(|p| !p.tbc && p.seq_no == 0));
    assert!(cursor.is_finished());
    assert_eq!(cursor.next_page(&m, &NoExternal, 1000), None);
}

#[test]
fn a_pending_report_holds_a_cursor_not_its_pages() {
    // Whatever the size of the model, an accepted report is the same few bytes until a page
    // is due; pages are built one at a time.
    let big = DeviceModel::new(&DeviceModelInit {
        evse_count: 200,
        ..init()
    });
    let small = model();
    let at = SystemTime::UNIX_EPOCH;
    let pending = |m: &DeviceModel| {
        let cursor = m.base_report(1, ReportBase::FullInventory, at);
        serde_json::to_string(&format!("{cursor:?}")).map_or(0, |s| s.len())
    };
    assert_eq!(pending(&big), pending(&small));
    let mut cursor = big.base_report(1, ReportBase::FullInventory, at);
    let first = cursor.next_page(&big, &NoExternal, 32);
    assert_eq!(first.and_then(|p| p.report_data).map(|d| d.len()), Some(32));
    assert!(!cursor.is_finished());
}
