//! Checks one template variable on its own and builds it.

use std::collections::BTreeMap;

use crate::config::error::Problems;
use crate::config::raw::RawVariable;
use crate::device::PollClass;
use crate::mapping::{Access, DataType, Direction, OcppName, Phase, Variable, MAX_NAME};

use super::layout::{check_bit, echonet_source, modbus_source, span_of, Span};
use super::values::check_values;

/// What checking one variable established; cross-variable checks use whatever parts are valid.
#[derive(Debug)]
pub(super) struct Checked {
    pub name: Option<OcppName>,
    pub phase: Option<Phase>,
    /// Where it reads, if it is polled.
    pub span: Option<Span>,
    /// Device-model component, variable and instance.
    pub exposure: Option<(String, String, Option<Phase>)>,
    /// The variable, if it has no problem at all.
    pub variable: Option<Variable>,
}

/// Checks variable `i` of a template; `template_id` names its vendor component.
pub(super) fn check_variable(
    i: usize,
    v: &RawVariable,
    template_id: &str,
    p: &mut Problems,
) -> Checked {
    let before = p.len();
    let key = |k: &str| format!("template.variables[{i}].{k}");
    let name = OcppName::parse(&v.ocpp_name);
    if name.is_none() {
        let known: Vec<_> = OcppName::known_names().collect();
        p.add(
            key("ocpp_name"),
            format!(
                "unknown ocpp_name {:?} (known: {})",
                v.ocpp_name,
                known.join(", ")
            ),
        );
    }
    let data_type = DataType::from_name(&v.data_type);
    if data_type.is_none() {
        let known: Vec<_> = DataType::names().collect();
        p.add(
            key("data_type"),
            format!(
                "unknown data type {:?} (expected one of {})",
                v.data_type,
                known.join(", ")
            ),
        );
    }
    let access = parse_access(v, &key, p);
    let source = match v.kind.as_str() {
        "modbus" => modbus_source(v, data_type, access, &key, p),
        "echonet" => echonet_source(v, data_type, access, &key, p),
        other => {
            p.add(
                key("type"),
                format!("unknown variable type {other:?} (expected modbus or echonet)"),
            );
            None
        }
    };
    let bit = check_bit(v, data_type, access, &key, p);
    let poll = match v.poll.as_deref() {
        None | Some("fast") => PollClass::Fast,
        Some("slow") => PollClass::Slow,
        Some(other) => {
            p.add(
                key("poll"),
                format!("unknown poll class {other:?} (expected fast or slow)"),
            );
            PollClass::Fast
        }
    };
    if let (Some(name), Some(access)) = (&name, access) {
        check_direction(name, access, &key, p);
    }
    let phase = check_phase(v, name.as_ref(), &key, p);
    let enum_map = match (&name, data_type, access) {
        (Some(name), Some(dt), Some(access)) => {
            check_values(v, name, dt, bit.is_some(), access, &key, p)
        }
        _ => BTreeMap::new(),
    };
    let exposure = name
        .as_ref()
        .and_then(|name| exposure(v, name, template_id, &key, p))
        .map(|(c, var)| (c, var, phase));
    let span = match (source, access) {
        (Some(source), Some(access)) if access.reads() => Some(span_of(source, bit)),
        _ => None,
    };
    let variable = match (&name, source, data_type, access, &exposure) {
        (
            Some(name),
            Some(source),
            Some(data_type),
            Some(access),
            Some((component, variable, _)),
        ) if p.len() == before => Some(Variable {
            ocpp_name: name.clone(),
            phase,
            source,
            data_type,
            bit,
            access,
            poll,
            scale: v.scale.unwrap_or(1.0),
            offset_value: v.offset_value.unwrap_or(0.0),
            unit: v.unit.clone(),
            enum_map,
            min: v.min,
            max: v.max,
            component: component.clone(),
            variable: variable.clone(),
        }),
        _ => None,
    };
    Checked {
        name,
        phase,
        span,
        exposure,
        variable,
    }
}

fn parse_access(v: &RawVariable, key: &dyn Fn(&str) -> String, p: &mut Problems) -> Option<Access> {
    match v.access.as_deref() {
        None => Some(Access::Read),
        Some(name) => {
            let access = Access::from_name(name);
            if access.is_none() {
                p.add(
                    key("access"),
                    format!("unknown access {name:?} (expected read, write or read_write)"),
                );
            }
            access
        }
    }
}

/// The access a role needs.
fn check_direction(
    name: &OcppName,
    access: Access,
    key: &dyn Fn(&str) -> String,
    p: &mut Problems,
) {
    match name.direction() {
        Direction::Read if !access.reads() => p.add(
            key("access"),
            format!("{name} is read from the device, so access must be read or read_write"),
        ),
        Direction::Write if !access.writes() => p.add(
            key("access"),
            format!("{name} is written to the device, so access must be write or read_write"),
        ),
        _ => {}
    }
}

fn check_phase(
    v: &RawVariable,
    name: Option<&OcppName>,
    key: &dyn Fn(&str) -> String,
    p: &mut Problems,
) -> Option<Phase> {
    let text = v.phase.as_deref()?;
    if !matches!(name, Some(OcppName::Measurand(_)) | None) {
        p.add(key("phase"), "only applies to MeterValue.<measurand>");
        return None;
    }
    let phase = Phase::from_name(text);
    if phase.is_none() {
        let known: Vec<_> = Phase::names().collect();
        p.add(
            key("phase"),
            format!(
                "unknown phase {text:?} (expected one of {})",
                known.join(", ")
            ),
        );
    }
    phase
}

/// The device-model component and variable: the keys, else the role's defaults, else the
/// template's vendor component.
fn exposure(
    v: &RawVariable,
    name: &OcppName,
    template_id: &str,
    key: &dyn Fn(&str) -> String,
    p: &mut Problems,
) -> Option<(String, String)> {
    let mut ok = true;
    let mut pick = |k: &str, given: Option<&String>, default: &str| {
        let value = given.map_or(default, String::as_str);
        if value.is_empty() || value.chars().count() > MAX_NAME {
            let why = if given.is_none() {
                format!(" (the default {value:?}; set {k})")
            } else {
                String::new()
            };
            p.add(key(k), format!("must be 1 to {MAX_NAME} characters{why}"));
            ok = false;
        }
        value.to_string()
    };
    let component = pick(
        "component",
        v.component.as_ref(),
        name.default_component().unwrap_or(template_id),
    );
    let variable = pick("variable", v.variable.as_ref(), name.default_variable());
    ok.then_some((component, variable))
}
