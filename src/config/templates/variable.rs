//! Checks one template variable on its own and builds it.

use std::collections::BTreeMap;

use crate::device::{ModbusTable, PollClass};
use crate::mapping::{
    parse_register, Access, DataType, Direction, OcppName, Order, Phase, Source, ValueRule,
    Variable, MAX_NAME,
};

use super::check_len;
use crate::config::error::Problems;
use crate::config::raw::RawVariable;

/// Longest `unit` (OCPP UnitOfMeasureType.unit).
const MAX_UNIT: usize = 20;
/// Most registers one Modbus read returns, so the longest string.
const MAX_STRING_REGISTERS: i64 = 125;

/// Where a polled variable reads, for overlap checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Span {
    /// Registers (or bits) `start..start + count` of `table`; `bit` of the one register.
    Modbus {
        table: ModbusTable,
        start: u32,
        count: u32,
        bit: Option<u8>,
    },
    /// Bytes `start..end` (`None`: to the end) of the EDT of `epc`; `bit` of that byte range.
    Echonet {
        epc: u8,
        start: u16,
        end: Option<u16>,
        bit: Option<u8>,
    },
}

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

/// Keys only one variable type takes, and which.
const MODBUS_ONLY: &[&str] = &["register", "table", "address", "order"];
const ECHONET_ONLY: &[&str] = &["epc", "offset"];

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

/// Keys of the other variable type are errors, naming the type they belong to.
fn foreign_keys(v: &RawVariable, kind: &str, key: &dyn Fn(&str) -> String, p: &mut Problems) {
    let (foreign, owner): (&[&str], &str) = if kind == "modbus" {
        (ECHONET_ONLY, "echonet")
    } else {
        (MODBUS_ONLY, "modbus")
    };
    let present = |k: &str| match k {
        "register" => v.register.is_some(),
        "table" => v.table.is_some(),
        "address" => v.address.is_some(),
        "order" => v.order.is_some(),
        "epc" => v.epc.is_some(),
        "offset" => v.offset.is_some(),
        _ => false,
    };
    for k in foreign.iter().filter(|k| present(k)) {
        let hint = if *k == "offset" {
            " (offset is a byte offset within an EDT; offset_value is added to the value)"
        } else {
            ""
        };
        p.add(
            key(k),
            format!("only for type = \"{owner}\", not {kind}{hint}"),
        );
    }
}

/// The Modbus table and address, from `register` or `table` + `address`, fitted to the type.
fn modbus_source(
    v: &RawVariable,
    data_type: Option<DataType>,
    access: Option<Access>,
    key: &dyn Fn(&str) -> String,
    p: &mut Problems,
) -> Option<Source> {
    foreign_keys(v, "modbus", key, p);
    let location = match (&v.register, &v.table, v.address) {
        (Some(register), None, None) => {
            let written = match register {
                toml::Value::Integer(n) => Some(n.to_string()),
                toml::Value::String(s) => Some(s.clone()),
                other => {
                    p.add(
                        key("register"),
                        format!(
                            "invalid type: {}, expected an integer or a string of digits",
                            other.type_str()
                        ),
                    );
                    None
                }
            };
            written.and_then(|w| match parse_register(&w) {
                Ok(location) => Some(location),
                Err(e) => {
                    p.add(key("register"), e.to_string());
                    None
                }
            })
        }
        (None, Some(table), Some(address)) => {
            let table = match table.as_str() {
                "holding" => Some(ModbusTable::HoldingRegister),
                "input" => Some(ModbusTable::InputRegister),
                "coil" => Some(ModbusTable::Coil),
                "discrete" => Some(ModbusTable::DiscreteInput),
                other => {
                    p.add(
                        key("table"),
                        format!(
                            "unknown table {other:?} (expected holding, input, coil or discrete)"
                        ),
                    );
                    None
                }
            };
            let address = u16::try_from(address).ok();
            if address.is_none() {
                p.add(key("address"), "must be between 0 and 65535");
            }
            table.zip(address)
        }
        (Some(_), _, _) => {
            p.add(
                key("register"),
                "give either register or table and address, not both",
            );
            None
        }
        (None, Some(_), None) => {
            p.add(key("address"), "missing key (table needs it)");
            None
        }
        (None, None, Some(_)) => {
            p.add(key("table"), "missing key (address needs it)");
            None
        }
        (None, None, None) => {
            p.add(key("register"), "missing key (or table and address)");
            None
        }
    };
    let order = match v.order.as_deref() {
        None => Some(Order::Abcd),
        Some(name) => {
            let order = Order::from_name(name);
            if order.is_none() {
                let known: Vec<_> = Order::names().collect();
                p.add(
                    key("order"),
                    format!(
                        "unknown order {name:?} (expected one of {})",
                        known.join(", ")
                    ),
                );
            }
            order
        }
    };
    let data_type = data_type?;
    if !data_type.is_modbus() {
        p.add(
            key("data_type"),
            format!(
                "{} is not a Modbus type (bool, uint16, int16, uint32, int32, uint64, int64, float32, float64, string)",
                data_type.name()
            ),
        );
        return None;
    }
    let count = match (data_type.registers(), v.length) {
        (Some(count), None) => count,
        (Some(_), Some(_)) => {
            p.add(key("length"), "only applies to string");
            return None;
        }
        (None, Some(len)) if (1..=MAX_STRING_REGISTERS).contains(&len) => {
            u16::try_from(len).ok()?
        }
        (None, Some(_)) => {
            p.add(
                key("length"),
                format!("must be between 1 and {MAX_STRING_REGISTERS} registers"),
            );
            return None;
        }
        (None, None) => {
            p.add(
                key("length"),
                "missing key (string needs its length in registers)",
            );
            return None;
        }
    };
    let (table, address) = location?;
    let order = order?;
    let bit_table = matches!(table, ModbusTable::Coil | ModbusTable::DiscreteInput);
    let where_ = |w: &str| format!("{w} is {}", table_name(table));
    if data_type == DataType::Bool && !bit_table {
        p.add(
            key("data_type"),
            format!(
                "bool needs a coil or discrete input, but {}",
                where_(&describe(v))
            ),
        );
        return None;
    }
    if data_type != DataType::Bool && bit_table {
        p.add(
            key("data_type"),
            format!(
                "{} needs an input or holding register, but {}",
                data_type.name(),
                where_(&describe(v))
            ),
        );
        return None;
    }
    if data_type == DataType::String && order.swaps_words() {
        p.add(
            key("order"),
            "a string is read register by register: ABCD or BADC",
        );
    }
    if bit_table && v.order.is_some() {
        p.add(key("order"), "does not apply to coils and discrete inputs");
    }
    if u32::from(address) + u32::from(count) - 1 > u32::from(u16::MAX) {
        p.add(
            location_key(v, key),
            format!(
                "{} at {} runs past the last address 65535",
                data_type.name(),
                describe(v)
            ),
        );
        return None;
    }
    if access.is_some_and(Access::writes)
        && matches!(
            table,
            ModbusTable::InputRegister | ModbusTable::DiscreteInput
        )
    {
        p.add(
            key("access"),
            format!("{} cannot be written", table_name(table)),
        );
    }
    Some(Source::Modbus {
        table,
        address,
        count,
        order,
    })
}

/// The EPC and the byte range within its EDT.
fn echonet_source(
    v: &RawVariable,
    data_type: Option<DataType>,
    access: Option<Access>,
    key: &dyn Fn(&str) -> String,
    p: &mut Problems,
) -> Option<Source> {
    foreign_keys(v, "echonet", key, p);
    let epc = match &v.epc {
        None => {
            p.add(key("epc"), "missing key");
            None
        }
        Some(toml::Value::Integer(n)) => u8::try_from(*n).ok(),
        Some(toml::Value::String(s)) => s
            .strip_prefix("0x")
            .or_else(|| s.strip_prefix("0X"))
            .filter(|h| h.len() == 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok()),
        Some(other) => {
            p.add(
                key("epc"),
                format!(
                    "invalid type: {}, expected an integer or a hex string like \"0xC7\"",
                    other.type_str()
                ),
            );
            return None;
        }
    };
    let epc = match epc {
        Some(epc) if epc >= 0x80 => Some(epc),
        None if v.epc.is_none() => None,
        _ => {
            p.add(
                key("epc"),
                "must be a property code from 0x80 to 0xFF (an integer or a string like \"0xC7\")",
            );
            None
        }
    };
    let offset = u8::try_from(v.offset.unwrap_or(0)).ok();
    if offset.is_none() {
        p.add(key("offset"), "must be between 0 and 255");
    }
    let data_type = data_type?;
    if !data_type.is_echonet() {
        p.add(
            key("data_type"),
            format!(
                "{} is not an ECHONET Lite EDT type (uint8, int8, uint16, int16, uint32, int32, string, bytes)",
                data_type.name()
            ),
        );
        return None;
    }
    let len = match (data_type.byte_len(), v.length) {
        (Some(n), None) => Some(u8::try_from(n).ok()?),
        (Some(_), Some(_)) => {
            p.add(key("length"), "only applies to string and bytes");
            return None;
        }
        (None, Some(n)) => match u8::try_from(n) {
            Ok(n) if n > 0 => Some(n),
            _ => {
                p.add(key("length"), "must be between 1 and 255 bytes");
                return None;
            }
        },
        (None, None) => None,
    };
    let (epc, offset) = (epc?, offset?);
    if usize::from(offset) + len.map_or(1, usize::from) > usize::from(u8::MAX) {
        p.add(
            key("offset"),
            "the value runs past the longest EDT (255 bytes)",
        );
        return None;
    }
    if access.is_some_and(Access::writes) && offset > 0 {
        p.add(
            key("access"),
            "a part of an EDT (offset > 0) cannot be written on its own",
        );
    }
    Some(Source::Echonet { epc, offset, len })
}

/// `bit` needs an integer of at most 16 bits and cannot be written on its own.
fn check_bit(
    v: &RawVariable,
    data_type: Option<DataType>,
    access: Option<Access>,
    key: &dyn Fn(&str) -> String,
    p: &mut Problems,
) -> Option<u8> {
    let bit = v.bit?;
    let dt = data_type?;
    let width = match dt {
        DataType::U8 | DataType::I8 => 8,
        DataType::U16 | DataType::I16 => 16,
        _ => {
            p.add(
                key("bit"),
                format!(
                    "needs an integer of at most 16 bits (uint8, int8, uint16, int16), not {}",
                    dt.name()
                ),
            );
            return None;
        }
    };
    if !(0..width).contains(&bit) {
        p.add(key("bit"), format!("must be between 0 and {}", width - 1));
        return None;
    }
    if access.is_some_and(Access::writes) {
        p.add(
            key("access"),
            "a single bit cannot be written on its own; map the whole register",
        );
    }
    u8::try_from(bit).ok()
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

/// Whether the role's value rule, the data type and the numeric keys agree; the enum map.
fn check_values(
    v: &RawVariable,
    name: &OcppName,
    dt: DataType,
    has_bit: bool,
    access: Access,
    key: &dyn Fn(&str) -> String,
    p: &mut Problems,
) -> BTreeMap<i64, String> {
    let bool_like = dt == DataType::Bool || has_bit;
    let rule = name.value_rule();
    match rule {
        ValueRule::Number if bool_like || dt.is_text() || v.enum_map.is_some() => {
            let what = if v.enum_map.is_some() {
                "takes no enum"
            } else if dt.is_text() {
                "cannot be text"
            } else {
                "cannot be a single bit"
            };
            let k = if v.enum_map.is_some() {
                "enum"
            } else {
                "data_type"
            };
            p.add(key(k), format!("{name} is numeric and {what}"));
            return BTreeMap::new();
        }
        ValueRule::Text if !dt.is_text() => {
            p.add(key("data_type"), format!("{name} is text: string or bytes"));
            return BTreeMap::new();
        }
        ValueRule::Enum { texts, .. } if v.enum_map.is_none() => {
            p.add(
                key("enum"),
                format!(
                    "missing key ({name} maps device values to {})",
                    texts.join(", ")
                ),
            );
            return BTreeMap::new();
        }
        ValueRule::BoolOrEnum(texts) if v.enum_map.is_none() && !bool_like => {
            p.add(
                key("enum"),
                format!(
                    "missing key ({name} is a bool, a bit, or an enum onto {})",
                    texts.join(", ")
                ),
            );
            return BTreeMap::new();
        }
        _ => {}
    }
    let not_plain = if bool_like {
        Some("a bool or bit")
    } else if v.enum_map.is_some() {
        Some("an enum")
    } else if dt.is_text() {
        Some(dt.name())
    } else {
        None
    };
    check_numbers(v, not_plain, access, key, p);
    let Some(entries) = &v.enum_map else {
        return BTreeMap::new();
    };
    let range = if bool_like {
        Some((0, 1))
    } else if let Some(range) = dt.integer_range() {
        Some(range)
    } else {
        p.add(
            key("enum"),
            format!("an enum needs an integer data type, not {}", dt.name()),
        );
        return BTreeMap::new();
    };
    let allowed = name.enum_values();
    if entries.is_empty() {
        p.add(key("enum"), "must not be empty");
    }
    let mut map: BTreeMap<i64, String> = BTreeMap::new();
    for (device_value, text) in entries {
        let entry_key = key(&format!("enum.{device_value}"));
        let Some(n) = parse_int(device_value) else {
            p.add(entry_key, format!("{device_value:?} is not an integer"));
            continue;
        };
        if let Some((min, max)) = range {
            if !(min..=max).contains(&i128::from(n)) {
                let what = if bool_like {
                    "a bit (0 or 1)"
                } else {
                    dt.name()
                };
                p.add(&entry_key, format!("{n} is out of range for {what}"));
            }
        }
        if let Some(allowed) = allowed.filter(|a| !a.contains(&text.as_str())) {
            p.add(
                &entry_key,
                format!(
                    "{text:?} is not allowed for {name} (expected one of {})",
                    allowed.join(", ")
                ),
            );
        }
        if access.writes() {
            if let Some((other, _)) = map.iter().find(|(_, t)| *t == text) {
                p.add(
                    &entry_key,
                    format!("{text:?} is also the text of {other}; a written enum needs one device value per text"),
                );
            }
        }
        if map.insert(n, text.clone()).is_some() {
            p.add(entry_key, format!("{n} is listed twice"));
        }
    }
    let cover = match rule {
        ValueRule::Enum { texts, cover: true } | ValueRule::BoolOrEnum(texts) => texts,
        _ => &[],
    };
    let missing: Vec<_> = cover
        .iter()
        .filter(|t| !map.values().any(|v| v == *t))
        .map(|t| format!("{t:?}"))
        .collect();
    if !missing.is_empty() && !entries.is_empty() {
        p.add(
            key("enum"),
            format!("{name} needs a device value for {}", missing.join(" and ")),
        );
    }
    map
}

/// `scale`, `offset_value`, `unit`, `min` and `max` apply to plain numbers; `min`/`max` only
/// to written ones.
fn check_numbers(
    v: &RawVariable,
    not_plain: Option<&str>,
    access: Access,
    key: &dyn Fn(&str) -> String,
    p: &mut Problems,
) {
    let numbers = [
        ("scale", v.scale),
        ("offset_value", v.offset_value),
        ("min", v.min),
        ("max", v.max),
    ];
    for (k, value) in numbers {
        let Some(value) = value else { continue };
        if let Some(what) = not_plain {
            p.add(key(k), format!("does not apply to {what}"));
        } else if matches!(k, "min" | "max") && !access.writes() {
            p.add(
                key(k),
                "only applies to written variables (access write or read_write)",
            );
        } else if !value.is_finite() || (k == "scale" && value == 0.0) {
            let other = if k == "scale" { " other than 0" } else { "" };
            p.add(key(k), format!("must be a finite number{other}"));
        }
    }
    if let (Some(min), Some(max)) = (v.min, v.max) {
        if not_plain.is_none() && access.writes() && min > max {
            p.add(key("min"), format!("{min} is above max {max}"));
        }
    }
    if let Some(unit) = &v.unit {
        match not_plain {
            Some(what) => p.add(key("unit"), format!("does not apply to {what}")),
            None => check_len(p, &key("unit"), Some(unit), MAX_UNIT),
        }
    }
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

/// Decimal, or hex with `0x` (enum keys are strings in TOML tables).
fn parse_int(text: &str) -> Option<i64> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => i64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

fn span_of(source: Source, bit: Option<u8>) -> Span {
    match source {
        Source::Modbus {
            table,
            address,
            count,
            ..
        } => Span::Modbus {
            table,
            start: address.into(),
            count: count.into(),
            bit,
        },
        Source::Echonet { epc, offset, len } => Span::Echonet {
            epc,
            start: offset.into(),
            end: len.map(|l| u16::from(offset) + u16::from(l)),
            bit,
        },
    }
}

/// The key that holds a Modbus variable's location.
pub(super) fn location_key(v: &RawVariable, key: &dyn Fn(&str) -> String) -> String {
    match (&v.register, &v.epc) {
        (None, None) => key("address"),
        (None, Some(_)) => key("epc"),
        (Some(_), _) => key("register"),
    }
}

/// The location as written, for messages: `40011`, `holding 10`, `0xC8 offset 4`.
pub(super) fn describe(v: &RawVariable) -> String {
    let mut text = match (&v.register, &v.table, v.address, &v.epc) {
        (Some(toml::Value::Integer(n)), ..) => n.to_string(),
        (Some(toml::Value::String(s)), ..) => s.clone(),
        (_, Some(table), Some(address), _) => format!("{table} {address}"),
        (.., Some(toml::Value::String(epc))) => epc.clone(),
        (.., Some(toml::Value::Integer(epc))) => format!("0x{epc:02X}"),
        _ => "?".into(),
    };
    if let Some(offset) = v.offset.filter(|o| *o > 0) {
        text.push_str(&format!(" offset {offset}"));
    }
    if let Some(bit) = v.bit {
        text.push_str(&format!(" bit {bit}"));
    }
    text
}

fn table_name(table: ModbusTable) -> &'static str {
    match table {
        ModbusTable::Coil => "a coil",
        ModbusTable::DiscreteInput => "a discrete input",
        ModbusTable::InputRegister => "an input register",
        ModbusTable::HoldingRegister => "a holding register",
    }
}
