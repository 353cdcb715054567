//! GetVariables and SetVariables (B06, B05): one result per requested variable.

use super::value::{normalize, Invalid};
use super::{
    external_component, same_component, same_name, same_variable, truncate, Changed, DeviceModel,
    ExternalVariable, ExternalVariables,
};
use crate::ocpp::messages::{
    Attribute, Component, GetVariableData, GetVariableResult, GetVariableStatus,
    GetVariablesRequest, GetVariablesResponse, Mutability, SetVariableData, SetVariableResult,
    SetVariableStatus, SetVariablesRequest, SetVariablesResponse, StatusInfo, Variable,
    VariableCharacteristics,
};

/// Where a requested component/variable lives.
enum Found {
    /// `entries[index]`.
    Builtin(usize),
    /// A template variable.
    External(ExternalVariable),
}

/// Why a requested component/variable was not found.
enum Missing {
    Component,
    Variable,
}

fn info(reason_code: &str, additional_info: Option<String>) -> Option<StatusInfo> {
    Some(StatusInfo {
        reason_code: reason_code.to_owned(),
        additional_info,
    })
}

impl DeviceModel {
    /// Answers GetVariables: values of readable variables, a status for everything else.
    pub fn get_variables(
        &self,
        req: &GetVariablesRequest,
        ext: &dyn ExternalVariables,
    ) -> GetVariablesResponse {
        let external = ext.list();
        GetVariablesResponse {
            get_variable_result: req
                .get_variable_data
                .iter()
                .map(|d| self.get_one(d, ext, &external))
                .collect(),
        }
    }

    /// Answers SetVariables and says what changed. Each entry is applied on its own: one
    /// refused value does not undo the others.
    pub fn set_variables(
        &mut self,
        req: &SetVariablesRequest,
        ext: &mut dyn ExternalVariables,
    ) -> (SetVariablesResponse, Vec<Changed>) {
        let external = ext.list();
        let mut changed = Vec::new();
        let results = req
            .set_variable_data
            .iter()
            .map(|d| {
                let (status, status_info) = self.set_one(d, ext, &external, &mut changed);
                SetVariableResult {
                    attribute_type: d.attribute_type,
                    attribute_status: status,
                    attribute_status_info: status_info,
                    component: d.component.clone(),
                    variable: d.variable.clone(),
                }
            })
            .collect();
        (
            SetVariablesResponse {
                set_variable_result: results,
            },
            changed,
        )
    }

    fn find(
        &self,
        component: &Component,
        variable: &Variable,
        external: &[ExternalVariable],
    ) -> Result<Found, Missing> {
        let mut component_known = false;
        for (i, e) in self.entries.iter().enumerate() {
            if same_component(component, &e.component) {
                component_known = true;
                if same_variable(variable, &e.variable) {
                    return Ok(Found::Builtin(i));
                }
            }
        }
        // Template variables have no instance. An `EVSE` or `Connector` one is addressed with
        // the device's EVSE (and connector), or without any as the device has only one.
        if component.instance.is_some() || variable.instance.is_some() {
            return Err(missing(component_known));
        }
        for x in external {
            let home = external_component(x);
            let addressed = component.evse.is_none() || component.evse == home.evse;
            if addressed && same_name(&component.name, &home.name) {
                component_known = true;
                if same_name(&variable.name, &x.variable) {
                    return Ok(Found::External(x.clone()));
                }
            }
        }
        Err(missing(component_known))
    }

    fn get_one(
        &self,
        d: &GetVariableData,
        ext: &dyn ExternalVariables,
        external: &[ExternalVariable],
    ) -> GetVariableResult {
        let attribute = d.attribute_type.unwrap_or(Attribute::Actual);
        let read = match self.find(&d.component, &d.variable, external) {
            Err(Missing::Component) => Err((GetVariableStatus::UnknownComponent, None)),
            Err(Missing::Variable) => Err((GetVariableStatus::UnknownVariable, None)),
            Ok(Found::Builtin(i)) => match self.entries.get(i).and_then(|e| e.slot(attribute)) {
                None => Err((GetVariableStatus::NotSupportedAttributeType, None)),
                Some(s) if s.mutability == Mutability::WriteOnly => {
                    Err((GetVariableStatus::Rejected, info("WriteOnly", None)))
                }
                Some(s) if attribute == Attribute::Actual => Ok(self
                    .twin_value(i, ext, external)
                    .unwrap_or_else(|| s.value.clone())),
                Some(s) => Ok(s.value.clone()),
            },
            Ok(Found::External(_)) if attribute != Attribute::Actual => {
                Err((GetVariableStatus::NotSupportedAttributeType, None))
            }
            Ok(Found::External(x)) if x.mutability == Mutability::WriteOnly => {
                Err((GetVariableStatus::Rejected, info("WriteOnly", None)))
            }
            Ok(Found::External(x)) => ext.get(&x.component, &x.variable).ok_or((
                GetVariableStatus::Rejected,
                info(
                    "NoValue",
                    Some("the device has not reported it yet".to_owned()),
                ),
            )),
        };
        let (status, status_info, value) = match read {
            Ok(value) => (
                GetVariableStatus::Accepted,
                None,
                Some(truncate(value, GetVariableResult::VALUE_MAX)),
            ),
            Err((status, status_info)) => (status, status_info, None),
        };
        GetVariableResult {
            attribute_status: status,
            attribute_status_info: status_info,
            attribute_type: d.attribute_type,
            attribute_value: value,
            component: d.component.clone(),
            variable: d.variable.clone(),
        }
    }

    fn set_one(
        &mut self,
        d: &SetVariableData,
        ext: &mut dyn ExternalVariables,
        external: &[ExternalVariable],
        changed: &mut Vec<Changed>,
    ) -> (SetVariableStatus, Option<StatusInfo>) {
        let attribute = d.attribute_type.unwrap_or(Attribute::Actual);
        let found = match self.find(&d.component, &d.variable, external) {
            Ok(found) => found,
            Err(Missing::Component) => return (SetVariableStatus::UnknownComponent, None),
            Err(Missing::Variable) => return (SetVariableStatus::UnknownVariable, None),
        };
        if d.attribute_value.chars().count() > SetVariableData::VALUE_MAX {
            return rejected("ValueOutOfRange", "longer than 1000 characters".to_owned());
        }
        match found {
            Found::Builtin(i) => self.set_builtin(i, attribute, &d.attribute_value, changed),
            Found::External(x) => set_external(&x, attribute, &d.attribute_value, ext, changed),
        }
    }

    fn set_builtin(
        &mut self,
        index: usize,
        attribute: Attribute,
        value: &str,
        changed: &mut Vec<Changed>,
    ) -> (SetVariableStatus, Option<StatusInfo>) {
        let Some(entry) = self.entries.get_mut(index) else {
            return (SetVariableStatus::UnknownVariable, None);
        };
        let characteristics = entry.characteristics.clone();
        let setting = entry.setting;
        let Some(slot) = entry.slot_mut(attribute) else {
            return (SetVariableStatus::NotSupportedAttributeType, None);
        };
        if slot.mutability == Mutability::ReadOnly {
            return rejected("ReadOnly", "the variable is read-only".to_owned());
        }
        let value = match normalize(value, &characteristics) {
            Ok(v) => v,
            Err(e) => return invalid(&e),
        };
        if slot.value != value {
            slot.value = value;
            slot.changed = true;
            if let Some(s) = setting {
                changed.push(Changed::Setting(s));
            }
        }
        (SetVariableStatus::Accepted, None)
    }
}

fn set_external(
    x: &ExternalVariable,
    attribute: Attribute,
    value: &str,
    ext: &mut dyn ExternalVariables,
    changed: &mut Vec<Changed>,
) -> (SetVariableStatus, Option<StatusInfo>) {
    if attribute != Attribute::Actual {
        return (SetVariableStatus::NotSupportedAttributeType, None);
    }
    if x.mutability == Mutability::ReadOnly {
        return rejected("ReadOnly", "the variable is read-only".to_owned());
    }
    let characteristics = VariableCharacteristics {
        unit: x.unit.clone(),
        data_type: x.data_type,
        min_limit: None,
        max_limit: None,
        values_list: None,
        supports_monitoring: false,
    };
    let value = match normalize(value, &characteristics) {
        Ok(v) => v,
        Err(e) => return invalid(&e),
    };
    match ext.set(&x.component, &x.variable, &value) {
        Ok(()) => {
            changed.push(Changed::External {
                component: x.component.clone(),
                variable: x.variable.clone(),
            });
            (SetVariableStatus::Accepted, None)
        }
        Err(why) => rejected("WriteFailed", why),
    }
}

fn missing(component_known: bool) -> Missing {
    if component_known {
        Missing::Variable
    } else {
        Missing::Component
    }
}

fn rejected(reason_code: &str, why: String) -> (SetVariableStatus, Option<StatusInfo>) {
    // additionalInfo is at most 512 characters; a device's message could be longer.
    (
        SetVariableStatus::Rejected,
        info(reason_code, Some(truncate(why, 512))),
    )
}

fn invalid(e: &Invalid) -> (SetVariableStatus, Option<StatusInfo>) {
    rejected(e.reason_code(), e.to_string())
}
