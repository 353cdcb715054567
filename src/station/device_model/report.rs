//! Reports (B07 GetBaseReport, B08 GetReport) and their NotifyReport pages.

use std::time::SystemTime;

use super::{same_instance, same_name, truncate, DeviceModel, Entry, ExternalVariables};
use crate::ocpp::messages::{
    Attribute, ComponentCriterion, ComponentVariable, GenericDeviceModelStatus, GetReportRequest,
    GetVariableResult, Mutability, NotifyReportRequest, ReportBase, ReportData, Variable,
    VariableAttribute, VariableCharacteristics,
};
use crate::util::time::rfc3339;

/// Variables of a SummaryInventory: the availability and health of every component.
const SUMMARY: [&str; 3] = ["AvailabilityState", "Available", "Problem"];

impl DeviceModel {
    /// The data of a GetBaseReport: ConfigurationInventory has every writable attribute,
    /// FullInventory everything, SummaryInventory availability and problems. Write-only
    /// values are never included.
    pub fn base_report(&self, base: ReportBase, ext: &dyn ExternalVariables) -> Vec<ReportData> {
        let rows = self.rows(ext);
        match base {
            ReportBase::FullInventory => rows,
            ReportBase::ConfigurationInventory => rows
                .into_iter()
                .filter_map(|mut r| {
                    r.variable_attribute
                        .retain(|a| a.mutability != Some(Mutability::ReadOnly));
                    (!r.variable_attribute.is_empty()).then_some(r)
                })
                .collect(),
            ReportBase::SummaryInventory => rows
                .into_iter()
                .filter(|r| SUMMARY.iter().any(|s| same_name(s, &r.variable.name)))
                .collect(),
        }
    }

    /// The data of a GetReport: variables named by `componentVariable` (a component without
    /// EVSE or variable instance matches all of them) of components that meet at least one
    /// `componentCriteria`. `Err(EmptyResultSet)` when nothing matches.
    pub fn report(
        &self,
        req: &GetReportRequest,
        ext: &dyn ExternalVariables,
    ) -> Result<Vec<ReportData>, GenericDeviceModelStatus> {
        let rows = self.rows(ext);
        let wanted = |r: &ReportData| match &req.component_variable {
            Some(list) if !list.is_empty() => list.iter().any(|cv| selects(cv, r)),
            _ => true,
        };
        let meets = |r: &ReportData| match &req.component_criteria {
            Some(criteria) if !criteria.is_empty() => {
                criteria.iter().any(|&c| criterion_holds(&rows, r, c))
            }
            _ => true,
        };
        let data: Vec<ReportData> = rows
            .iter()
            .filter(|r| wanted(r) && meets(r))
            .cloned()
            .collect();
        if data.is_empty() {
            Err(GenericDeviceModelStatus::EmptyResultSet)
        } else {
            Ok(data)
        }
    }

    /// Every variable as a full-inventory row, built-in ones first.
    fn rows(&self, ext: &dyn ExternalVariables) -> Vec<ReportData> {
        let mut rows: Vec<ReportData> = self.entries.iter().map(row).collect();
        for x in ext.list() {
            let value = match x.mutability {
                Mutability::WriteOnly => None,
                // A value must be present unless write-only; the device may not have sent one.
                _ => Some(ext.get(&x.component, &x.variable).unwrap_or_default()),
            };
            rows.push(ReportData {
                component: crate::ocpp::messages::Component {
                    name: x.component,
                    instance: None,
                    evse: None,
                },
                variable: Variable {
                    name: x.variable,
                    instance: None,
                },
                variable_attribute: vec![VariableAttribute {
                    attribute_type: Some(Attribute::Actual),
                    value: value.map(|v| truncate(v, GetVariableResult::VALUE_MAX)),
                    mutability: Some(x.mutability),
                    persistent: false,
                    constant: false,
                }],
                variable_characteristics: Some(VariableCharacteristics {
                    unit: x.unit,
                    data_type: x.data_type,
                    min_limit: None,
                    max_limit: None,
                    values_list: None,
                    supports_monitoring: false,
                }),
            });
        }
        rows
    }
}

fn row(e: &Entry) -> ReportData {
    ReportData {
        component: e.component.clone(),
        variable: e.variable.clone(),
        variable_attribute: e
            .slots
            .iter()
            .map(|s| VariableAttribute {
                attribute_type: Some(s.attribute),
                value: match s.mutability {
                    Mutability::WriteOnly => None,
                    _ => Some(truncate(s.value.clone(), GetVariableResult::VALUE_MAX)),
                },
                mutability: Some(s.mutability),
                persistent: s.persistent,
                constant: s.constant,
            })
            .collect(),
        variable_characteristics: Some(e.characteristics.clone()),
    }
}

/// Whether `cv` names the row: same component name and instance; its EVSE (and connector)
/// where given; its variable (and variable instance) where given.
fn selects(cv: &ComponentVariable, r: &ReportData) -> bool {
    let c = &cv.component;
    if !same_name(&c.name, &r.component.name) || !same_instance(&c.instance, &r.component.instance)
    {
        return false;
    }
    if let Some(want) = &c.evse {
        let Some(have) = &r.component.evse else {
            return false;
        };
        if want.id != have.id
            || want
                .connector_id
                .is_some_and(|w| Some(w) != have.connector_id)
        {
            return false;
        }
    }
    match &cv.variable {
        None => true,
        Some(v) => {
            same_name(&v.name, &r.variable.name)
                && (v.instance.is_none() || same_instance(&v.instance, &r.variable.instance))
        }
    }
}

/// A component meets a criterion when its variable of that name is true; a component without
/// such a variable counts as Active, Available and Enabled, but never as having a Problem.
fn criterion_holds(rows: &[ReportData], r: &ReportData, criterion: ComponentCriterion) -> bool {
    let own = rows.iter().find(|o| {
        o.component == r.component
            && o.variable.instance.is_none()
            && same_name(&o.variable.name, criterion.as_str())
    });
    match own {
        Some(o) => o.variable_attribute.iter().any(|a| {
            a.attribute_type == Some(Attribute::Actual) && a.value.as_deref() == Some("true")
        }),
        None => criterion != ComponentCriterion::Problem,
    }
}

/// Splits report data into NotifyReport pages of at most `items_per_message` entries: seqNo
/// from 0, `tbc` on all but the last. Empty data gives one page without reportData.
pub fn notify_report_pages(
    request_id: i32,
    data: Vec<ReportData>,
    items_per_message: usize,
    generated_at: SystemTime,
) -> Vec<NotifyReportRequest> {
    let generated_at = rfc3339(generated_at);
    let per_page = items_per_message.max(1);
    let mut pages: Vec<Vec<ReportData>> = Vec::new();
    let mut rest = data.into_iter().peekable();
    while rest.peek().is_some() {
        pages.push(rest.by_ref().take(per_page).collect());
    }
    if pages.is_empty() {
        return vec![NotifyReportRequest {
            request_id,
            generated_at,
            report_data: None,
            tbc: false,
            seq_no: 0,
        }];
    }
    // ok: pages is not empty.
    let last = pages.len() - 1;
    pages
        .into_iter()
        .enumerate()
        .map(|(i, page)| NotifyReportRequest {
            request_id,
            generated_at: generated_at.clone(),
            report_data: Some(page),
            tbc: i != last,
            seq_no: i32::try_from(i).unwrap_or(i32::MAX),
        })
        .collect()
}
