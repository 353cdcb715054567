//! Reports (B07 GetBaseReport, B08 GetReport) and their NotifyReport pages.
//!
//! A report is a [`ReportCursor`]: what it selects and how far it got. Each page is built from
//! the model only when the previous one was acknowledged, so an accepted report costs a few
//! bytes until then, whatever the size of the device model.

use std::time::SystemTime;

use super::{
    external_component, same_instance, same_name, truncate, DeviceModel, Entry, ExternalVariable,
    ExternalVariables,
};
use crate::ocpp::messages::{
    Attribute, Component, ComponentCriterion, ComponentVariable, GenericDeviceModelStatus,
    GetReportRequest, GetVariableResult, Mutability, NotifyReportRequest, ReportBase, ReportData,
    Variable, VariableAttribute, VariableCharacteristics,
};
use crate::util::time::rfc3339;

/// Variables of a SummaryInventory: the availability and health of every component.
const SUMMARY: [&str; 3] = ["AvailabilityState", "Available", "Problem"];

/// What a report selects.
#[derive(Debug, Clone, PartialEq)]
enum Selection {
    /// GetBaseReport.
    Base(ReportBase),
    /// GetReport: rows named by `wanted` (all when empty) of components meeting one of
    /// `criteria` (all when empty).
    Query {
        wanted: Vec<ComponentVariable>,
        criteria: Vec<ComponentCriterion>,
    },
}

/// An accepted report that has not been sent in full: the next NotifyReport page is built
/// from the device model when it is due.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportCursor {
    request_id: i32,
    generated_at: String,
    selection: Selection,
    /// The first row not yet looked at (built-in entries, then template variables).
    next: usize,
    seq_no: i32,
    finished: bool,
}

impl DeviceModel {
    /// A GetBaseReport: ConfigurationInventory has every writable attribute, FullInventory
    /// everything, SummaryInventory availability and problems. Write-only values are never
    /// included.
    pub fn base_report(
        &self,
        request_id: i32,
        base: ReportBase,
        generated_at: SystemTime,
    ) -> ReportCursor {
        ReportCursor::new(request_id, Selection::Base(base), generated_at)
    }

    /// A GetReport: variables named by `componentVariable` (a component without EVSE or
    /// variable instance matches all of them) of components that meet at least one
    /// `componentCriteria`. `Err(EmptyResultSet)` when nothing matches.
    pub fn report(
        &self,
        req: &GetReportRequest,
        ext: &dyn ExternalVariables,
        generated_at: SystemTime,
    ) -> Result<ReportCursor, GenericDeviceModelStatus> {
        let selection = Selection::Query {
            wanted: req.component_variable.clone().unwrap_or_default(),
            criteria: req.component_criteria.clone().unwrap_or_default(),
        };
        let cursor = ReportCursor::new(req.request_id, selection, generated_at);
        let external = ext.list();
        if cursor.find_row(self, ext, &external, 0).is_none() {
            return Err(GenericDeviceModelStatus::EmptyResultSet);
        }
        Ok(cursor)
    }

    /// Row `i` as a full-inventory row; `None` for a template variable that is shown as the
    /// built-in variable it stands for.
    fn row_at(
        &self,
        i: usize,
        ext: &dyn ExternalVariables,
        external: &[ExternalVariable],
    ) -> Option<ReportData> {
        if let Some(e) = self.entries.get(i) {
            let mut r = row(e);
            if let Some(value) = self.twin_value(i, ext, external) {
                for a in &mut r.variable_attribute {
                    if a.attribute_type == Some(Attribute::Actual) {
                        a.value = Some(truncate(value.clone(), GetVariableResult::VALUE_MAX));
                    }
                }
            }
            return Some(r);
        }
        let x = external.get(i - self.entries.len())?;
        if self.twin_of(x).is_some() {
            return None;
        }
        Some(external_row(x, ext))
    }

    /// Whether the component's own variable named after `criterion` is true; a component
    /// without one counts as Active, Available and Enabled, but never as having a Problem.
    fn criterion_holds(
        &self,
        component: &Component,
        criterion: ComponentCriterion,
        ext: &dyn ExternalVariables,
        external: &[ExternalVariable],
    ) -> bool {
        let name = criterion.as_str();
        let builtin = self.entries.iter().position(|e| {
            &e.component == component
                && e.variable.instance.is_none()
                && same_name(&e.variable.name, name)
        });
        let value = match builtin {
            Some(i) => self.twin_value(i, ext, external).or_else(|| {
                self.entries
                    .get(i)
                    .and_then(Entry::actual)
                    .map(str::to_owned)
            }),
            None => external
                .iter()
                .find(|x| &external_component(x) == component && same_name(&x.variable, name))
                .map(|x| ext.get(&x.component, &x.variable).unwrap_or_default()),
        };
        match value {
            Some(v) => v == "true",
            None => criterion != ComponentCriterion::Problem,
        }
    }
}

impl ReportCursor {
    fn new(request_id: i32, selection: Selection, generated_at: SystemTime) -> Self {
        ReportCursor {
            request_id,
            generated_at: rfc3339(generated_at),
            selection,
            next: 0,
            seq_no: 0,
            finished: false,
        }
    }

    /// The requestId of the GetReport or GetBaseReport.
    pub fn request_id(&self) -> i32 {
        self.request_id
    }

    /// Whether every page has been handed out.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The next NotifyReport page of at most `items_per_message` entries (seqNo from 0, `tbc`
    /// on all but the last), with the values the model holds now; `None` once the last page
    /// was handed out. An empty report is one page without reportData.
    pub fn next_page(
        &mut self,
        model: &DeviceModel,
        ext: &dyn ExternalVariables,
        items_per_message: usize,
    ) -> Option<NotifyReportRequest> {
        if self.finished {
            return None;
        }
        let external = ext.list();
        let mut data = Vec::new();
        let mut at = self.next;
        while data.len() < items_per_message.max(1) {
            let Some((i, r)) = self.find_row(model, ext, &external, at) else {
                break;
            };
            data.push(r);
            at = i + 1;
        }
        // Looking ahead for one more row is what makes `tbc` true only when a page follows.
        let more = self.find_row(model, ext, &external, at);
        self.next = more.as_ref().map_or(at, |(i, _)| *i);
        self.finished = more.is_none();
        let page = NotifyReportRequest {
            request_id: self.request_id,
            generated_at: self.generated_at.clone(),
            report_data: (!data.is_empty()).then_some(data),
            tbc: !self.finished,
            seq_no: self.seq_no,
        };
        self.seq_no = self.seq_no.saturating_add(1);
        Some(page)
    }

    /// The first selected row at or after `from`, and its index.
    fn find_row(
        &self,
        model: &DeviceModel,
        ext: &dyn ExternalVariables,
        external: &[ExternalVariable],
        from: usize,
    ) -> Option<(usize, ReportData)> {
        let total = model.entries.len() + external.len();
        (from..total).find_map(|i| {
            let r = model.row_at(i, ext, external)?;
            self.select(model, ext, external, r).map(|r| (i, r))
        })
    }

    /// The row as this report shows it, if it shows it at all.
    fn select(
        &self,
        model: &DeviceModel,
        ext: &dyn ExternalVariables,
        external: &[ExternalVariable],
        mut r: ReportData,
    ) -> Option<ReportData> {
        match &self.selection {
            Selection::Base(ReportBase::FullInventory) => Some(r),
            Selection::Base(ReportBase::ConfigurationInventory) => {
                r.variable_attribute
                    .retain(|a| a.mutability != Some(Mutability::ReadOnly));
                (!r.variable_attribute.is_empty()).then_some(r)
            }
            Selection::Base(ReportBase::SummaryInventory) => SUMMARY
                .iter()
                .any(|s| same_name(s, &r.variable.name))
                .then_some(r),
            Selection::Query { wanted, criteria } => {
                let named = wanted.is_empty() || wanted.iter().any(|cv| selects(cv, &r));
                let meets = criteria.is_empty()
                    || criteria
                        .iter()
                        .any(|&c| model.criterion_holds(&r.component, c, ext, external));
                (named && meets).then_some(r)
            }
        }
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

fn external_row(x: &ExternalVariable, ext: &dyn ExternalVariables) -> ReportData {
    let value = match x.mutability {
        Mutability::WriteOnly => None,
        // A value must be present unless write-only; the device may not have sent one.
        _ => Some(ext.get(&x.component, &x.variable).unwrap_or_default()),
    };
    ReportData {
        component: external_component(x),
        variable: Variable {
            name: x.variable.clone(),
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
            unit: x.unit.clone(),
            data_type: x.data_type,
            min_limit: None,
            max_limit: None,
            values_list: None,
            supports_monitoring: false,
        }),
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
