//! Loads and checks template files (`<templates_dir>/<id>.toml`).

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::device::ModbusTable;
use crate::mapping::{parse_register, DataType, OcppName, Source, Template, Variable};

use super::error::Problems;
use super::parse::parse_toml;
use super::raw::{RawTemplate, RawTemplateFile, RawVariable};
use super::ConfigError;

/// Longest `vendor_name` (OCPP BootNotification chargingStation.vendorName).
const MAX_VENDOR_NAME: usize = 50;
/// Longest `model` (OCPP BootNotification chargingStation.model).
const MAX_MODEL: usize = 20;
/// Longest `unit` (OCPP UnitOfMeasureType.unit).
const MAX_UNIT: usize = 20;

/// The outcome of looking for one template.
#[derive(Debug)]
pub(super) enum Loaded {
    Found(Arc<Template>),
    /// No such file: the path looked for.
    Missing(PathBuf),
    /// The file exists but has problems (already recorded).
    Invalid,
}

/// Reads and checks template `id` from `dir`, appending any problems to `errors`.
pub(super) fn load_template(dir: &Path, id: &str, errors: &mut Vec<ConfigError>) -> Loaded {
    let file = dir.join(format!("{id}.toml"));
    let text = match fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == ErrorKind::NotFound => return Loaded::Missing(file),
        Err(e) => {
            errors.push(ConfigError {
                file,
                key: String::new(),
                message: format!("cannot read: {e}"),
            });
            return Loaded::Invalid;
        }
    };
    let raw: RawTemplateFile = match parse_toml(&file, &text) {
        Ok(raw) => raw,
        Err(e) => {
            errors.push(e);
            return Loaded::Invalid;
        }
    };
    let mut p = Problems::new(&file);
    let template = check_template(raw.template, id, &mut p);
    if p.is_empty() {
        Loaded::Found(Arc::new(template))
    } else {
        errors.extend(p.into_errors());
        Loaded::Invalid
    }
}

/// Checks a template whose file stem is `stem`; variables with problems are left out.
fn check_template(raw: RawTemplate, stem: &str, p: &mut Problems) -> Template {
    if raw.id != stem {
        p.add(
            "template.id",
            format!("{:?} does not match the file name {stem}.toml", raw.id),
        );
    }
    check_len(
        p,
        "template.vendor_name",
        raw.vendor_name.as_deref(),
        MAX_VENDOR_NAME,
    );
    check_len(p, "template.model", raw.model.as_deref(), MAX_MODEL);
    let checked: Vec<_> = raw
        .variables
        .iter()
        .enumerate()
        .map(|(i, v)| check_variable(i, v, p))
        .collect();
    check_duplicates(&raw.variables, &checked, p);
    check_overlaps(&raw.variables, &checked, p);
    Template {
        id: raw.id,
        description: raw.description.unwrap_or_default(),
        vendor_name: raw.vendor_name,
        model: raw.model,
        variables: checked.into_iter().filter_map(|c| c.variable).collect(),
    }
}

/// An optional text that must be non-empty and at most `max` characters.
fn check_len(p: &mut Problems, key: &str, value: Option<&str>, max: usize) {
    match value {
        Some("") => p.add(key, "must not be empty"),
        Some(v) if v.chars().count() > max => p.add(key, format!("longer than {max} characters")),
        _ => {}
    }
}

/// The register as written, for messages and parsing.
fn notation(register: &toml::Value) -> Option<String> {
    match register {
        toml::Value::Integer(n) => Some(n.to_string()),
        toml::Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// What checking one variable established; cross-variable checks use whatever parts are valid.
struct Checked {
    name: Option<OcppName>,
    /// Table, first address and width in registers (or bits).
    span: Option<(ModbusTable, u32, u32)>,
    /// The variable, if it has no problem at all.
    variable: Option<Variable>,
}

/// Checks one variable on its own.
fn check_variable(i: usize, v: &RawVariable, p: &mut Problems) -> Checked {
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
    if v.kind != "modbus" {
        p.add(
            key("type"),
            format!("unknown variable type {:?} (expected modbus)", v.kind),
        );
    }
    let written = notation(&v.register);
    if written.is_none() {
        p.add(
            key("register"),
            format!(
                "invalid type: {}, expected an integer or a string of digits",
                v.register.type_str()
            ),
        );
    }
    let location = written.as_deref().and_then(|n| match parse_register(n) {
        Ok(location) => Some(location),
        Err(e) => {
            p.add(key("register"), e.to_string());
            None
        }
    });
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
    if let (Some((table, address)), Some(dt), Some(written)) = (location, data_type, &written) {
        check_location(p, &key, table, address, dt, written);
    }
    if let Some(dt) = data_type {
        check_scale_unit(p, &key, v, dt);
    }
    let enum_map = match &name {
        Some(name) => check_enum(p, &key, v, name, data_type),
        None => BTreeMap::new(),
    };
    let span = location
        .zip(data_type)
        .map(|((table, address), dt)| (table, u32::from(address), u32::from(dt.registers())));
    let variable = match (location, data_type, &name) {
        (Some((table, address)), Some(data_type), Some(name)) if p.len() == before => {
            Some(Variable {
                ocpp_name: name.clone(),
                source: Source::Modbus { table, address },
                data_type,
                scale: v.scale.unwrap_or(1.0),
                unit: v.unit.clone(),
                enum_map,
            })
        }
        _ => None,
    };
    Checked {
        name,
        span,
        variable,
    }
}

/// The data type fits the table (bits vs registers) and the value fits below address 65535.
fn check_location(
    p: &mut Problems,
    key: &dyn Fn(&str) -> String,
    table: ModbusTable,
    address: u16,
    dt: DataType,
    written: &str,
) {
    let bit_table = matches!(table, ModbusTable::Coil | ModbusTable::DiscreteInput);
    if dt == DataType::Bool && !bit_table {
        p.add(
            key("data_type"),
            format!(
                "bool needs a coil or discrete input, but {written} is {}",
                table_name(table)
            ),
        );
    } else if dt != DataType::Bool && bit_table {
        p.add(
            key("data_type"),
            format!(
                "{} needs an input or holding register, but {written} is {}",
                dt.name(),
                table_name(table)
            ),
        );
    }
    if u32::from(address) + u32::from(dt.registers()) - 1 > u32::from(u16::MAX) {
        p.add(
            key("register"),
            format!(
                "{} at {written} runs past the last address 65535",
                dt.name()
            ),
        );
    }
}

fn table_name(table: ModbusTable) -> &'static str {
    match table {
        ModbusTable::Coil => "a coil",
        ModbusTable::DiscreteInput => "a discrete input",
        ModbusTable::InputRegister => "an input register",
        ModbusTable::HoldingRegister => "a holding register",
    }
}

/// `scale` and `unit` only make sense on plain numbers.
fn check_scale_unit(p: &mut Problems, key: &dyn Fn(&str) -> String, v: &RawVariable, dt: DataType) {
    let not_numeric = if dt == DataType::Bool {
        Some("bool")
    } else if v.enum_map.is_some() {
        Some("an enum")
    } else {
        None
    };
    if let Some(scale) = v.scale {
        if let Some(what) = not_numeric {
            p.add(key("scale"), format!("does not apply to {what}"));
        } else if !scale.is_finite() || scale == 0.0 {
            p.add(key("scale"), "must be a finite number other than 0");
        }
    }
    if let Some(unit) = &v.unit {
        if let Some(what) = not_numeric {
            p.add(key("unit"), format!("does not apply to {what}"));
        } else {
            check_len(p, &key("unit"), Some(unit), MAX_UNIT);
        }
    }
}

/// Enum entries: integer keys within the data type, texts from the name's allowed set.
fn check_enum(
    p: &mut Problems,
    key: &dyn Fn(&str) -> String,
    v: &RawVariable,
    name: &OcppName,
    data_type: Option<DataType>,
) -> BTreeMap<i64, String> {
    let allowed = name.enum_values();
    let Some(entries) = &v.enum_map else {
        if let Some(allowed) = allowed {
            p.add(
                key("enum"),
                format!(
                    "missing key ({name} maps device values to {})",
                    allowed.join(", ")
                ),
            );
        }
        return BTreeMap::new();
    };
    let Some(allowed) = allowed else {
        p.add(key("enum"), format!("{name} is numeric and takes no enum"));
        return BTreeMap::new();
    };
    let range = match data_type {
        Some(dt) if dt.integer_range().is_none() => {
            p.add(
                key("enum"),
                format!("an enum needs an integer data type, not {}", dt.name()),
            );
            return BTreeMap::new();
        }
        Some(dt) => dt.integer_range().map(|r| (dt, r)),
        None => None,
    };
    if entries.is_empty() {
        p.add(key("enum"), "must not be empty");
    }
    let mut map = BTreeMap::new();
    for (device_value, text) in entries {
        let entry_key = key(&format!("enum.{device_value}"));
        let Ok(n) = device_value.parse::<i64>() else {
            p.add(entry_key, format!("{device_value:?} is not an integer"));
            continue;
        };
        if let Some((dt, (min, max))) = range {
            if !(min..=max).contains(&n) {
                p.add(&entry_key, format!("{n} is out of range for {}", dt.name()));
            }
        }
        if !allowed.contains(&text.as_str()) {
            p.add(
                &entry_key,
                format!(
                    "{text:?} is not allowed for {name} (expected one of {})",
                    allowed.join(", ")
                ),
            );
        }
        if map.insert(n, text.clone()).is_some() {
            p.add(entry_key, format!("{n} is listed twice"));
        }
    }
    map
}

/// No OCPP name mapped twice (`AvailabilityState` and `Connector.Status` are one name).
fn check_duplicates(raw: &[RawVariable], checked: &[Checked], p: &mut Problems) {
    let mut seen: BTreeMap<&OcppName, usize> = BTreeMap::new();
    for (i, name) in checked
        .iter()
        .enumerate()
        .filter_map(|(i, c)| Some((i, c.name.as_ref()?)))
    {
        let Some(&first) = seen.get(name) else {
            seen.insert(name, i);
            continue;
        };
        let given = raw.get(i).map_or("", |r| r.ocpp_name.as_str());
        let first_given = raw.get(first).map_or("", |r| r.ocpp_name.as_str());
        let message = if given == first_given {
            format!("duplicate of template.variables[{first}].ocpp_name {first_given:?}")
        } else {
            format!(
                "{given:?} means the same as template.variables[{first}].ocpp_name {first_given:?}"
            )
        };
        p.add(format!("template.variables[{i}].ocpp_name"), message);
    }
}

/// No two variables read the same register or bit; each overlap is reported once, at the later one.
fn check_overlaps(raw: &[RawVariable], checked: &[Checked], p: &mut Problems) {
    let spans: Vec<_> = checked
        .iter()
        .enumerate()
        .filter_map(|(i, c)| Some((i, c.span?)))
        .collect();
    let describe = |i: usize| {
        raw.get(i).map_or(String::new(), |r| {
            format!(
                "{} ({})",
                notation(&r.register).unwrap_or_default(),
                r.data_type
            )
        })
    };
    for (n, &(i, (table, start, width))) in spans.iter().enumerate() {
        let earlier = spans
            .iter()
            .take(n)
            .find(|(_, (t, s, w))| *t == table && *s < start + width && start < s + w);
        if let Some(&(first, _)) = earlier {
            p.add(
                format!("template.variables[{i}].register"),
                format!(
                    "{} overlaps template.variables[{first}].register {}",
                    describe(i),
                    describe(first)
                ),
            );
        }
    }
}
